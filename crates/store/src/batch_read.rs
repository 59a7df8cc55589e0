//! Batched reads: concurrent lookups of one kind by key (clients at every token request,
//! access-token records at introspection) become one `... WHERE key IN (...)` query.
//!
//! One task per kind runs one query at a time; lookups that arrive while it runs go into the
//! next query, which starts after they arrived — so a lookup never sees the database as it was
//! before the lookup was asked for, exactly as with a query of its own: a client removed or a
//! token revoked, on any replica, is seen at once.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StoreError};

/// Keys per query, and lookups taken per round.
const MAX_KEYS: usize = 256;
const KEYS_PER_QUERY: usize = 64;

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

async fn run<V: Clone>(pool: AnyPool, kind: Kind<V>, mut rx: mpsc::Receiver<(String, Reply<V>)>) {
    let mut jobs = Vec::with_capacity(MAX_KEYS);
    while rx.recv_many(&mut jobs, MAX_KEYS).await > 0 {
        let mut keys: Vec<&str> = jobs.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        match read(&pool, &kind, &keys).await {
            Ok(found) => {
                for (key, done) in jobs.drain(..) {
                    let _ = done.send(Ok(found.get(&key).cloned()));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, done) in jobs.drain(..) {
                    let _ = done.send(Err(msg.clone()));
                }
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
