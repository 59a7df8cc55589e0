//! The token endpoint: the code exchange, its checks (expiry, single use, PKCE, redirect URI,
//! client binding) and client authentication, with the clock passed in.

use serde_json::json;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::sessions::SessionRecord;
use tessera_store::users::{User, UserStatus};

use super::oauth_code;
use crate::oidc::token::at_hash;
use crate::oidc::{authorize, token, userinfo};
use crate::params::Params;
use crate::request::RequestMeta;
use crate::testkit::{self, CHALLENGE, ISSUER, REDIRECT, T0, VERIFIER, authz, basic};
use crate::{OAuthError, Provider, acr, admin};

/// Another valid verifier, which does not match [`CHALLENGE`].
const OTHER_VERIFIER: &str = "aBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct Setup {
    p: Provider,
    user: User,
    session: (SessionRecord, User),
    conf: String,
    other: String,
    rs: String,
}

/// Confidential clients `conf`, `other` (both ES256) and `rs` (RS256), a public client `pub`,
/// and a session that logged in at `T0 - 100`.
async fn setup() -> Setup {
    setup_on(testkit::provider(T0 - 1000).await).await
}

async fn setup_on(p: Provider) -> Setup {
    let t = T0 - 1000;
    let user = testkit::add_user(&p, "an.nv", None, &["can-bo"], t).await;
    let (_, conf) = testkit::confidential_client(&p, "conf", None, t).await;
    let (_, other) = testkit::confidential_client(&p, "other", None, t).await;
    let (_, rs) = testkit::confidential_client(&p, "rs", Some("RS256"), t).await;
    testkit::public_client(&p, "pub", None, t).await;
    let (_, session) = testkit::session(&p, &user, T0 - 100).await;
    Setup {
        p,
        user,
        session,
        conf,
        other,
        rs,
    }
}

/// A code issued at `T0` to `client_id` through SSO (the session already exists).
async fn code(s: &Setup, client_id: &str, overrides: &[(&str, &str)]) -> String {
    let d = authorize::authorize(
        &s.p,
        &authz(client_id, overrides),
        Some(&s.session),
        &RequestMeta::default(),
        T0,
    )
    .await
    .unwrap();
    testkit::code_of(&d)
}

/// A code issued with PKCE (S256 over [`VERIFIER`]).
async fn pkce_code(s: &Setup, client_id: &str) -> String {
    code(
        s,
        client_id,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .await
}

/// A valid exchange of `code`, with `overrides` replacing or adding parameters.
fn exchange(code: &str, overrides: &[(&str, &str)]) -> Params {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    testkit::params(&pairs)
}

async fn call(
    s: &Setup,
    params: &Params,
    authorization: Option<&str>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    token::token(&s.p, params, authorization, &RequestMeta::default(), now).await
}

#[tokio::test]
async fn code_exchange_returns_a_verifiable_id_token_with_every_claim() {
    let s = setup().await;
    let c = code(&s, "conf", &[("scope", "openid profile")]).await;
    let auth = basic("conf", &s.conf);
    let now = T0 + 5;
    let r = call(&s, &exchange(&c, &[]), Some(&auth), now)
        .await
        .unwrap();
    assert_eq!(r.token_type, "Bearer");
    assert_eq!(r.expires_in, 600);
    assert_eq!(r.scope, "openid profile");
    // The default client policy includes refresh tokens.
    assert!(r.refresh_token.is_some());

    let id_token = r.id_token.expect("an ID token");
    let v =
        s.p.signer
            .verify(&id_token, now)
            .await
            .unwrap()
            .expect("verifies");
    assert_eq!(v.header["alg"], "ES256");
    assert_eq!(v.header["typ"], "JWT");
    let c = &v.claims;
    let (session, _) = &s.session;
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], json!(s.user.id));
    assert_ne!(c["sub"], "an.nv");
    assert_eq!(c["aud"], "conf");
    assert_eq!(c["iat"], now);
    assert_eq!(c["exp"], now + 600);
    assert_eq!(c["auth_time"], T0 - 100);
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["sid"], json!(session.sid));
    assert_eq!(c["at_hash"], json!(at_hash(&r.access_token)));
    assert_eq!(c["acr"], acr::LOA1);
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["preferred_username"], "an.nv");

    // The access token is not an ID token, and it works at UserInfo.
    let at =
        s.p.signer
            .verify(&r.access_token, now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(at.header["typ"], "at+jwt");
    let info = userinfo::userinfo(&s.p, &r.access_token, now)
        .await
        .unwrap();
    assert_eq!(info["sub"], json!(s.user.id));

    let audit = s.p.store.recent_audit(1).await.unwrap();
    assert_eq!(audit[0].event, "token.issued");
}

