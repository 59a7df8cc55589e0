//! Detached CMS signatures at CAdES baseline level B-B (ETSI EN 319 122-1 §6.3), built with the
//! `cms` crate's SignedData builder and signed inside the key custodian through
//! [`CustodySigner`]. PAdES uses the same signatures without the signing-time attribute
//! (ETSI EN 319 142-1 §6.3 b).

use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use tessera_hsm::HashAlg;
use tessera_hsm::x509::{CustodySigner, X509Signature};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use crate::FormatError;
use crate::ess::SigningCertificateV2;

/// `id-data` (RFC 5652 §4).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signingTime` (RFC 5652 §11.3).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// `id-sha256` (RFC 5754 §2).
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-sha384` (RFC 5754 §2).
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// `id-sha512` (RFC 5754 §2).
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// The signer's certificate and the issuers above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerCerts {
    /// The signer's certificate, DER.
    pub cert_der: Vec<u8>,
    /// Issuers up to the root, DER, nearest first.
    pub chain: Vec<Vec<u8>>,
}

/// Which signed attributes the signature carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// CAdES: with a signing-time attribute (ETSI EN 319 122-1 §5.2.1), in Unix seconds.
    Cades { signing_time: i64 },
    /// PAdES: no signing-time; the time goes in the signature dictionary's `/M`
    /// (ETSI EN 319 142-1 §5.4.3).
    Pades,
}

/// The AlgorithmIdentifier of a digest, parameters absent (RFC 5754 §2).
pub fn digest_algorithm(hash: HashAlg) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: match hash {
            HashAlg::Sha256 => ID_SHA256,
            HashAlg::Sha384 => ID_SHA384,
            HashAlg::Sha512 => ID_SHA512,
        },
        parameters: None,
    }
}

/// The signing-time attribute (RFC 5652 §11.3): UTCTime until 2049, GeneralizedTime after.
pub fn signing_time_attribute(unix_secs: i64) -> Result<Attribute, FormatError> {
    let secs = u64::try_from(unix_secs)
        .map_err(|_| FormatError::Invalid(format!("signing time {unix_secs} is before 1970")))?;
    let time = Time::from(der::DateTime::from_unix_duration(Duration::from_secs(
        secs,
    ))?);
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&time.to_der()?)?)?;
    Ok(Attribute {
        oid: ID_SIGNING_TIME,
        values,
    })
}

/// A detached CAdES-B-B SignedData over content whose digest (in the hash of the signer's
/// scheme, [`CustodySigner::scheme`]) is `content_digest`. Signed attributes: content-type,
/// message-digest (both added by the `cms` builder), signing-time for [`Profile::Cades`], and
/// signing-certificate-v2 (ETSI EN 319 122-1 §5.2.2.3). The certificates field holds the signer
/// and its chain. Answers the DER ContentInfo.
pub fn sign_detached(
    signer: &CustodySigner,
    certs: &SignerCerts,
    content_digest: &[u8],
    profile: Profile,
) -> Result<Vec<u8>, FormatError> {
    let hash = signer.scheme().hash();
    if content_digest.len() != hash.output_len() {
        return Err(FormatError::Invalid(format!(
            "a {} digest is {} bytes, not {}",
            hash.name(),
            hash.output_len(),
            content_digest.len()
        )));
    }
    let cert = Certificate::from_der(&certs.cert_der)
        .map_err(|e| FormatError::Invalid(format!("the signer's certificate: {e}")))?;
    // A certificate for another key would make a signature nobody can verify.
    if cert.tbs_certificate().subject_public_key_info().to_der()? != signer.spki_der() {
        return Err(FormatError::Invalid(
            "the signer's certificate is not for the signing key".into(),
        ));
    }
    let mut chain = Vec::with_capacity(certs.chain.len());
    for der in &certs.chain {
        chain.push(
            Certificate::from_der(der)
                .map_err(|e| FormatError::Invalid(format!("a certificate of the chain: {e}")))?,
        );
    }

    let digest_alg = digest_algorithm(hash);
    let econtent = EncapsulatedContentInfo {
        econtent_type: ID_DATA,
        econtent: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate().issuer().clone(),
        serial_number: cert.tbs_certificate().serial_number().clone(),
    });
    let cms_err = |e: cms::builder::Error| FormatError::Encoding(format!("CMS: {e:?}"));
    let mut info = SignerInfoBuilder::new(sid, digest_alg.clone(), &econtent, Some(content_digest))
        .map_err(cms_err)?;
    if let Profile::Cades { signing_time } = profile {
        info.add_signed_attribute(signing_time_attribute(signing_time)?)
            .map_err(cms_err)?;
    }
    info.add_signed_attribute(
        SigningCertificateV2::for_certificate(&certs.cert_der)?.to_attribute()?,
    )
    .map_err(cms_err)?;

    let mut builder = SignedDataBuilder::new(&econtent);
    builder
        .add_digest_algorithm(digest_alg)
        .map_err(cms_err)?
        .add_certificate(CertificateChoices::Certificate(cert))
        .map_err(cms_err)?;
    for c in chain {
        builder
            .add_certificate(CertificateChoices::Certificate(c))
            .map_err(cms_err)?;
    }
    // The builder reports a failure of the custodian only as a failed step.
    let signed: ContentInfo = builder
        .add_signer_info::<_, X509Signature>(info, signer)
        .map_err(cms_err)?
        .build()
        .map_err(cms_err)?;
    Ok(signed.to_der()?)
}

#[cfg(test)]
mod tests;
