//! Wire types shared by the Tessera server, its SDK and its consoles, one module per API:
//! [`oidc`] (OpenID Connect and OAuth 2.0), [`admin`] (the administration API) and [`csc`]
//! (the remote-signing API).

pub mod admin;
pub mod csc;
pub mod oidc;
pub mod signing;

// The OIDC types predate the split and are used everywhere by their short paths.
pub use oidc::*;
