//! The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1.1, RFC 7636 §4.3).

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_proto::ErrorCode;
use tessera_store::clients::Client;
use tessera_store::codes::AuthCodeRecord;
use tessera_store::sessions::{AuthRequestRecord, SessionRecord};
use tessera_store::users::User;
use url::Url;

use super::authorization_details::{self, CredentialAuthorization};
use super::pkce;
use crate::audit::Event;
use crate::error::PageError;
use crate::mfa::{self, policy};
use crate::params::Params;
use crate::request::RequestMeta;
use crate::secrets::{random_token, sha256_hex};
use crate::{CoreError, Provider};

const MAX_STATE_LEN: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    None,
    Login,
}

/// A validated authorization request, kept in the database while the user logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Levels of assurance asked for, in order of preference (OIDC Core §3.1.2.1).
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// CSC scope `credential`: the hashes the official must approve before a code is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialAuthorization>,
    /// When the request arrived: a login that resumes it must be at least this recent when
    /// `prompt=login` or `max_age` asked for a fresh one.
    pub received_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("{kind:?}: {detail}")]
    Page { kind: PageError, detail: String },
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for AuthorizeError {
    fn from(e: tessera_store::StoreError) -> Self {
        AuthorizeError::Internal(e.into())
    }
}

pub(crate) fn page(kind: PageError, detail: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        kind,
        detail: detail.into(),
    }
}

/// What the browser should do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go back to the client: with a code, or with an error it must handle.
    Redirect(String),
    /// Show the login form for the pending request stored under `handle`.
    Login {
        handle: String,
        client_name: String,
        login_hint: Option<String>,
    },
    /// The person is signed in, but below the level this request needs: prove a second
    /// factor (or enrol one), then the request stored under `handle` resumes.
    StepUp { handle: String },
    /// The request asks for the administration scope: the person must approve it on the
    /// consent page (every time), then the request stored under `handle` resumes.
    Consent { handle: String },
    /// The request asks for a signing authorization (CSC scope `credential`): the official
    /// approves its hashes on the signing page, then the request stored under `handle` resumes
    /// (`crate::signing::remote::csc::oauth`).
    SigningApproval { handle: String },
}

pub use crate::admin_api::ADMIN_AUTH_MAX_AGE;

/// Whether the request asks for the administration API's scope.
pub fn wants_admin(req: &AuthRequest) -> bool {
    req.scope.iter().any(|s| s == crate::admin_api::ADMIN_SCOPE)
}

/// The level this request needs from `user`: the policies, the client's minimum and
/// `acr_values`, and level 2 for the administration scope.
pub(crate) async fn required_level_for(
    p: &Provider,
    client: &Client,
    req: &AuthRequest,
    user: &User,
) -> Result<&'static str, CoreError> {
    let level = policy::required(p, client, &req.acr_values, user).await?;
    Ok(if wants_admin(req) {
        mfa::max_level(level, crate::acr::LOA2)
    } else {
        level
    })
}

/// Whether `session` is at the level this request needs; for the administration scope the
/// level must also have been proven in the last [`ADMIN_AUTH_MAX_AGE`] seconds.
pub(crate) fn session_at_level(
    session: &SessionRecord,
    needed: &str,
    req: &AuthRequest,
    now: i64,
) -> bool {
    mfa::rank(&session.acr) >= mfa::rank(needed)
        && (!wants_admin(req) || now - session.auth_time <= ADMIN_AUTH_MAX_AGE)
}

/// Builds the redirect back to the client (RFC 6749 §4.1.2, RFC 9207 `iss`).
fn redirect_with(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> Result<String, CoreError> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|e| CoreError::Internal(format!("stored redirect URI: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    Ok(url.into())
}

pub(crate) fn error_redirect(
    p: &Provider,
    req_uri: &str,
    state: Option<&str>,
    code: ErrorCode,
    description: &str,
) -> Result<Decision, AuthorizeError> {
    Ok(Decision::Redirect(redirect_with(
        req_uri,
        &[
            ("error", Some(code.as_str())),
            ("error_description", Some(description)),
            ("state", state),
            ("iss", Some(&p.config.issuer)),
        ],
    )?))
}

/// A refusal of an authorization request once its client and redirect URI are known: the
/// error code and its description, sent back to the client (RFC 6749 §4.1.2.1) or, for a
/// pushed request, answered as JSON (RFC 9126 §2.3).
pub type Refusal = (ErrorCode, String);

/// The registered client a request names (failures are pages: there is nowhere safe to
/// redirect to).
pub(crate) async fn known_client(p: &Provider, params: &Params) -> Result<Client, AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page(PageError::UnknownClient, "client_id is missing"))?;
    p.store
        .client(client_id)
        .await?
        .ok_or_else(|| page(PageError::UnknownClient, "this client_id is not registered"))
}

