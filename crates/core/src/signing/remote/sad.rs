//! Signature Activation Data (CSC API v2 §8.3.3 `credentials/authorize`; EN 419 241-1 SCAL2):
//! what one approval by the official allows. A SAD is a random value handed to whoever will
//! ask for the signatures; only its SHA-256 is stored, with the document hashes it covers, the
//! credential, the client, and a short lifetime. Each hash may be signed once.
//!
//! [`redeem`] is called right before the HSM call, on whichever replica signs.

use serde_json::json;
use tessera_hsm::HashAlg;
use tessera_store::signing_requests::SadRecord;

use super::{RemoteError, hex};
use crate::audit::Event;
use crate::request::RequestMeta;
use crate::{CoreError, Provider};

/// Why a SAD was refused; each is distinct so that a client (and the audit) can tell them apart.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SadError {
    #[error("the SAD is not known (never issued, or removed after it expired)")]
    Unknown,
    #[error("the SAD expired; the official must approve again")]
    Expired,
    #[error("the SAD was issued for another credential")]
    OtherCredential,
    #[error("the SAD was issued to another application")]
    OtherClient,
    #[error("hash {0} was not authorized by the official")]
    HashNotAuthorized(String),
    #[error("the SAD was already used for hash {0}")]
    Replayed(String),
}

impl SadError {
    /// A short machine-readable name, for the audit and the CSC error description.
    pub fn code(&self) -> &'static str {
        match self {
            SadError::Unknown => "unknown",
            SadError::Expired => "expired",
            SadError::OtherCredential => "other_credential",
            SadError::OtherClient => "other_client",
            SadError::HashNotAuthorized(_) => "hash_not_authorized",
            SadError::Replayed(_) => "replayed",
        }
    }
}

/// One signature a SAD allows: a hash under its algorithm, and for a signing request the
/// document's position too (so two equal documents are two signatures).
pub fn entry(hash: HashAlg, digest: &[u8], document: Option<i64>) -> String {
    match document {
        Some(idx) => format!("{idx}:{}:{}", hash.name(), hex(digest)),
        None => format!("{}:{}", hash.name(), hex(digest)),
    }
}

/// What a SAD is issued for.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub request_id: Option<&'a str>,
    pub client_id: &'a str,
    /// The hash algorithms, for the record (e.g. `sha256`).
    pub hash_algs: &'a str,
    /// [`entry`] of each signature allowed.
    pub entries: &'a [String],
    /// The factor proven for it (`totp`, `passkey`, `hardware_otp` …).
    pub factor: &'a str,
}

/// Issues a SAD for `grant`, valid for the configured lifetime; answers the SAD.
pub async fn issue(p: &Provider, grant: &Grant<'_>, now: i64) -> Result<String, CoreError> {
    let sad = crate::secrets::random_token()?;
    let record = SadRecord {
        id: crate::secrets::sha256_hex(sad.as_bytes()),
        user_id: grant.user_id.to_owned(),
        credential_id: grant.credential_id.to_owned(),
        request_id: grant.request_id.map(str::to_owned),
        client_id: grant.client_id.to_owned(),
        hash_alg: grant.hash_algs.to_owned(),
        hashes: grant.entries.to_vec(),
        factor: grant.factor.to_owned(),
        created_at: now,
        expires_at: now + p.config.signing.sad_ttl,
    };
    p.store.insert_sad(&record).await?;
    Ok(sad)
}

/// What a signer presents with a SAD.
#[derive(Clone, Debug)]
pub struct Presented<'a> {
    pub sad: &'a str,
    pub credential_id: &'a str,
    pub client_id: &'a str,
    /// [`entry`] of each signature asked for.
    pub entries: &'a [String],
}

