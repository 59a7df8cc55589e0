//! Key management (PKCS#11 §5.14): generating key pairs that never leave the token.

use cryptoki::object::{Attribute, ObjectClass};

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::mechanism::{KeySpec, hex};
use super::object::KeyInfo;

impl Pkcs11Token {
    /// Generates a signing key pair on the token. The private half is a token object that is
    /// private, sensitive and not extractable, and may only sign (decrypt, unwrap and derive
    /// are refused explicitly: some modules grant them by default). `id` becomes `CKA_ID` of
    /// both halves and is how Tessera finds the key again.
    pub fn generate_key_pair(
        &self,
        spec: KeySpec,
        label: &str,
        id: &[u8],
    ) -> Result<KeyInfo, Pkcs11Error> {
        if id.is_empty() {
            return Err(Pkcs11Error::Invalid(
                "a key needs a non-empty CKA_ID".into(),
            ));
        }
        if self.find_key(id)?.is_some() {
            return Err(Pkcs11Error::Invalid(format!(
                "a key with CKA_ID {} already exists",
                hex(id)
            )));
        }
        let mut public = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(spec.key_type()),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        match spec {
            KeySpec::Rsa { bits } => {
                let bits = cryptoki::types::Ulong::try_from(bits as usize)
                    .map_err(|e| Pkcs11Error::Invalid(format!("modulus size: {e}")))?;
                public.push(Attribute::ModulusBits(bits));
                public.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
            }
            _ => {
                if let Some(params) = spec.ec_params()? {
                    public.push(Attribute::EcParams(params));
                }
            }
        }
        let private = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(spec.key_type()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::SignRecover(false),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let mechanism = spec.mechanism();
        let (_, handle) = self
            .pool
            .run(|s| Ok(s.session.generate_key_pair(&mechanism, &public, &private)?))?;
        tracing::info!(key = %spec.name(), label, id = %hex(id), "generated a key pair in the HSM");
        let info = self.pool.run(|s| {
            self.pool.cache_key(s, id, handle);
            KeyInfo::read(&s.session, handle)
        })?;
        Ok(info)
    }
}
