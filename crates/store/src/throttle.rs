//! Counters of failed logins, shared by every replica.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    /// Counts one failure for `key` and returns the number of failures in the current window.
    /// A window older than `window_start` restarts at one.
    pub async fn record_failure(&self, key: &str, now: i64, window_start: i64) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO login_throttle (key, failures, first_at, blocked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN login_throttle.first_at <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
               first_at = CASE WHEN login_throttle.first_at <= $3 THEN $2 ELSE login_throttle.first_at END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(window_start)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("failures")?)
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

    pub async fn clear_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::testdb;

    #[tokio::test]
    async fn failures_count_within_window_and_restart_after() {
        let store = testdb::store().await;
        assert_eq!(store.record_failure("user:an", 100, 0).await.unwrap(), 1);
        assert_eq!(store.record_failure("user:an", 101, 0).await.unwrap(), 2);
        // window started at 100; a window start after it resets the count
        assert_eq!(store.record_failure("user:an", 500, 200).await.unwrap(), 1);
        store.block_until("user:an", 900).await.unwrap();
        assert_eq!(store.blocked_until("user:an").await.unwrap(), 900);
        store.clear_failures("user:an").await.unwrap();
        assert_eq!(store.blocked_until("user:an").await.unwrap(), 0);
    }
}
