//! The SDK's back-channel logout receiver (axum feature) fed by the real provider.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, LogoutReceiver, NewClient, ServerOptions, flow, oauth};
use tessera_sdk::axum::backchannel_logout_router;
use tessera_sdk::{AuthOptions, BackchannelLogout, LogoutEvent};

scenarios!(sdk_receiver_ends_local_sessions);

type Events = Arc<Mutex<Vec<LogoutEvent>>>;

/// A receiver for `client` that records the events it accepts.
async fn receiver(
    fx: &Fixture,
    client: &tessera_e2e::RegisteredClient,
) -> anyhow::Result<(Arc<BackchannelLogout>, Events)> {
    let rp = Arc::new(flow::relying_party(&fx.server, client).await?);
    let events: Events = Arc::default();
    let seen = events.clone();
    let receiver = BackchannelLogout::new(rp, move |e: LogoutEvent| {
        let seen = seen.clone();
        async move {
            seen.lock().map_err(|e| e.to_string())?.push(e);
            Ok(())
        }
    });
    Ok((Arc::new(receiver), events))
}

async fn wait(events: &Events, n: usize) -> anyhow::Result<Vec<LogoutEvent>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = events.lock().map(|e| e.clone()).unwrap_or_default();
        if got.len() >= n {
            return Ok(got);
        }
        if Instant::now() > deadline {
            bail!("the SDK receiver got {got:?}, expected {n} event(s)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sdk_receiver_ends_local_sessions(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    // The application's HTTP server, with the SDK's handler at two paths.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app_base = format!("http://{}", listener.local_addr()?);
    let raw = LogoutReceiver::start().await?;
    // `hoso` is told through the raw receiver (so its token can be replayed by hand);
    // `motcua` straight through the SDK.
    let hoso = fx
        .add_client(
            NewClient::confidential("hoso", "Hồ sơ").backchannel_logout_uri(&raw.url("/bcl")),
        )
        .await?;
    let motcua = fx
        .add_client(
            NewClient::confidential("motcua", "Một cửa")
                .backchannel_logout_uri(&format!("{app_base}/motcua/bcl")),
        )
        .await?;
    let (hoso_rx, hoso_events) = receiver(&fx, &hoso).await?;
    let (motcua_rx, motcua_events) = receiver(&fx, &motcua).await?;
    let app = backchannel_logout_router(hoso_rx, "/hoso/bcl")
        .merge(backchannel_logout_router(motcua_rx, "/motcua/bcl"));
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });

    let browser = fx.browser()?;
    let hoso_rp = flow::relying_party(&fx.server, &hoso).await?;
    let login = flow::sdk_login(&browser, &fx.server, &hoso_rp, &[], USERNAME, PASSWORD).await?;
    let motcua_rp = flow::relying_party(&fx.server, &motcua).await?;
    let (url, pending) = motcua_rp.authorization_url(&[], &AuthOptions::default());
    let cb = flow::authorize_silently(&browser, &url).await?;
    motcua_rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;

    let page = browser
        .get(&hoso_rp.end_session_url(&login.id_token, None, None)?)
        .await?;
    assert_eq!(page.status, StatusCode::OK, "{page}");

    // Delivered by the provider to the SDK: the application learns sid and sub.
    let got = wait(&motcua_events, 1).await?;
    assert_eq!(got[0].sid, login.claims.sid);
    assert_eq!(got[0].sub.as_deref(), Some(login.subject.as_str()));
    fx.server
        .wait_for_audit("backchannel.delivered", 2, Duration::from_secs(20))
        .await?;

    // hoso's token, posted by hand: accepted once, then refused as a replay.
    let token = raw.wait_for(1, Duration::from_secs(20)).await?[0]
        .logout_token
        .clone()
        .context("no logout_token")?;
    let http = oauth::rp_http()?;
    let post = |path: &str, token: &str| {
        http.post(format!("{app_base}{path}"))
            .form(&[("logout_token", token)])
            .send()
    };
    let first = post("/hoso/bcl", &token).await?;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "no-store");
    assert_eq!(wait(&hoso_events, 1).await?[0].sid, login.claims.sid);
    let replay = post("/hoso/bcl", &token).await?;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = replay.json().await?;
    assert_eq!(body["error"], "invalid_request", "{body}");
    // Not for motcua; an ID token is not a logout token; a forged one fails.
    for (path, bad) in [
        ("/motcua/bcl", token.clone()),
        ("/hoso/bcl", login.id_token.clone()),
        ("/hoso/bcl", format!("{token}A")),
    ] {
        let r = post(path, &bad).await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    assert_eq!(hoso_events.lock().map(|e| e.len()).unwrap_or(0), 1);
    assert_eq!(motcua_events.lock().map(|e| e.len()).unwrap_or(0), 1);
    serving.abort();
    Ok(())
}
