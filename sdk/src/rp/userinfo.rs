//! UserInfo endpoint (OIDC Core §5.3).

use openidconnect::{AccessToken, SubjectIdentifier, UserInfoError};
use serde_json::{Map, Value};

use super::RelyingParty;
use crate::error::{SdkError, body_preview, chain};
use crate::types::UserInfoClaimsT;

impl RelyingParty {
    /// Calls the UserInfo endpoint with `Authorization: Bearer` (OIDC Core §5.3.1,
    /// RFC 6750 §2.1) and returns every claim as JSON (§5.3.2). A signed (`application/jwt`)
    /// response is verified against the provider JWKS first.
    ///
    /// The caller should check that `sub` equals the ID token's (§5.3.2); see
    /// [`userinfo_for_subject`](Self::userinfo_for_subject), which does it.
    pub async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, SdkError> {
        self.fetch_userinfo(access_token, None).await
    }

    /// Like [`userinfo`](Self::userinfo), but refuses a response whose `sub` is not
    /// `expected_subject` (OIDC Core §5.3.2, token substitution).
    pub async fn userinfo_for_subject(
        &self,
        access_token: &str,
        expected_subject: &str,
    ) -> Result<Map<String, Value>, SdkError> {
        self.fetch_userinfo(access_token, Some(expected_subject))
            .await
    }

    async fn fetch_userinfo(
        &self,
        access_token: &str,
        expected_subject: Option<&str>,
    ) -> Result<Map<String, Value>, SdkError> {
        let claims: UserInfoClaimsT = self
            .client
            .user_info(
                AccessToken::new(access_token.to_owned()),
                expected_subject.map(|s| SubjectIdentifier::new(s.to_owned())),
            )
            .map_err(|_| SdkError::Config("the provider has no userinfo_endpoint".into()))?
            .request_async(&self.http)
            .await
            .map_err(userinfo_error)?;
        // Standard claims are parsed (and type-checked) by openidconnect; the rest is kept
        // verbatim. Serializing puts both back into one JSON object.
        match serde_json::to_value(&claims) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(SdkError::UserInfo("claims are not a JSON object".into())),
            Err(e) => Err(SdkError::UserInfo(chain(&e))),
        }
    }
}

fn userinfo_error<RE>(err: UserInfoError<RE>) -> SdkError
where
    RE: std::error::Error + 'static,
{
    match err {
        UserInfoError::Request(e) => SdkError::Http(chain(&e)),
        UserInfoError::Response(status, body, message) => SdkError::UserInfo(format!(
            "HTTP {status}: {message}; body: {}",
            body_preview(&body)
        )),
        other => SdkError::UserInfo(chain(&other)),
    }
}
