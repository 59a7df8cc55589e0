//! The SOC feed (issue 16 §3): audit events reach a real syslog receiver (Debian's rsyslogd)
//! as RFC 5424 messages with Tessera's structured data, over TCP and over TLS with the SOC's
//! CA. Alerts arrive under their own names: a password guesser throttled, a refresh token
//! replayed, an audit log that fails verification. The receiver goes down and comes back:
//! everything recorded meanwhile arrives after its return and nothing is lost. Two replicas
//! forward from one database without sending the same entry twice. A receiver killed in the
//! middle of a stream of events misses none of them: what it may not have taken is resent.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, USERNAME};
use tessera_e2e::lifecycle::{self, Auth, ServiceClient};
use tessera_e2e::rsyslog::{self, Rsyslog};
use tessera_e2e::{Backend, Browser, ServerOptions, TestServer};

scenarios!(
    soc_feed_over_tcp_with_alerts_survives_an_outage,
    soc_feed_over_tls_from_two_replicas,
    soc_feed_loses_nothing_when_the_receiver_dies_mid_stream
);

/// The receiver, or `None` (skip) when rsyslog is not installed outside CI.
fn receiver(tls: bool) -> anyhow::Result<Option<Rsyslog>> {
    if !rsyslog::available(tls) {
        if std::env::var_os("CI").is_some() {
            bail!("rsyslog and rsyslog-gnutls are needed (see .ci/run)");
        }
        eprintln!("skipped: rsyslogd (with its gtls driver) is not installed");
        return Ok(None);
    }
    Rsyslog::start(tls).map(Some)
}

/// The value of `name="…"` in a message's structured data.
fn param<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let start = message.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

/// How often each `(chain, seq)` was received.
fn received(r: &Rsyslog) -> HashMap<(String, i64), usize> {
    let mut seen = HashMap::new();
    for m in r.messages() {
        if let (Some(chain), Some(seq)) = (param(&m, "chain"), param(&m, "seq"))
            && let Ok(seq) = seq.parse()
        {
            *seen.entry((chain.to_owned(), seq)).or_default() += 1;
        }
    }
    seen
}

