//! The token endpoint (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3; RFC 7636 §4.5).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest::{SHA256, digest};
use serde_json::{Value, json};
use tessera_hsm::KeyAlgorithm;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::audit::Outcome;
use tessera_store::clients::Client;
use tessera_store::codes::{AuthCodeRecord, Redeem, TokenRecord};
use tessera_store::users::UserStatus;

use super::{claims, pkce};
use crate::params::Params;
use crate::provider::RequestMeta;
use crate::secrets::{random_id, sha256_hex};
use crate::{OAuthError, Provider};

fn err(code: ErrorCode, d: &str) -> OAuthError {
    OAuthError::new(code, d)
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || err(ErrorCode::InvalidClient, "malformed Basic credentials");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(err(
            ErrorCode::InvalidClient,
            "unsupported authorization scheme",
        ));
    }
    let raw = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((decode(id), decode(secret)))
}

/// Authenticates the client by exactly one method (RFC 6749 §2.3).
pub async fn authenticate_client(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
) -> Result<Client, OAuthError> {
    let (id, secret) = match (authorization, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(err(
                ErrorCode::InvalidRequest,
                "use one client authentication method only",
            ));
        }
        (Some(h), None) => {
            let (id, secret) = parse_basic(h)?;
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "client_id does not match the Authorization header",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => {
            let id = params.get("client_id").ok_or_else(|| {
                err(
                    ErrorCode::InvalidClient,
                    "client authentication is required",
                )
            })?;
            (id.to_owned(), secret.map(str::to_owned))
        }
    };
    let unknown = || err(ErrorCode::InvalidClient, "client authentication failed");
    let client = p.store.client(&id).await?.ok_or_else(unknown)?;
    match (&client.secret_hash, secret) {
        (Some(stored), Some(given)) if p.keyed.verify_client_secret(&given, stored) => Ok(client),
        (None, None) if client.public => Ok(client),
        _ => Err(unknown()),
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): left half of the SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let d = digest(&SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
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
    let client = match authenticate_client(p, params, authorization).await {
        Ok(c) => c,
        Err(e) => {
            if e.code() == ErrorCode::InvalidClient {
                let id = params.get("client_id");
                p.audit(
                    now,
                    "client.auth_failed",
                    None,
                    id,
                    meta,
                    Outcome::Failure,
                    json!({ "grant_type": grant_type }),
                )
                .await?;
            }
            return Err(e);
        }
    };
    match grant_type {
        "authorization_code" => authorization_code(p, &client, params, meta, now).await,
        _ => Err(err(
            ErrorCode::UnsupportedGrantType,
            "supported grant_type: authorization_code",
        )),
    }
}

async fn authorization_code(
    p: &Provider,
    client: &Client,
    params: &Params,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "code is missing"))?;
    let invalid = || {
        err(
            ErrorCode::InvalidGrant,
            "the authorization code is invalid, expired or already used",
        )
    };
    let rec = match p
        .store
        .redeem_code(&sha256_hex(code.as_bytes()), now)
        .await?
    {
        Redeem::Fresh(rec) => rec,
        Redeem::Unknown => return Err(invalid()),
        Redeem::Replayed(rec) => {
            // RFC 6749 §4.1.2: a code used twice revokes what it already produced.
            let revoked = p.store.revoke_tokens_of_code(&rec.id, now).await?;
            p.audit(
                now,
                "code.replayed",
                Some(&rec.user_id),
                Some(&client.id),
                meta,
                Outcome::Failure,
                json!({ "revoked_tokens": revoked }),
            )
            .await?;
            return Err(invalid());
        }
    };
    let refuse = |why: &'static str| {
        let user_id = rec.user_id.clone();
        async move {
            p.audit(
                now,
                "token.refused",
                Some(&user_id),
                Some(&client.id),
                meta,
                Outcome::Failure,
                json!({ "reason": why }),
            )
            .await?;
            Err::<TokenResponse, OAuthError>(invalid())
        }
    };
    if rec.client_id != client.id {
        return refuse("code issued to another client").await;
    }
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
    let Some(user) = p.store.user_by_id(&rec.user_id).await? else {
        return refuse("user no longer exists").await;
    };
    if user.status != UserStatus::Active {
        return refuse("user is disabled").await;
    }
    let Some(session) = p.store.live_session(&rec.session_id, now).await? else {
        return refuse("the session has ended").await;
    };
    let response = issue_tokens(p, client, &rec, &user, &session.sid, now).await?;
    p.audit(
        now,
        "token.issued",
        Some(&user.id),
        Some(&client.id),
        meta,
        Outcome::Success,
        json!({ "grant_type": "authorization_code", "scope": rec.scope }),
    )
    .await?;
    Ok(response)
}

async fn issue_tokens(
    p: &Provider,
    client: &Client,
    rec: &AuthCodeRecord,
    user: &tessera_store::users::User,
    sid: &str,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let alg = KeyAlgorithm::from_jws_name(&client.token_alg).unwrap_or(KeyAlgorithm::Es256);
    let jti = random_id()?;
    let access_claims = json!({
        "iss": p.config.issuer, "sub": user.id, "aud": client.id, "client_id": client.id,
        "exp": now + p.config.access_token_ttl, "iat": now, "jti": jti,
        "scope": rec.scope, "sid": sid, "auth_time": rec.auth_time, "acr": rec.acr,
    });
    // RFC 9068 §2.1: typ at+jwt keeps an access token from passing as an ID token.
    let access_token = p.signer.sign(alg, "at+jwt", &access_claims).await?;
    p.store
        .insert_token(&TokenRecord {
            jti,
            kind: "access".into(),
            client_id: client.id.clone(),
            user_id: Some(user.id.clone()),
            session_id: Some(rec.session_id.clone()),
            code_id: Some(rec.id.clone()),
            scope: rec.scope.clone(),
            issued_at: now,
            expires_at: now + p.config.access_token_ttl,
            revoked_at: None,
        })
        .await?;

    let scopes: Vec<&str> = rec.scope.split(' ').collect();
    let mut id_claims = claims::for_scopes(&p.store, user, &scopes)
        .await
        .map_err(OAuthError::Internal)?;
    let standard = json!({
        "iss": p.config.issuer, "aud": client.id, "exp": now + p.config.id_token_ttl, "iat": now,
        "auth_time": rec.auth_time, "sid": sid, "at_hash": at_hash(&access_token),
        "acr": rec.acr, "amr": rec.amr,
    });
    if let Value::Object(std_claims) = standard {
        id_claims.extend(std_claims);
    }
    if let Some(nonce) = &rec.nonce {
        id_claims.insert("nonce".into(), nonce.clone().into());
    }
    let id_token = p.signer.sign(alg, "JWT", &Value::Object(id_claims)).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: p.config.access_token_ttl.max(0) as u64,
        id_token: Some(id_token),
        refresh_token: None,
        scope: rec.scope.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("so%3Anoi+vu:p%40ss+word"));
        let (id, secret) = parse_basic(&h).unwrap_or_default();
        assert_eq!(id, "so:noi vu");
        assert_eq!(secret, "p@ss word");
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic !!!").is_err());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("nocolon"))).is_err());
    }

    #[test]
    fn at_hash_matches_oidc_example() {
        // OIDC Core Appendix A.3 example access token and at_hash (RS256 / SHA-256).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
