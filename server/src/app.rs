//! Wiring: opens the store and key custody, builds the provider, and serves HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_core::housekeeping;
use tessera_core::jose::TokenSigner;
use tessera_core::mfa::relying_party::Passkeys;
use tessera_core::provider::check_master_key;
use tessera_core::secrets::{Keyed, random_id};
use tessera_core::{Config, Provider};
use tessera_hsm::MasterKey;
use tessera_store::Store;
use tessera_store::audit::AuditLog;
use tokio::net::TcpListener;

use crate::clock::now;
use crate::http::{self, AppState};
use crate::outbound::GuardedOutbound;
use crate::settings::{ServeSettings, Settings};

fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    let dir = &settings.data_dir;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict data directory {}", dir.display()))?;
        }
    }
    Ok(())
}

pub(crate) fn master_key(settings: &Settings) -> anyhow::Result<MasterKey> {
    match &settings.master_key {
        Some(b64) => MasterKey::from_base64(b64).context(
            "TESSERA_MASTER_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)",
        ),
        None => {
            let path = settings.data_dir.join("master.key");
            MasterKey::load_or_create(&path).context("cannot load or create the master key file")
        }
    }
}

/// Opens the database (running migrations) and everything a command needs.
pub async fn open(settings: &Settings, issuer: &str, writer: &str) -> anyhow::Result<Provider> {
    prepare_data_dir(settings)?;
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                tessera_store::redact(&settings.database_url)
            )
        })?;
    store.migrate().await.context("database migration failed")?;
    let master = master_key(settings)?;
    check_master_key(&store, &master).await?;
    let custody = crate::custody::custody(settings, &master)?;
    let mut config = Config::new(issuer);
    config.code_ttl = settings.code_ttl_secs;
    config.access_token_ttl = settings.access_token_ttl_secs;
    config.id_token_ttl = settings.access_token_ttl_secs;
    config.session_ttl = settings.session_ttl_secs;
    config.backchannel_retry_base = settings.backchannel_retry_base_secs;
    config.pki.organization = settings.pki.organization.clone();
    config.pki.cert_validity_days = settings.pki.cert_validity_days;
    config.pki.policies = settings.pki.policies.clone();
    config.pki.crl_validity_secs = settings.pki.crl_validity_secs;
    config.pki.crl_reissue_secs = settings.pki.crl_reissue_secs;
    config.pki.expiry_notice_days = settings.pki.expiry_notice_days;
    config.pki.tsa_url = settings.pki.tsa_url.clone();
    config.pki.tsa_policy = settings.pki.tsa_policy.clone();
    config.signing = settings.signing.remote_config(custody.parallelism());
    let keyed = Keyed::new(&master);
    let audit = AuditLog::start(
        store.clone(),
        keyed.audit_key(),
        writer,
        now(),
        random_id()?,
    )
    .await?;
    let mut passkeys = Passkeys::new(issuer)?;
    if let Some(path) = &settings.webauthn_allowed_authenticators {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the authenticator allow-list {}",
                path.display()
            )
        })?;
        passkeys = passkeys.with_allow_list(&text)?;
    }
    Ok(Provider::new(
        config,
        store.clone(),
        TokenSigner::new(store, custody),
        keyed,
        audit,
        Arc::new(GuardedOutbound::new(settings.outbound.clone())),
        passkeys,
    ))
}

fn writer_name(role: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{role}@{host}:{}", std::process::id())
}

pub fn cli_writer() -> String {
    writer_name("cli")
}

/// Records `alert.hsm_failure` for each run of failed key operations the custodian announces.
async fn hsm_alerts(p: Provider, mut failures: tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tessera_core::alerts::{Alert, raise_bare};
    while let Some(error) = failures.recv().await {
        let detail = serde_json::json!({ "error": error });
        if let Err(e) = raise_bare(&p, Alert::HsmFailure, "system", now(), detail).await {
            tracing::warn!(error = %e, "cannot record the HSM failure alert");
        }
    }
}

