//! Revocation publication: CRLs (RFC 5280 §5), CA certificates for AIA caIssuers
//! (RFC 5280 §4.2.2.1), and the OCSP responder over HTTP (RFC 6960 Appendix A: GET with the
//! base64 request in the path, POST with `application/ocsp-request`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use tessera_core::pki::{crl, ocsp};

use super::AppState;
use super::errors::{json_no_store, pki_error};
use super::extract::Now;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pki/crl/{file}", get(crl_endpoint))
        .route("/pki/ca/{file}", get(ca_cert))
        .route("/pki/ocsp", axum::routing::post(ocsp_post))
        .route("/pki/ocsp/{*request}", get(ocsp_get))
}

fn binary(content_type: &'static str, cache: &'static str, body: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// `<ca>.<ext>` → `<ca>`, for CA ids of letters, digits and `-`.
fn ca_id<'a>(file: &'a str, ext: &str) -> Option<&'a str> {
    file.strip_suffix(ext)
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `GET /pki/crl/<ca>.crl`: the CA's current CRL, DER.
async fn crl_endpoint(
    State(s): State<AppState>,
    Now(now): Now,
    Path(file): Path<String>,
) -> Response {
    let Some(id) = ca_id(&file, ".crl") else {
        return json_no_store(StatusCode::NOT_FOUND, "no such CRL");
    };
    match crl::current_crl(&s.provider, id, now).await {
        Ok(der) => binary("application/pkix-crl", "public, max-age=300", der),
        Err(e) => pki_error(e),
    }
}

/// `GET /pki/ca/<ca>.crt`: the CA's certificate, DER.
async fn ca_cert(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(id) = ca_id(&file, ".crt") else {
        return json_no_store(StatusCode::NOT_FOUND, "no such CA certificate");
    };
    match tessera_core::pki::ca::find_ca(&s.provider, id).await {
        Ok(Some(ca)) => binary("application/pkix-cert", "public, max-age=3600", ca.cert_der),
        Ok(None) => json_no_store(StatusCode::NOT_FOUND, &format!("CA {id} not found")),
        Err(e) => pki_error(e),
    }
}

fn ocsp_response(der: Vec<u8>) -> Response {
    // Responses may carry the client's nonce: never served from a cache.
    binary("application/ocsp-response", "no-store", der)
}

/// `POST /pki/ocsp` with a DER `OCSPRequest`.
async fn ocsp_post(
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
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ocsp-request"))
    {
        return json_no_store(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the OCSP request as application/ocsp-request",
        );
    }
    ocsp_response(ocsp::respond(&s.provider, &body, now).await)
}

/// `GET /pki/ocsp/<base64 of the DER OCSPRequest>` (URL-encoded; RFC 6960 Appendix A.1).
async fn ocsp_get(
    State(s): State<AppState>,
    Now(now): Now,
    Path(request): Path<String>,
) -> Response {
    let text = request.trim_start_matches('/');
    let der = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .unwrap_or_default();
    ocsp_response(ocsp::respond(&s.provider, &der, now).await)
}
