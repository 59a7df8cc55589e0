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
use tessera_hsm::{KeyAlgorithm, KeyCustody, KeyHandle, KeyPurpose, PublicKey, SignInput};
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
    cache: Arc<KeyCache>,
}

/// How long this replica reuses what it read of the key table. A key rotated elsewhere is
/// picked up within this time for signing (the old key stays published meanwhile), and at once
/// for verification (an unknown `kid` forces a re-read).
const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Default)]
struct KeyCache {
    active: std::sync::Mutex<
        std::collections::HashMap<&'static str, (std::time::Instant, SigningKeyRecord)>,
    >,
    published: std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<SigningKeyRecord>>)>>,
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
        TokenSigner {
            store,
            custody,
            cache: Arc::default(),
        }
    }

    /// Every token-signing key the database records, retired ones included.
    pub async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>, CoreError> {
        Ok(self.store.list_keys().await?)
    }

    /// The keys published in the JWKS at `now`, read from the database (not the cache).
    pub async fn published_keys(&self, now: i64) -> Result<Vec<SigningKeyRecord>, CoreError> {
        Ok(self.store.published_keys(now).await?)
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

    /// Generates a key in the custodian and describes it for the database.
    async fn new_key(&self, alg: KeyAlgorithm, now: i64) -> Result<SigningKeyRecord, CoreError> {
        let custody = self.custody.clone();
        let key = tokio::task::spawn_blocking(move || {
            custody.generate(alg.key_type(), KeyPurpose::Token)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("key generation task: {e}")))??;
        let public_jwk = PublicKey::from_spki_der(&key.spki_der)?.to_jwk()?;
        Ok(SigningKeyRecord {
            kid: thumbprint(&public_jwk)?,
            alg: alg.jws_name().to_owned(),
            backend: self.custody.backend().to_owned(),
            key_ref: key.key_ref,
            public_jwk: public_jwk.to_string(),
            status: "active".into(),
            created_at: now,
            retired_at: None,
            remove_after: None,
        })
    }

    /// Replaces the active key for `alg` with a new one, which signs from now on. The old key
    /// stays in the JWKS for `keep_published` seconds (the longest lifetime of a token it
    /// signed). Returns the new kid, or `None` when another replica rotated at the same time.
    pub async fn rotate(
        &self,
        alg: KeyAlgorithm,
        keep_published: i64,
        now: i64,
    ) -> Result<Option<String>, CoreError> {
        let Some(old) = self.store.active_key(alg.jws_name()).await? else {
            self.generate(alg, now).await?;
            return Ok(self.store.active_key(alg.jws_name()).await?.map(|k| k.kid));
        };
        let new = self.new_key(alg, now).await?;
        let rotated = self
            .store
            .rotate_key(&old.kid, &new, now + keep_published, now)
            .await?;
        self.forget_cached_keys();
        if rotated {
            tracing::info!(old = %old.kid, new = %new.kid, alg = alg.jws_name(), "rotated token-signing key");
            Ok(Some(new.kid))
        } else {
            Ok(None)
        }
    }

    /// Rotates every algorithm whose active key is older than `max_age` seconds.
    pub async fn rotate_if_older(
        &self,
        max_age: i64,
        keep_published: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        for alg in ALGORITHMS {
            if let Some(active) = self.store.active_key(alg.jws_name()).await?
                && now - active.created_at >= max_age
            {
                self.rotate(alg, keep_published, now).await?;
            }
        }
        Ok(())
    }

    async fn generate(&self, alg: KeyAlgorithm, now: i64) -> Result<(), CoreError> {
        let record = self.new_key(alg, now).await?;
        let kid = record.kid.clone();
        let inserted = self.store.insert_active_key(&record).await?;
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
        let key = self.active_key(alg).await?;
        let header = json!({ "alg": alg.jws_name(), "typ": typ, "kid": key.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // An HSM signature is a blocking call that may wait for a free session.
        let custody = self.custody.clone();
        let (input, sig) = tokio::task::spawn_blocking(move || {
            let handle = KeyHandle {
                key_type: alg.key_type(),
                purpose: KeyPurpose::Token,
                key_ref: &key.key_ref,
            };
            let sig = custody.sign(handle, alg.scheme(), SignInput::Message(input.as_bytes()));
            (input, sig)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("signing task: {e}")))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig?)))
    }

    /// Drops what this replica cached of the key table (after it changed it).
    fn forget_cached_keys(&self) {
        if let Ok(mut cache) = self.cache.active.lock() {
            cache.clear();
        }
        if let Ok(mut cache) = self.cache.published.lock() {
            *cache = None;
        }
    }

    async fn active_key(&self, alg: KeyAlgorithm) -> Result<SigningKeyRecord, CoreError> {
        let name = alg.jws_name();
        if let Ok(cache) = self.cache.active.lock()
            && let Some((at, key)) = cache.get(name)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(key.clone());
        }
        let key = self
            .store
            .active_key(name)
            .await?
            .ok_or_else(|| CoreError::Internal(format!("no active {name} key")))?;
        if let Ok(mut cache) = self.cache.active.lock() {
            cache.insert(name, (std::time::Instant::now(), key.clone()));
        }
        Ok(key)
    }

    /// Published keys, from the cache unless it is stale or `refresh` is asked for. A forced
    /// re-read happens at most once a second, so tokens naming made-up key ids cannot turn
    /// every request into a database read.
    async fn published(
        &self,
        now: i64,
        refresh: bool,
    ) -> Result<Arc<Vec<SigningKeyRecord>>, CoreError> {
        if let Ok(cache) = self.cache.published.lock()
            && let Some((at, keys)) = cache.as_ref()
        {
            let fresh = at.elapsed() < KEY_CACHE_TTL;
            let just_read = at.elapsed() < std::time::Duration::from_secs(1);
            if (fresh && !refresh) || just_read {
                return Ok(keys.clone());
            }
        }
        let keys = Arc::new(self.store.published_keys(now).await?);
        if let Ok(mut cache) = self.cache.published.lock() {
            *cache = Some((std::time::Instant::now(), keys.clone()));
        }
        Ok(keys)
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
        let Some(jws) = Compact::parse(token) else {
            return Ok(None);
        };
        let (Some(kid), Some(alg)) = (jws.header["kid"].as_str(), jws.header["alg"].as_str())
        else {
            return Ok(None);
        };
        let find =
            |keys: &[SigningKeyRecord]| keys.iter().find(|k| k.kid == kid && k.alg == alg).cloned();
        let key = match find(&self.published(now, false).await?) {
            Some(k) => k,
            // A kid we have not seen: perhaps rotated on another replica just now.
            None => match find(&self.published(now, true).await?) {
                Some(k) => k,
                None => return Ok(None),
            },
        };
        // A key past its publication time no longer verifies, cache or not.
        if key.remove_after.is_some_and(|t| t <= now) {
            return Ok(None);
        }
        let jwk: Value = serde_json::from_str(&key.public_jwk)
            .map_err(|e| CoreError::Internal(format!("stored JWK: {e}")))?;
        Ok(jws.verify_with(&jwk).then_some(Verified {
            header: jws.header,
            claims: jws.claims,
        }))
    }
}

