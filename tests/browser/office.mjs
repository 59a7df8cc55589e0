// The reference application `examples/document-office` with Tessera in headless Chromium,
// driven by playwright-core. Run by tests/tests/e2e/browser_office.rs on `tessera demo seed`'s
// data. Two modes:
//
//   node office.mjs journey <issuer> <app1> <app2> <admin> <admin_pw> <official> <official_pw>
//                   <pdf> <signed_out> <document_office_bin> <work_dir> <screenshot_dir>
//     The administrator signs in to /admin (enrolling a passkey for level 2), creates an
//     official and registers a second application, which this script then starts (a second
//     document-office on <app2>). The official signs in to <app1>, opens <app2> without a
//     password, uploads <pdf> and asks for their own signature; a phone (390 px) registers a
//     passkey and approves the request from the link the desktop's QR code carries; the desktop
//     sees "signed" with a passing verification report and downloads the PDF to <signed_out>.
//     Logging out of <app1> logs out of <app2> (back-channel).
//
//   node office.mjs refusals <issuer> <admin> <admin_pw> <other_user_id> <own_credential_id>
//                   <screenshot_dir>
//     A department's administrator is refused another unit's user, and issuing or resuming
//     their own credential (it was suspended beforehand).
//
// Every page is screenshotted (office-*.png) after checking it is no wider than its viewport.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { addVirtualAuthenticator, registerPasskey, runInChromium } from './harness.mjs';

const STEP_TIMEOUT = Number(process.env.PASSKEY_TIMEOUT_MS || 20000);
const [mode, ...rest] = process.argv.slice(2);

let step = 'start';
let shots = '.';
const log = (m) => console.log(`office.mjs: ${m}`);
class StepError extends Error {}
const fail = (m) => {
  throw new StepError(m);
};

/** Screenshot, after checking that nothing makes the page wider than the viewport. */
async function shot(page, name) {
  await page.waitForLoadState('load');
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  if (scroll > inner) fail(`${name}: the page is ${scroll} px wide in a ${inner} px viewport`);
  await page.screenshot({ path: join(shots, `office-${name}.png`), fullPage: true });
  log(`screenshot office-${name}.png (${inner} px)`);
}

function watch(who, page) {
  page.on('console', (m) => log(`[${who} console] ${m.text()}`));
  page.on('pageerror', (e) => log(`[${who} pageerror] ${e.message}`));
}

/** Fills Tessera's login form (the page must be on it). */
async function fillLogin(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForNavigation({ timeout: STEP_TIMEOUT }),
    page.locator('#login-form button[type=submit]').click(),
  ]);
}

/**
 * Opens `target` on the console and follows what Tessera asks on the way: the password, a
 * passkey enrolled for level 2 (the first time), or the passkey proven.
 */
async function consoleSignIn(page, issuer, target, username, password, name) {
  const origin = new URL(issuer).origin;
  await page.goto(`${issuer}${target}`, { waitUntil: 'load' });
  for (let i = 0; i < 8; i++) {
    const u = new URL(page.url());
    if (u.origin === origin && u.pathname.startsWith('/admin')) return;
    if (u.pathname === '/login') {
      await shot(page, `${name}-login`);
      await fillLogin(page, username, password);
    } else if (u.pathname === '/login/enrol') {
      await shot(page, `${name}-enrol`);
      await page.fill('#passkey-name', 'Máy tính cơ quan');
      await Promise.all([
        page.waitForURL((v) => v.pathname !== '/login/enrol', { timeout: STEP_TIMEOUT }),
        page.click('#passkey-add'),
      ]);
    } else if (u.pathname === '/login/factor') {
      await shot(page, `${name}-factor`);
      await Promise.all([
        page.waitForURL((v) => v.pathname !== '/login/factor', { timeout: STEP_TIMEOUT }),
        page.click('#passkey-verify'),
      ]);
    } else {
      await page.waitForLoadState('load');
      if (new URL(page.url()).pathname === u.pathname) {
        fail(`unexpected page on the way to the console: ${page.url()}`);
      }
    }
  }
  fail(`the console did not open: ${page.url()}`);
}

/** Selects the option of `select` whose label contains `text`. */
async function selectByLabel(page, select, text) {
  const value = await page.$eval(
    select,
    (el, t) => [...el.options].find((o) => o.textContent.includes(t))?.value,
    text,
  );
  if (!value) fail(`${select} has no option "${text}"`);
  await page.selectOption(select, value);
}

