//! Validation of logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6), signature
//! through the provider JWKS. Replay (`jti`) is checked by [`crate::BackchannelLogout`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeySet};
use serde_json::Value;

use super::RelyingParty;
use crate::backchannel::{BACKCHANNEL_LOGOUT_EVENT, LogoutEvent};
use crate::error::{SdkError, chain};

/// Clock difference tolerated between provider and application, in seconds.
pub(crate) const LEEWAY_SECS: i64 = 60;

fn invalid(msg: impl Into<String>) -> SdkError {
    SdkError::LogoutToken(msg.into())
}

fn decode_json(part: &str) -> Result<Value, SdkError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid("not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("not JSON"))
}

enum Signature {
    Valid,
    UnknownKey,
}

impl RelyingParty {
    /// Checks a logout token at `now` (Unix seconds): signature with an asymmetric algorithm
    /// the provider announces, `typ` if present, `iss`, `aud`, `iat`, `exp`, the
    /// back-channel `events` member, `sub` or `sid`, `jti`, and no `nonce` (§2.6 steps 2–5).
    pub async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutEvent, SdkError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("not a compact JWS"));
        };
        let header = decode_json(h)?;
        // §2.4: explicitly typed; a token typed as anything else is not a logout token.
        if let Some(typ) = header.get("typ") {
            let typ = typ.as_str().unwrap_or("").to_ascii_lowercase();
            if typ != "logout+jwt" && typ != "application/logout+jwt" {
                return Err(invalid(format!("typ is {typ:?}, not logout+jwt")));
            }
        }
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(header["alg"].clone()).map_err(|_| invalid("unknown alg"))?;
        let symmetric = matches!(
            alg,
            CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512
                | CoreJwsSigningAlgorithm::None
        );
        let announced = self
            .metadata
            .id_token_signing_alg_values_supported()
            .contains(&alg);
        if symmetric || !announced {
            return Err(invalid(format!("alg {} is not accepted", header["alg"])));
        }
        let kid = header["kid"].as_str();
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| invalid("signature is not base64url"))?;
        let input = &token[..h.len() + 1 + p.len()];
        if let Signature::UnknownKey = self.check_signature(kid, &alg, input, &signature)? {
            // Key rotation at the provider: fetch the JWKS once more.
            let fresh = JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), &self.http)
                .await
                .map_err(|e| {
                    invalid(format!(
                        "unknown signing key; JWKS refetch failed: {}",
                        chain(&e)
                    ))
                })?;
            self.store_jwks(fresh);
            if let Signature::UnknownKey = self.check_signature(kid, &alg, input, &signature)? {
                return Err(invalid("no provider key matches the signature"));
            }
        }
        self.check_claims(&decode_json(p)?, now)
    }

    fn check_signature(
        &self,
        kid: Option<&str>,
        alg: &CoreJwsSigningAlgorithm,
        input: &str,
        signature: &[u8],
    ) -> Result<Signature, SdkError> {
        let jwks = self.current_jwks();
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
        if candidates
            .iter()
            .any(|k| k.verify_signature(alg, input.as_bytes(), signature).is_ok())
        {
            Ok(Signature::Valid)
        } else {
            Err(invalid("bad signature"))
        }
    }

    fn check_claims(&self, c: &Value, now: i64) -> Result<LogoutEvent, SdkError> {
        if c["iss"].as_str() != Some(self.issuer()) {
            return Err(invalid("iss is not the provider"));
        }
        let for_us = match &c["aud"] {
            Value::String(a) => a == self.client_id(),
            Value::Array(list) => list.iter().any(|a| a.as_str() == Some(self.client_id())),
            _ => false,
        };
        if !for_us {
            return Err(invalid("aud is not this client"));
        }
        let (Some(iat), Some(exp)) = (c["iat"].as_i64(), c["exp"].as_i64()) else {
            return Err(invalid("iat and exp are required"));
        };
        if iat > now + LEEWAY_SECS {
            return Err(invalid("iat is in the future"));
        }
        if exp + LEEWAY_SECS <= now {
            return Err(invalid("the token has expired"));
        }
        // §2.4: the member must be present and its value a JSON object.
        if !c["events"][BACKCHANNEL_LOGOUT_EVENT].is_object() {
            return Err(invalid("events lacks the back-channel logout event"));
        }
        // §2.4: a nonce is forbidden, so that an ID token cannot be passed off as one.
        if c.get("nonce").is_some() {
            return Err(invalid("a logout token must not contain a nonce"));
        }
        let sub = c["sub"].as_str().map(str::to_owned);
        let sid = c["sid"].as_str().map(str::to_owned);
        if sub.is_none() && sid.is_none() {
            return Err(invalid("neither sub nor sid"));
        }
        let jti = c["jti"]
            .as_str()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| invalid("jti is required"))?
            .to_owned();
        Ok(LogoutEvent {
            sub,
            sid,
            jti,
            issued_at: iat,
            expires_at: exp,
        })
    }
}
