//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core §9): the test plays
//! the client with its own P-256 key (ring), registers the public half, and signs assertions
//! by hand — valid ones, replayed ones, and every way one can be wrong.

use serde_json::{Value, json};
use tessera_proto::{ErrorCode, TokenResponse};

use super::oauth_code;
use super::world::{SETUP, World};
use crate::admin::{self, NewClient};
use crate::error::AdminError;
use crate::oidc::client_auth::JWT_BEARER_ASSERTION;
use crate::oidc::{introspect, revoke, token};
use crate::request::RequestMeta;
use crate::testkit::{self, ACTOR, ClientKey, ISSUER, REDIRECT, T0, assertion_claims, b64url};
use crate::{OAuthError, Provider};

const ID: &str = "ky-so";

struct Setup {
    w: World,
    key: ClientKey,
}

/// Registers `id` for client credentials (`lgsp.read`) with `keys` as its inline JWKS.
async fn register(p: &Provider, id: &str, jwks: &str) {
    let (client, secret) = testkit::client(
        p,
        NewClient {
            id: id.into(),
            name: "Hệ thống ký số".into(),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["lgsp.read".into()]),
            jwks: Some(jwks.into()),
            ..NewClient::default()
        },
        SETUP,
    )
    .await;
    assert_eq!(client.auth_method, "private_key_jwt");
    assert!(secret.is_none(), "a private_key_jwt client has no secret");
}

async fn setup() -> Setup {
    let w = World::new().await;
    let key = ClientKey::generate("k1");
    register(&w.p, ID, &key.jwks()).await;
    Setup { w, key }
}

/// `grant_type=client_credentials` authenticated by `assertion`, plus `extra` parameters.
async fn call(
    s: &Setup,
    assertion: &str,
    extra: &[(&str, &str)],
    authorization: Option<&str>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let mut pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION),
        ("client_assertion", assertion),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    token::token(
        &s.w.p,
        &testkit::params(&pairs),
        authorization,
        &RequestMeta::default(),
        now,
    )
    .await
}

