// Passkeys in a real browser: headless Chromium (Debian's `chromium`) with its virtual
// authenticator, driven by playwright-core over the DevTools protocol.
//
//   node passkey.mjs <base_url> <username> <password>
//
// Signs in with the password, registers a passkey on /account, signs out, and signs in again
// with the passkey alone. Then, when RESET_HANDSHAKE=1: signs out, prints "WAITING-FOR-RESET"
// and waits for a line on standard input (the test meanwhile makes the password temporary),
// and checks that the passkey alone no longer signs in. Exits 0 on success; on failure prints what went wrong (with the
// page's #webauthn-status text and the browser console) and saves a screenshot next to this
// script. Run by tests/tests/e2e/browser_passkey.rs; the base URL must use a host name
// (http://localhost:PORT): browsers refuse WebAuthn on IP addresses.
//
// Environment: CHROMIUM (default /usr/bin/chromium), PASSKEY_TIMEOUT_MS (per step, default
// 20000).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_TIMEOUT = Number(process.env.PASSKEY_TIMEOUT_MS || 20000);
// A hung browser must not hang the test run.
const OVERALL_TIMEOUT = 10 * STEP_TIMEOUT;
const PASSKEY_NAME = 'Laptop test';
const SIGNED_OUT_HEADINGS = ['You are signed out', 'Bạn đã đăng xuất'];

const [base, username, password] = process.argv.slice(2);
if (!base || !username || !password) {
  console.error('usage: node passkey.mjs <base_url> <username> <password>');
  process.exit(2);
}
const baseUrl = new URL(base);
const url = (path) => new URL(path, baseUrl).toString();

/** Everything the page said, for the failure report. */
const events = [];
function note(kind, text) {
  events.push(`[${kind}] ${text}`);
}

let step = 'start';
function log(message) {
  console.log(`passkey.mjs: ${message}`);
}

class StepError extends Error {}
function fail(message) {
  throw new StepError(message);
}

/** Waits until the page is at `path` on the base origin. */
async function expectPath(page, path, why) {
  try {
    await page.waitForURL(
      (u) => u.origin === baseUrl.origin && u.pathname === path,
      { timeout: STEP_TIMEOUT, waitUntil: 'load' },
    );
  } catch {
    fail(`${why}: expected to be on ${url(path)}, but the page is ${page.url()}`);
  }
}

/** `#account-username` shows the user we signed in as. */
async function expectAccountOf(page) {
  const el = page.locator('#account-username');
  try {
    await el.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  } catch {
    fail('/account has no visible #account-username');
  }
  const text = (await el.innerText()).trim();
  if (!text.includes(username)) {
    fail(`#account-username shows ${JSON.stringify(text)}, not ${JSON.stringify(username)}`);
  }
}

