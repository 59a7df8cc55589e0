//! The administration API's logic (`/admin/api/…`): who is calling, what they may reach, and
//! the operations on units, users, clients and role grants. HTTP lives in the server; every
//! operation here takes an authenticated [`Caller`] and `now`, checks the caller's scope first,
//! and audits each change with the administrator's user id.
//!
//! Credentials and certificates (PKI, [`credentials`]): an endpoint about a user's credential
//! loads the owner with [`visible_user`] (404 outside the caller's reach) and then calls
//! [`require_user_permission`] with [`Permission::Credentials`], which the `cert_admin` role
//! carries; the same unit rules then apply as for users.

pub mod audit;
pub mod clients;
pub mod credentials;
pub mod organisation;
pub mod scope;
pub mod signing_activity;
pub mod signing_units;
pub mod units;
pub mod users;

use serde_json::json;
use tessera_store::StoreError;
use tessera_store::units::Unit;
use tessera_store::users::{User, UserStatus};

use crate::admin::Acting;
use crate::audit::Event;
use crate::error::AdminError;
use crate::request::RequestMeta;
use crate::{CoreError, Provider};
pub use scope::{ADMIN_AUTH_MAX_AGE, ADMIN_SCOPE, Actor, AdminRole, Grant, Permission, UnitTree};

/// Why an administration request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    /// No usable access token (401, RFC 6750 §3.1 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// The token lacks [`ADMIN_SCOPE`] (403 `insufficient_scope`).
    #[error("the access token lacks the {ADMIN_SCOPE} scope")]
    InsufficientScope,
    /// Authenticated, but the role does not allow it (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// A unit named in the request is outside the caller's administrative scope (403).
    #[error("{0}")]
    OutOfScope(String),
    /// Unknown, or outside the caller's reach (404: existence is not revealed).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl AdminApiError {
    /// The `error` member of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            AdminApiError::InvalidToken(_) => "invalid_token",
            AdminApiError::InsufficientScope => "insufficient_scope",
            AdminApiError::Forbidden(_) => "forbidden",
            AdminApiError::OutOfScope(_) => "out_of_scope",
            AdminApiError::NotFound(_) => "not_found",
            AdminApiError::Invalid(_) => "invalid_request",
            AdminApiError::Conflict(_) => "conflict",
            AdminApiError::Internal(_) => "server_error",
        }
    }

    /// A refusal worth recording: an authenticated administrator tried something beyond
    /// their rights.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AdminApiError::Forbidden(_) | AdminApiError::OutOfScope(_)
        )
    }
}

impl From<AdminError> for AdminApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(m) => AdminApiError::Invalid(m),
            AdminError::Exists(m) => AdminApiError::Conflict(format!("{m} already exists")),
            AdminError::NotFound(m) => AdminApiError::NotFound(format!("{m} not found")),
            AdminError::Internal(e) => AdminApiError::Internal(e),
        }
    }
}

impl From<StoreError> for AdminApiError {
    fn from(e: StoreError) -> Self {
        AdminError::from(e).into()
    }
}

fn not_found(what: &str) -> AdminApiError {
    AdminApiError::NotFound(format!("{what} not found"))
}

/// An authenticated administrator and the request they came with.
#[derive(Clone, Debug)]
pub struct Caller {
    pub actor: Actor,
    /// The client the access token was issued to (the administration console).
    pub client_id: String,
    pub meta: RequestMeta,
}

impl Caller {
    /// The caller as the PKI and signing use cases record an actor.
    pub fn pki_actor(&self) -> crate::pki::Actor {
        crate::pki::Actor {
            id: self.actor.user_id.clone(),
            meta: self.meta.clone(),
        }
    }

    pub fn acting(&self) -> Acting<'_> {
        Acting {
            actor: &self.actor.user_id,
            client_id: Some(&self.client_id),
            meta: &self.meta,
        }
    }
}

fn invalid_token(d: &str) -> AdminApiError {
    AdminApiError::InvalidToken(d.to_owned())
}

