//! axum integration (feature `axum`): everything a departmental web application needs to sign
//! its users in with Tessera.
//!
//! - [`AuthKit::routes`]: login, callback (the path of the registered `redirect_uri`), logout
//!   (RP-initiated, `POST`) and the back-channel logout endpoint;
//! - [`AuthKit::session_layer`]: server-side sessions behind a cookie ([`session`] explains
//!   the choice), with the access token refreshed when it expires;
//! - [`AuthUser`]: an extractor with the verified ID-token claims, the access token, and the
//!   [signing client](AuthUser::signing) acting for the user;
//! - [`AuthKit::require`]: a guard that needs a role and/or a level of assurance and starts a
//!   step-up login (`acr_values`, `max_age=0`) when the session's level is too low.
//!
//! See `sdk/README.md` for a complete application.

mod backchannel;
mod guard;
mod page;
mod routes;
pub mod session;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use openidconnect::CsrfToken;

pub use backchannel::{backchannel_logout, backchannel_logout_router};
pub use guard::{AuthUser, Guard, GuardLayer, Requirement, SessionLayer};
pub use page::escape as escape_html;
pub use session::{MemorySessionStore, Session, SessionStore, SignedIn};

use crate::signing::SigningClient;
use crate::{InMemoryJtiStore, JtiStore, RelyingParty, SdkError};

/// The prefix of Tessera's levels of assurance: `urn:tessera:loa:1` (password),
/// `urn:tessera:loa:2` (two factors, or a passkey).
pub const LOA_PREFIX: &str = "urn:tessera:loa:";

/// The `acr` value of level `n`.
pub fn acr_of_level(n: u8) -> String {
    format!("{LOA_PREFIX}{n}")
}

/// The level an `acr` value stands for; 0 for none or an unknown one.
pub fn level_of_acr(acr: Option<&str>) -> u8 {
    acr.and_then(|a| a.strip_prefix(LOA_PREFIX))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// How long an unfinished login is kept.
const PENDING_TTL_SECS: i64 = 600;
/// Logins kept per browser at once (several tabs).
const MAX_PENDING: usize = 5;
/// An access token this close to expiry is refreshed before use.
const REFRESH_EARLY_SECS: i64 = 30;

/// The integration kit for one relying party. Cheap to clone.
#[derive(Clone)]
pub struct AuthKit {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    rp: Arc<RelyingParty>,
    store: Arc<dyn SessionStore>,
    /// Logout tokens already accepted, by `jti`.
    jtis: Arc<dyn JtiStore>,
    signing: Option<Arc<SigningClient>>,
    scopes: Vec<String>,
    base_path: String,
    callback_path: String,
    after_login: String,
    after_logout: String,
    post_logout_redirect_uri: Option<String>,
    session_ttl: i64,
    cookie_name: String,
    secure_cookie: bool,
    /// One refresh at a time: Tessera rotates refresh tokens, and presenting a spent one
    /// revokes the whole chain (two requests racing to refresh would end the login).
    refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for AuthKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKit")
            .field("rp", &self.inner.rp)
            .field("base_path", &self.inner.base_path)
            .finish_non_exhaustive()
    }
}

