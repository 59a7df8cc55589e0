//! Prometheus metrics, served on their own listener (`TESSERA_METRICS_ADDR`) so that they are
//! never exposed with the public endpoints.
//!
//! Values are recorded through the `metrics` facade, a no-op until [`install`] sets the
//! recorder: the HSM backend (operation latency, failures, recovery steps, session pool), the
//! audit writer (group-commit batch sizes and flush latency) and this module — the HTTP
//! middleware ([`track`]), the audit observer (logins, grants, second factors, outbox
//! failures) and a sampler of gauges (outbox depth, database pool, certificate expiry).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tessera_core::Provider;
use tessera_core::provider::AuditObserver;
use tessera_store::audit::AuditEvent;
use tokio::net::TcpListener;

/// Latency buckets in seconds: from a cached JWKS answer to a slow HSM.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Audit group-commit batch sizes (the writer takes up to 256 at once).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Installs the Prometheus recorder for the whole process and describes every family.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("tessera_audit_batch_size".into()),
            &BATCH_BUCKETS,
        )?
        .install_recorder()?;
    describe();
    Ok(handle)
}

fn describe() {
    describe_counter!(
        "tessera_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "tessera_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template and method"
    );
    describe_counter!(
        "tessera_grants_total",
        "Tokens issued at the token endpoint, by grant type"
    );
    describe_counter!(
        "tessera_logins_total",
        "Password logins, by result (success, failure, throttled, disabled)"
    );
    describe_counter!(
        "tessera_second_factors_total",
        "Second factors proved or refused, by factor and result"
    );
    describe_counter!(
        "tessera_audit_events_total",
        "Audit events recorded by this replica, by event name"
    );
    describe_counter!(
        "tessera_outbox_failures_total",
        "Failed or abandoned deliveries, by outbox (backchannel, webhook) and kind"
    );
    describe_gauge!(
        "tessera_outbox_depth",
        "Deliveries waiting in an outbox (all replicas), by outbox"
    );
    describe_gauge!(
        "tessera_outbox_failing",
        "Waiting deliveries that failed at least once, by outbox"
    );
    describe_gauge!(
        "tessera_db_pool_connections",
        "Database connections of this replica, by state (open, idle)"
    );
    describe_gauge!(
        "tessera_certificate_expiry_days",
        "Days until the nearest expiry, by kind (ca, credential)"
    );
    describe_counter!(
        "tessera_signatures_total",
        "Signatures made by the key custodian, by key purpose and backend"
    );
    describe_counter!(
        "tessera_signature_failures_total",
        "Signatures the key custodian failed to make, by key purpose and backend"
    );
    describe_histogram!(
        "tessera_hsm_operation_duration_seconds",
        "PKCS#11 signing latency, by mechanism"
    );
    describe_counter!(
        "tessera_hsm_operation_failures_total",
        "PKCS#11 signatures that failed, by mechanism"
    );
    describe_counter!(
        "tessera_hsm_recoveries_total",
        "HSM recovery steps taken (find_key, new_session, login, reinitialize)"
    );
    describe_gauge!(
        "tessera_hsm_up",
        "1 while the HSM is usable, 0 during an outage"
    );
    describe_gauge!("tessera_hsm_sessions_open", "PKCS#11 sessions open");
    describe_gauge!("tessera_hsm_sessions_busy", "PKCS#11 sessions signing now");
    describe_histogram!(
        "tessera_audit_batch_size",
        "Audit entries committed per group commit"
    );
    describe_histogram!(
        "tessera_audit_flush_duration_seconds",
        "Time to commit one audit batch (the audit chain's flush latency)"
    );
}

/// Serves `GET /metrics` on `listener` until the process ends, and keeps the histograms
/// trimmed. The gauges read from the database are read at each scrape.
pub fn serve(listener: TcpListener, handle: PrometheusHandle, provider: Provider) {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state((handle, provider));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
}

/// Binds the metrics listener (before serving, so that a wrong address stops the start).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    use anyhow::Context;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on TESSERA_METRICS_ADDR {addr}"))
}

async fn render(State((handle, provider)): State<(PrometheusHandle, Provider)>) -> Response {
    sample(&provider).await;
    let mut resp = handle.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// Middleware: counts each answer by route template (never the raw path, so that the label
/// set stays small) and records its latency.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    histogram!("tessera_http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    counter!("tessera_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    resp
}

