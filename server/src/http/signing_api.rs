//! The signing-requests API for applications (`/api/signing/requests`): submit, read, fetch
//! results, cancel. Each handler checks the bearer token and calls one core function
//! (`tessera_core::signing::remote`); errors are JSON `{"error", "error_description"}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tessera_core::signing::remote::auth::{ApiCaller, api_caller};
use tessera_core::signing::remote::submit::{self, Purpose};
use tessera_core::signing::remote::{RemoteConfig, RemoteError, RequestView};
use tessera_proto::signing::{
    DocumentState, NewSigningRequest, SigningRequestCreated, SigningRequestState,
};

use super::AppState;
use super::extract::{Bearer, Meta, Now};

/// Largest body: every document at its limit, in base64 (4/3), plus the JSON around them.
pub fn max_body(c: &RemoteConfig) -> usize {
    c.max_request_bytes / 3 * 4 + 1024 * 1024
}

pub fn routes(config: &RemoteConfig) -> Router<AppState> {
    Router::new()
        .route("/api/signing/requests", post(create))
        .route("/api/signing/requests/{id}", get(read))
        .route("/api/signing/requests/{id}/documents/{n}", get(document))
        .route("/api/signing/requests/{id}/cancel", post(cancel))
        .layer(DefaultBodyLimit::max(max_body(config)))
}

/// The JSON error answer for `e`.
pub fn error(e: RemoteError) -> Response {
    let (status, code) = match &e {
        RemoteError::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
        RemoteError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
        RemoteError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        RemoteError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
        RemoteError::Forbidden(_) | RemoteError::Sad(_) => (StatusCode::FORBIDDEN, "access_denied"),
        RemoteError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        RemoteError::WrongState(_) => (StatusCode::CONFLICT, "invalid_state"),
        RemoteError::Unusable(_) => (StatusCode::CONFLICT, "credential_unusable"),
        RemoteError::Internal(c) if c.is_unavailable() => {
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        RemoteError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    let description = match &e {
        RemoteError::Internal(cause) => {
            super::errors::log_internal("signing request failed", cause);
            if cause.is_unavailable() {
                tessera_core::error::UNAVAILABLE.to_owned()
            } else {
                "internal error".to_owned()
            }
        }
        other => other.to_string(),
    };
    let mut r = (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = HeaderValue::from_str(&format!(
            "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "")
        ))
    {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r = super::errors::retry_later(r);
    }
    r
}

async fn caller(s: &AppState, headers: &HeaderMap, now: i64) -> Result<ApiCaller, RemoteError> {
    let Bearer(token) = Bearer::from_headers(headers).map_err(|_| {
        RemoteError::InvalidToken("an access token is required (Authorization: Bearer)".into())
    })?;
    api_caller(&s.provider, &token, now).await
}

/// The request as the API shows it.
pub fn state_of(s: &AppState, v: &RequestView) -> SigningRequestState {
    let issuer = &s.provider.config.issuer;
    SigningRequestState {
        id: v.request.id.clone(),
        title: v.request.title.clone(),
        status: v.request.status.clone(),
        client_id: v.request.client_id.clone(),
        signer: v.signer.clone(),
        credential_id: v.request.credential_id.clone(),
        level: v.request.level.clone(),
        created_at: v.request.created_at,
        expires_at: v.request.expires_at,
        decided_at: v.request.decided_at,
        done: v.done() as u32,
        documents: v
            .documents
            .iter()
            .map(|d| DocumentState {
                index: d.idx as u32,
                name: d.name.clone(),
                kind: d.kind.clone(),
                sha256: d.sha256.clone(),
                status: d.status.clone(),
                error: d.error.clone(),
                result_url: d.has_result.then(|| {
                    format!(
                        "{issuer}/api/signing/requests/{}/documents/{}",
                        v.request.id, d.idx
                    )
                }),
                result_type: d.result_type.clone(),
            })
            .collect(),
    }
}

fn json_no_store(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn create(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let c = match caller(&s, &headers, now).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let limits = &s.provider.config.signing;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(RemoteError::TooLarge(format!(
                "the request is over the limit of {} bytes of documents",
                limits.max_request_bytes
            )));
        }
        Err(e) => return error(RemoteError::Invalid(e.body_text())),
    };
    let parsed: NewSigningRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(RemoteError::Invalid(format!(
                "the body is not a signing request: {e}"
            )));
        }
    };
    drop(body);
    match submit::submit(
        &s.provider,
        c.requester(),
        &parsed,
        Purpose::Sign,
        &meta,
        now,
    )
    .await
    {
        Ok(r) => {
            let approval_url = format!("{}/sign/requests/{}", s.provider.config.issuer, r.id);
            let location = format!("{}/api/signing/requests/{}", s.provider.config.issuer, r.id);
            let mut resp = json_no_store(
                StatusCode::CREATED,
                SigningRequestCreated {
                    id: r.id,
                    status: r.status,
                    approval_url,
                    expires_at: r.expires_at,
                },
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(e) => error(e),
    }
}

async fn read(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let c = match caller(&s, &headers, now).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    match submit::view(&s.provider, c.viewer(), &id).await {
        Ok(v) => json_no_store(StatusCode::OK, state_of(&s, &v)),
        Err(e) => error(e),
    }
}

async fn document(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
) -> Response {
    let c = match caller(&s, &headers, now).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let Ok(idx) = n.parse::<i64>() else {
        return error(RemoteError::NotFound(format!(
            "request {id} has no document {n:?}"
        )));
    };
    match submit::result(&s.provider, c.viewer(), &id, idx, now).await {
        Ok((bytes, media_type)) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&media_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => error(e),
    }
}

async fn cancel(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let c = match caller(&s, &headers, now).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    match submit::cancel(&s.provider, &c.client_id, &id, &meta, now).await {
        Ok(v) => json_no_store(StatusCode::OK, state_of(&s, &v)),
        Err(e) => error(e),
    }
}