async function waitForApp(url) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  fail(`the second application does not answer at ${url}`);
}

async function journey(browser, args) {
  const [issuer, app1, app2, admin, adminPw, official, officialPw, pdf, signedOut, bin, work, dir] =
    args;
  if (!dir) {
    console.error('usage: node office.mjs journey <issuer> <app1> <app2> <admin> <admin_pw> ' +
      '<official> <official_pw> <pdf> <signed_out> <bin> <work_dir> <screenshot_dir>');
    process.exit(2);
  }
  shots = dir;
  const tessera = new URL(issuer).origin;
  let second;
  try {
    // 1. The administrator: console, a new official, the second application.
    step = 'the administrator signs in to the console';
    log(step);
    const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const adm = await adminCtx.newPage();
    watch('admin', adm);
    await addVirtualAuthenticator(adminCtx, adm);
    await consoleSignIn(adm, issuer, '/admin/units', admin, adminPw, 'admin');
    await shot(adm, 'admin-units');

    step = 'the administrator creates an official';
    log(step);
    await adm.goto(`${issuer}/admin/users`, { waitUntil: 'load' });
    await adm.fill('#n-username', 'lan.pt');
    await adm.fill('#n-name', 'Phạm Thị Lan');
    await adm.fill('#n-email', 'lan.pt@haiphong.gov.vn');
    await selectByLabel(adm, '#n-unit', 'Sở Nội vụ');
    await Promise.all([adm.waitForNavigation(), adm.click('#user-new button[type=submit]')]);
    const temporary = (await adm.locator('#one-time-secret').innerText()).trim();
    if (temporary.length < 10) fail(`no one-time password shown: "${temporary}"`);
    await shot(adm, 'admin-user-created');
    await adm.goto(`${issuer}/admin/users?q=lan.pt`, { waitUntil: 'load' });
    if ((await adm.locator('.user-row[data-username="lan.pt"]').count()) !== 1) {
      fail('the new official is not listed');
    }
    await shot(adm, 'admin-users');

    step = 'the administrator registers the second application';
    log(step);
    await adm.goto(`${issuer}/admin/clients`, { waitUntil: 'load' });
    await adm.fill('#n-id', 'motcua');
    await adm.fill('#n-name', 'Một cửa điện tử');
    await selectByLabel(adm, '#n-unit', 'Thành phố Hải Phòng');
    await adm.fill('#n-redirect', `${app2}/callback`);
    await adm.fill('#n-logout', `${app2}/`);
    await adm.fill('#n-bc', `${app2}/auth/backchannel-logout`);
    await adm.fill('#n-scopes', 'openid profile email org');
    await Promise.all([adm.waitForNavigation(), adm.click('#client-new button[type=submit]')]);
    const secret = (await adm.locator('#one-time-secret').innerText()).trim();
    if (secret.length < 20) fail(`no client secret shown: "${secret}"`);
    await shot(adm, 'admin-client-secret');
    await adminCtx.close();

    step = 'the second application starts';
    log(step);
    const config = join(work, 'motcua.json');
    writeFileSync(
      config,
      JSON.stringify({
        issuer,
        client_id: 'motcua',
        client_secret: secret,
        app_url: app2,
        name: 'Một cửa điện tử',
      }),
    );
    second = spawn(bin, ['--config', config, '--data-dir', join(work, 'motcua')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    await waitForApp(`${app2}/`);

    // 2. The official: the reference application, then the second one without a password.
    step = 'the official signs in to the reference application';
    log(step);
    const deskCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const desk = await deskCtx.newPage();
    watch('desk', desk);
    await desk.goto(`${app1}/`, { waitUntil: 'load' });
    await shot(desk, 'app-welcome');
    await Promise.all([desk.waitForNavigation(), desk.click('#login')]);
    if (new URL(desk.url()).pathname !== '/login') fail(`not on Tessera's login: ${desk.url()}`);
    await shot(desk, 'tessera-login');
    await fillLogin(desk, official, officialPw);
    await desk.waitForURL(`${app1}/`, { timeout: STEP_TIMEOUT });
    if (!(await desk.locator('#who').isVisible())) fail('the application shows nobody signed in');
    await shot(desk, 'app-list-empty');

    step = 'the official opens the second application without a password';
    log(step);
    const seen = [];
    const onNav = (f) => {
      if (f === desk.mainFrame()) seen.push(f.url());
    };
    desk.on('framenavigated', onNav);
    await desk.goto(`${app2}/`, { waitUntil: 'load' });
    await Promise.all([desk.waitForURL(`${app2}/`, { timeout: STEP_TIMEOUT }), desk.click('#login')]);
    desk.off('framenavigated', onNav);
    if (seen.some((u) => new URL(u).origin === tessera && new URL(u).pathname === '/login')) {
      fail(`the second application asked for a password: ${seen.join(' → ')}`);
    }
    const who = await desk.locator('#who').innerText();
    if (!who.includes('Nguyễn Văn An')) fail(`the second application shows "${who}"`);
    await shot(desk, 'second-app-signed-in');

    // 3. A document, its signature request.
    step = 'the official uploads a PDF and asks for a signature';
    log(step);
    await desk.goto(`${app1}/`, { waitUntil: 'load' });
    await desk.fill('#title', 'Quyết định số 123/QĐ-UBND về việc bổ nhiệm cán bộ');
    await desk.setInputFiles('#file', pdf);
    await Promise.all([desk.waitForNavigation(), desk.click('#upload button[type=submit]')]);
    const docUrl = desk.url();
    if (!/\/documents\/[0-9a-f]{32}$/.test(new URL(docUrl).pathname)) fail(`upload went to ${docUrl}`);
    await shot(desk, 'app-document');
    if ((await desk.inputValue('#signer')) !== official) fail('the signer is not prefilled');
    // Someone Tessera does not know: its refusal, in words, above the same form.
    await desk.fill('#signer', 'khong.ton.tai');
    const [refused] = await Promise.all([
      desk.waitForNavigation(),
      desk.click('#request-signature button[type=submit]'),
    ]);
    if (refused.status() !== 400) fail(`an unknown signer answered ${refused.status()}`);
    if (!(await desk.locator('#form-error').isVisible())) fail('no error shown for an unknown signer');
    await shot(desk, 'app-document-unknown-signer');
    await desk.fill('#signer', official);
    await desk.fill('#anchor', 'Phạm Đức Minh');
    await Promise.all([desk.waitForNavigation(), desk.click('#request-signature button[type=submit]')]);
    const status = await desk.locator('#sign-status').getAttribute('data-status');
    if (status !== 'pending') fail(`the request is ${status}, not pending`);
    await shot(desk, 'app-document-pending');
    const approval = await desk.locator('#approval-link').getAttribute('href');
    await desk.goto(`${app1}/`, { waitUntil: 'load' });
    await shot(desk, 'app-list');
    await Promise.all([desk.waitForNavigation(), desk.click('#lang-switch')]);
    if ((await desk.getAttribute('html', 'lang')) !== 'en') fail('the switch did not give English');
    await shot(desk, 'app-list-en');
    await Promise.all([desk.waitForNavigation(), desk.click('#lang-switch')]);

    step = 'the desktop opens the approval page and shows the QR code';
    log(step);
    await desk.goto(approval, { waitUntil: 'load' });
    if (!(await desk.locator('#handoff-qr svg').isVisible())) fail('no hand-off QR code');
    await shot(desk, 'tessera-approval-desktop');

    // 4. The phone: a passkey, then the approval from the hand-off link.
    step = 'the phone registers a passkey';
    log(step);
    const phoneCtx = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 1,
    });
    const phone = await phoneCtx.newPage();
    watch('phone', phone);
    await addVirtualAuthenticator(phoneCtx, phone);
    await phone.goto(`${issuer}/login`, { waitUntil: 'load' });
    await fillLogin(phone, official, officialPw);
    await phone.waitForURL((u) => u.pathname === '/account', { timeout: STEP_TIMEOUT });
    await registerPasskey(phone, 'Điện thoại', STEP_TIMEOUT);
    await shot(phone, 'tessera-account-phone');

    step = 'the phone approves with the passkey';
    log(step);
    await phone.goto(approval, { waitUntil: 'load' });
    await shot(phone, 'tessera-approval-phone');
    await phone.click('#passkey-approve');
    await phone.waitForFunction(
      () => document.getElementById('sign-status')?.dataset.status === 'signed',
      null,
      { timeout: STEP_TIMEOUT },
    );
    await shot(phone, 'tessera-approval-phone-signed');

    step = 'the application shows the signed document on the phone';
    log(step);
    await phone.goto(docUrl, { waitUntil: 'load' });
    await phone.waitForURL(docUrl, { timeout: STEP_TIMEOUT });
    await shot(phone, 'app-document-phone');
    await phoneCtx.close();

    // 5. The signed PDF and its report on the desktop.
    step = 'the desktop downloads the signed PDF';
    log(step);
    await desk.goto(docUrl, { waitUntil: 'load' });
    await desk.waitForFunction(
      () => document.getElementById('sign-status')?.dataset.status === 'signed',
      null,
      { timeout: STEP_TIMEOUT },
    );
    const verdict = await desk.locator('#verdict').getAttribute('data-indication');
    if (verdict !== 'TOTAL-PASSED') fail(`the verification report says ${verdict}`);
    await shot(desk, 'app-document-signed');
    const [download] = await Promise.all([
      desk.waitForEvent('download', { timeout: STEP_TIMEOUT }),
      desk.click('#download-signed'),
    ]);
    await download.saveAs(signedOut);

    // 6. Logout of one application ends the other's session (back-channel).
    step = 'logging out of the reference application';
    log(step);
    await Promise.all([desk.waitForURL(`${app1}/`, { timeout: STEP_TIMEOUT }), desk.click('#logout')]);
    if (!(await desk.locator('#login').isVisible())) fail('still signed in after logout');
    await shot(desk, 'app-signed-out');

    step = 'the second application is logged out too';
    log(step);
    let out = false;
    for (let i = 0; i < 40 && !out; i++) {
      await desk.goto(`${app2}/`, { waitUntil: 'load' });
      out = await desk.locator('#login').isVisible();
      if (!out) await new Promise((r) => setTimeout(r, 250));
    }
    if (!out) fail('the second application still shows the official signed in');
    await shot(desk, 'second-app-signed-out');
    log('ok');
  } finally {
    if (second) second.kill();
  }
}

