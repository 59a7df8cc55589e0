#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::admin::{self, NewClient};
use crate::login::authenticate;
use crate::mfa::{self, Candidate, FactorError, Subject};
use crate::oidc::authorize;
use crate::session::Factor;
use crate::testkit::{self, ACTOR, PASSWORD, REDIRECT, T0};

const NEW: &str = "con đường xanh mùa thu 2026";

fn meta() -> RequestMeta {
    RequestMeta::default()
}

/// A user whose password an administrator set (`--temporary`), with that password.
async fn temporary_user(p: &Provider) -> (User, String) {
    let user = testkit::add_user(p, "an.nv", None, &[], T0 - 100).await;
    let temp = "tam-thoi-8f2k-Qx7p".to_owned();
    admin::set_password(p, ACTOR, &user, &temp, true, T0 - 50)
        .await
        .unwrap();
    let user = p.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(user.password_must_change);
    (user, temp)
}

async fn audited(p: &Provider, event: &str) -> Vec<serde_json::Value> {
    p.store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == event)
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect()
}

#[tokio::test]
async fn a_temporary_password_enrols_nothing_and_completes_no_login_until_changed() {
    let p = testkit::provider(T0 - 100).await;
    let (_, temp) = temporary_user(&p).await;
    // The administrator (or whoever holds the password) gets as far as a pending login...
    let user = authenticate(&p, "an.nv", &temp, &meta(), T0).await.unwrap();
    let cookie = mfa::begin_pending(&p, &user, &crate::session::Authn::password(), T0)
        .await
        .unwrap();
    let c = mfa::candidate(&p, Some(&cookie), None, T0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(c.subject, Subject::Pending(_)));
    let pending_id = c.id().to_owned();
    // Another browser got as far with the same password.
    let other = mfa::begin_pending(&p, &user, &crate::session::Authn::password(), T0)
        .await
        .unwrap();
    // ...which may not enrol a first factor (one that would outlive the next reset)...
    assert!(!mfa::may_manage(&c, false, T0 + 1));
    // ...nor turn into a session, whatever factor it proves.
    let r = mfa::complete(&p, c, Factor::Totp, None, &meta(), T0 + 2).await;
    assert!(
        matches!(r, Err(FactorError::PasswordChangeRequired)),
        "{r:?}"
    );
    assert!(
        p.store
            .live_user_sessions(&user.id, T0 + 2)
            .await
            .unwrap()
            .is_empty()
    );

    // The change itself: the rules apply, and the temporary password may not stay.
    for (weak, why) in [
        ("matkhau123", "common"),
        ("short", "length"),
        ("an.nv-2026-mat-khau", "username"),
    ] {
        let r = change_temporary(&p, &user, &pending_id, weak, &meta(), T0 + 3).await;
        assert!(matches!(r, Err(ChangeError::Weak(_))), "{why}: {r:?}");
    }
    let r = change_temporary(&p, &user, &pending_id, &temp, &meta(), T0 + 3).await;
    assert!(matches!(r, Err(ChangeError::Unchanged)), "{r:?}");
    change_temporary(&p, &user, &pending_id, NEW, &meta(), T0 + 4)
        .await
        .unwrap();
    // The other half-finished sign-in with the temporary password is over.
    assert!(
        mfa::candidate(&p, Some(&other), None, T0 + 4)
            .await
            .unwrap()
            .is_none()
    );
    let changed = p.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(!changed.password_must_change);
    assert_eq!(audited(&p, "password.changed").await[0]["how"], "temporary");
    // Only once: a second change through the same pending login is refused.
    let r = change_temporary(
        &p,
        &user,
        &pending_id,
        "một mật khẩu khác nữa 42",
        &meta(),
        T0 + 5,
    )
    .await;
    assert!(matches!(r, Err(ChangeError::NotRequired)), "{r:?}");
    // The temporary password is dead; the new one signs in, and now the login may complete.
    assert!(
        authenticate(&p, "an.nv", &temp, &meta(), T0 + 6)
            .await
            .is_err()
    );
    authenticate(&p, "an.nv", NEW, &meta(), T0 + 7)
        .await
        .unwrap();
    let c = mfa::candidate(&p, Some(&cookie), None, T0 + 8)
        .await
        .unwrap()
        .unwrap();
    assert!(mfa::may_manage(&c, false, T0 + 8));
}

