//! Batched reads: concurrent lookups of one kind by key (clients at every token request,
//! access-token records at introspection) become one `... WHERE key IN (...)` query.
//!
//! One task per kind gathers the lookups that are waiting and starts one query for them; up to
//! [`IN_FLIGHT`] queries run at once, so that the round trip to a remote database does not bound
//! the rate. A lookup always goes into a query that starts after it arrived — so it never sees
//! the database as it was before the lookup was asked for, exactly as with a query of its own: a
//! client removed or a token revoked, on any replica, is seen at once.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{Result, StoreError};

/// Keys per query, and lookups taken per round.
const MAX_KEYS: usize = 256;
const KEYS_PER_QUERY: usize = 64;
/// Queries of one kind running at once. One query at a time left PostgreSQL introspection
/// bounded by batch size over round-trip time (BENCHMARKS.md, issue 14); a few in flight keep
/// batches large while hiding the round trip.
const IN_FLIGHT: usize = 3;

type Reply<V> = oneshot::Sender<Result<Option<V>, String>>;

/// A lookup by key, batched across concurrent callers.
#[derive(Debug)]
pub(crate) struct BatchRead<V> {
    tx: mpsc::Sender<(String, Reply<V>)>,
}

/// How one kind is read: `select` is a `SELECT ... WHERE <key> IN` (the list is appended),
/// `key` the column the rows are matched by.
pub(crate) struct Kind<V> {
    pub select: String,
    pub key: &'static str,
    pub decode: fn(&AnyRow) -> Result<V>,
}

impl<V: Clone + Send + 'static> BatchRead<V> {
    /// Starts the reading task; it ends when the last handle is dropped.
    pub(crate) fn start(pool: AnyPool, kind: Kind<V>) -> BatchRead<V> {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(pool, kind, rx));
        BatchRead { tx }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<V>> {
        let stopped = || StoreError::Corrupt("batched reader stopped".into());
        let (done, wait) = oneshot::channel();
        self.tx
            .send((key.to_owned(), done))
            .await
            .map_err(|_| stopped())?;
        wait.await
            .map_err(|_| stopped())?
            .map_err(|msg| StoreError::Corrupt(format!("batched read failed: {msg}")))
    }
}

async fn run<V: Clone + Send + 'static>(
    pool: AnyPool,
    kind: Kind<V>,
    mut rx: mpsc::Receiver<(String, Reply<V>)>,
) {
    let kind = Arc::new(kind);
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        // A slot first, then the lookups: those that arrive while every slot is busy wait for
        // the next query rather than joining one that started before them.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = Vec::with_capacity(MAX_KEYS);
        if rx.recv_many(&mut jobs, MAX_KEYS).await == 0 {
            return;
        }
        let (pool, kind) = (pool.clone(), kind.clone());
        tokio::spawn(async move {
            answer(&pool, &kind, jobs).await;
            drop(slot);
        });
    }
}

async fn answer<V: Clone>(pool: &AnyPool, kind: &Kind<V>, jobs: Vec<(String, Reply<V>)>) {
    let mut keys: Vec<&str> = jobs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    match read(pool, kind, &keys).await {
        Ok(found) => {
            for (key, done) in jobs {
                let _ = done.send(Ok(found.get(&key).cloned()));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (_, done) in jobs {
                let _ = done.send(Err(msg.clone()));
            }
        }
    }
}

async fn read<V>(pool: &AnyPool, kind: &Kind<V>, keys: &[&str]) -> Result<HashMap<String, V>> {
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let list: Vec<String> = (1..=chunk.len()).map(|k| format!("${k}")).collect();
        let sql = format!("{} ({})", kind.select, list.join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for key in chunk {
            q = q.bind(*key);
        }
        for row in q.fetch_all(pool).await? {
            found.insert(row.try_get::<String, _>(kind.key)?, (kind.decode)(&row)?);
        }
    }
    Ok(found)
}
