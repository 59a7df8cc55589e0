//! OpenID Connect endpoints: discovery, JWKS, authorize, token, userinfo.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tessera_core::OAuthError;
use tessera_core::oidc::authorize::{self};
use tessera_core::oidc::{device, discovery, introspect, par, revoke, token, userinfo};
use tessera_core::params::Params;
use tessera_core::session;
use tessera_proto::ErrorCode;

use super::errors::{ApiError, authorize_error, error_page, internal_page};
use super::extract::Now;
use super::flow::decision_response;
use super::{AppState, web};
use crate::pages::ErrorKind;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(configuration))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/par", post(par_endpoint))
        .route("/token", post(token_endpoint))
        .route("/device_authorization", post(device_authorization_endpoint))
        .route("/introspect", post(introspect_endpoint))
        .route("/revoke", post(revoke_endpoint))
        .route("/userinfo", get(userinfo_endpoint).post(userinfo_endpoint))
        // CSC API v2 §8.3 names the authorization server's endpoints under its `oauth2` base
        // URI (the issuer): the same endpoints, under those names.
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/pushed_authorize", post(par_endpoint))
        .route("/oauth2/token", post(token_endpoint))
        .route("/oauth2/revoke", post(revoke_endpoint))
}

fn public_json<T: serde::Serialize>(value: &T) -> Response {
    let mut resp = Json(value).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    // Browser-based apps read discovery and keys across origins.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

async fn configuration(State(s): State<AppState>) -> Response {
    public_json(&discovery::metadata(&s.provider.config))
}

async fn jwks(State(s): State<AppState>, Now(now): Now) -> Response {
    match s.provider.signer.jwks(now).await {
        Ok(keys) => public_json(&keys),
        Err(e) => ApiError {
            error: e.into(),
            bearer: false,
        }
        .into_response(),
    }
}

fn parse_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw)
        .map_err(|e| format!("malformed parameters: {e}"))
}

async fn authorize_get(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let raw = q.unwrap_or_default();
    authorize_any(s, now, peer, headers, raw.into_bytes(), Method::GET).await
}

async fn authorize_post(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize_any(s, now, peer, headers, body.to_vec(), Method::POST).await
}

/// OIDC Core §3.1.2.1: the authorization endpoint accepts GET and POST alike.
async fn authorize_any(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Vec<u8>,
    _m: Method,
) -> Response {
    let pairs = parse_pairs(&raw);
    let lang_param = pairs.as_ref().ok().and_then(|p| {
        p.iter()
            .find(|(k, _)| k == "ui_locales")
            .map(|(_, v)| v.split(' ').next().unwrap_or("").to_owned())
    });
    let (lang, _) = web::language(&headers, lang_param.as_deref());
    let path = "/authorize";
    let params = match pairs.and_then(|p| Params::from_pairs(p).map_err(|e| e.to_string())) {
        Ok(p) => p,
        Err(e) => return error_page(&s, lang, path, ErrorKind::BadRequest, Some(&e)),
    };
    let meta = s.meta(&headers, peer);
    let cookie = s.read_cookie(&headers, web::SESSION_COOKIE);
    let session = match session::current_session(&s.provider, cookie.as_deref(), now).await {
        Ok(sess) => sess,
        Err(e) => {
            return internal_page(&s, lang, path, "session lookup failed", e);
        }
    };
    match authorize::authorize(&s.provider, &params, session.as_ref(), &meta, now).await {
        Ok(decision) => decision_response(decision),
        Err(e) => authorize_error(&s, lang, path, e),
    }
}

/// The form body of a client-authenticated API endpoint (RFC 6749 §3.2).
fn api_form(headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    api_form_up_to(headers, body, tessera_core::params::MAX_VALUE_LEN)
}

