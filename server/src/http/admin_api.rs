//! The administration API (`/admin/api/…`): JSON over HTTP, authorised by Tessera's own access
//! tokens carrying the `tessera:admin` scope, for a user holding administrative grants. Each
//! handler authenticates first (the [`Admin`] extractor), then parses its input, then calls one
//! function of `tessera_core::admin_api`, which applies the unit-scope rules and audits.
//!
//! A new endpoint adds its line to [`admin_routes!`] below and its path to
//! `admin_openapi.json` (the test `openapi_matches_routes` keeps the two equal). The
//! credential endpoints (`/admin/api/credentials…`) check the owner's unit in
//! `admin_api::credentials`.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::admin_api::{self, AdminApiError, Caller, clients, credentials, units, users};

use super::AppState;
use super::errors::AdminApiFailure;
use crate::app::now;

/// The OpenAPI 3.1 description of this API, maintained by hand next to the routes.
pub const OPENAPI: &str = include_str!("admin_openapi.json");

/// Declares the routes once, so that [`ROUTES`] (checked against the OpenAPI document) is
/// exactly what the router serves.
macro_rules! admin_routes {
    ($($method:ident $path:literal => $handler:ident;)*) => {
        /// Every route of the administration API as (method, path).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        pub fn routes() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($handler)))*
                .route("/admin/api/{*rest}", axum::routing::any(unknown))
                .layer(axum::middleware::map_response(method_not_allowed_as_json))
        }
    };
}

admin_routes! {
    get "/admin/api/openapi.json" => openapi;
    get "/admin/api/me" => me;
    get "/admin/api/units" => units_tree;
    post "/admin/api/units" => unit_create;
    get "/admin/api/units/{id}" => unit_get;
    patch "/admin/api/units/{id}" => unit_rename;
    get "/admin/api/users" => users_list;
    post "/admin/api/users" => user_create;
    get "/admin/api/users/{id}" => user_get;
    patch "/admin/api/users/{id}" => user_update;
    post "/admin/api/users/{id}/disable" => user_disable;
    post "/admin/api/users/{id}/enable" => user_enable;
    post "/admin/api/users/{id}/password" => user_password;
    post "/admin/api/users/{id}/unlock" => user_unlock;
    get "/admin/api/users/{id}/grants" => grants_list;
    post "/admin/api/users/{id}/grants" => grant_add;
    delete "/admin/api/users/{id}/grants/{role}/{unit_id}" => grant_remove;
    get "/admin/api/clients" => clients_list;
    post "/admin/api/clients" => client_create;
    get "/admin/api/clients/{id}" => client_get;
    patch "/admin/api/clients/{id}" => client_update;
    delete "/admin/api/clients/{id}" => client_remove;
    post "/admin/api/clients/{id}/secret" => client_secret;
    get "/admin/api/credentials" => credentials_list;
    post "/admin/api/credentials" => credential_create;
    get "/admin/api/credentials/expiring" => credentials_expiring;
    get "/admin/api/credentials/{id}" => credential_get;
    post "/admin/api/credentials/{id}/certificate" => credential_import;
    post "/admin/api/credentials/{id}/renew" => credential_renew;
    post "/admin/api/credentials/{id}/suspend" => credential_suspend;
    post "/admin/api/credentials/{id}/resume" => credential_resume;
    post "/admin/api/credentials/{id}/revoke" => credential_revoke;
}

/// An authenticated administrator (RFC 6750 §2.1: the `Authorization` header only).
pub struct Admin {
    caller: Caller,
    now: i64,
    action: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Admin, Response> {
        let now = now();
        let token = match parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""))
        {
            None => {
                return Err(
                    AdminApiFailure(AdminApiError::InvalidToken(String::new())).into_response()
                );
            }
            Some(v) => match v.split_once(' ') {
                Some((scheme, tok))
                    if scheme.eq_ignore_ascii_case("bearer") && !tok.trim().is_empty() =>
                {
                    tok.trim().to_owned()
                }
                _ => {
                    return Err(AdminApiFailure(AdminApiError::InvalidToken(
                        "the Authorization header must carry a Bearer access token".into(),
                    ))
                    .into_response());
                }
            },
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let meta = s.meta(&parts.headers, peer);
        let caller = admin_api::authenticate(&s.provider, &token, meta, now)
            .await
            .map_err(|e| AdminApiFailure(e).into_response())?;
        Ok(Admin {
            caller,
            now,
            action: format!("{} {}", parts.method, parts.uri.path()),
        })
    }
}

