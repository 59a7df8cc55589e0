//! The signing-requests API's use cases for applications: submit a request, read it, cancel
//! it, fetch its results. Documents are checked against the limits before anything is kept,
//! and sealed at rest (AES-256-GCM under a key derived from the master key).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tessera_hsm::HashAlg;
use tessera_proto::signing::{Appearance, NewSigningRequest};
use tessera_store::pki::{CredentialFilter, CredentialStatus, OwnerKind};
use tessera_store::signing_requests::{DocumentRecord, NewDocumentRecord, RequestRecord};
use tessera_store::users::User;

use super::{RemoteError, RequestView, Status, hex, seal_context};
use crate::Provider;
use crate::admin_api::scope::UnitTree;
use crate::audit::Event;
use crate::request::RequestMeta;
use crate::signing::hash_reader;
use crate::signing::pdf::PadesLevel;

/// Who submits.
#[derive(Clone, Copy, Debug)]
pub enum Requester<'a> {
    /// The official's own access token (scope `sign`) obtained by `client_id`: the official
    /// signs.
    Official {
        user_id: &'a str,
        client_id: &'a str,
    },
    /// An application's client-credentials token (scope `sign:request`), naming the signer;
    /// only for clients a unit's administrators allowed.
    Application { client_id: &'a str },
}

impl Requester<'_> {
    pub fn client_id(&self) -> &str {
        match self {
            Requester::Official { client_id, .. } | Requester::Application { client_id } => {
                client_id
            }
        }
    }

    fn actor(&self) -> &str {
        match self {
            Requester::Official { user_id, .. } => user_id,
            Requester::Application { client_id } => client_id,
        }
    }
}

/// Who reads or acts on an existing request: the requesting client or the signer.
#[derive(Clone, Copy, Debug)]
pub enum Viewer<'a> {
    Client(&'a str),
    Signer(&'a str),
}

/// What Tessera does once the official approves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Tessera signs the documents.
    Sign,
    /// A CSC client receives the SAD and asks for the signatures itself.
    Authorize,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Sign => "sign",
            Purpose::Authorize => "authorize",
        }
    }
}

/// A document's stored options (`signing_documents.options`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DocumentOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<Appearance>,
    /// For a hash: answer the bare signature value instead of a CMS.
    #[serde(default)]
    pub raw: bool,
}

/// Submits `body`; answers the stored request. `purpose` is [`Purpose::Sign`] for the
/// signing-requests API.
pub async fn submit(
    p: &Provider,
    requester: Requester<'_>,
    body: &NewSigningRequest,
    purpose: Purpose,
    meta: &RequestMeta,
    now: i64,
) -> Result<RequestRecord, RemoteError> {
    let checked = check_and_store(p, requester, body, purpose, now).await;
    match &checked {
        Ok(request) => {
            let docs = p.store.signing_documents(&request.id).await?;
            p.audit(
                Event::SigningRequestCreated
                    .at(now)
                    .actor(requester.actor())
                    .client(requester.client_id())
                    .meta(meta)
                    .detail(json!({
                        "request": request.id,
                        "signer": request.user_id,
                        "credential": request.credential_id,
                        "purpose": request.purpose,
                        "level": request.level,
                        "documents": docs.iter().map(|d| json!({"name": d.name, "kind": d.kind, "sha256": d.sha256})).collect::<Vec<_>>(),
                    })),
            )
            .await?;
        }
        Err(RemoteError::Internal(_)) => {}
        Err(e) => {
            p.audit(
                Event::SigningRequestRefused
                    .at(now)
                    .actor(requester.actor())
                    .client(requester.client_id())
                    .meta(meta)
                    .detail(json!({ "step": "submit", "reason": e.to_string() })),
            )
            .await?;
        }
    }
    checked
}

