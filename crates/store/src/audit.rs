//! Append-only, hash-chained audit log.
//!
//! Each writer (a `tessera serve` process or one CLI run) owns its own chain, so appends from
//! many replicas never contend on one chain head. Within a process, events are queued to one
//! task that writes them in batches, one transaction per batch, and each caller is answered
//! only after its batch has committed — so a request is never answered before its audit entry
//! is durable.

use ring::digest::{SHA256, digest};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::{Result, Store, StoreError};

const MAX_BATCH: usize = 256;
/// Rows per INSERT statement (11 parameters each; well under SQLite's and PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One event to record.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub at: i64,
    /// Dotted name, e.g. `login.success`, `token.issued`, `user.created`.
    pub event: String,
    /// Who acted: a user id, `cli:<os user>`, or a client id.
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

/// A stored entry, as read back for verification and display.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub chain_id: String,
    pub seq: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first `prev_hash` of a chain binds the chain id, so entries cannot move between chains.
pub fn genesis_hash(chain_id: &str) -> String {
    hex(digest(
        &SHA256,
        format!("tessera-audit-genesis:{chain_id}").as_bytes(),
    )
    .as_ref())
}

/// SHA-256 over a canonical JSON array of every field but the hash itself.
#[allow(clippy::too_many_arguments)]
fn entry_hash(
    chain_id: &str,
    seq: i64,
    at: i64,
    event: &str,
    actor: Option<&str>,
    client_id: Option<&str>,
    source_ip: Option<&str>,
    outcome: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        chain_id, seq, at, event, actor, client_id, source_ip, outcome, detail, prev_hash
    ]);
    hex(digest(&SHA256, canonical.to_string().as_bytes()).as_ref())
}

type Job = (AuditEvent, oneshot::Sender<Result<(), String>>);

struct Chain {
    id: String,
    writer: String,
    created_at: i64,
}

/// Handle used by request handlers to append to this process's chain.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    chain_id: String,
}

impl AuditLog {
    /// Starts the batching task of a new chain for this writer. The chain is registered with
    /// its first entry, so a process that records nothing leaves nothing behind.
    pub async fn start(store: Store, writer: &str, now: i64, chain_id: String) -> Result<AuditLog> {
        let (tx, rx) = mpsc::channel(4096);
        let head = (0, genesis_hash(&chain_id));
        let chain = Chain {
            id: chain_id.clone(),
            writer: writer.to_owned(),
            created_at: now,
        };
        tokio::spawn(run_writer(store, chain, head, rx));
        Ok(AuditLog { tx, chain_id })
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Appends an event; returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, done))
            .await
            .map_err(|_| StoreError::Corrupt("audit writer stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(StoreError::Corrupt(format!("audit append failed: {msg}"))),
            Err(_) => Err(StoreError::Corrupt("audit writer stopped".into())),
        }
    }
}

async fn run_writer(
    store: Store,
    chain: Chain,
    mut head: (i64, String),
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write_batch(&store, &chain, &head, &batch).await {
            Ok(new_head) => {
                head = new_head;
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; the requests it records fail too");
                let msg = e.to_string();
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(msg.clone()));
                }
            }
        }
    }
}

