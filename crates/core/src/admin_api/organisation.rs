//! Organisation credentials, the clients allowed to use them, and signature and seal images,
//! through the administration API. A unit's organisation credentials and its seal are managed
//! by whoever holds [`Permission::Credentials`] (the `cert_admin` role) over the unit; an
//! official's signature image by whoever holds it over the official's unit. Outside the
//! caller's reach the answer is 404, as for units and users.

use tessera_hsm::KeyType;
use tessera_proto::admin as wire;
use tessera_store::pki::{Credential, CredentialFilter, OwnerKind};
use tessera_store::pki_org::SigningImage;
use tessera_store::units::Unit;

use super::{
    AdminApiError, Caller, Permission, require_user_permission, visible_unit, visible_user,
};
use crate::Provider;
use crate::pki::{self, import::split_der};
use crate::signing::SigningError;
use crate::signing::images::{self, ImageOwner};
use crate::signing::organisation;

impl From<SigningError> for AdminApiError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Refused(m) => AdminApiError::Conflict(m),
            SigningError::Invalid(m) | SigningError::Io(m) | SigningError::Unavailable(m) => {
                AdminApiError::Invalid(m)
            }
            SigningError::Format(f) => AdminApiError::Invalid(f.to_string()),
            SigningError::Pki(p) => p.into(),
        }
    }
}

pub use wire::{AllowClientBody, NewOrganisationCredentialBody};

/// A unit the caller sees (404 otherwise) and holds `cert_admin` over (403 otherwise).
async fn managed_unit(p: &Provider, caller: &Caller, id: &str) -> Result<Unit, AdminApiError> {
    let unit = visible_unit(p, caller, id).await?;
    if !caller.actor.may(Permission::Credentials, Some(&unit.id)) {
        return Err(AdminApiError::Forbidden(format!(
            "your role does not allow managing the credentials of unit {}",
            unit.name
        )));
    }
    Ok(unit)
}

/// An organisation credential of a unit the caller manages; 404 for a personal credential or
/// one outside the caller's reach.
async fn managed_credential(
    p: &Provider,
    caller: &Caller,
    id: &str,
) -> Result<Credential, AdminApiError> {
    let not_found = || AdminApiError::NotFound(format!("organisation credential {id} not found"));
    let cred = p.store.credential(id).await?.ok_or_else(not_found)?;
    let (OwnerKind::Organisation, Some(unit)) = (cred.owner_kind, cred.unit_id.as_deref()) else {
        return Err(not_found());
    };
    match managed_unit(p, caller, unit).await {
        Ok(_) => Ok(cred),
        Err(AdminApiError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e),
    }
}

fn pem(label: &str, der: &[u8]) -> Result<String, AdminApiError> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).map_err(|e| {
        AdminApiError::Internal(crate::CoreError::Internal(format!("PEM encoding: {e}")))
    })
}

async fn credential_json(
    p: &Provider,
    c: &Credential,
) -> Result<wire::OrganisationCredential, AdminApiError> {
    let clients = p.store.credential_clients(&c.id).await?;
    Ok(wire::OrganisationCredential {
        id: c.id.clone(),
        unit_id: c.unit_id.clone().unwrap_or_default(),
        status: c.status.as_str().to_owned(),
        key_alg: c.key_alg.clone(),
        serial: c.serial.clone(),
        issuer: c.issuer.clone(),
        subject: c.subject.clone(),
        not_before: c.not_before,
        not_after: c.not_after,
        certificate_pem: c
            .cert_der
            .as_deref()
            .map(|d| pem("CERTIFICATE", d))
            .transpose()?,
        chain_pem: split_der(c.chain_der.as_deref().unwrap_or_default())?
            .iter()
            .map(|d| pem("CERTIFICATE", d))
            .collect::<Result<_, _>>()?,
        allowed_clients: clients.into_iter().map(|a| a.client_id).collect(),
        created_at: c.created_at,
    })
}

/// Issues the unit's organisation credential from the internal CA (cert_admin over the unit).
pub async fn issue(
    p: &Provider,
    caller: &Caller,
    unit_id: &str,
    body: NewOrganisationCredentialBody,
    now: i64,
) -> Result<wire::OrganisationCredential, AdminApiError> {
    let unit = managed_unit(p, caller, unit_id).await?;
    let alg_name = body.alg.as_deref().unwrap_or("P-256");
    let alg = KeyType::from_name(alg_name).ok_or_else(|| {
        AdminApiError::Invalid(format!(
            "alg must be P-256, RSA-2048 or RSA-3072, not {alg_name:?}"
        ))
    })?;
    pki::issuing_ca(p).await?;
    let cred =
        pki::create_organisation_credential(p, &caller.pki_actor(), &unit.id, alg, now).await?;
    credential_json(p, &cred).await
}

/// The unit's organisation credentials (any status).
pub async fn list(
    p: &Provider,
    caller: &Caller,
    unit_id: &str,
) -> Result<wire::OrganisationCredentialList, AdminApiError> {
    let unit = visible_unit(p, caller, unit_id).await?;
    let filter = CredentialFilter {
        unit_id: Some(unit.id.clone()),
        ..Default::default()
    };
    let mut out = Vec::new();
    for c in p.store.list_credentials(&filter).await? {
        if c.owner_kind == OwnerKind::Organisation && c.unit_id.as_deref() == Some(&unit.id) {
            out.push(credential_json(p, &c).await?);
        }
    }
    Ok(wire::OrganisationCredentialList { credentials: out })
}