impl AuthKit {
    /// A kit with the defaults: routes under `/auth`, scopes `openid profile email org`,
    /// sessions of 10 hours in memory, back to `/` after login and logout. The callback
    /// route is the path of the relying party's `redirect_uri`.
    pub fn new(rp: Arc<RelyingParty>) -> Result<AuthKit, SdkError> {
        let redirect = url::Url::parse(&rp.redirect_uri())
            .map_err(|e| SdkError::Config(format!("redirect_uri: {e}")))?;
        let cookie_name = format!(
            "tessera_{}",
            rp.client_id()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        Ok(AuthKit {
            inner: Arc::new(Inner {
                secure_cookie: redirect.scheme() == "https",
                callback_path: redirect.path().to_owned(),
                rp,
                store: Arc::new(MemorySessionStore::default()),
                jtis: Arc::new(InMemoryJtiStore::default()),
                signing: None,
                scopes: ["profile", "email", "org"].map(String::from).to_vec(),
                base_path: "/auth".into(),
                after_login: "/".into(),
                after_logout: "/".into(),
                post_logout_redirect_uri: None,
                session_ttl: 36_000,
                cookie_name,
                refresh_lock: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> AuthKit {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Scopes asked for besides `openid` (`org` brings `roles` and the unit; `sign` lets the
    /// application ask for signatures with the user's token).
    pub fn scopes(self, scopes: &[&str]) -> AuthKit {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.edit(|i| i.scopes = scopes)
    }

    /// Where the kit's routes live: `{base}/login`, `{base}/logout`,
    /// `{base}/backchannel-logout`. Default `/auth`.
    pub fn base_path(self, base: &str) -> AuthKit {
        let base = base.trim_end_matches('/').to_owned();
        self.edit(|i| i.base_path = base)
    }

    /// Local path after a login that named none. Default `/`.
    pub fn after_login(self, path: &str) -> AuthKit {
        let path = path.to_owned();
        self.edit(|i| i.after_login = path)
    }

    /// Where logout ends: a `post_logout_redirect_uri` registered with Tessera (the browser
    /// goes through the provider's logout and comes back there). Without one, the provider's
    /// logout page is the end.
    pub fn post_logout_redirect_uri(self, uri: &str) -> AuthKit {
        let uri = uri.to_owned();
        self.edit(|i| i.post_logout_redirect_uri = Some(uri))
    }

    /// Local path after logout when the user had no session. Default `/`.
    pub fn after_logout(self, path: &str) -> AuthKit {
        let path = path.to_owned();
        self.edit(|i| i.after_logout = path)
    }

    /// Longest life of a session, whatever the tokens say. Default 10 hours.
    pub fn session_ttl(self, ttl: Duration) -> AuthKit {
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        self.edit(|i| i.session_ttl = secs)
    }

    /// Another session store (replicas need a shared one; see [`session`]).
    pub fn session_store(self, store: Arc<dyn SessionStore>) -> AuthKit {
        self.edit(|i| i.store = store)
    }

    /// Another replay store for logout tokens (replicas need a shared one; see
    /// [`crate::replay`]).
    pub fn jti_store(self, store: Arc<dyn JtiStore>) -> AuthKit {
        self.edit(|i| i.jtis = store)
    }

    /// The name of the session cookie. Default `tessera_<client_id>`, so that two applications
    /// on one host name (cookies ignore the port) keep apart.
    pub fn cookie_name(self, name: &str) -> AuthKit {
        let name = name.to_owned();
        self.edit(|i| i.cookie_name = name)
    }

    /// The signing client that [`AuthUser::signing`] hands out, acting with the user's token.
    pub fn signing(self, client: SigningClient) -> AuthKit {
        self.edit(|i| i.signing = Some(Arc::new(client)))
    }

    /// The relying party.
    pub fn relying_party(&self) -> &Arc<RelyingParty> {
        &self.inner.rp
    }

    /// The session store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// Path of the login route; `?return_to=/local/path` and `?level=2` are optional.
    pub fn login_path(&self) -> String {
        format!("{}/login", self.inner.base_path)
    }

    /// Path of the logout route (`POST`, from a form on the application's pages).
    pub fn logout_path(&self) -> String {
        format!("{}/logout", self.inner.base_path)
    }

    /// Path of the back-channel logout route; register `<origin><path>` as the client's
    /// `backchannel_logout_uri`.
    pub fn backchannel_logout_path(&self) -> String {
        format!("{}/backchannel-logout", self.inner.base_path)
    }

    /// Ends the application's sessions of provider session `sid`, or of user `sub`.
    pub async fn end_sessions(
        &self,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> Result<usize, SdkError> {
        self.inner.store.remove_signed_in(sid, sub).await
    }

    fn cookie_id(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == self.inner.cookie_name)
            .map(|c| c.value().to_owned())
    }

    fn set_cookie(&self, id: &str) -> HeaderValue {
        let cookie = Cookie::build((self.inner.cookie_name.as_str(), id))
            .path("/")
            .http_only(true)
            // Lax: the provider's redirect to the callback is a top-level GET that must carry
            // it; cross-site POSTs (logout CSRF) do not.
            .same_site(SameSite::Lax)
            .secure(self.inner.secure_cookie)
            .build();
        header_value(&cookie)
    }

    fn clear_cookie(&self) -> HeaderValue {
        let cookie = Cookie::build((self.inner.cookie_name.as_str(), ""))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.inner.secure_cookie)
            .max_age(cookie::time::Duration::ZERO)
            .build();
        header_value(&cookie)
    }
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Names and values are ours (identifier characters), so this cannot fail; an empty value
    // would only drop the cookie.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// A new session identifier: 256 random bits.
fn new_session_id() -> String {
    CsrfToken::new_random_len(32).secret().clone()
}

/// A local path to go back to: absolute path on this origin only (no open redirect).
fn local_path(candidate: Option<&str>, fallback: &str) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => fallback.to_owned(),
    }
}