async fn write_batch(
    store: &Store,
    chain: &Chain,
    head: &(i64, String),
    batch: &[Job],
) -> Result<(i64, String)> {
    let chain_id = chain.id.as_str();
    let (mut seq, mut prev) = head.clone();
    let mut tx = store.pool().begin().await?;
    if seq == 0 {
        sqlx::query("INSERT INTO audit_chains (id, writer, created_at) VALUES ($1, $2, $3)")
            .bind(chain_id)
            .bind(&chain.writer)
            .bind(chain.created_at)
            .execute(&mut *tx)
            .await?;
    }
    // Hash the chain in order, then write it with one multi-row INSERT per chunk: one round
    // trip for many events keeps the writer ahead of thousands of events per second.
    let mut rows = Vec::with_capacity(batch.len());
    for (ev, _) in batch {
        seq += 1;
        let detail = ev.detail.to_string();
        let hash = entry_hash(
            chain_id,
            seq,
            ev.at,
            &ev.event,
            ev.actor.as_deref(),
            ev.client_id.as_deref(),
            ev.source_ip.as_deref(),
            ev.outcome.as_str(),
            &detail,
            &prev,
        );
        rows.push((
            seq,
            ev,
            detail,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
        ));
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let b = r * 11;
                let params: Vec<String> = (1..=11).map(|k| format!("${}", b + k)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (chain_id, seq, at, event, actor, client_id, source_ip, outcome, detail, prev_hash, hash) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (seq, ev, detail, prev_hash, hash) in chunk {
            q = q
                .bind(chain_id)
                .bind(*seq)
                .bind(ev.at)
                .bind(ev.event.as_str())
                .bind(ev.actor.as_deref())
                .bind(ev.client_id.as_deref())
                .bind(ev.source_ip.as_deref())
                .bind(ev.outcome.as_str())
                .bind(detail.as_str())
                .bind(prev_hash.as_str())
                .bind(hash.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok((seq, prev))
}

/// What `tessera audit verify` found.
#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: u64,
    pub entries: u64,
    /// Human-readable description of each break found.
    pub problems: Vec<String>,
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        chain_id: row.try_get("chain_id")?,
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        event: row.try_get("event")?,
        actor: row.try_get("actor")?,
        client_id: row.try_get("client_id")?,
        source_ip: row.try_get("source_ip")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const ENTRY_COLUMNS: &str =
    "chain_id, seq, at, event, actor, client_id, source_ip, outcome, detail, prev_hash, hash";

impl Store {
    /// Checks every chain: contiguous sequence numbers, each `prev_hash` equal to the previous
    /// entry's hash, and each hash recomputed from the entry's fields.
    pub async fn verify_audit(&self) -> Result<VerifyReport> {
        let chains: Vec<String> =
            sqlx::query("SELECT id FROM audit_chains ORDER BY created_at, id")
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("id"))
                .collect::<Result<_, _>>()?;
        let mut report = VerifyReport {
            chains: chains.len() as u64,
            entries: 0,
            problems: Vec::new(),
        };
        let orphans = sqlx::query(
            "SELECT COUNT(*) AS n FROM audit_log WHERE chain_id NOT IN (SELECT id FROM audit_chains)",
        )
        .fetch_one(self.pool())
        .await?
        .try_get::<i64, _>("n")?;
        if orphans > 0 {
            report
                .problems
                .push(format!("{orphans} entries belong to no known chain"));
        }
        for chain in chains {
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE chain_id = $1 ORDER BY seq"
            )))
            .bind(&chain)
            .fetch_all(self.pool())
            .await?;
            let mut prev = genesis_hash(&chain);
            for (i, row) in rows.iter().enumerate() {
                let e = entry_from_row(row)?;
                report.entries += 1;
                let expected_seq = i as i64 + 1;
                if e.seq != expected_seq {
                    report.problems.push(format!(
                        "chain {chain}: entry {expected_seq} is missing (next is {})",
                        e.seq
                    ));
                    break;
                }
                if e.prev_hash != prev {
                    report.problems.push(format!(
                        "chain {chain} entry {}: previous-entry hash does not match",
                        e.seq
                    ));
                    break;
                }
                let recomputed = entry_hash(
                    &e.chain_id,
                    e.seq,
                    e.at,
                    &e.event,
                    e.actor.as_deref(),
                    e.client_id.as_deref(),
                    e.source_ip.as_deref(),
                    &e.outcome,
                    &e.detail,
                    &e.prev_hash,
                );
                if recomputed != e.hash {
                    report.problems.push(format!(
                        "chain {chain} entry {} ({}): content was altered",
                        e.seq, e.event
                    ));
                    break;
                }
                prev = e.hash;
            }
        }
        Ok(report)
    }

    /// A person's most recent entries whose event starts with one of `prefixes`, newest first.
    pub async fn audit_of_actor(
        &self,
        actor: &str,
        prefixes: &[&str],
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let like: Vec<String> = (0..prefixes.len())
            .map(|i| format!("event LIKE ${}", i + 3))
            .collect();
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE actor = $1 AND ({}) ORDER BY at DESC, seq DESC LIMIT $2",
            if like.is_empty() {
                "1 = 1".to_owned()
            } else {
                like.join(" OR ")
            }
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(actor).bind(limit);
        for p in prefixes {
            q = q.bind(format!("{p}%"));
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Most recent entries first (for display and tests).
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY at DESC, seq DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb;

    fn ev(name: &str) -> AuditEvent {
        AuditEvent {
            at: 1_700_000_000,
            event: name.into(),
            actor: Some("u1".into()),
            client_id: Some("vanban".into()),
            source_ip: Some("10.0.0.1".into()),
            outcome: Outcome::Success,
            detail: serde_json::json!({"note": "Sở Nội vụ"}),
        }
    }

    #[tokio::test]
    async fn chains_verify_and_tampering_is_found() {
        let store = testdb::store().await;
        let a = AuditLog::start(store.clone(), "replica-a", 1, "chain-a".into())
            .await
            .unwrap();
        let b = AuditLog::start(store.clone(), "replica-b", 1, "chain-b".into())
            .await
            .unwrap();
        let mut waits = Vec::new();
        for i in 0..50 {
            let (a, b) = (a.clone(), b.clone());
            waits.push(tokio::spawn(async move {
                a.record(ev(&format!("login.success.{i}"))).await.unwrap();
                b.record(ev("token.issued")).await.unwrap();
            }));
        }
        for w in waits {
            w.await.unwrap();
        }
        let report = store.verify_audit().await.unwrap();
        assert_eq!(report.chains, 2);
        assert_eq!(report.entries, 100);
        assert!(report.problems.is_empty(), "{:?}", report.problems);

        sqlx::query(
            "UPDATE audit_log SET outcome = 'failure' WHERE chain_id = 'chain-a' AND seq = 7",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let report = store.verify_audit().await.unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(
            report.problems[0].contains("entry 7"),
            "{:?}",
            report.problems
        );

        sqlx::query("DELETE FROM audit_log WHERE chain_id = 'chain-b' AND seq = 3")
            .execute(store.pool())
            .await
            .unwrap();
        let report = store.verify_audit().await.unwrap();
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    }
}
