//! Administration of units, users and clients (used by the command line, later by admin pages).
//! Every change is validated here and audited.

use serde_json::json;
use tessera_store::api_scopes::ApiScope;
use tessera_store::clients::Client;
use tessera_store::grants::RoleGrant;
use tessera_store::units::Unit;
use tessera_store::users::{User, UserStatus};
use url::Url;

use crate::audit::Event;
use crate::error::AdminError;
use crate::request::RequestMeta;
use crate::secrets::{random_id, random_token};
use crate::session::end_user_access;
use crate::{CoreError, Provider, password};

/// Who makes a change, for the audit log: an administrator's user id (through the admin API,
/// with the client and address of the request) or `cli:<os user>`.
#[derive(Clone, Copy, Debug)]
pub struct Acting<'a> {
    pub actor: &'a str,
    pub client_id: Option<&'a str>,
    pub meta: &'a RequestMeta,
}

static NO_META: RequestMeta = RequestMeta {
    source_ip: None,
    user_agent: None,
};

impl<'a> Acting<'a> {
    /// A change made from the command line.
    pub fn cli(actor: &'a str) -> Acting<'a> {
        Acting {
            actor,
            client_id: None,
            meta: &NO_META,
        }
    }

    /// Records a successful change made by this actor.
    pub async fn audit(
        &self,
        p: &Provider,
        now: i64,
        event: Event,
        detail: serde_json::Value,
    ) -> Result<(), CoreError> {
        self.audit_about(p, now, event, self.client_id, detail)
            .await
    }

    /// Like [`audit`](Self::audit), for a change about a client (recorded in `client_id`).
    pub async fn audit_about(
        &self,
        p: &Provider,
        now: i64,
        event: Event,
        client_id: Option<&str>,
        mut detail: serde_json::Value,
    ) -> Result<(), CoreError> {
        if let (Some(via), Some(obj)) = (self.client_id, detail.as_object_mut()) {
            obj.insert("via_client".into(), via.into());
        }
        p.audit(
            event
                .at(now)
                .actor(self.actor)
                .maybe_client(client_id)
                .meta(self.meta)
                .detail(detail),
        )
        .await
    }
}

/// Role names reserved for administrative grants (see `admin_api::scope`); application roles
/// may not take them, so no application mistakes one for the other.
pub const RESERVED_ROLES: [&str; 3] = ["admin", "cert_admin", "auditor"];

pub(crate) fn check_app_roles(roles: &[String]) -> Result<(), AdminError> {
    for role in roles {
        check_identifier("role", role)?;
        if RESERVED_ROLES.contains(&role.as_str()) {
            return Err(invalid(format!(
                "{role:?} is an administrative role: grant it with `tessera user grant` or the admin API, not as an application role"
            )));
        }
    }
    Ok(())
}

pub(crate) fn check_email(email: &str) -> Result<(), AdminError> {
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!("not an e-mail address: {email:?}")))
    }
}

pub(crate) fn check_phone(phone: &str) -> Result<(), AdminError> {
    let digits = phone.trim_start_matches('+');
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "phone must be digits, optionally with a leading + (E.164): {phone:?}"
        )));
    }
    Ok(())
}

fn invalid(msg: impl Into<String>) -> AdminError {
    AdminError::Invalid(msg.into())
}

pub(crate) fn check_identifier(kind: &str, v: &str) -> Result<(), AdminError> {
    let ok = (2..=64).contains(&v.len())
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{kind} must be 2–64 characters of a-z, 0-9, '.', '_' or '-': {v:?}"
        )))
    }
}

pub(crate) fn check_text(kind: &str, v: &str) -> Result<String, AdminError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{kind} must be 1–200 printable characters"
        )));
    }
    Ok(v.to_owned())
}

/// Unit levels follow depth in the tree: city → department or district → commune.
fn level_for_depth(depth: usize) -> &'static str {
    match depth {
        0 => "city",
        1 => "department",
        2 => "commune",
        _ => "unit",
    }
}

