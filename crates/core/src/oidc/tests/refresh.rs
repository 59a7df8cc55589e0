//! The refresh-token grant: rotation, re-use detection revoking the family, binding to the
//! client, idle and absolute expiry, the user and the session, scope narrowing, and the ID
//! token it carries (RFC 6749 §6, RFC 9700 §4.14.2, OIDC Core §12.2).

use serde_json::json;
use tessera_proto::ErrorCode;
use tessera_store::users::UserStatus;

use super::oauth_code;
use super::world::{LOGIN, SHORT_ABSOLUTE, SHORT_IDLE, World};
use crate::admin;
use crate::oidc::token::at_hash;
use crate::oidc::userinfo;
use crate::testkit::{self, T0};

fn rt(r: &tessera_proto::TokenResponse) -> String {
    r.refresh_token.clone().expect("a refresh token")
}

#[tokio::test]
async fn default_client_gets_a_refresh_token_and_refresh_rotates_it() {
    let w = World::new().await;
    let first = w.login("conf", &[], T0).await;
    let r0 = rt(&first);
    let family = w.family_of(&r0).await;
    assert_eq!(family.client_id, "conf");
    assert_eq!(family.user_id, w.user.id);
    assert_eq!(family.scope, "openid profile");
    assert_eq!(family.auth_time, LOGIN);
    assert!(!family.offline);
    assert_eq!(family.session_id.as_deref(), Some(w.session.0.id.as_str()));
    // Server defaults: idle 7 days, absolute 30 days from the exchange.
    assert_eq!(family.absolute_expires_at, T0 + 1 + 30 * 86_400);
    assert_eq!(w.refresh_record(&r0).await.expires_at, T0 + 1 + 7 * 86_400);

    let second = w.refresh("conf", &r0, None, T0 + 100).await.unwrap();
    let r1 = rt(&second);
    assert_ne!(r1, r0);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.token_type, "Bearer");
    assert_eq!(second.expires_in, 600);
    assert_eq!(second.scope, "openid profile");
    // The old token is spent, the new one is in the same family and fresh.
    assert_eq!(w.refresh_record(&r0).await.used_at, Some(T0 + 100));
    let next = w.refresh_record(&r1).await;
    assert_eq!(next.used_at, None);
    assert_eq!(next.issued_at, T0 + 100);
    assert_eq!(next.expires_at, T0 + 100 + 7 * 86_400);
    assert_eq!(w.family_of(&r1).await.id, family.id);
    // The new access token works, and so does the first one (rotation revokes nothing).
    let info = userinfo::userinfo(&w.p, &second.access_token, T0 + 101)
        .await
        .unwrap();
    assert_eq!(info["sub"], json!(w.user.id));
    userinfo::userinfo(&w.p, &first.access_token, T0 + 101)
        .await
        .unwrap();
    let audit = w.assert_audit("token.issued", None).await;
    assert!(audit.detail.contains("refresh_token"), "{audit:?}");
    assert!(audit.detail.contains(&family.id), "{audit:?}");

    // And again: the chain goes on.
    let third = w.refresh("conf", &r1, None, T0 + 200).await.unwrap();
    assert_ne!(rt(&third), r1);
}

#[tokio::test]
async fn reuse_of_a_spent_token_revokes_the_whole_family() {
    let w = World::new().await;
    let first = w.login("conf", &[], T0).await;
    let r0 = rt(&first);
    let second = w.refresh("conf", &r0, None, T0 + 10).await.unwrap();
    let r1 = rt(&second);
    // Another login of the same user and client: a family of its own.
    let bystander = w.login("conf", &[], T0 + 11).await;

    // The spent r0 comes back (a thief, or the client replaying).
    let r = w.refresh("conf", &r0, None, T0 + 20).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let family = w.family_of(&r0).await;
    let e = w.assert_audit("refresh.reused", None).await;
    assert_eq!(e.outcome, "failure");
    let alerts = w.p.store.recent_audit(2).await.unwrap();
    assert_eq!(alerts[1].event, "alert.refresh_token_reuse", "{alerts:?}");
    assert_eq!(alerts[1].client_id.as_deref(), Some("conf"));
    assert_eq!(e.actor.as_deref(), Some(w.user.id.as_str()));
    assert_eq!(e.client_id.as_deref(), Some("conf"));
    assert!(e.detail.contains(&family.id), "{e:?}");
    assert_eq!(family.revoked_at, Some(T0 + 20));
    assert_eq!(family.revoke_reason.as_deref(), Some("reuse"));

    // The newest token of the family is dead too…
    let r = w.refresh("conf", &r1, None, T0 + 21).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("family revoked"))
        .await;
    // …and so is every access token minted from the family, the code exchange's included.
    for at in [&first.access_token, &second.access_token] {
        let r = userinfo::userinfo(&w.p, at, T0 + 22).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
        assert!(!w.active("conf", at, T0 + 22).await);
    }
    assert!(!w.active("conf", &r1, T0 + 22).await);

    // The other family is untouched.
    userinfo::userinfo(&w.p, &bystander.access_token, T0 + 22)
        .await
        .unwrap();
    w.refresh("conf", &rt(&bystander), None, T0 + 23)
        .await
        .unwrap();
}

