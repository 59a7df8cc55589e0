//! Relying parties registered with the platform.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation, json_list, to_json_list};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// `true` for public clients (mobile apps, SPAs): no secret, PKCE required.
    pub public: bool,
    /// Keyed hash of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub allowed_scopes: Vec<String>,
    pub token_alg: String,
    pub min_acr: Option<String>,
    /// Grant types the client may use (`authorization_code`, `refresh_token`,
    /// `client_credentials`).
    pub grant_types: Vec<String>,
    /// Token-endpoint authentication: `client_secret_basic` (also accepts `_post`),
    /// `private_key_jwt`, or `none` for public clients.
    pub auth_method: String,
    /// Inline JWKS (JSON) or URI of the client's keys, for `private_key_jwt`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Refresh-token lifetimes in seconds (idle and absolute); `None`: the server default.
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_absolute_ttl: Option<i64>,
    /// Organisation unit that owns the client; `None`: managed by top-level administrators only.
    pub unit_id: Option<String>,
    /// Pinned by the operator as an administration console: the only clients whose tokens the
    /// administration API accepts. Set only from the command line.
    pub admin_console: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, allowed_scopes, token_alg, min_acr, created_at, updated_at, grant_types, auth_method, jwks, jwks_uri, refresh_idle_ttl, refresh_absolute_ttl, unit_id, admin_console";

pub(crate) fn batch_kind() -> crate::batch_read::Kind<Client> {
    crate::batch_read::Kind {
        select: format!("SELECT {COLUMNS} FROM clients WHERE id IN"),
        key: "id",
        decode: from_row,
    }
}

fn from_row(row: &AnyRow) -> Result<Client> {
    let kind: String = row.try_get("client_type")?;
    let scopes: String = row.try_get("allowed_scopes")?;
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        public: kind == "public",
        secret_hash: row.try_get("secret_hash")?,
        redirect_uris: json_list(&row.try_get::<String, _>("redirect_uris")?, "redirect_uris")?,
        post_logout_redirect_uris: json_list(
            &row.try_get::<String, _>("post_logout_redirect_uris")?,
            "post_logout_redirect_uris",
        )?,
        backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
        allowed_scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        token_alg: row.try_get("token_alg")?,
        min_acr: row.try_get("min_acr")?,
        grant_types: row
            .try_get::<String, _>("grant_types")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        auth_method: row.try_get("auth_method")?,
        jwks: row.try_get("jwks")?,
        jwks_uri: row.try_get("jwks_uri")?,
        refresh_idle_ttl: row.try_get("refresh_idle_ttl")?,
        refresh_absolute_ttl: row.try_get("refresh_absolute_ttl")?,
        unit_id: row.try_get("unit_id")?,
        admin_console: row.try_get::<i64, _>("admin_console")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_client(&self, c: &Client) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        )))
        .bind(&c.id)
        .bind(&c.name)
        .bind(if c.public { "public" } else { "confidential" })
        .bind(&c.secret_hash)
        .bind(to_json_list(&c.redirect_uris))
        .bind(to_json_list(&c.post_logout_redirect_uris))
        .bind(&c.backchannel_logout_uri)
        .bind(c.allowed_scopes.join(" "))
        .bind(&c.token_alg)
        .bind(&c.min_acr)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.grant_types.join(" "))
        .bind(&c.auth_method)
        .bind(&c.jwks)
        .bind(&c.jwks_uri)
        .bind(c.refresh_idle_ttl)
        .bind(c.refresh_absolute_ttl)
        .bind(&c.unit_id)
        .bind(i64::from(c.admin_console))
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("client {}", c.id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// A client by id; concurrent lookups share one query.
    pub async fn client(&self, id: &str) -> Result<Option<Client>> {
        self.reads.clients.get(id).await
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM clients ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Removes a client and, through the foreign keys, its codes, tokens and consents.
    pub async fn delete_client(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Registration fields an administrator may change after creation.
#[derive(Clone, Debug)]
pub struct ClientUpdate {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub allowed_scopes: Vec<String>,
    pub unit_id: Option<String>,
}

impl Store {
    /// Clients owned by one of `units` (and, with `unitless`, those owned by no unit).
    pub async fn list_clients_in(&self, units: &[String], unitless: bool) -> Result<Vec<Client>> {
        let mut scope = Vec::new();
        if !units.is_empty() {
            let marks: Vec<String> = (1..=units.len()).map(|i| format!("${i}")).collect();
            scope.push(format!("unit_id IN ({})", marks.join(", ")));
        }
        if unitless {
            scope.push("unit_id IS NULL".into());
        }
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM clients WHERE {} ORDER BY id",
            scope.join(" OR ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for unit in units {
            q = q.bind(unit);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Returns false when no such client exists.
    pub async fn update_client(&self, id: &str, u: &ClientUpdate, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE clients SET name = $1, redirect_uris = $2, post_logout_redirect_uris = $3, backchannel_logout_uri = $4, allowed_scopes = $5, unit_id = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&u.name)
        .bind(to_json_list(&u.redirect_uris))
        .bind(to_json_list(&u.post_logout_redirect_uris))
        .bind(&u.backchannel_logout_uri)
        .bind(u.allowed_scopes.join(" "))
        .bind(&u.unit_id)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Pins a client as an administration console, or unpins it (command line only). Returns
    /// false when no such client exists.
    pub async fn set_client_admin_console(&self, id: &str, on: bool, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE clients SET admin_console = $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(on))
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces a confidential client's secret hash. Returns false when no such client exists.
    pub async fn set_client_secret_hash(
        &self,
        id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(secret_hash)
                .bind(now)
                .bind(id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }
}
