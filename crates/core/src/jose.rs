//! JSON Web Signatures (RFC 7515 compact form) made through the key custodian, and the JWKS.
//!
//! Keys are looked up in the database on each use, so a key rotated by one replica is picked
//! up by every replica; the custodian caches only the parsed private halves.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Map, Value, json};
use tessera_hsm::{KeyAlgorithm, KeyCustody};
use tessera_proto::Jwks;
use tessera_store::Store;
use tessera_store::keys::SigningKeyRecord;

use crate::CoreError;

/// Algorithms the provider always holds a key for.
pub const ALGORITHMS: [KeyAlgorithm; 2] = [KeyAlgorithm::Es256, KeyAlgorithm::Rs256];

#[derive(Clone, Debug)]
pub struct TokenSigner {
    store: Store,
    custody: Arc<dyn KeyCustody>,
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order.
pub fn thumbprint(jwk: &Value) -> Result<String, CoreError> {
    let members: &[&str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        _ => return Err(CoreError::Internal("unsupported JWK type".into())),
    };
    // serde_json's Map is ordered by key, which gives the canonical member order.
    let mut canon = Map::new();
    for m in members {
        let v = jwk
            .get(*m)
            .cloned()
            .ok_or_else(|| CoreError::Internal(format!("JWK lacks {m}")))?;
        canon.insert((*m).to_owned(), v);
    }
    Ok(crate::secrets::sha256_b64url(
        Value::Object(canon).to_string().as_bytes(),
    ))
}

/// A verified token's header and claims.
#[derive(Debug)]
pub struct Verified {
    pub header: Value,
    pub claims: Value,
}

impl TokenSigner {
    pub fn new(store: Store, custody: Arc<dyn KeyCustody>) -> TokenSigner {
        TokenSigner { store, custody }
    }

    pub fn custody(&self) -> &Arc<dyn KeyCustody> {
        &self.custody
    }

    /// Makes sure an active key exists for each algorithm; generates the missing ones. Safe when
    /// several replicas start together: the database admits one active key per algorithm.
    pub async fn ensure_keys(&self, now: i64) -> Result<(), CoreError> {
        for alg in ALGORITHMS {
            match self.store.active_key(alg.jws_name()).await? {
                None => self.generate(alg, now).await?,
                // Another custodian cannot sign with this key: refuse now, not at each login.
                Some(key) if key.backend != self.custody.backend() => {
                    return Err(CoreError::Internal(format!(
                        "the active {} key {} is held by the `{}` key custodian, but Tessera now uses `{}`: \
                         rotate the keys (`tessera keys rotate`) or restore the previous custody settings",
                        alg.jws_name(),
                        key.kid,
                        key.backend,
                        self.custody.backend()
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn generate(&self, alg: KeyAlgorithm, now: i64) -> Result<(), CoreError> {
        let custody = self.custody.clone();
        let key = tokio::task::spawn_blocking(move || custody.generate(alg))
            .await
            .map_err(|e| CoreError::Internal(format!("key generation task: {e}")))??;
        let kid = thumbprint(&key.public_jwk)?;
        let inserted = self
            .store
            .insert_active_key(&SigningKeyRecord {
                kid: kid.clone(),
                alg: alg.jws_name().to_owned(),
                backend: self.custody.backend().to_owned(),
                key_ref: key.key_ref,
                public_jwk: key.public_jwk.to_string(),
                status: "active".into(),
                created_at: now,
                retired_at: None,
                remove_after: None,
            })
            .await?;
        if inserted {
            tracing::info!(%kid, alg = alg.jws_name(), backend = self.custody.backend(), "generated token-signing key");
        }
        Ok(())
    }

    /// Signs `claims` as a compact JWS with the active key for `alg`.
    pub async fn sign(
        &self,
        alg: KeyAlgorithm,
        typ: &str,
        claims: &Value,
    ) -> Result<String, CoreError> {
        let key = self
            .store
            .active_key(alg.jws_name())
            .await?
            .ok_or_else(|| CoreError::Internal(format!("no active {} key", alg.jws_name())))?;
        let header = json!({ "alg": alg.jws_name(), "typ": typ, "kid": key.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // An HSM signature is a blocking call that may wait for a free session.
        let custody = self.custody.clone();
        let (input, sig) = tokio::task::spawn_blocking(move || {
            let sig = custody.sign(alg, &key.key_ref, input.as_bytes());
            (input, sig)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("signing task: {e}")))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig?)))
    }

    /// The JWKS (RFC 7517 §5) with every key that may still verify a live token.
    pub async fn jwks(&self, now: i64) -> Result<Jwks, CoreError> {
        let mut keys = Vec::new();
        for rec in self.store.published_keys(now).await? {
            let mut jwk: Value = serde_json::from_str(&rec.public_jwk)
                .map_err(|e| CoreError::Internal(format!("stored JWK: {e}")))?;
            if let Some(obj) = jwk.as_object_mut() {
                obj.insert("kid".into(), rec.kid.into());
                obj.insert("use".into(), "sig".into());
                obj.insert("alg".into(), rec.alg.into());
            }
            keys.push(jwk);
        }
        Ok(Jwks { keys })
    }

    /// Verifies a compact JWS made by this provider and returns header and claims. Checks only
    /// the signature; the caller checks the claims. `None` means "not a valid token".
    pub async fn verify(&self, token: &str, now: i64) -> Result<Option<Verified>, CoreError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
        let (Some(hb), Some(pb), Some(sig)) = (decode(h), decode(p), decode(s)) else {
            return Ok(None);
        };
        let (Ok(header), Ok(claims)) = (
            serde_json::from_slice::<Value>(&hb),
            serde_json::from_slice::<Value>(&pb),
        ) else {
            return Ok(None);
        };
        let (Some(kid), Some(alg)) = (header["kid"].as_str(), header["alg"].as_str()) else {
            return Ok(None);
        };
        let keys = self.store.published_keys(now).await?;
        let Some(key) = keys.iter().find(|k| k.kid == kid && k.alg == alg) else {
            return Ok(None);
        };
        let jwk: Value = serde_json::from_str(&key.public_jwk)
            .map_err(|e| CoreError::Internal(format!("stored JWK: {e}")))?;
        let input = &token[..h.len() + 1 + p.len()];
        let ok = match KeyAlgorithm::from_jws_name(alg) {
            Some(KeyAlgorithm::Es256) => {
                let mut point = vec![4u8];
                point.extend(jwk["x"].as_str().and_then(decode).unwrap_or_default());
                point.extend(jwk["y"].as_str().and_then(decode).unwrap_or_default());
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(input.as_bytes(), &sig)
                    .is_ok()
            }
            Some(KeyAlgorithm::Rs256) => {
                let n = jwk["n"].as_str().and_then(decode).unwrap_or_default();
                let e = jwk["e"].as_str().and_then(decode).unwrap_or_default();
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
                    .is_ok()
            }
            None => false,
        };
        Ok(ok.then_some(Verified { header, claims }))
    }
}
