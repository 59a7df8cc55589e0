//! Time-based one-time passwords (RFC 6238): SHA-1, 6 digits, 30 s steps, ±1 step of skew.
//! Each code is spent once: the store keeps the last accepted step. Codes are computed by
//! [`super::otp`], as for hardware tokens; a code typed at sign-in is checked by
//! [`super::code::verify`].

use ring::rand::{SecureRandom, SystemRandom};
use tessera_store::users::User;
use totp_rs::{Builder, Totp};

use super::otp::{self, Spec, Spent};
use super::{FactorError, admit_attempt, audit_failure, audit_wrong_code, factor_key};
use crate::audit::Event;
use crate::request::RequestMeta;
use crate::{CoreError, Provider};

/// An enrolment waiting for its first code.
#[derive(Clone, Debug)]
pub struct Enrolment {
    /// `otpauth://` URI for authenticator apps.
    pub uri: String,
    /// The secret in base32, for typing in by hand.
    pub secret_base32: String,
    /// The URI as a QR code (SVG), rendered here: no external service sees the secret.
    pub qr_svg: String,
}

fn totp_for(p: &Provider, user: &User, secret: Vec<u8>) -> Result<Totp, CoreError> {
    // Authenticator apps list entries by issuer: name the installation by its host.
    let host = url::Url::parse(&p.config.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let issuer = format!("Tessera {host}").trim().replace(':', " ");
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(user.username.replace(':', " "))
        .build()
        .map_err(|e| CoreError::Internal(format!("TOTP: {e}")))
}

/// The secret of a confirmed authenticator app.
pub(crate) async fn confirmed_secret(
    p: &Provider,
    user: &User,
) -> Result<Option<Vec<u8>>, CoreError> {
    match p.store.totp(&user.id).await? {
        Some(rec) if rec.confirmed => Ok(Some(
            p.keyed.open(&format!("totp:{}", user.id), &rec.secret)?,
        )),
        _ => Ok(None),
    }
}

/// How long an enrolment waits for its confirmation code.
pub const ENROL_TTL: i64 = 600;

/// Starts (or restarts) an enrolment with a fresh 160-bit secret, for the session or pending
/// login `starter` alone. Refused while a confirmed TOTP exists: remove it first.
pub async fn begin(
    p: &Provider,
    user: &User,
    starter: &str,
    now: i64,
) -> Result<Enrolment, CoreError> {
    let mut secret = vec![0u8; 20];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
    let sealed = p.keyed.seal(&format!("totp:{}", user.id), &secret)?;
    if !p.store.begin_totp(&user.id, &sealed, starter, now).await? {
        return Err(CoreError::Conflict(
            "an authenticator app is already set up".into(),
        ));
    }
    enrolment(p, user, secret)
}

/// The secret of an unconfirmed enrolment, only for the session or pending login that began
/// it and only while it is fresh: nobody else ever sees it.
async fn enrolling_secret(
    p: &Provider,
    user: &User,
    starter: &str,
    now: i64,
) -> Result<Option<Vec<u8>>, CoreError> {
    let Some(rec) = p.store.totp(&user.id).await? else {
        return Ok(None);
    };
    if rec.confirmed
        || rec.started_by.as_deref() != Some(starter)
        || rec.created_at + ENROL_TTL <= now
    {
        return Ok(None);
    }
    Ok(Some(
        p.keyed.open(&format!("totp:{}", user.id), &rec.secret)?,
    ))
}

/// The pending enrolment (to show the QR code again after a wrong confirmation code).
pub async fn pending_enrolment(
    p: &Provider,
    user: &User,
    starter: &str,
    now: i64,
) -> Result<Option<Enrolment>, CoreError> {
    match enrolling_secret(p, user, starter, now).await? {
        Some(secret) => Ok(Some(enrolment(p, user, secret)?)),
        None => Ok(None),
    }
}

fn enrolment(p: &Provider, user: &User, secret: Vec<u8>) -> Result<Enrolment, CoreError> {
    let totp = totp_for(p, user, secret)?;
    let uri = totp
        .to_url()
        .map_err(|e| CoreError::Internal(format!("TOTP URI: {e}")))?;
    let qr_svg = crate::qr::svg(&uri, 220)?;
    Ok(Enrolment {
        uri,
        secret_base32: totp.secret().to_base32(),
        qr_svg,
    })
}

/// Seconds per code of an authenticator app.
const PERIOD: u64 = 30;

/// Checks `code` against `secret` and spends its time step: the confirmed app's or, with
/// `confirm`, the enrolment's (which it confirms). Not throttled here.
pub(crate) async fn spend(
    p: &Provider,
    user: &User,
    secret: &[u8],
    code: &str,
    confirm: bool,
    now: i64,
) -> Result<Spent, CoreError> {
    let Some(step) = otp::totp_step(secret, Spec::APP, PERIOD, code, now)? else {
        return Ok(Spent::NoMatch);
    };
    Ok(if p.store.spend_totp_step(&user.id, step, confirm).await? {
        Spent::Accepted
    } else {
        Spent::Replayed
    })
}

/// Confirms the enrolment begun by the session or pending login `starter` with a first code
/// of the app. Throttled and audited.
pub async fn confirm(
    p: &Provider,
    user: &User,
    code: &str,
    starter: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), FactorError> {
    let Some(secret) = enrolling_secret(p, user, starter, now).await? else {
        return Err(FactorError::NotEnrolled);
    };
    let first_factor = !super::enrolled(p, &user.id).await?.any();
    let count = match admit_attempt(p, &user.id, now).await {
        Ok(n) => n,
        Err(e) => {
            audit_failure(p, &user.id, "totp", "throttled", meta, now).await?;
            return Err(e);
        }
    };
    let reason = match spend(p, user, &secret, &otp::normalise(code), true, now).await? {
        Spent::Accepted => None,
        Spent::Replayed => Some("code already used"),
        Spent::NoMatch => Some("wrong code"),
    };
    if let Some(reason) = reason {
        audit_wrong_code(p, &user.id, "totp", reason, count, meta, now).await?;
        return Err(FactorError::Invalid);
    }
    p.store.clear_failures(&factor_key(&user.id)).await?;
    if first_factor {
        p.store.delete_recovery_codes(&user.id).await?;
    }
    p.audit(Event::MfaTotpEnrolled.at(now).actor(&user.id).meta(meta))
        .await?;
    Ok(())
}

pub async fn remove(
    p: &Provider,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<bool, CoreError> {
    let removed = p.store.delete_totp(&user.id).await?;
    if removed {
        super::drop_recovery_codes_unless_enrolled(p, &user.id).await?;
        p.audit(Event::MfaTotpRemoved.at(now).actor(&user.id).meta(meta))
            .await?;
    }
    Ok(removed)
}

/// The code an authenticator app shows at `time` for `secret` (for tests and tools).
pub fn code_at(secret_base32: &str, time: i64) -> Result<String, CoreError> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|e| CoreError::Internal(format!("TOTP secret: {e:?}")))?;
    otp::totp(
        secret.as_bytes(),
        Spec::APP,
        PERIOD,
        u64::try_from(time).unwrap_or(0),
    )
}
