//! Request extractors: what a handler needs from the request, read once and checked before the
//! handler's first line runs.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts, Request,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::mfa::Candidate;
use tessera_core::session;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::errors::{error_page, internal_page, json_error};
use super::flow::candidate_of;
use super::forms::Form;
use super::{AppState, web};
use crate::pages::{ErrorKind, Lang};

/// The time of this request in Unix seconds. The clock is read by the first extractor that
/// asks and kept in the request, so every later reader (another extractor, the handler) sees
/// the same instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now(pub i64);

impl Now {
    pub fn of(parts: &mut Parts) -> i64 {
        if let Some(Now(t)) = parts.extensions.get::<Now>() {
            return *t;
        }
        let t = crate::clock::now();
        parts.extensions.insert(Now(t));
        t
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Now {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Now, Self::Rejection> {
        Ok(Now(Now::of(parts)))
    }
}

/// Who is asking, for the audit log and throttling: the peer (or the load balancer's
/// `X-Forwarded-For` entry when the settings trust it) and the user agent.
pub struct Meta(pub tessera_core::request::RequestMeta);

impl Meta {
    pub fn of(parts: &Parts, s: &AppState) -> tessera_core::request::RequestMeta {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        s.meta(&parts.headers, peer)
    }
}

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Meta, Self::Rejection> {
        Ok(Meta(Meta::of(parts, s)))
    }
}

/// The page language from the language cookie or `Accept-Language` (see [`web::language`]);
/// an explicit `lang` parameter is the handler's to read, since it also sets the cookie.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(web::language(&parts.headers, None).0)
    }
}

/// Who answers a refused form: the friendly page of a person's form, or the JSON a page's
/// script reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Page,
    Json,
}

/// A posted form that passed the CSRF check, with what the request said besides.
struct Checked {
    form: Form,
    lang: Lang,
    headers: HeaderMap,
    path: String,
    now: i64,
}

/// Reads a posted form and checks it against CSRF: the first check of every POST, before
/// anything is looked up.
async fn checked_form(req: Request, s: &AppState, answer: Answer) -> Result<Checked, Response> {
    let (mut parts, body) = req.into_parts();
    let now = Now::of(&mut parts);
    let headers = parts.headers.clone();
    let path = parts.uri.path().to_owned();
    let (lang, _) = web::language(&headers, None);
    let req = Request::from_parts(parts, body);
    // A body over the limit keeps axum's own answer (413), as with a plain `Bytes`.
    let body = Bytes::from_request(req, s)
        .await
        .map_err(IntoResponse::into_response)?;
    let form = Form::parse(&body);
    let ok = form.as_ref().map(|f| f.csrf_ok(s, &headers));
    match (form, ok, answer) {
        (Some(form), Some(true), _) => Ok(Checked {
            form,
            lang,
            headers,
            path,
            now,
        }),
        (None, _, Answer::Page) => Err(error_page(s, lang, &path, ErrorKind::BadRequest, None)),
        (_, _, Answer::Page) => Err(error_page(s, lang, &path, ErrorKind::CsrfFailed, None)),
        (None, _, Answer::Json) => Err(json_error(StatusCode::BAD_REQUEST, "malformed request")),
        (_, _, Answer::Json) => Err(json_error(
            StatusCode::FORBIDDEN,
            "the page expired; reload it and try again",
        )),
    }
}

/// A posted form of a people-facing page that passed the CSRF check (double-submit token plus
/// `Origin`/`Sec-Fetch-Site`, see [`super::forms::csrf_ok`]). Refused before the handler runs,
/// with the friendly page: "bad request" for a body that does not parse, "page expired" for a
/// failed check.
pub(super) struct CsrfForm {
    pub(super) form: Form,
    pub(super) lang: Lang,
    pub(super) headers: HeaderMap,
}

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<CsrfForm, Response> {
        let c = checked_form(req, s, Answer::Page).await?;
        Ok(CsrfForm {
            form: c.form,
            lang: c.lang,
            headers: c.headers,
        })
    }
}

