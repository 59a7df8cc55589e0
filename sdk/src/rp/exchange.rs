//! Token request (OIDC Core §3.1.3) and ID token validation (§3.1.3.7–3.1.3.8).

use openidconnect::core::{
    CoreErrorResponseType, CoreHmacKey, CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreTokenType,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClaimsVerificationError, IdTokenVerifier,
    JsonWebKeySet, Nonce, NonceVerifier, OAuth2TokenResponse, PkceCodeVerifier, PrivateSigningKey,
    RequestTokenError, SignatureVerificationError, StandardErrorResponse, TokenResponse,
};

use super::RelyingParty;
use crate::error::{SdkError, body_preview, chain};
use crate::types::{IdTokenT, VerifierT};
use crate::{IdentityClaims, LoginResult, PendingLogin};

impl RelyingParty {
    /// Completes the login from the redirect's `code` and `state` (OIDC Core §3.1.2.5).
    ///
    /// 1. `returned_state` must equal `pending.state` (RFC 6749 §10.12), else
    ///    [`SdkError::StateMismatch`] before any network call.
    /// 2. Token request (§3.1.3.1) with the PKCE `code_verifier` (RFC 7636 §4.5), using
    ///    `client_secret_basic` when a secret is configured, else as a public client.
    /// 3. ID token validation (§3.1.3.7): signature against the provider JWKS with an
    ///    algorithm it advertises (ES256, RS256, ...), `iss`, `aud`/`azp`, `exp`, `nonce`,
    ///    and `at_hash` when present (§3.1.3.8).
    ///
    /// Server errors surface as [`SdkError::TokenEndpoint`] with the OAuth `error` code.
    pub async fn exchange_code(
        &self,
        pending: &PendingLogin,
        code: &str,
        returned_state: &str,
    ) -> Result<LoginResult, SdkError> {
        if !crate::transport::constant_time_eq(&pending.state, returned_state) {
            return Err(SdkError::StateMismatch);
        }
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SdkError::Config(chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        // OIDC Core §3.1.3.3: token_type MUST be Bearer.
        if *token.token_type() != CoreTokenType::Bearer {
            return Err(SdkError::Protocol(format!(
                "token_type is `{}`, expected `Bearer`",
                token.token_type().as_ref()
            )));
        }
        let id_token = token
            .id_token()
            .ok_or_else(|| SdkError::IdToken("the token response has no id_token".into()))?;
        let claims = self
            .verify_id_token(id_token, Some(&pending.nonce), token.access_token())
            .await?;
        Ok(LoginResult {
            subject: claims.sub.clone(),
            id_token: id_token.to_string(),
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|t| t.secret().clone()),
            expires_in: token.expires_in(),
            claims,
        })
    }

