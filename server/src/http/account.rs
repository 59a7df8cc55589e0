//! `/account`: the signed-in person's profile, sessions, passkeys, authenticator app,
//! recovery codes and recent sign-ins.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::account;
use tessera_core::mfa::enrol::{self, TotpConfirmed};
use tessera_core::mfa::{
    self, Candidate, FactorError, Gate, Place, Subject, passkey, recovery, totp,
};
use tessera_core::request::RequestMeta;
use tessera_core::signing::remote::RemoteError;
use tessera_core::signing::remote::review;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::errors::{
    error_page, factor_json_error, factor_message, internal_page, json_error, page,
};
use super::extract::{CsrfJson, Meta, Now, SignedIn, SignedInForm};
use super::flow::{TotpView, begin_allowed, codes_page, json_candidate, json_signed_in};
use super::forms::valid_handle;
use super::web::{csrf_cookie, finishing_cookies, landing, when, with_cookies};
use super::{AppState, web};
use crate::pages::{ErrorKind, Lang, SignedOutView, device, events};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/logout", post(sign_out))
        .route("/account/sessions/end", post(end_session))
        .route("/account/passkeys/begin", post(account_passkey_begin))
        .route("/account/passkeys/finish", post(account_passkey_finish))
        .route("/login/enrol/passkey/begin", post(enrol_passkey_begin))
        .route("/login/enrol/passkey/finish", post(enrol_passkey_finish))
        .route("/account/passkeys/rename", post(passkey_rename))
        .route("/account/passkeys/remove", post(passkey_remove))
        .route("/account/totp/begin", post(totp_begin))
        .route("/account/totp/confirm", post(totp_confirm))
        .route("/account/totp/remove", post(totp_remove))
        .route("/account/recovery/regenerate", post(recovery_regenerate))
}

#[derive(Debug, Default, Deserialize)]
struct AccountQuery {
    lang: Option<String>,
    done: Option<String>,
}

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    synced: bool,
    last_used: Option<String>,
}

#[derive(Serialize)]
struct TokenRow {
    serial: String,
    kind: String,
    last_used: Option<String>,
    disabled: bool,
}

#[derive(Serialize)]
struct SessionRow {
    sid: String,
    current: bool,
    /// "Chrome 156 trên Linux"; the raw User-Agent goes in the tooltip.
    device: String,
    user_agent: String,
    source_ip: String,
    created: String,
    last_seen: String,
}

#[derive(Serialize)]
struct HistoryRow {
    /// The stable name, kept in a data attribute for scripts and support calls.
    event: String,
    /// What happened, in the page's language.
    what: String,
    at: String,
    source_ip: String,
    outcome: &'static str,
    failed: bool,
}

/// One of the official's signing requests, as `/account` lists them.
#[derive(Serialize)]
struct SigningRow {
    id: String,
    title: String,
    client_name: String,
    status: String,
    status_text: &'static str,
    at: String,
}

/// The official's most recent signing requests shown on `/account`.
const SIGNING_HISTORY: i64 = 20;

#[derive(Serialize)]
struct AccountView {
    csrf_token: String,
    display_name: String,
    username: String,
    email: Option<String>,
    phone: Option<String>,
    unit: Option<String>,
    roles: Vec<String>,
    level: u8,
    amr: Vec<String>,
    can_manage: bool,
    has_factor: bool,
    passkeys: Vec<PasskeyRow>,
    totp_on: bool,
    totp: Option<TotpView>,
    otp_tokens: Vec<TokenRow>,
    totp_confirm_action: &'static str,
    req: Option<String>,
    recovery_left: i64,
    sessions: Vec<SessionRow>,
    history: Vec<HistoryRow>,
    signing: Vec<SigningRow>,
    done: bool,
    error: Option<&'static str>,
    /// Words of the password section (the change has its own page).
    pw: &'static crate::pages::password::PasswordText,
    /// Wrong second-factor codes counted, and until when the factor is locked.
    factor_lock: Option<FactorLockView>,
}

#[derive(Serialize)]
struct FactorLockView {
    failures: i64,
    locked_until: Option<String>,
}

#[allow(clippy::too_many_arguments)] // the request's parts, read once by the handler
async fn render(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    me: &SignedIn,
    status: StatusCode,
    done: bool,
    error: Option<&'static str>,
    now: i64,
) -> Response {
    match view(s, headers, lang, &me.session, &me.user, done, error, now).await {
        Ok((v, set)) => {
            let html = s.pages.strong(lang, "account.html", "/account", &v);
            with_cookies(page(status, html), &set)
        }
        Err(e) => internal_page(s, lang, "/account", "account page failed", e),
    }
}

