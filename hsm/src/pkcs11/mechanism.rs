//! Mechanisms and key types (PKCS#11 §2.3, §6): the key pairs Tessera generates and their
//! curve OIDs, shared by key generation, object reading and signing.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::KeyType;
use der::Encode;
use der::asn1::ObjectIdentifier;

use super::error::Pkcs11Error;

/// Key pairs Tessera generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with public exponent 65537; 2048, 3072 or 4096 bits.
    Rsa { bits: u32 },
    /// ECDSA on NIST P-256 (secp256r1).
    P256,
    /// ECDSA on NIST P-384 (secp384r1).
    P384,
    /// EdDSA on edwards25519 (RFC 8032), where the module supports it.
    Ed25519,
}

/// `id-Ed25519` (RFC 8410 §3).
pub(crate) const ED25519_OID: ObjectIdentifier = ed25519::pkcs8::ALGORITHM_OID;
/// `secp256r1` (RFC 5480 §2.1.1.1).
pub(crate) const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `secp384r1` (RFC 5480 §2.1.1.1).
pub(crate) const P384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

impl KeySpec {
    pub fn rsa(bits: u32) -> Result<KeySpec, Pkcs11Error> {
        match bits {
            2048 | 3072 | 4096 => Ok(KeySpec::Rsa { bits }),
            _ => Err(Pkcs11Error::Unsupported(format!(
                "RSA-{bits}: Tessera generates RSA keys of 2048, 3072 or 4096 bits"
            ))),
        }
    }

    /// e.g. `RSA-2048`, `P-256`, `Ed25519`.
    pub fn name(self) -> String {
        match self {
            KeySpec::Rsa { bits } => format!("RSA-{bits}"),
            KeySpec::P256 => "P-256".into(),
            KeySpec::P384 => "P-384".into(),
            KeySpec::Ed25519 => "Ed25519".into(),
        }
    }

    /// `CKA_EC_PARAMS`: the curve's OID, DER-encoded (PKCS#11 §2.3.3 `namedCurve`).
    pub(crate) fn ec_params(self) -> Result<Option<Vec<u8>>, Pkcs11Error> {
        let oid = match self {
            KeySpec::Rsa { .. } => return Ok(None),
            KeySpec::P256 => P256_OID,
            KeySpec::P384 => P384_OID,
            KeySpec::Ed25519 => ED25519_OID,
        };
        oid.to_der()
            .map(Some)
            .map_err(|e| Pkcs11Error::Invalid(format!("curve OID: {e}")))
    }

    pub(crate) fn mechanism(self) -> Mechanism<'static> {
        match self {
            KeySpec::Rsa { .. } => Mechanism::RsaPkcsKeyPairGen,
            KeySpec::P256 | KeySpec::P384 => Mechanism::EccKeyPairGen,
            KeySpec::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        }
    }

    pub(crate) fn key_type(self) -> KeyType {
        match self {
            KeySpec::Rsa { .. } => KeyType::RSA,
            KeySpec::P256 | KeySpec::P384 => KeyType::EC,
            KeySpec::Ed25519 => KeyType::EC_EDWARDS,
        }
    }
}

/// Lower-case hex, for ids in messages and listings.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
