//! The official's decision on a signing request (sole control, CSC SCAL2 / EN 419 241-1):
//! approving needs a second factor proven at that moment — a session's level is not enough —
//! and yields Signature Activation Data bound to exactly the request's documents, its
//! credential and its client. Rejecting is one step and notifies the application.

use serde_json::json;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::sad::{self, Grant};
use super::submit::{Viewer, view};
use super::{RemoteError, RequestView, Status, seal_context};
use crate::Provider;
use crate::audit::Event;
use crate::mfa::prove::{FactorInput, Proof, prove_now};
use crate::mfa::{Candidate, FactorError, Subject};
use crate::request::RequestMeta;
use crate::session::Factor;
use crate::signing::parse_hash;

/// The outcome of an approval.
#[derive(Debug)]
pub enum Approval {
    /// Approved. For a signing request, the SAD to sign with ([`super::execute::sign_request`]);
    /// for an authorization request (CSC), the SAD is kept sealed for its client to fetch and
    /// `sad` is `None`.
    Approved { sad: Option<String> },
    /// The second factor was refused; the official may try again.
    Refused(FactorError),
}

/// The factor's name in the audit and the request record.
fn factor_name(f: Factor) -> &'static str {
    match f {
        Factor::Totp => "totp",
        Factor::OtpToken => "otp_token",
        Factor::RecoveryCode => "recovery_code",
        Factor::Passkey { .. } => "passkey",
    }
}

/// Loads a pending request of `user` that has not run out of time (expiring it if it has).
async fn pending(
    p: &Provider,
    user: &User,
    request_id: &str,
    now: i64,
) -> Result<RequestView, RemoteError> {
    let v = view(p, Viewer::Signer(&user.id), request_id).await?;
    if v.status() == Status::Pending && v.request.expires_at <= now {
        super::lifecycle::expire(p, &v.request, now).await?;
        return Err(RemoteError::WrongState(format!(
            "request {request_id} expired"
        )));
    }
    if v.status() != Status::Pending {
        return Err(RemoteError::WrongState(format!(
            "request {request_id} is {} and can no longer be decided",
            v.request.status
        )));
    }
    Ok(v)
}

/// Approves `request_id` as `user` (signed in with `session`), proving `input` now.
pub async fn approve(
    p: &Provider,
    user: &User,
    session: &SessionRecord,
    request_id: &str,
    input: FactorInput<'_>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Approval, RemoteError> {
    let v = pending(p, user, request_id, now).await?;
    // A credential that cannot sign gets no approval (and the code is not spent): the official
    // is told now rather than by a failed signature afterwards.
    crate::pki::usable_credential(p, &v.request.credential_id, now).await?;
    let candidate = Candidate {
        user: user.clone(),
        subject: Subject::Session(session.clone()),
    };
    let factor = match prove_now(p, &candidate, input, meta, now).await? {
        Proof::Proven(f) => f,
        Proof::Refused(e) | Proof::StartAgain(e) => {
            p.audit(
                Event::SigningRequestRefused
                    .at(now)
                    .actor(&user.id)
                    .client(&v.request.client_id)
                    .meta(meta)
                    .detail(json!({
                        "step": "approve",
                        "request": request_id,
                        "reason": e.to_string(),
                    })),
            )
            .await?;
            return Ok(Approval::Refused(e));
        }
    };
    let factor = factor_name(factor);
    // Another tab or replica may have decided meanwhile: only one decision wins.
    if !p
        .store
        .transition_signing_request(request_id, "pending", "approved", Some((now, factor)), now)
        .await?
    {
        return Err(RemoteError::WrongState(format!(
            "request {request_id} was decided meanwhile"
        )));
    }
    let mut entries = Vec::with_capacity(v.documents.len());
    let mut algs: Vec<&str> = Vec::new();
    let authorize = v.request.purpose == "authorize";
    for d in &v.documents {
        let hash = parse_hash(&d.hash_alg)?;
        // A CSC client presents bare hashes; Tessera's own signing binds positions too.
        entries.push(sad::entry(hash, &d.digest, (!authorize).then_some(d.idx)));
        if !algs.contains(&d.hash_alg.as_str()) {
            algs.push(&d.hash_alg);
        }
    }
    let sad = sad::issue(
        p,
        &Grant {
            user_id: &user.id,
            credential_id: &v.request.credential_id,
            request_id: Some(request_id),
            client_id: &v.request.client_id,
            hash_algs: &algs.join(","),
            entries: &entries,
            factor,
        },
        now,
    )
    .await?;
    p.audit(
        Event::SigningRequestApproved
            .at(now)
            .actor(&user.id)
            .client(&v.request.client_id)
            .meta(meta)
            .detail(json!({
                "request": request_id,
                "credential": v.request.credential_id,
                "factor": factor,
                "documents": v.documents.iter().map(|d| json!({"name": d.name, "sha256": d.sha256})).collect::<Vec<_>>(),
            })),
    )
    .await?;
    // Bound to an OAuth authorization (CSC scope `credential`), the SAD rides with the access
    // token issued next and is never handed out.
    if authorize && p.store.is_token_bound(request_id).await? {
        return Ok(Approval::Approved { sad: None });
    }
    if authorize {
        let sealed = p
            .keyed
            .seal(&seal_context(request_id, -1, "sad"), sad.as_bytes())?;
        p.store.set_request_sad(request_id, &sealed).await?;
        return Ok(Approval::Approved { sad: None });
    }
    Ok(Approval::Approved { sad: Some(sad) })
}

/// Rejects `request_id` as `user`; the application is notified.
pub async fn reject(
    p: &Provider,
    user: &User,
    request_id: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), RemoteError> {
    let v = pending(p, user, request_id, now).await?;
    if !p
        .store
        .transition_signing_request(request_id, "pending", "rejected", Some((now, "none")), now)
        .await?
    {
        return Err(RemoteError::WrongState(format!(
            "request {request_id} was decided meanwhile"
        )));
    }
    p.audit(
        Event::SigningRequestRejected
            .at(now)
            .actor(&user.id)
            .client(&v.request.client_id)
            .meta(meta)
            .detail(json!({ "request": request_id })),
    )
    .await?;
    super::lifecycle::announce(p, &v.request, Status::Rejected, now).await?;
    Ok(())
}

/// The SAD of an approved authorization request (CSC `credentials/authorizeCheck`), handed to
/// its client once.
pub async fn take_sad(
    p: &Provider,
    client_id: &str,
    request_id: &str,
) -> Result<Option<String>, RemoteError> {
    let v = view(p, Viewer::Client(client_id), request_id).await?;
    if v.request.purpose != "authorize" {
        return Err(RemoteError::WrongState(format!(
            "request {request_id} is not an authorization request"
        )));
    }
    let Some(sealed) = p.store.take_request_sad(request_id).await? else {
        return Ok(None);
    };
    let sad = p
        .keyed
        .open(&seal_context(request_id, -1, "sad"), &sealed)?;
    String::from_utf8(sad)
        .map(Some)
        .map_err(|_| crate::CoreError::Internal("a sealed SAD is not text".into()).into())
}
