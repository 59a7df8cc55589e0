//! Software token: keys generated in process memory and stored wrapped (AES-256-GCM) under a
//! key derived from the master key. Zero set-up, but keys do exist in this process's memory —
//! not for production use; the server says so at start-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256, RsaKeyPair,
};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::{
    CertKeyAlgorithm, GeneratedCertKey, GeneratedKey, HsmError, KeyAlgorithm, KeyCustody, MasterKey,
};

enum Loaded {
    /// P-256 answering r‖s (JWS).
    Ec(EcdsaKeyPair),
    /// P-256 answering DER (X.509).
    EcDer(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// How a wrapped key is bound to its use: the AAD of its wrapping. JWS keys keep their
/// historical AAD (the JWS name); certificate keys are bound to `x509:<algorithm>`.
fn cert_aad(alg: CertKeyAlgorithm) -> String {
    format!("x509:{}", alg.name())
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

    fn load(&self, alg: KeyAlgorithm, key_ref: &[u8]) -> Result<Arc<Loaded>, HsmError> {
        let kind = match alg {
            KeyAlgorithm::Es256 => Kind::EcFixed,
            KeyAlgorithm::Rs256 => Kind::Rsa,
        };
        self.load_as(alg.jws_name(), kind, key_ref)
    }

    fn load_cert(&self, alg: CertKeyAlgorithm, key_ref: &[u8]) -> Result<Arc<Loaded>, HsmError> {
        let kind = if alg.is_rsa() { Kind::Rsa } else { Kind::EcDer };
        let loaded = self.load_as(&cert_aad(alg), kind, key_ref)?;
        if let Loaded::Rsa(pair) = &*loaded {
            let bits = pair.public().modulus_len() * 8;
            let wanted = if alg == CertKeyAlgorithm::Rsa2048 {
                2048
            } else {
                3072
            };
            if bits != wanted {
                return Err(HsmError::Sign(format!(
                    "the key is RSA-{bits}, not {}",
                    alg.name()
                )));
            }
        }
        Ok(loaded)
    }

    fn load_as(&self, aad: &str, kind: Kind, key_ref: &[u8]) -> Result<Arc<Loaded>, HsmError> {
        // Cached under the use it was opened for, so a cache hit never skips the AAD check.
        let mut cache_key = aad.as_bytes().to_vec();
        cache_key.push(0);
        cache_key.extend_from_slice(key_ref);
        if let Ok(cache) = self.cache.lock()
            && let Some(found) = cache.get(&cache_key)
        {
            return Ok(found.clone());
        }
        if key_ref.len() < NONCE_LEN {
            return Err(HsmError::Unwrap);
        }
        let (nonce, sealed) = key_ref.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| HsmError::Unwrap)?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let pkcs8 = self
            .wrap_key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| HsmError::Unwrap)?;
        let loaded = match kind {
            Kind::EcFixed => Loaded::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &self.rng)
                    .map_err(|_| HsmError::Unwrap)?,
            ),
            Kind::EcDer => Loaded::EcDer(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &self.rng)
                    .map_err(|_| HsmError::Unwrap)?,
            ),
            Kind::Rsa => Loaded::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| HsmError::Unwrap)?),
        };
        let loaded = Arc::new(loaded);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(cache_key, loaded.clone());
        }
        Ok(loaded)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    EcFixed,
    EcDer,
    Rsa,
}

