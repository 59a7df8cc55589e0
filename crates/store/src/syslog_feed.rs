//! The SOC feed's state: how far each audit chain has been forwarded, and the lease that lets
//! one replica at a time forward.
//!
//! Delivery is at least once: the forwarder reads entries past each chain's position, sends
//! them, and only then moves the positions on. A replica that dies between the two sends the
//! same entries again after its lease runs out (the SOC sees a repeated chain and sequence
//! number); nothing is skipped. Positions only move forward.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::audit::{AuditEntry, ENTRY_COLUMNS, entry_from_row};
use crate::{Result, Store};

/// The name of the feed's lease row.
const LEASE: &str = "feed";

/// An entry to forward, with what the SOC needs besides it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEntry {
    pub entry: AuditEntry,
    /// The unit of the acting user, when the actor is a user.
    pub unit_id: Option<String>,
    /// The process that wrote the chain, e.g. `serve@host-a:4242`.
    pub writer: String,
}

impl Store {
    /// Takes or renews the feed's lease for `owner` until `until`: `true` when `owner` holds
    /// it (it was free, had run out at `now`, or was already `owner`'s).
    pub async fn take_syslog_lease(&self, owner: &str, now: i64, until: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO syslog_lease (name, owner, lease_until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
             WHERE syslog_lease.lease_until < $4 OR syslog_lease.owner = excluded.owner",
        )
        .bind(LEASE)
        .bind(owner)
        .bind(until)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up (at shutdown), so that another replica takes over at once.
    pub async fn release_syslog_lease(&self, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM syslog_lease WHERE name = $1 AND owner = $2")
            .bind(LEASE)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Up to `limit` entries not yet forwarded, chain by chain in sequence order, skipping
    /// those already `sent` on the open connection (chain → last sequence number written, not
    /// yet confirmed). Only chains whose head is past their position are read (chains of the
    /// chain-of-chains era: every chain written since keyed chains exist has a head).
    pub async fn syslog_pending(
        &self,
        limit: i64,
        sent: &BTreeMap<String, i64>,
    ) -> Result<Vec<FeedEntry>> {
        let behind = sqlx::query(
            "SELECT h.chain_id, COALESCE(p.seq, 0) AS pos FROM audit_heads h \
             LEFT JOIN syslog_positions p ON p.chain_id = h.chain_id \
             WHERE h.seq > COALESCE(p.seq, 0) ORDER BY h.updated_at LIMIT 100",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for row in behind {
            let left = limit - out.len() as i64;
            if left <= 0 {
                break;
            }
            let chain: String = row.try_get("chain_id")?;
            let pos: i64 = row.try_get("pos")?;
            let pos = sent.get(&chain).map_or(pos, |s| pos.max(*s));
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ENTRY_COLUMNS}, \
                 (SELECT u.unit_id FROM users u WHERE u.id = audit_log.actor) AS unit_id, \
                 (SELECT c.writer FROM audit_chains c WHERE c.id = audit_log.chain_id) AS writer \
                 FROM audit_log WHERE chain_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            )))
            .bind(&chain)
            .bind(pos)
            .bind(left)
            .fetch_all(self.pool())
            .await?;
            for row in &rows {
                out.push(FeedEntry {
                    entry: entry_from_row(row)?,
                    unit_id: row.try_get("unit_id")?,
                    writer: row
                        .try_get::<Option<String>, _>("writer")?
                        .unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }

    /// Records that chain `chain_id` was forwarded up to `seq` (never moving back).
    pub async fn syslog_forwarded(&self, chain_id: &str, seq: i64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO syslog_positions (chain_id, seq, forwarded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq, forwarded_at = excluded.forwarded_at \
             WHERE syslog_positions.seq < excluded.seq",
        )
        .bind(chain_id)
        .bind(seq)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Each chain's forwarded position (for the operator and the tests).
    pub async fn syslog_positions(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query("SELECT chain_id, seq FROM syslog_positions ORDER BY chain_id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("chain_id")?, r.try_get("seq")?)))
            .collect()
    }
}
