//! Posted forms of the people-facing pages: parsing and the CSRF check every one of them passes
//! before anything else is looked at.

use axum::body::Bytes;
use axum::http::HeaderMap;

pub(super) use super::web::valid_handle;
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
/// What the browser says about where the post comes from must agree: `Sec-Fetch-Site`, when
/// sent, is `same-origin`, and `Origin`, when sent and not `null` (our `no-referrer` policy
/// makes browsers send `null`), is the provider's own. So a sibling host that planted a cookie
/// on a plain-http deployment still cannot post.
pub(super) fn csrf_ok(s: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return false;
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN)
        && origin.as_bytes() != b"null"
        && !same_origin(origin.as_bytes(), &s.provider.config.issuer)
    {
        return false;
    }
    match (s.read_cookie(headers, web::CSRF_COOKIE), token) {
        (Some(cookie), Some(token)) => s.provider.keyed.verify_csrf(&cookie, token),
        _ => false,
    }
}

/// Whether an `Origin` header names the issuer's origin (scheme, host and port).
fn same_origin(origin: &[u8], issuer: &str) -> bool {
    let (Ok(origin), Ok(issuer)) = (
        std::str::from_utf8(origin).map(url::Url::parse),
        url::Url::parse(issuer),
    ) else {
        return false;
    };
    origin.is_ok_and(|o| o.origin() == issuer.origin())
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_must_be_the_issuers() {
        let issuer = "https://id.haiphong.gov.vn";
        assert!(super::same_origin(b"https://id.haiphong.gov.vn", issuer));
        assert!(!super::same_origin(b"https://evil.haiphong.gov.vn", issuer));
        assert!(!super::same_origin(b"http://id.haiphong.gov.vn", issuer));
        assert!(
            !super::same_origin(b"null", issuer),
            "csrf_ok skips null before asking"
        );
        assert!(super::same_origin(
            b"http://localhost:8080",
            "http://localhost:8080"
        ));
    }
}
