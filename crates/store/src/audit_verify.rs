//! Checking the audit log, in the database (`tessera audit verify`) and in a copy exported for
//! a security operations centre (`tessera audit export`, `tessera audit verify --export`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::audit::{
    AuditEntry, AuditKey, ENTRY_COLUMNS, KEYED_VERSION, LEGACY_VERSION, REGISTRY,
    REGISTRY_WAS_MISSING, entry_from_row, genesis_hash, head_parts, registration_parts,
    registry_parts,
};
use crate::{Result, Store};

/// What a verification found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: u64,
    pub entries: u64,
    /// Each break found, naming the chain and entry.
    pub problems: Vec<String>,
    /// What is weaker than it could be but not broken (unsealed unkeyed chains).
    pub notes: Vec<String>,
}

struct ChainRow {
    id: String,
    writer: String,
    created_at: i64,
    version: i64,
    reg_seq: Option<i64>,
    prev_chain: Option<String>,
    reg_mac: Option<String>,
}

struct HeadRow {
    seq: i64,
    hash: String,
    mac: String,
}

/// Walks one chain's entries in order; returns the first break, or the last (seq, hash).
fn walk(
    key: &AuditKey,
    chain: &str,
    version: i64,
    entries: &[AuditEntry],
    first_prev: Option<&str>,
) -> std::result::Result<(i64, String), String> {
    let mut prev: Option<String> = first_prev.map(str::to_owned);
    let mut expected_seq = entries.first().map(|e| e.seq).unwrap_or(1);
    if first_prev.is_some() {
        expected_seq = 1;
    }
    let mut last = (0, genesis_hash(chain));
    for e in entries {
        if e.seq != expected_seq {
            return Err(if e.seq > expected_seq {
                format!(
                    "chain {chain}: entry {expected_seq} is missing (next is {})",
                    e.seq
                )
            } else {
                format!("chain {chain}: entry {} appears twice", e.seq)
            });
        }
        if let Some(p) = &prev
            && e.prev_hash != *p
        {
            return Err(format!(
                "chain {chain} entry {}: previous-entry hash does not match",
                e.seq
            ));
        }
        if e.fields().hash(version, key) != e.hash {
            return Err(format!(
                "chain {chain} entry {} ({}): content was altered",
                e.seq, e.event
            ));
        }
        prev = Some(e.hash.clone());
        last = (e.seq, e.hash.clone());
        expected_seq += 1;
    }
    Ok(last)
}

