//! Two `tessera serve` replicas on one PostgreSQL behave as one server: a session made on one
//! is known to the other, codes and refresh tokens are usable once across both, and
//! introspection, revocation and logout on one are seen by the other. Runs only on PostgreSQL,
//! the database replicas share in production.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::lifecycle::{Auth, is_active, revoke};
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth, JsonAnswer};
use tessera_e2e::{Backend, Browser, RegisteredClient, ServerOptions, flow};

/// The public name both replicas answer to, as behind a load balancer.
const ISSUER: &str = "http://sso.haiphong.test";

fn auth(client: &RegisteredClient) -> ClientAuth<'_> {
    ClientAuth::Basic(
        &client.client_id,
        client.client_secret.as_deref().unwrap_or_default(),
    )
}

#[tokio::test]
async fn two_replicas_behave_as_one_server() {
    if !Backend::Postgres.available() {
        return;
    }
    if let Err(e) = run().await {
        panic!("{e:#}");
    }
}

async fn run() -> anyhow::Result<()> {
    let options = ServerOptions::default().env("TESSERA_ISSUER", ISSUER);
    let fx = Fixture::start_with(Backend::Postgres, options.clone()).await?;
    let a = &fx.server;
    let b = a.start_replica(options.clone()).await?;
    let client = &fx.client;
    let creds = Auth::basic(client)?;

    // Log in through A; the code is redeemed at B.
    let browser = Browser::new()?;
    let first = AuthRequest::new(client);
    let cb = flow::browser_login(&browser, a, &first.url(a), USERNAME, PASSWORD).await?;
    let code = cb.code()?;
    let tokens = oauth::exchange(&b, auth(client), &first, &code).await?;
    ensure!(
        tokens.status == StatusCode::OK,
        "code exchange at B: {tokens}"
    );
    let (_, id_claims) = oauth::jwt_parts(tokens.str("id_token")?)?;
    ensure!(
        id_claims["iss"] == ISSUER,
        "both replicas issue as {ISSUER}: {id_claims}"
    );
    let access = tokens.str("access_token")?.to_owned();
    ensure!(
        is_active(a, &creds, &access).await?,
        "A sees the token B issued"
    );

    // The same code at A: refused, and what B issued from it is revoked everywhere.
    let replay = oauth::exchange(a, auth(client), &first, &code).await?;
    ensure!(
        replay.error() == Some("invalid_grant"),
        "code replay at A: {replay}"
    );
    ensure!(
        !is_active(&b, &creds, &access).await?,
        "replay revoked the first token"
    );

    // The SSO session made on A is honoured by B: no second password prompt.
    let second = AuthRequest::new(client);
    let cb = flow::authorize_silently(&browser, &second.url(&b))
        .await
        .context("SSO through B")?;
    let tokens = oauth::exchange(a, auth(client), &second, &cb.code()?).await?;
    ensure!(
        tokens.status == StatusCode::OK,
        "code exchange at A: {tokens}"
    );
    let refresh = tokens.str("refresh_token")?.to_owned();

    // Refresh at B rotates; the spent token at A is re-use and ends the family.
    let refreshed = oauth::token_request(
        &b,
        auth(client),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await?;
    ensure!(
        refreshed.status == StatusCode::OK,
        "refresh at B: {refreshed}"
    );
    let next = refreshed.str("refresh_token")?.to_owned();
    let next_access = refreshed.str("access_token")?.to_owned();
    ensure!(
        is_active(a, &creds, &next_access).await?,
        "A sees the refreshed token"
    );
    let reuse = oauth::token_request(
        a,
        auth(client),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await?;
    ensure!(
        reuse.error() == Some("invalid_grant"),
        "re-use at A: {reuse}"
    );
    let after = oauth::token_request(
        &b,
        auth(client),
        &[("grant_type", "refresh_token"), ("refresh_token", &next)],
    )
    .await?;
    ensure!(
        after.error() == Some("invalid_grant"),
        "family revoked after re-use: {after}"
    );
    ensure!(
        !is_active(a, &creds, &next_access).await?,
        "family's access tokens revoked"
    );

    // Revocation at A is seen by introspection at B.
    let third = AuthRequest::new(client);
    let cb = flow::authorize_silently(&browser, &third.url(a)).await?;
    let tokens = oauth::exchange(&b, auth(client), &third, &cb.code()?).await?;
    let refresh = tokens.str("refresh_token")?.to_owned();
    let access = tokens.str("access_token")?.to_owned();
    ensure!(
        is_active(&b, &creds, &refresh).await?,
        "refresh token active at B"
    );
    let revoked = revoke(a, &creds, &refresh).await?;
    ensure!(
        revoked.status == StatusCode::OK,
        "revocation at A: {revoked}"
    );
    ensure!(
        !is_active(&b, &creds, &refresh).await?,
        "B sees the revocation"
    );
    ensure!(
        !is_active(&b, &creds, &access).await?,
        "and the family's access token"
    );

    // One code, redeemed at both replicas at once: exactly one wins.
    let fourth = AuthRequest::new(client);
    let cb = flow::authorize_silently(&browser, &fourth.url(&b)).await?;
    let code = cb.code()?;
    let (x, y) = tokio::join!(
        oauth::exchange(a, auth(client), &fourth, &code),
        oauth::exchange(&b, auth(client), &fourth, &code)
    );
    let answers = [x?, y?];
    let wins: Vec<&JsonAnswer> = answers
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    ensure!(
        wins.len() == 1,
        "a code must be usable once across replicas, got {} successes",
        wins.len()
    );
    let winner = wins[0];

    // Log out through A with the ID token as hint: B no longer knows the session, its tokens
    // or its refresh chain.
    let mut logout = a.url("/logout");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", winner.str("id_token")?);
    let page = browser.get(&logout).await?;
    ensure!(
        page.status.is_success() || page.status.is_redirection(),
        "logout at A: {page}"
    );
    let userinfo = oauth::userinfo(&b, winner.str("access_token")?).await?;
    ensure!(
        userinfo.status == StatusCode::UNAUTHORIZED,
        "token after logout at B: {userinfo}"
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", winner.str("refresh_token")?),
    ];
    let refresh = oauth::token_request(&b, auth(client), &form).await?;
    ensure!(
        refresh.error() == Some("invalid_grant"),
        "refresh after logout at B: {refresh}"
    );
    let fifth = AuthRequest::new(client);
    ensure!(
        flow::authorize_silently(&browser, &fifth.url(&b))
            .await
            .is_err(),
        "B must ask for a login again"
    );

    // Both replicas' audit chains verify together.
    let verify = a.cli(&["audit", "verify"], None).await?;
    ensure!(verify.success(), "audit verify: {verify:?}");
    Ok(())
}
