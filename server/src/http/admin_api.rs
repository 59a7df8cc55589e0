//! The administration API (`/admin/api/…`): JSON over HTTP, authorised by Tessera's own access
//! tokens carrying the `tessera:admin` scope, for a user holding administrative grants. Each
//! handler authenticates first (the [`Admin`] extractor), then parses its input, then calls one
//! function of `tessera_core::admin_api`, which applies the unit-scope rules and audits.
//!
//! A new endpoint adds its line to [`admin_routes!`] below, with its request body's wire type
//! (`body`, `optional_body` for one that may be left out, `raw_body` for a certificate), its
//! success status, its answer's wire type and a summary: the OpenAPI document is built from that table (see
//! `admin_openapi`; the test `openapi_matches_routes` checks the two agree). `limit(image)`
//! puts a route in the group whose body limit is an image's, not a form's. The
//! credential endpoints (`/admin/api/credentials…`) check the owner's unit in
//! `admin_api::credentials`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::admin_api::{
    self, AdminApiError, Caller, clients, credentials, organisation, signing_units, units, users,
};
use tessera_core::signing::images::ImageOwner;

use tessera_proto::admin as wire;

use super::errors::AdminApiFailure;
use super::extract::{Bearer, BearerError, Meta, Now};
use super::{AppState, admin_openapi};

/// Declares the routes once, so that [`ROUTES`] and the OpenAPI document are exactly what the
/// router serves.
macro_rules! admin_routes {
    (@answer bytes $media:literal) => { Some(admin_openapi::Answer::bytes($media)) };
    (@answer $ty:ty) => { Some(admin_openapi::answer_of::<$ty>()) };
    (@answer) => { None };
    (@body required $ty:ty) => { Some(admin_openapi::RequestBody::json::<$ty>(true)) };
    (@body optional $ty:ty) => { Some(admin_openapi::RequestBody::json::<$ty>(false)) };
    (@body raw $what:literal) => { Some(admin_openapi::RequestBody::certificate($what)) };
    (@body) => { None };
    (@route $plain:ident $uploads:ident $method:ident $path:literal $handler:ident image) => {
        $uploads = $uploads.route($path, axum::routing::$method($handler));
    };
    (@route $plain:ident $uploads:ident $method:ident $path:literal $handler:ident) => {
        $plain = $plain.route($path, axum::routing::$method($handler));
    };
    ($($method:ident $path:literal
        $(body($body:ty))? $(optional_body($obody:ty))? $(raw_body($raw:literal))?
        $(limit($limit:ident))?
        => $handler:ident, $status:literal $(($ty:ty))? $(as $media:literal)?, $summary:literal;)*) => {
        /// Every route of the administration API as (method, path).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The OpenAPI 3.1 document of this API, derived from the routes and the wire types.
        pub fn openapi_document() -> utoipa::openapi::OpenApi {
            let mut doc = admin_openapi::Document::new();
            $(doc.route(
                stringify!($method),
                $path,
                $status,
                $summary,
                admin_routes!(@answer $($ty)? $(bytes $media)?),
                admin_routes!(@body $(required $body)? $(optional $obody)? $(raw $raw)?),
            );)*
            doc.finish()
        }

        /// The routes in two groups, each to get its own body limit (see `http::router`):
        /// those marked `limit(image)` (image uploads) and all the others.
        fn groups() -> (Router<AppState>, Router<AppState>) {
            let mut plain = Router::new();
            let mut uploads = Router::new();
            $(admin_routes!(@route plain uploads $method $path $handler $($limit)?);)*
            (plain, uploads)
        }

        /// Every route but the image uploads (small bodies).
        pub fn routes() -> Router<AppState> {
            groups()
                .0
                .route("/admin/api/{*rest}", axum::routing::any(unknown))
                .layer(axum::middleware::map_response(method_not_allowed_as_json))
        }

        /// The image uploads (`limit(image)`): bodies up to the image limit.
        pub fn image_upload_routes() -> Router<AppState> {
            groups()
                .1
                .layer(axum::middleware::map_response(method_not_allowed_as_json))
        }
    };
}

