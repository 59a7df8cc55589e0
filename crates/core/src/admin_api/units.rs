//! Organisation units through the administration API.

use serde_json::json;
use tessera_proto::admin as wire;
pub use tessera_proto::admin::{LevelBody, NewUnit, UnitPatch};
use tessera_store::units::Unit;

use super::{AdminApiError, Caller, Permission, require_unit, visible_unit};
use crate::Provider;
use crate::admin::{self, check_text};
use crate::audit::Event;

pub fn unit_json(u: &Unit) -> wire::Unit {
    wire::Unit {
        id: u.id.clone(),
        name: u.name.clone(),
        parent_id: u.parent_id.clone(),
        level: u.level.clone(),
        created_at: u.created_at,
    }
}

/// The units the caller can see, as trees from the top of each of their scopes.
pub async fn tree(p: &Provider, caller: &Caller) -> Result<wire::UnitTree, AdminApiError> {
    let units = p.store.list_units().await?;
    let by_id: std::collections::HashMap<&str, &Unit> =
        units.iter().map(|u| (u.id.as_str(), u)).collect();
    fn node(
        id: &str,
        by_id: &std::collections::HashMap<&str, &Unit>,
        t: &super::UnitTree,
        depth: usize,
    ) -> wire::UnitNode {
        let unit = by_id.get(id).map(|u| unit_json(u));
        // The tree is acyclic when written through Tessera; the bound guards corrupt data.
        let children = (depth < 64).then(|| {
            t.children_of(id)
                .iter()
                .map(|kid| node(kid, by_id, t, depth + 1))
                .collect()
        });
        wire::UnitNode { unit, children }
    }
    let roots: Vec<wire::UnitNode> = caller
        .actor
        .scope_roots(Permission::Read)
        .iter()
        .map(|r| node(r, &by_id, &caller.actor.tree, 0))
        .collect();
    Ok(wire::UnitTree { units: roots })
}

pub async fn get(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<wire::UnitDetail, AdminApiError> {
    let unit = visible_unit(p, caller, id).await?;
    Ok(wire::UnitDetail {
        unit: unit_json(&unit),
        children: caller.actor.tree.children_of(id).to_vec(),
    })
}

pub async fn create(
    p: &Provider,
    caller: &Caller,
    body: NewUnit,
    now: i64,
) -> Result<wire::Unit, AdminApiError> {
    require_unit(caller, Permission::Manage, Some(&body.parent_id))?;
    let unit =
        admin::add_unit_by(p, &caller.acting(), &body.name, Some(&body.parent_id), now).await?;
    Ok(unit_json(&unit))
}

/// A unit the caller sees (else 404) and administers (else 403).
async fn managed_unit(p: &Provider, caller: &Caller, id: &str) -> Result<Unit, AdminApiError> {
    let unit = visible_unit(p, caller, id).await?;
    if !caller.actor.may(Permission::Manage, Some(id)) {
        return Err(AdminApiError::Forbidden(format!(
            "your role does not allow changing unit {id}"
        )));
    }
    Ok(unit)
}

pub async fn rename(
    p: &Provider,
    caller: &Caller,
    id: &str,
    body: UnitPatch,
    now: i64,
) -> Result<wire::Unit, AdminApiError> {
    let unit = managed_unit(p, caller, id).await?;
    let name = check_text("unit name", &body.name)?;
    p.store.rename_unit(id, &name).await?;
    caller
        .acting()
        .audit(
            p,
            now,
            Event::UnitRenamed,
            json!({ "unit": id, "old_name": unit.name, "name": name }),
        )
        .await?;
    Ok(unit_json(&Unit { name, ..unit }))
}

/// Requires `body.min_acr` at every login of the people of unit `id` and the units below it
/// (a level policy on the unit, as `tessera mfa policy add --unit`), audited as
/// `policy.acr.added` under the administrator.
pub async fn require_level(
    p: &Provider,
    caller: &Caller,
    id: &str,
    body: LevelBody,
    now: i64,
) -> Result<wire::Unit, AdminApiError> {
    let unit = managed_unit(p, caller, id).await?;
    if !crate::acr::SUPPORTED.contains(&body.min_acr.as_str()) {
        return Err(AdminApiError::Invalid(format!(
            "min_acr must be one of {}",
            crate::acr::SUPPORTED.join(", ")
        )));
    }
    crate::mfa::policy::add(p, Some(id), None, &body.min_acr, &caller.actor.user_id, now).await?;
    Ok(unit_json(&unit))
}
