//! The session layer, the [`AuthUser`] extractor and the role/level guard.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{FromFnLayer, Next, from_fn_with_state};
use axum::response::Response;

use super::page::problem;
use super::routes::start_login;
use super::session::{Session, SignedIn};
use super::{AuthKit, REFRESH_EARLY_SECS, level_of_acr};
use crate::backchannel::unix_now;
use crate::signing::SigningClient;
use crate::{BoxFuture, IdentityClaims, SdkError};

/// The signed-in user of this request, from the session layer.
///
/// As an extractor it sends a visitor without a session to the login (then back to the page);
/// take `Option<AuthUser>` for pages that anyone may see.
#[derive(Clone)]
pub struct AuthUser {
    /// Claims of the verified ID token (the newest one, after a refresh).
    pub claims: IdentityClaims,
    access_token: String,
    signing: Option<Arc<SigningClient>>,
}

impl std::fmt::Debug for AuthUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthUser")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl AuthUser {
    /// The user's identifier at Tessera (`sub`).
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    /// The level of assurance of the login (1: password; 2: two factors or a passkey).
    pub fn level(&self) -> u8 {
        level_of_acr(self.claims.acr.as_deref())
    }

    /// Whether Tessera gave the user `role` (scope `org`).
    pub fn has_role(&self, role: &str) -> bool {
        self.claims.roles.iter().any(|r| r == role)
    }

    /// The user's current access token (refreshed by the session layer when it expired).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The signing client of the kit ([`AuthKit::signing`]) acting with this user's token:
    /// the requests it submits are the user's own (scope `sign`).
    pub fn signing(&self) -> Result<SigningClient, SdkError> {
        self.signing
            .as_ref()
            .map(|c| c.for_official(&self.access_token))
            .ok_or_else(|| SdkError::Config("the AuthKit has no signing client".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let Some(kit) = parts.extensions.get::<AuthKit>().cloned() else {
            return Err(layer_missing());
        };
        let back = return_to(parts);
        Err(start_login(&kit, &parts.headers, back, None, false, unix_now()).await)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        if parts.extensions.get::<AuthKit>().is_none() {
            return Err(layer_missing());
        }
        Ok(parts.extensions.get::<AuthUser>().cloned())
    }
}

fn layer_missing() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Ứng dụng chưa được cấu hình đăng nhập",
        "The application is missing AuthKit::session_layer.",
        None,
    )
}

/// This page, to come back to after a login: only for `GET`, since a form's body cannot
/// survive the round trip through the provider.
fn return_to(parts: &Parts) -> Option<String> {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return None;
    }
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    uri.path_and_query().map(|pq| pq.as_str().to_owned())
}

/// What a route needs of the signed-in user. Levels: 1 (password), 2 (two factors or a
/// passkey).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirement {
    /// Lowest level of assurance; a lower session starts a step-up login.
    pub level: Option<u8>,
    /// The user must hold one of these roles (none listed: any user).
    pub roles: Vec<String>,
    /// The user must have authenticated at most this long ago; else a new login with
    /// `max_age=0`.
    pub max_age: Option<Duration>,
}

impl Requirement {
    /// Any signed-in user.
    pub fn signed_in() -> Requirement {
        Requirement::default()
    }

    /// At least level `level`.
    pub fn level(level: u8) -> Requirement {
        Requirement::signed_in().and_level(level)
    }

    /// One of the roles given with `role`/`and_role`.
    pub fn role(role: &str) -> Requirement {
        Requirement::signed_in().and_role(role)
    }

    pub fn and_level(mut self, level: u8) -> Requirement {
        self.level = Some(level);
        self
    }

    pub fn and_role(mut self, role: &str) -> Requirement {
        self.roles.push(role.to_owned());
        self
    }

    /// Authenticated within `max_age` (re-authentication for sensitive actions).
    pub fn fresh(mut self, max_age: Duration) -> Requirement {
        self.max_age = Some(max_age);
        self
    }
}

/// State of one guard layer.
#[derive(Clone, Debug)]
pub struct Guard {
    kit: AuthKit,
    requirement: Requirement,
}

type GuardFn = fn(State<Guard>, Request, Next) -> BoxFuture<'static, Response>;
type SessionFn = fn(State<AuthKit>, Request, Next) -> BoxFuture<'static, Response>;

/// The layer type of [`AuthKit::require`].
pub type GuardLayer = FromFnLayer<GuardFn, Guard, (State<Guard>, Request)>;
/// The layer type of [`AuthKit::session_layer`].
pub type SessionLayer = FromFnLayer<SessionFn, AuthKit, (State<AuthKit>, Request)>;

impl AuthKit {
    /// The layer that finds the request's session (refreshing its access token when it
    /// expired) and hands the [`AuthUser`] to extractors and guards. Put it on the whole
    /// router, kit routes included: `.merge(kit.routes()).layer(kit.session_layer())`.
    pub fn session_layer(&self) -> SessionLayer {
        from_fn_with_state(self.clone(), session_middleware as SessionFn)
    }

