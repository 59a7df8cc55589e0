//! Checking a certificate (or chain) issued by an external CA before it is bound to a
//! credential: x509-parser reads every certificate and verifies every signature of the chain.

use std::time::Duration;

use der::{Decode, Encode};
use tessera_store::users::User;
use x509_parser::certificate::X509Certificate;

use super::{PkiError, hex};

/// What an accepted import binds to the credential.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The user's certificate, DER.
    pub leaf: Vec<u8>,
    /// Its issuers, nearest first, up to and including the trusted one (anchor or Tessera CA).
    pub chain: Vec<Vec<u8>>,
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

fn refused(msg: impl Into<String>) -> PkiError {
    PkiError::Refused(msg.into())
}

/// Splits concatenated DER certificates.
pub fn split_der(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let cert = <x509_cert::Certificate as FromDerPartial>::from_der_partial(bytes)
            .map_err(|e| super::internal(format!("stored chain: {e}")))?;
        let len = usize::try_from(u32::from(cert.0.encoded_len()?))
            .map_err(|_| super::internal("stored chain: length"))?;
        out.push(bytes.get(..len).unwrap_or_default().to_vec());
        bytes = cert.1;
    }
    Ok(out)
}

trait FromDerPartial: Sized {
    fn from_der_partial(bytes: &[u8]) -> der::Result<(Self, &[u8])>;
}

impl FromDerPartial for x509_cert::Certificate {
    fn from_der_partial(bytes: &[u8]) -> der::Result<(Self, &[u8])> {
        let mut reader = der::SliceReader::new(bytes)?;
        let cert = <x509_cert::Certificate as der::Decode>::decode(&mut reader)?;
        let used = usize::try_from(u32::from(der::Reader::position(&reader)))
            .map_err(|_| der::Error::from(der::ErrorKind::Overflow))?;
        Ok((cert, bytes.get(used..).unwrap_or_default()))
    }
}

/// Certificates from a PKCS#7 (CMS SignedData, certs-only) bundle, RFC 5652 §5.
fn pkcs7_certs(der_bytes: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    const SIGNED_DATA: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
    let info = ContentInfo::from_der(der_bytes)
        .map_err(|e| refused(format!("not a certificate or a PKCS#7 bundle: {e}")))?;
    if info.content_type != SIGNED_DATA {
        return Err(refused("the PKCS#7 bundle is not SignedData"));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| refused(format!("unreadable PKCS#7 SignedData: {e}")))?;
    let mut out = Vec::new();
    if let Some(set) = signed.certificates {
        for choice in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = choice {
                out.push(cert.to_der()?);
            }
        }
    }
    Ok(out)
}

/// The certificates of a PEM (CERTIFICATE and PKCS7 blocks), DER certificate, or DER PKCS#7
/// file.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(text) = text.filter(|t| t.contains("-----BEGIN ")) {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("-----BEGIN ") {
            let block = &rest[start..];
            let end_marker = block
                .find("-----END ")
                .and_then(|e| block[e + 9..].find("-----").map(|f| e + 9 + f + 5))
                .ok_or_else(|| refused("a PEM block is not terminated"))?;
            let (label, der_bytes) = der::pem::decode_vec(&block.as_bytes()[..end_marker])
                .map_err(|e| refused(format!("unreadable PEM: {e}")))?;
            match label {
                "CERTIFICATE" => out.push(der_bytes),
                "PKCS7" | "CMS" => out.extend(pkcs7_certs(&der_bytes)?),
                other => {
                    return Err(refused(format!(
                        "a PEM block is {other}; expected CERTIFICATE or PKCS7"
                    )));
                }
            }
            rest = &block[end_marker..];
        }
        if out.is_empty() {
            return Err(refused("the file holds no certificate"));
        }
        return Ok(out);
    }
    if x509_cert::Certificate::from_der(bytes).is_ok() {
        return Ok(vec![bytes.to_vec()]);
    }
    // Several DER certificates back to back, or a PKCS#7 bundle.
    if let Ok(list) = split_der(bytes) {
        return Ok(list);
    }
    let certs = pkcs7_certs(bytes)?;
    if certs.is_empty() {
        return Err(refused("the PKCS#7 bundle holds no certificate"));
    }
    Ok(certs)
}