pub async fn add_unit(
    p: &Provider,
    actor: &str,
    name: &str,
    parent: Option<&str>,
    now: i64,
) -> Result<Unit, AdminError> {
    add_unit_by(p, &Acting::cli(actor), name, parent, now).await
}

pub async fn add_unit_by(
    p: &Provider,
    by: &Acting<'_>,
    name: &str,
    parent: Option<&str>,
    now: i64,
) -> Result<Unit, AdminError> {
    let name = check_text("unit name", name)?;
    let mut depth = 0;
    if let Some(parent_id) = parent {
        let mut cursor = p
            .store
            .unit(parent_id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("parent unit {parent_id}")))?;
        depth = 1;
        while let Some(up) = cursor.parent_id.clone() {
            depth += 1;
            cursor = p
                .store
                .unit(&up)
                .await?
                .ok_or_else(|| AdminError::NotFound(format!("unit {up}")))?;
        }
    }
    let unit = Unit {
        id: random_id()?,
        name,
        parent_id: parent.map(str::to_owned),
        level: level_for_depth(depth).to_owned(),
        created_at: now,
    };
    p.store.insert_unit(&unit).await?;
    by.audit(
        p,
        now,
        Event::UnitCreated,
        json!({ "unit": unit.id, "name": unit.name, "parent": unit.parent_id }),
    )
    .await?;
    Ok(unit)
}

#[derive(Debug, Default)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub unit_id: Option<String>,
    pub roles: Vec<String>,
    pub password: String,
    /// Set by someone other than the person (the administration API, `--temporary`): to be
    /// changed at the first sign-in.
    pub must_change_password: bool,
}

pub async fn add_user(
    p: &Provider,
    actor: &str,
    new: NewUser,
    now: i64,
) -> Result<User, AdminError> {
    add_user_by(p, &Acting::cli(actor), new, now).await
}

pub async fn add_user_by(
    p: &Provider,
    by: &Acting<'_>,
    new: NewUser,
    now: i64,
) -> Result<User, AdminError> {
    let username = crate::username::normalise_username(&new.username);
    check_identifier("username", &username)?;
    let display_name = check_text("display name", &new.display_name)?;
    if let Some(email) = &new.email {
        check_email(email)?;
    }
    if let Some(phone) = &new.phone {
        check_phone(phone)?;
    }
    if let Some(unit) = &new.unit_id
        && p.store.unit(unit).await?.is_none()
    {
        return Err(AdminError::NotFound(format!("unit {unit}")));
    }
    check_app_roles(&new.roles)?;
    password::check_policy(&new.password).map_err(invalid)?;
    let pw = new.password;
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| CoreError::Internal(format!("hash task: {e}")))??;
    let user = User {
        id: random_id()?,
        username,
        display_name,
        email: new.email,
        phone: new.phone,
        status: UserStatus::Active,
        unit_id: new.unit_id,
        password_hash: Some(hash),
        password_must_change: new.must_change_password,
        roles: new.roles,
        created_at: now,
        updated_at: now,
    };
    p.store.insert_user(&user).await?;
    by.audit(
        p,
        now,
        Event::UserCreated,
        json!({
            "user": user.id, "username": user.username, "unit": user.unit_id,
            "password_must_change": user.password_must_change,
        }),
    )
    .await?;
    Ok(user)
}

/// Sets a user's password from the command line (the operator's; the administration API only
/// hands out random ones). `temporary`: to be changed at the next sign-in. Ends the person's
/// sessions and tokens, so whoever held the old password is out.
pub async fn set_password(
    p: &Provider,
    actor: &str,
    user: &User,
    new_password: &str,
    temporary: bool,
    now: i64,
) -> Result<(), AdminError> {
    password::check_policy(new_password).map_err(invalid)?;
    let pw = new_password.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| CoreError::Internal(format!("hash task: {e}")))??;
    if !p
        .store
        .set_user_password(&user.id, &hash, temporary, now)
        .await?
    {
        return Err(AdminError::NotFound(format!("user {}", user.username)));
    }
    let ended = end_user_access(p, user, "password_set", now).await?;
    let mut detail = ended.detail(&user.id);
    detail["password_must_change"] = temporary.into();
    Acting::cli(actor)
        .audit(p, now, Event::UserPasswordSet, detail)
        .await?;
    Ok(())
}

