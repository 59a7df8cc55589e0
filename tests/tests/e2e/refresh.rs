//! Refresh tokens through the real server: rotation, re-use revoking the whole family, binding
//! to the client, scope narrowing, disabled users, and replayed codes (RFC 6749 §4.1.2, §6;
//! RFC 9700 §4.14.2; OIDC Core §12.2).

use anyhow::Context;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::lifecycle::{self, Auth};
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth, JsonAnswer};
use tessera_e2e::{Backend, Browser, NewClient, flow};

use crate::code_flow::assert_no_store;
use crate::token_errors::assert_invalid_token;

scenarios!(
    refresh_rotates_and_reuse_revokes_the_family,
    refresh_by_another_client_is_refused,
    refresh_scope_narrowing,
    disabled_user_refresh_is_refused,
    replayed_code_revokes_the_refresh_token
);

/// Tokens of a login of `vanban` in `browser` (password prompt the first time, SSO after)
/// with `scope`, and the authorization request that produced them.
pub async fn login_tokens(
    fx: &Fixture,
    browser: &Browser,
    scope: &str,
) -> anyhow::Result<(AuthRequest, JsonAnswer)> {
    let mut request = AuthRequest::new(&fx.client);
    request.scope = scope.to_owned();
    let url = request.url(&fx.server);
    let cb = match flow::authorize_silently(browser, &url).await {
        Ok(cb) => cb,
        Err(_) => flow::browser_login(browser, &fx.server, &url, USERNAME, PASSWORD).await?,
    };
    let secret = fx.client.client_secret.as_deref().context("no secret")?;
    let answer = oauth::exchange(
        &fx.server,
        ClientAuth::Basic("vanban", secret),
        &request,
        &cb.code()?,
    )
    .await?;
    anyhow::ensure!(answer.status == StatusCode::OK, "code exchange: {answer}");
    Ok((request, answer))
}

pub fn assert_oauth_error(answer: &JsonAnswer, status: StatusCode, error: &str) {
    assert_eq!(answer.status, status, "{answer}");
    assert_eq!(answer.error(), Some(error), "{answer}");
    assert!(answer.json.get("access_token").is_none(), "{answer}");
    assert!(answer.json.get("refresh_token").is_none(), "{answer}");
}

async fn refreshed(
    fx: &Fixture,
    auth: &Auth,
    token: &str,
    scope: Option<&str>,
) -> anyhow::Result<JsonAnswer> {
    let answer = lifecycle::refresh(&fx.server, auth, token, scope).await?;
    anyhow::ensure!(answer.status == StatusCode::OK, "refresh: {answer}");
    Ok(answer)
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let auth = Auth::basic(&fx.client)?;
    let browser = Browser::new()?;
    let (request, first) = login_tokens(&fx, &browser, "openid profile").await?;
    let r0 = first.str("refresh_token")?.to_owned();
    let (_, first_id) = oauth::jwt_parts(first.str("id_token")?)?;
    assert_eq!(first_id["nonce"], request.nonce.as_str());

    // Refresh: new refresh token, new access token, an ID token with the same auth_time and
    // no nonce, verifiable against the JWKS.
    let second = refreshed(&fx, &auth, &r0, None).await?;
    assert_no_store(second.header("cache-control"));
    let r1 = second.str("refresh_token")?.to_owned();
    assert_ne!(r1, r0);
    assert_ne!(second.str("access_token")?, first.str("access_token")?);
    assert_eq!(second.json["token_type"], "Bearer");
    assert_eq!(second.json["scope"], "openid profile");
    let id_token = second.str("id_token")?;
    let jwks = oauth::get_json(&fx.server, "/jwks").await?.json;
    oauth::verify_jws(id_token, &jwks)?;
    let (_, id) = oauth::jwt_parts(id_token)?;
    assert_eq!(id["auth_time"], first_id["auth_time"]);
    assert_eq!(id["sub"], first_id["sub"]);
    assert_eq!(id["aud"], "vanban");
    assert!(
        id.get("nonce").is_none(),
        "nonce in a refreshed ID token: {id}"
    );
    assert_eq!(
        id["at_hash"],
        oauth::at_hash(second.str("access_token")?).as_str()
    );
    let info = oauth::userinfo(&fx.server, second.str("access_token")?).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");
    assert!(!lifecycle::is_active(&fx.server, &auth, &r0).await?);
    assert!(lifecycle::is_active(&fx.server, &auth, &r1).await?);
    let third = refreshed(&fx, &auth, &r1, None).await?;
    let r2 = third.str("refresh_token")?.to_owned();

    // The spent r0 again: refused, and the whole family is revoked.
    let reuse = lifecycle::refresh(&fx.server, &auth, &r0, None).await?;
    assert_oauth_error(&reuse, StatusCode::BAD_REQUEST, "invalid_grant");
    let newest = lifecycle::refresh(&fx.server, &auth, &r2, None).await?;
    assert_oauth_error(&newest, StatusCode::BAD_REQUEST, "invalid_grant");
    for answer in [&first, &second, &third] {
        let access_token = answer.str("access_token")?;
        assert_invalid_token(&oauth::userinfo(&fx.server, access_token).await?);
        assert!(!lifecycle::is_active(&fx.server, &auth, access_token).await?);
    }
    assert!(!lifecycle::is_active(&fx.server, &auth, &r2).await?);

    // A new login starts a new family, which works.
    let (_, fresh) = login_tokens(&fx, &browser, "openid").await?;
    refreshed(&fx, &auth, fresh.str("refresh_token")?, None).await?;
    Ok(())
}