fn date(unix: i64) -> String {
    der::DateTime::from_unix_duration(Duration::from_secs(unix.max(0) as u64))
        .map(|d| d.to_string())
        .unwrap_or_else(|_| unix.to_string())
}

fn describe(cert: &X509Certificate<'_>) -> String {
    cert.subject().to_string()
}

fn check_validity(cert: &X509Certificate<'_>, what: &str, now: i64) -> Result<(), PkiError> {
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    if now >= na {
        return Err(refused(format!(
            "the {what} ({}) expired on {}",
            describe(cert),
            date(na)
        )));
    }
    if now < nb {
        return Err(refused(format!(
            "the {what} ({}) is not valid before {}",
            describe(cert),
            date(nb)
        )));
    }
    Ok(())
}

/// Whether `ca` may certify at `depth` (0: it issued the user's certificate; n: n CA
/// certificates lie between it and the user's): basicConstraints cA, keyUsage with
/// keyCertSign, and a pathLenConstraint of at least `depth` (RFC 5280 §4.2.1.3, §4.2.1.9).
pub fn check_ca(ca: &X509Certificate<'_>, depth: usize) -> Result<(), PkiError> {
    let bc = ca
        .basic_constraints()
        .map_err(|e| refused(format!("bad basicConstraints in {}: {e}", describe(ca))))?;
    let Some(bc) = bc.filter(|bc| bc.value.ca) else {
        return Err(refused(format!(
            "the issuer {} is not a CA (basicConstraints)",
            describe(ca)
        )));
    };
    if let Some(max) = bc.value.path_len_constraint
        && (max as usize) < depth
    {
        return Err(refused(format!(
            "the CA {} may have at most {max} CA certificate(s) below it (pathLenConstraint), but {depth} are",
            describe(ca)
        )));
    }
    let ku = ca
        .key_usage()
        .map_err(|e| refused(format!("bad keyUsage in {}: {e}", describe(ca))))?;
    if !ku.is_some_and(|ku| ku.value.key_cert_sign()) {
        return Err(refused(format!(
            "the CA {} may not sign certificates (keyUsage without keyCertSign)",
            describe(ca)
        )));
    }
    Ok(())
}

