//! Logout and back-channel delivery with the clock passed in and a scripted transport.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tessera_proto::ErrorCode;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::backchannel::{self, Attempt};
use super::token::{BACKCHANNEL_LOGOUT_EVENT, TYP};
use super::*;
use crate::admin::{self, NewClient};
use crate::oidc::{authorize, token as oidc_token, userinfo};
use crate::outbound::{BoxFuture, Outbound, OutboundError};
use crate::request::RequestMeta;
use crate::session::end_session;
use crate::testkit::{self, ACTOR, REDIRECT, T0, authz, basic};

const AFTER: &str = "https://app.test/signed-out";

/// Answers POSTs from a script (then 200), recording each URL and logout token.
#[derive(Debug, Default)]
struct Scripted {
    script: Mutex<VecDeque<Result<u16, OutboundError>>>,
    calls: Mutex<Vec<(String, String)>>,
}

impl Scripted {
    fn new(script: Vec<Result<u16, OutboundError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            calls: Mutex::default(),
        })
    }
    fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Outbound for Scripted {
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        let token = form
            .iter()
            .find(|(k, _)| *k == "logout_token")
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_default();
        self.calls.lock().unwrap().push((url.to_owned(), token));
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Ok(200));
        Box::pin(async move { next })
    }

    fn get_json<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }
}

struct World {
    p: Provider,
    user: User,
    session: (SessionRecord, User),
    id_token: String,
    access_token: String,
}

/// A user signed in at T0 to `vanban` (tokens issued) and `motcua`, both with back-channel
/// URIs, plus `thuvien` without one.
async fn world(outbound: Arc<dyn Outbound>) -> World {
    let mut p = testkit::provider(T0 - 100).await;
    p.outbound = outbound;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 100).await;
    let mut secrets = Vec::new();
    for (id, bcl) in [("vanban", true), ("motcua", true), ("thuvien", false)] {
        let (_, secret) = admin::add_client(
            &p,
            ACTOR,
            NewClient {
                id: id.into(),
                name: format!("Ứng dụng {id}"),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![AFTER.into()],
                backchannel_logout_uri: bcl.then(|| format!("https://{id}.test/bcl")),
                ..NewClient::default()
            },
            T0 - 100,
        )
        .await
        .unwrap();
        secrets.push(secret.unwrap());
    }
    let (_, session) = testkit::session(&p, &user, T0).await;
    let meta = RequestMeta::default();
    let mut tokens = None;
    for (i, id) in ["vanban", "motcua", "thuvien"].iter().enumerate() {
        let d = authorize::authorize(&p, &authz(id, &[]), Some(&session), &meta, T0)
            .await
            .unwrap();
        let code = testkit::code_of(&d);
        let params = testkit::params(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ]);
        let r = oidc_token::token(&p, &params, Some(&basic(id, &secrets[i])), &meta, T0 + 1)
            .await
            .unwrap();
        tokens.get_or_insert((r.id_token.unwrap(), r.access_token));
    }
    let (id_token, access_token) = tokens.unwrap();
    World {
        p,
        user,
        session,
        id_token,
        access_token,
    }
}

