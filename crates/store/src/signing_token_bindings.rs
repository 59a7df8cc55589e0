//! Links between an OAuth authorization request with CSC `authorization_details`, the signing
//! request its official approves, and the authorization code issued after that approval
//! (`signing_token_bindings`). An access token redeemed from the code finds its SAD here.

use sqlx::Row;

use crate::signing_requests::SadRecord;
use crate::{Result, Store};

impl Store {
    /// Links signing request `request_id` to the pending authorization `auth_request_id`;
    /// `false` when that authorization already has one (another tab or replica made it).
    pub async fn bind_signing_authorization(
        &self,
        request_id: &str,
        auth_request_id: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_token_bindings (request_id, auth_request_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(request_id)
        .bind(auth_request_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The signing request of a pending authorization, if one was made for it.
    pub async fn signing_request_of_authorization(
        &self,
        auth_request_id: &str,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT request_id FROM signing_token_bindings WHERE auth_request_id = $1")
                .bind(auth_request_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|r| r.try_get("request_id").map_err(Into::into))
            .transpose()
    }

    /// Whether `request_id` was made for an OAuth authorization (its SAD stays with the token,
    /// never handed out by `authorizeCheck`).
    pub async fn is_token_bound(&self, request_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM signing_token_bindings WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Records the code issued after the approval of `request_id`; `false` when one was
    /// recorded before (one code per approval).
    pub async fn bind_signing_code(&self, request_id: &str, code_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE signing_token_bindings SET code_id = $1 WHERE request_id = $2 AND code_id IS NULL",
        )
        .bind(code_id)
        .bind(request_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The SAD bound to the authorization code `code_id` (through its approved request), if
    /// any; the SAD record may be gone once it expired.
    pub async fn sad_of_code(&self, code_id: &str) -> Result<Option<SadRecord>> {
        let row = sqlx::query(
            "SELECT s.id FROM signing_token_bindings b JOIN signing_sads s ON s.request_id = b.request_id WHERE b.code_id = $1",
        )
        .bind(code_id)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => {
                let id: String = r.try_get("id")?;
                self.sad(&id).await
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::signing_requests::{RequestRecord, SadRecord};
    use crate::testdb::store;

    fn request(id: &str) -> RequestRecord {
        RequestRecord {
            id: id.into(),
            client_id: "csc-app".into(),
            user_id: "u1".into(),
            credential_id: "c1".into(),
            title: "2 hashes".into(),
            level: "B-B".into(),
            purpose: "authorize".into(),
            status: "approved".into(),
            callback_uri: None,
            created_at: 10,
            expires_at: 100,
            decided_at: Some(20),
            factor: Some("passkey".into()),
            finished_at: None,
            fetched_at: None,
            purge_at: 1000,
            replica: None,
        }
    }

    #[tokio::test]
    async fn one_request_per_authorization_and_one_code_per_request() {
        let s = store().await;
        // Foreign key: no binding for a request that does not exist.
        assert!(s.bind_signing_authorization("r0", "a1", 1).await.is_err());
        s.insert_signing_request(&request("r1"), &[]).await.unwrap();
        s.insert_signing_request(&request("r2"), &[]).await.unwrap();
        assert!(s.bind_signing_authorization("r1", "a1", 1).await.unwrap());
        // A second request for the same authorization loses.
        assert!(!s.bind_signing_authorization("r2", "a1", 1).await.unwrap());
        assert_eq!(
            s.signing_request_of_authorization("a1").await.unwrap(),
            Some("r1".into())
        );
        assert!(s.is_token_bound("r1").await.unwrap());
        assert!(!s.is_token_bound("r2").await.unwrap());
        assert_eq!(s.sad_of_code("code1").await.unwrap(), None);
        assert!(s.bind_signing_code("r1", "code1").await.unwrap());
        assert!(!s.bind_signing_code("r1", "code2").await.unwrap());
        // No SAD yet: nothing to find.
        assert_eq!(s.sad_of_code("code1").await.unwrap(), None);
        let sad = SadRecord {
            id: "sad1".into(),
            user_id: "u1".into(),
            credential_id: "c1".into(),
            request_id: Some("r1".into()),
            client_id: "csc-app".into(),
            hash_alg: "sha256".into(),
            hashes: vec!["sha256:00".into()],
            factor: "passkey".into(),
            created_at: 20,
            expires_at: 320,
        };
        s.insert_sad(&sad).await.unwrap();
        assert_eq!(s.sad_of_code("code1").await.unwrap(), Some(sad));
        assert_eq!(s.sad_of_code("code2").await.unwrap(), None);
    }
}
