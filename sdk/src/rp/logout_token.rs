//! Validation of logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6), signature
//! through the provider JWKS. Replay (`jti`) is checked by [`crate::BackchannelLogout`].

use openidconnect::JsonWebKeySet;
use serde_json::Value;

use super::RelyingParty;
use crate::backchannel::{BACKCHANNEL_LOGOUT_EVENT, LogoutEvent};
use crate::error::{SdkError, chain};
use crate::jws::{self, Signature};

/// Clock difference tolerated between provider and application, in seconds.
pub(crate) const LEEWAY_SECS: i64 = 60;

fn invalid(msg: String) -> SdkError {
    SdkError::LogoutToken(msg)
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
        let jws = jws::parse(
            token,
            self.metadata.id_token_signing_alg_values_supported(),
            invalid,
        )?;
        // §2.4: explicitly typed; a token typed as anything else is not a logout token.
        if let Some(typ) = jws::typ(&jws)
            && typ != "logout+jwt"
        {
            return Err(invalid(format!("typ is {typ:?}, not logout+jwt")));
        }
        if let Signature::UnknownKey = jws::check_signature(&self.current_jwks(), &jws, invalid)? {
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
            if let Signature::UnknownKey =
                jws::check_signature(&self.current_jwks(), &jws, invalid)?
            {
                return Err(invalid("no provider key matches the signature".into()));
            }
        }
        self.check_claims(&jws.claims, now)
    }

    fn check_claims(&self, c: &Value, now: i64) -> Result<LogoutEvent, SdkError> {
        if c["iss"].as_str() != Some(self.issuer()) {
            return Err(invalid("iss is not the provider".into()));
        }
        if !jws::audience_is(c, self.client_id()) {
            return Err(invalid("aud is not this client".into()));
        }
        let (Some(iat), Some(exp)) = (c["iat"].as_i64(), c["exp"].as_i64()) else {
            return Err(invalid("iat and exp are required".into()));
        };
        if iat > now + LEEWAY_SECS {
            return Err(invalid("iat is in the future".into()));
        }
        if exp + LEEWAY_SECS <= now {
            return Err(invalid("the token has expired".into()));
        }
        // §2.4: the member must be present and its value a JSON object.
        if !c["events"][BACKCHANNEL_LOGOUT_EVENT].is_object() {
            return Err(invalid("events lacks the back-channel logout event".into()));
        }
        // §2.4: a nonce is forbidden, so that an ID token cannot be passed off as one.
        if c.get("nonce").is_some() {
            return Err(invalid("a logout token must not contain a nonce".into()));
        }
        let sub = c["sub"].as_str().map(str::to_owned);
        let sid = c["sid"].as_str().map(str::to_owned);
        if sub.is_none() && sid.is_none() {
            return Err(invalid("neither sub nor sid".into()));
        }
        let jti = c["jti"]
            .as_str()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| invalid("jti is required".into()))?
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
