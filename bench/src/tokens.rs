//! Token-endpoint benchmark: client-credentials grants, refresh grants, authorization-code
//! redemptions and introspections per second over real HTTP on loopback against the real
//! `tessera` binary held to one core, with p50/p99 latency; plus resident memory and time from
//! `tessera serve` to ready. In the same run, panva `oidc-provider` (bench/peer/, pinned to the
//! same core) answers the same client-credentials and introspection load, and the ratios are
//! printed. `--replicas 2` spreads the load over two replicas, each on its own core.
//!
//! cargo build --release --bin tessera --bin bench-tokens
//! TESSERA_BIN=target/release/tessera taskset -c 1 target/release/bench-tokens [--postgres]
//!
//! The server is started under `taskset -c 0` (core 0); run this program on the other core.

#[path = "load.rs"]
mod load;
#[path = "peer.rs"]
mod peer;

use std::future::Future;
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
    /// Replicas sharing the database, the n-th pinned to CPU server_cpu + n; load round-robin
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Most authorization codes issued before the redemption phase, in at most 25 s since
    /// codes live 60 s (0 skips the phase)
    #[arg(long, default_value_t = 20_000)]
    codes: usize,
    /// Leave out the oidc-provider comparison
    #[arg(long)]
    no_peer: bool,
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

/// Where a phase sends its requests: one base URL per replica, chosen by worker.
#[derive(Clone)]
struct Target {
    bases: Arc<Vec<String>>,
    id: String,
    secret: String,
    token_path: &'static str,
    introspect_path: &'static str,
}

impl Target {
    fn url(&self, worker: usize, path: &str) -> String {
        format!("{}{path}", self.bases[worker % self.bases.len()])
    }

    async fn client_credentials(
        &self,
        http: &reqwest::Client,
        worker: usize,
    ) -> anyhow::Result<String> {
        let r = http
            .post(self.url(worker, self.token_path))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "lgsp.read")])
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "client credentials: {}",
            r.status()
        );
        let body: serde_json::Value = r.json().await?;
        Ok(body["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned())
    }

    async fn introspect(
        &self,
        http: &reqwest::Client,
        worker: usize,
        token: &str,
    ) -> anyhow::Result<()> {
        let r = http
            .post(self.url(worker, self.introspect_path))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("token", token)])
            .send()
            .await?;
        ensure!(r.status().is_success(), "introspection: {}", r.status());
        let body: serde_json::Value = r.json().await?;
        ensure!(body["active"] == true, "token inactive");
        Ok(())
    }
}

/// Client credentials, then introspection of a live token of the caller's, against `target`.
async fn grants_and_introspections(
    who: &str,
    target: &Target,
    http: &reqwest::Client,
    args: &Args,
) -> anyhow::Result<(load::Phase, load::Phase)> {
    let (h, t) = (http.clone(), target.clone());
    let cc = phase(
        &format!("{who}: client-credentials grants"),
        args,
        move |w| {
            let (h, t) = (h.clone(), t.clone());
            async move { t.client_credentials(&h, w).await.map(drop) }
        },
    )
    .await?;
    let token = Arc::new(target.client_credentials(http, 0).await?);
    let (h, t) = (http.clone(), target.clone());
    let intro = phase(&format!("{who}: introspections"), args, move |w| {
        let (h, t, token) = (h.clone(), t.clone(), token.clone());
        async move { t.introspect(&h, w, &token).await }
    })
    .await?;
    Ok((cc, intro))
}

