//! Proving a second factor now: the step a sign-in, a step-up, or any page that wants a fresh
//! proof (such as approving a signature) goes through. The rule that a pending login ends after
//! [`MAX_PENDING_FAILURES`](super::MAX_PENDING_FAILURES) wrong factors lives here, not in the
//! pages.

use tessera_store::sessions::SessionRecord;

use super::{Candidate, FactorError, code, note_failure, passkey, recovery};
use crate::request::RequestMeta;
use crate::session::Factor;
use crate::{CoreError, Provider};

/// What the person offers as a second factor.
#[derive(Clone, Copy, Debug)]
pub enum FactorInput<'a> {
    /// A one-time code: of the authenticator app (RFC 6238) or of a hardware OTP token
    /// (RFC 4226, RFC 6238).
    Totp(&'a str),
    /// One of the person's recovery codes.
    Recovery(&'a str),
    /// The browser's answer to a passkey ceremony begun with
    /// [`passkey::begin_authentication`] (WebAuthn Level 3 §7.2).
    Passkey {
        ceremony: &'a str,
        credential: &'a str,
    },
}

/// The answer to a proof.
#[derive(Debug)]
pub enum Proof {
    /// The factor is proven.
    Proven(Factor),
    /// Refused; the person may try again.
    Refused(FactorError),
    /// Refused, and it was one wrong factor too many: the pending login ended, so the sign-in
    /// starts again with the password (under the password's own throttle).
    StartAgain(FactorError),
}

/// Checks a second factor of `c` now: throttled, audited, and counted against a pending
/// login. A wrong code of any kind counts; a passkey counts only when its assertion was wrong
/// (not when the ceremony or the answer was unusable).
pub async fn prove_now(
    p: &Provider,
    c: &Candidate,
    input: FactorInput<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Proof, CoreError> {
    let checked = match input {
        FactorInput::Totp(code) => code::verify(p, &c.user, code, meta, now).await,
        FactorInput::Recovery(code) => recovery::verify(p, &c.user, code, meta, now)
            .await
            .map(|()| Factor::RecoveryCode),
        FactorInput::Passkey {
            ceremony,
            credential,
        } => passkey::finish_authentication(p, &c.user, ceremony, credential, meta, now).await,
    };
    let e = match checked {
        Ok(factor) => return Ok(Proof::Proven(factor)),
        Err(FactorError::Internal(e)) => return Err(e),
        Err(e) => e,
    };
    let counts = match input {
        FactorInput::Passkey { .. } => matches!(e, FactorError::Invalid),
        _ => true,
    };
    if counts && note_failure(p, c).await? {
        return Ok(Proof::StartAgain(e));
    }
    Ok(Proof::Refused(e))
}

/// The answer to a second factor submitted to finish a sign-in or a step-up.
#[derive(Debug)]
pub enum Submitted {
    /// Signed in (or stepped up): the new session cookie to set, and the session.
    Done {
        cookie: Option<String>,
        session: SessionRecord,
    },
    /// Refused; the person may try again.
    Refused(FactorError),
    /// The sign-in starts again with the password: too many wrong factors
    /// ([`Proof::StartAgain`], carrying the refusal), or the pending login expired meanwhile.
    StartAgain(Option<FactorError>),
    /// A password set by an administrator is changed first.
    PasswordChangeRequired,
}

/// Proves a factor ([`prove_now`]) and, when it is right, completes the login or step-up
/// ([`super::complete`]).
pub async fn submit_factor(
    p: &Provider,
    c: Candidate,
    input: FactorInput<'_>,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Submitted, CoreError> {
    let factor = match prove_now(p, &c, input, meta, now).await? {
        Proof::Proven(f) => f,
        Proof::Refused(e) => return Ok(Submitted::Refused(e)),
        Proof::StartAgain(e) => return Ok(Submitted::StartAgain(Some(e))),
    };
    match super::complete(p, c, factor, session_cookie, meta, now).await {
        Ok((cookie, session)) => Ok(Submitted::Done { cookie, session }),
        Err(FactorError::Expired) => Ok(Submitted::StartAgain(None)),
        Err(FactorError::PasswordChangeRequired) => Ok(Submitted::PasswordChangeRequired),
        Err(e) => Err(into_core(e)),
    }
}

/// A factor error that can only be internal at this point.
pub(crate) fn into_core(e: FactorError) -> CoreError {
    match e {
        FactorError::Internal(e) => e,
        e => CoreError::Internal(e.to_string()),
    }
}
