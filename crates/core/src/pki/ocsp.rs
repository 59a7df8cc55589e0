//! The OCSP responder (RFC 6960), on the ASN.1 structures of `tessera_formats::ocsp`. Answers for the issuing CA's certificates are signed by its delegated
//! responder (§4.2.2.2), whose key is in the custodian; the root does not answer (its CRL
//! covers the issuing CA). An answer about one certificate is cached in the database until
//! shortly before its nextUpdate, for every replica, and never outlives a status change; a
//! request's nonce is echoed only in answers signed for it (several certificates).

use der::asn1::{BitString, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use ring::digest;
use tessera_hsm::SignInput;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{KeyPurpose, KeyType};
use tessera_store::pki::{CaRecord, CredentialStatus};
use tessera_store::pki_ocsp::{CachedOcsp, OcspResponder};
use x509_cert::Certificate;
use x509_cert::ext::Extension;

pub use tessera_formats::ocsp::*;

use super::crl::RevocationReason;
use super::issuer::build_certificate;
use super::profile::{
    CertSpec, Kind, Pointers, SubjectInfo, generalized_time, name_attr, oid, random_serial,
};
use super::{PkiError, blocking, hex, issuer::ca_signer};
use crate::Provider;
use crate::audit::Event;
use crate::secrets::random_id;

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

fn status_only(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    // An ENUMERATED in a SEQUENCE always encodes; the fixed bytes are the same value.
    .unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, status as u8])
}

fn hash(alg: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    let alg = if *alg == SHA1 {
        &digest::SHA1_FOR_LEGACY_USE_ONLY
    } else if *alg == SHA256 {
        &digest::SHA256
    } else {
        return None;
    };
    Some(digest::digest(alg, data).as_ref().to_vec())
}

/// Whether `id` names `ca` as the issuer (RFC 6960 §4.1.1: hashes of the issuer's name and of
/// its public key).
fn issued_by(id: &CertId, ca: &Certificate) -> bool {
    let tbs = ca.tbs_certificate();
    let Ok(name) = tbs.subject().to_der() else {
        return false;
    };
    let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
    match (
        hash(&id.hash_algorithm.oid, &name),
        hash(&id.hash_algorithm.oid, key),
    ) {
        (Some(n), Some(k)) => {
            n == id.issuer_name_hash.as_bytes() && k == id.issuer_key_hash.as_bytes()
        }
        _ => false,
    }
}

/// At most this many certificates per request (RFC 6960 §4.2.1 allows refusing a request with
/// malformedRequest); each costs a database query, and real clients ask about one.
pub const MAX_CERTS_PER_REQUEST: usize = 10;
/// How long an answer is good for (`nextUpdate - thisUpdate`).
pub const RESPONSE_VALIDITY_SECS: i64 = 3600;
/// A cached answer is served while at least this much of its validity is left.
const CACHE_MARGIN_SECS: i64 = 300;
/// Validity of a delegated responder's certificate; short, as clients do not check its
/// revocation (id-pkix-ocsp-nocheck).
pub const RESPONDER_VALIDITY_SECS: i64 = 30 * 86_400;
/// A new responder is certified when the current one has less than this left.
const RESPONDER_RENEW_SECS: i64 = 7 * 86_400;

/// What Tessera knows of one certificate, and the credential state it was read from (the
/// status and `updated_at` a cached answer stays tied to).
async fn status_of(
    p: &Provider,
    ca: &CaRecord,
    serial: &str,
) -> Result<(CertStatus, Option<(String, i64)>), PkiError> {
    let Some(cred) = p.store.credential_by_serial(&ca.id, serial).await? else {
        return Ok((CertStatus::Unknown(Null), None));
    };
    let revoked = |at: Option<i64>, reason: RevocationReason| -> Result<CertStatus, PkiError> {
        Ok(CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized_time(at.unwrap_or(0))?,
            revocation_reason: Some(reason.crl_reason()),
        }))
    };
    let status = match cred.status {
        CredentialStatus::Revoked => revoked(
            cred.revoked_at,
            cred.revocation_reason
                .as_deref()
                .and_then(RevocationReason::parse)
                .unwrap_or(RevocationReason::Unspecified),
        )?,
        CredentialStatus::Suspended => {
            revoked(cred.suspended_at, RevocationReason::CertificateHold)?
        }
        CredentialStatus::Active | CredentialStatus::Expired => CertStatus::Good(Null),
        CredentialStatus::Pending => return Ok((CertStatus::Unknown(Null), None)),
    };
    Ok((
        status,
        Some((cred.status.as_str().to_owned(), cred.updated_at)),
    ))
}

