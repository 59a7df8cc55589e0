//! Tessera relying-party SDK.
//!
//! The library that departmental applications embed to sign users in with Tessera (an
//! OpenID Connect provider), and that Tessera's end-to-end tests drive. It implements the
//! OpenID Connect Core 1.0 authorization code flow (§3.1) with PKCE S256 (RFC 7636) on
//! top of the [`openidconnect`] crate, which does all cryptography and JWT validation.
//!
//! It is framework-free: the application keeps the [`PendingLogin`] in its own session
//! between the redirect to the provider and the callback. Single logout: send the browser to
//! [`RelyingParty::end_session_url`], and receive the provider's back-channel logouts with
//! [`BackchannelLogout`] (an axum handler is behind the `axum` feature). Remote signing:
//! [`SigningClient`] asks officials for signatures and verifies the outcome webhooks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera_sdk::SdkError> {
//! use tessera_sdk::{AuthOptions, RelyingParty, RpConfig};
//!
//! let rp = RelyingParty::discover(RpConfig {
//!     issuer: "https://sso.example.gov.vn".into(),
//!     client_id: "hr-portal".into(),
//!     client_secret: Some("s3cret".into()),
//!     redirect_uri: "https://hr.example.gov.vn/callback".into(),
//! })
//! .await?;
//!
//! // 1. Redirect the browser; remember `pending` in the session.
//! let (url, pending) = rp.authorization_url(&["profile", "email"], &AuthOptions::default());
//! # let _ = url;
//!
//! // 2. On the callback `?code=...&state=...`:
//! # let (code, state) = ("c", "s");
//! let login = rp.exchange_code(&pending, code, state).await?;
//! println!("signed in: {} (session {:?})", login.subject, login.claims.sid);
//!
//! // 3. Optionally, more claims.
//! let info = rp.userinfo_for_subject(&login.access_token, &login.subject).await?;
//! # let _ = info;
//! # Ok(()) }
//! ```

#[cfg(feature = "axum")]
pub mod axum;
/// The README's example compiles (`cargo test -p tessera-sdk --features axum --doc`).
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
mod backchannel;
mod claims;
mod config;
mod error;
mod jws;
mod login;
pub mod replay;
mod rp;
mod service;
pub mod signing;
mod transport;
mod types;

pub use backchannel::{BACKCHANNEL_LOGOUT_EVENT, BackchannelLogout, BoxFuture, LogoutEvent};
pub use claims::IdentityClaims;
pub use config::{AuthOptions, RpConfig};
pub use error::SdkError;
pub use login::{LoginResult, PendingLogin, Refreshed};
pub use replay::{InMemoryJtiStore, JtiStore};
pub use rp::RelyingParty;
pub use service::{Introspection, ServiceClient};
pub use signing::{SigningClient, WebhookEvent};
