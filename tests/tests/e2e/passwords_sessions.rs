//! Passwords set by an administrator and session cookies: a temporary password must be
//! changed before anything else, people change their own password on `/account`, and a
//! session cookie copied before its owner authenticated again (or stepped up) stops working.

use anyhow::Context;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow;
use tessera_e2e::{Backend, Browser, LogoutReceiver, NewClient, Page, ServerOptions, TestServer};
use tessera_sdk::AuthOptions;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::strong_auth::{add_passkey, between, csrf, follow_to_client, prove_passkey};

scenarios!(
    a_copied_cookie_dies_when_its_owner_steps_up_or_signs_in_again,
    a_temporary_password_is_changed_before_anything_else,
    people_change_their_own_password_on_account
);

const SESSION: &str = "tessera_session";
const LOA1: &str = "urn:tessera:loa:1";
const LOA2: &str = "urn:tessera:loa:2";

/// A second browser holding a copy of `victim`'s session cookie.
fn copy_session(victim: &Browser, server: &TestServer) -> anyhow::Result<(Browser, String)> {
    let root = server.url("/");
    let value = victim
        .cookie(&root, SESSION)
        .context("the victim has no session cookie")?;
    let thief = Browser::new()?;
    thief.put_cookie(&root, SESSION, &value);
    Ok((thief, value))
}

/// Whether `/account` opens for this browser (a dead session is sent to the login page).
async fn account_opens(browser: &Browser, server: &TestServer) -> anyhow::Result<bool> {
    let page = browser.get(&server.url("/account")).await?;
    match page.status {
        StatusCode::OK => Ok(true),
        StatusCode::SEE_OTHER if page.see_other()?.path() == "/login" => Ok(false),
        _ => anyhow::bail!("unexpected /account answer: {page}"),
    }
}

async fn a_copied_cookie_dies_when_its_owner_steps_up_or_signs_in_again(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let signing = fx
        .add_client(NewClient::confidential("kyso", "Ký số tập trung").min_acr(LOA2))
        .await?;
    let docs_rp = fx.rp().await?;
    let sign_rp = flow::relying_party(&fx.server, &signing).await?;
    let owner = fx.browser()?;
    let first = flow::sdk_login(&owner, &fx.server, &docs_rp, &[], USERNAME, PASSWORD).await?;
    assert_eq!(first.claims.acr.as_deref(), Some(LOA1));

    // The owner adds a passkey (a fresh password session may enrol a first factor).
    let account = owner.get(&fx.server.url("/account")).await?;
    let mut key = SoftPasskey::new(true);
    add_passkey(&owner, &fx.server, &csrf(&account)?, &mut key, None).await?;

    // Someone copies the level-1 cookie; the copy works for now, on either replica.
    let (thief, copied) = copy_session(&owner, &fx.server)?;
    let replica = fx.server.start_replica(ServerOptions::default()).await?;
    thief.put_cookie(&replica.url("/"), SESSION, &copied);
    assert!(account_opens(&thief, &fx.server).await?, "a valid copy");
    assert!(account_opens(&thief, &replica).await?, "a valid copy");

    // The owner steps up to level 2 for the signing application.
    let (url, pending) = sign_rp.authorization_url(&[], &AuthOptions::default());
    let page = owner.get(&url).await?;
    let factor_url = page.see_other()?;
    assert_eq!(factor_url.path(), "/login/factor", "{page}");
    let factor = owner.get(&factor_url).await?;
    let req = factor_url
        .query_pairs()
        .find(|(k, _)| k == "req")
        .map(|(_, v)| v.into_owned())
        .context("no req")?;
    let token = between(&factor.body, "data-csrf=\"", "\"").context("no CSRF token")?;
    let next = prove_passkey(&owner, &fx.server, token, &mut key, &req).await?;
    let rotated = owner
        .cookie(&fx.server.url("/"), SESSION)
        .context("no session cookie after the step-up")?;
    assert_ne!(rotated, copied, "the step-up sets a new cookie value");
    let cb = follow_to_client(
        &owner,
        &fx.server,
        fx.server.url(&next),
        &signing.redirect_uri,
    )
    .await?;
    let state = cb.state().context("no state")?;
    let stepped = sign_rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(stepped.claims.acr.as_deref(), Some(LOA2));
    assert_eq!(stepped.claims.sid, first.claims.sid, "same OIDC session");

    // The copied cookie is dead: no account page, no silent sign-in to any application, and
    // the signing application sends it to the password form, not to a level-2 session.
    assert!(!account_opens(&thief, &fx.server).await?);
    assert!(
        !account_opens(&thief, &replica).await?,
        "dead on the other replica too"
    );
    let (url, _) = sign_rp.authorization_url(&[], &AuthOptions::default());
    flow::open_login_page(&thief, &url).await?;
    let (url, _) = docs_rp.authorization_url(&[], &AuthOptions::default());
    flow::open_login_page(&thief, &url).await?;
    assert!(
        account_opens(&owner, &fx.server).await?,
        "the owner stays in"
    );

    // The same with a re-authentication (prompt=login): the cookie copied before it dies.
    let (thief, copied) = copy_session(&owner, &fx.server)?;
    let again = AuthOptions {
        prompt: Some("login".into()),
        ..AuthOptions::default()
    };
    let (url, pending) = docs_rp.authorization_url(&[], &again);
    let cb = flow::browser_login(&owner, &fx.server, &url, USERNAME, PASSWORD).await?;
    let state = cb.state().context("no state")?;
    let relogged = docs_rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(relogged.claims.sid, first.claims.sid, "same OIDC session");
    let rotated = owner
        .cookie(&fx.server.url("/"), SESSION)
        .context("no cookie")?;
    assert_ne!(rotated, copied);
    assert!(!account_opens(&thief, &fx.server).await?);
    assert!(account_opens(&owner, &fx.server).await?);
    Ok(())
}

