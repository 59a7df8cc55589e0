//! Login benchmark: full password logins per second, end to end over real HTTP on loopback
//! (authorize → login form → POST /login → code → token), against the real `tessera` binary,
//! and the cost of one Argon2id password hash. See BENCHMARKS.md for figures.
//!
//! cargo build --release --bin tessera --bin bench-login
//! TESSERA_BIN=target/release/tessera target/release/bench-login [--postgres] [--seconds 20] [--concurrency 8]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tessera_e2e::fixture::Fixture;
use tessera_e2e::flow::browser_login;
use tessera_e2e::oauth::{AuthRequest, ClientAuth, exchange};
use tessera_e2e::{Backend, Browser, NewUser};

#[derive(Debug, Parser)]
#[command(
    about = "Full OIDC logins per second against a real tessera server, and the password-hash cost"
)]
struct Args {
    /// Run against PostgreSQL (needs TESSERA_TEST_DATABASE_URL); SQLite otherwise
    #[arg(long)]
    postgres: bool,
    /// Measurement time
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Logins in flight at once (each a separate browser)
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Distinct users logging in
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Password hashes for the hash-cost measurement
    #[arg(long, default_value_t = 20)]
    hashes: u32,
}

const PASSWORD: &str = "mat-khau-benchmark-2026";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hash_cost(args.hashes)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(logins(&args))
}

/// Argon2id with Tessera's parameters, as the login path runs it.
fn hash_cost(n: u32) -> anyhow::Result<()> {
    let hash = tessera_core::password::hash(PASSWORD)?;
    let start = Instant::now();
    for _ in 0..n {
        if !tessera_core::password::verify(PASSWORD, &hash) {
            bail!("password verification failed");
        }
    }
    let per = start.elapsed() / n;
    println!(
        "password hash (argon2id m={} KiB, t={}, p={}): {:.1} ms per verification, {:.1} per second per core",
        tessera_core::password::MEMORY_KIB,
        tessera_core::password::ITERATIONS,
        tessera_core::password::PARALLELISM,
        per.as_secs_f64() * 1e3,
        1.0 / per.as_secs_f64()
    );
    Ok(())
}

async fn logins(args: &Args) -> anyhow::Result<()> {
    let backend = Backend::chosen(args.postgres)?;
    let fx = Arc::new(Fixture::start(backend).await.context("starting tessera")?);
    let mut users = Vec::new();
    for i in 0..args.users {
        let name = format!("bench.{i}");
        fx.server
            .add_user(&NewUser::new(&name, "Cán bộ Thử nghiệm", PASSWORD))
            .await?;
        users.push(name);
    }
    let users = Arc::new(users);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(tokio::sync::Mutex::new(Vec::<Duration>::new()));

    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (fx, users, done, failed, stop, latencies) = (
            fx.clone(),
            users.clone(),
            done.clone(),
            failed.clone(),
            stop.clone(),
            latencies.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = w;
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let user = &users[i % users.len()];
                i += 1;
                let t = Instant::now();
                match one_login(&fx, user).await {
                    Ok(()) => {
                        mine.push(t.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("login failed: {e:#}");
                        }
                    }
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    // Warm-up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let measured = done.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    let mut lat = latencies.lock().await.clone();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let rate = measured as f64 / elapsed.as_secs_f64();
    println!(
        "full logins ({backend:?}, {} in flight, {}s): {rate:.1} per second ({:.1} per core, {cores} cores shared by server and load), \
         latency p50 {:.0} ms, p99 {:.0} ms, failures {}",
        args.concurrency,
        args.seconds,
        rate / cores as f64,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        failed.load(Ordering::Relaxed)
    );
    if failed.load(Ordering::Relaxed) > 0 {
        bail!("some logins failed");
    }
    Ok(())
}

/// One browser's whole login, and the application's code exchange.
async fn one_login(fx: &Fixture, username: &str) -> anyhow::Result<()> {
    let browser = Browser::new()?;
    let request = AuthRequest::new(&fx.client);
    let cb = browser_login(
        &browser,
        &fx.server,
        &request.url(&fx.server),
        username,
        PASSWORD,
    )
    .await?;
    let secret = fx
        .client
        .client_secret
        .as_deref()
        .context("confidential client")?;
    let answer = exchange(
        &fx.server,
        ClientAuth::Basic(&fx.client.client_id, secret),
        &request,
        &cb.code()?,
    )
    .await?;
    answer.str("id_token")?;
    Ok(())
}
