//! Strong authentication: second factors, levels of assurance and step-up.
//!
//! A login reaches a level of assurance (`acr`) through the methods it used (`amr`, RFC 8176):
//! a password alone is level 1; a password with a second factor, or a passkey with user
//! verification, is level 2. When a login or an existing session is below the level a request
//! needs, the person proves a second factor (or enrols one) and the request resumes.

pub mod code;
pub mod enrol;
pub mod otp;
pub mod otp_token;
pub mod passkey;
pub mod policy;
pub mod prove;
pub mod recovery;
pub mod relying_party;
pub mod seed_file;
pub mod totp;

pub use enrol::{Gate, Place};
pub use prove::{FactorInput, Proof, Submitted, prove_now, submit_factor};

use serde_json::json;
use tessera_store::mfa::PendingLogin;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::{User, UserStatus};

use crate::audit::Event;
use crate::request::RequestMeta;
use crate::secrets::{random_token, sha256_hex};
use crate::session::{Authn, Factor};
use crate::{CoreError, Provider, acr};

/// How long a login may wait between its first and second factor.
pub const PENDING_TTL: i64 = 300;
/// Wrong codes an account may try before its second factor locks.
pub const FACTOR_FREE_FAILURES: i64 = 5;
/// The count of wrong codes is kept until a success and forgets one per 12 minutes, and a
/// locked factor takes one attempt per forgotten failure: at most 5 + 60/12 = 10 codes are
/// tried in any hour (the fixed 15-minute window allowed about 36).
pub const FACTOR_DECAY_SECS: i64 = 12 * 60;
/// Wrong second factors after which a pending login ends (the password is asked again, under
/// the password's own throttle).
pub const MAX_PENDING_FAILURES: i32 = 3;
/// Second factors are changed only in a session authenticated this recently.
pub const RECENT_AUTH: i64 = 900;

/// Position of a level in the order of assurance; unknown values rank below every level.
pub fn rank(acr_value: &str) -> u8 {
    match acr_value {
        acr::LOA1 => 1,
        acr::LOA2 => 2,
        _ => 0,
    }
}

/// The higher of two levels.
pub fn max_level<'a>(a: &'a str, b: &'a str) -> &'a str {
    if rank(b) > rank(a) { b } else { a }
}

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("the code or key was not accepted")]
    Invalid,
    #[error("too many attempts; retry in {retry_after} s")]
    TooManyAttempts { retry_after: i64 },
    #[error("no such factor is enrolled")]
    NotEnrolled,
    #[error("the sign-in step expired; start again")]
    Expired,
    #[error("the password set by an administrator must be changed first")]
    PasswordChangeRequired,
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for FactorError {
    fn from(e: tessera_store::StoreError) -> Self {
        FactorError::Internal(e.into())
    }
}

/// What second factors a person has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub passkeys: usize,
    pub totp: bool,
    /// Hardware OTP tokens that are not disabled.
    pub otp_tokens: i64,
    pub recovery_codes_left: i64,
}

impl Enrolled {
    /// Whether the person can prove a second factor (recovery codes back up the others).
    pub fn any(&self) -> bool {
        self.passkeys > 0 || self.totp || self.otp_tokens > 0
    }
}

pub async fn enrolled(p: &Provider, user_id: &str) -> Result<Enrolled, CoreError> {
    Ok(Enrolled {
        passkeys: p.store.webauthn_credentials(user_id).await?.len(),
        totp: p.store.totp(user_id).await?.is_some_and(|t| t.confirmed),
        otp_tokens: p.store.enabled_otp_tokens(user_id).await?,
        recovery_codes_left: p.store.recovery_codes_left(user_id).await?,
    })
}

/// The counter of wrong codes an account has tried (authenticator app, hardware tokens and
/// recovery codes together, so that they cannot be played against each other).
pub(crate) fn factor_key(user_id: &str) -> String {
    format!("factor:{user_id}")
}

/// Counts an attempt at a code before it is checked (as for passwords, so concurrent guesses
/// cannot slip under the limit) and refuses it while the second factor is locked. Returns the
/// count including this attempt; a success clears it.
pub(crate) async fn admit_attempt(
    p: &Provider,
    user_id: &str,
    now: i64,
) -> Result<i64, FactorError> {
    let key = factor_key(user_id);
    match p
        .store
        .admit_within(&key, now, FACTOR_FREE_FAILURES, FACTOR_DECAY_SECS)
        .await?
    {
        Some(count) => Ok(count),
        None => {
            let until = lockout(p, user_id, now)
                .await?
                .and_then(|l| l.locked_until)
                .unwrap_or(now + 1);
            Err(FactorError::TooManyAttempts {
                retry_after: (until - now).max(1),
            })
        }
    }
}

/// Wrong codes an account has tried and, when they reach the limit, until when its second
/// factor is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Lockout {
    pub failures: i64,
    pub locked_until: Option<i64>,
}