    /// Validates with the cached JWKS; if the token names a key we do not have, re-fetches
    /// `jwks_uri` once and retries (provider key rotation, OIDC Core §10.1.1).
    pub(super) async fn verify_id_token(
        &self,
        id_token: &IdTokenT,
        nonce: Option<&str>,
        access_token: &AccessToken,
    ) -> Result<IdentityClaims, SdkError> {
        let nonce = nonce.map(|n| Nonce::new(n.to_owned()));
        // A refreshed ID token carries no nonce to check (OIDC Core §12.2).
        let check = |got: Option<&Nonce>| -> Result<(), String> {
            match (&nonce, got) {
                (None, _) => Ok(()),
                (Some(want), Some(got)) if want.secret() == got.secret() => Ok(()),
                _ => Err("nonce does not match the authentication request".into()),
            }
        };
        match self.verify_with(self.current_jwks(), id_token, check, access_token) {
            Err(Failure::UnknownKey) => {
                let fresh = JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| {
                        SdkError::IdToken(format!(
                            "signing key not in JWKS, and re-fetching it failed: {}",
                            chain(&e)
                        ))
                    })?;
                self.store_jwks(fresh.clone());
                self.verify_with(fresh, id_token, check, access_token)
                    .map_err(Failure::into_sdk)
            }
            other => other.map_err(Failure::into_sdk),
        }
    }

    fn verify_with<N: NonceVerifier>(
        &self,
        jwks: CoreJsonWebKeySet,
        id_token: &IdTokenT,
        nonce: N,
        access_token: &AccessToken,
    ) -> Result<IdentityClaims, Failure> {
        let verifier = self.verifier(jwks);
        let claims = id_token.claims(&verifier, nonce).map_err(|e| match e {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => Failure::UnknownKey,
            other => Failure::Invalid(chain(&other)),
        })?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| Failure::Invalid(chain(&e)))?;
            let key = self.hash_key(id_token, &verifier, alg)?;
            let actual = AccessTokenHash::from_token(access_token, alg, &key)
                .map_err(|e| Failure::Invalid(format!("computing at_hash: {}", chain(&e))))?;
            if actual.as_str() != expected.as_str() {
                return Err(Failure::Invalid(
                    "at_hash does not match the access token (OIDC Core §3.1.3.8)".into(),
                ));
            }
        }
        Ok(IdentityClaims::from(claims))
    }

    /// ID token verifier: public-key algorithms from `id_token_signing_alg_values_supported`
    /// (Discovery §3); the client secret also enables HS* for confidential clients (§10.1).
    fn verifier(&self, jwks: CoreJsonWebKeySet) -> VerifierT {
        let issuer = self.metadata.issuer().clone();
        let client_id = self.client_id.clone();
        let verifier = match &self.client_secret {
            Some(secret) => {
                IdTokenVerifier::new_confidential_client(client_id, secret.clone(), issuer, jwks)
            }
            None => IdTokenVerifier::new_public_client(client_id, issuer, jwks),
        };
        verifier.set_allowed_algs(
            self.metadata
                .id_token_signing_alg_values_supported()
                .iter()
                .cloned(),
        )
    }

    /// The key whose algorithm's hash defines `at_hash` (§3.1.3.8): the JWKS key, or the
    /// client secret for HMAC algorithms.
    fn hash_key(
        &self,
        id_token: &IdTokenT,
        verifier: &VerifierT,
        alg: &CoreJwsSigningAlgorithm,
    ) -> Result<CoreJsonWebKey, Failure> {
        let is_hmac = matches!(
            alg,
            CoreJwsSigningAlgorithm::HmacSha256
                | CoreJwsSigningAlgorithm::HmacSha384
                | CoreJwsSigningAlgorithm::HmacSha512
        );
        match (&self.client_secret, is_hmac) {
            (Some(secret), true) => {
                Ok(CoreHmacKey::new(secret.secret().as_bytes()).as_verification_key())
            }
            _ => id_token
                .signing_key(verifier)
                .cloned()
                .map_err(|e| Failure::Invalid(chain(&e))),
        }
    }
}

enum Failure {
    /// The token's `kid`/`alg` matches no key in the JWKS we hold.
    UnknownKey,
    Invalid(String),
}

impl Failure {
    fn into_sdk(self) -> SdkError {
        match self {
            Failure::UnknownKey => {
                SdkError::IdToken("no key in the provider JWKS matches the ID token".into())
            }
            Failure::Invalid(msg) => SdkError::IdToken(msg),
        }
    }
}

/// Maps the token endpoint outcome (RFC 6749 §5.2) onto [`SdkError`].
pub(super) fn token_error<RE>(
    err: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> SdkError
where
    RE: std::error::Error + 'static,
{
    match err {
        RequestTokenError::ServerResponse(resp) => SdkError::TokenEndpoint {
            error: resp.error().as_ref().to_owned(),
            description: resp.error_description().cloned(),
        },
        RequestTokenError::Request(e) => SdkError::Http(chain(&e)),
        RequestTokenError::Parse(e, body) => SdkError::Protocol(format!(
            "unparseable token endpoint response ({}); body: {}",
            chain(&e),
            body_preview(&body)
        )),
        RequestTokenError::Other(msg) => SdkError::Protocol(format!("token endpoint: {msg}")),
    }
}
