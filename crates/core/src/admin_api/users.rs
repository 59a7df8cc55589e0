//! Users and their administrative grants through the administration API.

use serde::Deserialize;
use serde_json::json;
use tessera_proto::admin as wire;
pub use tessera_proto::admin::{GrantBody, NewUserBody, UserPatch};
use tessera_store::users::{ProfileUpdate, User, UserFilter, UserStatus};

use super::{
    AdminApiError, AdminRole, Caller, Permission, grants_of, managed_user, require_unit,
    visible_unit, visible_user,
};
use crate::admin::{self, NewUser, check_app_roles, check_email, check_phone, check_text};
use crate::audit::Event;
use crate::secrets::random_token;
use crate::{CoreError, Provider, password};

pub fn user_json(u: &User) -> wire::User {
    wire::User {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.display_name.clone(),
        email: u.email.clone(),
        phone: u.phone.clone(),
        unit_id: u.unit_id.clone(),
        roles: u.roles.clone(),
        status: u.status.as_str().to_owned(),
        password_must_change: u.password_must_change,
        created_at: u.created_at,
        updated_at: u.updated_at,
    }
}

/// Query of `GET /admin/api/users`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// This unit and the units below it (default: the caller's whole scope).
    pub unit_id: Option<String>,
    /// Part of the username or display name.
    pub q: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub const MAX_PAGE: i64 = 200;

pub async fn list(
    p: &Provider,
    caller: &Caller,
    query: UserQuery,
) -> Result<wire::UserList, AdminApiError> {
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset < 0 {
        return Err(AdminApiError::Invalid(format!(
            "limit must be 1–{MAX_PAGE} and offset at least 0"
        )));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some("active") => Some(UserStatus::Active),
        Some("disabled") => Some(UserStatus::Disabled),
        Some(other) => {
            return Err(AdminApiError::Invalid(format!(
                "status must be active or disabled, not {other:?}"
            )));
        }
    };
    let (units, unitless) = match &query.unit_id {
        Some(unit) => {
            visible_unit(p, caller, unit).await?;
            (caller.actor.tree.subtree(unit), false)
        }
        None => (
            caller.actor.scope_units(Permission::Read),
            caller.actor.holds_root(Permission::Read),
        ),
    };
    let text = query.q.filter(|t| !t.trim().is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(AdminApiError::Invalid(
            "q must be at most 100 characters".into(),
        ));
    }
    let users = p
        .store
        .list_users_filtered(&UserFilter {
            units,
            unitless,
            text: text.map(|t| t.trim().to_owned()),
            status,
            limit,
            offset,
        })
        .await?;
    Ok(wire::UserList {
        users: users.iter().map(user_json).collect(),
        limit,
        offset,
    })
}

