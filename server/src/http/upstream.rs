//! Sign-in through an upstream OpenID Connect provider (VNeID):
//! `GET /login/upstream/{id}` sends the browser there, `GET /login/upstream/callback` takes the
//! answer back, `GET|POST /login/upstream/link` links an identity to an official's account
//! with their password, and `GET /logout/upstream/done` is where the upstream's logout returns.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tessera_core::login::{LoginError, LoginFailure};
use tessera_core::oidc::authorize;
use tessera_core::request::RequestMeta;
use tessera_core::session;
use tessera_core::upstream::{self, LinkError, Outcome, Upstream};

use super::errors::{authorize_error, error_page, internal_page, page};
use super::extract::{Meta, Now};
use super::flow::decision_response;
use super::forms::{Form as Posted, valid_handle};
use super::upstream_client::{self, UpstreamError};
use super::web::{csrf_cookie, with_cookies};
use super::{AppState, web};
use crate::pages::upstream_link::{LinkView, text};
use crate::pages::{ErrorKind, Lang};

/// Binds a sign-in sent upstream to the browser that started it, so that nobody can hand a
/// victim a callback for the attacker's own upstream account (login CSRF).
const STATE_COOKIE: &str = "tessera_upstream";

pub const CALLBACK_PATH: &str = "/login/upstream/callback";
pub const LOGOUT_DONE_PATH: &str = "/logout/upstream/done";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(CALLBACK_PATH, get(callback))
        .route("/login/upstream/link", get(link_form).post(link_submit))
        .route("/login/upstream/{id}", get(start))
        .route(LOGOUT_DONE_PATH, get(logout_done))
}

/// A malformed query reads as empty: every handler then answers with its clear page.
fn parse_query<T: Default + serde::de::DeserializeOwned>(raw: Option<&str>) -> T {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
struct StartQuery {
    req: Option<String>,
}

async fn start(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let req = parse_query::<StartQuery>(raw.as_deref())
        .req
        .filter(|r| valid_handle(r));
    let path = web::with_req("/login", req.as_deref());
    let up = match upstream::get(&s.provider, &id).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(&s, lang, &path, ErrorKind::NotFound, None),
        Err(e) => return internal_page(&s, lang, &path, "upstream lookup failed", e),
    };
    if let Some(r) = req.as_deref() {
        match authorize::pending(&s.provider, r, now).await {
            Ok(Some(_)) => {}
            Ok(None) => return error_page(&s, lang, &path, ErrorKind::RequestExpired, None),
            Err(e) => return internal_page(&s, lang, &path, "pending request lookup failed", e),
        }
    }
    let discovered = match discover(&s, &up).await {
        Ok(d) => d,
        Err(e) => return refused(&s, lang, &path, Some(&up), e, &meta, now).await,
    };
    let request = discovered.authorization_request(&up);
    if let Err(e) = upstream::begin_login(
        &s.provider,
        &up,
        &request.state,
        &request.nonce,
        &request.pkce_verifier,
        req.as_deref(),
        now,
    )
    .await
    {
        return internal_page(&s, lang, &path, "cannot keep the upstream sign-in", e);
    }
    with_cookies(
        Redirect::to(&request.url).into_response(),
        &[s.set_cookie(STATE_COOKIE, &request.state, upstream::LOGIN_TTL)],
    )
}

async fn discover(
    s: &AppState,
    up: &Upstream,
) -> Result<upstream_client::Discovered, UpstreamError> {
    let secret = up
        .client_secret(&s.provider)
        .map_err(|e| UpstreamError::Unavailable(format!("client secret: {e}")))?;
    let redirect = s.provider.config.endpoint(CALLBACK_PATH);
    upstream_client::discover(&s.provider.outbound, up, secret, &redirect).await
}

/// The clear page for a failed upstream sign-in; audited, never with a token in it.
async fn refused(
    s: &AppState,
    lang: Lang,
    path: &str,
    up: Option<&Upstream>,
    e: UpstreamError,
    meta: &RequestMeta,
    now: i64,
) -> Response {
    let id = up.map(|u| u.record.id.as_str());
    tracing::warn!(upstream = id, error = %e, "upstream sign-in refused");
    if let Err(a) = upstream::audit_refused(&s.provider, id, &e.to_string(), meta, now).await {
        return internal_page(s, lang, path, "audit failed", a);
    }
    let kind = match e {
        UpstreamError::Unavailable(_) => ErrorKind::UpstreamUnavailable,
        UpstreamError::Rejected(_) => ErrorKind::UpstreamRejected,
    };
    let clear = [s.set_cookie(STATE_COOKIE, "", 0)];
    with_cookies(error_page(s, lang, path, kind, None), &clear)
}

