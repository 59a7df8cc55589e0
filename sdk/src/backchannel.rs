//! Receiving back-channel logouts (OpenID Connect Back-Channel Logout 1.0): the provider POSTs
//! a signed logout token when a user's sign-on session ends (logout elsewhere, account
//! disabled), and the application ends its own sessions for that `sid` or `sub`.
//!
//! ```no_run
//! # async fn demo(rp: tessera_sdk::RelyingParty) {
//! use std::sync::Arc;
//! use tessera_sdk::{BackchannelLogout, LogoutEvent};
//!
//! let receiver = BackchannelLogout::new(Arc::new(rp), |event: LogoutEvent| async move {
//!     // Delete every local session created from this provider session (or user).
//!     println!("logout of sid {:?} / sub {:?}", event.sid, event.sub);
//!     Ok(())
//! });
//! // In the HTTP handler for the registered backchannel_logout_uri:
//! # let body: &[u8] = b"";
//! match receiver.receive_form(body).await {
//!     Ok(_) => { /* 200 OK, Cache-Control: no-store */ }
//!     Err(_) => { /* 400 Bad Request (§2.8) */ }
//! }
//! # }
//! ```
//! With the `axum` feature, [`crate::axum::backchannel_logout_router`] does the HTTP part.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::replay::{InMemoryJtiStore, JtiStore};
use crate::{RelyingParty, SdkError};

/// The `events` member of a logout token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A verified logout request: end local sessions of `sid` (that provider session) or, when
/// only `sub` is given, of that user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutEvent {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

type Callback = dyn Fn(LogoutEvent) -> BoxFuture<'static, Result<(), String>> + Send + Sync;

/// Verifies logout tokens for one relying party and hands each new one to the application.
pub struct BackchannelLogout {
    rp: Arc<RelyingParty>,
    jtis: Arc<dyn JtiStore>,
    on_logout: Box<Callback>,
}

impl std::fmt::Debug for BackchannelLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelLogout")
            .field("rp", &self.rp)
            .finish_non_exhaustive()
    }
}

#[allow(clippy::disallowed_methods)] // a relying party checks tokens against its own clock
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl BackchannelLogout {
    /// `on_logout` ends the application's sessions for the event; an `Err` makes the
    /// receiver answer 400 (§2.8), and the provider will try again with a new token.
    pub fn new<F, Fut>(rp: Arc<RelyingParty>, on_logout: F) -> BackchannelLogout
    where
        F: Fn(LogoutEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        BackchannelLogout {
            rp,
            jtis: Arc::new(InMemoryJtiStore::default()),
            on_logout: Box::new(move |event| Box::pin(on_logout(event))),
        }
    }

    /// Replaces the in-memory replay store (several application instances need a shared one).
    pub fn with_jti_store(mut self, store: Arc<dyn JtiStore>) -> BackchannelLogout {
        self.jtis = store;
        self
    }

    /// Verifies `logout_token` now, refuses a replay, and calls the application.
    pub async fn receive(&self, logout_token: &str) -> Result<LogoutEvent, SdkError> {
        self.receive_at(logout_token, unix_now()).await
    }

    /// [`receive`](Self::receive) at a given time (Unix seconds).
    pub async fn receive_at(&self, logout_token: &str, now: i64) -> Result<LogoutEvent, SdkError> {
        let event = self.rp.verify_logout_token(logout_token, now).await?;
        let until = event.expires_at + crate::rp::LEEWAY_SECS;
        if !self.jtis.remember(&event.jti, until, now).await? {
            return Err(SdkError::LogoutToken(
                "this logout token was already used".into(),
            ));
        }
        (self.on_logout)(event.clone())
            .await
            .map_err(SdkError::LogoutFailed)?;
        Ok(event)
    }

    /// [`receive`](Self::receive) from the POSTed `application/x-www-form-urlencoded` body
    /// (§2.5), which must carry exactly one `logout_token`.
    pub async fn receive_form(&self, body: &[u8]) -> Result<LogoutEvent, SdkError> {
        let tokens: Vec<String> = url::form_urlencoded::parse(body)
            .filter(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .collect();
        match tokens.as_slice() {
            [token] => self.receive(token).await,
            _ => Err(SdkError::LogoutToken(
                "the body must carry exactly one logout_token".into(),
            )),
        }
    }
}
