//! Validation data for long-term signatures (PAdES B-LT, ETSI EN 319 142-1 §5.4; CAdES
//! X-L): the certificates of a path and, for each certificate below the root, an OCSP answer
//! or a CRL that says it was not revoked.
//!
//! For certificates of Tessera's own CAs the answers come from the core directly (the OCSP
//! responder for officials' certificates, the CA's CRL otherwise); for external ones they are
//! fetched from the certificate's AIA OCSP URL, else its CRL distribution point, through the
//! SSRF-guarded outbound transport.

use der::asn1::{Null, OctetString};
use der::{Any, Decode, Encode};
use ring::digest;
use spki::AlgorithmIdentifierOwned;
use tessera_store::pki::CaRecord;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};

use crate::Provider;
use crate::pki::ocsp::{
    self, CertId, OcspRequest, OcspResponse, OcspResponseStatus, Request, TbsRequest,
};
use crate::pki::profile::oid;
use crate::pki::{PkiError, crl, hex};

/// `id-sha1`: CertIDs use SHA-1, the hash every responder knows (RFC 5019 §2.1.1).
const SHA1: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OCSP_REQUEST_TYPE: &str = "application/ocsp-request";
const OCSP_RESPONSE_TYPE: &str = "application/ocsp-response";

/// What a validator needs besides the signature (the DSS's `/Certs`, `/OCSPs`, `/CRLs`; ISO
/// 32000-2 §12.8.4.3). All DER.
pub use tessera_formats::pdf::ValidationData;

fn add_cert(out: &mut ValidationData, der: Vec<u8>) {
    if !out.certs.contains(&der) {
        out.certs.push(der);
    }
}

/// Why validation data could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum LtvError {
    #[error("{0}")]
    Invalid(String),
    /// No revocation answer could be had for a certificate (names it and says why).
    #[error("no revocation information for {subject}: {why}")]
    NoRevocationData { subject: String, why: String },
    #[error(transparent)]
    Pki(#[from] PkiError),
}

fn parse(der: &[u8]) -> Result<Certificate, LtvError> {
    Certificate::from_der(der).map_err(|e| LtvError::Invalid(format!("certificate: {e}")))
}

fn subject_of(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

/// The CertID of `cert` issued by `issuer` (RFC 6960 §4.1.1), SHA-1 with NULL parameters.
fn cert_id(cert: &Certificate, issuer: &Certificate) -> Result<CertId, LtvError> {
    let tbs = issuer.tbs_certificate();
    let name = tbs
        .subject()
        .to_der()
        .map_err(|e| LtvError::Invalid(e.to_string()))?;
    let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
    let sha1 = |b: &[u8]| digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b);
    let octets =
        |b: &[u8]| OctetString::new(sha1(b).as_ref()).map_err(|e| LtvError::Invalid(e.to_string()));
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(Any::from(Null)),
        },
        issuer_name_hash: octets(&name)?,
        issuer_key_hash: octets(key)?,
        serial_number: cert.tbs_certificate().serial_number().clone(),
    })
}