#[tokio::test]
async fn public_client_exchanges_with_the_right_verifier() {
    let s = setup().await;
    let c = pkce_code(&s, "pub").await;
    let params = exchange(&c, &[("client_id", "pub"), ("code_verifier", VERIFIER)]);
    let r = call(&s, &params, None, T0 + 5).await.unwrap();
    assert!(r.id_token.is_some());
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let s = setup().await;
    let auth = basic("conf", &s.conf);
    let c = code(&s, "conf", &[]).await;
    let r = call(&s, &exchange(&c, &[]), Some(&auth), T0 + 61).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "code expired").await;
    // The code lives 60 s: expired at exactly T0 + 60, still good at T0 + 59.
    let c = code(&s, "conf", &[]).await;
    let r = call(&s, &exchange(&c, &[]), Some(&auth), T0 + 60).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    let c = code(&s, "conf", &[]).await;
    call(&s, &exchange(&c, &[]), Some(&auth), T0 + 59)
        .await
        .unwrap();
}

#[tokio::test]
async fn reused_code_is_invalid_grant_and_revokes_the_first_tokens() {
    let s = setup().await;
    let auth = basic("conf", &s.conf);
    let c = code(&s, "conf", &[]).await;
    let first = call(&s, &exchange(&c, &[]), Some(&auth), T0 + 5)
        .await
        .unwrap();
    userinfo::userinfo(&s.p, &first.access_token, T0 + 6)
        .await
        .unwrap();

    let again = call(&s, &exchange(&c, &[]), Some(&auth), T0 + 7).await;
    assert_eq!(oauth_code(again), ErrorCode::InvalidGrant);
    let r = userinfo::userinfo(&s.p, &first.access_token, T0 + 8).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
    let audit = s.p.store.recent_audit(1).await.unwrap();
    assert_eq!(audit[0].event, "code.replayed");
    assert!(
        audit[0].detail.contains("\"revoked_tokens\":1"),
        "{}",
        audit[0].detail
    );
}

#[tokio::test]
async fn wrong_or_missing_verifier_is_invalid_grant() {
    let s = setup().await;
    let cases: [&[(&str, &str)]; 3] = [
        &[("client_id", "pub"), ("code_verifier", OTHER_VERIFIER)],
        &[("client_id", "pub")],
        // The challenge itself is not the verifier.
        &[("client_id", "pub"), ("code_verifier", CHALLENGE)],
    ];
    for overrides in cases {
        let c = pkce_code(&s, "pub").await;
        let r = call(&s, &exchange(&c, overrides), None, T0 + 5).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidGrant, "{overrides:?}");
        assert_refused(&s, "PKCE verification failed").await;
    }
    // A confidential client that sent a challenge must send the verifier too.
    let c = pkce_code(&s, "conf").await;
    let r = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("conf", &s.conf)),
        T0 + 5,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn verifier_without_a_challenge_is_invalid_grant() {
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    let params = exchange(&c, &[("code_verifier", VERIFIER)]);
    let r = call(&s, &params, Some(&basic("conf", &s.conf)), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "PKCE verification failed").await;
}

#[tokio::test]
async fn redirect_uri_mismatch_is_invalid_grant() {
    let s = setup().await;
    let auth = basic("conf", &s.conf);
    for uri in ["https://app.test/cb/", "https://app.test/cb?x=1", ""] {
        let c = code(&s, "conf", &[]).await;
        let r = call(
            &s,
            &exchange(&c, &[("redirect_uri", uri)]),
            Some(&auth),
            T0 + 5,
        )
        .await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidGrant, "{uri:?}");
        assert_refused(&s, "redirect_uri does not match the authorization request").await;
    }
}

#[tokio::test]
async fn code_of_another_client_is_invalid_grant() {
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    let r = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("other", &s.other)),
        T0 + 5,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "code issued to another client").await;
    let audit = s.p.store.recent_audit(1).await.unwrap();
    assert_eq!(audit[0].client_id.as_deref(), Some("other"));
    // Presenting it again changes nothing either, and the rightful client still gets its tokens.
    let again = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("other", &s.other)),
        T0 + 6,
    )
    .await;
    assert_eq!(oauth_code(again), ErrorCode::InvalidGrant);
    let owner = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("conf", &s.conf)),
        T0 + 7,
    )
    .await;
    assert!(
        owner.is_ok(),
        "the code was not burnt by another client: {owner:?}"
    );
}

