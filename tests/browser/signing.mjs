// Remote signing in a real browser: headless Chromium with its virtual authenticator, driven by
// playwright-core. A phone (390 px, touch) and a desktop (1280 px) are two browser contexts of
// the same official.
//
//   node signing.mjs <base_url> <username> <password> <request_id> <screenshot_dir>
//
// The phone signs in and registers a passkey on /account. The desktop signs in and opens the
// request: it shows the hand-off QR code. The phone opens the request's link (what the QR code
// encodes), approves with the passkey, and follows the progress to "signed"; the desktop page,
// untouched, updates by itself to "signed". Screenshots of both pages in Vietnamese and English
// go to <screenshot_dir>; on every one the page must not be wider than the viewport. Exits 0
// on success. Run by tests/tests/e2e/browser_signing.rs (base URL http://localhost:PORT).

import { join } from 'node:path';

import { addVirtualAuthenticator, registerPasskey, runInChromium } from './harness.mjs';

const STEP_TIMEOUT = Number(process.env.PASSKEY_TIMEOUT_MS || 20000);

const [base, username, password, requestId, shots] = process.argv.slice(2);
if (!base || !username || !password || !requestId || !shots) {
  console.error('usage: node signing.mjs <base_url> <username> <password> <request_id> <dir>');
  process.exit(2);
}
const baseUrl = new URL(base);
const url = (path) => new URL(path, baseUrl).toString();
const requestPath = `/sign/requests/${requestId}`;

let step = 'start';
const log = (m) => console.log(`signing.mjs: ${m}`);
class StepError extends Error {}
const fail = (m) => {
  throw new StepError(m);
};

async function signIn(page) {
  await page.goto(url('/login?lang=en'), { waitUntil: 'load' });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.locator('#login-form button[type=submit]').click();
  await page.waitForURL((u) => u.pathname === '/account', { timeout: STEP_TIMEOUT });
}

/** Screenshot, after checking that nothing makes the page wider than the viewport. */
async function shot(page, name) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  if (scroll > inner) fail(`${name}: the page is ${scroll} px wide in a ${inner} px viewport`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  log(`screenshot ${name}.png (${inner} px)`);
}

async function statusOf(page) {
  return page.locator('#sign-status').getAttribute('data-status');
}

async function waitForStatus(page, wanted, why) {
  try {
    await page.waitForFunction(
      (w) => document.getElementById('sign-status')?.dataset.status === w,
      wanted,
      { timeout: STEP_TIMEOUT },
    );
  } catch {
    fail(`${why}: the page's status is ${await statusOf(page).catch(() => '?')}, not ${wanted}`);
  }
}

async function run(browser) {
  const phoneCtx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 1,
  });
  const deskCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const phone = await phoneCtx.newPage();
  const desk = await deskCtx.newPage();
  for (const [who, p] of [['phone', phone], ['desk', desk]]) {
    p.on('console', (m) => log(`[${who} console] ${m.text()}`));
    p.on('pageerror', (e) => log(`[${who} pageerror] ${e.message}`));
  }

  step = 'the phone registers a passkey';
  log(step);
  await addVirtualAuthenticator(phoneCtx, phone);
  await signIn(phone);
  await registerPasskey(phone, 'Điện thoại', STEP_TIMEOUT);

  step = 'the desktop opens the request and shows the QR code';
  log(step);
  await signIn(desk);
  for (const lang of ['vi', 'en']) {
    await desk.goto(url(`${requestPath}?lang=${lang}`), { waitUntil: 'load' });
    if ((await statusOf(desk)) !== 'pending') fail('the request is not pending on the desktop');
    const qr = desk.locator('#handoff-qr svg');
    if (!(await qr.isVisible())) fail('the desktop page shows no hand-off QR code');
    await shot(desk, `desktop-${lang}`);
  }

  step = 'the phone opens the link and approves with the passkey';
  log(step);
  for (const lang of ['en', 'vi']) {
    await phone.goto(url(`${requestPath}?lang=${lang}`), { waitUntil: 'load' });
    if (await phone.locator('#handoff').isVisible()) fail('the phone page shows the QR code');
    await shot(phone, `phone-${lang}`);
  }
  await phone.click('#passkey-approve');
  await waitForStatus(phone, 'signed', 'after approving on the phone');
  const progress = await phone.locator('#progress').getAttribute('value');
  const total = await phone.locator('#progress').getAttribute('max');
  if (progress !== total) fail(`the phone's progress is ${progress} of ${total}`);
  await shot(phone, 'phone-signed-vi');

  step = 'the desktop page updates by itself';
  log(step);
  await waitForStatus(desk, 'signed', 'the untouched desktop page');
  await shot(desk, 'desktop-signed-en');
  log('ok');
}

await runInChromium('signing.mjs', run, 10 * STEP_TIMEOUT, () => step);
