//! Identity brokering to upstream OpenID Connect providers (VNeID and the like): their
//! registration, the sign-ins in flight, what a verified upstream identity becomes here (a
//! citizen account, created or found by issuer and subject; never by e-mail), and linking an
//! upstream identity to an official, which needs the official's own password.
//!
//! The OpenID Connect exchange itself (discovery, PKCE, the code exchange, the ID token's
//! signature, `iss`, `aud`, `exp` and `nonce`) is done by the server with the `openidconnect`
//! crate; this module gets the verified result.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tessera_store::upstreams::{
    CITIZENS_UNIT, LinkOfferRecord, UpstreamLoginRecord, UpstreamRecord,
};
use tessera_store::users::{User, UserStatus};

use crate::audit::Event;
use crate::error::AdminError;
use crate::login::{self, LoginError};
use crate::request::RequestMeta;
use crate::secrets::{random_id, random_token, sha256_hex};
use crate::session::Authn;
use crate::{CoreError, Provider, acr};

/// `amr` of a session whose person was authenticated by an upstream provider (RFC 8176 §2).
pub const AMR_FED: &str = "fed";

/// `acr_values` entry by which a client requires sign-in through one upstream:
/// `urn:tessera:upstream:<id>`, e.g. `urn:tessera:upstream:vneid`.
pub const REQUIRE_PREFIX: &str = "urn:tessera:upstream:";

/// How long a sign-in may stay upstream, and a link offer wait for the password.
pub const LOGIN_TTL: i64 = 600;

/// Fields a claim map may fill, with the upstream claim used by default.
pub const MAPPED_FIELDS: &[(&str, &str)] = &[
    ("sub", "sub"),
    ("name", "name"),
    ("birthdate", "birthdate"),
    ("national_id", "national_id"),
    ("email", "email"),
    ("phone", "phone_number"),
];

/// Who signs in through an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Population {
    /// New identities become citizen accounts.
    Citizens,
    /// Identities are linked to existing officials (with their password); none is created.
    Officials,
}

impl Population {
    pub fn parse(s: &str) -> Option<Population> {
        match s {
            "citizens" => Some(Population::Citizens),
            "officials" => Some(Population::Officials),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Population::Citizens => "citizens",
            Population::Officials => "officials",
        }
    }
}

/// A registered upstream, its maps parsed.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub record: UpstreamRecord,
    pub claim_map: BTreeMap<String, String>,
    pub acr_map: BTreeMap<String, String>,
    pub population: Population,
}

impl Upstream {
    fn from_record(record: UpstreamRecord) -> Result<Upstream, CoreError> {
        let corrupt = |what: &str| CoreError::Internal(format!("upstream {}: {what}", record.id));
        let claim_map =
            serde_json::from_str(&record.claim_map).map_err(|_| corrupt("claim map"))?;
        let acr_map = serde_json::from_str(&record.acr_map).map_err(|_| corrupt("acr map"))?;
        let population =
            Population::parse(&record.population).ok_or_else(|| corrupt("population"))?;
        Ok(Upstream {
            record,
            claim_map,
            acr_map,
            population,
        })
    }

    /// The upstream claim that fills `field`.
    pub fn claim_for(&self, field: &str) -> String {
        self.claim_map.get(field).cloned().unwrap_or_else(|| {
            MAPPED_FIELDS
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(field, |(_, c)| c)
                .to_owned()
        })
    }

    /// Tessera's level for the upstream's `acr`: the mapped level, else the password's.
    pub fn level(&self, upstream_acr: Option<&str>) -> &'static str {
        upstream_acr
            .and_then(|a| self.acr_map.get(a))
            .and_then(|l| acr::SUPPORTED.iter().copied().find(|s| s == l))
            .unwrap_or(acr::LOA1)
    }

    /// The client secret, opened.
    pub fn client_secret(&self, p: &Provider) -> Result<Option<String>, CoreError> {
        self.record
            .client_secret
            .as_ref()
            .map(|sealed| {
                let plain = p.keyed.open(&secret_context(&self.record.id), sealed)?;
                String::from_utf8(plain)
                    .map_err(|_| CoreError::Internal("upstream secret is not UTF-8".into()))
            })
            .transpose()
    }
}

