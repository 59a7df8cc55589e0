//! A request id on every log line of a request, returned as `X-Request-Id`.
//!
//! The load balancer's id is kept when it is well formed, so that one id follows a request
//! from HAProxy's log through Tessera's; anything else (too long, control characters, quotes
//! that could forge log fields) is replaced by a fresh random id. The span carries the method
//! and the path only: query strings hold authorization codes and state, never logged.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from outside (a UUID is 36, HAProxy's `%ID` formats are shorter).
const MAX_LEN: usize = 64;

/// An incoming id is kept only if it is 1–64 characters of `A-Z a-z 0-9 - _ . : @`.
pub fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
}

/// The request's id: the balancer's if well formed, else a fresh one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| well_formed(id))
        .map(str::to_owned)
        .unwrap_or_else(|| tessera_core::secrets::random_id().unwrap_or_default())
}

/// Middleware: runs the request inside a `request` span and answers its id.
pub async fn track(mut request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"));
    // Handlers and the proxy-facing code see the id that was kept, not a malformed one.
    request.headers_mut().insert(X_REQUEST_ID, value.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    // The access log, at debug level (the balancer keeps one already).
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        )
    });
    response.headers_mut().insert(X_REQUEST_ID, value);
    response
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn accepts_balancer_ids_and_refuses_forged_ones() {
        assert!(well_formed("7f000001:c1a2_0A1B2C3D_0001"));
        assert!(well_formed("3f2b9c1e-8d4a-4b6f-9e2d-1a2b3c4d5e6f"));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(65)));
        assert!(!well_formed("id\" level=\"error"));
        assert!(!well_formed("id\nforged line"));
        assert!(!well_formed("id with spaces"));
    }
}
