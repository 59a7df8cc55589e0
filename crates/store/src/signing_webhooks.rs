//! The outbox of signing-request webhooks (`signing_webhooks`), claimed with a lease exactly
//! like `backchannel_outbox`: workers of any replica take due rows by conditional update, so
//! each attempt is made by one of them and a crashed worker's lease simply runs out.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};

/// One webhook to deliver, as claimed by a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEntry {
    pub request_id: String,
    /// The status announced (`signed`, `rejected`, ...).
    pub status: String,
    pub client_id: String,
    pub uri: String,
    pub created_at: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    pub give_up_at: i64,
}

/// The full state of a webhook row (for inspection and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookState {
    pub entry: WebhookEntry,
    pub next_at: i64,
    pub lease_until: i64,
    pub lease_owner: Option<String>,
    pub delivered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

const ENTRY_COLUMNS: &str = "request_id, status, client_id, uri, created_at, attempts, give_up_at";

fn entry_from_row(row: &AnyRow) -> Result<WebhookEntry> {
    Ok(WebhookEntry {
        request_id: row.try_get("request_id")?,
        status: row.try_get("status")?,
        client_id: row.try_get("client_id")?,
        uri: row.try_get("uri")?,
        created_at: row.try_get("created_at")?,
        attempts: row.try_get("attempts")?,
        give_up_at: row.try_get("give_up_at")?,
    })
}

