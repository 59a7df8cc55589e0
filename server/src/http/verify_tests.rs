//! `POST /api/verify` under load: a bounded number run at once, the others are told to come back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

fn empty_pdf_request() -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri("/api/verify")
        .header(header::CONTENT_TYPE, "application/pdf")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_saturated_verifier_answers_503_with_retry_after_and_recovers() {
    let (provider, dir) = crate::app::test_provider("tessera-verify-test").await;
    let state = crate::http::AppState::new(provider, false);
    let permits = state.verify_permits.clone();
    let app = crate::http::router(state);

    // Every permit taken, as by verifications in progress.
    let all = u32::try_from(permits.available_permits()).unwrap();
    assert!(all >= 1);
    let held = permits.clone().acquire_many_owned(all).await.unwrap();
    let resp = app.clone().oneshot(empty_pdf_request()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "temporarily_unavailable");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("try again")
    );

    // One freed: the request is served (and refused for its empty body, not for load).
    drop(held);
    let resp = app.clone().oneshot(empty_pdf_request()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The permit is given back when the request ends.
    assert_eq!(permits.available_permits(), all as usize);
    let _ = std::fs::remove_dir_all(dir);
}