#[tokio::test]
async fn newest_token_presented_twice_revokes_the_family() {
    let w = World::new().await;
    let r0 = rt(&w.login("conf", &[], T0).await);
    let second = w.refresh("conf", &r0, None, T0 + 10).await.unwrap();
    let r1 = rt(&second);
    let third = w.refresh("conf", &r1, None, T0 + 20).await.unwrap();
    // r1 again, after its successor was issued.
    let r = w.refresh("conf", &r1, None, T0 + 30).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.reused", None).await;
    let r = w.refresh("conf", &rt(&third), None, T0 + 31).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let r = userinfo::userinfo(&w.p, &third.access_token, T0 + 31).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn concurrent_uses_of_one_token_give_at_most_one_successor() {
    let w = World::new().await;
    let r0 = rt(&w.login("conf", &[], T0).await);
    let (a, b) = tokio::join!(
        w.refresh("conf", &r0, None, T0 + 10),
        w.refresh("conf", &r0, None, T0 + 10)
    );
    // Exactly one use spends the token; the other is a re-use (and revokes the family).
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    let loser = if a.is_ok() { b } else { a };
    assert_eq!(oauth_code(loser), ErrorCode::InvalidGrant);
    assert!(w.family_of(&r0).await.revoked_at.is_some());
}

#[tokio::test]
async fn refresh_by_another_client_is_refused_without_burning_the_token() {
    let w = World::new().await;
    let r0 = rt(&w.login("conf", &[], T0).await);
    for thief in ["other", "pub"] {
        let r = w.refresh(thief, &r0, None, T0 + 10).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidGrant, "{thief}");
        let e = w
            .assert_audit("refresh.refused", Some("refresh token of another client"))
            .await;
        assert_eq!(e.client_id.as_deref(), Some(thief));
    }
    let rec = w.refresh_record(&r0).await;
    assert_eq!(rec.used_at, None);
    assert_eq!(w.family_of(&r0).await.revoked_at, None);
    // The owner still uses it, without tripping re-use detection.
    let next = w.refresh("conf", &r0, None, T0 + 20).await.unwrap();
    w.refresh("conf", &rt(&next), None, T0 + 30).await.unwrap();
}

#[tokio::test]
async fn unknown_or_missing_refresh_token() {
    let w = World::new().await;
    let r = w.refresh("conf", "khong-phai-token", None, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let params = testkit::params(&[("grant_type", "refresh_token")]);
    let r = crate::oidc::token::token(
        &w.p,
        &params,
        Some(&w.auth("conf")),
        &Default::default(),
        T0,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
    // A refresh token with a wrong client secret: the client fails first.
    let r0 = rt(&w.login("conf", &[], T0).await);
    let params = testkit::params(&[("grant_type", "refresh_token"), ("refresh_token", &r0)]);
    let wrong = testkit::basic("conf", w.secret("other"));
    let r =
        crate::oidc::token::token(&w.p, &params, Some(&wrong), &Default::default(), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    assert_eq!(w.refresh_record(&r0).await.used_at, None);
}

#[tokio::test]
async fn idle_expiry_is_invalid_grant() {
    let w = World::new().await;
    // Client `short`: tokens unused for 300 s expire. Issued at T0 + 1.
    let r0 = rt(&w.login("short", &[], T0).await);
    assert_eq!(w.refresh_record(&r0).await.expires_at, T0 + 1 + SHORT_IDLE);
    let r = w.refresh("short", &r0, None, T0 + 1 + SHORT_IDLE).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("refresh token expired"))
        .await;

    // One second earlier it works; the successor's idle clock starts then.
    let r0 = rt(&w.login("short", &[], T0).await);
    let now = T0 + SHORT_IDLE;
    let r1 = rt(&w.refresh("short", &r0, None, now).await.unwrap());
    assert_eq!(w.refresh_record(&r1).await.expires_at, now + SHORT_IDLE);
    let r = w.refresh("short", &r1, None, now + SHORT_IDLE).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("refresh token expired"))
        .await;

    // The server default for clients without their own: 7 days (offline, to outlive the
    // browser session).
    let r0 = rt(&w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await);
    let r = w.refresh("conf", &r0, None, T0 + 1 + 7 * 86_400).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let r0 = rt(&w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await);
    w.refresh("conf", &r0, None, T0 + 7 * 86_400).await.unwrap();
}

#[tokio::test]
async fn absolute_expiry_ends_the_family_however_often_it_is_used() {
    let w = World::new().await;
    let mut token = rt(&w.login("short", &[], T0).await);
    let family = w.family_of(&token).await;
    let end = T0 + 1 + SHORT_ABSOLUTE;
    assert_eq!(family.absolute_expires_at, end);
    // Used every 250 s (well within the idle limit) right up to the end.
    let mut now = T0 + 1;
    while now + 250 < end {
        now += 250;
        token = rt(&w.refresh("short", &token, None, now).await.unwrap());
        // Idle expiry never passes the family's end.
        let rec = w.refresh_record(&token).await;
        assert_eq!(rec.expires_at, (now + SHORT_IDLE).min(end));
    }
    assert!(end - now < SHORT_IDLE);
    let r = w.refresh("short", &token, None, end).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("refresh token expired"))
        .await;
}

