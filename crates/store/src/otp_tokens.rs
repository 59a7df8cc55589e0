//! Hardware OTP tokens: devices showing one-time passwords (HOTP, RFC 4226; TOTP, RFC 6238),
//! provisioned by administrators from the vendor's seed file.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

/// How a token moves from one code to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpKind {
    /// A new code every `period` seconds (RFC 6238).
    Totp,
    /// A new code at each press of the button: an event counter (RFC 4226).
    Hotp,
}

impl OtpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpKind::Totp => "totp",
            OtpKind::Hotp => "hotp",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "totp" => Ok(OtpKind::Totp),
            "hotp" => Ok(OtpKind::Hotp),
            other => Err(StoreError::Corrupt(format!("otp token kind {other}"))),
        }
    }
}

/// The HMAC hash of a token (RFC 6238 §1.2 allows SHA-256 and SHA-512 beside SHA-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl OtpAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpAlgorithm::Sha1 => "SHA1",
            OtpAlgorithm::Sha256 => "SHA256",
            OtpAlgorithm::Sha512 => "SHA512",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "SHA1" => Ok(OtpAlgorithm::Sha1),
            "SHA256" => Ok(OtpAlgorithm::Sha256),
            "SHA512" => Ok(OtpAlgorithm::Sha512),
            other => Err(StoreError::Corrupt(format!("otp token algorithm {other}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpToken {
    pub id: String,
    pub user_id: String,
    pub serial: String,
    pub kind: OtpKind,
    /// Sealed seed; only the core crate can open it.
    pub secret: Vec<u8>,
    pub digits: u8,
    pub algorithm: OtpAlgorithm,
    /// Seconds per time step (TOTP only).
    pub period: Option<i64>,
    /// TOTP: the last accepted time step; HOTP: the last accepted counter. Codes up to it are
    /// spent.
    pub last_used: i64,
    pub last_used_at: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, serial, kind, secret, digits, algorithm, period, last_used, last_used_at, disabled, created_at";

fn from_row(row: &AnyRow) -> Result<OtpToken> {
    let kind: String = row.try_get("kind")?;
    let algorithm: String = row.try_get("algorithm")?;
    let digits: i32 = row.try_get("digits")?;
    Ok(OtpToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        serial: row.try_get("serial")?,
        kind: OtpKind::parse(&kind)?,
        secret: row.try_get("secret")?,
        digits: u8::try_from(digits)
            .map_err(|_| StoreError::Corrupt(format!("otp token digits {digits}")))?,
        algorithm: OtpAlgorithm::parse(&algorithm)?,
        period: row.try_get("period")?,
        last_used: row.try_get("last_used")?,
        last_used_at: row.try_get("last_used_at")?,
        disabled: row.try_get::<i32, _>("disabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new token; [`StoreError::Conflict`] when its serial is taken.
    pub async fn insert_otp_token(&self, t: &OtpToken) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO otp_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.serial)
        .bind(t.kind.as_str())
        .bind(t.secret.clone())
        .bind(i32::from(t.digits))
        .bind(t.algorithm.as_str())
        .bind(t.period)
        .bind(t.last_used)
        .bind(t.last_used_at)
        .bind(i32::from(t.disabled))
        .bind(t.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("OTP token serial {}", t.serial))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// A person's tokens, oldest first; disabled ones too.
    pub async fn otp_tokens_of(&self, user_id: &str) -> Result<Vec<OtpToken>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM otp_tokens WHERE user_id = $1 ORDER BY created_at, serial"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// How many tokens a person may sign in with now.
    pub async fn enabled_otp_tokens(&self, user_id: &str) -> Result<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM otp_tokens WHERE user_id = $1 AND disabled = 0")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Spends the codes of a token up to `value` (a time step or a counter): succeeds once, and
    /// only if no later one was spent before and the token is enabled, so that two replicas
    /// cannot both accept a code.
    pub async fn spend_otp_token(&self, id: &str, value: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE otp_tokens SET last_used = $1, last_used_at = $2 WHERE id = $3 AND last_used < $1 AND disabled = 0",
        )
        .bind(value)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Turns a person's token off or on again; false when they have no token of that serial
    /// or it was already so.
    pub async fn set_otp_token_disabled(
        &self,
        user_id: &str,
        serial: &str,
        disabled: bool,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE otp_tokens SET disabled = $1 WHERE user_id = $2 AND serial = $3 AND disabled <> $1",
        )
        .bind(i32::from(disabled))
        .bind(user_id)
        .bind(serial)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a person's token; false when they have none of that serial.
    pub async fn delete_otp_token(&self, user_id: &str, serial: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM otp_tokens WHERE user_id = $1 AND serial = $2")
            .bind(user_id)
            .bind(serial)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every token of a person; returns how many there were.
    pub async fn delete_user_otp_tokens(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM otp_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