fn secret_context(id: &str) -> String {
    format!("upstream-secret:{id}")
}

/// Parses `field=claim,field=claim` (fields from [`MAPPED_FIELDS`]).
pub fn parse_claim_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    parse_pairs(text, |field, claim| {
        if !MAPPED_FIELDS.iter().any(|(f, _)| *f == field) {
            let known: Vec<&str> = MAPPED_FIELDS.iter().map(|(f, _)| *f).collect();
            return Err(format!(
                "unknown field {field:?} in the claim map (known: {})",
                known.join(", ")
            ));
        }
        if claim.is_empty() || claim.len() > 128 {
            return Err(format!("the claim for {field:?} is empty or too long"));
        }
        Ok(())
    })
}

/// Parses `upstream-acr=tessera-level,…`, e.g. `http://eidas.europa.eu/LoA/high=urn:tessera:loa:2`.
/// The separator is the last `=`, as upstream values may contain one.
pub fn parse_acr_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((upstream, level)) = pair.rsplit_once('=') else {
            return Err(format!("{pair:?} is not upstream-acr=level"));
        };
        if !acr::SUPPORTED.contains(&level) {
            return Err(format!(
                "{level:?} is not a Tessera level (use {})",
                acr::SUPPORTED.join(" or ")
            ));
        }
        out.insert(upstream.to_owned(), level.to_owned());
    }
    Ok(out)
}

fn parse_pairs(
    text: &str,
    check: impl Fn(&str, &str) -> Result<(), String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not field=claim"));
        };
        let (k, v) = (k.trim(), v.trim());
        check(k, v)?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// What `tessera upstream add` registers.
#[derive(Debug)]
pub struct NewUpstream {
    pub id: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    pub claim_map: BTreeMap<String, String>,
    pub acr_map: BTreeMap<String, String>,
    pub population: Population,
}

/// Upstream ids appear in URLs (`/login/upstream/<id>`) and in `acr_values`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub async fn add(p: &Provider, new: NewUpstream, actor: &str, now: i64) -> Result<(), AdminError> {
    let invalid = |m: String| AdminError::Invalid(m);
    if !valid_id(&new.id) {
        return Err(invalid(format!(
            "upstream id {:?}: use 1–32 lower-case letters, digits or '-'",
            new.id
        )));
    }
    let issuer = url::Url::parse(&new.issuer)
        .map_err(|e| invalid(format!("issuer {:?} is not a URL: {e}", new.issuer)))?;
    if !matches!(issuer.scheme(), "https" | "http") || issuer.query().is_some() {
        return Err(invalid(
            "the issuer must be an https URL without a query".into(),
        ));
    }
    if new.client_id.is_empty() || new.display_name.trim().is_empty() {
        return Err(invalid(
            "the client id and display name are required".into(),
        ));
    }
    let client_secret = new
        .client_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| p.keyed.seal(&secret_context(&new.id), s.as_bytes()))
        .transpose()?;
    let to_json = |m: &BTreeMap<String, String>| {
        serde_json::to_string(m)
            .map_err(|e| AdminError::Internal(CoreError::Internal(e.to_string())))
    };
    p.store
        .insert_upstream(&UpstreamRecord {
            id: new.id.clone(),
            display_name: new.display_name.trim().to_owned(),
            // Compared exactly with the ID token's `iss` (OIDC Core §3.1.3.7).
            issuer: new.issuer.clone(),
            client_id: new.client_id.clone(),
            client_secret,
            scopes: new.scopes.clone(),
            claim_map: to_json(&new.claim_map)?,
            acr_map: to_json(&new.acr_map)?,
            population: new.population.as_str().to_owned(),
            created_at: now,
        })
        .await?;
    p.audit(Event::UpstreamAdded.at(now).actor(actor).detail(json!({
        "upstream": new.id, "issuer": new.issuer, "client_id": new.client_id,
        "population": new.population.as_str(),
    })))
    .await?;
    Ok(())
}