pub async fn get(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::UserDetail, AdminApiError> {
    let user = visible_user(p, caller, id).await?;
    let grants = visible_grants(p, caller, &user).await?;
    // Wrong second-factor codes counted and the lock they caused, for the help desk.
    let lock = crate::mfa::lockout(p, &user.id, now).await?;
    Ok(wire::UserDetail {
        user: user_json(&user),
        grants,
        second_factor_lock: lock.map(|l| wire::SecondFactorLock {
            failures: l.failures,
            locked_until: l.locked_until,
        }),
    })
}

/// A user's grants over units the caller can see (others are not revealed).
async fn visible_grants(
    p: &Provider,
    caller: &Caller,
    user: &User,
) -> Result<Vec<wire::Grant>, AdminApiError> {
    Ok(grants_of(p, &user.id)
        .await?
        .iter()
        .filter(|g| caller.actor.may(Permission::Read, Some(&g.unit_id)))
        .map(super::grant_json)
        .collect())
}

/// A random one-time password the administrator hands to the user.
fn temporary_password() -> Result<String, CoreError> {
    random_token()
}

pub async fn create(
    p: &Provider,
    caller: &Caller,
    body: NewUserBody,
    now: i64,
) -> Result<wire::NewUser, AdminApiError> {
    require_unit(caller, Permission::Manage, body.unit_id.as_deref())?;
    let password = temporary_password()?;
    let user = admin::add_user_by(
        p,
        &caller.acting(),
        NewUser {
            username: body.username,
            display_name: body.name,
            email: body.email,
            phone: body.phone,
            unit_id: body.unit_id,
            roles: body.roles,
            password: password.clone(),
            // Whoever saw the answer knows it: the person replaces it at the first sign-in.
            must_change_password: true,
        },
        now,
    )
    .await?;
    Ok(wire::NewUser {
        user: user_json(&user),
        temporary_password: password,
    })
}

pub async fn update(
    p: &Provider,
    caller: &Caller,
    id: &str,
    patch: UserPatch,
    now: i64,
) -> Result<wire::User, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    let mut changed = Vec::new();
    let display_name = match &patch.name {
        Some(n) => {
            changed.push("name");
            check_text("display name", n)?
        }
        None => user.display_name.clone(),
    };
    let email = match patch.email {
        Some(e) => {
            if let Some(e) = &e {
                check_email(e)?;
            }
            changed.push("email");
            e
        }
        None => user.email.clone(),
    };
    let phone = match patch.phone {
        Some(ph) => {
            if let Some(ph) = &ph {
                check_phone(ph)?;
            }
            changed.push("phone");
            ph
        }
        None => user.phone.clone(),
    };
    let unit_id = match patch.unit_id {
        Some(unit) => {
            // Moving a user needs the caller's rights at the destination too.
            require_unit(caller, Permission::Manage, unit.as_deref())?;
            changed.push("unit_id");
            unit
        }
        None => user.unit_id.clone(),
    };
    let roles = match patch.roles {
        Some(r) => {
            check_app_roles(&r)?;
            changed.push("roles");
            r
        }
        None => user.roles.clone(),
    };
    if changed.is_empty() {
        return Err(AdminApiError::Invalid("nothing to change".into()));
    }
    let update = ProfileUpdate {
        display_name,
        email,
        phone,
        unit_id,
        roles,
    };
    p.store.update_user_profile(&user.id, &update, now).await?;
    caller
        .acting()
        .audit(
            p,
            now,
            Event::UserUpdated,
            json!({ "user": user.id, "changed": changed, "unit": update.unit_id, "old_unit": user.unit_id }),
        )
        .await?;
    let fresh = p
        .store
        .user_by_id(&user.id)
        .await?
        .ok_or_else(|| AdminApiError::NotFound(format!("user {id} not found")))?;
    Ok(user_json(&fresh))
}

fn not_self(caller: &Caller, user: &User, what: &str) -> Result<(), AdminApiError> {
    if caller.actor.user_id == user.id {
        return Err(AdminApiError::Forbidden(format!(
            "you cannot {what} your own account; ask another administrator"
        )));
    }
    Ok(())
}

pub async fn disable(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::User, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    not_self(caller, &user, "disable")?;
    if user.status == UserStatus::Disabled {
        return Err(AdminApiError::Conflict(format!(
            "user {} is already disabled",
            user.username
        )));
    }
    admin::disable_user_by(p, &caller.acting(), &user, now).await?;
    Ok(user_json(&User {
        status: UserStatus::Disabled,
        ..user
    }))
}

pub async fn enable(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::User, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    if user.status == UserStatus::Active {
        return Err(AdminApiError::Conflict(format!(
            "user {} is already active",
            user.username
        )));
    }
    p.store
        .set_user_status(&user.username, UserStatus::Active, now)
        .await?;
    caller
        .acting()
        .audit(p, now, Event::UserEnabled, json!({ "user": user.id }))
        .await?;
    Ok(user_json(&User {
        status: UserStatus::Active,
        ..user
    }))
}

/// Sets a new random password, shown once in the answer, and ends every session and token of
/// the account, so whoever held the old password is out.
pub async fn reset_password(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::PasswordReset, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    not_self(caller, &user, "reset the password of")?;
    let password = temporary_password()?;
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| CoreError::Internal(format!("hash task: {e}")))??;
    p.store
        .set_user_password(&user.id, &hash, true, now)
        .await?;
    let ended = crate::session::end_user_access(p, &user, "password_reset", now).await?;
    caller
        .acting()
        .audit(p, now, Event::UserPasswordReset, ended.detail(&user.id))
        .await?;
    Ok(wire::PasswordReset {
        id: user.id,
        username: user.username,
        temporary_password: password,
    })
}

