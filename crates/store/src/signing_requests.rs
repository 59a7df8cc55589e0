//! Remote signing: applications' signing requests and their documents, the clients allowed to
//! ask a unit's people for signatures, and the Signature Activation Data of approvals.
//!
//! Contents and results arrive here already sealed by core; this module never sees a document
//! in clear. Every state change is a conditional update, so two replicas cannot both approve,
//! sign or spend the same thing.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// A signing request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub credential_id: String,
    pub title: String,
    pub level: String,
    /// `sign` or `authorize` (a CSC client receives the SAD).
    pub purpose: String,
    pub status: String,
    pub callback_uri: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub factor: Option<String>,
    pub finished_at: Option<i64>,
    pub fetched_at: Option<i64>,
    pub purge_at: i64,
    pub replica: Option<String>,
}

/// A document of a request, without its content and result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRecord {
    pub request_id: String,
    pub idx: i64,
    pub name: String,
    /// `pdf`, `data` or `hash`.
    pub kind: String,
    pub hash_alg: String,
    pub digest: Vec<u8>,
    pub sha256: String,
    /// JSON.
    pub options: String,
    pub status: String,
    pub error: Option<String>,
    pub result_type: Option<String>,
    /// Whether a sealed result is stored.
    pub has_result: bool,
}

/// A new document: its record and its sealed content (`None` for a hash).
#[derive(Clone, Debug)]
pub struct NewDocumentRecord {
    pub record: DocumentRecord,
    pub sealed_content: Option<Vec<u8>>,
}

/// What one approval allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SadRecord {
    /// SHA-256 of the SAD, hex.
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub request_id: Option<String>,
    pub client_id: String,
    pub hash_alg: String,
    /// Lower-case hex digests.
    pub hashes: Vec<String>,
    pub factor: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const REQUEST_COLUMNS: &str = "id, client_id, user_id, credential_id, title, level, purpose, status, callback_uri, created_at, expires_at, decided_at, factor, finished_at, fetched_at, purge_at, replica";
const DOCUMENT_COLUMNS: &str = "request_id, idx, name, kind, hash_alg, digest, sha256, options, status, error, result_type, CASE WHEN result IS NULL THEN 0 ELSE 1 END AS has_result";

fn request_from_row(r: &AnyRow) -> Result<RequestRecord> {
    Ok(RequestRecord {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        user_id: r.try_get("user_id")?,
        credential_id: r.try_get("credential_id")?,
        title: r.try_get("title")?,
        level: r.try_get("level")?,
        purpose: r.try_get("purpose")?,
        status: r.try_get("status")?,
        callback_uri: r.try_get("callback_uri")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        decided_at: r.try_get("decided_at")?,
        factor: r.try_get("factor")?,
        finished_at: r.try_get("finished_at")?,
        fetched_at: r.try_get("fetched_at")?,
        purge_at: r.try_get("purge_at")?,
        replica: r.try_get("replica")?,
    })
}

fn document_from_row(r: &AnyRow) -> Result<DocumentRecord> {
    let has_result: i64 = r.try_get("has_result")?;
    Ok(DocumentRecord {
        request_id: r.try_get("request_id")?,
        idx: r.try_get("idx")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        hash_alg: r.try_get("hash_alg")?,
        digest: r.try_get("digest")?,
        sha256: r.try_get("sha256")?,
        options: r.try_get("options")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        result_type: r.try_get("result_type")?,
        has_result: has_result != 0,
    })
}

