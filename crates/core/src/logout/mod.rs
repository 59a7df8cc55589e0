//! Single logout: OpenID Connect RP-Initiated Logout 1.0 (the end-session endpoint) and
//! Back-Channel Logout 1.0 (see [`backchannel`]).

pub mod backchannel;
pub mod token;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use serde_json::{Value, json};
use tessera_store::logout::EndedSession;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;
use url::Url;

use crate::audit::Event;
use crate::oidc::authorize::PageError;
use crate::params::Params;
use crate::provider::RequestMeta;
use crate::{CoreError, Provider};

const MAX_STATE_LEN: usize = 1024;

/// A validated end-session request (RP-Initiated Logout 1.0 §2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The client named by `client_id` or by the hint's audience.
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    /// Registered for that client, compared exactly.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// `sub` and `sid` of a valid `id_token_hint`.
    pub hint_sub: Option<String>,
    pub hint_sid: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Shown to the person; never a redirect (the redirect target is not trusted).
    #[error("{kind:?}: {detail}")]
    Page { kind: PageError, detail: String },
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for LogoutError {
    fn from(e: tessera_store::StoreError) -> Self {
        LogoutError::Internal(e.into())
    }
}

fn page(kind: PageError, detail: &str) -> LogoutError {
    LogoutError::Page {
        kind,
        detail: detail.to_owned(),
    }
}

/// What to do with the browser's current session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The hint names the signed-in user: end the session without asking (§2).
    EndNow,
    /// No hint, or a hint for someone else: ask the person first (§6, logout CSRF).
    Confirm,
    /// No live session: nothing to end.
    NothingToEnd,
}

/// The `aud` claim as a list (a string or an array, OIDC Core §2).
fn audiences(aud: &Value) -> Vec<String> {
    match aud {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks an `id_token_hint`: an ID token signed by this provider. Expiry is not checked
/// (§2: the hint may have expired); access and logout tokens are refused by their `typ`.
async fn verify_hint(
    p: &Provider,
    hint: &str,
    now: i64,
) -> Result<(Vec<String>, String, Option<String>), LogoutError> {
    let invalid = || {
        page(
            PageError::BadRequest,
            "id_token_hint is not an ID token issued by this provider",
        )
    };
    let v = p.signer.verify(hint, now).await?.ok_or_else(invalid)?;
    if v.header["typ"] != "JWT" || v.claims["iss"] != p.config.issuer.as_str() {
        return Err(invalid());
    }
    let aud = audiences(&v.claims["aud"]);
    let sub = v.claims["sub"].as_str().ok_or_else(invalid)?.to_owned();
    if aud.is_empty() {
        return Err(invalid());
    }
    Ok((aud, sub, v.claims["sid"].as_str().map(str::to_owned)))
}

/// Validates the parameters of `GET|POST /logout` (§2) and of the confirmation form.
pub async fn validate(
    p: &Provider,
    params: &Params,
    now: i64,
) -> Result<LogoutRequest, LogoutError> {
    validate_with_hint(p, params, params.get("id_token_hint"), now).await
}

/// [`validate`] with the hint apart from the other parameters: an ID token with many claims
/// can be longer than [`crate::params::MAX_VALUE_LEN`].
pub async fn validate_with_hint(
    p: &Provider,
    params: &Params,
    id_token_hint: Option<&str>,
    now: i64,
) -> Result<LogoutRequest, LogoutError> {
    let state = params.get("state");
    if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(page(PageError::BadRequest, "state is too long"));
    }
    let hint = match id_token_hint {
        Some(h) => Some(verify_hint(p, h, now).await?),
        None => None,
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some((aud, _, _))) if !aud.iter().any(|a| a == id) => {
            return Err(page(
                PageError::BadRequest,
                "client_id is not the audience of id_token_hint",
            ));
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some((aud, _, _))) if aud.len() == 1 => aud.first().cloned(),
        (None, _) => None,
    };
    let client =
        match &client_id {
            Some(id) => Some(p.store.client(id).await?.ok_or_else(|| {
                page(PageError::UnknownClient, "this client_id is not registered")
            })?),
            None => None,
        };
    let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(c) = &client else {
                return Err(page(
                    PageError::BadRequest,
                    "post_logout_redirect_uri needs client_id or id_token_hint",
                ));
            };
            // Exact string comparison, as for redirect URIs (§3; RFC 9700 §4.1.3).
            if !c.post_logout_redirect_uris.iter().any(|r| r == uri) {
                return Err(page(
                    PageError::InvalidRedirectUri,
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            Some(uri.to_owned())
        }
    };
    let (hint_sub, hint_sid) = match hint {
        Some((_, sub, sid)) => (Some(sub), sid),
        None => (None, None),
    };
    Ok(LogoutRequest {
        client_id,
        client_name: client.map(|c| c.name),
        post_logout_redirect_uri,
        state: state.map(str::to_owned),
        hint_sub,
        hint_sid,
    })
}

/// Whether to end the current session at once, ask first, or do nothing.
pub fn decide(req: &LogoutRequest, session: Option<&(SessionRecord, User)>) -> Decision {
    match session {
        None => Decision::NothingToEnd,
        // Only a hint from this very session ends it without asking: an old ID token (they
        // travel in URLs and logs) must not log the person out silently.
        Some((session, user))
            if req.hint_sub.as_deref() == Some(user.id.as_str())
                && req.hint_sid.as_deref() == Some(session.sid.as_str()) =>
        {
            Decision::EndNow
        }
        Some(_) => Decision::Confirm,
    }
}

/// Where to send the browser afterwards: the registered URI with `state` (§3), if any.
pub fn redirect_after(req: &LogoutRequest) -> Result<Option<String>, CoreError> {
    let Some(uri) = &req.post_logout_redirect_uri else {
        return Ok(None);
    };
    let mut url =
        Url::parse(uri).map_err(|e| CoreError::Internal(format!("stored logout URI: {e}")))?;
    if let Some(state) = &req.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Ok(Some(url.into()))
}

/// Ends a session: marks it ended, revokes its access tokens and online refresh families,
/// queues the back-channel notifications (one transaction), and audits `logout`. `None` when
/// it had already ended.
pub async fn end_session(
    p: &Provider,
    session: &SessionRecord,
    client_id: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Option<EndedSession>, CoreError> {
    let give_up = now + p.config.backchannel_give_up;
    let Some(ended) = p
        .store
        .end_session_with_logout(&session.id, "logout", now, give_up)
        .await?
    else {
        return Ok(None);
    };
    p.audit(
        Event::Logout
            .at(now)
            .actor(&ended.user_id)
            .maybe_client(client_id)
            .meta(meta)
            .detail(json!({
                "sid": ended.sid,
                "tokens_revoked": ended.tokens_revoked,
                "refresh_families_revoked": ended.families_revoked,
                "backchannel_queued": ended.notifications,
            })),
    )
    .await?;
    Ok(Some(ended))
}