/// Disables an account and ends its sessions and tokens at once.
pub async fn disable_user(
    p: &Provider,
    actor: &str,
    username: &str,
    now: i64,
) -> Result<(), AdminError> {
    let username = crate::username::normalise_username(username);
    let user = p
        .store
        .user_by_username(&username)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {username}")))?;
    disable_user_by(p, &Acting::cli(actor), &user, now).await
}

pub async fn disable_user_by(
    p: &Provider,
    by: &Acting<'_>,
    user: &User,
    now: i64,
) -> Result<(), AdminError> {
    p.store
        .set_user_status(&user.username, UserStatus::Disabled, now)
        .await?;
    let ended = end_user_access(p, user, "user_disabled", now).await?;
    by.audit(p, now, Event::UserDisabled, ended.detail(&user.id))
        .await?;
    Ok(())
}

/// Grants an administrative role over a unit (and the units below it). The caller has checked
/// that the actor may do so (the admin API's scope rules; the command line is trusted).
pub async fn grant_role_by(
    p: &Provider,
    by: &Acting<'_>,
    user: &User,
    role: &str,
    unit_id: &str,
    now: i64,
) -> Result<tessera_store::grants::RoleGrant, AdminError> {
    let Some(role) = crate::admin_api::scope::AdminRole::parse(role) else {
        return Err(invalid(format!(
            "unknown administrative role {role:?} (use admin, cert_admin or auditor)"
        )));
    };
    // Citizens are a separate population: no administrative role, over anyone.
    let citizens = tessera_store::upstreams::CITIZENS_UNIT;
    if user.unit_id.as_deref() == Some(citizens) || unit_id == citizens {
        return Err(invalid(
            "citizens get no administrative roles, and nobody administers the citizens unit"
                .to_owned(),
        ));
    }
    if p.store.unit(unit_id).await?.is_none() {
        return Err(AdminError::NotFound(format!("unit {unit_id}")));
    }
    let grant = tessera_store::grants::RoleGrant {
        user_id: user.id.clone(),
        role: role.as_str().to_owned(),
        unit_id: unit_id.to_owned(),
        granted_by: by.actor.to_owned(),
        granted_at: now,
    };
    p.store.insert_role_grant(&grant).await?;
    by.audit(
        p,
        now,
        Event::GrantAdded,
        json!({ "user": user.id, "role": grant.role, "unit": grant.unit_id }),
    )
    .await?;
    Ok(grant)
}

