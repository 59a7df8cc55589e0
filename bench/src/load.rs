//! A closed-loop load phase shared by the benchmark programs.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one phase measured.
pub struct Phase {
    /// Successful operations per second.
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: u64,
}

/// Runs `op` from `concurrency` workers for `seconds` after a 2 s warm-up.
pub async fn run<F, Fut>(concurrency: usize, seconds: u64, op: F) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (op, measuring, stop) = (op.clone(), measuring.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = op(w).await.is_ok();
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (all, errors) = gather(workers).await?;
    Ok(summarize(all, elapsed, errors))
}

/// The latencies and error counts of all workers.
pub async fn gather(
    workers: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.await?;
        all.extend(lat);
        errors += e;
    }
    Ok((all, errors))
}

/// Rate and percentiles of the latencies of one phase.
pub fn summarize(mut all: Vec<Duration>, elapsed: Duration, errors: u64) -> Phase {
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Phase {
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
    }
}
