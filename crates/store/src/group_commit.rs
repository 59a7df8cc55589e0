//! Group commit: the writes of a grant (spent code or refresh token, new refresh family and
//! token, access-token record) ride in the audit writer's batch, so that concurrent requests
//! share one transaction and one commit, with one statement per table per batch. Each request
//! is answered after its batch commits, as before.
//!
//! Exactly-once spending stays in the database: a batch spends with one
//! `UPDATE ... WHERE used_at IS NULL AND id IN (...) RETURNING id`, which on PostgreSQL waits
//! for any other replica's transaction holding the row and then re-checks `used_at`. Of several
//! requests in one batch spending the same id, only the first is granted it. A job whose spend
//! is lost has none of its writes applied and no audit entry: the caller takes the replay path.

use std::collections::HashSet;

use sqlx::{AssertSqlSafe, Row};

use crate::Result;
use crate::codes::TokenRecord;
use crate::refresh::{RefreshFamily, RefreshTokenRecord};

/// Rows per multi-row statement: 13 parameters at most per row, far below either database's
/// limit on bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 64;

/// Something single-use that a job spends before its writes apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spend {
    /// An authorization code, by its SHA-256.
    Code(String),
    /// A refresh token, by its SHA-256; only while its family is not revoked.
    RefreshToken(String),
}

/// What a request writes along with its audit entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Writes {
    pub spend: Option<Spend>,
    pub families: Vec<RefreshFamily>,
    pub refresh_tokens: Vec<RefreshTokenRecord>,
    pub tokens: Vec<TokenRecord>,
}

impl Writes {
    pub fn spending(spend: Spend) -> Writes {
        Writes {
            spend: Some(spend),
            ..Writes::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.spend.is_none()
            && self.families.is_empty()
            && self.refresh_tokens.is_empty()
            && self.tokens.is_empty()
    }
}

/// `($1, $2, ...), (...)`: placeholders for `rows` rows of `cols` values.
pub(crate) fn values(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=cols).map(|k| format!("${}", r * cols + k)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Applies the writes of one batch in `tx`; returns, per job, whether it was applied (its spend,
/// if any, won).
pub(crate) async fn apply(tx: &mut Tx<'_>, jobs: &[&Writes], now: i64) -> Result<Vec<bool>> {
    let mut applied = vec![true; jobs.len()];
    if jobs.iter().all(|w| w.is_empty()) {
        return Ok(applied);
    }
    let ids = |code: bool| -> Vec<&String> {
        jobs.iter()
            .filter_map(|w| match &w.spend {
                Some(Spend::Code(id)) if code => Some(id),
                Some(Spend::RefreshToken(id)) if !code => Some(id),
                _ => None,
            })
            .collect()
    };
    let mut codes = spend(tx, ids(true), now, SPEND_CODES).await?;
    // A token of a revoked family is not spent: its family's revocation may have raced it.
    let mut refresh = spend(tx, ids(false), now, SPEND_REFRESH_TOKENS).await?;
    for (w, ok) in jobs.iter().zip(applied.iter_mut()) {
        // The first job naming a spent id takes it; any later one in the batch lost.
        *ok = match &w.spend {
            None => true,
            Some(Spend::Code(id)) => codes.remove(id.as_str()),
            Some(Spend::RefreshToken(id)) => refresh.remove(id.as_str()),
        };
    }
    let live: Vec<&Writes> = jobs
        .iter()
        .zip(&applied)
        .filter(|(_, ok)| **ok)
        .map(|(w, _)| *w)
        .collect();
    insert_families(tx, live.iter().flat_map(|w| &w.families).collect()).await?;
    insert_refresh_tokens(tx, live.iter().flat_map(|w| &w.refresh_tokens).collect()).await?;
    insert_tokens(tx, live.iter().flat_map(|w| &w.tokens).collect()).await?;
    Ok(applied)
}

const SPEND_CODES: &str =
    "UPDATE auth_codes SET used_at = {at} WHERE used_at IS NULL AND id IN ({ids}) RETURNING id";
const SPEND_REFRESH_TOKENS: &str = "UPDATE refresh_tokens SET used_at = {at} WHERE used_at IS NULL AND id IN ({ids}) \
     AND family_id IN (SELECT id FROM refresh_families WHERE revoked_at IS NULL) RETURNING id";

/// Spends `ids` with `template`, one statement per chunk; returns those this batch spent.
async fn spend(
    tx: &mut Tx<'_>,
    mut ids: Vec<&String>,
    now: i64,
    template: &str,
) -> Result<HashSet<String>> {
    ids.sort();
    ids.dedup();
    let mut spent = HashSet::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let list: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = template
            .replace("{ids}", &list.join(", "))
            .replace("{at}", &format!("${}", chunk.len() + 1));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.as_str());
        }
        for row in q.bind(now).fetch_all(&mut **tx).await? {
            spent.insert(row.try_get::<String, _>("id")?);
        }
    }
    Ok(spent)
}