/// Takes an administrative role away.
pub async fn revoke_role_by(
    p: &Provider,
    by: &Acting<'_>,
    user: &User,
    role: &str,
    unit_id: &str,
    now: i64,
) -> Result<(), AdminError> {
    if !p.store.delete_role_grant(&user.id, role, unit_id).await? {
        return Err(AdminError::NotFound(format!(
            "grant {role} on unit {unit_id} for user {}",
            user.username
        )));
    }
    by.audit(
        p,
        now,
        Event::GrantRemoved,
        json!({ "user": user.id, "role": role, "unit": unit_id }),
    )
    .await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub alg: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Default: `authorization_code` and `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// Client keys for `private_key_jwt` (RFC 7523): an inline JWKS (JSON) or a JWKS URI.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_absolute_ttl: Option<i64>,
    /// Minimum level of assurance of every login to this client (`urn:tessera:loa:2`).
    pub min_acr: Option<String>,
    /// Owning organisation unit; `None`: managed by top-level administrators only.
    pub unit_id: Option<String>,
    /// Pin as an administration console (command line only): it receives
    /// [`ADMIN_SCOPE`](crate::admin_api::scope::ADMIN_SCOPE).
    pub admin_console: bool,
}

/// User ids are 32 lowercase hex digits ([`random_id`]); a client id of that shape could make
/// a service token's `sub` equal a person's (RFC 9068 §5), so client ids may not take it.
pub fn looks_like_user_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Client ids follow the identifier rules and stay out of the user-id namespace.
pub(crate) fn check_client_id(id: &str) -> Result<(), AdminError> {
    check_identifier("client id", id)?;
    if looks_like_user_id(id) {
        return Err(invalid(format!(
            "client id {id:?} has the shape of a user id (32 hex digits), which is reserved for people: choose a name such as \"motcua\""
        )));
    }
    Ok(())
}

/// Checks the scopes of a client being registered or changed: OpenID Connect scopes, the
/// administration scope only for a pinned console, and API scopes only once registered
/// (`tessera scope add`).
pub(crate) async fn check_client_scopes(
    p: &Provider,
    scopes: &[String],
    admin_console: bool,
) -> Result<(), AdminError> {
    for s in scopes {
        if !crate::oidc::valid_scope_name(s) {
            return Err(invalid(format!("invalid scope name {s:?}")));
        }
        if crate::oidc::SCOPES.contains(&s.as_str())
            || crate::oidc::SIGNING_SCOPES.contains(&s.as_str())
        {
            continue;
        }
        if s.starts_with("tessera:") {
            if s == crate::admin_api::scope::ADMIN_SCOPE && admin_console {
                continue;
            }
            return Err(invalid(format!(
                "the {s} scope is only for an administration console pinned by the operator (`tessera client add --admin-console`)"
            )));
        }
        if p.store.api_scope(s).await?.is_none() {
            return Err(invalid(format!(
                "scope {s:?} is not registered: register it first with `tessera scope add {s} --description …`"
            )));
        }
    }
    Ok(())
}

const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    crate::oidc::device::GRANT_TYPE,
];

/// Checks the grant types, keys and lifetimes of a new client; returns (grant types,
/// authentication method).
fn client_policy(new: &NewClient) -> Result<(Vec<String>, String), AdminError> {
    let grants: Vec<String> = new
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()])
        .into_iter()
        // `device_code` is short for the device grant's URN (RFC 8628 §3.4).
        .map(|g| match g.as_str() {
            "device_code" => crate::oidc::device::GRANT_TYPE.to_owned(),
            _ => g,
        })
        .collect();
    if let Some(bad) = grants.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
        return Err(invalid(format!(
            "unknown grant type {bad:?} (use {})",
            GRANT_TYPES.join(", ")
        )));
    }
    if grants.is_empty() {
        return Err(invalid("at least one grant type is required"));
    }
    if new.public && grants.iter().any(|g| g == "client_credentials") {
        return Err(invalid("a public client cannot use client credentials"));
    }
    let user_flow = grants.iter().any(|g| g == "authorization_code");
    if user_flow && new.redirect_uris.is_empty() {
        return Err(invalid(
            "at least one --redirect-uri is required for the authorization_code grant",
        ));
    }
    if !user_flow && !new.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect URIs are only for clients with the authorization_code grant",
        ));
    }
    for ttl in [new.refresh_idle_ttl, new.refresh_absolute_ttl]
        .into_iter()
        .flatten()
    {
        if !(60..=365 * 86_400).contains(&ttl) {
            return Err(invalid(
                "refresh-token lifetimes must be between 60 seconds and a year",
            ));
        }
    }
    let method = match (&new.jwks, &new.jwks_uri) {
        (Some(_), Some(_)) => return Err(invalid("give either --jwks or --jwks-uri, not both")),
        (Some(_), None) | (None, Some(_)) if new.public => {
            return Err(invalid(
                "public clients do not authenticate; they take no keys",
            ));
        }
        (Some(inline), None) => {
            let doc: serde_json::Value = serde_json::from_str(inline)
                .map_err(|e| invalid(format!("--jwks is not JSON: {e}")))?;
            let keys = doc["keys"].as_array().map(Vec::len).unwrap_or(0);
            if keys == 0 {
                return Err(invalid("--jwks must be a JWK Set with at least one key"));
            }
            if doc["keys"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k.get("d").is_some())
            {
                return Err(invalid(
                    "--jwks must hold public keys only (a private key was given)",
                ));
            }
            "private_key_jwt"
        }
        (None, Some(uri)) => {
            check_redirect("JWKS URI", uri, false)?;
            "private_key_jwt"
        }
        (None, None) if new.public => "none",
        (None, None) => "client_secret_basic",
    };
    Ok((grants, method.to_owned()))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Redirect URIs are absolute, carry no fragment (RFC 6749 §3.1.2), and use https — except
/// loopback addresses (development) and private-use schemes of mobile apps (RFC 8252 §7.1).
pub(crate) fn check_redirect(kind: &str, raw: &str, public: bool) -> Result<(), AdminError> {
    let url = Url::parse(raw)
        .map_err(|e| invalid(format!("{kind} {raw:?} is not an absolute URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(invalid(format!(
            "{kind} {raw:?} must not contain a fragment"
        )));
    }
    let ok = match url.scheme() {
        "https" => true,
        "http" => is_loopback(&url),
        scheme => public && scheme.contains('.'),
    };
    if !ok {
        return Err(invalid(format!(
            "{kind} {raw:?} must use https (http only on loopback; public mobile clients may use a reverse-domain scheme)"
        )));
    }
    Ok(())
}

/// Registers a client; returns it and, for confidential clients, the secret (shown once).
pub async fn add_client(
    p: &Provider,
    actor: &str,
    new: NewClient,
    now: i64,
) -> Result<(Client, Option<String>), AdminError> {
    add_client_by(p, &Acting::cli(actor), new, now).await
}

pub async fn add_client_by(
    p: &Provider,
    by: &Acting<'_>,
    new: NewClient,
    now: i64,
) -> Result<(Client, Option<String>), AdminError> {
    check_client_id(&new.id)?;
    let name = check_text("client name", &new.name)?;
    let (grant_types, auth_method) = client_policy(&new)?;
    for uri in &new.redirect_uris {
        check_redirect("redirect URI", uri, new.public)?;
    }
    for uri in &new.post_logout_redirect_uris {
        check_redirect("post-logout redirect URI", uri, new.public)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        let url = Url::parse(uri)
            .map_err(|e| invalid(format!("back-channel logout URI {uri:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") || url.fragment().is_some() {
            return Err(invalid(format!(
                "back-channel logout URI {uri:?} must be an http(s) URL without fragment"
            )));
        }
    }
    if let Some(level) = &new.min_acr
        && !crate::acr::SUPPORTED.contains(&level.as_str())
    {
        return Err(invalid(format!(
            "unknown level of assurance {level:?} (use {})",
            crate::acr::SUPPORTED.join(" or ")
        )));
    }
    let alg = new.alg.unwrap_or_else(|| "ES256".into());
    if tessera_hsm::KeyAlgorithm::from_jws_name(&alg).is_none() {
        return Err(invalid(format!(
            "token algorithm must be ES256 or RS256, not {alg:?}"
        )));
    }
    let mut scopes = new.scopes.unwrap_or_else(|| {
        crate::oidc::SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    if new.admin_console {
        if new.public || !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(invalid(
                "an administration console is a confidential client using the authorization_code grant",
            ));
        }
        if !scopes
            .iter()
            .any(|s| s == crate::admin_api::scope::ADMIN_SCOPE)
        {
            scopes.push(crate::admin_api::scope::ADMIN_SCOPE.to_owned());
        }
    }
    // OIDC scopes, plus registered API scopes for service clients (e.g. `lgsp.read`).
    check_client_scopes(p, &scopes, new.admin_console).await?;
    if let Some(unit) = &new.unit_id
        && p.store.unit(unit).await?.is_none()
    {
        return Err(AdminError::NotFound(format!("unit {unit}")));
    }
    let secret = if auth_method.starts_with("client_secret") {
        Some(random_token()?)
    } else {
        None
    };
    let client = Client {
        id: new.id,
        name,
        public: new.public,
        secret_hash: secret.as_deref().map(|s| p.keyed.hash_client_secret(s)),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout_uri: new.backchannel_logout_uri,
        allowed_scopes: scopes,
        token_alg: alg,
        min_acr: new.min_acr,
        grant_types,
        auth_method,
        jwks: new.jwks,
        jwks_uri: new.jwks_uri,
        refresh_idle_ttl: new.refresh_idle_ttl,
        refresh_absolute_ttl: new.refresh_absolute_ttl,
        unit_id: new.unit_id,
        admin_console: new.admin_console,
        created_at: now,
        updated_at: now,
    };
    p.store.insert_client(&client).await?;
    by.audit_about(
        p,
        now,
        Event::ClientCreated,
        Some(&client.id),
        json!({
            "public": client.public, "redirect_uris": client.redirect_uris,
            "scopes": client.allowed_scopes, "unit": client.unit_id,
            "admin_console": client.admin_console,
        }),
    )
    .await?;
    Ok((client, secret))
}

/// Pins a client as an administration console or unpins it (command line only). Unpinning
/// takes the administration scope away too, so that the client's tokens stop working at once.
pub async fn set_admin_console(
    p: &Provider,
    actor: &str,
    id: &str,
    on: bool,
    now: i64,
) -> Result<Client, AdminError> {
    let c = client_or_not_found(p, id).await?;
    if on && (c.public || !c.grant_types.iter().any(|g| g == "authorization_code")) {
        return Err(invalid(
            "an administration console is a confidential client using the authorization_code grant",
        ));
    }
    let mut scopes = c.allowed_scopes.clone();
    scopes.retain(|s| s != crate::admin_api::scope::ADMIN_SCOPE);
    if on {
        scopes.push(crate::admin_api::scope::ADMIN_SCOPE.to_owned());
    }
    let update = tessera_store::clients::ClientUpdate {
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        allowed_scopes: scopes,
        unit_id: c.unit_id.clone(),
    };
    p.store.update_client(id, &update, now).await?;
    p.store.set_client_admin_console(id, on, now).await?;
    Acting::cli(actor)
        .audit_about(
            p,
            now,
            Event::ClientAdminConsole,
            Some(id),
            json!({ "admin_console": on, "scopes": update.allowed_scopes }),
        )
        .await?;
    client_or_not_found(p, id).await
}

async fn client_or_not_found(p: &Provider, id: &str) -> Result<Client, AdminError> {
    p.store
        .client(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client {id}")))
}

/// Gives a client or a user a unit (command line): with several top-level units, objects
/// without one are reachable by no administrator through the API, so the operator hands each
/// to the city it belongs to.
pub async fn set_client_unit(
    p: &Provider,
    actor: &str,
    id: &str,
    unit_id: &str,
    now: i64,
) -> Result<Client, AdminError> {
    let c = client_or_not_found(p, id).await?;
    if p.store.unit(unit_id).await?.is_none() {
        return Err(AdminError::NotFound(format!("unit {unit_id}")));
    }
    let update = tessera_store::clients::ClientUpdate {
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        allowed_scopes: c.allowed_scopes.clone(),
        unit_id: Some(unit_id.to_owned()),
    };
    p.store.update_client(id, &update, now).await?;
    Acting::cli(actor)
        .audit_about(
            p,
            now,
            Event::ClientUpdated,
            Some(id),
            json!({ "changed": ["unit_id"], "unit": unit_id, "old_unit": c.unit_id }),
        )
        .await?;
    client_or_not_found(p, id).await
}

pub async fn set_user_unit(
    p: &Provider,
    actor: &str,
    username: &str,
    unit_id: &str,
    now: i64,
) -> Result<User, AdminError> {
    let username = crate::username::normalise_username(username);
    let user = p
        .store
        .user_by_username(&username)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {username}")))?;
    if p.store.unit(unit_id).await?.is_none() {
        return Err(AdminError::NotFound(format!("unit {unit_id}")));
    }
    let update = tessera_store::users::ProfileUpdate {
        display_name: user.display_name.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        unit_id: Some(unit_id.to_owned()),
        roles: user.roles.clone(),
    };
    p.store.update_user_profile(&user.id, &update, now).await?;
    Acting::cli(actor)
        .audit(
            p,
            now,
            Event::UserUpdated,
            json!({ "user": user.id, "changed": ["unit_id"], "unit": unit_id, "old_unit": user.unit_id }),
        )
        .await?;
    p.store
        .user_by_id(&user.id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {username}")))
}

/// A new secret for a confidential client using a shared secret (command line; the only way
/// for an administration console). The old one stops working.
pub async fn rotate_client_secret(
    p: &Provider,
    actor: &str,
    id: &str,
    now: i64,
) -> Result<String, AdminError> {
    let c = client_or_not_found(p, id).await?;
    if c.public || !c.auth_method.starts_with("client_secret") {
        return Err(invalid(format!(
            "client {id} does not authenticate with a secret"
        )));
    }
    let secret = random_token()?;
    p.store
        .set_client_secret_hash(id, &p.keyed.hash_client_secret(&secret), now)
        .await?;
    Acting::cli(actor)
        .audit_about(p, now, Event::ClientSecretRotated, Some(id), json!({}))
        .await?;
    Ok(secret)
}

/// Registers an API scope owned by `unit_id` (command line only).
pub async fn add_api_scope(
    p: &Provider,
    actor: &str,
    name: &str,
    description: &str,
    unit_id: Option<&str>,
    now: i64,
) -> Result<tessera_store::api_scopes::ApiScope, AdminError> {
    if !crate::oidc::valid_scope_name(name) {
        return Err(invalid(format!(
            "scope name must be 1–64 characters of a-z, A-Z, 0-9, '.', '_', '-', ':' or '/': {name:?}"
        )));
    }
    if crate::oidc::SCOPES.contains(&name) || name.starts_with("tessera:") {
        return Err(invalid(format!(
            "{name:?} is a scope of the provider itself, not an API scope"
        )));
    }
    let description = check_text("scope description", description)?;
    if let Some(unit) = unit_id
        && p.store.unit(unit).await?.is_none()
    {
        return Err(AdminError::NotFound(format!("unit {unit}")));
    }
    let scope = tessera_store::api_scopes::ApiScope {
        name: name.to_owned(),
        description,
        unit_id: unit_id.map(str::to_owned),
        created_at: now,
    };
    p.store.insert_api_scope(&scope).await?;
    Acting::cli(actor)
        .audit(
            p,
            now,
            Event::ScopeCreated,
            json!({ "scope": scope.name, "unit": scope.unit_id }),
        )
        .await?;
    Ok(scope)
}

/// Removes an API scope that no client holds any more.
pub async fn remove_api_scope(
    p: &Provider,
    actor: &str,
    name: &str,
    now: i64,
) -> Result<(), AdminError> {
    let holders: Vec<String> = p
        .store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| c.allowed_scopes.iter().any(|s| s == name))
        .map(|c| c.id)
        .collect();
    if !holders.is_empty() {
        return Err(invalid(format!(
            "scope {name} is still given to client(s) {}: take it away from them first",
            holders.join(", ")
        )));
    }
    if !p.store.delete_api_scope(name).await? {
        return Err(AdminError::NotFound(format!("scope {name}")));
    }
    Acting::cli(actor)
        .audit(p, now, Event::ScopeRemoved, json!({ "scope": name }))
        .await?;
    Ok(())
}

pub async fn remove_client(
    p: &Provider,
    actor: &str,
    id: &str,
    now: i64,
) -> Result<(), AdminError> {
    remove_client_by(p, &Acting::cli(actor), id, now).await
}

pub async fn remove_client_by(
    p: &Provider,
    by: &Acting<'_>,
    id: &str,
    now: i64,
) -> Result<(), AdminError> {
    if !p.store.delete_client(id).await? {
        return Err(AdminError::NotFound(format!("client {id}")));
    }
    by.audit_about(p, now, Event::ClientRemoved, Some(id), json!({}))
        .await?;
    Ok(())
}

// What the operator reads (the command line's lists). Each is the whole table: the command line
// acts for the operator, who sees everything.

pub async fn list_users(p: &Provider) -> Result<Vec<User>, CoreError> {
    Ok(p.store.list_users().await?)
}

/// Whether the database has no users yet (a first start).
pub async fn no_users_yet(p: &Provider) -> Result<bool, CoreError> {
    Ok(p.store.count_users().await? == 0)
}

/// The user of a user name as typed (normalised first, see [`crate::username`]).
pub async fn find_user(p: &Provider, username: &str) -> Result<Option<User>, CoreError> {
    let name = crate::username::normalise_username(username);
    Ok(p.store.user_by_username(&name).await?)
}

/// The user of an already normalised user name.
pub async fn user_by_username(p: &Provider, username: &str) -> Result<Option<User>, CoreError> {
    Ok(p.store.user_by_username(username).await?)
}

pub async fn role_grants_of(p: &Provider, user_id: &str) -> Result<Vec<RoleGrant>, CoreError> {
    Ok(p.store.role_grants_of(user_id).await?)
}

pub async fn list_units(p: &Provider) -> Result<Vec<Unit>, CoreError> {
    Ok(p.store.list_units().await?)
}

pub async fn list_clients(p: &Provider) -> Result<Vec<Client>, CoreError> {
    Ok(p.store.list_clients().await?)
}

/// Ids of the clients with a back-channel logout URI, read from `store` alone (for
/// `tessera config check`, which opens no key custodian and migrates nothing).
pub async fn backchannel_clients(store: &tessera_store::Store) -> Result<Vec<String>, CoreError> {
    Ok(store
        .list_clients()
        .await?
        .into_iter()
        .filter(|c| c.backchannel_logout_uri.is_some())
        .map(|c| c.id)
        .collect())
}

pub async fn list_api_scopes(p: &Provider) -> Result<Vec<ApiScope>, CoreError> {
    Ok(p.store.list_api_scopes().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_rules() {
        assert!(check_redirect("r", "https://vanban.haiphong.gov.vn/cb", false).is_ok());
        assert!(check_redirect("r", "http://127.0.0.1:9000/cb", false).is_ok());
        assert!(check_redirect("r", "http://localhost/cb", false).is_ok());
        assert!(check_redirect("r", "http://vanban.local/cb", false).is_err());
        assert!(check_redirect("r", "https://a.vn/cb#x", false).is_err());
        assert!(check_redirect("r", "/relative", false).is_err());
        assert!(check_redirect("r", "vn.gov.haiphong.dichvucong:/cb", true).is_ok());
        assert!(check_redirect("r", "vn.gov.haiphong.dichvucong:/cb", false).is_err());
        assert!(check_redirect("r", "javascript:alert(1)", true).is_err());
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier("u", "an.nv").is_ok());
        assert!(check_identifier("u", "An").is_err());
        assert!(check_identifier("u", "a").is_err());
        assert!(check_identifier("u", "an nv").is_err());
    }
}
