//! Detached CMS signatures at CAdES baseline level B-B (ETSI EN 319 122-1 §6.3), made of the
//! `cms` crate's types and signed inside the key custodian through [`CustodySigner`]. PAdES uses the same signatures without the signing-time attribute
//! (ETSI EN 319 142-1 §6.3 b). [`CadesSigner`] prepares a key and its certificates once for
//! many signatures; [`sign_detached`] makes one.

use std::time::Duration;

use cms::builder::{create_content_type_attribute, create_message_digest_attribute};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, DigestAlgorithmIdentifiers, EncapsulatedContentInfo, SignedAttributes,
    SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, EncodeValue, FixedTag, Header, Length, Tag, TagNumber, Writer};
use spki::AlgorithmIdentifierOwned;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{HashAlg, SignInput};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use crate::FormatError;
use crate::ess::SigningCertificateV2;

/// `id-signedData` (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
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
/// scheme, [`CustodySigner::scheme`]) is `content_digest`: [`CadesSigner::sign_detached`] for
/// one signature. Answers the DER ContentInfo.
pub fn sign_detached(
    signer: &CustodySigner,
    certs: &SignerCerts,
    content_digest: &[u8],
    profile: Profile,
) -> Result<Vec<u8>, FormatError> {
    check_digest_len(signer, content_digest)?;
    CadesSigner::new(signer.clone(), certs)?.sign_detached(content_digest, profile)
}

/// A custody key with its certificates, prepared for many signatures: the certificates are
/// parsed, checked against the key and encoded once, and the signing-certificate-v2 attribute
/// is made once. Each signature then costs the custodian's signature (with its check) and
/// the encoding of one SignerInfo; the certificates are copied in as they were encoded.
#[derive(Clone, Debug)]
pub struct CadesSigner {
    signer: CustodySigner,
    sid: SignerIdentifier,
    digest_alg: AlgorithmIdentifierOwned,
    signature_alg: AlgorithmIdentifierOwned,
    /// The certificates field's SET OF content (RFC 5652 §10.2.3): the signer and its chain,
    /// DER-ordered as the `cms` builder orders them.
    certificates: Vec<u8>,
    content_type: Attribute,
    signing_certificate: Attribute,
}

impl CadesSigner {
    /// Refuses certificates that do not parse or whose first is not for `signer`'s key.
    pub fn new(signer: CustodySigner, certs: &SignerCerts) -> Result<CadesSigner, FormatError> {
        let cert = Certificate::from_der(&certs.cert_der)
            .map_err(|e| FormatError::Invalid(format!("the signer's certificate: {e}")))?;
        // A certificate for another key would make a signature nobody can verify.
        if cert.tbs_certificate().subject_public_key_info().to_der()? != signer.spki_der() {
            return Err(FormatError::Invalid(
                "the signer's certificate is not for the signing key".into(),
            ));
        }
        let mut all = vec![CertificateChoices::Certificate(cert.clone())];
        for der in &certs.chain {
            all.push(CertificateChoices::Certificate(
                Certificate::from_der(der).map_err(|e| {
                    FormatError::Invalid(format!("a certificate of the chain: {e}"))
                })?,
            ));
        }
        let mut certificates = Vec::new();
        for c in CertificateSet::try_from(all)?.0.iter() {
            c.encode_to_vec(&mut certificates)?;
        }
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        });
        let cms_err = |e: cms::builder::Error| FormatError::Encoding(format!("CMS: {e:?}"));
        Ok(CadesSigner {
            sid,
            digest_alg: digest_algorithm(signer.scheme().hash()),
            signature_alg: signer.scheme().algorithm_identifier()?,
            certificates,
            content_type: create_content_type_attribute(ID_DATA).map_err(cms_err)?,
            signing_certificate: SigningCertificateV2::of(&cert, &certs.cert_der)?
                .to_attribute()?,
            signer,
        })
    }

    pub fn signer(&self) -> &CustodySigner {
        &self.signer
    }

    /// A detached CAdES-B-B SignedData over content whose digest (in the hash of the signer's
    /// scheme, [`CustodySigner::scheme`]) is `content_digest`. Signed attributes (RFC 5652
    /// §5.3): content-type, message-digest, signing-time for [`Profile::Cades`], and
    /// signing-certificate-v2 (ETSI EN 319 122-1 §5.2.2.3). The certificates field holds the
    /// signer and its chain. Answers the DER ContentInfo.
    pub fn sign_detached(
        &self,
        content_digest: &[u8],
        profile: Profile,
    ) -> Result<Vec<u8>, FormatError> {
        check_digest_len(&self.signer, content_digest)?;
        let cms_err = |e: cms::builder::Error| FormatError::Encoding(format!("CMS: {e:?}"));
        let mut attributes = vec![
            self.content_type.clone(),
            create_message_digest_attribute(content_digest).map_err(cms_err)?,
            self.signing_certificate.clone(),
        ];
        if let Profile::Cades { signing_time } = profile {
            attributes.push(signing_time_attribute(signing_time)?);
        }
        // A SET OF: DER orders it (RFC 5652 §5.4 signs this encoding, tag 0x31).
        let signed_attrs = SignedAttributes::try_from(attributes)?;
        let signature = self
            .signer
            .sign_checked(SignInput::Message(&signed_attrs.to_der()?))?;
        let info = SignerInfo {
            version: CmsVersion::V1,
            sid: self.sid.clone(),
            digest_alg: self.digest_alg.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: self.signature_alg.clone(),
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let signed = DetachedSignedData {
            digest_alg: &self.digest_alg,
            certificates: &self.certificates,
            signer_info: info,
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed)?,
        }
        .to_der()?)
    }
}

