//! The device authorization grant (RFC 8628): a kiosk starts, polls (too fast, then patiently),
//! a signed-in person approves or denies by the user code, and the code is spent once.

use tessera_proto::{DeviceAuthorizationResponse, ErrorCode, TokenResponse};
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::oauth_code;
use crate::admin::NewClient;
use crate::oidc::device::approval::{self, Decided, Found};
use crate::oidc::device::{self, GRANT_TYPE};
use crate::oidc::token;
use crate::request::RequestMeta;
use crate::secrets::sha256_hex;
use crate::testkit::{self, T0};
use crate::{OAuthError, Provider};

struct Kiosk {
    p: Provider,
    user: User,
    session: SessionRecord,
}

const META: RequestMeta = RequestMeta {
    source_ip: None,
    user_agent: None,
};

impl Kiosk {
    /// Public client `kiosk` (device grant and refresh tokens), confidential `webapp` (code
    /// flow only), and user `an.nv` signed in at `T0 - 50`.
    async fn new() -> Kiosk {
        let p = testkit::provider(T0 - 100).await;
        let user = testkit::add_user(&p, "an.nv", None, &["can-bo"], T0 - 100).await;
        testkit::client(
            &p,
            NewClient {
                id: "kiosk".into(),
                name: "Ki-ốt một cửa".into(),
                public: true,
                grant_types: Some(vec!["device_code".into(), "refresh_token".into()]),
                ..NewClient::default()
            },
            T0 - 100,
        )
        .await;
        testkit::confidential_client(&p, "webapp", None, T0 - 100).await;
        let (_, (session, _)) = testkit::session(&p, &user, T0 - 50).await;
        Kiosk { p, user, session }
    }

    async fn start(
        &self,
        scope: &str,
        now: i64,
    ) -> Result<DeviceAuthorizationResponse, OAuthError> {
        let params = testkit::params(&[("client_id", "kiosk"), ("scope", scope)]);
        device::start(&self.p, &params, None, &META, now).await
    }

    async fn poll(&self, device_code: &str, now: i64) -> Result<TokenResponse, OAuthError> {
        let params = testkit::params(&[
            ("grant_type", GRANT_TYPE),
            ("client_id", "kiosk"),
            ("device_code", device_code),
        ]);
        token::token(&self.p, &params, None, &META, now).await
    }

    async fn decide(&self, typed: &str, approve: bool, now: i64) -> Decided {
        approval::decide(
            &self.p,
            &self.user,
            &self.session,
            typed,
            approve,
            &META,
            now,
        )
        .await
        .unwrap()
    }

