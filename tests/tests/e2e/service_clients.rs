//! Service clients registered with the CLI: client credentials (RFC 6749 §4.4), introspection
//! (RFC 7662) and revocation (RFC 7009) by the right client and a wrong one, and
//! `private_key_jwt` with a JWKS file (RFC 7523), replays refused.

use reqwest::StatusCode;
use serde_json::json;
use tessera_e2e::fixture::{Fixture, USERNAME};
use tessera_e2e::lifecycle::{self, Auth, ClientKey, ServiceClient};
use tessera_e2e::{Backend, Browser, oauth};

use crate::code_flow::assert_no_store;
use crate::refresh::{assert_oauth_error, login_tokens};
use crate::token_errors::assert_invalid_token;

scenarios!(
    client_credentials_for_a_cli_registered_service,
    introspection_and_revocation_of_user_tokens,
    private_key_jwt_with_a_jwks_file
);

async fn client_credentials_for_a_cli_registered_service(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let lgsp = ServiceClient::new("lgsp", "Nền tảng tích hợp LGSP", "lgsp.read")
        .register(server)
        .await?;
    let auth = Auth::basic(&lgsp)?;
    let vanban = Auth::basic(&fx.client)?;

    let answer = lifecycle::client_credentials(server, &auth, None).await?;
    assert_eq!(answer.status, StatusCode::OK, "{answer}");
    assert_no_store(answer.header("cache-control"));
    assert_eq!(answer.json["scope"], "lgsp.read");
    assert_eq!(answer.json["token_type"], "Bearer");
    assert!(answer.json.get("refresh_token").is_none(), "{answer}");
    assert!(answer.json.get("id_token").is_none(), "{answer}");
    let token = answer.str("access_token")?.to_owned();
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    oauth::verify_jws(&token, &jwks)?;
    let (header, claims) = oauth::jwt_parts(&token)?;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["sub"], "lgsp");
    assert_eq!(claims["client_id"], "lgsp");
    // client_secret_post works as well, with the scope named.
    let secret = lgsp.client_secret.clone().unwrap_or_default();
    let post = Auth::Post("lgsp".into(), secret);
    let named = lifecycle::client_credentials(server, &post, Some("lgsp.read")).await?;
    assert_eq!(named.status, StatusCode::OK, "{named}");

    // Scopes it may not have: about a person, or not registered.
    for scope in ["openid", "lgsp.write", "lgsp.read profile"] {
        let refused = lifecycle::client_credentials(server, &auth, Some(scope)).await?;
        assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_scope");
    }
    // A user-login client is not registered for this grant; a wrong secret is no client.
    let refused = lifecycle::client_credentials(server, &vanban, None).await?;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "unauthorized_client");
    let wrong = Auth::Basic("lgsp".into(), "sai-bi-mat".into());
    let refused = lifecycle::client_credentials(server, &wrong, None).await?;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_client");
    // The service token has no user behind it.
    let info = oauth::userinfo(server, &token).await?;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED, "{info}");

    // Introspection: the owner sees it; another client sees nothing; a wrong secret is 401.
    let seen = lifecycle::introspect(server, &auth, &token).await?;
    assert_eq!(seen.status, StatusCode::OK, "{seen}");
    assert_no_store(seen.header("cache-control"));
    assert_eq!(seen.json["active"], true, "{seen}");
    assert_eq!(seen.json["sub"], "lgsp");
    assert_eq!(seen.json["client_id"], "lgsp");
    assert_eq!(seen.json["scope"], "lgsp.read");
    assert!(seen.json.get("username").is_none(), "{seen}");
    let foreign = lifecycle::introspect(server, &vanban, &token).await?;
    assert_eq!(foreign.status, StatusCode::OK, "{foreign}");
    assert_eq!(foreign.json, json!({ "active": false }));
    let unauthenticated = lifecycle::introspect(server, &wrong, &token).await?;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthenticated.error(), Some("invalid_client"));

    // Revocation by another client: 200, and nothing happens.
    let ignored = lifecycle::revoke(server, &vanban, &token).await?;
    assert_eq!(ignored.status, StatusCode::OK, "{ignored}");
    assert!(lifecycle::is_active(server, &auth, &token).await?);
    let unauthenticated = lifecycle::revoke(server, &wrong, &token).await?;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    // By its owner: 200, and it is inactive from then on.
    let revoked = lifecycle::revoke(server, &auth, &token).await?;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked}");
    assert!(!lifecycle::is_active(server, &auth, &token).await?);
    // Unknown tokens are a success too (RFC 7009 §2.2).
    let unknown = lifecycle::revoke(server, &auth, "khong-phai-token").await?;
    assert_eq!(unknown.status, StatusCode::OK, "{unknown}");
    Ok(())
}

