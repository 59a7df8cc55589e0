//! Token introspection (RFC 7662): a client learns about its own live tokens only; anything
//! else is `{"active": false}` and nothing more.

use serde_json::json;
use tessera_proto::ErrorCode;
use tessera_store::users::UserStatus;

use super::oauth_code;
use super::world::World;
use crate::admin;
use crate::oidc::introspect;
use crate::testkit::{self, ISSUER, T0};

#[tokio::test]
async fn own_access_token_is_active_with_its_claims() {
    let w = World::new().await;
    let r = w
        .login("conf", &[("scope", "openid profile email")], T0)
        .await;
    let answer = w.introspect("conf", &r.access_token, T0 + 10).await;
    let at =
        w.p.signer
            .verify(&r.access_token, T0 + 10)
            .await
            .unwrap()
            .unwrap()
            .claims;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["sub"], json!(w.user.id));
    assert_eq!(answer["username"], "an.nv");
    assert_eq!(answer["client_id"], "conf");
    assert_eq!(answer["aud"], "conf");
    assert_eq!(answer["iss"], ISSUER);
    assert_eq!(answer["scope"], "openid profile email");
    assert_eq!(answer["iat"], T0 + 1);
    assert_eq!(answer["exp"], T0 + 1 + 600);
    assert_eq!(answer["jti"], at["jti"]);
    assert_eq!(answer["sid"], json!(w.session.0.sid));
    // Until one second before it expires.
    assert!(w.active("conf", &r.access_token, T0 + 600).await);
    assert!(!w.active("conf", &r.access_token, T0 + 601).await);
    assert!(!w.active("conf", &r.access_token, T0 + 3600).await);
}

#[tokio::test]
async fn another_clients_token_is_just_inactive() {
    let w = World::new().await;
    let r = w.login("conf", &[], T0).await;
    let answer = w.introspect("other", &r.access_token, T0 + 10).await;
    assert_eq!(answer, json!({ "active": false }));
    let answer = w
        .introspect("other", r.refresh_token.as_deref().unwrap(), T0 + 10)
        .await;
    assert_eq!(answer, json!({ "active": false }));
    // A service client cannot inspect user tokens either.
    assert!(!w.active("lgsp", &r.access_token, T0 + 10).await);
    // The owner still sees them.
    assert!(w.active("conf", &r.access_token, T0 + 10).await);
}

#[tokio::test]
async fn revoked_expired_and_foreign_tokens_are_inactive() {
    let w = World::new().await;
    let r = w.login("conf", &[], T0).await;
    w.revoke("conf", &r.access_token, T0 + 5).await.unwrap();
    assert!(!w.active("conf", &r.access_token, T0 + 6).await);

    // The ID token is signed by the same key, but it is not an access token.
    let r = w.login("conf", &[], T0).await;
    assert!(
        !w.active("conf", r.id_token.as_deref().unwrap(), T0 + 6)
            .await
    );
    // Garbage, a forged JWS, an unknown opaque token.
    let forged = format!(
        "{}.c2ln",
        testkit::jws_input(
            &json!({ "alg": "ES256", "typ": "at+jwt" }),
            &json!({ "iss": ISSUER, "sub": w.user.id, "client_id": "conf" })
        )
    );
    for junk in ["a.b.c", forged.as_str(), "khong-phai-token"] {
        assert!(!w.active("conf", junk, T0 + 6).await, "{junk}");
    }
}

