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
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::{GeneratedKey, HsmError, KeyAlgorithm, KeyCustody, MasterKey};

enum Loaded {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

pub struct SoftwareToken {
    wrap_key: LessSafeKey,
    rng: SystemRandom,
    /// Parsed keys by wrapped reference; derived from the database, so safe to cache per replica.
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

    fn wrap(&self, alg: KeyAlgorithm, pkcs8: &[u8]) -> Result<Vec<u8>, HsmError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| HsmError::Generate("no system randomness".into()))?;
        let mut sealed = pkcs8.to_vec();
        self.wrap_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(alg.jws_name().as_bytes()),
                &mut sealed,
            )
            .map_err(|_| HsmError::Generate("wrapping failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn load(&self, alg: KeyAlgorithm, key_ref: &[u8]) -> Result<Arc<Loaded>, HsmError> {
        if let Ok(cache) = self.cache.lock()
            && let Some(found) = cache.get(key_ref)
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
            .open_in_place(nonce, Aad::from(alg.jws_name().as_bytes()), &mut buf)
            .map_err(|_| HsmError::Unwrap)?;
        let loaded = match alg {
            KeyAlgorithm::Es256 => Loaded::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &self.rng)
                    .map_err(|_| HsmError::Unwrap)?,
            ),
            KeyAlgorithm::Rs256 => {
                Loaded::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| HsmError::Unwrap)?)
            }
        };
        let loaded = Arc::new(loaded);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key_ref.to_vec(), loaded.clone());
        }
        Ok(loaded)
    }
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
                    key_ref: self.wrap(alg, doc.as_ref())?,
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
                    key_ref: self.wrap(alg, der.as_bytes())?,
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
