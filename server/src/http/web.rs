//! Small request/response helpers: cookies, language, client address.

use std::net::SocketAddr;

use axum::http::header;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use tessera_core::request::RequestMeta;
use tessera_core::secrets::random_token;

use super::AppState;
use crate::pages::Lang;

pub const SESSION_COOKIE: &str = "tessera_session";
pub const CSRF_COOKIE: &str = "tessera_csrf";
pub const LANG_COOKIE: &str = "tessera_lang";

/// Value of cookie `name` from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

impl AppState {
    /// Cookie name, with the `__Host-` prefix (RFC 6265bis §4.1.3.2) when served over https.
    pub fn cookie_name(&self, base: &str) -> String {
        if self.secure_cookies {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    pub fn read_cookie(&self, headers: &HeaderMap, base: &str) -> Option<String> {
        cookie(headers, &self.cookie_name(base))
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https.
    pub fn set_cookie(&self, base: &str, value: &str, max_age: i64) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name(base)
        )
    }

    pub fn meta(&self, headers: &HeaderMap, peer: SocketAddr) -> RequestMeta {
        let forwarded = self
            .trust_forwarded_for
            .then(|| forwarded_client(headers))
            .flatten();
        RequestMeta {
            source_ip: Some(forwarded.unwrap_or_else(|| peer.ip().to_string())),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
        }
    }
}

/// The client address our load balancer reported: the rightmost `X-Forwarded-For` entry, the
/// one it appended. Entries to its left come from the client and could be anything.
pub fn forwarded_client(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .next_back()
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
}

/// Language: an explicit `lang` parameter, then the language cookie, then Accept-Language.
/// Returns the language and whether the cookie should be (re)set.
pub fn language(headers: &HeaderMap, lang_param: Option<&str>) -> (Lang, bool) {
    if let Some(lang) = lang_param.and_then(Lang::from_tag) {
        return (lang, true);
    }
    if let Some(lang) = cookie(headers, LANG_COOKIE)
        .as_deref()
        .and_then(Lang::from_tag)
    {
        return (lang, false);
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Vietnamese is the default for a Vietnamese public service, whatever the browser says,
    // unless it clearly prefers English.
    (Lang::from_accept_language(accept), false)
}

pub fn lang_cookie(lang: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    )
}

pub(super) fn with_cookies(mut resp: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The CSRF cookie of this browser, created when missing (second value: Set-Cookie to send).
pub(super) fn csrf_cookie(s: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match s.read_cookie(headers, CSRF_COOKIE) {
        Some(v) => (v, None),
        None => {
            let v = random_token().unwrap_or_default();
            let set = s.set_cookie(CSRF_COOKIE, &v, 86_400);
            (v, Some(set))
        }
    }
}

pub const PENDING_COOKIE: &str = "tessera_pending";

#[derive(Debug, Default, Deserialize)]
pub(super) struct ReqQuery {
    pub(super) req: Option<String>,
    pub(super) lang: Option<String>,
}

/// Where the browser goes once the level is reached: back into the application's request,
/// or to the account page.
pub(super) fn continue_url(req: Option<&str>) -> String {
    match req {
        Some(r) => format!("/login/continue?req={r}"),
        None => "/account".into(),
    }
}

/// `path`, carrying the pending request's handle when there is one.
pub(super) fn with_req(path: &str, req: Option<&str>) -> String {
    match req {
        Some(r) => format!("{path}?req={r}"),
        None => path.to_owned(),
    }
}

/// The password form even for a signed-in person (to authenticate again).
pub(super) fn reauth_url(req: Option<&str>) -> String {
    match req {
        Some(r) => format!("/login?req={r}"),
        None => "/login?reauth=1".into(),
    }
}

/// Where a sign-in whose password must change is sent, instead of anywhere else.
pub(super) fn forced_url(req: Option<&str>) -> String {
    with_req("/login/password", req)
}

/// Sets the session cookie (when a new session started) and drops the pending-login cookie.
pub(super) fn finishing_cookies(s: &AppState, new_session: Option<&str>) -> Vec<String> {
    let mut set = vec![s.set_cookie(PENDING_COOKIE, "", 0)];
    if let Some(c) = new_session {
        set.push(s.set_cookie(SESSION_COOKIE, c, s.provider.config.session_ttl));
    }
    set
}

pub(super) use crate::pages::when::when;

pub const RETURN_COOKIE: &str = "tessera_return";

/// A page that may ask to be come back to after signing in: the official's signing pages,
/// the console's pages (plain paths of handles, no query) and the device grant's page (with
/// at most a well-formed user code), so the cookie can never send anyone elsewhere.
pub(super) fn return_path_ok(path: &str) -> bool {
    let handles = |rest: &str| rest.split('/').all(valid_handle);
    path.strip_prefix("/sign/requests")
        .is_some_and(|rest| rest.is_empty() || rest.strip_prefix('/').is_some_and(valid_handle))
        || path.strip_prefix("/admin").is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('/')
                    .is_some_and(|r| !r.starts_with("api") && handles(r))
        })
        || device_path_ok(path)
}

