//! Pushed authorization requests (RFC 9126): validated requests waiting for the browser,
//! bound to the client that pushed them and taken once.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    pub async fn insert_pushed_request(
        &self,
        id: &str,
        client_id: &str,
        params: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pushed_requests (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(client_id)
        .bind(params)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the request `id` pushed by `client_id` if it has not expired: deleted in the same
    /// statement, so of two browsers (or replicas) only one gets it. Another client's
    /// `request_uri` is left alone.
    pub async fn take_pushed_request(
        &self,
        id: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "DELETE FROM pushed_requests WHERE id = $1 AND client_id = $2 RETURNING params, expires_at",
        )
        .bind(id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get("expires_at")?;
        Ok((expires_at > now)
            .then(|| row.try_get("params"))
            .transpose()?)
    }

    /// Housekeeping: drops pushed requests no browser came for.
    pub async fn purge_pushed_requests(&self, now: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pushed_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::clients::Client;
    use crate::testdb;

    #[tokio::test]
    async fn taken_once_by_its_client_before_expiry() {
        let store = testdb::store().await;
        for id in ["app", "other"] {
            store
                .insert_client(&Client {
                    id: id.into(),
                    name: id.into(),
                    public: false,
                    secret_hash: None,
                    redirect_uris: vec![],
                    post_logout_redirect_uris: vec![],
                    backchannel_logout_uri: None,
                    allowed_scopes: vec!["openid".into()],
                    token_alg: "ES256".into(),
                    min_acr: None,
                    grant_types: vec!["authorization_code".into()],
                    auth_method: "client_secret_basic".into(),
                    jwks: None,
                    jwks_uri: None,
                    refresh_idle_ttl: None,
                    refresh_absolute_ttl: None,
                    unit_id: None,
                    admin_console: false,
                    created_at: 1,
                    updated_at: 1,
                })
                .await
                .unwrap();
        }
        store
            .insert_pushed_request("r1", "app", "{}", 100, 190)
            .await
            .unwrap();
        // Another client cannot take it, nor burn it.
        assert_eq!(
            store.take_pushed_request("r1", "other", 120).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .take_pushed_request("r1", "app", 120)
                .await
                .unwrap()
                .as_deref(),
            Some("{}")
        );
        assert_eq!(
            store.take_pushed_request("r1", "app", 121).await.unwrap(),
            None
        );
        // Expired: gone, and not handed out.
        store
            .insert_pushed_request("r2", "app", "{}", 100, 190)
            .await
            .unwrap();
        assert_eq!(
            store.take_pushed_request("r2", "app", 190).await.unwrap(),
            None
        );
        store
            .insert_pushed_request("r3", "app", "{}", 100, 190)
            .await
            .unwrap();
        assert_eq!(store.purge_pushed_requests(200).await.unwrap(), 1);
    }
}