pub async fn remove(p: &Provider, id: &str, actor: &str, now: i64) -> Result<(), AdminError> {
    if !p.store.delete_upstream(id).await? {
        return Err(AdminError::NotFound(format!("upstream {id}")));
    }
    p.audit(
        Event::UpstreamRemoved
            .at(now)
            .actor(actor)
            .detail(json!({ "upstream": id })),
    )
    .await?;
    Ok(())
}

pub async fn list(p: &Provider) -> Result<Vec<Upstream>, CoreError> {
    p.store
        .list_upstreams()
        .await?
        .into_iter()
        .map(Upstream::from_record)
        .collect()
}

pub async fn get(p: &Provider, id: &str) -> Result<Option<Upstream>, CoreError> {
    p.store
        .upstream(id)
        .await?
        .map(Upstream::from_record)
        .transpose()
}

/// The upstreams offered on the login page: `(id, display name)`.
pub async fn buttons(p: &Provider) -> Result<Vec<(String, String)>, CoreError> {
    Ok(p.store
        .list_upstreams()
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

/// Registers which population may sign in to a client: `officials` (the default),
/// `citizens` or `both`.
pub async fn set_client_audience(
    p: &Provider,
    client_id: &str,
    audience: &str,
) -> Result<(), AdminError> {
    if !matches!(audience, "officials" | "citizens" | "both") {
        return Err(AdminError::Invalid(format!(
            "audience {audience:?}: use officials, citizens or both"
        )));
    }
    if p.store.client(client_id).await?.is_none() {
        return Err(AdminError::NotFound(format!("client {client_id}")));
    }
    p.store.set_client_audience(client_id, audience).await?;
    Ok(())
}

/// A sign-in about to go upstream: `state`, `nonce` and the PKCE verifier are kept in the
/// database (the verifier sealed), so whichever replica gets the callback can finish it.
pub async fn begin_login(
    p: &Provider,
    upstream: &Upstream,
    state: &str,
    nonce: &str,
    pkce_verifier: &str,
    req: Option<&str>,
    now: i64,
) -> Result<(), CoreError> {
    let id = sha256_hex(state.as_bytes());
    let pkce_verifier = p
        .keyed
        .seal(&format!("upstream-pkce:{id}"), pkce_verifier.as_bytes())?;
    p.store
        .insert_upstream_login(&UpstreamLoginRecord {
            id,
            upstream_id: upstream.record.id.clone(),
            nonce: nonce.to_owned(),
            pkce_verifier,
            req: req.map(str::to_owned),
            created_at: now,
            expires_at: now + LOGIN_TTL,
        })
        .await?;
    Ok(())
}

/// A sign-in in flight, taken by its `state` (once).
#[derive(Debug)]
pub struct InFlight {
    pub upstream: Upstream,
    pub nonce: String,
    pub pkce_verifier: String,
    pub req: Option<String>,
}

pub async fn take_login(
    p: &Provider,
    state: &str,
    now: i64,
) -> Result<Option<InFlight>, CoreError> {
    let id = sha256_hex(state.as_bytes());
    let Some(rec) = p.store.take_upstream_login(&id, now).await? else {
        return Ok(None);
    };
    let Some(upstream) = get(p, &rec.upstream_id).await? else {
        return Ok(None);
    };
    let verifier = p
        .keyed
        .open(&format!("upstream-pkce:{id}"), &rec.pkce_verifier)?;
    Ok(Some(InFlight {
        upstream,
        nonce: rec.nonce,
        pkce_verifier: String::from_utf8(verifier)
            .map_err(|_| CoreError::Internal("PKCE verifier is not UTF-8".into()))?,
        req: rec.req,
    }))
}

/// An upstream ID token whose signature, issuer, audience, expiry and nonce were verified.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    /// The ID token's claims.
    pub claims: Map<String, Value>,
    /// The raw ID token (the hint for logging out upstream).
    pub id_token: String,
}

/// What a verified upstream identity leads to.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in as `user` with `authn` (`amr` `fed`, the mapped level).
    SignedIn {
        user: Box<User>,
        authn: Authn,
        /// The sealed upstream ID token, to keep with the session.
        sealed_id_token: Vec<u8>,
    },
    /// An officials' upstream whose identity matches nobody yet: the official proves their
    /// password on the link page, which this handle names.
    NeedsLink { handle: String },
    /// The account linked to this identity is disabled.
    Disabled,
}

