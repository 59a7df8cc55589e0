//! What operators watch: whether the database answers and its schema is current, the
//! outboxes' depth, and the nearest certificate expiries. Read-only, and cheap enough to run
//! every few seconds.

use sqlx::Row;

use crate::{Backend, Result, Store};

/// Figures for the metrics, read in one go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsFigures {
    /// Back-channel logout notifications not yet delivered nor given up.
    pub backchannel_pending: i64,
    /// Of those, how many failed at least once.
    pub backchannel_failing: i64,
    /// Signing-request webhooks not yet delivered nor given up.
    pub webhook_pending: i64,
    pub webhook_failing: i64,
    /// `not_after` of the CA certificate that expires first, if there is a CA.
    pub ca_not_after: Option<i64>,
    /// `not_after` of the active signing credential that expires first.
    pub credential_not_after: Option<i64>,
}

/// The outbox tables, named here only (never from input).
const OUTBOXES: [&str; 2] = ["backchannel_outbox", "signing_webhooks"];

/// Pending and failing entries of an outbox table.
async fn outbox(store: &Store, table: &'static str) -> Result<(i64, i64)> {
    debug_assert!(OUTBOXES.contains(&table));
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS pending, COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0) \
         AS failing FROM {table} WHERE delivered_at IS NULL AND abandoned_at IS NULL"
    )))
    .fetch_one(&store.pool)
    .await?;
    Ok((row.try_get("pending")?, row.try_get("failing")?))
}

impl Store {
    /// One round trip: the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether every migration this build knows has been applied.
    pub async fn migrations_current(&self) -> Result<bool> {
        let known: Vec<i64> = match self.backend {
            Backend::Sqlite => crate::SQLITE_MIGRATIONS.iter(),
            Backend::Postgres => crate::POSTGRES_MIGRATIONS.iter(),
        }
        .map(|(version, _, _)| *version)
        .collect();
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await?;
        let applied: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("version"))
            .collect::<std::result::Result<_, _>>()?;
        Ok(known.iter().all(|v| applied.contains(v)))
    }

    /// Connections open in the pool, and how many of them are idle.
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn ops_figures(&self) -> Result<OpsFigures> {
        let (backchannel_pending, backchannel_failing) = outbox(self, OUTBOXES[0]).await?;
        let (webhook_pending, webhook_failing) = outbox(self, OUTBOXES[1]).await?;
        let ca = sqlx::query("SELECT MIN(not_after) AS t FROM pki_cas")
            .fetch_one(&self.pool)
            .await?;
        let credential =
            sqlx::query("SELECT MIN(not_after) AS t FROM pki_credentials WHERE status = 'active'")
                .fetch_one(&self.pool)
                .await?;
        Ok(OpsFigures {
            backchannel_pending,
            backchannel_failing,
            webhook_pending,
            webhook_failing,
            ca_not_after: ca.try_get("t")?,
            credential_not_after: credential.try_get("t")?,
        })
    }
}