#[tokio::test]
async fn the_api_and_the_command_line_set_the_flag_only_when_asked() {
    let p = testkit::provider(T0 - 100).await;
    // Without --temporary the password stays (bootstrap, automation).
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 100).await;
    assert!(!user.password_must_change);
    // A sign-in half-way through with the previous password does not survive the change.
    let halfway = mfa::begin_pending(&p, &user, &crate::session::Authn::password(), T0 - 1)
        .await
        .unwrap();
    admin::set_password(&p, ACTOR, &user, NEW, false, T0)
        .await
        .unwrap();
    assert!(
        mfa::candidate(&p, Some(&halfway), None, T0)
            .await
            .unwrap()
            .is_none()
    );
    let user = p.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(!user.password_must_change);
    let r = change_temporary(
        &p,
        &user,
        "none",
        "một mật khẩu khác nữa 42",
        &meta(),
        T0 + 1,
    )
    .await;
    assert!(matches!(r, Err(ChangeError::NotRequired)), "{r:?}");
    // The command line refuses a weak password as user add does.
    assert!(
        admin::set_password(&p, ACTOR, &user, "1234567890", true, T0)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one_and_a_recent_sign_in() {
    let p = testkit::provider(T0 - 100).await;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 100).await;
    let (_, secret) = admin::add_client(
        &p,
        ACTOR,
        NewClient {
            id: "vanban".into(),
            name: "Văn bản".into(),
            redirect_uris: vec![REDIRECT.into()],
            backchannel_logout_uri: Some("https://vanban.test/bcl".into()),
            ..NewClient::default()
        },
        T0 - 100,
    )
    .await
    .unwrap();
    assert!(secret.is_some());
    // Another browser (someone who knew the password) signed in to an application.
    let (_, elsewhere) = testkit::session(&p, &user, T0).await;
    authorize::authorize(
        &p,
        &testkit::authz("vanban", &[]),
        Some(&elsewhere),
        &meta(),
        T0,
    )
    .await
    .unwrap();
    let (_, (here, _)) = testkit::session(&p, &user, T0 + 10).await;

    // A session older than the recent-authentication window is sent to sign in again.
    let late = here.auth_time + mfa::RECENT_AUTH + 1;
    let r = change_own(&p, &here, &user, PASSWORD, NEW, &meta(), late).await;
    assert!(matches!(r, Err(ChangeError::NotRecent)), "{r:?}");
    // A wrong current password is refused, audited and throttled like a login.
    let now = T0 + 20;
    let r = change_own(&p, &here, &user, "sai mật khẩu rồi", NEW, &meta(), now).await;
    assert!(matches!(r, Err(ChangeError::WrongCurrent)), "{r:?}");
    assert_eq!(audited(&p, "password.confirm.failure").await.len(), 1);
    for i in 0..crate::throttle::USER_FREE_FAILURES {
        let _ = change_own(&p, &here, &user, "sai mật khẩu rồi", NEW, &meta(), now + i).await;
    }
    let r = change_own(&p, &here, &user, PASSWORD, NEW, &meta(), now + 10).await;
    assert!(
        matches!(r, Err(ChangeError::TooManyAttempts { .. })),
        "{r:?}"
    );
    let now = now + 15 * 60;
    // A fresh session for the rest (the throttle has passed).
    let (cookie, (here, _)) = testkit::session(&p, &user, now).await;
    let r = change_own(&p, &here, &user, PASSWORD, "matkhau1234", &meta(), now).await;
    assert!(matches!(r, Err(ChangeError::Weak(_))), "{r:?}");
    let r = change_own(&p, &here, &user, PASSWORD, PASSWORD, &meta(), now).await;
    assert!(matches!(r, Err(ChangeError::Unchanged)), "{r:?}");

    let ended = change_own(&p, &here, &user, PASSWORD, NEW, &meta(), now + 1)
        .await
        .unwrap();
    assert_eq!(ended, 2, "the other sessions ended");
    // This session stays; the others are gone, with back-channel logout queued for the
    // application signed in elsewhere.
    let (still, _) = crate::session::current_session(&p, Some(&cookie), now + 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.id, here.id);
    let live = p.store.live_user_sessions(&user.id, now + 2).await.unwrap();
    assert_eq!(live.len(), 1);
    assert!(
        p.store
            .outbox_state(&elsewhere.0.sid, "vanban")
            .await
            .unwrap()
            .is_some(),
        "back-channel logout queued"
    );
    let detail = &audited(&p, "password.changed").await[0];
    assert_eq!(detail["how"], "self");
    assert!(
        authenticate(&p, "an.nv", PASSWORD, &meta(), now + 3)
            .await
            .is_err()
    );
    authenticate(&p, "an.nv", NEW, &meta(), now + 4)
        .await
        .unwrap();
    let c = Candidate {
        user: user.clone(),
        subject: Subject::Session(still),
    };
    assert!(mfa::may_manage(&c, false, now + 5));
}