/// Allows a client the caller can see to sign with the organisation credential.
pub async fn allow_client(
    p: &Provider,
    caller: &Caller,
    credential_id: &str,
    body: AllowClientBody,
    now: i64,
) -> Result<wire::AllowedClient, AdminApiError> {
    let cred = managed_credential(p, caller, credential_id).await?;
    match p.store.client(&body.client_id).await? {
        Some(c) if caller.actor.may(Permission::Read, c.unit_id.as_deref()) => {}
        _ => {
            return Err(AdminApiError::NotFound(format!(
                "client {} not found",
                body.client_id
            )));
        }
    }
    organisation::allow_client(p, &caller.pki_actor(), &cred.id, &body.client_id, now).await?;
    p.store
        .credential_clients(&cred.id)
        .await?
        .into_iter()
        .find(|a| a.client_id == body.client_id)
        .map(|a| wire::AllowedClient {
            credential_id: a.credential_id,
            client_id: a.client_id,
            allowed_by: a.allowed_by,
            created_at: a.created_at,
        })
        .ok_or_else(|| AdminApiError::Conflict("the permission was withdrawn meanwhile".into()))
}

/// Withdraws a client's permission.
pub async fn disallow_client(
    p: &Provider,
    caller: &Caller,
    credential_id: &str,
    client_id: &str,
    now: i64,
) -> Result<(), AdminApiError> {
    let cred = managed_credential(p, caller, credential_id).await?;
    if !organisation::disallow_client(p, &caller.pki_actor(), &cred.id, client_id, now).await? {
        return Err(AdminApiError::NotFound(format!(
            "client {client_id} is not allowed to use credential {credential_id}"
        )));
    }
    Ok(())
}

fn image_json(i: &SigningImage) -> wire::SigningImage {
    wire::SigningImage {
        kind: i.kind.as_str().to_owned(),
        owner_id: i.owner_id.clone(),
        bytes: i64::try_from(i.png.len()).unwrap_or(i64::MAX),
        width: i.width,
        height: i.height,
        updated_by: i.updated_by.clone(),
        updated_at: i.updated_at,
    }
}

/// The image's owner, checked against the caller's rights (cert_admin over the unit, or over
/// the official's unit).
async fn image_owner(
    p: &Provider,
    caller: &Caller,
    owner: &ImageOwner,
) -> Result<ImageOwner, AdminApiError> {
    Ok(match owner {
        ImageOwner::Unit(id) => ImageOwner::Unit(managed_unit(p, caller, id).await?.id),
        ImageOwner::User(id) => {
            let user = visible_user(p, caller, id).await?;
            require_user_permission(caller, Permission::Credentials, &user)?;
            ImageOwner::User(user.id)
        }
    })
}

/// Sets (or replaces) a seal or signature image from a PNG body (≤ 1 MB).
pub async fn set_image(
    p: &Provider,
    caller: &Caller,
    owner: ImageOwner,
    png: &[u8],
    now: i64,
) -> Result<wire::SigningImage, AdminApiError> {
    let owner = image_owner(p, caller, &owner).await?;
    let image = images::set_image(p, &caller.pki_actor(), &owner, png, now).await?;
    Ok(image_json(&image))
}

/// The image's record (not its bytes).
pub async fn get_image(
    p: &Provider,
    caller: &Caller,
    owner: ImageOwner,
) -> Result<wire::SigningImage, AdminApiError> {
    let owner = image_owner(p, caller, &owner).await?;
    images::image(p, &owner)
        .await?
        .map(|i| image_json(&i))
        .ok_or_else(|| AdminApiError::NotFound("no image is set".into()))
}

/// The image itself (PNG bytes), under the same rules as its record: the console shows it and
/// an administrator checks what the visible signatures will carry.
pub async fn image_png(
    p: &Provider,
    caller: &Caller,
    owner: ImageOwner,
) -> Result<Vec<u8>, AdminApiError> {
    let owner = image_owner(p, caller, &owner).await?;
    images::image(p, &owner)
        .await?
        .map(|i| i.png)
        .ok_or_else(|| AdminApiError::NotFound("no image is set".into()))
}

/// Removes the image.
pub async fn remove_image(
    p: &Provider,
    caller: &Caller,
    owner: ImageOwner,
    now: i64,
) -> Result<(), AdminApiError> {
    let owner = image_owner(p, caller, &owner).await?;
    if !images::remove_image(p, &caller.pki_actor(), &owner, now).await? {
        return Err(AdminApiError::NotFound("no image is set".into()));
    }
    Ok(())
}

/// Suspends an active organisation credential (certificateHold): it cannot sign until resumed.
pub async fn suspend(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::OrganisationCredential, AdminApiError> {
    managed_credential(p, caller, id).await?;
    let cred = pki::suspend(p, &caller.pki_actor(), id, now).await?;
    credential_json(p, &cred).await
}

/// Resumes a suspended organisation credential.
pub async fn resume(
    p: &Provider,
    caller: &Caller,
    id: &str,
    now: i64,
) -> Result<wire::OrganisationCredential, AdminApiError> {
    managed_credential(p, caller, id).await?;
    let cred = pki::resume(p, &caller.pki_actor(), id, now).await?;
    credential_json(p, &cred).await
}

/// Revokes an organisation credential for good.
pub async fn revoke(
    p: &Provider,
    caller: &Caller,
    id: &str,
    body: super::credentials::RevokeBody,
    now: i64,
) -> Result<wire::OrganisationCredential, AdminApiError> {
    managed_credential(p, caller, id).await?;
    let reason = super::credentials::reason(body.reason)?;
    let cred = pki::revoke(p, &caller.pki_actor(), id, reason, now).await?;
    credential_json(p, &cred).await
}
