//! Native apps (RFC 8252): the SDK as a public client that listens on a loopback port the
//! system picked, registered without a port (§7.3); `localhost` gets no such latitude.

use anyhow::{Context, ensure};
use axum::extract::RawQuery;
use axum::routing::get;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, NewClient, RegisteredClient, flow};
use tessera_sdk::AuthOptions;
use tokio::sync::mpsc;

scenarios!(native_app_on_any_loopback_port);

async fn native_app_on_any_loopback_port(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let registered = fx
        .add_client(NewClient {
            redirect_uri: "http://127.0.0.1/native/cb".into(),
            ..NewClient::public("dichvucong-app", "Ứng dụng Dịch vụ công")
        })
        .await?;

    // The app's own loopback listener on a port the system gives it, as a desktop app does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (tx, mut rx) = mpsc::channel::<String>(1);
    let app = axum::Router::new().route(
        "/native/cb",
        get(move |RawQuery(q): RawQuery| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(q.unwrap_or_default()).await;
                "Đăng nhập xong, quay lại ứng dụng."
            }
        }),
    );
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = RegisteredClient {
        redirect_uri: format!("http://127.0.0.1:{port}/native/cb"),
        ..registered.clone()
    };
    ensure!(
        client.client_secret.is_none(),
        "a public client has no secret"
    );
    let rp = flow::relying_party(&fx.server, &client).await?;
    let (url, pending) = rp.authorization_url(&["profile"], &AuthOptions::default());
    ensure!(
        url.query_pairs().any(|(k, _)| k == "code_challenge"),
        "the SDK sends PKCE: {url}"
    );
    let browser = fx.browser()?;
    let login = flow::open_login_page(&browser, &url).await?;
    let form = login.login_form()?;
    let back = browser
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?
        .see_other()?;
    ensure!(back.port() == Some(port), "redirected to {back}");
    // The system browser follows the redirect to the app's listener.
    let landed = browser.get(&back).await?;
    assert_eq!(landed.status, StatusCode::OK, "{landed}");
    let query = rx.recv().await.context("the app heard no callback")?;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(&query)?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("no {k} in {query}"))
    };
    let result = rp
        .exchange_code(&pending, &get("code")?, &get("state")?)
        .await?;
    assert_eq!(result.subject, fx.user_id);

    // Without PKCE a public client is refused, at any port.
    let no_pkce = fx.server.url(&format!(
        "/authorize?response_type=code&client_id=dichvucong-app&scope=openid&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fnative%2Fcb"
    ));
    let refused = flow::authorize_silently(&browser, &no_pkce).await?;
    assert_eq!(refused.error().as_deref(), Some("invalid_request"));

    // `localhost` (RFC 8252 §8.3) and another path are not the registered loopback URI.
    for redirect in [
        format!("http%3A%2F%2Flocalhost%3A{port}%2Fnative%2Fcb"),
        format!("http%3A%2F%2F127.0.0.1%3A{port}%2Fother"),
    ] {
        let url = fx.server.url(&format!(
            "/authorize?response_type=code&client_id=dichvucong-app&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri={redirect}"
        ));
        let page = browser.get(&url).await?;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{redirect}: {page}");
        assert!(page.location().is_none(), "{page}");
    }
    serving.abort();
    Ok(())
}
