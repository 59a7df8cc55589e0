//! Password changes: `/login/password`, the change a password set by an administrator demands
//! before a sign-in goes anywhere, and `/account/password`, the change people make themselves.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tessera_core::mfa::{self, Candidate, Subject};
use tessera_core::oidc::authorize;
use tessera_core::password_change::{self, AfterChange, ChangeError};
use tessera_store::users::User;

use super::errors::{authorize_error, internal_page, page};
use super::extract::{CsrfForm, Meta, Now, SignedIn, SignedInForm};
use super::flow::{candidate_of, decision_response};
use super::forms::{Form, valid_handle};
use super::web::{
    PENDING_COOKIE, ReqQuery, csrf_cookie, forced_url, reauth_url, with_cookies, with_req,
};
use super::{AppState, web};
use crate::pages::Lang;
use crate::pages::password::{PasswordView, text};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/password", get(show_forced).post(submit_forced))
        .route("/account/password", get(show_own).post(submit_own))
}

struct Shown<'a> {
    forced: bool,
    req: Option<&'a str>,
    user: &'a User,
    status: StatusCode,
    error: Option<&'static str>,
}

fn render(s: &AppState, headers: &HeaderMap, lang: Lang, f: Shown<'_>) -> Response {
    let (csrf, set) = csrf_cookie(s, headers);
    let action = if f.forced {
        "/login/password"
    } else {
        "/account/password"
    };
    let path = if f.forced {
        forced_url(f.req)
    } else {
        action.to_owned()
    };
    let html = s.pages.password(
        lang,
        &path,
        &PasswordView {
            forced: f.forced,
            action,
            req: f.req,
            csrf_token: &s.provider.keyed.csrf_token(&csrf),
            display_name: &f.user.display_name,
            username: &f.user.username,
            error: f.error,
        },
    );
    with_cookies(page(f.status, html), &set.into_iter().collect::<Vec<_>>())
}

/// The refusal of a change, in the person's words, with its status.
fn refusal(lang: Lang, e: &ChangeError) -> (StatusCode, &'static str) {
    let t = text(lang);
    match e {
        ChangeError::WrongCurrent => (StatusCode::UNAUTHORIZED, t.wrong_current),
        ChangeError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, t.too_many),
        ChangeError::Weak(_) => (StatusCode::BAD_REQUEST, t.weak),
        ChangeError::Unchanged => (StatusCode::BAD_REQUEST, t.unchanged),
        ChangeError::NotRecent | ChangeError::NotRequired | ChangeError::Conflict => {
            (StatusCode::CONFLICT, t.conflict)
        }
        ChangeError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, t.conflict),
    }
}

/// The new password, typed twice alike and of a sane size, or the message that refuses it.
fn new_password(form: &Form, lang: Lang) -> Result<&str, &'static str> {
    let new = form.get("new_password").unwrap_or("");
    if new.len() > 1024 {
        return Err(text(lang).weak);
    }
    if form.get("confirm_password") != Some(new) {
        return Err(text(lang).mismatch);
    }
    Ok(new)
}

/// The sign-in waiting for its temporary password to be replaced, or where to go instead.
async fn forced_candidate(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: Option<&str>,
    now: i64,
) -> Result<Candidate, Response> {
    match candidate_of(s, headers, now).await {
        Ok(Some(c)) if c.user.password_must_change && matches!(c.subject, Subject::Pending(_)) => {
            Ok(c)
        }
        // Nothing to change here (done already, or no sign-in under way).
        Ok(_) => Err(Redirect::to(&with_req("/login", req)).into_response()),
        Err(e) => Err(internal_page(
            s,
            lang,
            "/login/password",
            "candidate lookup failed",
            e,
        )),
    }
}

