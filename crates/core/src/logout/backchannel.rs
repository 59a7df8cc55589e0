//! Delivery of back-channel logout notifications (Back-Channel Logout 1.0 §2.5) from the
//! durable outbox. A worker in every replica calls [`claim`] then [`deliver`] for each entry;
//! the database lease decides who sends what, so nothing here lives in memory.

use serde_json::json;
use tessera_hsm::KeyAlgorithm;
use tessera_store::logout::OutboxEntry;

use super::token;
use crate::audit::Event;
use crate::outbound::OutboundError;
use crate::request::RequestMeta;
use crate::secrets::random_id;
use crate::{Config, CoreError, Provider};

/// How long a claimed entry stays with its worker: above the outbound call's 10 s limit plus
/// signing, so a live worker never loses an entry mid-call.
pub const LEASE_SECS: i64 = 60;
/// Entries claimed at once by one worker.
pub const BATCH: i64 = 16;

/// Delay before the next attempt after `failures` failed ones: the base, doubling, capped.
pub fn retry_delay(config: &Config, failures: i64) -> i64 {
    let base = config.backchannel_retry_base.max(1);
    let doublings = (failures - 1).clamp(0, 30) as u32;
    base.saturating_mul(1i64 << doublings)
        .min(config.backchannel_retry_max.max(base))
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        status: u16,
    },
    /// Failed; tried again at `next_at`.
    Retry {
        next_at: i64,
    },
    /// Failed for good: past the deadline, the destination is not allowed, or the client no
    /// longer has a back-channel URI.
    Abandoned {
        reason: String,
    },
    /// The lease ran out before the result was recorded; another worker has the entry.
    LeaseLost,
}

/// Claims due entries for `owner` at `now`.
pub async fn claim(p: &Provider, owner: &str, now: i64) -> Result<Vec<OutboxEntry>, CoreError> {
    Ok(p.store
        .claim_outbox(owner, now, now + LEASE_SECS, BATCH)
        .await?)
}

/// Signs a fresh logout token for `entry` and POSTs it to the client; records and audits the
/// attempt whatever its outcome.
pub async fn deliver(
    p: &Provider,
    entry: &OutboxEntry,
    owner: &str,
    now: i64,
) -> Result<Attempt, CoreError> {
    let attempt = entry.attempts + 1;
    let client = p.store.client(&entry.client_id).await?;
    let Some((uri, alg)) = client.and_then(|c| {
        let alg = KeyAlgorithm::from_jws_name(&c.token_alg).unwrap_or(KeyAlgorithm::Es256);
        c.backchannel_logout_uri.map(|u| (u, alg))
    }) else {
        let reason = "the client no longer has a back-channel logout URI".to_owned();
        return abandon(p, entry, owner, None, reason, now).await;
    };
    let claims = token::claims(
        &p.config.issuer,
        &entry.client_id,
        &entry.user_id,
        &entry.sid,
        &random_id()?,
        now,
        p.config.logout_token_ttl,
    );
    let logout_token = p.signer.sign(alg, token::TYP, &claims).await?;
    let result = p
        .outbound
        .post_form(&uri, &[("logout_token", logout_token.as_str())])
        .await;
    let meta = RequestMeta::default();
    let audit = |event: Event, detail: serde_json::Value| {
        p.audit(
            event
                .at(now)
                .actor(&entry.user_id)
                .client(&entry.client_id)
                .meta(&meta)
                .detail(detail),
        )
    };
    let (status, error) = match result {
        Ok(status) if (200..300).contains(&status) => {
            if !p
                .store
                .outbox_delivered(entry, owner, i64::from(status), now)
                .await?
            {
                return Ok(Attempt::LeaseLost);
            }
            audit(
                Event::BackchannelDelivered,
                json!({ "sid": entry.sid, "uri": uri, "attempt": attempt, "status": status }),
            )
            .await?;
            return Ok(Attempt::Delivered { status });
        }
        Ok(status) => (Some(status), format!("HTTP status {status}")),
        Err(OutboundError::NotAllowed(_)) => {
            // The administrator's allow-list refused the destination: nothing was sent, and
            // retrying would not change that.
            audit(
                Event::BackchannelNotAllowed,
                json!({ "sid": entry.sid, "uri": uri, "attempt": attempt }),
            )
            .await?;
            let reason = format!("{uri} is not on the outbound allow-list");
            return abandon(p, entry, owner, None, reason, now).await;
        }
        Err(OutboundError::Failed(e)) => (None, e),
    };
    let next_at = now + retry_delay(&p.config, attempt);
    let give_up = now >= entry.give_up_at;
    audit(
        Event::BackchannelFailed,
        json!({
            "sid": entry.sid, "uri": uri, "attempt": attempt, "status": status, "error": error,
            "next_at": (!give_up).then_some(next_at),
        }),
    )
    .await?;
    if give_up {
        return abandon(p, entry, owner, status, error, now).await;
    }
    let status = status.map(i64::from);
    if !p
        .store
        .outbox_retry(entry, owner, status, &error, next_at)
        .await?
    {
        return Ok(Attempt::LeaseLost);
    }
    Ok(Attempt::Retry { next_at })
}

async fn abandon(
    p: &Provider,
    entry: &OutboxEntry,
    owner: &str,
    status: Option<u16>,
    reason: String,
    now: i64,
) -> Result<Attempt, CoreError> {
    if !p
        .store
        .outbox_abandon(entry, owner, status.map(i64::from), &reason, now)
        .await?
    {
        return Ok(Attempt::LeaseLost);
    }
    p.audit(
        Event::BackchannelAbandoned
            .at(now)
            .actor(&entry.user_id)
            .client(&entry.client_id)
            .detail(json!({
                "sid": entry.sid, "attempts": entry.attempts + 1, "reason": reason,
                "queued_at": entry.created_at,
            })),
    )
    .await?;
    Ok(Attempt::Abandoned { reason })
}
