//! The relying party: discovery and the authentication request.

mod exchange;
mod logout;
mod logout_token;
mod refresh;
#[cfg(test)]
pub(crate) mod tests;
mod userinfo;

use std::sync::{PoisonError, RwLock};

use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreJsonWebKeySet};
use openidconnect::{
    AuthType, AuthenticationContextClass, ClientId, ClientSecret, CsrfToken, DiscoveryError,
    IssuerUrl, LoginHint, Nonce, PkceCodeChallenge, ProviderMetadataWithLogout, RedirectUrl, Scope,
    reqwest,
};

use crate::error::{SdkError, body_preview, chain};
use crate::transport::{check_secure, http_client_trusting};
use crate::types::ClientT;
use crate::{AuthOptions, PendingLogin, RpConfig};

pub(crate) use logout_token::LEEWAY_SECS;

/// Random bytes in `state` and `nonce` (256 bits; RFC 6749 §10.10 asks for ≥ 128).
const RANDOM_BYTES: u32 = 32;

/// An OpenID Connect relying party bound to one provider and one client registration.
///
/// Cheap to share: wrap it in an `Arc` and use it from many tasks. Requires a Tokio
/// runtime (the HTTP client is `reqwest`).
pub struct RelyingParty {
    metadata: ProviderMetadataWithLogout,
    client: ClientT,
    http: reqwest::Client,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    /// Keys for ID token signatures; refreshed once when a token names an unknown key
    /// (provider key rotation, OIDC Core §10.1.1).
    jwks: RwLock<CoreJsonWebKeySet>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.issuer())
            .field("client_id", &self.client_id.as_str())
            .field("confidential", &self.client_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// OpenID Connect Discovery 1.0 (§4) against `{issuer}/.well-known/openid-configuration`,
    /// checking that the returned `issuer` is exactly `config.issuer` (§4.3), then fetches
    /// the JWKS from `jwks_uri`.
    ///
    /// The issuer and every discovered endpoint must be `https`, or plain `http` on a
    /// loopback host.
    pub async fn discover(config: RpConfig) -> Result<Self, SdkError> {
        Self::discover_trusting(config, &[]).await
    }

    /// [`RelyingParty::discover`] when the provider's TLS certificate comes from a private
    /// certificate authority (a province's own CA, not one of the public web's): every request
    /// of this relying party also trusts the CA certificates in `roots_pem` (PEM).
    pub async fn discover_trusting(config: RpConfig, roots_pem: &[u8]) -> Result<Self, SdkError> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| SdkError::Config(format!("issuer `{}`: {e}", config.issuer)))?;
        check_secure(issuer.url(), "issuer").map_err(SdkError::Config)?;
        validate_client(&config)?;
        let http = http_client_trusting(roots_pem)?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
            .await
            .map_err(discovery_error)?;
        Self::from_metadata(config, metadata, http)
    }

    /// Builds the relying party from provider metadata that already holds its JWKS.
    pub(crate) fn from_metadata(
        config: RpConfig,
        metadata: ProviderMetadataWithLogout,
        http: reqwest::Client,
    ) -> Result<Self, SdkError> {
        validate_client(&config)?;
        validate_metadata(&metadata).map_err(SdkError::Discovery)?;
        let redirect = RedirectUrl::new(config.redirect_uri.clone()).map_err(|e| {
            SdkError::Config(format!("redirect_uri `{}`: {e}", config.redirect_uri))
        })?;
        let client_id = ClientId::new(config.client_id);
        let client_secret = config.client_secret.map(ClientSecret::new);
        let client = ClientT::from_provider_metadata(
            metadata.clone(),
            client_id.clone(),
            client_secret.clone(),
        )
        .set_redirect_uri(redirect)
        // client_secret_basic (OIDC Core §9); without a secret, oauth2 sends `client_id`
        // in the body instead, as a public client (RFC 6749 §2.3.1, RFC 7636).
        .set_auth_type(AuthType::BasicAuth);
        let jwks = RwLock::new(metadata.jwks().clone());
        Ok(Self {
            metadata,
            client,
            http,
            client_id,
            client_secret,
            jwks,
        })
    }

    /// Builds the authentication request URL for the authorization code flow
    /// (OIDC Core §3.1.2.1) with PKCE S256 (RFC 7636 §4.2–4.3), a fresh random `state` and
    /// `nonce`. `openid` is always requested; `scopes` adds to it.
    ///
    /// Keep the returned [`PendingLogin`] in the user's session until the redirect comes back.
    pub fn authorization_url(
        &self,
        scopes: &[&str],
        options: &AuthOptions,
    ) -> (url::Url, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new_random_len(RANDOM_BYTES),
                || Nonce::new_random_len(RANDOM_BYTES),
            )
            .set_pkce_challenge(challenge);
        let mut seen: Vec<&str> = vec!["openid"];
        for scope in scopes.iter().flat_map(|s| s.split_whitespace()) {
            if !seen.contains(&scope) {
                seen.push(scope);
                request = request.add_scope(Scope::new(scope.to_owned()));
            }
        }
        if let Some(prompt) = &options.prompt {
            for value in prompt.split_whitespace() {
                request = request.add_prompt(parse_prompt(value));
            }
        }
        if let Some(max_age) = options.max_age {
            request = request.set_max_age(max_age);
        }
        if let Some(hint) = &options.login_hint {
            request = request.set_login_hint(LoginHint::new(hint.clone()));
        }
        if let Some(acr_values) = &options.acr_values {
            for value in acr_values.split_whitespace() {
                request = request
                    .add_auth_context_value(AuthenticationContextClass::new(value.to_owned()));
            }
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        (url, pending)
    }

    /// The provider's issuer identifier, as discovered (equal to the configured one).
    pub fn issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    /// The registered redirection URI.
    pub fn redirect_uri(&self) -> String {
        self.client
            .redirect_uri()
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The registered `client_id`.
    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    pub(crate) fn current_jwks(&self) -> CoreJsonWebKeySet {
        self.jwks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn store_jwks(&self, jwks: CoreJsonWebKeySet) {
        *self.jwks.write().unwrap_or_else(PoisonError::into_inner) = jwks;
    }
}

fn validate_client(config: &RpConfig) -> Result<(), SdkError> {
    if config.client_id.is_empty() {
        return Err(SdkError::Config("client_id is empty".into()));
    }
    if config.client_secret.as_deref() == Some("") {
        return Err(SdkError::Config(
            "client_secret is empty (use None for a public client)".into(),
        ));
    }
    Ok(())
}

/// Endpoints a code-flow relying party needs (Discovery §3) must be present and secure.
fn validate_metadata(metadata: &ProviderMetadataWithLogout) -> Result<(), String> {
    check_secure(metadata.issuer().url(), "issuer")?;
    check_secure(
        metadata.authorization_endpoint().url(),
        "authorization_endpoint",
    )?;
    check_secure(metadata.jwks_uri().url(), "jwks_uri")?;
    let token = metadata
        .token_endpoint()
        .ok_or("provider metadata has no token_endpoint")?;
    check_secure(token.url(), "token_endpoint")?;
    if let Some(userinfo) = metadata.userinfo_endpoint() {
        check_secure(userinfo.url(), "userinfo_endpoint")?;
    }
    if let Some(end_session) = &metadata.additional_metadata().end_session_endpoint {
        check_secure(end_session.url(), "end_session_endpoint")?;
    }
    Ok(())
}

/// `prompt` values of OIDC Core §3.1.2.1.
fn parse_prompt(value: &str) -> CoreAuthPrompt {
    match value {
        "none" => CoreAuthPrompt::None,
        "login" => CoreAuthPrompt::Login,
        "consent" => CoreAuthPrompt::Consent,
        "select_account" => CoreAuthPrompt::SelectAccount,
        other => CoreAuthPrompt::Extension(other.to_owned()),
    }
}

fn discovery_error<RE>(err: DiscoveryError<RE>) -> SdkError
where
    RE: std::error::Error + 'static,
{
    match err {
        DiscoveryError::Request(e) => SdkError::Http(chain(&e)),
        DiscoveryError::Response(status, body, message) => SdkError::Discovery(format!(
            "{message} (HTTP {status}; body: {})",
            body_preview(&body)
        )),
        other => SdkError::Discovery(chain(&other)),
    }
}
