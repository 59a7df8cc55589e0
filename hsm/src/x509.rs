//! A custody key as a RustCrypto signer, so that the `x509-cert` builders (certificates, CSRs)
//! and the `cms` builder (signed attributes) sign inside the key custodian — the software token
//! or the HSM — through one type.

use std::sync::Arc;

use der::asn1::{BitString, Null, ObjectIdentifier};
use der::{Any, Decode, Document};
use signature::hazmat::PrehashSigner;
use signature::{Keypair, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
};

use crate::sign_check::{self, SignatureCheck};
use crate::{
    EcdsaForm, HashAlg, HsmError, KeyCustody, KeyHandle, KeyPurpose, KeyType, PublicKey, SignInput,
    SignScheme,
};

/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
/// `sha256WithRSAEncryption` (RFC 4055 §5).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption` (RFC 4055 §5).
pub const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption` (RFC 4055 §5).
pub const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

impl SignScheme {
    /// The AlgorithmIdentifier of signatures made this way (X.509, CMS): for RSA PKCS#1 the
    /// parameters are NULL (RFC 4055 §5), for ECDSA absent (RFC 5758 §3.2), for PSS the
    /// RSASSA-PSS-params (RFC 4055 §3.1).
    pub fn algorithm_identifier(self) -> Result<AlgorithmIdentifierOwned, HsmError> {
        let simple = |oid, parameters| AlgorithmIdentifierOwned { oid, parameters };
        Ok(match self {
            SignScheme::RsaPkcs1v15(h) => simple(
                match h {
                    HashAlg::Sha256 => SHA256_WITH_RSA,
                    HashAlg::Sha384 => SHA384_WITH_RSA,
                    HashAlg::Sha512 => SHA512_WITH_RSA,
                },
                Some(Any::from(Null)),
            ),
            SignScheme::Ecdsa(h, _) => simple(
                match h {
                    HashAlg::Sha256 => ECDSA_WITH_SHA256,
                    HashAlg::Sha384 => ECDSA_WITH_SHA384,
                    HashAlg::Sha512 => ECDSA_WITH_SHA512,
                },
                None,
            ),
            SignScheme::RsaPss(h) => {
                use rsa10::pss::get_default_pss_signature_algo_id as pss;
                match h {
                    HashAlg::Sha256 => pss::<sha2::Sha256>(),
                    HashAlg::Sha384 => pss::<sha2::Sha384>(),
                    HashAlg::Sha512 => pss::<sha2::Sha512>(),
                }
                .map_err(|e| HsmError::Sign(format!("RSASSA-PSS parameters: {e}")))?
            }
        })
    }
}

/// A signature in X.509 / CMS form (the bytes of the `signature` BIT STRING or OCTET STRING).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Signature(pub Vec<u8>);

impl SignatureBitStringEncoding for X509Signature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
    }
}

impl AsRef<[u8]> for X509Signature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The public half of a custody key, as its SubjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpkiKey(pub Vec<u8>);

impl EncodePublicKey for SpkiKey {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::from_der(&self.0)?)
    }
}

/// A key held by a [`KeyCustody`], signing in one scheme. Its signatures are checked against
/// the public key before they are answered ([`crate::sign_check`]); open it once and sign many
/// times: the public key is read and parsed when it is opened.
#[derive(Clone, Debug)]
pub struct CustodySigner {
    custody: Arc<dyn KeyCustody>,
    key_type: KeyType,
    purpose: KeyPurpose,
    key_ref: Vec<u8>,
    scheme: SignScheme,
    spki: Vec<u8>,
    check: SignatureCheck,
}

impl CustodySigner {
    /// Opens the key for X.509 signatures (SHA-256; see [`KeyType::x509_scheme`]): reads its
    /// public half from the custodian, which checks that the key is there and of its type.
    pub fn open(
        custody: Arc<dyn KeyCustody>,
        key_type: KeyType,
        purpose: KeyPurpose,
        key_ref: &[u8],
    ) -> Result<CustodySigner, HsmError> {
        Self::with_scheme(custody, key_type, purpose, key_ref, key_type.x509_scheme())
    }

    /// Opens the key for signatures in `scheme` (e.g. CAdES with SHA-384 or RSA-PSS). ECDSA
    /// signatures are always DER here: X.509 and CMS want nothing else.
    pub fn with_scheme(
        custody: Arc<dyn KeyCustody>,
        key_type: KeyType,
        purpose: KeyPurpose,
        key_ref: &[u8],
        scheme: SignScheme,
    ) -> Result<CustodySigner, HsmError> {
        let spki = custody.public_key(KeyHandle {
            key_type,
            purpose,
            key_ref,
        })?;
        Self::with_public_key(custody, key_type, purpose, key_ref, scheme, spki)
    }

    /// [`with_scheme`](Self::with_scheme) with the key's SubjectPublicKeyInfo known already
    /// (from its certificate), sparing the HSM a read per signing call. Every signature is
    /// still checked, now against that public key: a certificate that does not match the
    /// HSM's key makes no signature.
    pub fn with_public_key(
        custody: Arc<dyn KeyCustody>,
        key_type: KeyType,
        purpose: KeyPurpose,
        key_ref: &[u8],
        scheme: SignScheme,
        spki: Vec<u8>,
    ) -> Result<CustodySigner, HsmError> {
        let scheme = match scheme {
            SignScheme::Ecdsa(h, _) => SignScheme::Ecdsa(h, EcdsaForm::Der),
            other => other,
        };
        if !scheme.fits(key_type) {
            return Err(HsmError::Sign(format!(
                "a {} key cannot make {scheme:?} signatures",
                key_type.name()
            )));
        }
        let check = SignatureCheck::new(scheme, &spki)?;
        Ok(CustodySigner {
            custody,
            key_type,
            purpose,
            key_ref: key_ref.to_vec(),
            scheme,
            spki,
            check,
        })
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    pub fn scheme(&self) -> SignScheme {
        self.scheme
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    pub fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, HsmError> {
        SubjectPublicKeyInfoOwned::from_der(&self.spki)
            .map_err(|e| HsmError::Key(format!("SubjectPublicKeyInfo: {e}")))
    }

    /// Signs and checks the signature against the public key before answering it (some
    /// PKCS#11 modules have returned invalid ECDSA signatures: SoftHSM2 issue #901).
    pub fn sign_checked(&self, input: SignInput<'_>) -> Result<Vec<u8>, HsmError> {
        let handle = KeyHandle {
            key_type: self.key_type,
            purpose: self.purpose,
            key_ref: &self.key_ref,
        };
        let sig = self.custody.sign(handle, self.scheme, input)?;
        self.check.check(input, &sig).map_err(|_| {
            HsmError::Sign("the key custodian returned an invalid signature".into())
        })?;
        Ok(sig)
    }
}

/// Verifies a signature in `scheme` over `message` by the key whose SubjectPublicKeyInfo is
/// `spki_der`.
pub fn verify(
    scheme: SignScheme,
    spki_der: &[u8],
    message: &[u8],
    sig: &[u8],
) -> Result<(), HsmError> {
    verify_digest(scheme, spki_der, &scheme.hash().digest(message), sig)
}

/// Verifies a signature in `scheme` over a digest, with the RustCrypto verifiers.
pub fn verify_digest(
    scheme: SignScheme,
    spki_der: &[u8],
    digest: &[u8],
    sig: &[u8],
) -> Result<(), HsmError> {
    sign_check::verify_digest_with(&PublicKey::from_spki_der(spki_der)?, scheme, digest, sig)
}

impl Keypair for CustodySigner {
    type VerifyingKey = SpkiKey;
    fn verifying_key(&self) -> SpkiKey {
        SpkiKey(self.spki.clone())
    }
}

impl Signer<X509Signature> for CustodySigner {
    fn try_sign(&self, msg: &[u8]) -> Result<X509Signature, signature::Error> {
        self.sign_checked(SignInput::Message(msg))
            .map(X509Signature)
            .map_err(signature::Error::from_source)
    }
}

/// For callers that hold only the digest: CSC `signHash`, or signed attributes hashed apart.
impl PrehashSigner<X509Signature> for CustodySigner {
    fn sign_prehash(&self, prehash: &[u8]) -> Result<X509Signature, signature::Error> {
        self.sign_checked(SignInput::Digest(prehash))
            .map(X509Signature)
            .map_err(signature::Error::from_source)
    }
}

impl DynSignatureAlgorithmIdentifier for CustodySigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        self.scheme
            .algorithm_identifier()
            .map_err(|_| spki::Error::KeyMalformed)
    }
}
