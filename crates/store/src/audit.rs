//! Append-only, hash-chained audit log.
//!
//! Each writer (a `tessera serve` process or one CLI run) owns its own chain, so appends from
//! many replicas never contend on one chain head. Within a process, events are queued to one
//! task that writes them in batches, one transaction per batch, and each caller is answered
//! only after its batch has committed — so a request is never answered before its audit entry
//! is durable.
//!
//! Against someone who can write to the database: entries of version-2 chains are linked by an
//! HMAC-SHA-256 under a key derived from the master key, so they cannot be recomputed; every
//! flush records the chain's head (last sequence number and hash, with a MAC), so entries cut
//! from the end are seen; and every chain is registered in a chain of chains (position, the
//! chain before it, a MAC) whose head is also MACed, so a deleted chain leaves a gap that names
//! it. Version-1 chains (plain SHA-256, written before) are sealed once: their heads are
//! recorded and MACed by the first process that starts with the key.

use ring::digest::{SHA256, digest};
use ring::hmac;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::group_commit::{self, Writes};
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Plain SHA-256 chains written before keyed chains existed.
pub const LEGACY_VERSION: i64 = 1;
/// HMAC-SHA-256 chains.
pub const KEYED_VERSION: i64 = 2;

/// The key that links and seals the audit log (derived from the master key by the caller).
#[derive(Clone)]
pub struct AuditKey(hmac::Key);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    pub fn new(secret: &[u8]) -> AuditKey {
        AuditKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// MAC over a canonical JSON array whose first element names what it covers.
    pub(crate) fn tag(&self, parts: &serde_json::Value) -> String {
        hex(hmac::sign(&self.0, parts.to_string().as_bytes()).as_ref())
    }

    /// Constant-time check of a stored MAC.
    pub(crate) fn check(&self, parts: &serde_json::Value, mac: &str) -> bool {
        unhex(mac)
            .is_some_and(|tag| hmac::verify(&self.0, parts.to_string().as_bytes(), &tag).is_ok())
    }
}

/// The first `prev_hash` of a chain binds the chain id, so entries cannot move between chains.
pub fn genesis_hash(chain_id: &str) -> String {
    hex(digest(
        &SHA256,
        format!("tessera-audit-genesis:{chain_id}").as_bytes(),
    )
    .as_ref())
}

/// Every field of an entry but the hash itself, as hashed.
pub(crate) struct Fields<'a> {
    pub chain_id: &'a str,
    pub seq: i64,
    pub at: i64,
    pub event: &'a str,
    pub actor: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
}

impl Fields<'_> {
    fn canonical(&self) -> serde_json::Value {
        serde_json::json!([
            self.chain_id,
            self.seq,
            self.at,
            self.event,
            self.actor,
            self.client_id,
            self.source_ip,
            self.outcome,
            self.detail,
            self.prev_hash
        ])
    }

    /// Version 1: SHA-256 of the canonical array; version 2: its HMAC under the audit key.
    pub(crate) fn hash(&self, version: i64, key: &AuditKey) -> String {
        if version == LEGACY_VERSION {
            hex(digest(&SHA256, self.canonical().to_string().as_bytes()).as_ref())
        } else {
            key.tag(&serde_json::json!(["entry", self.canonical()]))
        }
    }
}

impl AuditEntry {
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            chain_id: &self.chain_id,
            seq: self.seq,
            at: self.at,
            event: &self.event,
            actor: self.actor.as_deref(),
            client_id: self.client_id.as_deref(),
            source_ip: self.source_ip.as_deref(),
            outcome: &self.outcome,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        }
    }
}

pub(crate) fn head_parts(chain_id: &str, seq: i64, hash: &str) -> serde_json::Value {
    serde_json::json!(["head", chain_id, seq, hash])
}

pub(crate) fn registration_parts(
    reg_seq: i64,
    chain_id: &str,
    writer: &str,
    created_at: i64,
    version: i64,
    prev_chain: &str,
) -> serde_json::Value {
    serde_json::json!([
        "chain", reg_seq, chain_id, writer, created_at, version, prev_chain
    ])
}

pub(crate) fn registry_parts(reg_seq: i64, chain_id: &str) -> serde_json::Value {
    serde_json::json!(["registry", reg_seq, chain_id])
}

/// The one row of `audit_registry`.
pub(crate) const REGISTRY: &str = "chains";
/// Written as the previous chain of a chain registered while the registry head was missing,
/// so that verification reports it (it is never a chain id).
pub(crate) const REGISTRY_WAS_MISSING: &str = "!registry-missing";

