//! A relying party's back-channel logout endpoint (or signing-request webhook), as small as it
//! gets: a raw loopback HTTP server that records every POST (its `logout_token`, or its whole
//! body), and can play dead (closes connections without answering) to test the provider's
//! retries.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One notification received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: Option<String>,
    pub logout_token: Option<String>,
    /// The whole body (a webhook's JWT).
    pub body: String,
}

#[derive(Debug, Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    down: AtomicBool,
    refused: AtomicUsize,
}

/// Stops listening when dropped.
#[derive(Debug)]
pub struct LogoutReceiver {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl LogoutReceiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move { serve(sock, &state).await });
            }
        });
        Ok(Self { port, shared, task })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// While down, connections are closed without an answer (as by a crashed application).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Connections dropped while down.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Waits until at least `n` notifications arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!("expected {n} back-channel logout(s) within {timeout:?}, got {got:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for LogoutReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut sock: TcpStream, state: &Shared) {
    if state.down.load(Ordering::SeqCst) {
        state.refused.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head, body) = loop {
        let Ok(n) = sock.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_owned();
            let len = header(&head, "content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                break (head, String::from_utf8_lossy(&raw[end + 4..]).into_owned());
            }
        }
    };
    let path = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let logout_token = serde_urlencoded::from_str::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "logout_token"))
        .map(|(_, v)| v);
    if let Ok(mut received) = state.received.lock() {
        received.push(Received {
            path,
            content_type: header(&head, "content-type"),
            logout_token,
            body,
        });
    }
    let _ = sock
        .write_all(b"HTTP/1.1 200 OK\r\ncache-control: no-store\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await;
    let _ = sock.shutdown().await;
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}