/// The request's redirect URI, registered for `client` (failures are pages too).
pub(crate) fn registered_redirect<'a>(
    client: &Client,
    params: &'a Params,
) -> Result<&'a str, AuthorizeError> {
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| page(PageError::InvalidRedirectUri, "redirect_uri is missing"))?;
    // Exact comparison (RFC 9700 §4.1.3), any port on loopback IP literals (RFC 8252 §7.3).
    if !super::redirect::is_registered(&client.redirect_uris, redirect_uri) {
        return Err(page(
            PageError::InvalidRedirectUri,
            "redirect_uri is not registered for this client",
        ));
    }
    if params.get("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(page(PageError::BadRequest, "state is too long"));
    }
    Ok(redirect_uri)
}

/// Checks client and redirect URI first (failures are pages), then the rest (failures are
/// redirects to the client).
pub async fn validate(
    p: &Provider,
    params: &Params,
    now: i64,
) -> Result<Result<(Client, AuthRequest), Decision>, AuthorizeError> {
    let client = known_client(p, params).await?;
    let redirect_uri = registered_redirect(&client, params)?;
    match request_of(&client, redirect_uri, params, now) {
        Ok(req) => Ok(Ok((client, req))),
        Err((code, why)) => {
            error_redirect(p, redirect_uri, params.get("state"), code, &why).map(Err)
        }
    }
}

/// The request `params` make to `client`, whose `redirect_uri` is already checked.
pub(crate) fn request_of(
    client: &Client,
    redirect_uri: &str,
    params: &Params,
    now: i64,
) -> Result<AuthRequest, Refusal> {
    let fail = |code: ErrorCode, d: &str| Err((code, d.to_owned()));
    if params.get("request").is_some() {
        return fail(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        );
    }
    if params.get("request_uri").is_some() {
        return fail(
            ErrorCode::RequestUriNotSupported,
            "request_uri is only supported for pushed authorization requests (RFC 9126)",
        );
    }
    match params.get("response_type") {
        None => return fail(ErrorCode::InvalidRequest, "response_type is missing"),
        Some("code") => {}
        Some(_) => {
            return fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return fail(
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        );
    }
    let mut scope: Vec<String> = params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let credential = authorization_details::parse(params, &mut scope)?;
    // A pure CSC credential authorization (CSC API v2 §8.4.2, scope `credential`) asks for
    // an access token bound to hashes, not for a sign-in: no `openid`, no ID token.
    if credential.is_none() && !scope.iter().any(|s| s == "openid") {
        return fail(ErrorCode::InvalidScope, "the openid scope is required");
    }
    if let Some(bad) = scope.iter().find(|s| !client.allowed_scopes.contains(s)) {
        return fail(
            ErrorCode::InvalidScope,
            &format!("scope '{bad}' is not allowed for this client"),
        );
    }
    if scope.iter().any(|s| s == crate::admin_api::ADMIN_SCOPE) && !client.admin_console {
        return fail(
            ErrorCode::InvalidScope,
            "the administration scope is only for consoles pinned by the operator",
        );
    }
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) if client.public => {
            return fail(
                ErrorCode::InvalidRequest,
                "PKCE (code_challenge with S256) is required for public clients",
            );
        }
        (None, None) => None,
        (None, Some(_)) => return fail(ErrorCode::InvalidRequest, "code_challenge is missing"),
        (Some(_), None) | (Some(_), Some("plain")) => {
            return fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256; plain is not accepted",
            );
        }
        (Some(c), Some("S256")) if pkce::valid_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return fail(ErrorCode::InvalidRequest, "code_challenge is malformed");
        }
        (Some(_), Some(_)) => {
            return fail(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method",
            );
        }
    };
    let prompt = match params.get("prompt") {
        None => None,
        Some("none") => Some(Prompt::None),
        Some("login") => Some(Prompt::Login),
        Some(other) if other.split(' ').any(|v| v == "none") => {
            return fail(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other values",
            );
        }
        Some(_) => {
            return fail(
                ErrorCode::InvalidRequest,
                "supported prompt values are none and login",
            );
        }
    };
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return fail(
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                );
            }
        },
    };
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_STATE_LEN) {
        return fail(ErrorCode::InvalidRequest, "nonce is too long");
    }
    let login_hint = params
        .get("login_hint")
        .filter(|h| h.len() <= 256)
        .map(str::to_owned);
    let acr_values: Vec<String> = params
        .get("acr_values")
        .unwrap_or("")
        .split(' ')
        .filter(|v| !v.is_empty())
        .take(8)
        .map(str::to_owned)
        .collect();
    let req = AuthRequest {
        acr_values,
        credential,
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: params.get("state").map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint,
        received_at: now,
    };
    Ok(req)
}

