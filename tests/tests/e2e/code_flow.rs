//! The authorization code flow with PKCE, as the SDK and as a hand-written client do it.

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::fixture::{FULL_NAME, Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, at_redirect_uri};
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth};
use tessera_e2e::{Backend, Browser, NewClient};
use tessera_sdk::AuthOptions;

scenarios!(
    sdk_confidential_client,
    sdk_public_client,
    client_secret_post_by_hand,
    rs256_client
);

/// Confidential client, `client_secret_basic`, each browser step asserted.
async fn sdk_confidential_client(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let rp = fx.rp().await?;
    let browser = fx.browser()?;
    let (auth_url, pending) = rp.authorization_url(&["profile"], &AuthOptions::default());

    // /authorize without a session → the login page, which sets the CSRF cookie.
    let to_login = browser.get(&auth_url).await?.see_other()?;
    assert_eq!(to_login.path(), "/login");
    let login = browser.get(&to_login).await?;
    assert_eq!(login.status, StatusCode::OK, "{login}");
    assert!(
        login.set_cookie("tessera_csrf").is_some(),
        "no tessera_csrf cookie: {login:?}"
    );
    let form = login.login_form()?;
    assert!(form.req.is_some(), "the login form carries no req: {login}");

    // POST /login → straight back to the client with code, state and iss (RFC 9207).
    let answer = browser
        .submit_login(server, &form, USERNAME, PASSWORD)
        .await?;
    let back = answer.see_other()?;
    assert!(at_redirect_uri(&back, &fx.client.redirect_uri), "{answer}");
    let cb = flow::Callback { url: back };
    assert_eq!(cb.state().as_deref(), Some(pending.state.as_str()));
    assert_eq!(cb.param("iss").as_deref(), Some(server.issuer()));
    let cookie = answer
        .set_cookie("tessera_session")
        .context("no tessera_session cookie after login")?;
    let attrs = cookie.to_ascii_lowercase();
    assert!(
        attrs.contains("httponly"),
        "session cookie not HttpOnly: {cookie}"
    );
    assert!(
        attrs.contains("samesite=lax"),
        "session cookie not SameSite=Lax: {cookie}"
    );

    // The SDK verifies the ID token (signature, iss, aud, exp, nonce, at_hash).
    let login = rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    let claims = &login.claims;
    assert_eq!(claims.iss, server.issuer());
    assert!(!login.subject.is_empty());
    assert_ne!(
        login.subject, USERNAME,
        "sub must be opaque, not the username"
    );
    assert_eq!(claims.acr.as_deref(), Some("urn:tessera:loa:1"));
    assert_eq!(claims.amr, vec!["pwd".to_owned()]);
    assert!(claims.sid.is_some(), "no sid in the ID token");
    let auth_time = claims.auth_time.context("no auth_time in the ID token")?;
    assert!(
        auth_time <= claims.issued_at && claims.issued_at - auth_time < 60,
        "auth_time {auth_time} vs iat {}",
        claims.issued_at
    );
    assert!(claims.expires_at > claims.issued_at);

    // Default signing algorithm: ES256, with a kid found in the JWKS.
    let (header, raw) = oauth::jwt_parts(&login.id_token)?;
    assert_eq!(header["alg"], "ES256", "header: {header}");
    assert_eq!(raw["nonce"], pending.nonce.as_str());
    assert_eq!(raw["at_hash"], oauth::at_hash(&login.access_token).as_str());
    assert!(aud_contains(&raw["aud"], "vanban"), "aud: {}", raw["aud"]);
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    oauth::verify_jws(&login.id_token, &jwks)?;

    let info = rp
        .userinfo_for_subject(&login.access_token, &login.subject)
        .await?;
    assert_eq!(info["name"], FULL_NAME);
    assert_eq!(info["preferred_username"], USERNAME);
    Ok(())
}

/// A public client: no secret at all, PKCE alone protects the code.
async fn sdk_public_client(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let client = fx
        .add_client(NewClient::public("congdan", "Cổng dịch vụ công"))
        .await?;
    assert_eq!(client.client_secret, None);
    let rp = flow::relying_party(&fx.server, &client).await?;
    let browser = fx.browser()?;
    let login =
        flow::sdk_login(&browser, &fx.server, &rp, &["profile"], USERNAME, PASSWORD).await?;
    assert_ne!(login.subject, USERNAME);
    let (_, raw) = oauth::jwt_parts(&login.id_token)?;
    assert!(aud_contains(&raw["aud"], "congdan"), "aud: {}", raw["aud"]);
    let info = rp
        .userinfo_for_subject(&login.access_token, &login.subject)
        .await?;
    assert_eq!(info["name"], FULL_NAME);
    Ok(())
}

