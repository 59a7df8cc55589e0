//! The client-credentials grant (RFC 6749 §4.4): a departmental application calling another,
//! or the province's integration platform, on its own behalf. `sub` is the client.

use serde_json::json;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::clients::Client;
use tessera_store::group_commit::Writes;

use super::USER_SCOPES;
use super::issue::{self, AccessGrant};
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::{OAuthError, Provider};

pub async fn grant(
    p: &Provider,
    client: &Client,
    params: &Params,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    if client.public {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client credentials",
        ));
    }
    // A token's `sub` is the client id: one shaped like a user id (registered before ids were
    // kept apart) could pass for a person at a resource server (RFC 9068 §5).
    if crate::admin::looks_like_user_id(&client.id) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client id has the shape of a user id; register the service under another id",
        ));
    }
    // The provider's own scopes act for a person, never for a client on its own behalf.
    let api_scopes: Vec<&str> = client
        .allowed_scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !USER_SCOPES.contains(s) && !s.starts_with("tessera:"))
        .collect();
    let scope: Vec<&str> = match params.get("scope") {
        // RFC 6749 §3.3: without a scope, the client's default — all its API scopes.
        None => api_scopes.clone(),
        Some(asked) => asked.split(' ').filter(|s| !s.is_empty()).collect(),
    };
    if let Some(bad) = scope.iter().find(|s| USER_SCOPES.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("'{bad}' is about a person and needs a user login"),
        ));
    }
    if let Some(bad) = scope.iter().find(|s| !api_scopes.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope '{bad}' is not allowed for this client"),
        ));
    }
    // A token that grants nothing is a registration mistake, not something to hand out.
    if scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope: register API scopes for this client (tessera client add --scopes)",
        ));
    }
    let scope = scope.join(" ");
    let grant = AccessGrant {
        client,
        authn: None,
        scope: &scope,
        code_id: None,
        family_id: None,
    };
    let (access_token, record) = issue::access_token(p, &grant, now).await?;
    p.commit(
        Event::TokenIssued
            .at(now)
            .actor(&client.id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "grant_type": "client_credentials", "scope": scope })),
        Writes {
            tokens: vec![record],
            ..Writes::default()
        },
    )
    .await?;
    Ok(issue::bearer(p, access_token, None, None, scope))
}
