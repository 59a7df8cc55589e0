//! Which units' people a client may ask for signatures with its own token (scope
//! `sign:request`), through the administration API. The permission is the unit's decision
//! about its own people: the caller administers the unit (`admin` over it, 403 otherwise). The
//! client may belong to any unit — a province-wide document system is registered above the
//! districts that let it ask their people — so only its existence is required; client ids are
//! no secret (they show on every sign-in page).

use tessera_proto::admin as wire;

use super::{AdminApiError, Caller, Permission, visible_unit};
use crate::Provider;
use crate::signing::remote::{RemoteError, permissions};

impl From<RemoteError> for AdminApiError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::NotFound(m) => AdminApiError::NotFound(m),
            RemoteError::Internal(e) => AdminApiError::Internal(e),
            other => AdminApiError::Invalid(other.to_string()),
        }
    }
}

/// The units, among those the caller sees, whose people `client_id` may ask for signatures.
pub async fn list(
    p: &Provider,
    caller: &Caller,
    client_id: &str,
) -> Result<wire::SigningUnits, AdminApiError> {
    let client = existing_client(p, client_id).await?;
    let unit_ids = permissions::units(p, &client.id)
        .await?
        .into_iter()
        .filter(|u| caller.actor.may(Permission::Read, Some(u)))
        .collect();
    Ok(wire::SigningUnits {
        client_id: client.id,
        unit_ids,
    })
}

async fn existing_client(
    p: &Provider,
    client_id: &str,
) -> Result<tessera_store::clients::Client, AdminApiError> {
    p.store
        .client(client_id)
        .await?
        .ok_or_else(|| AdminApiError::NotFound(format!("client {client_id} not found")))
}

async fn checked(
    p: &Provider,
    caller: &Caller,
    client_id: &str,
    unit_id: &str,
) -> Result<(), AdminApiError> {
    existing_client(p, client_id).await?;
    let unit = visible_unit(p, caller, unit_id).await?;
    if !caller.actor.may(Permission::Manage, Some(&unit.id)) {
        return Err(AdminApiError::Forbidden(format!(
            "only administrators of unit {} decide which applications may ask its people for signatures",
            unit.name
        )));
    }
    Ok(())
}

/// Allows the client to ask the unit's people (and those of the units below) for signatures;
/// allowing twice changes nothing.
pub async fn allow(
    p: &Provider,
    caller: &Caller,
    client_id: &str,
    unit_id: &str,
    now: i64,
) -> Result<wire::SigningUnits, AdminApiError> {
    checked(p, caller, client_id, unit_id).await?;
    permissions::allow(p, &caller.pki_actor(), client_id, unit_id, now).await?;
    list(p, caller, client_id).await
}

/// Withdraws the permission; 404 when there was none.
pub async fn disallow(
    p: &Provider,
    caller: &Caller,
    client_id: &str,
    unit_id: &str,
    now: i64,
) -> Result<(), AdminApiError> {
    checked(p, caller, client_id, unit_id).await?;
    if !permissions::disallow(p, &caller.pki_actor(), client_id, unit_id, now).await? {
        return Err(AdminApiError::NotFound(format!(
            "client {client_id} may not ask the people of unit {unit_id} for signatures"
        )));
    }
    Ok(())
}
