//! Periodic clean-up every replica runs: expired rows go, and work other replicas left behind is
//! picked up. Each step is safe to run on several replicas at once.

use crate::{CoreError, Provider};

/// How long delivered and abandoned notifications are kept (their attempts are audited).
pub const OUTBOX_KEEP: i64 = 7 * 86_400;

/// Expired sessions, codes (device codes a day after they expire), pushed authorization
/// requests and tokens.
pub async fn purge_expired(p: &Provider, now: i64) -> Result<(), CoreError> {
    p.store.purge_device_codes(now - 86_400).await?;
    p.store.purge_pushed_requests(now).await?;
    p.store
        .purge_alert_windows(now - crate::alerts::QUIET_SECS)
        .await?;
    Ok(p.store.purge_expired(now).await?)
}

/// Expired pending logins and ceremonies, and authenticator-app set-ups never confirmed.
pub async fn purge_strong_auth(p: &Provider, now: i64) -> Result<(), CoreError> {
    let stale = now - crate::mfa::totp::ENROL_TTL;
    Ok(p.store.purge_strong_auth(now, stale).await?)
}

/// Back-channel notifications done with for [`OUTBOX_KEEP`].
pub async fn purge_outbox(p: &Provider, now: i64) -> Result<u64, CoreError> {
    Ok(p.store.purge_outbox(now - OUTBOX_KEEP).await?)
}

/// OCSP answers past their validity.
pub async fn purge_ocsp_cache(p: &Provider, now: i64) -> Result<u64, CoreError> {
    Ok(p.store.purge_ocsp_cache(now).await?)
}
