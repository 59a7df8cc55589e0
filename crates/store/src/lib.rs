//! Persistence for Tessera. All SQL lives here, one module per aggregate.
//!
//! One code path serves SQLite (embedded default) and PostgreSQL (production) through sqlx's
//! `Any` driver: queries use `$n` placeholders, which both accept; times are Unix seconds and
//! flags are integers so that both backends decode them alike.

pub mod alert_windows;
pub mod api_scopes;
pub mod audit;
pub mod audit_verify;
pub mod backup;
mod batch_read;
pub mod clients;
pub mod codes;
pub mod device_codes;
pub mod directory_sync;
pub mod grants;
pub mod group_commit;
pub mod keys;
pub mod logout;
pub mod mfa;
pub mod ops;
pub mod otp_tokens;
pub mod pki;
pub mod pki_ocsp;
pub mod pki_org;
pub mod pki_tsa;
pub mod pushed_requests;
pub mod refresh;
pub mod sessions;
pub mod signing_requests;
pub mod signing_token_bindings;
pub mod signing_webhooks;
mod subject;
pub mod syslog_feed;
pub mod throttle;
pub mod units;
pub mod upstreams;
pub mod user_import;
pub mod users;
mod wakeup;

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

pub use sqlx::Error as SqlxError;

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (expected sqlite: or postgres:): {0}")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Lookups batched across concurrent requests (see [`batch_read`]).
    reads: std::sync::Arc<Reads>,
    /// Wakes the signing-webhook worker (see [`wakeup`]).
    wakeup: std::sync::Arc<wakeup::Wakeup>,
}