    /// A guard for routes (`.route_layer(kit.require(..))`, inside the session layer): a
    /// visitor goes to the login; a user without the role gets 403; a session below the level,
    /// or older than `max_age`, starts a step-up login and comes back here.
    pub fn require(&self, requirement: Requirement) -> GuardLayer {
        let guard = Guard {
            kit: self.clone(),
            requirement,
        };
        from_fn_with_state(guard, guard_middleware as GuardFn)
    }

    /// The signed-in user of the session in `headers`, if any, at `now`: expired sessions are
    /// removed, an expired access token is refreshed (a refused refresh ends the session).
    pub(super) async fn current_user(
        &self,
        headers: &axum::http::HeaderMap,
        now: i64,
    ) -> Result<Option<AuthUser>, SdkError> {
        let Some(id) = self.cookie_id(headers) else {
            return Ok(None);
        };
        let Some(mut session) = self.live_session(&id, now).await? else {
            return Ok(None);
        };
        let Some(user) = &session.user else {
            return Ok(None);
        };
        if needs_refresh(user, now) {
            let _one_at_a_time = self.inner.refresh_lock.lock().await;
            // Another request may have refreshed while this one waited.
            let Some(fresh) = self.live_session(&id, now).await? else {
                return Ok(None);
            };
            session = fresh;
            match self.refresh(&mut session, now).await {
                Ok(()) => self.inner.store.save(&id, &session, now).await?,
                Err(SdkError::TokenEndpoint { .. }) => {
                    // The provider refused the refresh token: the login is over.
                    self.inner.store.remove(&id).await?;
                    return Ok(None);
                }
                // Provider unreachable: go on with the identity; API calls will say why.
                Err(_) => {}
            }
        }
        Ok(session.user.map(|u| AuthUser {
            claims: u.claims,
            access_token: u.access_token,
            signing: self.inner.signing.clone(),
        }))
    }

    /// The session `id` unless it has expired (then it is removed).
    pub(super) async fn live_session(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<Session>, SdkError> {
        match self.inner.store.load(id).await? {
            Some(s) if s.expires_at > now => Ok(Some(s)),
            Some(_) => {
                self.inner.store.remove(id).await?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn refresh(&self, session: &mut Session, now: i64) -> Result<(), SdkError> {
        let Some(user) = session.user.as_mut().filter(|u| needs_refresh(u, now)) else {
            return Ok(());
        };
        let Some(refresh_token) = user.refresh_token.clone() else {
            return Ok(());
        };
        let new = self.inner.rp.refresh(&refresh_token).await?;
        user.access_token = new.access_token;
        user.access_expires_at = new.expires_in.map(|d| now + secs(d));
        if new.refresh_token.is_some() {
            user.refresh_token = new.refresh_token;
        }
        if let Some(id_token) = new.id_token {
            user.id_token = id_token;
        }
        if let Some(claims) = new.claims {
            user.claims = claims;
        }
        Ok(())
    }
}

fn needs_refresh(user: &SignedIn, now: i64) -> bool {
    user.refresh_token.is_some()
        && user
            .access_expires_at
            .is_some_and(|at| at <= now + REFRESH_EARLY_SECS)
}

pub(super) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn session_middleware(
    State(kit): State<AuthKit>,
    mut req: Request,
    next: Next,
) -> BoxFuture<'static, Response> {
    Box::pin(async move {
        match kit.current_user(req.headers(), unix_now()).await {
            Ok(Some(user)) => {
                req.extensions_mut().insert(user);
            }
            Ok(None) => {}
            Err(_) => {
                return problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Không đọc được phiên làm việc, hãy thử lại sau",
                    "The session store is unavailable; try again later.",
                    None,
                );
            }
        }
        req.extensions_mut().insert(kit);
        next.run(req).await
    })
}

fn guard_middleware(
    State(guard): State<Guard>,
    req: Request,
    next: Next,
) -> BoxFuture<'static, Response> {
    Box::pin(async move {
        let now = unix_now();
        let (parts, body) = req.into_parts();
        let need = &guard.requirement;
        let back = return_to(&parts);
        let Some(user) = parts.extensions.get::<AuthUser>().cloned() else {
            return start_login(&guard.kit, &parts.headers, back, need.level, false, now).await;
        };
        if !need.roles.is_empty() && !need.roles.iter().any(|r| user.has_role(r)) {
            return problem(
                StatusCode::FORBIDDEN,
                "Tài khoản của bạn không có quyền vào trang này",
                "Your account does not have the role this page needs.",
                None,
            );
        }
        let level_ok = need.level.is_none_or(|l| user.level() >= l);
        let fresh_ok = need.max_age.is_none_or(|max| {
            user.claims
                .auth_time
                .is_some_and(|t| now.saturating_sub(t) <= secs(max))
        });
        if !level_ok || !fresh_ok {
            return start_login(&guard.kit, &parts.headers, back, need.level, !fresh_ok, now).await;
        }
        next.run(Request::from_parts(parts, body)).await
    })
}
