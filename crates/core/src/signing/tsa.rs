//! RFC 3161 time-stamps: Tessera's own time-stamping authority, and the client that
//! timestamps signatures (CAdES/PAdES B-T, ETSI EN 319 122-1 §5.3).
//!
//! The authority signs with a time-stamping unit (a key in custody certified by the issuing CA
//! with EKU timeStamping critical, RFC 3161 §2.3), kept in the database for every replica and
//! created on demand like the OCSP responders (pki/ocsp.rs). A unit signs tokens for
//! [`UNIT_SIGNING_SECS`]; its certificate lasts [`UNIT_VALIDITY_SECS`], so that its tokens can
//! still be checked years later, when the document timestamps of B-LTA take over.
//!
//! The client asks the configured TSA (`pki_tsa_url`) through the server's SSRF-guarded
//! transport, or, when none is configured, Tessera's own authority in-process.

use std::time::Duration;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use ring::rand::{SecureRandom, SystemRandom};
use tessera_formats::tsp;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{HashAlg, KeyPurpose, KeyType};
use tessera_store::pki::CaRecord;
use tessera_store::pki_tsa::TsaUnit;
use x509_cert::Certificate;

use crate::Provider;
use crate::audit::Event;
use crate::pki::import::split_der;
use crate::pki::issuer::{build_certificate, chain_from, issuing_ca};
use crate::pki::profile::{CertSpec, Kind, Pointers, SubjectInfo, name_attr, oid, random_serial};
use crate::pki::{PkiError, blocking, hex, internal, issuer::ca_signer};
use crate::secrets::random_id;

/// Validity of a time-stamping unit's certificate.
pub const UNIT_VALIDITY_SECS: i64 = 6 * 365 * 86_400;
/// How long a unit signs tokens; afterwards a new unit is certified. The rest of its
/// certificate's validity is left for checking the tokens it signed.
pub const UNIT_SIGNING_SECS: i64 = 365 * 86_400;
/// The longest a configured TSA may take to answer.
pub const TSA_TIMEOUT: Duration = Duration::from_secs(15);
/// How far a configured TSA's `genTime` may be from Tessera's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// Media types of RFC 3161 §3.4.
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";
/// The longest request the authority reads (a request holds one digest: a few hundred bytes).
pub const MAX_REQUEST_BYTES: usize = 4096;

/// Why a signature could not be timestamped.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    /// The configured TSA could not be reached, or took too long.
    #[error("the time-stamping authority is unavailable: {0}")]
    Unavailable(String),
    /// The TSA answered, but not with a good token (refusal, wrong imprint, bad signature…).
    #[error("the time-stamping authority's answer is unusable: {0}")]
    BadAnswer(String),
    /// The signature to timestamp is not a usable CMS signature.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// The policy of Tessera's own TSA, from the configuration.
fn policy(p: &Provider) -> Result<ObjectIdentifier, PkiError> {
    ObjectIdentifier::new(p.config.pki.tsa_policy.trim()).map_err(|_| {
        PkiError::Invalid(format!(
            "the TSA policy {:?} is not an OID",
            p.config.pki.tsa_policy
        ))
    })
}

/// The unit that signs at `now` (its signer and certificate DER): the stored one of this
/// process's custodian, or a new one certified by the issuing CA. Two replicas racing here each
/// certify one; both are valid.
pub async fn unit(p: &Provider, now: i64) -> Result<(CustodySigner, Vec<u8>), PkiError> {
    let custody = p.signer.custody().clone();
    if let Some(u) = p.store.tsa_unit(custody.backend(), now).await? {
        let alg = KeyType::from_name(&u.key_alg)
            .ok_or_else(|| PkiError::Invalid(format!("TSA key algorithm {}", u.key_alg)))?;
        let key_ref = u.key_ref.clone();
        let signer = blocking(move || {
            Ok(CustodySigner::open(
                custody,
                alg,
                KeyPurpose::Timestamping,
                &key_ref,
            )?)
        })
        .await?;
        return Ok((signer, u.cert_der));
    }
    let ca = issuing_ca(p).await?;
    certify_unit(p, &ca, now).await
}

