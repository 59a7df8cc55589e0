//! `credentials/authorize` in explicit mode (CSC API v2 §11.6) and its asynchronous form.
//!
//! With the official's OTP the SAD is issued at once, bound to the hashes. Without one, an
//! authorization request is created and the official approves it on their phone
//! (`/sign/requests/{id}`, a second factor proven then); the client polls
//! `credentials/authorizeCheck` until the SAD is there. Either way the SAD allows exactly the
//! hashes given, once each, for five minutes (SCAL2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tessera_proto::csc::AuthorizeRequest;
use tessera_proto::signing::{NewDocument, NewSigningRequest};

use super::super::approval::take_sad;
use super::super::sad::{self, Grant};
use super::super::submit::{Purpose, Requester, Viewer, submit, view};
use super::super::{RemoteError, Status, lifecycle};
use super::{CscCaller, CscError, decode_hashes, hash_by_oid, own_credential};
use crate::Provider;
use crate::audit::Event;
use crate::mfa::prove::{FactorInput, Proof, prove_now};
use crate::mfa::{Candidate, Subject};
use crate::request::RequestMeta;
use crate::session::Factor;

/// The outcome of `credentials/authorize`.
#[derive(Debug, PartialEq, Eq)]
pub enum Authorized {
    /// The SAD and its lifetime in seconds.
    Sad { sad: String, expires_in: i64 },
    /// Waiting for the official: the authorization request and when it ends.
    Pending { request_id: String, expires_at: i64 },
}

/// `credentials/authorize` for `req` by `c`.
pub async fn authorize(
    p: &Provider,
    c: &CscCaller,
    req: &AuthorizeRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Authorized, CscError> {
    c.needs_service()?;
    let checked = check_and_grant(p, c, req, meta, now).await;
    if let Err(e) = &checked
        && !matches!(e, CscError::Internal(_))
    {
        refused(p, c, &req.credential_id, "authorize", e, meta, now).await?;
    }
    checked
}

async fn check_and_grant(
    p: &Provider,
    c: &CscCaller,
    req: &AuthorizeRequest,
    meta: &RequestMeta,
    now: i64,
) -> Result<Authorized, CscError> {
    let credential = own_credential(p, c, &req.credential_id, now).await?;
    if req.pin.is_some() {
        return Err(CscError::Invalid(
            "Invalid parameter PIN: Tessera's credentials are authorized with the official's OTP, not a PIN".into(),
        ));
    }
    // SCAL2: the SAD is bound to the hashes, so they must be given now.
    let hashes = req.hashes.as_deref().ok_or_else(|| {
        CscError::Invalid(
            "Missing parameter hashes: this service is SCAL2, a SAD is bound to the hashes it signs".into(),
        )
    })?;
    if req.num_signatures as usize != hashes.len() {
        return Err(CscError::Invalid(format!(
            "Invalid parameter numSignatures: {} for {} hashes",
            req.num_signatures,
            hashes.len()
        )));
    }
    let hash = match req.hash_algorithm_oid.as_deref() {
        Some(oid) => hash_by_oid(oid).ok_or_else(|| {
            CscError::Invalid(format!(
                "Invalid parameter hashAlgorithmOID: {oid} (use SHA-256, SHA-384 or SHA-512)"
            ))
        })?,
        // v1 clients send no algorithm: the length tells SHA-256, -384 and -512 apart.
        None => {
            let len = hashes
                .first()
                .and_then(|h| STANDARD.decode(h.trim()).ok())
                .map_or(0, |d| d.len());
            match len {
                48 => tessera_hsm::HashAlg::Sha384,
                64 => tessera_hsm::HashAlg::Sha512,
                _ => tessera_hsm::HashAlg::Sha256,
            }
        }
    };
    let digests = decode_hashes(hash, hashes)?;
    let Some(otp) = req.otp.as_deref() else {
        return pending(p, c, req, hash, hashes, meta, now).await;
    };
    let session = match &c.token.session_id {
        Some(id) => p.store.live_session(id, now).await?,
        None => None,
    }
    .ok_or_else(|| {
        CscError::InvalidToken("the sign-in session of this access token has ended".into())
    })?;
    let candidate = Candidate {
        user: c.user.clone(),
        subject: Subject::Session(session),
    };
    let factor = match prove_now(p, &candidate, FactorInput::Totp(otp.trim()), meta, now).await? {
        Proof::Proven(Factor::Totp) => "totp",
        Proof::Proven(_) => "otp",
        Proof::Refused(e) | Proof::StartAgain(e) => {
            return Err(CscError::Otp(format!("The OTP is invalid: {e}")));
        }
    };
    let entries: Vec<String> = digests.iter().map(|d| sad::entry(hash, d, None)).collect();
    let sad = sad::issue(
        p,
        &Grant {
            user_id: &c.user.id,
            credential_id: &credential.id,
            request_id: None,
            client_id: &c.client_id,
            hash_algs: hash.name(),
            entries: &entries,
            factor,
        },
        now,
    )
    .await?;
    p.audit(
        Event::SigningCscAuthorized
            .at(now)
            .actor(&c.user.id)
            .client(&c.client_id)
            .meta(meta)
            .detail(json!({
                "credential": credential.id,
                "factor": factor,
                "hash_alg": hash.name(),
                "hashes": entries,
            })),
    )
    .await?;
    Ok(Authorized::Sad {
        sad,
        expires_in: p.config.signing.sad_ttl,
    })
}

/// No OTP: an authorization request the official approves on the phone.
async fn pending(
    p: &Provider,
    c: &CscCaller,
    req: &AuthorizeRequest,
    hash: tessera_hsm::HashAlg,
    hashes: &[String],
    meta: &RequestMeta,
    now: i64,
) -> Result<Authorized, CscError> {
    let (request_id, expires_at) = authorization_request(
        p,
        &Asked {
            user_id: &c.user.id,
            client_id: &c.client_id,
            credential_id: &req.credential_id,
            description: req.description.as_deref(),
            hash,
            hashes,
        },
        meta,
        now,
    )
    .await?;
    Ok(Authorized::Pending {
        request_id,
        expires_at,
    })
}

/// The hashes a client asks an official to approve for one of their credentials.
pub(crate) struct Asked<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub credential_id: &'a str,
    pub description: Option<&'a str>,
    pub hash: tessera_hsm::HashAlg,
    /// Standard base64.
    pub hashes: &'a [String],
}