async fn insert_families(tx: &mut Tx<'_>, rows: Vec<&RefreshFamily>) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO refresh_families (id, client_id, user_id, session_id, scope, auth_time, acr, amr, offline, created_at, absolute_expires_at) VALUES {}",
            values(chunk.len(), 11)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for f in chunk {
            q = q
                .bind(f.id.as_str())
                .bind(f.client_id.as_str())
                .bind(f.user_id.as_str())
                .bind(f.session_id.as_deref())
                .bind(f.scope.as_str())
                .bind(f.auth_time)
                .bind(f.acr.as_str())
                .bind(f.amr.join(" "))
                .bind(i64::from(f.offline))
                .bind(f.created_at)
                .bind(f.absolute_expires_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_refresh_tokens(tx: &mut Tx<'_>, rows: Vec<&RefreshTokenRecord>) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO refresh_tokens (id, family_id, issued_at, expires_at) VALUES {}",
            values(chunk.len(), 4)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for t in chunk {
            q = q
                .bind(t.id.as_str())
                .bind(t.family_id.as_str())
                .bind(t.issued_at)
                .bind(t.expires_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_tokens(tx: &mut Tx<'_>, rows: Vec<&TokenRecord>) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO tokens (jti, kind, client_id, user_id, session_id, code_id, scope, issued_at, expires_at, family_id) VALUES {}",
            values(chunk.len(), 10)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for t in chunk {
            q = q
                .bind(t.jti.as_str())
                .bind(t.kind.as_str())
                .bind(t.client_id.as_str())
                .bind(t.user_id.as_deref())
                .bind(t.session_id.as_deref())
                .bind(t.code_id.as_deref())
                .bind(t.scope.as_str())
                .bind(t.issued_at)
                .bind(t.expires_at)
                .bind(t.family_id.as_deref());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuditKey, AuditLog, Outcome};
    use crate::codes::AuthCodeRecord;
    use crate::logout::tests::world;

    const T: i64 = 1_750_000_000;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            at: T,
            event: "token.issued".into(),
            actor: Some("u1".into()),
            client_id: Some("vanban".into()),
            source_ip: None,
            outcome: Outcome::Success,
            detail: serde_json::json!({ "n": n }),
        }
    }

    fn token(jti: &str) -> TokenRecord {
        TokenRecord {
            jti: jti.into(),
            kind: "access".into(),
            client_id: "vanban".into(),
            user_id: Some("u1".into()),
            session_id: None,
            code_id: Some("code-1".into()),
            family_id: None,
            scope: "openid".into(),
            issued_at: T,
            expires_at: T + 600,
            revoked_at: None,
        }
    }

    /// Many requests spending one code at once, most of them in shared batches: exactly one
    /// wins; only its token record and its audit entry are written, and the chain verifies.
    #[tokio::test]
    async fn one_code_spent_by_many_at_once_is_spent_once() {
        let store = world().await;
        store
            .insert_code(&AuthCodeRecord {
                id: "code-1".into(),
                client_id: "vanban".into(),
                user_id: "u1".into(),
                session_id: "s1".into(),
                redirect_uri: "https://vanban.test/cb".into(),
                scope: "openid".into(),
                nonce: None,
                code_challenge: None,
                auth_time: T,
                acr: "urn:tessera:loa:1".into(),
                amr: vec!["pwd".into()],
                created_at: T,
                expires_at: T + 60,
                used_at: None,
            })
            .await
            .unwrap();
        let key = AuditKey::new(b"group-commit-test-key");
        let log = AuditLog::start(store.clone(), key.clone(), "replica", T, "chain".into())
            .await
            .unwrap();
        let mut racers = tokio::task::JoinSet::new();
        for n in 0..64 {
            let log = log.clone();
            racers.spawn(async move {
                let writes = Writes {
                    tokens: vec![token(&format!("jti-{n}"))],
                    ..Writes::spending(Spend::Code("code-1".into()))
                };
                log.commit(event(n), writes).await.unwrap()
            });
        }
        let won = racers.join_all().await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
        let winner = won.iter().position(|w| *w).unwrap();
        assert!(
            store
                .token(&format!("jti-{winner}"))
                .await
                .unwrap()
                .is_some()
        );
        for n in (0..64).filter(|n| *n != winner) {
            assert!(store.token(&format!("jti-{n}")).await.unwrap().is_none());
        }
        let entries = store.recent_audit(100).await.unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(
            entries[0].detail,
            serde_json::json!({ "n": winner }).to_string()
        );
        let report = store.verify_audit(&key).await.unwrap();
        assert_eq!(report.entries, 1);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    /// A first batch whose every spend is lost writes no entry, so it must leave the chain
    /// unregistered for the next batch (which then registers it with its first entry).
    #[tokio::test]
    async fn a_chain_whose_first_batch_wrote_nothing_still_starts() {
        let store = world().await;
        let key = AuditKey::new(b"group-commit-test-key");
        let log = AuditLog::start(store.clone(), key.clone(), "replica", T, "chain".into())
            .await
            .unwrap();
        let lost = Writes::spending(Spend::Code("no-such-code".into()));
        assert!(!log.commit(event(0), lost).await.unwrap());
        log.record(event(1)).await.unwrap();
        let report = store.verify_audit(&key).await.unwrap();
        assert_eq!((report.chains, report.entries), (1, 1));
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
