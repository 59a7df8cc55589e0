//! The check every custody signature passes before it is answered: it must verify against the
//! key's public half. A wrong signature must never leave the custodian's wrapper: an HSM that
//! returns one (SoftHSM2 issue #901: `CKM_ECDSA` intermittently answers well-formed, invalid
//! signatures) would put an unverifiable signature on an official document, and a faulty
//! RSA-CRT signature can reveal the private key (Boneh, DeMillo and Lipton, 1997).
//!
//! The check is prepared once per key and costs one public-key operation per signature:
//! messages (certificates, CMS signed attributes, OCSP and CRL bodies) are verified with ring,
//! whose P-256 and RSA verification are several times cheaper than the RustCrypto ones; digests
//! (CSC `signHash`), which ring cannot verify, and schemes ring lacks (ECDSA P-256 with
//! SHA-512) with the RustCrypto verifiers.

use ring::signature::{self as ring_sig, UnparsedPublicKey, VerificationAlgorithm};

use crate::{EcdsaForm, HashAlg, HsmError, PublicKey, SignInput, SignScheme};

/// A key's public half, ready to check signatures in one scheme.
#[derive(Clone, Debug)]
pub(crate) struct SignatureCheck {
    scheme: SignScheme,
    key: PublicKey,
    /// ring's algorithm and its encoding of the key: the DER `RSAPublicKey` (RFC 8017 §A.1.1)
    /// or the uncompressed EC point (SEC 1 §2.3.3).
    ring: Option<(&'static dyn VerificationAlgorithm, Vec<u8>)>,
}

impl SignatureCheck {
    pub(crate) fn new(scheme: SignScheme, spki_der: &[u8]) -> Result<SignatureCheck, HsmError> {
        let key = PublicKey::from_spki_der(spki_der)?;
        let ring = ring_algorithm(&key, scheme)
            .map(|alg| Ok::<_, HsmError>((alg, ring_key(&key, spki_der)?)))
            .transpose()?;
        Ok(SignatureCheck { scheme, key, ring })
    }

    /// Whether `sig` is a valid signature of `input` in the scheme.
    pub(crate) fn check(&self, input: SignInput<'_>, sig: &[u8]) -> Result<(), HsmError> {
        match (input, &self.ring) {
            (SignInput::Message(m), Some((alg, key))) => UnparsedPublicKey::new(*alg, key)
                .verify(m, sig)
                .map_err(|_| HsmError::Sign("signature does not verify".into())),
            _ => verify_digest_with(
                &self.key,
                self.scheme,
                &input.digest(self.scheme.hash())?,
                sig,
            ),
        }
    }
}

/// ring's verification for the scheme, where ring has one: RSA of 2048 bits and more (all
/// Tessera makes), ECDSA P-256 with SHA-256, or with SHA-384 in DER form.
fn ring_algorithm(
    key: &PublicKey,
    scheme: SignScheme,
) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match (key, scheme) {
        (PublicKey::Rsa(_), SignScheme::RsaPkcs1v15(h)) => match h {
            HashAlg::Sha256 => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
            HashAlg::Sha384 => &ring_sig::RSA_PKCS1_2048_8192_SHA384,
            HashAlg::Sha512 => &ring_sig::RSA_PKCS1_2048_8192_SHA512,
        },
        // Salt as long as the hash, as both custodians sign.
        (PublicKey::Rsa(_), SignScheme::RsaPss(h)) => match h {
            HashAlg::Sha256 => &ring_sig::RSA_PSS_2048_8192_SHA256,
            HashAlg::Sha384 => &ring_sig::RSA_PSS_2048_8192_SHA384,
            HashAlg::Sha512 => &ring_sig::RSA_PSS_2048_8192_SHA512,
        },
        (PublicKey::P256(_), SignScheme::Ecdsa(h, form)) => match (h, form) {
            (HashAlg::Sha256, EcdsaForm::Der) => &ring_sig::ECDSA_P256_SHA256_ASN1,
            (HashAlg::Sha256, EcdsaForm::Raw) => &ring_sig::ECDSA_P256_SHA256_FIXED,
            (HashAlg::Sha384, EcdsaForm::Der) => &ring_sig::ECDSA_P256_SHA384_ASN1,
            (HashAlg::Sha384, EcdsaForm::Raw) | (HashAlg::Sha512, _) => return None,
        },
        _ => return None,
    })
}

fn ring_key(key: &PublicKey, spki_der: &[u8]) -> Result<Vec<u8>, HsmError> {
    match key {
        PublicKey::P256(k) => {
            use p256::elliptic_curve::sec1::ToSec1Point;
            Ok(k.to_sec1_point(false).as_bytes().to_vec())
        }
        _ => {
            let spki = spki::SubjectPublicKeyInfoRef::try_from(spki_der)
                .map_err(|e| HsmError::Key(format!("SubjectPublicKeyInfo: {e}")))?;
            spki.subject_public_key
                .as_bytes()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    HsmError::Key("the public key is not a whole number of bytes".into())
                })
        }
    }
}