fn ocsp_request(id: CertId) -> Result<Vec<u8>, LtvError> {
    OcspRequest {
        tbs_request: TbsRequest {
            version: Default::default(),
            requestor_name: None,
            request_list: vec![Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .map_err(|e| LtvError::Invalid(e.to_string()))
}

/// Whether `der` is a successful OCSP response (what it says of the certificate is the
/// validator's business: a revoked answer is evidence too).
fn ocsp_ok(der: &[u8]) -> Result<(), String> {
    let resp = OcspResponse::from_der(der).map_err(|e| format!("not an OCSP response: {e}"))?;
    if resp.response_status != OcspResponseStatus::Successful || resp.response_bytes.is_none() {
        return Err(format!("OCSP status {:?}", resp.response_status));
    }
    Ok(())
}

fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    match cert
        .tbs_certificate()
        .get_extension::<AuthorityInfoAccessSyntax>()
    {
        Ok(Some((_, aia))) => aia
            .0
            .iter()
            .filter(|a| a.access_method == oid::AD_OCSP)
            .filter_map(|a| match &a.access_location {
                GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn crl_urls(cert: &Certificate) -> Vec<String> {
    match cert
        .tbs_certificate()
        .get_extension::<CrlDistributionPoints>()
    {
        Ok(Some((_, dps))) => dps
            .0
            .iter()
            .filter_map(|dp| match &dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => Some(names),
                _ => None,
            })
            .flatten()
            .filter_map(|n| match n {
                GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                _ => None,
            })
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .collect(),
        _ => Vec::new(),
    }
}

/// Revocation data of one certificate of Tessera's own CA `ca`: the responder's answer for
/// officials' certificates, the CA's current CRL for everything else (the issuing CA under the
/// root, time-stamping units, OCSP responders).
async fn own(
    p: &Provider,
    cert: &Certificate,
    issuer: &Certificate,
    ca: &CaRecord,
    now: i64,
    out: &mut ValidationData,
) -> Result<(), LtvError> {
    let serial = hex(cert.tbs_certificate().serial_number().as_bytes());
    let is_credential = ca.role != "root"
        && ca.key_ref.is_some()
        && p.store
            .credential_by_serial(&ca.id, &serial)
            .await
            .map_err(PkiError::from)?
            .is_some();
    if is_credential {
        let req = ocsp_request(cert_id(cert, issuer)?)?;
        let answer = ocsp::respond(p, &req, now).await;
        ocsp_ok(&answer).map_err(|why| LtvError::NoRevocationData {
            subject: subject_of(cert),
            why,
        })?;
        out.ocsps.push(answer);
        // The responder's certificate (id-pkix-ocsp-nocheck) is in the answer itself.
        return Ok(());
    }
    let list = crl::current_crl(p, &ca.id, now).await?;
    if !out.crls.contains(&list) {
        out.crls.push(list);
    }
    Ok(())
}

/// Revocation data of an external certificate: OCSP at the AIA URL when the issuer is known,
/// else (or when that fails) the CRL at the distribution point.
async fn external(
    p: &Provider,
    cert: &Certificate,
    issuer: Option<&Certificate>,
    out: &mut ValidationData,
) -> Result<(), LtvError> {
    let mut why = Vec::new();
    if let Some(issuer) = issuer {
        let req = ocsp_request(cert_id(cert, issuer)?)?;
        for url in ocsp_urls(cert) {
            match p
                .outbound
                .post_bytes(&url, OCSP_REQUEST_TYPE, OCSP_RESPONSE_TYPE, &req)
                .await
            {
                Ok(answer) => match ocsp_ok(&answer) {
                    Ok(()) => {
                        out.ocsps.push(answer);
                        return Ok(());
                    }
                    Err(e) => why.push(format!("{url}: {e}")),
                },
                Err(e) => why.push(e.to_string()),
            }
        }
    }
    for url in crl_urls(cert) {
        match p.outbound.get_bytes(&url).await {
            Ok(list) => match <CertificateList as Decode>::from_der(&list) {
                Ok(_) => {
                    if !out.crls.contains(&list) {
                        out.crls.push(list);
                    }
                    return Ok(());
                }
                Err(e) => why.push(format!("{url}: not a DER CRL: {e}")),
            },
            Err(e) => why.push(e.to_string()),
        }
    }
    if why.is_empty() {
        why.push("the certificate names no OCSP responder or CRL".into());
    }
    Err(LtvError::NoRevocationData {
        subject: subject_of(cert),
        why: why.join("; "),
    })
}

/// Revocation data of the external certificate `cert_der` issued by `issuer_der`, fetched as
/// for signing (OCSP at the AIA URL, else the CRL at the distribution point): signature
/// verification calls it for certificates that name a service but came with no data.
pub(crate) async fn fetch_external(
    p: &Provider,
    cert_der: &[u8],
    issuer_der: &[u8],
) -> Result<ValidationData, LtvError> {
    let (cert, issuer) = (parse(cert_der)?, parse(issuer_der)?);
    let mut out = ValidationData::default();
    external(p, &cert, Some(&issuer), &mut out).await?;
    Ok(out)
}

/// The validation data of the path `cert_der` → `chain` (issuers up to the root, DER): every
/// certificate, and an OCSP answer or CRL for each one below the (self-signed) root.
pub async fn validation_data(
    p: &Provider,
    cert_der: &[u8],
    chain: &[Vec<u8>],
    now: i64,
) -> Result<ValidationData, LtvError> {
    let mut out = ValidationData::default();
    let mut path = vec![parse(cert_der)?];
    for c in chain {
        path.push(parse(c)?);
    }
    let cas = p.store.list_cas().await.map_err(PkiError::from)?;
    add_cert(&mut out, cert_der.to_vec());
    for c in chain {
        add_cert(&mut out, c.clone());
    }
    for (i, cert) in path.iter().enumerate() {
        let tbs = cert.tbs_certificate();
        if tbs.subject() == tbs.issuer() {
            // A self-signed root is trusted as such; nothing revokes it.
            continue;
        }
        let issuer = path.get(i + 1);
        let issuer_der = match issuer {
            Some(c) => Some(c.to_der().map_err(|e| LtvError::Invalid(e.to_string()))?),
            None => None,
        };
        let ours = issuer_der
            .as_ref()
            .and_then(|d| cas.iter().find(|ca| &ca.cert_der == d));
        match (ours, issuer) {
            (Some(ca), Some(issuer)) => own(p, cert, issuer, ca, now, &mut out).await?,
            _ => external(p, cert, issuer, &mut out).await?,
        }
    }
    Ok(out)
}
