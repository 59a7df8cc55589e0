//! Upstream OpenID Connect providers (identity brokering, e.g. VNeID), the sign-ins in flight
//! to them, the links between upstream identities and accounts, and which population may use
//! each client. All of it in the database, so that any replica can finish what another began.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::users::User;
use crate::{Result, Store, StoreError, is_unique_violation};

/// Id of the unit every citizen belongs to; created with the first citizen.
pub const CITIZENS_UNIT: &str = "citizens";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamRecord {
    pub id: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    /// Sealed under the master key; only the core crate can open it.
    pub client_secret: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    /// JSON object: Tessera field (`sub`, `name`, `birthdate`, `national_id`, `email`) ->
    /// upstream claim.
    pub claim_map: String,
    /// JSON object: upstream `acr` -> Tessera level.
    pub acr_map: String,
    /// `citizens` or `officials`.
    pub population: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, display_name, issuer, client_id, client_secret, scopes, claim_map, acr_map, population, created_at";

fn from_row(row: &AnyRow) -> Result<UpstreamRecord> {
    Ok(UpstreamRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        issuer: row.try_get("issuer")?,
        client_id: row.try_get("client_id")?,
        client_secret: row.try_get("client_secret")?,
        scopes: row
            .try_get::<String, _>("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        claim_map: row.try_get("claim_map")?,
        acr_map: row.try_get("acr_map")?,
        population: row.try_get("population")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A sign-in sent upstream and not yet back: what the callback needs to check the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamLoginRecord {
    /// SHA-256 of the `state` sent upstream.
    pub id: String,
    pub upstream_id: String,
    pub nonce: String,
    /// Sealed PKCE code verifier.
    pub pkce_verifier: Vec<u8>,
    /// Handle of the pending authorization request, if the sign-in came from an application.
    pub req: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// An upstream identity that matches no account yet and waits for an official's password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOfferRecord {
    pub id: String,
    pub upstream_id: String,
    pub issuer: String,
    pub subject: String,
    pub acr: String,
    /// JSON: the mapped claims.
    pub claims: String,
    /// Sealed upstream ID token.
    pub id_token: Vec<u8>,
    pub req: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_upstream(&self, u: &UpstreamRecord) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO upstreams ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&u.id)
        .bind(&u.display_name)
        .bind(&u.issuer)
        .bind(&u.client_id)
        .bind(u.client_secret.clone())
        .bind(u.scopes.join(" "))
        .bind(&u.claim_map)
        .bind(&u.acr_map)
        .bind(&u.population)
        .bind(u.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("upstream {}", u.id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn upstream(&self, id: &str) -> Result<Option<UpstreamRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM upstreams WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    pub async fn list_upstreams(&self) -> Result<Vec<UpstreamRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM upstreams ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Removes an upstream, its sign-ins in flight and its identity links (the accounts stay).
    pub async fn delete_upstream(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM upstreams WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn insert_upstream_login(&self, l: &UpstreamLoginRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_logins (id, upstream_id, nonce, pkce_verifier, req, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&l.id)
        .bind(&l.upstream_id)
        .bind(&l.nonce)
        .bind(l.pkce_verifier.clone())
        .bind(&l.req)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes (deletes and returns) a live sign-in in flight: each `state` is answered once,
    /// across replicas.
    pub async fn take_upstream_login(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<UpstreamLoginRecord>> {
        let row = sqlx::query(
            "DELETE FROM upstream_logins WHERE id = $1 RETURNING id, upstream_id, nonce, pkce_verifier, req, created_at, expires_at",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let rec = UpstreamLoginRecord {
            id: row.try_get("id")?,
            upstream_id: row.try_get("upstream_id")?,
            nonce: row.try_get("nonce")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            req: row.try_get("req")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        Ok((rec.expires_at > now).then_some(rec))
    }

    /// The account linked to an upstream identity.
    pub async fn federated_user_id(&self, issuer: &str, subject: &str) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT user_id FROM federated_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?
        .map(|r| r.try_get::<String, _>("user_id"))
        .transpose()?)
    }

    /// Records a sign-in of a linked identity, with the claims the upstream gave this time.
    pub async fn touch_federated_identity(
        &self,
        issuer: &str,
        subject: &str,
        claims: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE federated_identities SET last_login_at = $1, claims = $4 WHERE issuer = $2 AND subject = $3",
        )
        .bind(now)
        .bind(issuer)
        .bind(subject)
        .bind(claims)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The mapped claims (JSON) of the identity most recently used by `user_id`.
    pub async fn federated_claims(&self, user_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT claims FROM federated_identities WHERE user_id = $1 ORDER BY last_login_at DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .map(|r| r.try_get::<String, _>("claims"))
        .transpose()?)
    }

    /// Creates a citizen (in the unit `citizens`, made if missing) and its identity link in
    /// one transaction. `Conflict` when another replica linked the identity first.
    pub async fn insert_federated_citizen(
        &self,
        user: &User,
        upstream_id: &str,
        issuer: &str,
        subject: &str,
        claims: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO org_units (id, name, parent_id, level, created_at) VALUES ($1, 'Công dân', NULL, 'citizens', $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(CITIZENS_UNIT)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            crate::users::COLUMNS
        )))
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(user.status.as_str())
        .bind(&user.unit_id)
        .bind(&user.password_hash)
        .bind(i64::from(user.password_must_change))
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("user {}", user.username))
            } else {
                e.into()
            }
        })?;
        insert_link(
            &mut tx,
            upstream_id,
            (issuer, subject),
            &user.id,
            claims,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links an upstream identity to an existing account (after the account's own proof).
    pub async fn link_federated_identity(
        &self,
        upstream_id: &str,
        issuer: &str,
        subject: &str,
        user_id: &str,
        claims: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        insert_link(
            &mut tx,
            upstream_id,
            (issuer, subject),
            user_id,
            claims,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn insert_link_offer(&self, o: &LinkOfferRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_link_offers (id, upstream_id, issuer, subject, acr, claims, id_token, req, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&o.id)
        .bind(&o.upstream_id)
        .bind(&o.issuer)
        .bind(&o.subject)
        .bind(&o.acr)
        .bind(&o.claims)
        .bind(o.id_token.clone())
        .bind(&o.req)
        .bind(o.created_at)
        .bind(o.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn link_offer(&self, id: &str, now: i64) -> Result<Option<LinkOfferRecord>> {
        let row = sqlx::query(
            "SELECT id, upstream_id, issuer, subject, acr, claims, id_token, req, created_at, expires_at FROM upstream_link_offers WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(LinkOfferRecord {
            id: row.try_get("id")?,
            upstream_id: row.try_get("upstream_id")?,
            issuer: row.try_get("issuer")?,
            subject: row.try_get("subject")?,
            acr: row.try_get("acr")?,
            claims: row.try_get("claims")?,
            id_token: row.try_get("id_token")?,
            req: row.try_get("req")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Spends a link offer; `false` when another request spent it first.
    pub async fn delete_link_offer(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM upstream_link_offers WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Remembers that `session_id` came from an upstream, with the upstream's ID token.
    pub async fn insert_upstream_session(
        &self,
        session_id: &str,
        upstream_id: &str,
        id_token: &[u8],
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO upstream_sessions (session_id, upstream_id, id_token, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO UPDATE SET upstream_id = $2, id_token = $3, created_at = $4",
        )
        .bind(session_id)
        .bind(upstream_id)
        .bind(id_token.to_vec())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The upstream a session came from and its sealed ID token.
    pub async fn upstream_session(&self, session_id: &str) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT upstream_id, id_token FROM upstream_sessions WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get("upstream_id")?, r.try_get("id_token")?)))
            .transpose()
    }

    /// Which population may sign in to a client: `officials` unless registered otherwise.
    pub async fn client_audience(&self, client_id: &str) -> Result<String> {
        Ok(
            sqlx::query("SELECT audience FROM client_audiences WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(self.pool())
                .await?
                .map(|r| r.try_get::<String, _>("audience"))
                .transpose()?
                .unwrap_or_else(|| "officials".into()),
        )
    }

    pub async fn set_client_audience(&self, client_id: &str, audience: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO client_audiences (client_id, audience) VALUES ($1, $2) ON CONFLICT (client_id) DO UPDATE SET audience = $2",
        )
        .bind(client_id)
        .bind(audience)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

async fn insert_link(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    upstream_id: &str,
    (issuer, subject): (&str, &str),
    user_id: &str,
    claims: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO federated_identities (issuer, subject, upstream_id, user_id, claims, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(issuer)
    .bind(subject)
    .bind(upstream_id)
    .bind(user_id)
    .bind(claims)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("identity {subject} of {issuer}"))
        } else {
            e.into()
        }
    })?;
    Ok(())
}
