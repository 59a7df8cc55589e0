//! Software token: keys generated in process memory and stored wrapped (AES-256-GCM) under a
//! key derived from the master key. Zero set-up, but keys do exist in this process's memory —
//! not for production use; the server says so at start-up.
//!
//! Messages hashed with SHA-256 are signed with `ring` (the token endpoints' hot path); other
//! hashes and digests computed by the caller with the RustCrypto `p256` and `rsa` crates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384,
    RSA_PSS_SHA512, RsaEncoding, RsaKeyPair,
};
use rsa::pkcs8::EncodePrivateKey;
use zeroize::Zeroizing;

use crate::{
    EcdsaForm, GeneratedKey, HashAlg, HsmError, KeyCustody, KeyHandle, KeyPurpose, KeyType,
    MasterKey, SignInput, SignScheme,
};

/// A key opened for signing, in the forms its signatures need.
enum Loaded {
    P256(Box<P256Key>),
    Rsa {
        ring: Box<RsaKeyPair>,
        /// Digests computed by the caller (ring signs only messages).
        prehash: Box<rsa10::RsaPrivateKey>,
    },
}

struct P256Key {
    /// r‖s over SHA-256 messages (JWS).
    fixed: EcdsaKeyPair,
    /// DER over SHA-256 messages (X.509, CMS).
    asn1: EcdsaKeyPair,
    /// Any digest.
    prehash: p256::ecdsa::SigningKey,
}

/// How a wrapped key is bound to its use: the AAD of its wrapping. Token keys keep their
/// historical AAD (the JWS name); every other key is bound to `x509:<type>`.
fn aad(key_type: KeyType, purpose: KeyPurpose) -> Result<String, HsmError> {
    match (purpose, key_type) {
        (KeyPurpose::Token, KeyType::P256) => Ok("ES256".into()),
        (KeyPurpose::Token, KeyType::Rsa2048) => Ok("RS256".into()),
        (KeyPurpose::Token, other) => Err(HsmError::Generate(format!(
            "token-signing keys are P-256 or RSA-2048, not {}",
            other.name()
        ))),
        _ => Ok(format!("x509:{}", key_type.name())),
    }
}

pub struct SoftwareToken {
    wrap_key: LessSafeKey,
    rng: SystemRandom,
    /// Parsed keys by use and wrapped reference; derived from the database, so safe to cache
    /// per replica.
    cache: Mutex<HashMap<Vec<u8>, Arc<Loaded>>>,
}

impl std::fmt::Debug for SoftwareToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftwareToken")
    }
}

fn unwrap_err<E>(_: E) -> HsmError {
    HsmError::Unwrap
}

