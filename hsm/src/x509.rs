//! A custody key as a RustCrypto signer, so that the `x509-cert` builders (certificates, CSRs)
//! sign inside the key custodian — the software token or the HSM — through one type.

use std::sync::Arc;

use der::asn1::{BitString, Null, ObjectIdentifier};
use der::{Any, Decode, Document};
use signature::{Keypair, Signer};
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey,
    SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
};

use crate::{CertKeyAlgorithm, HsmError, KeyCustody};

/// `ecdsa-with-SHA256` (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `sha256WithRSAEncryption` (RFC 4055 §5).
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

impl CertKeyAlgorithm {
    /// The signature algorithm of certificates, CRLs and OCSP responses this key signs: for RSA
    /// the parameters are NULL (RFC 4055 §5), for ECDSA absent (RFC 5758 §3.2).
    pub fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        if self.is_rsa() {
            AlgorithmIdentifierOwned {
                oid: SHA256_WITH_RSA,
                parameters: Some(Any::from(Null)),
            }
        } else {
            AlgorithmIdentifierOwned {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            }
        }
    }
}

/// A signature in X.509 form (the bytes of the `signature` BIT STRING).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X509Signature(pub Vec<u8>);

impl SignatureBitStringEncoding for X509Signature {
    fn to_bitstring(&self) -> der::Result<BitString> {
        BitString::from_bytes(&self.0)
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

/// A certificate key held by a [`KeyCustody`].
#[derive(Clone, Debug)]
pub struct CustodySigner {
    custody: Arc<dyn KeyCustody>,
    alg: CertKeyAlgorithm,
    key_ref: Vec<u8>,
    spki: Vec<u8>,
}

impl CustodySigner {
    /// Opens the key: reads its public half from the custodian (which checks that the key is
    /// there and of the algorithm claimed).
    pub fn open(
        custody: Arc<dyn KeyCustody>,
        alg: CertKeyAlgorithm,
        key_ref: &[u8],
    ) -> Result<CustodySigner, HsmError> {
        let spki = custody.cert_public_key(alg, key_ref)?;
        Ok(CustodySigner {
            custody,
            alg,
            key_ref: key_ref.to_vec(),
            spki,
        })
    }

    pub fn algorithm(&self) -> CertKeyAlgorithm {
        self.alg
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    pub fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, HsmError> {
        SubjectPublicKeyInfoOwned::from_der(&self.spki)
            .map_err(|e| HsmError::Sign(format!("SubjectPublicKeyInfo: {e}")))
    }

    /// Signs `message` and checks the signature against the public key before answering it
    /// (some PKCS#11 modules have returned invalid ECDSA signatures: SoftHSM2 issue #901).
    pub fn sign_checked(&self, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let sig = self.custody.sign_x509(self.alg, &self.key_ref, message)?;
        verify(self.alg, &self.spki, message, &sig).map_err(|_| {
            HsmError::Sign("the key custodian returned an invalid signature".into())
        })?;
        Ok(sig)
    }
}

/// Verifies an X.509-form signature made with a key of `alg` whose SubjectPublicKeyInfo is
/// `spki_der`.
pub fn verify(
    alg: CertKeyAlgorithm,
    spki_der: &[u8],
    message: &[u8],
    sig: &[u8],
) -> Result<(), HsmError> {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| HsmError::Sign(format!("SubjectPublicKeyInfo: {e}")))?;
    let key = spki.subject_public_key.raw_bytes();
    let result = if alg.is_rsa() {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key).verify(message, sig)
    } else {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key).verify(message, sig)
    };
    result.map_err(|_| HsmError::Sign("signature does not verify".into()))
}

impl Keypair for CustodySigner {
    type VerifyingKey = SpkiKey;
    fn verifying_key(&self) -> SpkiKey {
        SpkiKey(self.spki.clone())
    }
}

impl Signer<X509Signature> for CustodySigner {
    fn try_sign(&self, msg: &[u8]) -> Result<X509Signature, signature::Error> {
        self.sign_checked(msg)
            .map(X509Signature)
            .map_err(signature::Error::from_source)
    }
}

impl DynSignatureAlgorithmIdentifier for CustodySigner {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.alg.signature_algorithm())
    }
}
