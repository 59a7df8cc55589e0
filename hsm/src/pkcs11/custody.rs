//! [`KeyCustody`] over a token: every key Tessera uses lives in the HSM. `key_ref` is the key's
//! `CKA_ID`.

use ring::rand::{SecureRandom, SystemRandom};

use super::signing::DigestScheme;
use super::{KeySpec, Pkcs11Token, hex, spec_of};
use crate::{
    EcdsaForm, GeneratedKey, HsmError, KeyCustody, KeyHandle, KeyPurpose, KeyType, SignInput,
    SignScheme,
};

fn spec(key_type: KeyType) -> KeySpec {
    match key_type {
        KeyType::Rsa2048 => KeySpec::Rsa { bits: 2048 },
        KeyType::Rsa3072 => KeySpec::Rsa { bits: 3072 },
        KeyType::P256 => KeySpec::P256,
    }
}

fn random_id() -> Result<Vec<u8>, HsmError> {
    let mut id = vec![0u8; 16];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| HsmError::Generate("no system randomness".into()))?;
    Ok(id)
}

/// Labels of Tessera's keys: `tessera:<purpose>:<algorithm>:<first 8 hex digits of CKA_ID>`.
pub const LABEL_PREFIX: &str = "tessera:";

/// Token keys keep the label they always had: the JWS name of their algorithm.
fn label_alg(key_type: KeyType, purpose: KeyPurpose) -> &'static str {
    match (purpose, key_type) {
        (KeyPurpose::Token, KeyType::P256) => "ES256",
        (KeyPurpose::Token, KeyType::Rsa2048) => "RS256",
        _ => key_type.name(),
    }
}

impl KeyCustody for Pkcs11Token {
    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn is_hardware(&self) -> bool {
        true
    }

    fn parallelism(&self) -> usize {
        self.max_sessions()
    }

    /// Key pairs are token objects: private, sensitive, never extractable, sign only.
    fn generate(&self, key_type: KeyType, purpose: KeyPurpose) -> Result<GeneratedKey, HsmError> {
        let id = random_id()?;
        let short: String = hex(&id).chars().take(8).collect();
        let label = format!(
            "{LABEL_PREFIX}{}:{}:{short}",
            purpose.label(),
            label_alg(key_type, purpose)
        );
        self.generate_key_pair(spec(key_type), &label, &id)?;
        let spki_der = KeyCustody::public_key(
            self,
            KeyHandle {
                key_type,
                purpose,
                key_ref: &id,
            },
        )?;
        Ok(GeneratedKey {
            key_ref: id,
            spki_der,
        })
    }

    fn public_key(&self, key: KeyHandle<'_>) -> Result<Vec<u8>, HsmError> {
        let public = Pkcs11Token::public_key(self, key.key_ref)?;
        if spec_of(&public) != spec(key.key_type) {
            return Err(HsmError::Key(format!(
                "key {} is {}, not {}",
                hex(key.key_ref),
                public.name(),
                key.key_type.name()
            )));
        }
        public.to_spki_der()
    }

    /// The token signs the digest: Tessera hashes (SoftHSM2 has no `CKM_ECDSA_SHA256`).
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
        let digest = input.digest(scheme.hash())?;
        match scheme {
            SignScheme::RsaPkcs1v15(h) => {
                Ok(self.sign_digest(key.key_ref, DigestScheme::RsaPkcs1v15(h), &digest)?)
            }
            SignScheme::RsaPss(h) => {
                Ok(self.sign_digest(key.key_ref, DigestScheme::RsaPss(h), &digest)?)
            }
            SignScheme::Ecdsa(_, form) => {
                let raw = self.sign_digest(key.key_ref, DigestScheme::Ecdsa, &digest)?;
                // Checked to be a valid P-256 signature value either way.
                let der = super::ecdsa_raw_to_der(KeySpec::P256, &raw)?;
                Ok(match form {
                    EcdsaForm::Raw => raw,
                    EcdsaForm::Der => der,
                })
            }
        }
    }
}