/// Checks `bundle` for a credential whose key has SubjectPublicKeyInfo `spki` and whose owner
/// is `user`. `known` are Tessera's own CA certificates and `anchors` the configured trust
/// anchors: the chain must end at one of them.
pub fn validate(
    bundle: &[u8],
    spki: &[u8],
    user: &User,
    known: &[Vec<u8>],
    anchors: &[Vec<u8>],
    now: i64,
) -> Result<Checked, PkiError> {
    let given = parse_bundle(bundle)?;
    let mut parsed = Vec::new();
    for der_bytes in &given {
        let (_, cert) = x509_parser::parse_x509_certificate(der_bytes)
            .map_err(|e| refused(format!("unreadable certificate: {e}")))?;
        parsed.push((der_bytes.clone(), cert));
    }
    let leaf_index = parsed
        .iter()
        .position(|(_, c)| c.public_key().raw == spki)
        .ok_or_else(|| {
            refused(
                "its public key does not match the credential's key in the HSM (was it issued for another CSR?)",
            )
        })?;
    let (leaf_der, leaf) = &parsed[leaf_index];

    // The user's certificate: in its validity period, not a CA, for signing, naming the user.
    check_validity(leaf, "certificate", now)?;
    if leaf.is_ca() {
        return Err(refused("it is a CA certificate, not a signing certificate"));
    }
    if let Some(ku) = leaf
        .key_usage()
        .map_err(|e| refused(format!("bad keyUsage: {e}")))?
        && !(ku.value.digital_signature() || ku.value.non_repudiation())
    {
        return Err(refused(
            "its keyUsage allows neither digitalSignature nor nonRepudiation",
        ));
    }
    let cn: Option<String> = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    if cn.as_deref().map(str::trim) != Some(user.display_name.trim()) {
        return Err(refused(format!(
            "its subject names {:?}, not the user {:?}",
            cn.unwrap_or_default(),
            user.display_name
        )));
    }

    if leaf.subject().as_raw() == leaf.issuer().as_raw() && leaf.verify_signature(None).is_ok() {
        return Err(refused(
            "it is self-signed; a CA-issued certificate is expected",
        ));
    }

    // The chain: each issuer found by name among the given certificates and the trusted ones,
    // each signature verified with the issuer's key, each issuer a CA allowed to certify at
    // its depth (RFC 5280 §6.1), up to a trusted certificate: a configured trust anchor or one
    // of Tessera's own CAs. A self-made root is refused however well it is formed.
    let trusted: Vec<&[u8]> = known
        .iter()
        .chain(anchors.iter())
        .map(Vec::as_slice)
        .collect();
    let mut pool: Vec<(Vec<u8>, X509Certificate<'_>)> = Vec::new();
    for d in known.iter().chain(anchors.iter()) {
        if let Ok((_, c)) = x509_parser::parse_x509_certificate(d) {
            pool.push((d.clone(), c));
        }
    }
    for (i, (d, c)) in parsed.iter().enumerate() {
        if i != leaf_index && !trusted.contains(&d.as_slice()) {
            pool.push((d.clone(), c.clone()));
        }
    }
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut current = leaf.clone();
    loop {
        if chain.len() > 5 {
            return Err(refused("the chain is longer than 6 certificates"));
        }
        let candidates: Vec<&(Vec<u8>, X509Certificate<'_>)> = pool
            .iter()
            .filter(|(_, c)| c.subject().as_raw() == current.issuer().as_raw())
            .collect();
        if candidates.is_empty() {
            return Err(refused(format!(
                "the chain is incomplete or wrong: no certificate of its issuer {} was given, and it is not a trust anchor (`tessera trust add`)",
                current.issuer()
            )));
        }
        let Some((issuer_der, issuer)) = candidates
            .into_iter()
            .find(|(_, c)| current.verify_signature(Some(c.public_key())).is_ok())
        else {
            return Err(refused(format!(
                "the chain is wrong: the signature on {} does not verify with the key of {}",
                describe(&current),
                current.issuer()
            )));
        };
        check_validity(issuer, "issuer certificate", now)?;
        check_ca(issuer, chain.len())?;
        if chain.contains(issuer_der) {
            return Err(refused("the chain loops"));
        }
        chain.push(issuer_der.clone());
        let self_signed = issuer.subject().as_raw() == issuer.issuer().as_raw();
        // The first trusted certificate ends the path (RFC 5280 §6.1: a trust anchor need not
        // be a root). The certificates above it, when known, still go into the stored chain,
        // unchecked, so that signatures carry the whole chain.
        if trusted.contains(&issuer_der.as_slice()) {
            let mut top = issuer.clone();
            while top.subject().as_raw() != top.issuer().as_raw() && chain.len() < 6 {
                let Some((der, above)) = pool.iter().find(|(d, c)| {
                    c.subject().as_raw() == top.issuer().as_raw()
                        && !chain.contains(d)
                        && top.verify_signature(Some(c.public_key())).is_ok()
                }) else {
                    break;
                };
                chain.push(der.clone());
                top = above.clone();
            }
            break;
        }
        if self_signed {
            return Err(refused(format!(
                "it chains to the root {}, which is not a trust anchor of this installation (an operator adds the CA's root with `tessera trust add`)",
                describe(issuer)
            )));
        }
        current = issuer.clone();
    }
    let cert = x509_cert::Certificate::from_der(leaf_der)?;
    let tbs = cert.tbs_certificate();
    Ok(Checked {
        leaf: leaf_der.clone(),
        chain,
        serial: hex(tbs.serial_number().as_bytes()),
        issuer: tbs.issuer().to_string(),
        subject: tbs.subject().to_string(),
        not_before: leaf.validity().not_before.timestamp(),
        not_after: leaf.validity().not_after.timestamp(),
    })
}