/// Answers a DER `OCSPRequest` with a DER `OCSPResponse`: signed statuses, or an unsigned
/// error status (malformedRequest, also for more than [`MAX_CERTS_PER_REQUEST`] certificates;
/// unauthorized for certificates of other CAs and of the root, whose key stays offline;
/// internalError).
pub async fn respond(p: &Provider, request: &[u8], now: i64) -> Vec<u8> {
    let Ok(req) = OcspRequest::from_der(request) else {
        return status_only(OcspResponseStatus::MalformedRequest);
    };
    let count = req.tbs_request.request_list.len();
    if count == 0 || count > MAX_CERTS_PER_REQUEST {
        return status_only(OcspResponseStatus::MalformedRequest);
    }
    match answer(p, &req, now).await {
        Ok(Some(der)) => der,
        Ok(None) => status_only(OcspResponseStatus::Unauthorized),
        Err(e) => {
            tracing::error!(error = %e, "OCSP response failed");
            status_only(OcspResponseStatus::InternalError)
        }
    }
}

/// The cache key of a certificate's answer: the SHA-256 of the request's DER `CertID` (which
/// names the issuer by hashes, the serial, and the hash algorithm echoed in the answer).
fn cache_key(id: &CertId) -> Result<String, PkiError> {
    Ok(hex(digest::digest(&digest::SHA256, &id.to_der()?).as_ref()))
}

async fn answer(p: &Provider, req: &OcspRequest, now: i64) -> Result<Option<Vec<u8>>, PkiError> {
    let list = &req.tbs_request.request_list;
    // A question about one certificate (what clients ask) is answered from the shared cache
    // when an answer signed earlier is still fresh and still true.
    let single = match list.as_slice() {
        [one] => Some(cache_key(&one.req_cert)?),
        _ => None,
    };
    if let Some(key) = &single
        && let Some(der) = p.store.cached_ocsp(key, now + CACHE_MARGIN_SECS).await?
    {
        return Ok(Some(der));
    }
    let mut cas = Vec::new();
    for ca in p.store.list_cas().await? {
        let cert = Certificate::from_der(&ca.cert_der)?;
        cas.push((ca, cert));
    }
    // One responder answers: that of the first CA asked about which issues officials'
    // certificates and holds its key. The root never answers (its key should stay offline;
    // the issuing CA's status is in the root's CRL).
    let Some((ca, ca_cert)) = list.iter().find_map(|r| {
        cas.iter()
            .find(|(c, cert)| {
                c.role != "root" && c.key_ref.is_some() && issued_by(&r.req_cert, cert)
            })
            .cloned()
    }) else {
        return Ok(None);
    };
    let next_update = now + RESPONSE_VALIDITY_SECS;
    let mut responses = Vec::new();
    let mut state = None;
    for r in list {
        let serial = hex(r.req_cert.serial_number.as_bytes());
        let status = if issued_by(&r.req_cert, &ca_cert) {
            let (status, read) = status_of(p, &ca, &serial).await?;
            state = read.map(|s| (serial, s));
            status
        } else {
            CertStatus::Unknown(Null)
        };
        responses.push(SingleResponse {
            cert_id: r.req_cert.clone(),
            cert_status: status,
            this_update: generalized_time(now)?,
            next_update: Some(generalized_time(next_update)?),
            single_extensions: None,
        });
    }
    // A single answer is signed once and shared, so it cannot carry the requester's nonce
    // (RFC 5019 §2.2.1 lets a responder leave it out); answers about several certificates are
    // signed for the request and echo it (RFC 6960 §4.4.1).
    let nonce: Option<Extension> = if single.is_some() {
        None
    } else {
        req.tbs_request
            .request_extensions
            .as_ref()
            .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE))
            .cloned()
    };
    if nonce
        .as_ref()
        .is_some_and(|n| n.extn_value.as_bytes().len() > 128)
    {
        return Ok(Some(status_only(OcspResponseStatus::MalformedRequest)));
    }
    let (signer, responder_cert) = responder(p, &ca, now).await?;
    let key_hash = digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        responder_cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes(),
    );
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key_hash.as_ref())?),
        produced_at: generalized_time(now)?,
        responses,
        response_extensions: nonce.map(|n| vec![n]),
    };
    let der = blocking(move || {
        let tbs = data.to_der()?;
        let signature = signer.sign_checked(SignInput::Message(&tbs))?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: signer.scheme().algorithm_identifier()?,
            signature: BitString::from_bytes(&signature)?,
            // The responder's certificate and the CA's, so that clients find the path to the
            // CA without being told.
            certs: Some(vec![responder_cert, ca_cert]),
        };
        Ok(OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic.to_der()?)?,
            }),
        }
        .to_der()?)
    })
    .await?;
    if let (Some(key), Some((serial, (status, updated_at)))) = (single, state) {
        p.store
            .put_cached_ocsp(
                &CachedOcsp {
                    cert_id_hash: key,
                    ca_id: ca.id.clone(),
                    serial,
                    status,
                    cred_updated_at: updated_at,
                    response_der: der.clone(),
                    next_update,
                },
                now,
            )
            .await?;
    }
    Ok(Some(der))
}