/// Waits until every audit entry of the server's database has reached the receiver.
async fn all_delivered(s: &TestServer, r: &Rsyslog, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let expected: BTreeSet<(String, i64)> = s.audit_keys().await?.into_iter().collect();
        let got = received(r);
        let missing: Vec<_> = expected.iter().filter(|k| !got.contains_key(*k)).collect();
        if missing.is_empty() && !expected.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {} audit entries never reached the receiver, e.g. {:?}\nreceived:\n{}\n{}",
                missing.len(),
                expected.len(),
                missing.first(),
                r.messages().join("\n"),
                r.output()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first message of `event`, waiting for it.
async fn message_of(r: &Rsyslog, event: &str, within: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(m) = r
            .messages()
            .into_iter()
            .find(|m| param(m, "event") == Some(event))
        {
            return Ok(m);
        }
        if Instant::now() > deadline {
            bail!("no {event} message:\n{}", r.messages().join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Wrong passwords for `username` on the login page, `times` times.
async fn wrong_passwords(s: &TestServer, username: &str, times: usize) -> anyhow::Result<()> {
    let browser = Browser::new()?;
    for _ in 0..times {
        let login = browser.get(&s.url("/login")).await?;
        browser
            .submit_login(s, &login.login_form()?, username, "sai-mat-khau-1234")
            .await?;
    }
    Ok(())
}

async fn soc_feed_over_tcp_with_alerts_survives_an_outage(backend: Backend) -> anyhow::Result<()> {
    let Some(mut r) = receiver(false)? else {
        return Ok(());
    };
    let options = ServerOptions::default().env("TESSERA_SYSLOG_URL", &r.url());
    let fx = Fixture::start_with(backend, options).await?;
    let s = &fx.server;

    // A login, then a refresh token used twice: the second use is an alert.
    let browser = Browser::new()?;
    let (_, tokens) = crate::refresh::login_tokens(&fx, &browser, "openid").await?;
    let auth = Auth::basic(&fx.client)?;
    let r0 = tokens.str("refresh_token")?;
    let first = lifecycle::refresh(s, &auth, r0, None).await?;
    ensure!(first.status == StatusCode::OK, "{first}");
    let replay = lifecycle::refresh(s, &auth, r0, None).await?;
    ensure!(replay.status == StatusCode::BAD_REQUEST, "{replay}");
    // A password guesser: throttled after five failures, which is an alert.
    wrong_passwords(s, USERNAME, 7).await?;

    let login = message_of(&r, "login.success", Duration::from_secs(20)).await?;
    ensure!(
        login.starts_with("<110>1 ") && login.contains(" tessera - login.success [tessera@32473 "),
        "{login}"
    );
    ensure!(
        param(&login, "outcome") == Some("success")
            && param(&login, "actor") == Some(fx.user_id.as_str())
            && param(&login, "unit") == Some(fx.unit_id.as_str())
            && param(&login, "ip") == Some("127.0.0.1")
            && param(&login, "hash").is_some_and(|h| h.len() == 64)
            && login.contains("] \u{feff}{"),
        "{login}"
    );
    let code = message_of(&r, "code.issued", Duration::from_secs(20)).await?;
    ensure!(param(&code, "client") == Some("vanban"), "{code}");
    let reuse = message_of(&r, "alert.refresh_token_reuse", Duration::from_secs(20)).await?;
    ensure!(
        reuse.starts_with("<106>1 ") && reuse.contains("\"cause\":\"refresh.reused\""),
        "{reuse}"
    );
    let brute = message_of(&r, "alert.brute_force", Duration::from_secs(20)).await?;
    ensure!(brute.contains("\"cause\":\"login.throttled\""), "{brute}");

    // The receiver goes down; meanwhile more failures, and an audit log found broken.
    r.stop();
    wrong_passwords(s, "khong.ton.tai", 3).await?;
    s.tamper_audit("login.success").await?;
    let verify = s.cli(&["audit", "verify"], None).await?;
    ensure!(!verify.success(), "a tampered log verified: {verify}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        !r.messages()
            .iter()
            .any(|m| param(m, "event") == Some("alert.audit_verification_failed")),
        "received while down?"
    );
    r.resume()?;
    all_delivered(s, &r, Duration::from_secs(40)).await?;
    let broken = message_of(&r, "alert.audit_verification_failed", Duration::ZERO).await?;
    ensure!(broken.starts_with("<105>1 "), "{broken}");
    Ok(())
}

async fn soc_feed_over_tls_from_two_replicas(backend: Backend) -> anyhow::Result<()> {
    let Some(r) = receiver(true)? else {
        return Ok(());
    };
    let options = ServerOptions::default()
        .env("TESSERA_SYSLOG_URL", &r.url())
        .env("TESSERA_SYSLOG_CA", &r.ca().display().to_string());
    let fx = Fixture::start_with(backend, options.clone()).await?;
    // On PostgreSQL a second replica forwards too (the lease keeps them from both sending).
    let replica = match backend {
        Backend::Postgres => Some(fx.server.start_replica(options).await?),
        Backend::Sqlite => None,
    };
    let browser = Browser::new()?;
    crate::refresh::login_tokens(&fx, &browser, "openid").await?;
    wrong_passwords(replica.as_ref().unwrap_or(&fx.server), "khong.ton.tai", 2).await?;
    all_delivered(&fx.server, &r, Duration::from_secs(40)).await?;
    let twice: Vec<_> = received(&r).into_iter().filter(|(_, n)| *n > 1).collect();
    ensure!(twice.is_empty(), "sent twice: {twice:?}");
    Ok(())
}

/// Token requests in a steady stream (each one an audit entry) while the receiver is killed
/// (SIGKILL, whatever it held unread is gone) and started again: every entry arrives.
async fn soc_feed_loses_nothing_when_the_receiver_dies_mid_stream(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(mut r) = receiver(false)? else {
        return Ok(());
    };
    let options = ServerOptions::default().env("TESSERA_SYSLOG_URL", &r.url());
    let s = TestServer::start_with(backend, options).await?;
    let lgsp = ServiceClient::new("lgsp", "Nền tảng tích hợp LGSP", "lgsp.read")
        .register(&s)
        .await?;
    let auth = Auth::basic(&lgsp)?;
    let s = std::sync::Arc::new(s);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = {
        let (s, auth, stop) = (s.clone(), auth.clone(), stop.clone());
        tokio::spawn(async move {
            let mut issued = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let a = lifecycle::client_credentials(&s, &auth, None).await?;
                ensure!(a.status == StatusCode::OK, "{a}");
                issued += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::Ok(issued)
        })
    };
    // The feed is flowing…
    let deadline = Instant::now() + Duration::from_secs(20);
    while received(&r).len() < 20 {
        ensure!(
            Instant::now() < deadline,
            "nothing received: {}",
            r.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // …when the receiver dies, and comes back a little later.
    r.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.resume()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let issued = stream.await??;
    ensure!(issued > 50, "only {issued} tokens issued");
    all_delivered(&s, &r, Duration::from_secs(40)).await?;
    Ok(())
}