#[tokio::test]
async fn wrong_or_missing_client_secret_is_invalid_client() {
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    let wrong = basic("conf", &s.other);
    let r = call(&s, &exchange(&c, &[]), Some(&wrong), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    let audit = s.p.store.recent_audit(1).await.unwrap();
    assert_eq!(audit[0].event, "client.auth_failed");

    let post = exchange(&c, &[("client_id", "conf"), ("client_secret", "nope")]);
    assert_eq!(
        oauth_code(call(&s, &post, None, T0 + 5).await),
        ErrorCode::InvalidClient
    );
    let bare = exchange(&c, &[("client_id", "conf")]);
    assert_eq!(
        oauth_code(call(&s, &bare, None, T0 + 5).await),
        ErrorCode::InvalidClient
    );
    let anonymous = exchange(&c, &[]);
    assert_eq!(
        oauth_code(call(&s, &anonymous, None, T0 + 5).await),
        ErrorCode::InvalidClient
    );
    // A public client cannot present a secret, nor can an unknown client authenticate.
    let public = exchange(&c, &[("client_id", "pub"), ("client_secret", "x")]);
    assert_eq!(
        oauth_code(call(&s, &public, None, T0 + 5).await),
        ErrorCode::InvalidClient
    );
    let unknown = basic("nobody", &s.conf);
    assert_eq!(
        oauth_code(call(&s, &exchange(&c, &[]), Some(&unknown), T0 + 5).await),
        ErrorCode::InvalidClient
    );
    // None of these attempts consumed the code.
    let post = exchange(&c, &[("client_id", "conf"), ("client_secret", &s.conf)]);
    call(&s, &post, None, T0 + 6).await.unwrap();
}

#[tokio::test]
async fn two_authentication_methods_are_invalid_request() {
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    let params = exchange(&c, &[("client_secret", &s.conf)]);
    let r = call(&s, &params, Some(&basic("conf", &s.conf)), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
    let params = exchange(&c, &[("client_id", "other")]);
    let r = call(&s, &params, Some(&basic("conf", &s.conf)), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn other_grant_types_are_unsupported() {
    let s = setup().await;
    let auth = basic("conf", &s.conf);
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let params = testkit::params(&[
            ("grant_type", grant),
            ("username", "an.nv"),
            ("password", testkit::PASSWORD),
        ]);
        let r = call(&s, &params, Some(&auth), T0 + 5).await;
        assert_eq!(oauth_code(r), ErrorCode::UnsupportedGrantType, "{grant}");
    }
    // Known grants the client is not registered for.
    for grant in [
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let params = testkit::params(&[("grant_type", grant)]);
        let r = call(&s, &params, Some(&auth), T0 + 5).await;
        assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient, "{grant}");
    }
    let r = call(&s, &testkit::params(&[]), Some(&auth), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn user_disabled_between_code_and_token_is_invalid_grant() {
    let s = setup().await;
    let auth = basic("conf", &s.conf);
    let c = code(&s, "conf", &[]).await;
    admin::disable_user(&s.p, testkit::ACTOR, "an.nv", T0 + 2)
        .await
        .unwrap();
    let r = call(&s, &exchange(&c, &[]), Some(&auth), T0 + 5).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "user is disabled").await;
}

#[tokio::test]
async fn user_status_is_checked_even_with_a_live_session() {
    // A status changed without ending the sessions (another replica, a database edit).
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    s.p.store
        .set_user_status("an.nv", UserStatus::Disabled, T0 + 2)
        .await
        .unwrap();
    let r = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("conf", &s.conf)),
        T0 + 5,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "user is disabled").await;
}

/// The newest audit entry is a refusal for `reason`.
async fn assert_refused(s: &Setup, reason: &str) {
    let e = s.p.store.recent_audit(1).await.unwrap().remove(0);
    assert_eq!(e.event, "token.refused");
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
    assert_eq!(detail["reason"], reason);
}

#[tokio::test]
async fn ended_session_is_invalid_grant() {
    let s = setup().await;
    let c = code(&s, "conf", &[]).await;
    s.p.store
        .end_session(&s.session.0.id, T0 + 1)
        .await
        .unwrap();
    let r = call(
        &s,
        &exchange(&c, &[]),
        Some(&basic("conf", &s.conf)),
        T0 + 5,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidGrant);
    assert_refused(&s, "the session has ended").await;
}

#[tokio::test]
async fn rs256_client_gets_rs256_tokens() {
    // Keys made by `ensure_keys` itself, not the test binary's shared ones.
    let s = setup_on(testkit::provider_with_own_keys(T0 - 1000).await).await;
    let c = code(&s, "rs", &[]).await;
    let r = call(&s, &exchange(&c, &[]), Some(&basic("rs", &s.rs)), T0 + 5)
        .await
        .unwrap();
    let id_token = r.id_token.unwrap();
    let v = s.p.signer.verify(&id_token, T0 + 5).await.unwrap().unwrap();
    assert_eq!(v.header["alg"], "RS256");
    assert_eq!(v.claims["aud"], "rs");
    let jwks = s.p.signer.jwks(T0 + 5).await.unwrap();
    assert!(
        jwks.keys
            .iter()
            .any(|k| k["kid"] == v.header["kid"] && k["kty"] == "RSA")
    );
    let at =
        s.p.signer
            .verify(&r.access_token, T0 + 5)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(at.header["alg"], "RS256");
}