async fn introspection_and_revocation_of_user_tokens(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let vanban = Auth::basic(&fx.client)?;
    let lgsp = ServiceClient::new("lgsp", "LGSP", "lgsp.read")
        .register(server)
        .await?;
    let lgsp = Auth::basic(&lgsp)?;
    let browser = Browser::new()?;
    let (_, first) = login_tokens(&fx, &browser, "openid profile").await?;
    let access_token = first.str("access_token")?;
    let refresh_token = first.str("refresh_token")?;

    let seen = lifecycle::introspect(server, &vanban, access_token).await?;
    assert_eq!(seen.json["active"], true, "{seen}");
    assert_eq!(seen.json["sub"], fx.user_id.as_str(), "{seen}");
    assert_eq!(seen.json["username"], USERNAME, "{seen}");
    assert_eq!(seen.json["client_id"], "vanban", "{seen}");
    assert_eq!(seen.json["scope"], "openid profile", "{seen}");
    assert!(seen.json["exp"].as_i64().is_some(), "{seen}");
    let seen = lifecycle::introspect(server, &vanban, refresh_token).await?;
    assert_eq!(seen.json["active"], true, "{seen}");
    assert_eq!(seen.json["token_type"], "refresh_token", "{seen}");
    for token in [access_token, refresh_token] {
        assert!(!lifecycle::is_active(server, &lgsp, token).await?);
        // Revocation by the wrong client changes nothing.
        let ignored = lifecycle::revoke(server, &lgsp, token).await?;
        assert_eq!(ignored.status, StatusCode::OK, "{ignored}");
        assert!(lifecycle::is_active(server, &vanban, token).await?);
    }

    // Revoking an access token: UserInfo refuses it; the refresh token lives on.
    let (_, second) = login_tokens(&fx, &browser, "openid").await?;
    let lone = second.str("access_token")?;
    let revoked = lifecycle::revoke(server, &vanban, lone).await?;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked}");
    assert_invalid_token(&oauth::userinfo(server, lone).await?);
    assert!(lifecycle::is_active(server, &vanban, second.str("refresh_token")?).await?);

    // Revoking the refresh token ends its family: its access tokens die with it.
    let revoked = lifecycle::revoke(server, &vanban, refresh_token).await?;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked}");
    assert!(!lifecycle::is_active(server, &vanban, refresh_token).await?);
    assert!(!lifecycle::is_active(server, &vanban, access_token).await?);
    assert_invalid_token(&oauth::userinfo(server, access_token).await?);
    let refused = lifecycle::refresh(server, &vanban, refresh_token, None).await?;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    Ok(())
}

async fn private_key_jwt_with_a_jwks_file(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let token_endpoint = format!("{}/token", server.issuer());
    let key = ClientKey::generate("ky-so-2025")?;
    let client = ServiceClient::new("ky-so", "Hệ thống ký số", "lgsp.read")
        .with_jwks(key.jwks())
        .register(server)
        .await?;
    assert!(client.client_secret.is_none());

    let assertion = key.assertion("ky-so", &token_endpoint, "jti-1")?;
    let auth = Auth::Assertion(assertion.clone());
    let answer = lifecycle::client_credentials(server, &auth, None).await?;
    assert_eq!(answer.status, StatusCode::OK, "{answer}");
    let token = answer.str("access_token")?.to_owned();
    let (_, claims) = oauth::jwt_parts(&token)?;
    assert_eq!(claims["sub"], "ky-so");

    // The same assertion again: a replay.
    let replay = lifecycle::client_credentials(server, &auth, None).await?;
    assert_oauth_error(&replay, StatusCode::UNAUTHORIZED, "invalid_client");
    // A new assertion with the same jti: a replay too.
    let same_jti = key.assertion("ky-so", &token_endpoint, "jti-1")?;
    let replay = lifecycle::client_credentials(server, &Auth::Assertion(same_jti), None).await?;
    assert_oauth_error(&replay, StatusCode::UNAUTHORIZED, "invalid_client");
    // Signed by a key it never registered, or addressed to another server.
    let stranger = ClientKey::generate("ky-so-2025")?;
    let forged = stranger.assertion("ky-so", &token_endpoint, "jti-2")?;
    let refused = lifecycle::client_credentials(server, &Auth::Assertion(forged), None).await?;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_client");
    let elsewhere = key.assertion("ky-so", "https://id.other.gov.vn/token", "jti-3")?;
    let refused = lifecycle::client_credentials(server, &Auth::Assertion(elsewhere), None).await?;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_client");
    // It has no secret to present.
    let secret = Auth::Basic("ky-so".into(), "doan-bi-mat".into());
    let refused = lifecycle::client_credentials(server, &secret, None).await?;
    assert_oauth_error(&refused, StatusCode::UNAUTHORIZED, "invalid_client");
    // Two methods at once.
    let both = lifecycle::post(
        server,
        "/token",
        &Auth::Assertion(key.assertion("ky-so", &token_endpoint, "jti-4")?),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", "doan-bi-mat"),
        ],
    )
    .await?;
    assert_oauth_error(&both, StatusCode::BAD_REQUEST, "invalid_request");
    // The refused jtis were not used up by refusals.
    for jti in ["jti-2", "jti-3"] {
        let a = key.assertion("ky-so", &token_endpoint, jti)?;
        let ok = lifecycle::client_credentials(server, &Auth::Assertion(a), None).await?;
        assert_eq!(ok.status, StatusCode::OK, "{jti}: {ok}");
    }

    // Introspection and revocation with assertions addressed to those endpoints.
    let at = |path: &str, jti: &str| {
        key.assertion("ky-so", &format!("{}{path}", server.issuer()), jti)
            .map(Auth::Assertion)
    };
    assert!(lifecycle::is_active(server, &at("/introspect", "i-1")?, &token).await?);
    let revoked = lifecycle::revoke(server, &at("/revoke", "r-1")?, &token).await?;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked}");
    assert!(!lifecycle::is_active(server, &at("/introspect", "i-2")?, &token).await?);
    Ok(())
}