const TEMPORARY: &str = "tam-thoi-Q7x-2026-k9";
const MINE: &str = "mật khẩu của riêng An 2026";

/// Posts the change-password form at `path` (with `req` and `current` when given).
async fn post_change(
    browser: &Browser,
    server: &TestServer,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> anyhow::Result<Page> {
    let mut form = vec![("csrf_token", csrf)];
    form.extend_from_slice(fields);
    browser.post_form(&server.url(path), &form).await
}

/// Whether a password login (no second factor asked) reaches the application.
async fn password_works(fx: &Fixture, password: &str) -> anyhow::Result<bool> {
    let rp = fx.rp().await?;
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let browser = fx.browser()?;
    let login = flow::open_login_page(&browser, &url).await?;
    let answer = browser
        .submit_login(&fx.server, &login.login_form()?, USERNAME, password)
        .await?;
    match answer.status {
        StatusCode::UNAUTHORIZED => Ok(false),
        StatusCode::SEE_OTHER => Ok(answer
            .see_other()?
            .as_str()
            .starts_with(&fx.client.redirect_uri)),
        _ => anyhow::bail!("unexpected login answer: {answer}"),
    }
}

async fn a_temporary_password_is_changed_before_anything_else(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let s = &fx.server;
    s.cli_ok(
        &[
            "user",
            "passwd",
            USERNAME,
            "--password-stdin",
            "--temporary",
        ],
        Some(TEMPORARY),
    )
    .await?;
    let rp = fx.rp().await?;

    // Whoever holds the temporary password (the administrator who set it) gets no further
    // than the change-password page: no session, no application, no account page, and no
    // first factor to plant.
    let admin = fx.browser()?;
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&admin, &url).await?;
    let form = login.login_form()?;
    let req = form.req.clone().context("no req")?;
    let answer = admin.submit_login(s, &form, USERNAME, TEMPORARY).await?;
    assert_eq!(answer.see_other()?.path(), "/login/password", "{answer}");
    assert!(answer.set_cookie(SESSION).is_none(), "{answer}");
    assert!(!account_opens(&admin, s).await?);
    let cont = admin
        .get(&s.url(&format!("/login/continue?req={req}")))
        .await?;
    assert_eq!(cont.see_other()?.path(), "/login", "{cont}");
    for step in ["/login/enrol", "/login/factor"] {
        let page = admin.get(&s.url(&format!("{step}?req={req}"))).await?;
        assert_eq!(
            page.see_other()?.path(),
            "/login/password",
            "{step}: {page}"
        );
    }
    let change = admin
        .get(&s.url(&format!("/login/password?req={req}")))
        .await?;
    assert_eq!(change.status, StatusCode::OK, "{change}");
    let token = csrf(&change)?;
    let planted = post_change(
        &admin,
        s,
        "/login/enrol/passkey/begin",
        &token,
        &[("req", &req)],
    )
    .await?;
    assert_eq!(planted.status, StatusCode::FORBIDDEN, "{planted}");
    // The form refuses what the rules refuse.
    for (new, again) in [
        (MINE, "khác hẳn mật khẩu kia"),
        ("matkhau123", "matkhau123"),
    ] {
        let refused = post_change(
            &admin,
            s,
            "/login/password",
            &token,
            &[
                ("req", &req),
                ("new_password", new),
                ("confirm_password", again),
            ],
        )
        .await?;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(refused.body.contains("id=\"password-error\""), "{refused}");
        assert!(refused.set_cookie(SESSION).is_none());
    }

    // The person signs in with it and chooses their own; the application gets its code.
    let person = fx.browser()?;
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let cb = flow::first_login(&person, s, &url, USERNAME, TEMPORARY, MINE).await?;
    let state = cb.state().context("no state")?;
    rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert!(account_opens(&person, s).await?);

    // The administrator's half-finished sign-in is worth nothing now.
    let late = post_change(
        &admin,
        s,
        "/login/password",
        &token,
        &[
            ("req", &req),
            ("new_password", "mật khẩu của quản trị 99"),
            ("confirm_password", "mật khẩu của quản trị 99"),
        ],
    )
    .await?;
    assert_eq!(late.see_other()?.path(), "/login", "{late}");
    assert!(!account_opens(&admin, s).await?);
    assert!(!password_works(&fx, TEMPORARY).await?);
    assert!(password_works(&fx, MINE).await?);

    // Without --temporary the operator's password simply stays (bootstrap, automation).
    s.cli_ok(
        &["user", "passwd", USERNAME, "--password-stdin"],
        Some(PASSWORD),
    )
    .await?;
    assert!(password_works(&fx, PASSWORD).await?);

    // `user add --temporary` too: the new person's first sign-in stops at the change.
    s.cli_ok(
        &[
            "user",
            "add",
            "--username",
            "binh.tt",
            "--name",
            "Trần Thanh Bình",
            "--password-stdin",
            "--temporary",
        ],
        Some(TEMPORARY),
    )
    .await?;
    let newcomer = fx.browser()?;
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&newcomer, &url).await?;
    let answer = newcomer
        .submit_login(s, &login.login_form()?, "binh.tt", TEMPORARY)
        .await?;
    assert_eq!(answer.see_other()?.path(), "/login/password", "{answer}");
    ensure_audited(s, &["user.password_set", "password.changed"]).await
}

