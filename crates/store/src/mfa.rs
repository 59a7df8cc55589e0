//! Second factors (passkeys, TOTP, recovery codes), logins waiting for one, and the policies
//! that demand them.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebauthnCredential {
    /// Credential id, base64url.
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The webauthn-rs credential as JSON (owned by the core crate).
    pub passkey: String,
    pub aaguid: String,
    pub backup_eligible: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const CRED_COLUMNS: &str =
    "id, user_id, name, passkey, aaguid, backup_eligible, created_at, last_used_at";

fn cred_from_row(row: &AnyRow) -> Result<WebauthnCredential> {
    Ok(WebauthnCredential {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        passkey: row.try_get("passkey")?,
        aaguid: row.try_get("aaguid")?,
        backup_eligible: row.try_get::<i32, _>("backup_eligible")? != 0,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ceremony {
    pub user_id: Option<String>,
    pub kind: String,
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpRecord {
    pub user_id: String,
    /// Sealed secret; only the core crate can open it.
    pub secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
    /// The session or pending login that began an unconfirmed enrolment.
    pub started_by: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingLogin {
    pub id: String,
    pub user_id: String,
    pub amr: Vec<String>,
    pub auth_time: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcrPolicy {
    pub id: String,
    pub unit_id: Option<String>,
    pub role: Option<String>,
    pub min_acr: String,
    pub created_at: i64,
}

impl Store {
    // --- WebAuthn user handles -------------------------------------------------------------

    pub async fn webauthn_handle(&self, user_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT webauthn_handle FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("webauthn_handle")?,
            None => None,
        })
    }

    /// Sets the handle unless one is already set; returns the handle in force.
    pub async fn ensure_webauthn_handle(&self, user_id: &str, candidate: &str) -> Result<String> {
        sqlx::query(
            "UPDATE users SET webauthn_handle = $1 WHERE id = $2 AND webauthn_handle IS NULL",
        )
        .bind(candidate)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        self.webauthn_handle(user_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))
    }

    pub async fn user_id_by_webauthn_handle(&self, handle: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM users WHERE webauthn_handle = $1")
            .bind(handle)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    // --- WebAuthn credentials --------------------------------------------------------------

    pub async fn insert_webauthn_credential(&self, c: &WebauthnCredential) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO webauthn_credentials ({CRED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.name)
        .bind(&c.passkey)
        .bind(&c.aaguid)
        .bind(i32::from(c.backup_eligible))
        .bind(c.created_at)
        .bind(c.last_used_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("credential".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn webauthn_credentials(&self, user_id: &str) -> Result<Vec<WebauthnCredential>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRED_COLUMNS} FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(cred_from_row)
        .collect()
    }

    pub async fn webauthn_credential(&self, id: &str) -> Result<Option<WebauthnCredential>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRED_COLUMNS} FROM webauthn_credentials WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(cred_from_row)
        .transpose()
    }

    /// Stores the credential after a use (new counter, backup state).
    pub async fn update_webauthn_credential(
        &self,
        id: &str,
        passkey: &str,
        backup_eligible: bool,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webauthn_credentials SET passkey = $1, backup_eligible = $2, last_used_at = $3 WHERE id = $4",
        )
        .bind(passkey)
        .bind(i32::from(backup_eligible))
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn rename_webauthn_credential(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE webauthn_credentials SET name = $1 WHERE id = $2 AND user_id = $3")
                .bind(name)
                .bind(id)
                .bind(user_id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_webauthn_credential(&self, user_id: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every credential of a user; returns how many there were.
    pub async fn delete_user_webauthn_credentials(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM webauthn_credentials WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    // --- WebAuthn ceremonies ---------------------------------------------------------------

    pub async fn insert_ceremony(&self, id: &str, c: &Ceremony, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&c.user_id)
        .bind(&c.kind)
        .bind(&c.state)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes and returns a live ceremony: each challenge is answered at most once.
    pub async fn take_ceremony(&self, id: &str, now: i64) -> Result<Option<Ceremony>> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 RETURNING user_id, kind, state, expires_at",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<i64, _>("expires_at")? <= now {
            return Ok(None);
        }
        Ok(Some(Ceremony {
            user_id: row.try_get("user_id")?,
            kind: row.try_get("kind")?,
            state: row.try_get("state")?,
        }))
    }

    // --- TOTP ------------------------------------------------------------------------------

    /// Starts an enrolment, replacing an unconfirmed one; a confirmed secret is kept.
    pub async fn begin_totp(
        &self,
        user_id: &str,
        secret: &[u8],
        started_by: &str,
        now: i64,
    ) -> Result<bool> {
        sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1 AND confirmed = 0")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        let done = sqlx::query(
            "INSERT INTO totp_credentials (user_id, secret, confirmed, last_step, started_by, created_at) VALUES ($1, $2, 0, 0, $3, $4) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(secret.to_vec())
        .bind(started_by)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn totp(&self, user_id: &str) -> Result<Option<TotpRecord>> {
        let row = sqlx::query(
            "SELECT user_id, secret, confirmed, last_step, started_by, created_at FROM totp_credentials WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(TotpRecord {
            user_id: row.try_get("user_id")?,
            secret: row.try_get("secret")?,
            confirmed: row.try_get::<i32, _>("confirmed")? != 0,
            last_step: row.try_get("last_step")?,
            started_by: row.try_get("started_by")?,
            created_at: row.try_get("created_at")?,
        }))
    }

    /// Spends time step `step`: succeeds once, and only if no later step was used before, so a
    /// code cannot be replayed on any replica.
    pub async fn spend_totp_step(&self, user_id: &str, step: i64, confirm: bool) -> Result<bool> {
        let sql = if confirm {
            "UPDATE totp_credentials SET last_step = $1, confirmed = 1 WHERE user_id = $2 AND last_step < $1 AND confirmed = 0"
        } else {
            "UPDATE totp_credentials SET last_step = $1 WHERE user_id = $2 AND last_step < $1 AND confirmed = 1"
        };
        let done = sqlx::query(sql)
            .bind(step)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delete_totp(&self, user_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // --- Recovery codes --------------------------------------------------------------------

    /// Replaces every recovery code of a user with a new set.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) VALUES ($1, $2, $3, NULL)",
            )
            .bind(user_id)
            .bind(h)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a code used; false when it does not exist or was used already.
    pub async fn spend_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    pub async fn delete_recovery_codes(&self, user_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // --- Logins waiting for a second factor ------------------------------------------------

    pub async fn insert_pending_login(&self, p: &PendingLogin) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_logins (id, user_id, amr, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.id)
        .bind(&p.user_id)
        .bind(p.amr.join(" "))
        .bind(p.auth_time)
        .bind(p.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn pending_login(&self, id: &str, now: i64) -> Result<Option<PendingLogin>> {
        let row = sqlx::query(
            "SELECT id, user_id, amr, auth_time, expires_at FROM pending_logins WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let amr: String = row.try_get("amr")?;
        Ok(Some(PendingLogin {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            amr: amr.split_whitespace().map(str::to_owned).collect(),
            auth_time: row.try_get("auth_time")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Counts a wrong second factor of a pending login and ends the login at `max` of them;
    /// true when it has ended (the password must be given again).
    pub async fn fail_pending_login(&self, id: &str, max: i32) -> Result<bool> {
        let row = sqlx::query(
            "UPDATE pending_logins SET failures = failures + 1 WHERE id = $1 RETURNING failures",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let failures: i32 = match row {
            Some(r) => r.try_get("failures")?,
            None => return Ok(true),
        };
        if failures >= max {
            self.delete_pending_login(id).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Ends a pending login; true for the one caller that ended it.
    pub async fn delete_pending_login(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM pending_logins WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every pending login of a user but `except` (its password changed or was reset:
    /// a login half-way through with the previous one must not finish). Returns how many.
    pub async fn delete_user_pending_logins(
        &self,
        user_id: &str,
        except: Option<&str>,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_logins WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(except.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Drops expired pending logins and ceremonies, and authenticator-app enrolments left
    /// unconfirmed since before `stale_enrolment`.
    pub async fn purge_strong_auth(&self, now: i64, stale_enrolment: i64) -> Result<()> {
        sqlx::query("DELETE FROM totp_credentials WHERE confirmed = 0 AND created_at <= $1")
            .bind(stale_enrolment)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM pending_logins WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // --- Policies --------------------------------------------------------------------------

    pub async fn insert_acr_policy(&self, p: &AcrPolicy) -> Result<()> {
        sqlx::query(
            "INSERT INTO acr_policies (id, unit_id, role, min_acr, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.id)
        .bind(&p.unit_id)
        .bind(&p.role)
        .bind(&p.min_acr)
        .bind(p.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn acr_policies(&self) -> Result<Vec<AcrPolicy>> {
        sqlx::query(
            "SELECT id, unit_id, role, min_acr, created_at FROM acr_policies ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(AcrPolicy {
                id: row.try_get("id")?,
                unit_id: row.try_get("unit_id")?,
                role: row.try_get("role")?,
                min_acr: row.try_get("min_acr")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
    }

    pub async fn delete_acr_policy(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM acr_policies WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
