//! The ESS signing-certificate attributes, which bind a signature to its signer's certificate:
//! v2 (RFC 5035 §3) for CAdES and PAdES (ETSI EN 319 122-1 §5.2.2.3) and RFC 3161 tokens,
//! v1 (RFC 2634 §5.4, SHA-1) as many time-stamping authorities still send it. The `cms` crate
//! has no types for them, so they are declared here with `der`'s derive.

use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use crate::FormatError;

/// `id-aa-signingCertificate` (RFC 2634 §5.4).
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// `id-aa-signingCertificateV2` (RFC 5035 §3).
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// ```text
/// SigningCertificateV2 ::= SEQUENCE {
///     certs        SEQUENCE OF ESSCertIDv2,
///     policies     SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
/// (RFC 5035 §3)
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE {
///     hashAlgorithm   AlgorithmIdentifier DEFAULT {algorithm id-sha256},
///     certHash        Hash,
///     issuerSerial    IssuerSerial OPTIONAL }
/// ```
/// (RFC 5035 §4). `hash_algorithm` is `None` for SHA-256: a DER DEFAULT value must be absent.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// IssuerSerial ::= SEQUENCE {
///     issuer         GeneralNames,
///     serialNumber   CertificateSerialNumber }
/// ```
/// (RFC 5035 §4)
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// ```text
/// SigningCertificate ::= SEQUENCE {
///     certs        SEQUENCE OF ESSCertID,
///     policies     SEQUENCE OF PolicyInformation OPTIONAL }
/// ```
/// (RFC 2634 §5.4): read only, never written.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<Vec<PolicyInformation>>,
}

/// ```text
/// ESSCertID ::= SEQUENCE {
///     certHash        Hash,   -- SHA-1
///     issuerSerial    IssuerSerial OPTIONAL }
/// ```
/// (RFC 2634 §5.4.1)
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId {
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

impl SigningCertificateV2 {
    /// The attribute value for `cert`: its SHA-256 hash (hashAlgorithm left out, the DEFAULT)
    /// and its issuer and serial number.
    pub fn for_certificate(cert_der: &[u8]) -> Result<SigningCertificateV2, FormatError> {
        let cert = Certificate::from_der(cert_der)
            .map_err(|e| FormatError::Invalid(format!("the signer's certificate: {e}")))?;
        Self::of(&cert, cert_der)
    }

    /// [`Self::for_certificate`] for a certificate already parsed from `cert_der`.
    pub fn of(cert: &Certificate, cert_der: &[u8]) -> Result<SigningCertificateV2, FormatError> {
        let tbs = cert.tbs_certificate();
        Ok(SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(Sha256::digest(cert_der).to_vec())?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                    serial_number: tbs.serial_number().clone(),
                }),
            }],
            policies: None,
        })
    }

    /// As a signed attribute.
    pub fn to_attribute(&self) -> Result<Attribute, FormatError> {
        let mut values = SetOfVec::new();
        values.insert(Any::from_der(&self.to_der()?)?)?;
        Ok(Attribute {
            oid: ID_AA_SIGNING_CERTIFICATE_V2,
            values,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_hash_algorithm_is_absent_and_the_structure_round_trips() {
        let id = EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(vec![7u8; 32]).unwrap(),
            issuer_serial: None,
        };
        let der = id.to_der().unwrap();
        // SEQUENCE { OCTET STRING (32) }: nothing before the hash.
        assert_eq!(&der[..4], &[0x30, 34, 0x04, 32]);
        let v2 = SigningCertificateV2 {
            certs: vec![id],
            policies: None,
        };
        let back = SigningCertificateV2::from_der(&v2.to_der().unwrap()).unwrap();
        assert_eq!(back, v2);
    }
}
