//! The back-channel logout worker that runs in every `tessera serve`. It holds no state of its
//! own: due notifications are claimed from the database outbox with a lease, so replicas share
//! the work, each notification is sent once, and a restart loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::Provider;
use tessera_core::logout::backchannel::{self, Attempt, BATCH};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::clock::now;

/// Starts the worker; `wake` is signalled when this replica queues notifications.
pub fn spawn(provider: Provider, wake: Arc<Notify>, owner: String) {
    tokio::spawn(run(provider, wake, owner));
}

async fn run(p: Provider, wake: Arc<Notify>, owner: String) {
    // Other replicas' and the command line's logouts are found by polling; at most every 5 s,
    // and as often as the retry base when that is shorter (tests).
    let poll = Duration::from_secs(p.config.backchannel_retry_base.clamp(1, 5) as u64);
    loop {
        let claimed = match backchannel::claim(&p, &owner, now()).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the back-channel logout outbox");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 >= BATCH;
        // Receivers are slow or down independently: one does not hold up the others.
        let mut calls = JoinSet::new();
        for entry in claimed {
            let (p, owner) = (p.clone(), owner.clone());
            calls.spawn(async move {
                match backchannel::deliver(&p, &entry, &owner, now()).await {
                    Ok(Attempt::Delivered { .. }) => {
                        tracing::info!(client = %entry.client_id, sid = %entry.sid, "back-channel logout delivered");
                    }
                    Ok(outcome) => {
                        tracing::warn!(client = %entry.client_id, sid = %entry.sid, ?outcome, "back-channel logout not delivered");
                    }
                    Err(e) => {
                        // The lease runs out and the entry is tried again.
                        tracing::error!(client = %entry.client_id, error = %e, "back-channel logout attempt failed");
                    }
                }
            });
        }
        while calls.join_next().await.is_some() {}
        if full {
            continue;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
