//! `/authorize/consent`: the person approves or refuses an application's request for the
//! administration scope (see `tessera_core::oidc::consent`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tessera_core::oidc::consent;
use tessera_core::session;

use super::errors::{authorize_error, error_page, internal_page, page};
use super::extract::{CsrfForm, Meta, Now};
use super::flow::decision_response;
use super::forms::valid_handle;
use super::web::{csrf_cookie, with_cookies};
use super::{AppState, web};
use crate::pages::consent::{ConsentView, GrantView};
use crate::pages::{ErrorKind, Lang};

pub fn routes() -> Router<AppState> {
    Router::new().route("/authorize/consent", get(show).post(submit))
}

#[derive(Debug, Default, Deserialize)]
struct ConsentQuery {
    req: Option<String>,
    lang: Option<String>,
}

/// The signed-in person, or the login page for the request (`path` names the page asking).
pub(super) async fn session_or_login(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    path: &str,
    req: &str,
    now: i64,
) -> Result<
    (
        tessera_store::sessions::SessionRecord,
        tessera_store::users::User,
    ),
    Response,
> {
    let cookie = s.read_cookie(headers, web::SESSION_COOKIE);
    match session::current_session(&s.provider, cookie.as_deref(), now).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Redirect::to(&format!("/login?req={req}")).into_response()),
        Err(e) => Err(internal_page(s, lang, path, "session lookup failed", e)),
    }
}

async fn show(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let path = "/authorize/consent";
    let Some(req) = q.req.as_deref().filter(|r| valid_handle(r)) else {
        return error_page(&s, lang, path, ErrorKind::BadRequest, None);
    };
    let (session, user) = match session_or_login(&s, &headers, lang, path, req, now).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let prepared = match consent::prepare(&s.provider, req, &session, &user, now).await {
        Ok(Ok(p)) => p,
        Ok(Err(decision)) => return decision_response(decision),
        Err(e) => return authorize_error(&s, lang, path, e),
    };
    let (csrf, set) = csrf_cookie(&s, &headers);
    let path_and_query = format!("{path}?req={req}");
    let html = s.pages.consent(
        lang,
        &path_and_query,
        &ConsentView {
            csrf_token: &s.provider.keyed.csrf_token(&csrf),
            req,
            consent: &prepared.token,
            client_id: &prepared.client.id,
            client_name: &prepared.client.name,
            display_name: &user.display_name,
            username: &user.username,
            scope: &prepared.scope,
            grants: prepared
                .grants
                .into_iter()
                .map(|(role, unit)| GrantView { role, unit })
                .collect(),
        },
    );
    with_cookies(
        page(StatusCode::OK, html),
        &set.into_iter().collect::<Vec<_>>(),
    )
}

async fn submit(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    // CSRF first (the extractor): a page elsewhere must not approve for the person.
    CsrfForm {
        form,
        lang,
        headers,
    }: CsrfForm,
) -> Response {
    let path = "/authorize/consent";
    let (Some(req), Some(token)) = (
        form.value("req").filter(|r| valid_handle(r)),
        form.value("consent").filter(|t| valid_handle(t)),
    ) else {
        return error_page(&s, lang, path, ErrorKind::BadRequest, None);
    };
    let approve = match form.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                &s,
                lang,
                path,
                ErrorKind::BadRequest,
                Some("decision must be approve or deny"),
            );
        }
    };
    let (session, user) = match session_or_login(&s, &headers, lang, path, req, now).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match consent::answer(
        &s.provider,
        req,
        token,
        approve,
        &session,
        &user,
        &meta,
        now,
    )
    .await
    {
        Ok(d) => decision_response(d),
        Err(e) => authorize_error(&s, lang, path, e),
    }
}
