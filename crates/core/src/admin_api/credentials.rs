//! Officials' signing credentials and certificates through the administration API.
//!
//! A credential is reached through its owner: the caller sees it when they see the owner
//! ([`visible_user`], 404 otherwise, without revealing whether the credential exists), and
//! changes it when they hold [`Permission::Credentials`] (the `cert_admin` role) over the
//! owner's unit (403 otherwise). The operations are those of [`crate::pki`], acting as the
//! administrator (their user id and request), so each change is audited with them.

use std::collections::HashMap;

use serde::Deserialize;
use tessera_hsm::KeyType;
use tessera_proto::admin as wire;
pub use tessera_proto::admin::{CaChoice, NewCredentialBody, ReasonValue, RenewBody, RevokeBody};
use tessera_store::pki::{Credential, CredentialFilter, CredentialStatus, OwnerUnits};
use tessera_store::users::User;

use super::users::MAX_PAGE;
use super::{
    AdminApiError, Caller, Permission, require_user_permission, visible_unit, visible_user,
};
use crate::Provider;
use crate::pki::{self, CredentialRequest, PkiError, RevocationReason};

impl From<PkiError> for AdminApiError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::Invalid(m) => AdminApiError::Invalid(m),
            // The validation message of an import is the answer the administrator needs.
            refused @ PkiError::Refused(_) => AdminApiError::Invalid(refused.to_string()),
            not_found @ PkiError::NotFound(_) => AdminApiError::NotFound(not_found.to_string()),
            PkiError::Conflict(m) | PkiError::Unusable(m) => AdminApiError::Conflict(m),
            PkiError::Forbidden(m) => AdminApiError::Forbidden(m),
            PkiError::Internal(e) => AdminApiError::Internal(e),
        }
    }
}

/// The PKI functions' actor: the administrator's user id and their request.
fn pem(label: &str, der: &[u8]) -> Result<String, AdminApiError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).map_err(|e| {
        AdminApiError::Internal(crate::CoreError::Internal(format!("PEM encoding: {e}")))
    })
}

fn owner_json(u: &User) -> wire::Owner {
    wire::Owner {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.display_name.clone(),
        unit_id: u.unit_id.clone(),
    }
}

