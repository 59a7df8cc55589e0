//! Request extractors: what a handler needs from the request, read once and checked before the
//! handler's first line runs.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tessera_core::login;
use tessera_core::mfa::Candidate;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::errors::{error_page, internal_page};
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
pub struct Meta(pub tessera_core::provider::RequestMeta);

impl Meta {
    pub fn of(parts: &Parts, s: &AppState) -> tessera_core::provider::RequestMeta {
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
        let (mut parts, body) = req.into_parts();
        Now::of(&mut parts);
        let headers = parts.headers.clone();
        let path = parts.uri.path().to_owned();
        let (lang, _) = web::language(&headers, None);
        let req = Request::from_parts(parts, body);
        // A body over the limit keeps axum's own answer (413), as with a plain `Bytes`.
        let body = Bytes::from_request(req, s)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(form) = Form::parse(&body) else {
            return Err(error_page(s, lang, &path, ErrorKind::BadRequest, None));
        };
        if !form.csrf_ok(s, &headers) {
            return Err(error_page(s, lang, &path, ErrorKind::CsrfFailed, None));
        }
        Ok(CsrfForm {
            form,
            lang,
            headers,
        })
    }
}

/// The signed-in person and their session; without one the browser goes to the sign-in page.
pub struct SignedIn {
    pub session: SessionRecord,
    pub user: User,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<SignedIn, Response> {
        let now = Now::of(parts);
        let cookie = s.read_cookie(&parts.headers, web::SESSION_COOKIE);
        match login::current_session(&s.provider, cookie.as_deref(), now).await {
            Ok(Some((session, user))) => Ok(SignedIn { session, user }),
            Ok(None) => Err(axum::response::Redirect::to("/login").into_response()),
            Err(e) => {
                let (lang, _) = web::language(&parts.headers, None);
                let path = parts.uri.path();
                Err(internal_page(s, lang, path, "session lookup failed", e))
            }
        }
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
    use super::*;
    use axum::http::HeaderValue;

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