#[allow(clippy::too_many_arguments)] // the request's parts, read once by the handler
async fn view(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    session: &SessionRecord,
    user: &User,
    done: bool,
    error: Option<&'static str>,
    now: i64,
) -> Result<(AccountView, Vec<String>), tessera_core::CoreError> {
    let p = &s.provider;
    let o = account::overview(p, session, user, now).await?;
    let passkeys = o
        .passkeys
        .into_iter()
        .map(|c| PasskeyRow {
            id: c.id,
            name: c.name,
            synced: c.backup_eligible,
            last_used: c.last_used_at.map(when),
        })
        .collect();
    let otp_tokens = o
        .otp_tokens
        .into_iter()
        .map(|t| TokenRow {
            serial: t.serial,
            kind: t.kind.to_uppercase(),
            last_used: t.last_used_at.map(when),
            disabled: t.disabled,
        })
        .collect();
    let sessions = o
        .sessions
        .into_iter()
        .map(|(x, current)| SessionRow {
            current,
            sid: x.sid,
            device: device::describe(x.user_agent.as_deref(), lang),
            user_agent: x.user_agent.unwrap_or_default(),
            source_ip: x.source_ip.unwrap_or_default(),
            created: when(x.created_at),
            last_seen: when(x.last_seen_at),
        })
        .collect();
    let history = o
        .history
        .into_iter()
        .map(|e| HistoryRow {
            what: events::phrase(&e.event, lang),
            event: e.event,
            at: when(e.at),
            source_ip: e.source_ip.unwrap_or_default(),
            outcome: events::outcome(&e.outcome, lang),
            failed: e.outcome != "success",
        })
        .collect();
    let words = crate::pages::signing::text(lang);
    let signing = review::history(p, &user.id, SIGNING_HISTORY)
        .await
        .map_err(|e| match e {
            RemoteError::Internal(e) => e,
            other => tessera_core::CoreError::Internal(other.to_string()),
        })?
        .into_iter()
        .map(|h| SigningRow {
            status_text: words.status(&h.request.status),
            at: when(h.request.decided_at.unwrap_or(h.request.created_at)),
            id: h.request.id,
            title: h.request.title,
            client_name: h.client_name,
            status: h.request.status,
        })
        .collect();
    let (csrf, set) = csrf_cookie(s, headers);
    Ok((
        AccountView {
            csrf_token: p.keyed.csrf_token(&csrf),
            display_name: user.display_name.clone(),
            username: user.username.clone(),
            email: user.email.clone(),
            phone: user.phone.clone(),
            unit: o.unit_name,
            roles: user.roles.clone(),
            level: mfa::rank(&session.acr),
            amr: session.amr.clone(),
            can_manage: o.can_manage,
            has_factor: o.enrolled.any(),
            passkeys,
            totp_on: o.enrolled.totp,
            totp: o.pending_totp.map(TotpView::from),
            otp_tokens,
            totp_confirm_action: "/account/totp/confirm",
            req: None,
            recovery_left: o.enrolled.recovery_codes_left,
            sessions,
            history,
            signing,
            done,
            error,
            pw: crate::pages::password::text(lang),
            factor_lock: o.lockout.map(|l| FactorLockView {
                failures: l.failures,
                locked_until: l.locked_until.map(when),
            }),
        },
        set.into_iter().collect(),
    ))
}

async fn show(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
    me: SignedIn,
) -> Response {
    let (lang, set_lang) = web::language(&headers, q.lang.as_deref());
    let r = render(
        &s,
        &headers,
        lang,
        &me,
        StatusCode::OK,
        q.done.is_some(),
        None,
        now,
    )
    .await;
    if set_lang {
        with_cookies(r, &[web::lang_cookie(lang)])
    } else {
        r
    }
}

/// A form of the signed-in person that changes their second factors: refused to a
/// password-only session of someone who has a factor (they step up first) and to a session
/// authenticated long ago (see [`enrol::gate`]).
struct Managing(SignedInForm);

