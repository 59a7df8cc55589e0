//! [`KeyCustody`] over a token: the OIDC token-signing keys live in the HSM. `key_ref` is the
//! key's `CKA_ID`.

use ring::rand::{SecureRandom, SystemRandom};

use super::signing::{DigestScheme, HashAlg};
use super::{KeySpec, Pkcs11Error, Pkcs11Token, hex};
use crate::{CertKeyAlgorithm, GeneratedCertKey, GeneratedKey, HsmError, KeyAlgorithm, KeyCustody};

fn cert_spec(alg: CertKeyAlgorithm) -> KeySpec {
    match alg {
        CertKeyAlgorithm::Rsa2048 => KeySpec::Rsa { bits: 2048 },
        CertKeyAlgorithm::Rsa3072 => KeySpec::Rsa { bits: 3072 },
        CertKeyAlgorithm::P256 => KeySpec::P256,
    }
}

fn random_id() -> Result<Vec<u8>, HsmError> {
    let mut id = vec![0u8; 16];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| HsmError::Generate("no system randomness".into()))?;
    Ok(id)
}

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
        let id = random_id()?;
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

    /// Certificate keys are token objects like the OIDC keys (private, sensitive, never
    /// extractable, sign only), labelled `tessera:<purpose>:<algorithm>:<id prefix>`.
    fn generate_cert_key(
        &self,
        alg: CertKeyAlgorithm,
        purpose: &str,
    ) -> Result<GeneratedCertKey, HsmError> {
        let id = random_id()?;
        let short: String = hex(&id).chars().take(8).collect();
        let label = format!("{LABEL_PREFIX}{purpose}:{}:{short}", alg.name());
        self.generate_key_pair(cert_spec(alg), &label, &id)?;
        let spki_der = self.cert_public_key(alg, &id)?;
        Ok(GeneratedCertKey {
            key_ref: id,
            spki_der,
        })
    }

    fn cert_public_key(&self, alg: CertKeyAlgorithm, key_ref: &[u8]) -> Result<Vec<u8>, HsmError> {
        let public = self.public_key(key_ref)?;
        if public.spec() != cert_spec(alg) {
            return Err(HsmError::Sign(format!(
                "key {} is {}, not {}",
                hex(key_ref),
                public.spec().name(),
                alg.name()
            )));
        }
        Ok(public.to_spki_der()?)
    }

    fn sign_x509(
        &self,
        alg: CertKeyAlgorithm,
        key_ref: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let digest = HashAlg::Sha256.digest(message);
        match alg {
            CertKeyAlgorithm::P256 => {
                let raw = self.sign_digest(key_ref, DigestScheme::Ecdsa, &digest)?;
                Ok(super::ecdsa_raw_to_der(KeySpec::P256, &raw)?)
            }
            CertKeyAlgorithm::Rsa2048 | CertKeyAlgorithm::Rsa3072 => Ok(self.sign_digest(
                key_ref,
                DigestScheme::RsaPkcs1v15(HashAlg::Sha256),
                &digest,
            )?),
        }
    }
}