/// `client_secret_post`, everything by hand, checked against OIDC Core §3.1.3.
async fn client_secret_post_by_hand(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    let secret = fx
        .client
        .client_secret
        .clone()
        .context("vanban has no secret")?;
    let mut request = AuthRequest::new(&fx.client);
    request.scope = "openid profile".into();
    let browser = Browser::new()?;
    let cb =
        flow::browser_login(&browser, server, &request.url(server), USERNAME, PASSWORD).await?;
    assert_eq!(cb.state().as_deref(), Some(request.state.as_str()));

    let answer = oauth::exchange(
        server,
        ClientAuth::Post("vanban", &secret),
        &request,
        &cb.code()?,
    )
    .await?;
    assert_eq!(answer.status, StatusCode::OK, "{answer}");
    assert_no_store(answer.header("cache-control"));
    assert!(
        answer.str("token_type")?.eq_ignore_ascii_case("bearer"),
        "{answer}"
    );
    assert!(
        answer.json["expires_in"].as_u64().is_some_and(|s| s > 0),
        "{answer}"
    );
    let access_token = answer.str("access_token")?;
    let id_token = answer.str("id_token")?;

    let (header, claims) = oauth::jwt_parts(id_token)?;
    assert!(header["kid"].is_string(), "no kid: {header}");
    assert_eq!(claims["iss"], server.issuer());
    assert!(
        aud_contains(&claims["aud"], "vanban"),
        "aud: {}",
        claims["aud"]
    );
    assert_eq!(claims["nonce"], request.nonce.as_str());
    assert_eq!(claims["at_hash"], oauth::at_hash(access_token).as_str());
    assert_eq!(claims["acr"], "urn:tessera:loa:1");
    assert_eq!(claims["amr"], json!(["pwd"]));
    for claim in ["sub", "sid"] {
        assert!(
            claims[claim].as_str().is_some_and(|s| !s.is_empty()),
            "{claim}: {claims}"
        );
    }
    for claim in ["exp", "iat", "auth_time"] {
        assert!(claims[claim].is_i64(), "{claim} not a number: {claims}");
    }
    assert_ne!(claims["sub"], USERNAME);
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    oauth::verify_jws(id_token, &jwks)?;

    let info = oauth::userinfo(server, access_token).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");
    assert_eq!(info.json["sub"], claims["sub"]);
    Ok(())
}

/// A client registered with `--alg RS256` gets RS256 ID tokens; others keep ES256.
async fn rs256_client(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let mut new = NewClient::confidential("nhansu", "Quản lý nhân sự");
    new.alg = Some("RS256".into());
    let client = fx.add_client(new).await?;
    let rsa_rp = flow::relying_party(&fx.server, &client).await?;
    let browser = fx.browser()?;
    // The SDK itself verifies the RS256 signature against the JWKS.
    let login = flow::sdk_login(&browser, &fx.server, &rsa_rp, &[], USERNAME, PASSWORD).await?;
    let jwks = oauth::get_json(&fx.server, "/jwks").await?.json;
    let (header, _) = oauth::jwt_parts(&login.id_token)?;
    assert_eq!(header["alg"], "RS256", "header: {header}");
    assert_eq!(
        key_type(&jwks, &header["kid"]),
        Some("RSA"),
        "kid {} in {jwks}",
        header["kid"]
    );
    oauth::verify_jws(&login.id_token, &jwks)?;

    // Same browser, the ES256 client: SSO, and an ES256 token the SDK verifies too.
    let ec_rp = fx.rp().await?;
    let (url, pending) = ec_rp.authorization_url(&[], &AuthOptions::default());
    let cb = flow::authorize_silently(&browser, &url).await?;
    let ec_login = ec_rp
        .exchange_code(&pending, &cb.code()?, &pending.state)
        .await?;
    let (header, _) = oauth::jwt_parts(&ec_login.id_token)?;
    assert_eq!(header["alg"], "ES256", "header: {header}");
    assert_eq!(
        key_type(&jwks, &header["kid"]),
        Some("EC"),
        "kid {} in {jwks}",
        header["kid"]
    );
    oauth::verify_jws(&ec_login.id_token, &jwks)?;
    Ok(())
}

fn aud_contains(aud: &Value, client_id: &str) -> bool {
    match aud {
        Value::String(s) => s == client_id,
        Value::Array(list) => list.iter().any(|a| a == client_id),
        _ => false,
    }
}

fn key_type<'a>(jwks: &'a Value, kid: &Value) -> Option<&'a str> {
    jwks["keys"].as_array()?.iter().find(|k| &k["kid"] == kid)?["kty"].as_str()
}

/// RFC 6749 §5.1: token responses carry `Cache-Control: no-store`.
pub fn assert_no_store(cache_control: Option<&str>) {
    assert!(
        cache_control.is_some_and(|v| v.to_ascii_lowercase().contains("no-store")),
        "Cache-Control: {cache_control:?}"
    );
}
