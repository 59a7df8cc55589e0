//! Certification paths (RFC 5280 §6.1, simplified: names, signatures, CA constraints, validity)
//! and revocation status from CRLs (RFC 5280 §5) and OCSP responses (RFC 6960).

use der::{Decode, Encode};
use x509_parser::certificate::X509Certificate;

use super::{CertSummary, RevocationSource};
use crate::ocsp::{
    BasicOcspResponse, CertStatus, ID_PKIX_OCSP_BASIC, OcspResponse, OcspResponseStatus,
};

const MAX_DEPTH: usize = 8;

pub(super) fn parse(der_bytes: &[u8]) -> Option<X509Certificate<'_>> {
    x509_parser::parse_x509_certificate(der_bytes)
        .ok()
        .map(|(_, c)| c)
}

pub(super) fn summary(der_bytes: &[u8]) -> Option<CertSummary> {
    let c = parse(der_bytes)?;
    Some(CertSummary {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        serial: c
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
    })
}

/// A path from the signer's certificate to a trust anchor: the issuers in order, the anchor
/// last. An empty path means the signer's certificate is itself an anchor.
pub(super) enum Path {
    Trusted(Vec<Vec<u8>>),
    /// No path to an anchor; the partial path found and why it stops.
    Untrusted(Vec<Vec<u8>>, String),
}

/// Builds the path by names and verified signatures. Issuers are looked for among `pool`
/// (certificates of the CMS, the DSS, the caller) and `anchors`; a certificate in `anchors`
/// ends the path (RFC 5280 §6.1: a trust anchor need not be self-signed). Each issuer must be
/// a CA (basicConstraints cA, keyUsage keyCertSign when present).
pub(super) fn build(leaf: &[u8], pool: &[Vec<u8>], anchors: &[Vec<u8>]) -> Path {
    if anchors.iter().any(|a| a == leaf) {
        return Path::Trusted(Vec::new());
    }
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut current = leaf.to_vec();
    loop {
        let Some(cur) = parse(&current) else {
            return Path::Untrusted(path, "unreadable certificate".into());
        };
        if path.len() >= MAX_DEPTH {
            return Path::Untrusted(path, "the chain is too long".into());
        }
        let issuer = anchors
            .iter()
            .map(|d| (d, true))
            .chain(pool.iter().map(|d| (d, false)))
            .find(|(d, _)| {
                parse(d).is_some_and(|c| {
                    c.subject().as_raw() == cur.issuer().as_raw()
                        && cur.verify_signature(Some(c.public_key())).is_ok()
                        && (d.as_slice() != current.as_slice())
                })
            });
        let Some((issuer_der, trusted)) = issuer else {
            let self_signed = cur.subject().as_raw() == cur.issuer().as_raw();
            let why = if self_signed {
                format!(
                    "the chain ends at the root {}, which is not a trust anchor",
                    cur.subject()
                )
            } else {
                format!(
                    "no certificate of the issuer {} was found, and it is not a trust anchor",
                    cur.issuer()
                )
            };
            return Path::Untrusted(path, why);
        };
        if path.contains(issuer_der) {
            return Path::Untrusted(path, "the chain loops".into());
        }
        if let Some(c) = parse(issuer_der)
            && !trusted
            && !is_ca(&c)
        {
            return Path::Untrusted(path, format!("the issuer {} is not a CA", c.subject()));
        }
        path.push(issuer_der.clone());
        if trusted {
            return Path::Trusted(path);
        }
        current = issuer_der.clone();
    }
}

fn is_ca(c: &X509Certificate<'_>) -> bool {
    let bc = matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let ku = match c.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    bc && ku
}

/// Whether the certificate names somewhere to ask for its status (CRL distribution points,
/// or an OCSP responder in its authority information access).
pub(super) fn has_revocation_pointers(c: &X509Certificate<'_>) -> bool {
    use x509_parser::extensions::ParsedExtension;
    c.extensions().iter().any(|e| match e.parsed_extension() {
        ParsedExtension::CRLDistributionPoints(_) => true,
        ParsedExtension::AuthorityInfoAccess(aia) => aia
            .accessdescs
            .iter()
            .any(|a| a.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1"),
        _ => false,
    })
}

pub(super) enum CertStatusFound {
    Good(RevocationSource),
    Revoked {
        source: RevocationSource,
        time: i64,
        reason: Option<String>,
    },
    None,
}

/// One set of revocation data: where it came from, its CRLs, its OCSP responses (DER).
pub(super) type Set<'a> = (RevocationSource, &'a [Vec<u8>], &'a [Vec<u8>]);

/// Revocation data, each set with where it came from.
pub(super) struct Sources<'a> {
    pub sets: Vec<Set<'a>>,
}

