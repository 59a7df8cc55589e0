// A kiosk's device authorization grant (RFC 8628) approved from a phone in headless Chromium,
// driven by playwright-core. Run by tests/tests/e2e/device_grant.rs, which plays the kiosk: it
// asked for the codes and polls the token endpoint while this script runs.
//
//   node device.mjs <verification_uri> <user_code> <username> <password> <screenshot_dir>
//
// A phone (390 px, touch, Vietnamese locale) opens the address the kiosk shows, signs in when
// asked, types the code as a person would (lower case, without the dash), checks that the
// confirmation names the application and the code, looks at it in English too, and approves.
// Every page is screenshotted (device-*.png) after checking it is no wider than the viewport.

import { join } from 'node:path';

import { runInChromium } from './harness.mjs';

const STEP_TIMEOUT = Number(process.env.PASSKEY_TIMEOUT_MS || 20000);
const [verification, userCode, username, password, shots] = process.argv.slice(2);
if (!verification || !userCode || !username || !password || !shots) {
  console.error('usage: node device.mjs <verification_uri> <user_code> <username> <password> <dir>');
  process.exit(2);
}

let step = 'start';
const log = (m) => console.log(`device.mjs: ${m}`);
class StepError extends Error {}
const fail = (m) => {
  throw new StepError(m);
};

async function shot(page, name) {
  await page.waitForLoadState('load');
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  if (scroll > inner) fail(`${name}: the page is ${scroll} px wide in a ${inner} px viewport`);
  await page.screenshot({ path: join(shots, `device-${name}.png`), fullPage: true });
  log(`screenshot device-${name}.png (${inner} px)`);
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent({ timeout: STEP_TIMEOUT })).trim();
}

await runInChromium(
  'device.mjs',
  async (browser) => {
    const ctx = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      locale: 'vi-VN',
    });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => log(`[pageerror] ${e.message}`));

    step = 'open the address the kiosk shows';
    await page.goto(verification, { waitUntil: 'load' });
    if (new URL(page.url()).pathname === '/login') {
      step = 'sign in on the phone';
      await shot(page, 'login');
      await page.fill('#username', username);
      await page.fill('#password', password);
      await Promise.all([
        page.waitForURL((u) => u.pathname === '/device', { timeout: STEP_TIMEOUT }),
        page.locator('#login-form button[type=submit]').click(),
      ]);
    }

    step = 'type the code';
    await page.locator('#user_code').waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
    await shot(page, 'enter-vi');
    const typed = userCode.toLowerCase().replace(/-/g, '');
    await page.fill('#user_code', typed);
    await Promise.all([
      page.waitForLoadState('load'),
      page.locator('#device-continue').click(),
    ]);

    step = 'read the confirmation';
    const shown = await text(page, '#user-code');
    if (shown !== userCode) fail(`the confirmation shows the code ${shown}, not ${userCode}`);
    const app = await text(page, '#client-name');
    log(`the confirmation names ${app}`);
    if ((await page.locator('html').getAttribute('lang')) !== 'vi') {
      fail('the confirmation is not in Vietnamese for a Vietnamese phone');
    }
    await shot(page, 'confirm-vi');

    step = 'the confirmation in English';
    const english = new URL(verification);
    english.searchParams.set('user_code', userCode);
    english.searchParams.set('lang', 'en');
    await page.goto(english.toString(), { waitUntil: 'load' });
    if ((await text(page, '#client-name')) !== app) fail('the English page names another app');
    if ((await page.locator('html').getAttribute('lang')) !== 'en') fail('no English page');
    await shot(page, 'confirm-en');

    step = 'approve';
    await Promise.all([
      page.waitForLoadState('load'),
      page.locator('#device-approve').click(),
    ]);
    await page.locator('#device-done').waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
    await shot(page, 'done-en');
    log('approved');
  },
  120000,
  () => step,
);