/// A JSON request body; anything else is a JSON `invalid_request`.
pub struct Body<T>(T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Body<T>, Response> {
        let json = is_json(&req);
        let bad = |m: String| AdminApiFailure(AdminApiError::Invalid(m)).into_response();
        if !json {
            return Err(bad("the body must be application/json".into()));
        }
        let bytes = Bytes::from_request(req, s)
            .await
            .map_err(|e| bad(format!("cannot read the body: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| bad(format!("invalid JSON body: {e}")))
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// Query parameters; unknown or malformed ones are a JSON `invalid_request`.
fn query<T: DeserializeOwned + Default>(raw: Option<String>) -> Result<T, AdminApiError> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(&q)
            .map_err(|e| AdminApiError::Invalid(format!("invalid query: {e}"))),
    }
}

/// Maps an operation's result; refusals of an authenticated administrator are audited.
async fn answer<T: Serialize>(
    s: &AppState,
    a: &Admin,
    status: StatusCode,
    result: Result<Option<T>, AdminApiError>,
) -> Response {
    match result {
        Ok(Some(v)) => {
            let mut r = (status, Json(v)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            if e.is_refusal()
                && let Err(audit) =
                    admin_api::record_refusal(&s.provider, &a.caller, &a.action, &e, a.now).await
            {
                return AdminApiFailure(AdminApiError::Internal(audit)).into_response();
            }
            AdminApiFailure(e).into_response()
        }
    }
}

async fn ok<T: Serialize>(s: &AppState, a: &Admin, r: Result<T, AdminApiError>) -> Response {
    answer(s, a, StatusCode::OK, r.map(Some)).await
}

async fn created<T: Serialize>(s: &AppState, a: &Admin, r: Result<T, AdminApiError>) -> Response {
    answer(s, a, StatusCode::CREATED, r.map(Some)).await
}

async fn gone(s: &AppState, a: &Admin, r: Result<(), AdminApiError>) -> Response {
    answer(s, a, StatusCode::NO_CONTENT, r.map(|()| None::<()>)).await
}

async fn openapi() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

async fn unknown() -> Response {
    AdminApiFailure(AdminApiError::NotFound(
        "no such administration API endpoint (see /admin/api/openapi.json)".into(),
    ))
    .into_response()
}

/// A known path with another method: the same 405 and `Allow` header, with a JSON body.
async fn method_not_allowed_as_json(resp: Response) -> Response {
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let body = serde_json::json!({
        "error": "method_not_allowed",
        "error_description": "this endpoint does not take that method (see /admin/api/openapi.json)",
    });
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response();
    if let Some(allow) = allow {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    r
}

async fn me(State(s): State<AppState>, a: Admin) -> Response {
    let v = admin_api::whoami(&a.caller);
    ok(&s, &a, Ok(v)).await
}

async fn units_tree(State(s): State<AppState>, a: Admin) -> Response {
    let r = units::tree(&s.provider, &a.caller).await;
    ok(&s, &a, r).await
}

async fn unit_create(
    State(s): State<AppState>,
    a: Admin,
    Body(b): Body<units::NewUnit>,
) -> Response {
    let r = units::create(&s.provider, &a.caller, b, a.now).await;
    created(&s, &a, r).await
}

async fn unit_get(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = units::get(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

async fn unit_rename(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<units::UnitPatch>,
) -> Response {
    let r = units::rename(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn users_list(State(s): State<AppState>, a: Admin, RawQuery(q): RawQuery) -> Response {
    let r = match query(q) {
        Ok(q) => users::list(&s.provider, &a.caller, q).await,
        Err(e) => Err(e),
    };
    ok(&s, &a, r).await
}

async fn user_create(
    State(s): State<AppState>,
    a: Admin,
    Body(b): Body<users::NewUserBody>,
) -> Response {
    let r = users::create(&s.provider, &a.caller, b, a.now).await;
    created(&s, &a, r).await
}

async fn user_get(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::get(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn user_update(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<users::UserPatch>,
) -> Response {
    let r = users::update(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn user_disable(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::disable(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn user_enable(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::enable(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn user_password(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::reset_password(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn user_unlock(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::unlock(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn grants_list(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = users::list_grants(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

async fn grant_add(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<users::GrantBody>,
) -> Response {
    let r = users::add_grant(&s.provider, &a.caller, &id, b, a.now).await;
    created(&s, &a, r).await
}

async fn grant_remove(
    State(s): State<AppState>,
    a: Admin,
    Path((id, role, unit)): Path<(String, String, String)>,
) -> Response {
    let r = users::remove_grant(&s.provider, &a.caller, &id, &role, &unit, a.now).await;
    gone(&s, &a, r).await
}

async fn clients_list(State(s): State<AppState>, a: Admin, RawQuery(q): RawQuery) -> Response {
    let r = match query(q) {
        Ok(q) => clients::list(&s.provider, &a.caller, q).await,
        Err(e) => Err(e),
    };
    ok(&s, &a, r).await
}

async fn client_create(
    State(s): State<AppState>,
    a: Admin,
    Body(b): Body<clients::NewClientBody>,
) -> Response {
    let r = clients::create(&s.provider, &a.caller, b, a.now).await;
    created(&s, &a, r).await
}

async fn client_get(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = clients::get(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

async fn client_update(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<clients::ClientPatch>,
) -> Response {
    let r = clients::update(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn client_remove(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = clients::remove(&s.provider, &a.caller, &id, a.now).await;
    gone(&s, &a, r).await
}

async fn client_secret(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = clients::rotate_secret(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn credentials_list(State(s): State<AppState>, a: Admin, RawQuery(q): RawQuery) -> Response {
    let r = match query(q) {
        Ok(q) => credentials::list(&s.provider, &a.caller, q, a.now).await,
        Err(e) => Err(e),
    };
    ok(&s, &a, r).await
}

async fn credentials_expiring(
    State(s): State<AppState>,
    a: Admin,
    RawQuery(q): RawQuery,
) -> Response {
    let r = match query(q) {
        Ok(q) => credentials::expiring(&s.provider, &a.caller, q, a.now).await,
        Err(e) => Err(e),
    };
    ok(&s, &a, r).await
}

async fn credential_create(
    State(s): State<AppState>,
    a: Admin,
    Body(b): Body<credentials::NewCredentialBody>,
) -> Response {
    let r = credentials::create(&s.provider, &a.caller, b, a.now).await;
    created(&s, &a, r).await
}

async fn credential_get(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = credentials::get(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

/// The external CA's answer, as it came: PEM (`application/pem-certificate-chain`,
/// `application/x-pem-file`), DER (`application/pkix-cert`) or PKCS#7
/// (`application/pkcs7-mime`); the format is recognised from the bytes.
async fn credential_import(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let r = if is_json(&req) {
        Err(AdminApiError::Invalid(
            "send the certificate itself (PEM, DER or PKCS#7) as the body, e.g. Content-Type: application/pem-certificate-chain, not JSON".into(),
        ))
    } else {
        match Bytes::from_request(req, &s).await {
            Ok(bytes) => credentials::import(&s.provider, &a.caller, &id, &bytes, a.now).await,
            Err(e) => Err(AdminApiError::Invalid(format!("cannot read the body: {e}"))),
        }
    };
    ok(&s, &a, r).await
}

/// A JSON body that may be left out: an empty body means the defaults.
pub struct OptionalBody<T>(T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<OptionalBody<T>, Response> {
        let json = is_json(&req);
        let bad = |m: String| AdminApiFailure(AdminApiError::Invalid(m)).into_response();
        let bytes = Bytes::from_request(req, s)
            .await
            .map_err(|e| bad(format!("cannot read the body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        if !json {
            return Err(bad("the body must be application/json".into()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalBody)
            .map_err(|e| bad(format!("invalid JSON body: {e}")))
    }
}

async fn credential_renew(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<credentials::RenewBody>,
) -> Response {
    let r = credentials::renew(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn credential_suspend(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = credentials::suspend(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn credential_resume(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = credentials::resume(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn credential_revoke(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<credentials::RevokeBody>,
) -> Response {
    let r = credentials::revoke(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

#[cfg(test)]
#[path = "admin_api_tests.rs"]
mod tests;