impl Store {
    /// Checks every chain against the key: each entry's MAC (or, for unkeyed chains, hash) and
    /// link, each chain against its recorded head (entries cut from the end), and the chain of
    /// chains against its head (deleted chains).
    pub async fn verify_audit(&self, key: &AuditKey) -> Result<VerifyReport> {
        let chains: Vec<ChainRow> = sqlx::query(
            "SELECT id, writer, created_at, version, reg_seq, prev_chain, reg_mac FROM audit_chains \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(ChainRow {
                id: r.try_get("id")?,
                writer: r.try_get("writer")?,
                created_at: r.try_get("created_at")?,
                version: r.try_get("version")?,
                reg_seq: r.try_get("reg_seq")?,
                prev_chain: r.try_get("prev_chain")?,
                reg_mac: r.try_get("reg_mac")?,
            })
        })
        .collect::<Result<_>>()?;
        let mut heads: HashMap<String, HeadRow> = HashMap::new();
        for r in sqlx::query("SELECT chain_id, seq, hash, mac FROM audit_heads")
            .fetch_all(self.pool())
            .await?
        {
            heads.insert(
                r.try_get("chain_id")?,
                HeadRow {
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                    mac: r.try_get("mac")?,
                },
            );
        }
        let registry =
            sqlx::query("SELECT reg_seq, chain_id, mac FROM audit_registry WHERE name = $1")
                .bind(REGISTRY)
                .fetch_optional(self.pool())
                .await?
                .map(|r| {
                    Ok::<_, crate::StoreError>((
                        r.try_get::<i64, _>("reg_seq")?,
                        r.try_get::<String, _>("chain_id")?,
                        r.try_get::<String, _>("mac")?,
                    ))
                })
                .transpose()?;

        let mut report = VerifyReport {
            chains: chains.len() as u64,
            ..VerifyReport::default()
        };
        check_registrations(key, &chains, registry.as_ref(), &mut report);

        let known: std::collections::HashSet<&str> = chains.iter().map(|c| c.id.as_str()).collect();
        let orphans = sqlx::query("SELECT DISTINCT chain_id FROM audit_log")
            .fetch_all(self.pool())
            .await?;
        for r in orphans {
            let id: String = r.try_get("chain_id")?;
            if !known.contains(id.as_str()) {
                report
                    .problems
                    .push(format!("entries of chain {id} belong to no known chain"));
            }
        }
        let mut gone: Vec<&String> = heads
            .keys()
            .filter(|id| !known.contains(id.as_str()))
            .collect();
        gone.sort();
        for id in gone {
            report.problems.push(format!(
                "chain {id} was deleted: its head is recorded but the chain is gone"
            ));
        }

        for chain in &chains {
            let entries: Vec<AuditEntry> = sqlx::query(AssertSqlSafe(format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE chain_id = $1 ORDER BY seq"
            )))
            .bind(&chain.id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(entry_from_row)
            .collect::<Result<_>>()?;
            report.entries += entries.len() as u64;
            if chain.version != LEGACY_VERSION && chain.version != KEYED_VERSION {
                report.problems.push(format!(
                    "chain {}: unknown version {}",
                    chain.id, chain.version
                ));
                continue;
            }
            let genesis = genesis_hash(&chain.id);
            let (last_seq, last_hash) =
                match walk(key, &chain.id, chain.version, &entries, Some(&genesis)) {
                    Ok(last) => last,
                    Err(problem) => {
                        report.problems.push(problem);
                        continue;
                    }
                };
            match heads.get(&chain.id) {
                None if chain.reg_seq.is_some() => report
                    .problems
                    .push(format!("chain {}: its head record is missing", chain.id)),
                None => {}
                Some(h) if !key.check(&head_parts(&chain.id, h.seq, &h.hash), &h.mac) => report
                    .problems
                    .push(format!("chain {}: its head record was altered", chain.id)),
                Some(h) if last_seq < h.seq => report.problems.push(format!(
                    "chain {}: entries {}–{} are missing (cut from the end)",
                    chain.id,
                    last_seq + 1,
                    h.seq
                )),
                Some(h) if last_seq > h.seq => report.problems.push(format!(
                    "chain {}: entries {}–{} come after its recorded head (added without the key)",
                    chain.id,
                    h.seq + 1,
                    last_seq
                )),
                Some(h) if last_hash != h.hash => report.problems.push(format!(
                    "chain {} entry {last_seq}: does not match the recorded head (recomputed?)",
                    chain.id
                )),
                Some(_) => {}
            }
        }
        Ok(report)
    }
}

/// The chain of chains: every registration MACed and linked to the one before, and the last
/// one equal to the registry head.
fn check_registrations(
    key: &AuditKey,
    chains: &[ChainRow],
    registry: Option<&(i64, String, String)>,
    report: &mut VerifyReport,
) {
    let by_reg: BTreeMap<i64, &ChainRow> = chains
        .iter()
        .filter_map(|c| c.reg_seq.map(|k| (k, c)))
        .collect();
    for c in chains {
        let Some(k) = c.reg_seq else {
            report.problems.push(if c.version == LEGACY_VERSION {
                format!(
                    "chain {} is not registered: an unkeyed chain, either written before keyed \
                     chains (after checking it, seal it once with `tessera audit seal-legacy`) \
                     or added without the key",
                    c.id
                )
            } else {
                format!(
                    "chain {} is not registered: it was added without the key",
                    c.id
                )
            });
            continue;
        };
        let prev = c.prev_chain.as_deref().unwrap_or("");
        let parts = registration_parts(k, &c.id, &c.writer, c.created_at, c.version, prev);
        if !c.reg_mac.as_deref().is_some_and(|m| key.check(&parts, m)) {
            report
                .problems
                .push(format!("chain {}: its registration was altered", c.id));
        }
        if prev == REGISTRY_WAS_MISSING {
            report.problems.push(format!(
                "chain {} was registered while the registry head was missing (deleted?)",
                c.id
            ));
            continue;
        }
        let expected = if k == 1 {
            Some("")
        } else {
            by_reg.get(&(k - 1)).map(|p| p.id.as_str())
        };
        if let Some(expected) = expected
            && prev != expected
        {
            report.problems.push(format!(
                "chain {} (registration {k}) names {prev:?} before it, not {expected:?}",
                c.id
            ));
        }
    }
    let Some((last, last_id, mac)) = registry else {
        if !by_reg.is_empty() {
            report
                .problems
                .push("the registry head (the last chain registered) is missing".into());
        }
        return;
    };
    if !key.check(&registry_parts(*last, last_id), mac) {
        report
            .problems
            .push("the registry head (the last chain registered) was altered".into());
    }
    for k in 1..=*last {
        if by_reg.contains_key(&k) {
            continue;
        }
        // The chain registered next names it; the registry head names the last one.
        let name = if k == *last {
            Some(last_id.clone())
        } else {
            by_reg
                .get(&(k + 1))
                .and_then(|c| c.prev_chain.clone())
                .filter(|p| !p.is_empty() && p != REGISTRY_WAS_MISSING)
        };
        report.problems.push(match name {
            Some(id) => format!("chain {id} (registration {k}) was deleted"),
            None => format!("the chain registered at position {k} was deleted"),
        });
    }
    if let Some(c) = by_reg.get(last)
        && c.id != *last_id
    {
        report.problems.push(format!(
            "the registry head names chain {last_id} at position {last}, but that is chain {}",
            c.id
        ));
    }
    for (k, c) in by_reg.range(last + 1..) {
        report.problems.push(format!(
            "chain {} claims registration {k}, after the registry head ({last})",
            c.id
        ));
    }
}