/// As [`CsrfForm`], for a page's script: refused with a JSON error (400 for a body that does
/// not parse, 403 for a failed check).
pub(super) struct CsrfJson {
    pub(super) form: Form,
    pub(super) headers: HeaderMap,
}

impl FromRequest<AppState> for CsrfJson {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<CsrfJson, Response> {
        let c = checked_form(req, s, Answer::Json).await?;
        Ok(CsrfJson {
            form: c.form,
            headers: c.headers,
        })
    }
}

/// The signed-in person and their session; without one the browser goes to the sign-in page
/// (as `Option<SignedIn>`, the handler decides).
pub struct SignedIn {
    pub session: SessionRecord,
    pub user: User,
}

/// The session of this browser, or the page that says the lookup failed.
async fn session_of(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
    now: i64,
) -> Result<Option<SignedIn>, Response> {
    let cookie = s.read_cookie(headers, web::SESSION_COOKIE);
    match session::current_session(&s.provider, cookie.as_deref(), now).await {
        Ok(v) => Ok(v.map(|(session, user)| SignedIn { session, user })),
        Err(e) => {
            let (lang, _) = web::language(headers, None);
            Err(internal_page(s, lang, path, "session lookup failed", e))
        }
    }
}

fn to_login() -> Response {
    axum::response::Redirect::to("/login").into_response()
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<SignedIn, Response> {
        let now = Now::of(parts);
        session_of(s, &parts.headers, parts.uri.path(), now)
            .await?
            .ok_or_else(to_login)
    }
}

impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        s: &AppState,
    ) -> Result<Option<SignedIn>, Response> {
        let now = Now::of(parts);
        session_of(s, &parts.headers, parts.uri.path(), now).await
    }
}

/// A form posted by the signed-in person: the CSRF check first (as [`CsrfForm`]), then the
/// session (as [`SignedIn`]).
pub(super) struct SignedInForm {
    pub(super) form: Form,
    pub(super) lang: Lang,
    pub(super) headers: HeaderMap,
    pub(super) me: SignedIn,
    /// The request's instant (as [`Now`]).
    pub(super) now: i64,
}

impl FromRequest<AppState> for SignedInForm {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<SignedInForm, Response> {
        let c = checked_form(req, s, Answer::Page).await?;
        let me = session_of(s, &c.headers, &c.path, c.now)
            .await?
            .ok_or_else(to_login)?;
        Ok(SignedInForm {
            form: c.form,
            lang: c.lang,
            headers: c.headers,
            me,
            now: c.now,
        })
    }
}

/// The person in the middle of a sign-in: a pending login (password given, second factor not
/// yet) or a signed-in session stepping up; `None` when there is neither. For a GET: a posted
/// form takes [`CsrfForm`] first, so nothing is looked up before the CSRF check.
pub struct Pending(pub Option<Candidate>);

impl FromRequestParts<AppState> for Pending {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Pending, Response> {
        let now = Now::of(parts);
        match candidate_of(s, &parts.headers, now).await {
            Ok(c) => Ok(Pending(c)),
            Err(e) => {
                let (lang, _) = web::language(&parts.headers, None);
                let path = parts.uri.path();
                Err(internal_page(s, lang, path, "candidate lookup failed", e))
            }
        }
    }
}

/// Why a request carries no usable bearer token (RFC 6750 §2.1, §3.1).
#[derive(Debug, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header: the answer is a bare challenge.
    Missing,
    /// A header that is not `Bearer <token>`.
    Malformed,
}

/// The access token of the `Authorization: Bearer` header (RFC 6750 §2.1: the header only, never
/// the query or a form). Checking it and its scope is the API's own step, in core, so that each
/// API (administration, CSC) answers with its own error body.
pub struct Bearer(pub String);