/// Removes every second factor of a person who lost theirs (passkeys, authenticator app,
/// hardware tokens, recovery codes); their sessions end. They enrol again at the next sign-in
/// that needs level 2.
pub async fn reset_factors(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::User, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    not_self(caller, &user, "reset the second factors of")?;
    let a = caller.acting();
    crate::mfa::reset_by(p, &user, a.actor, a.client_id, a.meta, now).await?;
    Ok(user_json(&user))
}

/// Ends every session and token of the account (a lost phone, a shared computer), with
/// back-channel logout to the applications; the password stays.
pub async fn end_sessions(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::User, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    let ended = crate::session::end_user_access(p, &user, "admin_logout", now).await?;
    caller
        .acting()
        .audit(p, now, Event::UserSessionsEnded, ended.detail(&user.id))
        .await?;
    Ok(user_json(&user))
}

/// Clears the account's counts of wrong second-factor codes and wrong passwords, once the
/// administrator has checked with the person that the failures were theirs.
pub async fn unlock(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::Unlocked, AdminApiError> {
    let user = managed_user(p, caller, id).await?;
    not_self(caller, &user, "unlock")?;
    let done = crate::mfa::unlock(p, &user).await?;
    caller
        .acting()
        .audit(
            p,
            now,
            Event::UserUnlocked,
            json!({ "user": user.id, "second_factor": done.second_factor, "password": done.password }),
        )
        .await?;
    Ok(wire::Unlocked {
        id: user.id,
        username: user.username,
        second_factor_cleared: done.second_factor,
        password_cleared: done.password,
    })
}

pub async fn list_grants(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<wire::GrantList, AdminApiError> {
    let user = visible_user(p, caller, id).await?;
    Ok(wire::GrantList {
        grants: visible_grants(p, caller, &user).await?,
    })
}

/// Checks that the caller may hand `role` over `unit` to `user`, or take it away.
async fn check_grant(
    p: &Provider,
    caller: &Caller,
    user_id: &str,
    role: &str,
    unit: &str,
) -> Result<(User, AdminRole), AdminApiError> {
    let user = visible_user(p, caller, user_id).await?;
    super::require_user_permission(caller, Permission::Manage, &user)?;
    let Some(role) = AdminRole::parse(role) else {
        return Err(AdminApiError::Invalid(format!(
            "unknown administrative role {role:?} (use admin, cert_admin or auditor)"
        )));
    };
    require_unit(caller, Permission::Manage, Some(unit))?;
    if !caller.actor.may_grant(role, unit) {
        return Err(AdminApiError::Forbidden(format!(
            "you do not hold {} over unit {unit}, so you cannot hand it on",
            role.as_str()
        )));
    }
    if user.id == caller.actor.user_id {
        return Err(AdminApiError::Forbidden(
            "you cannot change your own grants; ask another administrator".into(),
        ));
    }
    Ok((user, role))
}

pub async fn add_grant(
    p: &Provider,
    caller: &Caller,
    user_id: &str,
    body: GrantBody,
    now: i64,
) -> Result<wire::RoleGrant, AdminApiError> {
    let (user, role) = check_grant(p, caller, user_id, &body.role, &body.unit_id).await?;
    let g = admin::grant_role_by(
        p,
        &caller.acting(),
        &user,
        role.as_str(),
        &body.unit_id,
        now,
    )
    .await?;
    Ok(wire::RoleGrant {
        user_id: g.user_id,
        role: g.role,
        unit_id: g.unit_id,
        granted_by: g.granted_by,
        granted_at: g.granted_at,
    })
}

pub async fn remove_grant(
    p: &Provider,
    caller: &Caller,
    user_id: &str,
    role: &str,
    unit_id: &str,
    now: i64,
) -> Result<(), AdminApiError> {
    let (user, role) = check_grant(p, caller, user_id, role, unit_id).await?;
    admin::revoke_role_by(p, &caller.acting(), &user, role.as_str(), unit_id, now).await?;
    Ok(())
}
