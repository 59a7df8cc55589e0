//! The OpenID Connect client side of upstream sign-in, on the `openidconnect` crate:
//! discovery (with the JWKS), the authentication request with PKCE S256, `state` and `nonce`,
//! the code exchange and the ID token's verification (signature, `iss`, `aud`/`azp`, `exp`,
//! `nonce`; OIDC Core §3.1.3.7). Every request goes through Tessera's outbound transport, so
//! the administrator's allow-list (and `TESSERA_OUTBOUND_ALLOW_HTTP`) applies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreTokenResponse};
use openidconnect::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_core::outbound::{Exchange, Outbound, OutboundError};
use tessera_core::upstream::{Upstream, VerifiedIdentity};

/// Why an upstream sign-in failed: the provider could not be reached (or answered nonsense
/// at discovery), or its answer failed verification.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    #[error("upstream answer refused: {0}")]
    Rejected(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(String);

/// Runs one request of the `openidconnect` client through the outbound transport.
async fn send(out: &dyn Outbound, req: HttpRequest) -> Result<HttpResponse, TransportError> {
    let (parts, body) = req.into_parts();
    let exchange = Exchange {
        method: parts.method.as_str().to_owned(),
        url: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    };
    let answer = out.exchange(exchange).await.map_err(|e| match e {
        OutboundError::NotAllowed(m) => TransportError(format!("not allowed: {m}")),
        OutboundError::Failed(m) => TransportError(m),
    })?;
    let mut builder = openidconnect::http::Response::builder().status(answer.status);
    for (k, v) in &answer.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(answer.body)
        .map_err(|e| TransportError(e.to_string()))
}

/// The `openidconnect` crate's HTTP client: Tessera's outbound transport.
struct Transport(Arc<dyn Outbound>);

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let out = self.0.clone();
        Box::pin(async move { send(out.as_ref(), request).await })
    }
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An upstream's discovered metadata and the client built from it.
pub struct Discovered {
    metadata: ProviderMetadataWithLogout,
    client: Client,
}

/// Discovery 1.0 §4 (`issuer` must match exactly, §4.3), then the JWKS.
pub async fn discover(
    out: &Arc<dyn Outbound>,
    upstream: &Upstream,
    secret: Option<String>,
    redirect_uri: &str,
) -> Result<Discovered, UpstreamError> {
    let http = Transport(out.clone());
    let issuer = IssuerUrl::new(upstream.record.issuer.clone())
        .map_err(|e| UpstreamError::Unavailable(format!("issuer: {e}")))?;
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, &http)
        .await
        .map_err(|e| UpstreamError::Unavailable(format!("discovery: {}", chain(&e))))?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| UpstreamError::Unavailable(format!("redirect URI: {e}")))?;
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(upstream.record.client_id.clone()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(redirect)
    .set_auth_type(AuthType::BasicAuth);
    Ok(Discovered { metadata, client })
}

/// What the browser is sent upstream with, and what must be kept until it comes back.
pub struct Request {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Discovered {
    /// The authentication request (OIDC Core §3.1.2.1) with PKCE S256 (RFC 7636 §4.2).
    pub fn authorization_request(&self, upstream: &Upstream) -> Request {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new_random_len(32),
                || Nonce::new_random_len(32),
            )
            .set_pkce_challenge(challenge);
        for scope in &upstream.record.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Request {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// The code exchange (§3.1.3.1, with the PKCE verifier) and the ID token's verification
    /// against the upstream's JWKS, with the algorithms it announces.
    pub async fn exchange(
        &self,
        out: &Arc<dyn Outbound>,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<VerifiedIdentity, UpstreamError> {
        let http = Transport(out.clone());
        let token: CoreTokenResponse = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::Request(e) => {
                    UpstreamError::Unavailable(format!("token endpoint: {}", chain(&e)))
                }
                other => UpstreamError::Rejected(format!("token endpoint: {}", chain(&other))),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| UpstreamError::Rejected("the token response has no id_token".into()))?;
        let verifier = self.client.id_token_verifier().set_allowed_algs(
            self.metadata
                .id_token_signing_alg_values_supported()
                .iter()
                .cloned(),
        );
        id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| UpstreamError::Rejected(format!("ID token: {}", chain(&e))))?;
        let raw = id_token.to_string();
        // Verified above; read every claim, including those openidconnect does not model
        // (national_id and the like).
        let claims = payload(&raw)
            .ok_or_else(|| UpstreamError::Rejected("ID token payload is not JSON".into()))?;
        Ok(VerifiedIdentity {
            claims,
            id_token: raw,
        })
    }

    /// The upstream's `end_session_endpoint` (RP-Initiated Logout 1.0 §2.1), if any.
    pub fn end_session_endpoint(&self) -> Option<String> {
        self.metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|e| e.url().to_string())
    }
}

fn payload(jwt: &str) -> Option<Map<String, Value>> {
    let part = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        next = cause.source();
    }
    s
}
