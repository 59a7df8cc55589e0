//! A departmental application acting on its own behalf: client-credentials tokens
//! (RFC 6749 §4.4) cached until shortly before they expire, token introspection (RFC 7662)
//! for an API that receives tokens, and revocation (RFC 7009).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openidconnect::reqwest;
use serde_json::{Map, Value};
use tessera_proto::{ErrorBody, ProviderMetadata, TokenResponse};

use crate::error::{SdkError, body_preview, chain};
use crate::transport::{check_secure, http_client};

/// A token is renewed this long before it expires, so that it never expires in flight.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct Cached {
    token: String,
    renew_at: Instant,
}

/// Confidential client credentials for the token, introspection and revocation endpoints.
pub struct ServiceClient {
    http: reqwest::Client,
    metadata: ProviderMetadata,
    client_id: String,
    client_secret: String,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("issuer", &self.metadata.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Result of an introspection: `active` and every claim the provider returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Introspection {
    pub active: bool,
    pub claims: Map<String, Value>,
}

impl Introspection {
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

impl ServiceClient {
    /// Discovers the provider (OIDC Discovery 1.0 §4) and checks that it names itself `issuer`.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, SdkError> {
        let url = url::Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .map_err(|e| SdkError::Config(format!("issuer `{issuer}`: {e}")))?;
        check_secure(&url, "issuer").map_err(SdkError::Config)?;
        let http = http_client()?;
        let resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| SdkError::Http(chain(&e)))?;
        if !resp.status().is_success() {
            return Err(SdkError::Discovery(format!(
                "discovery answered {}",
                resp.status()
            )));
        }
        let body = resp.bytes().await.map_err(|e| SdkError::Http(chain(&e)))?;
        let metadata: ProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| SdkError::Discovery(format!("discovery document: {e}")))?;
        if metadata.issuer != issuer {
            return Err(SdkError::Discovery(format!(
                "the provider calls itself `{}`, not `{issuer}`",
                metadata.issuer
            )));
        }
        for (what, endpoint) in [
            ("token_endpoint", &metadata.token_endpoint),
            ("introspection_endpoint", &metadata.introspection_endpoint),
            ("revocation_endpoint", &metadata.revocation_endpoint),
        ] {
            let u = url::Url::parse(endpoint)
                .map_err(|e| SdkError::Discovery(format!("{what}: {e}")))?;
            check_secure(&u, what).map_err(SdkError::Discovery)?;
        }
        Ok(ServiceClient {
            http,
            metadata,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// `client_secret_basic` (RFC 6749 §2.3.1: both parts form-urlencoded first).
    fn basic(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!(
                "{}:{}",
                enc(&self.client_id),
                enc(&self.client_secret)
            ))
        )
    }

    async fn post(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, String), SdkError> {
        let resp = self
            .http
            .post(endpoint)
            .header("authorization", self.basic())
            .form(form)
            .send()
            .await
            .map_err(|e| SdkError::Http(chain(&e)))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| SdkError::Http(chain(&e)))?;
        Ok((status, body))
    }

    fn endpoint_error(body: &str) -> SdkError {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(e) => SdkError::TokenEndpoint {
                error: e.error.as_str().to_owned(),
                description: e.error_description,
            },
            Err(_) => SdkError::Protocol(format!(
                "unexpected answer: {}",
                body_preview(body.as_bytes())
            )),
        }
    }

    /// An access token for `scopes` (the client's default when empty), from the cache while it
    /// has more than 30 s to live, else from the token endpoint.
    pub async fn access_token(&self, scopes: &[&str]) -> Result<String, SdkError> {
        let mut sorted: Vec<&str> = scopes.to_vec();
        sorted.sort_unstable();
        let key = sorted.join(" ");
        let now = Instant::now();
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && hit.renew_at > now
        {
            return Ok(hit.token.clone());
        }
        let mut form = vec![("grant_type", "client_credentials")];
        if !key.is_empty() {
            form.push(("scope", key.as_str()));
        }
        let (status, body) = self.post(&self.metadata.token_endpoint, &form).await?;
        if !status.is_success() {
            return Err(Self::endpoint_error(&body));
        }
        let token: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| SdkError::Protocol(format!("token response: {e}")))?;
        let lifetime = Duration::from_secs(token.expires_in);
        let renew_at = now + lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2));
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Cached {
                    token: token.access_token.clone(),
                    renew_at,
                },
            );
        Ok(token.access_token)
    }

    /// Asks the provider whether `token` is active (RFC 7662 §2). Tessera answers only about
    /// tokens issued to this client; anything else is inactive.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, SdkError> {
        let (status, body) = self
            .post(&self.metadata.introspection_endpoint, &[("token", token)])
            .await?;
        if !status.is_success() {
            return Err(Self::endpoint_error(&body));
        }
        let claims: Map<String, Value> = serde_json::from_str(&body)
            .map_err(|e| SdkError::Protocol(format!("introspection response: {e}")))?;
        let active = claims
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Introspection { active, claims })
    }

    /// Revokes a token issued to this client (RFC 7009 §2.1); a refresh token ends its chain.
    pub async fn revoke(&self, token: &str) -> Result<(), SdkError> {
        let (status, body) = self
            .post(&self.metadata.revocation_endpoint, &[("token", token)])
            .await?;
        if !status.is_success() {
            return Err(Self::endpoint_error(&body));
        }
        // Forget cached copies so that the next call fetches a live token.
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, c| c.token != token);
        Ok(())
    }
}
