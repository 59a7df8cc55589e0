//! The time-stamping units of Tessera's own TSA (RFC 3161 §2.3): keys in custody certified by
//! an issuing CA, shared by every replica.

use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};

/// A time-stamping unit: its key in custody and the certificate an issuing CA gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaUnit {
    pub id: String,
    pub ca_id: String,
    pub key_alg: String,
    pub key_backend: String,
    pub key_ref: Vec<u8>,
    pub cert_der: Vec<u8>,
    /// The certificate's serial number, lower-case hex.
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The unit signs no token after this (its certificate outlives it).
    pub sign_until: i64,
    pub created_at: i64,
}

const UNIT_COLUMNS: &str = "id, ca_id, key_alg, key_backend, key_ref, cert_der, serial, not_before, not_after, sign_until, created_at";

fn unit_from_row(row: &AnyRow) -> Result<TsaUnit> {
    Ok(TsaUnit {
        id: row.try_get("id")?,
        ca_id: row.try_get("ca_id")?,
        key_alg: row.try_get("key_alg")?,
        key_backend: row.try_get("key_backend")?,
        key_ref: row.try_get("key_ref")?,
        cert_der: row.try_get("cert_der")?,
        serial: row.try_get("serial")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        sign_until: row.try_get("sign_until")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_tsa_unit(&self, u: &TsaUnit) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pki_tsa_units ({UNIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(&u.id)
        .bind(&u.ca_id)
        .bind(&u.key_alg)
        .bind(&u.key_backend)
        .bind(&u.key_ref)
        .bind(&u.cert_der)
        .bind(&u.serial)
        .bind(u.not_before)
        .bind(u.not_after)
        .bind(u.sign_until)
        .bind(u.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The unit of `key_backend` that may sign at `at` and longest after, if any.
    pub async fn tsa_unit(&self, key_backend: &str, at: i64) -> Result<Option<TsaUnit>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM pki_tsa_units WHERE key_backend = $1 AND sign_until > $2 AND not_before <= $2 ORDER BY sign_until DESC, id LIMIT 1"
        )))
        .bind(key_backend)
        .bind(at)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(unit_from_row)
        .transpose()
    }

    /// Every unit, newest first (their certificates, for validators and listings).
    pub async fn list_tsa_units(&self) -> Result<Vec<TsaUnit>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {UNIT_COLUMNS} FROM pki_tsa_units ORDER BY created_at DESC, id"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(unit_from_row)
        .collect()
    }
}
