//! The kit's routes: login, callback, logout (RP-Initiated Logout 1.0) and back-channel logout.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::guard::secs;
use super::page::{problem, redirect};
use super::session::{PendingStart, Session, SignedIn};
use super::{
    AuthKit, MAX_PENDING, PENDING_TTL_SECS, acr_of_level, backchannel_logout_router, level_of_acr,
    local_path, new_session_id,
};
use crate::backchannel::unix_now;
use crate::transport::constant_time_eq;
use crate::{AuthOptions, BackchannelLogout, LogoutEvent};

/// Clock difference tolerated when checking that a fresh login is fresh.
const FRESH_LEEWAY_SECS: i64 = 60;

impl AuthKit {
    /// The kit's routes, to merge into the application's router (inside
    /// [`session_layer`](AuthKit::session_layer)):
    /// - `GET {base}/login[?return_to=/path][&level=2]` starts a login;
    /// - `GET <path of redirect_uri>` completes it;
    /// - `POST {base}/logout` ends the local session, then the provider's
    ///   (RP-Initiated Logout 1.0);
    /// - `POST {base}/backchannel-logout` ends the sessions of a provider session
    ///   (Back-Channel Logout 1.0); register it as the client's `backchannel_logout_uri`.
    pub fn routes<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let store = self.inner.store.clone();
        let receiver = BackchannelLogout::new(self.inner.rp.clone(), move |event: LogoutEvent| {
            let store = store.clone();
            async move {
                store
                    .remove_signed_in(event.sid.as_deref(), event.sub.as_deref())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .with_jti_store(self.inner.jtis.clone());
        Router::new()
            .route(&self.login_path(), get(login))
            .route(&self.inner.callback_path, get(callback))
            .route(&self.logout_path(), post(logout))
            .with_state(self.clone())
            .merge(backchannel_logout_router(
                Arc::new(receiver),
                &self.backchannel_logout_path(),
            ))
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    level: Option<u8>,
}

async fn login(
    State(kit): State<AuthKit>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    start_login(&kit, &headers, q.return_to, q.level, false, unix_now()).await
}

/// Sends the browser to the provider's authorization endpoint, remembering the request in
/// the browser's session (created if needed). `level` asks for that level of assurance
/// (`acr_values`); `fresh` for a new authentication (`max_age=0`).
pub(super) async fn start_login(
    kit: &AuthKit,
    headers: &HeaderMap,
    return_to: Option<String>,
    level: Option<u8>,
    fresh: bool,
    now: i64,
) -> Response {
    let i = &kit.inner;
    let existing = match kit.cookie_id(headers) {
        Some(id) => match kit.live_session(&id, now).await {
            Ok(found) => found.map(|s| (id, s)),
            Err(_) => return store_down(),
        },
        None => None,
    };
    let (id, mut session) = existing.unwrap_or_else(|| (new_session_id(), Session::default()));
    let options = AuthOptions {
        acr_values: level.map(acr_of_level),
        max_age: fresh.then_some(Duration::ZERO),
        ..AuthOptions::default()
    };
    let scopes: Vec<&str> = i.scopes.iter().map(String::as_str).collect();
    let (url, pending) = i.rp.authorization_url(&scopes, &options);
    session
        .pending
        .retain(|p| p.started_at + PENDING_TTL_SECS > now);
    if session.pending.len() >= MAX_PENDING {
        session.pending.remove(0);
    }
    session.pending.push(PendingStart {
        login: pending,
        return_to: local_path(return_to.as_deref(), &i.after_login),
        level,
        fresh,
        started_at: now,
    });
    session.expires_at = session.expires_at.max(now + PENDING_TTL_SECS);
    if i.store.save(&id, &session, now).await.is_err() {
        return store_down();
    }
    let mut resp = redirect(url.as_str());
    resp.headers_mut()
        .insert(header::SET_COOKIE, kit.set_cookie(&id));
    resp
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(kit): State<AuthKit>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    complete_login(&kit, &headers, q, unix_now()).await
}

async fn complete_login(
    kit: &AuthKit,
    headers: &HeaderMap,
    q: CallbackQuery,
    now: i64,
) -> Response {
    let i = &kit.inner;
    let retry = kit.login_path();
    let expired = || {
        problem(
            StatusCode::BAD_REQUEST,
            "Phiên đăng nhập đã hết hạn hoặc không hợp lệ",
            "This sign-in has expired or does not belong to this browser.",
            Some(&retry),
        )
    };
    let Some(id) = kit.cookie_id(headers) else {
        return expired();
    };
    let mut session = match kit.live_session(&id, now).await {
        Ok(Some(s)) => s,
        Ok(None) => return expired(),
        Err(_) => return store_down(),
    };
    let state = q.state.unwrap_or_default();
    let Some(at) = session
        .pending
        .iter()
        .position(|p| constant_time_eq(&p.login.state, &state))
    else {
        return expired();
    };
    // Each authorization response is used once, whatever its outcome.
    let pending = session.pending.remove(at);
    if i.store.save(&id, &session, now).await.is_err() {
        return store_down();
    }
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or_default();
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("Đăng nhập không thành công ({error})"),
            &format!("The provider refused the sign-in: {error} {detail}"),
            Some(&retry),
        );
    }
    let Some(code) = q.code else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Thiếu mã xác thực trong phản hồi",
            "The provider's answer carries no authorization code.",
            Some(&retry),
        );
    };
    let login = match i.rp.exchange_code(&pending.login, &code, &state).await {
        Ok(login) => login,
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                "Không hoàn tất được đăng nhập",
                &format!("The sign-in could not be completed: {e}"),
                Some(&retry),
            );
        }
    };
    if let Some(level) = pending.level
        && level_of_acr(login.claims.acr.as_deref()) < level
    {
        return problem(
            StatusCode::FORBIDDEN,
            "Trang này cần xác thực hai yếu tố, nhưng lần đăng nhập chưa đạt mức đó",
            "This page needs two-factor authentication, which the sign-in did not reach.",
            None,
        );
    }
    let authenticated_now = login
        .claims
        .auth_time
        .is_some_and(|t| t + FRESH_LEEWAY_SECS >= pending.started_at);
    if pending.fresh && !authenticated_now {
        return problem(
            StatusCode::FORBIDDEN,
            "Cần đăng nhập lại để tiếp tục",
            "The provider did not authenticate you again.",
            Some(&retry),
        );
    }
    // A new identifier once signed in (no session fixation); the old one is gone.
    let signed_in = Session {
        expires_at: now.saturating_add(i.session_ttl),
        pending: Vec::new(),
        user: Some(SignedIn {
            claims: login.claims,
            id_token: login.id_token,
            access_token: login.access_token,
            refresh_token: login.refresh_token,
            access_expires_at: login.expires_in.map(|d| now + secs(d)),
            signed_in_at: now,
        }),
    };
    let new_id = new_session_id();
    if i.store.remove(&id).await.is_err() || i.store.save(&new_id, &signed_in, now).await.is_err() {
        return store_down();
    }
    let mut resp = redirect(&pending.return_to);
    resp.headers_mut()
        .insert(header::SET_COOKIE, kit.set_cookie(&new_id));
    resp
}