async fn show_forced(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<ReqQuery>,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let req = q.req.as_deref().filter(|r| valid_handle(r));
    let c = match forced_candidate(&s, &headers, lang, req, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let shown = Shown {
        forced: true,
        req,
        user: &c.user,
        status: StatusCode::OK,
        error: None,
    };
    render(&s, &headers, lang, shown)
}

async fn submit_forced(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    CsrfForm {
        form,
        lang,
        headers,
    }: CsrfForm,
) -> Response {
    let req = form.value("req").filter(|r| valid_handle(r));
    let c = match forced_candidate(&s, &headers, lang, req, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refused = |status, error| {
        let shown = Shown {
            forced: true,
            req,
            user: &c.user,
            status,
            error: Some(error),
        };
        render(&s, &headers, lang, shown)
    };
    let new = match new_password(&form, lang) {
        Ok(n) => n,
        Err(m) => return refused(StatusCode::BAD_REQUEST, m),
    };
    let changed = password_change::change_temporary(&s.provider, &c.user, c.id(), new, &meta, now);
    match changed.await {
        Ok(_) => s.outbox_wake.notify_one(),
        Err(ChangeError::Internal(e)) => {
            return internal_page(&s, lang, "/login/password", "password change failed", e);
        }
        Err(e) => {
            let (status, m) = refusal(lang, &e);
            return refused(status, m);
        }
    }
    continue_sign_in(&s, &headers, lang, req, c, &meta, now).await
}

/// After the change, the sign-in goes on as if the new password had been typed: to the second
/// factor when a level 2 is needed (the pending login waits for it), else into a session.
async fn continue_sign_in(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: Option<&str>,
    c: Candidate,
    meta: &tessera_core::request::RequestMeta,
    now: i64,
) -> Response {
    let path = forced_url(req);
    let previous = s.read_cookie(headers, web::SESSION_COOKIE);
    let after =
        password_change::continue_sign_in(&s.provider, &c, req, previous.as_deref(), meta, now);
    let (cookie, session, user) = match after.await {
        Ok(AfterChange::SignedIn {
            cookie,
            session,
            user,
        }) => (cookie, session, user),
        Ok(AfterChange::SecondFactor) => {
            return Redirect::to(&with_req("/login/factor", req)).into_response();
        }
        Ok(AfterChange::StartAgain) => {
            return Redirect::to(&with_req("/login", req)).into_response();
        }
        Err(e) => {
            return internal_page(s, lang, &path, "sign-in after a password change failed", e);
        }
    };
    let set = [
        s.set_cookie(web::SESSION_COOKIE, &cookie, s.provider.config.session_ttl),
        s.set_cookie(PENDING_COOKIE, "", 0),
    ];
    let resp = match req {
        Some(r) => match authorize::resume(&s.provider, r, &session, &user, meta, now).await {
            Ok(decision) => decision_response(decision),
            Err(e) => authorize_error(s, lang, &path, e),
        },
        None => Redirect::to(&web::landing(s, headers, None)).into_response(),
    };
    with_cookies(resp, &set)
}

#[derive(Debug, Default, serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The password is changed only in a session authenticated recently; else the password form
/// again, to authenticate anew.
#[allow(clippy::result_large_err)] // the error is the response itself, built once
fn recent(me: &SignedIn, now: i64) -> Result<(), Response> {
    if now - me.session.auth_time > mfa::RECENT_AUTH {
        return Err(Redirect::to(&reauth_url(None)).into_response());
    }
    Ok(())
}

async fn show_own(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
    me: SignedIn,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    if let Err(r) = recent(&me, now) {
        return r;
    }
    let shown = Shown {
        forced: false,
        req: None,
        user: &me.user,
        status: StatusCode::OK,
        error: None,
    };
    render(&s, &headers, lang, shown)
}

async fn submit_own(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    SignedInForm {
        form,
        lang,
        headers,
        me,
        ..
    }: SignedInForm,
) -> Response {
    if let Err(r) = recent(&me, now) {
        return r;
    }
    let SignedIn { session, user } = me;
    let refused = |status, error| {
        let shown = Shown {
            forced: false,
            req: None,
            user: &user,
            status,
            error: Some(error),
        };
        render(&s, &headers, lang, shown)
    };
    let new = match new_password(&form, lang) {
        Ok(n) => n,
        Err(m) => return refused(StatusCode::BAD_REQUEST, m),
    };
    let current = form.get("current_password").unwrap_or("");
    if current.len() > 1024 {
        return refused(StatusCode::UNAUTHORIZED, text(lang).wrong_current);
    }
    match password_change::change_own(&s.provider, &session, &user, current, new, &meta, now).await
    {
        Ok(_) => {
            s.outbox_wake.notify_one();
            Redirect::to("/account?done=1").into_response()
        }
        Err(ChangeError::NotRecent) => Redirect::to(&reauth_url(None)).into_response(),
        Err(ChangeError::Internal(e)) => {
            internal_page(&s, lang, "/account/password", "password change failed", e)
        }
        Err(e) => {
            let (status, m) = refusal(lang, &e);
            let mut r = refused(status, m);
            if let ChangeError::TooManyAttempts { retry_after } = e
                && let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.max(1).to_string())
            {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            r
        }
    }
}