async function refusals(browser, args) {
  const [issuer, admin, adminPw, otherUser, ownCredential, dir] = args;
  if (!dir) {
    console.error('usage: node office.mjs refusals <issuer> <admin> <admin_pw> <other_user_id> ' +
      '<own_credential_id> <screenshot_dir>');
    process.exit(2);
  }
  shots = dir;
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch('admin', page);
  await addVirtualAuthenticator(ctx, page);

  step = "the department's administrator signs in to the console";
  log(step);
  await consoleSignIn(page, issuer, '/admin/users', admin, adminPw, 'dept-admin');
  await shot(page, 'dept-admin-users');

  step = "another unit's user is refused";
  log(step);
  const other = await page.goto(`${issuer}/admin/users/${otherUser}`, { waitUntil: 'load' });
  if (other.status() !== 404) fail(`another unit's user answered ${other.status()}`);
  await shot(page, 'dept-admin-other-unit-user');

  step = 'issuing a credential for themselves is refused';
  log(step);
  await page.goto(`${issuer}/admin/credentials`, { waitUntil: 'load' });
  await shot(page, 'dept-admin-credentials');
  await page.fill('#n-owner', admin);
  const [issued] = await Promise.all([
    page.waitForNavigation(),
    page.click('#credential-new button[type=submit]'),
  ]);
  if (issued.status() !== 403) fail(`issuing for themselves answered ${issued.status()}`);
  await shot(page, 'dept-admin-own-credential-issue-refused');

  step = 'resuming their own suspended credential is refused';
  log(step);
  await page.goto(`${issuer}/admin/credentials`, { waitUntil: 'load' });
  const resume = page.locator(`form[action="/admin/credentials/${ownCredential}/resume"] button`);
  if ((await resume.count()) !== 1) fail('the suspended credential offers no resume button');
  const [answer] = await Promise.all([page.waitForNavigation(), resume.click()]);
  if (answer.status() !== 403) fail(`resuming their own credential answered ${answer.status()}`);
  await shot(page, 'dept-admin-own-credential-refused');
  log('ok');
}

const modes = { journey, refusals };
if (!modes[mode]) {
  console.error('usage: node office.mjs journey|refusals …');
  process.exit(2);
}
await runInChromium('office.mjs', (browser) => modes[mode](browser, rest), 20 * STEP_TIMEOUT, () => step);