/// An event, the writes that go with it (see [`group_commit`]), and where to say whether they
/// were applied.
type Job = (AuditEvent, Writes, oneshot::Sender<Result<bool, String>>);

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
    /// its first entry, so a process that records nothing leaves nothing behind. (Chains from
    /// before keyed chains are sealed only by the operator: [`Store::seal_legacy_chains`].)
    pub async fn start(
        store: Store,
        key: AuditKey,
        writer: &str,
        now: i64,
        chain_id: String,
    ) -> Result<AuditLog> {
        let (tx, rx) = mpsc::channel(4096);
        let head = (0, genesis_hash(&chain_id));
        let chain = Chain {
            id: chain_id.clone(),
            writer: writer.to_owned(),
            created_at: now,
        };
        tokio::spawn(run_writer(store, key, chain, head, rx));
        Ok(AuditLog { tx, chain_id })
    }

    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// Appends an event; returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<()> {
        self.commit(event, Writes::default()).await.map(drop)
    }

    /// Appends an event with `writes`, in the next batch's transaction; returns once it is
    /// committed: `true` if they were applied, `false` if their spend was lost to another
    /// request (then neither the writes nor the event were).
    pub async fn commit(&self, event: AuditEvent, writes: Writes) -> Result<bool> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((event, writes, done))
            .await
            .map_err(|_| StoreError::Corrupt("audit writer stopped".into()))?;
        match wait.await {
            Ok(Ok(applied)) => Ok(applied),
            Ok(Err(msg)) => Err(StoreError::Corrupt(format!("audit append failed: {msg}"))),
            Err(_) => Err(StoreError::Corrupt("audit writer stopped".into())),
        }
    }
}

/// Registering a chain races with other writers registering theirs; the loser retries (each
/// lost race means another chain got registered, so this bounds the writers starting at once).
const REGISTER_ATTEMPTS: usize = 16;

async fn run_writer(
    store: Store,
    key: AuditKey,
    chain: Chain,
    mut head: (i64, String),
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let attempts = if head.0 == 0 { REGISTER_ATTEMPTS } else { 1 };
        // Group commit: the batch size and how long its transaction took, for the metrics.
        metrics::histogram!("tessera_audit_batch_size").record(batch.len() as f64);
        let started = std::time::Instant::now();
        let mut result = write_batch(&store, &key, &chain, &head, &batch).await;
        for _ in 1..attempts {
            if result.is_ok() {
                break;
            }
            result = write_batch(&store, &key, &chain, &head, &batch).await;
        }
        metrics::histogram!("tessera_audit_flush_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if result.is_err() && batch.len() > 1 {
            // One job's writes can fail the batch (a client or user deleted meanwhile): write
            // each alone, so that only that request fails.
            for job in batch.drain(..) {
                let one = [job];
                let result = write_batch(&store, &key, &chain, &head, &one).await;
                let [(_, _, done)] = one;
                let _ = done.send(match result {
                    Ok((new_head, applied)) => {
                        head = new_head;
                        Ok(applied.first().copied().unwrap_or(false))
                    }
                    Err(e) => Err(e.to_string()),
                });
            }
            continue;
        }
        match result {
            Ok((new_head, applied)) => {
                head = new_head;
                for ((_, _, done), ok) in batch.drain(..).zip(applied) {
                    let _ = done.send(Ok(ok));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit batch failed; the requests it records fail too");
                let msg = e.to_string();
                for (_, _, done) in batch.drain(..) {
                    let _ = done.send(Err(msg.clone()));
                }
            }
        }
    }
}