/// A credential's record (never its key reference).
pub fn credential_json(c: &Credential, owner: &User) -> wire::Credential {
    wire::Credential {
        id: c.id.clone(),
        user: owner_json(owner),
        status: c.status.as_str().to_owned(),
        source: c.source.clone(),
        ca_id: c.ca_id.clone(),
        key_alg: c.key_alg.clone(),
        key_backend: c.key_backend.clone(),
        serial: c.serial.clone(),
        issuer: c.issuer.clone(),
        subject: c.subject.clone(),
        not_before: c.not_before,
        not_after: c.not_after,
        revocation_reason: c.revocation_reason.clone(),
        revoked_at: c.revoked_at,
        suspended_at: c.suspended_at,
        renewed_from: c.renewed_from.clone(),
        expiry_notified_at: c.expiry_notified_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// The record with its CSR, certificate and chain (PEM, the issuing CA first).
fn full_json(c: &Credential, owner: &User) -> Result<wire::CredentialDetail, AdminApiError> {
    let certificate_pem = match &c.cert_der {
        Some(der) => Some(pem("CERTIFICATE", der)?),
        None => None,
    };
    let chain = pki::import::split_der(c.chain_der.as_deref().unwrap_or_default())?;
    Ok(wire::CredentialDetail {
        credential: credential_json(c, owner),
        csr_pem: pem("CERTIFICATE REQUEST", &c.csr_der)?,
        certificate_pem,
        chain_pem: chain
            .iter()
            .map(|der| pem("CERTIFICATE", der))
            .collect::<Result<Vec<_>, _>>()?,
    })
}

fn credential_not_found(id: &str) -> AdminApiError {
    AdminApiError::NotFound(format!("credential {id} not found"))
}

/// A credential the caller can see, with its owner; 404 when it does not exist or its owner is
/// outside the caller's reach (the same answer, so existence is not revealed).
pub async fn visible_credential(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<(Credential, User), AdminApiError> {
    // Organisation credentials are reached through their unit ([`super::organisation`]).
    let Some((cred, user_id)) = p
        .store
        .credential(id)
        .await?
        .and_then(|c| c.user_id.clone().map(|u| (c, u)))
    else {
        return Err(credential_not_found(id));
    };
    match visible_user(p, caller, &user_id).await {
        Ok(owner) => Ok((cred, owner)),
        Err(AdminApiError::NotFound(_)) => Err(credential_not_found(id)),
        Err(e) => Err(e),
    }
}

/// A credential the caller may change: visible, and `cert_admin` over its owner's unit.
async fn managed_credential(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<(Credential, User), AdminApiError> {
    let (cred, owner) = visible_credential(p, caller, id).await?;
    require_user_permission(caller, Permission::Credentials, &owner)?;
    Ok((cred, owner))
}

/// Separation of duties: no one certifies their own key.
fn not_self(caller: &Caller, owner: &User, what: &str) -> Result<(), AdminApiError> {
    if caller.actor.user_id == owner.id {
        return Err(AdminApiError::Forbidden(format!(
            "you cannot {what} your own credential; ask another certificate administrator"
        )));
    }
    Ok(())
}

/// Query of `GET /admin/api/credentials`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialQuery {
    /// Owners in this unit and the units below it (default: the caller's whole scope).
    pub unit_id: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<String>,
    /// Only active credentials whose certificate expires within this many days.
    pub expiring_within_days: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn check_days(name: &str, days: i64) -> Result<i64, AdminApiError> {
    if !(0..=3650).contains(&days) {
        return Err(AdminApiError::Invalid(format!(
            "{name} must be 0–3650 days"
        )));
    }
    Ok(days)
}

/// The owners' units the caller may see, narrowed to `unit` and below when given.
async fn owner_scope(
    p: &Provider,
    caller: &Caller,
    unit: Option<&str>,
) -> Result<OwnerUnits, AdminApiError> {
    Ok(match unit {
        Some(unit) => {
            visible_unit(p, caller, unit).await?;
            OwnerUnits {
                units: caller.actor.tree.subtree(unit),
                unitless: false,
            }
        }
        None => OwnerUnits {
            units: caller.actor.scope_units(Permission::Read),
            unitless: caller.actor.holds_root(Permission::Read),
        },
    })
}

/// The owners of `creds`, loaded once each.
async fn owners(
    p: &Provider,
    creds: &[Credential],
) -> Result<HashMap<String, User>, AdminApiError> {
    let mut out = HashMap::new();
    for c in creds {
        if let Some(id) = &c.user_id
            && !out.contains_key(id)
            && let Some(u) = p.store.user_by_id(id).await?
        {
            out.insert(u.id.clone(), u);
        }
    }
    Ok(out)
}

pub async fn list(
    p: &Provider,
    caller: &Caller,
    query: CredentialQuery,
    now: i64,
) -> Result<wire::CredentialList, AdminApiError> {
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset < 0 {
        return Err(AdminApiError::Invalid(format!(
            "limit must be 1–{MAX_PAGE} and offset at least 0"
        )));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(CredentialStatus::parse(s).ok_or_else(|| {
            AdminApiError::Invalid(format!(
                "status must be pending, active, suspended, revoked or expired, not {s:?}"
            ))
        })?),
    };
    let days = query
        .expiring_within_days
        .map(|d| check_days("expiring_within_days", d))
        .transpose()?;
    let user_id = match &query.user_id {
        Some(id) => Some(visible_user(p, caller, id).await?.id),
        None => None,
    };
    let filter = CredentialFilter {
        user_id,
        owner_units: Some(owner_scope(p, caller, query.unit_id.as_deref()).await?),
        status,
        limit: Some(limit),
        offset,
        ..Default::default()
    };
    let creds = pki::list_credentials(p, filter, days, now).await?;
    let owners = owners(p, &creds).await?;
    let items: Vec<wire::Credential> = creds
        .iter()
        .filter_map(|c| {
            let owner = owners.get(c.user_id.as_ref()?)?;
            Some(credential_json(c, owner))
        })
        .collect();
    Ok(wire::CredentialList {
        credentials: items,
        limit,
        offset,
    })
}

/// Query of `GET /admin/api/credentials/expiring`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiringQuery {
    /// The notice window (default: the configured `expiry_notice_days`).
    pub days: Option<i64>,
    pub unit_id: Option<String>,
}

/// The expiry notices the caller should act on: active credentials within their scope whose
/// certificate expires within the window (soonest first), with the days left.
pub async fn expiring(
    p: &Provider,
    caller: &Caller,
    query: ExpiringQuery,
    now: i64,
) -> Result<wire::ExpiryNotices, AdminApiError> {
    let days = check_days(
        "days",
        query.days.unwrap_or(p.config.pki.expiry_notice_days),
    )?;
    let filter = CredentialFilter {
        owner_units: Some(owner_scope(p, caller, query.unit_id.as_deref()).await?),
        ..Default::default()
    };
    let mut creds = pki::list_credentials(p, filter, Some(days), now).await?;
    creds.sort_by_key(|c| c.not_after);
    let owners = owners(p, &creds).await?;
    let notices: Vec<wire::ExpiryNotice> = creds
        .iter()
        .filter_map(|c| {
            let owner = owners.get(c.user_id.as_ref()?)?;
            let not_after = c.not_after?;
            Some(wire::ExpiryNotice {
                credential_id: c.id.clone(),
                user: owner_json(owner),
                serial: c.serial.clone(),
                subject: c.subject.clone(),
                not_after,
                days_left: (not_after - now).div_euclid(86_400),
                expired: not_after <= now,
                notified_at: c.expiry_notified_at,
            })
        })
        .collect();
    Ok(wire::ExpiryNotices { days, now, notices })
}

pub async fn get(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<wire::CredentialDetail, AdminApiError> {
    let (cred, owner) = visible_credential(p, caller, id).await?;
    full_json(&cred, &owner)
}

fn key_alg(name: Option<&str>) -> Result<KeyType, AdminApiError> {
    let name = name.unwrap_or("P-256");
    KeyType::from_name(name).ok_or_else(|| {
        AdminApiError::Invalid(format!(
            "alg must be P-256, RSA-2048 or RSA-3072, not {name:?}"
        ))
    })
}

/// Makes the key in custody and the CSR for a user, then issues the certificate from the
/// internal CA, or answers the CSR for an external CA (the credential stays pending).
pub async fn create(
    p: &Provider,
    caller: &Caller,
    body: NewCredentialBody,
    now: i64,
) -> Result<wire::CredentialDetail, AdminApiError> {
    let owner = visible_user(p, caller, &body.user_id).await?;
    require_user_permission(caller, Permission::Credentials, &owner)?;
    not_self(caller, &owner, "issue")?;
    let alg = key_alg(body.alg.as_deref())?;
    let actor = caller.pki_actor();
    let req = CredentialRequest {
        user: owner.id.clone(),
        alg,
        title: body.title,
    };
    match body.ca {
        CaChoice::External => {
            let cred = pki::create_credential(p, &actor, req, "external", now).await?;
            full_json(&cred, &owner)
        }
        CaChoice::Internal => {
            // Refused before a key is made when there is no CA to issue.
            if p.store.ca(pki::issuer::ISSUING_ID).await?.is_none() {
                return Err(AdminApiError::Conflict(
                    "there is no internal CA yet: an operator must run `tessera ca init` first, or create the credential with \"ca\": \"external\"".into(),
                ));
            }
            let pending = pki::create_credential(p, &actor, req, "internal", now).await?;
            match pki::issue_internal(p, &actor, &pending.id, now).await {
                Ok(cred) => full_json(&cred, &owner),
                Err(e) => {
                    // Nothing will complete it: do not leave a pending key behind.
                    let _ = pki::revoke(
                        p,
                        &actor,
                        &pending.id,
                        RevocationReason::CessationOfOperation,
                        now,
                    )
                    .await;
                    Err(e.into())
                }
            }
        }
    }
}

/// Imports the external CA's answer (certificate or chain: PEM, DER or PKCS#7) for a pending
/// credential; it is checked exactly as `tessera cert import` checks it.
pub async fn import(
    p: &Provider,
    caller: &Caller,
    id: &str,
    bundle: &[u8],
    now: i64,
) -> Result<wire::CredentialDetail, AdminApiError> {
    let (_, owner) = managed_credential(p, caller, id).await?;
    not_self(caller, &owner, "import a certificate for")?;
    if bundle.iter().all(u8::is_ascii_whitespace) {
        return Err(AdminApiError::Invalid(
            "the body must carry the certificate (PEM, DER or PKCS#7)".into(),
        ));
    }
    let cred = pki::import_certificate(p, &caller.pki_actor(), id, bundle, now).await?;
    full_json(&cred, &owner)
}

/// Renews a credential: an internal one gets its new certificate at once, an external one
/// answers a pending renewal with its CSR.
pub async fn renew(
    p: &Provider,
    caller: &Caller,
    id: &str,
    body: RenewBody,
    now: i64,
) -> Result<wire::CredentialDetail, AdminApiError> {
    let (_, owner) = managed_credential(p, caller, id).await?;
    not_self(caller, &owner, "renew")?;
    let cred = pki::renew(p, &caller.pki_actor(), id, body.new_key, now).await?;
    full_json(&cred, &owner)
}

pub async fn suspend(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::Credential, AdminApiError> {
    let (_, owner) = managed_credential(p, caller, id).await?;
    let cred = pki::suspend(p, &caller.pki_actor(), id, now).await?;
    Ok(credential_json(&cred, &owner))
}

pub async fn resume(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::Credential, AdminApiError> {
    let (_, owner) = managed_credential(p, caller, id).await?;
    not_self(caller, &owner, "resume")?;
    let cred = pki::resume(p, &caller.pki_actor(), id, now).await?;
    Ok(credential_json(&cred, &owner))
}

pub(crate) fn reason(v: Option<ReasonValue>) -> Result<RevocationReason, AdminApiError> {
    let parsed = match &v {
        None => Some(RevocationReason::Unspecified),
        Some(ReasonValue::Code(c)) => RevocationReason::from_code(*c),
        Some(ReasonValue::Name(n)) => RevocationReason::parse(n),
    };
    match parsed {
        Some(RevocationReason::CertificateHold) => Err(AdminApiError::Invalid(
            "certificateHold is a suspension: use POST /admin/api/credentials/{id}/suspend".into(),
        )),
        Some(r) => Ok(r),
        None => Err(AdminApiError::Invalid(format!(
            "unknown revocation reason; use one of {} (or their RFC 5280 codes 0–5, 9)",
            RevocationReason::names()
        ))),
    }
}

/// Revokes for good; the CRL and OCSP say so from now on.
pub async fn revoke(
    p: &Provider,
    caller: &Caller,
    id: &str,
    body: RevokeBody,
    now: i64,
) -> Result<wire::Credential, AdminApiError> {
    let (_, owner) = managed_credential(p, caller, id).await?;
    let reason = reason(body.reason)?;
    let cred = pki::revoke(p, &caller.pki_actor(), id, reason, now).await?;
    Ok(credential_json(&cred, &owner))
}
