//! Tests that need no server: provider metadata is built by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::ProviderMetadataWithLogout;
use serde_json::json;

use super::RelyingParty;
use crate::transport::http_client;
use crate::{AuthOptions, PendingLogin, RpConfig, SdkError};

/// Port 9 (discard) on loopback: nothing listens, so any request would fail with `Http`.
const ISSUER: &str = "http://127.0.0.1:9";

pub(crate) fn metadata(issuer: &str, with_token_endpoint: bool) -> ProviderMetadataWithLogout {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "end_session_endpoint": format!("{issuer}/logout"),
    });
    if with_token_endpoint {
        doc["token_endpoint"] = json!(format!("{issuer}/token"));
    }
    serde_json::from_value(doc).unwrap()
}

fn config(secret: Option<&str>) -> RpConfig {
    RpConfig {
        issuer: ISSUER.into(),
        client_id: "hr-portal".into(),
        client_secret: secret.map(Into::into),
        redirect_uri: "http://127.0.0.1:7000/callback".into(),
    }
}

fn rp() -> RelyingParty {
    RelyingParty::from_metadata(
        config(Some("s3cret")),
        metadata(ISSUER, true),
        http_client().unwrap(),
    )
    .unwrap()
}

fn query(url: &url::Url) -> HashMap<String, String> {
    let mut seen = HashMap::new();
    for (k, v) in url.query_pairs() {
        assert!(
            seen.insert(k.to_string(), v.to_string()).is_none(),
            "duplicate {k}"
        );
    }
    seen
}

#[test]
fn authorization_url_carries_code_flow_pkce_state_nonce() {
    let rp = rp();
    let (url, pending) = rp.authorization_url(&["profile", "email"], &AuthOptions::default());
    assert_eq!(
        url.as_str().split('?').next(),
        Some("http://127.0.0.1:9/authorize")
    );
    let q = query(&url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "hr-portal");
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:7000/callback");
    assert_eq!(q["scope"], "openid profile email");
    assert_eq!(q["state"], pending.state);
    assert_eq!(q["nonce"], pending.nonce);
    assert_eq!(q["code_challenge_method"], "S256");
    // RFC 7636 §4.2: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))).
    let digest = ring::digest::digest(&ring::digest::SHA256, pending.pkce_verifier.as_bytes());
    assert_eq!(q["code_challenge"], URL_SAFE_NO_PAD.encode(digest.as_ref()));
    // RFC 7636 §4.1: 43..=128 characters of the unreserved set.
    assert!((43..=128).contains(&pending.pkce_verifier.len()));
    assert!(
        pending
            .pkce_verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    );
    assert!(pending.state.len() >= 43 && pending.nonce.len() >= 43);
    for absent in ["prompt", "max_age", "login_hint"] {
        assert!(!q.contains_key(absent), "{absent} should be absent");
    }
}

#[test]
fn authorization_url_carries_options() {
    let options = AuthOptions {
        prompt: Some("login".into()),
        max_age: Some(Duration::from_secs(300)),
        login_hint: Some("nguyen.van.a@example.gov.vn".into()),
        acr_values: Some("urn:tessera:loa:2 urn:tessera:loa:1".into()),
    };
    let (url, _) = rp().authorization_url(&[], &options);
    let q = query(&url);
    assert_eq!(q["prompt"], "login");
    assert_eq!(q["max_age"], "300");
    assert_eq!(q["login_hint"], "nguyen.van.a@example.gov.vn");
    assert_eq!(q["acr_values"], "urn:tessera:loa:2 urn:tessera:loa:1");
    assert_eq!(q["scope"], "openid");

    let none = AuthOptions {
        prompt: Some("none".into()),
        ..AuthOptions::default()
    };
    let (url, _) = rp().authorization_url(&["openid"], &none);
    assert_eq!(query(&url)["prompt"], "none");
}

#[test]
fn scopes_are_deduplicated_and_openid_not_repeated() {
    let (url, _) = rp().authorization_url(
        &["openid", "profile openid", "profile", "email"],
        &AuthOptions::default(),
    );
    assert_eq!(query(&url)["scope"], "openid profile email");
}

#[test]
fn every_request_gets_fresh_secrets() {
    let rp = rp();
    let (_, a) = rp.authorization_url(&[], &AuthOptions::default());
    let (_, b) = rp.authorization_url(&[], &AuthOptions::default());
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.pkce_verifier, b.pkce_verifier);
}

