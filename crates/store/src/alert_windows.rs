//! Alert windows: whether an occurrence of a condition starts a new attack window (and so
//! deserves an alert) or belongs to one already alerted. Kept in the database so that every
//! replica agrees: of concurrent occurrences on any replica, exactly one opens a window.

use crate::{Result, Store};

impl Store {
    /// Records an occurrence of `key` at `now`. Returns `true` when it opens a window: there
    /// was none, or the last occurrence was more than `quiet_secs` before `now`. Otherwise the
    /// open window is extended to `now`.
    pub async fn open_alert_window(&self, key: &str, now: i64, quiet_secs: i64) -> Result<bool> {
        // The conditional upsert is atomic: a concurrent occurrence sees the fresh `last_at`
        // and does not open the window again.
        let opened = sqlx::query(
            "INSERT INTO alert_windows (key, opened_at, last_at) VALUES ($1, $2, $2) \
             ON CONFLICT (key) DO UPDATE SET opened_at = excluded.opened_at, last_at = excluded.last_at \
             WHERE alert_windows.last_at < $3",
        )
        .bind(key)
        .bind(now)
        .bind(now - quiet_secs)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        if !opened {
            sqlx::query("UPDATE alert_windows SET last_at = $2 WHERE key = $1 AND last_at < $2")
                .bind(key)
                .bind(now)
                .execute(self.pool())
                .await?;
        }
        Ok(opened)
    }

    /// Forgets windows quiet since before `before` (they would open anew anyway).
    pub async fn purge_alert_windows(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM alert_windows WHERE last_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::testdb;

    #[tokio::test]
    async fn a_window_opens_once_and_again_only_after_quiet() {
        let store = testdb::store().await;
        assert!(store.open_alert_window("k", 1000, 60).await.unwrap());
        // Occurrences closer than 60 s to the previous one keep the window open…
        for t in [1001, 1050, 1100, 1160] {
            assert!(!store.open_alert_window("k", t, 60).await.unwrap(), "{t}");
        }
        // …so a quiet minute counts from the last occurrence, not from the opening.
        assert!(!store.open_alert_window("k", 1220, 60).await.unwrap());
        assert!(store.open_alert_window("k", 1281, 60).await.unwrap());
        // Keys are apart.
        assert!(store.open_alert_window("other", 1281, 60).await.unwrap());
        assert_eq!(store.purge_alert_windows(1282).await.unwrap(), 2);
        assert!(store.open_alert_window("k", 1283, 60).await.unwrap());
    }
}
