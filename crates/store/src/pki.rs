//! Certificates: the internal CA hierarchy (with each CA's current CRL) and officials' signing
//! credentials. Private keys are never here, only the custodian's reference to them.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

/// A certificate authority of the internal hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRecord {
    pub id: String,
    /// `root` or `issuing`.
    pub role: String,
    pub parent_id: Option<String>,
    pub subject: String,
    pub key_alg: String,
    pub key_backend: String,
    /// `None`: the key is held elsewhere (an imported root, kept offline).
    pub key_ref: Option<Vec<u8>>,
    pub cert_der: Vec<u8>,
    pub not_after: i64,
    pub crl_number: i64,
    pub crl_der: Option<Vec<u8>>,
    pub crl_this_update: Option<i64>,
    pub crl_next_update: Option<i64>,
    pub crl_due_at: i64,
    pub created_at: i64,
}

const CA_COLUMNS: &str = "id, role, parent_id, subject, key_alg, key_backend, key_ref, cert_der, not_after, crl_number, crl_der, crl_this_update, crl_next_update, crl_due_at, created_at";

fn ca_from_row(row: &AnyRow) -> Result<CaRecord> {
    Ok(CaRecord {
        id: row.try_get("id")?,
        role: row.try_get("role")?,
        parent_id: row.try_get("parent_id")?,
        subject: row.try_get("subject")?,
        key_alg: row.try_get("key_alg")?,
        key_backend: row.try_get("key_backend")?,
        key_ref: row.try_get("key_ref")?,
        cert_der: row.try_get("cert_der")?,
        not_after: row.try_get("not_after")?,
        crl_number: row.try_get("crl_number")?,
        crl_der: row.try_get("crl_der")?,
        crl_this_update: row.try_get("crl_this_update")?,
        crl_next_update: row.try_get("crl_next_update")?,
        crl_due_at: row.try_get("crl_due_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Life-cycle state of a signing credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialStatus {
    /// Key and CSR made; waiting for the external CA's certificate.
    Pending,
    Active,
    /// On hold (certificateHold): cannot sign until resumed.
    Suspended,
    Revoked,
    Expired,
}

impl CredentialStatus {
    pub const ALL: [CredentialStatus; 5] = [
        CredentialStatus::Pending,
        CredentialStatus::Active,
        CredentialStatus::Suspended,
        CredentialStatus::Revoked,
        CredentialStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Pending => "pending",
            CredentialStatus::Active => "active",
            CredentialStatus::Suspended => "suspended",
            CredentialStatus::Revoked => "revoked",
            CredentialStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<CredentialStatus> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Who a credential belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerKind {
    /// An official (`user_id`).
    Person,
    /// A unit (`unit_id`): the digital form of its seal ("chữ ký số của cơ quan, tổ chức").
    Organisation,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Person => "person",
            OwnerKind::Organisation => "organisation",
        }
    }

    pub fn parse(s: &str) -> Option<OwnerKind> {
        [OwnerKind::Person, OwnerKind::Organisation]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A signing credential: an HSM key, its CSR and (once issued) its certificate. It belongs to
/// an official (`user_id`) or, for an organisation credential, to a unit (`unit_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub id: String,
    pub owner_kind: OwnerKind,
    pub user_id: Option<String>,
    pub unit_id: Option<String>,
    pub status: CredentialStatus,
    /// `internal` (issued by Tessera's CA) or `external` (imported from another CA).
    pub source: String,
    pub ca_id: Option<String>,
    pub key_alg: String,
    pub key_backend: String,
    pub key_ref: Vec<u8>,
    pub csr_der: Vec<u8>,
    pub cert_der: Option<Vec<u8>>,
    /// Issuer certificates up to the root, DER, concatenated.
    pub chain_der: Option<Vec<u8>>,
    pub serial: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub revocation_reason: Option<String>,
    pub revoked_at: Option<i64>,
    pub suspended_at: Option<i64>,
    pub renewed_from: Option<String>,
    pub expiry_notified_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const CRED_COLUMNS: &str = "id, user_id, status, source, ca_id, key_alg, key_backend, key_ref, csr_der, cert_der, chain_der, serial, issuer, subject, not_before, not_after, revocation_reason, revoked_at, suspended_at, renewed_from, expiry_notified_at, created_at, updated_at, owner_kind, unit_id";

fn cred_from_row(row: &AnyRow) -> Result<Credential> {
    let status: String = row.try_get("status")?;
    let owner_kind: String = row.try_get("owner_kind")?;
    Ok(Credential {
        id: row.try_get("id")?,
        owner_kind: OwnerKind::parse(&owner_kind)
            .ok_or_else(|| StoreError::Corrupt(format!("credential owner kind {owner_kind}")))?,
        user_id: row.try_get("user_id")?,
        unit_id: row.try_get("unit_id")?,
        status: CredentialStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("credential status {status}")))?,
        source: row.try_get("source")?,
        ca_id: row.try_get("ca_id")?,
        key_alg: row.try_get("key_alg")?,
        key_backend: row.try_get("key_backend")?,
        key_ref: row.try_get("key_ref")?,
        csr_der: row.try_get("csr_der")?,
        cert_der: row.try_get("cert_der")?,
        chain_der: row.try_get("chain_der")?,
        serial: row.try_get("serial")?,
        issuer: row.try_get("issuer")?,
        subject: row.try_get("subject")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        revocation_reason: row.try_get("revocation_reason")?,
        revoked_at: row.try_get("revoked_at")?,
        suspended_at: row.try_get("suspended_at")?,
        renewed_from: row.try_get("renewed_from")?,
        expiry_notified_at: row.try_get("expiry_notified_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Which credentials to list.
#[derive(Clone, Debug, Default)]
pub struct CredentialFilter {
    pub user_id: Option<String>,
    pub unit_id: Option<String>,
    /// Owners in one of these units, or without a unit when `unitless` (an administrator's
    /// scope); `None`: no such restriction.
    pub owner_units: Option<OwnerUnits>,
    pub status: Option<CredentialStatus>,
    /// Certificates whose `not_after` is before this time (expiring soon).
    pub not_after_before: Option<i64>,
    /// A page of the answer (`None`: everything).
    pub limit: Option<i64>,
    pub offset: i64,
}

/// The units whose members' credentials are wanted.
#[derive(Clone, Debug, Default)]
pub struct OwnerUnits {
    pub units: Vec<String>,
    pub unitless: bool,
}

/// The certificate fields set when a credential gets its certificate.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    pub ca_id: Option<String>,
    pub cert_der: Vec<u8>,
    pub chain_der: Vec<u8>,
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// A revoked or suspended certificate, for a CRL or an OCSP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    pub serial: String,
    pub revoked_at: i64,
    pub reason: String,
}

impl Store {
    pub async fn insert_ca(&self, ca: &CaRecord) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pki_cas ({CA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(&ca.id)
        .bind(&ca.role)
        .bind(&ca.parent_id)
        .bind(&ca.subject)
        .bind(&ca.key_alg)
        .bind(&ca.key_backend)
        .bind(&ca.key_ref)
        .bind(&ca.cert_der)
        .bind(ca.not_after)
        .bind(ca.crl_number)
        .bind(&ca.crl_der)
        .bind(ca.crl_this_update)
        .bind(ca.crl_next_update)
        .bind(ca.crl_due_at)
        .bind(ca.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("certificate authority {}", ca.id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn ca(&self, id: &str) -> Result<Option<CaRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM pki_cas WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(ca_from_row)
        .transpose()
    }

    /// Every CA, the root first.
    pub async fn list_cas(&self) -> Result<Vec<CaRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM pki_cas ORDER BY created_at, role DESC, id"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(ca_from_row)
        .collect()
    }

    /// Publishes CRL number `number` for `ca_id` if the current one is still `number - 1`.
    /// Returns `false` when another process published first (the caller rebuilds and retries).
    #[allow(clippy::too_many_arguments)]
    pub async fn publish_crl(
        &self,
        ca_id: &str,
        number: i64,
        crl_der: &[u8],
        this_update: i64,
        next_update: i64,
        due_at: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE pki_cas SET crl_number = $1, crl_der = $2, crl_this_update = $3, crl_next_update = $4, crl_due_at = $5 WHERE id = $6 AND crl_number = $7",
        )
        .bind(number)
        .bind(crl_der)
        .bind(this_update)
        .bind(next_update)
        .bind(due_at)
        .bind(ca_id)
        .bind(number - 1)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// CAs holding their key whose CRL is due for reissue.
    pub async fn cas_with_crl_due(&self, now: i64) -> Result<Vec<CaRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM pki_cas WHERE key_ref IS NOT NULL AND crl_due_at <= $1 ORDER BY id"
        )))
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(ca_from_row)
        .collect()
    }

    pub async fn insert_credential(&self, c: &Credential) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO pki_credentials ({CRED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
        )))
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(c.status.as_str())
        .bind(&c.source)
        .bind(&c.ca_id)
        .bind(&c.key_alg)
        .bind(&c.key_backend)
        .bind(&c.key_ref)
        .bind(&c.csr_der)
        .bind(&c.cert_der)
        .bind(&c.chain_der)
        .bind(&c.serial)
        .bind(&c.issuer)
        .bind(&c.subject)
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(&c.revocation_reason)
        .bind(c.revoked_at)
        .bind(c.suspended_at)
        .bind(&c.renewed_from)
        .bind(c.expiry_notified_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.owner_kind.as_str())
        .bind(&c.unit_id)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("credential {} (or its serial number)", c.id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn credential(&self, id: &str) -> Result<Option<Credential>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRED_COLUMNS} FROM pki_credentials WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(cred_from_row)
        .transpose()
    }

    /// The credential whose certificate `ca_id` issued with `serial` (lower-case hex).
    pub async fn credential_by_serial(
        &self,
        ca_id: &str,
        serial: &str,
    ) -> Result<Option<Credential>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRED_COLUMNS} FROM pki_credentials WHERE ca_id = $1 AND serial = $2"
        )))
        .bind(ca_id)
        .bind(serial)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(cred_from_row)
        .transpose()
    }

    pub async fn list_credentials(&self, f: &CredentialFilter) -> Result<Vec<Credential>> {
        let cols = CRED_COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT {cols} FROM pki_credentials c LEFT JOIN users u ON u.id = c.user_id WHERE 1 = 1"
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if f.user_id.is_some() {
            sql.push_str(&format!(" AND c.user_id = ${}", next()));
        }
        if f.unit_id.is_some() {
            sql.push_str(&format!(
                " AND COALESCE(c.unit_id, u.unit_id) = ${}",
                next()
            ));
        }
        if let Some(owners) = &f.owner_units {
            let mut scope = Vec::new();
            if !owners.units.is_empty() {
                let marks: Vec<String> = owners
                    .units
                    .iter()
                    .map(|_| format!("${}", next()))
                    .collect();
                scope.push(format!(
                    "COALESCE(c.unit_id, u.unit_id) IN ({})",
                    marks.join(", ")
                ));
            }
            if owners.unitless {
                scope.push("COALESCE(c.unit_id, u.unit_id) IS NULL".to_owned());
            }
            if scope.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(" AND ({})", scope.join(" OR ")));
        }
        if f.status.is_some() {
            sql.push_str(&format!(" AND c.status = ${}", next()));
        }
        if f.not_after_before.is_some() {
            sql.push_str(&format!(" AND c.not_after < ${}", next()));
        }
        sql.push_str(" ORDER BY c.created_at DESC, c.id");
        if f.limit.is_some() {
            sql.push_str(&format!(" LIMIT ${} OFFSET ${}", next(), next()));
        }
        let sql = AssertSqlSafe(sql);
        let mut q = sqlx::query(sql);
        if let Some(v) = &f.user_id {
            q = q.bind(v.clone());
        }
        if let Some(v) = &f.unit_id {
            q = q.bind(v.clone());
        }
        if let Some(owners) = &f.owner_units {
            for unit in &owners.units {
                q = q.bind(unit.clone());
            }
        }
        if let Some(v) = f.status {
            q = q.bind(v.as_str());
        }
        if let Some(v) = f.not_after_before {
            q = q.bind(v);
        }
        if let Some(limit) = f.limit {
            q = q.bind(limit).bind(f.offset);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(cred_from_row)
            .collect()
    }

    /// Gives a credential its certificate and makes it active. Only from `from` (pending for
    /// an import, or pending as just created for internal issue), so that two administrators
    /// cannot both complete it.
    pub async fn set_credential_certificate(
        &self,
        id: &str,
        cert: &IssuedCert,
        from: CredentialStatus,
        now: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE pki_credentials SET status = 'active', ca_id = $1, cert_der = $2, chain_der = $3, serial = $4, issuer = $5, subject = $6, not_before = $7, not_after = $8, updated_at = $9 WHERE id = $10 AND status = $11",
        )
        .bind(&cert.ca_id)
        .bind(&cert.cert_der)
        .bind(&cert.chain_der)
        .bind(&cert.serial)
        .bind(&cert.issuer)
        .bind(&cert.subject)
        .bind(cert.not_before)
        .bind(cert.not_after)
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a certificate with serial {}", cert.serial))
            } else {
                StoreError::from(e)
            }
        })?;
        Ok(res.rows_affected() == 1)
    }

    /// Moves a credential from one of `from` to `to`, recording when and why. Returns `false`
    /// when it was in none of `from` (nothing changes).
    pub async fn transition_credential(
        &self,
        id: &str,
        from: &[CredentialStatus],
        to: CredentialStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let allowed = from
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let set = match to {
            CredentialStatus::Revoked => {
                "revocation_reason = $2, revoked_at = $3, suspended_at = NULL"
            }
            CredentialStatus::Suspended => {
                "revocation_reason = $2, suspended_at = $3, revoked_at = NULL"
            }
            _ => "revocation_reason = $2, suspended_at = NULL",
        };
        // The cached OCSP answers about it go in the same transaction as the change.
        let mut tx = self.pool().begin().await?;
        let res = sqlx::query(AssertSqlSafe(format!(
            "UPDATE pki_credentials SET status = $1, {set}, updated_at = $3 WHERE id = $4 AND status IN ({allowed})"
        )))
        .bind(to.as_str())
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "DELETE FROM pki_ocsp_cache WHERE EXISTS (SELECT 1 FROM pki_credentials c WHERE c.id = $1 AND c.ca_id = pki_ocsp_cache.ca_id AND c.serial = pki_ocsp_cache.serial)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Certificates of `ca_id` that are revoked or on hold and not yet expired (RFC 5280 §5:
    /// an entry may leave the CRL once the certificate has expired).
    pub async fn revoked_entries(&self, ca_id: &str, now: i64) -> Result<Vec<RevokedEntry>> {
        let rows = sqlx::query(
            "SELECT serial, status, revocation_reason, revoked_at, suspended_at FROM pki_credentials WHERE ca_id = $1 AND status IN ('revoked', 'suspended') AND serial IS NOT NULL AND not_after > $2 ORDER BY serial",
        )
        .bind(ca_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let at: Option<i64> = if status == "revoked" {
                    row.try_get("revoked_at")?
                } else {
                    row.try_get("suspended_at")?
                };
                let reason: Option<String> = row.try_get("revocation_reason")?;
                Ok(RevokedEntry {
                    serial: row.try_get("serial")?,
                    revoked_at: at.unwrap_or(0),
                    reason: reason.unwrap_or_else(|| "unspecified".into()),
                })
            })
            .collect()
    }

    /// Marks active credentials past their `not_after` as expired; returns their ids.
    pub async fn expire_credentials(&self, now: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM pki_credentials WHERE status IN ('active', 'suspended') AND not_after <= $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let mut expired = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let res = sqlx::query(
                "UPDATE pki_credentials SET status = 'expired', updated_at = $1 WHERE id = $2 AND status IN ('active', 'suspended')",
            )
            .bind(now)
            .bind(&id)
            .execute(self.pool())
            .await?;
            if res.rows_affected() == 1 {
                expired.push(id);
            }
        }
        Ok(expired)
    }

    /// Claims the expiry notice of a credential: `true` for exactly one caller, even with
    /// several replicas.
    pub async fn claim_expiry_notice(&self, id: &str, now: i64) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE pki_credentials SET expiry_notified_at = $1 WHERE id = $2 AND expiry_notified_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Active credentials expiring before `before` whose notice has not been given.
    pub async fn credentials_to_notify(&self, before: i64) -> Result<Vec<Credential>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRED_COLUMNS} FROM pki_credentials WHERE status = 'active' AND expiry_notified_at IS NULL AND not_after < $1 ORDER BY not_after"
        )))
        .bind(before)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(cred_from_row)
        .collect()
    }

    /// Sets an installation setting (e.g. the public base URL of the CA endpoints).
    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO instance_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM instance_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("value")?),
            None => None,
        })
    }

    /// The official's title (chức vụ), if recorded.
    pub async fn user_title(&self, user_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT title FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(row) => Ok(row.try_get("title")?),
            None => Err(StoreError::NotFound(format!("user {user_id}"))),
        }
    }

    pub async fn set_user_title(&self, user_id: &str, title: &str, now: i64) -> Result<()> {
        let res = sqlx::query("UPDATE users SET title = $1, updated_at = $2 WHERE id = $3")
            .bind(title)
            .bind(now)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        if res.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb::store;
    use crate::users::{User, UserStatus};

    fn cred(id: &str, user: &str) -> Credential {
        Credential {
            id: id.into(),
            owner_kind: OwnerKind::Person,
            user_id: Some(user.into()),
            unit_id: None,
            status: CredentialStatus::Pending,
            source: "internal".into(),
            ca_id: None,
            key_alg: "P-256".into(),
            key_backend: "software".into(),
            key_ref: vec![1, 2, 3],
            csr_der: vec![4],
            cert_der: None,
            chain_der: None,
            serial: None,
            issuer: None,
            subject: None,
            not_before: None,
            not_after: None,
            revocation_reason: None,
            revoked_at: None,
            suspended_at: None,
            renewed_from: None,
            expiry_notified_at: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn credential_lifecycle_and_crl_numbers() {
        let s = store().await;
        s.insert_user(&User {
            id: "u1".into(),
            username: "an.nv".into(),
            display_name: "Nguyễn Văn An".into(),
            email: None,
            phone: None,
            status: UserStatus::Active,
            unit_id: None,
            password_hash: None,
            password_must_change: false,
            roles: vec![],
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
        s.set_user_title("u1", "Phó Giám đốc", 2).await.unwrap();
        assert_eq!(
            s.user_title("u1").await.unwrap().as_deref(),
            Some("Phó Giám đốc")
        );
        let ca = CaRecord {
            id: "issuing".into(),
            role: "issuing".into(),
            parent_id: None,
            subject: "CN=x".into(),
            key_alg: "P-256".into(),
            key_backend: "software".into(),
            key_ref: Some(vec![9]),
            cert_der: vec![1],
            not_after: 1000,
            crl_number: 0,
            crl_der: None,
            crl_this_update: None,
            crl_next_update: None,
            crl_due_at: 0,
            created_at: 1,
        };
        s.insert_ca(&ca).await.unwrap();
        assert!(matches!(
            s.insert_ca(&ca).await,
            Err(StoreError::Conflict(_))
        ));
        // CRL numbers: compare-and-set.
        assert!(
            s.publish_crl("issuing", 1, b"crl1", 10, 20, 15)
                .await
                .unwrap()
        );
        assert!(
            !s.publish_crl("issuing", 1, b"crl1", 10, 20, 15)
                .await
                .unwrap()
        );
        assert_eq!(s.cas_with_crl_due(14).await.unwrap().len(), 0);
        assert_eq!(s.cas_with_crl_due(15).await.unwrap().len(), 1);

        s.insert_credential(&cred("c1", "u1")).await.unwrap();
        let issued = IssuedCert {
            ca_id: Some("issuing".into()),
            cert_der: vec![7],
            chain_der: vec![],
            serial: "0a".into(),
            issuer: "CN=x".into(),
            subject: "CN=An".into(),
            not_before: 1,
            not_after: 500,
        };
        assert!(
            s.set_credential_certificate("c1", &issued, CredentialStatus::Pending, 3)
                .await
                .unwrap()
        );
        assert!(
            !s.set_credential_certificate("c1", &issued, CredentialStatus::Pending, 3)
                .await
                .unwrap()
        );
        use CredentialStatus::*;
        assert!(
            s.transition_credential("c1", &[Active], Suspended, Some("certificateHold"), 4)
                .await
                .unwrap()
        );
        let entries = s.revoked_entries("issuing", 5).await.unwrap();
        assert_eq!(entries[0].reason, "certificateHold");
        assert!(
            s.transition_credential("c1", &[Suspended], Active, None, 6)
                .await
                .unwrap()
        );
        assert!(s.revoked_entries("issuing", 7).await.unwrap().is_empty());
        assert!(
            s.transition_credential(
                "c1",
                &[Active, Suspended],
                Revoked,
                Some("keyCompromise"),
                8
            )
            .await
            .unwrap()
        );
        assert!(
            !s.transition_credential("c1", &[Active, Suspended], Revoked, Some("x"), 9)
                .await
                .unwrap()
        );
        let c = s.credential("c1").await.unwrap().unwrap();
        assert_eq!((c.status, c.revoked_at), (Revoked, Some(8)));
        assert_eq!(
            s.credential_by_serial("issuing", "0a")
                .await
                .unwrap()
                .unwrap()
                .id,
            "c1"
        );
        // Expired certificates leave the CRL.
        assert_eq!(s.revoked_entries("issuing", 499).await.unwrap().len(), 1);
        assert!(s.revoked_entries("issuing", 500).await.unwrap().is_empty());
        let listed = s
            .list_credentials(&CredentialFilter {
                status: Some(Revoked),
                not_after_before: Some(600),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        // An administrator's scope: the owner's unit, or no unit for top-level administrators.
        let scoped = |units: &[&str], unitless: bool, limit: Option<i64>| CredentialFilter {
            owner_units: Some(OwnerUnits {
                units: units.iter().map(|u| (*u).to_owned()).collect(),
                unitless,
            }),
            status: Some(Revoked),
            limit,
            ..Default::default()
        };
        let count = |f: CredentialFilter| {
            let s = &s;
            async move { s.list_credentials(&f).await.unwrap().len() }
        };
        assert_eq!(count(scoped(&[], true, None)).await, 1);
        assert_eq!(count(scoped(&["elsewhere"], false, None)).await, 0);
        assert_eq!(count(scoped(&["elsewhere"], true, Some(10))).await, 1);
        assert_eq!(count(scoped(&[], false, None)).await, 0, "an empty scope");
        let mut paged = scoped(&[], true, Some(10));
        paged.offset = 1;
        assert_eq!(count(paged).await, 0);
    }
}