async fn check_and_store(
    p: &Provider,
    requester: Requester<'_>,
    body: &NewSigningRequest,
    purpose: Purpose,
    now: i64,
) -> Result<RequestRecord, RemoteError> {
    let limits = &p.config.signing;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        return Err(RemoteError::Invalid(
            "title must be 1 to 300 characters".into(),
        ));
    }
    if body.documents.is_empty() || body.documents.len() > limits.max_documents {
        return Err(RemoteError::Invalid(format!(
            "documents must hold 1 to {} entries, not {}",
            limits.max_documents,
            body.documents.len()
        )));
    }
    let level = match &body.level {
        Some(l) => PadesLevel::parse(l).map_err(|e| RemoteError::Invalid(e.to_string()))?,
        None => PadesLevel::BB,
    };
    let expires_in = body.expires_in.unwrap_or(limits.default_expires_in);
    if !(60..=limits.max_expires_in).contains(&expires_in) {
        return Err(RemoteError::Invalid(format!(
            "expires_in must be 60 to {} seconds",
            limits.max_expires_in
        )));
    }
    if let Some(uri) = &body.callback_uri {
        crate::admin::check_redirect("callback_uri", uri, false)
            .map_err(|e| RemoteError::Invalid(e.to_string()))?;
    }
    let signer = signer(p, requester, body.signer.as_deref()).await?;
    let credential_id = credential(p, &signer, body.credential_id.as_deref(), now).await?;

    let id = crate::secrets::random_id()?;
    let mut total = 0usize;
    let mut documents = Vec::with_capacity(body.documents.len());
    for (i, d) in body.documents.iter().enumerate() {
        let idx = i as i64;
        let (record, content) = document(d, idx, limits.max_document_bytes)?;
        total += content.as_ref().map_or(0, Vec::len);
        if total > limits.max_request_bytes {
            return Err(RemoteError::TooLarge(format!(
                "the documents exceed {} bytes in all",
                limits.max_request_bytes
            )));
        }
        let sealed_content = content
            .map(|c| p.keyed.seal(&seal_context(&id, idx, "content"), &c))
            .transpose()?;
        documents.push(NewDocumentRecord {
            record,
            sealed_content,
        });
    }
    if purpose == Purpose::Authorize && documents.iter().any(|d| d.record.kind != "hash") {
        return Err(RemoteError::Invalid(
            "an authorization request holds hashes only".into(),
        ));
    }
    let request = RequestRecord {
        id,
        client_id: requester.client_id().to_owned(),
        user_id: signer.id.clone(),
        credential_id,
        title: title.to_owned(),
        level: level.name().to_owned(),
        purpose: purpose.as_str().to_owned(),
        status: Status::Pending.as_str().to_owned(),
        callback_uri: body.callback_uri.clone(),
        created_at: now,
        expires_at: now + expires_in,
        decided_at: None,
        factor: None,
        finished_at: None,
        fetched_at: None,
        purge_at: now + expires_in + limits.retention,
        replica: None,
    };
    p.store.insert_signing_request(&request, &documents).await?;
    Ok(request)
}

/// The official who is asked to sign.
async fn signer(
    p: &Provider,
    requester: Requester<'_>,
    named: Option<&str>,
) -> Result<User, RemoteError> {
    match requester {
        Requester::Official { user_id, .. } => {
            let user = p
                .store
                .user_by_id(user_id)
                .await?
                .ok_or_else(|| RemoteError::Forbidden("the token's user is gone".into()))?;
            if let Some(name) = named
                && !name.eq_ignore_ascii_case(&user.username)
            {
                return Err(RemoteError::Forbidden(
                    "with the official's own token (scope sign) the signer is that official; ask with the application's token (scope sign:request) for another person".into(),
                ));
            }
            Ok(user)
        }
        Requester::Application { client_id } => {
            let name = named.ok_or_else(|| {
                RemoteError::Invalid("signer is required with the application's token".into())
            })?;
            // Unknown people and people outside the allowed units get the same answer: the
            // API must not tell an application who exists elsewhere.
            let refused = || {
                RemoteError::Forbidden(format!(
                    "client {client_id} may not ask {name:?} for signatures; a unit administrator can allow it for the signer's unit"
                ))
            };
            let user = p
                .store
                .user_by_username(&name.to_lowercase())
                .await?
                .ok_or_else(refused)?;
            let allowed = p.store.signing_request_units(client_id).await?;
            let unit = user.unit_id.clone().ok_or_else(refused)?;
            let tree = UnitTree::new(&p.store.list_units().await?);
            if !allowed.iter().any(|a| tree.is_within(&unit, a)) {
                return Err(refused());
            }
            Ok(user)
        }
    }
}

/// The personal credential that will sign: the one named, else the official's most recent
/// active one.
async fn credential(
    p: &Provider,
    signer: &User,
    named: Option<&str>,
    now: i64,
) -> Result<String, RemoteError> {
    let id = match named {
        Some(id) => id.to_owned(),
        None => {
            let mut active = p
                .store
                .list_credentials(&CredentialFilter {
                    user_id: Some(signer.id.clone()),
                    status: Some(CredentialStatus::Active),
                    ..CredentialFilter::default()
                })
                .await?;
            active.retain(|c| c.owner_kind == OwnerKind::Person);
            active.sort_by_key(|c| std::cmp::Reverse(c.not_before.unwrap_or(c.created_at)));
            active
                .first()
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    RemoteError::Unusable(format!(
                        "{} has no active signing credential; a certificate administrator can issue one",
                        signer.username
                    ))
                })?
        }
    };
    let usable = crate::pki::usable_credential(p, &id, now).await?;
    if usable.owner != OwnerKind::Person || usable.user_id.as_deref() != Some(&signer.id) {
        return Err(RemoteError::Unusable(format!(
            "credential {id} is not a personal credential of {}",
            signer.username
        )));
    }
    Ok(id)
}

