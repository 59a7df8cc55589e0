//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (RFC 7523 §2.2, §3) and `none` for public clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tessera_proto::ErrorCode;
use tessera_store::clients::Client;

use crate::jose::Compact;
use crate::params::Params;
use crate::{OAuthError, Provider};

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest lifetime accepted for a client assertion; bounds how long its `jti` is remembered.
pub const MAX_ASSERTION_LIFETIME: i64 = 600;
/// Clock skew tolerated on `iat` and `nbf`.
const SKEW: i64 = 60;

fn err(code: ErrorCode, d: &str) -> OAuthError {
    OAuthError::new(code, d)
}

fn failed() -> OAuthError {
    err(ErrorCode::InvalidClient, "client authentication failed")
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded).
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
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
    let (id, secret) = (decode(id), decode(secret));
    // Same rule as for form parameters: no control characters reach the store.
    if id.chars().chain(secret.chars()).any(char::is_control) {
        return Err(bad());
    }
    Ok((id, secret))
}

enum Presented {
    Secret(String, String),
    Assertion(String),
    None(String),
}

/// Which single method the request uses; more than one is an error (RFC 6749 §2.3).
fn presented(params: &Params, authorization: Option<&str>) -> Result<Presented, OAuthError> {
    let assertion = params.get("client_assertion");
    let methods = [
        authorization.is_some(),
        params.get("client_secret").is_some(),
        assertion.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(err(
            ErrorCode::InvalidRequest,
            "use one client authentication method only",
        ));
    }
    let body_id = params.get("client_id");
    if let Some(h) = authorization {
        let (id, secret) = parse_basic(h)?;
        if body_id.is_some_and(|b| b != id) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "client_id does not match the Authorization header",
            ));
        }
        return Ok(Presented::Secret(id, secret));
    }
    if let Some(jwt) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "client_assertion_type must be jwt-bearer",
            ));
        }
        return Ok(Presented::Assertion(jwt.to_owned()));
    }
    let id = body_id.ok_or_else(|| {
        err(
            ErrorCode::InvalidClient,
            "client authentication is required",
        )
    })?;
    Ok(match params.get("client_secret") {
        Some(secret) => Presented::Secret(id.to_owned(), secret.to_owned()),
        None => Presented::None(id.to_owned()),
    })
}

/// Authenticates the client by exactly one method, the one it registered.
pub async fn authenticate_client(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    now: i64,
) -> Result<Client, OAuthError> {
    match presented(params, authorization)? {
        Presented::Secret(id, secret) => {
            let client = p.store.client(&id).await?.ok_or_else(failed)?;
            match &client.secret_hash {
                Some(stored)
                    if client.auth_method.starts_with("client_secret")
                        && p.keyed.verify_client_secret(&secret, stored) =>
                {
                    Ok(client)
                }
                _ => Err(failed()),
            }
        }
        Presented::None(id) => {
            let client = p.store.client(&id).await?.ok_or_else(failed)?;
            if client.public {
                Ok(client)
            } else {
                Err(failed())
            }
        }
        Presented::Assertion(jwt) => private_key_jwt(p, params, &jwt, now).await,
    }
}

/// RFC 7523 §3 and OIDC Core §9 checks of a client assertion.
async fn private_key_jwt(
    p: &Provider,
    params: &Params,
    jwt: &str,
    now: i64,
) -> Result<Client, OAuthError> {
    let jws = Compact::parse(jwt).ok_or_else(failed)?;
    let c = &jws.claims;
    let (Some(iss), Some(sub)) = (c["iss"].as_str(), c["sub"].as_str()) else {
        return Err(failed());
    };
    if iss != sub
        || iss.chars().any(char::is_control)
        || params.get("client_id").is_some_and(|id| id != iss)
    {
        return Err(failed());
    }
    let client = p.store.client(iss).await?.ok_or_else(failed)?;
    if client.auth_method != "private_key_jwt" {
        return Err(failed());
    }
    let audiences: Vec<&str> = match &c["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let accepted = [
        p.config.issuer.clone(),
        p.config.endpoint("/token"),
        p.config.endpoint("/introspect"),
        p.config.endpoint("/revoke"),
    ];
    if !audiences.iter().any(|a| accepted.iter().any(|x| x == a)) {
        return Err(failed());
    }
    let Some(exp) = c["exp"].as_i64() else {
        return Err(failed());
    };
    if exp <= now || exp > now + MAX_ASSERTION_LIFETIME {
        return Err(failed());
    }
    if c["iat"].as_i64().is_some_and(|iat| iat > now + SKEW)
        || c["nbf"].as_i64().is_some_and(|nbf| nbf > now + SKEW)
    {
        return Err(failed());
    }
    let Some(jti) = c["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
    else {
        return Err(failed());
    };
    let kid = jws.header["kid"].as_str();
    let keys = client_keys(p, &client, kid).await?;
    let verified = keys
        .iter()
        .filter(|k| kid.is_none() || k["kid"].as_str() == kid)
        .any(|k| jws.verify_with(k));
    if !verified {
        return Err(failed());
    }
    // Only a verified assertion may occupy the replay store.
    if !p.store.remember_assertion_jti(&client.id, jti, exp).await? {
        return Err(err(ErrorCode::InvalidClient, "client assertion replayed"));
    }
    Ok(client)
}

/// How long a fetched client JWKS is reused, and how often at most it is re-fetched early
/// because an assertion names a key not in it (the client rotated). Anyone can send an
/// assertion, so fetching on every request would let them aim our traffic at the client.
const JWKS_TTL: Duration = Duration::from_secs(300);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);

/// The client's registered keys: inline JWKS, or fetched from its JWKS URI through the guarded
/// outbound transport. `kid` is the key the assertion names, to re-fetch early when unknown.
async fn client_keys(
    p: &Provider,
    client: &Client,
    kid: Option<&str>,
) -> Result<Arc<Vec<Value>>, OAuthError> {
    let keys_of = |doc: &Value| Arc::new(doc["keys"].as_array().cloned().unwrap_or_default());
    let uri = match (&client.jwks, &client.jwks_uri) {
        (Some(inline), _) => {
            let doc = serde_json::from_str::<Value>(inline).map_err(|_| failed())?;
            return Ok(keys_of(&doc));
        }
        (None, Some(uri)) => uri,
        (None, None) => return Err(failed()),
    };
    if let Ok(cache) = p.jwks_cache.lock()
        && let Some((at, keys)) = cache.get(uri)
    {
        let knows_kid = kid.is_none_or(|k| keys.iter().any(|key| key["kid"].as_str() == Some(k)));
        if at.elapsed() < JWKS_MIN_REFETCH || (at.elapsed() < JWKS_TTL && knows_kid) {
            return Ok(keys.clone());
        }
    }
    match p.outbound.get_json(uri).await {
        Ok(doc) => {
            let keys = keys_of(&doc);
            if let Ok(mut cache) = p.jwks_cache.lock() {
                cache.insert(uri.clone(), (Instant::now(), keys.clone()));
            }
            Ok(keys)
        }
        Err(e) => {
            tracing::warn!(client = %client.id, error = %e, "cannot fetch client JWKS");
            Err(failed())
        }
    }
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
}