impl Store {
    /// Allows `client_id` to ask people of `unit_id` (and the units below it) for signatures;
    /// `false` when it already was.
    pub async fn allow_signing_request_client(
        &self,
        client_id: &str,
        unit_id: &str,
        allowed_by: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_request_clients (client_id, unit_id, allowed_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, unit_id) DO NOTHING",
        )
        .bind(client_id)
        .bind(unit_id)
        .bind(allowed_by)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Withdraws the permission; `false` when there was none.
    pub async fn disallow_signing_request_client(
        &self,
        client_id: &str,
        unit_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM signing_request_clients WHERE client_id = $1 AND unit_id = $2",
        )
        .bind(client_id)
        .bind(unit_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The units whose people `client_id` may ask for signatures (each covers its subtree).
    pub async fn signing_request_units(&self, client_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT unit_id FROM signing_request_clients WHERE client_id = $1 ORDER BY unit_id",
        )
        .bind(client_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("unit_id")?)).collect()
    }

    /// Stores a request and its documents in one transaction.
    pub async fn insert_signing_request(
        &self,
        req: &RequestRecord,
        documents: &[NewDocumentRecord],
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO signing_requests ({REQUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        )))
        .bind(&req.id)
        .bind(&req.client_id)
        .bind(&req.user_id)
        .bind(&req.credential_id)
        .bind(&req.title)
        .bind(&req.level)
        .bind(&req.purpose)
        .bind(&req.status)
        .bind(&req.callback_uri)
        .bind(req.created_at)
        .bind(req.expires_at)
        .bind(req.decided_at)
        .bind(&req.factor)
        .bind(req.finished_at)
        .bind(req.fetched_at)
        .bind(req.purge_at)
        .bind(&req.replica)
        .execute(&mut *tx)
        .await?;
        for d in documents {
            let r = &d.record;
            sqlx::query(
                "INSERT INTO signing_documents (request_id, idx, name, kind, hash_alg, digest, sha256, options, content, status, error, result, result_type) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL)",
            )
            .bind(&req.id)
            .bind(r.idx)
            .bind(&r.name)
            .bind(&r.kind)
            .bind(&r.hash_alg)
            .bind(&r.digest)
            .bind(&r.sha256)
            .bind(&r.options)
            .bind(&d.sealed_content)
            .bind(&r.status)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn signing_request(&self, id: &str) -> Result<Option<RequestRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM signing_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// A user's requests in `status` (all when `None`), newest first.
    pub async fn user_signing_requests(
        &self,
        user_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM signing_requests WHERE user_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3"
        )))
        .bind(user_id)
        .bind(status)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    pub async fn signing_documents(&self, request_id: &str) -> Result<Vec<DocumentRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM signing_documents WHERE request_id = $1 ORDER BY idx"
        )))
        .bind(request_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(document_from_row).collect()
    }

    /// The sealed content of a document (`None` for a hash, or once purged).
    pub async fn signing_document_content(
        &self,
        request_id: &str,
        idx: i64,
    ) -> Result<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT content FROM signing_documents WHERE request_id = $1 AND idx = $2")
                .bind(request_id)
                .bind(idx)
                .fetch_optional(self.pool())
                .await?;
        match row {
            Some(r) => Ok(r.try_get("content")?),
            None => Err(StoreError::NotFound(format!(
                "document {idx} of {request_id}"
            ))),
        }
    }

    /// The sealed result of a document and its media type.
    pub async fn signing_document_result(
        &self,
        request_id: &str,
        idx: i64,
    ) -> Result<Option<(Vec<u8>, String)>> {
        let row = sqlx::query(
            "SELECT result, result_type FROM signing_documents WHERE request_id = $1 AND idx = $2 AND result IS NOT NULL",
        )
        .bind(request_id)
        .bind(idx)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get("result")?, r.try_get("result_type")?)))
            .transpose()
    }

    /// Moves a request from `from` to `to` (with the decision's time and factor when given);
    /// `false` when it was no longer in `from` — another replica or the clock got there first.
    /// A request that ends forgets the sealed SAD of an authorization not yet handed out.
    pub async fn transition_signing_request(
        &self,
        id: &str,
        from: &str,
        to: &str,
        decided: Option<(i64, &str)>,
        now: i64,
    ) -> Result<bool> {
        let (decided_at, factor) = match decided {
            Some((at, f)) => (Some(at), Some(f)),
            None => (None, None),
        };
        let done = sqlx::query(
            "UPDATE signing_requests SET status = $1, decided_at = COALESCE($2, decided_at), factor = COALESCE($3, factor), \
             finished_at = CASE WHEN $1 IN ('signed', 'failed', 'rejected', 'expired', 'cancelled') THEN $4 ELSE finished_at END, \
             sad_sealed = CASE WHEN $1 IN ('signed', 'failed', 'rejected', 'expired', 'cancelled') THEN NULL ELSE sad_sealed END \
             WHERE id = $5 AND status = $6",
        )
        .bind(to)
        .bind(decided_at)
        .bind(factor)
        .bind(now)
        .bind(id)
        .bind(from)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Notes which replica signs a request.
    pub async fn set_signing_replica(&self, id: &str, replica: &str) -> Result<()> {
        sqlx::query("UPDATE signing_requests SET replica = $1 WHERE id = $2")
            .bind(replica)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a document's result (sealed) or its failure; `false` when it was not pending.
    pub async fn finish_signing_document(
        &self,
        request_id: &str,
        idx: i64,
        outcome: std::result::Result<(Vec<u8>, &str), &str>,
    ) -> Result<bool> {
        let done = match outcome {
            Ok((sealed, media_type)) => {
                sqlx::query(
                    "UPDATE signing_documents SET status = 'signed', result = $1, result_type = $2 WHERE request_id = $3 AND idx = $4 AND status = 'pending'",
                )
                .bind(sealed)
                .bind(media_type)
                .bind(request_id)
                .bind(idx)
                .execute(self.pool())
                .await?
            }
            Err(reason) => {
                sqlx::query(
                    "UPDATE signing_documents SET status = 'failed', error = $1 WHERE request_id = $2 AND idx = $3 AND status = 'pending'",
                )
                .bind(reason)
                .bind(request_id)
                .bind(idx)
                .execute(self.pool())
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    /// Notes that the application fetched a document's result; answers whether every signed
    /// document's result has now been fetched.
    pub async fn signing_document_fetched(
        &self,
        request_id: &str,
        idx: i64,
        now: i64,
    ) -> Result<bool> {
        sqlx::query(
            "UPDATE signing_documents SET fetched_at = $1 WHERE request_id = $2 AND idx = $3 AND fetched_at IS NULL",
        )
        .bind(now)
        .bind(request_id)
        .bind(idx)
        .execute(self.pool())
        .await?;
        let left = sqlx::query(
            "SELECT COUNT(*) AS n FROM signing_documents WHERE request_id = $1 AND status = 'signed' AND fetched_at IS NULL",
        )
        .bind(request_id)
        .fetch_one(self.pool())
        .await?;
        let n: i64 = left.try_get("n")?;
        Ok(n == 0)
    }

    /// Notes that the app fetched every result, so contents and results may be deleted now.
    pub async fn signing_results_fetched(&self, request_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE signing_requests SET fetched_at = $1, purge_at = CASE WHEN purge_at > $1 THEN $1 ELSE purge_at END WHERE id = $2 AND fetched_at IS NULL",
        )
        .bind(now)
        .bind(request_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Pending requests whose time ran out, up to `limit`.
    pub async fn expired_signing_requests(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<RequestRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM signing_requests WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Approved requests of `purpose` decided before `before` that are still not finished,
    /// their SAD expired: for `sign`, signing was interrupted (the replica stopped); for
    /// `authorize`, the CSC client did not sign every hash in time.
    pub async fn lapsed_signing_requests(
        &self,
        purpose: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RequestRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM signing_requests WHERE status = 'approved' AND purpose = $1 AND decided_at <= $2 ORDER BY decided_at LIMIT $3"
        )))
        .bind(purpose)
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Marks documents `idxs` of a request signed, with no result kept (the hashes of an
    /// authorization, signed by the CSC client); answers how many of its documents are still
    /// pending.
    pub async fn mark_documents_signed(&self, request_id: &str, idxs: &[i64]) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        for idx in idxs {
            sqlx::query(
                "UPDATE signing_documents SET status = 'signed' WHERE request_id = $1 AND idx = $2 AND status = 'pending'",
            )
            .bind(request_id)
            .bind(idx)
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM signing_documents WHERE request_id = $1 AND status = 'pending'",
        )
        .bind(request_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.try_get("n")?)
    }

    /// Fails every still-pending document of a request with `reason`; answers how many of its
    /// documents were signed.
    pub async fn fail_pending_documents(&self, request_id: &str, reason: &str) -> Result<i64> {
        sqlx::query(
            "UPDATE signing_documents SET status = 'failed', error = $1 WHERE request_id = $2 AND status = 'pending'",
        )
        .bind(reason)
        .bind(request_id)
        .execute(self.pool())
        .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM signing_documents WHERE request_id = $1 AND status = 'signed'",
        )
        .bind(request_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Deletes contents and results of requests past retention (their records and hashes
    /// stay, for the audit and the official's history); answers how many requests were purged.
    pub async fn purge_signing_contents(&self, now: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE signing_documents SET content = NULL, result = NULL \
             WHERE (content IS NOT NULL OR result IS NOT NULL) AND request_id IN \
             (SELECT id FROM signing_requests WHERE purge_at <= $1 AND status NOT IN ('pending', 'approved'))",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        sqlx::query("DELETE FROM signing_sads WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Keeps the sealed SAD of an approved `authorize` request until its client fetches it.
    pub async fn set_request_sad(&self, id: &str, sealed: &[u8]) -> Result<()> {
        sqlx::query("UPDATE signing_requests SET sad_sealed = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the sealed SAD of a request: it is handed out once, then forgotten.
    pub async fn take_request_sad(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT sad_sealed FROM signing_requests WHERE id = $1 AND sad_sealed IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.try_get("sad_sealed")?;
        let taken = sqlx::query(
            "UPDATE signing_requests SET sad_sealed = NULL WHERE id = $1 AND sad_sealed IS NOT NULL",
        )
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        Ok(taken.then_some(sealed))
    }

    /// Queues the webhook announcing that request `request_id` reached `status`; `false` when
    /// it was queued already.
    pub async fn enqueue_signing_webhook(
        &self,
        request_id: &str,
        status: &str,
        client_id: &str,
        uri: &str,
        now: i64,
        give_up_at: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_webhooks (request_id, status, client_id, uri, created_at, next_at, give_up_at) VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (request_id, status) DO NOTHING",
        )
        .bind(request_id)
        .bind(status)
        .bind(client_id)
        .bind(uri)
        .bind(now)
        .bind(give_up_at)
        .execute(self.pool())
        .await?;
        let queued = done.rows_affected() == 1;
        if queued {
            self.wake_signing_webhooks().await;
        }
        Ok(queued)
    }

    /// Stores a SAD's record.
    pub async fn insert_sad(&self, sad: &SadRecord) -> Result<()> {
        let hashes = serde_json::to_string(&sad.hashes)
            .map_err(|e| StoreError::Corrupt(format!("SAD hashes: {e}")))?;
        sqlx::query(
            "INSERT INTO signing_sads (id, user_id, credential_id, request_id, client_id, hash_alg, hashes, factor, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&sad.id)
        .bind(&sad.user_id)
        .bind(&sad.credential_id)
        .bind(&sad.request_id)
        .bind(&sad.client_id)
        .bind(&sad.hash_alg)
        .bind(hashes)
        .bind(&sad.factor)
        .bind(sad.created_at)
        .bind(sad.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn sad(&self, id: &str) -> Result<Option<SadRecord>> {
        let row = sqlx::query(
            "SELECT id, user_id, credential_id, request_id, client_id, hash_alg, hashes, factor, created_at, expires_at FROM signing_sads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let hashes: String = r.try_get("hashes")?;
            Ok(SadRecord {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                credential_id: r.try_get("credential_id")?,
                request_id: r.try_get("request_id")?,
                client_id: r.try_get("client_id")?,
                hash_alg: r.try_get("hash_alg")?,
                hashes: serde_json::from_str(&hashes)
                    .map_err(|e| StoreError::Corrupt(format!("SAD hashes: {e}")))?,
                factor: r.try_get("factor")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Spends the SAD for `digests` (hex), all or none: `false` when any was spent before.
    pub async fn spend_sad(&self, sad_id: &str, digests: &[String], now: i64) -> Result<bool> {
        // One multi-row statement per 64 hashes (a batch of 50 is one), in one transaction:
        // any hash spent before leaves the count short and the whole spend is rolled back.
        let mut tx = self.pool().begin().await?;
        for chunk in digests.chunks(crate::group_commit::ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO signing_sad_uses (sad_id, digest, used_at) VALUES {} ON CONFLICT (sad_id, digest) DO NOTHING",
                crate::group_commit::values(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for d in chunk {
                q = q.bind(sad_id).bind(d).bind(now);
            }
            let done = q.execute(&mut *tx).await?;
            if done.rows_affected() != chunk.len() as u64 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb::store;

    fn request(id: &str) -> RequestRecord {
        RequestRecord {
            id: id.into(),
            client_id: "vanban".into(),
            user_id: "u1".into(),
            credential_id: "c1".into(),
            title: "Quyết định".into(),
            level: "B-B".into(),
            purpose: "sign".into(),
            status: "pending".into(),
            callback_uri: None,
            created_at: 10,
            expires_at: 100,
            decided_at: None,
            factor: None,
            finished_at: None,
            fetched_at: None,
            purge_at: 1000,
            replica: None,
        }
    }

    fn document(idx: i64) -> NewDocumentRecord {
        NewDocumentRecord {
            record: DocumentRecord {
                request_id: String::new(),
                idx,
                name: format!("doc{idx}.pdf"),
                kind: "pdf".into(),
                hash_alg: "sha256".into(),
                digest: vec![idx as u8; 32],
                sha256: "00".repeat(32),
                options: "{}".into(),
                status: "pending".into(),
                error: None,
                result_type: None,
                has_result: false,
            },
            sealed_content: Some(vec![1, 2, 3]),
        }
    }

    #[tokio::test]
    async fn a_request_moves_once_and_its_contents_are_purged() {
        let s = store().await;
        s.insert_signing_request(&request("r1"), &[document(0), document(1)])
            .await
            .unwrap();
        assert!(
            s.transition_signing_request("r1", "pending", "approved", Some((20, "totp")), 20)
                .await
                .unwrap()
        );
        // A second replica's approval loses.
        assert!(
            !s.transition_signing_request("r1", "pending", "approved", Some((21, "totp")), 21)
                .await
                .unwrap()
        );
        assert!(
            s.finish_signing_document("r1", 0, Ok((vec![9, 9], "application/pdf")))
                .await
                .unwrap()
        );
        assert!(
            !s.finish_signing_document("r1", 0, Err("again"))
                .await
                .unwrap()
        );
        assert!(
            s.finish_signing_document("r1", 1, Err("not a PDF"))
                .await
                .unwrap()
        );
        let docs = s.signing_documents("r1").await.unwrap();
        assert_eq!(docs[0].status, "signed");
        assert!(docs[0].has_result);
        assert_eq!(docs[1].status, "failed");
        assert_eq!(docs[1].error.as_deref(), Some("not a PDF"));
        assert!(
            s.transition_signing_request("r1", "approved", "signed", None, 30)
                .await
                .unwrap()
        );
        let r = s.signing_request("r1").await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.decided_at, r.finished_at),
            ("signed", Some(20), Some(30))
        );
        assert_eq!(
            s.signing_document_result("r1", 0).await.unwrap(),
            Some((vec![9, 9], "application/pdf".into()))
        );
        s.signing_results_fetched("r1", 40).await.unwrap();
        assert_eq!(s.purge_signing_contents(40).await.unwrap(), 2);
        assert_eq!(s.signing_document_result("r1", 0).await.unwrap(), None);
        assert_eq!(s.signing_document_content("r1", 1).await.unwrap(), None);
        // The record and the hashes stay for the history.
        assert_eq!(s.signing_documents("r1").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_authorization_ends_and_forgets_its_sad() {
        let s = store().await;
        let mut r = request("a1");
        r.purpose = "authorize".into();
        s.insert_signing_request(&r, &[document(0), document(1)])
            .await
            .unwrap();
        assert!(
            s.transition_signing_request("a1", "pending", "approved", Some((20, "totp")), 20)
                .await
                .unwrap()
        );
        s.set_request_sad("a1", &[7, 7]).await.unwrap();
        // Lapsed once decided before the cut-off, and only for its purpose.
        assert!(
            s.lapsed_signing_requests("sign", 30, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.lapsed_signing_requests("authorize", 19, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.lapsed_signing_requests("authorize", 30, 10)
                .await
                .unwrap()[0]
                .id,
            "a1"
        );
        assert_eq!(s.mark_documents_signed("a1", &[1]).await.unwrap(), 1);
        // Again, or unknown positions: nothing changes.
        assert_eq!(s.mark_documents_signed("a1", &[1, 5]).await.unwrap(), 1);
        assert_eq!(s.mark_documents_signed("a1", &[0]).await.unwrap(), 0);
        let docs = s.signing_documents("a1").await.unwrap();
        assert!(docs.iter().all(|d| d.status == "signed" && !d.has_result));
        assert!(
            s.transition_signing_request("a1", "approved", "signed", None, 40)
                .await
                .unwrap()
        );
        // The SAD not handed out is gone with the request's end.
        assert_eq!(s.take_request_sad("a1").await.unwrap(), None);
        assert!(
            s.lapsed_signing_requests("authorize", 50, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_sad_is_spent_once_per_hash_all_or_none() {
        let s = store().await;
        let sad = SadRecord {
            id: "sad1".into(),
            user_id: "u1".into(),
            credential_id: "c1".into(),
            request_id: None,
            client_id: "csc".into(),
            hash_alg: "sha256".into(),
            hashes: vec!["aa".into(), "bb".into()],
            factor: "totp".into(),
            created_at: 1,
            expires_at: 301,
        };
        s.insert_sad(&sad).await.unwrap();
        assert_eq!(s.sad("sad1").await.unwrap(), Some(sad));
        assert!(s.spend_sad("sad1", &["aa".into()], 2).await.unwrap());
        // A batch with one spent hash spends nothing.
        assert!(
            !s.spend_sad("sad1", &["bb".into(), "aa".into()], 3)
                .await
                .unwrap()
        );
        assert!(s.spend_sad("sad1", &["bb".into()], 4).await.unwrap());
        // One hash twice in a call is one signature, not two: refused, nothing spent.
        assert!(
            !s.spend_sad("sad1", &["cc".into(), "cc".into()], 5)
                .await
                .unwrap()
        );
        // More hashes than one statement holds are still all or none.
        let many: Vec<String> = (0..130).map(|i| format!("d{i}")).collect();
        assert!(s.spend_sad("sad1", &many, 6).await.unwrap());
        assert!(s.spend_sad("sad1", &["cc".into()], 7).await.unwrap());
        let mut late = vec!["ee".to_owned()];
        late.extend(many.iter().skip(100).cloned());
        assert!(!s.spend_sad("sad1", &late, 8).await.unwrap());
        assert!(s.spend_sad("sad1", &["ee".into()], 9).await.unwrap());
    }
}

/// Signing activity of one unit's officials since a time: requests by status, documents signed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitActivity {
    pub unit_id: String,
    /// `(status, requests)`.
    pub requests: Vec<(String, i64)>,
    pub documents_signed: i64,
}

impl Store {
    /// The signing activity of the officials of each of `units` (requests created at or after
    /// `since`), for the units with any.
    pub async fn signing_activity(
        &self,
        units: &[String],
        since: i64,
    ) -> Result<Vec<UnitActivity>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..units.len()).map(|i| format!("${}", i + 2)).collect();
        let scope = format!(
            "FROM signing_requests r JOIN users u ON u.id = r.user_id WHERE r.created_at >= $1 AND u.unit_id IN ({})",
            marks.join(", ")
        );
        let bind = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
            for u in units {
                q = q.bind(u.clone());
            }
            q
        };
        let by_status = bind(format!(
            "SELECT u.unit_id AS unit_id, r.status AS status, COUNT(*) AS n {scope} GROUP BY u.unit_id, r.status"
        ))
        .fetch_all(self.pool())
        .await?;
        let signed = bind(format!(
            "SELECT u.unit_id AS unit_id, COUNT(*) AS n FROM signing_documents d JOIN signing_requests r ON r.id = d.request_id JOIN users u ON u.id = r.user_id WHERE d.status = 'signed' AND r.created_at >= $1 AND u.unit_id IN ({}) GROUP BY u.unit_id",
            marks.join(", ")
        ))
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<UnitActivity> = Vec::new();
        let entry = |out: &mut Vec<UnitActivity>, unit: String| -> usize {
            match out.iter().position(|a| a.unit_id == unit) {
                Some(i) => i,
                None => {
                    out.push(UnitActivity {
                        unit_id: unit,
                        ..UnitActivity::default()
                    });
                    out.len() - 1
                }
            }
        };
        for row in &by_status {
            let i = entry(&mut out, row.try_get("unit_id")?);
            out[i]
                .requests
                .push((row.try_get("status")?, row.try_get("n")?));
        }
        for row in &signed {
            let i = entry(&mut out, row.try_get("unit_id")?);
            out[i].documents_signed = row.try_get("n")?;
        }
        Ok(out)
    }
}
