//! PKI trust and revocation answers: the trust anchors imported certificates must chain to,
//! the delegated OCSP responders, and the cache of signed OCSP responses shared by replicas.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

/// A root (or other CA) the operator trusts for imported certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustAnchor {
    pub id: String,
    pub name: String,
    pub subject: String,
    /// SHA-256 of `cert_der`, lower-case hex.
    pub fingerprint: String,
    pub cert_der: Vec<u8>,
    pub not_after: i64,
    pub created_at: i64,
}

const ANCHOR_COLUMNS: &str = "id, name, subject, fingerprint, cert_der, not_after, created_at";

fn anchor_from_row(row: &AnyRow) -> Result<TrustAnchor> {
    Ok(TrustAnchor {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        subject: row.try_get("subject")?,
        fingerprint: row.try_get("fingerprint")?,
        cert_der: row.try_get("cert_der")?,
        not_after: row.try_get("not_after")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A delegated OCSP responder of a CA: its key in custody and the certificate the CA gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspResponder {
    pub id: String,
    pub ca_id: String,
    pub key_alg: String,
    pub key_backend: String,
    pub key_ref: Vec<u8>,
    pub cert_der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub created_at: i64,
}

const RESPONDER_COLUMNS: &str =
    "id, ca_id, key_alg, key_backend, key_ref, cert_der, not_before, not_after, created_at";

fn responder_from_row(row: &AnyRow) -> Result<OcspResponder> {
    Ok(OcspResponder {
        id: row.try_get("id")?,
        ca_id: row.try_get("ca_id")?,
        key_alg: row.try_get("key_alg")?,
        key_backend: row.try_get("key_backend")?,
        key_ref: row.try_get("key_ref")?,
        cert_der: row.try_get("cert_der")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A signed OCSP response about one certificate, as it is cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedOcsp {
    /// SHA-256 of the request's DER `CertID`, hex.
    pub cert_id_hash: String,
    pub ca_id: String,
    pub serial: String,
    /// The credential's status and `updated_at` the answer was signed for.
    pub status: String,
    pub cred_updated_at: i64,
    pub response_der: Vec<u8>,
    pub next_update: i64,
}

impl Store {
    pub async fn insert_trust_anchor(&self, a: &TrustAnchor) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pki_trust_anchors ({ANCHOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.subject)
        .bind(&a.fingerprint)
        .bind(&a.cert_der)
        .bind(a.not_after)
        .bind(a.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("trust anchor {}", a.subject))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn list_trust_anchors(&self) -> Result<Vec<TrustAnchor>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ANCHOR_COLUMNS} FROM pki_trust_anchors ORDER BY created_at, id"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(anchor_from_row)
        .collect()
    }

    /// Removes a trust anchor; `false` when there is none with this id.
    pub async fn remove_trust_anchor(&self, id: &str) -> Result<bool> {
        let res = sqlx::query("DELETE FROM pki_trust_anchors WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() == 1)
    }

    pub async fn insert_ocsp_responder(&self, r: &OcspResponder) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pki_ocsp_responders ({RESPONDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&r.id)
        .bind(&r.ca_id)
        .bind(&r.key_alg)
        .bind(&r.key_backend)
        .bind(&r.key_ref)
        .bind(&r.cert_der)
        .bind(r.not_before)
        .bind(r.not_after)
        .bind(r.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The responder of `ca_id` valid the longest after `valid_until`, if any.
    pub async fn ocsp_responder(
        &self,
        ca_id: &str,
        valid_until: i64,
    ) -> Result<Option<OcspResponder>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {RESPONDER_COLUMNS} FROM pki_ocsp_responders WHERE ca_id = $1 AND not_after > $2 ORDER BY not_after DESC, id LIMIT 1"
        )))
        .bind(ca_id)
        .bind(valid_until)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(responder_from_row)
        .transpose()
    }

    /// The cached response for a `CertID`, if still fresh at `fresh_at` and still true: the
    /// credential must have the very status and `updated_at` it was signed for, so a response
    /// written by a replica racing a status change is never served.
    pub async fn cached_ocsp(&self, cert_id_hash: &str, fresh_at: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT o.response_der FROM pki_ocsp_cache o JOIN pki_credentials c ON c.ca_id = o.ca_id AND c.serial = o.serial AND c.status = o.status AND c.updated_at = o.cred_updated_at WHERE o.cert_id_hash = $1 AND o.next_update > $2",
        )
        .bind(cert_id_hash)
        .bind(fresh_at)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("response_der").map_err(StoreError::from))
            .transpose()
    }

    /// Stores (or replaces) a signed response.
    pub async fn put_cached_ocsp(&self, c: &CachedOcsp, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO pki_ocsp_cache (cert_id_hash, ca_id, serial, status, cred_updated_at, response_der, next_update, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (cert_id_hash) DO UPDATE SET ca_id = excluded.ca_id, serial = excluded.serial, status = excluded.status, cred_updated_at = excluded.cred_updated_at, response_der = excluded.response_der, next_update = excluded.next_update, created_at = excluded.created_at",
        )
        .bind(&c.cert_id_hash)
        .bind(&c.ca_id)
        .bind(&c.serial)
        .bind(&c.status)
        .bind(c.cred_updated_at)
        .bind(&c.response_der)
        .bind(c.next_update)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Drops cached responses past their `nextUpdate` (housekeeping).
    pub async fn purge_ocsp_cache(&self, now: i64) -> Result<u64> {
        let res = sqlx::query("DELETE FROM pki_ocsp_cache WHERE next_update <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }
}
