//! Pushed authorization requests (RFC 9126). The client posts its authorization request to
//! `/par` with its own authentication and gets a `request_uri` to send the browser to
//! `/authorize` with. This lifts the query string's limit: a CSC `authorization_details` for
//! 100 hashes (CSC API v2 §8.4.2) is far longer than a parameter of the authorization
//! endpoint may be ([`MAX_VALUE_LEN`](crate::params::MAX_VALUE_LEN)).
//!
//! The validated request is kept in the database (any replica may serve the browser), bound
//! to the client that pushed it, for [`PAR_TTL`] seconds, and taken once.

use serde::Serialize;
use tessera_proto::ErrorCode;
use tessera_store::clients::Client;

use super::authorize::{
    AuthRequest, AuthorizeError, known_client, page, registered_redirect, request_of,
};
use super::client_auth;
use crate::error::PageError;
use crate::params::Params;
use crate::secrets::{random_token, sha256_hex};
use crate::{CoreError, OAuthError, Provider};

/// The `request_uri` scheme of RFC 9126 §2.2.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for the browser (RFC 9126 §2.2 suggests 5 to 600 s; the
/// browser is sent at once).
pub const PAR_TTL: i64 = 90;
/// Longest value of one pushed parameter: `authorization_details` with 100 SHA-512 hashes
/// and their labels fits, while a body stays bounded.
pub const MAX_PUSHED_VALUE_LEN: usize = 32 * 1024;

/// The answer of `/par` (RFC 9126 §2.2), sent with status 201.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

fn err(code: ErrorCode, d: impl Into<String>) -> OAuthError {
    OAuthError::new(code, d)
}

/// Handles `/par`: authenticates the client, validates its request as `/authorize` would
/// (errors answered as JSON, RFC 9126 §2.3) and keeps it.
pub async fn push(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    now: i64,
) -> Result<Pushed, OAuthError> {
    let client = client_auth::authenticate_client(p, params, authorization, now).await?;
    // RFC 9126 §2.1: the request itself is pushed, never a reference to another one.
    if params.get("request_uri").is_some() {
        return Err(err(
            ErrorCode::InvalidRequest,
            "request_uri cannot be pushed; push the authorization request's parameters",
        ));
    }
    // The client_id of the request must be the client that authenticated (RFC 9126 §2.1).
    if params.get("client_id").is_some_and(|id| id != client.id) {
        return Err(err(
            ErrorCode::InvalidRequest,
            "client_id is not the authenticated client",
        ));
    }
    let redirect_uri = match registered_redirect(&client, params) {
        Ok(uri) => uri,
        Err(AuthorizeError::Page { detail, .. }) => {
            return Err(err(ErrorCode::InvalidRequest, detail));
        }
        Err(AuthorizeError::Internal(e)) => return Err(e.into()),
    };
    let req =
        request_of(&client, redirect_uri, params, now).map_err(|(code, why)| err(code, why))?;
    let token = random_token()?;
    let stored = serde_json::to_string(&req).map_err(|e| CoreError::Internal(e.to_string()))?;
    p.store
        .insert_pushed_request(
            &sha256_hex(token.as_bytes()),
            &client.id,
            &stored,
            now,
            now + PAR_TTL,
        )
        .await?;
    Ok(Pushed {
        request_uri: format!("{REQUEST_URI_PREFIX}{token}"),
        expires_in: PAR_TTL,
    })
}

/// The pushed request `request_uri` names, for `/authorize` with `client_id` (RFC 9126 §4):
/// taken once, only by the client that pushed it, before it expires. Anything else is a page:
/// without the request there is no checked redirect URI to send an error to.
pub(crate) async fn take(
    p: &Provider,
    params: &Params,
    request_uri: &str,
    now: i64,
) -> Result<(Client, AuthRequest), AuthorizeError> {
    let client = known_client(p, params).await?;
    let token = request_uri.trim_start_matches(REQUEST_URI_PREFIX);
    let Some(stored) = p
        .store
        .take_pushed_request(&sha256_hex(token.as_bytes()), &client.id, now)
        .await?
    else {
        return Err(page(
            PageError::RequestExpired,
            "the pushed authorization request expired or was already used; start again from the application",
        ));
    };
    let mut req: AuthRequest = serde_json::from_str(&stored)
        .map_err(|e| CoreError::Internal(format!("stored pushed request: {e}")))?;
    // `prompt=login` and `max_age` count from the browser's arrival.
    req.received_at = now;
    Ok((client, req))
}
