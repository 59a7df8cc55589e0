//! Operators' figures on SQLite and (with `TESSERA_TEST_DATABASE_URL`) PostgreSQL: the schema
//! check, and the nearest CA expiry read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_store::Store;
use tessera_store::ops::OpsFigures;

mod support;

async fn scenario(store: &Store) {
    // Before migrating there is nothing current to speak of.
    assert!(!matches!(store.migrations_current().await, Ok(true)));
    store.migrate().await.unwrap();
    assert!(store.migrations_current().await.unwrap());
    store.ping().await.unwrap();
    assert_eq!(store.ops_figures().await.unwrap(), OpsFigures::default());
    for (id, not_after) in [("root", 2_000_000_000_i64), ("issuing", 1_900_000_000)] {
        sqlx::query(
            "INSERT INTO pki_cas (id, role, subject, key_alg, key_backend, cert_der, not_after, created_at) \
             VALUES ($1, $1, 'CN=x', 'P-256', 'software', $2, $3, 1)",
        )
        .bind(id)
        .bind(vec![0u8])
        .bind(not_after)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let figures = store.ops_figures().await.unwrap();
    assert_eq!(figures.ca_not_after, Some(1_900_000_000));
    assert_eq!(figures.credential_not_after, None);
    assert_eq!(figures.backchannel_pending, 0);
    let (open, idle) = store.pool_use();
    assert!(open >= 1 && idle <= open as usize);
}

#[tokio::test]
async fn ops_on_sqlite() {
    scenario(&Store::connect("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
async fn ops_on_postgres() {
    let Some(admin_url) = support::postgres_admin_url() else {
        return;
    };
    let db = support::PgDatabase::create(&admin_url).await;
    let store = Store::connect(&db.url).await.unwrap();
    scenario(&store).await;
    store.close().await;
}
