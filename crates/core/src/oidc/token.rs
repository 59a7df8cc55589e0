//! The token endpoint (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3; RFC 7636 §4.5).

use serde_json::json;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::clients::Client;
use tessera_store::codes::AuthCodeRecord;
use tessera_store::group_commit::{Spend, Writes};
use tessera_store::users::{User, UserStatus};

pub use super::issue::at_hash;
use super::issue::{Authn, Granted, issue_granted};
use super::{client_auth, client_credentials, device, pkce, refresh};
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::secrets::sha256_hex;
use crate::{OAuthError, Provider};

fn err(code: ErrorCode, d: &str) -> OAuthError {
    OAuthError::new(code, d)
}

/// The grant's opening move: the secret it presents in parameter `name` (a code, a refresh
/// token, a device code), as the id it is stored under (its SHA-256: the secret itself is
/// never kept or looked up).
pub(crate) fn presented_id(params: &Params, name: &str) -> Result<String, OAuthError> {
    let secret = params
        .get(name)
        .ok_or_else(|| err(ErrorCode::InvalidRequest, &format!("{name} is missing")))?;
    Ok(sha256_hex(secret.as_bytes()))
}

pub async fn token(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "grant_type is missing"))?;
    let client = match client_auth::authenticate_client(p, params, authorization, now).await {
        Ok(c) => c,
        Err(e) => {
            if e.code() == ErrorCode::InvalidClient {
                let id = params.get("client_id");
                p.audit(
                    Event::ClientAuthFailed
                        .at(now)
                        .maybe_client(id)
                        .meta(meta)
                        .detail(json!({ "grant_type": grant_type })),
                )
                .await?;
            }
            return Err(e);
        }
    };
    const KNOWN: [&str; 4] = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        device::GRANT_TYPE,
    ];
    if !KNOWN.contains(&grant_type) {
        return Err(err(
            ErrorCode::UnsupportedGrantType,
            &format!("supported grant types: {}", KNOWN.join(", ")),
        ));
    }
    if !client.grant_types.iter().any(|g| g == grant_type) {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            &format!("this client is not registered for the {grant_type} grant"),
        ));
    }
    match grant_type {
        "authorization_code" => authorization_code(p, &client, params, meta, now).await,
        "refresh_token" => refresh::grant(p, &client, params, meta, now).await,
        device::GRANT_TYPE => device::poll::grant(p, &client, params, meta, now).await,
        _ => client_credentials::grant(p, &client, params, meta, now).await,
    }
}

async fn authorization_code(
    p: &Provider,
    client: &Client,
    params: &Params,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let code_id = presented_id(params, "code")?;
    // Look before spending: a client that merely saw another client's code must neither burn
    // it nor, by presenting it twice, get the rightful client's tokens revoked.
    let Some(rec) = p.store.code(&code_id).await? else {
        return Err(invalid_code());
    };
    if rec.client_id != client.id {
        p.audit(
            Event::TokenRefused
                .at(now)
                .actor(&rec.user_id)
                .client(&client.id)
                .meta(meta)
                .detail(json!({ "reason": "code issued to another client" })),
        )
        .await?;
        return Err(invalid_code());
    }
    if rec.used_at.is_some() {
        return code_replayed(p, client, &rec, meta, now).await;
    }
    // From here on every answer spends the code, in the batch that records the answer: of two
    // concurrent redemptions exactly one commits the spend; the other takes the replay path.
    let rec = &rec;
    let spend = || Writes::spending(Spend::Code(rec.id.clone()));
    let refuse = |why: &'static str| async move {
        let event = Event::TokenRefused
            .at(now)
            .actor(&rec.user_id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "reason": why }));
        if p.commit(event, spend()).await? {
            Err(invalid_code())
        } else {
            code_replayed(p, client, rec, meta, now).await
        }
    };
    if now >= rec.expires_at {
        return refuse("code expired").await;
    }
    if params.get("redirect_uri") != Some(rec.redirect_uri.as_str()) {
        return refuse("redirect_uri does not match the authorization request").await;
    }
    match (&rec.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => {}
        (None, None) => {}
        // A verifier without a challenge is a downgrade attempt (RFC 9700 §2.1.1).
        _ => return refuse("PKCE verification failed").await,
    }
    let subject = p
        .store
        .grant_subject(&rec.user_id, Some(&rec.session_id), now)
        .await?;
    let Some((user, session)) = subject else {
        return refuse("user no longer exists").await;
    };
    if user.status != UserStatus::Active {
        return refuse("user is disabled").await;
    }
    let Some(session) = session else {
        return refuse("the session has ended").await;
    };
    let (response, mut writes) = issue_tokens(p, client, rec, &user, &session.sid, now).await?;
    writes.spend = spend().spend;
    let issued = Event::TokenIssued
        .at(now)
        .actor(&user.id)
        .client(&client.id)
        .meta(meta)
        .detail(json!({ "grant_type": "authorization_code", "scope": rec.scope }));
    if p.commit(issued, writes).await? {
        Ok(response)
    } else {
        code_replayed(p, client, rec, meta, now).await
    }
}

fn invalid_code() -> OAuthError {
    err(
        ErrorCode::InvalidGrant,
        "the authorization code is invalid, expired or already used",
    )
}

/// RFC 6749 §4.1.2: a code used twice revokes what it already produced.
async fn code_replayed(
    p: &Provider,
    client: &Client,
    rec: &AuthCodeRecord,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let revoked = p.store.revoke_tokens_of_code(&rec.id, now).await?;
    p.audit(
        Event::CodeReplayed
            .at(now)
            .actor(&rec.user_id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "revoked_tokens": revoked })),
    )
    .await?;
    Err(invalid_code())
}

/// The tokens of a redeemed code, and the records to write with the grant's audit entry.
async fn issue_tokens(
    p: &Provider,
    client: &Client,
    rec: &AuthCodeRecord,
    user: &User,
    sid: &str,
    now: i64,
) -> Result<(TokenResponse, Writes), OAuthError> {
    let granted = Granted {
        authn: Authn {
            user,
            session_id: Some(&rec.session_id),
            sid: Some(sid),
            auth_time: rec.auth_time,
            acr: &rec.acr,
            amr: &rec.amr,
        },
        scope: &rec.scope,
        nonce: rec.nonce.as_deref(),
        code_id: Some(&rec.id),
    };
    issue_granted(p, client, &granted, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3 example access token and at_hash (RS256 / SHA-256).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
