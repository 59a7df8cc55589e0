//! Browser SSO sessions and authorization requests waiting for a login.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Stable key of the session (codes, tokens and logout records point at it). The cookie
    /// that names it is stored apart, as a hash that changes at every authentication.
    pub id: String,
    /// Public session identifier, sent as the `sid` claim.
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

pub(crate) const SESSION_COLUMNS: &str = "id, sid, user_id, auth_time, amr, acr, source_ip, user_agent, created_at, last_seen_at, expires_at, ended_at";

fn session_from_row(row: &AnyRow) -> Result<SessionRecord> {
    session_from_prefixed(row, "")
}

/// A session from columns named `{prefix}{column}` (joins alias them to keep them apart).
pub(crate) fn session_from_prefixed(row: &AnyRow, prefix: &str) -> Result<SessionRecord> {
    let col = |name: &str| format!("{prefix}{name}");
    let amr: String = row.try_get(col("amr").as_str())?;
    Ok(SessionRecord {
        id: row.try_get(col("id").as_str())?,
        sid: row.try_get(col("sid").as_str())?,
        user_id: row.try_get(col("user_id").as_str())?,
        auth_time: row.try_get(col("auth_time").as_str())?,
        amr: amr.split_whitespace().map(str::to_owned).collect(),
        acr: row.try_get(col("acr").as_str())?,
        source_ip: row.try_get(col("source_ip").as_str())?,
        user_agent: row.try_get(col("user_agent").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
        last_seen_at: row.try_get(col("last_seen_at").as_str())?,
        expires_at: row.try_get(col("expires_at").as_str())?,
        ended_at: row.try_get(col("ended_at").as_str())?,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequestRecord {
    /// SHA-256 of the handle held by the browser.
    pub id: String,
    pub client_id: String,
    /// The validated authorization request, as JSON owned by the core crate.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    /// Stores a new session named by the cookie whose SHA-256 is `cookie_hash`.
    pub async fn insert_session(&self, s: &SessionRecord, cookie_hash: &str) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sessions ({SESSION_COLUMNS}, cookie_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12)"
        )))
        .bind(&s.id)
        .bind(&s.sid)
        .bind(&s.user_id)
        .bind(s.auth_time)
        .bind(s.amr.join(" "))
        .bind(&s.acr)
        .bind(&s.source_ip)
        .bind(&s.user_agent)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(cookie_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The live session named by the cookie whose SHA-256 is `cookie_hash` (only its latest
    /// cookie names it).
    pub async fn live_session_by_cookie(
        &self,
        cookie_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE cookie_hash = $1 AND ended_at IS NULL AND expires_at > $2"
        )))
        .bind(cookie_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    /// A session that exists, has not ended and has not expired at `now`.
    pub async fn live_session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1 AND ended_at IS NULL AND expires_at > $2"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    pub async fn touch_session(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a fresh authentication in a live session (same person, e.g. `prompt=login`, or
    /// a step-up) and names it by a new cookie: the cookie hashed as `old_cookie_hash` stops
    /// working in the same statement. False when the session ended or its cookie already
    /// changed (a concurrent authentication won).
    pub async fn reauthenticate_session(
        &self,
        s: &SessionRecord,
        old_cookie_hash: &str,
        new_cookie_hash: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET auth_time = $1, amr = $2, acr = $3, last_seen_at = $4, expires_at = $5, cookie_hash = $6 WHERE id = $7 AND cookie_hash = $8 AND ended_at IS NULL",
        )
        .bind(s.auth_time)
        .bind(s.amr.join(" "))
        .bind(&s.acr)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .bind(new_cookie_hash)
        .bind(&s.id)
        .bind(old_cookie_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A user's live sessions, newest first (for the account page).
    pub async fn live_user_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY created_at DESC"
        )))
        .bind(user_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(session_from_row)
        .collect()
    }

    pub async fn end_session(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every live session of a user (account disabled); returns how many ended.
    pub async fn end_user_sessions(&self, user_id: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Records that a client received a code within this session (for single logout).
    pub async fn add_session_client(
        &self,
        session_id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO session_clients (session_id, client_id, first_at) VALUES ($1, $2, $3) ON CONFLICT (session_id, client_id) DO NOTHING",
        )
        .bind(session_id)
        .bind(client_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn insert_auth_request(&self, r: &AuthRequestRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_requests (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.params)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn auth_request(&self, id: &str, now: i64) -> Result<Option<AuthRequestRecord>> {
        let row = sqlx::query(
            "SELECT id, client_id, params, created_at, expires_at FROM auth_requests WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| -> Result<AuthRequestRecord> {
            Ok(AuthRequestRecord {
                id: row.try_get("id")?,
                client_id: row.try_get("client_id")?,
                params: row.try_get("params")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Returns false when the request was already gone (spent by another answer).
    pub async fn delete_auth_request(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM auth_requests WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Housekeeping: drops expired pending requests, codes and throttle entries.
    pub async fn purge_expired(&self, now: i64) -> Result<()> {
        sqlx::query("DELETE FROM auth_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        // Used codes are kept a day so that a late replay is still recognised and audited.
        sqlx::query("DELETE FROM auth_codes WHERE expires_at <= $1")
            .bind(now - 86_400)
            .execute(self.pool())
            .await?;
        // Token records outlive their tokens by a day (audit questions, late revocations).
        sqlx::query("DELETE FROM tokens WHERE expires_at <= $1")
            .bind(now - 86_400)
            .execute(self.pool())
            .await?;
        // Spent refresh tokens are kept while their family lives, to recognise re-use.
        sqlx::query("DELETE FROM refresh_families WHERE absolute_expires_at <= $1")
            .bind(now - 86_400)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        // A throttle row goes once its count has decayed to nothing at the slowest rate used.
        sqlx::query(
            "DELETE FROM login_throttle WHERE blocked_until <= $1 AND last_at + failures * $2 <= $1",
        )
        .bind(now)
        .bind(crate::throttle::SLOWEST_DECAY_SECS)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
