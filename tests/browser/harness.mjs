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

/**
 * Gives the page's browser context Chromium's virtual authenticator: a platform authenticator
 * with resident keys and user verification that always succeeds (a fingerprint reader, a
 * phone's screen lock). Returns the DevTools session and the authenticator's id.
 */
export async function addVirtualAuthenticator(ctx, page) {
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** On /account: registers a passkey named `name` and waits until the list shows it. */
export async function registerPasskey(page, name, timeout) {
  await page.fill('#passkey-name', name);
  await page.click('#passkey-add');
  await page
    .locator('.passkey-item .passkey-name', { hasText: name })
    .first()
    .waitFor({ state: 'visible', timeout });
}
