//! Single logout: ending sessions together with what hangs on them, and the durable outbox of
//! back-channel logout notifications (OpenID Connect Back-Channel Logout 1.0).
//!
//! A session ends in one transaction with the revocation of its access tokens and online refresh
//! families and the outbox rows for every client that took part in it, so a logout is never
//! half done. Workers of any replica then claim due rows with a lease.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{Result, Store};

/// What ending one session did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    /// The session key (`sessions.id`).
    pub id: String,
    /// Public session id, the `sid` claim.
    pub sid: String,
    pub user_id: String,
    pub tokens_revoked: u64,
    pub families_revoked: u64,
    /// Back-channel notifications queued.
    pub notifications: u64,
}

/// One notification to deliver, as claimed by a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub sid: String,
    pub client_id: String,
    pub user_id: String,
    pub reason: String,
    pub created_at: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    pub give_up_at: i64,
}

/// The full state of an outbox row (for inspection and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxState {
    pub entry: OutboxEntry,
    pub next_at: i64,
    pub lease_until: i64,
    pub lease_owner: Option<String>,
    pub delivered_at: Option<i64>,
    pub abandoned_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

const ENTRY_COLUMNS: &str = "sid, client_id, user_id, reason, created_at, attempts, give_up_at";

fn entry_from_row(row: &AnyRow) -> Result<OutboxEntry> {
    Ok(OutboxEntry {
        sid: row.try_get("sid")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
        attempts: row.try_get("attempts")?,
        give_up_at: row.try_get("give_up_at")?,
    })
}

/// Revokes what hangs on an ended session and queues its notifications, inside the caller's
/// transaction. Offline refresh families outlive the session by design.
async fn wind_up(
    conn: &mut AnyConnection,
    ended: (String, String, String),
    reason: &str,
    now: i64,
    give_up_at: i64,
) -> Result<EndedSession> {
    let (id, sid, user_id) = ended;
    let tokens = sqlx::query(
        "UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE session_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(&id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let families = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2 WHERE session_id = $3 AND offline = 0 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(&id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let notifications = sqlx::query(
        "INSERT INTO backchannel_outbox (sid, client_id, user_id, reason, created_at, attempts, next_at, lease_until, give_up_at) \
         SELECT $1, sc.client_id, $2, $3, $4, 0, $4, 0, $5 \
         FROM session_clients sc JOIN clients c ON c.id = sc.client_id \
         WHERE sc.session_id = $6 AND c.backchannel_logout_uri IS NOT NULL AND c.backchannel_logout_uri <> '' \
         ON CONFLICT (sid, client_id) DO NOTHING",
    )
    .bind(&sid)
    .bind(&user_id)
    .bind(reason)
    .bind(now)
    .bind(give_up_at)
    .bind(&id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(EndedSession {
        id,
        sid,
        user_id,
        tokens_revoked: tokens,
        families_revoked: families,
        notifications,
    })
}

fn ended_from_row(row: &AnyRow) -> Result<(String, String, String)> {
    Ok((
        row.try_get("id")?,
        row.try_get("sid")?,
        row.try_get("user_id")?,
    ))
}

impl Store {
    /// Ends one session (RP-initiated or user logout). `None` when it had already ended, e.g.
    /// by a concurrent logout on another replica: then nothing else is done twice.
    pub async fn end_session_with_logout(
        &self,
        session_id: &str,
        reason: &str,
        now: i64,
        give_up_at: i64,
    ) -> Result<Option<EndedSession>> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL RETURNING id, sid, user_id",
        )
        .bind(now)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        let ended = match row {
            Some(row) => {
                Some(wind_up(&mut tx, ended_from_row(&row)?, reason, now, give_up_at).await?)
            }
            None => None,
        };
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends every session of a user that has not ended yet (account disabled), with the same
    /// winding up as a logout.
    pub async fn end_user_sessions_with_logout(
        &self,
        user_id: &str,
        reason: &str,
        now: i64,
        give_up_at: i64,
    ) -> Result<Vec<EndedSession>> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL RETURNING id, sid, user_id",
        )
        .bind(now)
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut ended = Vec::with_capacity(rows.len());
        for row in &rows {
            ended.push(wind_up(&mut tx, ended_from_row(row)?, reason, now, give_up_at).await?);
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Claims up to `limit` due notifications for `owner` until `lease_until`. Each row is taken
    /// by a conditional update, so of several replicas exactly one wins it; a crashed worker's
    /// lease simply runs out.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>> {
        let candidates = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM backchannel_outbox \
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
                "UPDATE backchannel_outbox SET lease_until = $1, lease_owner = $2 \
                 WHERE sid = $3 AND client_id = $4 AND attempts = $5 AND delivered_at IS NULL \
                 AND abandoned_at IS NULL AND next_at <= $6 AND lease_until < $6",
            )
            .bind(lease_until)
            .bind(owner)
            .bind(&entry.sid)
            .bind(&entry.client_id)
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
    pub async fn outbox_delivered(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        status: i64,
        now: i64,
    ) -> Result<bool> {
        self.finish_attempt(entry, owner, "delivered_at = $1", now, Some(status), None)
            .await
    }

    /// Records a failed attempt to be retried at `next_at`.
    pub async fn outbox_retry(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        status: Option<i64>,
        error: &str,
        next_at: i64,
    ) -> Result<bool> {
        self.finish_attempt(entry, owner, "next_at = $1", next_at, status, Some(error))
            .await
    }

    /// Records a failed attempt after which the notification is given up.
    pub async fn outbox_abandon(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        status: Option<i64>,
        error: &str,
        now: i64,
    ) -> Result<bool> {
        self.finish_attempt(entry, owner, "abandoned_at = $1", now, status, Some(error))
            .await
    }

    async fn finish_attempt(
        &self,
        entry: &OutboxEntry,
        owner: &str,
        set: &'static str,
        time: i64,
        status: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE backchannel_outbox SET {set}, attempts = attempts + 1, lease_until = 0, \
             last_status = $2, last_error = $3 \
             WHERE sid = $4 AND client_id = $5 AND lease_owner = $6 AND attempts = $7"
        )))
        .bind(time)
        .bind(status)
        .bind(error)
        .bind(&entry.sid)
        .bind(&entry.client_id)
        .bind(owner)
        .bind(entry.attempts)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The state of one notification.
    pub async fn outbox_state(&self, sid: &str, client_id: &str) -> Result<Option<OutboxState>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS}, next_at, lease_until, lease_owner, delivered_at, abandoned_at, last_status, last_error \
             FROM backchannel_outbox WHERE sid = $1 AND client_id = $2"
        )))
        .bind(sid)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| -> Result<OutboxState> {
            Ok(OutboxState {
                entry: entry_from_row(&row)?,
                next_at: row.try_get("next_at")?,
                lease_until: row.try_get("lease_until")?,
                lease_owner: row.try_get("lease_owner")?,
                delivered_at: row.try_get("delivered_at")?,
                abandoned_at: row.try_get("abandoned_at")?,
                last_status: row.try_get("last_status")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .transpose()
    }

    /// Housekeeping: forgets notifications delivered or given up before `before`.
    pub async fn purge_outbox(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM backchannel_outbox WHERE delivered_at < $1 OR abandoned_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
#[path = "logout_tests.rs"]
pub(crate) mod tests;