/// Derives the security counters from the audit events, which already name every login,
/// grant and factor: the domain code records nothing twice.
#[derive(Debug)]
pub struct AuditCounters;

impl AuditObserver for AuditCounters {
    fn recorded(&self, e: &AuditEvent) {
        counter!("tessera_audit_events_total", "event" => e.event.clone()).increment(1);
        let detail = |key: &str| e.detail.get(key).and_then(|v| v.as_str());
        match e.event.as_str() {
            "login.success" => counter!("tessera_logins_total", "result" => "success").increment(1),
            "login.failure" => counter!("tessera_logins_total", "result" => "failure").increment(1),
            "login.throttled" => {
                counter!("tessera_logins_total", "result" => "throttled").increment(1)
            }
            "login.disabled" => {
                counter!("tessera_logins_total", "result" => "disabled").increment(1)
            }
            "token.issued" => {
                let grant = match detail("grant_type") {
                    Some("authorization_code") => "authorization_code",
                    Some("refresh_token") => "refresh_token",
                    Some("client_credentials") => "client_credentials",
                    _ => "other",
                };
                counter!("tessera_grants_total", "grant_type" => grant).increment(1);
            }
            "mfa.failure" | "mfa.locked" => {
                let factor = factor_label(detail("factor"));
                counter!("tessera_second_factors_total", "factor" => factor, "result" => "failure")
                    .increment(1);
            }
            "backchannel.failed" | "backchannel.abandoned" | "backchannel.not_allowed" => {
                let kind = e.event.trim_start_matches("backchannel.").to_owned();
                counter!("tessera_outbox_failures_total", "outbox" => "backchannel", "kind" => kind)
                    .increment(1);
            }
            "signing.webhook.failed" | "signing.webhook.abandoned" => {
                let kind = e.event.trim_start_matches("signing.webhook.").to_owned();
                counter!("tessera_outbox_failures_total", "outbox" => "webhook", "kind" => kind)
                    .increment(1);
            }
            _ => {}
        }
        // A sign-in or step-up completed by a second factor names it.
        if matches!(e.event.as_str(), "login.success" | "mfa.step_up")
            && let Some(factor) = detail("factor")
        {
            let factor = factor_label(Some(factor));
            counter!("tessera_second_factors_total", "factor" => factor, "result" => "success")
                .increment(1);
        }
    }
}

/// Factor names as labels: the known ones, anything else as `other` (labels stay few).
fn factor_label(factor: Option<&str>) -> &'static str {
    match factor {
        Some("totp") => "totp",
        Some("passkey") => "passkey",
        Some("otp_token") => "otp_token",
        Some("recovery_code") => "recovery_code",
        _ => "other",
    }
}

/// Reads the gauges that live in the database (all replicas) and in the pool.
async fn sample(p: &Provider) {
    let (open, idle) = tessera_core::operations::database_pool(p);
    gauge!("tessera_db_pool_connections", "state" => "open").set(f64::from(open));
    gauge!("tessera_db_pool_connections", "state" => "idle").set(idle as f64);
    let figures = match tessera_core::operations::figures(p).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the figures for the metrics");
            return;
        }
    };
    gauge!("tessera_outbox_depth", "outbox" => "backchannel")
        .set(figures.backchannel_pending as f64);
    gauge!("tessera_outbox_depth", "outbox" => "webhook").set(figures.webhook_pending as f64);
    gauge!("tessera_outbox_failing", "outbox" => "backchannel")
        .set(figures.backchannel_failing as f64);
    gauge!("tessera_outbox_failing", "outbox" => "webhook").set(figures.webhook_failing as f64);
    let now = crate::clock::now();
    for (kind, not_after) in [
        ("ca", figures.ca_not_after),
        ("credential", figures.credential_not_after),
    ] {
        if let Some(t) = not_after {
            gauge!("tessera_certificate_expiry_days", "kind" => kind)
                .set(((t - now) as f64 / 86_400.0).floor());
        }
    }
}

/// The audit observer to hand the provider.
pub fn observer() -> Arc<dyn AuditObserver> {
    Arc::new(AuditCounters)
}
