//! Strong authentication through the real pages: an official enrols TOTP and a passkey on
//! `/account`, a client that requires level 2 gets it only after a step-up, each second
//! factor signs in, spent codes are refused, and a unit policy guides enrolment at login.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, Callback, at_redirect_uri};
use tessera_e2e::{Backend, Browser, NewClient, Page, ServerOptions, TestServer, hidden_input};
use tessera_sdk::{AuthOptions, RelyingParty};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

scenarios!(
    step_up_with_totp_passkey_and_recovery_code,
    policy_guides_enrolment,
    a_locked_second_factor_is_shown_and_unlocked,
    passkey_begins_are_limited_per_address
);

const LOA1: &str = "urn:tessera:loa:1";
const LOA2: &str = "urn:tessera:loa:2";

/// The code an authenticator app shows now.
#[allow(clippy::disallowed_methods)] // the server checks codes against the real clock
pub(crate) fn totp_now(secret: &str) -> anyhow::Result<String> {
    let secret =
        totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("secret: {e:?}"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret.as_bytes().to_vec())
        .build()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp.generate(now).to_string())
}

/// Text between `start` and the next `end`.
pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

pub(crate) fn csrf(page: &Page) -> anyhow::Result<String> {
    hidden_input(&page.body, "csrf_token").with_context(|| format!("no CSRF token in {page}"))
}

