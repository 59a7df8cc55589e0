//! Group commit keeps single-use things single-use: 64 concurrent redemptions of one code and
//! 64 concurrent uses of one refresh token, spread over two replicas of one database, give
//! exactly one success each; the losers' re-use detection still revokes, and the audit log
//! written in shared batches still verifies.

use std::sync::Arc;

use anyhow::ensure;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::lifecycle::{self, Auth, is_active};
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth};
use tessera_e2e::{Backend, Browser, ServerOptions, flow};
use tokio::task::JoinSet;

scenarios!(sixty_four_concurrent_spends_give_one_success_each);

const RACERS: usize = 64;

async fn sixty_four_concurrent_spends_give_one_success_each(
    backend: Backend,
) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default()).await?;
    let b = Arc::new(fx.server.start_replica(ServerOptions::default()).await?);
    let fx = Arc::new(fx);
    let client = &fx.client;
    let secret = client.client_secret.clone().unwrap_or_default();
    let creds = Auth::basic(client)?;

    let browser = Browser::new()?;
    let request = AuthRequest::new(client);
    let cb = flow::browser_login(
        &browser,
        &fx.server,
        &request.url(&fx.server),
        USERNAME,
        PASSWORD,
    )
    .await?;
    let code = cb.code()?;
    let mut redemptions = JoinSet::new();
    for n in 0..RACERS {
        let (fx, b, request, code) = (fx.clone(), b.clone(), request.clone(), code.clone());
        let secret = secret.clone();
        redemptions.spawn(async move {
            let server = if n % 2 == 0 { &fx.server } else { &*b };
            let auth = ClientAuth::Basic(&fx.client.client_id, &secret);
            oauth::exchange(server, auth, &request, &code).await
        });
    }
    let mut winners = Vec::new();
    for a in redemptions.join_all().await {
        let a = a?;
        if a.status == StatusCode::OK {
            winners.push(a);
        } else {
            ensure!(a.error() == Some("invalid_grant"), "a loser: {a}");
        }
    }
    ensure!(
        winners.len() == 1,
        "{} redemptions succeeded",
        winners.len()
    );
    // The losers were replays: what the winner got is revoked, on both replicas.
    let access = winners[0].str("access_token")?;
    for s in [&fx.server, &*b] {
        ensure!(
            !is_active(s, &creds, access).await?,
            "a replayed code leaves its token active"
        );
    }

    // A fresh login (SSO) for a live refresh token, then 64 uses of it at once.
    let request = AuthRequest::new(client);
    let cb = flow::authorize_silently(&browser, &request.url(&b)).await?;
    let tokens = oauth::exchange(
        &b,
        ClientAuth::Basic(&client.client_id, &secret),
        &request,
        &cb.code()?,
    )
    .await?;
    ensure!(tokens.status == StatusCode::OK, "{tokens}");
    let refresh_token = tokens.str("refresh_token")?.to_owned();
    let mut uses = JoinSet::new();
    for n in 0..RACERS {
        let (fx, b, creds, token) = (fx.clone(), b.clone(), creds.clone(), refresh_token.clone());
        uses.spawn(async move {
            let server = if n % 2 == 0 { &fx.server } else { &*b };
            lifecycle::refresh(server, &creds, &token, None).await
        });
    }
    let mut successes = 0;
    for a in uses.join_all().await {
        let a = a?;
        if a.status == StatusCode::OK {
            successes += 1;
        } else {
            ensure!(a.error() == Some("invalid_grant"), "a loser: {a}");
        }
    }
    ensure!(successes == 1, "{successes} refreshes succeeded");

    let verified = fx.server.cli(&["audit", "verify"], None).await?;
    ensure!(
        verified.success(),
        "audit verify after the races: {verified}"
    );
    Ok(())
}
