//! Delivery of the webhooks announcing a signing request's outcome. Each is a JWT signed with
//! the provider's token key, as logout tokens are (Back-Channel Logout 1.0 §2.4), but explicitly
//! typed [`SIGNING_EVENT_TYP`] so it can pass for neither an ID token nor a logout token
//! (RFC 8725 §3.11). It is POSTed as `application/jwt` to the request's `callback_uri` through
//! the SSRF-guarded transport. Workers of every replica claim due rows with a lease, so nothing
//! lives in memory and each attempt is made once.

use serde_json::{Value, json};
use tessera_hsm::KeyAlgorithm;
use tessera_proto::signing::{SIGNING_EVENT, SIGNING_EVENT_TYP};
use tessera_store::signing_webhooks::WebhookEntry;

use crate::audit::Event;
use crate::logout::backchannel::{Attempt, BATCH, LEASE_SECS, retry_delay};
use crate::outbound::OutboundError;
use crate::secrets::random_id;
use crate::{CoreError, Provider};

/// Lifetime of a webhook JWT: it is sent at once, so a short one limits replays.
pub const TTL: i64 = 120;

/// Media type of the POSTed body (RFC 7519 §10.3.1).
pub const CONTENT_TYPE: &str = "application/jwt";

/// Claims of the webhook JWT announcing that `request_id` reached `status`.
pub fn claims(
    issuer: &str,
    client_id: &str,
    request_id: &str,
    status: &str,
    jti: &str,
    now: i64,
) -> Value {
    json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + TTL,
        "jti": jti,
        "events": { SIGNING_EVENT: { "id": request_id, "status": status } },
    })
}

/// Claims due webhooks for `owner` at `now`.
pub async fn claim(p: &Provider, owner: &str, now: i64) -> Result<Vec<WebhookEntry>, CoreError> {
    Ok(p.store
        .claim_signing_webhooks(owner, now, now + LEASE_SECS, BATCH)
        .await?)
}

/// Starts listening for webhooks queued by other replicas (PostgreSQL; nothing on SQLite).
pub fn listen(p: &Provider) {
    p.store.listen_signing_webhooks();
}

/// Waits until a webhook is queued (see [`listen`]) or `timeout` passes.
pub async fn queued(p: &Provider, timeout: std::time::Duration) {
    p.store.signing_webhook_queued(timeout).await;
}

/// Signs a fresh JWT for `entry` and POSTs it; records and audits the attempt whatever its
/// outcome.
pub async fn deliver(
    p: &Provider,
    entry: &WebhookEntry,
    owner: &str,
    now: i64,
) -> Result<Attempt, CoreError> {
    let attempt = entry.attempts + 1;
    let Some(client) = p.store.client(&entry.client_id).await? else {
        let reason = "the client no longer exists".to_owned();
        return abandon(p, entry, owner, None, reason, now).await;
    };
    let alg = KeyAlgorithm::from_jws_name(&client.token_alg).unwrap_or(KeyAlgorithm::Es256);
    let claims = claims(
        &p.config.issuer,
        &entry.client_id,
        &entry.request_id,
        &entry.status,
        &random_id()?,
        now,
    );
    let jwt = p.signer.sign(alg, SIGNING_EVENT_TYP, &claims).await?;
    let result = p
        .outbound
        .post_body(&entry.uri, CONTENT_TYPE, jwt.as_bytes())
        .await;
    let (status, error) = match result {
        Ok(status) if (200..300).contains(&status) => {
            if !p
                .store
                .signing_webhook_delivered(entry, owner, i64::from(status), now)
                .await?
            {
                return Ok(Attempt::LeaseLost);
            }
            audit(
                p,
                entry,
                Event::SigningWebhookDelivered,
                json!({
                    "request": entry.request_id, "status": entry.status, "uri": entry.uri,
                    "attempt": attempt, "http_status": status,
                }),
                now,
            )
            .await?;
            return Ok(Attempt::Delivered { status });
        }
        Ok(status) => (Some(status), format!("HTTP status {status}")),
        // Nothing was sent, and retrying would not change the allow-list.
        Err(OutboundError::NotAllowed(_)) => {
            let reason = format!("{} is not on the outbound allow-list", entry.uri);
            return abandon(p, entry, owner, None, reason, now).await;
        }
        Err(OutboundError::Failed(e)) => (None, e),
    };
    let next_at = now + retry_delay(&p.config, attempt);
    let give_up = now >= entry.give_up_at;
    audit(
        p,
        entry,
        Event::SigningWebhookFailed,
        json!({
            "request": entry.request_id, "status": entry.status, "uri": entry.uri,
            "attempt": attempt, "http_status": status, "error": error,
            "next_at": (!give_up).then_some(next_at),
        }),
        now,
    )
    .await?;
    if give_up {
        return abandon(p, entry, owner, status, error, now).await;
    }
    if !p
        .store
        .signing_webhook_retry(entry, owner, status.map(i64::from), &error, next_at)
        .await?
    {
        return Ok(Attempt::LeaseLost);
    }
    Ok(Attempt::Retry { next_at })
}

async fn audit(
    p: &Provider,
    entry: &WebhookEntry,
    event: Event,
    detail: Value,
    now: i64,
) -> Result<(), CoreError> {
    p.audit(
        event
            .at(now)
            .actor(&entry.client_id)
            .client(&entry.client_id)
            .detail(detail),
    )
    .await
}

async fn abandon(
    p: &Provider,
    entry: &WebhookEntry,
    owner: &str,
    status: Option<u16>,
    reason: String,
    now: i64,
) -> Result<Attempt, CoreError> {
    if !p
        .store
        .signing_webhook_abandon(entry, owner, status.map(i64::from), &reason, now)
        .await?
    {
        return Ok(Attempt::LeaseLost);
    }
    audit(
        p,
        entry,
        Event::SigningWebhookAbandoned,
        json!({
            "request": entry.request_id, "status": entry.status, "uri": entry.uri,
            "attempts": entry.attempts + 1, "reason": reason, "queued_at": entry.created_at,
        }),
        now,
    )
    .await?;
    Ok(Attempt::Abandoned { reason })
}
