//! Token keys as RustCrypto signers (`signature` 3 / `spki` 0.8, the set of x509-cert 0.3 and
//! cms 0.3): `Signer`, `Keypair` and the signature algorithm identifier, so that the standard
//! certificate, CSR, CRL and CMS builders sign inside the HSM.
//!
//! | type | signatures | algorithm identifier |
//! |---|---|---|
//! | [`P256Signer`] | `p256::ecdsa::Signature` (r‖s), `DerSignature` | ecdsa-with-SHA256 |
//! | [`P384Signer`] | `p384::ecdsa::Signature`, `DerSignature` | ecdsa-with-SHA384 |
//! | [`RsaPkcs1v15Signer<D>`] | `rsa::pkcs1v15::Signature` | sha{256,384,512}WithRSAEncryption |
//! | [`RsaPssSigner<D>`] | `rsa::pss::Signature` | id-RSASSA-PSS (MGF1, salt = hash length) |
//! | [`Ed25519Signer`] | `ed25519::Signature` | id-Ed25519 |

use der::asn1::AnyRef;
use signature::hazmat::PrehashSigner;
use signature::{Keypair, Signer};
use spki::{
    AlgorithmIdentifier, AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier,
    SignatureAlgorithmIdentifier,
};

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::key_management::KeySpec;
use super::public_key::PublicKey;
use super::signing::{DigestScheme, HashAlg};

fn sig_err(e: Pkcs11Error) -> signature::Error {
    signature::Error::from_source(e)
}

fn wrong_kind(id: &[u8], wanted: &str, got: &PublicKey) -> Pkcs11Error {
    Pkcs11Error::Invalid(format!(
        "key {} is {}, not {wanted}",
        super::key_management::hex(id),
        got.spec().name()
    ))
}

macro_rules! ecdsa_signer {
    ($name:ident, $curve:ident, $variant:ident, $hash:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug)]
        pub struct $name {
            token: Pkcs11Token,
            id: Vec<u8>,
            public: $curve::ecdsa::VerifyingKey,
        }

        impl $name {
            pub fn id(&self) -> &[u8] {
                &self.id
            }
        }

        impl Keypair for $name {
            type VerifyingKey = $curve::ecdsa::VerifyingKey;
            fn verifying_key(&self) -> Self::VerifyingKey {
                self.public
            }
        }

        impl PrehashSigner<$curve::ecdsa::Signature> for $name {
            fn sign_prehash(
                &self,
                prehash: &[u8],
            ) -> Result<$curve::ecdsa::Signature, signature::Error> {
                let raw = self
                    .token
                    .sign_digest(&self.id, DigestScheme::Ecdsa, prehash)
                    .map_err(sig_err)?;
                $curve::ecdsa::Signature::from_slice(&raw)
            }
        }

        impl Signer<$curve::ecdsa::Signature> for $name {
            fn try_sign(&self, msg: &[u8]) -> Result<$curve::ecdsa::Signature, signature::Error> {
                use sha2::Digest;
                self.sign_prehash(&<$hash>::digest(msg))
            }
        }

        impl Signer<$curve::ecdsa::DerSignature> for $name {
            fn try_sign(
                &self,
                msg: &[u8],
            ) -> Result<$curve::ecdsa::DerSignature, signature::Error> {
                let sig: $curve::ecdsa::Signature = self.try_sign(msg)?;
                Ok(sig.to_der())
            }
        }

        impl SignatureAlgorithmIdentifier for $name {
            type Params = AnyRef<'static>;
            const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifier<Self::Params> =
                <$curve::ecdsa::VerifyingKey as SignatureAlgorithmIdentifier>::SIGNATURE_ALGORITHM_IDENTIFIER;
        }

        impl Pkcs11Token {
            #[doc = concat!("The ", stringify!($variant), " key `id` as a RustCrypto signer.")]
            pub fn $curve(&self, id: &[u8]) -> Result<$name, Pkcs11Error> {
                match self.public_key(id)? {
                    PublicKey::$variant(k) => Ok($name {
                        token: self.clone(),
                        id: id.to_vec(),
                        public: $curve::ecdsa::VerifyingKey::from(&k),
                    }),
                    other => Err(wrong_kind(id, stringify!($variant), &other)),
                }
            }
        }
    };
}