async fn ensure_audited(s: &TestServer, events: &[&str]) -> anyhow::Result<()> {
    for event in events {
        anyhow::ensure!(
            !s.audit(event).await?.is_empty(),
            "no {event} in the audit log"
        );
    }
    Ok(())
}

async fn people_change_their_own_password_on_account(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let s = &fx.server;
    let receiver = LogoutReceiver::start().await?;
    let hoso = fx
        .add_client(
            NewClient::confidential("hoso", "Hồ sơ một cửa")
                .backchannel_logout_uri(&receiver.url("/hoso/bcl")),
        )
        .await?;
    let rp = flow::relying_party(s, &hoso).await?;
    let elsewhere = fx.browser()?;
    let elsewhere_login = flow::sdk_login(&elsewhere, s, &rp, &[], USERNAME, PASSWORD).await?;
    let here = fx.browser()?;
    flow::sdk_login(&here, s, &rp, &[], USERNAME, PASSWORD).await?;

    let account = here.get(&s.url("/account")).await?;
    assert!(account.body.contains("id=\"change-password\""), "{account}");
    let page = here.get(&s.url("/account/password")).await?;
    assert_eq!(page.status, StatusCode::OK, "{page}");
    assert!(page.body.contains("name=\"current_password\""));
    let token = csrf(&page)?;

    // A forged form, a wrong current password, a common or mistyped new one: refused.
    let forged = post_change(
        &here,
        s,
        "/account/password",
        "forged",
        &[
            ("current_password", PASSWORD),
            ("new_password", MINE),
            ("confirm_password", MINE),
        ],
    )
    .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged}");
    for (current, new, again, status) in [
        ("sai mật khẩu rồi", MINE, MINE, StatusCode::UNAUTHORIZED),
        (
            PASSWORD,
            "qwertyuiop",
            "qwertyuiop",
            StatusCode::BAD_REQUEST,
        ),
        (
            PASSWORD,
            MINE,
            "gõ nhầm mật khẩu mới",
            StatusCode::BAD_REQUEST,
        ),
        (PASSWORD, PASSWORD, PASSWORD, StatusCode::BAD_REQUEST),
    ] {
        let refused = post_change(
            &here,
            s,
            "/account/password",
            &token,
            &[
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", again),
            ],
        )
        .await?;
        assert_eq!(refused.status, status, "{refused}");
        assert!(refused.body.contains("id=\"password-error\""), "{refused}");
    }
    assert!(account_opens(&elsewhere, s).await?, "nothing changed yet");

    let done = post_change(
        &here,
        s,
        "/account/password",
        &token,
        &[
            ("current_password", PASSWORD),
            ("new_password", MINE),
            ("confirm_password", MINE),
        ],
    )
    .await?;
    assert_eq!(
        done.see_other()?.as_str(),
        s.url("/account?done=1").as_str()
    );
    // This browser stays signed in; the other session is over, and its application is told
    // over the back channel (only that one: this session's application stays signed in).
    assert!(account_opens(&here, s).await?);
    assert!(!account_opens(&elsewhere, s).await?);
    let got = receiver
        .wait_for(1, std::time::Duration::from_secs(20))
        .await?;
    let token = got[0].logout_token.as_deref().context("no logout_token")?;
    let (_, claims) = tessera_e2e::oauth::jwt_parts(token)?;
    assert_eq!(
        claims["sid"].as_str(),
        elsewhere_login.claims.sid.as_deref()
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "only the other session's");
    assert!(!password_works(&fx, PASSWORD).await?);
    assert!(password_works(&fx, MINE).await?);
    ensure_audited(s, &["password.confirm.failure", "password.changed"]).await
}
