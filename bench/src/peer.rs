//! panva `oidc-provider` (bench/peer/) started next to Tessera, pinned to the same CPU, so that
//! bench-tokens compares both in one run under the same load generator.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CLIENT_ID: &str = "lgsp-gateway";
pub const CLIENT_SECRET: &str = "peer-bench-secret-0123456789abcdef";

/// A running peer; killed when dropped.
pub struct Peer {
    child: Child,
    pub base: String,
}

impl Peer {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// Starts the peer on `cpu`, or says why it cannot (no Node): the caller skips it then.
pub async fn start(cpu: usize, port: u16) -> anyhow::Result<Result<Peer, String>> {
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !node_ok {
        return Ok(Err("Node.js (node) is not installed".into()));
    }
    let dir = peer_dir();
    if !dir.join("node_modules/oidc-provider").is_dir() {
        // The lock file pins the exact version.
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !ok {
            return Ok(Err(format!("npm ci failed in {}", dir.display())));
        }
    }
    let mut child = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .args(["node", "server.mjs"])
        .arg(port.to_string())
        .args([CLIENT_ID, CLIENT_SECRET])
        .env("NODE_ENV", "production")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting oidc-provider")?;
    let out = child.stdout.take().context("peer stdout")?;
    let mut lines = BufReader::new(out).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if line.trim() == "ready" {
                return anyhow::Ok(true);
            }
        }
        Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        bail!("oidc-provider did not start");
    }
    // Keep draining its stdout so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Ok(Peer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }))
}