/// Decodes and checks one document; answers its record and its content (none for a hash).
fn document(
    d: &tessera_proto::signing::NewDocument,
    idx: i64,
    max_bytes: usize,
) -> Result<(DocumentRecord, Option<Vec<u8>>), RemoteError> {
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(RemoteError::Invalid(format!(
            "document {idx}: name must be 1 to 255 characters"
        )));
    }
    let decode = |field: &str, b64: &str| -> Result<Vec<u8>, RemoteError> {
        // Base64 is 4/3 of the bytes: refuse before decoding anything too big.
        if b64.len() / 4 * 3 > max_bytes + 3 {
            return Err(RemoteError::TooLarge(format!(
                "document {idx} ({name}) is over the limit of {max_bytes} bytes"
            )));
        }
        let bytes = STANDARD.decode(b64.trim()).map_err(|e| {
            RemoteError::Invalid(format!(
                "document {idx} ({name}): {field} is not base64: {e}"
            ))
        })?;
        if bytes.len() > max_bytes {
            return Err(RemoteError::TooLarge(format!(
                "document {idx} ({name}) is over the limit of {max_bytes} bytes"
            )));
        }
        Ok(bytes)
    };
    let mut options = DocumentOptions::default();
    let (kind, hash, content) = match (&d.pdf, &d.data, &d.hash) {
        (Some(pdf), None, None) => {
            let bytes = decode("pdf", pdf)?;
            if !bytes.starts_with(b"%PDF-") {
                return Err(RemoteError::Invalid(format!(
                    "document {idx} ({name}) is not a PDF"
                )));
            }
            options.appearance = d.appearance.clone();
            ("pdf", HashAlg::Sha256, bytes)
        }
        (None, Some(data), None) => {
            if d.appearance.is_some() {
                return Err(RemoteError::Invalid(format!(
                    "document {idx} ({name}): an appearance applies to PDFs only"
                )));
            }
            let hash = match &d.hash_alg {
                Some(a) => crate::signing::parse_hash(a)
                    .map_err(|e| RemoteError::Invalid(format!("document {idx}: {e}")))?,
                None => HashAlg::Sha256,
            };
            ("data", hash, decode("data", data)?)
        }
        (None, None, Some(h)) => {
            let alg = d.hash_alg.as_deref().ok_or_else(|| {
                RemoteError::Invalid(format!("document {idx} ({name}): hash_alg is required"))
            })?;
            let hash = crate::signing::parse_hash(alg)
                .map_err(|e| RemoteError::Invalid(format!("document {idx}: {e}")))?;
            let digest = STANDARD.decode(h.trim()).map_err(|e| {
                RemoteError::Invalid(format!("document {idx} ({name}): hash is not base64: {e}"))
            })?;
            if digest.len() != hash.output_len() {
                return Err(RemoteError::Invalid(format!(
                    "document {idx} ({name}): a {} hash has {} bytes, not {}",
                    hash.name(),
                    hash.output_len(),
                    digest.len()
                )));
            }
            options.raw = match d.result.as_deref() {
                None | Some("cms") => false,
                Some("raw") => true,
                Some(other) => {
                    return Err(RemoteError::Invalid(format!(
                        "document {idx} ({name}): result must be cms or raw, not {other:?}"
                    )));
                }
            };
            let record = record(
                idx,
                name,
                "hash",
                hash,
                digest.clone(),
                hex(&digest),
                &options,
            )?;
            return Ok((record, None));
        }
        _ => {
            return Err(RemoteError::Invalid(format!(
                "document {idx} ({name}) must have exactly one of pdf, data and hash"
            )));
        }
    };
    let (digest, _) = hash_reader(hash, content.as_slice())
        .map_err(|e| RemoteError::Internal(crate::CoreError::Internal(e.to_string())))?;
    let sha256 = if hash == HashAlg::Sha256 {
        hex(&digest)
    } else {
        crate::secrets::sha256_hex(&content)
    };
    let record = record(idx, name, kind, hash, digest, sha256, &options)?;
    Ok((record, Some(content)))
}

