//! OpenID Connect provider: OIDC Core 1.0, Discovery 1.0, RFC 6749, RFC 7636.

pub mod authorize;
pub mod claims;
pub mod discovery;
pub mod pkce;
pub mod token;
pub mod userinfo;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

/// Scopes the provider understands (`org` carries the unit and roles).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "phone", "org"];
