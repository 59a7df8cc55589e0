//! The axum kit's token refresh against a scripted provider: an expired access token is
//! refreshed once (even by concurrent requests: Tessera rotates refresh tokens), the rotated
//! refresh token is kept, and a refused refresh ends the session.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use support::{MockOp, Reply, es256_provider, now};
use tessera_sdk::IdentityClaims;
use tessera_sdk::axum::session::{Session, SessionStore, SignedIn};
use tessera_sdk::axum::{AuthKit, AuthUser, MemorySessionStore};
use tower::ServiceExt;

const COOKIE: &str = "tessera_hr_portal";

async fn setup() -> (MockOp, Router, Arc<MemorySessionStore>) {
    let (op, _key, rp) = es256_provider().await;
    let store = Arc::new(MemorySessionStore::default());
    let kit = AuthKit::new(Arc::new(rp))
        .unwrap()
        .session_store(store.clone());
    let app = Router::new()
        .route(
            "/token",
            get(|u: AuthUser| async move { u.access_token().to_owned() }),
        )
        .merge(kit.routes())
        .layer(kit.session_layer());
    (op, app, store)
}

/// A signed-in session `id` whose access token expired a second ago.
async fn expired_access(store: &MemorySessionStore, id: &str) {
    let claims: IdentityClaims = serde_json::from_value(json!({
        "sub": "u1", "iss": "x", "issued_at": 0, "expires_at": 0, "auth_time": now(),
        "acr": "urn:tessera:loa:1", "amr": ["pwd"], "sid": "s1",
        "name": null, "given_name": null, "family_name": null, "preferred_username": null,
        "email": null, "email_verified": null, "phone_number": null, "phone_number_verified": null,
    }))
    .unwrap();
    let session = Session {
        expires_at: now() + 3600,
        pending: Vec::new(),
        user: Some(SignedIn {
            claims,
            id_token: "id".into(),
            access_token: "old-access".into(),
            refresh_token: Some("refresh-1".into()),
            access_expires_at: Some(now() - 1),
            signed_in_at: now(),
        }),
    };
    store.save(id, &session, now()).await.unwrap();
}

async fn get_token(app: &Router, id: &str) -> Response {
    let req = Request::get("/token")
        .header(header::COOKIE, format!("{COOKIE}={id}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap()
}

async fn body(resp: Response) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_rotation_kept() {
    let (op, app, store) = setup().await;
    expired_access(&store, "s").await;
    op.set_token(Reply::json(
        200,
        json!({"access_token": "new-access", "token_type": "Bearer", "expires_in": 600,
               "refresh_token": "refresh-2"}),
    ));
    // Two requests at once: one refresh (a second would present a spent refresh token).
    let (a, b) = tokio::join!(get_token(&app, "s"), get_token(&app, "s"));
    assert_eq!(body(a).await, "new-access");
    assert_eq!(body(b).await, "new-access");
    let calls = op.requests("/token");
    assert_eq!(calls.len(), 1);
    let form = calls[0].form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "refresh-1");
    let user = store.load("s").await.unwrap().unwrap().user.unwrap();
    assert_eq!(user.refresh_token.as_deref(), Some("refresh-2"));
    assert!(user.access_expires_at.unwrap() >= now() + 590);
    // Fresh now: no further refresh.
    assert_eq!(body(get_token(&app, "s").await).await, "new-access");
    assert_eq!(op.requests("/token").len(), 1);
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session() {
    let (op, app, store) = setup().await;
    expired_access(&store, "s").await;
    op.set_token(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "the session has ended"}),
    ));
    let resp = get_token(&app, "s").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.starts_with(&format!("{}/authorize?", op.issuer)), "{to}");
    let left = store.load("s").await.unwrap();
    assert!(left.is_none(), "{left:?}");
}
