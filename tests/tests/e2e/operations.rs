//! What a data centre's operators use: `/health/live`, `/health/ready`, and `/metrics` in the
//! Prometheus text format on its own listener (`TESSERA_METRICS_ADDR`), never on the public one.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::lifecycle::{self, Auth, ServiceClient};
use tessera_e2e::{Backend, ServerOptions, TestServer, flow, oauth};
use tessera_sdk::AuthOptions;

scenarios!(health_and_metrics_families);

/// The metrics URL the server printed at start-up.
pub(crate) fn metrics_url(server: &TestServer) -> anyhow::Result<String> {
    let output = server.output();
    output
        .lines()
        .find_map(|l| l.split_once("Tessera metrics on ").map(|(_, u)| u.trim()))
        .map(str::to_owned)
        .with_context(|| format!("no metrics address printed: {output}"))
}

/// One scrape of `/metrics`, checked to be Prometheus text.
pub(crate) async fn scrape(server: &TestServer) -> anyhow::Result<String> {
    let resp = reqwest::get(metrics_url(server)?).await?;
    ensure!(resp.status() == StatusCode::OK, "{}", resp.status());
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    ensure!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Ok(resp.text().await?)
}

/// The value of the sample whose line starts with `prefix` (name and labels), if any.
pub(crate) fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

async fn health_and_metrics_families(backend: Backend) -> anyhow::Result<()> {
    let options = ServerOptions::default().env("TESSERA_METRICS_ADDR", "127.0.0.1:0");
    let fx = Fixture::start_with(backend, options).await?;
    let server = &fx.server;

    let live = oauth::get_json(server, "/health/live").await?;
    ensure!(live.status == StatusCode::OK, "{live}");
    let ready = oauth::get_json(server, "/health/ready").await?;
    ensure!(ready.status == StatusCode::OK, "{ready}");
    for check in ["database", "migrations", "hsm"] {
        ensure!(ready.json["checks"][check] == "ok", "{check}: {ready}");
    }
    // Never on the public listener.
    let public = reqwest::get(server.url("/metrics")).await?;
    ensure!(
        public.status() == StatusCode::NOT_FOUND,
        "{}",
        public.status()
    );

    // Traffic: a login and a code exchange, a wrong password, a service token.
    let browser = fx.browser()?;
    let rp = fx.rp().await?;
    flow::sdk_login(&browser, server, &rp, &[], USERNAME, PASSWORD).await?;
    let other = fx.browser()?;
    let (auth_url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let form = flow::open_login_page(&other, &auth_url)
        .await?
        .login_form()?;
    let wrong = other
        .submit_login(server, &form, USERNAME, "mat-khau-sai-roi")
        .await?;
    ensure!(wrong.status == StatusCode::UNAUTHORIZED, "{wrong}");
    let lgsp = ServiceClient::new("lgsp", "Nền tảng tích hợp LGSP", "lgsp.read")
        .register(server)
        .await?;
    let token = lifecycle::client_credentials(server, &Auth::basic(&lgsp)?, None).await?;
    ensure!(token.status == StatusCode::OK, "{token}");

    let text = scrape(server).await?;
    let at_least_one = [
        "tessera_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"}",
        "tessera_http_requests_total{route=\"/login\",method=\"POST\",status=\"401\"}",
        "tessera_http_request_duration_seconds_bucket{route=\"/token\",method=\"POST\",le=\"+Inf\"}",
        "tessera_grants_total{grant_type=\"authorization_code\"}",
        "tessera_grants_total{grant_type=\"client_credentials\"}",
        "tessera_logins_total{result=\"success\"}",
        "tessera_logins_total{result=\"failure\"}",
        "tessera_audit_events_total{event=\"token.issued\"}",
        "tessera_signatures_total{purpose=\"oidc\",backend=\"software\"}",
        "tessera_audit_batch_size_count",
        "tessera_audit_flush_duration_seconds_count",
        "tessera_db_pool_connections{state=\"open\"}",
    ];
    for prefix in at_least_one {
        let value = sample(&text, prefix).with_context(|| format!("{prefix} missing:\n{text}"))?;
        ensure!(value >= 1.0, "{prefix} is {value}");
    }
    for prefix in [
        "tessera_outbox_depth{outbox=\"backchannel\"}",
        "tessera_outbox_depth{outbox=\"webhook\"}",
        "tessera_outbox_failing{outbox=\"backchannel\"}",
    ] {
        let value = sample(&text, prefix).with_context(|| format!("{prefix} missing:\n{text}"))?;
        ensure!(value == 0.0, "{prefix} is {value}");
    }
    // Route templates, never raw paths (the label set stays small).
    ensure!(
        text.contains("route=\"unmatched\"") || !text.contains("route=\"/metrics\""),
        "{text}"
    );
    ensure!(
        text.contains("# TYPE tessera_http_request_duration_seconds histogram"),
        "{text}"
    );
    Ok(())
}
