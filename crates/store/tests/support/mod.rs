//! A fresh PostgreSQL database for one store test, reached through `TESSERA_TEST_DATABASE_URL`.
//! Without it the PostgreSQL half of a test is skipped with a message, except in CI (`CI` set),
//! where it fails.
#![allow(dead_code)] // each test binary uses its own part

use sqlx::{AnyPool, AssertSqlSafe};

/// The server to create databases on, or `None` (after saying so) to skip.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TESSERA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TESSERA_TEST_DATABASE_URL"
        );
        eprintln!("skipped: TESSERA_TEST_DATABASE_URL not set");
    }
    url
}

/// A database created for one test, dropped with it.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> PgDatabase {
        sqlx::any::install_default_drivers();
        let mut bytes = [0u8; 6];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
        let name = format!(
            "tessera_store_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let admin = AnyPool::connect(admin_url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
        PgDatabase {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Drops the database, closing whatever connections are left. Blocking, on its own thread
    /// and runtime, so that it runs from `Drop` inside a Tokio test, even one that failed.
    fn drop_blocking(&self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let admin = AnyPool::connect(&admin_url).await.unwrap();
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&admin)
                .await
                .unwrap();
                admin.close().await;
            });
        });
        if worker.join().is_err() {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.drop_blocking();
    }
}
