//! The provider context handed to every operation: configuration, store, keys, audit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tessera_store::Store;
use tessera_store::audit::AuditLog;

use crate::CoreError;
use crate::jose::TokenSigner;
use crate::request::RequestMeta;
use crate::secrets::Keyed;

/// Lifetimes and identity of this provider. Durations are in seconds.
#[derive(Clone, Debug)]
pub struct Config {
    /// The issuer URL (OIDC Core §2), without a trailing slash.
    pub issuer: String,
    /// Authorization codes live at most 60 s (RFC 6749 §4.1.2 recommends 10 minutes at most).
    pub code_ttl: i64,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    /// SSO session lifetime: a working day.
    pub session_ttl: i64,
    /// How long a pending authorization request waits for the login form.
    pub auth_request_ttl: i64,
    /// Refresh tokens: unused for this long, a token expires (clients may override).
    pub refresh_idle_ttl: i64,
    /// Refresh families end this long after the login, however often used.
    pub refresh_absolute_ttl: i64,
    /// Lifetime of a back-channel logout token: it is signed just before it is sent.
    pub logout_token_ttl: i64,
    /// First retry delay of a back-channel logout notification; doubles on each failure up to
    /// `backchannel_retry_max`.
    pub backchannel_retry_base: i64,
    pub backchannel_retry_max: i64,
    /// A notification still undelivered this long after the logout is given up (and audited).
    pub backchannel_give_up: i64,
    /// Certificates: CA URLs, subject organisation, validity, CRL schedule.
    pub pki: crate::pki::PkiConfig,
    /// Remote signing: limits, lifetimes, retention.
    pub signing: crate::signing::remote::RemoteConfig,
}

impl Config {
    pub const MAX_CODE_TTL: i64 = 60;

    pub fn new(issuer: &str) -> Config {
        Config {
            issuer: issuer.trim_end_matches('/').to_owned(),
            code_ttl: Self::MAX_CODE_TTL,
            access_token_ttl: 600,
            id_token_ttl: 600,
            session_ttl: 10 * 3600,
            auth_request_ttl: 1800,
            refresh_idle_ttl: 7 * 86_400,
            refresh_absolute_ttl: 30 * 86_400,
            logout_token_ttl: 120,
            backchannel_retry_base: 5,
            backchannel_retry_max: 600,
            backchannel_give_up: 86_400,
            pki: crate::pki::PkiConfig::new(issuer),
            signing: crate::signing::remote::RemoteConfig::default(),
        }
    }

    /// How long a retired signing key stays published: the longest lifetime of a token it
    /// may have signed, plus a margin for clock skew and caches.
    pub fn key_retention(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl) + 300
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[derive(Clone, Debug)]
pub struct Provider {
    pub config: Config,
    /// The database; private to core, so that every use goes through a core function.
    pub(crate) store: Store,
    pub signer: TokenSigner,
    pub keyed: Keyed,
    pub audit: AuditLog,
    /// Transport for calls to other servers, guarded by the administrator's allow-list.
    pub outbound: Arc<dyn crate::outbound::Outbound>,
    /// The WebAuthn relying party (passkeys and security keys).
    pub passkeys: crate::mfa::relying_party::Passkeys,
    /// Client JWKS fetched by URI (see [`new_jwks_cache`]).
    pub jwks_cache: Arc<JwksCache>,
    /// Bounds the password hashes computed at once (see [`new_hash_permits`]).
    pub hash_permits: Arc<tokio::sync::Semaphore>,
    /// Told of every audit event (the server counts them in its metrics).
    pub observer: Option<Arc<dyn AuditObserver>>,
    /// The LDAP/AD directory that checks the passwords of people who came from it, when
    /// password logins through the directory are on.
    pub directory: Option<Arc<dyn crate::directory_sync::PasswordDirectory>>,
}

/// Sees each audit event as it is recorded; how the server derives logins, grants and second
/// factors for its metrics without the domain code knowing about metrics.
pub trait AuditObserver: Send + Sync + std::fmt::Debug {
    fn recorded(&self, event: &tessera_store::audit::AuditEvent);
}

/// Client JWKS by URI, with when each was fetched.
pub type JwksCache = Mutex<HashMap<String, (Instant, Arc<Vec<serde_json::Value>>)>>;

/// Fetched JWKS by URI: a copy of the clients' published data, so a per-replica cache is safe.
pub fn new_jwks_cache() -> Arc<JwksCache> {
    Arc::default()
}

/// Password checks allowed to run at once: two per core keeps every core busy without letting a
/// burst of logins allocate 19 MiB each without bound.
pub fn new_hash_permits() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    Arc::new(tokio::sync::Semaphore::new(cores * 2))
}

impl Provider {
    /// A provider over `store`, with an empty JWKS cache and the default password-hash
    /// permits.
    pub fn new(
        config: Config,
        store: Store,
        signer: TokenSigner,
        keyed: Keyed,
        audit: AuditLog,
        outbound: Arc<dyn crate::outbound::Outbound>,
        passkeys: crate::mfa::relying_party::Passkeys,
    ) -> Provider {
        Provider {
            config,
            store,
            signer,
            keyed,
            audit,
            outbound,
            passkeys,
            jwks_cache: new_jwks_cache(),
            hash_permits: new_hash_permits(),
            observer: None,
            directory: None,
        }
    }

    /// Closes the database connections (at the end of a command).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Records an audit event and waits until it is committed.
    pub async fn audit(&self, record: crate::audit::Record) -> Result<(), CoreError> {
        let event = record.into_event();
        if let Some(observer) = &self.observer {
            observer.recorded(&event);
        }
        self.audit.record(event).await?;
        Ok(())
    }

    /// Records an audit event together with a request's writes, in one shared transaction (see
    /// `tessera_store::group_commit`), and waits until it is committed. `false`: the writes'
    /// spend was lost to another request and nothing was written.
    pub async fn commit(
        &self,
        record: crate::audit::Record,
        writes: tessera_store::group_commit::Writes,
    ) -> Result<bool, CoreError> {
        let event = record.into_event();
        // The observer (metrics) hears of the event only once it was written: a lost spend
        // writes nothing.
        let seen = self.observer.as_ref().map(|_| event.clone());
        let written = self.audit.commit(event, writes).await?;
        if let (true, Some(observer), Some(event)) = (written, &self.observer, &seen) {
            observer.recorded(event);
        }
        Ok(written)
    }
}

// Here, so that `audit` depends on nothing else in this crate.
impl crate::audit::Record {
    /// The request the event came from (its source address).
    pub fn meta(self, meta: &RequestMeta) -> crate::audit::Record {
        self.source_ip(meta.source_ip.as_deref())
    }
}

/// Guards against a process started with another master key than the one this database was
/// set up with: its keys could not be unwrapped and its client-secret hashes would not match.
pub async fn check_master_key(
    store: &Store,
    master: &tessera_hsm::MasterKey,
) -> Result<(), CoreError> {
    let fingerprint = crate::secrets::sha256_hex(master.derive("fingerprint").as_ref());
    let stored = store
        .setting_or_insert("master_key_fingerprint", &fingerprint)
        .await?;
    if stored != fingerprint {
        return Err(CoreError::Internal(
            "the master key does not match the one this database was set up with (check TESSERA_MASTER_KEY or <data dir>/master.key)".into(),
        ));
    }
    Ok(())
}