fn claim_str(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The claims Tessera keeps from the upstream (name, birthdate, national id, …), by field.
fn mapped_claims(upstream: &Upstream, claims: &Map<String, Value>) -> Map<String, Value> {
    MAPPED_FIELDS
        .iter()
        .filter(|(f, _)| *f != "sub")
        .filter_map(|(f, _)| {
            claim_str(claims, &upstream.claim_for(f)).map(|v| ((*f).to_owned(), v.into()))
        })
        .collect()
}

fn id_token_context(upstream_id: &str) -> String {
    format!("upstream-id-token:{upstream_id}")
}

/// Turns a verified upstream identity into a sign-in: the linked account, a new citizen for
/// a citizens' upstream, or a link offer for an officials' one. Accounts are found by
/// (issuer, subject) only.
pub async fn complete(
    p: &Provider,
    upstream: &Upstream,
    verified: &VerifiedIdentity,
    req: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Outcome, CoreError> {
    let issuer = upstream.record.issuer.as_str();
    let subject = claim_str(&verified.claims, &upstream.claim_for("sub"))
        .ok_or_else(|| CoreError::Invalid("the upstream ID token has no subject".into()))?;
    let level = upstream.level(verified.claims.get("acr").and_then(Value::as_str));
    let mapped = mapped_claims(upstream, &verified.claims);
    let mapped_json = Value::Object(mapped.clone()).to_string();
    let sealed_id_token = p.keyed.seal(
        &id_token_context(&upstream.record.id),
        verified.id_token.as_bytes(),
    )?;
    let authn = Authn {
        amr: vec![AMR_FED.into()],
        acr: level.into(),
    };
    if let Some(user_id) = p.store.federated_user_id(issuer, &subject).await? {
        let Some(user) = p.store.user_by_id(&user_id).await? else {
            return Err(CoreError::Internal("linked account vanished".into()));
        };
        if user.status != UserStatus::Active {
            return Ok(Outcome::Disabled);
        }
        p.store
            .touch_federated_identity(issuer, &subject, &mapped_json, now)
            .await?;
        audit_sign_in(p, upstream, &user, false, meta, now).await?;
        return Ok(Outcome::SignedIn {
            user: Box::new(user),
            authn,
            sealed_id_token,
        });
    }
    match upstream.population {
        Population::Citizens => {
            let user = new_citizen(upstream, &subject, &mapped, now)?;
            match p
                .store
                .insert_federated_citizen(
                    &user,
                    &upstream.record.id,
                    issuer,
                    &subject,
                    &mapped_json,
                    now,
                )
                .await
            {
                Ok(()) => {}
                // Another replica finished the same first sign-in a moment earlier.
                Err(tessera_store::StoreError::Conflict(_)) => {
                    return Box::pin(complete(p, upstream, verified, req, meta, now)).await;
                }
                Err(e) => return Err(e.into()),
            }
            audit_sign_in(p, upstream, &user, true, meta, now).await?;
            Ok(Outcome::SignedIn {
                user: Box::new(user),
                authn,
                sealed_id_token,
            })
        }
        Population::Officials => {
            let handle = random_token()?;
            p.store
                .insert_link_offer(&LinkOfferRecord {
                    id: sha256_hex(handle.as_bytes()),
                    upstream_id: upstream.record.id.clone(),
                    issuer: issuer.to_owned(),
                    subject: subject.clone(),
                    acr: level.to_owned(),
                    claims: mapped_json,
                    id_token: sealed_id_token,
                    req: req.map(str::to_owned),
                    created_at: now,
                    expires_at: now + LOGIN_TTL,
                })
                .await?;
            Ok(Outcome::NeedsLink { handle })
        }
    }
}

/// A citizen account: no password (they sign in only through the upstream), in the unit
/// `citizens`, with a username derived from the upstream and subject.
fn new_citizen(
    upstream: &Upstream,
    subject: &str,
    mapped: &Map<String, Value>,
    now: i64,
) -> Result<User, CoreError> {
    let digest = sha256_hex(format!("{}\n{subject}", upstream.record.issuer).as_bytes());
    let name = mapped
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("Công dân")
        .to_owned();
    Ok(User {
        id: random_id()?,
        username: format!("{}.{}", upstream.record.id, &digest[..16]),
        display_name: name,
        // Kept for the person's own information; never used to find or link accounts.
        email: mapped
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned),
        phone: None,
        status: UserStatus::Active,
        unit_id: Some(CITIZENS_UNIT.to_owned()),
        password_hash: None,
        password_must_change: false,
        roles: Vec::new(),
        created_at: now,
        updated_at: now,
    })
}

async fn audit_sign_in(
    p: &Provider,
    upstream: &Upstream,
    user: &User,
    created: bool,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CoreError> {
    p.audit(
        Event::UpstreamSignIn
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "upstream": upstream.record.id, "account_created": created })),
    )
    .await
}