/// The claims of a compact JWS, unverified.
fn claims_of(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn page_kind(r: Result<LogoutRequest, LogoutError>) -> PageError {
    match r {
        Err(LogoutError::Page { kind, .. }) => kind,
        other => panic!("expected an error page, got {other:?}"),
    }
}

#[tokio::test]
async fn hint_of_the_signed_in_user_ends_the_session_at_once() {
    let w = world(Scripted::new(vec![])).await;
    // Hours later: the hint has expired, which §2 allows.
    let now = T0 + 5 * 3600;
    let req = validate(
        &w.p,
        &testkit::params(&[
            ("id_token_hint", &w.id_token),
            ("post_logout_redirect_uri", AFTER),
            ("state", "st-9"),
        ]),
        now,
    )
    .await
    .unwrap();
    assert_eq!(req.client_id.as_deref(), Some("vanban"));
    assert_eq!(req.hint_sub.as_deref(), Some(w.user.id.as_str()));
    assert_eq!(req.hint_sid.as_deref(), Some(w.session.0.sid.as_str()));
    assert_eq!(decide(&req, Some(&w.session)), Decision::EndNow);
    assert_eq!(
        redirect_after(&req).unwrap().as_deref(),
        Some("https://app.test/signed-out?state=st-9")
    );

    let ended = end_session(
        &w.p,
        &w.session.0,
        Some("vanban"),
        &RequestMeta::default(),
        now,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ended.notifications, 2);
    assert_eq!(ended.tokens_revoked, 3);
    assert!(
        w.p.store
            .live_session(&w.session.0.id, now)
            .await
            .unwrap()
            .is_none()
    );
    let r = userinfo::userinfo(&w.p, &w.access_token, T0 + 2).await;
    assert!(
        matches!(
            &r,
            Err(crate::OAuthError::Protocol {
                code: ErrorCode::InvalidToken,
                ..
            })
        ),
        "{r:?}"
    );
    let e = w.p.store.recent_audit(1).await.unwrap().remove(0);
    assert_eq!(e.event, "logout");
    assert_eq!(e.actor.as_deref(), Some(w.user.id.as_str()));
    // Ending it again is a no-op.
    let again = end_session(&w.p, &w.session.0, None, &RequestMeta::default(), now + 1).await;
    assert!(again.unwrap().is_none());
    assert_eq!(decide(&req, None), Decision::NothingToEnd);
}

#[tokio::test]
async fn bad_requests_are_pages_never_redirects() {
    let w = world(Scripted::new(vec![])).await;
    let v = |pairs: Vec<(&str, &str)>| {
        let (p, params) = (w.p.clone(), testkit::params(&pairs));
        async move { validate(&p, &params, T0 + 5).await }
    };
    let wrong = "https://app.test/signed-out/other";
    let r = v(vec![
        ("id_token_hint", &w.id_token),
        ("post_logout_redirect_uri", wrong),
    ])
    .await;
    assert_eq!(page_kind(r), PageError::InvalidRedirectUri);
    let r = v(vec![
        ("client_id", "motcua"),
        ("post_logout_redirect_uri", wrong),
    ])
    .await;
    assert_eq!(page_kind(r), PageError::InvalidRedirectUri);
    // A redirect with no way to know the client.
    let r = v(vec![("post_logout_redirect_uri", AFTER)]).await;
    assert_eq!(page_kind(r), PageError::BadRequest);
    // The hint was issued to vanban, not motcua.
    let r = v(vec![
        ("id_token_hint", &w.id_token),
        ("client_id", "motcua"),
    ])
    .await;
    assert_eq!(page_kind(r), PageError::BadRequest);
    let r = v(vec![("client_id", "khong-co")]).await;
    assert_eq!(page_kind(r), PageError::UnknownClient);
    // Tampered, foreign or wrong kinds of token.
    let mut tampered = w.id_token.clone();
    tampered.insert(tampered.len() / 2, 'x');
    let foreign = {
        let other = testkit::provider_with_own_keys(T0).await;
        other
            .signer
            .sign(
                tessera_hsm::KeyAlgorithm::Es256,
                "JWT",
                &json!({
                    "iss": testkit::ISSUER, "aud": "vanban", "sub": w.user.id,
                }),
            )
            .await
            .unwrap()
    };
    for hint in [
        tampered.as_str(),
        foreign.as_str(),
        w.access_token.as_str(),
        "a.b.c",
    ] {
        let r = v(vec![("id_token_hint", hint)]).await;
        assert_eq!(page_kind(r), PageError::BadRequest, "{hint}");
    }
    // No hint, or someone else's: ask first.
    let req = v(vec![
        ("client_id", "motcua"),
        ("post_logout_redirect_uri", AFTER),
    ])
    .await
    .unwrap();
    assert_eq!(decide(&req, Some(&w.session)), Decision::Confirm);
    let other = testkit::add_user(&w.p, "binh.tt", None, &[], T0).await;
    let (_, other_session) = testkit::session(&w.p, &other, T0).await;
    let req = v(vec![("id_token_hint", &w.id_token)]).await.unwrap();
    assert_eq!(decide(&req, Some(&other_session)), Decision::Confirm);
    assert_eq!(redirect_after(&req).unwrap(), None);
}

#[test]
fn retry_schedule_doubles_from_the_base_up_to_the_cap() {
    let mut c = crate::Config::new("https://id.test");
    let delays: Vec<i64> = (1..=10).map(|n| backchannel::retry_delay(&c, n)).collect();
    assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
    assert_eq!(backchannel::retry_delay(&c, 1000), 600);
    c.backchannel_retry_base = 1;
    assert_eq!(backchannel::retry_delay(&c, 1), 1);
    assert_eq!(backchannel::retry_delay(&c, 4), 8);
}

#[tokio::test]
async fn delivery_retries_then_sends_a_valid_logout_token() {
    let out = Scripted::new(vec![Err(OutboundError::Failed(
        "connection refused".into(),
    ))]);
    let w = world(out.clone()).await;
    let now = T0 + 10;
    end_session(&w.p, &w.session.0, None, &RequestMeta::default(), now)
        .await
        .unwrap();

    let claimed = backchannel::claim(&w.p, "w1", now).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let mut first = Vec::new();
    for e in &claimed {
        first.push(backchannel::deliver(&w.p, e, "w1", now).await.unwrap());
    }
    // The first call failed and waits the base delay; the other went through.
    assert!(
        first.contains(&Attempt::Retry { next_at: now + 5 }),
        "{first:?}"
    );
    assert!(
        first.contains(&Attempt::Delivered { status: 200 }),
        "{first:?}"
    );
    assert!(
        backchannel::claim(&w.p, "w2", now + 4)
            .await
            .unwrap()
            .is_empty()
    );
    let again = backchannel::claim(&w.p, "w2", now + 5).await.unwrap();
    assert_eq!(again.len(), 1);
    let r = backchannel::deliver(&w.p, &again[0], "w2", now + 5)
        .await
        .unwrap();
    assert_eq!(r, Attempt::Delivered { status: 200 });
    assert!(
        backchannel::claim(&w.p, "w3", now + 10_000)
            .await
            .unwrap()
            .is_empty()
    );

    let calls = out.calls();
    assert_eq!(calls.len(), 3);
    for (url, jwt) in &calls {
        let client = if url.contains("vanban") {
            "vanban"
        } else {
            "motcua"
        };
        assert_eq!(url, &format!("https://{client}.test/bcl"));
        let v =
            w.p.signer
                .verify(jwt, now)
                .await
                .unwrap()
                .expect("signed by the provider");
        assert_eq!(v.header["typ"], TYP);
        assert_eq!(v.claims["aud"], client);
        assert_eq!(v.claims["sub"], w.user.id.as_str());
        assert_eq!(v.claims["sid"], w.session.0.sid.as_str());
        assert_eq!(v.claims["events"][BACKCHANNEL_LOGOUT_EVENT], json!({}));
        assert!(v.claims.get("nonce").is_none());
    }
    // Each attempt signs anew: no jti twice.
    let jtis: std::collections::HashSet<String> = calls
        .iter()
        .map(|(_, jwt)| claims_of(jwt)["jti"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(jtis.len(), 3);
    let events: Vec<String> =
        w.p.store
            .recent_audit(5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "backchannel.delivered")
            .count(),
        2
    );
    assert!(
        events.contains(&"backchannel.failed".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn not_allowed_destinations_are_abandoned_and_late_ones_given_up() {
    let out = Scripted::new(vec![
        Err(OutboundError::NotAllowed("https://vanban.test/bcl".into())),
        Ok(503),
    ]);
    let w = world(out.clone()).await;
    end_session(&w.p, &w.session.0, None, &RequestMeta::default(), T0 + 10)
        .await
        .unwrap();
    // Claimed only after the deadline (the servers were down for a day).
    let late = T0 + 10 + w.p.config.backchannel_give_up;
    let claimed = backchannel::claim(&w.p, "w1", late).await.unwrap();
    let mut outcomes = Vec::new();
    for e in &claimed {
        outcomes.push(backchannel::deliver(&w.p, e, "w1", late).await.unwrap());
    }
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Attempt::Abandoned { .. })),
        "{outcomes:?}"
    );
    let entries = w.p.store.recent_audit(6).await.unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    assert!(names.contains(&"backchannel.not_allowed"), "{names:?}");
    assert!(names.contains(&"backchannel.failed"), "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "backchannel.abandoned")
            .count(),
        2
    );
    assert!(
        backchannel::claim(&w.p, "w1", late + 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn disabling_a_user_queues_back_channel_logouts() {
    let out = Scripted::new(vec![]);
    let w = world(out.clone()).await;
    admin::disable_user(&w.p, ACTOR, "an.nv", T0 + 20)
        .await
        .unwrap();
    let claimed = backchannel::claim(&w.p, "w1", T0 + 20).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        claimed
            .iter()
            .all(|e| e.reason == "user_disabled" && e.sid == w.session.0.sid)
    );
    for e in &claimed {
        backchannel::deliver(&w.p, e, "w1", T0 + 21).await.unwrap();
    }
    assert_eq!(out.calls().len(), 2);
}
