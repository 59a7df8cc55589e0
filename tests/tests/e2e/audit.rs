//! The keyed, hash-chained audit log: `tessera audit verify` must notice a row edited in place,
//! entries cut from the end of a chain, a deleted chain, and an edited exported copy.

use anyhow::Context;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, Browser, flow};

scenarios!(
    audit_detects_changed_outcome,
    audit_detects_changed_detail,
    audit_detects_truncation_and_deleted_chains,
    audit_export_is_checked_against_the_key,
    audit_chains_registered_at_once_all_verify,
);

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

async fn open_db(fx: &Fixture) -> anyhow::Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&fx.server.database_url())
        .await
        .context("opening the server's database")
}

/// A database writer cuts the last entry of the server's chain, then deletes a whole chain
/// written by a command-line run (entries, head and registration row).
async fn audit_detects_truncation_and_deleted_chains(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    flow::sdk_login(&Browser::new()?, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    fx.server.add_unit("Sở Tư pháp", None).await?;
    fx.server.cli_ok(&["audit", "verify"], None).await?;

    let mut db = open_db(&fx).await?;
    let server_chain: String = sqlx::query(
        "SELECT chain_id FROM audit_log WHERE event LIKE 'login%' ORDER BY at, seq LIMIT 1",
    )
    .fetch_one(&mut db)
    .await?
    .try_get("chain_id")?;
    let cli_chain: String =
        sqlx::query("SELECT chain_id FROM audit_log WHERE event = 'unit.created' LIMIT 1")
            .fetch_one(&mut db)
            .await?
            .try_get("chain_id")?;
    assert_ne!(server_chain, cli_chain);
    let cut = sqlx::query(
        "DELETE FROM audit_log WHERE chain_id = $1 AND seq = (SELECT MAX(seq) FROM audit_log WHERE chain_id = $1)",
    )
    .bind(&server_chain)
    .execute(&mut db)
    .await?;
    assert_eq!(cut.rows_affected(), 1);
    let broken = fx.server.cli(&["audit", "verify"], None).await?;
    assert!(!broken.success(), "audit verify missed the cut: {broken}");
    assert!(
        broken.stderr.contains(&format!("chain {server_chain}"))
            && broken.stderr.contains("missing"),
        "{broken}"
    );

    for sql in [
        "DELETE FROM audit_log WHERE chain_id = $1",
        "DELETE FROM audit_heads WHERE chain_id = $1",
        "DELETE FROM audit_chains WHERE id = $1",
    ] {
        sqlx::query(sql).bind(&cli_chain).execute(&mut db).await?;
    }
    db.close().await?;
    let broken = fx.server.cli(&["audit", "verify"], None).await?;
    assert!(
        !broken.success(),
        "audit verify missed the deleted chain: {broken}"
    );
    assert!(
        broken
            .stderr
            .contains(&format!("chain {cli_chain} (registration"))
            && broken.stderr.contains("was deleted"),
        "{broken}"
    );
    Ok(())
}

/// `tessera audit export` in both formats gives a copy that `verify --export` accepts, and
/// refuses once an entry of the copy is edited.
async fn audit_export_is_checked_against_the_key(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    flow::sdk_login(&Browser::new()?, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    let dir = tessera_e2e::TempDir::new("audit-export")?;
    for format in ["jsonl", "csv"] {
        let out = fx
            .server
            .cli_ok(
                &[
                    "audit",
                    "export",
                    "--since",
                    "2000-01-01",
                    "--format",
                    format,
                ],
                None,
            )
            .await?;
        assert!(out.stdout.contains("login.success"), "{out}");
        let path = dir.path().join(format!("copy.{format}"));
        std::fs::write(&path, &out.stdout)?;
        let path_text = path.to_string_lossy().to_string();
        let ok = fx
            .server
            .cli_ok(&["audit", "verify", "--export", &path_text], None)
            .await?;
        assert!(ok.stdout.contains("exported copy intact"), "{ok}");

        std::fs::write(
            &path,
            out.stdout.replacen("login.success", "login.failure", 1),
        )?;
        let broken = fx
            .server
            .cli(&["audit", "verify", "--export", &path_text], None)
            .await?;
        assert!(!broken.success(), "an edited copy passed: {broken}");
        assert!(
            broken
                .stderr
                .contains("(login.failure): content was altered"),
            "{broken}"
        );
    }
    let bad = fx
        .server
        .cli(&["audit", "export", "--since", "yesterday"], None)
        .await?;
    assert!(!bad.success() && bad.stderr.contains("--since"), "{bad}");
    Ok(())
}

/// Six command-line runs register their chains at the same moment (on PostgreSQL the losers of
/// the race retry): every chain is registered once, in one unbroken chain of chains.
async fn audit_chains_registered_at_once_all_verify(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let s = &fx.server;
    let names = ["Sở 1", "Sở 2", "Sở 3", "Sở 4", "Sở 5", "Sở 6"];
    let runs = tokio::join!(
        s.add_unit(names[0], None),
        s.add_unit(names[1], None),
        s.add_unit(names[2], None),
        s.add_unit(names[3], None),
        s.add_unit(names[4], None),
        s.add_unit(names[5], None),
    );
    for run in [runs.0, runs.1, runs.2, runs.3, runs.4, runs.5] {
        run?;
    }
    let verify = s.cli_ok(&["audit", "verify"], None).await?;
    assert!(verify.stdout.contains("intact"), "{verify}");
    let mut db = open_db(&fx).await?;
    let registered: i64 = sqlx::query(
        "SELECT COUNT(DISTINCT reg_seq) AS n FROM audit_chains WHERE reg_seq IS NOT NULL",
    )
    .fetch_one(&mut db)
    .await?
    .try_get("n")?;
    let chains: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_chains")
        .fetch_one(&mut db)
        .await?
        .try_get("n")?;
    db.close().await?;
    assert_eq!(registered, chains);
    assert!(chains >= 6, "{chains} chains");
    Ok(())
}