/// One entry as exported, with what is needed to check it again later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedEntry {
    pub chain_id: String,
    /// 1: plain SHA-256 (anyone can recompute it); 2: HMAC-SHA-256 under the audit key.
    pub chain_version: i64,
    pub seq: i64,
    pub at: i64,
    pub event: String,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub source_ip: Option<String>,
    pub outcome: String,
    /// JSON text, exactly as hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl ExportedEntry {
    fn entry(&self) -> AuditEntry {
        AuditEntry {
            chain_id: self.chain_id.clone(),
            seq: self.seq,
            at: self.at,
            event: self.event.clone(),
            actor: self.actor.clone(),
            client_id: self.client_id.clone(),
            source_ip: self.source_ip.clone(),
            outcome: self.outcome.clone(),
            detail: self.detail.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}

impl Store {
    /// Entries of every chain from its first entry at or after `since` to its end (a chain's
    /// times may interleave slightly, and a copy must have no holes), chain by chain.
    pub async fn audit_export(&self, since: i64) -> Result<Vec<ExportedEntry>> {
        let rows = sqlx::query(
            "SELECT l.chain_id, c.version, l.seq, l.at, l.event, l.actor, l.client_id, l.source_ip, \
             l.outcome, l.detail, l.prev_hash, l.hash \
             FROM audit_log l JOIN audit_chains c ON c.id = l.chain_id \
             WHERE l.seq >= (SELECT MIN(m.seq) FROM audit_log m WHERE m.chain_id = l.chain_id AND m.at >= $1) \
             ORDER BY c.created_at, l.chain_id, l.seq",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ExportedEntry {
                    chain_id: r.try_get("chain_id")?,
                    chain_version: r.try_get("version")?,
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    event: r.try_get("event")?,
                    actor: r.try_get("actor")?,
                    client_id: r.try_get("client_id")?,
                    source_ip: r.try_get("source_ip")?,
                    outcome: r.try_get("outcome")?,
                    detail: r.try_get("detail")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }
}

/// Checks an exported copy against the key: within each chain, consecutive entries, each
/// linked to the one before and carrying a valid MAC (a copy may start mid-chain; its first
/// entry is then checked on its own).
pub fn verify_export(key: &AuditKey, entries: &[ExportedEntry]) -> VerifyReport {
    let mut by_chain: BTreeMap<&str, Vec<&ExportedEntry>> = BTreeMap::new();
    for e in entries {
        by_chain.entry(e.chain_id.as_str()).or_default().push(e);
    }
    let mut report = VerifyReport {
        chains: by_chain.len() as u64,
        entries: entries.len() as u64,
        ..VerifyReport::default()
    };
    let mut unkeyed = 0;
    for (chain, mut list) in by_chain {
        list.sort_by_key(|e| e.seq);
        let version = list
            .first()
            .map(|e| e.chain_version)
            .unwrap_or(KEYED_VERSION);
        if list.iter().any(|e| e.chain_version != version)
            || (version != KEYED_VERSION && version != LEGACY_VERSION)
        {
            report.problems.push(format!(
                "chain {chain}: inconsistent or unknown chain_version"
            ));
            continue;
        }
        if version == LEGACY_VERSION {
            unkeyed += 1;
        }
        let genesis = genesis_hash(chain);
        let first_prev = (list.first().map(|e| e.seq) == Some(1)).then_some(genesis.as_str());
        let owned: Vec<AuditEntry> = list.iter().map(|e| e.entry()).collect();
        if let Err(problem) = walk(key, chain, version, &owned, first_prev) {
            report.problems.push(problem);
        }
    }
    if unkeyed > 0 {
        report.notes.push(format!(
            "{unkeyed} chain(s) in the copy are unkeyed (written before keyed chains): their \
             hashes can be recomputed by anyone"
        ));
    }
    report
}

/// Columns of the CSV export, in order.
pub const CSV_HEADER: &str =
    "chain_id,chain_version,seq,at,event,actor,client_id,source_ip,outcome,detail,prev_hash,hash";

/// A CSV field (RFC 4180): quoted when needed; an absent value is an empty unquoted field and
/// an empty text a quoted one, so that the two stay apart (the MAC tells them apart).
fn csv_field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if !v.is_empty() && !v.contains([',', '"', '\n', '\r']) && v.trim() == v => {
            v.to_owned()
        }
        Some(v) => format!("\"{}\"", v.replace('"', "\"\"")),
    }
}

impl ExportedEntry {
    pub fn to_csv(&self) -> String {
        let (version, seq, at) = (
            self.chain_version.to_string(),
            self.seq.to_string(),
            self.at.to_string(),
        );
        [
            Some(self.chain_id.as_str()),
            Some(version.as_str()),
            Some(seq.as_str()),
            Some(at.as_str()),
            Some(self.event.as_str()),
            self.actor.as_deref(),
            self.client_id.as_deref(),
            self.source_ip.as_deref(),
            Some(self.outcome.as_str()),
            Some(self.detail.as_str()),
            Some(self.prev_hash.as_str()),
            Some(self.hash.as_str()),
        ]
        .iter()
        .map(|v| csv_field(*v))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// Splits CSV text into records of fields (`None` for an empty unquoted field).
fn csv_records(text: &str) -> std::result::Result<Vec<Vec<Option<String>>>, String> {
    let mut records = Vec::new();
    let mut record: Vec<Option<String>> = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut in_quotes, mut after_quote) = (false, false, false);
    let mut chars = text.chars().peekable();
    let finish = |field: &mut String, quoted: &mut bool, record: &mut Vec<Option<String>>| {
        record.push(if field.is_empty() && !*quoted {
            None
        } else {
            Some(std::mem::take(field))
        });
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                    after_quote = true;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !after_quote => {
                in_quotes = true;
                quoted = true;
            }
            ',' => {
                finish(&mut field, &mut quoted, &mut record);
                after_quote = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                finish(&mut field, &mut quoted, &mut record);
                after_quote = false;
                records.push(std::mem::take(&mut record));
            }
            _ if after_quote => return Err("text after a closing quote".into()),
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".into());
    }
    if !field.is_empty() || quoted || !record.is_empty() {
        finish(&mut field, &mut quoted, &mut record);
        records.push(record);
    }
    Ok(records)
}

/// Reads an export in either format (JSON lines, or CSV with its header line).
pub fn parse_export(text: &str) -> std::result::Result<Vec<ExportedEntry>, String> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('{') {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect();
    }
    let records = csv_records(text)?;
    let mut iter = records.into_iter().enumerate();
    match iter.next() {
        Some((_, header))
            if header
                .iter()
                .map(|f| f.as_deref().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
                == CSV_HEADER => {}
        _ => return Err(format!("the first line must be the header {CSV_HEADER}")),
    }
    iter.map(|(i, r)| {
        let line = i + 1;
        let [
            chain_id,
            version,
            seq,
            at,
            event,
            actor,
            client_id,
            source_ip,
            outcome,
            detail,
            prev_hash,
            hash,
        ] = <[Option<String>; 12]>::try_from(r)
            .map_err(|r| format!("record {line}: {} fields instead of 12", r.len()))?;
        let need = |v: Option<String>, name: &str| {
            v.ok_or_else(|| format!("record {line}: {name} is empty"))
        };
        let number = |v: Option<String>, name: &str| {
            need(v, name)?
                .parse::<i64>()
                .map_err(|_| format!("record {line}: {name} is not a number"))
        };
        Ok(ExportedEntry {
            chain_id: need(chain_id, "chain_id")?,
            chain_version: number(version, "chain_version")?,
            seq: number(seq, "seq")?,
            at: number(at, "at")?,
            event: need(event, "event")?,
            actor,
            client_id,
            source_ip,
            outcome: need(outcome, "outcome")?,
            detail: need(detail, "detail")?,
            prev_hash: need(prev_hash, "prev_hash")?,
            hash: need(hash, "hash")?,
        })
    })
    .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuditLog, Fields, Outcome};
    use crate::testdb;

    fn key() -> AuditKey {
        AuditKey::new(&[9u8; 32])
    }

    fn ev(name: &str, at: i64) -> AuditEvent {
        AuditEvent {
            at,
            event: name.into(),
            actor: Some("u1".into()),
            client_id: Some("vanban".into()),
            source_ip: Some("10.0.0.1".into()),
            outcome: Outcome::Success,
            detail: serde_json::json!({"note": "Sở Nội vụ, \"quoted\"\nline"}),
        }
    }

    /// Chain `chain-a` (registered first) and `chain-b`, 20 entries each.
    async fn two_chains() -> Store {
        let store = testdb::store().await;
        let a = AuditLog::start(store.clone(), key(), "replica-a", 1, "chain-a".into())
            .await
            .unwrap();
        a.record(ev("login.success", 100)).await.unwrap();
        let b = AuditLog::start(store.clone(), key(), "replica-b", 1, "chain-b".into())
            .await
            .unwrap();
        let mut waits = Vec::new();
        for i in 0..19 {
            let (a, b) = (a.clone(), b.clone());
            waits.push(tokio::spawn(async move {
                a.record(ev(&format!("token.issued.{i}"), 200 + i))
                    .await
                    .unwrap();
                b.record(ev("user.created", 200 + i)).await.unwrap();
            }));
        }
        b.record(ev("user.created", 300)).await.unwrap();
        for w in waits {
            w.await.unwrap();
        }
        let report = store.verify_audit(&key()).await.unwrap();
        assert_eq!((report.chains, report.entries), (2, 40));
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert!(report.notes.is_empty(), "{:?}", report.notes);
        store
    }

    async fn entries(store: &Store, chain: &str) -> Vec<AuditEntry> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE chain_id = $1 ORDER BY seq"
        )))
        .bind(chain)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(entry_from_row)
        .collect::<Result<_>>()
        .unwrap()
    }

    async fn exec(store: &Store, sql: &str) {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await
            .unwrap();
    }

    /// What a database writer without the key does: edits entry `seq`, recomputes every hash
    /// after it with plain SHA-256 (the old scheme) and moves the head to the new last hash.
    async fn rewrite_unkeyed(store: &Store, chain: &str, seq: i64) {
        let mut prev = genesis_hash(chain);
        for mut e in entries(store, chain).await {
            if e.seq < seq {
                prev = e.hash;
                continue;
            }
            if e.seq == seq {
                e.outcome = "failure".into();
            }
            e.prev_hash = prev.clone();
            e.hash = e.fields().hash(LEGACY_VERSION, &AuditKey::new(b"unused"));
            sqlx::query(
                "UPDATE audit_log SET outcome = $1, prev_hash = $2, hash = $3 WHERE chain_id = $4 AND seq = $5",
            )
            .bind(&e.outcome)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .bind(chain)
            .bind(e.seq)
            .execute(store.pool())
            .await
            .unwrap();
            prev = e.hash;
        }
        sqlx::query("UPDATE audit_heads SET hash = $1 WHERE chain_id = $2")
            .bind(&prev)
            .bind(chain)
            .execute(store.pool())
            .await
            .unwrap();
    }

    fn problems(report: &VerifyReport) -> String {
        report.problems.join("\n")
    }

    #[tokio::test]
    async fn a_chain_recomputed_without_the_key_is_found() {
        let store = two_chains().await;
        rewrite_unkeyed(&store, "chain-a", 7).await;
        let report = store.verify_audit(&key()).await.unwrap();
        assert_eq!(report.problems.len(), 1, "{}", problems(&report));
        assert!(
            report.problems[0].starts_with("chain chain-a entry 7 "),
            "{}",
            problems(&report)
        );
        // Passing it off as an old unkeyed chain breaks its registration (and, rewritten from
        // the start, its head).
        exec(
            &store,
            "UPDATE audit_chains SET version = 1 WHERE id = 'chain-a'",
        )
        .await;
        let p = problems(&store.verify_audit(&key()).await.unwrap());
        assert!(
            p.contains("chain chain-a: its registration was altered"),
            "{p}"
        );
        rewrite_unkeyed(&store, "chain-a", 1).await;
        let p = problems(&store.verify_audit(&key()).await.unwrap());
        assert!(
            p.contains("chain chain-a: its registration was altered"),
            "{p}"
        );
        assert!(
            p.contains("chain chain-a: its head record was altered"),
            "{p}"
        );
    }

    #[tokio::test]
    async fn entries_cut_from_the_end_are_found() {
        let store = two_chains().await;
        exec(
            &store,
            "DELETE FROM audit_log WHERE chain_id = 'chain-b' AND seq > 17",
        )
        .await;
        let report = store.verify_audit(&key()).await.unwrap();
        assert_eq!(
            report.problems,
            vec!["chain chain-b: entries 18–20 are missing (cut from the end)".to_owned()]
        );
        // Moving the head back needs its MAC.
        exec(
            &store,
            "UPDATE audit_heads SET seq = 17 WHERE chain_id = 'chain-b'",
        )
        .await;
        let report = store.verify_audit(&key()).await.unwrap();
        assert_eq!(
            report.problems,
            vec!["chain chain-b: its head record was altered".to_owned()]
        );
    }

    #[tokio::test]
    async fn deleted_chains_are_found_and_named() {
        for (chain, expected) in [
            ("chain-a", "chain chain-a (registration 1) was deleted"),
            ("chain-b", "chain chain-b (registration 2) was deleted"),
        ] {
            let store = two_chains().await;
            for table in [
                "audit_log WHERE chain_id",
                "audit_heads WHERE chain_id",
                "audit_chains WHERE id",
            ] {
                exec(&store, &format!("DELETE FROM {table} = '{chain}'")).await;
            }
            let report = store.verify_audit(&key()).await.unwrap();
            assert_eq!(report.problems, vec![expected.to_owned()], "{chain}");
            // Moving the registry head back to the chain before needs its MAC too.
            exec(
                &store,
                "UPDATE audit_registry SET reg_seq = 1, chain_id = 'chain-a'",
            )
            .await;
            let p = problems(&store.verify_audit(&key()).await.unwrap());
            assert!(
                p.contains("registry head (the last chain registered) was altered"),
                "{p}"
            );
        }
    }

    #[tokio::test]
    async fn unkeyed_chains_are_sealed_once_and_then_protected() {
        let store = testdb::store().await;
        // A chain written by a version before keyed chains.
        exec(
            &store,
            "INSERT INTO audit_chains (id, writer, created_at) VALUES ('old', 'v0', 1)",
        )
        .await;
        let mut prev = genesis_hash("old");
        for seq in 1..=5 {
            let hash = Fields {
                chain_id: "old",
                seq,
                at: 10 + seq,
                event: "login.success",
                actor: None,
                client_id: None,
                source_ip: None,
                outcome: "success",
                detail: "{}",
                prev_hash: &prev,
            }
            .hash(LEGACY_VERSION, &key());
            sqlx::query(
                "INSERT INTO audit_log (chain_id, seq, at, event, outcome, detail, prev_hash, hash) \
                 VALUES ('old', $1, $2, 'login.success', 'success', '{}', $3, $4)",
            )
            .bind(seq)
            .bind(10 + seq)
            .bind(&prev)
            .bind(&hash)
            .execute(store.pool())
            .await
            .unwrap();
            prev = hash;
        }
        // Not sealed by itself, not even when a keyed writer starts: the operator decides.
        let log = AuditLog::start(store.clone(), key(), "replica", 50, "new".into())
            .await
            .unwrap();
        log.record(ev("login.success", 60)).await.unwrap();
        let p = problems(&store.verify_audit(&key()).await.unwrap());
        assert!(p.contains("chain old is not registered"), "{p}");
        assert!(p.contains("tessera audit seal-legacy"), "{p}");

        // `tessera audit seal-legacy`: sealed once, then clean.
        assert_eq!(store.seal_legacy_chains(&key(), 65).await.unwrap(), 1);
        assert_eq!(store.seal_legacy_chains(&key(), 66).await.unwrap(), 0);
        let report = store.verify_audit(&key()).await.unwrap();
        assert!(report.problems.is_empty(), "{}", problems(&report));

        // Once sealed, recomputing the old chain is seen, and so is a new unkeyed chain.
        rewrite_unkeyed(&store, "old", 3).await;
        exec(
            &store,
            "INSERT INTO audit_chains (id, writer, created_at) VALUES ('forged', 'x', 70)",
        )
        .await;
        let p = problems(&store.verify_audit(&key()).await.unwrap());
        assert!(p.contains("chain old: its head record was altered"), "{p}");
        assert!(p.contains("chain forged is not registered"), "{p}");
    }

    /// A database writer rewrites every chain unkeyed and wipes the registrations, the registry
    /// and the heads: no start of a writer seals the forgery, and verify reports every chain.
    #[tokio::test]
    async fn a_log_rewritten_unkeyed_with_its_registry_wiped_is_reported() {
        let store = two_chains().await;
        for chain in ["chain-a", "chain-b"] {
            rewrite_unkeyed(&store, chain, 1).await;
        }
        exec(&store, "UPDATE audit_chains SET version = 1, reg_seq = NULL, prev_chain = NULL, reg_mac = NULL").await;
        exec(&store, "DELETE FROM audit_registry").await;
        exec(&store, "DELETE FROM audit_heads").await;
        let log = AuditLog::start(store.clone(), key(), "replica", 900, "next".into())
            .await
            .unwrap();
        log.record(ev("login.success", 901)).await.unwrap();
        let p = problems(&store.verify_audit(&key()).await.unwrap());
        assert!(p.contains("chain chain-a is not registered"), "{p}");
        assert!(p.contains("chain chain-b is not registered"), "{p}");
    }

    #[tokio::test]
    async fn an_export_round_trips_and_its_copy_is_checked() {
        let store = two_chains().await;
        let all = store.audit_export(0).await.unwrap();
        assert_eq!(all.len(), 40);
        // From a time on: each chain from its first entry at or after it, to its end.
        let recent = store.audit_export(215).await.unwrap();
        let expected: Vec<ExportedEntry> = all
            .iter()
            .filter(|e| {
                all.iter()
                    .filter(|f| f.chain_id == e.chain_id && f.at >= 215)
                    .map(|f| f.seq)
                    .min()
                    .is_some_and(|from| e.seq >= from)
            })
            .cloned()
            .collect();
        assert!(expected.len() >= 8 && expected.len() < 40, "{expected:?}");
        assert_eq!(recent, expected);
        assert!(verify_export(&key(), &recent).problems.is_empty());

        let jsonl: String = all
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        let csv = format!(
            "{CSV_HEADER}\r\n{}",
            all.iter().map(|e| e.to_csv() + "\r\n").collect::<String>()
        );
        for text in [jsonl, csv] {
            let mut copy = parse_export(&text).unwrap();
            assert_eq!(copy, all);
            assert!(verify_export(&key(), &copy).problems.is_empty());
            // Someone edits the SOC's copy, or checks it with another key.
            copy[25].detail = "{}".into();
            let report = verify_export(&key(), &copy);
            assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
            assert!(
                report.problems[0].starts_with(&format!(
                    "chain {} entry {} ",
                    copy[25].chain_id, copy[25].seq
                )),
                "{:?}",
                report.problems
            );
            assert_eq!(
                verify_export(&AuditKey::new(&[1u8; 32]), &all)
                    .problems
                    .len(),
                2
            );
            // An entry dropped from the other chain's middle is a second break.
            let dropped = copy.remove(5);
            let report = verify_export(&key(), &copy);
            assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
            assert!(
                report.problems.contains(&format!(
                    "chain {}: entry {} is missing (next is {})",
                    dropped.chain_id,
                    dropped.seq,
                    dropped.seq + 1
                )),
                "{:?}",
                report.problems
            );
        }
        assert!(parse_export("chain_id,seq\n1,2\n").is_err());
        assert!(parse_export("{\"chain_id\": 1}\n").is_err());
    }
}
