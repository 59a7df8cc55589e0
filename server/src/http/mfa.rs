//! The second step of a sign-in: proving a second factor (a one-time code of the authenticator
//! app or of a hardware token, a recovery code, a passkey), enrolling one when a policy demands
//! it, signing in with a passkey alone, and resuming the application's request afterwards.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;
use tessera_core::audit::Event;
use tessera_core::mfa::enrol::{self, TotpConfirmed};
use tessera_core::mfa::{
    self, Candidate, FactorError, FactorInput, Gate, Place, Submitted, passkey, totp,
};
use tessera_core::oidc::authorize;
use tessera_core::session;

use super::errors::{
    authorize_error, error_page, factor_json_error, factor_message, factor_status, internal_json,
    internal_page, json_error, page,
};
use super::extract::{CsrfForm, CsrfJson, Meta, Now, Pending, SignedIn};
use super::flow::{
    TotpView, begin_allowed, candidate_of, codes_page, decision_response, json_candidate,
};
use super::forms::valid_handle;
use super::web::{
    ReqQuery, csrf_cookie, finishing_cookies, landing, reauth_url, with_cookies, with_req,
};
use super::{AppState, web};
use crate::pages::{ErrorKind, Lang};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/factor", get(show_factor).post(submit_factor))
        .route("/login/factor/passkey/begin", post(factor_passkey_begin))
        .route("/login/factor/passkey/finish", post(factor_passkey_finish))
        .route("/login/passkey/begin", post(passkey_login_begin))
        .route("/login/passkey/finish", post(passkey_login_finish))
        .route("/login/enrol", get(show_enrol))
        .route("/login/enrol/totp", post(enrol_totp_begin))
        .route("/login/enrol/totp/confirm", post(enrol_totp_confirm))
        .route("/login/continue", get(continue_flow))
}

fn req_of(q: Option<&str>) -> Option<&str> {
    q.filter(|r| valid_handle(r))
}

fn login_url(req: Option<&str>) -> String {
    with_req("/login", req)
}

#[derive(Serialize)]
struct FactorView<'a> {
    req: Option<&'a str>,
    csrf_token: String,
    display_name: &'a str,
    username: &'a str,
    has_passkey: bool,
    has_totp: bool,
    has_token: bool,
    recovery_left: i64,
    error: Option<&'static str>,
}

async fn render_factor(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: Option<&str>,
    c: &Candidate,
    status: StatusCode,
    error: Option<&'static str>,
) -> Response {
    if enrol::must_change_first(c) {
        return Redirect::to(&web::forced_url(req)).into_response();
    }
    let enrolled = match mfa::enrolled(&s.provider, &c.user.id).await {
        Ok(e) => e,
        Err(e) => {
            return internal_page(
                s,
                lang,
                "/login/factor",
                "enrolled factors lookup failed",
                e,
            );
        }
    };
    if !enrolled.any() {
        return Redirect::to(&with_req("/login/enrol", req)).into_response();
    }
    let (csrf, set) = csrf_cookie(s, headers);
    let path = with_req("/login/factor", req);
    let html = s.pages.strong(
        lang,
        "factor.html",
        &path,
        &FactorView {
            req,
            csrf_token: s.provider.keyed.csrf_token(&csrf),
            display_name: &c.user.display_name,
            username: &c.user.username,
            has_passkey: enrolled.passkeys > 0,
            has_totp: enrolled.totp,
            has_token: enrolled.otp_tokens > 0,
            recovery_left: enrolled.recovery_codes_left,
            error,
        },
    );
    with_cookies(page(status, html), &set.into_iter().collect::<Vec<_>>())
}

async fn show_factor(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ReqQuery>,
    Pending(c): Pending,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let req = req_of(q.req.as_deref());
    match c {
        Some(c) => render_factor(&s, &headers, lang, req, &c, StatusCode::OK, None).await,
        None => Redirect::to(&login_url(req)).into_response(),
    }
}

async fn submit_factor(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    CsrfForm {
        form,
        lang,
        headers,
    }: CsrfForm,
) -> Response {
    let req = req_of(form.value("req"));
    let c = match candidate_of(&s, &headers, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to(&login_url(req)).into_response(),
        Err(e) => {
            return internal_page(&s, lang, "/login/factor", "candidate lookup failed", e);
        }
    };
    let code = form.get("code").unwrap_or("");
    if code.len() > 64 {
        return error_page(&s, lang, "/login/factor", ErrorKind::BadRequest, None);
    }
    let input = match form.get("method") {
        Some("totp") => FactorInput::Totp(code),
        Some("recovery") => FactorInput::Recovery(code),
        _ => return error_page(&s, lang, "/login/factor", ErrorKind::BadRequest, None),
    };
    let session_cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
    let submitted = mfa::submit_factor(
        &s.provider,
        c.clone(),
        input,
        session_cookie.as_deref(),
        &meta,
        now,
    );
    match submitted.await {
        Ok(Submitted::Done { cookie, .. }) => with_cookies(
            Redirect::to(&landing(&s, &headers, req)).into_response(),
            &finishing_cookies(&s, cookie.as_deref()),
        ),
        Ok(Submitted::Refused(e)) => {
            let status = factor_status(&e);
            let msg = factor_message(lang, &e);
            render_factor(&s, &headers, lang, req, &c, status, Some(msg)).await
        }
        // Too many wrong codes, or the sign-in step expired: the password is asked again.
        Ok(Submitted::StartAgain(_)) => Redirect::to(&login_url(req)).into_response(),
        Ok(Submitted::PasswordChangeRequired) => {
            Redirect::to(&web::forced_url(req)).into_response()
        }
        Err(e) => internal_page(&s, lang, "/login/factor", "second factor check failed", e),
    }
}

