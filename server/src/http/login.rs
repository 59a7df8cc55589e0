//! The login pages: `GET /login` shows the form, `POST /login` checks it and resumes the
//! pending authorization request.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tessera_core::login::{self, LoginError, LoginFailure};
use tessera_core::mfa;
use tessera_core::oidc::authorize;
use tessera_core::session;
use tessera_core::upstream;

use super::errors::{authorize_error, error_page, internal_page, page};
use super::extract::{Meta, Now};
use super::flow::decision_response;
use super::forms::Form as Posted;
use super::web::{csrf_cookie, with_cookies};
use super::{AppState, web};
use crate::pages::{self, ErrorKind, Lang, LoginView, SignedInView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(show).post(submit))
        .route("/", get(|| async { Redirect::to("/login") }))
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
    lang: Option<String>,
    /// Ask for the password even in a live session (before changing sign-in methods).
    reauth: Option<String>,
}

struct Form<'a> {
    lang: Lang,
    path: &'a str,
    req: Option<&'a str>,
    username: &'a str,
    client_name: Option<&'a str>,
    error: Option<pages::LoginError>,
    /// Upstream providers offered as buttons (id, display name).
    upstreams: &'a [(String, String)],
}

fn login_form(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    f: Form<'_>,
    extra: Vec<String>,
) -> Response {
    let (csrf, set) = csrf_cookie(s, headers);
    let html = s.pages.login(
        f.lang,
        &LoginView {
            path_and_query: f.path,
            req: f.req,
            csrf_token: &s.provider.keyed.csrf_token(&csrf),
            username: f.username,
            client_name: f.client_name,
            error: f.error,
            upstreams: f.upstreams,
        },
    );
    let mut cookies = extra;
    cookies.extend(set);
    with_cookies(page(status, html), &cookies)
}

async fn show(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    // A malformed query is treated as empty: the form is still useful.
    let q: LoginQuery =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or(LoginQuery {
            req: None,
            lang: None,
            reauth: None,
        });
    let (lang, set_lang) = web::language(&headers, q.lang.as_deref());
    let extra: Vec<String> = set_lang
        .then(|| web::lang_cookie(lang))
        .into_iter()
        .collect();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/login");
    let mut client_name = None;
    let mut hint = String::new();
    if let Some(req) = q.req.as_deref() {
        match authorize::pending(&s.provider, req, now).await {
            Ok(Some((client, pending))) => {
                // The application requires one upstream: straight there.
                if let Some(id) = upstream::required(&pending.acr_values)
                    && upstream::valid_id(id)
                    && web::valid_handle(req)
                {
                    let to = format!("/login/upstream/{id}?req={req}");
                    return with_cookies(Redirect::to(&to).into_response(), &extra);
                }
                client_name = Some(client.name);
                hint = pending.login_hint.unwrap_or_default();
            }
            Ok(None) => {
                return with_cookies(
                    error_page(&s, lang, path, ErrorKind::RequestExpired, None),
                    &extra,
                );
            }
            Err(e) => {
                return internal_page(&s, lang, path, "pending request lookup failed", e);
            }
        }
    } else if q.reauth.is_none() {
        let cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
        if let Ok(Some((_, user))) =
            session::current_session(&s.provider, cookie.as_deref(), now).await
        {
            let html = s.pages.signed_in(
                lang,
                &SignedInView {
                    path_and_query: path,
                    display_name: &user.display_name,
                    username: &user.username,
                },
            );
            return with_cookies(page(StatusCode::OK, html), &extra);
        }
    }
    let upstreams = match upstream::buttons(&s.provider).await {
        Ok(u) => u,
        Err(e) => return internal_page(&s, lang, path, "upstream list failed", e),
    };
    let form = Form {
        lang,
        path,
        req: q.req.as_deref(),
        username: &hint,
        client_name: client_name.as_deref(),
        error: None,
        upstreams: &upstreams,
    };
    login_form(&s, &headers, StatusCode::OK, form, extra)
}