/// Creates the authorization request (purpose `authorize`) the official decides on
/// `/sign/requests/{id}`; answers its id and when it ends.
pub(crate) async fn authorization_request(
    p: &Provider,
    a: &Asked<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(String, i64), RemoteError> {
    let title = a
        .description
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} chữ ký từ {}", a.hashes.len(), a.client_id));
    let body = NewSigningRequest {
        title,
        signer: None,
        documents: a
            .hashes
            .iter()
            .enumerate()
            .map(|(i, h)| NewDocument {
                name: format!("hash {}", i + 1),
                hash: Some(h.clone()),
                hash_alg: Some(a.hash.name().to_owned()),
                result: Some("raw".into()),
                ..NewDocument::default()
            })
            .collect(),
        credential_id: Some(a.credential_id.to_owned()),
        level: None,
        callback_uri: None,
        expires_in: None,
    };
    let r = submit(
        p,
        Requester::Official {
            user_id: a.user_id,
            client_id: a.client_id,
        },
        &body,
        Purpose::Authorize,
        meta,
        now,
    )
    .await?;
    Ok((r.id, r.expires_at))
}

/// `credentials/authorizeCheck`: `None` while the official has not decided, else the SAD
/// (handed out once) and its remaining lifetime.
pub async fn check(
    p: &Provider,
    c: &CscCaller,
    request_id: &str,
    now: i64,
) -> Result<Option<(String, i64)>, CscError> {
    c.needs_service()?;
    let v = view(p, Viewer::Client(&c.client_id), request_id).await?;
    if v.request.user_id != c.user.id || v.request.purpose != "authorize" {
        return Err(CscError::Invalid(format!(
            "Invalid parameter requestID: no authorization request {request_id}"
        )));
    }
    match v.status() {
        Status::Pending if v.request.expires_at <= now => {
            lifecycle::expire(p, &v.request, now).await?;
            Err(CscError::RequestEnded(format!(
                "the official did not approve request {request_id} in time"
            )))
        }
        Status::Pending => Ok(None),
        Status::Rejected => Err(CscError::Denied(format!(
            "the official rejected request {request_id}"
        ))),
        Status::Approved => {
            let sad = take_sad(p, &c.client_id, request_id)
                .await?
                .ok_or_else(|| {
                    CscError::RequestEnded(format!(
                        "the SAD of request {request_id} was handed out already"
                    ))
                })?;
            let expires_at = p
                .store
                .sad(&crate::secrets::sha256_hex(sad.as_bytes()))
                .await?
                .map_or(now, |r| r.expires_at);
            Ok(Some((sad, (expires_at - now).max(0))))
        }
        other => Err(CscError::RequestEnded(format!(
            "request {request_id} is {}",
            other.as_str()
        ))),
    }
}

/// Audits a refused CSC step with its reason.
pub(super) async fn refused(
    p: &Provider,
    c: &CscCaller,
    credential_id: &str,
    step: &str,
    e: &CscError,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), CscError> {
    // A refused SAD is audited where it is checked (`signing.sad.refused`).
    if matches!(e, CscError::Sad(_)) {
        return Ok(());
    }
    p.audit(
        Event::SigningCscRefused
            .at(now)
            .actor(&c.user.id)
            .client(&c.client_id)
            .meta(meta)
            .detail(json!({ "step": step, "credential": credential_id, "reason": e.to_string() })),
    )
    .await?;
    Ok(())
}
