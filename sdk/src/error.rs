//! Errors returned by the relying-party library.

use std::error::Error as StdError;

/// Everything that can go wrong while acting as an OpenID Connect relying party.
///
/// Variants carry human-readable messages (with the full `source()` chain folded in)
/// rather than the generic error types of the underlying `openidconnect` crate, so that
/// applications and tests can match on the variant without naming those types.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// The [`RpConfig`](crate::RpConfig) is unusable (bad URL, plain `http` to a non-loopback
    /// host, missing endpoint in the provider metadata, ...).
    #[error("invalid relying-party configuration: {0}")]
    Config(String),

    /// OpenID Connect Discovery 1.0 failed: the provider configuration document or the JWKS
    /// could not be fetched, parsed or validated (e.g. issuer mismatch, Discovery §4.3).
    #[error("OpenID Connect discovery failed: {0}")]
    Discovery(String),

    /// The `state` returned to the redirect URI does not match the one issued with the
    /// authorization request (RFC 6749 §10.12, OIDC Core §3.1.2.7). Detected before any
    /// network call.
    #[error("the returned `state` does not match the pending login")]
    StateMismatch,

    /// The token endpoint answered with an OAuth 2.0 error response (RFC 6749 §5.2,
    /// OIDC Core §3.1.3.4).
    #[error("token endpoint error `{error}`{}", fmt_description(.description))]
    TokenEndpoint {
        /// The server's `error` code, e.g. `invalid_grant`, `invalid_client`.
        error: String,
        /// The server's optional `error_description`.
        description: Option<String>,
    },

    /// The ID token was missing or failed validation (OIDC Core §3.1.3.7): signature,
    /// `iss`, `aud`, `exp`, `nonce` or `at_hash` (§3.1.3.8).
    #[error("ID token rejected: {0}")]
    IdToken(String),

    /// The UserInfo request failed or its response was rejected (OIDC Core §5.3).
    #[error("UserInfo request failed: {0}")]
    UserInfo(String),

    /// A back-channel logout token failed validation (Back-Channel Logout 1.0 §2.6) or was
    /// replayed.
    #[error("logout token rejected: {0}")]
    LogoutToken(String),

    /// The application's logout callback failed.
    #[error("ending the local sessions failed: {0}")]
    LogoutFailed(String),

    /// The signing-requests API or `/api/verify` refused the call: the HTTP status, the
    /// `error` code (`invalid_token`, `insufficient_scope`, `access_denied`, `not_found`,
    /// `invalid_request`, `invalid_state`, ...) and the server's explanation.
    #[error("signing API answered {status} `{error}`{}", fmt_description(.description))]
    SigningApi {
        status: u16,
        error: String,
        description: Option<String>,
    },

    /// A signing-request webhook failed validation.
    #[error("signing webhook rejected: {0}")]
    Webhook(String),

    /// Waiting for a signing request to end took longer than allowed.
    #[error("timed out: {0}")]
    Timeout(String),

    /// Transport failure talking to the provider (connection refused, TLS, timeout, ...).
    #[error("HTTP request failed: {0}")]
    Http(String),

    /// The provider answered, but not in a way the protocol allows (unparseable token
    /// response, wrong `token_type`, ...).
    #[error("protocol violation by the provider: {0}")]
    Protocol(String),
}

fn fmt_description(description: &Option<String>) -> String {
    match description {
        Some(d) => format!(": {d}"),
        None => String::new(),
    }
}

/// Renders an error and its whole `source()` chain as `outer: inner: innermost`.
///
/// The `openidconnect` / `oauth2` errors keep the useful detail in their sources
/// (their own `Display` is often just "Request failed").
pub(crate) fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = inner.source();
    }
    out
}

/// A short, lossy preview of a response body for error messages.
pub(crate) fn body_preview(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text.into_owned()
    }
}