/// The account's second-factor lockout; `None` when it has no wrong codes counted.
pub async fn lockout(p: &Provider, user_id: &str, now: i64) -> Result<Option<Lockout>, CoreError> {
    let Some(state) = p.store.throttle_state(&factor_key(user_id)).await? else {
        return Ok(None);
    };
    let failures = state.decayed(now, FACTOR_DECAY_SECS);
    Ok((failures > 0).then(|| Lockout {
        failures,
        locked_until: state.below_at(now, FACTOR_FREE_FAILURES, FACTOR_DECAY_SECS),
    }))
}

/// What an unlock cleared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unlocked {
    pub second_factor: bool,
    pub password: bool,
}

/// Clears an account's counts of wrong second factors and wrong passwords (an administrator
/// who has checked with the person; the caller audits it).
pub async fn unlock(p: &Provider, user: &User) -> Result<Unlocked, CoreError> {
    Ok(Unlocked {
        second_factor: p.store.clear_failures(&factor_key(&user.id)).await?,
        password: p
            .store
            .clear_failures(&format!("user:{}", user.username))
            .await?,
    })
}

/// Audits a wrong code that was counted, and the lockout it started when it used the last free
/// attempt.
pub(crate) async fn audit_wrong_code(
    p: &Provider,
    user_id: &str,
    factor: &str,
    reason: &str,
    count: i64,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CoreError> {
    audit_failure(p, user_id, factor, reason, meta, now).await?;
    if count >= FACTOR_FREE_FAILURES {
        p.audit(
            Event::MfaLocked
                .at(now)
                .actor(user_id)
                .meta(meta)
                .detail(json!({ "failures": count, "locked_until": now + FACTOR_DECAY_SECS })),
        )
        .await?;
    }
    Ok(())
}

/// Audits a refused factor.
pub(crate) async fn audit_failure(
    p: &Provider,
    user_id: &str,
    factor: &str,
    reason: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CoreError> {
    p.audit(failure_record(user_id, factor, reason, meta, now))
        .await
}

/// The `mfa.failure` entry of a refused factor.
pub(crate) fn failure_record(
    user_id: &str,
    factor: &str,
    reason: &str,
    meta: &RequestMeta,
    now: i64,
) -> crate::audit::Record {
    Event::MfaFailure
        .at(now)
        .actor(user_id)
        .meta(meta)
        .detail(json!({ "factor": factor, "reason": reason }))
}

/// Who is proving a second factor: someone half-way through a login, or the owner of a live
/// session stepping up.
#[derive(Clone, Debug)]
pub enum Subject {
    Pending(PendingLogin),
    Session(SessionRecord),
}

#[derive(Clone, Debug)]
pub struct Candidate {
    pub user: User,
    pub subject: Subject,
}

impl Candidate {
    /// The pending login's id (the hash of its cookie) or the session's key.
    pub fn id(&self) -> &str {
        match &self.subject {
            Subject::Pending(pl) => &pl.id,
            Subject::Session(s) => &s.id,
        }
    }

    /// Methods already proven.
    pub fn amr(&self) -> &[String] {
        match &self.subject {
            Subject::Pending(pl) => &pl.amr,
            Subject::Session(s) => &s.amr,
        }
    }

    pub fn acr(&self) -> &str {
        match &self.subject {
            Subject::Pending(_) => acr::LOA1,
            Subject::Session(s) => &s.acr,
        }
    }
}

/// Whether this person may add or remove second factors now. Someone without a factor may
/// enrol one: half-way through a login (the password was just given), or in a session
/// authenticated in the last [`RECENT_AUTH`] seconds. Someone with a factor needs a session
/// at level 2, also authenticated recently, so that neither a password alone nor a forgotten
/// browser can change them. A password set by an administrator enrols nothing until it has been
/// changed (else whoever set it could plant a factor that outlives the next reset).
pub fn may_manage(c: &Candidate, has_factor: bool, now: i64) -> bool {
    match &c.subject {
        Subject::Pending(_) => !has_factor && !c.user.password_must_change,
        Subject::Session(s) => {
            now - s.auth_time <= RECENT_AUTH && (!has_factor || rank(&s.acr) >= 2)
        }
    }
}

/// Counts a wrong second factor; true when it ended a pending login.
pub async fn note_failure(p: &Provider, c: &Candidate) -> Result<bool, CoreError> {
    match &c.subject {
        Subject::Pending(pl) => Ok(p
            .store
            .fail_pending_login(&pl.id, MAX_PENDING_FAILURES)
            .await?),
        Subject::Session(_) => Ok(false),
    }
}

/// Recovery codes back up a real factor: they go when the last one goes, and a first factor
/// starts without any (so none planted earlier survive).
pub(crate) async fn drop_recovery_codes_unless_enrolled(
    p: &Provider,
    user_id: &str,
) -> Result<(), CoreError> {
    if !enrolled(p, user_id).await?.any() {
        p.store.delete_recovery_codes(user_id).await?;
    }
    Ok(())
}

/// Parks a login whose first factor was right until the second is proven; returns the
/// cookie value that names it.
pub async fn begin_pending(
    p: &Provider,
    user: &User,
    first: &Authn,
    now: i64,
) -> Result<String, CoreError> {
    let cookie = random_token()?;
    p.store
        .insert_pending_login(&PendingLogin {
            id: sha256_hex(cookie.as_bytes()),
            user_id: user.id.clone(),
            amr: first.amr.clone(),
            auth_time: now,
            expires_at: now + PENDING_TTL,
        })
        .await?;
    Ok(cookie)
}

/// The person proving a second factor: a pending login wins over a session, since it is the
/// newer intent of this browser.
pub async fn candidate(
    p: &Provider,
    pending_cookie: Option<&str>,
    session_cookie: Option<&str>,
    now: i64,
) -> Result<Option<Candidate>, CoreError> {
    if let Some(c) = pending_cookie
        && let Some(pl) = p
            .store
            .pending_login(&sha256_hex(c.as_bytes()), now)
            .await?
        && let Some(user) = p.store.user_by_id(&pl.user_id).await?
        && user.status == UserStatus::Active
    {
        return Ok(Some(Candidate {
            user,
            subject: Subject::Pending(pl),
        }));
    }
    Ok(crate::session::current_session(p, session_cookie, now)
        .await?
        .map(|(s, user)| Candidate {
            user,
            subject: Subject::Session(s),
        }))
}

/// Finishes a login or a step-up after `factor` was proven. Returns the session and the new
/// session cookie to set (a step-up names the session by a new cookie too).
pub async fn complete(
    p: &Provider,
    candidate: Candidate,
    factor: Factor,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(Option<String>, SessionRecord), FactorError> {
    let authn = Authn::plus(candidate.amr(), factor);
    let user = candidate.user;
    let (cookie, session, event) = match candidate.subject {
        Subject::Pending(_) if user.password_must_change => {
            // The temporary password is changed first (see `password_change`).
            return Err(FactorError::PasswordChangeRequired);
        }
        Subject::Pending(pl) => {
            // Exactly one completion per pending login, across replicas.
            if !p.store.delete_pending_login(&pl.id).await? {
                return Err(FactorError::Expired);
            }
            let (cookie, session) =
                crate::session::start_session_with(p, &user, &authn, session_cookie, meta, now)
                    .await?;
            (Some(cookie), session, Event::LoginSuccess)
        }
        Subject::Session(mut s) => {
            s.amr = authn.amr.clone();
            s.acr = authn.acr.clone();
            s.auth_time = now;
            s.last_seen_at = now;
            // The raised level goes to a new cookie only (see `session::rotate_cookie`).
            let Some(old) = session_cookie else {
                return Err(FactorError::Expired);
            };
            let Some(fresh) = crate::session::rotate_cookie(p, &s, old).await? else {
                return Err(FactorError::Expired);
            };
            (Some(fresh), s, Event::MfaStepUp)
        }
    };
    p.audit(event.at(now).actor(&user.id).meta(meta).detail(json!({ "amr": session.amr, "acr": session.acr, "factor": factor.name(), "sid": session.sid })))
    .await?;
    Ok((cookie, session))
}

/// Removes every second factor of a person who lost them (an administrator's act, after
/// checking who is asking). The person enrols again at the next login their policy demands.
pub async fn reset(p: &Provider, user: &User, actor: &str, now: i64) -> Result<(), CoreError> {
    reset_by(p, user, actor, None, &RequestMeta::default(), now).await
}

/// As [`reset`], audited with the administrator's client and address.
pub async fn reset_by(
    p: &Provider,
    user: &User,
    actor: &str,
    client_id: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CoreError> {
    let passkeys = p.store.delete_user_webauthn_credentials(&user.id).await?;
    let totp = p.store.delete_totp(&user.id).await?;
    let otp_tokens = p.store.delete_user_otp_tokens(&user.id).await?;
    p.store.delete_recovery_codes(&user.id).await?;
    // A lock on the old factors must not hold back enrolling new ones.
    p.store.clear_failures(&factor_key(&user.id)).await?;
    // Sessions that proved the removed factors end too.
    let ended = crate::session::end_user_access(p, user, "mfa_reset", now)
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    p.audit(
        Event::MfaReset
            .at(now)
            .actor(actor)
            .maybe_client(client_id)
            .meta(meta)
            .detail(json!({
                "user": user.id, "passkeys_removed": passkeys, "totp_removed": totp,
                "otp_tokens_removed": otp_tokens,
                "access_ended": ended.detail(&user.id),
            })),
    )
    .await
}

#[cfg(test)]
mod tests;
