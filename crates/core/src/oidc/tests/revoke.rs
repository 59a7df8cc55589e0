//! Token revocation (RFC 7009): a client ends its own tokens; for anything else it gets the
//! same success and nothing happens.

use tessera_proto::ErrorCode;

use super::oauth_code;
use super::world::World;
use crate::oidc::{revoke, userinfo};
use crate::request::RequestMeta;
use crate::testkit::{self, T0};

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let w = World::new().await;
    let first = w.login("conf", &[], T0).await;
    let r0 = first.refresh_token.clone().unwrap();
    let second = w.refresh("conf", &r0, None, T0 + 10).await.unwrap();
    let r1 = second.refresh_token.clone().unwrap();
    let bystander = w.login("conf", &[], T0 + 11).await;

    w.revoke("conf", &r1, T0 + 20).await.unwrap();
    let family = w.family_of(&r1).await;
    assert_eq!(family.revoked_at, Some(T0 + 20));
    let e = w.assert_audit("token.revoked", None).await;
    assert_eq!(e.client_id.as_deref(), Some("conf"));
    assert_eq!(e.actor.as_deref(), Some(w.user.id.as_str()));
    assert!(e.detail.contains(&family.id), "{e:?}");

    let r = w.refresh("conf", &r1, None, T0 + 21).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert!(!w.active("conf", &r1, T0 + 21).await);
    for at in [&first.access_token, &second.access_token] {
        let r = userinfo::userinfo(&w.p, at, T0 + 21).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
        assert!(!w.active("conf", at, T0 + 21).await);
    }
    // Other logins are untouched.
    userinfo::userinfo(&w.p, &bystander.access_token, T0 + 21)
        .await
        .unwrap();
    w.refresh(
        "conf",
        bystander.refresh_token.as_deref().unwrap(),
        None,
        T0 + 22,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn revoking_a_spent_refresh_token_also_ends_the_family() {
    let w = World::new().await;
    let r0 = w.login("conf", &[], T0).await.refresh_token.unwrap();
    let r1 = w
        .refresh("conf", &r0, None, T0 + 10)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    w.revoke("conf", &r0, T0 + 20).await.unwrap();
    let r = w.refresh("conf", &r1, None, T0 + 21).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn another_clients_token_is_left_alone() {
    let w = World::new().await;
    let r = w.login("conf", &[], T0).await;
    let rt = r.refresh_token.clone().unwrap();
    let before = w.p.store.recent_audit(1).await.unwrap();
    for token in [&rt, &r.access_token] {
        w.revoke("other", token, T0 + 5).await.unwrap();
        w.revoke("lgsp", token, T0 + 5).await.unwrap();
    }
    // Nothing recorded, nothing revoked.
    assert_eq!(w.p.store.recent_audit(1).await.unwrap(), before);
    assert_eq!(w.family_of(&rt).await.revoked_at, None);
    assert!(w.active("conf", &r.access_token, T0 + 6).await);
    userinfo::userinfo(&w.p, &r.access_token, T0 + 6)
        .await
        .unwrap();
    w.refresh("conf", &rt, None, T0 + 7).await.unwrap();
}

#[tokio::test]
async fn revoking_an_access_token_makes_userinfo_refuse_it() {
    let w = World::new().await;
    let r = w.login("conf", &[], T0).await;
    userinfo::userinfo(&w.p, &r.access_token, T0 + 2)
        .await
        .unwrap();
    // The hint is only a hint (RFC 7009 §2.1): a wrong one changes nothing.
    let params = testkit::params(&[
        ("token", r.access_token.as_str()),
        ("token_type_hint", "refresh_token"),
    ]);
    revoke::revoke(
        &w.p,
        &params,
        Some(&w.auth("conf")),
        &RequestMeta::default(),
        T0 + 3,
    )
    .await
    .unwrap();
    let e = w.assert_audit("token.revoked", None).await;
    assert!(e.detail.contains("access"), "{e:?}");
    let r2 = userinfo::userinfo(&w.p, &r.access_token, T0 + 4).await;
    assert_eq!(oauth_code(r2), ErrorCode::InvalidToken);
    assert!(!w.active("conf", &r.access_token, T0 + 4).await);
    // Revoking it again is still a success.
    w.revoke("conf", &r.access_token, T0 + 5).await.unwrap();
    // The refresh token of the same login lives on (only the access token was revoked).
    let next = w
        .refresh("conf", r.refresh_token.as_deref().unwrap(), None, T0 + 6)
        .await
        .unwrap();
    userinfo::userinfo(&w.p, &next.access_token, T0 + 7)
        .await
        .unwrap();
}

#[tokio::test]
async fn client_credentials_token_can_be_revoked_by_its_client() {
    let w = World::new().await;
    let r = w.client_credentials("lgsp", None, T0).await.unwrap();
    assert!(w.active("lgsp", &r.access_token, T0 + 1).await);
    w.revoke("lgsp", &r.access_token, T0 + 2).await.unwrap();
    assert!(!w.active("lgsp", &r.access_token, T0 + 3).await);
}

#[tokio::test]
async fn unknown_tokens_are_a_success_and_bad_requests_are_not() {
    let w = World::new().await;
    for junk in ["khong-phai-token", "a.b.c", "e30.e30.c2ln"] {
        w.revoke("conf", junk, T0).await.unwrap();
    }
    let meta = RequestMeta::default();
    let r = revoke::revoke(
        &w.p,
        &testkit::params(&[]),
        Some(&w.auth("conf")),
        &meta,
        T0,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
    let params = testkit::params(&[("token", "x")]);
    let wrong = testkit::basic("conf", w.secret("other"));
    let r = revoke::revoke(&w.p, &params, Some(&wrong), &meta, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let r = revoke::revoke(&w.p, &params, None, &meta, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn public_client_revokes_its_own_refresh_token_with_its_client_id() {
    // RFC 7009 §5: public clients must be able to revoke too (e.g. a mobile app's logout);
    // their tokens are bound to them, so knowing the client id is no privilege over others'.
    let w = World::new().await;
    let r = w.login("pub", &[], T0).await;
    let rt = r.refresh_token.clone().unwrap();
    // Not another client's.
    let theirs = w.login("conf", &[], T0).await.refresh_token.unwrap();
    w.revoke("pub", &theirs, T0 + 2).await.unwrap();
    assert_eq!(w.family_of(&theirs).await.revoked_at, None);
    w.revoke("pub", &rt, T0 + 2).await.unwrap();
    let r2 = w.refresh("pub", &rt, None, T0 + 3).await;
    assert_eq!(oauth_code(r2), ErrorCode::InvalidGrant);
    let r3 = userinfo::userinfo(&w.p, &r.access_token, T0 + 3).await;
    assert_eq!(oauth_code(r3), ErrorCode::InvalidToken);
}
