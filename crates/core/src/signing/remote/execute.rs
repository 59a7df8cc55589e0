//! Signing an approved request: each document is signed with the official's credential,
//! concurrently on the HSM session pool, right after its SAD entry is spent. One bad document
//! fails alone, with its reason; the request ends `signed` when at least one document was
//! signed, else `failed`.

use std::sync::Arc;

use serde_json::json;
use tessera_formats::cades::{self, Profile, SignerCerts};
use tessera_formats::pdf::appearance::{AppearanceSpec, Visible, vietnam_time};
use tessera_formats::pdf::sign::SignOptions;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{HashAlg, KeyPurpose, SignInput};
use tessera_store::signing_requests::{DocumentRecord, RequestRecord};

use super::sad::{self, Presented};
use super::submit::DocumentOptions;
use super::{RemoteError, Status, seal_context};
use crate::Provider;
use crate::audit::Event;
use crate::pki::UsableCredential;
use crate::request::RequestMeta;
use crate::signing::images::{ImageOwner, image};
use crate::signing::pdf::{PadesJob, PadesLevel, Placement, make_pades, subject_name};
use crate::signing::{SigningError, blocking_signing, parse_hash, scheme_for, tsa};

/// Media types of results.
pub const PDF: &str = "application/pdf";
pub const CMS: &str = "application/pkcs7-signature";
pub const RAW: &str = "application/octet-stream";

/// Signs every pending document of approved request `request_id` with `sad`, as replica
/// `replica`; answers how many were signed and how many failed.
pub async fn sign_request(
    p: &Provider,
    request_id: &str,
    sad: &str,
    replica: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(usize, usize), RemoteError> {
    let request =
        p.store.signing_request(request_id).await?.ok_or_else(|| {
            RemoteError::NotFound(format!("signing request {request_id} not found"))
        })?;
    if request.status != Status::Approved.as_str() {
        return Err(RemoteError::WrongState(format!(
            "request {request_id} is {}",
            request.status
        )));
    }
    p.store.set_signing_replica(request_id, replica).await?;
    let documents: Vec<DocumentRecord> = p
        .store
        .signing_documents(request_id)
        .await?
        .into_iter()
        .filter(|d| d.status == "pending")
        .collect();
    // Checked once more here: a credential suspended between approval and signing signs
    // nothing.
    let credential = crate::pki::usable_credential(p, &request.credential_id, now)
        .await
        .map_err(|e| e.to_string());
    let name = credential
        .as_ref()
        .map(|c| subject_name(&c.cert_der))
        .unwrap_or_default();
    let shared = Arc::new(Shared {
        request,
        credential,
        sad: sad.to_owned(),
        meta: meta.clone(),
        name,
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(
        p.config.signing.concurrency.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for doc in documents {
        let (p, shared, permits) = (p.clone(), shared.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let outcome = sign_document(&p, &shared, &doc, now).await;
            record_outcome(&p, &shared, &doc, outcome, now).await
        });
    }
    let (mut signed, mut failed) = (0usize, 0usize);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(true)) => signed += 1,
            Ok(Ok(false)) => failed += 1,
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(crate::CoreError::Internal(format!("signing task: {e}")).into()),
        }
    }
    let to = if signed > 0 {
        Status::Signed
    } else {
        Status::Failed
    };
    if p.store
        .transition_signing_request(request_id, "approved", to.as_str(), None, now)
        .await?
    {
        super::lifecycle::announce(p, &shared.request, to, now).await?;
    }
    Ok((signed, failed))
}

struct Shared {
    request: RequestRecord,
    credential: Result<UsableCredential, String>,
    sad: String,
    meta: RequestMeta,
    /// The signer's name as the certificate gives it.
    name: String,
}