/// Handles `/authorize`: validates, then either answers at once (SSO) or asks for a login.
pub async fn authorize(
    p: &Provider,
    params: &Params,
    session: Option<&(SessionRecord, User)>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Decision, AuthorizeError> {
    let pushed = params
        .get("request_uri")
        .filter(|u| u.starts_with(super::par::REQUEST_URI_PREFIX));
    let (client, req) = match pushed {
        Some(uri) => super::par::take(p, params, uri, now).await?,
        None => match validate(p, params, now).await? {
            Ok(valid) => valid,
            Err(redirect) => return Ok(redirect),
        },
    };
    let fresh_enough = |s: &SessionRecord| match req.max_age {
        Some(max) => now - s.auth_time <= max,
        None => true,
    };
    let usable = session.filter(|(s, _)| req.prompt != Some(Prompt::Login) && fresh_enough(s));
    // A client that requires an upstream (`urn:tessera:upstream:<id>`) gets only sessions
    // that came through it.
    let usable = match usable {
        Some((s, _)) if !crate::upstream::satisfies(p, &req.acr_values, &s.id).await? => None,
        other => other,
    };
    let mut below_level = false;
    let mut needs_consent = false;
    let mut needs_approval = false;
    if let Some((s, user)) = usable {
        let needed = required_level_for(p, &client, &req, user).await?;
        if !session_at_level(s, needed, &req, now) {
            below_level = true;
        } else if wants_admin(&req) {
            // Never silently: the person approves every administration request.
            needs_consent = true;
        } else if req.credential.is_some() {
            // Never silently either: the official approves the hashes with a second factor.
            needs_approval = true;
        } else {
            return Ok(Decision::Redirect(
                issue_code(p, &client, &req, s, user, meta, now).await?,
            ));
        }
    }
    if req.prompt == Some(Prompt::None) {
        let (code, why) = if needs_approval {
            (
                ErrorCode::InteractionRequired,
                "the official must approve the signature authorization",
            )
        } else if needs_consent {
            (
                ErrorCode::ConsentRequired,
                "the administration scope needs the person's approval",
            )
        } else if below_level {
            (
                ErrorCode::InteractionRequired,
                "the session is below the required level of assurance",
            )
        } else {
            (ErrorCode::LoginRequired, "the user is not logged in")
        };
        return error_redirect(p, &req.redirect_uri, req.state.as_deref(), code, why);
    }
    let handle = store_request(p, &client, &req, now).await?;
    if needs_consent {
        return Ok(Decision::Consent { handle });
    }
    if needs_approval {
        return Ok(Decision::SigningApproval { handle });
    }
    if below_level {
        return Ok(Decision::StepUp { handle });
    }
    Ok(Decision::Login {
        handle,
        client_name: client.name,
        login_hint: req.login_hint,
    })
}

/// Keeps a request in the database while the person signs in; returns the browser's handle.
async fn store_request(
    p: &Provider,
    client: &Client,
    req: &AuthRequest,
    now: i64,
) -> Result<String, AuthorizeError> {
    let handle = random_token()?;
    let params = serde_json::to_string(&req).map_err(|e| CoreError::Internal(e.to_string()))?;
    p.store
        .insert_auth_request(&AuthRequestRecord {
            id: sha256_hex(handle.as_bytes()),
            client_id: client.id.clone(),
            params,
            created_at: now,
            expires_at: now + p.config.auth_request_ttl,
        })
        .await?;
    Ok(handle)
}

/// The level a pending request needs from `user` (for the login pages).
pub async fn required_level(
    p: &Provider,
    handle: Option<&str>,
    user: &User,
    now: i64,
) -> Result<&'static str, CoreError> {
    match handle {
        Some(h) => match pending(p, h, now).await? {
            Some((client, req)) => required_level_for(p, &client, &req, user).await,
            None => policy::level_for_user(p, user).await,
        },
        None => policy::level_for_user(p, user).await,
    }
}