#[derive(Debug, Default, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let q = parse_query::<CallbackQuery>(raw.as_deref());
    let path = "/login";
    let Some(state) = q.state.filter(|st| !st.is_empty() && st.len() <= 512) else {
        return error_page(
            &s,
            lang,
            path,
            ErrorKind::BadRequest,
            Some("state is missing"),
        );
    };
    let reject = |why: &str| UpstreamError::Rejected(why.to_owned());
    if s.read_cookie(&headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        let e = reject("the sign-in was not started in this browser");
        return refused(&s, lang, path, None, e, &meta, now).await;
    }
    let flight = match upstream::take_login(&s.provider, &state, now).await {
        Ok(Some(f)) => f,
        Ok(None) => return error_page(&s, lang, path, ErrorKind::RequestExpired, None),
        Err(e) => return internal_page(&s, lang, path, "upstream sign-in lookup failed", e),
    };
    let path = web::with_req("/login", flight.req.as_deref());
    let up = &flight.upstream;
    if let Some(error) = q.error {
        let e = reject(&format!("the upstream answered error={error}"));
        return refused(&s, lang, &path, Some(up), e, &meta, now).await;
    }
    let Some(code) = q.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        let e = reject("the answer has no code");
        return refused(&s, lang, &path, Some(up), e, &meta, now).await;
    };
    let verified = match discover(&s, up).await {
        Ok(d) => {
            d.exchange(
                &s.provider.outbound,
                &code,
                &flight.nonce,
                &flight.pkce_verifier,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return refused(&s, lang, &path, Some(up), e, &meta, now).await,
    };
    let req = flight.req.as_deref();
    match upstream::complete(&s.provider, up, &verified, req, &meta, now).await {
        Ok(outcome) => finish(&s, lang, &headers, up, outcome, req, &meta, now).await,
        Err(e) => {
            let e = UpstreamError::Rejected(e.to_string());
            refused(&s, lang, &path, Some(up), e, &meta, now).await
        }
    }
}

/// Signs the person in (or sends them to link their account), then resumes the request.
#[allow(clippy::too_many_arguments)]
async fn finish(
    s: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    up: &Upstream,
    outcome: Outcome,
    req: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Response {
    let path = web::with_req("/login", req);
    let clear = s.set_cookie(STATE_COOKIE, "", 0);
    let (user, authn, sealed) = match outcome {
        Outcome::SignedIn {
            user,
            authn,
            sealed_id_token,
        } => (user, authn, sealed_id_token),
        Outcome::NeedsLink { handle } => {
            let to = format!("/login/upstream/link?offer={handle}");
            return with_cookies(Redirect::to(&to).into_response(), &[clear]);
        }
        Outcome::Disabled => {
            return with_cookies(
                error_page(
                    s,
                    lang,
                    &path,
                    ErrorKind::BadRequest,
                    Some("this account is disabled"),
                ),
                &[clear],
            );
        }
    };
    let previous = s.read_cookie(headers, web::SESSION_COOKIE);
    let started =
        session::start_session_with(&s.provider, &user, &authn, previous.as_deref(), meta, now)
            .await;
    let (cookie, record) = match started {
        Ok(v) => v,
        Err(e) => return internal_page(s, lang, &path, "cannot start session", e),
    };
    if let Err(e) =
        upstream::bind_session(&s.provider, &record.id, &up.record.id, &sealed, now).await
    {
        return internal_page(s, lang, &path, "cannot keep the upstream session", e);
    }
    let set = vec![
        s.set_cookie(web::SESSION_COOKIE, &cookie, s.provider.config.session_ttl),
        s.set_cookie(web::PENDING_COOKIE, "", 0),
        clear,
    ];
    let resp = match req {
        Some(r) => match authorize::resume(&s.provider, r, &record, &user, meta, now).await {
            Ok(decision) => decision_response(decision),
            Err(e) => authorize_error(s, lang, &path, e),
        },
        None => Redirect::to(&web::landing(s, headers, None)).into_response(),
    };
    with_cookies(resp, &set)
}

#[derive(Debug, Default, Deserialize)]
struct LinkQuery {
    offer: Option<String>,
    lang: Option<String>,
}

fn link_page(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    mut view: LinkView,
) -> Response {
    let (csrf, set) = csrf_cookie(s, headers);
    view.csrf_token = s.provider.keyed.csrf_token(&csrf);
    let path = format!("/login/upstream/link?offer={}", view.offer);
    let html = s.pages.upstream_link(lang, &path, &view);
    with_cookies(page(status, html), &set.into_iter().collect::<Vec<_>>())
}

async fn link_form(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = parse_query::<LinkQuery>(raw.as_deref());
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let Some(offer) = q.offer.filter(|o| valid_handle(o)) else {
        return error_page(&s, lang, "/login", ErrorKind::BadRequest, None);
    };
    match upstream::link_offer(&s.provider, &offer, now).await {
        Ok(Some((_, up))) => {
            let view = LinkView {
                csrf_token: String::new(),
                offer,
                upstream_name: up.record.display_name,
                username: String::new(),
                error: None,
            };
            link_page(&s, &headers, lang, StatusCode::OK, view)
        }
        Ok(None) => error_page(&s, lang, "/login", ErrorKind::RequestExpired, None),
        Err(e) => internal_page(&s, lang, "/login", "link offer lookup failed", e),
    }
}

async fn link_submit(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let Some(posted) = Posted::parse(&body) else {
        return error_page(&s, lang, "/login", ErrorKind::BadRequest, None);
    };
    // CSRF first: nothing else is looked at for a forged form.
    if !posted.csrf_ok(&s, &headers) {
        return error_page(&s, lang, "/login", ErrorKind::CsrfFailed, None);
    }
    let (Some(offer), Some(username), Some(password)) = (
        posted.value("offer").filter(|o| valid_handle(o)),
        posted.value("username"),
        posted.value("password"),
    ) else {
        return error_page(&s, lang, "/login", ErrorKind::BadRequest, None);
    };
    if username.len() > 256 || password.len() > 1024 {
        return error_page(&s, lang, "/login", ErrorKind::BadRequest, None);
    }
    let again = |status: StatusCode, error: &'static str, name: String| {
        let view = LinkView {
            csrf_token: String::new(),
            offer: offer.to_owned(),
            upstream_name: name,
            username: username.to_owned(),
            error: Some(error),
        };
        link_page(&s, &headers, lang, status, view)
    };
    let name = match upstream::link_offer(&s.provider, offer, now).await {
        Ok(Some((_, up))) => up.record.display_name,
        Ok(None) => return error_page(&s, lang, "/login", ErrorKind::RequestExpired, None),
        Err(e) => return internal_page(&s, lang, "/login", "link offer lookup failed", e),
    };
    let t = text(lang);
    match upstream::link_with_password(&s.provider, offer, username, password, &meta, now).await {
        Ok((outcome, req, up)) => {
            finish(&s, lang, &headers, &up, outcome, req.as_deref(), &meta, now).await
        }
        Err(LinkError::Login(LoginError::Refused(LoginFailure::TooManyAttempts { .. }))) => {
            again(StatusCode::TOO_MANY_REQUESTS, t.throttled, name)
        }
        Err(LinkError::Login(LoginError::Refused(_))) => {
            again(StatusCode::UNAUTHORIZED, t.bad_credentials, name)
        }
        Err(LinkError::NotAnOfficial) => again(StatusCode::FORBIDDEN, t.not_official, name),
        Err(LinkError::Expired) => error_page(&s, lang, "/login", ErrorKind::RequestExpired, None),
        Err(LinkError::Login(LoginError::Internal(e))) => {
            internal_page(&s, lang, "/login", "linking failed", e)
        }
        Err(LinkError::Internal(e)) => internal_page(&s, lang, "/login", "linking failed", e),
    }
}

/// Where the browser goes to log out at the upstream too (RP-Initiated Logout 1.0 §2), with
/// the upstream's ID token as the hint; `then` is where Tessera's own logout would have sent
/// it, carried in `state` under a keyed hash so nobody can make it an open redirect. `None`
/// when the upstream has no `end_session_endpoint` or cannot be reached (the local logout
/// stands either way).
pub(super) async fn upstream_logout_url(
    s: &AppState,
    up: &Upstream,
    id_token: &str,
    then: Option<&str>,
) -> Option<String> {
    let discovered = match discover(s, up).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(upstream = %up.record.id, error = %e, "upstream logout skipped");
            return None;
        }
    };
    let endpoint = discovered.end_session_endpoint()?;
    let then = then.unwrap_or("");
    let state = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(then.as_bytes()),
        s.provider
            .keyed
            .csrf_token(&format!("upstream-logout:{then}"))
    );
    let mut url = url::Url::parse(&endpoint).ok()?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", &up.record.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &s.provider.config.endpoint(LOGOUT_DONE_PATH),
        )
        .append_pair("state", &state);
    Some(url.into())
}

#[derive(Debug, Default, Deserialize)]
struct DoneQuery {
    state: Option<String>,
}

/// Back from the upstream's logout: on to where Tessera's logout was going, or the
/// signed-out page.
async fn logout_done(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let then = parse_query::<DoneQuery>(raw.as_deref())
        .state
        .and_then(|st| {
            let (enc, mac) = st.split_once('.')?;
            let then = String::from_utf8(URL_SAFE_NO_PAD.decode(enc).ok()?).ok()?;
            s.provider
                .keyed
                .verify_csrf(&format!("upstream-logout:{then}"), mac)
                .then_some(then)
        })
        .filter(|t| !t.is_empty());
    match then {
        Some(url) => Redirect::to(&url).into_response(),
        None => {
            let html = s.pages.signed_out(
                lang,
                &crate::pages::SignedOutView {
                    path_and_query: LOGOUT_DONE_PATH,
                },
            );
            page(StatusCode::OK, html)
        }
    }
}
