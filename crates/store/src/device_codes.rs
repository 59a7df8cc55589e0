//! Device codes of the device authorization grant (RFC 8628): a kiosk's pending request, the
//! person's decision, and the polling state that `slow_down` needs on every replica.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, is_unique_violation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCodeRecord {
    /// SHA-256 of the device code; the code itself is never stored.
    pub id: String,
    /// Keyed hash of the normalised user code.
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub interval_secs: i64,
    pub last_poll_at: Option<i64>,
    /// Whether the last poll came before `last_poll_at + interval` (RFC 8628 §3.5).
    pub slowed: bool,
    pub status: DeviceStatus,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub decided_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Approved and exchanged for tokens: spent.
    Used,
}

impl DeviceStatus {
    fn parse(s: &str) -> Result<DeviceStatus> {
        Ok(match s {
            "pending" => DeviceStatus::Pending,
            "approved" => DeviceStatus::Approved,
            "denied" => DeviceStatus::Denied,
            "used" => DeviceStatus::Used,
            other => {
                return Err(crate::StoreError::Corrupt(format!(
                    "device code status {other:?}"
                )));
            }
        })
    }
}

const COLUMNS: &str = "id, user_code, client_id, scope, created_at, expires_at, interval_secs, last_poll_at, slowed, status, user_id, session_id, decided_at";

fn from_row(row: &AnyRow) -> Result<DeviceCodeRecord> {
    let status: String = row.try_get("status")?;
    Ok(DeviceCodeRecord {
        id: row.try_get("id")?,
        user_code: row.try_get("user_code")?,
        client_id: row.try_get("client_id")?,
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        interval_secs: row.try_get("interval_secs")?,
        last_poll_at: row.try_get("last_poll_at")?,
        slowed: row.try_get::<i32, _>("slowed")? != 0,
        status: DeviceStatus::parse(&status)?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        decided_at: row.try_get("decided_at")?,
    })
}

impl Store {
    /// Records a new device code; `Ok(false)` when its user code collides with another one
    /// (the caller draws again).
    pub async fn insert_device_code(&self, d: &DeviceCodeRecord) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO device_codes (id, user_code, client_id, scope, created_at, expires_at, interval_secs, last_poll_at, slowed, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, 'pending')",
        )
        .bind(&d.id)
        .bind(&d.user_code)
        .bind(&d.client_id)
        .bind(&d.scope)
        .bind(d.created_at)
        .bind(d.expires_at)
        .bind(d.interval_secs)
        .execute(self.pool())
        .await;
        match done {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The live (unexpired) device code with this user-code hash.
    pub async fn device_code_by_user_code(
        &self,
        user_code: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM device_codes WHERE user_code = $1 AND expires_at > $2"
        )))
        .bind(user_code)
        .bind(now)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// Counts one poll of `client_id` for device code `id`, in one statement so that replicas
    /// agree: a poll before `last_poll_at + interval` marks the row `slowed` and adds 5 seconds
    /// to the interval (RFC 8628 §3.5). Returns the row as it is after this poll.
    pub async fn poll_device_code(
        &self,
        id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<DeviceCodeRecord>> {
        const EARLY: &str = "last_poll_at IS NOT NULL AND $1 < last_poll_at + interval_secs";
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE device_codes SET \
             interval_secs = CASE WHEN {EARLY} THEN interval_secs + 5 ELSE interval_secs END, \
             slowed = CASE WHEN {EARLY} THEN 1 ELSE 0 END, \
             last_poll_at = $1 \
             WHERE id = $2 AND client_id = $3 RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// Records the person's decision on a pending, unexpired code; `false` when it was no
    /// longer pending (decided elsewhere, expired).
    pub async fn decide_device_code(
        &self,
        id: &str,
        approved: bool,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = $1, user_id = $2, session_id = $3, decided_at = $4 \
             WHERE id = $5 AND status = 'pending' AND expires_at > $4",
        )
        .bind(if approved { "approved" } else { "denied" })
        .bind(user_id)
        .bind(session_id)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Spends an approved code: of two concurrent redemptions exactly one gets `true`.
    pub async fn spend_device_code(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE device_codes SET status = 'used' WHERE id = $1 AND status = 'approved'",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes device codes that expired before `before`; returns how many.
    pub async fn purge_device_codes(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM device_codes WHERE expires_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
