//! Minting of access tokens, ID tokens and refresh tokens, shared by every grant.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use serde_json::{Value, json};
use tessera_hsm::KeyAlgorithm;
use tessera_proto::TokenResponse;
use tessera_store::clients::Client;
use tessera_store::codes::TokenRecord;
use tessera_store::group_commit::Writes;
use tessera_store::refresh::{RefreshFamily, RefreshTokenRecord};
use tessera_store::users::User;

use super::claims;
use crate::secrets::{random_id, random_token, sha256_hex};
use crate::{CoreError, OAuthError, Provider};

/// `at_hash` (OIDC Core §3.1.3.6): left half of the SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let d = digest(&SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

pub fn client_alg(client: &Client) -> KeyAlgorithm {
    KeyAlgorithm::from_jws_name(&client.token_alg).unwrap_or(KeyAlgorithm::Es256)
}

/// How the end user authenticated, as carried into tokens.
#[derive(Clone, Copy, Debug)]
pub struct Authn<'a> {
    pub user: &'a User,
    pub session_id: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub auth_time: i64,
    pub acr: &'a str,
    pub amr: &'a [String],
}

/// What an access token is for.
#[derive(Clone, Copy, Debug)]
pub struct AccessGrant<'a> {
    pub client: &'a Client,
    /// `None` for a client acting on its own behalf (client credentials): `sub` is the client.
    pub authn: Option<Authn<'a>>,
    pub scope: &'a str,
    pub code_id: Option<&'a str>,
    pub family_id: Option<&'a str>,
}

/// A JWT access token (RFC 9068) and the record that lets it be revoked; the caller writes the
/// record with its audit entry ([`Provider::commit`]).
pub async fn access_token(
    p: &Provider,
    g: &AccessGrant<'_>,
    now: i64,
) -> Result<(String, TokenRecord), CoreError> {
    let jti = random_id()?;
    let exp = now + p.config.access_token_ttl;
    let mut claims = json!({
        "iss": p.config.issuer, "aud": g.client.id, "client_id": g.client.id,
        "exp": exp, "iat": now, "jti": jti, "scope": g.scope,
    });
    match &g.authn {
        Some(a) => {
            claims["sub"] = a.user.id.clone().into();
            claims["auth_time"] = a.auth_time.into();
            claims["acr"] = a.acr.into();
            if let Some(sid) = a.sid {
                claims["sid"] = sid.into();
            }
        }
        None => claims["sub"] = g.client.id.clone().into(),
    }
    // RFC 9068 §2.1: typ at+jwt keeps an access token from passing as an ID token.
    let token = p
        .signer
        .sign(client_alg(g.client), "at+jwt", &claims)
        .await?;
    let record = TokenRecord {
        jti,
        kind: "access".into(),
        client_id: g.client.id.clone(),
        user_id: g.authn.map(|a| a.user.id.clone()),
        session_id: g.authn.and_then(|a| a.session_id.map(str::to_owned)),
        code_id: g.code_id.map(str::to_owned),
        family_id: g.family_id.map(str::to_owned),
        scope: g.scope.to_owned(),
        issued_at: now,
        expires_at: exp,
        revoked_at: None,
    };
    Ok((token, record))
}

/// An access token recorded at once, outside any grant (tests).
#[cfg(test)]
pub async fn recorded_access_token(
    p: &Provider,
    g: &AccessGrant<'_>,
    now: i64,
) -> Result<String, CoreError> {
    let (token, record) = access_token(p, g, now).await?;
    p.store.insert_token(&record).await?;
    Ok(token)
}

/// An ID token (OIDC Core §2) with the claims the scopes allow.
pub async fn id_token(
    p: &Provider,
    client: &Client,
    authn: &Authn<'_>,
    scope: &str,
    nonce: Option<&str>,
    access_token: &str,
    now: i64,
) -> Result<String, CoreError> {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let mut c = claims::for_scopes(&p.store, authn.user, &scopes).await?;
    let standard = json!({
        "iss": p.config.issuer, "aud": client.id, "exp": now + p.config.id_token_ttl, "iat": now,
        "auth_time": authn.auth_time, "at_hash": at_hash(access_token),
        "acr": authn.acr, "amr": authn.amr,
    });
    if let Value::Object(std_claims) = standard {
        c.extend(std_claims);
    }
    if let Some(sid) = authn.sid {
        c.insert("sid".into(), sid.into());
    }
    if let Some(nonce) = nonce {
        c.insert("nonce".into(), nonce.into());
    }
    p.signer
        .sign(client_alg(client), "JWT", &Value::Object(c))
        .await
}

