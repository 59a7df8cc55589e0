//! Authorization codes (RFC 6749 §4.1) and the tokens issued from them.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCodeRecord {
    /// SHA-256 of the code; the code itself is never stored.
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const CODE_COLUMNS: &str = "id, client_id, user_id, session_id, redirect_uri, scope, nonce, code_challenge, auth_time, acr, amr, created_at, expires_at, used_at";

fn code_from_row(row: &AnyRow) -> Result<AuthCodeRecord> {
    let amr: String = row.try_get("amr")?;
    Ok(AuthCodeRecord {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        auth_time: row.try_get("auth_time")?,
        acr: row.try_get("acr")?,
        amr: amr.split_whitespace().map(str::to_owned).collect(),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
    })
}

/// Result of trying to redeem a code.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeem {
    /// This call won the code: it was unused and is now marked used.
    Fresh(AuthCodeRecord),
    /// The code exists but was already used (replay) — the caller must revoke its tokens.
    Replayed(AuthCodeRecord),
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub jti: String,
    pub kind: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub code_id: Option<String>,
    /// Refresh family the token was minted from (revoked with it).
    pub family_id: Option<String>,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "jti, kind, client_id, user_id, session_id, code_id, family_id, scope, issued_at, expires_at, revoked_at";

pub(crate) fn token_batch_kind() -> crate::batch_read::Kind<TokenRecord> {
    crate::batch_read::Kind {
        select: format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE jti IN"),
        key: "jti",
        decode: token_from_row,
    }
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        jti: row.try_get("jti")?,
        kind: row.try_get("kind")?,
        client_id: row.try_get("client_id")?,
        user_id: row.try_get("user_id")?,
        session_id: row.try_get("session_id")?,
        code_id: row.try_get("code_id")?,
        family_id: row.try_get("family_id")?,
        scope: row.try_get("scope")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub async fn insert_code(&self, c: &AuthCodeRecord) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL)"
        )))
        .bind(&c.id)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.session_id)
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(c.auth_time)
        .bind(&c.acr)
        .bind(c.amr.join(" "))
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A code, without spending it.
    pub async fn code(&self, id: &str) -> Result<Option<AuthCodeRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM auth_codes WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    /// Marks a code used, atomically: of two concurrent redemptions (possibly on two replicas)
    /// exactly one sees [`Redeem::Fresh`].
    pub async fn redeem_code(&self, id: &str, now: i64) -> Result<Redeem> {
        let claimed = sqlx::query(AssertSqlSafe(format!(
            "UPDATE auth_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL RETURNING {CODE_COLUMNS}"
        )))
        .bind(now)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = claimed {
            return Ok(Redeem::Fresh(code_from_row(&row)?));
        }
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM auth_codes WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match existing {
            Some(row) => Redeem::Replayed(code_from_row(&row)?),
            None => Redeem::Unknown,
        })
    }

    pub async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (jti, kind, client_id, user_id, session_id, code_id, scope, issued_at, expires_at, revoked_at, family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10)",
        )
        .bind(&t.jti)
        .bind(&t.kind)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(&t.session_id)
        .bind(&t.code_id)
        .bind(&t.scope)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(&t.family_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An access-token record by `jti`; concurrent lookups share one query.
    pub async fn token(&self, jti: &str) -> Result<Option<TokenRecord>> {
        self.reads.tokens.get(jti).await
    }

    /// Revokes every token issued from a code (RFC 6749 §4.1.2: a replayed code): the access
    /// tokens of the exchange, and the refresh family it started with everything minted from
    /// it since. Returns how many access tokens were revoked.
    pub async fn revoke_tokens_of_code(&self, code_id: &str, now: i64) -> Result<u64> {
        const FAMILIES: &str =
            "SELECT family_id FROM tokens WHERE code_id = $2 AND family_id IS NOT NULL";
        let mut tx = self.pool().begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE refresh_families SET revoked_at = $1, revoke_reason = 'code replayed' WHERE revoked_at IS NULL AND id IN ({FAMILIES})"
        )))
        .bind(now)
        .bind(code_id)
        .execute(&mut *tx)
        .await?;
        let minted = sqlx::query(AssertSqlSafe(format!(
            "UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id IN ({FAMILIES})"
        )))
        .bind(now)
        .bind(code_id)
        .execute(&mut *tx)
        .await?;
        let direct = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE code_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(code_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(minted.rows_affected() + direct.rows_affected())
    }

    /// Revokes one access token; returns whether it was live.
    pub async fn revoke_token(&self, jti: &str, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(jti)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn revoke_user_tokens(&self, user_id: &str, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