async fn certify_unit(
    p: &Provider,
    ca: &CaRecord,
    now: i64,
) -> Result<(CustodySigner, Vec<u8>), PkiError> {
    if ca.not_after <= now + 60 {
        return Err(PkiError::Conflict(format!(
            "the issuing CA {} has expired: it cannot certify a time-stamping unit",
            ca.id
        )));
    }
    let custody = p.signer.custody().clone();
    let alg = KeyType::from_name(&ca.key_alg)
        .ok_or_else(|| PkiError::Invalid(format!("CA key algorithm {}", ca.key_alg)))?;
    let ca_signer = ca_signer(p, ca)?;
    let ca_cert = Certificate::from_der(&ca.cert_der)?;
    let pki = crate::pki::effective_config(p).await?;
    let not_before = now - 60;
    let not_after = (now + UNIT_VALIDITY_SECS).min(ca.not_after);
    let sign_until = (now + UNIT_SIGNING_SECS).min(not_after);
    let backend = custody.backend().to_owned();
    // The CRL says whether the unit was revoked; there is no OCSP pointer, as the responder
    // answers for officials' certificates only.
    let pointers = Pointers {
        crl_url: Some(pki.crl_url(&ca.id)),
        ca_issuers_url: Some(pki.ca_cert_url(&ca.id)),
        ocsp_url: None,
    };
    let ca_id = ca.id.clone();
    let (key_ref, cert) = blocking(move || {
        let key = custody.generate(alg, KeyPurpose::Timestamping)?;
        let subject = SubjectInfo {
            common_name: format!(
                "{} TSA",
                name_attr(ca_cert.tbs_certificate().subject(), oid::CN)
                    .unwrap_or_else(|| ca_id.clone())
            ),
            organization: pki.organization.clone(),
            ..Default::default()
        }
        .to_name()?;
        let profile = CertSpec {
            subject,
            issuer: Some(ca_cert.tbs_certificate().subject().clone()),
            kind: Kind::Timestamping,
            pointers,
        }
        .profile(&key.spki_der, ca_signer.spki_der())?;
        let cert = build_certificate(
            &ca_signer,
            profile,
            random_serial()?,
            not_before,
            not_after,
            &key.spki_der,
        )?;
        Ok((key.key_ref, cert))
    })
    .await?;
    let cert_der = cert.to_der()?;
    let serial = hex(cert.tbs_certificate().serial_number().as_bytes());
    let record = TsaUnit {
        id: random_id()?,
        ca_id: ca.id.clone(),
        key_alg: alg.name().to_owned(),
        key_backend: backend,
        key_ref: key_ref.clone(),
        cert_der: cert_der.clone(),
        serial: serial.clone(),
        not_before,
        not_after,
        sign_until,
        created_at: now,
    };
    p.store.insert_tsa_unit(&record).await?;
    p.audit(
        Event::PkiTsaUnitCertified
            .at(now)
            .detail(serde_json::json!({
                "ca": ca.id, "unit": record.id, "serial": serial,
                "sign_until": sign_until, "not_after": not_after,
            })),
    )
    .await?;
    let custody = p.signer.custody().clone();
    let signer = blocking(move || {
        Ok(CustodySigner::open(
            custody,
            alg,
            KeyPurpose::Timestamping,
            &key_ref,
        )?)
    })
    .await?;
    Ok((signer, cert_der))
}

/// Housekeeping: certifies a new unit when none may sign for the next day, so that requests
/// rarely have to.
pub async fn renew_unit(p: &Provider, now: i64) -> Result<bool, PkiError> {
    let backend = p.signer.custody().backend();
    if p.store.tsa_unit(backend, now + 86_400).await?.is_some() {
        return Ok(false);
    }
    let Some(ca) = p.store.ca(crate::pki::issuer::ISSUING_ID).await? else {
        return Ok(false);
    };
    if ca.key_ref.is_none() {
        return Ok(false);
    }
    certify_unit(p, &ca, now).await?;
    Ok(true)
}

/// Answers a DER `TimeStampReq` (RFC 3161 §2.4) with a DER `TimeStampResp`: a token signed
/// by the current unit, with `genTime` = `now`, accuracy 1 s, a random 128-bit serial number
/// and the nonce echoed; or a rejection (badDataFormat, badAlg — SHA-256/384/512 only —,
/// unacceptedPolicy, unacceptedExtension), or systemFailure when Tessera cannot sign. Never
/// an error: every request gets a protocol answer.
pub async fn respond(p: &Provider, req_der: &[u8], now: i64) -> Vec<u8> {
    let policy = match policy(p) {
        Ok(policy) => policy,
        Err(e) => {
            tracing::error!(error = %e, "TSA policy");
            return tsp::rejection_der(tsp::FailureInfo::SystemFailure, "TSA misconfigured");
        }
    };
    let req = match tsp::parse_request(req_der, &policy) {
        Ok(req) => req,
        Err(r) => return tsp::rejection_der(r.fail, &r.text),
    };
    match grant(p, req, policy, now).await {
        Ok(der) => der,
        Err(e) => {
            tracing::error!(error = %e, "time-stamp failed");
            tsp::rejection_der(
                tsp::FailureInfo::SystemFailure,
                "the time-stamp could not be signed",
            )
        }
    }
}

