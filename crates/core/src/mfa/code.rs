//! A one-time code typed on the second-factor page: the authenticator app's or one of the
//! person's hardware tokens', whichever it belongs to. One attempt counts once against the
//! throttle, however many generators it is checked against.

use tessera_store::users::User;

use super::otp::{self, Spent};
use super::{
    FactorError, admit_attempt, audit_failure, audit_wrong_code, factor_key, otp_token, totp,
};
use crate::Provider;
use crate::request::RequestMeta;
use crate::session::Factor;

/// Checks `code` and spends it on the app or token it belongs to; returns which. Throttled and
/// audited.
pub async fn verify(
    p: &Provider,
    user: &User,
    code: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<Factor, FactorError> {
    let app = totp::confirmed_secret(p, user).await?;
    let tokens = p.store.enabled_otp_tokens(&user.id).await? > 0;
    // The audit names what the code could have been.
    let factor = match (app.is_some(), tokens) {
        (false, false) => return Err(FactorError::NotEnrolled),
        (true, false) => "totp",
        (false, true) => "otp_token",
        (true, true) => "totp_or_otp_token",
    };
    let count = match admit_attempt(p, &user.id, now).await {
        Ok(n) => n,
        Err(e) => {
            audit_failure(p, &user.id, factor, "throttled", meta, now).await?;
            return Err(e);
        }
    };
    let code = otp::normalise(code);
    let mut replayed = false;
    if let Some(secret) = app {
        match totp::spend(p, user, &secret, &code, false, now).await? {
            Spent::Accepted => return accepted(p, user, Factor::Totp).await,
            Spent::Replayed => replayed = true,
            Spent::NoMatch => {}
        }
    }
    if tokens {
        match otp_token::spend(p, &user.id, &code, now).await? {
            Spent::Accepted => return accepted(p, user, Factor::OtpToken).await,
            Spent::Replayed => replayed = true,
            Spent::NoMatch => {}
        }
    }
    let reason = if replayed {
        "code already used"
    } else {
        "wrong code"
    };
    audit_wrong_code(p, &user.id, factor, reason, count, meta, now).await?;
    Err(FactorError::Invalid)
}

async fn accepted(p: &Provider, user: &User, factor: Factor) -> Result<Factor, FactorError> {
    p.store.clear_failures(&factor_key(&user.id)).await?;
    Ok(factor)
}
