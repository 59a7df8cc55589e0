//! The kit's layer, guard and routes, without a provider: sessions are put in the store by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceExt;

use super::session::{Session, SessionStore, SignedIn};
use super::{AuthKit, AuthUser, MemorySessionStore, Requirement};
use crate::backchannel::unix_now;
use crate::transport::http_client;
use crate::{IdentityClaims, RelyingParty, RpConfig};

/// Nothing listens on port 9: no test here may reach the provider.
const ISSUER: &str = "http://127.0.0.1:9";
const COOKIE: &str = "tessera_vanban";

fn rp() -> Arc<RelyingParty> {
    let metadata = crate::rp::tests::metadata(ISSUER, true);
    let config = RpConfig {
        issuer: ISSUER.into(),
        client_id: "vanban".into(),
        client_secret: Some("s3cret".into()),
        redirect_uri: "http://127.0.0.1:7000/callback".into(),
    };
    Arc::new(RelyingParty::from_metadata(config, metadata, http_client().unwrap()).unwrap())
}

fn kit() -> (AuthKit, Arc<MemorySessionStore>) {
    let store = Arc::new(MemorySessionStore::default());
    let kit = AuthKit::new(rp())
        .unwrap()
        .session_store(store.clone())
        .post_logout_redirect_uri("http://127.0.0.1:7000/");
    (kit, store)
}

fn app(kit: &AuthKit) -> Router {
    Router::new()
        .route(
            "/",
            get(|user: Option<AuthUser>| async move {
                user.map_or("anonymous".to_owned(), |u| u.claims.sub)
            }),
        )
        .route("/me", get(|user: AuthUser| async move { user.claims.sub }))
        .route(
            "/sign",
            get(|| async { "signing page" }).route_layer(kit.require(Requirement::level(2))),
        )
        .route(
            "/archive",
            get(|| async { "archive" }).route_layer(kit.require(Requirement::role("van-thu"))),
        )
        .merge(kit.routes())
        .layer(kit.session_layer())
}

fn claims(sub: &str, sid: &str, level: u8) -> IdentityClaims {
    IdentityClaims {
        sub: sub.into(),
        iss: ISSUER.into(),
        issued_at: 0,
        expires_at: 0,
        auth_time: Some(unix_now()),
        acr: Some(format!("urn:tessera:loa:{level}")),
        amr: vec!["pwd".into()],
        sid: Some(sid.into()),
        name: None,
        given_name: None,
        family_name: None,
        preferred_username: None,
        email: None,
        email_verified: None,
        phone_number: None,
        phone_number_verified: None,
        roles: vec!["can-bo".into()],
        unit_id: None,
        unit_name: None,
    }
}

/// A signed-in session `id` of `sub`, ending `ttl` seconds from now.
async fn signed_in(store: &MemorySessionStore, id: &str, sub: &str, level: u8, ttl: i64) {
    let now = unix_now();
    let session = Session {
        expires_at: now + ttl,
        pending: Vec::new(),
        user: Some(SignedIn {
            claims: claims(sub, &format!("sid-{sub}"), level),
            id_token: "header.payload.signature".into(),
            access_token: "access".into(),
            refresh_token: None,
            access_expires_at: Some(now + 600),
            signed_in_at: now,
        }),
    };
    store.save(id, &session, now).await.unwrap();
}

