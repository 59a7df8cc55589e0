//! Object management (PKCS#11 §5.7): finding Tessera's keys, reading their attributes back,
//! and destroying one only when the caller repeats its label.

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::Decode;
use der::asn1::ObjectIdentifier;

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::mechanism::{ED25519_OID, KeySpec, P256_OID, P384_OID, hex};
use super::session::{Pool, PooledSession};

/// Security attributes of a private key, read back from the token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyAttributes {
    pub token: bool,
    pub private: bool,
    pub sensitive: bool,
    pub extractable: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
    /// Generated on the token (not imported).
    pub local: bool,
    pub sign: bool,
    pub decrypt: bool,
    pub unwrap: bool,
    pub derive: bool,
}

impl KeyAttributes {
    /// What Tessera requires of a signing key: on the token, private, sensitive, never
    /// extractable, and good for nothing but signing.
    pub fn is_locked_down(&self) -> bool {
        self.token
            && self.private
            && self.sensitive
            && !self.extractable
            && self.never_extractable
            && self.sign
            && !self.decrypt
            && !self.unwrap
            && !self.derive
    }
}

/// A private key on the token.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_LABEL`.
    pub label: String,
    /// `None` for key types Tessera does not use.
    pub spec: Option<KeySpec>,
    pub attributes: KeyAttributes,
}

impl KeyInfo {
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    pub(crate) fn read(session: &Session, handle: ObjectHandle) -> Result<KeyInfo, Pkcs11Error> {
        let wanted = [
            AttributeType::Id,
            AttributeType::Label,
            AttributeType::KeyType,
            AttributeType::Modulus,
            AttributeType::EcParams,
            AttributeType::Token,
            AttributeType::Private,
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::AlwaysSensitive,
            AttributeType::NeverExtractable,
            AttributeType::Local,
            AttributeType::Sign,
            AttributeType::Decrypt,
            AttributeType::Unwrap,
            AttributeType::Derive,
        ];
        let mut info = KeyInfo {
            id: Vec::new(),
            label: String::new(),
            spec: None,
            attributes: KeyAttributes::default(),
        };
        let mut key_type = None;
        let mut modulus_len = 0usize;
        let mut ec_params = None;
        let a = &mut info.attributes;
        for attr in session.get_attributes(handle, &wanted)? {
            match attr {
                Attribute::Id(v) => info.id = v,
                Attribute::Label(v) => info.label = String::from_utf8_lossy(&v).into_owned(),
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Modulus(m) => {
                    modulus_len = m.iter().skip_while(|b| **b == 0).count();
                }
                Attribute::EcParams(p) => ec_params = Some(p),
                Attribute::Token(b) => a.token = b,
                Attribute::Private(b) => a.private = b,
                Attribute::Sensitive(b) => a.sensitive = b,
                Attribute::Extractable(b) => a.extractable = b,
                Attribute::AlwaysSensitive(b) => a.always_sensitive = b,
                Attribute::NeverExtractable(b) => a.never_extractable = b,
                Attribute::Local(b) => a.local = b,
                Attribute::Sign(b) => a.sign = b,
                Attribute::Decrypt(b) => a.decrypt = b,
                Attribute::Unwrap(b) => a.unwrap = b,
                Attribute::Derive(b) => a.derive = b,
                _ => {}
            }
        }
        info.spec = match key_type {
            Some(t) if t == KeyType::RSA => u32::try_from(modulus_len * 8)
                .ok()
                .map(|bits| KeySpec::Rsa { bits }),
            Some(t) if t == KeyType::EC || t == KeyType::EC_EDWARDS => {
                ec_params.as_deref().and_then(curve_of)
            }
            _ => None,
        };
        Ok(info)
    }
}