ecdsa_signer!(
    P256Signer,
    p256,
    P256,
    sha2::Sha256,
    "An ECDSA P-256 token key with SHA-256 (ES256)."
);
ecdsa_signer!(
    P384Signer,
    p384,
    P384,
    sha2::Sha384,
    "An ECDSA P-384 token key with SHA-384 (ES384)."
);

/// Hash functions with the OIDs the RSA signature formats need.
pub trait RsaHash:
    sha2::Digest + der::oid::AssociatedOid + rsa10::pkcs1v15::RsaSignatureAssociatedOid + Send + Sync
{
    const ALG: HashAlg;
}
impl RsaHash for sha2::Sha256 {
    const ALG: HashAlg = HashAlg::Sha256;
}
impl RsaHash for sha2::Sha384 {
    const ALG: HashAlg = HashAlg::Sha384;
}
impl RsaHash for sha2::Sha512 {
    const ALG: HashAlg = HashAlg::Sha512;
}

fn rsa_public(token: &Pkcs11Token, id: &[u8]) -> Result<rsa10::RsaPublicKey, Pkcs11Error> {
    match token.public_key(id)? {
        PublicKey::Rsa(k) => Ok(k),
        other => Err(wrong_kind(id, "RSA", &other)),
    }
}

/// An RSA token key signing RSASSA-PKCS1-v1_5 with hash `D` (RS256 for SHA-256).
#[derive(Debug)]
pub struct RsaPkcs1v15Signer<D: RsaHash> {
    token: Pkcs11Token,
    id: Vec<u8>,
    public: rsa10::pkcs1v15::VerifyingKey<D>,
}

impl<D: RsaHash> Clone for RsaPkcs1v15Signer<D> {
    fn clone(&self) -> Self {
        RsaPkcs1v15Signer {
            token: self.token.clone(),
            id: self.id.clone(),
            public: self.public.clone(),
        }
    }
}

impl<D: RsaHash> Keypair for RsaPkcs1v15Signer<D> {
    type VerifyingKey = rsa10::pkcs1v15::VerifyingKey<D>;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.public.clone()
    }
}

impl<D: RsaHash> PrehashSigner<rsa10::pkcs1v15::Signature> for RsaPkcs1v15Signer<D> {
    fn sign_prehash(&self, prehash: &[u8]) -> Result<rsa10::pkcs1v15::Signature, signature::Error> {
        let sig = self
            .token
            .sign_digest(&self.id, DigestScheme::RsaPkcs1v15(D::ALG), prehash)
            .map_err(sig_err)?;
        rsa10::pkcs1v15::Signature::try_from(sig.as_slice())
    }
}

impl<D: RsaHash> Signer<rsa10::pkcs1v15::Signature> for RsaPkcs1v15Signer<D> {
    fn try_sign(&self, msg: &[u8]) -> Result<rsa10::pkcs1v15::Signature, signature::Error> {
        self.sign_prehash(&D::digest(msg))
    }
}

impl<D: RsaHash> SignatureAlgorithmIdentifier for RsaPkcs1v15Signer<D> {
    type Params = AnyRef<'static>;
    const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifier<Self::Params> =
        <rsa10::pkcs1v15::VerifyingKey<D> as SignatureAlgorithmIdentifier>::SIGNATURE_ALGORITHM_IDENTIFIER;
}

/// An RSA token key signing RSASSA-PSS with hash `D`, MGF1(`D`) and a salt as long as the hash.
#[derive(Debug)]
pub struct RsaPssSigner<D: RsaHash> {
    token: Pkcs11Token,
    id: Vec<u8>,
    public: rsa10::pss::VerifyingKey<D>,
}