/// Signs one document: spends its SAD entry, then makes the signature. Answers the result
/// and its media type, or why it failed (in words for the application).
async fn sign_document(
    p: &Provider,
    shared: &Shared,
    doc: &DocumentRecord,
    now: i64,
) -> Result<(Vec<u8>, &'static str), String> {
    let credential = shared.credential.as_ref().map_err(Clone::clone)?;
    let hash = parse_hash(&doc.hash_alg).map_err(|e| e.to_string())?;
    let entries = [sad::entry(hash, &doc.digest, Some(doc.idx))];
    sad::redeem(
        p,
        &Presented {
            sad: &shared.sad,
            credential_id: &credential.id,
            client_id: &shared.request.client_id,
            entries: &entries,
        },
        &shared.meta,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let options: DocumentOptions = serde_json::from_str(&doc.options).unwrap_or_default();
    let content = match doc.kind.as_str() {
        "hash" => None,
        _ => {
            let sealed = p
                .store
                .signing_document_content(&doc.request_id, doc.idx)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the document was deleted before it was signed")?;
            Some(
                p.keyed
                    .open(&seal_context(&doc.request_id, doc.idx, "content"), &sealed)
                    .map_err(|e| e.to_string())?,
            )
        }
    };
    let level = PadesLevel::parse(&shared.request.level).unwrap_or(PadesLevel::BB);
    let made = match (doc.kind.as_str(), content) {
        ("pdf", Some(pdf)) => sign_pdf(p, shared, credential, pdf, &options, level, now)
            .await
            .map(|b| (b, PDF)),
        ("data", Some(_)) | ("hash", None) if options.raw => {
            raw_signature(p, credential, hash, &doc.digest)
                .await
                .map(|b| (b, RAW))
        }
        ("data", Some(_)) | ("hash", None) => {
            cms_signature(p, credential, hash, &doc.digest, level, now)
                .await
                .map(|b| (b, CMS))
        }
        _ => Err(SigningError::Invalid(
            "the document's content is missing".into(),
        )),
    };
    made.map_err(|e| e.to_string())
}

pub(super) fn custody_signer(
    p: &Provider,
    credential: &UsableCredential,
    hash: HashAlg,
) -> Result<CustodySigner, SigningError> {
    let scheme = scheme_for(credential.key_alg, hash, false)?;
    CustodySigner::with_scheme(
        p.signer.custody().clone(),
        credential.key_alg,
        KeyPurpose::Credential,
        &credential.key_ref,
        scheme,
    )
    .map_err(|e| SigningError::Format(e.into()))
}

pub(super) fn certs(credential: &UsableCredential) -> SignerCerts {
    SignerCerts {
        cert_der: credential.cert_der.clone(),
        chain: credential.chain.clone(),
    }
}

/// PAdES with the official's handwritten signature image when the caller asked for a visible
/// signature (Decree 30/2020, Annex I).
async fn sign_pdf(
    p: &Provider,
    shared: &Shared,
    credential: &UsableCredential,
    pdf: Vec<u8>,
    options: &DocumentOptions,
    level: PadesLevel,
    now: i64,
) -> Result<Vec<u8>, SigningError> {
    let mut spec = AppearanceSpec::default();
    let mut sign_options = SignOptions::new(shared.name.clone(), now);
    if let Some(a) = &options.appearance {
        let placement = match (&a.rect, &a.anchor) {
            (Some(rect), None) => Placement::Rect {
                page: a.page.unwrap_or(1),
                rect: *rect,
            },
            (None, Some(text)) => Placement::Anchor {
                text: text.clone(),
                page: a.page,
            },
            _ => {
                return Err(SigningError::Invalid(
                    "an appearance needs either rect or anchor".into(),
                ));
            }
        };
        let signature_image = image(p, &ImageOwner::User(shared.request.user_id.clone()))
            .await?
            .map(|i| i.png);
        spec.visible = Some(Visible {
            placement,
            signature_image,
            seal: None,
            lines: vec![
                format!("Ký bởi: {}", shared.name),
                format!("Thời gian ký: {}", vietnam_time(now)),
            ],
            text_size: 8.0,
        });
        sign_options.reason = a.reason.clone();
        sign_options.location = a.location.clone();
    }
    let job = PadesJob {
        custody_signer: custody_signer(p, credential, HashAlg::Sha256)?,
        certs: certs(credential),
        spec,
        options: sign_options,
        level,
    };
    make_pades(p, pdf, job, now).await
}

/// A detached CAdES over `digest` (B-T when the level asks for a timestamp).
async fn cms_signature(
    p: &Provider,
    credential: &UsableCredential,
    hash: HashAlg,
    digest: &[u8],
    level: PadesLevel,
    now: i64,
) -> Result<Vec<u8>, SigningError> {
    let signer = custody_signer(p, credential, hash)?;
    let certs = certs(credential);
    let digest = digest.to_vec();
    let cms = blocking_signing(move || {
        Ok(cades::sign_detached(
            &signer,
            &certs,
            &digest,
            Profile::Cades { signing_time: now },
        )?)
    })
    .await?;
    if level == PadesLevel::BB {
        Ok(cms)
    } else {
        Ok(tsa::add_signature_timestamp(p, &cms, now).await?)
    }
}

/// The bare signature value over `digest` (PKCS#1 v1.5 or ECDSA DER).
async fn raw_signature(
    p: &Provider,
    credential: &UsableCredential,
    hash: HashAlg,
    digest: &[u8],
) -> Result<Vec<u8>, SigningError> {
    let signer = custody_signer(p, credential, hash)?;
    let digest = digest.to_vec();
    blocking_signing(move || {
        signer
            .sign_checked(SignInput::Digest(&digest))
            .map_err(|e| SigningError::Format(e.into()))
    })
    .await
}

/// Stores a document's outcome and audits it; answers whether it was signed.
async fn record_outcome(
    p: &Provider,
    shared: &Shared,
    doc: &DocumentRecord,
    outcome: Result<(Vec<u8>, &'static str), String>,
    now: i64,
) -> Result<bool, RemoteError> {
    let r = &shared.request;
    let detail = |extra: serde_json::Value| {
        let mut d = json!({
            "request": r.id,
            "document": doc.idx,
            "name": doc.name,
            "kind": doc.kind,
            "sha256": doc.sha256,
            "credential": r.credential_id,
            "level": r.level,
            "factor": r.factor,
        });
        if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        d
    };
    match outcome {
        Ok((bytes, media_type)) => {
            let sealed = p
                .keyed
                .seal(&seal_context(&r.id, doc.idx, "result"), &bytes)?;
            p.store
                .finish_signing_document(&r.id, doc.idx, Ok((sealed, media_type)))
                .await?;
            p.audit(
                Event::SigningDocumentSigned
                    .at(now)
                    .actor(&r.user_id)
                    .client(&r.client_id)
                    .meta(&shared.meta)
                    .detail(detail(json!({ "result_bytes": bytes.len() }))),
            )
            .await?;
            Ok(true)
        }
        Err(reason) => {
            p.store
                .finish_signing_document(&r.id, doc.idx, Err(&reason))
                .await?;
            p.audit(
                Event::SigningDocumentFailed
                    .at(now)
                    .actor(&r.user_id)
                    .client(&r.client_id)
                    .meta(&shared.meta)
                    .detail(detail(json!({ "reason": reason }))),
            )
            .await?;
            Ok(false)
        }
    }
}
