//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): `GET|POST /logout`, and
//! `POST /logout/confirm` for the confirmation form.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tessera_core::error::PageError;
use tessera_core::logout::{self, Decision, LogoutError, LogoutRequest};
use tessera_core::params::Params;
use tessera_core::request::RequestMeta;
use tessera_core::session;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::errors::{error_page, internal_page, page};
use super::extract::Now;
use super::web::{csrf_cookie, with_cookies};
use super::{AppState, web};
use crate::pages::{ErrorKind, Lang, LogoutConfirmView, SignedOutView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/logout", get(logout_get).post(logout_post))
        .route("/logout/confirm", post(confirm))
}

async fn logout_get(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    end_session(s, now, peer, headers, q.unwrap_or_default().into_bytes()).await
}

/// RP-Initiated Logout 1.0 §2: the endpoint takes GET and POST alike.
async fn logout_post(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    end_session(s, now, peer, headers, body.to_vec()).await
}

/// Longest `id_token_hint` accepted (ID tokens can outgrow the usual parameter limit).
const MAX_HINT_LEN: usize = 16 * 1024;

type Pairs = Vec<(String, String)>;

/// Takes `id_token_hint` out of the parameters, checked on its own terms.
fn split_hint(mut pairs: Pairs) -> Result<(Pairs, Option<String>), String> {
    let mut hints: Vec<String> = Vec::new();
    pairs.retain(|(k, v)| {
        if k == "id_token_hint" {
            hints.push(v.clone());
            false
        } else {
            true
        }
    });
    hints.retain(|h| !h.is_empty());
    match hints.as_slice() {
        [] => Ok((pairs, None)),
        [h] if h.len() <= MAX_HINT_LEN && !h.chars().any(char::is_control) => {
            Ok((pairs, Some(h.clone())))
        }
        [_] => Err("parameter 'id_token_hint' is too long or malformed".into()),
        _ => Err("parameter 'id_token_hint' is repeated".into()),
    }
}

fn parse(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .map_err(|e| format!("malformed parameters: {e}"))
}

/// `lang` (the page's switch links), else the first of `ui_locales` (§2), else cookie/header.
fn language(headers: &HeaderMap, pairs: &[(String, String)]) -> Lang {
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let wanted = find("lang").or_else(|| {
        find("ui_locales").and_then(|v| v.split(' ').find(|t| Lang::from_tag(t).is_some()))
    });
    web::language(headers, wanted).0
}

fn logout_error(s: &AppState, lang: Lang, e: LogoutError) -> Response {
    match e {
        LogoutError::Page { kind, detail } => {
            let kind = match kind {
                PageError::UnknownClient => ErrorKind::UnknownClient,
                PageError::InvalidRedirectUri => ErrorKind::InvalidRedirectUri,
                PageError::BadRequest | PageError::RequestExpired => ErrorKind::BadRequest,
                PageError::WrongAudience => ErrorKind::WrongAudience,
            };
            error_page(s, lang, "/logout", kind, Some(&detail))
        }
        LogoutError::Internal(e) => internal_page(s, lang, "/logout", "logout failed", e),
    }
}