fn record(
    idx: i64,
    name: &str,
    kind: &str,
    hash: HashAlg,
    digest: Vec<u8>,
    sha256: String,
    options: &DocumentOptions,
) -> Result<DocumentRecord, RemoteError> {
    Ok(DocumentRecord {
        request_id: String::new(),
        idx,
        name: name.to_owned(),
        kind: kind.to_owned(),
        hash_alg: hash.name().to_owned(),
        digest,
        sha256,
        options: serde_json::to_string(options)
            .map_err(|e| RemoteError::Internal(crate::CoreError::Internal(e.to_string())))?,
        status: "pending".into(),
        error: None,
        result_type: None,
        has_result: false,
    })
}

/// The request `id` as `viewer` may see it. Someone else's request is "not found", so its
/// existence is not revealed.
pub async fn view(p: &Provider, viewer: Viewer<'_>, id: &str) -> Result<RequestView, RemoteError> {
    let not_found = || RemoteError::NotFound(format!("signing request {id} not found"));
    let request = p.store.signing_request(id).await?.ok_or_else(not_found)?;
    let allowed = match viewer {
        Viewer::Client(c) => request.client_id == c,
        Viewer::Signer(u) => request.user_id == u,
    };
    if !allowed {
        return Err(not_found());
    }
    let documents = p.store.signing_documents(id).await?;
    let signer = p
        .store
        .user_by_id(&request.user_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    Ok(RequestView {
        request,
        documents,
        signer,
    })
}

/// The official's requests, newest first (`pending` ones when `pending_only`).
pub async fn list_for_signer(
    p: &Provider,
    user_id: &str,
    pending_only: bool,
    now: i64,
) -> Result<Vec<RequestView>, RemoteError> {
    let records = p
        .store
        .user_signing_requests(user_id, pending_only.then_some("pending"), 200)
        .await?;
    let mut out = Vec::new();
    for request in records {
        if pending_only && request.expires_at <= now {
            continue;
        }
        let documents = p.store.signing_documents(&request.id).await?;
        out.push(RequestView {
            request,
            documents,
            signer: String::new(),
        });
    }
    Ok(out)
}

/// The result of document `idx`: its bytes (opened) and media type. The requesting client's
/// fetch is noted; once it fetched every result, contents are deleted at the next purge.
pub async fn result(
    p: &Provider,
    viewer: Viewer<'_>,
    id: &str,
    idx: i64,
    now: i64,
) -> Result<(Vec<u8>, String), RemoteError> {
    let v = view(p, viewer, id).await?;
    let doc = v
        .documents
        .iter()
        .find(|d| d.idx == idx)
        .ok_or_else(|| RemoteError::NotFound(format!("request {id} has no document {idx}")))?;
    if doc.status != "signed" {
        return Err(RemoteError::WrongState(format!(
            "document {idx} of request {id} is {}",
            doc.status
        )));
    }
    let (sealed, media_type) =
        p.store
            .signing_document_result(id, idx)
            .await?
            .ok_or_else(|| {
                RemoteError::NotFound(format!(
                    "the result of document {idx} was deleted after the retention period"
                ))
            })?;
    let bytes = p.keyed.open(&seal_context(id, idx, "result"), &sealed)?;
    if let Viewer::Client(_) = viewer
        && p.store.signing_document_fetched(id, idx, now).await?
    {
        p.store.signing_results_fetched(id, now).await?;
    }
    Ok((bytes, media_type))
}

/// Cancels a pending request, as its client.
pub async fn cancel(
    p: &Provider,
    client_id: &str,
    id: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<RequestView, RemoteError> {
    let v = view(p, Viewer::Client(client_id), id).await?;
    if !p
        .store
        .transition_signing_request(id, "pending", "cancelled", None, now)
        .await?
    {
        // Read again: the state that won (another replica's approval, expiry) is the answer.
        let now_state = view(p, Viewer::Client(client_id), id).await?;
        return Err(RemoteError::WrongState(format!(
            "request {id} is {} and can no longer be cancelled",
            now_state.request.status
        )));
    }
    p.audit(
        Event::SigningRequestCancelled
            .at(now)
            .actor(client_id)
            .client(client_id)
            .meta(meta)
            .detail(json!({ "request": id, "signer": v.request.user_id })),
    )
    .await?;
    // Announced like every other final state: the application's other parts (a worker
    // waiting on the webhook) learn of it the same way.
    super::lifecycle::announce(p, &v.request, Status::Cancelled, now).await?;
    view(p, Viewer::Client(client_id), id).await
}
