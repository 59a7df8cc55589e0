//! The back-channel logout receiver against tokens signed by a scripted provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::PrivateSigningKey;
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use serde_json::{Value, json};
use support::{EcKey, MockOp, es256_provider, now};
use tessera_sdk::{BackchannelLogout, LogoutEvent, RelyingParty, RpConfig, SdkError};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn jws(key: &EcKey, header: Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(&Alg::EcdsaP256Sha256, input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn header() -> Value {
    json!({ "alg": "ES256", "typ": "logout+jwt", "kid": "ec-1" })
}

fn logout_claims(issuer: &str, jti: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": "hr-portal", "iat": now, "exp": now + 120, "jti": jti,
        "sub": "user-42", "sid": "sid-7", "events": { EVENT: {} },
    })
}

struct Setup {
    op: MockOp,
    key: EcKey,
    receiver: BackchannelLogout,
    events: Arc<Mutex<Vec<LogoutEvent>>>,
}

async fn setup() -> Setup {
    let (op, key, rp) = es256_provider().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let receiver = BackchannelLogout::new(Arc::new(rp), move |e: LogoutEvent| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(e);
            Ok(())
        }
    });
    Setup {
        op,
        key,
        receiver,
        events,
    }
}

fn rejected(r: Result<LogoutEvent, SdkError>) -> String {
    match r {
        Err(SdkError::LogoutToken(msg)) => msg,
        other => panic!("expected a rejected logout token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_is_accepted_once() {
    let s = setup().await;
    let token = jws(&s.key, header(), &logout_claims(&s.op.issuer, "j-1"));
    let body = format!("logout_token={token}");
    let event = s.receiver.receive_form(body.as_bytes()).await.unwrap();
    assert_eq!(event.sub.as_deref(), Some("user-42"));
    assert_eq!(event.sid.as_deref(), Some("sid-7"));
    assert_eq!(s.events.lock().unwrap().as_slice(), [event]);
    // Replay within its lifetime.
    assert!(rejected(s.receiver.receive(&token).await).contains("already used"));
    assert_eq!(s.events.lock().unwrap().len(), 1);
    // sid alone is enough; so is sub alone.
    let mut c = logout_claims(&s.op.issuer, "j-2");
    c.as_object_mut().unwrap().remove("sub");
    s.receiver
        .receive(&jws(&s.key, header(), &c))
        .await
        .unwrap();
    // No typ at all is tolerated (§2.4 only recommends it).
    let bare = json!({ "alg": "ES256", "kid": "ec-1" });
    s.receiver
        .receive(&jws(&s.key, bare, &logout_claims(&s.op.issuer, "j-3")))
        .await
        .unwrap();
}

#[tokio::test]
async fn every_rule_of_section_2_6_is_enforced() {
    let s = setup().await;
    let iss = s.op.issuer.clone();
    let now = now();
    let cases: Vec<(&str, Value, Value)> = vec![
        ("iss", header(), json!({ "iss": "https://other.example" })),
        ("aud", header(), json!({ "aud": "another-app" })),
        (
            "expired",
            header(),
            json!({ "iat": now - 900, "exp": now - 600 }),
        ),
        (
            "future",
            header(),
            json!({ "iat": now + 900, "exp": now + 1000 }),
        ),
        ("events", header(), json!({ "events": {} })),
        (
            "event value",
            header(),
            json!({ "events": { EVENT: "yes" } }),
        ),
        ("nonce", header(), json!({ "nonce": "n-1" })),
        ("sub/sid", header(), json!({ "sub": null, "sid": null })),
        ("jti", header(), json!({ "jti": null })),
        (
            "typ",
            json!({ "alg": "ES256", "typ": "JWT", "kid": "ec-1" }),
            json!({}),
        ),
    ];
    for (what, h, changes) in cases {
        let mut c = logout_claims(&iss, &format!("jti-{what}"));
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        rejected(s.receiver.receive(&jws(&s.key, h, &c)).await);
    }
    // A signature by another key, an unsigned token, garbage.
    let other = EcKey::generate("ec-1");
    rejected(
        s.receiver
            .receive(&jws(&other, header(), &logout_claims(&iss, "x1")))
            .await,
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none" }).to_string()),
        URL_SAFE_NO_PAD.encode(logout_claims(&iss, "x2").to_string())
    );
    rejected(s.receiver.receive(&unsigned).await);
    rejected(s.receiver.receive("a.b").await);
    rejected(s.receiver.receive_form(b"token=abc").await);
    assert!(s.events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_callback_is_reported() {
    let s = setup().await;
    let rp = RelyingParty::discover(RpConfig {
        issuer: s.op.issuer.clone(),
        client_id: "hr-portal".into(),
        client_secret: None,
        redirect_uri: "http://127.0.0.1:7000/callback".into(),
    })
    .await
    .unwrap();
    let failing =
        BackchannelLogout::new(Arc::new(rp), |_| async { Err("database down".to_owned()) });
    let token = jws(&s.key, header(), &logout_claims(&s.op.issuer, "j-9"));
    assert!(matches!(
        failing.receive(&token).await,
        Err(SdkError::LogoutFailed(_))
    ));
}
