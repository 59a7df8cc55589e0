//! End-to-end checks of the SDK against a scripted loopback provider (see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::PrivateSigningKey;
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use serde_json::{Value, json};
use support::{EcKey, MockOp, Reply, claims, rsa_key, sign, token_response};
use tessera_sdk::{AuthOptions, PendingLogin, RelyingParty, RpConfig, SdkError};

const CLIENT_ID: &str = "hr-portal";
const SECRET: &str = "s3cret:with/odd chars";
const REDIRECT: &str = "http://127.0.0.1:7000/callback";
const ACCESS_TOKEN: &str = "at-123";

fn config(op: &MockOp, secret: Option<&str>) -> RpConfig {
    RpConfig {
        issuer: op.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: secret.map(Into::into),
        redirect_uri: REDIRECT.into(),
    }
}

async fn es256_op() -> (MockOp, EcKey) {
    let key = EcKey::generate("ec-1");
    let op = MockOp::start(&["ES256", "RS256"], &[key.as_verification_key()]).await;
    (op, key)
}

/// Discovers, starts a login, lets `make_reply` script the token endpoint from the
/// pending login, and completes the exchange.
async fn login(
    op: &MockOp,
    secret: Option<&str>,
    make_reply: impl FnOnce(&PendingLogin) -> Reply,
) -> (
    Result<tessera_sdk::LoginResult, SdkError>,
    PendingLogin,
    url::Url,
) {
    let rp = RelyingParty::discover(config(op, secret)).await.unwrap();
    let (url, pending) = rp.authorization_url(&["profile"], &AuthOptions::default());
    op.set_token(make_reply(&pending));
    let result = rp.exchange_code(&pending, "code-abc", &pending.state).await;
    (result, pending, url)
}

fn ok_reply(id_token: String) -> Reply {
    Reply::json(200, token_response(ACCESS_TOKEN, &id_token))
}

fn challenge_of(url: &url::Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn es256_confidential_client_login() {
    let (op, key) = es256_op().await;
    let issuer = op.issuer.clone();
    let (result, pending, url) = login(&op, Some(SECRET), |p| {
        ok_reply(sign(
            claims(&issuer, CLIENT_ID, &p.nonce),
            &key,
            Alg::EcdsaP256Sha256,
            Some(ACCESS_TOKEN),
        ))
    })
    .await;
    let login = result.unwrap();
    assert_eq!(login.subject, "user-42");
    assert_eq!(login.access_token, ACCESS_TOKEN);
    assert_eq!(login.refresh_token.as_deref(), Some("refresh-1"));
    assert_eq!(login.expires_in, Some(Duration::from_secs(300)));
    assert_eq!(login.id_token.split('.').count(), 3);
    let c = &login.claims;
    assert_eq!(c.sub, "user-42");
    assert_eq!(c.iss, op.issuer);
    assert_eq!(c.sid.as_deref(), Some("session-7"));
    assert_eq!(c.acr.as_deref(), Some("urn:tessera:loa:substantial"));
    assert_eq!(c.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(c.name.as_deref(), Some("Nguyễn Văn A"));
    assert_eq!(c.preferred_username.as_deref(), Some("nguyenvana"));
    assert_eq!(c.email.as_deref(), Some("a@example.gov.vn"));
    assert_eq!(c.email_verified, Some(true));
    assert!(c.authenticated_within(Duration::from_secs(60)));
    assert!(!c.authenticated_within(Duration::from_secs(1)));

    // The token request: client_secret_basic (form-urlencoded id and secret, RFC 6749
    // §2.3.1), the code, redirect_uri and the PKCE verifier matching the challenge.
    let reqs = op.requests("/token");
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    let form = req.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-abc");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], pending.pkce_verifier);
    assert!(!form.contains_key("client_secret"));
    let digest = ring::digest::digest(&ring::digest::SHA256, form["code_verifier"].as_bytes());
    assert_eq!(challenge_of(&url), URL_SAFE_NO_PAD.encode(digest.as_ref()));
    let basic = req.headers["authorization"].strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(STANDARD.decode(basic).unwrap()).unwrap();
    let (id, secret) = decoded.split_once(':').unwrap();
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(unescape(id), CLIENT_ID);
    assert_eq!(unescape(secret), SECRET);
}

#[tokio::test]
async fn rs256_public_client_login() {
    let key = rsa_key("rsa-1");
    let op = MockOp::start(&["ES256", "RS256"], &[key.as_verification_key()]).await;
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        ok_reply(sign(
            claims(&issuer, CLIENT_ID, &p.nonce),
            &key,
            Alg::RsaSsaPkcs1V15Sha256,
            Some(ACCESS_TOKEN),
        ))
    })
    .await;
    assert_eq!(result.unwrap().claims.sid.as_deref(), Some("session-7"));
    let req = &op.requests("/token")[0];
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.form()["client_id"], CLIENT_ID);
}

