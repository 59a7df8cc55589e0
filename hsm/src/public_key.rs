//! The public half of a custody key, checked with the RustCrypto types: read from and exported
//! as SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), exported as a JWK (RFC 7517).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToSec1Point;
use rsa10::traits::PublicKeyParts;
use spki::{DecodePublicKey, EncodePublicKey};

use crate::{HsmError, KeyType};

/// A public key of a kind Tessera's custodians make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Rsa(rsa10::RsaPublicKey),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    Ed25519(ed25519::pkcs8::PublicKeyBytes),
}

fn invalid(what: &str, e: impl std::fmt::Display) -> HsmError {
    HsmError::Key(format!("{what}: {e}"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo (DER) of an RSA, P-256, P-384 or Ed25519 key.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, HsmError> {
        let spki = spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| invalid("SubjectPublicKeyInfo", e))?;
        let oid = spki.algorithm.oid;
        if oid == rsa10::pkcs1::ALGORITHM_OID {
            rsa10::RsaPublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| invalid("RSA public key", e))
        } else if oid == ed25519::pkcs8::ALGORITHM_OID {
            ed25519::pkcs8::PublicKeyBytes::from_public_key_der(der)
                .map(PublicKey::Ed25519)
                .map_err(|e| invalid("Ed25519 public key", e))
        } else if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            Ok(PublicKey::P256(k))
        } else {
            p384::PublicKey::from_public_key_der(der)
                .map(PublicKey::P384)
                .map_err(|e| invalid("public key of an unsupported kind", e))
        }
    }

    /// The custodian's key type, for the kinds custodians generate.
    pub fn key_type(&self) -> Option<KeyType> {
        match self {
            PublicKey::Rsa(k) if k.size() == 256 => Some(KeyType::Rsa2048),
            PublicKey::Rsa(k) if k.size() == 384 => Some(KeyType::Rsa3072),
            PublicKey::P256(_) => Some(KeyType::P256),
            _ => None,
        }
    }

    /// e.g. `RSA-2048`, `P-256`, `Ed25519`.
    pub fn name(&self) -> String {
        match self {
            PublicKey::Rsa(k) => format!("RSA-{}", k.size() * 8),
            PublicKey::P256(_) => "P-256".into(),
            PublicKey::P384(_) => "P-384".into(),
            PublicKey::Ed25519(_) => "Ed25519".into(),
        }
    }

    /// SubjectPublicKeyInfo, DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, HsmError> {
        let doc = match self {
            PublicKey::Rsa(k) => k.to_public_key_der(),
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
        }
        .map_err(|e| invalid("SubjectPublicKeyInfo", e))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// The key as a JWK (RFC 7517/7518 §6), without `kid`, `use` or `alg`.
    pub fn to_jwk(&self) -> Result<serde_json::Value, HsmError> {
        fn ec(
            crv: &str,
            x: Option<&[u8]>,
            y: Option<&[u8]>,
        ) -> Result<serde_json::Value, HsmError> {
            match (x, y) {
                (Some(x), Some(y)) => Ok(serde_json::json!({
                    "kty": "EC", "crv": crv, "x": b64(x), "y": b64(y),
                })),
                _ => Err(HsmError::Key("EC point without coordinates".into())),
            }
        }
        match self {
            PublicKey::Rsa(k) => Ok(serde_json::json!({
                "kty": "RSA",
                "n": b64(&k.n().to_be_bytes_trimmed_vartime()),
                "e": b64(&k.e().to_be_bytes_trimmed_vartime()),
            })),
            PublicKey::P256(k) => {
                let p = k.to_sec1_point(false);
                ec(
                    "P-256",
                    p.x().map(|v| v.as_slice()),
                    p.y().map(|v| v.as_slice()),
                )
            }
            PublicKey::P384(k) => {
                let p = k.to_sec1_point(false);
                ec(
                    "P-384",
                    p.x().map(|v| v.as_slice()),
                    p.y().map(|v| v.as_slice()),
                )
            }
            PublicKey::Ed25519(k) => Ok(serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(&k.0),
            })),
        }
    }
}