async fn json_post(
    browser: &Browser,
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Value> {
    let page = browser.post_form(&server.url(path), form).await?;
    ensure!(page.status == StatusCode::OK, "POST {path}: {page}");
    Ok(serde_json::from_str(&page.body)?)
}

/// Registers a passkey from `/account` (or the enrolment page, with `req`).
pub(crate) async fn add_passkey(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    key: &mut SoftPasskey,
    req: Option<&str>,
) -> anyhow::Result<String> {
    let mut form = vec![("csrf_token", csrf)];
    if let Some(r) = req {
        form.push(("req", r));
    }
    let begun = json_post(browser, server, "/account/passkeys/begin", &form).await?;
    let options = serde_json::from_value(begun["options"].clone())?;
    let answer = key
        .do_registration(Url::parse(server.issuer())?, options)
        .map_err(|e| anyhow::anyhow!("authenticator: {e:?}"))?;
    let answer = serde_json::to_string(&answer)?;
    let ceremony = begun["ceremony"].as_str().context("no ceremony")?;
    form.extend([
        ("ceremony", ceremony),
        ("credential", answer.as_str()),
        ("name", "Khóa YubiKey"),
    ]);
    let done = json_post(browser, server, "/account/passkeys/finish", &form).await?;
    Ok(done["redirect"].as_str().context("no redirect")?.to_owned())
}

/// Proves the passkey on the second-factor step; returns where the browser goes next.
pub(crate) async fn prove_passkey(
    browser: &Browser,
    server: &TestServer,
    csrf: &str,
    key: &mut SoftPasskey,
    req: &str,
) -> anyhow::Result<String> {
    let form = [("csrf_token", csrf), ("req", req)];
    let begun = json_post(browser, server, "/login/factor/passkey/begin", &form).await?;
    let options = serde_json::from_value(begun["options"].clone())?;
    let answer = key
        .do_authentication(Url::parse(server.issuer())?, options)
        .map_err(|e| anyhow::anyhow!("authenticator: {e:?}"))?;
    let answer = serde_json::to_string(&answer)?;
    let ceremony = begun["ceremony"].as_str().context("no ceremony")?;
    let done = json_post(
        browser,
        server,
        "/login/factor/passkey/finish",
        &[
            ("csrf_token", csrf),
            ("req", req),
            ("ceremony", ceremony),
            ("credential", &answer),
        ],
    )
    .await?;
    Ok(done["redirect"].as_str().context("no redirect")?.to_owned())
}

/// Follows 303s from `url` until the client's redirect URI.
pub(crate) async fn follow_to_client(
    browser: &Browser,
    server: &TestServer,
    mut url: Url,
    redirect_uri: &str,
) -> anyhow::Result<Callback> {
    for _ in 0..5 {
        if at_redirect_uri(&url, redirect_uri) {
            return Ok(Callback { url });
        }
        let page = browser.get(&url).await?;
        url = page.see_other()?;
    }
    anyhow::bail!(
        "no redirect to the client after {url} on {}",
        server.issuer()
    )
}

/// Password login to `rp` in `browser`, which must stop at the second-factor step; returns
/// the factor page and the pending request handle.
pub(crate) async fn password_then_factor_page(
    browser: &Browser,
    fx: &Fixture,
    rp: &RelyingParty,
) -> anyhow::Result<(Page, String, tessera_sdk::PendingLogin)> {
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(browser, &url).await?;
    let form = login.login_form()?;
    let answer = browser
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?;
    let next = answer.see_other()?;
    ensure!(
        next.path() == "/login/factor",
        "expected the second step: {answer}"
    );
    let page = browser.get(&next).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    let req = form.req.context("no pending request")?;
    Ok((page, req, pending))
}

async fn step_up_with_totp_passkey_and_recovery_code(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let signing = fx
        .add_client(NewClient::confidential("kyso", "Ký số tập trung").min_acr(LOA2))
        .await?;
    let docs_rp = fx.rp().await?;
    let sign_rp = flow::relying_party(&fx.server, &signing).await?;
    let browser = fx.browser()?;

    // Level 1: a password is enough for the document system.
    let first = flow::sdk_login(&browser, &fx.server, &docs_rp, &[], USERNAME, PASSWORD).await?;
    assert_eq!(first.claims.acr.as_deref(), Some(LOA1));
    assert_eq!(first.claims.amr, vec!["pwd".to_owned()]);

    // Enrol an authenticator app on /account: QR code, secret, confirmation code.
    let account = browser.get(&fx.server.url("/account")).await?;
    ensure!(account.status == StatusCode::OK, "{account}");
    let token = csrf(&account)?;
    browser
        .post_form(
            &fx.server.url("/account/totp/begin"),
            &[("csrf_token", &token)],
        )
        .await?
        .see_other()?;
    let account = browser.get(&fx.server.url("/account")).await?;
    assert!(
        account.body.contains("<svg"),
        "the QR code is drawn by the server"
    );
    let secret = between(&account.body, "<code id=\"totp-secret\">", "</code>")
        .context("no TOTP secret on the page")?
        .to_owned();
    let wrong = browser
        .post_form(
            &fx.server.url("/account/totp/confirm"),
            &[("csrf_token", &token), ("code", "000000")],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong}");
    let code = totp_now(&secret)?;
    let codes_page = browser
        .post_form(
            &fx.server.url("/account/totp/confirm"),
            &[("csrf_token", &token), ("code", &code)],
        )
        .await?;
    let codes_html = between(&codes_page.body, "id=\"recovery-codes\">", "</ol>")
        .with_context(|| format!("no recovery codes: {codes_page}"))?;
    let codes: Vec<String> = codes_html
        .split("<code>")
        .skip(1)
        .filter_map(|c| c.split("</code>").next().map(str::to_owned))
        .collect();
    assert_eq!(codes.len(), 10);

    // A password-only session of someone with a factor cannot add another one.
    let refused = browser
        .post_form(
            &fx.server.url("/account/passkeys/begin"),
            &[("csrf_token", &token)],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused}");

    // The signing client needs level 2: the same session steps up with the TOTP code,
    // without a new password prompt, and the request continues where it was.
    let (url, pending) = sign_rp.authorization_url(&[], &AuthOptions::default());
    let page = browser.get(&url).await?;
    let factor_url = page.see_other()?;
    assert_eq!(factor_url.path(), "/login/factor", "{page}");
    let factor = browser.get(&factor_url).await?;
    let req = hidden_input(&factor.body, "req").context("no req")?;
    let token = csrf(&factor)?;
    let bad = browser
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &token),
                ("req", &req),
                ("method", "totp"),
                ("code", "123456"),
            ],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad}");
    // The code used to confirm the enrolment is spent: wait for a fresh one if needed.
    let mut code = totp_now(&secret)?;
    let mut page = browser
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &token),
                ("req", &req),
                ("method", "totp"),
                ("code", &code),
            ],
        )
        .await?;
    if page.status == StatusCode::BAD_REQUEST {
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
        code = totp_now(&secret)?;
        page = browser
            .post_form(
                &fx.server.url("/login/factor"),
                &[
                    ("csrf_token", &token),
                    ("req", &req),
                    ("method", "totp"),
                    ("code", &code),
                ],
            )
            .await?;
    }
    let cb = follow_to_client(
        &browser,
        &fx.server,
        page.see_other()?,
        &signing.redirect_uri,
    )
    .await?;
    let state = cb.state().context("no state")?;
    let stepped = sign_rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(stepped.claims.acr.as_deref(), Some(LOA2));
    assert_eq!(stepped.claims.amr, vec!["pwd", "otp", "mfa"]);
    assert_eq!(stepped.claims.sid, first.claims.sid, "the session is kept");
    assert!(stepped.claims.auth_time >= first.claims.auth_time);

    // Now at level 2, the session may add a passkey.
    let account = browser.get(&fx.server.url("/account")).await?;
    let mut key = SoftPasskey::new(true);
    let next = add_passkey(&browser, &fx.server, &csrf(&account)?, &mut key, None).await?;
    assert_eq!(next, "/account?done=1");
    let account = browser.get(&fx.server.url("/account")).await?;
    assert!(account.body.contains("Khóa YubiKey"), "{account}");

    // Another browser: the TOTP code just used is refused (replay) ...
    let other = fx.browser()?;
    let (factor, req, pending) = password_then_factor_page(&other, &fx, &sign_rp).await?;
    let token = csrf(&factor)?;
    let replay = other
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &token),
                ("req", &req),
                ("method", "totp"),
                ("code", &code),
            ],
        )
        .await?;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay}");
    // ... and the passkey signs in as the second factor.
    let next = prove_passkey(&other, &fx.server, &token, &mut key, &req).await?;
    let cb = follow_to_client(
        &other,
        &fx.server,
        fx.server.url(&next),
        &signing.redirect_uri,
    )
    .await?;
    let state = cb.state().context("no state")?;
    let with_key = sign_rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(with_key.claims.acr.as_deref(), Some(LOA2));
    assert_eq!(with_key.claims.amr, vec!["pwd", "hwk", "mfa"]);

    // A recovery code works once.
    let third = fx.browser()?;
    let (factor, req, pending) = password_then_factor_page(&third, &fx, &sign_rp).await?;
    let token = csrf(&factor)?;
    let page = third
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &token),
                ("req", &req),
                ("method", "recovery"),
                ("code", &codes[0]),
            ],
        )
        .await?;
    let cb = follow_to_client(&third, &fx.server, page.see_other()?, &signing.redirect_uri).await?;
    let state = cb.state().context("no state")?;
    let with_code = sign_rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(with_code.claims.acr.as_deref(), Some(LOA2));
    let fourth = fx.browser()?;
    let (factor, req, _) = password_then_factor_page(&fourth, &fx, &sign_rp).await?;
    let used = fourth
        .post_form(
            &fx.server.url("/login/factor"),
            &[
                ("csrf_token", &csrf(&factor)?),
                ("req", &req),
                ("method", "recovery"),
                ("code", &codes[0]),
            ],
        )
        .await?;
    assert_eq!(used.status, StatusCode::BAD_REQUEST, "{used}");

    // Every step is in the audit log, and the log still verifies.
    for event in [
        "mfa.totp.enrolled",
        "mfa.passkey.registered",
        "mfa.step_up",
        "mfa.recovery_code.used",
        "mfa.failure",
    ] {
        ensure!(
            !fx.server.audit(event).await?.is_empty(),
            "no {event} in the audit log"
        );
    }
    fx.server.cli_ok(&["audit", "verify"], None).await?;
    Ok(())
}

