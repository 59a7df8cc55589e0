//! Key custody for Tessera.
//!
//! Every private key Tessera uses sits behind [`KeyCustody`]. Callers hold only an opaque key
//! reference (stored in the database) and ask the custodian to sign. The [`soft::SoftwareToken`]
//! backend keeps keys wrapped under the master key and is the zero-set-up default; the PKCS#11
//! backend (HSM) implements the same trait.

pub mod master;
pub mod pkcs11;
pub mod soft;
pub mod softhsm;
pub mod x509;

pub use master::MasterKey;

/// Signature algorithms Tessera signs tokens with (RFC 7518 §3.1 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256; signature is r‖s (RFC 7518 §3.4).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit modulus.
    Rs256,
}

impl KeyAlgorithm {
    pub fn jws_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::Rs256 => "RS256",
        }
    }

    pub fn from_jws_name(name: &str) -> Option<KeyAlgorithm> {
        match name {
            "ES256" => Some(KeyAlgorithm::Es256),
            "RS256" => Some(KeyAlgorithm::Rs256),
            _ => None,
        }
    }
}

/// Keys of X.509 certificates: CA keys and officials' signing credentials. Signatures come in
/// X.509 form: sha256WithRSAEncryption (RSASSA-PKCS1-v1_5, RFC 8017 §8.2) or ecdsa-with-SHA256
/// as a DER `Ecdsa-Sig-Value` (RFC 5758 §3.2, RFC 3279 §2.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertKeyAlgorithm {
    Rsa2048,
    Rsa3072,
    P256,
}

impl CertKeyAlgorithm {
    pub const ALL: [CertKeyAlgorithm; 3] = [
        CertKeyAlgorithm::Rsa2048,
        CertKeyAlgorithm::Rsa3072,
        CertKeyAlgorithm::P256,
    ];

    /// `RSA-2048`, `RSA-3072` or `P-256`.
    pub fn name(self) -> &'static str {
        match self {
            CertKeyAlgorithm::Rsa2048 => "RSA-2048",
            CertKeyAlgorithm::Rsa3072 => "RSA-3072",
            CertKeyAlgorithm::P256 => "P-256",
        }
    }

    pub fn from_name(name: &str) -> Option<CertKeyAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    pub fn is_rsa(self) -> bool {
        !matches!(self, CertKeyAlgorithm::P256)
    }
}

/// A certificate key just generated: the reference to store and its SubjectPublicKeyInfo.
#[derive(Clone, Debug)]
pub struct GeneratedCertKey {
    pub key_ref: Vec<u8>,
    /// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), DER.
    pub spki_der: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("the key reference cannot be opened (wrong master key or damaged record)")]
    Unwrap,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error(transparent)]
    Pkcs11(#[from] pkcs11::Pkcs11Error),
}

/// A key just generated: the reference to store and the public half to publish.
#[derive(Clone, Debug)]
pub struct GeneratedKey {
    /// Opaque to callers: a wrapped key (software) or a token object id (PKCS#11).
    pub key_ref: Vec<u8>,
    /// Public key as a JWK (RFC 7517), without `kid`, `use` or `alg`.
    pub public_jwk: serde_json::Value,
}

/// Holder of private keys. Implementations must never return private key material.
pub trait KeyCustody: Send + Sync + std::fmt::Debug {
    /// Short name shown in logs and stored with each key, e.g. `software` or `pkcs11`.
    fn backend(&self) -> &'static str;

    /// Whether keys are protected by hardware; the server warns loudly when they are not.
    fn is_hardware(&self) -> bool;

    fn generate(&self, alg: KeyAlgorithm) -> Result<GeneratedKey, HsmError>;

    /// Signs `message` and returns the signature in JWS form (RFC 7518 §3).
    fn sign(&self, alg: KeyAlgorithm, key_ref: &[u8], message: &[u8]) -> Result<Vec<u8>, HsmError>;

    /// Generates a certificate key. `purpose` (`ca` or `cert`) only labels the key on an HSM.
    fn generate_cert_key(
        &self,
        alg: CertKeyAlgorithm,
        purpose: &str,
    ) -> Result<GeneratedCertKey, HsmError>;

    /// The SubjectPublicKeyInfo (DER) of a certificate key.
    fn cert_public_key(&self, alg: CertKeyAlgorithm, key_ref: &[u8]) -> Result<Vec<u8>, HsmError>;

    /// Signs `message` with SHA-256 and answers the signature in X.509 form (see
    /// [`CertKeyAlgorithm`]).
    fn sign_x509(
        &self,
        alg: CertKeyAlgorithm,
        key_ref: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError>;
}