/// Checks a bearer access token as a resource server would (RFC 9068 §4): signed by this
/// provider, `at+jwt`, unexpired, recorded and not revoked, issued to a pinned administration
/// console still allowed [`ADMIN_SCOPE`] and carrying it, for an active user. Then loads that user's grants; a user
/// with none is refused.
pub async fn authenticate(
    p: &Provider,
    access_token: &str,
    meta: RequestMeta,
    now: i64,
) -> Result<Caller, AdminApiError> {
    let Some(v) = p.signer.verify(access_token, now).await? else {
        return Err(invalid_token("the access token is invalid"));
    };
    let c = &v.claims;
    if v.header["typ"] != "at+jwt" {
        return Err(invalid_token("not an access token"));
    }
    if c["iss"] != p.config.issuer.as_str() {
        return Err(invalid_token(
            "the access token was issued by another provider",
        ));
    }
    if c["exp"].as_i64().is_none_or(|exp| now >= exp) {
        return Err(invalid_token("the access token has expired"));
    }
    let Some(jti) = c["jti"].as_str() else {
        return Err(invalid_token("the access token is invalid"));
    };
    let Some(rec) = p.store.token(jti).await? else {
        return Err(invalid_token("the access token is unknown"));
    };
    if rec.revoked_at.is_some() {
        return Err(invalid_token("the access token was revoked"));
    }
    if now >= rec.expires_at {
        return Err(invalid_token("the access token has expired"));
    }
    if !rec.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
        return Err(AdminApiError::InsufficientScope);
    }
    // Only a console pinned by the operator lends the scope to its tokens; a client unpinned
    // or whose registration lost the scope stops at once.
    let client = p.store.client(&rec.client_id).await?;
    let Some(client) = client.filter(|cl| cl.allowed_scopes.iter().any(|s| s == ADMIN_SCOPE))
    else {
        return Err(AdminApiError::InsufficientScope);
    };
    if !client.admin_console {
        return Err(AdminApiError::Forbidden(format!(
            "client {} is not an administration console pinned by the operator (`tessera client add --admin-console`)",
            client.id
        )));
    }
    // Issued after a consent at level 2 (tokens from before that rule carry level 1).
    if crate::mfa::rank(c["acr"].as_str().unwrap_or("")) < 2 {
        return Err(AdminApiError::Forbidden(
            "the access token was not issued after a level 2 sign-in: sign in to the console again"
                .into(),
        ));
    }
    let Some(user) = (match &rec.user_id {
        Some(id) => p.store.user_by_id(id).await?,
        None => {
            return Err(AdminApiError::Forbidden(
                "the administration API acts for a person: a client's own token is not accepted"
                    .into(),
            ));
        }
    }) else {
        return Err(invalid_token("the access token's user no longer exists"));
    };
    if user.status != UserStatus::Active {
        return Err(invalid_token("the user is disabled"));
    }
    caller_of(p, user, &rec.client_id, meta, now).await
}

/// The client id the built-in console (`/admin`) records in the audit log: not a registrable
/// client id (those have no ':'), so its entries cannot be confused with a registered client's.
pub const CONSOLE_CLIENT_ID: &str = "tessera:console";

/// Why the built-in console cannot act for a signed-in person yet.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleGate {
    /// The session is not at level 2, or its level was proven more than
    /// [`ADMIN_AUTH_MAX_AGE`] seconds ago: the
    /// same condition under which a console's token is approved.
    StepUp,
}

/// The signed-in person as an administrator of the built-in console: the same rules as a
/// console's token ([`authenticate`]) — an active user holding a grant, at level 2 proven
/// recently — with [`CONSOLE_CLIENT_ID`] as the client.
pub async fn console_caller(
    p: &Provider,
    session: &tessera_store::sessions::SessionRecord,
    user: User,
    meta: RequestMeta,
    now: i64,
) -> Result<Result<Caller, ConsoleGate>, AdminApiError> {
    if user.status != UserStatus::Active {
        return Err(invalid_token("the user is disabled"));
    }
    // The grant first: someone without one is not asked for a second factor in vain.
    let caller = caller_of(p, user, CONSOLE_CLIENT_ID, meta, now).await?;
    if crate::mfa::rank(&session.acr) < 2 || now - session.auth_time > ADMIN_AUTH_MAX_AGE {
        return Ok(Err(ConsoleGate::StepUp));
    }
    Ok(Ok(caller))
}

/// The caller `user` is, through `client_id`; a user without grants is refused (and audited).
async fn caller_of(
    p: &Provider,
    user: User,
    client_id: &str,
    meta: RequestMeta,
    now: i64,
) -> Result<Caller, AdminApiError> {
    let grants = grants_of(p, &user.id).await?;
    if grants.is_empty() {
        let err = AdminApiError::Forbidden("you hold no administrative role".into());
        p.audit(
            Event::AdminRefused
                .at(now)
                .actor(&user.id)
                .client(client_id)
                .meta(&meta)
                .detail(json!({ "error": err.code(), "reason": err.to_string() })),
        )
        .await?;
        return Err(err);
    }
    let tree = UnitTree::new(&p.store.list_units().await?);
    Ok(Caller {
        actor: Actor {
            user_id: user.id,
            username: user.username,
            grants,
            tree,
        },
        client_id: client_id.to_owned(),
        meta,
    })
}