async fn session(
    s: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<(SessionRecord, User)>, Response> {
    let cookie = s.read_cookie(headers, web::SESSION_COOKIE);
    session::current_session(&s.provider, cookie.as_deref(), now)
        .await
        .map_err(|e| internal_page(s, Lang::Vi, "/logout", "session lookup failed", e))
}

async fn end_session(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Vec<u8>,
) -> Response {
    let pairs = parse(&raw);
    let lang = language(&headers, pairs.as_deref().unwrap_or_default());
    let parsed = pairs
        .and_then(split_hint)
        .and_then(|(rest, hint)| Ok((Params::from_pairs(rest).map_err(|e| e.to_string())?, hint)));
    let (params, hint) = match parsed {
        Ok(v) => v,
        Err(e) => return error_page(&s, lang, "/logout", ErrorKind::BadRequest, Some(&e)),
    };
    let req = match logout::validate_with_hint(&s.provider, &params, hint.as_deref(), now).await {
        Ok(req) => req,
        Err(e) => return logout_error(&s, lang, e),
    };
    let current = match session(&s, &headers, now).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let meta = s.meta(&headers, peer);
    match (logout::decide(&req, current.as_ref()), current) {
        (Decision::EndNow, Some((record, _))) => {
            finish(&s, lang, &req, Some(&record), &meta, now).await
        }
        (Decision::Confirm, Some((_, user))) => confirm_page(&s, &headers, lang, &req, &user),
        _ => finish(&s, lang, &req, None, &meta, now).await,
    }
}

/// The form that asks first; the request's own parameters ride along as hidden fields and
/// are validated again when it comes back.
fn confirm_page(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    req: &LogoutRequest,
    user: &User,
) -> Response {
    let (csrf, set) = csrf_cookie(s, headers);
    let query = serde_urlencoded::to_string(
        [
            ("client_id", &req.client_id),
            ("post_logout_redirect_uri", &req.post_logout_redirect_uri),
            ("state", &req.state),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    let path = format!("/logout?{query}");
    let html = s.pages.logout_confirm(
        lang,
        &LogoutConfirmView {
            path_and_query: &path,
            csrf_token: &s.provider.keyed.csrf_token(&csrf),
            client_id: req.client_id.as_deref(),
            post_logout_redirect_uri: req.post_logout_redirect_uri.as_deref(),
            state: req.state.as_deref(),
            client_name: req.client_name.as_deref(),
            display_name: &user.display_name,
            username: &user.username,
        },
    );
    with_cookies(
        page(StatusCode::OK, html),
        &set.into_iter().collect::<Vec<_>>(),
    )
}

/// `POST /logout/confirm`: CSRF first, then the same validation as `/logout`.
async fn confirm(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(pairs) = parse(&body) else {
        return error_page(&s, Lang::Vi, "/logout", ErrorKind::BadRequest, None);
    };
    let lang = language(&headers, &pairs);
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !super::forms::csrf_ok(&s, &headers, field("csrf_token")) {
        return error_page(&s, lang, "/logout", ErrorKind::CsrfFailed, None);
    }
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "client_id" | "post_logout_redirect_uri" | "state"
            )
        })
        .cloned()
        .collect();
    let params = match Params::from_pairs(kept) {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                &s,
                lang,
                "/logout",
                ErrorKind::BadRequest,
                Some(&e.to_string()),
            );
        }
    };
    let req = match logout::validate(&s.provider, &params, now).await {
        Ok(req) => req,
        Err(e) => return logout_error(&s, lang, e),
    };
    let current = match session(&s, &headers, now).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let meta = s.meta(&headers, peer);
    finish(&s, lang, &req, current.as_ref().map(|(r, _)| r), &meta, now).await
}

/// Ends `session` if given, clears the cookie, then returns to the application or says so.
async fn finish(
    s: &AppState,
    lang: Lang,
    req: &LogoutRequest,
    session: Option<&SessionRecord>,
    meta: &RequestMeta,
    now: i64,
) -> Response {
    // A session that came through an upstream (VNeID) is ended there too, afterwards.
    let mut via_upstream = None;
    if let Some(record) = session {
        match tessera_core::upstream::session_upstream(&s.provider, &record.id).await {
            Ok(v) => via_upstream = v,
            Err(e) => tracing::warn!(error = %e, "upstream of the session unknown"),
        }
        match session::end_session(&s.provider, record, req.client_id.as_deref(), meta, now).await {
            Ok(Some(ended)) if ended.notifications > 0 => s.outbox_wake.notify_one(),
            Ok(_) => {}
            Err(e) => {
                return internal_page(s, lang, "/logout", "ending the session failed", e);
            }
        }
    }
    let clear = vec![s.set_cookie(web::SESSION_COOKIE, "", 0)];
    if let Some((up, id_token)) = via_upstream {
        let then = logout::redirect_after(req).ok().flatten();
        if let Some(url) =
            super::upstream::upstream_logout_url(s, &up, &id_token, then.as_deref()).await
        {
            return with_cookies(Redirect::to(&url).into_response(), &clear);
        }
    }
    let resp = match logout::redirect_after(req) {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        Ok(None) => {
            let html = s.pages.signed_out(
                lang,
                &SignedOutView {
                    path_and_query: "/logout",
                },
            );
            page(StatusCode::OK, html)
        }
        Err(e) => internal_page(s, lang, "/logout", "post-logout redirect", e),
    };
    with_cookies(resp, &clear)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn long_hints_pass_but_not_repeated_or_huge_ones() {
        let long = "a".repeat(5000);
        let (rest, hint) =
            split_hint(pairs(&[("id_token_hint", &long), ("state", "s")])).unwrap_or_default();
        assert_eq!(hint.as_deref(), Some(long.as_str()));
        assert_eq!(rest, pairs(&[("state", "s")]));
        assert_eq!(
            split_hint(pairs(&[("id_token_hint", "")])),
            Ok((vec![], None))
        );
        assert!(split_hint(pairs(&[("id_token_hint", "a"), ("id_token_hint", "b")])).is_err());
        assert!(split_hint(pairs(&[("id_token_hint", &"a".repeat(MAX_HINT_LEN + 1))])).is_err());
        assert!(split_hint(pairs(&[("id_token_hint", "a\nb")])).is_err());
    }
}
