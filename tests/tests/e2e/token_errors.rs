//! Token requests that must fail (RFC 6749 §5.2, RFC 7636 §4.6, OIDC Core §3.1.3.2).

use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow;
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth, JsonAnswer, Pkce};
use tessera_e2e::{Backend, Browser, ServerOptions};

use crate::code_flow::assert_no_store;

scenarios!(
    code_reuse_revokes_tokens,
    wrong_pkce_verifier,
    expired_code,
    wrong_client_secret,
    malformed_token_requests
);

/// A signed-in browser plus a fresh code for `vanban`, and the request that produced it.
struct Issued {
    request: AuthRequest,
    code: String,
}

async fn fresh_code(fx: &Fixture, browser: &Browser) -> anyhow::Result<Issued> {
    let request = AuthRequest::new(&fx.client);
    let url = request.url(&fx.server);
    let cb = match flow::authorize_silently(browser, &url).await {
        Ok(cb) => cb,
        Err(_) => flow::browser_login(browser, &fx.server, &url, USERNAME, PASSWORD).await?,
    };
    Ok(Issued {
        code: cb.code()?,
        request,
    })
}

fn secret(fx: &Fixture) -> anyhow::Result<String> {
    fx.client
        .client_secret
        .clone()
        .context("vanban has no secret")
}

fn assert_oauth_error(answer: &JsonAnswer, status: StatusCode, error: &str) {
    assert_eq!(answer.status, status, "{answer}");
    assert_eq!(answer.error(), Some(error), "{answer}");
    assert!(answer.json.get("access_token").is_none(), "{answer}");
    assert_no_store(answer.header("cache-control"));
}

/// RFC 6749 §4.1.2: a code used twice is refused, and the tokens issued the first time are
/// revoked.
async fn code_reuse_revokes_tokens(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let secret = secret(&fx)?;
    let auth = ClientAuth::Basic("vanban", &secret);
    let issued = fresh_code(&fx, &Browser::new()?).await?;

    let first = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_eq!(first.status, StatusCode::OK, "{first}");
    let access_token = first.str("access_token")?.to_owned();
    let info = oauth::userinfo(&fx.server, &access_token).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");

    let second = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_oauth_error(&second, StatusCode::BAD_REQUEST, "invalid_grant");

    let info = oauth::userinfo(&fx.server, &access_token).await?;
    assert_invalid_token(&info);
    Ok(())
}

/// RFC 7636 §4.6: the verifier must match the challenge; a missing one fails too.
async fn wrong_pkce_verifier(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let secret = secret(&fx)?;
    let auth = ClientAuth::Basic("vanban", &secret);
    let browser = Browser::new()?;

    let mut issued = fresh_code(&fx, &browser).await?;
    issued.request.pkce = Some(Pkce::new());
    let answer = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");

    let mut issued = fresh_code(&fx, &browser).await?;
    issued.request.pkce = None;
    let answer = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        matches!(answer.error(), Some("invalid_grant" | "invalid_request")),
        "{answer}"
    );
    assert!(answer.json.get("access_token").is_none(), "{answer}");
    Ok(())
}

/// A code past its lifetime (here shortened to 1 s) is refused.
async fn expired_code(backend: Backend) -> anyhow::Result<()> {
    let options = ServerOptions::default().env("TESSERA_CODE_TTL_SECS", "1");
    let fx = Fixture::start_with(backend, options).await?;
    let secret = secret(&fx)?;
    let auth = ClientAuth::Basic("vanban", &secret);
    let browser = Browser::new()?;

    // Control: on this server, a code used at once is fine. Times are whole seconds, so a
    // 1 s code issued just before a second boundary may already be stale: allow 3 tries.
    let mut answers = Vec::new();
    for _ in 0..3 {
        let issued = fresh_code(&fx, &browser).await?;
        let answer = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
        if answer.status == StatusCode::OK {
            break;
        }
        answers.push(answer.to_string());
    }
    assert!(answers.len() < 3, "no fresh code was accepted: {answers:?}");

    let issued = fresh_code(&fx, &browser).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answer = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    Ok(())
}

/// RFC 6749 §5.2: a failed client authentication is `invalid_client`, 401 with
/// `WWW-Authenticate` when the client used the Authorization header.
async fn wrong_client_secret(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let browser = Browser::new()?;
    let issued = fresh_code(&fx, &browser).await?;

    let basic = ClientAuth::Basic("vanban", "sai-mat-khau-cua-ung-dung");
    let answer = oauth::exchange(&fx.server, basic, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic"),
        "WWW-Authenticate: {challenge:?}"
    );

    let post = ClientAuth::Post("vanban", "sai-mat-khau-cua-ung-dung");
    let answer = oauth::exchange(&fx.server, post, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");

    // Unknown client.
    let nobody = ClientAuth::Basic("khong-ton-tai", "bat-ky");
    let answer = oauth::exchange(&fx.server, nobody, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
    Ok(())
}

/// Unsupported grant type; a redirect URI different from the authorization request's.
async fn malformed_token_requests(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let secret = secret(&fx)?;
    let auth = ClientAuth::Basic("vanban", &secret);
    let browser = Browser::new()?;

    let form = [
        ("grant_type", "password"),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];
    let answer = oauth::token_request(&fx.server, auth, &form).await?;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");

    // RFC 6749 §4.1.3: redirect_uri must be identical to the one in the request.
    let mut issued = fresh_code(&fx, &browser).await?;
    issued.request.redirect_uri = "http://127.0.0.1:9/other/cb".into();
    let answer = oauth::exchange(&fx.server, auth, &issued.request, &issued.code).await?;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");

    // A code issued to vanban cannot be redeemed by another client.
    let other = fx
        .add_client(tessera_e2e::NewClient::confidential(
            "nhansu",
            "Quản lý nhân sự",
        ))
        .await?;
    let other_secret = other.client_secret.context("nhansu has no secret")?;
    let mut issued = fresh_code(&fx, &browser).await?;
    issued.request.redirect_uri = other.redirect_uri.clone();
    let answer = oauth::exchange(
        &fx.server,
        ClientAuth::Basic("nhansu", &other_secret),
        &issued.request,
        &issued.code,
    )
    .await?;
    assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    Ok(())
}

/// RFC 6750 §3.1: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub fn assert_invalid_token(answer: &JsonAnswer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer}");
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "WWW-Authenticate: {challenge:?}"
    );
}