admin_routes! {
    get "/admin/api/openapi.json" => openapi, 200,
        "This document";
    get "/admin/api/me" => me, 200 (wire::Me),
        "The calling administrator and their grants";
    get "/admin/api/units" => units_tree, 200 (wire::UnitTree),
        "Units within the caller's scope, as trees";
    post "/admin/api/units" body(wire::NewUnit) => unit_create, 201 (wire::Unit),
        "Create a unit below a unit of the caller's scope (admin)";
    get "/admin/api/units/{id}" => unit_get, 200 (wire::UnitDetail),
        "One unit and its direct children";
    patch "/admin/api/units/{id}" body(wire::UnitPatch) => unit_rename, 200 (wire::Unit),
        "Rename a unit (admin)";
    post "/admin/api/units/{id}/level" body(wire::LevelBody) => unit_level, 200 (wire::Unit),
        "Require a level of assurance at every login of the unit's people and those of the units below it (admin; audited as policy.acr.added)";
    get "/admin/api/users" => users_list, 200 (wire::UserList),
        "Users of a unit and the units below it";
    post "/admin/api/users" body(wire::NewUserBody) => user_create, 201 (wire::NewUser),
        "Create a user; the answer carries a one-time password, shown once, to be changed at the first sign-in (admin)";
    get "/admin/api/users/{id}" => user_get, 200 (wire::UserDetail),
        "One user, with their grants over units the caller can see";
    patch "/admin/api/users/{id}" body(wire::UserPatch) => user_update, 200 (wire::User),
        "Change a user's profile, unit or application roles; null clears (admin)";
    post "/admin/api/users/{id}/disable" => user_disable, 200 (wire::User),
        "Disable a user: ends their sessions, revokes their tokens (admin)";
    post "/admin/api/users/{id}/enable" => user_enable, 200 (wire::User),
        "Enable a disabled user (admin)";
    post "/admin/api/users/{id}/password" => user_password, 200 (wire::PasswordReset),
        "Reset the password to a one-time value, shown once and to be changed at the next sign-in; ends sessions and tokens (admin)";
    post "/admin/api/users/{id}/unlock" => user_unlock, 200 (wire::Unlocked),
        "Clear the account's counts of wrong second-factor codes and wrong passwords, lifting a lockout (admin; audited as user.unlocked)";
    post "/admin/api/users/{id}/reset-factors" => user_reset_factors, 200 (wire::User),
        "Remove every second factor of the user (passkeys, authenticator app, hardware tokens, recovery codes) and end their sessions; they enrol again at the next sign-in (admin; audited as mfa.reset)";
    post "/admin/api/users/{id}/end-sessions" => user_end_sessions, 200 (wire::User),
        "End every session and token of the user, with back-channel logout; the password stays (admin; audited as user.sessions_ended)";
    get "/admin/api/users/{id}/grants" => grants_list, 200 (wire::GrantList),
        "The user's administrative grants over units the caller can see";
    post "/admin/api/users/{id}/grants" body(wire::GrantBody) => grant_add, 201 (wire::RoleGrant),
        "Grant an administrative role over a unit; the caller must hold that role over that unit (admin)";
    delete "/admin/api/users/{id}/grants/{role}/{unit_id}" => grant_remove, 204,
        "Take an administrative role away (admin)";
    get "/admin/api/clients" => clients_list, 200 (wire::ClientList),
        "Client applications of a unit and the units below it";
    post "/admin/api/clients" body(wire::NewClientBody) => client_create, 201 (wire::NewClient),
        "Register a client; a confidential client's secret is in the answer, once (admin)";
    get "/admin/api/clients/{id}" => client_get, 200 (wire::Client),
        "One client";
    patch "/admin/api/clients/{id}" body(wire::ClientPatch) => client_update, 200 (wire::ClientUpdated),
        "Change a client's name, URIs, scopes or unit; null clears (admin)";
    delete "/admin/api/clients/{id}" => client_remove, 204,
        "Remove a client and everything issued to it (admin)";
    post "/admin/api/clients/{id}/secret" => client_secret, 200 (wire::ClientSecret),
        "Replace a confidential client's secret; the new one is shown once (admin)";
    get "/admin/api/clients/{id}/signing-units" => signing_units_list, 200 (wire::SigningUnits),
        "Units whose people the client may ask for signatures with its own token (scope sign:request), among those the caller sees";
    put "/admin/api/clients/{id}/signing-units/{unit_id}" => signing_unit_allow, 200 (wire::SigningUnits),
        "Let the client ask the people of the unit and the units below it for signatures with its own token; audited as signing.request_client.allowed (admin over the unit)";
    delete "/admin/api/clients/{id}/signing-units/{unit_id}" => signing_unit_disallow, 204,
        "Withdraw that permission (admin over the unit)";
    get "/admin/api/credentials" => credentials_list, 200 (wire::CredentialList),
        "Signing credentials of the officials in a unit and the units below it";
    post "/admin/api/credentials" body(wire::NewCredentialBody) => credential_create, 201 (wire::CredentialDetail),
        "Create a credential for an official: the key is generated in custody (HSM); with ca internal the certificate is issued at once, with ca external the answer carries the CSR and the credential waits for POST …/certificate (cert_admin; not for oneself)";
    get "/admin/api/credentials/expiring" => credentials_expiring, 200 (wire::ExpiryNotices),
        "Expiry notices: active credentials in the caller's scope whose certificate expires within the window, soonest first";
    get "/admin/api/credentials/{id}" => credential_get, 200 (wire::CredentialDetail),
        "A credential with its CSR, certificate and chain (PEM)";
    post "/admin/api/credentials/{id}/certificate"
        raw_body("the certificate or chain the external CA issued: PEM, DER or PKCS#7") => credential_import, 200 (wire::CredentialDetail),
        "Import the certificate (or chain) the external CA issued for a pending credential; it must certify the credential's key, name the official, be valid now and chain to a trust anchor (`tessera trust add`) or Tessera's own CAs (cert_admin; not one's own)";
    post "/admin/api/credentials/{id}/renew" optional_body(wire::RenewBody) => credential_renew, 200 (wire::CredentialDetail),
        "Renew an active, suspended or expired credential, with the same key or a new one: an internal credential gets its new certificate at once (the old one is revoked as superseded); an external one answers a pending renewal with its CSR (cert_admin; not for oneself)";
    post "/admin/api/credentials/{id}/suspend" => credential_suspend, 200 (wire::Credential),
        "Suspend an active credential (certificateHold in the CRL and OCSP): it cannot sign until resumed (cert_admin)";
    post "/admin/api/credentials/{id}/resume" => credential_resume, 200 (wire::Credential),
        "Resume a suspended, unexpired credential (cert_admin; not one's own)";
    post "/admin/api/credentials/{id}/revoke" optional_body(wire::RevokeBody) => credential_revoke, 200 (wire::Credential),
        "Revoke a credential for good; the CRL and OCSP say so at once (cert_admin)";
    get "/admin/api/units/{id}/organisation-credentials" => org_credentials_list, 200 (wire::OrganisationCredentialList),
        "The unit's organisation credentials (its digital seal: O=<organisation>, OU=<unit>, C=VN) with the clients allowed to use each";
    post "/admin/api/units/{id}/organisation-credentials" optional_body(wire::NewOrganisationCredentialBody) => org_credential_issue, 201 (wire::OrganisationCredential),
        "Issue an organisation credential for the unit from the internal CA; the key is generated in custody (cert_admin over the unit)";
    post "/admin/api/organisation-credentials/{id}/clients" body(wire::AllowClientBody) => org_client_allow, 201 (wire::AllowedClient),
        "Allow a client (e.g. the unit's clerk system) to sign with the organisation credential without a per-signature approval; every use is audited (cert_admin)";
    delete "/admin/api/organisation-credentials/{id}/clients/{client_id}" => org_client_disallow, 204,
        "Withdraw a client's permission to sign with the organisation credential (cert_admin)";
    post "/admin/api/organisation-credentials/{id}/suspend" => org_credential_suspend, 200 (wire::OrganisationCredential),
        "Suspend an active organisation credential (certificateHold in the CRL and OCSP): it cannot sign until resumed (cert_admin over the unit)";
    post "/admin/api/organisation-credentials/{id}/resume" => org_credential_resume, 200 (wire::OrganisationCredential),
        "Resume a suspended, unexpired organisation credential (cert_admin over the unit)";
    post "/admin/api/organisation-credentials/{id}/revoke" optional_body(wire::RevokeBody) => org_credential_revoke, 200 (wire::OrganisationCredential),
        "Revoke an organisation credential for good; the CRL and OCSP say so at once (cert_admin over the unit)";
    get "/admin/api/units/{id}/seal" => seal_get, 200 (wire::SigningImage),
        "The unit's seal image record (not its bytes)";
    put "/admin/api/units/{id}/seal" limit(image) => seal_set, 200 (wire::SigningImage),
        "Set or replace the unit's seal image: the body is the PNG itself (Content-Type image/png), at most 1 MB (cert_admin over the unit)";
    get "/admin/api/units/{id}/seal/png" => seal_png, 200 as "image/png",
        "The unit's seal image itself (PNG), to check what visible seals will carry (cert_admin over the unit)";
    delete "/admin/api/units/{id}/seal" => seal_remove, 204,
        "Remove the unit's seal image (cert_admin over the unit)";
    get "/admin/api/users/{id}/signature-image" => signature_image_get, 200 (wire::SigningImage),
        "The official's signature image record (not its bytes)";
    put "/admin/api/users/{id}/signature-image" limit(image) => signature_image_set, 200 (wire::SigningImage),
        "Set or replace the official's handwritten signature image: the body is the PNG itself (Content-Type image/png), at most 1 MB (cert_admin over the official's unit)";
    get "/admin/api/users/{id}/signature-image/png" => signature_image_png, 200 as "image/png",
        "The official's signature image itself (PNG) (cert_admin over the official's unit)";
    delete "/admin/api/users/{id}/signature-image" => signature_image_remove, 204,
        "Remove the official's signature image (cert_admin over the official's unit)";
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
        let now = Now::of(parts);
        let token = match Bearer::from_headers(&parts.headers) {
            Ok(Bearer(token)) => token,
            Err(BearerError::Missing) => {
                return Err(
                    AdminApiFailure(AdminApiError::InvalidToken(String::new())).into_response()
                );
            }
            Err(BearerError::Malformed) => {
                return Err(AdminApiFailure(AdminApiError::InvalidToken(
                    "the Authorization header must carry a Bearer access token".into(),
                ))
                .into_response());
            }
        };
        let meta = Meta::of(parts, s);
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

/// The document, built once: it depends on nothing but the code.
pub static OPENAPI: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    openapi_document().to_json().unwrap_or_else(|e| {
        serde_json::json!({ "error": "server_error", "error_description": e.to_string() })
            .to_string()
    })
});

