//! Organisation credentials: the clients a unit allowed to sign with them, and the images of
//! visible signatures (officials' handwritten signatures, units' seals).

use sqlx::Row;

use crate::{Result, Store};

/// A client allowed to use an organisation credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedClient {
    pub credential_id: String,
    pub client_id: String,
    pub allowed_by: String,
    pub created_at: i64,
}

/// Whose image: an official's handwritten signature or a unit's seal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// Owner: a user id.
    Signature,
    /// Owner: a unit id.
    Seal,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Signature => "signature",
            ImageKind::Seal => "seal",
        }
    }
}

/// A stored PNG image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningImage {
    pub kind: ImageKind,
    pub owner_id: String,
    pub png: Vec<u8>,
    pub width: i64,
    pub height: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

impl Store {
    /// Allows `client_id` to use the credential; `false` when it already was.
    pub async fn allow_credential_client(
        &self,
        credential_id: &str,
        client_id: &str,
        allowed_by: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO pki_credential_clients (credential_id, client_id, allowed_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (credential_id, client_id) DO NOTHING",
        )
        .bind(credential_id)
        .bind(client_id)
        .bind(allowed_by)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Withdraws the permission; `false` when there was none.
    pub async fn disallow_credential_client(
        &self,
        credential_id: &str,
        client_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM pki_credential_clients WHERE credential_id = $1 AND client_id = $2",
        )
        .bind(credential_id)
        .bind(client_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn credential_client_allowed(
        &self,
        credential_id: &str,
        client_id: &str,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM pki_credential_clients WHERE credential_id = $1 AND client_id = $2",
        )
        .bind(credential_id)
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    pub async fn credential_clients(&self, credential_id: &str) -> Result<Vec<AllowedClient>> {
        let rows = sqlx::query(
            "SELECT credential_id, client_id, allowed_by, created_at FROM pki_credential_clients WHERE credential_id = $1 ORDER BY client_id",
        )
        .bind(credential_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AllowedClient {
                    credential_id: r.try_get("credential_id")?,
                    client_id: r.try_get("client_id")?,
                    allowed_by: r.try_get("allowed_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Sets (or replaces) an image.
    pub async fn set_signing_image(&self, image: &SigningImage) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_images (kind, owner_id, png, width, height, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (kind, owner_id) DO UPDATE SET png = excluded.png, width = excluded.width, height = excluded.height, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(image.kind.as_str())
        .bind(&image.owner_id)
        .bind(&image.png)
        .bind(image.width)
        .bind(image.height)
        .bind(&image.updated_by)
        .bind(image.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn signing_image(
        &self,
        kind: ImageKind,
        owner_id: &str,
    ) -> Result<Option<SigningImage>> {
        let row = sqlx::query(
            "SELECT png, width, height, updated_by, updated_at FROM signing_images WHERE kind = $1 AND owner_id = $2",
        )
        .bind(kind.as_str())
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(SigningImage {
                kind,
                owner_id: owner_id.to_owned(),
                png: r.try_get("png")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
                updated_by: r.try_get("updated_by")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    /// Removes an image; `false` when there was none.
    pub async fn remove_signing_image(&self, kind: ImageKind, owner_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM signing_images WHERE kind = $1 AND owner_id = $2")
            .bind(kind.as_str())
            .bind(owner_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb::store;

    #[tokio::test]
    async fn images_are_replaced_and_removed() {
        let s = store().await;
        let mut img = SigningImage {
            kind: ImageKind::Seal,
            owner_id: "unit1".into(),
            png: vec![1, 2, 3],
            width: 10,
            height: 20,
            updated_by: "cli:root".into(),
            updated_at: 5,
        };
        s.set_signing_image(&img).await.unwrap();
        img.png = vec![9];
        img.updated_at = 6;
        s.set_signing_image(&img).await.unwrap();
        assert_eq!(
            s.signing_image(ImageKind::Seal, "unit1").await.unwrap(),
            Some(img)
        );
        assert_eq!(
            s.signing_image(ImageKind::Signature, "unit1")
                .await
                .unwrap(),
            None
        );
        assert!(
            s.remove_signing_image(ImageKind::Seal, "unit1")
                .await
                .unwrap()
        );
        assert!(
            !s.remove_signing_image(ImageKind::Seal, "unit1")
                .await
                .unwrap()
        );
    }
}