/// The device grant's page, bare or with a user code from a kiosk's QR code.
fn device_path_ok(path: &str) -> bool {
    path.strip_prefix("/device").is_some_and(|rest| {
        rest.is_empty()
            || rest.strip_prefix("?user_code=").is_some_and(|code| {
                tessera_core::oidc::device::user_code::normalise(code).is_some()
                    && code.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
            })
    })
}

/// Sends the browser to sign in, to come back to `path` afterwards (see [`landing`]).
pub(super) fn sign_in_first(s: &AppState, path: &str) -> Response {
    go_then_return(s, "/login", path)
}

/// Sends a signed-in browser to prove a second factor (or enrol one), to come back to `path`.
pub(super) fn step_up_first(s: &AppState, path: &str) -> Response {
    go_then_return(s, "/login/factor", path)
}

fn go_then_return(s: &AppState, to: &str, path: &str) -> Response {
    use axum::response::IntoResponse;
    let resp = axum::response::Redirect::to(to).into_response();
    if !return_path_ok(path) {
        return resp;
    }
    with_cookies(resp, &[s.set_cookie(RETURN_COOKIE, path, 1800)])
}

/// Where a finished sign-in goes: back into the application's request, else to the page that
/// sent the person to sign in (a signing request opened from a link or a QR code), else to the
/// account page.
pub(super) fn landing(s: &AppState, headers: &HeaderMap, req: Option<&str>) -> String {
    if req.is_some() {
        return continue_url(req);
    }
    s.read_cookie(headers, RETURN_COOKIE)
        .filter(|p| return_path_ok(p))
        .unwrap_or_else(|| continue_url(None))
}

/// A pending-request handle as it may appear in a URL: base64url, bounded.
pub fn valid_handle(req: &str) -> bool {
    !req.is_empty()
        && req.len() <= 64
        && req
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_address_is_the_one_the_proxy_appended() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_client(&h), None);
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.1.2.3"),
        );
        assert_eq!(forwarded_client(&h).as_deref(), Some("10.1.2.3"));
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.1.2.3, not-an-ip"),
        );
        assert_eq!(forwarded_client(&h), None);
    }

    #[test]
    fn reads_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("tessera_lang=en"));
        assert_eq!(cookie(&h, "tessera_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "tessera_lang").as_deref(), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(language(&h, None), (Lang::En, false));
        assert_eq!(language(&h, Some("vi")), (Lang::Vi, true));
    }

    #[test]
    fn only_signing_and_console_pages_are_returned_to() {
        for ok in [
            "/sign/requests",
            "/sign/requests/abc-DEF_123",
            "/admin",
            "/admin/users",
            "/admin/users/0123abcd",
        ] {
            assert!(return_path_ok(ok), "{ok}");
        }
        for bad in [
            "/sign/requests/",
            "/sign/requests/a/b",
            "/sign/requestsx",
            "/sign/requests/a?x=1",
            "//evil.example",
            "/account",
            "https://evil.example/sign/requests",
            "/sign/requests/a%2F",
            "/admin/",
            "/admin/api/me",
            "/admin//evil.example",
            "/adminx",
            "/admin/users?q=1",
        ] {
            assert!(!return_path_ok(bad), "{bad}");
        }
    }
}
