//! Refresh grant (RFC 6749 §6) with rotation, as Tessera issues it.

use openidconnect::core::CoreTokenType;
use openidconnect::{OAuth2TokenResponse, RefreshToken, TokenResponse};

use super::RelyingParty;
use super::exchange::token_error;
use crate::error::{SdkError, chain};
use crate::{IdentityClaims, Refreshed};

impl RelyingParty {
    /// Exchanges a refresh token for new tokens. Tessera rotates refresh tokens: the old one
    /// is spent, so the application must store [`Refreshed::refresh_token`] in its place.
    /// Presenting a spent token again makes the provider revoke the whole chain (RFC 9700
    /// §4.14.2), which ends the login for the application too.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Refreshed, SdkError> {
        let token = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .map_err(|e| SdkError::Config(chain(&e)))?
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        if *token.token_type() != CoreTokenType::Bearer {
            return Err(SdkError::Protocol(format!(
                "token_type is `{}`, expected `Bearer`",
                token.token_type().as_ref()
            )));
        }
        let claims: Option<IdentityClaims> = match token.id_token() {
            Some(id) => Some(self.verify_id_token(id, None, token.access_token()).await?),
            None => None,
        };
        Ok(Refreshed {
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            id_token: token.id_token().map(|t| t.to_string()),
            expires_in: token.expires_in(),
            claims,
        })
    }
}
