//! [`KeyCustody`] over a token: the OIDC token-signing keys live in the HSM. `key_ref` is the
//! key's `CKA_ID`.

use ring::rand::{SecureRandom, SystemRandom};

use super::signing::{DigestScheme, HashAlg};
use super::{KeySpec, Pkcs11Error, Pkcs11Token, hex};
use crate::{GeneratedKey, HsmError, KeyAlgorithm, KeyCustody};

/// Labels of Tessera's keys: `tessera:<use>:<algorithm>:<first 8 hex digits of CKA_ID>`.
pub const LABEL_PREFIX: &str = "tessera:";

impl KeyCustody for Pkcs11Token {
    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn is_hardware(&self) -> bool {
        true
    }

    fn generate(&self, alg: KeyAlgorithm) -> Result<GeneratedKey, HsmError> {
        let spec = match alg {
            KeyAlgorithm::Es256 => KeySpec::P256,
            KeyAlgorithm::Rs256 => KeySpec::Rsa { bits: 2048 },
        };
        let mut id = vec![0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| HsmError::Generate("no system randomness".into()))?;
        let short: String = hex(&id).chars().take(8).collect();
        let label = format!("{LABEL_PREFIX}oidc:{}:{short}", alg.jws_name());
        self.generate_key_pair(spec, &label, &id)?;
        let public_jwk = self.public_key(&id)?.to_jwk()?;
        Ok(GeneratedKey {
            key_ref: id,
            public_jwk,
        })
    }

    fn sign(&self, alg: KeyAlgorithm, key_ref: &[u8], message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let digest = HashAlg::Sha256.digest(message);
        match alg {
            KeyAlgorithm::Es256 => {
                let raw = self.sign_digest(key_ref, DigestScheme::Ecdsa, &digest)?;
                // RFC 7518 §3.4: r‖s, 32 bytes each; checked to be a valid P-256 signature value.
                let sig = p256::ecdsa::Signature::from_slice(&raw).map_err(|e| {
                    Pkcs11Error::Invalid(format!("ECDSA signature from the token: {e}"))
                })?;
                Ok(sig.to_bytes().to_vec())
            }
            KeyAlgorithm::Rs256 => Ok(self.sign_digest(
                key_ref,
                DigestScheme::RsaPkcs1v15(HashAlg::Sha256),
                &digest,
            )?),
        }
    }
}
