//! Tessera's own time-stamping authority over HTTP (RFC 3161 §3.4): `POST /tsa` with an
//! `application/timestamp-query` body, answered with an `application/timestamp-reply`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::signing::tsa;

use super::AppState;
use super::errors::json_no_store;
use super::extract::Now;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/tsa",
        axum::routing::post(tsa_post).layer(DefaultBodyLimit::max(tsa::MAX_REQUEST_BYTES)),
    )
}

/// `POST /tsa`: every well-formed HTTP request gets a `TimeStampResp` (granted, or a
/// rejection with the RFC's failure info); only a wrong media type is refused at the HTTP level.
async fn tsa_post(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(tsa::QUERY_MEDIA_TYPE))
    {
        return json_no_store(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the time-stamp request as application/timestamp-query",
        );
    }
    let der = tsa::respond(&s.provider, &body, now).await;
    let mut resp = (StatusCode::OK, der).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(tsa::REPLY_MEDIA_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