    async fn events(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .p
            .store
            .recent_audit(50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        all.reverse();
        all
    }
}

#[tokio::test]
async fn poll_slow_down_approve_tokens_once() {
    let k = Kiosk::new().await;
    let d = k.start("openid profile", T0).await.unwrap();
    assert_eq!(d.verification_uri, format!("{}/device", testkit::ISSUER));
    assert_eq!(
        d.verification_uri_complete,
        format!("{}/device?user_code={}", testkit::ISSUER, d.user_code)
    );
    assert_eq!((d.expires_in, d.interval), (600, 5));
    assert_eq!(d.user_code.len(), 9);
    assert_eq!(&d.user_code[4..5], "-");

    // At rest: hashes only.
    let id = sha256_hex(d.device_code.as_bytes());
    let typed = d.user_code.to_lowercase().replace('-', "");
    let Found::Pending(_) = approval::find(&k.p, &k.user, &k.session, &typed, &META, T0)
        .await
        .unwrap()
    else {
        panic!("the code is pending");
    };
    let row =
        k.p.store
            .poll_device_code(&id, "kiosk", T0)
            .await
            .unwrap()
            .unwrap();
    assert_ne!(row.user_code, d.user_code.replace('-', ""));

    // The poll above counted (at T0): one a second later is too early.
    let r = k.poll(&d.device_code, T0 + 1).await;
    assert_eq!(oauth_code(r), ErrorCode::SlowDown);
    // The interval grew to 10 s and is kept in the database: 6 s later is still too early.
    let r = k.poll(&d.device_code, T0 + 7).await;
    assert_eq!(oauth_code(r), ErrorCode::SlowDown);
    let r = k.poll(&d.device_code, T0 + 30).await;
    assert_eq!(oauth_code(r), ErrorCode::AuthorizationPending);

    let Decided::Approved(pending) = k.decide(&typed, true, T0 + 40).await else {
        panic!("approved");
    };
    assert_eq!(pending.client.name, "Ki-ốt một cửa");
    assert_eq!(pending.user_code, d.user_code);
    assert_eq!(pending.scope, vec!["openid", "profile"]);

    let t = k.poll(&d.device_code, T0 + 60).await.unwrap();
    assert_eq!(t.scope, "openid profile");
    assert!(t.refresh_token.is_some());
    let id_token = t.id_token.expect("an ID token for openid");
    let v =
        k.p.signer
            .verify(&id_token, T0 + 60)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(v.claims["sub"], k.user.id);
    assert_eq!(v.claims["aud"], "kiosk");
    assert_eq!(v.claims["sid"], k.session.sid);
    // Single use.
    let r = k.poll(&d.device_code, T0 + 70).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    // Decided: the code no longer leads anywhere.
    let Decided::Not(Found::NotFound) = k.decide(&typed, false, T0 + 71).await else {
        panic!("a decided code is not found");
    };
    let events = k.events().await;
    for e in ["device.code_issued", "device.approved", "token.issued"] {
        assert!(events.iter().any(|x| x == e), "{e} in {events:?}");
    }
}

#[tokio::test]
async fn denied_is_access_denied() {
    let k = Kiosk::new().await;
    let d = k.start("openid", T0).await.unwrap();
    let Decided::Denied(_) = k.decide(&d.user_code, false, T0 + 5).await else {
        panic!("denied");
    };
    assert_eq!(
        oauth_code(k.poll(&d.device_code, T0 + 10).await),
        ErrorCode::AccessDenied
    );
    assert!(k.events().await.iter().any(|e| e == "device.denied"));
}

#[tokio::test]
async fn codes_expire() {
    let k = Kiosk::new().await;
    let d = k.start("openid", T0).await.unwrap();
    let late = T0 + device::TTL_SECS;
    let Decided::Not(Found::NotFound) = k.decide(&d.user_code, true, late).await else {
        panic!("an expired code cannot be approved");
    };
    assert_eq!(
        oauth_code(k.poll(&d.device_code, late).await),
        ErrorCode::ExpiredToken
    );
}

#[tokio::test]
async fn only_registered_clients_and_their_own_codes() {
    let k = Kiosk::new().await;
    let params = testkit::params(&[("client_id", "webapp"), ("scope", "openid")]);
    let auth = testkit::basic("webapp", "wrong");
    let r = device::start(&k.p, &params, Some(&auth), &META, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    // A scope the client may not have, and the administration scope, are refused.
    for scope in ["openid lgsp.read", "tessera:admin"] {
        assert_eq!(
            oauth_code(k.start(scope, T0).await),
            ErrorCode::InvalidScope,
            "{scope}"
        );
    }
    assert_eq!(
        oauth_code(k.poll("made-up", T0).await),
        ErrorCode::InvalidGrant
    );
    let r = k.poll("", T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
    // Another device client cannot collect `kiosk`'s code (RFC 8628 §3.4).
    testkit::client(
        &k.p,
        NewClient {
            id: "kiosk2".into(),
            name: "Ki-ốt khác".into(),
            public: true,
            grant_types: Some(vec![GRANT_TYPE.into()]),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let d = k.start("openid", T0).await.unwrap();
    k.decide(&d.user_code, true, T0 + 1).await;
    let params = testkit::params(&[
        ("grant_type", GRANT_TYPE),
        ("client_id", "kiosk2"),
        ("device_code", &d.device_code),
    ]);
    let r = token::token(&k.p, &params, None, &META, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert!(k.poll(&d.device_code, T0 + 10).await.is_ok());
}

#[tokio::test]
async fn clients_without_the_grant_are_refused() {
    let p = testkit::provider(T0).await;
    let (_, secret) = testkit::confidential_client(&p, "webapp", None, T0).await;
    let params = testkit::params(&[("scope", "openid")]);
    let auth = testkit::basic("webapp", &secret);
    let r = device::start(&p, &params, Some(&auth), &META, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    let params = testkit::params(&[("grant_type", GRANT_TYPE), ("device_code", "x")]);
    let r = token::token(&p, &params, Some(&auth), &META, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn wrong_user_codes_are_counted_and_held_back() {
    let k = Kiosk::new().await;
    let d = k.start("openid", T0).await.unwrap();
    for i in 0..10 {
        let r = approval::find(&k.p, &k.user, &k.session, "BCDF-GHJK", &META, T0 + i)
            .await
            .unwrap();
        assert!(matches!(r, Found::NotFound), "{r:?}");
    }
    assert!(
        k.events()
            .await
            .iter()
            .any(|e| e == "device.user_code_refused")
    );
    // Now even the right code waits.
    let r = approval::find(&k.p, &k.user, &k.session, &d.user_code, &META, T0 + 11)
        .await
        .unwrap();
    assert!(matches!(r, Found::Throttled(_)), "{r:?}");
}