async fn get_with(app: Router, path: &str, cookie: Option<&str>) -> Response {
    let mut req = Request::get(path);
    if let Some(value) = cookie {
        req = req.header(header::COOKIE, format!("{COOKIE}={value}"));
    }
    app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

async fn text(resp: Response) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn location(resp: &Response) -> url::Url {
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = resp.headers()[header::LOCATION].to_str().unwrap();
    url::Url::parse(loc)
        .or_else(|_| url::Url::parse("http://127.0.0.1:7000").unwrap().join(loc))
        .unwrap()
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn set_cookie_id(resp: &Response) -> String {
    let value = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = cookie::Cookie::parse(value.to_owned()).unwrap();
    assert_eq!(cookie.name(), COOKIE);
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
    cookie.value().to_owned()
}

#[tokio::test]
async fn a_signed_in_session_reaches_the_page() {
    let (kit, store) = kit();
    signed_in(&store, "good-id", "an.nv", 1, 3600).await;
    let resp = get_with(app(&kit), "/me", Some("good-id")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(text(resp).await, "an.nv");
}

#[tokio::test]
async fn a_tampered_cookie_is_no_session_and_starts_a_login() {
    let (kit, store) = kit();
    signed_in(&store, "good-id", "an.nv", 1, 3600).await;
    let resp = get_with(app(&kit), "/", Some("good-iD")).await;
    assert_eq!(text(resp).await, "anonymous");

    let resp = get_with(app(&kit), "/me?tab=2", Some("good-iD")).await;
    let to = location(&resp);
    assert_eq!(to.path(), "/authorize");
    // A new session holds the login; the tampered identifier is not reused.
    let id = set_cookie_id(&resp);
    assert_ne!(id, "good-iD");
    let pending = store.load(&id).await.unwrap().unwrap();
    assert!(pending.user.is_none());
    assert_eq!(pending.pending[0].return_to, "/me?tab=2");
    assert_eq!(pending.pending[0].login.state, query(&to)["state"]);
}

#[tokio::test]
async fn an_expired_session_is_removed_and_starts_a_login() {
    let (kit, store) = kit();
    signed_in(&store, "old-id", "an.nv", 2, -1).await;
    let resp = get_with(app(&kit), "/me", Some("old-id")).await;
    assert_eq!(location(&resp).path(), "/authorize");
    assert!(store.load("old-id").await.unwrap().is_none());
}

#[tokio::test]
async fn a_level_one_session_is_stepped_up_for_a_level_two_page() {
    let (kit, store) = kit();
    signed_in(&store, "l1", "an.nv", 1, 3600).await;
    let resp = get_with(app(&kit), "/sign", Some("l1")).await;
    let to = location(&resp);
    let q = query(&to);
    assert_eq!(to.path(), "/authorize");
    assert_eq!(q["acr_values"], "urn:tessera:loa:2");
    assert!(
        !q.contains_key("max_age"),
        "a step-up keeps the SSO session"
    );
    // The login is remembered in the same session, to come back to /sign at level 2.
    assert_eq!(set_cookie_id(&resp), "l1");
    let session = store.load("l1").await.unwrap().unwrap();
    assert_eq!(session.pending[0].level, Some(2));
    assert_eq!(session.pending[0].return_to, "/sign");
    assert!(
        session.user.is_some(),
        "still signed in at level 1 meanwhile"
    );

    signed_in(&store, "l2", "an.nv", 2, 3600).await;
    let resp = get_with(app(&kit), "/sign", Some("l2")).await;
    assert_eq!(text(resp).await, "signing page");
}

#[tokio::test]
async fn a_fresh_requirement_asks_for_max_age_zero() {
    let (kit, store) = kit();
    let mut session = Session {
        expires_at: unix_now() + 3600,
        ..Session::default()
    };
    let mut c = claims("an.nv", "sid-1", 2);
    c.auth_time = Some(unix_now() - 3600);
    session.user = Some(SignedIn {
        claims: c,
        id_token: "t".into(),
        access_token: "a".into(),
        refresh_token: None,
        access_expires_at: None,
        signed_in_at: 0,
    });
    store.save("s", &session, unix_now()).await.unwrap();
    let app = Router::new()
        .route(
            "/approve",
            get(|| async { "ok" }).route_layer(
                kit.require(Requirement::level(2).fresh(std::time::Duration::from_secs(300))),
            ),
        )
        .layer(kit.session_layer());
    let resp = get_with(app, "/approve", Some("s")).await;
    let q = query(&location(&resp));
    assert_eq!(q["max_age"], "0");
    assert_eq!(q["acr_values"], "urn:tessera:loa:2");
}

#[tokio::test]
async fn a_user_without_the_role_is_refused_not_stepped_up() {
    let (kit, store) = kit();
    signed_in(&store, "s", "an.nv", 2, 3600).await;
    let resp = get_with(app(&kit), "/archive", Some("s")).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(text(resp).await.contains("không có quyền"));
}

#[tokio::test]
async fn login_returns_only_to_local_paths() {
    let (kit, store) = kit();
    for (asked, kept) in [
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/documents?page=2", "/documents?page=2"),
    ] {
        let path = format!(
            "/auth/login?return_to={}",
            url::form_urlencoded::byte_serialize(asked.as_bytes()).collect::<String>()
        );
        let resp = get_with(app(&kit), &path, None).await;
        let id = set_cookie_id(&resp);
        let session = store.load(&id).await.unwrap().unwrap();
        assert_eq!(session.pending[0].return_to, kept, "{asked}");
    }
}

#[tokio::test]
async fn a_callback_without_its_login_is_refused() {
    let (kit, store) = kit();
    let resp = get_with(app(&kit), "/callback?code=c&state=s", None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(text(resp).await.contains("hết hạn"));
    // A state of another login of this browser is refused too, and spends nothing.
    let started = get_with(app(&kit), "/auth/login", None).await;
    let id = set_cookie_id(&started);
    let resp = get_with(app(&kit), "/callback?code=c&state=other", Some(&id)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(store.load(&id).await.unwrap().unwrap().pending.len(), 1);
}

#[tokio::test]
async fn logout_ends_the_session_then_the_providers() {
    let (kit, store) = kit();
    signed_in(&store, "s", "an.nv", 1, 3600).await;
    let post = |origin: &str| {
        Request::post("/auth/logout")
            .header(header::COOKIE, format!("{COOKIE}=s"))
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap()
    };
    let resp = app(&kit)
        .oneshot(post("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(store.load("s").await.unwrap().is_some());

    let resp = app(&kit)
        .oneshot(post("http://127.0.0.1:7000"))
        .await
        .unwrap();
    let to = location(&resp);
    assert_eq!(to.path(), "/logout");
    let q = query(&to);
    assert_eq!(q["id_token_hint"], "header.payload.signature");
    assert_eq!(q["post_logout_redirect_uri"], "http://127.0.0.1:7000/");
    assert!(store.load("s").await.unwrap().is_none());
    let cleared = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn ending_sessions_by_sid_or_sub_leaves_the_others() {
    let (kit, store) = kit();
    signed_in(&store, "a1", "an", 1, 3600).await;
    signed_in(&store, "a2", "an", 1, 3600).await;
    signed_in(&store, "b1", "binh", 1, 3600).await;
    // sid-an is the provider session of both of an's sessions here.
    assert_eq!(kit.end_sessions(Some("sid-an"), None).await.unwrap(), 2);
    assert!(store.load("b1").await.unwrap().is_some());
    assert_eq!(
        kit.end_sessions(Some("sid-binh"), Some("an"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(kit.end_sessions(None, Some("binh")).await.unwrap(), 1);
    assert_eq!(kit.end_sessions(None, None).await.unwrap(), 0);
}