async fn openapi() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
        .into_response();
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
    Body(b): Body<wire::NewUnit>,
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
    Body(b): Body<wire::UnitPatch>,
) -> Response {
    let r = units::rename(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn unit_level(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<wire::LevelBody>,
) -> Response {
    let r = units::require_level(&s.provider, &a.caller, &id, b, a.now).await;
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
    Body(b): Body<wire::NewUserBody>,
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
    Body(b): Body<wire::UserPatch>,
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

async fn user_reset_factors(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = users::reset_factors(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn user_end_sessions(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = users::end_sessions(&s.provider, &a.caller, &id, a.now).await;
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
    Body(b): Body<wire::GrantBody>,
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
    Body(b): Body<wire::NewClientBody>,
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
    Body(b): Body<wire::ClientPatch>,
) -> Response {
    let r = clients::update(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

async fn client_remove(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = clients::remove(&s.provider, &a.caller, &id, a.now).await;
    gone(&s, &a, r).await
}

async fn signing_units_list(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = signing_units::list(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

async fn signing_unit_allow(
    State(s): State<AppState>,
    a: Admin,
    Path((id, unit_id)): Path<(String, String)>,
) -> Response {
    let r = signing_units::allow(&s.provider, &a.caller, &id, &unit_id, a.now).await;
    ok(&s, &a, r).await
}

async fn signing_unit_disallow(
    State(s): State<AppState>,
    a: Admin,
    Path((id, unit_id)): Path<(String, String)>,
) -> Response {
    let r = signing_units::disallow(&s.provider, &a.caller, &id, &unit_id, a.now).await;
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
    Body(b): Body<wire::NewCredentialBody>,
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
    OptionalBody(b): OptionalBody<wire::RenewBody>,
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
    OptionalBody(b): OptionalBody<wire::RevokeBody>,
) -> Response {
    let r = credentials::revoke(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}

#[cfg(test)]
#[path = "admin_api_tests.rs"]
mod tests;

async fn org_credentials_list(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::list(&s.provider, &a.caller, &id).await;
    ok(&s, &a, r).await
}

async fn org_credential_issue(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<organisation::NewOrganisationCredentialBody>,
) -> Response {
    let r = organisation::issue(&s.provider, &a.caller, &id, b, a.now).await;
    created(&s, &a, r).await
}

async fn org_client_allow(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    Body(b): Body<organisation::AllowClientBody>,
) -> Response {
    let r = organisation::allow_client(&s.provider, &a.caller, &id, b, a.now).await;
    created(&s, &a, r).await
}

async fn org_client_disallow(
    State(s): State<AppState>,
    a: Admin,
    Path((id, client_id)): Path<(String, String)>,
) -> Response {
    let r = organisation::disallow_client(&s.provider, &a.caller, &id, &client_id, a.now).await;
    gone(&s, &a, r).await
}

/// A PNG request body (`Content-Type: image/png`); the image itself is checked in the core.
async fn png_body(req: Request, s: &AppState) -> Result<Bytes, AdminApiError> {
    let png = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("image/png"));
    if !png {
        return Err(AdminApiError::Invalid(
            "send the PNG image itself as the body, with Content-Type: image/png".into(),
        ));
    }
    Bytes::from_request(req, s).await.map_err(|e| {
        AdminApiError::Invalid(format!(
            "cannot read the body (at most 1 MB is accepted): {e}"
        ))
    })
}

async fn image_set(s: &AppState, a: &Admin, owner: ImageOwner, req: Request) -> Response {
    let r = match png_body(req, s).await {
        Ok(bytes) => organisation::set_image(&s.provider, &a.caller, owner, &bytes, a.now).await,
        Err(e) => Err(e),
    };
    ok(s, a, r).await
}

/// An image itself, as `image/png`; refusals as any other answer.
async fn png_answer(s: &AppState, a: &Admin, r: Result<Vec<u8>, AdminApiError>) -> Response {
    match r {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            png,
        )
            .into_response(),
        Err(e) => answer(s, a, StatusCode::OK, Err::<Option<()>, _>(e)).await,
    }
}

async fn seal_png(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = organisation::image_png(&s.provider, &a.caller, ImageOwner::Unit(id)).await;
    png_answer(&s, &a, r).await
}

async fn signature_image_png(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::image_png(&s.provider, &a.caller, ImageOwner::User(id)).await;
    png_answer(&s, &a, r).await
}

async fn seal_get(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = organisation::get_image(&s.provider, &a.caller, ImageOwner::Unit(id)).await;
    ok(&s, &a, r).await
}

async fn seal_set(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    image_set(&s, &a, ImageOwner::Unit(id), req).await
}

async fn seal_remove(State(s): State<AppState>, a: Admin, Path(id): Path<String>) -> Response {
    let r = organisation::remove_image(&s.provider, &a.caller, ImageOwner::Unit(id), a.now).await;
    gone(&s, &a, r).await
}

async fn signature_image_get(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::get_image(&s.provider, &a.caller, ImageOwner::User(id)).await;
    ok(&s, &a, r).await
}

async fn signature_image_set(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    image_set(&s, &a, ImageOwner::User(id), req).await
}

async fn signature_image_remove(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::remove_image(&s.provider, &a.caller, ImageOwner::User(id), a.now).await;
    gone(&s, &a, r).await
}

async fn org_credential_suspend(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::suspend(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn org_credential_resume(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
) -> Response {
    let r = organisation::resume(&s.provider, &a.caller, &id, a.now).await;
    ok(&s, &a, r).await
}

async fn org_credential_revoke(
    State(s): State<AppState>,
    a: Admin,
    Path(id): Path<String>,
    OptionalBody(b): OptionalBody<credentials::RevokeBody>,
) -> Response {
    let r = organisation::revoke(&s.provider, &a.caller, &id, b, a.now).await;
    ok(&s, &a, r).await
}
