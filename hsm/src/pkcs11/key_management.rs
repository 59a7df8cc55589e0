//! Key management (PKCS#11 §5.14): generating key pairs that never leave the token.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use der::Encode;
use der::asn1::ObjectIdentifier;

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::object::KeyInfo;

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

    fn mechanism(self) -> Mechanism<'static> {
        match self {
            KeySpec::Rsa { .. } => Mechanism::RsaPkcsKeyPairGen,
            KeySpec::P256 | KeySpec::P384 => Mechanism::EccKeyPairGen,
            KeySpec::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        }
    }

    fn key_type(self) -> KeyType {
        match self {
            KeySpec::Rsa { .. } => KeyType::RSA,
            KeySpec::P256 | KeySpec::P384 => KeyType::EC,
            KeySpec::Ed25519 => KeyType::EC_EDWARDS,
        }
    }
}

impl Pkcs11Token {
    /// Generates a signing key pair on the token. The private half is a token object that is
    /// private, sensitive and not extractable, and may only sign (decrypt, unwrap and derive
    /// are refused explicitly: some modules grant them by default). `id` becomes `CKA_ID` of
    /// both halves and is how Tessera finds the key again.
    pub fn generate_key_pair(
        &self,
        spec: KeySpec,
        label: &str,
        id: &[u8],
    ) -> Result<KeyInfo, Pkcs11Error> {
        if id.is_empty() {
            return Err(Pkcs11Error::Invalid(
                "a key needs a non-empty CKA_ID".into(),
            ));
        }
        if self.find_key(id)?.is_some() {
            return Err(Pkcs11Error::Invalid(format!(
                "a key with CKA_ID {} already exists",
                hex(id)
            )));
        }
        let mut public = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(spec.key_type()),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        match spec {
            KeySpec::Rsa { bits } => {
                let bits = cryptoki::types::Ulong::try_from(bits as usize)
                    .map_err(|e| Pkcs11Error::Invalid(format!("modulus size: {e}")))?;
                public.push(Attribute::ModulusBits(bits));
                public.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
            }
            _ => {
                if let Some(params) = spec.ec_params()? {
                    public.push(Attribute::EcParams(params));
                }
            }
        }
        let private = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(spec.key_type()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::SignRecover(false),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let mechanism = spec.mechanism();
        let (_, handle) = self
            .pool
            .run(|s| Ok(s.session.generate_key_pair(&mechanism, &public, &private)?))?;
        tracing::info!(key = %spec.name(), label, id = %hex(id), "generated a key pair in the HSM");
        let info = self.pool.run(|s| {
            self.pool.cache_key(s, id, handle);
            KeyInfo::read(&s.session, handle)
        })?;
        Ok(info)
    }
}

/// Lower-case hex, for ids in messages and listings.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
