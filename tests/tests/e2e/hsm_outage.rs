//! An HSM outage under load, the way it was found: SoftHSM2's token directory moved aside for
//! 3 s and put back while clients keep asking for tokens. Every answer must be a success or a
//! clean `503 temporarily_unavailable` with `Retry-After`, and tokens must be issued again
//! within 5 s of the token's return, by the same server process. People on pages that need
//! the HSM (an administrator issuing a certificate) get a clear "try again shortly" page.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::console::ConsoleSession;
use tessera_e2e::fixture::Fixture;
use tessera_e2e::lifecycle::{self, Auth, ServiceClient};
use tessera_e2e::{Backend, NewUser, TempDir, TestServer, oauth, run_tessera};

use crate::hsm::{hsm_env, hsm_options};
use crate::operations::{sample, scrape};

scenarios!(hsm_outage_heals_under_load, hsm_outage_pages_ask_to_retry);

/// Concurrent clients asking for tokens.
const WORKERS: usize = 4;

/// One answer: when it came, its status, its error code and whether it had `Retry-After`.
#[derive(Debug)]
struct Seen {
    at: Instant,
    status: StatusCode,
    error: Option<String>,
    retry_after: bool,
}

async fn load(server: Arc<TestServer>, auth: Auth, stop: Arc<AtomicBool>) -> Vec<Seen> {
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match lifecycle::client_credentials(&server, &auth, None).await {
            Ok(a) => seen.push(Seen {
                at: Instant::now(),
                status: a.status,
                error: a.error().map(str::to_owned),
                retry_after: a.header("retry-after").is_some(),
            }),
            // A dropped connection is an unclean answer too.
            Err(e) => seen.push(Seen {
                at: Instant::now(),
                status: StatusCode::IM_A_TEAPOT,
                error: Some(format!("no answer: {e:#}")),
                retry_after: false,
            }),
        }
    }
    seen
}

