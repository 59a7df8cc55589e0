//! What happens to requests with time: expiry of undecided ones, the outcome webhook's queue,
//! and deletion of contents and results after retention. Run by housekeeping on any replica;
//! every step is a conditional update, so replicas never do it twice.

use serde_json::json;
use tessera_store::signing_requests::RequestRecord;

use super::{RemoteError, Status};
use crate::Provider;
use crate::audit::Event;

/// Why documents of an interrupted request were not signed.
pub const INTERRUPTED: &str = "signing was interrupted (a server stopped) and the approval expired; submit the document again";

/// Why hashes of an authorization (CSC) were not signed.
pub const UNUSED: &str = "the application did not sign this hash before the approval (SAD) expired";

/// A CSC client signed `used` ([`super::sad::entry`] of each hash) with the SAD of the
/// authorization request `request_id`: those documents are signed, and once all are, the
/// request is too. Its SAD may still be in use elsewhere; only the last hash ends it.
pub async fn authorization_used(
    p: &Provider,
    request_id: &str,
    used: &[String],
    now: i64,
) -> Result<(), RemoteError> {
    let Some(request) = p.store.signing_request(request_id).await? else {
        return Ok(());
    };
    if request.purpose != "authorize" {
        return Ok(());
    }
    let documents = p.store.signing_documents(request_id).await?;
    let mut idxs = Vec::with_capacity(used.len());
    for d in &documents {
        let hash = crate::signing::parse_hash(&d.hash_alg)?;
        if used.contains(&super::sad::entry(hash, &d.digest, None)) {
            idxs.push(d.idx);
        }
    }
    let pending = p.store.mark_documents_signed(request_id, &idxs).await?;
    if pending == 0
        && p.store
            .transition_signing_request(request_id, "approved", "signed", None, now)
            .await?
    {
        announce(p, &request, Status::Signed, now).await?;
    }
    Ok(())
}

/// Queues the webhook announcing `status` to the request's `callback_uri`, if it has one. The
/// delivery worker signs the JWT when it sends it.
pub async fn announce(
    p: &Provider,
    request: &RequestRecord,
    status: Status,
    now: i64,
) -> Result<(), RemoteError> {
    if let Some(uri) = &request.callback_uri {
        p.store
            .enqueue_signing_webhook(
                &request.id,
                status.as_str(),
                &request.client_id,
                uri,
                now,
                now + p.config.backchannel_give_up,
            )
            .await?;
    }
    Ok(())
}

/// Expires one pending request whose time ran out; `false` when it was decided meanwhile.
pub async fn expire(p: &Provider, request: &RequestRecord, now: i64) -> Result<bool, RemoteError> {
    if !p
        .store
        .transition_signing_request(&request.id, "pending", "expired", None, now)
        .await?
    {
        return Ok(false);
    }
    p.audit(
        Event::SigningRequestExpired
            .at(now)
            .actor(&request.client_id)
            .client(&request.client_id)
            .detail(json!({ "request": request.id, "signer": request.user_id })),
    )
    .await?;
    announce(p, request, Status::Expired, now).await?;
    Ok(true)
}

/// Housekeeping: expires undecided requests and deletes contents past retention; answers
/// (expired, purged).
pub async fn housekeeping(p: &Provider, now: i64) -> Result<(usize, u64), RemoteError> {
    let mut expired = 0;
    for r in p.store.expired_signing_requests(now, 500).await? {
        if expire(p, &r, now).await? {
            expired += 1;
        }
    }
    // A replica that stopped while signing leaves its request approved, and a CSC client may
    // leave hashes of an authorization unsigned; once the SAD has expired nothing more can be
    // signed for either, so each ends with what was done. (Before the SADs are purged below.)
    let lapsed = now - p.config.signing.sad_ttl - 60;
    for (purpose, reason, none_signed) in [
        ("sign", INTERRUPTED, Status::Failed),
        ("authorize", UNUSED, Status::Expired),
    ] {
        for r in p
            .store
            .lapsed_signing_requests(purpose, lapsed, 500)
            .await?
        {
            let signed = p.store.fail_pending_documents(&r.id, reason).await?;
            let to = if signed > 0 {
                Status::Signed
            } else {
                none_signed
            };
            if p.store
                .transition_signing_request(&r.id, "approved", to.as_str(), None, now)
                .await?
            {
                announce(p, &r, to, now).await?;
            }
        }
    }
    let purged = p.store.purge_signing_contents(now).await?;
    // Delivered and abandoned webhooks are kept as long as the back-channel outbox's rows.
    p.store
        .purge_signing_webhooks(now - crate::housekeeping::OUTBOX_KEEP)
        .await?;
    Ok((expired, purged))
}
