//! Static relying-party configuration and per-request options.

use std::time::Duration;

/// How this application is registered with the OpenID Provider.
#[derive(Clone, PartialEq, Eq)]
pub struct RpConfig {
    /// Issuer identifier, e.g. `https://sso.example.gov.vn` (OIDC Discovery 1.0 §4.3: the
    /// discovered `issuer` must be exactly this string). Must be `https`, except plain
    /// `http` on a loopback host (`127.0.0.0/8`, `[::1]`, `localhost`) for development.
    pub issuer: String,
    /// Registered `client_id` (RFC 6749 §2.2).
    pub client_id: String,
    /// Client secret for `client_secret_basic` (OIDC Core §9, RFC 6749 §2.3.1). `None`
    /// makes this a public client that relies on PKCE alone (RFC 7636).
    pub client_secret: Option<String>,
    /// Registered redirection URI (OIDC Core §3.1.2.1).
    pub redirect_uri: String,
}

impl std::fmt::Debug for RpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// Optional authentication request parameters (OIDC Core §3.1.2.1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuthOptions {
    /// `prompt`: space-separated, e.g. `"none"`, `"login"`, `"consent"`,
    /// `"select_account"`.
    pub prompt: Option<String>,
    /// `max_age`, sent in whole seconds. Check the result with
    /// [`IdentityClaims::authenticated_within`](crate::IdentityClaims::authenticated_within).
    pub max_age: Option<Duration>,
    /// `login_hint`, e.g. the user's username or e-mail.
    pub login_hint: Option<String>,
    /// `acr_values`: space-separated levels of assurance asked for, e.g.
    /// `"urn:tessera:loa:2"` (OIDC Core §3.1.2.1); the ID token's `acr` says what was reached.
    pub acr_values: Option<String>,
}