/// Records a refused request of an authenticated administrator.
pub async fn record_refusal(
    p: &Provider,
    caller: &Caller,
    action: &str,
    err: &AdminApiError,
    now: i64,
) -> Result<(), CoreError> {
    p.audit(
        Event::AdminRefused
            .at(now)
            .actor(&caller.actor.user_id)
            .client(&caller.client_id)
            .meta(&caller.meta)
            .detail(json!({ "action": action, "error": err.code(), "reason": err.to_string() })),
    )
    .await
}

/// A user's administrative grants (unknown role names in the table are ignored).
pub async fn grants_of(p: &Provider, user_id: &str) -> Result<Vec<Grant>, CoreError> {
    Ok(p.store
        .role_grants_of(user_id)
        .await?
        .into_iter()
        .filter_map(|g| {
            AdminRole::parse(&g.role).map(|role| Grant {
                role,
                unit_id: g.unit_id,
            })
        })
        .collect())
}

/// A unit the caller can see, or 404.
pub async fn visible_unit(p: &Provider, caller: &Caller, id: &str) -> Result<Unit, AdminApiError> {
    if !caller.actor.may(Permission::Read, Some(id)) {
        return Err(not_found(&format!("unit {id}")));
    }
    p.store
        .unit(id)
        .await?
        .ok_or_else(|| not_found(&format!("unit {id}")))
}

/// A unit named in a request body (a parent, a user's or client's unit, a grant's unit) must be
/// within the caller's scope for `perm`; a unit that does not exist is outside it too.
pub fn require_unit(
    caller: &Caller,
    perm: Permission,
    unit: Option<&str>,
) -> Result<(), AdminApiError> {
    if caller.actor.may(perm, unit) {
        return Ok(());
    }
    Err(AdminApiError::OutOfScope(match unit {
        Some(u) => format!("unit {u} does not exist or is outside your administrative scope"),
        None => {
            "only administrators of the root of the unit tree manage objects that belong to no unit"
                .into()
        }
    }))
}

/// A user the caller can see, or 404.
pub async fn visible_user(p: &Provider, caller: &Caller, id: &str) -> Result<User, AdminApiError> {
    match p.store.user_by_id(id).await? {
        Some(u) if caller.actor.may(Permission::Read, u.unit_id.as_deref()) => Ok(u),
        _ => Err(not_found(&format!("user {id}"))),
    }
}

/// The caller may do `perm` on `user`'s account (403 otherwise).
pub fn require_user_permission(
    caller: &Caller,
    perm: Permission,
    user: &User,
) -> Result<(), AdminApiError> {
    if caller.actor.may(perm, user.unit_id.as_deref()) {
        Ok(())
    } else {
        Err(AdminApiError::Forbidden(format!(
            "your role does not allow this on user {}",
            user.username
        )))
    }
}

/// A user whose account the caller may change: visible, within the caller's `admin` scope, and
/// holding no right the caller lacks (else resetting their password would hand it over).
pub async fn managed_user(p: &Provider, caller: &Caller, id: &str) -> Result<User, AdminApiError> {
    let user = visible_user(p, caller, id).await?;
    require_user_permission(caller, Permission::Manage, &user)?;
    if !caller.actor.outranks(&grants_of(p, &user.id).await?) {
        return Err(AdminApiError::Forbidden(format!(
            "user {} holds administrative rights beyond yours",
            user.username
        )));
    }
    Ok(user)
}

fn grant_json(g: &Grant) -> tessera_proto::admin::Grant {
    tessera_proto::admin::Grant {
        role: g.role.as_str().to_owned(),
        unit_id: g.unit_id.clone(),
    }
}

/// What the caller may see of their own identity and rights.
pub fn whoami(caller: &Caller) -> tessera_proto::admin::Me {
    tessera_proto::admin::Me {
        user_id: caller.actor.user_id.clone(),
        username: caller.actor.username.clone(),
        client_id: caller.client_id.clone(),
        grants: caller.actor.grants.iter().map(grant_json).collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
