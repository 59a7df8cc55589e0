//! Token-endpoint benchmark: client-credentials grants, refresh grants and introspections per
//! second over real HTTP on loopback against the real `tessera` binary held to one core, with
//! p50/p99 latency; plus idle resident memory and time from `tessera serve` to ready.
//!
//! cargo build --release --bin tessera --bin bench-tokens
//! TESSERA_BIN=target/release/tessera taskset -c 1 target/release/bench-tokens [--postgres]
//!
//! The server is started under `taskset -c 0` (core 0); run this program on the other core.

#[path = "load.rs"]
mod load;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use clap::Parser;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::oauth::{AuthRequest, ClientAuth, exchange};
use tessera_e2e::{Backend, Browser, ServerOptions, TempDir, flow, tessera_bin};

#[derive(Debug, Parser)]
#[command(about = "Token-endpoint throughput of a real tessera server held to one core")]
struct Args {
    /// Run against PostgreSQL (needs TESSERA_TEST_DATABASE_URL); SQLite otherwise
    #[arg(long)]
    postgres: bool,
    /// Seconds per measured phase
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests in flight at once
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// CPU the server is pinned to (the load generator should run on another)
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(run(&args))
}

/// A wrapper that starts the real binary under `taskset`, so the harness pins the server.
fn pinned_binary(cpu: usize) -> anyhow::Result<(TempDir, std::path::PathBuf)> {
    let real = tessera_bin()?;
    let dir = TempDir::new("tessera-bench")?;
    let script = dir.path().join("tessera");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec taskset -c {cpu} {} \"$@\"\n",
            real.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok((dir, script))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

/// The wrapper `exec`s, so the child's pid is the server's own.
async fn run(args: &Args) -> anyhow::Result<()> {
    let backend = Backend::chosen(args.postgres)?;
    let (_wrapper_dir, wrapper) = pinned_binary(args.server_cpu)?;
    let options = ServerOptions::default().program(wrapper);
    let started = Instant::now();
    let fx = Fixture::start_with(backend, options.clone()).await?;
    let first_start = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(fx.server.pid())?;

    fx.server.register_scope("lgsp.read").await?;
    let registered = fx
        .server
        .cli_ok(
            &[
                "client",
                "add",
                "--id",
                "lgsp-gateway",
                "--name",
                "Nền tảng tích hợp LGSP",
                "--grant-type",
                "client_credentials",
                "--scopes",
                "lgsp.read",
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    let restart = Instant::now();
    let replica = fx.server.start_replica(options.clone()).await?;
    let ready = restart.elapsed();
    drop(replica);

    println!(
        "backend {backend:?}; server pinned to CPU {}; {} requests in flight",
        args.server_cpu, args.concurrency
    );
    println!(
        "start to ready: {:.0} ms on a new database (generates ES256 + RSA-2048 keys), {:.0} ms for a further replica",
        first_start.as_secs_f64() * 1e3,
        ready.as_secs_f64() * 1e3
    );
    println!("idle resident memory: {:.1} MiB", idle_rss as f64 / 1024.0);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let token_url = fx.server.url("/token").to_string();
    let introspect_url = fx.server.url("/introspect").to_string();
    let secret = registered["client_secret"]
        .as_str()
        .context("service secret")?
        .to_owned();
    let id = registered["client_id"]
        .as_str()
        .context("service id")?
        .to_owned();

    // Client credentials.
    let (h, u, i, s) = (http.clone(), token_url.clone(), id.clone(), secret.clone());
    phase("client-credentials grants", args, move |_| {
        let (h, u, i, s) = (h.clone(), u.clone(), i.clone(), s.clone());
        async move {
            let r = h
                .post(&u)
                .basic_auth(&i, Some(&s))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?;
            ensure!(
                r.status().is_success(),
                "client credentials: {}",
                r.status()
            );
            Ok(())
        }
    })
    .await?;

    // Refresh: one rotation chain per worker, each started by a real login.
    let mut chains = Vec::new();
    let browser = Browser::new()?;
    for n in 0..args.concurrency {
        let request = AuthRequest::new(&fx.client);
        let url = request.url(&fx.server);
        let cb = if n == 0 {
            flow::browser_login(&browser, &fx.server, &url, USERNAME, PASSWORD).await?
        } else {
            flow::authorize_silently(&browser, &url).await?
        };
        let conf_secret = fx.client.client_secret.as_deref().context("secret")?;
        let tokens = exchange(
            &fx.server,
            ClientAuth::Basic(&fx.client.client_id, conf_secret),
            &request,
            &cb.code()?,
        )
        .await?;
        chains.push(Arc::new(tokio::sync::Mutex::new(
            tokens.str("refresh_token")?.to_owned(),
        )));
    }
    let chains = Arc::new(chains);
    let (h, u) = (http.clone(), token_url.clone());
    let (ci, cs) = (
        fx.client.client_id.clone(),
        fx.client.client_secret.clone().unwrap_or_default(),
    );
    phase("refresh grants (rotating)", args, move |worker| {
        let (h, u, ci, cs, chains) = (h.clone(), u.clone(), ci.clone(), cs.clone(), chains.clone());
        async move {
            let chain = chains.get(worker).context("chain")?;
            let mut current = chain.lock().await;
            let r = h
                .post(&u)
                .basic_auth(&ci, Some(&cs))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ])
                .send()
                .await?;
            ensure!(r.status().is_success(), "refresh: {}", r.status());
            let body: serde_json::Value = r.json().await?;
            *current = body["refresh_token"]
                .as_str()
                .context("no refresh token")?
                .to_owned();
            Ok(())
        }
    })
    .await?;

    // Introspection of a live token owned by the caller.
    let r = http
        .post(&token_url)
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let token = r.json::<serde_json::Value>().await?["access_token"]
        .as_str()
        .context("token")?
        .to_owned();
    let (h, u, i, s) = (http.clone(), introspect_url, id, secret);
    phase("introspections", args, move |_| {
        let (h, u, i, s, t) = (h.clone(), u.clone(), i.clone(), s.clone(), token.clone());
        async move {
            let r = h
                .post(&u)
                .basic_auth(&i, Some(&s))
                .form(&[("token", t.as_str())])
                .send()
                .await?;
            ensure!(r.status().is_success(), "introspection: {}", r.status());
            let body: serde_json::Value = r.json().await?;
            ensure!(body["active"] == true, "token inactive");
            Ok(())
        }
    })
    .await?;
    println!(
        "resident memory after load: {:.1} MiB",
        rss_kib(fx.server.pid())? as f64 / 1024.0
    );
    Ok(())
}

/// Runs `op` under load and prints the rate and latency percentiles; any failure fails the run.
async fn phase<F, Fut>(name: &str, args: &Args, op: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let m = load::run(args.concurrency, args.seconds, op).await?;
    let errors = m.errors;
    println!(
        "{name}: {:.0} per second, p50 {:.2} ms, p99 {:.2} ms, errors {errors}",
        m.rate,
        m.p50.as_secs_f64() * 1e3,
        m.p99.as_secs_f64() * 1e3
    );
    ensure!(errors == 0, "{name}: {errors} requests failed");
    Ok(())
}
