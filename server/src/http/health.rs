//! `GET /health/live` and `GET /health/ready` for load balancers and orchestrators. Ready
//! means this replica can serve: the database answers, its schema is current and the key
//! custodian makes a test signature, and it is not shutting down (see `app::serve`). The
//! answer names only which check failed; the cause goes to the log.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tessera_core::operations;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The process answers HTTP.
async fn live() -> Response {
    no_store(StatusCode::OK, json!({ "status": "live" }))
}

async fn ready(State(s): State<AppState>) -> Response {
    if s.draining.load(std::sync::atomic::Ordering::Relaxed) {
        // Shutting down: still serving, but take no new traffic here.
        return super::errors::retry_later(no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "draining" }),
        ));
    }
    let r = operations::readiness(&s.provider).await;
    let mut checks = serde_json::Map::new();
    for (name, result) in [
        ("database", &r.database),
        ("migrations", &r.migrations),
        ("hsm", &r.custody),
    ] {
        let verdict = match result {
            Ok(()) => "ok",
            Err(cause) => {
                tracing::warn!(check = name, error = %cause, "not ready");
                "failing"
            }
        };
        checks.insert(name.to_owned(), verdict.into());
    }
    if r.is_ready() {
        no_store(
            StatusCode::OK,
            json!({ "status": "ready", "checks": checks }),
        )
    } else {
        super::errors::retry_later(no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not_ready", "checks": checks }),
        ))
    }
}
