//! Setting up second factors: who may, and the steps of an authenticator-app or passkey
//! enrolment, during a sign-in (a first factor a policy demands) or on the person's account.

use tessera_store::mfa::WebauthnCredential;

use super::prove::into_core;
use super::{Candidate, FactorError, Subject, enrolled, may_manage, passkey, recovery, totp};
use crate::request::RequestMeta;
use crate::session::Factor;
use crate::{CoreError, Provider};

/// Where a factor is being set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// During a sign-in, by someone without any second factor.
    SignIn,
    /// On the person's account page, by the signed-in person.
    Account,
}

/// Whether a person may set up (or, on the account, change) second factors now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Allowed,
    /// A password set by an administrator is changed first (see `password_change`).
    PasswordChangeFirst,
    /// During a sign-in: the person has a factor already and proves it instead.
    HasFactor,
    /// On the account: the person has a factor and proves it first (a step-up).
    StepUpFirst,
    /// The authentication is too old: the person signs in again first.
    SignInAgain,
}

/// A sign-in with a password set by an administrator: it is changed before anything else.
pub fn must_change_first(c: &Candidate) -> bool {
    c.user.password_must_change && matches!(c.subject, Subject::Pending(_))
}

/// The gate for setting up a factor at `place` (see [`may_manage`] for the rule).
pub async fn gate(p: &Provider, c: &Candidate, place: Place, now: i64) -> Result<Gate, CoreError> {
    if place == Place::SignIn && must_change_first(c) {
        return Ok(Gate::PasswordChangeFirst);
    }
    let has = enrolled(p, &c.user.id).await?.any();
    Ok(match place {
        Place::SignIn if has => Gate::HasFactor,
        _ if may_manage(c, has, now) => Gate::Allowed,
        Place::Account if has => Gate::StepUpFirst,
        _ => Gate::SignInAgain,
    })
}

/// After a first factor was enrolled during a sign-in: a pending login completes with it
/// (the password was just given and the new factor is now proven). A session does not: the
/// request resumes, asks for the factor like any step-up, and only then raises the level.
/// Returns the new session cookie, if one was started.
pub async fn complete_sign_in(
    p: &Provider,
    c: Candidate,
    factor: Factor,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Option<String>, FactorError> {
    if !matches!(c.subject, Subject::Pending(_)) {
        return Ok(None);
    }
    let (cookie, _) = super::complete(p, c, factor, session_cookie, meta, now).await?;
    Ok(cookie)
}

/// Starts an authenticator-app enrolment (see [`totp::begin`]), named by the pending login or
/// session of `c`.
pub async fn enrol_totp_begin(
    p: &Provider,
    c: &Candidate,
    now: i64,
) -> Result<totp::Enrolment, CoreError> {
    totp::begin(p, &c.user, c.id(), now).await
}

/// The answer to the confirming code of an authenticator-app enrolment.
#[derive(Debug)]
pub enum TotpConfirmed {
    /// Set up. During a sign-in the login completed with it (`cookie`, when a session
    /// started). `recovery_codes` are new codes to show once: always after a sign-in
    /// enrolment, and on the account when the person had none.
    Done {
        cookie: Option<String>,
        recovery_codes: Option<Vec<String>>,
    },
    /// The code was refused; the person may try again.
    Refused(FactorError),
    /// The pending login expired meanwhile: the sign-in starts again.
    Expired,
}

/// Confirms an authenticator-app enrolment begun by `c` with a code of the app.
pub async fn enrol_totp_confirm(
    p: &Provider,
    c: Candidate,
    code: &str,
    place: Place,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<TotpConfirmed, CoreError> {
    match totp::confirm(p, &c.user, code, c.id(), meta, now).await {
        Ok(()) => {}
        Err(FactorError::Internal(e)) => return Err(e),
        Err(e) => return Ok(TotpConfirmed::Refused(e)),
    }
    let user = c.user.clone();
    let cookie = match place {
        Place::SignIn => {
            match complete_sign_in(p, c, Factor::Totp, session_cookie, meta, now).await {
                Ok(cookie) => cookie,
                Err(FactorError::Expired) => return Ok(TotpConfirmed::Expired),
                Err(e) => return Err(into_core(e)),
            }
        }
        Place::Account => None,
    };
    // The first factor of an account comes with recovery codes.
    let fresh = match place {
        Place::SignIn => true,
        Place::Account => p.store.recovery_codes_left(&user.id).await? == 0,
    };
    let recovery_codes = if fresh {
        Some(recovery::regenerate(p, &user, meta, now).await?)
    } else {
        None
    };
    Ok(TotpConfirmed::Done {
        cookie,
        recovery_codes,
    })
}

/// A passkey registered.
#[derive(Debug)]
pub struct PasskeyAdded {
    pub credential: WebauthnCredential,
    /// During a sign-in, the new session cookie when the login completed with it.
    pub cookie: Option<String>,
}

/// Finishes a passkey registration begun with [`passkey::begin_registration`] and, during a
/// sign-in, completes the login with it.
#[allow(clippy::too_many_arguments)] // the browser's answer and the request's parts
pub async fn enrol_passkey_finish(
    p: &Provider,
    c: Candidate,
    ceremony: &str,
    name: &str,
    credential: &str,
    place: Place,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<PasskeyAdded, FactorError> {
    let record =
        passkey::finish_registration(p, &c.user, ceremony, name, credential, meta, now).await?;
    let cookie = match place {
        Place::SignIn => {
            let factor = Factor::Passkey {
                synced: record.backup_eligible,
            };
            complete_sign_in(p, c, factor, session_cookie, meta, now).await?
        }
        Place::Account => None,
    };
    Ok(PasskeyAdded {
        credential: record,
        cookie,
    })
}
