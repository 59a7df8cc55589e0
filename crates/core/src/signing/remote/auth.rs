//! Who calls the signing-requests API: the official's own access token with scope
//! [`SIGN_SCOPE`] (from the code flow), or an application's client-credentials token with
//! scope [`REQUEST_SCOPE`] (naming the signer; only where a unit allowed that application).

use super::RemoteError;
use super::submit::{Requester, Viewer};
use crate::Provider;
use crate::oidc::resource::{TokenError, access_token};

pub use crate::oidc::{SIGN_REQUEST_SCOPE as REQUEST_SCOPE, SIGN_SCOPE};

/// An authenticated caller of the signing-requests API.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub client_id: String,
    /// The official, with their own token.
    pub user_id: Option<String>,
}

impl ApiCaller {
    pub fn requester(&self) -> Requester<'_> {
        match &self.user_id {
            Some(user_id) => Requester::Official {
                user_id,
                client_id: &self.client_id,
            },
            None => Requester::Application {
                client_id: &self.client_id,
            },
        }
    }

    /// Callers read and act on the requests their client made.
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer::Client(&self.client_id)
    }
}

/// Checks the bearer token of a signing-requests API call.
pub async fn api_caller(p: &Provider, token: &str, now: i64) -> Result<ApiCaller, RemoteError> {
    let t = access_token(p, token, now).await.map_err(|e| match e {
        TokenError::Invalid(m) => RemoteError::InvalidToken(m.into()),
        TokenError::Internal(e) => RemoteError::Internal(e),
    })?;
    match &t.user {
        Some(user) if t.has_scope(SIGN_SCOPE) => Ok(ApiCaller {
            client_id: t.record.client_id.clone(),
            user_id: Some(user.id.clone()),
        }),
        None if t.has_scope(REQUEST_SCOPE) => Ok(ApiCaller {
            client_id: t.record.client_id.clone(),
            user_id: None,
        }),
        Some(_) => Err(RemoteError::InsufficientScope(format!(
            "the official's access token needs the {SIGN_SCOPE} scope"
        ))),
        None => Err(RemoteError::InsufficientScope(format!(
            "the application's access token needs the {REQUEST_SCOPE} scope"
        ))),
    }
}