/// Records a refused upstream answer (the reason, never the token).
pub async fn audit_refused(
    p: &Provider,
    upstream_id: Option<&str>,
    reason: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CoreError> {
    p.audit(
        Event::UpstreamRefused
            .at(now)
            .meta(meta)
            .detail(json!({ "upstream": upstream_id, "reason": reason })),
    )
    .await
}

/// A link offer still open, for the link page.
pub async fn link_offer(
    p: &Provider,
    handle: &str,
    now: i64,
) -> Result<Option<(LinkOfferRecord, Upstream)>, CoreError> {
    let Some(offer) = p
        .store
        .link_offer(&sha256_hex(handle.as_bytes()), now)
        .await?
    else {
        return Ok(None);
    };
    Ok(get(p, &offer.upstream_id).await?.map(|u| (offer, u)))
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the link offer expired")]
    Expired,
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("citizens' accounts are not linked this way")]
    NotAnOfficial,
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for LinkError {
    fn from(e: tessera_store::StoreError) -> Self {
        LinkError::Internal(e.into())
    }
}

/// Links the offer's upstream identity to the official whose password is given (the same
/// throttled, audited check as the login form), then signs them in. Answers the sign-in, the
/// pending request it continues and the upstream.
pub async fn link_with_password(
    p: &Provider,
    handle: &str,
    username: &str,
    password: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(Outcome, Option<String>, Upstream), LinkError> {
    let Some((offer, upstream)) = link_offer(p, handle, now).await? else {
        return Err(LinkError::Expired);
    };
    let user = login::authenticate(p, username, password, meta, now).await?;
    if user.unit_id.as_deref() == Some(CITIZENS_UNIT) {
        return Err(LinkError::NotAnOfficial);
    }
    if !p.store.delete_link_offer(&offer.id).await? {
        return Err(LinkError::Expired);
    }
    p.store
        .link_federated_identity(
            &upstream.record.id,
            &offer.issuer,
            &offer.subject,
            &user.id,
            &offer.claims,
            now,
        )
        .await?;
    p.audit(
        Event::UpstreamLinked
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "upstream": upstream.record.id })),
    )
    .await?;
    let authn = Authn {
        amr: vec![AMR_FED.into(), "pwd".into()],
        acr: offer.acr.clone(),
    };
    Ok((
        Outcome::SignedIn {
            user: Box::new(user),
            authn,
            sealed_id_token: offer.id_token,
        },
        offer.req,
        upstream,
    ))
}

