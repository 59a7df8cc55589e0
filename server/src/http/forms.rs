//! Posted forms of the people-facing pages: parsing and the CSRF check every one of them passes
//! before anything else is looked at.

use axum::body::Bytes;
use axum::http::HeaderMap;

use super::{AppState, web};

pub(super) struct Form(Vec<(String, String)>);

impl Form {
    pub(super) fn parse(body: &Bytes) -> Option<Form> {
        serde_urlencoded::from_bytes(body).ok().map(Form)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty value.
    pub(super) fn value(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    pub(super) fn csrf_ok(&self, s: &AppState, headers: &HeaderMap) -> bool {
        csrf_ok(s, headers, self.get("csrf_token"))
    }
}

/// Double-submit check: the form's token must be the keyed hash of this browser's cookie.
pub(super) fn csrf_ok(s: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
    match (s.read_cookie(headers, web::CSRF_COOKIE), token) {
        (Some(cookie), Some(token)) => s.provider.keyed.verify_csrf(&cookie, token),
        _ => false,
    }
}

/// A pending-request handle as it may appear in a URL: base64url, bounded.
pub(super) fn valid_handle(req: &str) -> bool {
    !req.is_empty()
        && req.len() <= 64
        && req
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
