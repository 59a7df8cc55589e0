//! Signature validation over HTTP: `POST /api/verify` for programs (JSON report) and the
//! `/verify` page for people (a plain HTML form, no JavaScript needed). Both call
//! `tessera_core::verify::verify`; anyone may use them, as a signature's validity is public.
//!
//! `POST /api/verify` accepts: the PDF as the raw body (`application/pdf`); `multipart/form-data`
//! with `file` (a PDF) or `signature` + `content` (a detached CMS and what it signs); or JSON
//! `{"pdf": b64}` / `{"signature": b64, "content": b64}` (standard base64). Bad input gets an
//! OAuth-style error body (`invalid_request`, RFC 6749 §5.2 shape).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use tessera_core::verify::{Input, Trust, VerifyError, verify};

use super::errors::page;
use super::extract::Now;
use super::forms::csrf_ok;
use super::web::{csrf_cookie, with_cookies};
use super::{AppState, web};
use crate::pages::Lang;
use crate::pages::verify::{VerifyView, result, text};

/// Largest document accepted (the page says 32 MB).
pub const MAX_VERIFY_BYTES: usize = 32 * 1024 * 1024;
/// Room for the multipart framing and the other fields.
const BODY_SLACK: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/verify", get(show).post(submit))
        .route("/api/verify", post(api))
        .layer(DefaultBodyLimit::max(MAX_VERIFY_BYTES + BODY_SLACK))
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn render(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    error: Option<&'static str>,
    res: Option<crate::pages::verify::ResultView>,
    extra_cookies: Vec<String>,
) -> Response {
    let (csrf, set) = csrf_cookie(s, headers);
    let html = s.pages.verify(
        lang,
        "/verify",
        &VerifyView {
            csrf_token: &s.provider.keyed.csrf_token(&csrf),
            error,
            result: res,
        },
    );
    let mut cookies: Vec<String> = set.into_iter().collect();
    cookies.extend(extra_cookies);
    with_cookies(page(status, html), &cookies)
}

async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let (lang, set_lang) = web::language(&headers, q.lang.as_deref());
    let extra = if set_lang {
        vec![web::lang_cookie(lang)]
    } else {
        Vec::new()
    };
    render(&s, &headers, lang, StatusCode::OK, None, None, extra)
}

/// One uploaded file: its name and bytes.
struct Upload {
    name: String,
    bytes: Bytes,
}

enum ReadError {
    TooLarge,
    Malformed(String),
}

/// Reads every field of a multipart body: text fields and files, by field name.
async fn read_multipart(mut m: Multipart) -> Result<Vec<(String, Upload)>, ReadError> {
    let mut out = Vec::new();
    loop {
        let field = match m.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ReadError::TooLarge);
            }
            Err(e) => return Err(ReadError::Malformed(e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().unwrap_or_default().to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ReadError::TooLarge);
            }
            Err(e) => return Err(ReadError::Malformed(e.body_text())),
        };
        if bytes.len() > MAX_VERIFY_BYTES {
            return Err(ReadError::TooLarge);
        }
        out.push((
            name,
            Upload {
                name: file_name,
                bytes,
            },
        ));
    }
    Ok(out)
}

fn field<'a>(fields: &'a [(String, Upload)], name: &str) -> Option<&'a Upload> {
    fields.iter().find(|(n, _)| n == name).map(|(_, u)| u)
}

async fn submit(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let t = text(lang);
    let fields = match Multipart::from_request(req, &s).await {
        Ok(m) => read_multipart(m).await,
        Err(e) => Err(ReadError::Malformed(e.body_text())),
    };
    let fields = match fields {
        Ok(f) => f,
        Err(ReadError::TooLarge) => {
            return render(
                &s,
                &headers,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(t.too_large),
                None,
                Vec::new(),
            );
        }
        Err(ReadError::Malformed(_)) => {
            return super::errors::error_page(
                &s,
                lang,
                "/verify",
                crate::pages::ErrorKind::BadRequest,
                None,
            );
        }
    };
    let token = field(&fields, "csrf_token").and_then(|u| std::str::from_utf8(&u.bytes).ok());
    if !csrf_ok(&s, &headers, token) {
        return super::errors::error_page(
            &s,
            lang,
            "/verify",
            crate::pages::ErrorKind::CsrfFailed,
            None,
        );
    }
    let Some(file) = field(&fields, "file").filter(|u| !u.bytes.is_empty()) else {
        return render(
            &s,
            &headers,
            lang,
            StatusCode::BAD_REQUEST,
            Some(t.no_file),
            None,
            Vec::new(),
        );
    };
    match verify(&s.provider, Input::Pdf(&file.bytes), &Trust::default(), now).await {
        Ok(v) => {
            let name = if file.name.is_empty() {
                "document.pdf"
            } else {
                file.name.as_str()
            };
            render(
                &s,
                &headers,
                lang,
                StatusCode::OK,
                None,
                Some(result(lang, name, &v)),
                Vec::new(),
            )
        }
        Err(VerifyError::BadInput(_)) => render(
            &s,
            &headers,
            lang,
            StatusCode::BAD_REQUEST,
            Some(t.bad_file),
            None,
            Vec::new(),
        ),
        Err(e) => super::errors::internal_page(&s, lang, "/verify", "verification failed", e),
    }
}

