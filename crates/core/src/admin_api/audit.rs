//! The audit log as administrators read it: entries filtered by actor, event, unit and time.
//! Every administrative role reads it, within its scope: holders of a grant on the root of
//! the unit tree see every entry; a delegated administrator sees the entries whose actor is a
//! user of their units (their own and their colleagues' acts), nothing of other units. The
//! state of the chains is a fact about the whole log, so only root holders see it.

use tessera_store::audit::{AuditEntry, AuditFilter};
use tessera_store::audit_verify::VerifyReport;

use super::{AdminApiError, Caller, Permission, visible_unit};
use crate::Provider;

/// Most entries one request returns (a page, or an export).
pub const MAX_ENTRIES: i64 = 10_000;

#[derive(Debug, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// An event name or a prefix of one (`login.`).
    pub event: Option<String>,
    /// Entries whose actor is a user of this unit or the units below it.
    pub unit_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// The entries the caller may read that match `q`, newest first.
pub async fn search(
    p: &Provider,
    caller: &Caller,
    q: AuditQuery,
) -> Result<Vec<AuditEntry>, AdminApiError> {
    if !(1..=MAX_ENTRIES).contains(&q.limit) || q.offset < 0 {
        return Err(AdminApiError::Invalid(format!(
            "limit must be 1–{MAX_ENTRIES} and offset at least 0"
        )));
    }
    if q.event.as_ref().is_some_and(|e| e.len() > 100)
        || q.actor.as_ref().is_some_and(|a| a.len() > 100)
    {
        return Err(AdminApiError::Invalid(
            "actor and event must be at most 100 characters".into(),
        ));
    }
    let actor_units = match &q.unit_id {
        Some(unit) => {
            visible_unit(p, caller, unit).await?;
            Some(caller.actor.tree.subtree(unit))
        }
        None if caller.actor.holds_root(Permission::Read) => None,
        None => Some(caller.actor.scope_units(Permission::Read)),
    };
    Ok(p.store
        .audit_search(&AuditFilter {
            actor: q.actor,
            event_prefix: q.event,
            actor_units,
            since: q.since,
            until: q.until,
            limit: q.limit,
            offset: q.offset,
        })
        .await?)
}

/// The verification of every chain, for holders of a grant on the root; `None` for others.
pub async fn chain_status(
    p: &Provider,
    caller: &Caller,
) -> Result<Option<VerifyReport>, AdminApiError> {
    if !caller.actor.holds_root(Permission::Read) {
        return Ok(None);
    }
    Ok(Some(crate::audit_trail::check(p).await?))
}