impl FromRequest<AppState> for Managing {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Managing, Response> {
        let f = SignedInForm::from_request(req, s).await?;
        let c = Candidate {
            user: f.me.user.clone(),
            subject: Subject::Session(f.me.session.clone()),
        };
        let again = match enrol::gate(&s.provider, &c, Place::Account, f.now).await {
            Ok(Gate::Allowed) => return Ok(Managing(f)),
            Ok(Gate::StepUpFirst | Gate::HasFactor) => "/login/factor",
            Ok(Gate::SignInAgain | Gate::PasswordChangeFirst) => "/login?reauth=1",
            Err(e) => {
                let path = "/account";
                return Err(internal_page(
                    s,
                    f.lang,
                    path,
                    "enrolled factors lookup failed",
                    e,
                ));
            }
        };
        Err(Redirect::to(again).into_response())
    }
}

fn saved() -> Response {
    Redirect::to("/account?done=1").into_response()
}

fn internal(s: &AppState, lang: Lang, e: impl std::fmt::Display + 'static) -> Response {
    internal_page(s, lang, "/account", "account change failed", e)
}

async fn sign_out(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    f: SignedInForm,
) -> Response {
    let SignedInForm {
        lang,
        me: SignedIn { session, .. },
        ..
    } = f;
    if let Err(e) =
        tessera_core::session::end_session(&s.provider, &session, None, &meta, now).await
    {
        return internal(&s, lang, e);
    }
    s.outbox_wake.notify_one();
    let html = s.pages.signed_out(
        lang,
        &SignedOutView {
            path_and_query: "/login",
        },
    );
    with_cookies(
        page(StatusCode::OK, html),
        &[
            s.set_cookie(web::SESSION_COOKIE, "", 0),
            s.set_cookie(web::PENDING_COOKIE, "", 0),
        ],
    )
}

async fn end_session(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    f: SignedInForm,
) -> Response {
    let SignedInForm {
        form,
        lang,
        me: SignedIn {
            session: current,
            user,
        },
        ..
    } = f;
    let Some(sid) = form.value("sid") else {
        return error_page(&s, lang, "/account", ErrorKind::BadRequest, None);
    };
    match account::end_my_session(&s.provider, &current, &user, sid, &meta, now).await {
        Err(e) => internal(&s, lang, e),
        // Only the person's own sessions can be named here; another sid changes nothing.
        Ok(account::SessionEnded::NotFound) => saved(),
        Ok(account::SessionEnded::Other) => {
            s.outbox_wake.notify_one();
            saved()
        }
        Ok(account::SessionEnded::ThisOne) => {
            s.outbox_wake.notify_one();
            with_cookies(
                Redirect::to("/login").into_response(),
                &[s.set_cookie(web::SESSION_COOKIE, "", 0)],
            )
        }
    }
}

/// The person registering a passkey, from a script's request that passed the CSRF check: on
/// `/account` the signed-in person; during sign-in the pending login or session that has no
/// factor yet. Either way [`enrol::gate`] decides.
async fn registering(
    s: &AppState,
    headers: &HeaderMap,
    place: Place,
    now: i64,
) -> Result<Candidate, Response> {
    let c = match place {
        Place::SignIn => json_candidate(s, headers, now).await?,
        Place::Account => json_signed_in(s, headers, now).await?,
    };
    match enrol::gate(&s.provider, &c, place, now).await {
        Ok(Gate::Allowed) => Ok(c),
        Ok(Gate::HasFactor) => Err(json_error(
            StatusCode::CONFLICT,
            "a second factor is already set up: use it to continue",
        )),
        Ok(Gate::PasswordChangeFirst | Gate::StepUpFirst | Gate::SignInAgain) => Err(json_error(
            StatusCode::FORBIDDEN,
            "sign in again (with your second factor, if you have one) before changing sign-in methods",
        )),
        Err(e) => Err(factor_json_error(&FactorError::Internal(e))),
    }
}

