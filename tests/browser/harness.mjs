// What the browser scripts share: Debian's headless Chromium launched the same way, one
// overall deadline, and the exit code and message naming the step that failed.

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Runs `run(browser)` in a fresh Chromium and exits: 0 on success, 1 naming `step()`. */
export async function runInChromium(name, run, overallMs, step) {
  let browser;
  let code = 0;
  const overall = setTimeout(() => {
    console.error(`${name}: gave up at step "${step()}"`);
    process.exit(1);
  }, overallMs);
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    await run(browser);
  } catch (e) {
    console.error(`${name}: FAILED at step "${step()}": ${e && e.stack ? e.stack : e}`);
    code = 1;
  } finally {
    clearTimeout(overall);
    if (browser) await browser.close().catch(() => {});
  }
  process.exit(code);
}
