//! Signing-key rotation: the new key signs at once, the old one stays published (and keeps
//! verifying its tokens) for `key_retention`, then disappears; concurrent rotations elect
//! exactly one new key; scheduled rotation respects the key's age.

use std::collections::HashSet;

use tessera_hsm::KeyAlgorithm;
use tessera_proto::ErrorCode;

use super::oauth_code;
use super::world::{SETUP, World};
use crate::Provider;
use crate::oidc::userinfo;
use crate::testkit::{self, T0};

async fn active_kid(p: &Provider, alg: &str) -> String {
    p.store
        .active_key(alg)
        .await
        .unwrap()
        .expect("an active key")
        .kid
}

async fn jwks_kids(p: &Provider, now: i64) -> HashSet<String> {
    p.signer
        .jwks(now)
        .await
        .unwrap()
        .keys
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    let jws = crate::jose::Compact::parse(token).unwrap();
    jws.header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_keeps_the_old_one_published_for_a_while() {
    let w = World::new().await;
    let p = &w.p;
    let old_es = active_kid(p, "ES256").await;
    let rs = active_kid(p, "RS256").await;
    let before = w.login("conf", &[], T0).await;
    assert_eq!(kid_of(before.id_token.as_deref().unwrap()), old_es);
    assert_eq!(kid_of(&before.access_token), old_es);

    let retention = p.config.key_retention();
    assert_eq!(retention, 600 + 300);
    let now = T0 + 10;
    let new_es = p
        .signer
        .rotate(KeyAlgorithm::Es256, retention, now)
        .await
        .unwrap()
        .expect("this call rotated");
    assert_ne!(new_es, old_es);
    assert_eq!(active_kid(p, "ES256").await, new_es);
    assert_eq!(active_kid(p, "RS256").await, rs, "only ES256 was rotated");
    let keys = p.store.list_keys().await.unwrap();
    let old = keys.iter().find(|k| k.kid == old_es).unwrap();
    assert_eq!(old.status, "retired");
    assert_eq!(old.retired_at, Some(now));
    assert_eq!(old.remove_after, Some(now + retention));
    let new = keys.iter().find(|k| k.kid == new_es).unwrap();
    assert_eq!((new.status.as_str(), new.created_at), ("active", now));

    // New tokens carry the new kid and verify.
    let after = w.login("conf", &[], now + 1).await;
    eprintln!(
        "DEBUG old={old_es} new={new_es} keys={:?}",
        p.store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .map(|k| (k.kid.clone(), k.alg.clone(), k.status.clone()))
            .collect::<Vec<_>>()
    );
    let id_token = after.id_token.as_deref().unwrap();
    assert_eq!(kid_of(id_token), new_es);
    assert_eq!(kid_of(&after.access_token), new_es);
    assert!(p.signer.verify(id_token, now + 2).await.unwrap().is_some());
    userinfo::userinfo(p, &after.access_token, now + 2)
        .await
        .unwrap();

    // Both ES256 keys (and the RSA one) are published until the retention ends.
    let all = HashSet::from([old_es.clone(), new_es.clone(), rs.clone()]);
    assert_eq!(jwks_kids(p, now).await, all);
    assert_eq!(jwks_kids(p, now + retention - 1).await, all);
    // Tokens signed by the old key still verify, and still work, until they expire.
    let old_id = before.id_token.as_deref().unwrap();
    assert!(
        p.signer
            .verify(old_id, now + retention - 1)
            .await
            .unwrap()
            .is_some()
    );
    userinfo::userinfo(p, &before.access_token, T0 + 600)
        .await
        .unwrap();
    assert!(w.active("conf", &before.access_token, T0 + 600).await);

    // After the retention the old key is gone, and nothing it signed verifies any more.
    assert_eq!(
        jwks_kids(p, now + retention).await,
        HashSet::from([new_es.clone(), rs.clone()])
    );
    assert!(
        p.signer
            .verify(old_id, now + retention)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        p.signer
            .verify(id_token, now + retention)
            .await
            .unwrap()
            .is_some()
    );
    // (The old access token expired long before: no token outlives the retention.)
    let r = userinfo::userinfo(p, &before.access_token, now + retention).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    assert!(before_expiry_is_within_retention(p));
}

/// Every token the old key signed expires before the key leaves the JWKS.
fn before_expiry_is_within_retention(p: &Provider) -> bool {
    let c = &p.config;
    c.access_token_ttl.max(c.id_token_ttl) < c.key_retention()
}

#[tokio::test]
async fn refresh_after_rotation_issues_tokens_under_the_new_key() {
    let w = World::new().await;
    let first = w.login("conf", &[], T0).await;
    let new_es =
        w.p.signer
            .rotate(KeyAlgorithm::Es256, w.p.config.key_retention(), T0 + 5)
            .await
            .unwrap()
            .unwrap();
    let next = w
        .refresh(
            "conf",
            first.refresh_token.as_deref().unwrap(),
            None,
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(kid_of(next.id_token.as_deref().unwrap()), new_es);
    assert_eq!(kid_of(&next.access_token), new_es);
}

#[tokio::test]
async fn rs256_rotation_is_independent() {
    let p = testkit::provider(SETUP).await;
    let es = active_kid(&p, "ES256").await;
    let rs = active_kid(&p, "RS256").await;
    let new_rs = p
        .signer
        .rotate(KeyAlgorithm::Rs256, 900, T0)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(new_rs, rs);
    assert_eq!(active_kid(&p, "ES256").await, es);
    let jwks = p.signer.jwks(T0).await.unwrap();
    let new = jwks
        .keys
        .iter()
        .find(|k| k["kid"] == new_rs.as_str())
        .unwrap();
    assert_eq!(new["kty"], "RSA");
    assert_eq!(new["alg"], "RS256");
    assert_eq!(new["use"], "sig");
    assert!(new.get("d").is_none());
    // The kid is the RFC 7638 thumbprint of the published key.
    assert_eq!(crate::jose::thumbprint(new).unwrap(), new_rs);
}

#[tokio::test]
async fn two_concurrent_rotations_elect_exactly_one_new_key() {
    let p = testkit::provider(SETUP).await;
    let old = active_kid(&p, "ES256").await;
    let (a, b) = tokio::join!(
        p.signer.rotate(KeyAlgorithm::Es256, 900, T0),
        p.signer.rotate(KeyAlgorithm::Es256, 900, T0)
    );
    let winners: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(active_kid(&p, "ES256").await, winners[0]);
    let es: Vec<_> = p
        .store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.alg == "ES256")
        .collect();
    // The old key retired once, one new key: the loser's key was never stored.
    assert_eq!(es.len(), 2, "{es:?}");
    assert_eq!(es.iter().filter(|k| k.status == "active").count(), 1);
    assert!(es.iter().any(|k| k.kid == old && k.status == "retired"));
    assert_eq!(jwks_kids(&p, T0).await.len(), 3);
}

#[tokio::test]
async fn a_rotation_based_on_a_stale_view_changes_nothing() {
    // What the losing replica sees: the key it meant to retire is no longer active.
    let p = testkit::provider(SETUP).await;
    let old = p.store.active_key("ES256").await.unwrap().unwrap();
    p.signer
        .rotate(KeyAlgorithm::Es256, 900, T0)
        .await
        .unwrap()
        .unwrap();
    let current = active_kid(&p, "ES256").await;
    let mut late = old.clone();
    late.kid = "khoa-muon".into();
    let rotated = p
        .store
        .rotate_key(&old.kid, &late, T0 + 900, T0)
        .await
        .unwrap();
    assert!(!rotated);
    assert_eq!(active_kid(&p, "ES256").await, current);
    assert!(
        p.store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kid != "khoa-muon")
    );
}