fn ceremony_json(ceremony: String, options: serde_json::Value) -> Response {
    axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response()
}

async fn factor_passkey_begin(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    CsrfJson { headers, .. }: CsrfJson,
) -> Response {
    if let Err(r) = begin_allowed(&s, &headers, peer, now).await {
        return r;
    }
    let c = match json_candidate(&s, &headers, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match passkey::begin_authentication(&s.provider, &c.user, now).await {
        Ok((ceremony, options)) => ceremony_json(ceremony, options),
        Err(e) => factor_json_error(&e),
    }
}

async fn factor_passkey_finish(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    CsrfJson { form, headers }: CsrfJson,
) -> Response {
    let req = req_of(form.value("req"));
    let c = match json_candidate(&s, &headers, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (Some(ceremony), Some(credential)) = (form.value("ceremony"), form.value("credential"))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "ceremony and credential are required",
        );
    };
    let input = FactorInput::Passkey {
        ceremony,
        credential,
    };
    let session_cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
    match mfa::submit_factor(&s.provider, c, input, session_cookie.as_deref(), &meta, now).await {
        Ok(Submitted::Done { cookie, .. }) => with_cookies(
            axum::Json(json!({ "redirect": landing(&s, &headers, req) })).into_response(),
            &finishing_cookies(&s, cookie.as_deref()),
        ),
        Ok(Submitted::Refused(e) | Submitted::StartAgain(Some(e))) => factor_json_error(&e),
        Ok(Submitted::StartAgain(None)) => factor_json_error(&FactorError::Expired),
        Ok(Submitted::PasswordChangeRequired) => {
            factor_json_error(&FactorError::PasswordChangeRequired)
        }
        Err(e) => factor_json_error(&FactorError::Internal(e)),
    }
}

async fn passkey_login_begin(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    CsrfJson { headers, .. }: CsrfJson,
) -> Response {
    if let Err(r) = begin_allowed(&s, &headers, peer, now).await {
        return r;
    }
    match passkey::begin_discoverable(&s.provider, now).await {
        Ok((ceremony, options)) => ceremony_json(ceremony, options),
        Err(e) => factor_json_error(&FactorError::Internal(e)),
    }
}

async fn passkey_login_finish(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    CsrfJson { form, headers }: CsrfJson,
) -> Response {
    let req = req_of(form.value("req"));
    let (Some(ceremony), Some(credential)) = (form.value("ceremony"), form.value("credential"))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "ceremony and credential are required",
        );
    };
    let (user, authn) =
        match passkey::finish_discoverable(&s.provider, ceremony, credential, &meta, now).await {
            Ok(v) => v,
            Err(e) => return factor_json_error(&e),
        };
    let previous = s.read_cookie(&headers, web::SESSION_COOKIE);
    let started =
        session::start_session_with(&s.provider, &user, &authn, previous.as_deref(), &meta, now)
            .await;
    let (cookie, session) = match started {
        Ok(v) => v,
        Err(e) => {
            return internal_json("cannot start session", e);
        }
    };
    if let Err(e) = s
        .provider
        .audit(
            Event::LoginSuccess
                .at(now)
                .actor(&user.id)
                .meta(&meta)
                .detail(json!({ "amr": session.amr, "acr": session.acr, "sid": session.sid })),
        )
        .await
    {
        return internal_json("audit failed", e);
    }
    with_cookies(
        axum::Json(json!({ "redirect": landing(&s, &headers, req) })).into_response(),
        &finishing_cookies(&s, Some(&cookie)),
    )
}

#[derive(Serialize)]
struct EnrolView<'a> {
    req: Option<&'a str>,
    csrf_token: String,
    display_name: &'a str,
    username: &'a str,
    totp: Option<TotpView>,
    totp_confirm_action: &'static str,
    error: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)] // the request's parts, read once by the handler
