//! Checking a bearer access token as a resource server does (RFC 9068 §4; RFC 6750): signed by
//! this provider, typed `at+jwt`, unexpired, recorded and not revoked, its client still
//! registered and its user (if any) active. Each API then checks its own scopes and answers
//! with its own error body.

use tessera_store::codes::TokenRecord;
use tessera_store::users::{User, UserStatus};

use crate::{CoreError, Provider};

/// A valid access token.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub record: TokenRecord,
    /// The person it acts for; `None` for a client's own token (client credentials).
    pub user: Option<User>,
    /// The JWT's claims.
    pub claims: serde_json::Value,
}

impl AccessToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.record.scope.split(' ').any(|s| s == scope)
    }
}

/// Why a token is not accepted, in words for the `error_description`.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for TokenError {
    fn from(e: tessera_store::StoreError) -> Self {
        TokenError::Internal(e.into())
    }
}

/// Checks `token` at `now`.
pub async fn access_token(p: &Provider, token: &str, now: i64) -> Result<AccessToken, TokenError> {
    let Some(v) = p.signer.verify(token, now).await? else {
        return Err(TokenError::Invalid("the access token is invalid"));
    };
    if v.header["typ"] != "at+jwt" {
        return Err(TokenError::Invalid("not an access token"));
    }
    let c = v.claims;
    if c["iss"] != p.config.issuer.as_str() {
        return Err(TokenError::Invalid(
            "the access token was issued by another provider",
        ));
    }
    if c["exp"].as_i64().is_none_or(|exp| now >= exp) {
        return Err(TokenError::Invalid("the access token has expired"));
    }
    let Some(jti) = c["jti"].as_str() else {
        return Err(TokenError::Invalid("the access token is invalid"));
    };
    let Some(record) = p.store.token(jti).await? else {
        return Err(TokenError::Invalid("the access token is unknown"));
    };
    if record.revoked_at.is_some() {
        return Err(TokenError::Invalid("the access token was revoked"));
    }
    if now >= record.expires_at {
        return Err(TokenError::Invalid("the access token has expired"));
    }
    if p.store.client(&record.client_id).await?.is_none() {
        return Err(TokenError::Invalid("the access token's client was removed"));
    }
    let user = match &record.user_id {
        Some(id) => {
            let Some(user) = p.store.user_by_id(id).await? else {
                return Err(TokenError::Invalid(
                    "the access token's user no longer exists",
                ));
            };
            if user.status != UserStatus::Active {
                return Err(TokenError::Invalid("the user is disabled"));
            }
            Some(user)
        }
        None => None,
    };
    Ok(AccessToken {
        record,
        user,
        claims: c,
    })
}