/// `SignedData` (RFC 5652 §5.1) of one signer over detached data, encoded with its
/// certificates as [`CadesSigner`] encoded them once: what `cms::signed_data::SignedData`
/// encodes to, without decoding and re-encoding the certificates for each signature.
struct DetachedSignedData<'a> {
    digest_alg: &'a AlgorithmIdentifierOwned,
    /// The certificates SET OF content.
    certificates: &'a [u8],
    signer_info: SignerInfo,
}

impl DetachedSignedData<'_> {
    /// version 1: only X.509 certificates, an issuerAndSerialNumber signer, id-data content
    /// (RFC 5652 §5.1).
    const VERSION: CmsVersion = CmsVersion::V1;

    fn digest_algorithms(&self) -> der::Result<DigestAlgorithmIdentifiers> {
        DigestAlgorithmIdentifiers::try_from(vec![self.digest_alg.clone()])
    }

    fn encap_content_info() -> EncapsulatedContentInfo {
        EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        }
    }

    /// `[0] IMPLICIT CertificateSet`: the SET's tag becomes [0], constructed.
    fn certificates_header(&self) -> der::Result<Header> {
        let tag = Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(0),
        };
        Ok(Header::new(tag, Length::try_from(self.certificates.len())?))
    }

    fn signer_infos(&self) -> der::Result<SignerInfos> {
        SignerInfos::try_from(vec![self.signer_info.clone()])
    }
}

impl EncodeValue for DetachedSignedData<'_> {
    fn value_len(&self) -> der::Result<Length> {
        Self::VERSION.encoded_len()?
            + self.digest_algorithms()?.encoded_len()?
            + Self::encap_content_info().encoded_len()?
            + self.certificates_header()?.encoded_len()?
            + Length::try_from(self.certificates.len())?
            + self.signer_infos()?.encoded_len()?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        Self::VERSION.encode(writer)?;
        self.digest_algorithms()?.encode(writer)?;
        Self::encap_content_info().encode(writer)?;
        self.certificates_header()?.encode(writer)?;
        writer.write(self.certificates)?;
        self.signer_infos()?.encode(writer)
    }
}

impl FixedTag for DetachedSignedData<'_> {
    const TAG: Tag = Tag::Sequence;
}

fn check_digest_len(signer: &CustodySigner, content_digest: &[u8]) -> Result<(), FormatError> {
    let hash = signer.scheme().hash();
    if content_digest.len() == hash.output_len() {
        return Ok(());
    }
    Err(FormatError::Invalid(format!(
        "a {} digest is {} bytes, not {}",
        hash.name(),
        hash.output_len(),
        content_digest.len()
    )))
}

#[cfg(test)]
mod tests;
