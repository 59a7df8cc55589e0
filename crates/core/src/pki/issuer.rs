//! What issuing a certificate needs, below the CA, credential and CRL operations: the signer
//! of a CA's key, the certificate builder, the issuing CA and its chain.

use std::sync::Arc;

use der::Decode;
use tessera_hsm::x509::{CustodySigner, X509Signature};
use tessera_hsm::{KeyCustody, KeyPurpose, KeyType};
use tessera_store::pki::CaRecord;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

use super::PkiError;
use super::profile::{Profile, x509_time};
use crate::Provider;

pub const ROOT_ID: &str = "root";
pub const ISSUING_ID: &str = "issuing";

/// Builds and signs a certificate (blocking: the signature is made by the custodian).
pub(crate) fn build_certificate(
    signer: &CustodySigner,
    profile: Profile,
    serial: SerialNumber,
    not_before: i64,
    not_after: i64,
    spki_der: &[u8],
) -> Result<Certificate, PkiError> {
    let validity = Validity::new(x509_time(not_before)?, x509_time(not_after)?);
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der)?;
    let builder = CertificateBuilder::new(profile, serial, validity, spki)?;
    Ok(builder.build::<_, X509Signature>(signer)?)
}

pub(super) fn custody(p: &Provider) -> Arc<dyn KeyCustody> {
    p.signer.custody().clone()
}

/// Opens the signing key of a CA in this process's custodian.
pub fn ca_signer(p: &Provider, ca: &CaRecord) -> Result<CustodySigner, PkiError> {
    let Some(key_ref) = &ca.key_ref else {
        return Err(PkiError::Conflict(format!(
            "the key of CA {} is not held by Tessera",
            ca.id
        )));
    };
    let custody = custody(p);
    if custody.backend() != ca.key_backend {
        return Err(PkiError::Conflict(format!(
            "the key of CA {} is held by the {} custodian, but this process uses {}",
            ca.id,
            ca.key_backend,
            custody.backend()
        )));
    }
    let alg = KeyType::from_name(&ca.key_alg)
        .ok_or_else(|| PkiError::Invalid(format!("CA key algorithm {}", ca.key_alg)))?;
    Ok(CustodySigner::open(custody, alg, KeyPurpose::Ca, key_ref)?)
}

/// The CA that issues officials' certificates.
pub async fn issuing_ca(p: &Provider) -> Result<CaRecord, PkiError> {
    p.store.ca(ISSUING_ID).await?.ok_or_else(|| {
        PkiError::Conflict(
            "there is no internal CA yet: run `tessera ca init` first, or use an external CA (`tessera cert csr`)".into(),
        )
    })
}

/// The chain above a CA, DER certificates concatenated, the CA first and the root last.
pub async fn chain_from(p: &Provider, ca: &CaRecord) -> Result<Vec<u8>, PkiError> {
    let mut out = ca.cert_der.clone();
    let mut parent = ca.parent_id.clone();
    let mut depth = 0;
    while let Some(id) = parent {
        depth += 1;
        if depth > 4 {
            return Err(super::internal("CA hierarchy loops"));
        }
        let up = p
            .store
            .ca(&id)
            .await?
            .ok_or_else(|| PkiError::NotFound(format!("CA {id}")))?;
        out.extend_from_slice(&up.cert_der);
        parent = up.parent_id.clone();
    }
    Ok(out)
}
