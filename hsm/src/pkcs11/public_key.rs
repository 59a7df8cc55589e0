//! Reading the public half of a key from the token's public-key object.

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use der::Decode;
use der::asn1::OctetString;

use super::Pkcs11Token;
use super::error::Pkcs11Error;
use super::mechanism::{KeySpec, hex};
use super::object::curve_of;
use crate::PublicKey;

fn invalid(what: &str, e: impl std::fmt::Display) -> Pkcs11Error {
    Pkcs11Error::Invalid(format!("{what}: {e}"))
}

/// `CKA_EC_POINT` is a DER OCTET STRING holding the point (PKCS#11 §2.3.3); a few modules give
/// the bare point. Accept both.
fn unwrap_point(raw: &[u8]) -> Vec<u8> {
    match OctetString::from_der(raw) {
        Ok(os) => os.as_bytes().to_vec(),
        Err(_) => raw.to_vec(),
    }
}

/// The [`KeySpec`] of a public key.
pub fn spec_of(key: &PublicKey) -> KeySpec {
    use rsa10::traits::PublicKeyParts;
    match key {
        PublicKey::Rsa(k) => KeySpec::Rsa {
            bits: (k.size() * 8) as u32,
        },
        PublicKey::P256(_) => KeySpec::P256,
        PublicKey::P384(_) => KeySpec::P384,
        PublicKey::Ed25519(_) => KeySpec::Ed25519,
    }
}

impl Pkcs11Token {
    /// The public half of key `id`, from its public-key object (for RSA, the private key's
    /// public attributes do when the public object was deleted).
    pub fn public_key(&self, id: &[u8]) -> Result<PublicKey, Pkcs11Error> {
        let wanted = [
            AttributeType::Modulus,
            AttributeType::PublicExponent,
            AttributeType::EcParams,
            AttributeType::EcPoint,
        ];
        let attrs = self.pool.run(|s| {
            for class in [ObjectClass::PUBLIC_KEY, ObjectClass::PRIVATE_KEY] {
                let found = s
                    .session
                    .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?;
                if let Some(handle) = found.first() {
                    let attrs = s.session.get_attributes(*handle, &wanted)?;
                    let usable = attrs
                        .iter()
                        .any(|a| matches!(a, Attribute::Modulus(_) | Attribute::EcPoint(_)));
                    if usable {
                        return Ok(attrs);
                    }
                }
            }
            Err(Pkcs11Error::KeyNotFound { id: hex(id) })
        })?;
        let (mut n, mut e, mut params, mut point) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(unwrap_point(&v)),
                _ => {}
            }
        }
        if let (Some(n), Some(e)) = (n, e) {
            let key = rsa10::RsaPublicKey::new(
                rsa10::BoxedUint::from_be_slice_vartime(&n),
                rsa10::BoxedUint::from_be_slice_vartime(&e),
            )
            .map_err(|e| invalid("RSA public key", e))?;
            return Ok(PublicKey::Rsa(key));
        }
        let (Some(params), Some(point)) = (params, point) else {
            return Err(Pkcs11Error::Invalid(format!(
                "key {} has neither an RSA modulus nor an EC point",
                hex(id)
            )));
        };
        match curve_of(&params) {
            Some(KeySpec::P256) => p256::PublicKey::from_sec1_bytes(&point)
                .map(PublicKey::P256)
                .map_err(|e| invalid("P-256 point", e)),
            Some(KeySpec::P384) => p384::PublicKey::from_sec1_bytes(&point)
                .map(PublicKey::P384)
                .map_err(|e| invalid("P-384 point", e)),
            Some(KeySpec::Ed25519) => <[u8; 32]>::try_from(point.as_slice())
                .map(|b| PublicKey::Ed25519(ed25519::pkcs8::PublicKeyBytes(b)))
                .map_err(|_| Pkcs11Error::Invalid("Ed25519 key is not 32 bytes".into())),
            _ => Err(Pkcs11Error::Unsupported(format!(
                "key {} is on a curve Tessera does not use",
                hex(id)
            ))),
        }
    }
}