impl SoftwareToken {
    pub fn new(master: &MasterKey) -> Result<SoftwareToken, HsmError> {
        let key = master.derive("software-token-wrap");
        let unbound = UnboundKey::new(&AES_256_GCM, key.as_ref())
            .map_err(|_| HsmError::MasterKey("cannot build the wrapping key".into()))?;
        Ok(SoftwareToken {
            wrap_key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn wrap(&self, aad: &str, pkcs8: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| HsmError::Generate("no system randomness".into()))?;
        let mut sealed = pkcs8.to_vec();
        self.wrap_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| HsmError::Generate("wrapping failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a wrapped key for its type and purpose; a key of another type, purpose or master
    /// key does not open.
    fn load(&self, key: KeyHandle<'_>) -> Result<Arc<Loaded>, HsmError> {
        let aad = aad(key.key_type, key.purpose)?;
        // Cached under the use it was opened for, so a cache hit never skips the AAD check.
        let mut cache_key = aad.as_bytes().to_vec();
        cache_key.push(0);
        cache_key.extend_from_slice(key.key_ref);
        if let Ok(cache) = self.cache.lock()
            && let Some(found) = cache.get(&cache_key)
        {
            return Ok(found.clone());
        }
        if key.key_ref.len() < NONCE_LEN {
            return Err(HsmError::Unwrap);
        }
        let (nonce, sealed) = key.key_ref.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(unwrap_err)?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let pkcs8 = self
            .wrap_key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(unwrap_err)?;
        let loaded = match key.key_type {
            KeyType::P256 => {
                use p256::pkcs8::DecodePrivateKey;
                Loaded::P256(Box::new(P256Key {
                    fixed: EcdsaKeyPair::from_pkcs8(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        pkcs8,
                        &self.rng,
                    )
                    .map_err(unwrap_err)?,
                    asn1: EcdsaKeyPair::from_pkcs8(
                        &ECDSA_P256_SHA256_ASN1_SIGNING,
                        pkcs8,
                        &self.rng,
                    )
                    .map_err(unwrap_err)?,
                    prehash: p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(unwrap_err)?,
                }))
            }
            KeyType::Rsa2048 | KeyType::Rsa3072 => {
                use rsa10::pkcs8::DecodePrivateKey;
                let ring = RsaKeyPair::from_pkcs8(pkcs8).map_err(unwrap_err)?;
                let bits = ring.public().modulus_len() * 8;
                let wanted = if key.key_type == KeyType::Rsa2048 {
                    2048
                } else {
                    3072
                };
                if bits != wanted {
                    return Err(HsmError::Key(format!(
                        "the key is RSA-{bits}, not {}",
                        key.key_type.name()
                    )));
                }
                Loaded::Rsa {
                    ring: Box::new(ring),
                    prehash: Box::new(
                        rsa10::RsaPrivateKey::from_pkcs8_der(pkcs8).map_err(unwrap_err)?,
                    ),
                }
            }
        };
        let loaded = Arc::new(loaded);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(cache_key, loaded.clone());
        }
        Ok(loaded)
    }

    fn ring_rsa(
        &self,
        pair: &RsaKeyPair,
        pad: &'static dyn RsaEncoding,
        m: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(pad, &self.rng, m, &mut sig)
            .map_err(|_| HsmError::Sign("RSA failed".into()))?;
        Ok(sig)
    }
}

/// SubjectPublicKeyInfo of a loaded key.
fn spki_of(loaded: &Loaded) -> Result<Vec<u8>, HsmError> {
    use spki::EncodePublicKey;
    let doc = match loaded {
        Loaded::P256(k) => k.prehash.verifying_key().to_public_key_der(),
        Loaded::Rsa { prehash, .. } => prehash.to_public_key().to_public_key_der(),
    }
    .map_err(|e| HsmError::Key(format!("SubjectPublicKeyInfo: {e}")))?;
    Ok(doc.as_bytes().to_vec())
}

/// RSASSA-PKCS1-v1_5 or PSS over a digest, with the `rsa` crate.
fn rsa_prehash(
    key: &rsa10::RsaPrivateKey,
    scheme: SignScheme,
    digest: &[u8],
) -> Result<Vec<u8>, HsmError> {
    use rsa10::{Pkcs1v15Sign, Pss};
    let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
    let done = match scheme {
        SignScheme::RsaPkcs1v15(h) => {
            let pad = match h {
                HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlg::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlg::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            key.sign_with_rng(&mut rng, pad, digest)
        }
        SignScheme::RsaPss(h) => match h {
            HashAlg::Sha256 => key.sign_with_rng(&mut rng, Pss::<sha2::Sha256>::new(), digest),
            HashAlg::Sha384 => key.sign_with_rng(&mut rng, Pss::<sha2::Sha384>::new(), digest),
            HashAlg::Sha512 => key.sign_with_rng(&mut rng, Pss::<sha2::Sha512>::new(), digest),
        },
        SignScheme::Ecdsa(..) => return Err(HsmError::Sign("not an RSA scheme".into())),
    };
    done.map_err(|e| HsmError::Sign(format!("RSA: {e}")))
}

impl KeyCustody for SoftwareToken {
    fn backend(&self) -> &'static str {
        "software"
    }

    fn is_hardware(&self) -> bool {
        false
    }

    fn generate(&self, key_type: KeyType, purpose: KeyPurpose) -> Result<GeneratedKey, HsmError> {
        let aad = aad(key_type, purpose)?;
        let pkcs8: Zeroizing<Vec<u8>> = match key_type {
            KeyType::P256 => Zeroizing::new(
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
                    .map_err(|_| HsmError::Generate("P-256 generation failed".into()))?
                    .as_ref()
                    .to_vec(),
            ),
            KeyType::Rsa2048 | KeyType::Rsa3072 => {
                let bits = if key_type == KeyType::Rsa2048 {
                    2048
                } else {
                    3072
                };
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
                    .map_err(|e| HsmError::Generate(e.to_string()))?;
                Zeroizing::new(
                    key.to_pkcs8_der()
                        .map_err(|e| HsmError::Generate(e.to_string()))?
                        .as_bytes()
                        .to_vec(),
                )
            }
        };
        let key_ref = self.wrap(&aad, &pkcs8)?;
        let spki_der = spki_of(&*self.load(KeyHandle {
            key_type,
            purpose,
            key_ref: &key_ref,
        })?)?;
        Ok(GeneratedKey { key_ref, spki_der })
    }

    fn public_key(&self, key: KeyHandle<'_>) -> Result<Vec<u8>, HsmError> {
        spki_of(&*self.load(key)?)
    }

    fn sign(
        &self,
        key: KeyHandle<'_>,
        scheme: SignScheme,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, HsmError> {
        if !scheme.fits(key.key_type) {
            return Err(HsmError::Sign(format!(
                "a {} key cannot make {scheme:?} signatures",
                key.key_type.name()
            )));
        }
        let ecdsa_failed = |_| HsmError::Sign("ECDSA failed".into());
        match (&*self.load(key)?, scheme, input) {
            (Loaded::P256(k), SignScheme::Ecdsa(HashAlg::Sha256, form), SignInput::Message(m)) => {
                let pair = if form == EcdsaForm::Raw {
                    &k.fixed
                } else {
                    &k.asn1
                };
                pair.sign(&self.rng, m)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(ecdsa_failed)
            }
            (Loaded::P256(k), SignScheme::Ecdsa(hash, form), input) => {
                use signature::hazmat::PrehashSigner;
                let digest = input.digest(hash)?;
                let sig: p256::ecdsa::Signature = k
                    .prehash
                    .sign_prehash(&digest)
                    .map_err(|e| HsmError::Sign(format!("ECDSA: {e}")))?;
                Ok(match form {
                    EcdsaForm::Raw => sig.to_bytes().to_vec(),
                    EcdsaForm::Der => sig.to_der().as_bytes().to_vec(),
                })
            }
            (Loaded::Rsa { ring, .. }, scheme, SignInput::Message(m)) => {
                let pad: &'static dyn RsaEncoding = match scheme {
                    SignScheme::RsaPkcs1v15(HashAlg::Sha256) => &RSA_PKCS1_SHA256,
                    SignScheme::RsaPkcs1v15(HashAlg::Sha384) => &RSA_PKCS1_SHA384,
                    SignScheme::RsaPkcs1v15(HashAlg::Sha512) => &RSA_PKCS1_SHA512,
                    SignScheme::RsaPss(HashAlg::Sha256) => &RSA_PSS_SHA256,
                    SignScheme::RsaPss(HashAlg::Sha384) => &RSA_PSS_SHA384,
                    SignScheme::RsaPss(HashAlg::Sha512) => &RSA_PSS_SHA512,
                    SignScheme::Ecdsa(..) => {
                        return Err(HsmError::Sign("not an RSA scheme".into()));
                    }
                };
                self.ring_rsa(ring, pad, m)
            }
            (Loaded::Rsa { prehash, .. }, scheme, SignInput::Digest(_)) => {
                rsa_prehash(prehash, scheme, &input.digest(scheme.hash())?)
            }
            _ => Err(HsmError::Sign("the key does not fit the scheme".into())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::x509::verify_digest;
    use crate::{KeyAlgorithm, PublicKey};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn token(byte: u8) -> SoftwareToken {
        SoftwareToken::new(&MasterKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()).unwrap()
    }

    fn unb64(v: &serde_json::Value) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
    }

    fn handle(key_type: KeyType, purpose: KeyPurpose, key_ref: &[u8]) -> KeyHandle<'_> {
        KeyHandle {
            key_type,
            purpose,
            key_ref,
        }
    }

    fn jws(
        t: &SoftwareToken,
        alg: KeyAlgorithm,
        key_ref: &[u8],
        m: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let key = handle(alg.key_type(), KeyPurpose::Token, key_ref);
        t.sign(key, alg.scheme(), SignInput::Message(m))
    }

    #[test]
    fn es256_signature_verifies_against_published_jwk() {
        let t = token(1);
        let key = t.generate(KeyType::P256, KeyPurpose::Token).unwrap();
        let jwk = PublicKey::from_spki_der(&key.spki_der)
            .unwrap()
            .to_jwk()
            .unwrap();
        let sig = jws(&t, KeyAlgorithm::Es256, &key.key_ref, b"header.payload").unwrap();
        assert_eq!(sig.len(), 64);
        let mut point = vec![4u8];
        point.extend(unb64(&jwk["x"]));
        point.extend(unb64(&jwk["y"]));
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(b"header.payload", &sig)
            .unwrap();
    }

    #[test]
    fn rs256_signature_verifies_against_published_jwk() {
        let t = token(2);
        let key = t.generate(KeyType::Rsa2048, KeyPurpose::Token).unwrap();
        let jwk = PublicKey::from_spki_der(&key.spki_der)
            .unwrap()
            .to_jwk()
            .unwrap();
        let sig = jws(&t, KeyAlgorithm::Rs256, &key.key_ref, b"msg").unwrap();
        let n = unb64(&jwk["n"]);
        let e = unb64(&jwk["e"]);
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, b"msg", &sig)
            .unwrap();
    }

    /// Every scheme, over the message and over a digest computed by the caller, verified by
    /// the RustCrypto verifiers; ECDSA in both forms.
    #[test]
    fn every_scheme_signs_messages_and_digests() {
        let t = token(6);
        let msg = b"signed attributes";
        let hashes = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];
        let rsa = t
            .generate(KeyType::Rsa2048, KeyPurpose::Credential)
            .unwrap();
        let ec = t.generate(KeyType::P256, KeyPurpose::Credential).unwrap();
        let mut cases = Vec::new();
        for h in hashes {
            cases.push((&rsa, KeyType::Rsa2048, SignScheme::RsaPkcs1v15(h)));
            cases.push((&rsa, KeyType::Rsa2048, SignScheme::RsaPss(h)));
            cases.push((&ec, KeyType::P256, SignScheme::Ecdsa(h, EcdsaForm::Der)));
            cases.push((&ec, KeyType::P256, SignScheme::Ecdsa(h, EcdsaForm::Raw)));
        }
        for (key, key_type, scheme) in cases {
            let k = handle(key_type, KeyPurpose::Credential, &key.key_ref);
            let digest = scheme.hash().digest(msg);
            for input in [SignInput::Message(msg), SignInput::Digest(&digest)] {
                let sig = t.sign(k, scheme, input).unwrap();
                verify_digest(scheme, &key.spki_der, &digest, &sig)
                    .unwrap_or_else(|e| panic!("{scheme:?} {input:?}: {e}"));
                // Not a signature of anything else.
                let other = scheme.hash().digest(b"other");
                assert!(verify_digest(scheme, &key.spki_der, &other, &sig).is_err());
            }
            // A digest of another length is refused.
            assert!(t.sign(k, scheme, SignInput::Digest(&[0; 20])).is_err());
        }
        // A scheme that does not fit the key.
        let k = handle(KeyType::P256, KeyPurpose::Credential, &ec.key_ref);
        assert!(
            t.sign(
                k,
                SignScheme::RsaPss(HashAlg::Sha256),
                SignInput::Message(msg)
            )
            .is_err()
        );
    }

    #[test]
    fn certificate_keys_sign_in_x509_form() {
        use ring::signature::ECDSA_P256_SHA256_ASN1;
        use spki::der::Decode;
        let t = token(5);
        for key_type in [KeyType::P256, KeyType::Rsa2048] {
            let key = t.generate(key_type, KeyPurpose::Credential).unwrap();
            let k = handle(key_type, KeyPurpose::Credential, &key.key_ref);
            assert_eq!(t.public_key(k).unwrap(), key.spki_der);
            let spki = spki::SubjectPublicKeyInfoRef::from_der(&key.spki_der).unwrap();
            let sig = t
                .sign(k, key_type.x509_scheme(), SignInput::Message(b"tbs"))
                .unwrap();
            let verify_alg: &dyn ring::signature::VerificationAlgorithm = if key_type.is_rsa() {
                &RSA_PKCS1_2048_8192_SHA256
            } else {
                &ECDSA_P256_SHA256_ASN1
            };
            UnparsedPublicKey::new(verify_alg, spki.subject_public_key.raw_bytes())
                .verify(b"tbs", &sig)
                .unwrap();
            // A certificate key is not a token-signing key.
            assert!(jws(&t, KeyAlgorithm::Es256, &key.key_ref, b"m").is_err());
            assert!(jws(&t, KeyAlgorithm::Rs256, &key.key_ref, b"m").is_err());
        }
        let p256 = t.generate(KeyType::P256, KeyPurpose::Ca).unwrap();
        let as_rsa = handle(KeyType::Rsa2048, KeyPurpose::Ca, &p256.key_ref);
        assert!(
            t.sign(
                as_rsa,
                KeyType::Rsa2048.x509_scheme(),
                SignInput::Message(b"m")
            )
            .is_err()
        );
        // Token keys are P-256 or RSA-2048 only.
        assert!(t.generate(KeyType::Rsa3072, KeyPurpose::Token).is_err());
    }

    #[test]
    fn wrapped_key_needs_the_same_master_key_and_algorithm() {
        let key = token(3).generate(KeyType::P256, KeyPurpose::Token).unwrap();
        assert!(matches!(
            jws(&token(4), KeyAlgorithm::Es256, &key.key_ref, b"m"),
            Err(HsmError::Unwrap)
        ));
        assert!(jws(&token(3), KeyAlgorithm::Rs256, &key.key_ref, b"m").is_err());
        // the wrapped blob does not contain the raw PKCS#8 prefix of an EC key
        assert!(
            !key.key_ref
                .windows(4)
                .any(|w| w == [0x30, 0x81, 0x87, 0x02])
        );
    }
}