/// `tessera serve`.
pub async fn serve(settings: Settings, serve: ServeSettings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(serve.listen)
        .await
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let bound = listener.local_addr()?;
    let issuer = serve
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    // Metrics first, so that what opening records (the HSM's state) is seen.
    let metrics = match serve.metrics_addr {
        Some(addr) => Some((
            crate::metrics::bind(addr).await?,
            crate::metrics::install()?,
        )),
        None => None,
    };
    let hsm_failures = crate::custody::watch_failures();
    let mut provider = open(&settings, &issuer, &writer_name("serve")).await?;
    if let Some((listener, handle)) = metrics {
        let addr = listener.local_addr()?;
        provider.observer = Some(crate::metrics::observer());
        crate::metrics::serve(listener, handle, provider.clone());
        println!("Tessera metrics on http://{addr}/metrics");
    }
    if !provider.signer.custody().is_hardware() {
        tracing::warn!(
            "token-signing keys are held by the SOFTWARE TOKEN (encrypted at rest under the master key); \
             this is not for production — configure an HSM"
        );
    }
    provider.signer.ensure_keys(now()).await?;
    tessera_core::login::warm_up();
    tokio::spawn(hsm_alerts(provider.clone(), hsm_failures));
    let feed_owner = format!("{}/{}", writer_name("serve"), random_id()?);
    let forwarder = serve.syslog.as_ref().map(|syslog| {
        tracing::info!(receiver = %syslog.url, "forwarding audit events to the SOC");
        crate::syslog::spawn(provider.clone(), syslog.clone(), feed_owner.clone())
    });
    if let Some(ldap) = &settings.ldap {
        if ldap.password_login {
            provider.directory = Some(Arc::new(crate::ldap_sync::LdapPasswords(ldap.clone())));
        }
        if let Some(interval) = ldap.sync_interval_secs {
            let owner = format!("{}/{}", writer_name("serve"), random_id()?);
            crate::ldap_sync::spawn_schedule(provider.clone(), ldap.clone(), interval, owner);
            tracing::info!(directory = %ldap.url, interval, "synchronising people with the directory");
        }
    }
    let feed_provider = provider.clone();
    tokio::spawn(housekeeping(provider.clone()));
    tokio::spawn(pki_housekeeping(provider.clone()));
    if let Some(days) = settings.key_rotation_days {
        tokio::spawn(scheduled_rotation(provider.clone(), days * 86_400));
    }

    let first_run = tessera_core::admin::no_users_yet(&provider).await?;
    let worker_provider = provider.clone();
    let mut state = AppState::new(provider, settings.trust_forwarded_for);
    state.instance = format!("{}/{}", writer_name("serve"), random_id()?).into();
    crate::backchannel::spawn(
        worker_provider.clone(),
        state.outbox_wake.clone(),
        state.instance.to_string(),
    );
    crate::signing_webhooks::spawn(
        worker_provider,
        format!("{}/{}", writer_name("serve"), random_id()?),
    );
    let draining = state.draining.clone();
    let app = http::router(state);
    println!(
        "Tessera is listening on http://{bound} (issuer {issuer}); open {issuer}/login in a browser"
    );
    if first_run {
        println!(
            "No users yet. From another terminal, create one and a client application, e.g.:\n  \
             echo 'a-long-password' | tessera user add --username an.nv --name 'Nguyễn Văn An' --password-stdin\n  \
             tessera client add --id vanban --name 'Quản lý văn bản' --redirect-uri https://vanban.example.gov.vn/callback"
        );
    }
    tracing::info!(%bound, %issuer, backend = if settings.uses_sqlite() { "sqlite" } else { "postgres" }, "serving");
    // On SIGTERM: readiness turns 503 at once while requests are still taken for the drain
    // period (the load balancer needs a health check or two to notice); then stop accepting,
    // let the requests in flight finish (each has committed its audit entries before it
    // answers; outbox entries live in the database and are delivered by the other replicas or
    // after a restart), and exit within SHUTDOWN_GRACE in any case.
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let drain = serve.shutdown_drain;
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(
                secs = drain.as_secs(),
                "not ready any more; still serving while the load balancer moves traffic away"
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("no longer accepting connections; finishing requests in flight");
        let _ = stopping.send(Instant::now());
    });
    let deadline = async move {
        match stopped.await {
            Ok(since) => tokio::time::sleep_until((since + SHUTDOWN_GRACE).into()).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = server => served?,
        () = deadline => tracing::warn!(
            "requests still running {} s after the shutdown signal; exiting anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    if let Some(forwarder) = forwarder {
        // What the last requests audited goes out, and what was sent is confirmed; then
        // another replica takes the feed over at once rather than when the lease runs out.
        forwarder.stop(FEED_FLUSH).await;
        let _ = tessera_core::soc_feed::release(&feed_provider, &feed_owner).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long requests in flight may take to finish after SIGTERM (orchestrators commonly kill
/// at 10 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(9);

/// How long the SOC feed may take to send and confirm what is pending at shutdown.
const FEED_FLUSH: Duration = Duration::from_secs(3);

async fn housekeeping(p: Provider) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = housekeeping::purge_expired(&p, now()).await {
            tracing::warn!(error = %e, "housekeeping failed");
        }
        if let Err(e) = housekeeping::purge_strong_auth(&p, now()).await {
            tracing::warn!(error = %e, "sign-in housekeeping failed");
        }
        if let Err(e) = housekeeping::purge_outbox(&p, now()).await {
            tracing::warn!(error = %e, "outbox housekeeping failed");
        }
    }
}

/// CRLs due for reissue, expired credentials, expiry notices, stale OCSP answers, and signing
/// requests that expired or are past retention. Every replica checks each
/// minute; the database lets one of them publish each CRL number and give each notice.
async fn pki_housekeeping(p: Provider) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = tessera_core::pki::crl::reissue_due_crls(&p, now()).await {
            tracing::warn!(error = %e, "scheduled CRL reissue failed");
        }
        if let Err(e) = tessera_core::pki::credential::expiry_housekeeping(&p, now()).await {
            tracing::warn!(error = %e, "certificate expiry housekeeping failed");
        }
        if let Err(e) = tessera_core::pki::ocsp::renew_responders(&p, now()).await {
            tracing::warn!(error = %e, "OCSP responder renewal failed");
        }
        if let Err(e) = tessera_core::signing::tsa::renew_unit(&p, now()).await {
            tracing::warn!(error = %e, "time-stamping unit renewal failed");
        }
        if let Err(e) = housekeeping::purge_ocsp_cache(&p, now()).await {
            tracing::warn!(error = %e, "OCSP cache housekeeping failed");
        }
        // Undecided signing requests expire within a minute of their time (and notify).
        if let Err(e) = tessera_core::signing::remote::lifecycle::housekeeping(&p, now()).await {
            tracing::warn!(error = %e, "signing-request housekeeping failed");
        }
    }
}

/// Every replica checks hourly; the database lets only one of them rotate each key.
async fn scheduled_rotation(p: Provider, max_age: i64) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = p
            .signer
            .rotate_if_older(max_age, p.config.key_retention(), now())
            .await
        {
            tracing::warn!(error = %e, "scheduled key rotation failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// A provider on a fresh SQLite database in a new directory under the temporary one (named
/// `prefix-<random>`), for the HTTP layer's unit tests; the caller removes the directory.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) async fn test_provider(prefix: &str) -> (Provider, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}",
        tessera_core::secrets::random_id().unwrap()
    ));
    let settings = crate::settings::Settings::resolve(
        Some(dir.clone()),
        None,
        &crate::settings::FileSettings::default(),
    )
    .unwrap();
    let provider = open(&settings, "http://127.0.0.1:1", "test").await.unwrap();
    (provider, dir)
}
