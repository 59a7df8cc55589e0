//! The one place where errors become HTTP responses.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use tessera_core::OAuthError;
use tessera_core::admin_api::{ADMIN_SCOPE, AdminApiError};
use tessera_core::error::PageError;
use tessera_core::mfa::FactorError;
use tessera_core::oidc::authorize::AuthorizeError;
use tessera_core::pki::PkiError;
use tessera_proto::ErrorCode;

use super::{AppState, web};
use crate::pages::{ErrorKind, ErrorView, Lang, strong};

/// Status for an OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1).
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Seconds a client is asked to wait while the HSM is out of service: it is retried every
/// quarter second, and a rebooting HSM is back in seconds or not soon at all.
pub const RETRY_AFTER_SECS: u32 = 2;

/// Marks an answer as "try again later": `503` with `Retry-After`, never cached.
pub fn retry_later(mut resp: Response) -> Response {
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let h = resp.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Logs an internal failure as an error; an HSM outage only at debug level, as the custodian
/// logs its start and end once, and a line per refused request would flood the log.
pub fn log_internal(what: &str, cause: &tessera_core::CoreError) {
    if cause.is_unavailable() {
        tracing::debug!(error = %cause, "{what}: HSM unavailable");
    } else {
        tracing::error!(error = %cause, "{what}");
    }
}

/// JSON error answer of an API endpoint. Internal causes are logged, never sent.
pub struct ApiError {
    pub error: OAuthError,
    /// Bearer-protected resource (UserInfo) rather than the token endpoint.
    pub bearer: bool,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let OAuthError::Internal(cause) = &self.error {
            log_internal("internal error", cause);
        }
        let body = self.error.body();
        let status = status_for(body.error);
        let mut resp = (status, Json(&body)).into_response();
        if body.error == ErrorCode::TemporarilyUnavailable {
            resp = retry_later(resp);
        }
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        let challenge = match (self.bearer, body.error) {
            (true, code)
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN =>
            {
                Some(format!(
                    "Bearer realm=\"tessera\", error=\"{code}\", error_description=\"{}\"",
                    quote(body.error_description.as_deref().unwrap_or(""))
                ))
            }
            (false, ErrorCode::InvalidClient) => Some("Basic realm=\"tessera\"".to_owned()),
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// JSON error answer of the administration API: `{"error": code, "error_description": …}`,
/// with an RFC 6750 §3 challenge on 401 and on a missing scope.
pub struct AdminApiFailure(pub AdminApiError);

/// The status of a refused administration request, for the API and the console alike.
fn admin_status(e: &AdminApiError) -> StatusCode {
    match e {
        AdminApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        AdminApiError::InsufficientScope
        | AdminApiError::Forbidden(_)
        | AdminApiError::OutOfScope(_) => StatusCode::FORBIDDEN,
        AdminApiError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminApiError::Invalid(_) => StatusCode::BAD_REQUEST,
        AdminApiError::Conflict(_) => StatusCode::CONFLICT,
        AdminApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// How the console shows a refused administration request: the status, the code and the
/// core's explanation (an internal failure is logged, and only its code shown).
pub(super) fn console_failure(e: &AdminApiError) -> (StatusCode, &'static str, String) {
    if let AdminApiError::Internal(cause) = e {
        tracing::error!(error = %cause, "console: internal error");
        return (admin_status(e), e.code(), String::new());
    }
    (admin_status(e), e.code(), e.to_string())
}

impl IntoResponse for AdminApiFailure {
    fn into_response(self) -> Response {
        let e = self.0;
        if let AdminApiError::Internal(cause) = &e {
            log_internal("internal error", cause);
            if cause.is_unavailable() {
                return unavailable_json();
            }
        }
        let status = admin_status(&e);
        let (code, description) = match &e {
            // RFC 6750 §3.1: a request without credentials gets a bare challenge.
            AdminApiError::InvalidToken(d) if d.is_empty() => (
                "unauthorized",
                "an access token is required: Authorization: Bearer <token>".to_owned(),
            ),
            AdminApiError::Internal(_) => ("server_error", "internal error".to_owned()),
            other => (other.code(), other.to_string()),
        };
        let challenge = match &e {
            AdminApiError::InvalidToken(d) if d.is_empty() => {
                Some(format!("Bearer realm=\"tessera\", scope=\"{ADMIN_SCOPE}\""))
            }
            AdminApiError::InvalidToken(d) => Some(format!(
                "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{}\"",
                quote(d)
            )),
            AdminApiError::InsufficientScope => Some(format!(
                "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\""
            )),
            _ => None,
        };
        let body = serde_json::json!({ "error": code, "error_description": description });
        let mut resp = (status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// Whether an internal failure is the HSM out of service (a fault that passes), whatever
/// error type carries it: the core's, the custodian's, or a use case's `Internal` variant.
pub fn hsm_unavailable(cause: &dyn std::any::Any) -> bool {
    use tessera_core::login::LoginError;
    use tessera_core::signing::remote::RemoteError;
    if let Some(e) = cause.downcast_ref::<tessera_core::CoreError>() {
        return e.is_unavailable();
    }
    if let Some(e) = cause.downcast_ref::<tessera_hsm::HsmError>() {
        return e.is_unavailable();
    }
    if let Some(OAuthError::Internal(e)) = cause.downcast_ref::<OAuthError>() {
        return e.is_unavailable();
    }
    if let Some(AdminApiError::Internal(e)) = cause.downcast_ref::<AdminApiError>() {
        return e.is_unavailable();
    }
    if let Some(LoginError::Internal(e)) = cause.downcast_ref::<LoginError>() {
        return e.is_unavailable();
    }
    if let Some(RemoteError::Internal(e)) = cause.downcast_ref::<RemoteError>() {
        return e.is_unavailable();
    }
    false
}

/// The page for an internal failure: the cause is logged with what was being done, the person
/// sees only that something went wrong — or, while the HSM is out of service, that the
/// signing service is briefly interrupted (`503` with `Retry-After`).
pub(super) fn internal_page(
    s: &AppState,
    lang: Lang,
    path: &str,
    what: &str,
    cause: impl std::fmt::Display + 'static,
) -> Response {
    if hsm_unavailable(&cause) {
        tracing::debug!(error = %cause, "{what}: HSM unavailable");
        return unavailable_page(s, lang, path);
    }
    tracing::error!(error = %cause, "{what}");
    error_page(s, lang, path, ErrorKind::Internal, None)
}

/// "The signing service is temporarily unavailable": `503` with `Retry-After`.
pub(super) fn unavailable_page(s: &AppState, lang: Lang, path: &str) -> Response {
    retry_later(error_page(s, lang, path, ErrorKind::Unavailable, None))
}

/// The JSON answer of a page script's request that failed inside: logged, never detailed; an
/// HSM outage is `503 temporarily_unavailable` with `Retry-After`.
pub(super) fn internal_json(what: &str, cause: impl std::fmt::Display + 'static) -> Response {
    if hsm_unavailable(&cause) {
        tracing::debug!(error = %cause, "{what}: HSM unavailable");
        return unavailable_json();
    }
    tracing::error!(error = %cause, "{what}");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// `503 {"error": "temporarily_unavailable", "error_description": …}` with `Retry-After`.
pub fn unavailable_json() -> Response {
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": tessera_core::error::UNAVAILABLE,
    });
    retry_later((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response())
}

/// A people-facing page with its status.
pub fn page(status: StatusCode, html: String) -> Response {
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn error_page(
    s: &AppState,
    lang: Lang,
    path: &str,
    kind: ErrorKind,
    detail: Option<&str>,
) -> Response {
    let html = s.pages.error(
        lang,
        &ErrorView {
            path_and_query: path,
            kind,
            detail,
        },
    );
    page(
        StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        html,
    )
}

pub(super) fn authorize_error(s: &AppState, lang: Lang, path: &str, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page { kind, detail } => {
            let kind = match kind {
                PageError::UnknownClient => ErrorKind::UnknownClient,
                PageError::InvalidRedirectUri => ErrorKind::InvalidRedirectUri,
                PageError::BadRequest => ErrorKind::BadRequest,
                PageError::RequestExpired => ErrorKind::RequestExpired,
                PageError::WrongAudience => ErrorKind::WrongAudience,
            };
            error_page(s, lang, path, kind, Some(&detail))
        }
        AuthorizeError::Internal(e) => internal_page(s, lang, path, "authorization failed", e),
    }
}

pub(super) fn factor_message(lang: Lang, e: &FactorError) -> &'static str {
    let m = strong::text(lang);
    match e {
        FactorError::Invalid | FactorError::NotEnrolled => m.wrong_code,
        FactorError::TooManyAttempts { .. } => m.too_many,
        FactorError::Expired | FactorError::PasswordChangeRequired => m.step_expired,
        FactorError::Internal(_) => m.passkey_failed,
    }
}

/// JSON error for the page script (it shows `error` to the person).
pub(super) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// The JSON answer to a failed factor step: the person's mistake in words, an internal
/// failure logged and answered without detail.
pub(super) fn factor_json_error(e: &FactorError) -> Response {
    match e {
        FactorError::Internal(tessera_core::CoreError::Invalid(m)) => {
            json_error(StatusCode::BAD_REQUEST, m)
        }
        FactorError::Internal(err) if err.is_unavailable() => unavailable_json(),
        FactorError::Internal(err) => {
            tracing::error!(error = %err, "passkey step failed");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        other => json_error(factor_status(other), &other.to_string()),
    }
}

pub(super) fn factor_status(e: &FactorError) -> StatusCode {
    match e {
        FactorError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        FactorError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

pub async fn not_found(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (lang, _) = web::language(&headers, None);
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    error_page(&s, lang, path, ErrorKind::NotFound, None)
}

pub(super) fn json_no_store(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, Json(json!({ "error": message }))).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The JSON answer of the public PKI endpoints (CRL, CA certificate, OCSP).
pub(super) fn pki_error(e: PkiError) -> Response {
    match e {
        PkiError::NotFound(what) => {
            json_no_store(StatusCode::NOT_FOUND, &format!("{what} not found"))
        }
        // e.g. the CRL of an external root, whose key Tessera does not hold.
        PkiError::Conflict(_) => json_no_store(StatusCode::NOT_FOUND, "not published by Tessera"),
        other => {
            tracing::error!(error = %other, "PKI endpoint failed");
            json_no_store(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_challenges() {
        assert_eq!(status_for(ErrorCode::InvalidGrant), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_for(ErrorCode::InvalidClient),
            StatusCode::UNAUTHORIZED
        );
        let resp = ApiError {
            error: OAuthError::new(ErrorCode::InvalidClient, "x"),
            bearer: false,
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap_or("")
                .starts_with("Basic")
        );
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        let resp = ApiError {
            error: OAuthError::new(ErrorCode::InvalidToken, "bad \"quote\""),
            bearer: true,
        }
        .into_response();
        let challenge = resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap_or("");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        let resp = ApiError {
            error: OAuthError::Internal(tessera_core::CoreError::Internal("db password".into())),
            bearer: false,
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let outage = tessera_hsm::HsmError::Pkcs11(tessera_hsm::pkcs11::Pkcs11Error::Unavailable {
            cause: "C_Initialize failed: CKR_GENERAL_ERROR".into(),
        });
        let resp = ApiError {
            error: OAuthError::Internal(outage.into()),
            bearer: false,
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn admin_api_statuses_and_challenges() {
        let cases = [
            (
                AdminApiError::InvalidToken(String::new()),
                StatusCode::UNAUTHORIZED,
                Some("Bearer realm=\"tessera\", scope=\"tessera:admin\""),
            ),
            (
                AdminApiError::InvalidToken("revoked".into()),
                StatusCode::UNAUTHORIZED,
                None,
            ),
            (
                AdminApiError::InsufficientScope,
                StatusCode::FORBIDDEN,
                None,
            ),
            (
                AdminApiError::OutOfScope("x".into()),
                StatusCode::FORBIDDEN,
                None,
            ),
            (
                AdminApiError::NotFound("x".into()),
                StatusCode::NOT_FOUND,
                None,
            ),
            (
                AdminApiError::Conflict("x".into()),
                StatusCode::CONFLICT,
                None,
            ),
        ];
        for (err, status, exact) in cases {
            let code = err.code();
            let challenged = matches!(
                err,
                AdminApiError::InvalidToken(_) | AdminApiError::InsufficientScope
            );
            let resp = AdminApiFailure(err).into_response();
            assert_eq!(resp.status(), status, "{code}");
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap_or(""));
            assert_eq!(challenge.is_some(), challenged, "{code}: {challenge:?}");
            if let Some(exact) = exact {
                assert_eq!(challenge, Some(exact));
            } else if let Some(c) = challenge {
                assert!(c.contains(&format!("error=\"{code}\"")), "{c}");
            }
        }
        let resp = AdminApiFailure(AdminApiError::Internal(tessera_core::CoreError::Internal(
            "db password".into(),
        )))
        .into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
