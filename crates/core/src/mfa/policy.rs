//! Which level of assurance a login needs: the person's policies (unit and role), the
//! client's registered minimum, and the level the client asked for (`acr_values`).

use serde_json::json;
use tessera_store::clients::Client;
use tessera_store::mfa::AcrPolicy;
use tessera_store::users::User;

use super::{max_level, rank};
use crate::audit::Event;
use crate::secrets::random_id;
use crate::{CoreError, Provider, acr};

/// The unit and its ancestors, nearest first.
async fn unit_chain(p: &Provider, unit_id: Option<&str>) -> Result<Vec<String>, CoreError> {
    let mut chain = Vec::new();
    let mut next = unit_id.map(str::to_owned);
    while let Some(id) = next {
        // A cycle cannot be created through Tessera, but a hand-edited database could hold one.
        if chain.contains(&id) || chain.len() > 32 {
            break;
        }
        next = p.store.unit(&id).await?.and_then(|u| u.parent_id);
        chain.push(id);
    }
    Ok(chain)
}

fn applies(policy: &AcrPolicy, units: &[String], roles: &[String]) -> bool {
    let unit_ok = policy
        .unit_id
        .as_ref()
        .is_none_or(|u| units.iter().any(|x| x == u));
    let role_ok = policy
        .role
        .as_ref()
        .is_none_or(|r| roles.iter().any(|x| x == r));
    unit_ok && role_ok
}

/// The level the person must reach at every login, from the policies that apply to them.
pub async fn level_for_user(p: &Provider, user: &User) -> Result<&'static str, CoreError> {
    let policies = p.store.acr_policies().await?;
    if policies.is_empty() {
        return Ok(acr::LOA1);
    }
    let units = unit_chain(p, user.unit_id.as_deref()).await?;
    let mut level = acr::LOA1;
    for policy in policies
        .iter()
        .filter(|pol| applies(pol, &units, &user.roles))
    {
        level = max_level(level, known(&policy.min_acr));
    }
    Ok(level)
}

fn known(value: &str) -> &'static str {
    acr::SUPPORTED
        .iter()
        .copied()
        .find(|s| *s == value)
        .unwrap_or(acr::LOA2)
}

/// The level asked for by `acr_values` (a list in order of preference, OIDC Core §3.1.2.1):
/// the lowest supported value listed, so that any of the client's choices satisfies it.
/// Unknown values are ignored.
pub fn requested(acr_values: &[String]) -> Option<&'static str> {
    acr_values
        .iter()
        .filter_map(|v| acr::SUPPORTED.iter().copied().find(|s| s == v))
        .min_by_key(|s| rank(s))
}

/// What this login must reach for this client and request.
pub async fn required(
    p: &Provider,
    client: &Client,
    acr_values: &[String],
    user: &User,
) -> Result<&'static str, CoreError> {
    let mut level = level_for_user(p, user).await?;
    if let Some(min) = client.min_acr.as_deref() {
        level = max_level(level, known(min));
    }
    if let Some(asked) = requested(acr_values) {
        level = max_level(level, asked);
    }
    Ok(level)
}

/// Adds a policy (administrators, CLI). `unit_id` and `role` narrow it; both `None` means
/// everyone.
pub async fn add(
    p: &Provider,
    unit_id: Option<&str>,
    role: Option<&str>,
    min_acr: &str,
    actor: &str,
    now: i64,
) -> Result<AcrPolicy, CoreError> {
    if !acr::SUPPORTED.contains(&min_acr) {
        return Err(CoreError::Invalid(format!(
            "unknown level '{min_acr}'; supported: {}",
            acr::SUPPORTED.join(", ")
        )));
    }
    if let Some(u) = unit_id
        && p.store.unit(u).await?.is_none()
    {
        return Err(CoreError::Invalid(format!("no unit '{u}'")));
    }
    let policy = AcrPolicy {
        id: random_id()?,
        unit_id: unit_id.map(str::to_owned),
        role: role.map(str::to_owned),
        min_acr: min_acr.to_owned(),
        created_at: now,
    };
    p.store.insert_acr_policy(&policy).await?;
    p.audit(
        Event::PolicyAcrAdded
            .at(now)
            .actor(actor)
            .detail(json!({ "id": policy.id, "unit": unit_id, "role": role, "min_acr": min_acr })),
    )
    .await?;
    Ok(policy)
}

pub async fn remove(p: &Provider, id: &str, actor: &str, now: i64) -> Result<bool, CoreError> {
    let done = p.store.delete_acr_policy(id).await?;
    if done {
        p.audit(
            Event::PolicyAcrRemoved
                .at(now)
                .actor(actor)
                .detail(json!({ "id": id })),
        )
        .await?;
    }
    Ok(done)
}

/// Every policy, for the operator.
pub async fn list(p: &Provider) -> Result<Vec<AcrPolicy>, CoreError> {
    Ok(p.store.acr_policies().await?)
}