async fn render_enrol(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: Option<&str>,
    c: &Candidate,
    status: StatusCode,
    error: Option<&'static str>,
    now: i64,
) -> Response {
    let pending = match totp::pending_enrolment(&s.provider, &c.user, c.id(), now).await {
        Ok(p) => p,
        Err(e) => {
            return internal_page(s, lang, "/login/enrol", "TOTP enrolment lookup failed", e);
        }
    };
    let (csrf, set) = csrf_cookie(s, headers);
    let path = with_req("/login/enrol", req);
    let html = s.pages.strong(
        lang,
        "enrol.html",
        &path,
        &EnrolView {
            req,
            csrf_token: s.provider.keyed.csrf_token(&csrf),
            display_name: &c.user.display_name,
            username: &c.user.username,
            totp: pending.map(TotpView::from),
            totp_confirm_action: "/login/enrol/totp/confirm",
            error,
        },
    );
    with_cookies(page(status, html), &set.into_iter().collect::<Vec<_>>())
}

/// The candidate of an enrolment step: only someone without any second factor enrols while
/// signing in (someone with one proves it instead).
async fn enrolling(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: Option<&str>,
    now: i64,
) -> Result<Candidate, Response> {
    let c = match candidate_of(s, headers, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Redirect::to(&login_url(req)).into_response()),
        Err(e) => {
            return Err(internal_page(
                s,
                lang,
                "/login/enrol",
                "candidate lookup failed",
                e,
            ));
        }
    };
    match mfa::enrol::gate(&s.provider, &c, Place::SignIn, now).await {
        Ok(Gate::Allowed) => Ok(c),
        Ok(Gate::PasswordChangeFirst) => Err(Redirect::to(&web::forced_url(req)).into_response()),
        Ok(Gate::HasFactor | Gate::StepUpFirst) => {
            Err(Redirect::to(&with_req("/login/factor", req)).into_response())
        }
        // A session authenticated long ago signs in again before enrolling.
        Ok(Gate::SignInAgain) => Err(Redirect::to(&reauth_url(req)).into_response()),
        Err(e) => Err(internal_page(
            s,
            lang,
            "/login/enrol",
            "enrolled factors lookup failed",
            e,
        )),
    }
}

async fn show_enrol(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<ReqQuery>,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let req = req_of(q.req.as_deref());
    match enrolling(&s, &headers, lang, req, now).await {
        Ok(c) => render_enrol(&s, &headers, lang, req, &c, StatusCode::OK, None, now).await,
        Err(r) => r,
    }
}

async fn enrol_totp_begin(
    State(s): State<AppState>,
    Now(now): Now,
    CsrfForm {
        form,
        lang,
        headers,
    }: CsrfForm,
) -> Response {
    let req = req_of(form.value("req"));
    let c = match enrolling(&s, &headers, lang, req, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(e) = enrol::enrol_totp_begin(&s.provider, &c, now).await {
        return internal_page(&s, lang, "/login/enrol", "TOTP enrolment failed", e);
    }
    Redirect::to(&format!("{}#totp", with_req("/login/enrol", req))).into_response()
}

async fn enrol_totp_confirm(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    CsrfForm {
        form,
        lang,
        headers,
    }: CsrfForm,
) -> Response {
    let req = req_of(form.value("req"));
    let c = match enrolling(&s, &headers, lang, req, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let code = form.get("code").unwrap_or("");
    let session_cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
    let confirmed = enrol::enrol_totp_confirm(
        &s.provider,
        c.clone(),
        code,
        Place::SignIn,
        session_cookie.as_deref(),
        &meta,
        now,
    );
    let (new_cookie, codes) = match confirmed.await {
        Ok(TotpConfirmed::Done {
            cookie,
            recovery_codes,
        }) => (cookie, recovery_codes.unwrap_or_default()),
        Ok(TotpConfirmed::Refused(e)) => {
            let msg = factor_message(lang, &e);
            let status = factor_status(&e);
            return render_enrol(&s, &headers, lang, req, &c, status, Some(msg), now).await;
        }
        Ok(TotpConfirmed::Expired) => return Redirect::to(&login_url(req)).into_response(),
        Err(e) => {
            return internal_page(&s, lang, "/login/enrol", "TOTP enrolment failed", e);
        }
    };
    let target = if req.is_some() {
        "/login/continue".to_owned()
    } else {
        landing(&s, &headers, None)
    };
    with_cookies(
        codes_page(&s, lang, codes, &target, req),
        &finishing_cookies(&s, new_cookie.as_deref()),
    )
}

/// Resumes the application's request once the session is at its level (a GET, like
/// `/authorize` with a session: it only ever redirects to the client's registered URI).
async fn continue_flow(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    Query(q): Query<ReqQuery>,
    me: Option<SignedIn>,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let Some(req) = req_of(q.req.as_deref()) else {
        return Redirect::to("/account").into_response();
    };
    let Some(me) = me else {
        return Redirect::to(&login_url(Some(req))).into_response();
    };
    let path = format!("/login/continue?req={req}");
    match authorize::resume(&s.provider, req, &me.session, &me.user, &meta, now).await {
        Ok(d) => decision_response(d),
        Err(e) => authorize_error(&s, lang, &path, e),
    }
}
