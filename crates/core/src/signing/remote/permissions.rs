//! Which applications may ask a unit's people for signatures with their own
//! client-credentials token (scope `sign:request`), naming the signer. Granted by the unit's
//! administrators; covers the unit and every unit below it.

use serde_json::json;

use super::RemoteError;
use crate::Provider;
use crate::audit::Event;
use crate::pki::Actor;

/// Allows `client_id` to ask people of `unit_id` for signatures; `false` when it already was.
pub async fn allow(
    p: &Provider,
    actor: &Actor,
    client_id: &str,
    unit_id: &str,
    now: i64,
) -> Result<bool, RemoteError> {
    if p.store.client(client_id).await?.is_none() {
        return Err(RemoteError::NotFound(format!(
            "client {client_id} not found"
        )));
    }
    if p.store.unit(unit_id).await?.is_none() {
        return Err(RemoteError::NotFound(format!("unit {unit_id} not found")));
    }
    let added = p
        .store
        .allow_signing_request_client(client_id, unit_id, &actor.id, now)
        .await?;
    if added {
        p.audit(
            Event::SigningRequestClientAllowed
                .at(now)
                .actor(&actor.id)
                .client(client_id)
                .meta(&actor.meta)
                .detail(json!({ "unit": unit_id })),
        )
        .await?;
    }
    Ok(added)
}

/// Withdraws the permission; `false` when there was none.
pub async fn disallow(
    p: &Provider,
    actor: &Actor,
    client_id: &str,
    unit_id: &str,
    now: i64,
) -> Result<bool, RemoteError> {
    let removed = p
        .store
        .disallow_signing_request_client(client_id, unit_id)
        .await?;
    if removed {
        p.audit(
            Event::SigningRequestClientDisallowed
                .at(now)
                .actor(&actor.id)
                .client(client_id)
                .meta(&actor.meta)
                .detail(json!({ "unit": unit_id })),
        )
        .await?;
    }
    Ok(removed)
}

/// The units whose people `client_id` may ask for signatures.
pub async fn units(p: &Provider, client_id: &str) -> Result<Vec<String>, RemoteError> {
    Ok(p.store.signing_request_units(client_id).await?)
}
