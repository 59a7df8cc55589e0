//! Certificate revocation lists (RFC 5280 §5): a full CRL per CA, signed by the CA's key in the
//! custodian, reissued on every revocation, suspension or resumption and on schedule, and kept
//! in the database so that every replica serves the same one.

use der::asn1::{OctetString, Uint};
use der::{Decode, Encode};
use serde_json::json;
use tessera_hsm::SignInput;
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::ToExtension;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason, SubjectKeyIdentifier};
use x509_cert::serial_number::SerialNumber;

use super::profile::x509_time;
use super::{PkiError, blocking, internal, issuer::ca_signer};
use crate::Provider;
use crate::audit::Event;

/// Revocation reasons (RFC 5280 §5.3.1), by their ASN.1 names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
}

impl RevocationReason {
    const ALL: [RevocationReason; 8] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::PrivilegeWithdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    /// Accepts the ASN.1 name in any case, with or without `-`/`_` (`key-compromise`).
    pub fn parse(s: &str) -> Option<RevocationReason> {
        let norm = |v: &str| {
            v.chars()
                .filter(|c| *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let wanted = norm(s);
        Self::ALL.into_iter().find(|r| norm(r.as_str()) == wanted)
    }

    /// By its `CRLReason` code (RFC 5280 §5.3.1: 0–6, 9; 8 is removeFromCRL, not a reason to
    /// revoke).
    pub fn from_code(code: u32) -> Option<RevocationReason> {
        Self::ALL
            .into_iter()
            .find(|r| r.crl_reason() as u32 == code)
    }

    pub fn crl_reason(self) -> CrlReason {
        match self {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::CaCompromise => CrlReason::CaCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
            RevocationReason::CertificateHold => CrlReason::CertificateHold,
            RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        }
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
            .filter(|r| **r != RevocationReason::CertificateHold)
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How many times a CRL is rebuilt when another replica published one meanwhile.
const PUBLISH_ATTEMPTS: usize = 5;

/// Builds, signs and stores the next CRL of `ca_id`; returns its DER.
pub async fn publish_crl(p: &Provider, ca_id: &str, now: i64) -> Result<Vec<u8>, PkiError> {
    for _ in 0..PUBLISH_ATTEMPTS {
        let ca = p
            .store
            .ca(ca_id)
            .await?
            .ok_or_else(|| PkiError::NotFound(format!("CA {ca_id}")))?;
        let entries = p.store.revoked_entries(ca_id, now).await?;
        let number = ca.crl_number + 1;
        let next_update = now + p.config.pki.crl_validity_secs;
        let signer = ca_signer(p, &ca)?;
        let cert_der = ca.cert_der.clone();
        let crl = blocking(move || {
            let issuer = Certificate::from_der(&cert_der)?;
            let subject = issuer.tbs_certificate().subject().clone();
            let spki_der = issuer
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()?;
            let ski =
                SubjectKeyIdentifier::try_from(spki::SubjectPublicKeyInfoRef::from_der(&spki_der)?)
                    .map_err(|e| internal(format!("key identifier: {e}")))?;
            // The AKI names the CA's own key (RFC 5280 §5.2.1).
            let aki = AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(ski.0.as_bytes())?),
                ..Default::default()
            };
            let crl_number = CrlNumber(Uint::new(&number.to_be_bytes())?);
            let extensions = vec![
                (&aki).to_extension(&subject, &[])?,
                (&crl_number).to_extension(&subject, &[])?,
            ];
            let mut revoked = Vec::new();
            for e in &entries {
                let serial: SerialNumber = SerialNumber::new(&unhex(&e.serial)?)?;
                let reason =
                    RevocationReason::parse(&e.reason).unwrap_or(RevocationReason::Unspecified);
                // RFC 5280 §5.3.1: the reason code unspecified is better left out.
                let crl_entry_extensions = match reason {
                    RevocationReason::Unspecified => None,
                    other => Some(vec![(&other.crl_reason()).to_extension(&subject, &[])?]),
                };
                revoked.push(RevokedCert {
                    serial_number: serial,
                    revocation_date: x509_time(e.revoked_at)?,
                    crl_entry_extensions,
                });
            }
            let tbs = TbsCertList {
                version: Version::V2,
                signature: signer.scheme().algorithm_identifier()?,
                issuer: subject,
                this_update: x509_time(now)?,
                next_update: Some(x509_time(next_update)?),
                // Absent, not empty, when nothing is revoked (RFC 5280 §5.1.2.6).
                revoked_certificates: (!revoked.is_empty()).then_some(revoked),
                crl_extensions: Some(extensions),
            };
            let signature = signer.sign_checked(SignInput::Message(&tbs.to_der()?))?;
            let list = CertificateList {
                signature_algorithm: tbs.signature.clone(),
                tbs_cert_list: tbs,
                signature: der::asn1::BitString::from_bytes(&signature)?,
            };
            Ok(list.to_der()?)
        })
        .await?;
        let due = now + p.config.pki.crl_reissue_secs;
        if p.store
            .publish_crl(ca_id, number, &crl, now, next_update, due)
            .await?
        {
            p.audit(
                Event::PkiCrlPublished.at(now).detail(
                    json!({ "ca": ca_id, "crl_number": number, "next_update": next_update }),
                ),
            )
            .await?;
            return Ok(crl);
        }
    }
    Err(internal(format!(
        "the CRL of CA {ca_id} kept changing while being published"
    )))
}

/// Reissues every CRL that is due (housekeeping; safe with several replicas: each CRL number
/// is published once).
pub async fn reissue_due_crls(p: &Provider, now: i64) -> Result<usize, PkiError> {
    let mut done = 0;
    for ca in p.store.cas_with_crl_due(now).await? {
        // Another replica may have reissued it since the list was read.
        if let Some(fresh) = p.store.ca(&ca.id).await?
            && fresh.crl_due_at > now
        {
            continue;
        }
        publish_crl(p, &ca.id, now).await?;
        done += 1;
    }
    Ok(done)
}

/// The current CRL of `ca_id` (DER), published now if there is none yet.
pub async fn current_crl(p: &Provider, ca_id: &str, now: i64) -> Result<Vec<u8>, PkiError> {
    let ca = p
        .store
        .ca(ca_id)
        .await?
        .ok_or_else(|| PkiError::NotFound(format!("CA {ca_id}")))?;
    match ca.crl_der {
        Some(der) if ca.crl_next_update.is_some_and(|t| t > now) => Ok(der),
        _ => publish_crl(p, ca_id, now).await,
    }
}

pub(crate) fn unhex(s: &str) -> Result<Vec<u8>, PkiError> {
    if !s.len().is_multiple_of(2) {
        return Err(internal(format!("serial {s} is not hex")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| internal(format!("serial {s} is not hex")))
        })
        .collect()
}