impl Bearer {
    pub fn from_headers(headers: &HeaderMap) -> Result<Bearer, BearerError> {
        let v = headers
            .get(header::AUTHORIZATION)
            .ok_or(BearerError::Missing)?
            .to_str()
            .unwrap_or("");
        match v.split_once(' ') {
            Some((scheme, tok))
                if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() =>
            {
                Ok(Bearer(tok.trim().to_owned()))
            }
            _ => Err(BearerError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axum::body::Body;
    use axum::http::HeaderValue;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn app() -> (axum::Router, AppState, std::path::PathBuf) {
        let (provider, dir) = crate::app::test_provider("tessera-extract-test").await;
        let state = AppState::new(provider, false);
        // Two handlers only for this test: one that reads `Now` twice, one behind `SignedIn`.
        let app = crate::http::router(state.clone()).merge(
            axum::Router::new()
                .route(
                    "/test/now",
                    get(|Now(a): Now, Now(b): Now| async move { format!("{a} {b}") }),
                )
                .route(
                    "/test/me",
                    get(|me: SignedIn| async move { me.user.username }),
                )
                .with_state(state.clone()),
        );
        (app, state, dir)
    }

    fn post_factor(cookie: &str, body: &str, site: Option<&'static str>) -> Request {
        let mut b = Request::builder()
            .method("POST")
            .uri("/login/factor")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("{}={cookie}", web::CSRF_COOKIE));
        if let Some(site) = site {
            b = b.header("sec-fetch-site", site);
        }
        b.body(Body::from(body.to_owned())).unwrap()
    }

    /// A form posted from another site, or without the token of this browser's cookie, is
    /// refused with the "form expired" page before anything is looked up; a good one reaches
    /// the handler (which, with no sign-in under way, sends the browser to the login page).
    #[tokio::test]
    async fn csrf_form_refuses_forged_posts() {
        let (app, s, dir) = app().await;
        let token = s.provider.keyed.csrf_token("c00kie");
        let good = format!("csrf_token={token}&method=totp&code=123456");
        let cases = [
            (
                post_factor("c00kie", &good, Some("cross-site")),
                StatusCode::FORBIDDEN,
            ),
            (post_factor("other", &good, None), StatusCode::FORBIDDEN),
            (
                post_factor("c00kie", "method=totp&code=1", None),
                StatusCode::FORBIDDEN,
            ),
            (
                post_factor("c00kie", &good, Some("same-origin")),
                StatusCode::SEE_OTHER,
            ),
        ];
        for (i, (req, status)) in cases.into_iter().enumerate() {
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), status, "case {i}");
        }
        s.provider.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn one_instant_per_request_and_signed_in_or_sent_to_login() {
        let (app, s, dir) = app().await;
        let req = Request::builder()
            .uri("/test/now")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 64).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let (a, b) = body.split_once(' ').unwrap();
        assert_eq!(a, b, "both readers see the same instant");
        let req = Request::builder()
            .uri("/test/me")
            .header(header::COOKIE, format!("{}=forged", web::SESSION_COOKIE))
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()[header::LOCATION], "/login");
        s.provider.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bearer_header_only_and_well_formed() {
        let mut h = HeaderMap::new();
        assert_eq!(Bearer::from_headers(&h).err(), Some(BearerError::Missing));
        for bad in ["Basic abc", "Bearer", "Bearer   ", "abc", "Bearerabc"] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(
                Bearer::from_headers(&h).err(),
                Some(BearerError::Malformed),
                "{bad}"
            );
        }
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bEaReR  t0k "),
        );
        assert_eq!(
            Bearer::from_headers(&h).map(|b| b.0).ok().as_deref(),
            Some("t0k")
        );
    }

    #[test]
    fn the_clock_is_read_once_per_request() {
        let (mut parts, _) = Request::new(axum::body::Body::empty()).into_parts();
        parts.extensions.insert(Now(42));
        assert_eq!(
            Now::of(&mut parts),
            42,
            "a second reader sees the first instant"
        );
        let (mut fresh, _) = Request::new(axum::body::Body::empty()).into_parts();
        let first = Now::of(&mut fresh);
        assert!(first > 1_700_000_000);
        assert_eq!(fresh.extensions.get::<Now>(), Some(&Now(first)));
    }
}
