//! The worker delivering signing-request webhooks in every `tessera serve`, like the
//! back-channel logout worker: due rows are claimed from the database with a lease, so replicas
//! share the work and a restart loses nothing. It wakes as soon as a webhook is queued — in
//! this process, or on PostgreSQL in any replica (LISTEN/NOTIFY) — and polls otherwise.

use std::time::Duration;

use tessera_core::Provider;
use tessera_core::logout::backchannel::{Attempt, BATCH};
use tessera_core::signing::remote::webhook;
use tokio::task::JoinSet;

use crate::clock::now;

pub fn spawn(provider: Provider, owner: String) {
    tokio::spawn(run(provider, owner));
}

async fn run(p: Provider, owner: String) {
    webhook::listen(&p);
    // Retries fall due and SQLite replicas queue webhooks unannounced: found by polling, at
    // most every 5 s and as often as the retry base when that is shorter (tests).
    let poll = Duration::from_secs(p.config.backchannel_retry_base.clamp(1, 5) as u64);
    loop {
        let claimed = match webhook::claim(&p, &owner, now()).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the signing webhooks");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 >= BATCH;
        // One slow receiver does not hold up the others.
        let mut calls = JoinSet::new();
        for entry in claimed {
            let (p, owner) = (p.clone(), owner.clone());
            calls.spawn(async move {
                match webhook::deliver(&p, &entry, &owner, now()).await {
                    Ok(Attempt::Delivered { .. }) => {
                        tracing::info!(client = %entry.client_id, request = %entry.request_id, status = %entry.status, "signing webhook delivered");
                    }
                    Ok(outcome) => {
                        tracing::warn!(client = %entry.client_id, request = %entry.request_id, ?outcome, "signing webhook not delivered");
                    }
                    Err(e) => {
                        // The lease runs out and the webhook is tried again.
                        tracing::error!(client = %entry.client_id, error = %e, "signing webhook attempt failed");
                    }
                }
            });
        }
        while calls.join_next().await.is_some() {}
        if !full {
            webhook::queued(&p, poll).await;
        }
    }
}
