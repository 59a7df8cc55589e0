//! Counters of failed attempts, shared by every replica.
//!
//! A count is kept until a success clears it and decays by one every `decay` seconds since the
//! last counted attempt (the remainder is dropped at each new count, which only slows the
//! decay). Waiting a fixed window therefore no longer wipes an attacker's record.

use sqlx::Row;

use crate::{Result, Store};

/// The slowest decay any caller uses; rows are purged once this rate would have emptied them.
pub const SLOWEST_DECAY_SECS: i64 = 3600;

/// The count left at `$2` (now) with decay `$3`, in SQL shared by both backends.
const DECAYED: &str = "CASE WHEN login_throttle.failures - (($2 - login_throttle.last_at) / $3) > 0 \
     THEN login_throttle.failures - (($2 - login_throttle.last_at) / $3) ELSE 0 END";

/// A counter as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleState {
    /// Failures at `last_at`, before decay.
    pub failures: i64,
    /// When the last attempt was counted.
    pub last_at: i64,
    pub blocked_until: i64,
}

impl ThrottleState {
    /// The count left at `now` (as the SQL computes it).
    pub fn decayed(&self, now: i64, decay_secs: i64) -> i64 {
        (self.failures - (now - self.last_at).max(0) / decay_secs.max(1)).max(0)
    }

    /// When the count falls below `limit` (`None` when it already is).
    pub fn below_at(&self, now: i64, limit: i64, decay_secs: i64) -> Option<i64> {
        (self.decayed(now, decay_secs) >= limit)
            .then(|| self.last_at + decay_secs.max(1) * (self.failures - limit + 1))
    }
}

impl Store {
    /// Counts one failure for `key` and returns the decayed count including it.
    pub async fn record_failure(&self, key: &str, now: i64, decay_secs: i64) -> Result<i64> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO login_throttle (key, failures, last_at, blocked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET failures = {DECAYED} + 1, last_at = $2 \
             RETURNING failures"
        )))
        .bind(key)
        .bind(now)
        .bind(decay_secs.max(1))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("failures")?)
    }

    /// Counts an attempt only while the decayed count is below `limit`, atomically (of many
    /// concurrent attempts on any replica, no more than the room left get through). Returns
    /// the new count, or `None` when the attempt is refused; a refusal is not counted, so it
    /// does not hold back the decay.
    pub async fn admit_within(
        &self,
        key: &str,
        now: i64,
        limit: i64,
        decay_secs: i64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO login_throttle (key, failures, last_at, blocked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET failures = {DECAYED} + 1, last_at = $2 \
             WHERE {DECAYED} < $4 \
             RETURNING failures"
        )))
        .bind(key)
        .bind(now)
        .bind(decay_secs.max(1))
        .bind(limit)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("failures")?),
            None => None,
        })
    }

    /// The counter of `key` as stored (`None` when there is none).
    pub async fn throttle_state(&self, key: &str) -> Result<Option<ThrottleState>> {
        let row = sqlx::query(
            "SELECT failures, last_at, blocked_until FROM login_throttle WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(ThrottleState {
                failures: row.try_get("failures")?,
                last_at: row.try_get("last_at")?,
                blocked_until: row.try_get("blocked_until")?,
            })
        })
        .transpose()
    }

    pub async fn block_until(&self, key: &str, until: i64) -> Result<()> {
        sqlx::query("UPDATE login_throttle SET blocked_until = $1 WHERE key = $2")
            .bind(until)
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Lets one attempt through a lapsed block and starts the next block, atomically: of many
    /// concurrent attempts (on any replica) exactly one gets `true`.
    pub async fn claim_attempt(&self, key: &str, now: i64, until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE login_throttle SET blocked_until = $1 WHERE key = $2 AND blocked_until <= $3",
        )
        .bind(until)
        .bind(key)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Until when `key` is blocked (0 when it is not).
    pub async fn blocked_until(&self, key: &str) -> Result<i64> {
        let row = sqlx::query("SELECT blocked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("blocked_until")?,
            None => 0,
        })
    }

    /// Forgets `key`'s failures; true when there were any.
    pub async fn clear_failures(&self, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::testdb;

    #[tokio::test]
    async fn failures_are_kept_and_decay_slowly() {
        let store = testdb::store().await;
        assert_eq!(store.record_failure("user:an", 100, 60).await.unwrap(), 1);
        assert_eq!(store.record_failure("user:an", 101, 60).await.unwrap(), 2);
        assert_eq!(store.record_failure("user:an", 102, 60).await.unwrap(), 3);
        // An hour later the old fixed window would have restarted at one: here 60 of the
        // count's seconds took one failure each, but only down to zero.
        assert_eq!(store.record_failure("user:an", 222, 60).await.unwrap(), 2);
        assert_eq!(
            store.record_failure("user:an", 10_000, 60).await.unwrap(),
            1
        );
        store.block_until("user:an", 900).await.unwrap();
        assert_eq!(store.blocked_until("user:an").await.unwrap(), 900);
        assert!(store.clear_failures("user:an").await.unwrap());
        assert_eq!(store.blocked_until("user:an").await.unwrap(), 0);
        assert!(!store.clear_failures("user:an").await.unwrap());
    }

    #[tokio::test]
    async fn admission_stops_at_the_limit_until_the_count_decays() {
        let store = testdb::store().await;
        for n in 1..=3 {
            assert_eq!(
                store.admit_within("k", 1000, 3, 100).await.unwrap(),
                Some(n)
            );
        }
        assert_eq!(store.admit_within("k", 1050, 3, 100).await.unwrap(), None);
        // Refusals are not counted, so the decay runs from the last admitted attempt.
        assert_eq!(store.admit_within("k", 1099, 3, 100).await.unwrap(), None);
        let s = store.throttle_state("k").await.unwrap().unwrap();
        assert_eq!((s.failures, s.last_at), (3, 1000));
        assert_eq!(s.decayed(1099, 100), 3);
        assert_eq!(s.below_at(1099, 3, 100), Some(1100));
        assert_eq!(s.below_at(1100, 3, 100), None);
        assert_eq!(
            store.admit_within("k", 1100, 3, 100).await.unwrap(),
            Some(3)
        );
        assert_eq!(store.admit_within("k", 1101, 3, 100).await.unwrap(), None);
        assert_eq!(store.throttle_state("other").await.unwrap(), None);
    }
}