/// The status of `cert` (issued by `issuer`) according to the first CRL or OCSP response that
/// is signed by the issuer (or, for OCSP, its delegated responder, RFC 6960 §4.2.2.2) and
/// speaks about it. A revocation anywhere wins over a "good" elsewhere.
pub(super) fn status(cert: &[u8], issuer: &[u8], sources: &Sources<'_>) -> CertStatusFound {
    let (Some(c), Some(i)) = (parse(cert), parse(issuer)) else {
        return CertStatusFound::None;
    };
    let mut good = None;
    for (source, crls, ocsps) in &sources.sets {
        for crl_der in crls.iter() {
            let Ok((_, crl)) = x509_parser::parse_x509_crl(crl_der) else {
                continue;
            };
            if crl.issuer().as_raw() != i.subject().as_raw()
                || crl.verify_signature(i.public_key()).is_err()
            {
                continue;
            }
            if let Some(r) = crl
                .iter_revoked_certificates()
                .find(|r| r.raw_serial() == c.raw_serial())
            {
                return CertStatusFound::Revoked {
                    source: *source,
                    time: r.revocation_date.timestamp(),
                    reason: r.reason_code().map(|(_, code)| format!("{code}")),
                };
            }
            good.get_or_insert(*source);
        }
        for ocsp_der in ocsps.iter() {
            match ocsp_status(ocsp_der, &c, &i, issuer) {
                Some(OcspAnswer::Revoked(time, reason)) => {
                    return CertStatusFound::Revoked {
                        source: *source,
                        time,
                        reason,
                    };
                }
                Some(OcspAnswer::Good) => {
                    good.get_or_insert(*source);
                }
                None => {}
            }
        }
    }
    match good {
        Some(s) => CertStatusFound::Good(s),
        None => CertStatusFound::None,
    }
}

enum OcspAnswer {
    Good,
    Revoked(i64, Option<String>),
}

fn ocsp_status(
    resp_der: &[u8],
    cert: &X509Certificate<'_>,
    issuer: &X509Certificate<'_>,
    issuer_der: &[u8],
) -> Option<OcspAnswer> {
    let resp = OcspResponse::from_der(resp_der).ok()?;
    if resp.response_status != OcspResponseStatus::Successful {
        return None;
    }
    let bytes = resp.response_bytes?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return None;
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).ok()?;
    let tbs = basic.tbs_response_data.to_der().ok()?;
    let sig = basic.signature.as_bytes()?;
    let alg = basic.signature_algorithm.oid.to_string();
    // Signed by the issuer itself, or by a responder certificate the issuer signed.
    let mut signers: Vec<Vec<u8>> = vec![issuer_der.to_vec()];
    for c in basic.certs.iter().flatten() {
        if let Ok(d) = c.to_der()
            && let Some(pc) = parse(&d)
            && pc.issuer().as_raw() == issuer.subject().as_raw()
            && pc.verify_signature(Some(issuer.public_key())).is_ok()
        {
            signers.push(d);
        }
    }
    let signed = signers.iter().any(|d| {
        parse(d).is_some_and(|pc| {
            super::crypto::verify_raw(pc.public_key(), &alg, None, None, &tbs, sig).is_ok()
        })
    });
    if !signed {
        return None;
    }
    let key_bits = &issuer.public_key().subject_public_key.data;
    for single in &basic.tbs_response_data.responses {
        let id = &single.cert_id;
        if id.serial_number.as_bytes() != cert.raw_serial() {
            continue;
        }
        let Some(h) = super::crypto::digest(&id.hash_algorithm.oid.to_string(), &[key_bits]) else {
            continue;
        };
        if h != id.issuer_key_hash.as_bytes() {
            continue;
        }
        return match &single.cert_status {
            CertStatus::Good(_) => Some(OcspAnswer::Good),
            CertStatus::Revoked(info) => Some(OcspAnswer::Revoked(
                info.revocation_time.to_unix_duration().as_secs() as i64,
                info.revocation_reason.map(|r| format!("{r:?}")),
            )),
            CertStatus::Unknown(_) => None,
        };
    }
    None
}
