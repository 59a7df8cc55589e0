//! What the application does with Tessera's signing API, through the SDK only: ask an official
//! of the unit for a signature (the application's client-credentials token, scope
//! `sign:request`), follow the request, fetch the signed PDF and have `/api/verify` check it.

use tessera_sdk::SigningClient;
use tessera_sdk::signing::{Appearance, NewSigningRequest, document, is_final};

use crate::store::{Document, ORIGINAL, REPORT, SIGNED, Signing, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tessera(#[from] tessera_sdk::SdkError),
}

/// Sends the document to `signer` for approval, and records the request.
pub async fn request_signature(
    store: &Store,
    signing: &SigningClient,
    doc: &mut Document,
    signer: &str,
    anchor: Option<&str>,
    now: i64,
) -> Result<(), OfficeError> {
    let pdf = store.read_file(&doc.id, ORIGINAL).await?;
    let mut item = document(&doc.file_name, &pdf);
    if let Some(anchor) = anchor {
        item.appearance = Some(Appearance {
            anchor: Some(anchor.to_owned()),
            ..Appearance::default()
        });
    }
    let created = signing
        .submit(&NewSigningRequest {
            title: doc.title.clone(),
            signer: Some(signer.to_owned()),
            documents: vec![item],
            // A timestamp from Tessera's TSA: the signing time is proven, not claimed.
            level: Some("B-T".into()),
            ..NewSigningRequest::default()
        })
        .await?;
    doc.signing = Some(Signing {
        request_id: created.id,
        signer: signer.to_owned(),
        status: created.status,
        done: 0,
        total: 1,
        approval_url: created.approval_url,
        requested_at: now,
        expires_at: created.expires_at,
        error: None,
        verdict: None,
    });
    store.save(doc).await?;
    Ok(())
}

/// Reads the request's state from Tessera while it is not final; once signed, fetches the
/// signed PDF and its verification report. Returns whether anything changed.
pub async fn refresh(
    store: &Store,
    signing: &SigningClient,
    doc: &mut Document,
) -> Result<bool, OfficeError> {
    let Some(s) = doc.signing.as_mut() else {
        return Ok(false);
    };
    if is_final(&s.status) && (s.status != "signed" || s.verdict.is_some()) {
        return Ok(false);
    }
    let state = signing.status(&s.request_id).await?;
    s.status = state.status.clone();
    s.done = state.done;
    s.total = u32::try_from(state.documents.len()).unwrap_or(u32::MAX);
    s.error = state.documents.iter().find_map(|d| d.error.clone());
    if state.status == "signed" && s.verdict.is_none() {
        let (pdf, _) = signing.result(&s.request_id, 0).await?;
        store.write_file(&doc.id, SIGNED, &pdf).await?;
        let report = signing.verify(&pdf, None).await?;
        let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
        store.write_file(&doc.id, REPORT, &json).await?;
        s.verdict = Some(
            report["overall"]
                .as_str()
                .unwrap_or("INDETERMINATE")
                .to_owned(),
        );
    }
    store.save(doc).await?;
    Ok(true)
}
