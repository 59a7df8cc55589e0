//! Client applications through the administration API. Each client belongs to a unit; the
//! administrators of that unit (or of a unit above it) manage it.

use serde::Deserialize;
use serde_json::json;
use tessera_proto::admin as wire;
pub use tessera_proto::admin::{ClientPatch, NewClientBody};
use tessera_store::clients::{Client, ClientUpdate};
use url::Url;

use super::{AdminApiError, Caller, Permission, require_unit, visible_unit};
use crate::Provider;
use crate::admin::{self, NewClient, check_redirect, check_text};
use crate::audit::Event;
use crate::secrets::random_token;

pub fn client_json(c: &Client) -> wire::Client {
    wire::Client {
        client_id: c.id.clone(),
        name: c.name.clone(),
        unit_id: c.unit_id.clone(),
        public: c.public,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        scopes: c.allowed_scopes.clone(),
        grant_types: c.grant_types.clone(),
        auth_method: c.auth_method.clone(),
        alg: c.token_alg.clone(),
        min_acr: c.min_acr.clone(),
        admin_console: c.admin_console,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// Checks the scopes the caller gives a client (those it did not hold before). Scopes of the
/// `tessera:` family open the provider's own APIs and are given only from the command line, to
/// a console the operator pinned: through the API anyone could otherwise register a client that
/// collects other administrators' tokens. An API scope must be registered, and the caller must
/// administer its unit (a scope without a unit is the operator's, or the root's).
async fn check_given_scopes(
    p: &Provider,
    caller: &Caller,
    scopes: &[String],
    before: &[String],
) -> Result<(), AdminApiError> {
    for s in scopes.iter().filter(|s| !before.contains(s)) {
        if s.starts_with("tessera:") {
            return Err(AdminApiError::Forbidden(format!(
                "the {s} scope is given only from the command line, to an administration console pinned by the operator"
            )));
        }
        if !crate::oidc::valid_scope_name(s) {
            return Err(AdminApiError::Invalid(format!("invalid scope name {s:?}")));
        }
        if crate::oidc::SCOPES.contains(&s.as_str()) {
            continue;
        }
        let Some(registered) = p.store.api_scope(s).await? else {
            return Err(AdminApiError::Invalid(format!(
                "scope {s:?} is not registered (the operator registers API scopes with `tessera scope add`)"
            )));
        };
        if !caller
            .actor
            .may(Permission::Manage, registered.unit_id.as_deref())
        {
            return Err(AdminApiError::Forbidden(format!(
                "scope {s} belongs to a unit you do not administer"
            )));
        }
    }
    Ok(())
}

/// A console pinned by the operator is changed only from the command line: its redirect
/// URIs, secret, keys and scopes decide who receives administration tokens.
fn refuse_console(c: &Client) -> Result<(), AdminApiError> {
    if c.admin_console {
        return Err(AdminApiError::Forbidden(format!(
            "client {} is an administration console: it is managed only with `tessera client` on the command line",
            c.id
        )));
    }
    Ok(())
}

/// A client the caller can see, or 404.
pub async fn visible_client(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<Client, AdminApiError> {
    match p.store.client(id).await? {
        Some(c) if caller.actor.may(Permission::Read, c.unit_id.as_deref()) => Ok(c),
        _ => Err(AdminApiError::NotFound(format!("client {id} not found"))),
    }
}

async fn managed_client(p: &Provider, caller: &Caller, id: &str) -> Result<Client, AdminApiError> {
    let c = visible_client(p, caller, id).await?;
    if !caller.actor.may(Permission::Manage, c.unit_id.as_deref()) {
        return Err(AdminApiError::Forbidden(format!(
            "your role does not allow changing client {id}"
        )));
    }
    Ok(c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientQuery {
    /// This unit and the units below it (default: the caller's whole scope).
    pub unit_id: Option<String>,
}

pub async fn list(
    p: &Provider,
    caller: &Caller,
    query: ClientQuery,
) -> Result<wire::ClientList, AdminApiError> {
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
    let clients = p.store.list_clients_in(&units, unitless).await?;
    Ok(wire::ClientList {
        clients: clients.iter().map(client_json).collect(),
    })
}

pub async fn get(p: &Provider, caller: &Caller, id: &str) -> Result<wire::Client, AdminApiError> {
    Ok(client_json(&visible_client(p, caller, id).await?))
}

/// Registers a client; a confidential client's secret is in the answer, once.
pub async fn create(
    p: &Provider,
    caller: &Caller,
    body: NewClientBody,
    now: i64,
) -> Result<wire::NewClient, AdminApiError> {
    require_unit(caller, Permission::Manage, body.unit_id.as_deref())?;
    if let Some(scopes) = &body.scopes {
        check_given_scopes(p, caller, scopes, &[]).await?;
    }
    let new = NewClient {
        id: body.client_id,
        name: body.name,
        public: body.public,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        backchannel_logout_uri: body.backchannel_logout_uri,
        alg: body.alg,
        scopes: body.scopes,
        grant_types: body.grant_types,
        jwks: body.jwks.map(|j| j.to_string()),
        jwks_uri: body.jwks_uri,
        refresh_idle_ttl: body.refresh_idle_ttl,
        refresh_absolute_ttl: body.refresh_absolute_ttl,
        unit_id: body.unit_id,
        min_acr: body.min_acr,
        admin_console: false,
    };
    let (client, secret) = admin::add_client_by(p, &caller.acting(), new, now).await?;
    Ok(wire::NewClient {
        client: client_json(&client),
        client_secret: secret,
    })
}

pub async fn update(
    p: &Provider,
    caller: &Caller,
    id: &str,
    patch: ClientPatch,
    now: i64,
) -> Result<wire::ClientUpdated, AdminApiError> {
    let c = managed_client(p, caller, id).await?;
    refuse_console(&c)?;
    let mut changed = Vec::new();
    let name = match &patch.name {
        Some(n) => {
            changed.push("name");
            check_text("client name", n)?
        }
        None => c.name.clone(),
    };
    let redirect_uris = match patch.redirect_uris {
        Some(uris) => {
            for uri in &uris {
                check_redirect("redirect URI", uri, c.public)?;
            }
            let user_flow = c.grant_types.iter().any(|g| g == "authorization_code");
            if user_flow && uris.is_empty() {
                return Err(AdminApiError::Invalid(
                    "at least one redirect URI is required for the authorization_code grant".into(),
                ));
            }
            if !user_flow && !uris.is_empty() {
                return Err(AdminApiError::Invalid(
                    "redirect URIs are only for clients with the authorization_code grant".into(),
                ));
            }
            changed.push("redirect_uris");
            uris
        }
        None => c.redirect_uris.clone(),
    };
    let post_logout_redirect_uris = match patch.post_logout_redirect_uris {
        Some(uris) => {
            for uri in &uris {
                check_redirect("post-logout redirect URI", uri, c.public)?;
            }
            changed.push("post_logout_redirect_uris");
            uris
        }
        None => c.post_logout_redirect_uris.clone(),
    };
    let backchannel_logout_uri = match patch.backchannel_logout_uri {
        Some(uri) => {
            if let Some(uri) = &uri {
                let ok = Url::parse(uri).is_ok_and(|u| {
                    matches!(u.scheme(), "https" | "http") && u.fragment().is_none()
                });
                if !ok {
                    return Err(AdminApiError::Invalid(format!(
                        "back-channel logout URI {uri:?} must be an http(s) URL without fragment"
                    )));
                }
            }
            changed.push("backchannel_logout_uri");
            uri
        }
        None => c.backchannel_logout_uri.clone(),
    };
    let allowed_scopes = match patch.scopes {
        Some(scopes) => {
            if let Some(bad) = scopes.iter().find(|s| !crate::oidc::valid_scope_name(s)) {
                return Err(AdminApiError::Invalid(format!(
                    "invalid scope name {bad:?}"
                )));
            }
            check_given_scopes(p, caller, &scopes, &c.allowed_scopes).await?;
            changed.push("scopes");
            scopes
        }
        None => c.allowed_scopes.clone(),
    };
    let unit_id = match patch.unit_id {
        Some(unit) => {
            require_unit(caller, Permission::Manage, unit.as_deref())?;
            changed.push("unit_id");
            unit
        }
        None => c.unit_id.clone(),
    };
    if changed.is_empty() {
        return Err(AdminApiError::Invalid("nothing to change".into()));
    }
    let update = ClientUpdate {
        name,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        allowed_scopes,
        unit_id,
    };
    p.store.update_client(&c.id, &update, now).await?;
    caller
        .acting()
        .audit_about(
            p,
            now,
            Event::ClientUpdated,
            Some(&c.id),
            json!({
                "changed": changed, "redirect_uris": update.redirect_uris,
                "scopes": update.allowed_scopes, "unit": update.unit_id, "old_unit": c.unit_id,
            }),
        )
        .await?;
    let fresh = visible_client(p, caller, id).await;
    // A client moved out of the caller's sight is no longer theirs to show.
    Ok(match fresh {
        Ok(fresh) => wire::ClientUpdated::Visible(Box::new(client_json(&fresh))),
        Err(_) => wire::ClientUpdated::MovedAway {
            client_id: c.id,
            unit_id: update.unit_id,
        },
    })
}

pub async fn remove(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<(), AdminApiError> {
    let c = managed_client(p, caller, id).await?;
    refuse_console(&c)?;
    admin::remove_client_by(p, &caller.acting(), &c.id, now).await?;
    Ok(())
}

/// A new secret for a confidential client using a shared secret; the old one stops working.
pub async fn rotate_secret(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::ClientSecret, AdminApiError> {
    let c = managed_client(p, caller, id).await?;
    refuse_console(&c)?;
    if c.public || !c.auth_method.starts_with("client_secret") {
        return Err(AdminApiError::Invalid(format!(
            "client {id} does not authenticate with a secret ({})",
            if c.public {
                "public client"
            } else {
                c.auth_method.as_str()
            }
        )));
    }
    let secret = random_token()?;
    p.store
        .set_client_secret_hash(&c.id, &p.keyed.hash_client_secret(&secret), now)
        .await?;
    caller
        .acting()
        .audit_about(p, now, Event::ClientSecretRotated, Some(&c.id), json!({}))
        .await?;
    Ok(wire::ClientSecret {
        client_id: c.id,
        client_secret: secret,
    })
}
