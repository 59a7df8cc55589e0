//! Compact JWS signed by the provider (RFC 7515 §7.1), checked against its JWKS: the part
//! shared by logout tokens and signing-request webhooks. Each caller names its error
//! variant and the claims it requires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKeySet, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use serde_json::Value;

use crate::error::SdkError;

/// A decoded, not yet verified, compact JWS.
pub(crate) struct Compact<'a> {
    pub header: Value,
    pub claims: Value,
    pub alg: CoreJwsSigningAlgorithm,
    /// `header.payload`, what the signature covers.
    pub input: &'a str,
    pub signature: Vec<u8>,
}

impl Compact<'_> {
    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }
}

pub(crate) enum Signature {
    Valid,
    /// No key of the set has that `kid`: the provider may have rotated its keys.
    UnknownKey,
}

fn decode_json(part: &str, invalid: fn(String) -> SdkError) -> Result<Value, SdkError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid("not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("not JSON".into()))
}

/// Splits and decodes `token`, refusing symmetric algorithms, `none` and any algorithm the
/// provider does not announce (RFC 8725 §3.1).
pub(crate) fn parse<'a>(
    token: &'a str,
    announced: &[CoreJwsSigningAlgorithm],
    invalid: fn(String) -> SdkError,
) -> Result<Compact<'a>, SdkError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a compact JWS".into()));
    };
    let header = decode_json(h, invalid)?;
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).map_err(|_| invalid("unknown alg".into()))?;
    let symmetric = matches!(
        alg,
        CoreJwsSigningAlgorithm::HmacSha256
            | CoreJwsSigningAlgorithm::HmacSha384
            | CoreJwsSigningAlgorithm::HmacSha512
            | CoreJwsSigningAlgorithm::None
    );
    if symmetric || !announced.contains(&alg) {
        return Err(invalid(format!("alg {} is not accepted", header["alg"])));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("signature is not base64url".into()))?;
    Ok(Compact {
        claims: decode_json(p, invalid)?,
        header,
        alg,
        input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

/// The JOSE `typ` of `jws`, lower-cased, without an `application/` prefix (RFC 7515 §4.1.9).
pub(crate) fn typ(jws: &Compact<'_>) -> Option<String> {
    jws.header.get("typ").map(|t| {
        let t = t.as_str().unwrap_or("").to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(t)
    })
}

/// Checks the signature with the keys of `jwks` that have the token's `kid`.
pub(crate) fn check_signature(
    jwks: &CoreJsonWebKeySet,
    jws: &Compact<'_>,
    invalid: fn(String) -> SdkError,
) -> Result<Signature, SdkError> {
    let kid = jws.kid();
    let candidates: Vec<_> = jwks
        .keys()
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.key_id().is_some_and(|id| id.as_str() == kid)))
        .filter(|k| {
            k.key_use()
                .is_none_or(|u| *u == CoreJsonWebKeyUse::Signature)
        })
        .collect();
    if candidates.is_empty() {
        return Ok(Signature::UnknownKey);
    }
    if candidates.iter().any(|k| {
        k.verify_signature(&jws.alg, jws.input.as_bytes(), &jws.signature)
            .is_ok()
    }) {
        Ok(Signature::Valid)
    } else {
        Err(invalid("bad signature".into()))
    }
}

/// Whether `aud` (a string or an array, RFC 7519 §4.1.3) names `client_id`.
pub(crate) fn audience_is(claims: &Value, client_id: &str) -> bool {
    match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(list) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}