async fn passkey_begin(
    s: AppState,
    peer: SocketAddr,
    headers: HeaderMap,
    place: Place,
    now: i64,
) -> Response {
    if let Err(r) = begin_allowed(&s, &headers, peer, now).await {
        return r;
    }
    let c = match registering(&s, &headers, place, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match passkey::begin_registration(&s.provider, &c.user, now).await {
        Ok((ceremony, options)) => {
            axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(e) => factor_json_error(&FactorError::Internal(e)),
    }
}

async fn passkey_finish(
    s: AppState,
    meta: RequestMeta,
    CsrfJson { form, headers }: CsrfJson,
    place: Place,
    now: i64,
) -> Response {
    let c = match registering(&s, &headers, place, now).await {
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
    let name = form.get("name").unwrap_or("");
    let session_cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
    let added = enrol::enrol_passkey_finish(
        &s.provider,
        c,
        ceremony,
        name,
        credential,
        place,
        session_cookie.as_deref(),
        &meta,
        now,
    );
    let new_cookie = match added.await {
        Ok(added) => added.cookie,
        Err(e) => return factor_json_error(&e),
    };
    if place == Place::Account {
        return axum::Json(json!({ "redirect": "/account?done=1" })).into_response();
    }
    let req = form.value("req").filter(|r| valid_handle(r));
    with_cookies(
        axum::Json(json!({ "redirect": landing(&s, &headers, req) })).into_response(),
        &finishing_cookies(&s, new_cookie.as_deref()),
    )
}

async fn account_passkey_begin(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    CsrfJson { headers, .. }: CsrfJson,
) -> Response {
    passkey_begin(s, peer, headers, Place::Account, now).await
}

async fn account_passkey_finish(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    form: CsrfJson,
) -> Response {
    passkey_finish(s, meta, form, Place::Account, now).await
}

async fn enrol_passkey_begin(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    CsrfJson { headers, .. }: CsrfJson,
) -> Response {
    passkey_begin(s, peer, headers, Place::SignIn, now).await
}

async fn enrol_passkey_finish(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    form: CsrfJson,
) -> Response {
    passkey_finish(s, meta, form, Place::SignIn, now).await
}

async fn passkey_rename(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Managing(SignedInForm {
        form,
        lang,
        me: SignedIn { user, .. },
        ..
    }): Managing,
) -> Response {
    let (Some(id), Some(name)) = (form.value("id"), form.value("name")) else {
        return error_page(&s, lang, "/account", ErrorKind::BadRequest, None);
    };
    match passkey::rename(&s.provider, &user, id, name, &meta, now).await {
        Ok(_) => saved(),
        Err(e) => internal(&s, lang, e),
    }
}

async fn passkey_remove(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Managing(SignedInForm {
        form,
        lang,
        me: SignedIn { user, .. },
        ..
    }): Managing,
) -> Response {
    let Some(id) = form.value("id") else {
        return error_page(&s, lang, "/account", ErrorKind::BadRequest, None);
    };
    match passkey::remove(&s.provider, &user, id, &meta, now).await {
        Ok(_) => saved(),
        Err(e) => internal(&s, lang, e),
    }
}

async fn totp_begin(
    State(s): State<AppState>,
    Now(now): Now,
    Managing(SignedInForm {
        lang,
        me: SignedIn { session, user },
        ..
    }): Managing,
) -> Response {
    match totp::begin(&s.provider, &user, &session.id, now).await {
        Ok(_) => Redirect::to("/account#totp").into_response(),
        Err(tessera_core::CoreError::Conflict(_)) => saved(),
        Err(e) => internal(&s, lang, e),
    }
}

async fn totp_confirm(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Managing(SignedInForm {
        form,
        lang,
        headers,
        me,
        ..
    }): Managing,
) -> Response {
    let code = form.get("code").unwrap_or("");
    let c = Candidate {
        user: me.user.clone(),
        subject: Subject::Session(me.session.clone()),
    };
    let confirmed =
        enrol::enrol_totp_confirm(&s.provider, c, code, Place::Account, None, &meta, now);
    match confirmed.await {
        Ok(TotpConfirmed::Done {
            recovery_codes: Some(codes),
            ..
        }) => codes_page(&s, lang, codes, "/account", None),
        Ok(TotpConfirmed::Done { .. } | TotpConfirmed::Expired) => saved(),
        Ok(TotpConfirmed::Refused(e)) => {
            render(
                &s,
                &headers,
                lang,
                &me,
                StatusCode::BAD_REQUEST,
                false,
                Some(factor_message(lang, &e)),
                now,
            )
            .await
        }
        Err(e) => internal(&s, lang, e),
    }
}

async fn totp_remove(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Managing(SignedInForm {
        lang,
        me: SignedIn { user, .. },
        ..
    }): Managing,
) -> Response {
    match totp::remove(&s.provider, &user, &meta, now).await {
        Ok(_) => saved(),
        Err(e) => internal(&s, lang, e),
    }
}

async fn recovery_regenerate(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Managing(SignedInForm {
        lang,
        me: SignedIn { user, .. },
        ..
    }): Managing,
) -> Response {
    match recovery::regenerate(&s.provider, &user, &meta, now).await {
        Ok(codes) => codes_page(&s, lang, codes, "/account", None),
        Err(tessera_core::CoreError::Conflict(m)) => {
            error_page(&s, lang, "/account", ErrorKind::BadRequest, Some(&m))
        }
        Err(e) => internal(&s, lang, e),
    }
}
