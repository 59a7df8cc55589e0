//! The hash-chained audit log: `tessera audit verify` must notice a row edited in place.

use anyhow::Context;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, Browser, flow};

scenarios!(audit_detects_changed_outcome, audit_detects_changed_detail);

async fn audit_detects_changed_outcome(backend: Backend) -> anyhow::Result<()> {
    tamper_and_verify(
        backend,
        "outcome = CASE WHEN outcome = 'success' THEN 'failure' ELSE 'success' END",
    )
    .await
}

async fn audit_detects_changed_detail(backend: Backend) -> anyhow::Result<()> {
    tamper_and_verify(backend, "detail = '{\"note\":\"đã sửa\"}'").await
}

/// Logs a user in (so there are entries from the server and the CLI), checks the chain,
/// rewrites one row with `assignment`, and checks again.
async fn tamper_and_verify(backend: Backend, assignment: &str) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    flow::sdk_login(&Browser::new()?, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;

    let intact = fx.server.cli(&["audit", "verify"], None).await?;
    assert!(
        intact.success(),
        "audit verify fails on an untouched log: {intact}"
    );

    sqlx::any::install_default_drivers();
    let mut db = AnyConnection::connect(&fx.server.database_url())
        .await
        .context("opening the server's database")?;
    // A login event, written by the server (not by the CLI's own chain).
    let row = sqlx::query(
        "SELECT chain_id, seq FROM audit_log WHERE event LIKE 'login%' ORDER BY at, seq LIMIT 1",
    )
    .fetch_optional(&mut db)
    .await?;
    let row = match row {
        Some(row) => row,
        None => sqlx::query("SELECT chain_id, seq FROM audit_log ORDER BY at, seq LIMIT 1")
            .fetch_one(&mut db)
            .await
            .context("the audit log is empty")?,
    };
    let chain_id: String = row.try_get("chain_id")?;
    let seq: i64 = row.try_get("seq")?;
    let update = format!("UPDATE audit_log SET {assignment} WHERE chain_id = $1 AND seq = $2");
    let changed = sqlx::query(AssertSqlSafe(update))
        .bind(&chain_id)
        .bind(seq)
        .execute(&mut db)
        .await?;
    assert_eq!(changed.rows_affected(), 1);
    db.close().await?;

    let broken = fx.server.cli(&["audit", "verify"], None).await?;
    assert!(
        !broken.success(),
        "audit verify missed the tampering: {broken}"
    );
    let message = format!("{}{}", broken.stdout, broken.stderr);
    assert!(!message.trim().is_empty(), "audit verify failed silently");
    Ok(())
}
