//! `/authorize/signing`: the step of `/authorize` for the CSC scope `credential` (see
//! `tessera_core::signing::remote::csc::oauth`). It sends the official to the approval page of
//! the hashes, and once they are approved, back to the application with the code.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use tessera_core::signing::remote::csc::oauth::{self, Step};

use super::consent::session_or_login;
use super::errors::{authorize_error, error_page};
use super::extract::{Meta, Now};
use super::forms::valid_handle;
use super::{AppState, web};
use crate::pages::ErrorKind;

const PATH: &str = "/authorize/signing";

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(step))
}

#[derive(Debug, Default, Deserialize)]
struct StepQuery {
    req: Option<String>,
    lang: Option<String>,
}

/// The approval page that continues the authorization `handle` once decided.
fn approval_path(request_id: &str, handle: &str) -> String {
    format!("/sign/requests/{request_id}?authorize={handle}")
}

/// Where a decided approval page sends the browser that started the authorization.
pub(super) fn continue_path(handle: &str) -> String {
    format!("{PATH}?req={handle}")
}

async fn step(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    Query(q): Query<StepQuery>,
) -> Response {
    let (lang, _) = web::language(&headers, q.lang.as_deref());
    let Some(req) = q.req.as_deref().filter(|r| valid_handle(r)) else {
        return error_page(&s, lang, PATH, ErrorKind::BadRequest, None);
    };
    let (session, user) = match session_or_login(&s, &headers, lang, PATH, req, now).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match oauth::step(&s.provider, req, &session, &user, &meta, now).await {
        Ok(Step::Approve { request_id }) => {
            Redirect::to(&approval_path(&request_id, req)).into_response()
        }
        Ok(Step::Redirect(url)) => Redirect::to(&url).into_response(),
        Err(e) => authorize_error(&s, lang, PATH, e),
    }
}
