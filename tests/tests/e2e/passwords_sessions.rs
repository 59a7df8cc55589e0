//! Passwords set by an administrator and session cookies: a temporary password must be
//! changed before anything else, people change their own password on `/account`, and a
//! session cookie copied before its owner authenticated again (or stepped up) stops working.

use anyhow::Context;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow;
use tessera_e2e::{Backend, Browser, NewClient, ServerOptions, TestServer};
use tessera_sdk::AuthOptions;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::strong_auth::{add_passkey, between, csrf, follow_to_client, prove_passkey};

scenarios!(a_copied_cookie_dies_when_its_owner_steps_up_or_signs_in_again);

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

    // Someone copies the level-1 cookie; the copy works for now.
    let (thief, copied) = copy_session(&owner, &fx.server)?;
    assert!(account_opens(&thief, &fx.server).await?, "a valid copy");

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
