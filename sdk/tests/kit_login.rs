//! The axum kit's callback against a scripted provider: a login completes into a new session
//! with the ID token's claims, and a step-up that comes back below the level asked for is
//! refused rather than looped.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use support::{EcKey, MockOp, Reply, claims, es256_provider, sign, token_response};
use tessera_sdk::axum::session::SessionStore;
use tessera_sdk::axum::{AuthKit, AuthUser, MemorySessionStore, Requirement};
use tower::ServiceExt;

const COOKIE: &str = "tessera_hr_portal";

struct World {
    op: MockOp,
    key: EcKey,
    app: Router,
    store: Arc<MemorySessionStore>,
}

async fn world() -> World {
    let (op, key, rp) = es256_provider().await;
    let store = Arc::new(MemorySessionStore::default());
    let kit = AuthKit::new(Arc::new(rp))
        .unwrap()
        .session_store(store.clone());
    let app = Router::new()
        .route(
            "/me",
            get(|u: AuthUser| async move {
                format!("{} {} {}", u.subject(), u.level(), u.claims.roles.join(","))
            }),
        )
        .route(
            "/sign",
            get(|| async { "signing" }).route_layer(kit.require(Requirement::level(2))),
        )
        .merge(kit.routes())
        .layer(kit.session_layer());
    World {
        op,
        key,
        app,
        store,
    }
}

async fn visit(app: &Router, path: &str, cookie: Option<&str>) -> Response {
    let mut req = Request::get(path);
    if let Some(id) = cookie {
        req = req.header(header::COOKIE, format!("{COOKIE}={id}"));
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

fn location(resp: &Response) -> String {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie_id(resp: &Response) -> String {
    let set = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    set.split(';')
        .next()
        .and_then(|c| c.strip_prefix(&format!("{COOKIE}=")))
        .unwrap()
        .to_owned()
}

/// Follows `path` to the provider, scripts its token answer with an ID token at `acr`, and
/// lands on the callback; returns the callback's answer and the session used.
async fn login(w: &World, path: &str, cookie: Option<&str>, acr: &str) -> (Response, String) {
    let start = visit(&w.app, path, cookie).await;
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let id = cookie_id(&start);
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    let mut c = claims(&w.op.issuer, "hr-portal", &q["nonce"]);
    c["acr"] = acr.into();
    c["roles"] = serde_json::json!(["van_thu"]);
    let id_token = sign(c, &w.key, Alg::EcdsaP256Sha256, Some("at-1"));
    w.op.set_token(Reply::json(200, token_response("at-1", &id_token)));
    let back = format!("/callback?code=c&state={}", q["state"]);
    (visit(&w.app, &back, Some(&id)).await, id)
}

#[tokio::test]
async fn a_login_lands_on_the_page_in_a_new_session_with_the_claims() {
    let w = world().await;
    let (done, pending_id) = login(&w, "/me", None, "urn:tessera:loa:1").await;
    assert_eq!(location(&done), "/me");
    let id = cookie_id(&done);
    assert_ne!(id, pending_id, "a new session identifier once signed in");
    assert!(w.store.load(&pending_id).await.unwrap().is_none());
    let page = visit(&w.app, "/me", Some(&id)).await;
    let bytes = axum::body::to_bytes(page.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"user-42 1 van_thu");
    // The identifier of the login in progress is no session.
    let again = visit(&w.app, "/me", Some(&pending_id)).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_step_up_below_the_level_is_refused_and_one_at_the_level_reaches_the_page() {
    let w = world().await;
    let (done, _) = login(&w, "/me", None, "urn:tessera:loa:1").await;
    let l1 = cookie_id(&done);

    let (low, _) = login(&w, "/sign", Some(&l1), "urn:tessera:loa:1").await;
    assert_eq!(low.status(), StatusCode::FORBIDDEN);

    let (high, _) = login(&w, "/sign", Some(&l1), "urn:tessera:loa:2").await;
    assert_eq!(location(&high), "/sign");
    let l2 = cookie_id(&high);
    assert!(
        w.store.load(&l1).await.unwrap().is_none(),
        "the level-1 session is replaced"
    );
    let page = visit(&w.app, "/sign", Some(&l2)).await;
    assert_eq!(page.status(), StatusCode::OK);
}
