//! Reading a test server's database directly: audit entries and the back-channel outbox.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Row};

use crate::server::TestServer;

/// One audit entry.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub event: String,
    pub outcome: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub detail: Value,
}

impl TestServer {
    async fn db(&self) -> anyhow::Result<AnyConnection> {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.database_url())
            .await
            .context("opening the server's database")
    }

    /// `(chain, seq)` of every audit entry in a chain with a head, which is what the SOC feed
    /// forwards.
    pub async fn audit_keys(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let mut db = self.db().await?;
        let rows = sqlx::query(
            "SELECT chain_id, seq FROM audit_log WHERE chain_id IN (SELECT chain_id FROM audit_heads) \
             ORDER BY chain_id, seq",
        )
        .fetch_all(&mut db)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("chain_id")?, r.try_get("seq")?)))
            .collect()
    }

    /// Changes the details of the first entry of `event` behind the hash chain's back.
    pub async fn tamper_audit(&self, event: &str) -> anyhow::Result<()> {
        let mut db = self.db().await?;
        let done = sqlx::query(
            "UPDATE audit_log SET detail = '{\"tampered\":true}' WHERE event = $1 AND seq = \
             (SELECT MIN(seq) FROM audit_log WHERE event = $1)",
        )
        .bind(event)
        .execute(&mut db)
        .await?;
        if done.rows_affected() == 0 {
            bail!("no {event} entry to tamper with");
        }
        Ok(())
    }

    /// Audit entries whose event starts with `prefix`, oldest first.
    pub async fn audit(&self, prefix: &str) -> anyhow::Result<Vec<AuditRow>> {
        let mut db = self.db().await?;
        let rows = sqlx::query(
            "SELECT event, outcome, actor, client_id, detail FROM audit_log WHERE event LIKE $1 ORDER BY at, chain_id, seq",
        )
        .bind(format!("{prefix}%"))
        .fetch_all(&mut db)
        .await?;
        db.close().await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditRow {
                    event: r.try_get("event")?,
                    outcome: r.try_get("outcome")?,
                    actor: r.try_get("actor")?,
                    client_id: r.try_get("client_id")?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                })
            })
            .collect()
    }

    /// Waits until an audit event named `event` has been recorded `n` times.
    pub async fn wait_for_audit(
        &self,
        event: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<AuditRow>> {
        let deadline = Instant::now() + timeout;
        loop {
            let rows: Vec<AuditRow> = self
                .audit(event)
                .await?
                .into_iter()
                .filter(|r| r.event == event)
                .collect();
            if rows.len() >= n {
                return Ok(rows);
            }
            if Instant::now() > deadline {
                bail!("expected {n} `{event}` audit entries within {timeout:?}, got {rows:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The back-channel outbox: (client id, attempts, delivered, abandoned) per row.
    pub async fn outbox(&self) -> anyhow::Result<Vec<(String, i64, bool, bool)>> {
        let mut db = self.db().await?;
        let rows = sqlx::query(
            "SELECT client_id, attempts, delivered_at, abandoned_at FROM backchannel_outbox ORDER BY client_id",
        )
        .fetch_all(&mut db)
        .await?;
        db.close().await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("client_id")?,
                    r.try_get("attempts")?,
                    r.try_get::<Option<i64>, _>("delivered_at")?.is_some(),
                    r.try_get::<Option<i64>, _>("abandoned_at")?.is_some(),
                ))
            })
            .collect()
    }
}

impl TestServer {
    /// Makes every device code's lifetime run out now, as if the kiosk had waited too long.
    pub async fn expire_device_codes(&self) -> anyhow::Result<u64> {
        let mut db = self.db().await?;
        let done = sqlx::query("UPDATE device_codes SET expires_at = created_at")
            .execute(&mut db)
            .await?;
        db.close().await?;
        Ok(done.rows_affected())
    }
}

impl TestServer {
    /// Sessions that have not ended (expired or not).
    pub async fn open_sessions(&self) -> anyhow::Result<i64> {
        let mut db = self.db().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NULL")
            .fetch_one(&mut db)
            .await?
            .try_get("n")?;
        db.close().await?;
        Ok(n)
    }
}
