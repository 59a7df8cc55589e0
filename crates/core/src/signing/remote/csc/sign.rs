//! `signatures/signHash` and `signatures/signDoc` (CSC API v2 §11.9, §11.10): the SAD is
//! spent for exactly the hashes (or the PDFs' SHA-256) right before the HSM is asked, then
//! the signatures are made with the official's credential — hashes of a batch concurrently
//! on the HSM session pool.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Encode;
use serde_json::json;
use tessera_formats::pdf::appearance::AppearanceSpec;
use tessera_formats::pdf::sign::SignOptions;
use tessera_hsm::{HashAlg, SignInput, SignScheme};
use tessera_proto::csc::{SignDocRequest, SignHashRequest};
use tessera_store::signing_requests::SadRecord;

use super::super::execute::{certs, custody_signer};
use super::super::lifecycle;
use super::super::sad::{self, Presented};
use super::authorize::refused;
use super::{CscCaller, CscError, MULTISIGN, SignAlgo, decode_hashes, hash_by_oid, own_credential};
use crate::Provider;
use crate::audit::Event;
use crate::pki::UsableCredential;
use crate::request::RequestMeta;
use crate::signing::pdf::{PadesJob, PadesLevel, make_pades, subject_name};
use crate::signing::{SigningError, scheme_for};

