//! Single sign-on and the authentication-request parameters that govern it:
//! `prompt` and `max_age` (OIDC Core §3.1.2.1).

use std::time::Duration;

use anyhow::Context;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, at_redirect_uri};
use tessera_e2e::oauth::AuthRequest;
use tessera_e2e::{Backend, NewClient};
use tessera_sdk::AuthOptions;

scenarios!(
    sso_across_two_clients,
    prompt_none,
    prompt_login_asks_again,
    max_age
);

/// One password prompt for two applications in the same browser.
async fn sso_across_two_clients(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let hr = fx
        .add_client(NewClient::confidential("nhansu", "Quản lý nhân sự"))
        .await?;
    let docs_rp = fx.rp().await?;
    let hr_rp = flow::relying_party(&fx.server, &hr).await?;
    let browser = fx.browser()?;

    let first = flow::sdk_login(&browser, &fx.server, &docs_rp, &[], USERNAME, PASSWORD).await?;

    // Second application: /authorize answers with a code at once, no login page.
    let (url, pending) = hr_rp.authorization_url(&[], &AuthOptions::default());
    let cb = flow::authorize_silently(&browser, &url).await?;
    assert_eq!(cb.state().as_deref(), Some(pending.state.as_str()));
    let second = hr_rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    // Same authentication event, same OP session.
    assert_eq!(second.claims.auth_time, first.claims.auth_time);
    assert_eq!(second.claims.sid, first.claims.sid);
    assert_eq!(second.claims.amr, vec!["pwd".to_owned()]);

    // The POST form of the authentication request (OIDC Core §3.1.2.1) works the same way.
    let request = AuthRequest::new(&hr);
    let page = browser
        .post_params(&fx.server.url("/authorize"), &request.params())
        .await?;
    let location = page.see_other()?;
    assert!(at_redirect_uri(&location, &hr.redirect_uri), "{page}");
    let cb = flow::Callback { url: location };
    assert_eq!(cb.state().as_deref(), Some(request.state.as_str()));
    cb.code()?;

    // Another browser has no session: it is asked for a password.
    let other = fx.browser()?;
    let (url, _) = hr_rp.authorization_url(&[], &AuthOptions::default());
    flow::open_login_page(&other, &url).await?;
    Ok(())
}

/// `prompt=none`: an error without a session, a code with one.
async fn prompt_none(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    let browser = fx.browser()?;
    let none = AuthOptions {
        prompt: Some("none".into()),
        ..AuthOptions::default()
    };

    let (url, pending) = rp.authorization_url(&[], &none);
    let page = browser.get(&url).await?;
    let location = page.see_other()?;
    assert!(
        at_redirect_uri(&location, &fx.client.redirect_uri),
        "{page}"
    );
    let cb = flow::Callback { url: location };
    assert_eq!(cb.error().as_deref(), Some("login_required"), "{page}");
    assert_eq!(cb.state().as_deref(), Some(pending.state.as_str()));
    assert_eq!(cb.param("code"), None);
    // RFC 9207 §2: `iss` accompanies error responses too.
    assert_eq!(cb.param("iss").as_deref(), Some(fx.server.issuer()));

    flow::sdk_login(&browser, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;

    let (url, pending) = rp.authorization_url(&[], &none);
    let cb = flow::authorize_silently(&browser, &url).await?;
    assert_eq!(cb.error(), None, "{}", cb.url);
    let login = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    assert_eq!(login.claims.amr, vec!["pwd".to_owned()]);
    Ok(())
}

/// `prompt=login` shows the login form even with a live session.
async fn prompt_login_asks_again(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    let browser = fx.browser()?;
    flow::sdk_login(&browser, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    let login = AuthOptions {
        prompt: Some("login".into()),
        ..AuthOptions::default()
    };
    let (url, pending) = rp.authorization_url(&[], &login);
    let cb = flow::browser_login(&browser, &fx.server, &url, USERNAME, PASSWORD).await?;
    rp.exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    Ok(())
}

/// `max_age`: a stale authentication asks again, a fresh enough one does not.
async fn max_age(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    let browser = fx.browser()?;
    let first = flow::sdk_login(&browser, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    let first_auth = first.claims.auth_time.context("no auth_time")?;

    // Generous max_age: the session is recent enough, no prompt.
    let generous = AuthOptions {
        max_age: Some(Duration::from_secs(3600)),
        ..AuthOptions::default()
    };
    let (url, pending) = rp.authorization_url(&[], &generous);
    let cb = flow::authorize_silently(&browser, &url).await?;
    let again = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    assert_eq!(again.claims.auth_time, Some(first_auth));

    // max_age=0 after the clock has moved on: the password is asked for again, and the new
    // ID token reports the new authentication time (OIDC Core §2, auth_time).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let strict = AuthOptions {
        max_age: Some(Duration::ZERO),
        ..AuthOptions::default()
    };
    let (url, pending) = rp.authorization_url(&[], &strict);
    let cb = flow::browser_login(&browser, &fx.server, &url, USERNAME, PASSWORD).await?;
    let fresh = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    let fresh_auth = fresh.claims.auth_time.context("no auth_time")?;
    assert!(
        fresh_auth > first_auth,
        "auth_time {fresh_auth} not after {first_auth}"
    );
    Ok(())
}
