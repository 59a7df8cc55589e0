//! Signing activity per unit: how many signing requests the officials of each unit received
//! (by status) and how many documents they signed, within the caller's scope.

use tessera_store::signing_requests::UnitActivity;

use super::{AdminApiError, Caller, Permission, visible_unit};
use crate::Provider;

/// Activity since `since` of `unit_id` and the units below it (default: the caller's scope),
/// one entry per unit in the tree's order, idle units included.
pub async fn per_unit(
    p: &Provider,
    caller: &Caller,
    unit_id: Option<&str>,
    since: i64,
) -> Result<Vec<UnitActivity>, AdminApiError> {
    let units = match unit_id {
        Some(unit) => {
            visible_unit(p, caller, unit).await?;
            caller.actor.tree.subtree(unit)
        }
        None => caller.actor.scope_units(Permission::Read),
    };
    let found = p.store.signing_activity(&units, since).await?;
    Ok(units
        .into_iter()
        .map(|u| {
            found
                .iter()
                .find(|a| a.unit_id == u)
                .cloned()
                .unwrap_or(UnitActivity {
                    unit_id: u,
                    ..UnitActivity::default()
                })
        })
        .collect())
}
