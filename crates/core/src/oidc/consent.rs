//! Consent to the administration scope. A request for [`ADMIN_SCOPE`] never yields a code
//! silently: the person sees a page naming the application and the rights it will use, and
//! approves it, every time, in a session at level 2 proven within
//! [`ADMIN_AUTH_MAX_AGE`](super::authorize::ADMIN_AUTH_MAX_AGE) seconds. Without this a
//! link to `/authorize` sent to a signed-in administrator would hand their rights to whoever
//! registered the redirect URI.
//!
//! The page carries a single-use token whose hash is kept in the database with the request,
//! the session and the user it was shown to, so any replica can take the answer and no answer
//! counts twice.

use serde_json::json;
use tessera_proto::ErrorCode;
use tessera_store::api_scopes::AdminConsent;
use tessera_store::clients::Client;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::authorize::{
    AuthRequest, AuthorizeError, Decision, answer_once, error_redirect, issue_code,
    pending_or_expired, wants_admin,
};
use crate::admin_api::{ADMIN_SCOPE, grants_of};
use crate::audit::Event;
use crate::error::PageError;
use crate::request::RequestMeta;
use crate::secrets::{random_token, sha256_hex};
use crate::{CoreError, Provider};

/// How long the consent page may be answered.
pub const CONSENT_TTL: i64 = 300;

/// What the consent page shows, and the token its form posts back.
#[derive(Clone, Debug)]
pub struct ConsentPage {
    pub token: String,
    pub client: Client,
    pub scope: Vec<String>,
    /// The person's administrative grants (role, unit name): what the application may use.
    pub grants: Vec<(String, String)>,
}

fn page(kind: PageError, detail: &str) -> AuthorizeError {
    AuthorizeError::Page {
        kind,
        detail: detail.to_owned(),
    }
}

/// The pending administration request under `handle`, if any.
async fn admin_request(
    p: &Provider,
    handle: &str,
    now: i64,
) -> Result<(Client, AuthRequest), AuthorizeError> {
    let (client, req) = pending_or_expired(p, handle, now).await?;
    if !wants_admin(&req) || !client.admin_console {
        return Err(page(
            PageError::BadRequest,
            "this request does not ask for administration rights",
        ));
    }
    Ok((client, req))
}

/// Whether the session may approve now: level 2, proven recently. Otherwise the request waits
/// for a step-up (the pending request stays).
async fn ready(
    p: &Provider,
    client: &Client,
    req: &AuthRequest,
    session: &SessionRecord,
    user: &User,
    now: i64,
) -> Result<bool, CoreError> {
    let needed = super::authorize::required_level_for(p, client, req, user).await?;
    Ok(super::authorize::session_at_level(
        session, needed, req, now,
    ))
}

/// Prepares the consent page for the session's person, or says what must happen first.
pub async fn prepare(
    p: &Provider,
    handle: &str,
    session: &SessionRecord,
    user: &User,
    now: i64,
) -> Result<Result<ConsentPage, Decision>, AuthorizeError> {
    let (client, req) = admin_request(p, handle, now).await?;
    if !ready(p, &client, &req, session, user, now).await? {
        return Ok(Err(Decision::StepUp {
            handle: handle.to_owned(),
        }));
    }
    let token = random_token()?;
    p.store
        .insert_admin_consent(&AdminConsent {
            id: sha256_hex(token.as_bytes()),
            request_id: sha256_hex(handle.as_bytes()),
            session_id: session.id.clone(),
            user_id: user.id.clone(),
            client_id: client.id.clone(),
            created_at: now,
            expires_at: now + CONSENT_TTL,
        })
        .await?;
    let mut grants = Vec::new();
    for g in grants_of(p, &user.id).await? {
        let unit = p
            .store
            .unit(&g.unit_id)
            .await?
            .map(|u| u.name)
            .unwrap_or(g.unit_id);
        grants.push((g.role.as_str().to_owned(), unit));
    }
    Ok(Ok(ConsentPage {
        token,
        client,
        scope: req.scope,
        grants,
    }))
}

/// The person's answer to the consent page: a code for the application, `access_denied`,
/// or a step-up when the session's level went stale meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    p: &Provider,
    handle: &str,
    token: &str,
    approve: bool,
    session: &SessionRecord,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<Decision, AuthorizeError> {
    let Some(consent) = p
        .store
        .take_admin_consent(&sha256_hex(token.as_bytes()), now)
        .await?
    else {
        return Err(page(
            PageError::RequestExpired,
            "this approval page expired or was already answered; start again from the application",
        ));
    };
    // The answer counts only from the session and person the page was shown to, for the
    // request it was shown for.
    if consent.request_id != sha256_hex(handle.as_bytes())
        || consent.session_id != session.id
        || consent.user_id != user.id
    {
        return Err(page(
            PageError::BadRequest,
            "this approval belongs to another request or session",
        ));
    }
    let (client, req) = admin_request(p, handle, now).await?;
    let request_id = sha256_hex(handle.as_bytes());
    if !approve {
        p.store.delete_auth_request(&request_id).await?;
        p.audit(
            Event::AdminConsentDenied
                .at(now)
                .actor(&user.id)
                .client(&client.id)
                .meta(meta)
                .detail(json!({ "sid": session.sid, "scope": req.scope.join(" ") })),
        )
        .await?;
        return error_redirect(
            p,
            &req.redirect_uri,
            req.state.as_deref(),
            ErrorCode::AccessDenied,
            "the person did not approve the request",
        );
    }
    if !ready(p, &client, &req, session, user, now).await? {
        return Ok(Decision::StepUp {
            handle: handle.to_owned(),
        });
    }
    answer_once(p, handle).await?;
    p.audit(
        Event::AdminConsentGiven
            .at(now)
            .actor(&user.id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "sid": session.sid, "scope": ADMIN_SCOPE })),
    )
    .await?;
    Ok(Decision::Redirect(
        issue_code(p, &client, &req, session, user, meta, now).await?,
    ))
}