/// Appends `chain` to the chain of chains and moves the registry head to it, in `tx`. Fails
/// (and the caller retries) when another writer registered a chain meanwhile.
async fn register_chain(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &AuditKey,
    chain_id: &str,
    writer: &str,
    created_at: i64,
    version: i64,
) -> Result<()> {
    let registry = sqlx::query("SELECT reg_seq, chain_id FROM audit_registry WHERE name = $1")
        .bind(REGISTRY)
        .fetch_optional(&mut **tx)
        .await?;
    let (last, prev_chain) = match registry {
        Some(row) => (
            row.try_get::<i64, _>("reg_seq")?,
            row.try_get::<String, _>("chain_id")?,
        ),
        None => {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(reg_seq), 0) AS n FROM audit_chains WHERE reg_seq IS NOT NULL",
            )
            .fetch_one(&mut **tx)
            .await?;
            let n: i64 = row.try_get("n")?;
            if n > 0 {
                // Someone deleted the registry head: carry on (the log must keep working),
                // leaving a mark that verification reports.
                tracing::error!("the audit registry head is missing; registering anyway");
                (n, REGISTRY_WAS_MISSING.to_owned())
            } else {
                (0, String::new())
            }
        }
    };
    let reg_seq = last + 1;
    let reg_mac = key.tag(&registration_parts(
        reg_seq,
        chain_id,
        writer,
        created_at,
        version,
        &prev_chain,
    ));
    let updated = sqlx::query(
        "UPDATE audit_chains SET version = $1, reg_seq = $2, prev_chain = $3, reg_mac = $4 \
         WHERE id = $5 AND reg_seq IS NULL",
    )
    .bind(version)
    .bind(reg_seq)
    .bind(&prev_chain)
    .bind(&reg_mac)
    .bind(chain_id)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Corrupt(format!(
            "audit chain {chain_id} cannot be registered"
        )));
    }
    let moved = sqlx::query(
        "INSERT INTO audit_registry (name, reg_seq, chain_id, mac) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET reg_seq = excluded.reg_seq, chain_id = excluded.chain_id, \
         mac = excluded.mac WHERE audit_registry.reg_seq = $5",
    )
    .bind(REGISTRY)
    .bind(reg_seq)
    .bind(chain_id)
    .bind(key.tag(&registry_parts(reg_seq, chain_id)))
    .bind(last)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::Corrupt(
            "another writer registered an audit chain at the same time".into(),
        ));
    }
    Ok(())
}

