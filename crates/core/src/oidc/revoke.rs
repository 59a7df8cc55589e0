//! Token revocation (RFC 7009). A client revokes only its own tokens; for anything else the
//! answer is the same 200, so that revocation reveals nothing about other clients' tokens.

use serde_json::json;
use tessera_proto::ErrorCode;

use super::client_auth::authenticate_client;
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::secrets::sha256_hex;
use crate::{OAuthError, Provider};

pub async fn revoke(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), OAuthError> {
    let caller = authenticate_client(p, params, authorization, now).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is missing"))?;
    if !token.contains('.') {
        // Revoking a refresh token ends its family and the access tokens minted from it.
        if let Some((_, fam)) = p.store.refresh_token(&sha256_hex(token.as_bytes())).await?
            && fam.client_id == caller.id
        {
            p.store
                .revoke_refresh_family(&fam.id, "revoked by client", now)
                .await?;
            p.audit(
                Event::TokenRevoked
                    .at(now)
                    .actor(&fam.user_id)
                    .client(&caller.id)
                    .meta(meta)
                    .detail(json!({ "kind": "refresh", "family": fam.id })),
            )
            .await?;
        }
        return Ok(());
    }
    let Some(v) = p.signer.verify(token, now).await? else {
        return Ok(());
    };
    if let Some(jti) = v.claims["jti"].as_str()
        && let Some(rec) = p.store.token(jti).await?
        && rec.client_id == caller.id
        && p.store.revoke_token(jti, now).await?
    {
        p.audit(
            Event::TokenRevoked
                .at(now)
                .maybe_actor(rec.user_id.as_deref())
                .client(&caller.id)
                .meta(meta)
                .detail(json!({ "kind": "access", "jti": jti })),
        )
        .await?;
    }
    Ok(())
}
