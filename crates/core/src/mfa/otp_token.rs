//! Hardware OTP tokens as a second factor: administrators provision them from the vendor's seed
//! file ([`super::seed_file`]); a code a token shows is accepted once. TOTP tokens follow the
//! clock (±1 step, RFC 6238 §5.2); HOTP tokens count presses of their button, so a code a few
//! presses ahead is accepted and moves the counter there (the look-ahead window of RFC 4226
//! §7.4), and an administrator brings a token that drifted further back with two consecutive
//! codes ([`resync`]).

use serde_json::json;
use tessera_store::StoreError;
use tessera_store::otp_tokens::{OtpKind, OtpToken};
use tessera_store::users::User;

use super::otp::{self, Spec, Spent};
use super::seed_file::Seed;
use crate::audit::Event;
use crate::secrets::random_id;
use crate::{CoreError, Provider};

/// Counters after the last accepted one whose codes are accepted (RFC 4226 §7.4).
pub const HOTP_LOOK_AHEAD: i64 = 10;
/// Counters searched for two consecutive codes when an administrator resynchronises a token.
pub const RESYNC_WINDOW: i64 = 1000;

/// What administrators and the person see of a token: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub serial: String,
    pub kind: &'static str,
    pub digits: u8,
    pub algorithm: &'static str,
    /// Seconds per code (TOTP).
    pub period: Option<i64>,
    /// The counter of the next code expected (HOTP).
    pub next_counter: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&OtpToken> for TokenInfo {
    fn from(t: &OtpToken) -> Self {
        TokenInfo {
            serial: t.serial.clone(),
            kind: t.kind.as_str(),
            digits: t.digits,
            algorithm: t.algorithm.as_str(),
            period: t.period,
            next_counter: (t.kind == OtpKind::Hotp).then_some(t.last_used + 1),
            disabled: t.disabled,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// The sealed seed is bound to its holder and its row, so it cannot be moved to another.
fn seal_context(user_id: &str, token_id: &str) -> String {
    format!("otp_token:{user_id}:{token_id}")
}

fn spec_of(t: &OtpToken) -> Spec {
    Spec {
        algorithm: t.algorithm,
        digits: t.digits,
    }
}

fn secret_of(p: &Provider, t: &OtpToken) -> Result<Vec<u8>, CoreError> {
    p.keyed.open(&seal_context(&t.user_id, &t.id), &t.secret)
}

/// Gives `user` the token of `seed`. A serial is given once: a token already held by anyone
/// is refused (remove it first).
pub async fn import(
    p: &Provider,
    user: &User,
    seed: &Seed,
    actor: &str,
    now: i64,
) -> Result<TokenInfo, CoreError> {
    otp::check_params(&seed.secret, seed.spec, seed.period)?;
    let had_factor = super::enrolled(p, &user.id).await?.any();
    let id = random_id()?;
    let token = OtpToken {
        secret: p.keyed.seal(&seal_context(&user.id, &id), &seed.secret)?,
        id,
        user_id: user.id.clone(),
        serial: seed.serial.clone(),
        kind: seed.kind,
        digits: seed.spec.digits,
        algorithm: seed.spec.algorithm,
        period: seed.period,
        // Codes up to `last_used` are spent: for HOTP, everything before the vendor's counter.
        last_used: match seed.kind {
            OtpKind::Hotp => seed.counter - 1,
            OtpKind::Totp => 0,
        },
        last_used_at: None,
        disabled: false,
        created_at: now,
    };
    match p.store.insert_otp_token(&token).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(CoreError::Conflict(format!(
                "a token with serial '{}' is already imported; remove it first",
                seed.serial
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // A first factor starts without recovery codes, so that none planted earlier survive.
    if !had_factor {
        p.store.delete_recovery_codes(&user.id).await?;
    }
    p.audit(
        Event::MfaOtpTokenImported
            .at(now)
            .actor(actor)
            .detail(json!({
                "user": user.id, "serial": token.serial, "kind": token.kind.as_str(),
                "digits": token.digits, "algorithm": token.algorithm.as_str(), "period": token.period,
            })),
    )
    .await?;
    Ok(TokenInfo::from(&token))
}

/// The person's tokens, oldest first.
pub async fn list(p: &Provider, user: &User) -> Result<Vec<TokenInfo>, CoreError> {
    Ok(p.store
        .otp_tokens_of(&user.id)
        .await?
        .iter()
        .map(TokenInfo::from)
        .collect())
}

/// Takes a token from the person; false when they hold none of that serial.
pub async fn remove(
    p: &Provider,
    user: &User,
    serial: &str,
    actor: &str,
    now: i64,
) -> Result<bool, CoreError> {
    if !p.store.delete_otp_token(&user.id, serial).await? {
        return Ok(false);
    }
    super::drop_recovery_codes_unless_enrolled(p, &user.id).await?;
    p.audit(
        Event::MfaOtpTokenRemoved
            .at(now)
            .actor(actor)
            .detail(json!({ "user": user.id, "serial": serial })),
    )
    .await?;
    Ok(true)
}

/// Turns a token off (reported lost, say) or on again; false when the person holds none of
/// that serial or it was already so. A disabled token proves nothing and is not counted as an
/// enrolled factor, but keeps its place (recovery codes stay, so they work again with it).
pub async fn set_disabled(
    p: &Provider,
    user: &User,
    serial: &str,
    disabled: bool,
    actor: &str,
    now: i64,
) -> Result<bool, CoreError> {
    if !p
        .store
        .set_otp_token_disabled(&user.id, serial, disabled)
        .await?
    {
        return Ok(false);
    }
    let event = if disabled {
        Event::MfaOtpTokenDisabled
    } else {
        Event::MfaOtpTokenEnabled
    };
    p.audit(
        event
            .at(now)
            .actor(actor)
            .detail(json!({ "user": user.id, "serial": serial })),
    )
    .await?;
    Ok(true)
}

/// What a code is to one token.
enum Found {
    /// The code of this time step or counter, not spent yet.
    Fresh(i64),
    /// A code already spent.
    Spent,
    None,
}

fn match_code(p: &Provider, t: &OtpToken, code: &str, now: i64) -> Result<Found, CoreError> {
    let secret = secret_of(p, t)?;
    let spec = spec_of(t);
    let found = match (t.kind, t.period) {
        (OtpKind::Totp, Some(period)) => {
            let period = u64::try_from(period)
                .map_err(|_| CoreError::Internal(format!("token {}: period", t.serial)))?;
            otp::totp_step(&secret, spec, period, code, now)?
        }
        (OtpKind::Hotp, None) => {
            let ahead = otp::hotp_counter(&secret, spec, code, t.last_used + 1, HOTP_LOOK_AHEAD)?;
            // The last spent counter is tried too, to tell a replay from a wrong code.
            match ahead {
                Some(c) => Some(c),
                None => otp::hotp_counter(&secret, spec, code, t.last_used, 1)?,
            }
        }
        _ => {
            return Err(CoreError::Internal(format!(
                "token {}: kind and period disagree",
                t.serial
            )));
        }
    };
    Ok(match found {
        Some(v) if v > t.last_used => Found::Fresh(v),
        Some(_) => Found::Spent,
        None => Found::None,
    })
}

/// Checks `code` against the person's enabled tokens and spends it on the one it belongs to.
/// Not throttled here: see [`super::code::verify`].
pub(crate) async fn spend(
    p: &Provider,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Spent, CoreError> {
    let mut outcome = Spent::NoMatch;
    for t in p.store.otp_tokens_of(user_id).await? {
        if t.disabled {
            continue;
        }
        match match_code(p, &t, code, now)? {
            Found::Fresh(v) => {
                // Conditional on nothing later having been spent meanwhile (on any replica).
                if p.store.spend_otp_token(&t.id, v, now).await? {
                    return Ok(Spent::Accepted);
                }
                outcome = Spent::Replayed;
            }
            Found::Spent => outcome = Spent::Replayed,
            Found::None => {}
        }
    }
    Ok(outcome)
}

/// Brings an HOTP token whose counter ran past the look-ahead window back in step: `first`
/// and `second` are two consecutive codes it shows now, found within [`RESYNC_WINDOW`]
/// counters. Both codes are spent. Returns how many counters were skipped.
pub async fn resync(
    p: &Provider,
    user: &User,
    serial: &str,
    first: &str,
    second: &str,
    actor: &str,
    now: i64,
) -> Result<i64, CoreError> {
    let Some(t) = p
        .store
        .otp_tokens_of(&user.id)
        .await?
        .into_iter()
        .find(|t| t.serial == serial)
    else {
        return Err(CoreError::Invalid(format!(
            "{} holds no token with serial '{serial}'",
            user.username
        )));
    };
    if t.kind != OtpKind::Hotp {
        return Err(CoreError::Invalid(
            "only an HOTP token needs resynchronising; a TOTP token follows the clock".into(),
        ));
    }
    if t.disabled {
        return Err(CoreError::Invalid(format!(
            "token '{serial}' is disabled; enable it first"
        )));
    }
    let (first, second) = (otp::normalise(first), otp::normalise(second));
    let secret = secret_of(p, &t)?;
    let spec = spec_of(&t);
    let from = t.last_used + 1;
    let mut at = from;
    let found = loop {
        let Some(c) = otp::hotp_counter(&secret, spec, &first, at, from + RESYNC_WINDOW - at)?
        else {
            break None;
        };
        if otp::hotp_counter(&secret, spec, &second, c + 1, 1)?.is_some() {
            break Some(c);
        }
        at = c + 1;
    };
    let Some(c) = found else {
        return Err(CoreError::Invalid(format!(
            "the two codes are not consecutive codes of token '{serial}' within the next {RESYNC_WINDOW} presses"
        )));
    };
    if !p.store.spend_otp_token(&t.id, c + 1, now).await? {
        return Err(CoreError::Conflict(format!(
            "token '{serial}' was used meanwhile; try again"
        )));
    }
    let skipped = c - from;
    p.audit(
        Event::MfaOtpTokenResynced
            .at(now)
            .actor(actor)
            .detail(json!({ "user": user.id, "serial": serial, "skipped": skipped })),
    )
    .await?;
    Ok(skipped)
}

#[cfg(test)]
#[path = "otp_token_tests.rs"]
mod tests;
