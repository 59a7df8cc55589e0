//! Tests of the OIDC endpoints against a provider on an in-memory database. Every test picks
//! its own `now`, so expiry is tested by moving the clock rather than by sleeping.

mod authorize;
mod client_credentials;
mod consent;
mod device;
mod introspect;
mod keys;
mod par;
mod private_key_jwt;
mod props;
mod refresh;
mod revoke;
mod token;
mod userinfo;
mod world;

use tessera_proto::ErrorCode;

use crate::OAuthError;
use crate::error::PageError;
use crate::oidc::authorize::{AuthorizeError, Decision};
use crate::testkit::{self, ISSUER, REDIRECT};

/// The page an authorization request ended on; fails on any other outcome.
fn page_error(r: Result<Decision, AuthorizeError>) -> PageError {
    match r {
        Err(AuthorizeError::Page { kind, .. }) => kind,
        other => panic!("expected an error page, got {other:?}"),
    }
}

/// The `error` and `state` of an error redirect to the client, after checking that it goes to
/// the registered URI and names the issuer.
fn redirect_error(d: &Decision) -> (String, Option<String>) {
    let Decision::Redirect(url) = d else {
        panic!("expected a redirect, got {d:?}");
    };
    assert!(url.starts_with(&format!("{REDIRECT}?")), "{url}");
    let q = testkit::query(url);
    assert_eq!(q.get("iss").map(String::as_str), Some(ISSUER), "{url}");
    assert!(!q.contains_key("code"), "{url}");
    let error = q.get("error").cloned().expect("redirect carries an error");
    (error, q.get("state").cloned())
}

/// The protocol error code of a failed call; fails on success or an internal error.
fn oauth_code<T: std::fmt::Debug>(r: Result<T, OAuthError>) -> ErrorCode {
    match r {
        Err(OAuthError::Protocol { code, .. }) => code,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}