impl<D: RsaHash> Clone for RsaPssSigner<D> {
    fn clone(&self) -> Self {
        RsaPssSigner {
            token: self.token.clone(),
            id: self.id.clone(),
            public: self.public.clone(),
        }
    }
}

impl<D: RsaHash> Keypair for RsaPssSigner<D> {
    type VerifyingKey = rsa10::pss::VerifyingKey<D>;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.public.clone()
    }
}

impl<D: RsaHash> PrehashSigner<rsa10::pss::Signature> for RsaPssSigner<D> {
    fn sign_prehash(&self, prehash: &[u8]) -> Result<rsa10::pss::Signature, signature::Error> {
        let sig = self
            .token
            .sign_digest(&self.id, DigestScheme::RsaPss(D::ALG), prehash)
            .map_err(sig_err)?;
        rsa10::pss::Signature::try_from(sig.as_slice())
    }
}

impl<D: RsaHash> Signer<rsa10::pss::Signature> for RsaPssSigner<D> {
    fn try_sign(&self, msg: &[u8]) -> Result<rsa10::pss::Signature, signature::Error> {
        self.sign_prehash(&D::digest(msg))
    }
}

impl<D: RsaHash> DynSignatureAlgorithmIdentifier for RsaPssSigner<D> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        rsa10::pss::get_default_pss_signature_algo_id::<D>()
    }
}

/// An Ed25519 token key (RFC 8032, pure EdDSA).
#[derive(Clone, Debug)]
pub struct Ed25519Signer {
    token: Pkcs11Token,
    id: Vec<u8>,
    public: ed25519::pkcs8::PublicKeyBytes,
}

impl Keypair for Ed25519Signer {
    type VerifyingKey = ed25519::pkcs8::PublicKeyBytes;
    fn verifying_key(&self) -> Self::VerifyingKey {
        self.public
    }
}

impl Signer<ed25519::Signature> for Ed25519Signer {
    fn try_sign(&self, msg: &[u8]) -> Result<ed25519::Signature, signature::Error> {
        let sig = self.token.sign_ed25519(&self.id, msg).map_err(sig_err)?;
        ed25519::Signature::from_slice(&sig)
    }
}

impl DynSignatureAlgorithmIdentifier for Ed25519Signer {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        // RFC 8410 §3: id-Ed25519, parameters absent.
        Ok(AlgorithmIdentifierOwned {
            oid: ed25519::pkcs8::ALGORITHM_OID,
            parameters: None,
        })
    }
}

impl Pkcs11Token {
    /// The RSA key `id` as an RSASSA-PKCS1-v1_5 signer with hash `D`.
    pub fn rsa_pkcs1v15<D: RsaHash>(&self, id: &[u8]) -> Result<RsaPkcs1v15Signer<D>, Pkcs11Error> {
        Ok(RsaPkcs1v15Signer {
            token: self.clone(),
            id: id.to_vec(),
            public: rsa10::pkcs1v15::VerifyingKey::new(rsa_public(self, id)?),
        })
    }

    /// The RSA key `id` as an RSASSA-PSS signer with hash `D`.
    pub fn rsa_pss<D: RsaHash>(&self, id: &[u8]) -> Result<RsaPssSigner<D>, Pkcs11Error> {
        Ok(RsaPssSigner {
            token: self.clone(),
            id: id.to_vec(),
            public: rsa10::pss::VerifyingKey::new(rsa_public(self, id)?),
        })
    }

    /// The Ed25519 key `id` as a signer.
    pub fn ed25519(&self, id: &[u8]) -> Result<Ed25519Signer, Pkcs11Error> {
        match self.public_key(id)? {
            PublicKey::Ed25519(k) => Ok(Ed25519Signer {
                token: self.clone(),
                id: id.to_vec(),
                public: k,
            }),
            other => Err(wrong_kind(id, KeySpec::Ed25519.name().as_str(), &other)),
        }
    }
}