#[tokio::test]
async fn a_valid_assertion_authenticates_the_client() {
    let s = setup().await;
    let now = T0;
    let r = call(&s, &s.key.assertion(ID, "jti-1", now), &[], None, now)
        .await
        .unwrap();
    assert_eq!(r.scope, "lgsp.read");
    let v =
        s.w.p
            .signer
            .verify(&r.access_token, now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(v.claims["sub"], ID);
    assert_eq!(v.claims["client_id"], ID);
    // With a matching client_id in the body, too (RFC 7521 §4.2 allows it).
    call(
        &s,
        &s.key.assertion(ID, "jti-2", now),
        &[("client_id", ID)],
        None,
        now,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_replayed_assertion_is_invalid_client() {
    let s = setup().await;
    let assertion = s.key.assertion(ID, "jti-1", T0);
    call(&s, &assertion, &[], None, T0).await.unwrap();
    // The very same assertion, while it has not expired.
    for later in [T0, T0 + 1, T0 + 299] {
        let r = call(&s, &assertion, &[], None, later).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "at {later}");
    }
    // A new assertion reusing the jti.
    let again = s.key.assertion(ID, "jti-1", T0 + 10);
    let r = call(&s, &again, &[], None, T0 + 10).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    s.w.assert_audit("client.auth_failed", None).await;
    // jtis are per client: another client may use the same value.
    let key2 = ClientKey::generate("k2");
    register(&s.w.p, "ky-so-2", &key2.jwks()).await;
    call(&s, &key2.assertion("ky-so-2", "jti-1", T0), &[], None, T0)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_assertion_does_not_use_up_its_jti() {
    let s = setup().await;
    let other_key = ClientKey::generate("k1");
    let forged = other_key.assertion(ID, "jti-x", T0);
    let r = call(&s, &forged, &[], None, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    // Otherwise anyone could block a client's jti values in advance.
    call(&s, &s.key.assertion(ID, "jti-x", T0), &[], None, T0)
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_claims_are_invalid_client() {
    let s = setup().await;
    let now = T0;
    type Edit = fn(&mut Value, i64);
    let cases: &[(&str, Edit)] = &[
        ("aud of another server", |c, _| {
            c["aud"] = json!("https://id.other.test/token")
        }),
        ("aud of another endpoint", |c, _| {
            c["aud"] = json!(format!("{ISSUER}/authorize"))
        }),
        ("aud missing", |c, _| {
            c.as_object_mut().unwrap().remove("aud");
        }),
        ("aud list without us", |c, _| {
            c["aud"] = json!(["https://id.other.test/token"])
        }),
        ("expired", |c, now| c["exp"] = json!(now - 1)),
        ("expires now", |c, now| c["exp"] = json!(now)),
        ("exp too far", |c, now| c["exp"] = json!(now + 601)),
        ("exp missing", |c, _| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        ("exp not a number", |c, now| {
            c["exp"] = json!((now + 60).to_string())
        }),
        ("iat in the future", |c, now| c["iat"] = json!(now + 120)),
        ("nbf in the future", |c, now| c["nbf"] = json!(now + 120)),
        ("iss is not sub", |c, _| c["iss"] = json!("conf")),
        ("sub is not iss", |c, _| c["sub"] = json!("conf")),
        ("iss and sub of a secret client", |c, _| {
            c["iss"] = json!("conf");
            c["sub"] = json!("conf");
        }),
        ("iss and sub of an unknown client", |c, _| {
            c["iss"] = json!("khong-ton-tai");
            c["sub"] = json!("khong-ton-tai");
        }),
        ("iss missing", |c, _| {
            c.as_object_mut().unwrap().remove("iss");
        }),
        ("jti missing", |c, _| {
            c.as_object_mut().unwrap().remove("jti");
        }),
        ("jti empty", |c, _| c["jti"] = json!("")),
        ("jti too long", |c, _| c["jti"] = json!("j".repeat(257))),
        ("jti not a string", |c, _| c["jti"] = json!(42)),
    ];
    for (i, (what, edit)) in cases.iter().enumerate() {
        let mut claims = assertion_claims(ID, &format!("jti-{i}"), now);
        edit(&mut claims, now);
        let assertion = s.key.sign(&s.key.header(), &claims);
        let r = call(&s, &assertion, &[], None, now).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "{what}");
    }
    // The limits themselves are accepted: exp exactly 600 s ahead, iat 60 s ahead, an aud
    // list naming the token endpoint, or the issuer itself.
    type Good = fn(&mut Value, i64);
    let fine: &[(&str, Good)] = &[
        ("exp at the limit", |c, now| c["exp"] = json!(now + 600)),
        ("iat within skew", |c, now| c["iat"] = json!(now + 60)),
        ("aud list", |c, _| {
            c["aud"] = json!(["https://id.other.test", format!("{ISSUER}/token")])
        }),
        ("aud issuer", |c, _| c["aud"] = json!(ISSUER)),
        ("no iat", |c, _| {
            c.as_object_mut().unwrap().remove("iat");
        }),
    ];
    for (i, (what, edit)) in fine.iter().enumerate() {
        let mut claims = assertion_claims(ID, &format!("ok-{i}"), now);
        edit(&mut claims, now);
        let assertion = s.key.sign(&s.key.header(), &claims);
        call(&s, &assertion, &[], None, now)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    }
}

#[tokio::test]
async fn bad_signatures_and_algorithms_are_invalid_client() {
    let s = setup().await;
    let now = T0;
    let claims = |jti: &str| assertion_claims(ID, jti, now);
    // Signed by a key the client never registered, under the registered kid or another.
    let stranger = ClientKey::generate("k1");
    let r = call(&s, &stranger.assertion(ID, "a1", now), &[], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "wrong key");
    let stranger = ClientKey::generate("k9");
    let r = call(&s, &stranger.assertion(ID, "a2", now), &[], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "unknown kid");
    // The right key under a kid it is not registered as.
    let header = json!({ "alg": "ES256", "kid": "k9" });
    let r = call(&s, &s.key.sign(&header, &claims("a3")), &[], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "wrong kid");

    // alg none, with and without a signature part.
    let none = json!({ "alg": "none", "kid": "k1" });
    let input = testkit::jws_input(&none, &claims("a4"));
    for token in [format!("{input}."), format!("{input}.{}", b64url(b"x"))] {
        let r = call(&s, &token, &[], None, now).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "alg none");
    }
    // HS256 keyed with the public key's x coordinate (the classic confusion attack), and with
    // anything else.
    let hs = json!({ "alg": "HS256", "kid": "k1" });
    let input = testkit::jws_input(&hs, &claims("a5"));
    let x = s.key.jwk()["x"].as_str().unwrap().to_owned();
    for secret in [x.as_bytes(), b"secret".as_slice()] {
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", b64url(mac.as_ref()));
        let r = call(&s, &token, &[], None, now).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "HS256");
    }
    // A valid ES256 signature presented as RS256.
    let rs = json!({ "alg": "RS256", "kid": "k1" });
    let good = s.key.sign(&s.key.header(), &claims("a6"));
    let sig = good.rsplit('.').next().unwrap();
    let token = format!("{}.{sig}", testkit::jws_input(&rs, &claims("a6")));
    let r = call(&s, &token, &[], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "alg swap");
    // A valid signature over other claims.
    let (signed_header, _) = good.rsplit_once('.').unwrap();
    let header_part = signed_header.split('.').next().unwrap();
    let mut other = claims("a6");
    other["scope"] = json!("lgsp.write");
    let token = format!(
        "{header_part}.{}.{sig}",
        b64url(other.to_string().as_bytes())
    );
    let r = call(&s, &token, &[], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "claims changed");
    // Not a JWS at all.
    for junk in ["abc", "a.b.c", "a.b", "..", "e30.e30.e30.e30"] {
        let r = call(&s, junk, &[], None, now).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient, "{junk}");
    }
    // None of these used up the jtis: the genuine assertions still pass.
    for jti in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        call(&s, &s.key.assertion(ID, jti, now), &[], None, now)
            .await
            .unwrap();
    }
    // Without a kid, every registered key is tried.
    let header = json!({ "alg": "ES256" });
    call(&s, &s.key.sign(&header, &claims("a7")), &[], None, now)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_private_key_jwt_client_cannot_use_a_secret() {
    let s = setup().await;
    let params = testkit::params(&[("grant_type", "client_credentials")]);
    let meta = RequestMeta::default();
    let basic = testkit::basic(ID, "doan-mot-bi-mat");
    let r = token::token(&s.w.p, &params, Some(&basic), &meta, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let params = testkit::params(&[
        ("grant_type", "client_credentials"),
        ("client_id", ID),
        ("client_secret", "doan-mot-bi-mat"),
    ]);
    let r = token::token(&s.w.p, &params, None, &meta, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    // Nor present nothing, as a public client would.
    let params = testkit::params(&[("grant_type", "client_credentials"), ("client_id", ID)]);
    let r = token::token(&s.w.p, &params, None, &meta, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn an_assertion_with_another_method_or_a_bad_type_is_invalid_request() {
    let s = setup().await;
    let now = T0;
    let a = s.key.assertion(ID, "m1", now);
    let r = call(&s, &a, &[("client_secret", "x")], None, now).await;
    assert_eq!(
        oauth_code(r),
        ErrorCode::InvalidRequest,
        "with client_secret"
    );
    let basic = testkit::basic(ID, "x");
    let r = call(&s, &a, &[], Some(&basic), now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest, "with Basic");
    let r = call(
        &s,
        &a,
        &[(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        )],
        None,
        now,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest, "saml2 type");
    let r = call(&s, &a, &[("client_assertion_type", "")], None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest, "no type");
    // A client_id in the body that is not the assertion's.
    let r = call(&s, &a, &[("client_id", "conf")], None, now).await;
    assert_eq!(
        oauth_code(r),
        ErrorCode::InvalidClient,
        "client_id mismatch"
    );
    // None of these used the assertion.
    call(&s, &a, &[], None, now).await.unwrap();
}

#[tokio::test]
async fn a_jwks_uri_is_not_fetched_without_an_outbound_allow_list() {
    let w = World::new().await;
    let key = ClientKey::generate("k1");
    let (client, _) = testkit::client(
        &w.p,
        NewClient {
            id: "tu-xa".into(),
            name: "Khoá ở xa".into(),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["lgsp.read".into()]),
            jwks_uri: Some("https://keys.tu-xa.gov.vn/jwks.json".into()),
            ..NewClient::default()
        },
        SETUP,
    )
    .await;
    assert_eq!(client.auth_method, "private_key_jwt");
    let s = Setup { w, key };
    let r = call(&s, &s.key.assertion("tu-xa", "u1", T0), &[], None, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn assertions_authenticate_at_introspection_and_revocation_too() {
    let s = setup().await;
    let now = T0;
    let token = call(&s, &s.key.assertion(ID, "t1", now), &[], None, now)
        .await
        .unwrap()
        .access_token;
    let for_endpoint = |path: &str, jti: &str| {
        let mut c = assertion_claims(ID, jti, now);
        c["aud"] = json!(format!("{ISSUER}{path}"));
        s.key.sign(&s.key.header(), &c)
    };
    let form = |assertion: &str| {
        testkit::params(&[
            ("token", token.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", assertion),
        ])
    };
    let a = for_endpoint("/introspect", "i1");
    let answer = introspect::introspect(&s.w.p, &form(&a), None, now)
        .await
        .unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], ID);
    // Replayed at introspection too.
    let r = introspect::introspect(&s.w.p, &form(&a), None, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let a = for_endpoint("/revoke", "r1");
    revoke::revoke(&s.w.p, &form(&a), None, &RequestMeta::default(), now)
        .await
        .unwrap();
    let a = for_endpoint("/introspect", "i2");
    let answer = introspect::introspect(&s.w.p, &form(&a), None, now)
        .await
        .unwrap();
    assert_eq!(answer, json!({ "active": false }));
}

fn invalid(r: Result<impl std::fmt::Debug, AdminError>) -> String {
    match r {
        Err(AdminError::Invalid(m)) => m,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn registration_rules_for_client_keys() {
    let p = testkit::provider(T0).await;
    let key = ClientKey::generate("k1");
    let with = |id: &str, jwks: Option<String>, jwks_uri: Option<&str>| NewClient {
        id: id.into(),
        name: "Ký số".into(),
        grant_types: Some(vec!["client_credentials".into()]),
        scopes: Some(vec!["lgsp.read".into()]),
        jwks,
        jwks_uri: jwks_uri.map(str::to_owned),
        ..NewClient::default()
    };
    let mut private = key.jwk();
    private["d"] = json!(b64url(&[1u8; 32]));
    let cases = [
        with("ca-hai", Some(key.jwks()), Some("https://k.test/jwks")),
        with("khong-json", Some("{keys".into()), None),
        with("rong", Some(r#"{"keys":[]}"#.into()), None),
        with("khong-phai-set", Some(key.jwk().to_string()), None),
        with(
            "bi-mat",
            Some(json!({ "keys": [private] }).to_string()),
            None,
        ),
        with("http", None, Some("http://keys.example.gov.vn/jwks")),
        with("tuong-doi", None, Some("/jwks")),
    ];
    for new in cases {
        let id = new.id.clone();
        let r = admin::add_client(&p, ACTOR, new, T0).await;
        invalid(r);
        assert!(p.store.client(&id).await.unwrap().is_none(), "{id} stored");
    }
    // Public clients authenticate with nothing, so they take no keys.
    let public = NewClient {
        id: "cong-khai".into(),
        name: "Ứng dụng di động".into(),
        public: true,
        redirect_uris: vec![REDIRECT.into()],
        jwks: Some(key.jwks()),
        ..NewClient::default()
    };
    invalid(admin::add_client(&p, ACTOR, public, T0).await);
}

/// The client's key server, as seen through the outbound transport: serves one JWKS and
/// counts how often it is asked.
#[derive(Debug)]
struct KeyServer {
    jwks: Value,
    fetches: std::sync::atomic::AtomicUsize,
}

impl crate::outbound::Outbound for KeyServer {
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        _form: &'a [(&'a str, &'a str)],
    ) -> crate::outbound::BoxFuture<'a, Result<u16, crate::outbound::OutboundError>> {
        Box::pin(async move { Err(crate::outbound::OutboundError::NotAllowed(url.to_owned())) })
    }

    fn get_json<'a>(
        &'a self,
        _url: &'a str,
    ) -> crate::outbound::BoxFuture<'a, Result<Value, crate::outbound::OutboundError>> {
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let doc = self.jwks.clone();
        Box::pin(async move { Ok(doc) })
    }
}

#[tokio::test]
async fn a_jwks_uri_is_fetched_once_not_on_every_assertion() {
    let key = ClientKey::generate("k-uri");
    let server = std::sync::Arc::new(KeyServer {
        jwks: serde_json::from_str(&key.jwks()).unwrap(),
        fetches: Default::default(),
    });
    let mut p = testkit::provider(T0).await;
    p.outbound = server.clone();
    // A URI of its own: the JWKS cache is shared by every test in this process.
    let uri = "https://keys.so-noi-vu.test/a_jwks_uri_is_fetched_once.json";
    testkit::client(
        &p,
        NewClient {
            id: "ky-uri".into(),
            name: "Hệ thống ký số (JWKS URI)".into(),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["lgsp.read".into()]),
            jwks_uri: Some(uri.into()),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let call = |assertion: String| {
        let p = p.clone();
        async move {
            let pairs = [
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", assertion.as_str()),
            ];
            token::token(
                &p,
                &testkit::params(&pairs),
                None,
                &RequestMeta::default(),
                T0,
            )
            .await
        }
    };
    for jti in ["a-1", "a-2", "a-3"] {
        let r = call(key.assertion("ky-uri", jti, T0)).await;
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(server.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A key the cached set does not know: refused, without a fetch for every such request.
    let stranger = ClientKey::generate("k-unknown");
    for jti in ["b-1", "b-2", "b-3"] {
        let r = call(stranger.assertion("ky-uri", jti, T0)).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    }
    assert_eq!(server.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
}