#[test]
fn pending_login_round_trips_through_serde_and_hides_verifier_in_debug() {
    let (_, pending) = rp().authorization_url(&[], &AuthOptions::default());
    let json = serde_json::to_string(&pending).unwrap();
    let back: PendingLogin = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pending);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["pkce_verifier"], pending.pkce_verifier);
    assert!(!format!("{pending:?}").contains(&pending.pkce_verifier));
}

#[tokio::test]
async fn state_mismatch_is_refused_before_any_network_call() {
    let rp = rp();
    let (_, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let mut wrong = pending.state.clone();
    wrong.push('x');
    for returned in [wrong.as_str(), "", &pending.state[1..]] {
        let err = rp
            .exchange_code(&pending, "code", returned)
            .await
            .unwrap_err();
        assert!(matches!(err, SdkError::StateMismatch), "{err:?}");
    }
    // With the right state, the (unreachable) token endpoint is actually contacted.
    let err = rp
        .exchange_code(&pending, "code", &pending.state)
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::Http(_)), "{err:?}");
}

#[tokio::test]
async fn plain_http_issuer_off_loopback_is_refused_without_network() {
    let mut cfg = config(None);
    cfg.issuer = "http://sso.example.gov.vn".into();
    let err = RelyingParty::discover(cfg).await.unwrap_err();
    assert!(
        matches!(err, SdkError::Config(ref m) if m.contains("https")),
        "{err:?}"
    );

    let err = RelyingParty::from_metadata(
        config(None),
        metadata("http://sso.example.gov.vn", true),
        http_client().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, SdkError::Discovery(_)), "{err:?}");
}

#[test]
fn bad_configuration_is_refused() {
    let http = http_client().unwrap();
    let err = RelyingParty::from_metadata(config(None), metadata(ISSUER, false), http.clone())
        .unwrap_err();
    assert!(
        matches!(err, SdkError::Discovery(ref m) if m.contains("token_endpoint")),
        "{err:?}"
    );

    let mut cfg = config(None);
    cfg.client_id = String::new();
    let err = RelyingParty::from_metadata(cfg, metadata(ISSUER, true), http.clone()).unwrap_err();
    assert!(matches!(err, SdkError::Config(_)), "{err:?}");

    let mut cfg = config(None);
    cfg.redirect_uri = "not a url".into();
    let err = RelyingParty::from_metadata(cfg, metadata(ISSUER, true), http.clone()).unwrap_err();
    assert!(matches!(err, SdkError::Config(_)), "{err:?}");

    let err =
        RelyingParty::from_metadata(config(Some("")), metadata(ISSUER, true), http).unwrap_err();
    assert!(matches!(err, SdkError::Config(_)), "{err:?}");
}

#[test]
fn relying_party_is_send_and_sync_and_debug_hides_secret() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RelyingParty>();
    let text = format!("{:?} {:?}", rp(), config(Some("s3cret")));
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(rp().issuer(), ISSUER);
    assert_eq!(rp().client_id(), "hr-portal");
}

#[test]
fn end_session_url_carries_hint_client_redirect_and_state() {
    let url = rp()
        .end_session_url(
            "eyJ.hint.sig",
            Some("http://127.0.0.1:7000/bye"),
            Some("s 1"),
        )
        .unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some("http://127.0.0.1:9/logout")
    );
    let q = query(&url);
    assert_eq!(q["id_token_hint"], "eyJ.hint.sig");
    assert_eq!(q["client_id"], "hr-portal");
    assert_eq!(q["post_logout_redirect_uri"], "http://127.0.0.1:7000/bye");
    assert_eq!(q["state"], "s 1");
    let bare = rp().end_session_url("t", None, None).unwrap();
    assert_eq!(query(&bare).len(), 2);
    assert!(matches!(
        rp().end_session_url("t", Some("not a url"), None),
        Err(SdkError::Config(_))
    ));
    let without = RelyingParty::from_metadata(
        config(None),
        serde_json::from_value(serde_json::json!({
            "issuer": ISSUER,
            "authorization_endpoint": format!("{ISSUER}/authorize"),
            "token_endpoint": format!("{ISSUER}/token"),
            "jwks_uri": format!("{ISSUER}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }))
        .unwrap(),
        http_client().unwrap(),
    )
    .unwrap();
    assert!(matches!(
        without.end_session_url("t", None, None),
        Err(SdkError::Config(_))
    ));
}