#[tokio::test]
async fn id_token_without_at_hash_or_sid_is_accepted() {
    let (op, key) = es256_op().await;
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        let mut c = claims(&issuer, CLIENT_ID, &p.nonce);
        c.as_object_mut().unwrap().remove("sid");
        ok_reply(sign(c, &key, Alg::EcdsaP256Sha256, None))
    })
    .await;
    let login = result.unwrap();
    assert_eq!(login.claims.sid, None);
}

/// Each case scripts a bad ID token; all must be refused as `SdkError::IdToken`.
#[tokio::test]
async fn invalid_id_tokens_are_refused() {
    type Mutate = fn(&mut Value);
    let cases: &[(&str, Mutate, &str)] = &[
        ("wrong nonce", |c| c["nonce"] = json!("other"), ACCESS_TOKEN),
        (
            "missing nonce",
            |c| {
                c.as_object_mut().unwrap().remove("nonce");
            },
            ACCESS_TOKEN,
        ),
        (
            "wrong audience",
            |c| c["aud"] = json!(["someone-else"]),
            ACCESS_TOKEN,
        ),
        (
            "wrong issuer",
            |c| c["iss"] = json!("http://127.0.0.1:1"),
            ACCESS_TOKEN,
        ),
        (
            "expired",
            |c| c["exp"] = json!(support::now() - 600),
            ACCESS_TOKEN,
        ),
        ("at_hash of another token", |_| {}, "another-access-token"),
    ];
    for (name, mutate, at_hash_of) in cases {
        let (op, key) = es256_op().await;
        let issuer = op.issuer.clone();
        let (result, _, _) = login(&op, None, |p| {
            let mut c = claims(&issuer, CLIENT_ID, &p.nonce);
            mutate(&mut c);
            ok_reply(sign(c, &key, Alg::EcdsaP256Sha256, Some(at_hash_of)))
        })
        .await;
        let err = result.unwrap_err();
        assert!(matches!(err, SdkError::IdToken(_)), "{name}: {err:?}");
    }
}

#[tokio::test]
async fn forged_signatures_are_refused() {
    // Signed by a key the provider never published (even after a JWKS refresh).
    let (op, _) = es256_op().await;
    let rogue = EcKey::generate("ec-1");
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        ok_reply(sign(
            claims(&issuer, CLIENT_ID, &p.nonce),
            &rogue,
            Alg::EcdsaP256Sha256,
            Some(ACCESS_TOKEN),
        ))
    })
    .await;
    assert!(matches!(result, Err(SdkError::IdToken(_))), "{result:?}");

    // Unknown kid: refused after one JWKS refresh.
    let (op, _) = es256_op().await;
    let rogue = EcKey::generate("ec-unknown");
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        ok_reply(sign(
            claims(&issuer, CLIENT_ID, &p.nonce),
            &rogue,
            Alg::EcdsaP256Sha256,
            Some(ACCESS_TOKEN),
        ))
    })
    .await;
    assert!(matches!(result, Err(SdkError::IdToken(_))), "{result:?}");
    assert_eq!(op.requests("/jwks").len(), 2);

    // Tampered payload under a genuine signature.
    let (op, key) = es256_op().await;
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        let jwt = sign(
            claims(&issuer, CLIENT_ID, &p.nonce),
            &key,
            Alg::EcdsaP256Sha256,
            Some(ACCESS_TOKEN),
        );
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["sub"] = json!("admin");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        ok_reply(forged)
    })
    .await;
    assert!(matches!(result, Err(SdkError::IdToken(_))), "{result:?}");

    // alg=none.
    let (op, _) = es256_op().await;
    let issuer = op.issuer.clone();
    let (result, _, _) = login(&op, None, |p| {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(&issuer, CLIENT_ID, &p.nonce).to_string());
        ok_reply(format!("{header}.{body}."))
    })
    .await;
    assert!(matches!(result, Err(SdkError::IdToken(_))), "{result:?}");
}

#[tokio::test]
async fn rotated_signing_key_is_fetched_once() {
    let (op, _) = es256_op().await;
    let new_key = EcKey::generate("ec-2");
    let issuer = op.issuer.clone();
    let rp = RelyingParty::discover(config(&op, None)).await.unwrap();
    op.set_jwks(&[new_key.as_verification_key()]);
    for _ in 0..2 {
        let (_, pending) = rp.authorization_url(&[], &AuthOptions::default());
        op.set_token(ok_reply(sign(
            claims(&issuer, CLIENT_ID, &pending.nonce),
            &new_key,
            Alg::EcdsaP256Sha256,
            Some(ACCESS_TOKEN),
        )));
        rp.exchange_code(&pending, "c", &pending.state)
            .await
            .unwrap();
    }
    // One fetch at discovery, one refresh; the second login uses the cached set.
    assert_eq!(op.requests("/jwks").len(), 2);
}