/// A decoded compact JWS (RFC 7515 §7.1), not yet verified.
#[derive(Debug)]
pub struct Compact {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Compact {
    /// Splits and decodes `header.payload.signature`; `None` when malformed.
    pub fn parse(token: &str) -> Option<Compact> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header = serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let claims = serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        if !header.is_object() || !claims.is_object() {
            return None;
        }
        Some(Compact {
            header,
            claims,
            signing_input: format!("{h}.{p}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    /// Checks the signature with `jwk` for the header's `alg` (ES256 or RS256 only; `none`
    /// and HMAC are never accepted). The key type must match the algorithm.
    pub fn verify_with(&self, jwk: &Value) -> bool {
        let decode = |v: &Value| v.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let input = self.signing_input.as_bytes();
        match (self.header["alg"].as_str(), jwk["kty"].as_str()) {
            (Some("ES256"), Some("EC")) if jwk["crv"] == "P-256" => {
                let (Some(x), Some(y)) = (decode(&jwk["x"]), decode(&jwk["y"])) else {
                    return false;
                };
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, &self.signature)
                    .is_ok()
            }
            (Some("RS256"), Some("RSA")) => {
                let (Some(n), Some(e)) = (decode(&jwk["n"]), decode(&jwk["e"])) else {
                    return false;
                };
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, input, &self.signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
