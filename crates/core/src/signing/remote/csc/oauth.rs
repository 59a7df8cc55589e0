//! The CSC scope `credential` through Tessera's own `/authorize` (CSC API v2 §8.4.2, RFC 9396
//! `authorization_details`). The pending authorization becomes an authorization request
//! (purpose `authorize`) that the official decides on the ordinary approval page — second
//! factor proven then, QR hand-off included. Once it is approved, the code is issued and bound
//! to the request: the access token redeemed from it carries the SAD, so `signHash` with that
//! token signs exactly those hashes, once each, without a SAD of its own.

use tessera_proto::ErrorCode;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::super::submit::{Viewer, view};
use super::super::{RemoteError, Status, lifecycle};
use super::authorize::{Asked, authorization_request};
use super::{CscError, decode_hashes, hash_by_oid};
use crate::Provider;
use crate::error::PageError;
use crate::oidc::authorize::{
    AuthRequest, AuthorizeError, answer_once, error_redirect, issue_code_with_id, page,
    pending_or_expired, required_level_for, session_at_level,
};
use crate::request::RequestMeta;
use crate::secrets::sha256_hex;

/// Where the browser goes next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// To the approval page of this request.
    Approve { request_id: String },
    /// Back to the client: with the code, or with an error.
    Redirect(String),
}

/// Advances the pending authorization `handle` of `user`: creates its request, waits for the
/// official's decision, then issues the code bound to the approval.
pub async fn step(
    p: &Provider,
    handle: &str,
    session: &SessionRecord,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<Step, AuthorizeError> {
    let (client, req) = pending_or_expired(p, handle, now).await?;
    if req.credential.is_none() {
        return Err(page(
            PageError::BadRequest,
            "this authorization request asks for no signature",
        ));
    }
    let needed = required_level_for(p, &client, &req, user).await?;
    if !session_at_level(session, needed, &req, now) {
        return Err(page(
            PageError::BadRequest,
            "sign in at the level the application asks for first",
        ));
    }
    let auth_id = sha256_hex(handle.as_bytes());
    let request_id = match p.store.signing_request_of_authorization(&auth_id).await? {
        Some(id) => id,
        None => match create(p, &req, user, &auth_id, meta, now).await? {
            Ok(id) => id,
            Err((code, why)) => return redirect(p, &req, code, &why),
        },
    };
    let v = view(p, Viewer::Signer(&user.id), &request_id)
        .await
        .map_err(internal)?;
    let decided = match v.status() {
        Status::Pending if v.request.expires_at <= now => {
            lifecycle::expire(p, &v.request, now)
                .await
                .map_err(internal)?;
            Status::Expired
        }
        s => s,
    };
    match decided {
        Status::Pending => Ok(Step::Approve { request_id }),
        Status::Approved | Status::Signed => {
            answer_once(p, handle).await?;
            let (url, code_id) =
                issue_code_with_id(p, &client, &req, session, user, meta, now).await?;
            p.store.bind_signing_code(&request_id, &code_id).await?;
            Ok(Step::Redirect(url))
        }
        Status::Rejected => redirect(
            p,
            &req,
            ErrorCode::AccessDenied,
            "the official rejected the signature authorization",
        ),
        _ => redirect(
            p,
            &req,
            ErrorCode::AccessDenied,
            "the signature authorization expired before the official approved it",
        ),
    }
}

/// A refusal to send back to the client.
type Refused = (ErrorCode, String);

/// The authorization request for `req`'s hashes, linked to the pending authorization; or
/// why the client is refused.
async fn create(
    p: &Provider,
    req: &AuthRequest,
    user: &User,
    auth_id: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<Result<String, Refused>, AuthorizeError> {
    let bad = |m: String| Err((ErrorCode::InvalidAuthorizationDetails, m));
    let Some(wanted) = &req.credential else {
        return Ok(bad("no credential authorization".into()));
    };
    let Some(hash) = hash_by_oid(wanted.hash_algorithm_oid.trim()) else {
        return Ok(bad(format!(
            "hashAlgorithmOID {} is not supported (use SHA-256, SHA-384 or SHA-512)",
            wanted.hash_algorithm_oid
        )));
    };
    if let Err(e) = decode_hashes(hash, &wanted.hashes) {
        return Ok(bad(e.to_string()));
    }
    let asked = Asked {
        user_id: &user.id,
        client_id: &req.client_id,
        credential_id: &wanted.credential_id,
        description: wanted.description.as_deref(),
        hash,
        hashes: &wanted.hashes,
    };
    let id = match authorization_request(p, &asked, meta, now).await {
        Ok((id, _)) => id,
        Err(e) => {
            return match CscError::from(e) {
                CscError::Internal(e) => Err(AuthorizeError::Internal(e)),
                CscError::Invalid(m) => Ok(bad(m)),
                other => Ok(Err((ErrorCode::AccessDenied, other.to_string()))),
            };
        }
    };
    if p.store
        .bind_signing_authorization(&id, auth_id, now)
        .await?
    {
        return Ok(Ok(id));
    }
    // Another tab or replica linked one first: that one is decided.
    Ok(Ok(p
        .store
        .signing_request_of_authorization(auth_id)
        .await?
        .unwrap_or(id)))
}

fn redirect(
    p: &Provider,
    req: &AuthRequest,
    code: ErrorCode,
    why: &str,
) -> Result<Step, AuthorizeError> {
    match error_redirect(p, &req.redirect_uri, req.state.as_deref(), code, why)? {
        crate::oidc::authorize::Decision::Redirect(url) => Ok(Step::Redirect(url)),
        _ => Err(AuthorizeError::Internal(crate::CoreError::Internal(
            "an error redirect that is not a redirect".into(),
        ))),
    }
}

fn internal(e: RemoteError) -> AuthorizeError {
    match CscError::from(e) {
        CscError::Internal(e) => AuthorizeError::Internal(e),
        other => page(PageError::BadRequest, other.to_string()),
    }
}