/// The curve named by `CKA_EC_PARAMS` (an OID; some modules give Ed25519 as the
/// PrintableString "edwards25519").
pub(crate) fn curve_of(params: &[u8]) -> Option<KeySpec> {
    if let Ok(oid) = ObjectIdentifier::from_der(params) {
        return match oid {
            o if o == P256_OID => Some(KeySpec::P256),
            o if o == P384_OID => Some(KeySpec::P384),
            o if o == ED25519_OID => Some(KeySpec::Ed25519),
            _ => None,
        };
    }
    match der::asn1::PrintableStringRef::from_der(params) {
        Ok(name) if name.as_str() == "edwards25519" => Some(KeySpec::Ed25519),
        _ => None,
    }
}

impl Pkcs11Token {
    /// The private key with `CKA_ID` = `id`, through the handle cache.
    pub(crate) fn private_key(
        &self,
        s: &PooledSession,
        id: &[u8],
    ) -> Result<ObjectHandle, Pkcs11Error> {
        if let Some(handle) = self.pool.cached_key(s, id) {
            return Ok(handle);
        }
        let found = s.session.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])?;
        match found.as_slice() {
            [handle] => {
                self.pool.cache_key(s, id, *handle);
                Ok(*handle)
            }
            [] if Pool::logged_out(s) => Err(Pkcs11Error::call(
                cryptoki::error::RvError::UserNotLoggedIn,
                cryptoki::context::Function::FindObjects,
            )),
            [] => Err(Pkcs11Error::KeyNotFound { id: hex(id) }),
            _ => Err(Pkcs11Error::Invalid(format!(
                "{} private keys share CKA_ID {}; refusing to guess",
                found.len(),
                hex(id)
            ))),
        }
    }

    fn find_private_keys(&self, template: Vec<Attribute>) -> Result<Vec<KeyInfo>, Pkcs11Error> {
        self.pool.run(|s| {
            let mut full = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
            full.extend(template.iter().cloned());
            let handles = s.session.find_objects(&full)?;
            if handles.is_empty() && Pool::logged_out(s) {
                return Err(Pkcs11Error::call(
                    cryptoki::error::RvError::UserNotLoggedIn,
                    cryptoki::context::Function::FindObjects,
                ));
            }
            handles
                .into_iter()
                .map(|h| KeyInfo::read(&s.session, h))
                .collect()
        })
    }

    /// The private key whose `CKA_ID` is `id`, if any.
    pub fn find_key(&self, id: &[u8]) -> Result<Option<KeyInfo>, Pkcs11Error> {
        let mut keys = self.find_private_keys(vec![Attribute::Id(id.to_vec())])?;
        Ok(if keys.len() == 1 { keys.pop() } else { None })
    }

    /// Private keys whose `CKA_LABEL` is `label`.
    pub fn find_keys_by_label(&self, label: &str) -> Result<Vec<KeyInfo>, Pkcs11Error> {
        self.find_private_keys(vec![Attribute::Label(label.as_bytes().to_vec())])
    }

    /// Every private key the user can see on the token.
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>, Pkcs11Error> {
        self.find_private_keys(Vec::new())
    }

    /// Destroys both halves of the key `id`. `confirm_label` must repeat the key's label: a
    /// destroyed key is gone for good, with every signature it would still have to make.
    pub fn destroy_key(&self, id: &[u8], confirm_label: &str) -> Result<(), Pkcs11Error> {
        let Some(key) = self.find_key(id)? else {
            return Err(Pkcs11Error::KeyNotFound { id: hex(id) });
        };
        if key.label.is_empty() || key.label != confirm_label {
            return Err(Pkcs11Error::NotConfirmed {
                id: hex(id),
                label: key.label,
            });
        }
        self.pool.run(|s| {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                for handle in s
                    .session
                    .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?
                {
                    s.session.destroy_object(handle)?;
                }
            }
            Ok(())
        })?;
        self.pool.forget_key(id);
        tracing::warn!(id = %hex(id), label = %key.label, "destroyed a key in the HSM");
        Ok(())
    }
}
