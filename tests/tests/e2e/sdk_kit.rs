//! The SDK's axum kit in two small applications against the real provider: login through the
//! kit's routes, SSO into the second, a level-2 page that steps up with a passkey, the access
//! token refreshed as it expires, and a logout in one ending the other's session over the back
//! channel.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, ROLES, USERNAME};
use tessera_e2e::{Backend, Browser, NewClient, Page, ServerOptions, flow};
use tessera_sdk::axum::{AuthKit, AuthUser, Requirement};
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::strong_auth::{add_passkey, between, csrf, follow_to_client, prove_passkey};

scenarios!(axum_kit_login_sso_step_up_refresh_and_backchannel_logout);

/// One application built on the kit, serving on a loopback port.
struct App {
    base: Url,
    redirect_uri: String,
    kit: AuthKit,
    serving: tokio::task::JoinHandle<()>,
}

impl App {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

async fn start_app(fx: &Fixture, id: &str) -> anyhow::Result<App> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    let client = fx
        .add_client(
            NewClient {
                redirect_uri: format!("{base}callback"),
                ..NewClient::confidential(id, &format!("Ứng dụng {id}"))
            }
            .post_logout_redirect_uri(base.as_str())
            .backchannel_logout_uri(&format!("{base}auth/backchannel-logout")),
        )
        .await?;
    let rp = flow::relying_party(&fx.server, &client).await?;
    let kit = AuthKit::new(Arc::new(rp))?.post_logout_redirect_uri(base.as_str());
    let app = Router::new()
        .route(
            "/",
            get(|user: Option<AuthUser>| async move {
                user.map_or("anonymous".to_owned(), |u| {
                    format!("signed in {} at level {}", u.subject(), u.level())
                })
            }),
        )
        .route(
            "/whoami",
            get(|u: AuthUser| async move {
                format!(
                    "{}|{}|{}",
                    u.subject(),
                    u.claims.roles.join(","),
                    u.access_token()
                )
            }),
        )
        .route(
            "/sign",
            get(|u: AuthUser| async move { format!("level {}", u.level()) })
                .route_layer(kit.require(Requirement::level(2))),
        )
        .merge(kit.routes())
        .layer(kit.session_layer());
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(App {
        base,
        redirect_uri: client.redirect_uri,
        kit: kit.clone(),
        serving,
    })
}

/// `GET url`, following the application's own redirects (not the provider's) to a page.
async fn visit(browser: &Browser, app: &App, path: &str) -> anyhow::Result<Page> {
    let mut url = app.url(path);
    for _ in 0..5 {
        let page = browser.get(&url).await?;
        match page.location() {
            Some(next) if next.origin() == app.base.origin() => url = next,
            _ => return Ok(page),
        }
    }
    bail!("too many redirects from {path}")
}

/// `GET path`, which must send the browser to the provider; returns that URL.
async fn to_provider(browser: &Browser, app: &App, path: &str) -> anyhow::Result<Url> {
    let page = visit(browser, app, path).await?;
    let url = page.see_other()?;
    ensure!(url.origin() != app.base.origin(), "{page}");
    Ok(url)
}

/// Lands the provider's callback on the application and follows it to the page asked for.
async fn complete(browser: &Browser, app: &App, cb: &flow::Callback) -> anyhow::Result<Page> {
    let page = browser.get(&cb.url).await?;
    let back = page.see_other()?;
    visit(browser, app, back.as_str()).await
}

