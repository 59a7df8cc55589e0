//! Tessera's identity logic: OpenID Connect provider rules, logins, sessions and
//! administration. Knows nothing of HTTP: handlers pass parsed parameters and `now` (Unix
//! seconds) in, and get typed results out.

pub mod account;
pub mod admin;
pub mod admin_api;
pub mod alerts;
pub mod audit;
pub mod audit_trail;
pub mod backup;
pub mod directory_sync;
pub mod error;
pub mod housekeeping;
pub mod jose;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod oidc;
pub mod operations;
pub mod outbound;
pub mod params;
pub mod password;
pub mod password_change;
pub mod pki;
pub mod provider;
pub mod qr;
pub mod request;
pub mod secrets;
pub mod session;
pub mod signing;
pub mod soc_feed;
pub mod throttle;
pub mod upstream;
pub mod user_import;
pub mod username;
pub mod verify;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod testkit;

pub use error::{CoreError, OAuthError};
pub use provider::{Config, Provider};

/// Levels of assurance (documented in the README).
pub mod acr {
    /// Single factor: password.
    pub const LOA1: &str = "urn:tessera:loa:1";
    /// Two factors, or a passkey with user verification.
    pub const LOA2: &str = "urn:tessera:loa:2";
    pub const SUPPORTED: &[&str] = &[LOA1, LOA2];
}