/// A responder is renewed when its certificate ends within [`RESPONDER_RENEW_SECS`]; but no
/// certificate outlives its CA's, so in the CA's last days the one that ends with the CA will do
/// (otherwise every request would certify a new one).
fn renew_before(ca: &CaRecord, now: i64) -> i64 {
    (now + RESPONDER_RENEW_SECS).min(ca.not_after - 1)
}

/// Housekeeping: certifies a new delegated responder for each issuing CA whose current one is
/// missing or due for renewal, so that requests rarely have to (each replica checks; the
/// first request after a renewal race just finds one of the new responders).
pub async fn renew_responders(p: &Provider, now: i64) -> Result<usize, PkiError> {
    let mut renewed = 0;
    for ca in p.store.list_cas().await? {
        if ca.role == "root" || ca.key_ref.is_none() || ca.not_after <= now {
            continue;
        }
        if p.store
            .ocsp_responder(&ca.id, renew_before(&ca, now))
            .await?
            .is_none()
        {
            responder(p, &ca, now).await?;
            renewed += 1;
        }
    }
    Ok(renewed)
}

/// The delegated responder of `ca` (RFC 6960 §4.2.2.2): its signer and certificate. When none
/// has a certificate valid for long enough, a new key is made in custody and certified by the
/// CA (EKU OCSPSigning, id-pkix-ocsp-nocheck), so that the CA's own key signs a certificate a
/// month rather than every answer. Kept in the database for every replica; two replicas racing
/// at renewal each certify one, and both are valid.
pub async fn responder(
    p: &Provider,
    ca: &CaRecord,
    now: i64,
) -> Result<(CustodySigner, Certificate), PkiError> {
    let custody = p.signer.custody().clone();
    if let Some(r) = p
        .store
        .ocsp_responder(&ca.id, renew_before(ca, now))
        .await?
        && r.key_backend == custody.backend()
    {
        let alg = KeyType::from_name(&r.key_alg)
            .ok_or_else(|| PkiError::Invalid(format!("responder key algorithm {}", r.key_alg)))?;
        let cert = Certificate::from_der(&r.cert_der)?;
        let signer = blocking(move || {
            Ok(CustodySigner::open(
                custody,
                alg,
                KeyPurpose::OcspResponder,
                &r.key_ref,
            )?)
        })
        .await?;
        return Ok((signer, cert));
    }
    let alg = KeyType::from_name(&ca.key_alg)
        .ok_or_else(|| PkiError::Invalid(format!("CA key algorithm {}", ca.key_alg)))?;
    let ca_signer = ca_signer(p, ca)?;
    let ca_cert = Certificate::from_der(&ca.cert_der)?;
    let pki = super::effective_config(p).await?;
    let not_before = now - 60;
    let not_after = (now + RESPONDER_VALIDITY_SECS).min(ca.not_after);
    let ca_id = ca.id.clone();
    let backend = custody.backend().to_owned();
    let (key_ref, cert) = blocking(move || {
        let key = custody.generate(alg, KeyPurpose::OcspResponder)?;
        let subject = SubjectInfo {
            common_name: format!(
                "{} OCSP",
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
            kind: Kind::OcspResponder,
            pointers: Pointers::default(),
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
    let record = OcspResponder {
        id: random_id()?,
        ca_id: ca.id.clone(),
        key_alg: alg.name().to_owned(),
        key_backend: backend,
        key_ref: key_ref.clone(),
        cert_der: cert.to_der()?,
        not_before,
        not_after,
        created_at: now,
    };
    p.store.insert_ocsp_responder(&record).await?;
    p.audit(Event::PkiOcspResponderCertified.at(now).detail(serde_json::json!({ "ca": ca.id, "responder": record.id, "serial": hex(cert.tbs_certificate().serial_number().as_bytes()), "not_after": not_after })))
    .await?;
    let custody = p.signer.custody().clone();
    let signer = blocking(move || {
        Ok(CustodySigner::open(
            custody,
            alg,
            KeyPurpose::OcspResponder,
            &key_ref,
        )?)
    })
    .await?;
    Ok((signer, cert))
}
