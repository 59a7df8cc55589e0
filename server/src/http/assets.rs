//! Static files the pages load.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/tessera.js",
            get(|| script(include_str!("../../static/tessera.js"))),
        )
        .route(
            "/static/signing.js",
            get(|| script(include_str!("../../static/signing.js"))),
        )
}

async fn script(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
        .into_response()
}
