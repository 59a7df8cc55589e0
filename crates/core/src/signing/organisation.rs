//! Organisation credentials ("chữ ký số của cơ quan, tổ chức"): a unit's credential may sign
//! without a per-signature human approval, but only for the clients (e.g. the unit's clerk
//! system, văn thư) its administrators allowed, or for the operator's command line; every use
//! is audited. Personal credentials are refused here: they sign only through remote approval
//! by their holder.

use std::sync::Arc;

use serde_json::json;
use tessera_formats::cades::SignerCerts;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{KeyCustody, KeyPurpose, SignScheme};
use tessera_store::pki::OwnerKind;
use tessera_store::pki_org::AllowedClient;

use super::{PERSONAL_CREDENTIAL_REFUSED, SigningError};
use crate::Provider;
use crate::audit::Event;
use crate::pki::{Actor, PkiError, UsableCredential, usable_credential};

/// An organisation credential cleared to sign now for one caller.
#[derive(Clone, Debug)]
pub struct OrganisationSigner {
    pub credential: UsableCredential,
    custody: Arc<dyn KeyCustody>,
}

impl OrganisationSigner {
    /// The custody key, signing in `scheme` (which must fit the key).
    pub fn custody_signer(&self, scheme: SignScheme) -> Result<CustodySigner, SigningError> {
        CustodySigner::with_scheme(
            self.custody.clone(),
            self.credential.key_alg,
            KeyPurpose::Credential,
            &self.credential.key_ref,
            scheme,
        )
        .map_err(|e| SigningError::Format(e.into()))
    }

    /// The certificate and its chain, for the signature's certificates field.
    pub fn certs(&self) -> SignerCerts {
        SignerCerts {
            cert_der: self.credential.cert_der.clone(),
            chain: self.credential.chain.clone(),
        }
    }

    /// The unit the credential belongs to.
    pub fn unit_id(&self) -> &str {
        self.credential.unit_id.as_deref().unwrap_or_default()
    }
}

/// The organisation credential `credential_id`, if it may sign now for `client_id` (`None`:
/// the operator's command line). Refuses a personal credential ([`PERSONAL_CREDENTIAL_REFUSED`]),
/// a client its unit did not allow, and any credential [`usable_credential`] refuses.
pub async fn organisation_signer(
    p: &Provider,
    credential_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<OrganisationSigner, SigningError> {
    let credential = usable_credential(p, credential_id, now).await?;
    if credential.owner != OwnerKind::Organisation {
        return Err(SigningError::Refused(PERSONAL_CREDENTIAL_REFUSED.into()));
    }
    if let Some(client) = client_id
        && !p
            .store
            .credential_client_allowed(credential_id, client)
            .await?
    {
        return Err(SigningError::Refused(format!(
            "client {client} is not allowed to sign with credential {credential_id}; the unit's certificate administrator can allow it"
        )));
    }
    Ok(OrganisationSigner {
        credential,
        custody: p.signer.custody().clone(),
    })
}

/// Checks that `credential_id` is an organisation credential and answers its unit.
async fn organisation_unit(p: &Provider, credential_id: &str) -> Result<String, SigningError> {
    let cred = p
        .store
        .credential(credential_id)
        .await?
        .ok_or_else(|| PkiError::NotFound(format!("credential {credential_id}")))?;
    match (cred.owner_kind, cred.unit_id) {
        (OwnerKind::Organisation, Some(unit)) => Ok(unit),
        _ => Err(SigningError::Refused(format!(
            "credential {credential_id} is a personal credential; only organisation credentials can be used by clients ({PERSONAL_CREDENTIAL_REFUSED})"
        ))),
    }
}

/// Allows `client_id` to sign with the organisation credential; `false` when it already was.
pub async fn allow_client(
    p: &Provider,
    actor: &Actor,
    credential_id: &str,
    client_id: &str,
    now: i64,
) -> Result<bool, SigningError> {
    let unit = organisation_unit(p, credential_id).await?;
    if p.store.client(client_id).await?.is_none() {
        return Err(PkiError::NotFound(format!("client {client_id}")).into());
    }
    let added = p
        .store
        .allow_credential_client(credential_id, client_id, &actor.id, now)
        .await?;
    if added {
        p.audit(
            Event::PkiCredentialClientAllowed
                .at(now)
                .actor(&actor.id)
                .meta(&actor.meta)
                .detail(json!({ "credential": credential_id, "unit": unit, "client": client_id })),
        )
        .await?;
    }
    Ok(added)
}

/// Withdraws the permission; `false` when there was none.
pub async fn disallow_client(
    p: &Provider,
    actor: &Actor,
    credential_id: &str,
    client_id: &str,
    now: i64,
) -> Result<bool, SigningError> {
    let unit = organisation_unit(p, credential_id).await?;
    let removed = p
        .store
        .disallow_credential_client(credential_id, client_id)
        .await?;
    if removed {
        p.audit(
            Event::PkiCredentialClientDisallowed
                .at(now)
                .actor(&actor.id)
                .meta(&actor.meta)
                .detail(json!({ "credential": credential_id, "unit": unit, "client": client_id })),
        )
        .await?;
    }
    Ok(removed)
}

/// The clients allowed to use an organisation credential.
pub async fn allowed_clients(
    p: &Provider,
    credential_id: &str,
) -> Result<Vec<AllowedClient>, SigningError> {
    organisation_unit(p, credential_id).await?;
    Ok(p.store.credential_clients(credential_id).await?)
}

/// [`organisation_signer`] for a signing use case: a refusal (personal credential, client not
/// allowed, unusable credential) is audited as `signing.refused` with the format asked for.
pub async fn audited_signer(
    p: &Provider,
    actor: &Actor,
    format: &str,
    credential_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<OrganisationSigner, SigningError> {
    let err = match organisation_signer(p, credential_id, client_id, now).await {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    if matches!(err, SigningError::Refused(_) | SigningError::Pki(_)) {
        let record = Event::SigningRefused
            .at(now)
            .actor(&actor.id)
            .maybe_client(client_id)
            .meta(&actor.meta)
            .detail(
                json!({ "format": format, "credential": credential_id, "reason": err.to_string() }),
            );
        p.audit(record).await?;
    }
    Err(err)
}