/// The token response (RFC 6749 §5.1) every grant returns.
pub fn bearer(
    p: &Provider,
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
    scope: String,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: p.config.access_token_ttl.max(0) as u64,
        id_token,
        refresh_token,
        scope,
    }
}

/// Idle and absolute refresh lifetimes for a client (its own, or the server's).
pub fn refresh_ttls(p: &Provider, client: &Client) -> (i64, i64) {
    (
        client.refresh_idle_ttl.unwrap_or(p.config.refresh_idle_ttl),
        client
            .refresh_absolute_ttl
            .unwrap_or(p.config.refresh_absolute_ttl),
    )
}

/// A new refresh family and its first token, to be written with the grant's audit entry.
pub fn start_refresh_family(
    p: &Provider,
    client: &Client,
    authn: &Authn<'_>,
    scope: &str,
    now: i64,
) -> Result<(RefreshFamily, RefreshTokenRecord, String), CoreError> {
    let offline = scope.split(' ').any(|s| s == "offline_access");
    let (_, absolute) = refresh_ttls(p, client);
    let family = RefreshFamily {
        id: random_id()?,
        client_id: client.id.clone(),
        user_id: authn.user.id.clone(),
        session_id: authn.session_id.map(str::to_owned),
        scope: scope.to_owned(),
        auth_time: authn.auth_time,
        acr: authn.acr.to_owned(),
        amr: authn.amr.to_vec(),
        offline,
        created_at: now,
        absolute_expires_at: now + absolute,
        revoked_at: None,
        revoke_reason: None,
    };
    let (record, token) = next_refresh_token(p, client, &family, now)?;
    Ok((family, record, token))
}

/// A new refresh token in `family` (its record, to be written, and the token); idle expiry
/// never passes the family's absolute expiry.
pub fn next_refresh_token(
    p: &Provider,
    client: &Client,
    family: &RefreshFamily,
    now: i64,
) -> Result<(RefreshTokenRecord, String), CoreError> {
    let (idle, _) = refresh_ttls(p, client);
    let token = random_token()?;
    let record = RefreshTokenRecord {
        id: sha256_hex(token.as_bytes()),
        family_id: family.id.clone(),
        issued_at: now,
        expires_at: (now + idle).min(family.absolute_expires_at),
        used_at: None,
    };
    Ok((record, token))
}

/// What a person granted, about to become tokens: by a redeemed code or an approved device.
pub struct Granted<'a> {
    pub authn: Authn<'a>,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub code_id: Option<&'a str>,
}

/// The tokens of a grant a person made, and the records to write with its audit entry.
pub async fn issue_granted(
    p: &Provider,
    client: &Client,
    g: &Granted<'_>,
    now: i64,
) -> Result<(TokenResponse, Writes), OAuthError> {
    let authn = g.authn;
    // Refresh tokens by client policy (its registered grant types); `offline_access` makes
    // the family outlive the browser session. Administration rights are approved for one
    // sign-in: no refresh token, so a new token means a new consent at a recent level 2.
    let administers = g
        .scope
        .split(' ')
        .any(|s| s == crate::admin_api::ADMIN_SCOPE);
    let mut writes = Writes::default();
    let mut refresh_token = None;
    if client.grant_types.iter().any(|g| g == "refresh_token") && !administers {
        let (family, first, token) = start_refresh_family(p, client, &authn, g.scope, now)?;
        writes.families.push(family);
        writes.refresh_tokens.push(first);
        refresh_token = Some(token);
    }
    let grant = AccessGrant {
        client,
        authn: Some(authn),
        scope: g.scope,
        code_id: g.code_id,
        family_id: writes.families.first().map(|f| f.id.as_str()),
    };
    let (access_token, record) = access_token(p, &grant, now).await?;
    writes.tokens.push(record);
    // Without `openid` (a device asking for API scopes only) there is no ID token.
    let id_token = if g.scope.split(' ').any(|s| s == "openid") {
        Some(id_token(p, client, &authn, g.scope, g.nonce, &access_token, now).await?)
    } else {
        None
    };
    let response = bearer(p, access_token, id_token, refresh_token, g.scope.to_owned());
    Ok((response, writes))
}
