//! The back-channel logout endpoint on its own, for applications that keep their own sessions.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::{BackchannelLogout, SdkError};

/// A router answering `POST path` with [`backchannel_logout`]; merge it into the
/// application's router.
pub fn backchannel_logout_router<S>(receiver: Arc<BackchannelLogout>, path: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(path, post(backchannel_logout))
        .with_state(receiver)
}

/// The handler for the registered `backchannel_logout_uri` (Back-Channel Logout 1.0 §2.8):
/// 200 once the application ended its sessions, 400 with an OAuth error body otherwise, never
/// cached.
pub async fn backchannel_logout(
    State(receiver): State<Arc<BackchannelLogout>>,
    body: Bytes,
) -> Response {
    let mut resp = match receiver.receive_form(&body).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            let description = match &e {
                SdkError::LogoutFailed(_) => "logout failed".to_owned(),
                other => other.to_string(),
            };
            let body = serde_json::json!({
                "error": "invalid_request",
                "error_description": description,
            });
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