/// [`api_form`] with values up to `max` bytes.
fn api_form_up_to(headers: &HeaderMap, body: &[u8], max: usize) -> Result<Params, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let invalid = |d: &str| ApiError {
        error: OAuthError::new(ErrorCode::InvalidRequest, d),
        bearer: false,
    };
    if !form {
        return Err(invalid(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    parse_pairs(body)
        .and_then(|p| Params::from_pairs_up_to(p, max).map_err(|e| e.to_string()))
        .map_err(|e| invalid(&e))
}

fn no_store_json<T: serde::Serialize>(value: T) -> Response {
    let mut r = Json(value).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The endpoints a client calls with its authentication and a form: the token endpoint
/// (RFC 6749 §3.2) and the device authorization endpoint (RFC 8628 §3.1).
enum ClientCall {
    Token,
    DeviceAuthorization,
}

async fn token_endpoint(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    client_call(ClientCall::Token, s, now, peer, headers, body).await
}

/// RFC 9126 §2: a client pushes its authorization request and gets a `request_uri` (201).
async fn par_endpoint(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match api_form_up_to(&headers, &body, par::MAX_PUSHED_VALUE_LEN) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match par::push(&s.provider, &params, authorization(&headers), now).await {
        Ok(pushed) => {
            let mut r = no_store_json(pushed);
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        Err(error) => ApiError {
            error,
            bearer: false,
        }
        .into_response(),
    }
}

/// RFC 8628 §3.1–3.2: a kiosk asks for a device code and a user code to show.
async fn device_authorization_endpoint(
    s: State<AppState>,
    now: Now,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    client_call(ClientCall::DeviceAuthorization, s, now, peer, headers, body).await
}

async fn client_call(
    call: ClientCall,
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match api_form(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let meta = s.meta(&headers, peer);
    let auth = authorization(&headers);
    let answer = match call {
        ClientCall::Token => token::token(&s.provider, &params, auth, &meta, now)
            .await
            .map(no_store_json),
        ClientCall::DeviceAuthorization => device::start(&s.provider, &params, auth, &meta, now)
            .await
            .map(no_store_json),
    };
    answer.unwrap_or_else(|error| {
        ApiError {
            error,
            bearer: false,
        }
        .into_response()
    })
}

/// RFC 7662.
async fn introspect_endpoint(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match api_form(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match introspect::introspect(&s.provider, &params, authorization(&headers), now).await {
        Ok(answer) => no_store_json(answer),
        Err(error) => ApiError {
            error,
            bearer: false,
        }
        .into_response(),
    }
}

/// RFC 7009: 200 with an empty body whether or not the token was found.
async fn revoke_endpoint(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match api_form(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let meta = s.meta(&headers, peer);
    match revoke::revoke(&s.provider, &params, authorization(&headers), &meta, now).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(error) => ApiError {
            error,
            bearer: false,
        }
        .into_response(),
    }
}

/// RFC 6750 §2.1 (header) and §2.2 (form body); never the query string.
fn bearer_token(headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, &'static str> {
    let header_token = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => match v.split_once(' ') {
            Some((scheme, tok))
                if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() =>
            {
                Some(tok.trim().to_owned())
            }
            _ => return Err("the Authorization header must use the Bearer scheme"),
        },
        None => None,
    };
    let body_token = parse_pairs(body).ok().and_then(|p| {
        p.into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    });
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err("send the access token in one place only"),
        (h, b) => Ok(h.or(b)),
    }
}

async fn userinfo_endpoint(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match bearer_token(&headers, &body) {
        Ok(Some(t)) => t,
        Ok(None) => {
            // RFC 6750 §3.1: no credentials → a bare challenge, no error code.
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tessera\""),
            );
            return r;
        }
        Err(d) => {
            return ApiError {
                error: OAuthError::new(ErrorCode::InvalidRequest, d),
                bearer: true,
            }
            .into_response();
        }
    };
    match userinfo::userinfo(&s.provider, &token, now).await {
        Ok(claims) => {
            let mut r = Json(claims).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(error) => ApiError {
            error,
            bearer: true,
        }
        .into_response(),
    }
}