#[derive(Debug)]
struct Reads {
    clients: batch_read::BatchRead<clients::Client>,
    tokens: batch_read::BatchRead<codes::TokenRecord>,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../../../migrations/sqlite/0001_foundation.sql"),
    ),
    (
        2,
        "token lifecycle",
        include_str!("../../../migrations/sqlite/0002_token_lifecycle.sql"),
    ),
    (
        3,
        "logout",
        include_str!("../../../migrations/sqlite/0003_logout.sql"),
    ),
    (
        4,
        "strong authentication",
        include_str!("../../../migrations/sqlite/0004_strong_auth.sql"),
    ),
    (
        5,
        "pki",
        include_str!("../../../migrations/sqlite/0005_pki.sql"),
    ),
    (
        6,
        "delegated administration",
        include_str!("../../../migrations/sqlite/0006_admin.sql"),
    ),
    (
        7,
        "administration consoles and API scopes",
        include_str!("../../../migrations/sqlite/0007_admin_console.sql"),
    ),
    (
        8,
        "password changes and session rotation",
        include_str!("../../../migrations/sqlite/0008_passwords_sessions.sql"),
    ),
    (
        9,
        "pki trust anchors and ocsp",
        include_str!("../../../migrations/sqlite/0009_pki_trust_ocsp.sql"),
    ),
    (
        10,
        "audit heads and decaying throttles",
        include_str!("../../../migrations/sqlite/0010_audit_heads_throttle.sql"),
    ),
    (
        11,
        "organisation credentials and signing images",
        include_str!("../../../migrations/sqlite/0011_organisation_credentials.sql"),
    ),
    (
        12,
        "time-stamping authority",
        include_str!("../../../migrations/sqlite/0012_tsa.sql"),
    ),
    (
        13,
        "remote signing requests",
        include_str!("../../../migrations/sqlite/0013_signing_requests.sql"),
    ),
    (
        14,
        "hardware otp tokens",
        include_str!("../../../migrations/sqlite/0014_otp_tokens.sql"),
    ),
    (
        15,
        "signing token bindings",
        include_str!("../../../migrations/sqlite/0015_signing_token_bindings.sql"),
    ),
    (
        16,
        "syslog feed",
        include_str!("../../../migrations/sqlite/0016_syslog_feed.sql"),
    ),
    (
        17,
        "device authorization grant",
        include_str!("../../../migrations/sqlite/0017_device_grant.sql"),
    ),
    (
        18,
        "upstream federation",
        include_str!("../../../migrations/sqlite/0018_upstream_federation.sql"),
    ),
    (
        19,
        "directory sync",
        include_str!("../../../migrations/sqlite/0019_directory_sync.sql"),
    ),
    (
        21,
        "pushed authorization requests",
        include_str!("../../../migrations/sqlite/0021_pushed_authorization_requests.sql"),
    ),
    (
        22,
        "alert windows",
        include_str!("../../../migrations/sqlite/0022_alert_windows.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../../../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "token lifecycle",
        include_str!("../../../migrations/postgres/0002_token_lifecycle.sql"),
    ),
    (
        3,
        "logout",
        include_str!("../../../migrations/postgres/0003_logout.sql"),
    ),
    (
        4,
        "strong authentication",
        include_str!("../../../migrations/postgres/0004_strong_auth.sql"),
    ),
    (
        5,
        "pki",
        include_str!("../../../migrations/postgres/0005_pki.sql"),
    ),
    (
        6,
        "delegated administration",
        include_str!("../../../migrations/postgres/0006_admin.sql"),
    ),
    (
        7,
        "administration consoles and API scopes",
        include_str!("../../../migrations/postgres/0007_admin_console.sql"),
    ),
    (
        8,
        "password changes and session rotation",
        include_str!("../../../migrations/postgres/0008_passwords_sessions.sql"),
    ),
    (
        9,
        "pki trust anchors and ocsp",
        include_str!("../../../migrations/postgres/0009_pki_trust_ocsp.sql"),
    ),
    (
        10,
        "audit heads and decaying throttles",
        include_str!("../../../migrations/postgres/0010_audit_heads_throttle.sql"),
    ),
    (
        11,
        "organisation credentials and signing images",
        include_str!("../../../migrations/postgres/0011_organisation_credentials.sql"),
    ),
    (
        12,
        "time-stamping authority",
        include_str!("../../../migrations/postgres/0012_tsa.sql"),
    ),
    (
        13,
        "remote signing requests",
        include_str!("../../../migrations/postgres/0013_signing_requests.sql"),
    ),
    (
        14,
        "hardware otp tokens",
        include_str!("../../../migrations/postgres/0014_otp_tokens.sql"),
    ),
    (
        15,
        "signing token bindings",
        include_str!("../../../migrations/postgres/0015_signing_token_bindings.sql"),
    ),
    (
        16,
        "syslog feed",
        include_str!("../../../migrations/postgres/0016_syslog_feed.sql"),
    ),
    (
        17,
        "device authorization grant",
        include_str!("../../../migrations/postgres/0017_device_grant.sql"),
    ),
    (
        18,
        "upstream federation",
        include_str!("../../../migrations/postgres/0018_upstream_federation.sql"),
    ),
    (
        19,
        "directory sync",
        include_str!("../../../migrations/postgres/0019_directory_sync.sql"),
    ),
    (
        21,
        "pushed authorization requests",
        include_str!("../../../migrations/postgres/0021_pushed_authorization_requests.sql"),
    ),
    (
        22,
        "alert windows",
        include_str!("../../../migrations/postgres/0022_alert_windows.sql"),
    ),
];

impl Store {
    /// Opens `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                // An in-memory database exists once per connection: keep a single one.
                let max = if url.contains(":memory:") { 1 } else { 8 };
                options
                    .max_connections(max)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets the CLI and several readers work beside a running server.
                            conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => options.max_connections(32).connect(url).await?,
        };
        let reads = std::sync::Arc::new(Reads {
            clients: batch_read::BatchRead::start(pool.clone(), clients::batch_kind()),
            tokens: batch_read::BatchRead::start(pool.clone(), codes::token_batch_kind()),
        });
        Ok(Store {
            pool,
            backend,
            reads,
            wakeup: std::sync::Arc::new(wakeup::Wakeup::new(backend, url)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations. Safe to run from several processes at once: sqlx takes an
    /// advisory lock on PostgreSQL, and SQLite serialises writers.
    pub async fn migrate(&self) -> Result<()> {
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = list
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(*sql),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Hides a password in a database URL before it reaches a log or an error.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

pub(crate) fn json_list(raw: &str, what: &str) -> Result<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

#[cfg(test)]
pub(crate) mod testdb {
    use super::Store;

    /// A fresh migrated SQLite database in memory.
    pub async fn store() -> Store {
        #[allow(clippy::unwrap_used)]
        let store = Store::connect("sqlite::memory:").await.unwrap();
        #[allow(clippy::unwrap_used)]
        store.migrate().await.unwrap();
        store
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}

impl Store {
    /// Stores `value` under `name` unless a value is already there; returns the stored value.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO instance_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM instance_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get(&row, "value")?)
    }
}
