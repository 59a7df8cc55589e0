//! Refresh tokens (RFC 6749 §6) in rotation families (RFC 9700 §4.14.2): each use spends the
//! token and issues a successor; presenting a spent one revokes the whole family.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshFamily {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    /// SSO session the family was born in; `None` once it outlives it (offline access).
    pub session_id: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    /// `offline_access`: survives the end of the browser session.
    pub offline: bool,
    pub created_at: i64,
    pub absolute_expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token; the token itself is never stored.
    pub id: String,
    pub family_id: String,
    pub issued_at: i64,
    /// Idle expiry: the token must be used before this time.
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Result of presenting a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// This call spent the token.
    Fresh(RefreshTokenRecord, RefreshFamily),
    /// The token was already spent: re-use, the family must be revoked.
    Replayed(RefreshTokenRecord, RefreshFamily),
    Unknown,
}

const FAMILY_COLUMNS: &str = "id, client_id, user_id, session_id, scope, auth_time, acr, amr, offline, created_at, absolute_expires_at, revoked_at, revoke_reason";

fn family_from_row(row: &AnyRow) -> Result<RefreshFamily> {
    let amr: String = row.try_get("amr")?;
    let offline: i64 = row.try_get("offline")?;
    Ok(RefreshFamily {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        acr: row.try_get("acr")?,
        amr: amr.split_whitespace().map(str::to_owned).collect(),
        offline: offline != 0,
        created_at: row.try_get("created_at")?,
        absolute_expires_at: row.try_get("absolute_expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoke_reason: row.try_get("revoke_reason")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        id: row.try_get("id")?,
        family_id: row.try_get("family_id")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
    })
}

impl Store {
    pub async fn insert_refresh_family(&self, f: &RefreshFamily) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO refresh_families ({FAMILY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL)"
        )))
        .bind(&f.id)
        .bind(&f.client_id)
        .bind(&f.user_id)
        .bind(&f.session_id)
        .bind(&f.scope)
        .bind(f.auth_time)
        .bind(&f.acr)
        .bind(f.amr.join(" "))
        .bind(i64::from(f.offline))
        .bind(f.created_at)
        .bind(f.absolute_expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, family_id, issued_at, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(&t.id)
        .bind(&t.family_id)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn refresh_family(&self, id: &str) -> Result<Option<RefreshFamily>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(family_from_row)
        .transpose()
    }

    /// A refresh token and its family, without spending it (one query).
    pub async fn refresh_token(
        &self,
        id: &str,
    ) -> Result<Option<(RefreshTokenRecord, RefreshFamily)>> {
        let family_columns: Vec<String> = FAMILY_COLUMNS
            .split(", ")
            .map(|c| format!("f.{c}"))
            .collect();
        let Some(row) = sqlx::query(AssertSqlSafe(format!(
            "SELECT t.id AS token_id, t.issued_at AS token_issued_at, t.expires_at AS token_expires_at, \
             t.used_at AS token_used_at, {} FROM refresh_tokens t \
             JOIN refresh_families f ON f.id = t.family_id WHERE t.id = $1",
            family_columns.join(", ")
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let family = family_from_row(&row)?;
        let token = RefreshTokenRecord {
            id: row.try_get("token_id")?,
            family_id: family.id.clone(),
            issued_at: row.try_get("token_issued_at")?,
            expires_at: row.try_get("token_expires_at")?,
            used_at: row.try_get("token_used_at")?,
        };
        Ok(Some((token, family)))
    }

    /// Spends a refresh token atomically: of two concurrent uses (even on two replicas) exactly
    /// one sees [`RefreshUse::Fresh`].
    pub async fn spend_refresh_token(&self, id: &str, now: i64) -> Result<RefreshUse> {
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL RETURNING id, family_id, issued_at, expires_at, used_at",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = claimed {
            let token = token_from_row(&row)?;
            return Ok(match self.refresh_family(&token.family_id).await? {
                Some(f) => RefreshUse::Fresh(token, f),
                None => RefreshUse::Unknown,
            });
        }
        Ok(match self.refresh_token(id).await? {
            Some((t, f)) => RefreshUse::Replayed(t, f),
            None => RefreshUse::Unknown,
        })
    }

    /// Revokes a family and every access token minted from it.
    pub async fn revoke_refresh_family(&self, id: &str, reason: &str, now: i64) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every family of a user (account disabled).
    pub async fn revoke_user_refresh_families(
        &self,
        user_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Remembers a client assertion's `jti` until it expires; `false` if it was seen before
    /// (RFC 7523 §3 item 7: replay).
    pub async fn remember_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if crate::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
