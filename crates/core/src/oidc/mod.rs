//! OpenID Connect provider: OIDC Core 1.0, Discovery 1.0, RFC 6749, RFC 7636.

pub mod authorization_details;
pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod client_credentials;
pub mod consent;
pub mod device;
pub mod discovery;
pub mod introspect;
pub mod issue;
pub mod par;
pub mod pkce;
pub mod redirect;
pub mod refresh;
pub mod resource;
pub mod revoke;
pub mod token;
pub mod userinfo;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

/// Scopes the provider understands (`org` carries the unit and roles).
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "org",
    "offline_access",
];

/// Scope of an official's token that lets an application ask that official for signatures
/// (`/api/signing/requests`).
pub const SIGN_SCOPE: &str = "sign";
/// Scope of an application's own token that lets it ask a unit's people for signatures.
pub const SIGN_REQUEST_SCOPE: &str = "sign:request";

/// Scopes of Tessera's signing APIs, which any client may be given: the signing-requests API's
/// and the CSC API's (`service`, `credential`).
pub const SIGNING_SCOPES: &[&str] = &[SIGN_SCOPE, SIGN_REQUEST_SCOPE, "service", "credential"];

/// Scopes about a person; meaningless (and refused) in a client-credentials grant.
pub const USER_SCOPES: &[&str] = SCOPES;

/// Whether `s` is a well-formed scope token (RFC 6749 §3.3), limited to a readable set for
/// API scopes such as `lgsp.read`.
pub fn valid_scope_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
}