fn api_error(status: StatusCode, description: &str) -> Response {
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "temporarily_unavailable"
    } else if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request"
    };
    let mut r = (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

#[derive(Deserialize)]
struct JsonInput {
    pdf: Option<String>,
    signature: Option<String>,
    content: Option<String>,
}

enum Owned {
    Pdf(Bytes),
    Detached(Bytes, Bytes),
}

/// Seconds a client is asked to wait when every verification permit is taken.
const BUSY_RETRY_AFTER_SECS: u32 = 5;

async fn api(State(s): State<AppState>, Now(now): Now, req: Request) -> Response {
    // Before reading the body: a saturated server should not buffer 32 MB it will not verify.
    let Ok(_permit) = s.verify_permits.clone().try_acquire_owned() else {
        let mut r = api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many verifications are running; try again shortly",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from(BUSY_RETRY_AFTER_SECS),
        );
        return r;
    };
    let too_large = || {
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the document is larger than {} MiB",
                MAX_VERIFY_BYTES / 1024 / 1024
            ),
        )
    };
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = ctype.split(';').next().unwrap_or("").trim().to_owned();
    let input = match mime.as_str() {
        "application/pdf" | "application/octet-stream" => {
            match Bytes::from_request(req, &s).await {
                Ok(b) => Owned::Pdf(b),
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
                Err(e) => return api_error(StatusCode::BAD_REQUEST, &e.body_text()),
            }
        }
        "multipart/form-data" => {
            let fields = match Multipart::from_request(req, &s).await {
                Ok(m) => read_multipart(m).await,
                Err(e) => Err(ReadError::Malformed(e.body_text())),
            };
            let fields = match fields {
                Ok(f) => f,
                Err(ReadError::TooLarge) => return too_large(),
                Err(ReadError::Malformed(m)) => {
                    return api_error(StatusCode::BAD_REQUEST, &format!("bad multipart body: {m}"));
                }
            };
            match (
                field(&fields, "file"),
                field(&fields, "signature"),
                field(&fields, "content"),
            ) {
                (Some(f), None, None) => Owned::Pdf(f.bytes.clone()),
                (None, Some(sig), Some(c)) => Owned::Detached(sig.bytes.clone(), c.bytes.clone()),
                _ => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        "send either a field `file` (a PDF) or the fields `signature` and `content`",
                    );
                }
            }
        }
        "application/json" => {
            let body = match Bytes::from_request(req, &s).await {
                Ok(b) => b,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
                Err(e) => return api_error(StatusCode::BAD_REQUEST, &e.body_text()),
            };
            let Ok(j) = serde_json::from_slice::<JsonInput>(&body) else {
                return api_error(StatusCode::BAD_REQUEST, "the body is not the JSON expected");
            };
            let b64 = |v: &str| base64::engine::general_purpose::STANDARD.decode(v.trim());
            match (j.pdf, j.signature, j.content) {
                (Some(p), None, None) => match b64(&p) {
                    Ok(p) => Owned::Pdf(p.into()),
                    Err(_) => return api_error(StatusCode::BAD_REQUEST, "`pdf` is not base64"),
                },
                (None, Some(sig), Some(c)) => match (b64(&sig), b64(&c)) {
                    (Ok(sig), Ok(c)) => Owned::Detached(sig.into(), c.into()),
                    _ => {
                        return api_error(
                            StatusCode::BAD_REQUEST,
                            "`signature` and `content` must be base64",
                        );
                    }
                },
                _ => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        "send either `pdf` or both `signature` and `content`",
                    );
                }
            }
        }
        _ => {
            return api_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send application/pdf, multipart/form-data or application/json",
            );
        }
    };
    let input = match &input {
        Owned::Pdf(p) if p.is_empty() => {
            return api_error(StatusCode::BAD_REQUEST, "the document is empty");
        }
        Owned::Pdf(p) => Input::Pdf(p),
        Owned::Detached(sig, c) => Input::Detached {
            cms: sig,
            content: c,
        },
    };
    match verify(&s.provider, input, &Trust::default(), now).await {
        Ok(v) => {
            let mut r = axum::Json(v).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(VerifyError::BadInput(m)) => api_error(StatusCode::BAD_REQUEST, &m),
        Err(e) => {
            tracing::error!(error = %e, "verification failed");
            api_error(StatusCode::INTERNAL_SERVER_ERROR, "verification failed")
        }
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