#[tokio::test]
async fn disabled_user_cannot_refresh() {
    let w = World::new().await;
    let r0 = rt(&w.login("conf", &[], T0).await);
    let offline = rt(&w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await);
    admin::disable_user(&w.p, testkit::ACTOR, "an.nv", T0 + 5)
        .await
        .unwrap();
    for token in [&r0, &offline] {
        let r = w.refresh("conf", token, None, T0 + 10).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    }
    assert_eq!(
        w.family_of(&r0).await.revoke_reason.as_deref(),
        Some("user_disabled")
    );
}

#[tokio::test]
async fn user_status_is_checked_even_if_the_family_was_not_revoked() {
    // Status changed without the admin path (another replica, a database edit).
    let w = World::new().await;
    let r0 = rt(&w
        .login("conf", &[("scope", "openid offline_access")], T0)
        .await);
    w.p.store
        .set_user_status("an.nv", UserStatus::Disabled, T0 + 5)
        .await
        .unwrap();
    let r = w.refresh("conf", &r0, None, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("user is disabled"))
        .await;
}

#[tokio::test]
async fn a_family_ends_with_its_session_unless_it_is_offline() {
    let w = World::new().await;
    let online = rt(&w.login("conf", &[], T0).await);
    let offline = w
        .login("conf", &[("scope", "openid profile offline_access")], T0)
        .await;
    assert!(w.family_of(&rt(&offline)).await.offline);
    w.p.store
        .end_session(&w.session.0.id, T0 + 5)
        .await
        .unwrap();

    let r = w.refresh("conf", &online, None, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.refused", Some("the session has ended"))
        .await;

    let next = w
        .refresh("conf", &rt(&offline), None, T0 + 10)
        .await
        .unwrap();
    assert_eq!(next.scope, "openid profile offline_access");
    userinfo::userinfo(&w.p, &next.access_token, T0 + 11)
        .await
        .unwrap();
    // No live session, so no `sid`; `auth_time` is still the original login.
    let id = w.p.signer.verify(&next.id_token.unwrap(), T0 + 11).await;
    let claims = id.unwrap().unwrap().claims;
    assert!(claims.get("sid").is_none(), "{claims}");
    assert_eq!(claims["auth_time"], LOGIN);
    // A session that expired (rather than ended) counts the same: login + 10 h.
    let w = World::new().await;
    let online = rt(&w.login("conf", &[], T0).await);
    let expiry = LOGIN + w.p.config.session_ttl;
    let r = w.refresh("conf", &online, None, expiry).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn scope_may_be_narrowed_never_widened() {
    let w = World::new().await;
    let first = w
        .login("conf", &[("scope", "openid profile email")], T0)
        .await;
    let r0 = rt(&first);

    // Wider, or unknown: refused — and the token is not burned by the refusal.
    for wider in [
        "openid profile email phone",
        "openid offline_access",
        "lgsp.read",
    ] {
        let r = w.refresh("conf", &r0, Some(wider), T0 + 10).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidScope, "{wider}");
    }
    assert_eq!(w.refresh_record(&r0).await.used_at, None);
    assert_eq!(w.family_of(&r0).await.revoked_at, None);

    let narrow = w
        .refresh("conf", &r0, Some("openid"), T0 + 20)
        .await
        .unwrap();
    assert_eq!(narrow.scope, "openid");
    let info = userinfo::userinfo(&w.p, &narrow.access_token, T0 + 21)
        .await
        .unwrap();
    assert!(info.get("email").is_none(), "{info:?}");
    assert!(info.get("name").is_none(), "{info:?}");
    let at =
        w.p.signer
            .verify(&narrow.access_token, T0 + 21)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(at.claims["scope"], "openid");

    // The family keeps its grant: the next refresh without `scope` gets all of it back.
    let full = w
        .refresh("conf", &rt(&narrow), None, T0 + 30)
        .await
        .unwrap();
    assert_eq!(full.scope, "openid profile email");

    // Without `openid` the answer carries no ID token.
    let plain = w
        .refresh("conf", &rt(&full), Some("profile email"), T0 + 40)
        .await
        .unwrap();
    assert_eq!(plain.scope, "profile email");
    assert!(plain.id_token.is_none());
    assert!(plain.refresh_token.is_some());
}

#[tokio::test]
async fn id_token_on_refresh_keeps_auth_time_and_has_no_nonce() {
    let w = World::new().await;
    let first = w.login("conf", &[("nonce", "n-42")], T0).await;
    let original =
        w.p.signer
            .verify(first.id_token.as_ref().unwrap(), T0 + 1)
            .await
            .unwrap()
            .unwrap()
            .claims;
    assert_eq!(original["nonce"], "n-42");

    let now = T0 + 500;
    let next = w.refresh("conf", &rt(&first), None, now).await.unwrap();
    let v =
        w.p.signer
            .verify(next.id_token.as_ref().unwrap(), now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(v.header["typ"], "JWT");
    let c = &v.claims;
    assert!(c.get("nonce").is_none(), "{c}");
    assert_eq!(c["auth_time"], LOGIN);
    assert_eq!(c["auth_time"], original["auth_time"]);
    assert_eq!(c["sub"], original["sub"]);
    assert_eq!(c["aud"], "conf");
    assert_eq!(c["iss"], testkit::ISSUER);
    assert_eq!(c["iat"], now);
    assert_eq!(c["exp"], now + w.p.config.id_token_ttl);
    assert_eq!(c["acr"], original["acr"]);
    assert_eq!(c["amr"], original["amr"]);
    assert_eq!(c["sid"], original["sid"]);
    assert_eq!(c["at_hash"], json!(at_hash(&next.access_token)));
    assert_eq!(c["preferred_username"], "an.nv");
}

#[tokio::test]
async fn client_without_the_refresh_grant_gets_no_refresh_token() {
    let w = World::new().await;
    let r = w
        .login("noref", &[("scope", "openid offline_access")], T0)
        .await;
    assert!(r.refresh_token.is_none());
    assert!(r.id_token.is_some());
    // Even a valid refresh token (of another client) is refused before it is looked at.
    let r0 = rt(&w.login("conf", &[], T0).await);
    let r = w.refresh("noref", &r0, None, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    assert_eq!(w.refresh_record(&r0).await.used_at, None);
    // Nor may a service client refresh.
    let r = w.refresh("lgsp", &r0, None, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn public_client_refreshes_with_its_client_id() {
    let w = World::new().await;
    let first = w.login("pub", &[], T0).await;
    let next = w.refresh("pub", &rt(&first), None, T0 + 10).await.unwrap();
    assert!(next.id_token.is_some());
    let r = w.refresh("pub", &rt(&first), None, T0 + 20).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.reused", None).await;
}

#[tokio::test]
async fn replayed_code_also_revokes_the_refresh_family() {
    // RFC 6749 §4.1.2: the tokens issued from a replayed code are revoked — the refresh
    // token too, or the family it started would outlive the replay.
    let w = World::new().await;
    let meta = crate::request::RequestMeta::default();
    let d = crate::oidc::authorize::authorize(
        &w.p,
        &testkit::authz("conf", &[]),
        Some(&w.session),
        &meta,
        T0,
    )
    .await
    .unwrap();
    let code = testkit::code_of(&d);
    let params = testkit::params(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", testkit::REDIRECT),
    ]);
    let auth = w.auth("conf");
    let first = crate::oidc::token::token(&w.p, &params, Some(&auth), &meta, T0 + 1)
        .await
        .unwrap();
    let r0 = rt(&first);
    let refreshed = w.refresh("conf", &r0, None, T0 + 2).await.unwrap();
    let again = crate::oidc::token::token(&w.p, &params, Some(&auth), &meta, T0 + 3).await;
    assert_eq!(oauth_code(again), ErrorCode::InvalidGrant);
    let r = w.refresh("conf", &rt(&refreshed), None, T0 + 4).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let r = userinfo::userinfo(&w.p, &refreshed.access_token, T0 + 4).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    let r = userinfo::userinfo(&w.p, &first.access_token, T0 + 4).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    let family = w.family_of(&r0).await;
    assert_eq!(family.revoked_at, Some(T0 + 3));
    assert_eq!(family.revoke_reason.as_deref(), Some("code replayed"));
    let recent = w.p.store.recent_audit(5).await.unwrap();
    let e = recent.iter().find(|e| e.event == "code.replayed").unwrap();
    // The exchange's access token and the one minted by the refresh.
    assert!(e.detail.contains("\"revoked_tokens\":2"), "{e:?}");
}

#[tokio::test]
async fn a_spent_token_asking_for_a_wider_scope_is_still_reuse() {
    let w = World::new().await;
    let r0 = rt(&w.login("conf", &[], T0).await);
    let r1 = rt(&w.refresh("conf", &r0, None, T0 + 10).await.unwrap());
    let r = w
        .refresh("conf", &r0, Some("openid profile phone"), T0 + 20)
        .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    w.assert_audit("refresh.reused", None).await;
    let r = w.refresh("conf", &r1, None, T0 + 21).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
}

/// Sets the scopes of `conf`'s registration, as an administrator would.
async fn set_conf_scopes(w: &World, scopes: &[&str]) {
    let c = w.p.store.client("conf").await.unwrap().unwrap();
    let update = tessera_store::clients::ClientUpdate {
        name: c.name,
        redirect_uris: c.redirect_uris,
        post_logout_redirect_uris: c.post_logout_redirect_uris,
        backchannel_logout_uri: c.backchannel_logout_uri,
        allowed_scopes: scopes.iter().map(|s| s.to_string()).collect(),
        unit_id: c.unit_id,
    };
    assert!(w.p.store.update_client("conf", &update, T0).await.unwrap());
}

#[tokio::test]
async fn refresh_drops_scopes_the_client_has_lost() {
    let w = World::new().await;
    let first = w
        .login("conf", &[("scope", "openid profile email")], T0)
        .await;
    let r0 = rt(&first);
    // An administrator takes `email` away from the application after the grant.
    set_conf_scopes(&w, &["openid", "profile"]).await;

    // Asking for it explicitly is refused, without burning the token.
    let r = w.refresh("conf", &r0, Some("openid email"), T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidScope);
    assert_eq!(w.refresh_record(&r0).await.used_at, None);

    // Without `scope`, the answer carries only what is still allowed.
    let next = w.refresh("conf", &r0, None, T0 + 20).await.unwrap();
    assert_eq!(next.scope, "openid profile");
    let info = userinfo::userinfo(&w.p, &next.access_token, T0 + 21)
        .await
        .unwrap();
    assert!(info.get("email").is_none(), "{info:?}");
    let at =
        w.p.signer
            .verify(&next.access_token, T0 + 21)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(at.claims["scope"], "openid profile");

    // A client left with none of the granted scopes gets nothing at all.
    set_conf_scopes(&w, &["phone"]).await;
    let r = w.refresh("conf", &rt(&next), None, T0 + 30).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let audit = w.assert_audit("refresh.refused", None).await;
    assert!(
        audit.detail.contains("lost every granted scope"),
        "{audit:?}"
    );
}

/// A family that holds the administration scope (made before consent was required) never
/// refreshes it: every administration token needs the person's approval.
#[tokio::test]
async fn the_administration_scope_is_never_refreshed() {
    let w = World::new().await;
    let first = w.login("conf", &[], T0).await;
    let r0 = rt(&first);
    let family = w.family_of(&r0).await;
    sqlx::query("UPDATE refresh_families SET scope = 'openid profile tessera:admin' WHERE id = $1")
        .bind(&family.id)
        .execute(w.p.store.pool())
        .await
        .unwrap();
    set_conf_scopes(&w, &["openid", "profile", "tessera:admin"]).await;

    let r = w
        .refresh("conf", &r0, Some("openid tessera:admin"), T0 + 10)
        .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidScope);
    let next = w.refresh("conf", &r0, None, T0 + 20).await.unwrap();
    assert_eq!(next.scope, "openid profile");
    let at =
        w.p.signer
            .verify(&next.access_token, T0 + 21)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(at.claims["scope"], "openid profile");
}