async fn logout(State(kit): State<AuthKit>, headers: HeaderMap) -> Response {
    let i = &kit.inner;
    if !same_origin(&kit, &headers) {
        return problem(
            StatusCode::FORBIDDEN,
            "Yêu cầu đăng xuất không đến từ ứng dụng này",
            "The logout request did not come from this application.",
            None,
        );
    }
    let Some(id) = kit.cookie_id(&headers) else {
        return redirect_clearing(&kit, &i.after_logout);
    };
    let session = match i.store.load(&id).await {
        Ok(s) => s,
        Err(_) => return store_down(),
    };
    if i.store.remove(&id).await.is_err() {
        return store_down();
    }
    let target = session
        .and_then(|s| s.user)
        .and_then(|u| {
            i.rp.end_session_url(&u.id_token, i.post_logout_redirect_uri.as_deref(), None)
                .ok()
        })
        .map_or_else(|| i.after_logout.clone(), |u| u.to_string());
    redirect_clearing(&kit, &target)
}

fn redirect_clearing(kit: &AuthKit, location: &str) -> Response {
    let mut resp = redirect(location);
    resp.headers_mut()
        .insert(header::SET_COOKIE, kit.clear_cookie());
    resp
}

/// A cross-site form cannot log the user out: the cookie is `SameSite=Lax`, and a browser's
/// `Origin`, when sent, must be the application's own.
fn same_origin(kit: &AuthKit, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    url::Url::parse(&kit.inner.rp.redirect_uri())
        .map(|own| own.origin().ascii_serialization() == origin)
        .unwrap_or(false)
}

fn store_down() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Không đọc được phiên làm việc, hãy thử lại sau",
        "The session store is unavailable; try again later.",
        None,
    )
    .into_response()
}
