//! UserInfo: access-token expiry with the clock passed in, and claims released per scope.

use serde_json::{Value, json};
use tessera_proto::ErrorCode;

use super::oauth_code;
use crate::oidc::{authorize, token, userinfo};
use crate::request::RequestMeta;
use crate::testkit::{self, REDIRECT, T0, authz, basic};
use crate::{Provider, admin};

/// An access token issued at `T0 + 5` for `scope` to user `an.nv` of unit "Phường Hồng Bàng".
async fn issue(scope: &str) -> (Provider, String, String) {
    issue_on(testkit::provider(T0 - 1000).await, scope).await
}

async fn issue_on(p: Provider, scope: &str) -> (Provider, String, String) {
    let t = T0 - 1000;
    let unit = testkit::add_unit(&p, "Phường Hồng Bàng", t).await;
    let user = testkit::add_user(&p, "an.nv", Some(&unit.id), &["van-thu", "can-bo"], t).await;
    let (_, secret) = testkit::confidential_client(&p, "conf", None, t).await;
    let (_, session) = testkit::session(&p, &user, T0).await;
    let meta = RequestMeta::default();
    let d = authorize::authorize(
        &p,
        &authz("conf", &[("scope", scope)]),
        Some(&session),
        &meta,
        T0,
    )
    .await
    .unwrap();
    let code = testkit::code_of(&d);
    let params = testkit::params(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
    ]);
    let r = token::token(&p, &params, Some(&basic("conf", &secret)), &meta, T0 + 5)
        .await
        .unwrap();
    (p, r.access_token, r.id_token.unwrap_or_default())
}

#[tokio::test]
async fn access_token_expires_after_its_lifetime() {
    let (p, at, _) = issue("openid").await;
    let ttl = p.config.access_token_ttl;
    userinfo::userinfo(&p, &at, T0 + 5 + ttl - 1).await.unwrap();
    let r = userinfo::userinfo(&p, &at, T0 + 5 + ttl).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    let r = userinfo::userinfo(&p, &at, T0 + 5 + ttl + 3600).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn only_access_tokens_of_this_provider_are_accepted() {
    let (p, at, id_token) = issue("openid").await;
    // An ID token is signed by the same key but is not an access token (RFC 9068 §2.1).
    let r = userinfo::userinfo(&p, &id_token, T0 + 6).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    for garbage in ["", "abc", "a.b.c", "a.b.c.d"] {
        let r = userinfo::userinfo(&p, garbage, T0 + 6).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidToken, "{garbage:?}");
    }
    // A token from another provider's database (other keys) does not verify.
    let (other, _, _) = issue_on(testkit::provider_with_own_keys(T0 - 1000).await, "openid").await;
    let r = userinfo::userinfo(&other, &at, T0 + 6).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn disabling_the_user_invalidates_the_access_token() {
    let (p, at, _) = issue("openid").await;
    admin::disable_user(&p, testkit::ACTOR, "an.nv", T0 + 6)
        .await
        .unwrap();
    let r = userinfo::userinfo(&p, &at, T0 + 7).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn claims_follow_the_scopes() {
    let (p, at, _) = issue("openid").await;
    let info = userinfo::userinfo(&p, &at, T0 + 6).await.unwrap();
    assert_eq!(info.keys().collect::<Vec<_>>(), ["sub"]);
    let sub = info["sub"].as_str().unwrap().to_owned();
    assert_ne!(sub, "an.nv");
    let user = p.store.user_by_username("an.nv").await.unwrap().unwrap();
    assert_eq!(sub, user.id);

    let (p, at, id_token) = issue("openid profile email org").await;
    let info = userinfo::userinfo(&p, &at, T0 + 6).await.unwrap();
    let user = p.store.user_by_username("an.nv").await.unwrap().unwrap();
    assert_eq!(info["sub"], json!(user.id));
    assert_ne!(info["sub"], "an.nv");
    assert_eq!(info["name"], "Nguyễn Văn An");
    assert_eq!(info["preferred_username"], "an.nv");
    assert_eq!(info["email"], "an.nv@haiphong.gov.vn");
    assert_eq!(info["email_verified"], false);
    assert_eq!(info["unit_id"], json!(user.unit_id));
    assert_eq!(info["unit_name"], "Phường Hồng Bàng");
    assert_eq!(info["roles"], json!(["can-bo", "van-thu"]));
    // The user has a phone number, but the phone scope was not asked for.
    assert!(!info.contains_key("phone_number"), "{info:?}");

    // The ID token releases the same claims.
    let v = p.signer.verify(&id_token, T0 + 6).await.unwrap().unwrap();
    for (k, val) in &info {
        assert_eq!(&v.claims[k], val, "{k}");
    }
    assert_eq!(v.claims["unit_name"], Value::from("Phường Hồng Bàng"));
}