#[tokio::test]
async fn token_endpoint_errors_surface_the_oauth_error_code() {
    let (op, _) = es256_op().await;
    let (result, _, _) = login(&op, None, |_| {
        Reply::json(
            400,
            json!({"error": "invalid_grant", "error_description": "code already used"}),
        )
    })
    .await;
    match result {
        Err(SdkError::TokenEndpoint { error, description }) => {
            assert_eq!(error, "invalid_grant");
            assert_eq!(description.as_deref(), Some("code already used"));
        }
        other => panic!("{other:?}"),
    }

    let (result, _, _) = login(&op, Some(SECRET), |_| {
        Reply::json(401, json!({"error": "invalid_client"}))
    })
    .await;
    assert!(
        matches!(result, Err(SdkError::TokenEndpoint { ref error, description: None }) if error == "invalid_client"),
        "{result:?}"
    );

    let (result, _, _) = login(&op, None, |_| Reply {
        status: 500,
        content_type: "text/html",
        body: "<h1>oops</h1>".into(),
    })
    .await;
    assert!(matches!(result, Err(SdkError::Protocol(_))), "{result:?}");

    let (result, _, _) = login(&op, None, |_| {
        Reply::json(
            200,
            json!({"access_token": "a", "token_type": "mac", "id_token": "x.y.z"}),
        )
    })
    .await;
    assert!(matches!(result, Err(SdkError::Protocol(_))), "{result:?}");

    let (result, _, _) = login(&op, None, |_| {
        Reply::json(200, json!({"access_token": "a", "token_type": "Bearer"}))
    })
    .await;
    assert!(matches!(result, Err(SdkError::IdToken(_))), "{result:?}");
}

#[tokio::test]
async fn discovery_failures() {
    let (op, _) = es256_op().await;
    op.set_discovery(|d| d["issuer"] = json!("http://127.0.0.1:1"));
    let err = RelyingParty::discover(config(&op, None)).await.unwrap_err();
    assert!(matches!(err, SdkError::Discovery(_)), "{err:?}");

    let (op, _) = es256_op().await;
    let mut cfg = config(&op, None);
    cfg.issuer.push_str("/realm");
    let err = RelyingParty::discover(cfg).await.unwrap_err();
    assert!(
        matches!(err, SdkError::Discovery(ref m) if m.contains("404")),
        "{err:?}"
    );

    // Nothing listening: a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config(&op, None);
    cfg.issuer = format!("http://{free}");
    let err = RelyingParty::discover(cfg).await.unwrap_err();
    assert!(matches!(err, SdkError::Http(_)), "{err:?}");
}

#[tokio::test]
async fn userinfo_returns_all_claims() {
    let (op, _) = es256_op().await;
    let rp = RelyingParty::discover(config(&op, None)).await.unwrap();
    op.set_userinfo(Reply::json(
        200,
        json!({"sub": "user-42", "name": "Nguyễn Văn A", "email": "a@example.gov.vn",
               "email_verified": true, "department": {"code": "HR", "level": 2}, "roles": ["clerk"]}),
    ));
    let info = rp.userinfo("at-xyz").await.unwrap();
    assert_eq!(info["sub"], "user-42");
    assert_eq!(info["name"], "Nguyễn Văn A");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["department"], json!({"code": "HR", "level": 2}));
    assert_eq!(info["roles"], json!(["clerk"]));
    let req = &op.requests("/userinfo")[0];
    assert_eq!(req.headers["authorization"], "Bearer at-xyz");

    assert!(rp.userinfo_for_subject("at-xyz", "user-42").await.is_ok());
    let err = rp
        .userinfo_for_subject("at-xyz", "user-43")
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::UserInfo(_)), "{err:?}");

    op.set_userinfo(Reply::json(401, json!({"error": "invalid_token"})));
    let err = rp.userinfo("expired").await.unwrap_err();
    assert!(
        matches!(err, SdkError::UserInfo(ref m) if m.contains("401")),
        "{err:?}"
    );
}

#[tokio::test]
async fn futures_are_send() {
    let (op, key) = es256_op().await;
    let rp = std::sync::Arc::new(RelyingParty::discover(config(&op, None)).await.unwrap());
    let (_, pending) = rp.authorization_url(&[], &AuthOptions::default());
    op.set_token(ok_reply(sign(
        claims(&op.issuer, CLIENT_ID, &pending.nonce),
        &key,
        Alg::EcdsaP256Sha256,
        Some(ACCESS_TOKEN),
    )));
    let rp2 = rp.clone();
    let login = tokio::spawn(async move { rp2.exchange_code(&pending, "c", &pending.state).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(login.subject, "user-42");
}
