//! Random values, digests and keyed hashes used across the provider.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hmac};

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
    recovery_code: hmac::Key,
    /// Links and seals the audit log's chains.
    audit: tessera_store::audit::AuditKey,
    /// AES-256-GCM key for secrets Tessera must read back (TOTP seeds).
    seal: std::sync::Arc<aead::LessSafeKey>,
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
            recovery_code: hmac::Key::new(
                hmac::HMAC_SHA256,
                master.derive("recovery-code-hash").as_ref(),
            ),
            audit: tessera_store::audit::AuditKey::new(master.derive("audit-chain").as_ref()),
            seal: std::sync::Arc::new(aead::LessSafeKey::new(
                // A 32-byte key always fits AES-256.
                #[allow(clippy::expect_used)]
                aead::UnboundKey::new(&aead::AES_256_GCM, master.derive("secret-seal").as_ref())
                    .expect("32-byte AES-256 key"),
            )),
        }
    }

    /// The key of the audit log's HMAC chains, heads and registrations.
    pub fn audit_key(&self) -> tessera_store::audit::AuditKey {
        self.audit.clone()
    }

    /// Keyed hash of a recovery code (random, so a fast keyed hash is enough; guessing online
    /// is throttled and offline needs the master key).
    pub fn hash_recovery_code(&self, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.recovery_code, code.as_bytes()).as_ref())
    }

    /// Keyed hash of a device grant's normalised user code (RFC 8628 §6.1: short, so only a
    /// keyed hash keeps a copied database from yielding the codes by brute force). The
    /// recovery-code key serves, with its own prefix to keep the two apart.
    pub fn hash_user_code(&self, normalised: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.recovery_code);
        ctx.update(b"device-user-code:");
        ctx.update(normalised.as_bytes());
        URL_SAFE_NO_PAD.encode(ctx.sign().as_ref())
    }

    /// Encrypts a secret for storage; `context` binds it to its owner (e.g. the user id).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, CoreError> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
        let mut out = plaintext.to_vec();
        self.seal
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(context.as_bytes()),
                &mut out,
            )
            .map_err(|_| CoreError::Internal("sealing failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        Ok(sealed)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
        let damaged = || CoreError::Internal("a sealed secret cannot be opened".into());
        if sealed.len() < aead::NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, body) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
        let mut buf = body.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| damaged())?;
        Ok(plain.to_vec())
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
    fn sealed_secrets_open_only_with_same_key_and_context() {
        let k = keyed(1);
        let sealed = k.seal("user-1", b"seed").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"seed"));
        assert_eq!(k.open("user-1", &sealed).unwrap(), b"seed");
        assert!(k.open("user-2", &sealed).is_err());
        assert!(keyed(2).open("user-1", &sealed).is_err());
        assert_ne!(sealed, k.seal("user-1", b"seed").unwrap());
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token().unwrap());
    }
}
