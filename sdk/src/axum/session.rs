//! Where the kit keeps its sessions: server-side, behind a random cookie.
//!
//! Why server-side rather than an encrypted cookie: a session holds the ID token, the access
//! token and the refresh token (several kilobytes of JWTs, past the 4 KB a browser keeps per
//! cookie), and a back-channel logout must end the sessions of a `sid` or a `sub` at once,
//! which needs them somewhere the application can find and delete them. The cookie carries only
//! a random identifier (256 bits); a tampered or guessed one finds nothing.
//!
//! [`MemorySessionStore`], the default, is right for an application that runs as one process.
//! Replicas behind a load balancer need a shared store (a table of the application's database,
//! or a cache) implementing [`SessionStore`]: a session created on one replica must be found,
//! refreshed and ended on every other.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::{BoxFuture, IdentityClaims, PendingLogin, SdkError};

/// One browser's session with the application.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Unix seconds after which the session is gone.
    pub expires_at: i64,
    /// Logins started from this browser and not yet completed (a few at most).
    pub pending: Vec<PendingStart>,
    /// The signed-in user, once a login completed.
    pub user: Option<SignedIn>,
}

/// A login this browser started: what to check and where to go when it comes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingStart {
    pub login: PendingLogin,
    /// Local path to return to.
    pub return_to: String,
    /// Level of assurance the login must reach (step-up).
    pub level: Option<u8>,
    /// A fresh authentication was asked for (`max_age=0`).
    #[serde(default)]
    pub fresh: bool,
    pub started_at: i64,
}

/// The tokens and verified claims of a signed-in user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub claims: IdentityClaims,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds), if the provider said.
    pub access_expires_at: Option<i64>,
    pub signed_in_at: i64,
}

impl std::fmt::Debug for SignedIn {
    // Tokens never go to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("claims", &self.claims)
            .field("access_expires_at", &self.access_expires_at)
            .field("signed_in_at", &self.signed_in_at)
            .finish_non_exhaustive()
    }
}

/// Storage of sessions by the identifier in the browser's cookie. The kit checks expiry
/// itself; a store may forget expired sessions whenever it likes.
pub trait SessionStore: Send + Sync + 'static {
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Session>, SdkError>>;
    /// Creates or replaces the session `id`.
    fn save<'a>(
        &'a self,
        id: &'a str,
        session: &'a Session,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SdkError>>;
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SdkError>>;
    /// Ends the signed-in sessions of provider session `sid`, or of user `sub` when no `sid`
    /// is given (Back-Channel Logout 1.0 §2.7); returns how many ended.
    fn remove_signed_in<'a>(
        &'a self,
        sid: Option<&'a str>,
        sub: Option<&'a str>,
    ) -> BoxFuture<'a, Result<usize, SdkError>>;
}

/// Whether a signed-in session belongs to the provider session `sid` / user `sub` of a
/// back-channel logout: by `sid` when given (and `sub` too when both are), else by `sub`.
pub fn logout_matches(user: &SignedIn, sid: Option<&str>, sub: Option<&str>) -> bool {
    let claims = &user.claims;
    match (sid, sub) {
        (Some(sid), sub) => {
            claims.sid.as_deref() == Some(sid) && sub.is_none_or(|s| s == claims.sub)
        }
        (None, Some(sub)) => claims.sub == sub,
        (None, None) => false,
    }
}

/// Sessions in process memory (see the [module documentation](self) for replicas).
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

impl MemorySessionStore {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionStore for MemorySessionStore {
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Session>, SdkError>> {
        let found = self.map().get(id).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        session: &'a Session,
        now: i64,
    ) -> BoxFuture<'a, Result<(), SdkError>> {
        let mut map = self.map();
        // Abandoned logins and ended sessions do not pile up.
        map.retain(|_, s| s.expires_at > now);
        map.insert(id.to_owned(), session.clone());
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SdkError>> {
        self.map().remove(id);
        Box::pin(async { Ok(()) })
    }

    fn remove_signed_in<'a>(
        &'a self,
        sid: Option<&'a str>,
        sub: Option<&'a str>,
    ) -> BoxFuture<'a, Result<usize, SdkError>> {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, s| !s.user.as_ref().is_some_and(|u| logout_matches(u, sid, sub)));
        let ended = before - map.len();
        Box::pin(async move { Ok(ended) })
    }
}