async fn grant(
    p: &Provider,
    req: tsp::TimeStampReq,
    policy: ObjectIdentifier,
    now: i64,
) -> Result<Vec<u8>, PkiError> {
    let (signer, cert_der) = unit(p, now).await?;
    // The units are certified by the issuing CA: send the CAs below the root with the token.
    let mut chain = split_der(&chain_from(p, &issuing_ca(p).await?).await?)?;
    chain.pop();
    let serial = random_serial()?;
    blocking(move || {
        let authority = tsp::Authority {
            signer: &signer,
            cert_der: &cert_der,
            chain: &chain,
            policy,
        };
        tsp::grant(&authority, &req, serial.as_bytes(), now)
            .map_err(|e| internal(format!("time-stamp token: {e}")))
    })
    .await
}

fn random_nonce() -> Result<u64, PkiError> {
    let mut b = [0u8; 8];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| internal("system randomness unavailable"))?;
    Ok(u64::from_be_bytes(b))
}

/// A time-stamp token (DER `ContentInfo`) over `digest`, made with `hash`, from the
/// configured TSA or Tessera's own; its signature, imprint and nonce are checked, and its
/// `genTime` must be within [`MAX_CLOCK_SKEW_SECS`] of `now`.
pub async fn timestamp(
    p: &Provider,
    hash: HashAlg,
    digest: &[u8],
    now: i64,
) -> Result<Vec<u8>, TsaError> {
    let nonce = random_nonce()?;
    let req =
        tsp::request_der(hash, digest, nonce).map_err(|e| TsaError::Invalid(e.to_string()))?;
    let resp = match &p.config.pki.tsa_url {
        None => {
            // Says "run `tessera ca init`" rather than the protocol's bare systemFailure.
            unit(p, now).await?;
            respond(p, &req, now).await
        }
        Some(url) => tokio::time::timeout(
            TSA_TIMEOUT,
            p.outbound
                .post_bytes(url, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE, &req),
        )
        .await
        .map_err(|_| {
            TsaError::Unavailable(format!(
                "{url} did not answer within {} s",
                TSA_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| TsaError::Unavailable(e.to_string()))?,
    };
    let token = tsp::token_from_response(&resp, hash, digest, nonce)
        .map_err(|e| TsaError::BadAnswer(e.to_string()))?;
    let info = tsp::check_token(&token)
        .map_err(|e| TsaError::BadAnswer(e.to_string()))?
        .info;
    let skew = (info.gen_time_unix() - now).abs();
    if skew > MAX_CLOCK_SKEW_SECS {
        return Err(TsaError::BadAnswer(format!(
            "the token's time is {skew} s away from Tessera's clock"
        )));
    }
    Ok(token)
}

/// Makes a CMS (CAdES-B-B) signature B-T: timestamps its signature value (SHA-256) and adds
/// the token as the signature-time-stamp attribute (RFC 3161 Appendix A).
pub async fn add_signature_timestamp(
    p: &Provider,
    cms_der: &[u8],
    now: i64,
) -> Result<Vec<u8>, TsaError> {
    let value = tsp::signature_value(cms_der).map_err(|e| TsaError::Invalid(e.to_string()))?;
    let digest = HashAlg::Sha256.digest(&value);
    let token = timestamp(p, HashAlg::Sha256, &digest, now).await?;
    tsp::add_signature_timestamp(cms_der, &token).map_err(|e| TsaError::Invalid(e.to_string()))
}

/// The certificates of Tessera's own time-stamping units (DER), newest first: for validators
/// and the long-term validation data of timestamped documents.
pub async fn unit_certificates(p: &Provider) -> Result<Vec<Vec<u8>>, PkiError> {
    Ok(p.store
        .list_tsa_units()
        .await?
        .into_iter()
        .map(|u| u.cert_der)
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "tsa_tests.rs"]
mod tests;