impl Store {
    /// Claims up to `limit` due webhooks for `owner` until `lease_until`.
    pub async fn claim_signing_webhooks(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<WebhookEntry>> {
        let candidates = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM signing_webhooks \
             WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_at <= $1 AND lease_until < $1 \
             ORDER BY next_at LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::new();
        for row in &candidates {
            let entry = entry_from_row(row)?;
            let won = sqlx::query(
                "UPDATE signing_webhooks SET lease_until = $1, lease_owner = $2 \
                 WHERE request_id = $3 AND status = $4 AND attempts = $5 AND delivered_at IS NULL \
                 AND abandoned_at IS NULL AND next_at <= $6 AND lease_until < $6",
            )
            .bind(lease_until)
            .bind(owner)
            .bind(&entry.request_id)
            .bind(&entry.status)
            .bind(entry.attempts)
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected()
                == 1;
            if won {
                claimed.push(entry);
            }
        }
        Ok(claimed)
    }

    /// Records a successful attempt. `false` if `owner` no longer held the lease.
    pub async fn signing_webhook_delivered(
        &self,
        entry: &WebhookEntry,
        owner: &str,
        status: i64,
        now: i64,
    ) -> Result<bool> {
        self.finish_webhook_attempt(entry, owner, "delivered_at = $1", now, Some(status), None)
            .await
    }

    /// Records a failed attempt to be retried at `next_at`.
    pub async fn signing_webhook_retry(
        &self,
        entry: &WebhookEntry,
        owner: &str,
        status: Option<i64>,
        error: &str,
        next_at: i64,
    ) -> Result<bool> {
        self.finish_webhook_attempt(entry, owner, "next_at = $1", next_at, status, Some(error))
            .await
    }

    /// Records a failed attempt after which the webhook is given up.
    pub async fn signing_webhook_abandon(
        &self,
        entry: &WebhookEntry,
        owner: &str,
        status: Option<i64>,
        error: &str,
        now: i64,
    ) -> Result<bool> {
        self.finish_webhook_attempt(entry, owner, "abandoned_at = $1", now, status, Some(error))
            .await
    }

    async fn finish_webhook_attempt(
        &self,
        entry: &WebhookEntry,
        owner: &str,
        set: &'static str,
        time: i64,
        status: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE signing_webhooks SET {set}, attempts = attempts + 1, lease_until = 0, \
             last_status = $2, last_error = $3 \
             WHERE request_id = $4 AND status = $5 AND lease_owner = $6 AND attempts = $7"
        )))
        .bind(time)
        .bind(status)
        .bind(error)
        .bind(&entry.request_id)
        .bind(&entry.status)
        .bind(owner)
        .bind(entry.attempts)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The webhooks of one request, oldest first.
    pub async fn signing_webhooks(&self, request_id: &str) -> Result<Vec<WebhookState>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS}, next_at, lease_until, lease_owner, delivered_at, abandoned_at, last_status, last_error \
             FROM signing_webhooks WHERE request_id = $1 ORDER BY created_at, status"
        )))
        .bind(request_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| -> Result<WebhookState> {
                Ok(WebhookState {
                    entry: entry_from_row(row)?,
                    next_at: row.try_get("next_at")?,
                    lease_until: row.try_get("lease_until")?,
                    lease_owner: row.try_get("lease_owner")?,
                    delivered_at: row.try_get("delivered_at")?,
                    abandoned_at: row.try_get("abandoned_at")?,
                    last_status: row.try_get("last_status")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Housekeeping: forgets webhooks delivered or given up before `before`.
    pub async fn purge_signing_webhooks(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_webhooks WHERE delivered_at < $1 OR abandoned_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::signing_requests::RequestRecord;
    use crate::testdb::store;

    async fn queued(s: &Store, id: &str) {
        s.insert_signing_request(
            &RequestRecord {
                id: id.into(),
                client_id: "vanban".into(),
                user_id: "u1".into(),
                credential_id: "c1".into(),
                title: "Quyết định".into(),
                level: "B-B".into(),
                purpose: "sign".into(),
                status: "rejected".into(),
                callback_uri: Some("https://vanban.test/hook".into()),
                created_at: 10,
                expires_at: 100,
                decided_at: Some(20),
                factor: None,
                finished_at: None,
                fetched_at: None,
                purge_at: 1000,
                replica: None,
            },
            &[],
        )
        .await
        .unwrap();
        assert!(
            s.enqueue_signing_webhook(
                id,
                "rejected",
                "vanban",
                "https://vanban.test/hook",
                20,
                500
            )
            .await
            .unwrap()
        );
    }

    #[tokio::test]
    async fn one_worker_wins_a_webhook_and_retries_then_delivery_are_recorded() {
        let s = store().await;
        queued(&s, "r1").await;
        // Queued once per status.
        assert!(
            !s.enqueue_signing_webhook("r1", "rejected", "vanban", "https://x.test", 21, 500)
                .await
                .unwrap()
        );
        let a = s.claim_signing_webhooks("a", 20, 80, 16).await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].uri, "https://vanban.test/hook");
        // Leased: the other replica gets nothing, even later while the lease runs.
        assert!(
            s.claim_signing_webhooks("b", 30, 90, 16)
                .await
                .unwrap()
                .is_empty()
        );
        // Only the owner records the attempt.
        assert!(
            !s.signing_webhook_retry(&a[0], "b", Some(500), "x", 40)
                .await
                .unwrap()
        );
        assert!(
            s.signing_webhook_retry(&a[0], "a", Some(500), "HTTP status 500", 40)
                .await
                .unwrap()
        );
        assert!(
            s.claim_signing_webhooks("b", 39, 99, 16)
                .await
                .unwrap()
                .is_empty()
        );
        let b = s.claim_signing_webhooks("b", 40, 100, 16).await.unwrap();
        assert_eq!(b[0].attempts, 1);
        // A's stale copy of the entry records nothing.
        assert!(
            !s.signing_webhook_delivered(&a[0], "a", 200, 41)
                .await
                .unwrap()
        );
        assert!(
            s.signing_webhook_delivered(&b[0], "b", 204, 41)
                .await
                .unwrap()
        );
        let state = &s.signing_webhooks("r1").await.unwrap()[0];
        assert_eq!(
            (
                state.entry.attempts,
                state.delivered_at,
                state.last_status,
                state.last_error.as_deref()
            ),
            (2, Some(41), Some(204), None)
        );
        assert!(
            s.claim_signing_webhooks("c", 1000, 1060, 16)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.purge_signing_webhooks(41).await.unwrap(), 0);
        assert_eq!(s.purge_signing_webhooks(42).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn an_abandoned_webhook_is_never_claimed_again() {
        let s = store().await;
        queued(&s, "r2").await;
        let a = s.claim_signing_webhooks("a", 600, 660, 16).await.unwrap();
        assert!(
            s.signing_webhook_abandon(&a[0], "a", None, "connection failed", 600)
                .await
                .unwrap()
        );
        // An expired lease does not revive it.
        assert!(
            s.claim_signing_webhooks("b", 10_000, 10_060, 16)
                .await
                .unwrap()
                .is_empty()
        );
        let state = &s.signing_webhooks("r2").await.unwrap()[0];
        assert_eq!(state.abandoned_at, Some(600));
        assert_eq!(state.last_error.as_deref(), Some("connection failed"));
    }
}