/// Records a chain's head with its MAC, in the transaction that wrote up to it.
async fn write_head(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &AuditKey,
    chain_id: &str,
    seq: i64,
    hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_heads (chain_id, seq, hash, updated_at, mac) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, \
         updated_at = excluded.updated_at, mac = excluded.mac",
    )
    .bind(chain_id)
    .bind(seq)
    .bind(hash)
    .bind(now)
    .bind(key.tag(&head_parts(chain_id, seq, hash)))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_batch(
    store: &Store,
    key: &AuditKey,
    chain: &Chain,
    head: &(i64, String),
    batch: &[Job],
) -> Result<((i64, String), Vec<bool>)> {
    let chain_id = chain.id.as_str();
    let (mut seq, mut prev) = head.clone();
    let mut tx = store.pool().begin().await?;
    let now = batch.iter().map(|(ev, _, _)| ev.at).max().unwrap_or(0);
    let writes: Vec<&Writes> = batch.iter().map(|(_, w, _)| w).collect();
    let applied = group_commit::apply(&mut tx, &writes, now).await?;
    // A chain is registered with its first entry; a batch whose every spend was lost writes
    // none, so it leaves the chain unregistered (and its head unwritten) for the next batch.
    let writes_entries = applied.iter().any(|ok| *ok);
    if seq == 0 && writes_entries {
        sqlx::query(
            "INSERT INTO audit_chains (id, writer, created_at, version) VALUES ($1, $2, $3, $4)",
        )
        .bind(chain_id)
        .bind(&chain.writer)
        .bind(chain.created_at)
        .bind(KEYED_VERSION)
        .execute(&mut *tx)
        .await?;
        register_chain(
            &mut tx,
            key,
            chain_id,
            &chain.writer,
            chain.created_at,
            KEYED_VERSION,
        )
        .await?;
    }
    // Hash the chain in order, then write it with one multi-row INSERT per chunk: one round
    // trip for many events keeps the writer ahead of thousands of events per second.
    let mut rows = Vec::with_capacity(batch.len());
    let mut last_at = chain.created_at;
    let events = batch
        .iter()
        .zip(&applied)
        .filter(|(_, ok)| **ok)
        .map(|((ev, _, _), _)| ev);
    for ev in events {
        seq += 1;
        let detail = ev.detail.to_string();
        let hash = Fields {
            chain_id,
            seq,
            at: ev.at,
            event: &ev.event,
            actor: ev.actor.as_deref(),
            client_id: ev.client_id.as_deref(),
            source_ip: ev.source_ip.as_deref(),
            outcome: ev.outcome.as_str(),
            detail: &detail,
            prev_hash: &prev,
        }
        .hash(KEYED_VERSION, key);
        last_at = last_at.max(ev.at);
        rows.push((
            seq,
            ev,
            detail,
            std::mem::replace(&mut prev, hash.clone()),
            hash,
        ));
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit_log (chain_id, seq, at, event, actor, client_id, source_ip, outcome, detail, prev_hash, hash) VALUES {}",
            group_commit::values(chunk.len(), 11)
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
    if writes_entries {
        write_head(&mut tx, key, chain_id, seq, &prev, last_at).await?;
    }
    tx.commit().await?;
    Ok(((seq, prev), applied))
}

impl Store {
    /// Registers and seals the unkeyed chains written before keyed chains (`tessera audit
    /// seal-legacy`, once, at the upgrade). Never automatic: whoever can write to the database
    /// could otherwise rewrite every chain unkeyed, wipe the registry and have the next start
    /// seal the forgery. Until the operator seals them, `verify` reports them.
    pub async fn seal_legacy_chains(&self, key: &AuditKey, now: i64) -> Result<u64> {
        match self.seal_legacy_once(key, now).await {
            Ok(n) => Ok(n),
            Err(e) => {
                // Two processes starting at once: the loser's registrations collide.
                let done = sqlx::query("SELECT COUNT(*) AS n FROM audit_registry")
                    .fetch_one(self.pool())
                    .await?
                    .try_get::<i64, _>("n")?;
                if done > 0 { Ok(0) } else { Err(e) }
            }
        }
    }

    async fn seal_legacy_once(&self, key: &AuditKey, now: i64) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let legacy = sqlx::query(
            "SELECT id, writer, created_at FROM audit_chains WHERE version = $1 AND reg_seq IS NULL ORDER BY created_at, id",
        )
        .bind(LEGACY_VERSION)
        .fetch_all(&mut *tx)
        .await?;
        let mut sealed = 0;
        for row in &legacy {
            let id: String = row.try_get("id")?;
            let writer: String = row.try_get("writer")?;
            let created_at: i64 = row.try_get("created_at")?;
            let last = sqlx::query(
                "SELECT seq, hash FROM audit_log WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
            let (seq, hash) = match last {
                Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
                None => (0, genesis_hash(&id)),
            };
            register_chain(&mut tx, key, &id, &writer, created_at, LEGACY_VERSION).await?;
            write_head(&mut tx, key, &id, seq, &hash, now).await?;
            sealed += 1;
        }
        tx.commit().await?;
        Ok(sealed)
    }
}

pub(crate) fn entry_from_row(row: &AnyRow) -> Result<AuditEntry> {
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

/// What [`Store::audit_search`] looks for; `None` is "any".
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Events whose name starts with this (`login.`, `user.created`).
    pub event_prefix: Option<String>,
    /// Only entries whose actor is a user of one of these units.
    pub actor_units: Option<Vec<String>>,
    pub since: Option<i64>,
    /// Exclusive.
    pub until: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

enum BindValue {
    Text(String),
    Int(i64),
}

pub(crate) const ENTRY_COLUMNS: &str =
    "chain_id, seq, at, event, actor, client_id, source_ip, outcome, detail, prev_hash, hash";

impl Store {
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

    /// Entries matching `f`, newest first (the console's audit page and its exports).
    pub async fn audit_search(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<BindValue> = Vec::new();
        let next = |v: BindValue, binds: &mut Vec<BindValue>| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(actor) = &f.actor {
            clauses.push(format!(
                "actor = {}",
                next(BindValue::Text(actor.clone()), &mut binds)
            ));
        }
        if let Some(event) = &f.event_prefix {
            let like = format!("{}%", event.replace('%', "").replace('_', "\\_"));
            clauses.push(format!(
                "event LIKE {} ESCAPE '\\'",
                next(BindValue::Text(like), &mut binds)
            ));
        }
        if let Some(since) = f.since {
            clauses.push(format!("at >= {}", next(BindValue::Int(since), &mut binds)));
        }
        if let Some(until) = f.until {
            clauses.push(format!("at < {}", next(BindValue::Int(until), &mut binds)));
        }
        if let Some(units) = &f.actor_units {
            if units.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = units
                .iter()
                .map(|u| next(BindValue::Text(u.clone()), &mut binds))
                .collect();
            clauses.push(format!(
                "actor IN (SELECT id FROM users WHERE unit_id IN ({}))",
                marks.join(", ")
            ));
        }
        let limit = next(BindValue::Int(f.limit), &mut binds);
        let offset = next(BindValue::Int(f.offset), &mut binds);
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE {} ORDER BY at DESC, chain_id, seq DESC LIMIT {limit} OFFSET {offset}",
            if clauses.is_empty() {
                "1 = 1".to_owned()
            } else {
                clauses.join(" AND ")
            }
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                BindValue::Text(t) => q.bind(t),
                BindValue::Int(i) => q.bind(i),
            };
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
