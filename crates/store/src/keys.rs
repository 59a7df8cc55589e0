//! Token-signing key records. The private half is either wrapped by the software token or
//! lives in an HSM; this table only holds what is needed to find and publish it.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, is_unique_violation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub backend: String,
    pub key_ref: Vec<u8>,
    pub public_jwk: String,
    pub status: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub remove_after: Option<i64>,
}

const COLUMNS: &str =
    "kid, alg, backend, key_ref, public_jwk, status, created_at, retired_at, remove_after";

fn from_row(row: &AnyRow) -> Result<SigningKeyRecord> {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        alg: row.try_get("alg")?,
        backend: row.try_get("backend")?,
        key_ref: row.try_get("key_ref")?,
        public_jwk: row.try_get("public_jwk")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
        remove_after: row.try_get("remove_after")?,
    })
}

impl Store {
    /// Inserts a new active key. Returns `false` when another process already holds an active
    /// key for this algorithm (replicas starting together): the caller then uses that one.
    pub async fn insert_active_key(&self, key: &SigningKeyRecord) -> Result<bool> {
        let res = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO signing_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'active', $6, NULL, NULL)"
        )))
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.backend)
        .bind(&key.key_ref)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn active_key(&self, alg: &str) -> Result<Option<SigningKeyRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE alg = $1 AND status = 'active'"
        )))
        .bind(alg)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    /// Keys to publish in the JWKS: active ones and retired ones still verifying live tokens.
    pub async fn published_keys(&self, now: i64) -> Result<Vec<SigningKeyRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE status = 'active' OR remove_after > $1 ORDER BY created_at DESC, kid"
        )))
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Retires `old_kid` (kept published until `remove_after`) and activates `new` in one
    /// transaction. Returns `false`, changing nothing, when `old_kid` is no longer the active
    /// key (another replica rotated first).
    pub async fn rotate_key(
        &self,
        old_kid: &str,
        new: &SigningKeyRecord,
        remove_after: i64,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let retired = sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retired_at = $1, remove_after = $2 WHERE kid = $3 AND status = 'active'",
        )
        .bind(now)
        .bind(remove_after)
        .bind(old_kid)
        .execute(&mut *tx)
        .await?;
        if retired.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO signing_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, 'active', $6, NULL, NULL)"
        )))
        .bind(&new.kid)
        .bind(&new.alg)
        .bind(&new.backend)
        .bind(&new.key_ref)
        .bind(&new.public_jwk)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }
}
