//! Authorization requests that must be refused, and how (OIDC Core §3.1.2.6,
//! RFC 6749 §4.1.2.1, RFC 7636 §4.4.1).

use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, Callback, at_redirect_uri};
use tessera_e2e::oauth::{AuthRequest, Pkce};
use tessera_e2e::{Backend, Browser, NewClient, Page, TestServer};

scenarios!(untrusted_redirect_uri_is_never_followed, pkce_is_enforced);

/// An unregistered redirect URI or an unknown client gets an error page, never a redirect
/// (RFC 6749 §4.1.2.1) — even for a signed-in browser, which must not leak a code.
async fn untrusted_redirect_uri_is_never_followed(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let browser = Browser::new()?;

    let mut wrong_uri = AuthRequest::new(&fx.client);
    wrong_uri.redirect_uri = "http://127.0.0.1:9/attacker/cb".into();
    let mut unknown_client = AuthRequest::new(&fx.client);
    unknown_client.client_id = "khong-ton-tai".into();

    for request in [&wrong_uri, &unknown_client] {
        assert_error_page(&browser.get(&request.url(server)).await?);
    }

    // Signed in now: still no redirect.
    let good = AuthRequest::new(&fx.client);
    flow::browser_login(&browser, server, &good.url(server), USERNAME, PASSWORD).await?;
    for request in [&wrong_uri, &unknown_client] {
        assert_error_page(&browser.get(&request.url(server)).await?);
    }
    // The POST form of /authorize is checked the same way.
    let page = browser
        .post_params(&server.url("/authorize"), &wrong_uri.params())
        .await?;
    assert_error_page(&page);
    Ok(())
}

/// Public clients must send PKCE, and only S256 is accepted; both errors go back to the
/// (registered) redirect URI as `invalid_request`.
async fn pkce_is_enforced(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let public = fx
        .add_client(NewClient::public("congdan", "Cổng dịch vụ công"))
        .await?;
    let browser = Browser::new()?;

    let mut no_pkce = AuthRequest::new(&public);
    no_pkce.pkce = None;
    let cb = error_redirect(&browser, server, &no_pkce).await?;
    assert_eq!(cb.error().as_deref(), Some("invalid_request"), "{}", cb.url);

    for client in [&fx.client, &public] {
        let mut plain = AuthRequest::new(client);
        let verifier = Pkce::new().verifier;
        plain.pkce = Some(Pkce {
            challenge: verifier.clone(),
            verifier,
        });
        plain.code_challenge_method = "plain".into();
        let cb = error_redirect(&browser, server, &plain).await?;
        assert_eq!(cb.error().as_deref(), Some("invalid_request"), "{}", cb.url);
    }
    Ok(())
}

/// A 400 HTML page with no `Location` at all.
fn assert_error_page(page: &Page) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(page.header("location"), None, "{page}");
    let content_type = page.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "content-type {content_type:?}: {page}"
    );
}

/// `GET /authorize` that must bounce straight back with an error, `state` and no code.
async fn error_redirect(
    browser: &Browser,
    server: &TestServer,
    request: &AuthRequest,
) -> anyhow::Result<Callback> {
    let page = browser.get(&request.url(server)).await?;
    let location = page.see_other()?;
    assert!(at_redirect_uri(&location, &request.redirect_uri), "{page}");
    let cb = Callback { url: location };
    assert_eq!(
        cb.state().as_deref(),
        Some(request.state.as_str()),
        "{page}"
    );
    assert_eq!(cb.param("code"), None, "{page}");
    // RFC 9207 §2: `iss` accompanies error responses too.
    assert_eq!(cb.param("iss").as_deref(), Some(server.issuer()), "{page}");
    Ok(cb)
}
