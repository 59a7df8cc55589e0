//! State carried across the redirect, and the outcome of a completed login.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::IdentityClaims;

/// Secrets of one in-flight authorization request. The application stores it in its own
/// session (server-side or in an encrypted cookie) between
/// [`authorization_url`](crate::RelyingParty::authorization_url) and
/// [`exchange_code`](crate::RelyingParty::exchange_code), and uses it once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// `state`, binding the redirect to this browser session (OIDC Core §3.1.2.1,
    /// RFC 6749 §10.12).
    pub state: String,
    /// `nonce`, binding the ID token to this request (OIDC Core §3.1.2.1, §15.5.2).
    pub nonce: String,
    /// PKCE `code_verifier` (RFC 7636 §4.1); its S256 challenge went in the request.
    pub pkce_verifier: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &"<redacted>")
            .finish()
    }
}

/// A successful login: the token response (OIDC Core §3.1.3.3) and the verified claims.
#[derive(Clone)]
pub struct LoginResult {
    /// The verified `sub` (same as `claims.sub`).
    pub subject: String,
    /// The ID token as received (compact JWS); e.g. for `id_token_hint` at logout.
    pub id_token: String,
    /// The access token, for [`userinfo`](crate::RelyingParty::userinfo).
    pub access_token: String,
    /// Refresh token, if the provider issued one (RFC 6749 §5.1).
    pub refresh_token: Option<String>,
    /// Access token lifetime, `expires_in` (RFC 6749 §5.1).
    pub expires_in: Option<Duration>,
    /// Claims of the verified ID token.
    pub claims: IdentityClaims,
}

impl std::fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResult")
            .field("subject", &self.subject)
            .field("id_token", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish()
    }
}

/// New tokens from a refresh (RFC 6749 §6). The refresh token was rotated: store the new one.
#[derive(Clone)]
pub struct Refreshed {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub expires_in: Option<Duration>,
    /// Claims of the new ID token, verified, when one was returned.
    pub claims: Option<IdentityClaims>,
}

impl std::fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshed")
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}