/// Keeps the upstream and its ID token with a session started through it.
pub async fn bind_session(
    p: &Provider,
    session_id: &str,
    upstream_id: &str,
    sealed_id_token: &[u8],
    now: i64,
) -> Result<(), CoreError> {
    p.store
        .insert_upstream_session(session_id, upstream_id, sealed_id_token, now)
        .await?;
    Ok(())
}

/// The upstream a session came from and its ID token (opened), for logging out there too.
pub async fn session_upstream(
    p: &Provider,
    session_id: &str,
) -> Result<Option<(Upstream, String)>, CoreError> {
    let Some((upstream_id, sealed)) = p.store.upstream_session(session_id).await? else {
        return Ok(None);
    };
    let Some(upstream) = get(p, &upstream_id).await? else {
        return Ok(None);
    };
    let token = p.keyed.open(&id_token_context(&upstream_id), &sealed)?;
    let token = String::from_utf8(token)
        .map_err(|_| CoreError::Internal("upstream ID token is not UTF-8".into()))?;
    Ok(Some((upstream, token)))
}

/// The upstream a request's `acr_values` require (`urn:tessera:upstream:<id>`), if any.
pub fn required(acr_values: &[String]) -> Option<&str> {
    acr_values
        .iter()
        .find_map(|v| v.strip_prefix(REQUIRE_PREFIX))
}

/// Whether `session_id` satisfies the upstream a request requires.
pub async fn satisfies(
    p: &Provider,
    acr_values: &[String],
    session_id: &str,
) -> Result<bool, CoreError> {
    let Some(wanted) = required(acr_values) else {
        return Ok(true);
    };
    Ok(p.store
        .upstream_session(session_id)
        .await?
        .is_some_and(|(id, _)| id == wanted))
}

/// Whether `user` may sign in to a client registered for `audience`.
pub fn admits(audience: &str, user: &User) -> bool {
    let citizen = user.unit_id.as_deref() == Some(CITIZENS_UNIT);
    match audience {
        "both" => true,
        "citizens" => citizen,
        _ => !citizen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse_and_refuse_unknown_fields() {
        let m =
            parse_claim_map("sub=so_dinh_danh, name=ho_ten,national_id=cccd").unwrap_or_default();
        assert_eq!(m.get("sub").map(String::as_str), Some("so_dinh_danh"));
        assert_eq!(m.get("national_id").map(String::as_str), Some("cccd"));
        assert!(parse_claim_map("password=x").is_err());
        assert!(parse_claim_map("name").is_err());
        let a = parse_acr_map("urn:vneid:level=2=urn:tessera:loa:2").unwrap_or_default();
        assert_eq!(
            a.get("urn:vneid:level=2").map(String::as_str),
            Some(acr::LOA2)
        );
        assert!(parse_acr_map("x=urn:tessera:loa:9").is_err());
    }

    #[test]
    fn required_upstream_and_audiences() {
        let v = vec![
            acr::LOA1.to_owned(),
            "urn:tessera:upstream:vneid".to_owned(),
        ];
        assert_eq!(required(&v), Some("vneid"));
        assert_eq!(required(&[acr::LOA2.to_owned()]), None);
        assert!(valid_id("vneid") && !valid_id("VNeID") && !valid_id("a/b") && !valid_id(""));
    }
}