async fn axum_kit_login_sso_step_up_refresh_and_backchannel_logout(
    backend: Backend,
) -> anyhow::Result<()> {
    let options = ServerOptions::default()
        .localhost_issuer()?
        .allow_loopback_calls()
        // Access tokens at the shortest lifetime: the kit refreshes them at every request.
        .env("TESSERA_ACCESS_TOKEN_TTL_SECS", "30");
    let fx = Fixture::start_with(backend, options).await?;
    let hoso = start_app(&fx, "hoso").await?;
    let motcua = start_app(&fx, "motcua").await?;
    let browser = fx.browser()?;

    // Login through the kit: a protected page sends the visitor to the provider and back.
    assert_eq!(visit(&browser, &hoso, "/").await?.body, "anonymous");
    let auth = to_provider(&browser, &hoso, "/whoami?tab=1").await?;
    let cb = flow::browser_login(&browser, &fx.server, &auth, USERNAME, PASSWORD).await?;
    let page = complete(&browser, &hoso, &cb).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    assert_eq!(page.url.path(), "/whoami");
    assert_eq!(page.url.query(), Some("tab=1"));
    let fields: Vec<&str> = page.body.split('|').collect();
    assert_eq!(fields[0], fx.user_id);
    assert_eq!(fields[1], ROLES.join(","));
    let first_token = fields[2].to_owned();

    // The access token expired (30 s, refreshed 30 s early): the next request refreshes it,
    // and the user stays signed in.
    let again = visit(&browser, &hoso, "/whoami").await?;
    let token = again.body.split('|').nth(2).context("no token")?;
    assert_ne!(token, first_token, "the access token was refreshed");

    // SSO: the second application signs the user in without a password.
    let auth = to_provider(&browser, &motcua, "/whoami").await?;
    let cb = flow::authorize_silently(&browser, &auth).await?;
    let page = complete(&browser, &motcua, &cb).await?;
    assert!(page.body.starts_with(&fx.user_id), "{page}");
    assert_eq!(
        visit(&browser, &motcua, "/").await?.body,
        format!("signed in {} at level 1", fx.user_id)
    );

    // Step-up: with a passkey enrolled, the level-2 page asks for it (not the password).
    let account = browser.get(&fx.server.url("/account")).await?;
    let mut key = SoftPasskey::new(true);
    add_passkey(&browser, &fx.server, &csrf(&account)?, &mut key, None).await?;
    let auth = to_provider(&browser, &hoso, "/sign").await?;
    assert!(
        auth.query_pairs()
            .any(|(k, v)| k == "acr_values" && v == "urn:tessera:loa:2"),
        "{auth}"
    );
    let factor_url = browser.get(&auth).await?.see_other()?;
    assert_eq!(factor_url.path(), "/login/factor");
    let factor = browser.get(&factor_url).await?;
    // With only a passkey the page has no form: the button carries the request and token.
    let req = between(&factor.body, "data-req=\"", "\"").context("no data-req")?;
    let token = between(&factor.body, "data-csrf=\"", "\"").context("no data-csrf")?;
    let next = prove_passkey(&browser, &fx.server, token, &mut key, req).await?;
    let cb = follow_to_client(
        &browser,
        &fx.server,
        fx.server.url(&next),
        &hoso.redirect_uri,
    )
    .await?;
    let page = complete(&browser, &hoso, &cb).await?;
    assert_eq!(page.url.path(), "/sign");
    assert_eq!(page.body, "level 2");

    // Logout in hoso: its session ends, the provider's too, and the back channel ends motcua's.
    let out = browser.post_form(&hoso.url("/auth/logout"), &[]).await?;
    let end_session = out.see_other()?;
    assert_eq!(end_session.path(), "/logout", "{out}");
    assert_eq!(visit(&browser, &hoso, "/").await?.body, "anonymous");
    let page = browser.get(&end_session).await?;
    ensure!(
        page.status.is_success() || page.status.is_redirection(),
        "{page}"
    );
    fx.server
        .wait_for_audit("backchannel.delivered", 2, Duration::from_secs(20))
        .await?;
    // Ended by the back channel before any request of the user (which would find its refresh
    // refused too): nothing is left to end.
    assert_eq!(motcua.kit.end_sessions(None, Some(&fx.user_id)).await?, 0);
    assert_eq!(visit(&browser, &motcua, "/").await?.body, "anonymous");
    // And the provider session is over: the next visit asks for the password again.
    let auth = to_provider(&browser, &motcua, "/whoami").await?;
    flow::open_login_page(&browser, &auth).await?;
    Ok(())
}
