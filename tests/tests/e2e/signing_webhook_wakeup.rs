//! Signing webhooks leave as soon as a request's state changes, not at the worker's next
//! poll. The worker polls every 5 s here (`TESSERA_BACKCHANNEL_RETRY_BASE_SECS=5`); right
//! after a delivery its next poll is 5 s away, so a request cancelled then would wait about
//! that long for its webhook without a wake-up. With one it arrives well under two seconds,
//! three times in a row. On PostgreSQL, a webhook queued by another process (the test,
//! through the same store code a replica runs) wakes this server's worker by LISTEN/NOTIFY.

use std::time::{Duration, Instant};

use anyhow::ensure;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use tessera_e2e::admin::login_token;
use tessera_e2e::{Backend, ServerOptions};

use crate::signing_requests::{PASSWORD, REQUESTS, call, request, world_with};

scenarios!(signing_webhook_leaves_without_waiting_for_the_poll);

/// The worker's poll interval in this test, in seconds.
const POLL: &str = "5";
/// Well under the poll interval (a wake-up takes milliseconds; the margin is for a loaded CI).
const PROMPT: Duration = Duration::from_secs(2);

#[allow(clippy::disallowed_methods)]
fn unix_now() -> anyhow::Result<i64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64)
}

async fn signing_webhook_leaves_without_waiting_for_the_poll(
    backend: Backend,
) -> anyhow::Result<()> {
    let w = world_with(
        backend,
        ServerOptions::default().env("TESSERA_BACKCHANNEL_RETRY_BASE_SECS", POLL),
    )
    .await?;
    let s = &w.s;
    let own = login_token(s, &w.vanban, "openid sign", "an.nv", PASSWORD).await?;
    let hook = w.hooks.url("/hooks/signing");
    let submit = |n: usize| {
        let body = request(
            json!([{
                "name": format!("h{n}"),
                "hash": STANDARD.encode([n as u8; 32]),
                "hash_alg": "sha256",
            }]),
            None,
            Some(&hook),
        );
        let own = own.clone();
        async move {
            let a = call(s, reqwest::Method::POST, REQUESTS, Some(&own), Some(&body)).await?;
            ensure!(a.status == StatusCode::CREATED, "{a}");
            Ok::<_, anyhow::Error>(a.str("id")?.to_owned())
        }
    };

    for round in 1..=3 {
        let id = submit(round).await?;
        let started = Instant::now();
        let a = call(
            s,
            reqwest::Method::POST,
            &format!("{REQUESTS}/{id}/cancel"),
            Some(&own),
            None,
        )
        .await?;
        ensure!(a.status == StatusCode::OK, "{a}");
        w.hooks.wait_for(round, Duration::from_secs(20)).await?;
        let took = started.elapsed();
        ensure!(
            took < PROMPT,
            "round {round}: the webhook took {took:?}; the poll is every {POLL} s"
        );
    }

    if backend == Backend::Postgres {
        let id = submit(4).await?;
        let store = tessera_store::Store::connect(&s.database_url()).await?;
        let now = unix_now()?;
        let started = Instant::now();
        ensure!(
            store
                .enqueue_signing_webhook(&id, "expired", "vanban", &hook, now, now + 3600)
                .await?,
            "not queued"
        );
        w.hooks.wait_for(4, Duration::from_secs(20)).await?;
        let took = started.elapsed();
        store.close().await;
        ensure!(
            took < PROMPT,
            "a webhook queued by another process took {took:?}; the poll is every {POLL} s"
        );
    }
    Ok(())
}