async fn refresh_by_another_client_is_refused(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let auth = Auth::basic(&fx.client)?;
    let other = fx
        .add_client(NewClient::confidential("nhansu", "Quản lý nhân sự"))
        .await?;
    let other_auth = Auth::basic(&other)?;
    let (_, first) = login_tokens(&fx, &Browser::new()?, "openid").await?;
    let r0 = first.str("refresh_token")?;

    let stolen = lifecycle::refresh(&fx.server, &other_auth, r0, None).await?;
    assert_oauth_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant");
    // Introspection by the other client reveals nothing either.
    assert!(!lifecycle::is_active(&fx.server, &other_auth, r0).await?);
    // The attempt did not burn the token: its owner still refreshes, twice in a row.
    let next = refreshed(&fx, &auth, r0, None).await?;
    refreshed(&fx, &auth, next.str("refresh_token")?, None).await?;
    Ok(())
}

async fn refresh_scope_narrowing(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let auth = Auth::basic(&fx.client)?;
    let (_, first) = login_tokens(&fx, &Browser::new()?, "openid profile email").await?;
    let r0 = first.str("refresh_token")?;

    let wider = lifecycle::refresh(&fx.server, &auth, r0, Some("openid profile phone")).await?;
    assert_oauth_error(&wider, StatusCode::BAD_REQUEST, "invalid_scope");
    // Refused before the token was spent: it still works, with a narrower scope.
    let narrow = refreshed(&fx, &auth, r0, Some("openid")).await?;
    assert_eq!(narrow.json["scope"], "openid");
    let info = oauth::userinfo(&fx.server, narrow.str("access_token")?).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");
    assert!(info.json.get("email").is_none(), "{info}");
    // The family keeps what was granted.
    let full = refreshed(&fx, &auth, narrow.str("refresh_token")?, None).await?;
    assert_eq!(full.json["scope"], "openid profile email");
    Ok(())
}

async fn disabled_user_refresh_is_refused(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let auth = Auth::basic(&fx.client)?;
    let (_, first) = login_tokens(&fx, &Browser::new()?, "openid offline_access").await?;
    let refresh_token = first.str("refresh_token")?;
    let access_token = first.str("access_token")?;
    let answer = lifecycle::introspect(&fx.server, &auth, refresh_token).await?;
    assert_eq!(answer.json["active"], true, "{answer}");
    assert_eq!(answer.json["username"], USERNAME, "{answer}");

    fx.server.disable_user(USERNAME).await?;

    let refused = lifecycle::refresh(&fx.server, &auth, refresh_token, None).await?;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!lifecycle::is_active(&fx.server, &auth, refresh_token).await?);
    assert!(!lifecycle::is_active(&fx.server, &auth, access_token).await?);
    assert_invalid_token(&oauth::userinfo(&fx.server, access_token).await?);
    Ok(())
}

/// RFC 6749 §4.1.2: a code redeemed twice revokes what it produced — the refresh token and
/// whatever the refresh token has produced since, too.
async fn replayed_code_revokes_the_refresh_token(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let secret = fx.client.client_secret.clone().context("no secret")?;
    let auth = Auth::basic(&fx.client)?;
    let browser = Browser::new()?;
    let request = AuthRequest::new(&fx.client);
    let cb = flow::browser_login(
        &browser,
        &fx.server,
        &request.url(&fx.server),
        USERNAME,
        PASSWORD,
    )
    .await?;
    let code = cb.code()?;
    let basic = ClientAuth::Basic("vanban", &secret);
    let first = oauth::exchange(&fx.server, basic, &request, &code).await?;
    assert_eq!(first.status, StatusCode::OK, "{first}");
    let next = refreshed(&fx, &auth, first.str("refresh_token")?, None).await?;

    let again = oauth::exchange(&fx.server, basic, &request, &code).await?;
    assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant");
    let refused = lifecycle::refresh(&fx.server, &auth, next.str("refresh_token")?, None).await?;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    for answer in [&first, &next] {
        assert_invalid_token(&oauth::userinfo(&fx.server, answer.str("access_token")?).await?);
    }
    Ok(())
}
