//! The kit's answers to people: redirects that are never cached, and a short bilingual page
//! (Vietnamese first, English below) when a login cannot go on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// `303 See Other` to `location`, not cached (it may carry a fresh `state`).
pub(super) fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    no_store(resp)
}

pub(super) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A page explaining what went wrong, in both languages, with a link to try again.
pub(super) fn problem(status: StatusCode, vi: &str, en: &str, retry: Option<&str>) -> Response {
    let link = retry
        .map(|href| {
            format!(
                "<p><a href=\"{}\">Đăng nhập lại</a> · <a href=\"{0}\" lang=\"en\">Sign in again</a></p>",
                escape(href)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{vi_t}</title></head><body><main><h1>{vi_t}</h1>\
         <p lang=\"en\">{en_t}</p>{link}</main></body></html>",
        vi_t = escape(vi),
        en_t = escape(en),
    );
    no_store((status, Html(body)).into_response())
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
