//! Registered API scopes (e.g. `lgsp.write`) and consents to the administration scope.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};

/// An API scope a resource server accepts; owned by a unit (or by no unit: the operator's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiScope {
    pub name: String,
    pub description: String,
    pub unit_id: Option<String>,
    pub created_at: i64,
}

fn from_row(row: &AnyRow) -> Result<ApiScope> {
    Ok(ApiScope {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        unit_id: row.try_get("unit_id")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A consent page for `tessera:admin` shown to one session for one pending request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConsent {
    /// Hash of the token carried by the page's form.
    pub id: String,
    /// The pending authorization request's id (hash of its handle).
    pub request_id: String,
    pub session_id: String,
    pub user_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_api_scope(&self, s: &ApiScope) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_scopes (name, description, unit_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.unit_id)
        .bind(s.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("scope {}", s.name))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn api_scope(&self, name: &str) -> Result<Option<ApiScope>> {
        sqlx::query("SELECT name, description, unit_id, created_at FROM api_scopes WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn list_api_scopes(&self) -> Result<Vec<ApiScope>> {
        sqlx::query("SELECT name, description, unit_id, created_at FROM api_scopes ORDER BY name")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Returns false when there was no such scope.
    pub async fn delete_api_scope(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_scopes WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a consent page; expired ones are dropped on the way (housekeeping).
    pub async fn insert_admin_consent(&self, c: &AdminConsent) -> Result<()> {
        sqlx::query("DELETE FROM admin_consents WHERE expires_at <= $1")
            .bind(c.created_at)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO admin_consents (id, request_id, session_id, user_id, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.request_id)
        .bind(&c.session_id)
        .bind(&c.user_id)
        .bind(&c.client_id)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spends a consent: exactly one caller, across replicas, gets it back, and only before it
    /// expires.
    pub async fn take_admin_consent(&self, id: &str, now: i64) -> Result<Option<AdminConsent>> {
        let row = sqlx::query(
            "DELETE FROM admin_consents WHERE id = $1 RETURNING id, request_id, session_id, user_id, client_id, created_at, expires_at",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let c = AdminConsent {
            id: row.try_get("id")?,
            request_id: row.try_get("request_id")?,
            session_id: row.try_get("session_id")?,
            user_id: row.try_get("user_id")?,
            client_id: row.try_get("client_id")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((now < c.expires_at).then_some(c))
    }
}
