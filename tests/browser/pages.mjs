// Every people-facing page, and the administration console's pages, as a Vietnamese official
// sees them: headless Chromium at 1280 px and 390 px, in Vietnamese and English. Each page is
// screenshotted and must not be wider than its viewport (no horizontal scrolling).
//
//   node pages.mjs <base_url> <username> <password> <admin_session_cookie> <user_id> <dir>
//        [<credential_page>]
//
// The official signs in here with the password (as Chrome 156 on Linux, so the session list
// names it). The administrator's session was opened at level 2 by the Rust test, which passes
// its cookie. On /account the script also checks what issue 15 asks: times in Vietnam time in
// day/month/year order, sessions named by browser and system, recent activity as phrases, and
// the profile's labels stacked above their values at 390 px. Exits 0 on success. Run by
// tests/tests/e2e/browser_pages.rs.

import { join } from 'node:path';

import { runInChromium } from './harness.mjs';

const STEP_TIMEOUT = 20000;
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

const [base, username, password, adminCookie, userId, shots, credentialPage] =
  process.argv.slice(2);
if (!base || !username || !password || !adminCookie || !userId || !shots) {
  console.error('usage: node pages.mjs <base_url> <username> <password> <cookie> <user_id> <dir>');
  process.exit(2);
}
const baseUrl = new URL(base);
const url = (path) => new URL(path, baseUrl).toString();

let step = 'start';
const log = (m) => console.log(`pages.mjs: ${m}`);
class StepError extends Error {}
const fail = (m) => {
  throw new StepError(m);
};

const WIDTHS = [
  ['desktop', { width: 1280, height: 900 }],
  ['phone', { width: 390, height: 844 }],
];

async function contextAt(browser, viewport, phone) {
  return browser.newContext({
    viewport,
    isMobile: phone,
    hasTouch: phone,
    deviceScaleFactor: 1,
    userAgent: UA,
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
  });
}

/** Opens `path` in `lang`, checks the width, screenshots it. */
async function visit(page, path, name, lang, width) {
  const sep = path.includes('?') ? '&' : '?';
  const resp = await page.goto(url(`${path}${sep}lang=${lang}`), { waitUntil: 'load' });
  const { scroll, inner, htmlLang } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    htmlLang: document.documentElement.lang,
  }));
  if (htmlLang !== lang) fail(`${name}: the page is in ${htmlLang}, not ${lang}`);
  const file = `${name}-${lang}-${width}.png`;
  await page.screenshot({ path: join(shots, file), fullPage: true });
  if (scroll > inner) fail(`${name} (${lang}): ${scroll} px wide in a ${inner} px viewport`);
  log(`${file} (${resp ? resp.status() : '?'})`);
  return resp;
}

async function checkAccount(page, lang, width) {
  const text = (sel) => page.locator(sel).allInnerTexts();
  // Vietnam time, day first: 03/12/2026 17:25 (+07:00).
  const times = (await text('#sessions .muted')).join(' ');
  if (!/\d\d\/\d\d\/\d{4} \d\d:\d\d \(\+07:00\)/.test(times)) {
    fail(`/account: session times are not in Vietnam time, day first: ${times}`);
  }
  if (/UTC/.test(await page.locator('main').innerText())) fail('/account still shows UTC');
  const device = (await text('.session-item .device')).join(' | ');
  const wanted = lang === 'vi' ? 'Chrome 156 trên Linux' : 'Chrome 156 on Linux';
  if (!device.includes(wanted)) fail(`/account: sessions are named ${device}, not ${wanted}`);
  const history = (await text('#history li')).join(' | ');
  if (/login\.success|mfa\.|logout\b/.test(history)) fail(`/account: raw event names: ${history}`);
  const signedIn = lang === 'vi' ? 'Đăng nhập thành công' : 'Signed in';
  if (!history.includes(signedIn)) fail(`/account: no "${signedIn}" in ${history}`);
  // At 390 px each label sits above its value; at 1280 px beside it.
  const [dt, dd] = await Promise.all([
    page.locator('dl.profile dt').first().boundingBox(),
    page.locator('dl.profile dd').first().boundingBox(),
  ]);
  const stacked = dd.y >= dt.y + dt.height - 1 && Math.abs(dd.x - dt.x) < 2;
  if (width === 'phone' && !stacked) fail(`/account at 390 px: label beside value ${JSON.stringify({ dt, dd })}`);
  if (width === 'desktop' && stacked) fail('/account at 1280 px: label above value');
}

async function run(browser) {
  for (const [width, viewport] of WIDTHS) {
    const phone = width === 'phone';
    step = `signed out at ${width}`;
    log(step);
    const anon = await (await contextAt(browser, viewport, phone)).newPage();
    for (const lang of ['vi', 'en']) {
      await visit(anon, '/login', 'login', lang, width);
      await visit(anon, '/verify', 'verify', lang, width);
      const missing = await visit(anon, '/khong-co-trang-nay', 'not-found', lang, width);
      if (missing.status() !== 404) fail(`an unknown page answered ${missing.status()}`);
    }

    step = `the official at ${width}`;
    log(step);
    const ctx = await contextAt(browser, viewport, phone);
    const page = await ctx.newPage();
    await page.goto(url('/login?lang=vi'), { waitUntil: 'load' });
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.locator('#login-form button[type=submit]').click();
    await page.waitForURL((u) => u.pathname === '/account', { timeout: STEP_TIMEOUT });
    for (const lang of ['vi', 'en']) {
      await visit(page, '/account', 'account', lang, width);
      await checkAccount(page, lang, width);
      await visit(page, '/account/password', 'password', lang, width);
      await visit(page, '/sign/requests', 'sign-requests', lang, width);
      await visit(page, '/logout', 'logout', lang, width);
      await visit(page, '/login', 'signed-in', lang, width);
    }

    step = `the administrator at ${width}`;
    log(step);
    const admin = await contextAt(browser, viewport, phone);
    const [name, value] = adminCookie.split('=');
    await admin.addCookies([{ name, value, url: base }]);
    const apage = await admin.newPage();
    for (const lang of ['vi', 'en']) {
      for (const [path, shot] of [
        ['/admin/units', 'console-units'],
        ['/admin/users', 'console-users'],
        [`/admin/users/${userId}`, 'console-user'],
        ['/admin/clients', 'console-clients'],
        ['/admin/credentials', 'console-credentials'],
        ['/admin/seals', 'console-seals'],
        ...(credentialPage ? [[credentialPage, 'console-credential']] : []),
        ['/admin/audit', 'console-audit'],
        ['/admin/signing', 'console-signing'],
      ]) {
        const resp = await visit(apage, path, shot, lang, width);
        if (resp.status() !== 200) fail(`${path}: ${resp.status()} (${apage.url()})`);
      }
    }
    await Promise.all([anon.context().close(), ctx.close(), admin.close()]);
  }
  log('ok');
}

await runInChromium('pages.mjs', run, 15 * STEP_TIMEOUT, () => step);