/// `signatures/signHash`: the signature values, in the order of the hashes.
pub async fn sign_hash(
    p: &Provider,
    c: &CscCaller,
    req: &SignHashRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Vec<Vec<u8>>, CscError> {
    let made = sign_hashes(p, c, req, meta, now).await;
    match &made {
        Ok(sigs) => {
            p.audit(
                Event::SigningCscSigned
                    .at(now)
                    .actor(&c.user.id)
                    .client(&c.client_id)
                    .meta(meta)
                    .detail(json!({
                        "credential": req.credential_id,
                        "method": "signHash",
                        "sign_algo": req.sign_algo,
                        "signatures": sigs.len(),
                    })),
            )
            .await?;
        }
        Err(CscError::Internal(_)) => {}
        Err(e) => refused(p, c, &req.credential_id, "signHash", e, meta, now).await?,
    }
    made
}

async fn sign_hashes(
    p: &Provider,
    c: &CscCaller,
    req: &SignHashRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Vec<Vec<u8>>, CscError> {
    let credential = own_credential(p, c, &req.credential_id, now).await?;
    let scheme = scheme_of(req, &credential)?;
    let hash = scheme.hash();
    let digests = decode_hashes(hash, &req.hashes)?;
    let entries: Vec<String> = digests.iter().map(|d| sad::entry(hash, d, None)).collect();
    let spent = spend(p, c, &req.sad, &credential.id, &entries, meta, now).await?;
    // The public key from the certificate in the credential's row, not read from the HSM
    // on every call (the profile in BENCHMARKS.md, issue 13).
    let signer = tessera_hsm::x509::CustodySigner::with_public_key(
        p.signer.custody().clone(),
        credential.key_alg,
        tessera_hsm::KeyPurpose::Credential,
        &credential.key_ref,
        scheme,
        certificate_spki(&credential.cert_der)?,
    )
    .map_err(|e| SigningError::Format(e.into()))?;
    let signatures = sign_concurrently(p.config.signing.concurrency, signer, digests).await?;
    authorization_used(p, &spent, &entries, now).await?;
    Ok(signatures)
}

/// Spends the SAD for `entries`: the call's own `SAD`, or else the one its access token
/// carries (scope `credential`, CSC API v2 §8.4.2).
async fn spend(
    p: &Provider,
    c: &CscCaller,
    given: &str,
    credential_id: &str,
    entries: &[String],
    meta: &RequestMeta,
    now: i64,
) -> Result<SadRecord, CscError> {
    let presented = Presented {
        sad: given,
        credential_id,
        client_id: &c.client_id,
        entries,
    };
    if !given.trim().is_empty() {
        return Ok(sad::redeem(p, &presented, meta, now).await?);
    }
    if !c.bound {
        return Err(CscError::Invalid(
            "Missing parameter SAD: authorize the hashes first (credentials/authorize), or use an access token of scope credential".into(),
        ));
    }
    // Only a token redeemed from the code issued after the approval carries it.
    let Some(code_id) = &c.token.code_id else {
        return Err(CscError::InvalidToken(
            "this access token carries no approval (refreshed tokens do not); ask the official again through /authorize".into(),
        ));
    };
    let record = p.store.sad_of_code(code_id).await?;
    Ok(sad::redeem_bound(p, record, &presented, meta, now).await?)
}

/// The DER SubjectPublicKeyInfo of a certificate.
fn certificate_spki(cert_der: &[u8]) -> Result<Vec<u8>, CscError> {
    use der::Decode;
    x509_cert::Certificate::from_der(cert_der)
        .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der())
        .map_err(|e| crate::CoreError::Internal(format!("credential certificate: {e}")).into())
}

/// With the SAD of an asynchronous authorization, its request notes what was signed.
async fn authorization_used(
    p: &Provider,
    spent: &SadRecord,
    entries: &[String],
    now: i64,
) -> Result<(), CscError> {
    if let Some(request_id) = &spent.request_id {
        lifecycle::authorization_used(p, request_id, entries, now).await?;
    }
    Ok(())
}

/// The scheme `signAlgo` (with `hashAlgorithmOID` and `signAlgoParams`) asks for, if the
/// credential's key makes it.
fn scheme_of(req: &SignHashRequest, credential: &UsableCredential) -> Result<SignScheme, CscError> {
    let algo = SignAlgo::parse(req.sign_algo.trim()).ok_or_else(|| {
        CscError::Invalid(format!(
            "Invalid parameter signAlgo: {} is not offered (see key.algo of credentials/info)",
            req.sign_algo
        ))
    })?;
    if !algo.fits(credential.key_alg) {
        return Err(CscError::Invalid(format!(
            "Invalid parameter signAlgo: {} does not fit the credential's {} key",
            req.sign_algo,
            credential.key_alg.name()
        )));
    }
    let named = req
        .hash_algorithm_oid
        .as_deref()
        .map(|oid| {
            hash_by_oid(oid.trim()).ok_or_else(|| {
                CscError::Invalid(format!(
                    "Invalid parameter hashAlgorithmOID: {oid} (use SHA-256, SHA-384 or SHA-512)"
                ))
            })
        })
        .transpose()?;
    let hash = match (named, algo.hash()) {
        (Some(a), Some(b)) if a != b => {
            return Err(CscError::Invalid(format!(
                "hashAlgorithmOID ({}) and signAlgo ({}) name different hashes",
                a.name(),
                b.name()
            )));
        }
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => {
            return Err(CscError::Invalid(format!(
                "Missing parameter hashAlgorithmOID: signAlgo {} does not name a hash",
                req.sign_algo
            )));
        }
    };
    let scheme = scheme_for(credential.key_alg, hash, algo == SignAlgo::RsaPss)?;
    if algo == SignAlgo::RsaPss {
        // Only the PSS parameters the custodian uses (MGF1 with the same hash, salt as long
        // as the hash, RFC 4055 §3.1) can be honoured.
        let ours = scheme
            .algorithm_identifier()
            .ok()
            .and_then(|a| a.parameters)
            .and_then(|p| p.to_der().ok());
        let theirs = req
            .sign_algo_params
            .as_deref()
            .and_then(|b| STANDARD.decode(b.trim()).ok());
        if theirs.is_none() || theirs != ours {
            return Err(CscError::Invalid(format!(
                "Invalid parameter signAlgoParams: RSASSA-PSS is offered with MGF1-{h} and a salt of {} bytes only",
                hash.output_len(),
                h = hash.name()
            )));
        }
    }
    Ok(scheme)
}

/// Signs each digest, spread over `concurrency` blocking workers (the HSM session pool);
/// answers the signatures in the digests' order.
async fn sign_concurrently(
    concurrency: usize,
    signer: tessera_hsm::x509::CustodySigner,
    digests: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, CscError> {
    let workers = concurrency.clamp(1, digests.len().max(1));
    let per = digests.len().div_ceil(workers).max(1);
    let signer = Arc::new(signer);
    // Spawned at once so that the chunks run side by side; joined in order.
    let handles: Vec<_> = digests
        .chunks(per)
        .map(|chunk| {
            let (signer, chunk) = (signer.clone(), chunk.to_vec());
            tokio::task::spawn_blocking(move || {
                chunk
                    .iter()
                    .map(|d| {
                        signer
                            .sign_checked(SignInput::Digest(d))
                            .map_err(|e| SigningError::Format(e.into()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    let mut out = Vec::with_capacity(digests.len());
    for h in handles {
        let chunk = h
            .await
            .map_err(|e| crate::CoreError::Internal(format!("signing task: {e}")))??;
        out.extend(chunk);
    }
    Ok(out)
}

/// `signatures/signDoc` for PDFs: each PDF signed (PAdES, invisible) after the SAD was spent
/// for its SHA-256; answers the signed PDFs in order.
pub async fn sign_doc(
    p: &Provider,
    c: &CscCaller,
    req: &SignDocRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Vec<Vec<u8>>, CscError> {
    let made = sign_docs(p, c, req, meta, now).await;
    match &made {
        Ok(pdfs) => {
            p.audit(
                Event::SigningCscSigned
                    .at(now)
                    .actor(&c.user.id)
                    .client(&c.client_id)
                    .meta(meta)
                    .detail(json!({
                        "credential": req.credential_id,
                        "method": "signDoc",
                        "documents": pdfs.len(),
                    })),
            )
            .await?;
        }
        Err(CscError::Internal(_)) => {}
        Err(e) => refused(p, c, &req.credential_id, "signDoc", e, meta, now).await?,
    }
    made
}

async fn sign_docs(
    p: &Provider,
    c: &CscCaller,
    req: &SignDocRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Vec<Vec<u8>>, CscError> {
    let credential = own_credential(p, c, &req.credential_id, now).await?;
    let limits = &p.config.signing;
    if req.documents.is_empty() || req.documents.len() > MULTISIGN.min(limits.max_documents) {
        return Err(CscError::Invalid(format!(
            "Invalid parameter documents: 1 to {} documents",
            MULTISIGN.min(limits.max_documents)
        )));
    }
    let mut pdfs = Vec::with_capacity(req.documents.len());
    let mut levels = Vec::with_capacity(req.documents.len());
    let mut total = 0usize;
    for (i, d) in req.documents.iter().enumerate() {
        if d.document.len() / 4 * 3 > limits.max_document_bytes + 3 {
            return Err(CscError::TooLarge(format!(
                "document {i} is over the limit of {} bytes",
                limits.max_document_bytes
            )));
        }
        let pdf = STANDARD.decode(d.document.trim()).map_err(|e| {
            CscError::Invalid(format!(
                "Invalid parameter documents: document {i} is not base64: {e}"
            ))
        })?;
        total += pdf.len();
        if pdf.len() > limits.max_document_bytes || total > limits.max_request_bytes {
            return Err(CscError::TooLarge(format!(
                "the documents are over the limit of {} bytes each, {} in all",
                limits.max_document_bytes, limits.max_request_bytes
            )));
        }
        if !matches!(d.signature_format.as_deref(), None | Some("P")) {
            return Err(CscError::Invalid(format!(
                "Invalid parameter signature_format: {:?}; only P (PAdES) is offered",
                d.signature_format.as_deref().unwrap_or_default()
            )));
        }
        if !pdf.starts_with(b"%PDF-") {
            return Err(CscError::Invalid(format!(
                "Invalid parameter documents: document {i} is not a PDF"
            )));
        }
        levels.push(level(d.conformance_level.as_deref())?);
        pdfs.push(pdf);
    }
    let entries: Vec<String> = pdfs
        .iter()
        .map(|pdf| sad::entry(HashAlg::Sha256, &HashAlg::Sha256.digest(pdf), None))
        .collect();
    let spent = spend(p, c, &req.sad, &credential.id, &entries, meta, now).await?;
    let name = subject_name(&credential.cert_der);
    let mut out = Vec::with_capacity(pdfs.len());
    for (pdf, level) in pdfs.iter().zip(levels) {
        let job = PadesJob {
            custody_signer: custody_signer(p, &credential, HashAlg::Sha256)?,
            certs: certs(&credential),
            spec: AppearanceSpec::default(),
            options: SignOptions::new(name.clone(), now),
            level,
        };
        out.push(make_pades(p, pdf.clone(), job, now).await?);
    }
    authorization_used(p, &spent, &entries, now).await?;
    Ok(out)
}

/// `conformance_level`: CSC's `Ades-B-B` … `Ades-B-LTA` (any case), or Tessera's `B-B` ….
fn level(s: Option<&str>) -> Result<PadesLevel, CscError> {
    let Some(s) = s else {
        return Ok(PadesLevel::BB);
    };
    let upper = s.trim().to_ascii_uppercase();
    let short = upper
        .strip_prefix("ADES-")
        .or_else(|| upper.strip_prefix("ETSI.PADES."))
        .unwrap_or(&upper);
    PadesLevel::parse(short).map_err(|_| {
        CscError::Invalid(format!(
            "Invalid parameter conformance_level: {s:?} (use Ades-B-B, Ades-B-T, Ades-B-LT or Ades-B-LTA)"
        ))
    })
}