#[tokio::test]
async fn tokens_of_a_disabled_user_are_inactive() {
    let w = World::new().await;
    let r = w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await;
    let rt = r.refresh_token.clone().unwrap();
    assert!(w.active("conf", &r.access_token, T0 + 2).await);
    assert!(w.active("conf", &rt, T0 + 2).await);
    // The status alone (without the admin path revoking anything) is enough.
    w.p.store
        .set_user_status("an.nv", UserStatus::Disabled, T0 + 3)
        .await
        .unwrap();
    assert!(!w.active("conf", &r.access_token, T0 + 4).await);
    assert!(!w.active("conf", &rt, T0 + 4).await);
    w.p.store
        .set_user_status("an.nv", UserStatus::Active, T0 + 5)
        .await
        .unwrap();
    assert!(w.active("conf", &r.access_token, T0 + 6).await);
    // And through the admin path.
    admin::disable_user(&w.p, testkit::ACTOR, "an.nv", T0 + 7)
        .await
        .unwrap();
    assert!(!w.active("conf", &r.access_token, T0 + 8).await);
    assert!(!w.active("conf", &rt, T0 + 8).await);
}

#[tokio::test]
async fn refresh_token_is_active_until_rotated() {
    let w = World::new().await;
    let r = w.login("conf", &[("scope", "openid profile")], T0).await;
    let r0 = r.refresh_token.unwrap();
    let answer = w.introspect("conf", &r0, T0 + 10).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "refresh_token");
    assert_eq!(answer["client_id"], "conf");
    assert_eq!(answer["sub"], json!(w.user.id));
    assert_eq!(answer["username"], "an.nv");
    assert_eq!(answer["scope"], "openid profile");
    assert_eq!(answer["iss"], ISSUER);
    assert_eq!(answer["iat"], T0 + 1);
    assert_eq!(answer["exp"], T0 + 1 + 7 * 86_400);

    let next = w.refresh("conf", &r0, None, T0 + 20).await.unwrap();
    let r1 = next.refresh_token.unwrap();
    assert!(!w.active("conf", &r0, T0 + 21).await);
    assert!(w.active("conf", &r1, T0 + 21).await);
    // Introspecting does not spend it.
    w.refresh("conf", &r1, None, T0 + 22).await.unwrap();
}

#[tokio::test]
async fn refresh_token_is_inactive_once_its_session_ended_unless_offline() {
    let w = World::new().await;
    let online = w.login("conf", &[], T0).await.refresh_token.unwrap();
    let offline = w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await
        .refresh_token
        .unwrap();
    w.p.store
        .end_session(&w.session.0.id, T0 + 5)
        .await
        .unwrap();
    assert!(!w.active("conf", &online, T0 + 6).await);
    assert!(w.active("conf", &offline, T0 + 6).await);
}

#[tokio::test]
async fn client_credentials_token_is_active_with_the_client_as_subject() {
    let w = World::new().await;
    let r = w
        .client_credentials("lgsp", Some("lgsp.read"), T0)
        .await
        .unwrap();
    let answer = w.introspect("lgsp", &r.access_token, T0 + 1).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], "lgsp");
    assert_eq!(answer["client_id"], "lgsp");
    assert_eq!(answer["scope"], "lgsp.read");
    assert!(answer.get("username").is_none(), "{answer}");
    assert!(answer.get("sid").is_none(), "{answer}");
    assert!(!w.active("conf", &r.access_token, T0 + 1).await);
}

#[tokio::test]
async fn introspection_needs_an_authenticated_client_and_a_token() {
    let w = World::new().await;
    let r = w.login("conf", &[], T0).await;
    let call = |pairs: Vec<(&'static str, String)>, auth: Option<String>| {
        let w = &w;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            introspect::introspect(&w.p, &testkit::params(&pairs), auth.as_deref(), T0 + 2).await
        }
    };
    let at = r.access_token.clone();
    let r = call(vec![("token", at.clone())], None).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let wrong = testkit::basic("conf", w.secret("other"));
    let r = call(vec![("token", at.clone())], Some(wrong)).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let r = call(vec![], Some(w.auth("conf"))).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
    // A public client cannot authenticate, so it may not introspect (RFC 7662 §2.1; the
    // metadata offers no `none` method here).
    let r = call(vec![("token", at), ("client_id", "pub".into())], None).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
}
