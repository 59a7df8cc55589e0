//! The UserInfo endpoint (OIDC Core §5.3) with Bearer tokens (RFC 6750).

use serde_json::{Map, Value};
use tessera_proto::ErrorCode;
use tessera_store::users::UserStatus;

use super::claims;
use crate::{OAuthError, Provider};

fn invalid(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, d)
}

/// Verifies an access token made by this provider and still live in the database.
pub async fn userinfo(
    p: &Provider,
    access_token: &str,
    now: i64,
) -> Result<Map<String, Value>, OAuthError> {
    let Some(v) = p.signer.verify(access_token, now).await? else {
        return Err(invalid("the access token is invalid"));
    };
    if v.header["typ"] != "at+jwt" {
        return Err(invalid("not an access token"));
    }
    let c = &v.claims;
    if c["iss"] != p.config.issuer.as_str() {
        return Err(invalid("the access token was issued by another provider"));
    }
    if c["exp"].as_i64().is_none_or(|exp| now >= exp) {
        return Err(invalid("the access token has expired"));
    }
    let Some(jti) = c["jti"].as_str() else {
        return Err(invalid("the access token is invalid"));
    };
    let Some(rec) = p.store.token(jti).await? else {
        return Err(invalid("the access token is unknown"));
    };
    if rec.revoked_at.is_some() {
        return Err(invalid("the access token was revoked"));
    }
    let Some(user) = (match &rec.user_id {
        Some(id) => p.store.user_by_id(id).await?,
        None => None,
    }) else {
        return Err(invalid("the access token has no user"));
    };
    if user.status != UserStatus::Active {
        return Err(invalid("the user is disabled"));
    }
    let scopes: Vec<&str> = rec.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the openid scope is required",
        ));
    }
    Ok(claims::for_scopes(&p.store, &user, &scopes).await?)
}