/// A unit policy demands level 2: a user without a second factor is guided through
/// enrolment at their next login and then continues to the application.
async fn policy_guides_enrolment(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    fx.server
        .cli_ok(
            &["mfa", "require", "--unit", &fx.unit_id, "--level", LOA2],
            None,
        )
        .await?;
    let rp = fx.rp().await?;
    let browser = fx.browser()?;
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&browser, &url).await?;
    let form = login.login_form()?;
    let answer = browser
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?;
    // No session yet: only a pending login, which leads to the enrolment page.
    assert!(answer.set_cookie("tessera_session").is_none(), "{answer}");
    let factor = browser.get(&answer.see_other()?).await?;
    let enrol_url = factor.see_other()?;
    assert_eq!(enrol_url.path(), "/login/enrol", "{factor}");
    let enrol = browser.get(&enrol_url).await?;
    let token = csrf(&enrol)?;
    let req = form.req.clone().context("no req")?;
    browser
        .post_form(
            &fx.server.url("/login/enrol/totp"),
            &[("csrf_token", &token), ("req", &req)],
        )
        .await?
        .see_other()?;
    let enrol = browser.get(&enrol_url).await?;
    let secret = between(&enrol.body, "<code id=\"totp-secret\">", "</code>")
        .with_context(|| format!("no TOTP secret: {enrol}"))?
        .to_owned();
    let codes = browser
        .post_form(
            &fx.server.url("/login/enrol/totp/confirm"),
            &[
                ("csrf_token", &token),
                ("req", &req),
                ("code", &totp_now(&secret)?),
            ],
        )
        .await?;
    ensure!(codes.body.contains("recovery-codes"), "{codes}");
    assert!(codes.set_cookie("tessera_session").is_some());
    let cont = fx.server.url(&format!("/login/continue?req={req}"));
    let cb = follow_to_client(&browser, &fx.server, cont, &fx.client.redirect_uri).await?;
    let state = cb.state().context("no state")?;
    let result = rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(result.claims.acr.as_deref(), Some(LOA2));
    assert_eq!(result.claims.amr, vec!["pwd", "otp", "mfa"]);

    // The policy also applies with a fresh password in another browser: second step asked.
    let other = fx.browser()?;
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&other, &url).await?;
    let answer = other
        .submit_login(&fx.server, &login.login_form()?, USERNAME, PASSWORD)
        .await?;
    assert_eq!(answer.see_other()?.path(), "/login/factor");
    Ok(())
}