async function credentials(cdp, authenticatorId) {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

async function run(page, cdp) {
  // The virtual authenticator: a platform authenticator with resident keys and user
  // verification that always succeeds, as a laptop's fingerprint reader would.
  step = 'virtual authenticator';
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

  // a) Password sign-in lands on /account.
  step = 'a) sign in with the password';
  log(step);
  await page.goto(url('/login?lang=en'), { waitUntil: 'load' });
  const form = page.locator('#login-form');
  if ((await form.count()) !== 1) fail('the login page has no form #login-form');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await form.locator('button[type=submit]').click();
  await expectPath(page, '/account', 'after signing in with the password');
  await expectAccountOf(page);

  // b) Register a passkey; the page reloads and lists it.
  step = 'b) register a passkey on /account';
  log(step);
  if ((await credentials(cdp, authenticatorId)).length !== 0) {
    fail('the virtual authenticator holds credentials before registration');
  }
  await page.fill('#passkey-name', PASSKEY_NAME);
  await page.click('#passkey-add');
  try {
    await page
      .locator('.passkey-item .passkey-name', { hasText: PASSKEY_NAME })
      .first()
      .waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  } catch {
    fail(`no .passkey-item .passkey-name containing ${JSON.stringify(PASSKEY_NAME)} appeared`);
  }
  await expectPath(page, '/account', 'after registering the passkey');
  const registered = await credentials(cdp, authenticatorId);
  if (registered.length !== 1) {
    fail(`the virtual authenticator holds ${registered.length} credentials, expected 1`);
  }
  const [cred] = registered;
  if (!cred.isResidentCredential) {
    fail('the registered credential is not a resident (discoverable) credential');
  }
  if (cred.rpId !== baseUrl.hostname) {
    fail(`the credential's rpId is ${JSON.stringify(cred.rpId)}, expected ${baseUrl.hostname}`);
  }
  log(`registered credential ${cred.credentialId} (rpId ${cred.rpId}, signCount ${cred.signCount})`);

  // c) Sign out; /account then sends us to the login page.
  step = 'c) sign out';
  log(step);
  await page.click('#sign-out');
  try {
    await page.waitForURL((u) => u.pathname !== '/account', {
      timeout: STEP_TIMEOUT,
      waitUntil: 'load',
    });
  } catch {
    fail(`still on ${page.url()} after clicking #sign-out`);
  }
  const heading = (await page.locator('h1').first().innerText().catch(() => '')).trim();
  if (!SIGNED_OUT_HEADINGS.some((h) => heading.includes(h))) {
    fail(`after #sign-out the page (${page.url()}) says ${JSON.stringify(heading)}, not a signed-out heading`);
  }
  await page.goto(url('/account'), { waitUntil: 'load' });
  await expectPath(page, '/login', 'opening /account after signing out');

  // d) Sign in with the passkey alone (no username: a discoverable credential).
  step = 'd) sign in with the passkey';
  log(step);
  const button = page.locator('#passkey-login');
  try {
    await button.waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  } catch {
    fail('the login page has no visible #passkey-login button');
  }
  await button.click();
  await expectPath(page, '/account', 'after signing in with the passkey');
  await expectAccountOf(page);
  const used = await credentials(cdp, authenticatorId);
  if (used.length !== 1 || used[0].credentialId !== cred.credentialId) {
    fail('the authenticator\'s credentials changed during the passkey sign-in');
  }
  if (!(used[0].signCount > cred.signCount)) {
    fail(`the passkey was not used to sign in (signCount ${cred.signCount} -> ${used[0].signCount})`);
  }
  if (process.env.RESET_HANDSHAKE === '1') await afterReset(page);
  step = 'done';
}

/** e) An administrator sets a temporary password: the passkey alone no longer signs in. */
async function afterReset(page) {
  step = 'e) sign out, wait for the reset';
  log(step);
  await page.click('#sign-out');
  await page.waitForURL((u) => u.pathname !== '/account', { timeout: STEP_TIMEOUT, waitUntil: 'load' });
  console.log('WAITING-FOR-RESET');
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  step = 'e) passkey sign-in refused while the password is temporary';
  log(step);
  await page.goto(url('/login?lang=en'), { waitUntil: 'load' });
  await page.locator('#passkey-login').click();
  const status = page.locator('#webauthn-status');
  try {
    await page.waitForFunction(
      () => /must be changed/.test(document.getElementById('webauthn-status')?.textContent || ''),
      null,
      { timeout: STEP_TIMEOUT },
    );
  } catch {
    fail(`no refusal shown: #webauthn-status says ${JSON.stringify(await status.innerText().catch(() => ''))} at ${page.url()}`);
  }
  await page.goto(url('/account'), { waitUntil: 'load' });
  await expectPath(page, '/login', 'opening /account after the refused passkey sign-in');
}

/** Prints what the page shows, the console, and saves a screenshot. */
async function report(page, error) {
  console.error(`passkey.mjs: FAILED at step "${step}": ${error instanceof StepError ? error.message : error?.stack || error}`);
  if (!page) return;
  console.error(`  page URL: ${page.url()}`);
  const status = await page
    .locator('#webauthn-status')
    .first()
    .innerText({ timeout: 1000 })
    .catch(() => null);
  console.error(`  #webauthn-status: ${status === null ? '(no such element)' : JSON.stringify(status.trim())}`);
  const text = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '');
  console.error(`  page text:\n    ${text.trim().slice(0, 2000).replace(/\n+/g, '\n    ')}`);
  const shot = join(HERE, `passkey-failure-${Date.now()}-${process.pid}.png`);
  try {
    await page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
    console.error(`  screenshot: ${shot}`);
  } catch (e) {
    console.error(`  screenshot failed: ${e.message}`);
  }
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  let context;
  let page;
  const watchdog = setTimeout(() => {
    console.error(`passkey.mjs: FAILED: no result within ${OVERALL_TIMEOUT} ms (step "${step}")`);
    process.exit(3);
  }, OVERALL_TIMEOUT);
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      locale: 'en-US',
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
    context.setDefaultTimeout(STEP_TIMEOUT);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      const at = m.location()?.url;
      note(`console.${m.type()}`, at ? `${m.text()} (${at})` : m.text());
    });
    page.on('pageerror', (e) => note('pageerror', e.stack || e.message));
    page.on('requestfailed', (r) => note('requestfailed', `${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) note('http', `${r.status()} ${r.request().method()} ${r.url()}`);
    });
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) note('navigated', f.url());
    });
    const cdp = await context.newCDPSession(page);
    await run(page, cdp);
    log('OK: password sign-in, passkey registration, sign-out and passkey sign-in all worked');
    return 0;
  } catch (error) {
    await report(page, error);
    return 1;
  } finally {
    if (events.length) {
      console.log('passkey.mjs: browser events:');
      for (const e of events) console.log(`  ${e}`);
    }
    clearTimeout(watchdog);
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

process.exit(await main());
