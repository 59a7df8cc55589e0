//! The OCSP responder (RFC 6960). No RustCrypto `x509-ocsp` release matches `x509-cert` 0.3 /
//! `der` 0.8 yet, so the ASN.1 structures of RFC 6960 §4.1.1 and §4.2.1 are declared here with
//! der's derive macros; responses are signed by the issuing CA's key in the custodian (the CA
//! answers for its own certificates, §2.6), and a request's nonce is echoed (§4.4.1).

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use ring::digest;
use spki::AlgorithmIdentifierOwned;
use tessera_hsm::SignInput;
use tessera_store::pki::{CaRecord, CredentialStatus};
use x509_cert::Certificate;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::{Extension, Extensions};
use x509_cert::serial_number::SerialNumber;

use super::credential::RevocationReason;
use super::profile::generalized_time;
use super::{PkiError, blocking, ca::ca_signer, hex};
use crate::Provider;

/// `id-pkix-ocsp-basic` (RFC 6960 §4.2.1).
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// `id-pkix-ocsp-nonce` (RFC 6960 §4.4.1).
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// `Version ::= INTEGER { v1(0) }`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Enumerated)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
pub enum Version {
    #[default]
    V1 = 0,
}

/// `OCSPRequest` (RFC 6960 §4.1.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OcspRequest {
    pub tbs_request: TbsRequest,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub optional_signature: Option<RequestSignature>,
}

/// `TBSRequest`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TbsRequest {
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: Version,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub requestor_name: Option<GeneralName>,
    pub request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    pub request_extensions: Option<Extensions>,
}

/// `Signature` of a signed request (accepted, not required).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct RequestSignature {
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub certs: Option<Vec<Certificate>>,
}

/// `Request`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Request {
    pub req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub single_request_extensions: Option<Extensions>,
}

/// `CertID`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertId {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub issuer_name_hash: OctetString,
    pub issuer_key_hash: OctetString,
    pub serial_number: SerialNumber,
}

/// `OCSPResponse`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OcspResponse {
    pub response_status: OcspResponseStatus,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub response_bytes: Option<ResponseBytes>,
}

/// `OCSPResponseStatus`.
#[derive(Enumerated, Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum OcspResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

/// `ResponseBytes`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ResponseBytes {
    pub response_type: ObjectIdentifier,
    pub response: OctetString,
}

/// `BasicOCSPResponse`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct BasicOcspResponse {
    pub tbs_response_data: ResponseData,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub certs: Option<Vec<Certificate>>,
}

/// `ResponseData`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ResponseData {
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: Version,
    pub responder_id: ResponderId,
    pub produced_at: GeneralizedTime,
    pub responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub response_extensions: Option<Extensions>,
}

/// `ResponderID`.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum ResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(x509_cert::name::Name),
    /// SHA-1 of the responder's public key (the BIT STRING's value).
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

/// `SingleResponse`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SingleResponse {
    pub cert_id: CertId,
    pub cert_status: CertStatus,
    pub this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub single_extensions: Option<Extensions>,
}

/// `CertStatus`.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum CertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// `RevokedInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct RevokedInfo {
    pub revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub revocation_reason: Option<CrlReason>,
}

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

/// What Tessera knows of one certificate.
async fn status_of(
    p: &Provider,
    ca: &CaRecord,
    serial: &str,
    cas: &[(CaRecord, Certificate)],
) -> Result<CertStatus, PkiError> {
    // The root answers for the CAs it certified.
    let child = cas.iter().find(|(c, cert)| {
        c.parent_id.as_deref() == Some(ca.id.as_str())
            && hex(cert.tbs_certificate().serial_number().as_bytes()) == serial
    });
    if child.is_some() {
        return Ok(CertStatus::Good(Null));
    }
    let Some(cred) = p.store.credential_by_serial(&ca.id, serial).await? else {
        return Ok(CertStatus::Unknown(Null));
    };
    let revoked = |at: Option<i64>, reason: RevocationReason| -> Result<CertStatus, PkiError> {
        Ok(CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized_time(at.unwrap_or(0))?,
            revocation_reason: Some(reason.crl_reason()),
        }))
    };
    match cred.status {
        CredentialStatus::Revoked => revoked(
            cred.revoked_at,
            cred.revocation_reason
                .as_deref()
                .and_then(RevocationReason::parse)
                .unwrap_or(RevocationReason::Unspecified),
        ),
        CredentialStatus::Suspended => {
            revoked(cred.suspended_at, RevocationReason::CertificateHold)
        }
        CredentialStatus::Active | CredentialStatus::Expired => Ok(CertStatus::Good(Null)),
        CredentialStatus::Pending => Ok(CertStatus::Unknown(Null)),
    }
}

/// Answers a DER `OCSPRequest` with a DER `OCSPResponse`: signed statuses, or an unsigned
/// error status (malformedRequest, unauthorized for certificates of other CAs, internalError).
pub async fn respond(p: &Provider, request: &[u8], now: i64) -> Vec<u8> {
    let Ok(req) = OcspRequest::from_der(request) else {
        return status_only(OcspResponseStatus::MalformedRequest);
    };
    if req.tbs_request.request_list.is_empty() {
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

async fn answer(p: &Provider, req: &OcspRequest, now: i64) -> Result<Option<Vec<u8>>, PkiError> {
    let mut cas = Vec::new();
    for ca in p.store.list_cas().await? {
        let cert = Certificate::from_der(&ca.cert_der)?;
        cas.push((ca, cert));
    }
    // One responder signs the response: the CA of the first request it can answer for.
    let Some((ca, ca_cert)) = req.tbs_request.request_list.iter().find_map(|r| {
        cas.iter()
            .find(|(c, cert)| c.key_ref.is_some() && issued_by(&r.req_cert, cert))
            .cloned()
    }) else {
        return Ok(None);
    };
    let next_update = now + 3600;
    let mut responses = Vec::new();
    for r in &req.tbs_request.request_list {
        let serial = hex(r.req_cert.serial_number.as_bytes());
        let status = if issued_by(&r.req_cert, &ca_cert) {
            status_of(p, &ca, &serial, &cas).await?
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
    let nonce: Option<Extension> = req
        .tbs_request
        .request_extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE))
        .cloned();
    if nonce
        .as_ref()
        .is_some_and(|n| n.extn_value.as_bytes().len() > 128)
    {
        return Ok(Some(status_only(OcspResponseStatus::MalformedRequest)));
    }
    let key_hash = digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        ca_cert
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
    let signer = ca_signer(p, &ca)?;
    let der = blocking(move || {
        let tbs = data.to_der()?;
        let signature = signer.sign_checked(SignInput::Message(&tbs))?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: signer.scheme().algorithm_identifier()?,
            signature: BitString::from_bytes(&signature)?,
            // The signer's certificate, so that clients find it without being told.
            certs: Some(vec![ca_cert]),
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
    Ok(Some(der))
}