async fn submit(
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
    let field = |name: &str| posted.get(name);
    let req = posted.value("req");
    let path = req
        .map(|r| format!("/login?req={r}"))
        .unwrap_or_else(|| "/login".into());

    // CSRF first: nothing else is looked at for a forged form.
    if !posted.csrf_ok(&s, &headers) {
        return error_page(&s, lang, &path, ErrorKind::CsrfFailed, None);
    }
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return error_page(
            &s,
            lang,
            &path,
            ErrorKind::BadRequest,
            Some("username and password are required"),
        );
    };
    if username.len() > 256 || password.len() > 1024 {
        return error_page(&s, lang, &path, ErrorKind::BadRequest, None);
    }
    let client_name = match req {
        Some(r) => match authorize::pending(&s.provider, r, now).await {
            Ok(Some((client, _))) => Some(client.name),
            Ok(None) => return error_page(&s, lang, &path, ErrorKind::RequestExpired, None),
            Err(e) => {
                return internal_page(&s, lang, &path, "pending request lookup failed", e);
            }
        },
        None => None,
    };
    let upstreams = match upstream::buttons(&s.provider).await {
        Ok(u) => u,
        Err(e) => return internal_page(&s, lang, &path, "upstream list failed", e),
    };
    let refused = |status: StatusCode, error: pages::LoginError| {
        let form = Form {
            lang,
            path: &path,
            req,
            username,
            client_name: client_name.as_deref(),
            error: Some(error),
            upstreams: &upstreams,
        };
        login_form(&s, &headers, status, form, Vec::new())
    };
    let user = match login::authenticate(&s.provider, username, password, &meta, now).await {
        Ok(user) => user,
        Err(LoginError::Refused(LoginFailure::BadCredentials)) => {
            return refused(StatusCode::UNAUTHORIZED, pages::LoginError::BadCredentials);
        }
        Err(LoginError::Refused(LoginFailure::TooManyAttempts { retry_after })) => {
            let mut r = refused(
                StatusCode::TOO_MANY_REQUESTS,
                pages::LoginError::TooManyAttempts {
                    retry_after_secs: retry_after.max(1) as u64,
                },
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(LoginError::Refused(LoginFailure::Disabled)) => {
            return refused(StatusCode::FORBIDDEN, pages::LoginError::AccountDisabled);
        }
        Err(LoginError::Internal(e)) => {
            return internal_page(&s, lang, &path, "login failed", e);
        }
    };
    // A password set by an administrator leads nowhere but to its replacement: the login
    // waits (in the database) on the change-password page.
    if user.password_must_change {
        return match mfa::begin_pending(&s.provider, &user, &session::Authn::password(), now).await
        {
            Ok(pending) => with_cookies(
                Redirect::to(&web::forced_url(req)).into_response(),
                &[s.set_cookie(web::PENDING_COOKIE, &pending, mfa::PENDING_TTL)],
            ),
            Err(e) => internal_page(&s, lang, &path, "cannot park the login", e),
        };
    }
    // A level above the password's: the login waits for a second factor (or enrolment).
    let needed = match authorize::required_level(&s.provider, req, &user, now).await {
        Ok(l) => l,
        Err(e) => {
            return internal_page(&s, lang, &path, "required level lookup failed", e);
        }
    };
    if mfa::rank(needed) > 1 {
        return match mfa::begin_pending(&s.provider, &user, &session::Authn::password(), now).await
        {
            Ok(pending) => {
                let next = web::with_req("/login/factor", req);
                with_cookies(
                    Redirect::to(&next).into_response(),
                    &[s.set_cookie(web::PENDING_COOKIE, &pending, mfa::PENDING_TTL)],
                )
            }
            Err(e) => internal_page(&s, lang, &path, "cannot park the login", e),
        };
    }
    let previous = s.read_cookie(&headers, web::SESSION_COOKIE);
    let (cookie, session) =
        match session::start_session(&s.provider, &user, previous.as_deref(), &meta, now).await {
            Ok(v) => v,
            Err(e) => {
                return internal_page(&s, lang, &path, "cannot start session", e);
            }
        };
    let set = vec![
        s.set_cookie(web::SESSION_COOKIE, &cookie, s.provider.config.session_ttl),
        // A sign-in parked earlier in this browser is over.
        s.set_cookie(web::PENDING_COOKIE, "", 0),
    ];
    let resp = match req {
        Some(r) => match authorize::resume(&s.provider, r, &session, &user, &meta, now).await {
            Ok(decision) => decision_response(decision),
            Err(e) => authorize_error(&s, lang, &path, e),
        },
        None => Redirect::to(&web::landing(&s, &headers, None)).into_response(),
    };
    with_cookies(resp, &set)
}