/// A pending request, for rendering the login form.
pub async fn pending(
    p: &Provider,
    handle: &str,
    now: i64,
) -> Result<Option<(Client, AuthRequest)>, CoreError> {
    let Some(rec) = p
        .store
        .auth_request(&sha256_hex(handle.as_bytes()), now)
        .await?
    else {
        return Ok(None);
    };
    let req: AuthRequest = serde_json::from_str(&rec.params)
        .map_err(|e| CoreError::Internal(format!("stored request: {e}")))?;
    Ok(p.store.client(&req.client_id).await?.map(|c| (c, req)))
}

/// The pending request under `handle`, or the page saying it expired.
pub(crate) async fn pending_or_expired(
    p: &Provider,
    handle: &str,
    now: i64,
) -> Result<(Client, AuthRequest), AuthorizeError> {
    pending(p, handle, now).await?.ok_or_else(|| {
        page(
            PageError::RequestExpired,
            "the sign-in request expired; start again from the application",
        )
    })
}

/// Ends the pending request under `handle` before its code is issued: one answer per
/// request, across replicas (the second taker gets the page saying it was answered).
pub(crate) async fn answer_once(p: &Provider, handle: &str) -> Result<(), AuthorizeError> {
    if p.store
        .delete_auth_request(&sha256_hex(handle.as_bytes()))
        .await?
    {
        Ok(())
    } else {
        Err(page(
            PageError::RequestExpired,
            "the sign-in request was already answered; start again from the application",
        ))
    }
}

/// Continues a pending request after a successful login.
pub async fn resume(
    p: &Provider,
    handle: &str,
    session: &SessionRecord,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<Decision, AuthorizeError> {
    let (client, req) = pending_or_expired(p, handle, now).await?;
    let needs_fresh = req.prompt == Some(Prompt::Login) || req.max_age.is_some();
    if needs_fresh && session.auth_time < req.received_at {
        return Err(page(PageError::BadRequest, "a fresh login is required"));
    }
    if !crate::upstream::satisfies(p, &req.acr_values, &session.id).await? {
        return Err(page(
            PageError::BadRequest,
            format!(
                "this application requires sign-in through {}",
                crate::upstream::required(&req.acr_values).unwrap_or_default()
            ),
        ));
    }
    let needed = required_level_for(p, &client, &req, user).await?;
    if !session_at_level(session, needed, &req, now) {
        // Still below the level: the request waits for the second factor.
        return Ok(Decision::StepUp {
            handle: handle.to_owned(),
        });
    }
    if wants_admin(&req) {
        return Ok(Decision::Consent {
            handle: handle.to_owned(),
        });
    }
    if req.credential.is_some() {
        return Ok(Decision::SigningApproval {
            handle: handle.to_owned(),
        });
    }
    answer_once(p, handle).await?;
    Ok(Decision::Redirect(
        issue_code(p, &client, &req, session, user, meta, now).await?,
    ))
}

pub(crate) async fn issue_code(
    p: &Provider,
    client: &Client,
    req: &AuthRequest,
    session: &SessionRecord,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<String, AuthorizeError> {
    Ok(issue_code_with_id(p, client, req, session, user, meta, now)
        .await?
        .0)
}

/// [`issue_code`], also answering the code's id (its SHA-256), which the caller may bind to
/// what the code grants.
pub(crate) async fn issue_code_with_id(
    p: &Provider,
    client: &Client,
    req: &AuthRequest,
    session: &SessionRecord,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<(String, String), AuthorizeError> {
    // Citizens and officials are separate populations: each client admits its own.
    let audience = p.store.client_audience(&client.id).await?;
    if !crate::upstream::admits(&audience, user) {
        return Err(page(
            PageError::WrongAudience,
            format!("{} is for {audience} only", client.name),
        ));
    }
    let code = random_token()?;
    let code_id = sha256_hex(code.as_bytes());
    p.store
        .insert_code(&AuthCodeRecord {
            id: code_id.clone(),
            client_id: client.id.clone(),
            user_id: user.id.clone(),
            session_id: session.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scope.join(" "),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time: session.auth_time,
            acr: session.acr.clone(),
            amr: session.amr.clone(),
            created_at: now,
            expires_at: now + p.config.code_ttl.min(crate::Config::MAX_CODE_TTL),
            used_at: None,
        })
        .await?;
    p.store
        .add_session_client(&session.id, &client.id, now)
        .await?;
    p.audit(
        Event::CodeIssued
            .at(now)
            .actor(&user.id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "sid": session.sid, "scope": req.scope.join(" ") })),
    )
    .await?;
    let url = redirect_with(
        &req.redirect_uri,
        &[
            ("code", Some(&code)),
            ("state", req.state.as_deref()),
            ("iss", Some(&p.config.issuer)),
        ],
    )?;
    Ok((url, code_id))
}
