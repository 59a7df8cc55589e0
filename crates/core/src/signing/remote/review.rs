//! What the official sees before deciding: the request, the application that asked, the
//! credential that will sign (and whether it can), the documents' own bytes for a preview, and
//! the official's signing history.

use tessera_store::signing_requests::RequestRecord;

use super::submit::{Viewer, view};
use super::{RemoteError, RequestView, Status, seal_context};
use crate::Provider;

/// The certificate that will sign, as people read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSummary {
    pub id: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Why it cannot sign now (suspended, revoked, expired…), `None` when it can.
    pub unusable: Option<String>,
}

/// A request as its official reviews it.
#[derive(Clone, Debug)]
pub struct Review {
    pub view: RequestView,
    /// The application's name, as on its login page.
    pub client_name: String,
    pub credential: CredentialSummary,
}

impl Review {
    /// Whether the official can still decide: the request is pending (an expired one says
    /// so) and its credential can sign.
    pub fn decidable(&self) -> Result<(), RemoteError> {
        let id = &self.view.request.id;
        match self.view.status() {
            Status::Pending => {}
            Status::Expired => {
                return Err(RemoteError::WrongState(format!("request {id} expired")));
            }
            other => {
                return Err(RemoteError::WrongState(format!(
                    "request {id} is {} and can no longer be decided",
                    other.as_str()
                )));
            }
        }
        match &self.credential.unusable {
            Some(why) => Err(RemoteError::Unusable(why.clone())),
            None => Ok(()),
        }
    }
}

/// Request `id` of `user_id`, expired first when its time ran out undecided (so that the page
/// says so). Someone else's request is "not found".
pub async fn review(
    p: &Provider,
    user_id: &str,
    id: &str,
    now: i64,
) -> Result<Review, RemoteError> {
    let mut v = view(p, Viewer::Signer(user_id), id).await?;
    if v.status() == Status::Pending && v.request.expires_at <= now {
        super::lifecycle::expire(p, &v.request, now).await?;
        v = view(p, Viewer::Signer(user_id), id).await?;
    }
    let client_name = client_name(p, &v.request.client_id).await?;
    let credential = credential(p, &v.request.credential_id, now).await?;
    Ok(Review {
        view: v,
        client_name,
        credential,
    })
}

async fn client_name(p: &Provider, client_id: &str) -> Result<String, RemoteError> {
    Ok(p.store
        .client(client_id)
        .await?
        .map_or_else(|| client_id.to_owned(), |c| c.name))
}

async fn credential(p: &Provider, id: &str, now: i64) -> Result<CredentialSummary, RemoteError> {
    let c = p
        .store
        .credential(id)
        .await?
        .ok_or_else(|| RemoteError::Unusable(format!("credential {id} no longer exists")))?;
    let unusable = match crate::pki::usable_credential(p, id, now).await {
        Ok(_) => None,
        Err(crate::pki::PkiError::Internal(e)) => return Err(e.into()),
        Err(e) => Some(e.to_string()),
    };
    Ok(CredentialSummary {
        id: c.id,
        subject: c.subject.unwrap_or_default(),
        issuer: c.issuer.unwrap_or_default(),
        serial: c.serial.unwrap_or_default(),
        not_before: c.not_before,
        not_after: c.not_after,
        unusable,
    })
}

/// The original bytes of PDF document `idx` of request `id`, for the official's preview while
/// the contents are kept. Other kinds are never shown (their bytes could be anything).
pub async fn original_pdf(
    p: &Provider,
    user_id: &str,
    id: &str,
    idx: i64,
) -> Result<Vec<u8>, RemoteError> {
    let v = view(p, Viewer::Signer(user_id), id).await?;
    let missing = || RemoteError::NotFound(format!("request {id} has no PDF document {idx}"));
    let doc = v
        .documents
        .iter()
        .find(|d| d.idx == idx)
        .ok_or_else(missing)?;
    if doc.kind != "pdf" {
        return Err(missing());
    }
    let sealed = p
        .store
        .signing_document_content(id, idx)
        .await?
        .ok_or_else(|| {
            RemoteError::NotFound(format!(
                "the content of document {idx} was deleted after the retention period"
            ))
        })?;
    Ok(p.keyed.open(&seal_context(id, idx, "content"), &sealed)?)
}

/// The official's requests waiting for a decision, newest first, each with its application's
/// name.
pub async fn waiting(
    p: &Provider,
    user_id: &str,
    now: i64,
) -> Result<Vec<(RequestView, String)>, RemoteError> {
    let mut names = Names::default();
    let mut out = Vec::new();
    for v in super::submit::list_for_signer(p, user_id, true, now).await? {
        let name = names.of(p, &v.request.client_id).await?;
        out.push((v, name));
    }
    Ok(out)
}

/// Application names, each looked up once.
#[derive(Default)]
struct Names(Vec<(String, String)>);

impl Names {
    async fn of(&mut self, p: &Provider, client_id: &str) -> Result<String, RemoteError> {
        if let Some((_, name)) = self.0.iter().find(|(id, _)| id == client_id) {
            return Ok(name.clone());
        }
        let name = client_name(p, client_id).await?;
        self.0.push((client_id.to_owned(), name.clone()));
        Ok(name)
    }
}

/// One line of the official's signing history.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub request: RequestRecord,
    pub client_name: String,
}

/// The official's `limit` most recent requests, newest first, each with its application's name.
pub async fn history(
    p: &Provider,
    user_id: &str,
    limit: i64,
) -> Result<Vec<HistoryEntry>, RemoteError> {
    let records = p.store.user_signing_requests(user_id, None, limit).await?;
    let mut names = Names::default();
    let mut out = Vec::with_capacity(records.len());
    for request in records {
        let client_name = names.of(p, &request.client_id).await?;
        out.push(HistoryEntry {
            request,
            client_name,
        });
    }
    Ok(out)
}
