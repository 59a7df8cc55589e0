//! Which database a test server runs on, and the per-test PostgreSQL database.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// Environment variable naming a PostgreSQL server for the `postgres` variants of the tests,
/// e.g. `postgres://postgres@127.0.0.1:5432/test`. The harness creates a fresh database
/// through it for every test and drops it afterwards.
pub const PG_URL_ENV: &str = "TESSERA_TEST_DATABASE_URL";

/// The storage backend a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: `<data-dir>/tessera.db`.
    Sqlite,
    /// A fresh database on the server named by [`PG_URL_ENV`].
    Postgres,
}

impl Backend {
    /// The PostgreSQL URL from [`PG_URL_ENV`], if set and not blank.
    pub fn postgres_admin_url() -> Option<String> {
        std::env::var(PG_URL_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty())
    }

    /// PostgreSQL when `postgres` (a benchmark's `--postgres`), else SQLite; an error when
    /// PostgreSQL is asked for and [`PG_URL_ENV`] is not set.
    pub fn chosen(postgres: bool) -> anyhow::Result<Backend> {
        if !postgres {
            return Ok(Backend::Sqlite);
        }
        anyhow::ensure!(
            Self::postgres_admin_url().is_some(),
            "PostgreSQL needs {PG_URL_ENV} (e.g. postgres://postgres@127.0.0.1:5432/test)"
        );
        Ok(Backend::Postgres)
    }

    /// Whether this backend can be tested here. For PostgreSQL without [`PG_URL_ENV`] it
    /// prints the "skipped" line and answers `false`.
    pub fn available(self) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres if Self::postgres_admin_url().is_some() => true,
            Backend::Postgres => {
                eprintln!("skipped: {PG_URL_ENV} not set");
                false
            }
        }
    }
}

/// A database created for one test, dropped (best effort) with it.
#[derive(Debug)]
pub(crate) struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// `CREATE DATABASE tessera_e2e_<random>` through `admin_url`.
    pub(crate) async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("tessera_e2e_{}", crate::random_hex(8));
        let mut conn = connect_admin(admin_url).await?;
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let _ = conn.close().await;
        let mut url =
            url::Url::parse(admin_url).with_context(|| format!("parsing {PG_URL_ENV}"))?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.into(),
        })
    }

    /// The URL of the new database, for `TESSERA_DATABASE_URL`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, closing whatever connections are left. Blocking: it runs on its
    /// own thread and runtime, so it can be called from `Drop` inside a Tokio test.
    pub(crate) fn drop_blocking(&self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let worker = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = connect_admin(&admin_url).await {
                    if let Err(e) = conn.execute(AssertSqlSafe(sql)).await {
                        eprintln!("warning: could not drop test database: {e}");
                    }
                    let _ = conn.close().await;
                }
            });
        });
        let _ = worker.join();
    }
}

/// Connects to the database named in `admin_url`, or, if that one does not exist (a fresh
/// server has no `test` database), to the `postgres` maintenance database of the same server.
async fn connect_admin(admin_url: &str) -> anyhow::Result<PgConnection> {
    let first = match PgConnection::connect(admin_url).await {
        Ok(conn) => return Ok(conn),
        Err(e) => e,
    };
    let missing_db = first
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "3D000");
    if missing_db {
        let mut url = url::Url::parse(admin_url)?;
        url.set_path("/postgres");
        if let Ok(conn) = PgConnection::connect(url.as_str()).await {
            return Ok(conn);
        }
    }
    Err(anyhow::Error::new(first).context(format!("connecting to {PG_URL_ENV}")))
}
