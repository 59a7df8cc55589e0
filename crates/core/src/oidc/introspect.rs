//! Token introspection (RFC 7662). A client learns about its own tokens only: anything else,
//! like anything unknown, revoked or expired, is simply `{"active": false}`.

use serde_json::{Value, json};
use tessera_proto::ErrorCode;
use tessera_store::users::UserStatus;

use super::client_auth::authenticate_client;
use crate::params::Params;
use crate::secrets::sha256_hex;
use crate::{OAuthError, Provider};

fn inactive() -> Value {
    json!({ "active": false })
}

pub async fn introspect(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    now: i64,
) -> Result<Value, OAuthError> {
    let caller = authenticate_client(p, params, authorization, now).await?;
    // RFC 7662 §2.1 wants the caller authenticated; a public client only names itself (the
    // metadata offers no `none` method here).
    if caller.public {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "public clients cannot use introspection",
        ));
    }
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is missing"))?;
    // Our access tokens are JWTs and refresh tokens are opaque, so the form tells them apart;
    // `token_type_hint` is not needed (RFC 7662 §2.1 allows ignoring it).
    let answer = if token.contains('.') {
        access(p, &caller.id, token, now).await?
    } else {
        refresh(p, &caller.id, token, now).await?
    };
    Ok(answer.unwrap_or_else(inactive))
}

async fn user_active(
    p: &Provider,
    user_id: Option<&str>,
) -> Result<Option<Option<String>>, OAuthError> {
    match user_id {
        None => Ok(Some(None)),
        Some(id) => Ok(match p.store.user_by_id(id).await? {
            Some(u) if u.status == UserStatus::Active => Some(Some(u.username)),
            _ => None,
        }),
    }
}

async fn access(
    p: &Provider,
    caller: &str,
    token: &str,
    now: i64,
) -> Result<Option<Value>, OAuthError> {
    let Some(v) = p.signer.verify(token, now).await? else {
        return Ok(None);
    };
    let c = &v.claims;
    if v.header["typ"] != "at+jwt" || c["iss"] != p.config.issuer.as_str() {
        return Ok(None);
    }
    let Some(rec) = (match c["jti"].as_str() {
        Some(jti) => p.store.token(jti).await?,
        None => None,
    }) else {
        return Ok(None);
    };
    if rec.client_id != caller || rec.revoked_at.is_some() || now >= rec.expires_at {
        return Ok(None);
    }
    let Some(username) = user_active(p, rec.user_id.as_deref()).await? else {
        return Ok(None);
    };
    let mut out = json!({
        "active": true, "token_type": "Bearer", "scope": rec.scope, "client_id": rec.client_id,
        "sub": c["sub"], "aud": c["aud"], "iss": c["iss"], "exp": rec.expires_at, "iat": rec.issued_at,
        "jti": rec.jti,
    });
    if let Some(name) = username {
        out["username"] = name.into();
    }
    if !c["sid"].is_null() {
        out["sid"] = c["sid"].clone();
    }
    Ok(Some(out))
}

async fn refresh(
    p: &Provider,
    caller: &str,
    token: &str,
    now: i64,
) -> Result<Option<Value>, OAuthError> {
    let Some((tok, fam)) = p.store.refresh_token(&sha256_hex(token.as_bytes())).await? else {
        return Ok(None);
    };
    if fam.client_id != caller
        || tok.used_at.is_some()
        || fam.revoked_at.is_some()
        || now >= tok.expires_at
        || now >= fam.absolute_expires_at
    {
        return Ok(None);
    }
    if !fam.offline {
        let live = match &fam.session_id {
            Some(s) => p.store.live_session(s, now).await?.is_some(),
            None => false,
        };
        if !live {
            return Ok(None);
        }
    }
    let Some(username) = user_active(p, Some(&fam.user_id)).await? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "active": true, "token_type": "refresh_token", "scope": fam.scope, "client_id": fam.client_id,
        "sub": fam.user_id, "username": username, "iss": p.config.issuer,
        "exp": tok.expires_at, "iat": tok.issued_at,
    })))
}