/// SubjectPublicKeyInfo of a loaded key.
fn spki_of(loaded: &Loaded) -> Result<Vec<u8>, HsmError> {
    use spki::EncodePublicKey;
    let doc = match loaded {
        Loaded::Ec(pair) | Loaded::EcDer(pair) => {
            p256::PublicKey::from_sec1_bytes(pair.public_key().as_ref())
                .map_err(|e| HsmError::Generate(format!("P-256 public key: {e}")))?
                .to_public_key_der()
        }
        Loaded::Rsa(pair) => {
            use rsa10::pkcs1::DecodeRsaPublicKey;
            rsa10::RsaPublicKey::from_pkcs1_der(pair.public().as_ref())
                .map_err(|e| HsmError::Generate(format!("RSA public key: {e}")))?
                .to_public_key_der()
        }
    }
    .map_err(|e| HsmError::Generate(format!("SubjectPublicKeyInfo: {e}")))?;
    Ok(doc.as_bytes().to_vec())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl KeyCustody for SoftwareToken {
    fn backend(&self) -> &'static str {
        "software"
    }

    fn is_hardware(&self) -> bool {
        false
    }

    fn generate(&self, alg: KeyAlgorithm) -> Result<GeneratedKey, HsmError> {
        match alg {
            KeyAlgorithm::Es256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.rng)
                    .map_err(|_| HsmError::Generate("P-256 generation failed".into()))?;
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    doc.as_ref(),
                    &self.rng,
                )
                .map_err(|_| HsmError::Generate("P-256 key unreadable".into()))?;
                // Uncompressed point: 0x04 ‖ X ‖ Y (SEC 1 §2.3.3).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(HsmError::Generate("unexpected P-256 point".into()));
                }
                Ok(GeneratedKey {
                    key_ref: self.wrap(alg.jws_name(), doc.as_ref())?,
                    public_jwk: serde_json::json!({
                        "kty": "EC", "crv": "P-256",
                        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                    }),
                })
            }
            KeyAlgorithm::Rs256 => {
                let mut rng = rand_core::OsRng;
                let key = rsa::RsaPrivateKey::new(&mut rng, 2048)
                    .map_err(|e| HsmError::Generate(e.to_string()))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| HsmError::Generate(e.to_string()))?;
                Ok(GeneratedKey {
                    key_ref: self.wrap(alg.jws_name(), der.as_bytes())?,
                    public_jwk: serde_json::json!({
                        "kty": "RSA",
                        "n": b64(&key.n().to_bytes_be()),
                        "e": b64(&key.e().to_bytes_be()),
                    }),
                })
            }
        }
    }

    fn sign(&self, alg: KeyAlgorithm, key_ref: &[u8], message: &[u8]) -> Result<Vec<u8>, HsmError> {
        match (&*self.load(alg, key_ref)?, alg) {
            (Loaded::Ec(pair), KeyAlgorithm::Es256) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| HsmError::Sign("ECDSA failed".into())),
            (Loaded::Rsa(pair), KeyAlgorithm::Rs256) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| HsmError::Sign("RSA failed".into()))?;
                Ok(sig)
            }
            _ => Err(HsmError::Sign("key does not match the algorithm".into())),
        }
    }

    fn generate_cert_key(
        &self,
        alg: CertKeyAlgorithm,
        _purpose: &str,
    ) -> Result<GeneratedCertKey, HsmError> {
        let pkcs8: Zeroizing<Vec<u8>> = match alg {
            CertKeyAlgorithm::P256 => Zeroizing::new(
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
                    .map_err(|_| HsmError::Generate("P-256 generation failed".into()))?
                    .as_ref()
                    .to_vec(),
            ),
            CertKeyAlgorithm::Rsa2048 | CertKeyAlgorithm::Rsa3072 => {
                let bits = if alg == CertKeyAlgorithm::Rsa2048 {
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
        let key_ref = self.wrap(&cert_aad(alg), &pkcs8)?;
        let spki_der = spki_of(&*self.load_cert(alg, &key_ref)?)?;
        Ok(GeneratedCertKey { key_ref, spki_der })
    }

    fn cert_public_key(&self, alg: CertKeyAlgorithm, key_ref: &[u8]) -> Result<Vec<u8>, HsmError> {
        spki_of(&*self.load_cert(alg, key_ref)?)
    }

    fn sign_x509(
        &self,
        alg: CertKeyAlgorithm,
        key_ref: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        match &*self.load_cert(alg, key_ref)? {
            Loaded::EcDer(pair) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| HsmError::Sign("ECDSA failed".into())),
            Loaded::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| HsmError::Sign("RSA failed".into()))?;
                Ok(sig)
            }
            Loaded::Ec(_) => Err(HsmError::Sign("key does not match the algorithm".into())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn token(byte: u8) -> SoftwareToken {
        SoftwareToken::new(&MasterKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()).unwrap()
    }

    fn unb64(v: &serde_json::Value) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
    }

    #[test]
    fn es256_signature_verifies_against_published_jwk() {
        let t = token(1);
        let key = t.generate(KeyAlgorithm::Es256).unwrap();
        let sig = t
            .sign(KeyAlgorithm::Es256, &key.key_ref, b"header.payload")
            .unwrap();
        assert_eq!(sig.len(), 64);
        let mut point = vec![4u8];
        point.extend(unb64(&key.public_jwk["x"]));
        point.extend(unb64(&key.public_jwk["y"]));
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(b"header.payload", &sig)
            .unwrap();
    }

    #[test]
    fn rs256_signature_verifies_against_published_jwk() {
        let t = token(2);
        let key = t.generate(KeyAlgorithm::Rs256).unwrap();
        let sig = t.sign(KeyAlgorithm::Rs256, &key.key_ref, b"msg").unwrap();
        let n = unb64(&key.public_jwk["n"]);
        let e = unb64(&key.public_jwk["e"]);
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&RSA_PKCS1_2048_8192_SHA256, b"msg", &sig)
            .unwrap();
    }

    #[test]
    fn certificate_keys_sign_in_x509_form() {
        use ring::signature::ECDSA_P256_SHA256_ASN1;
        use spki::der::Decode;
        let t = token(5);
        for alg in [CertKeyAlgorithm::P256, CertKeyAlgorithm::Rsa2048] {
            let key = t.generate_cert_key(alg, "cert").unwrap();
            assert_eq!(t.cert_public_key(alg, &key.key_ref).unwrap(), key.spki_der);
            let spki = spki::SubjectPublicKeyInfoRef::from_der(&key.spki_der).unwrap();
            let sig = t.sign_x509(alg, &key.key_ref, b"tbs").unwrap();
            let verify_alg: &dyn ring::signature::VerificationAlgorithm = if alg.is_rsa() {
                &RSA_PKCS1_2048_8192_SHA256
            } else {
                &ECDSA_P256_SHA256_ASN1
            };
            UnparsedPublicKey::new(verify_alg, spki.subject_public_key.raw_bytes())
                .verify(b"tbs", &sig)
                .unwrap();
            // A certificate key is not a token-signing key, and not of another algorithm.
            assert!(t.sign(KeyAlgorithm::Es256, &key.key_ref, b"m").is_err());
            assert!(t.sign(KeyAlgorithm::Rs256, &key.key_ref, b"m").is_err());
        }
        let p256 = t.generate_cert_key(CertKeyAlgorithm::P256, "ca").unwrap();
        assert!(
            t.sign_x509(CertKeyAlgorithm::Rsa2048, &p256.key_ref, b"m")
                .is_err()
        );
    }

    #[test]
    fn wrapped_key_needs_the_same_master_key_and_algorithm() {
        let key = token(3).generate(KeyAlgorithm::Es256).unwrap();
        assert!(matches!(
            token(4).sign(KeyAlgorithm::Es256, &key.key_ref, b"m"),
            Err(HsmError::Unwrap)
        ));
        assert!(
            token(3)
                .sign(KeyAlgorithm::Rs256, &key.key_ref, b"m")
                .is_err()
        );
        // the wrapped blob does not contain the raw PKCS#8 prefix of an EC key
        assert!(
            !key.key_ref
                .windows(4)
                .any(|w| w == [0x30, 0x81, 0x87, 0x02])
        );
    }
}