#[tokio::test]
async fn rotate_if_older_respects_the_maximum_age() {
    // Keys made at SETUP = T0 - 1000.
    let p = testkit::provider(SETUP).await;
    let es = active_kid(&p, "ES256").await;
    let rs = active_kid(&p, "RS256").await;
    p.signer.rotate_if_older(1001, 900, T0).await.unwrap();
    assert_eq!(active_kid(&p, "ES256").await, es);
    assert_eq!(active_kid(&p, "RS256").await, rs);
    assert_eq!(p.store.list_keys().await.unwrap().len(), 2);

    // Exactly the maximum age: both are due.
    p.signer.rotate_if_older(1000, 900, T0).await.unwrap();
    let es2 = active_kid(&p, "ES256").await;
    let rs2 = active_kid(&p, "RS256").await;
    assert_ne!(es2, es);
    assert_ne!(rs2, rs);
    let keys = p.store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 4);
    for old in [&es, &rs] {
        let k = keys.iter().find(|k| &k.kid == old).unwrap();
        assert_eq!(k.remove_after, Some(T0 + 900));
    }

    // The new keys are young: nothing more happens, however often it runs.
    for now in [T0, T0 + 500, T0 + 999] {
        p.signer.rotate_if_older(1000, 900, now).await.unwrap();
    }
    assert_eq!(active_kid(&p, "ES256").await, es2);
    assert_eq!(p.store.list_keys().await.unwrap().len(), 4);
    // Until they are old enough in turn.
    p.signer
        .rotate_if_older(1000, 900, T0 + 1000)
        .await
        .unwrap();
    assert_ne!(active_kid(&p, "ES256").await, es2);
    assert_eq!(p.store.list_keys().await.unwrap().len(), 6);
}