/// Checks `presented` against its SAD and spends it for those digests (all or none). Every
/// refusal is audited with its reason.
pub async fn redeem(
    p: &Provider,
    presented: &Presented<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<SadRecord, RemoteError> {
    let id = crate::secrets::sha256_hex(presented.sad.as_bytes());
    let record = p.store.sad(&id).await?;
    spend(p, record, presented, meta, now).await
}

/// [`redeem`] for the SAD an access token carries (CSC scope `credential`): `record` is the
/// one bound to the token, `None` when it is gone (expired and removed). `presented.sad` is
/// not read.
pub async fn redeem_bound(
    p: &Provider,
    record: Option<SadRecord>,
    presented: &Presented<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<SadRecord, RemoteError> {
    // A bound SAD only disappears once expired.
    if record.is_none() {
        return refuse(p, None, presented, SadError::Expired, meta, now).await;
    }
    spend(p, record, presented, meta, now).await
}

async fn spend(
    p: &Provider,
    record: Option<SadRecord>,
    presented: &Presented<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<SadRecord, RemoteError> {
    let refusal = match (check(record.as_ref(), presented, now), record) {
        (Ok(()), Some(r)) => {
            if p.store.spend_sad(&r.id, presented.entries, now).await? {
                return Ok(r);
            }
            let replayed = SadError::Replayed(presented.entries.join(","));
            return refuse(p, Some(&r), presented, replayed, meta, now).await;
        }
        (Ok(()), None) => SadError::Unknown,
        (Err(e), r) => return refuse(p, r.as_ref(), presented, e, meta, now).await,
    };
    refuse(p, None, presented, refusal, meta, now).await
}

/// Audits the refusal of `presented` and answers it.
async fn refuse(
    p: &Provider,
    record: Option<&SadRecord>,
    presented: &Presented<'_>,
    refusal: SadError,
    meta: &RequestMeta,
    now: i64,
) -> Result<SadRecord, RemoteError> {
    p.audit(
        Event::SigningSadRefused
            .at(now)
            .maybe_actor(record.map(|r| r.user_id.as_str()))
            .client(presented.client_id)
            .meta(meta)
            .detail(json!({
                "reason": refusal.code(),
                "credential": presented.credential_id,
                "request": record.and_then(|r| r.request_id.clone()),
                "hashes": presented.entries,
            })),
    )
    .await?;
    Err(refusal.into())
}

/// The rules, without the store.
fn check(record: Option<&SadRecord>, presented: &Presented<'_>, now: i64) -> Result<(), SadError> {
    let r = record.ok_or(SadError::Unknown)?;
    if now >= r.expires_at {
        return Err(SadError::Expired);
    }
    if r.credential_id != presented.credential_id {
        return Err(SadError::OtherCredential);
    }
    if r.client_id != presented.client_id {
        return Err(SadError::OtherClient);
    }
    if let Some(e) = presented.entries.iter().find(|e| !r.hashes.contains(e)) {
        return Err(SadError::HashNotAuthorized(e.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SadRecord {
        SadRecord {
            id: "x".into(),
            user_id: "u1".into(),
            credential_id: "c1".into(),
            request_id: None,
            client_id: "app".into(),
            hash_alg: "sha256".into(),
            hashes: vec![
                entry(HashAlg::Sha256, &[1; 32], None),
                entry(HashAlg::Sha256, &[2; 32], None),
            ],
            factor: "totp".into(),
            created_at: 0,
            expires_at: 300,
        }
    }

    fn presented(entries: &[String]) -> Presented<'_> {
        Presented {
            sad: "s",
            credential_id: "c1",
            client_id: "app",
            entries,
        }
    }

    #[test]
    fn each_rule_has_its_own_refusal() {
        let ok = vec![entry(HashAlg::Sha256, &[1; 32], None)];
        assert_eq!(check(Some(&record()), &presented(&ok), 10), Ok(()));
        assert_eq!(check(None, &presented(&ok), 10), Err(SadError::Unknown));
        assert_eq!(
            check(Some(&record()), &presented(&ok), 300),
            Err(SadError::Expired)
        );
        let mut other = presented(&ok);
        other.credential_id = "c2";
        assert_eq!(
            check(Some(&record()), &other, 10),
            Err(SadError::OtherCredential)
        );
        let mut other = presented(&ok);
        other.client_id = "evil";
        assert_eq!(
            check(Some(&record()), &other, 10),
            Err(SadError::OtherClient)
        );
        // The same bytes under another algorithm, or at a document position, are other
        // signatures.
        let other_alg = vec![entry(HashAlg::Sha384, &[1; 32], None)];
        assert!(matches!(
            check(Some(&record()), &presented(&other_alg), 10),
            Err(SadError::HashNotAuthorized(_))
        ));
        let wrong = vec![ok[0].clone(), entry(HashAlg::Sha256, &[3; 32], None)];
        assert_eq!(
            check(Some(&record()), &presented(&wrong), 10),
            Err(SadError::HashNotAuthorized(wrong[1].clone()))
        );
    }
}