async fn hsm_outage_heals_under_load(backend: Backend) -> anyhow::Result<()> {
    let pin_dir = TempDir::new("tessera-e2e-pin")?;
    let Some((token, env)) = hsm_env("hsm_outage_heals_under_load", &pin_dir)? else {
        return Ok(());
    };
    let options = hsm_options(&env).env("TESSERA_METRICS_ADDR", "127.0.0.1:0");
    let fx = Fixture::start_with(backend, options).await?;
    let lgsp = ServiceClient::new("lgsp", "Nền tảng tích hợp LGSP", "lgsp.read")
        .register(&fx.server)
        .await?;
    let auth = Auth::basic(&lgsp)?;
    let first = lifecycle::client_credentials(&fx.server, &auth, None).await?;
    ensure!(first.status == StatusCode::OK, "before the outage: {first}");
    let server = Arc::new(fx.server);

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(load(server.clone(), auth.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tokens = token.dir.join("tokens");
    let aside = token.dir.join("tokens.aside");
    std::fs::rename(&tokens, &aside).context("moving the token directory aside")?;
    let gone = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A load balancer is told to send traffic elsewhere.
    let ready = oauth::get_json(&server, "/health/ready").await?;
    ensure!(
        ready.status == StatusCode::SERVICE_UNAVAILABLE && ready.json["checks"]["hsm"] == "failing",
        "ready during the outage: {ready}"
    );
    ensure!(ready.json["checks"]["database"] == "ok", "{ready}");
    let down = scrape(&server).await?;
    ensure!(sample(&down, "tessera_hsm_up") == Some(0.0), "{down}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::rename(&aside, &tokens).context("putting the token directory back")?;
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for w in workers {
        seen.extend(w.await?);
    }
    seen.sort_by_key(|s| s.at);

    let unclean: Vec<&Seen> = seen
        .iter()
        .filter(|s| {
            s.status != StatusCode::OK
                && !(s.status == StatusCode::SERVICE_UNAVAILABLE
                    && s.error.as_deref() == Some("temporarily_unavailable")
                    && s.retry_after)
        })
        .collect();
    ensure!(unclean.is_empty(), "unclean answers: {unclean:?}");
    let refused = seen
        .iter()
        .filter(|s| s.status == StatusCode::SERVICE_UNAVAILABLE && s.at > gone)
        .count();
    ensure!(
        refused > 0,
        "the outage was not noticed: {} answers",
        seen.len()
    );
    let healed = seen
        .iter()
        .find(|s| s.at > back && s.status == StatusCode::OK)
        .map(|s| s.at - back)
        .context("no token was issued after the HSM came back")?;
    let late: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.at > back + Duration::from_secs(5) && s.status != StatusCode::OK)
        .collect();
    ensure!(
        late.is_empty(),
        "still failing 5 s after the return: {late:?}"
    );
    ensure!(
        seen.iter()
            .filter(|s| s.at > back + Duration::from_secs(5))
            .count()
            > 0,
        "no requests were made after the return"
    );
    let output = server.output();
    ensure!(
        !output.contains("panicked"),
        "the server panicked: {output}"
    );
    eprintln!(
        "{} answers, {refused} refused during the outage, healed {healed:?} after the return",
        seen.len()
    );
    // The same process serves on, ready again, each recovery step counted (logging in again
    // is skipped: the new session's failure already called for re-initialising).
    let after = lifecycle::client_credentials(&server, &auth, None).await?;
    ensure!(after.status == StatusCode::OK, "{after}");
    let ready = oauth::get_json(&server, "/health/ready").await?;
    ensure!(
        ready.status == StatusCode::OK,
        "ready after the outage: {ready}"
    );
    let text = scrape(&server).await?;
    ensure!(sample(&text, "tessera_hsm_up") == Some(1.0), "{text}");
    for step in ["find_key", "new_session", "reinitialize"] {
        let prefix = format!("tessera_hsm_recoveries_total{{step=\"{step}\"}}");
        ensure!(
            sample(&text, &prefix).is_some_and(|n| n >= 1.0),
            "{prefix} not counted:\n{text}"
        );
    }
    for prefix in [
        "tessera_hsm_operation_duration_seconds_count{mechanism=\"CKM_ECDSA\"}",
        "tessera_hsm_operation_failures_total{mechanism=\"CKM_ECDSA\"}",
        "tessera_hsm_sessions_open",
        "tessera_signatures_total{purpose=\"oidc\",backend=\"pkcs11\"}",
        "tessera_signature_failures_total{purpose=\"oidc\",backend=\"pkcs11\"}",
    ] {
        ensure!(
            sample(&text, prefix).is_some_and(|n| n >= 1.0),
            "{prefix} missing:\n{text}"
        );
    }
    // One alert for the SOC per run of failures, not one per refused request.
    let alerts = server.audit("alert.hsm_failure").await?;
    ensure!(
        !alerts.is_empty() && alerts.len() <= 3 && alerts[0].detail["error"].is_string(),
        "{alerts:?}"
    );
    Ok(())
}

/// An administrator issues a certificate in the console (its key is generated in the HSM)
/// while the token is away: a `503` page saying the signing service is briefly interrupted,
/// with `Retry-After`, in Vietnamese and in English; the same form works once it is back.
async fn hsm_outage_pages_ask_to_retry(backend: Backend) -> anyhow::Result<()> {
    let pin_dir = TempDir::new("tessera-e2e-pin")?;
    let Some((token, env)) = hsm_env("hsm_outage_pages_ask_to_retry", &pin_dir)? else {
        return Ok(());
    };
    let s = TestServer::start_with(backend, hsm_options(&env)).await?;
    // The CA's keys in the same HSM, made by the key ceremony's command.
    let data_dir = s.data_dir().display().to_string();
    let mut cli_env: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let db = s.database_url();
    if backend == Backend::Postgres {
        cli_env.push(("TESSERA_DATABASE_URL", &db));
    }
    let ca = run_tessera(
        &[
            "ca",
            "init",
            "--base-url",
            s.issuer(),
            "--data-dir",
            &data_dir,
        ],
        &cli_env,
        None,
    )
    .await?;
    ensure!(ca.success(), "ca init: {ca}");
    let unit = s.add_unit("Sở Nội vụ", None).await?;
    for name in ["nv.admin", "nv.canbo"] {
        let mut u = NewUser::new(
            name,
            &format!("Cán bộ {name}"),
            &format!("mat-khau-cua-{name}"),
        );
        u.unit = Some(unit.clone());
        s.add_user(&u).await?;
    }
    s.grant("nv.admin", "cert_admin", &unit).await?;
    let admin = ConsoleSession::sign_in(&s, "nv.admin", "mat-khau-cua-nv.admin").await?;
    let issue = [
        ("username", "nv.canbo"),
        ("title", "Chuyên viên"),
        ("alg", "P-256"),
    ];

    let tokens = token.dir.join("tokens");
    let aside = token.dir.join("tokens.aside");
    std::fs::rename(&tokens, &aside).context("moving the token directory aside")?;
    let down = admin
        .post(&s, "/admin/credentials", "/admin/credentials", &issue)
        .await?;
    ensure!(
        down.status == StatusCode::SERVICE_UNAVAILABLE
            && down.headers.get("retry-after").is_some()
            && down.body.contains("Dịch vụ ký số tạm thời gián đoạn")
            && down.body.contains("temporarily_unavailable"),
        "issuing during the outage: {down}"
    );
    let english = admin
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials?lang=en",
            &issue,
        )
        .await?;
    ensure!(
        english.status == StatusCode::SERVICE_UNAVAILABLE
            && english
                .body
                .contains("The signing service is temporarily unavailable"),
        "in English: {english}"
    );
    std::fs::rename(&aside, &tokens).context("putting the token directory back")?;
    let back = Instant::now();
    loop {
        let again = admin
            .post(&s, "/admin/credentials", "/admin/credentials", &issue)
            .await?;
        if again.status == StatusCode::SEE_OTHER {
            break;
        }
        ensure!(
            again.status == StatusCode::SERVICE_UNAVAILABLE
                && back.elapsed() < Duration::from_secs(5),
            "after the return: {again}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let output = s.output();
    ensure!(
        !output.contains("panicked"),
        "the server panicked: {output}"
    );
    Ok(())
}