/// Verifies a signature in `scheme` over a digest by `key`, with the RustCrypto verifiers.
pub(crate) fn verify_digest_with(
    key: &PublicKey,
    scheme: SignScheme,
    digest: &[u8],
    sig: &[u8],
) -> Result<(), HsmError> {
    use signature::hazmat::PrehashVerifier;
    let bad = |e: &dyn std::fmt::Display| HsmError::Sign(format!("signature does not verify: {e}"));
    match (key, scheme) {
        (PublicKey::P256(k), SignScheme::Ecdsa(_, form)) => {
            let sig = match form {
                EcdsaForm::Raw => p256::ecdsa::Signature::from_slice(sig),
                EcdsaForm::Der => p256::ecdsa::Signature::from_der(sig),
            }
            .map_err(|e| bad(&e))?;
            p256::ecdsa::VerifyingKey::from(*k)
                .verify_prehash(digest, &sig)
                .map_err(|e| bad(&e))
        }
        (PublicKey::Rsa(k), SignScheme::RsaPkcs1v15(h)) => {
            use rsa10::Pkcs1v15Sign;
            let pad = match h {
                HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlg::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlg::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            k.verify(pad, digest, sig).map_err(|e| bad(&e))
        }
        (PublicKey::Rsa(k), SignScheme::RsaPss(h)) => {
            use rsa10::Pss;
            match h {
                HashAlg::Sha256 => k.verify(Pss::<sha2::Sha256>::new(), digest, sig),
                HashAlg::Sha384 => k.verify(Pss::<sha2::Sha384>::new(), digest, sig),
                HashAlg::Sha512 => k.verify(Pss::<sha2::Sha512>::new(), digest, sig),
            }
            .map_err(|e| bad(&e))
        }
        (key, scheme) => Err(HsmError::Sign(format!(
            "a {} key does not make {scheme:?} signatures",
            key.name()
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::soft::SoftwareToken;
    use crate::x509::CustodySigner;
    use crate::{GeneratedKey, KeyCustody, KeyHandle, KeyPurpose, KeyType, MasterKey};

    /// The software token, but every signature it answers has one bit flipped: the fault the
    /// check is there for.
    #[derive(Debug)]
    struct Faulty(SoftwareToken);

    impl KeyCustody for Faulty {
        fn backend(&self) -> &'static str {
            "faulty"
        }
        fn is_hardware(&self) -> bool {
            false
        }
        fn generate(&self, t: KeyType, p: KeyPurpose) -> Result<GeneratedKey, HsmError> {
            self.0.generate(t, p)
        }
        fn public_key(&self, key: KeyHandle<'_>) -> Result<Vec<u8>, HsmError> {
            self.0.public_key(key)
        }
        fn sign(
            &self,
            key: KeyHandle<'_>,
            scheme: SignScheme,
            input: SignInput<'_>,
        ) -> Result<Vec<u8>, HsmError> {
            let mut sig = self.0.sign(key, scheme, input)?;
            // The last byte: inside s for ECDSA (DER or raw), anywhere for RSA.
            if let Some(b) = sig.last_mut() {
                *b ^= 0x01;
            }
            Ok(sig)
        }
    }

    fn token() -> SoftwareToken {
        SoftwareToken::new(&MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap()).unwrap()
    }

    fn schemes(key_type: KeyType) -> Vec<SignScheme> {
        let hashes = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];
        if key_type.is_rsa() {
            hashes
                .iter()
                .flat_map(|&h| [SignScheme::RsaPkcs1v15(h), SignScheme::RsaPss(h)])
                .collect()
        } else {
            hashes
                .iter()
                .map(|&h| SignScheme::Ecdsa(h, EcdsaForm::Der))
                .collect()
        }
    }

    #[test]
    fn good_signatures_pass_and_faulty_ones_never_leave() {
        let good: Arc<dyn KeyCustody> = Arc::new(token());
        let faulty: Arc<dyn KeyCustody> = Arc::new(Faulty(token()));
        for key_type in [KeyType::P256, KeyType::Rsa2048] {
            let key = good.generate(key_type, KeyPurpose::Credential).unwrap();
            for scheme in schemes(key_type) {
                let open = |custody: &Arc<dyn KeyCustody>| {
                    CustodySigner::with_scheme(
                        custody.clone(),
                        key_type,
                        KeyPurpose::Credential,
                        &key.key_ref,
                        scheme,
                    )
                    .unwrap()
                };
                let message = b"signed attributes".as_slice();
                let digest = scheme.hash().digest(message);
                for input in [SignInput::Message(message), SignInput::Digest(&digest)] {
                    let sig = open(&good).sign_checked(input).unwrap();
                    crate::x509::verify(scheme, &key.spki_der, message, &sig).unwrap();
                    let err = open(&faulty).sign_checked(input).unwrap_err();
                    assert!(
                        err.to_string().contains("invalid signature"),
                        "{scheme:?} {input:?}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn ring_and_rustcrypto_agree() {
        let custody = token();
        for key_type in [KeyType::P256, KeyType::Rsa2048] {
            let key = custody.generate(key_type, KeyPurpose::Ca).unwrap();
            let handle = KeyHandle {
                key_type,
                purpose: KeyPurpose::Ca,
                key_ref: &key.key_ref,
            };
            for scheme in schemes(key_type) {
                let check = SignatureCheck::new(scheme, &key.spki_der).unwrap();
                assert_eq!(
                    check.ring.is_some(),
                    scheme != SignScheme::Ecdsa(HashAlg::Sha512, EcdsaForm::Der),
                    "{scheme:?}"
                );
                let message = b"tbsCertificate".as_slice();
                let digest = scheme.hash().digest(message);
                let sig = custody
                    .sign(handle, scheme, SignInput::Message(message))
                    .unwrap();
                check.check(SignInput::Message(message), &sig).unwrap();
                check.check(SignInput::Digest(&digest), &sig).unwrap();
                let other = scheme.hash().digest(b"something else");
                assert!(
                    check
                        .check(SignInput::Message(b"something else"), &sig)
                        .is_err()
                );
                assert!(check.check(SignInput::Digest(&other), &sig).is_err());
            }
        }
    }
}
