//! Pieces the browser flows share (sign-in, second factor, account, password): the answer to an
//! authorization decision, the person behind a pending login or session, and the enrolment
//! pages. Not handlers: handler files import these, never each other.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use tessera_core::mfa::{self, Candidate, FactorError, passkey, totp};
use tessera_core::oidc::authorize::Decision;

use super::errors::{factor_json_error, internal_json, json_error, page};
use super::web::PENDING_COOKIE;
use super::{AppState, web};
use crate::pages::Lang;

pub(super) fn decision_response(decision: Decision) -> Response {
    match decision {
        Decision::Redirect(url) => Redirect::to(&url).into_response(),
        Decision::Login { handle, .. } => {
            Redirect::to(&format!("/login?req={handle}")).into_response()
        }
        Decision::StepUp { handle } => {
            Redirect::to(&format!("/login/factor?req={handle}")).into_response()
        }
        Decision::Consent { handle } => {
            Redirect::to(&format!("/authorize/consent?req={handle}")).into_response()
        }
        Decision::SigningApproval { handle } => {
            Redirect::to(&format!("/authorize/signing?req={handle}")).into_response()
        }
    }
}

pub(super) async fn candidate_of(
    s: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<Candidate>, tessera_core::CoreError> {
    let pending = s.read_cookie(headers, PENDING_COOKIE);
    let session = s.read_cookie(headers, web::SESSION_COOKIE);
    mfa::candidate(&s.provider, pending.as_deref(), session.as_deref(), now).await
}

/// The person behind a script's request (pending login or session), or the JSON answer that
/// refuses it.
pub(super) async fn json_candidate(
    s: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Candidate, Response> {
    json_refusal(candidate_of(s, headers, now).await)
}

/// The signed-in person behind a script's request (a session, not a pending login), or the
/// JSON answer that refuses it.
pub(super) async fn json_signed_in(
    s: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Candidate, Response> {
    let session = s.read_cookie(headers, web::SESSION_COOKIE);
    json_refusal(mfa::candidate(&s.provider, None, session.as_deref(), now).await)
}

#[allow(clippy::result_large_err)] // the error is the response itself, built once
fn json_refusal(
    found: Result<Option<Candidate>, tessera_core::CoreError>,
) -> Result<Candidate, Response> {
    match found {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(json_error(StatusCode::UNAUTHORIZED, "sign in first")),
        Err(e) => Err(internal_json("candidate lookup failed", e)),
    }
}

/// Refuses a passkey "begin" from an address that began too many ceremonies (each stores a
/// challenge); the allowance is counted in the database, across replicas.
pub(super) async fn begin_allowed(
    s: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    now: i64,
) -> Result<(), Response> {
    match passkey::admit_begin(&s.provider, &s.meta(headers, peer), now).await {
        Ok(()) => Ok(()),
        Err(e @ FactorError::TooManyAttempts { retry_after }) => {
            let mut r = factor_json_error(&e);
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
            Err(r)
        }
        Err(e) => Err(factor_json_error(&e)),
    }
}

#[derive(Serialize)]
pub(super) struct TotpView {
    pub qr_svg: String,
    pub secret_base32: String,
}

impl From<totp::Enrolment> for TotpView {
    fn from(e: totp::Enrolment) -> Self {
        TotpView {
            qr_svg: e.qr_svg,
            secret_base32: e.secret_base32,
        }
    }
}

#[derive(Serialize)]
struct CodesView<'a> {
    codes: Vec<String>,
    continue_path: &'a str,
    req: Option<&'a str>,
}

pub(super) fn codes_page(
    s: &AppState,
    lang: Lang,
    codes: Vec<String>,
    continue_path: &str,
    req: Option<&str>,
) -> Response {
    let html = s.pages.strong(
        lang,
        "recovery_codes.html",
        continue_path,
        &CodesView {
            codes,
            continue_path,
            req,
        },
    );
    let mut r = page(StatusCode::OK, html);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}
