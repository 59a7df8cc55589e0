//! Key custody for Tessera.
//!
//! Every private key Tessera uses sits behind [`KeyCustody`]. Callers hold only an opaque key
//! reference (stored in the database) and ask the custodian to sign: one API for token keys,
//! CA keys and signing credentials, signing a message or a digest the caller computed. The [`soft::SoftwareToken`]
//! backend keeps keys wrapped under the master key and is the zero-set-up default; the PKCS#11
//! backend (HSM) implements the same trait.

mod hash;
pub mod master;
pub mod pkcs11;
pub mod public_key;
mod sign_check;
pub mod soft;
pub mod softhsm;
pub mod x509;

pub use hash::HashAlg;
pub use master::MasterKey;
pub use public_key::PublicKey;

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

    /// The key pair a JWS key of this algorithm is.
    pub fn key_type(self) -> KeyType {
        match self {
            KeyAlgorithm::Es256 => KeyType::P256,
            KeyAlgorithm::Rs256 => KeyType::Rsa2048,
        }
    }

    /// JWS signatures: SHA-256, with ECDSA as r‖s.
    pub fn scheme(self) -> SignScheme {
        match self {
            KeyAlgorithm::Es256 => SignScheme::Ecdsa(HashAlg::Sha256, EcdsaForm::Raw),
            KeyAlgorithm::Rs256 => SignScheme::RsaPkcs1v15(HashAlg::Sha256),
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

/// The kinds of key pair the custodian makes, whatever they are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    Rsa2048,
    Rsa3072,
    P256,
}

impl KeyType {
    pub const ALL: [KeyType; 3] = [KeyType::Rsa2048, KeyType::Rsa3072, KeyType::P256];

    /// `RSA-2048`, `RSA-3072` or `P-256`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "RSA-2048",
            KeyType::Rsa3072 => "RSA-3072",
            KeyType::P256 => "P-256",
        }
    }

    pub fn from_name(name: &str) -> Option<KeyType> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    pub fn is_rsa(self) -> bool {
        !matches!(self, KeyType::P256)
    }

    /// How certificates, CRLs and OCSP answers are signed with this key: SHA-256 with
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2), or ECDSA as a DER `Ecdsa-Sig-Value` (RFC 5758 §3.2).
    pub fn x509_scheme(self) -> SignScheme {
        if self.is_rsa() {
            SignScheme::RsaPkcs1v15(HashAlg::Sha256)
        } else {
            SignScheme::Ecdsa(HashAlg::Sha256, EcdsaForm::Der)
        }
    }
}

/// What a key is for. It names the key on an HSM (`tessera:<label>:…`) and, on the software
/// token, binds the wrapped key to its use, so that a key of one purpose cannot be used as
/// another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// OpenID Connect token signing (JWS).
    Token,
    /// A certification authority of Tessera's.
    Ca,
    /// An official's or an organisation's signing credential.
    Credential,
    /// A delegated OCSP responder (RFC 6960 §4.2.2.2) of one of Tessera's CAs.
    OcspResponder,
    /// A time-stamping authority (RFC 3161 §2.3) of Tessera's, certified by an issuing CA.
    Timestamping,
}

impl KeyPurpose {
    pub fn label(self) -> &'static str {
        match self {
            KeyPurpose::Token => "oidc",
            KeyPurpose::Ca => "ca",
            KeyPurpose::Credential => "cert",
            KeyPurpose::OcspResponder => "ocsp",
            KeyPurpose::Timestamping => "tsa",
        }
    }
}

/// A key held by the custodian: its reference (stored in the database) and what it is.
#[derive(Clone, Copy, Debug)]
pub struct KeyHandle<'a> {
    pub key_type: KeyType,
    pub purpose: KeyPurpose,
    /// Opaque to callers: a wrapped key (software) or the token object's `CKA_ID` (PKCS#11).
    pub key_ref: &'a [u8],
}

/// A key just generated: the reference to store and its SubjectPublicKeyInfo (RFC 5280
/// §4.1.2.7, DER).
#[derive(Clone, Debug)]
pub struct GeneratedKey {
    pub key_ref: Vec<u8>,
    pub spki_der: Vec<u8>,
}

/// What is signed: the message itself (the custodian hashes it), or a digest the caller
/// computed (CSC `signHash`, CMS signed attributes hashed elsewhere).
#[derive(Clone, Copy, Debug)]
pub enum SignInput<'a> {
    Message(&'a [u8]),
    Digest(&'a [u8]),
}

impl SignInput<'_> {
    /// The digest to sign under `hash`: a message is hashed, a digest must have its length.
    pub fn digest(self, hash: HashAlg) -> Result<Vec<u8>, HsmError> {
        match self {
            SignInput::Message(m) => Ok(hash.digest(m)),
            SignInput::Digest(d) if d.len() == hash.output_len() => Ok(d.to_vec()),
            SignInput::Digest(d) => Err(HsmError::Sign(format!(
                "a {} digest is {} bytes, got {}",
                hash.name(),
                hash.output_len(),
                d.len()
            ))),
        }
    }
}

/// The form of an ECDSA signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcdsaForm {
    /// r‖s, each as long as the curve's order: JWS (RFC 7518 §3.4) and CSC.
    Raw,
    /// DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3): X.509 and CMS.
    Der,
}

/// How a signature is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2); the custodian builds the DigestInfo.
    RsaPkcs1v15(HashAlg),
    /// RSASSA-PSS (RFC 8017 §8.1), MGF1 with the same hash, salt as long as the hash.
    RsaPss(HashAlg),
    Ecdsa(HashAlg, EcdsaForm),
}

impl SignScheme {
    pub fn hash(self) -> HashAlg {
        match self {
            SignScheme::RsaPkcs1v15(h) | SignScheme::RsaPss(h) | SignScheme::Ecdsa(h, _) => h,
        }
    }

    /// Whether a key of `key_type` can make this signature.
    pub fn fits(self, key_type: KeyType) -> bool {
        matches!(self, SignScheme::Ecdsa(..)) != key_type.is_rsa()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("the key reference cannot be opened (wrong master key or damaged record)")]
    Unwrap,
    #[error("public key: {0}")]
    Key(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error(transparent)]
    Pkcs11(#[from] pkcs11::Pkcs11Error),
}

impl HsmError {
    /// Whether the custodian could not be reached at all (an HSM outage), so that the caller
    /// should try again later rather than treat the request as failed for good.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, HsmError::Pkcs11(e) if e.is_unavailable())
    }
}

/// Holder of private keys: generates a key for a purpose, gives its public half, and signs.
/// Implementations never return private key material.
pub trait KeyCustody: Send + Sync + std::fmt::Debug {
    /// Short name shown in logs and stored with each key, e.g. `software` or `pkcs11`.
    fn backend(&self) -> &'static str;

    /// Whether keys are protected by hardware; the server warns loudly when they are not.
    fn is_hardware(&self) -> bool;

    fn generate(&self, key_type: KeyType, purpose: KeyPurpose) -> Result<GeneratedKey, HsmError>;

    /// The key's SubjectPublicKeyInfo (DER); fails unless the key is there and of its type.
    fn public_key(&self, key: KeyHandle<'_>) -> Result<Vec<u8>, HsmError>;

    /// Signs `input` with `scheme`, which must fit the key's type.
    fn sign(
        &self,
        key: KeyHandle<'_>,
        scheme: SignScheme,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, HsmError>;

    /// Signatures this custody makes at once: an HSM's session pool, else one per core.
    fn parallelism(&self) -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