/// The wrapper `exec`s, so the child's pid is the server's own.
async fn run(args: &Args) -> anyhow::Result<()> {
    let backend = Backend::chosen(args.postgres)?;
    ensure!(args.replicas >= 1, "--replicas must be at least 1");
    let (_wrapper_dir, wrapper) = pinned_binary(args.server_cpu)?;
    let options = ServerOptions::default()
        .program(wrapper)
        .env("TESSERA_CODE_TTL_SECS", "60");
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
    let mut replicas = Vec::new();
    for n in 1..args.replicas {
        let (dir, script) = pinned_binary(args.server_cpu + n)?;
        let r = fx
            .server
            .start_replica(options.clone().program(script))
            .await?;
        replicas.push((dir, r));
    }
    let mut bases = vec![fx.server.url("/").to_string()];
    bases.extend(replicas.iter().map(|(_, r)| r.url("/").to_string()));
    let bases: Vec<String> = bases
        .into_iter()
        .map(|b| b.trim_end_matches('/').to_owned())
        .collect();

    println!(
        "backend {backend:?}; {} replica(s), the first pinned to CPU {}; {} requests in flight",
        args.replicas, args.server_cpu, args.concurrency
    );
    println!("load: {}", std::fs::read_to_string("/proc/loadavg")?.trim());
    println!(
        "start to ready: {:.0} ms on a new database (generates ES256 + RSA-2048 keys), {:.0} ms for a further replica",
        first_start.as_secs_f64() * 1e3,
        ready.as_secs_f64() * 1e3
    );
    println!("idle resident memory: {:.1} MiB", idle_rss as f64 / 1024.0);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let tessera = Target {
        bases: Arc::new(bases.clone()),
        id: registered["client_id"]
            .as_str()
            .context("service id")?
            .to_owned(),
        secret: registered["client_secret"]
            .as_str()
            .context("service secret")?
            .to_owned(),
        token_path: "/token",
        introspect_path: "/introspect",
    };
    let (t_cc, t_intro) = grants_and_introspections("tessera", &tessera, &http, args).await?;

    // Refresh: one rotation chain per worker, each started by a real login.
    let browser = Browser::new()?;
    let mut logged_in = false;
    let mut chains = Vec::new();
    for _ in 0..args.concurrency {
        let (request, code) = issue_code(&fx, &browser, &mut logged_in).await?;
        let tokens = exchange(&fx.server, confidential(&fx)?, &request, &code).await?;
        chains.push(Arc::new(tokio::sync::Mutex::new(
            tokens.str("refresh_token")?.to_owned(),
        )));
    }
    let chains = Arc::new(chains);
    let (h, t) = (http.clone(), tessera.clone());
    let (ci, cs) = (
        fx.client.client_id.clone(),
        fx.client.client_secret.clone().unwrap_or_default(),
    );
    phase("tessera: refresh grants (rotating)", args, move |worker| {
        let (h, t, ci, cs, chains) = (h.clone(), t.clone(), ci.clone(), cs.clone(), chains.clone());
        async move {
            let chain = chains.get(worker).context("chain")?;
            let mut current = chain.lock().await;
            let r = h
                .post(t.url(worker, "/token"))
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

    // Authorization-code redemptions of codes issued beforehand.
    if args.codes > 0 {
        let mut codes = Vec::with_capacity(args.codes);
        let issued = Instant::now();
        while codes.len() < args.codes && issued.elapsed() < Duration::from_secs(25) {
            codes.push(issue_code(&fx, &browser, &mut logged_in).await?);
        }
        println!(
            "issued {} codes in {:.1} s",
            codes.len(),
            issued.elapsed().as_secs_f64()
        );
        let queue = Arc::new(std::sync::Mutex::new(codes));
        let (h, t) = (http.clone(), tessera.clone());
        let (ci, cs) = (
            fx.client.client_id.clone(),
            fx.client.client_secret.clone().unwrap_or_default(),
        );
        let m = drain(args.concurrency, move |worker| {
            let (h, t, ci, cs, queue) =
                (h.clone(), t.clone(), ci.clone(), cs.clone(), queue.clone());
            async move {
                let Some((request, code)) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return Ok(false);
                };
                let mut form = vec![
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", request.redirect_uri.as_str()),
                ];
                if let Some(v) = request.verifier() {
                    form.push(("code_verifier", v));
                }
                let r = h
                    .post(t.url(worker, "/token"))
                    .basic_auth(&ci, Some(&cs))
                    .form(&form)
                    .send()
                    .await?;
                ensure!(r.status().is_success(), "code redemption: {}", r.status());
                Ok(true)
            }
        })
        .await?;
        report("tessera: authorization-code redemptions", &m)?;
    }
    println!(
        "resident memory after load: {:.1} MiB",
        rss_kib(fx.server.pid())? as f64 / 1024.0
    );

    if args.no_peer {
        return Ok(());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let peer = match peer::start(args.server_cpu, port).await? {
        Ok(p) => p,
        Err(why) => {
            println!("oidc-provider comparison skipped: {why}");
            return Ok(());
        }
    };
    let target = Target {
        bases: Arc::new(vec![peer.base.clone()]),
        id: peer::CLIENT_ID.into(),
        secret: peer::CLIENT_SECRET.into(),
        token_path: "/token",
        introspect_path: "/token/introspection",
    };
    let (p_cc, p_intro) =
        grants_and_introspections("oidc-provider 9", &target, &http, args).await?;
    if let Some(pid) = peer.pid() {
        println!(
            "oidc-provider resident memory after load: {:.1} MiB",
            rss_kib(pid)? as f64 / 1024.0
        );
    }
    println!(
        "ratio tessera / oidc-provider: client credentials {:.2}, introspection {:.2}",
        t_cc.rate / p_cc.rate,
        t_intro.rate / p_intro.rate
    );
    Ok(())
}

fn confidential(fx: &Fixture) -> anyhow::Result<ClientAuth<'_>> {
    let secret = fx.client.client_secret.as_deref().context("secret")?;
    Ok(ClientAuth::Basic(&fx.client.client_id, secret))
}

/// A fresh authorization code for the fixture's client (the first one through a password login).
async fn issue_code(
    fx: &Fixture,
    browser: &Browser,
    logged_in: &mut bool,
) -> anyhow::Result<(AuthRequest, String)> {
    let request = AuthRequest::new(&fx.client);
    let url = request.url(&fx.server);
    let cb = if *logged_in {
        flow::authorize_silently(browser, &url).await?
    } else {
        *logged_in = true;
        flow::browser_login(browser, &fx.server, &url, USERNAME, PASSWORD).await?
    };
    Ok((request, cb.code()?))
}

fn report(name: &str, m: &load::Phase) -> anyhow::Result<()> {
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

/// Runs `op` under load and prints the rate and latency percentiles; any failure fails the run.
async fn phase<F, Fut>(name: &str, args: &Args, op: F) -> anyhow::Result<load::Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let m = load::run(args.concurrency, args.seconds, op).await?;
    report(name, &m)?;
    Ok(m)
}

/// Runs `op` from `concurrency` workers until every worker's `op` returns `Ok(false)` (its
/// supply of work ran out): a fixed amount of work, timed from first to last.
pub async fn drain<F, Fut>(concurrency: usize, op: F) -> anyhow::Result<load::Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<bool>> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            loop {
                let t = Instant::now();
                match op(w).await {
                    Ok(true) => lat.push(t.elapsed()),
                    Ok(false) => break,
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (all, errors) = load::gather(workers).await?;
    Ok(load::summarize(all, start.elapsed(), errors))
}