/// A six-digit code other than the one shown now.
fn not_the_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap_or(0);
    format!("{:06}", (n + 500_000) % 1_000_000)
}

/// Someone with the password guesses codes at the step-up page: after 5 the factor is locked
/// (even the right code is refused), the person sees it on `/account`, and `tessera user
/// unlock` lifts it.
async fn a_locked_second_factor_is_shown_and_unlocked(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let signing = fx
        .add_client(NewClient::confidential("kyso", "Ký số tập trung").min_acr(LOA2))
        .await?;
    let docs_rp = fx.rp().await?;
    let sign_rp = flow::relying_party(&fx.server, &signing).await?;
    let browser = fx.browser()?;
    flow::sdk_login(&browser, &fx.server, &docs_rp, &[], USERNAME, PASSWORD).await?;

    let account = browser.get(&fx.server.url("/account")).await?;
    let token = csrf(&account)?;
    browser
        .post_form(
            &fx.server.url("/account/totp/begin"),
            &[("csrf_token", &token)],
        )
        .await?
        .see_other()?;
    let account = browser.get(&fx.server.url("/account")).await?;
    let secret = between(&account.body, "<code id=\"totp-secret\">", "</code>")
        .context("no TOTP secret on the page")?
        .to_owned();
    let confirmed = browser
        .post_form(
            &fx.server.url("/account/totp/confirm"),
            &[("csrf_token", &token), ("code", &totp_now(&secret)?)],
        )
        .await?;
    ensure!(confirmed.status == StatusCode::OK, "{confirmed}");

    let (url, _pending) = sign_rp.authorization_url(&[], &AuthOptions::default());
    let factor_url = browser.get(&url).await?.see_other()?;
    let factor = browser.get(&factor_url).await?;
    let req = hidden_input(&factor.body, "req").context("no req")?;
    let token = csrf(&factor)?;
    let submit = |code: String| {
        let (browser, fx, token, req) = (&browser, &fx, token.clone(), req.clone());
        async move {
            browser
                .post_form(
                    &fx.server.url("/login/factor"),
                    &[
                        ("csrf_token", token.as_str()),
                        ("req", req.as_str()),
                        ("method", "totp"),
                        ("code", code.as_str()),
                    ],
                )
                .await
        }
    };
    for _ in 0..5 {
        let page = submit(not_the_code(&totp_now(&secret)?)).await?;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page}");
    }
    let locked = submit(totp_now(&secret)?).await?;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked}");
    let account = browser.get(&fx.server.url("/account")).await?;
    assert!(account.body.contains("id=\"factor-lock\""), "{account}");

    let out = fx
        .server
        .cli_ok(&["user", "unlock", USERNAME], None)
        .await?;
    assert!(out.stdout.contains("second factor: true"), "{out}");
    let account = browser.get(&fx.server.url("/account")).await?;
    assert!(!account.body.contains("id=\"factor-lock\""), "{account}");
    let mut page = submit(totp_now(&secret)?).await?;
    if page.status == StatusCode::BAD_REQUEST {
        // The confirmation spent this step's code: the next step's is fresh.
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
        page = submit(totp_now(&secret)?).await?;
    }
    page.see_other()?;
    let again = fx
        .server
        .cli_ok(&["user", "unlock", USERNAME], None)
        .await?;
    assert!(again.stdout.contains("had no failures"), "{again}");
    Ok(())
}

/// One address may begin only so many passkey ceremonies: then `429` with `Retry-After`.
async fn passkey_begins_are_limited_per_address(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let browser = fx.browser()?;
    let login = browser.get(&fx.server.url("/login")).await?;
    let token = csrf(&login)?;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..31 {
        let page = browser
            .post_form(
                &fx.server.url("/login/passkey/begin"),
                &[("csrf_token", &token)],
            )
            .await?;
        statuses.push(page.status);
        last = Some(page);
    }
    let last = last.context("no answer")?;
    assert!(
        statuses[..30].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{last}");
    assert!(last.headers.contains_key("retry-after"), "{last}");
    Ok(())
}
