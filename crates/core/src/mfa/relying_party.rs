//! The WebAuthn relying party (this installation's origin and the authenticators it accepts),
//! built once at start-up and held by the [`Provider`](crate::Provider).

use std::sync::Arc;

use webauthn_rs::prelude::*;

use crate::CoreError;

/// The relying party: this installation's origin, and which authenticators it accepts.
#[derive(Clone)]
pub struct Passkeys {
    /// `None` when the issuer is an IP address: WebAuthn needs a domain name.
    webauthn: Option<Arc<Webauthn>>,
    /// With a list, only authenticators whose attestation chains to one of these CAs and
    /// names one of the listed models (AAGUIDs) may register.
    pub(super) attestation: Option<Arc<AttestationCaList>>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys")
            .field("available", &self.webauthn.is_some())
            .field("attested_only", &self.attestation.is_some())
            .finish()
    }
}

/// One allowed authenticator model, as written in the administrator's allow-list file.
#[derive(Debug, serde::Deserialize)]
struct AllowedModel {
    aaguid: Uuid,
    description: String,
    /// PEM of the vendor's attestation root.
    ca_pem: String,
}

impl Passkeys {
    /// The relying party id is the issuer's host; its origin is the issuer's origin. An
    /// issuer on an IP address gets no passkeys (browsers refuse IP addresses as RP ids).
    pub fn new(issuer: &str) -> Result<Passkeys, CoreError> {
        let origin =
            Url::parse(issuer).map_err(|e| CoreError::Internal(format!("issuer URL: {e}")))?;
        let webauthn = match origin.host() {
            Some(url::Host::Domain(rp_id)) => Some(Arc::new(
                WebauthnBuilder::new(rp_id, &origin)
                    .and_then(|b| b.rp_name("Tessera").build())
                    .map_err(|e| CoreError::Internal(format!("WebAuthn relying party: {e}")))?,
            )),
            _ => None,
        };
        Ok(Passkeys {
            webauthn,
            attestation: None,
        })
    }

    /// Whether passkeys can be used with this issuer.
    pub fn available(&self) -> bool {
        self.webauthn.is_some()
    }

    pub(super) fn rp(&self) -> Result<&Webauthn, CoreError> {
        self.webauthn.as_deref().ok_or_else(|| {
            CoreError::Invalid(
                "passkeys need the issuer URL to name a host (e.g. https://id.haiphong.gov.vn), not an IP address".into(),
            )
        })
    }

    /// Restricts registration to the models in a JSON allow-list:
    /// `[{"aaguid": "…", "description": "…", "ca_pem": "-----BEGIN CERTIFICATE-----…"}]`.
    pub fn with_allow_list(mut self, json_text: &str) -> Result<Passkeys, CoreError> {
        let models: Vec<AllowedModel> = serde_json::from_str(json_text)
            .map_err(|e| CoreError::Internal(format!("authenticator allow-list: {e}")))?;
        if models.is_empty() {
            return Err(CoreError::Internal(
                "the authenticator allow-list is empty: nobody could register a passkey".into(),
            ));
        }
        let mut builder = AttestationCaListBuilder::new();
        for m in models {
            builder
                .insert_device_pem(
                    m.ca_pem.as_bytes(),
                    m.aaguid,
                    m.description,
                    Default::default(),
                )
                .map_err(|e| {
                    CoreError::Internal(format!("authenticator allow-list, {}: {e}", m.aaguid))
                })?;
        }
        self.attestation = Some(Arc::new(builder.build()));
        Ok(self)
    }

    pub fn attested_only(&self) -> bool {
        self.attestation.is_some()
    }
}
