//! Random values, digests and keyed hashes used across the provider.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::CoreError;

/// A fresh 256-bit random value, base64url without padding (43 characters).
pub fn random_token() -> Result<String, CoreError> {
    let mut buf = [0u8; 32];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A random 128-bit identifier in lowercase hex, for ids people type and scripts pass around
/// (hex never starts with '-', which a command line would take for a flag).
pub fn random_id() -> Result<String, CoreError> {
    let mut buf = [0u8; 16];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn sha256_hex(data: &[u8]) -> String {
    digest(&SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, data))
}

/// HMAC-SHA-256 keys derived from the master key, one per purpose.
#[derive(Clone)]
pub struct Keyed {
    client_secret: hmac::Key,
    csrf: hmac::Key,
}

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyed(***)")
    }
}

const SECRET_HASH_PREFIX: &str = "hmac-sha256:";

impl Keyed {
    pub fn new(master: &tessera_hsm::MasterKey) -> Keyed {
        Keyed {
            client_secret: hmac::Key::new(
                hmac::HMAC_SHA256,
                master.derive("client-secret-hash").as_ref(),
            ),
            csrf: hmac::Key::new(hmac::HMAC_SHA256, master.derive("csrf").as_ref()),
        }
    }

    /// Client secrets are 256-bit random values, so a keyed hash is enough: a slow password
    /// hash would only cap the token endpoint's throughput.
    pub fn hash_client_secret(&self, secret: &str) -> String {
        let tag = hmac::sign(&self.client_secret, secret.as_bytes());
        format!(
            "{SECRET_HASH_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Constant-time check of a presented secret against the stored hash.
    pub fn verify_client_secret(&self, secret: &str, stored: &str) -> bool {
        let Some(encoded) = stored.strip_prefix(SECRET_HASH_PREFIX) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(encoded) else {
            return false;
        };
        hmac::verify(&self.client_secret, secret.as_bytes(), &tag).is_ok()
    }

    /// Form token bound to the browser's CSRF cookie (double-submit, keyed so that an attacker
    /// who can set a cookie still cannot forge the matching token).
    pub fn csrf_token(&self, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf, cookie.as_bytes()).as_ref())
    }

    pub fn verify_csrf(&self, cookie: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => hmac::verify(&self.csrf, cookie.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn keyed(b: u8) -> Keyed {
        Keyed::new(&tessera_hsm::MasterKey::from_base64(&STANDARD.encode([b; 32])).unwrap())
    }

    #[test]
    fn client_secret_hash_verifies_only_the_right_secret_and_key() {
        let k = keyed(1);
        let secret = random_token().unwrap();
        let stored = k.hash_client_secret(&secret);
        assert!(!stored.contains(&secret));
        assert!(k.verify_client_secret(&secret, &stored));
        assert!(!k.verify_client_secret("wrong", &stored));
        assert!(!keyed(2).verify_client_secret(&secret, &stored));
        assert!(!k.verify_client_secret(&secret, "plain"));
    }

    #[test]
    fn csrf_token_is_bound_to_cookie() {
        let k = keyed(1);
        let t = k.csrf_token("cookie-a");
        assert!(k.verify_csrf("cookie-a", &t));
        assert!(!k.verify_csrf("cookie-b", &t));
        assert!(!k.verify_csrf("cookie-a", "AAAA"));
        assert!(!keyed(2).verify_csrf("cookie-a", &t));
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token().unwrap());
    }
}
