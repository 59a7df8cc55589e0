//! Wake-ups for the signing-webhook worker. The rows stay the truth (the outbox in the
//! database); a wake-up only says "look now" instead of at the next poll. Within a process a
//! [`Notify`] carries it; on PostgreSQL a `NOTIFY` on [`CHANNEL`] carries it to the workers of
//! every replica. A lost wake-up (a listener reconnecting) costs one poll interval, nothing more.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::{Backend, Result, Store};

/// The PostgreSQL channel announcing that a signing webhook was queued.
pub const CHANNEL: &str = "tessera_signing_webhooks";

/// The process's wake-up, and where a listener can connect on PostgreSQL.
pub(crate) struct Wakeup {
    notify: Arc<Notify>,
    /// The database URL, for the listener's own connection (PostgreSQL only).
    listen_url: Option<String>,
}

impl std::fmt::Debug for Wakeup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wakeup")
            .field("listen_url", &self.listen_url.as_deref().map(crate::redact))
            .finish()
    }
}

impl Wakeup {
    pub(crate) fn new(backend: Backend, url: &str) -> Wakeup {
        Wakeup {
            notify: Arc::new(Notify::new()),
            listen_url: (backend == Backend::Postgres).then(|| url.to_owned()),
        }
    }
}

impl Store {
    /// Says that a signing webhook was queued: to this process's worker at once, and on
    /// PostgreSQL to every replica's (the notification is sent when the insert is visible).
    /// A failure is only logged: the webhook is queued, and the poll finds it.
    pub(crate) async fn wake_signing_webhooks(&self) {
        self.wakeup.notify.notify_one();
        if self.backend == Backend::Postgres
            && let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(self.pool())
                .await
        {
            tracing::warn!(error = %e, "cannot announce a signing webhook to the other replicas");
        }
    }

    /// Waits until a signing webhook is queued (here, or on PostgreSQL on any replica once
    /// [`listen_signing_webhooks`](Self::listen_signing_webhooks) runs), or `timeout` passes.
    /// A wake-up given while nobody waited is kept for the next wait.
    pub async fn signing_webhook_queued(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wakeup.notify.notified()).await;
    }

    /// On PostgreSQL, listens for other replicas' wake-ups on its own connection, in the
    /// background, reconnecting after failures; nothing to do on SQLite (a single host's
    /// replicas share the file and poll it).
    pub fn listen_signing_webhooks(&self) {
        let Some(url) = self.wakeup.listen_url.clone() else {
            return;
        };
        let notify = self.wakeup.notify.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen(&url, &notify).await {
                    tracing::warn!(error = %e, "signing webhook wake-ups: listener failed; polling meanwhile");
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }
}

async fn listen(url: &str, notify: &Notify) -> Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    loop {
        listener.recv().await?;
        notify.notify_one();
    }
}
