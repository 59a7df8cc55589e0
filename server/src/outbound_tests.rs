//! The SSRF guard against a raw loopback HTTP server that records what reaches it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Answers every request with `response` and records the request texts.
struct Peer {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn peer(response: Vec<u8>) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 16 * 1024];
            let mut got = Vec::new();
            // Headers, then the body announced by Content-Length.
            loop {
                let n = sock.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&got).to_string());
            let _ = sock.write_all(&response).await;
            let _ = sock.shutdown().await;
        }
    });
    Peer { port, seen }
}

fn ok() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_vec()
}

fn policy(hosts: &[&str], cidrs: &[&str], allow_http: bool) -> GuardedOutbound {
    GuardedOutbound::new(OutboundPolicy {
        allow_http,
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        cidrs: cidrs.iter().map(|c| Cidr::parse(c).unwrap()).collect(),
    })
}

fn is_not_allowed<T: std::fmt::Debug>(r: Result<T, OutboundError>) -> bool {
    matches!(r, Err(OutboundError::NotAllowed(_)))
}

#[test]
fn cidrs_parse_and_match() {
    let c = Cidr::parse("10.20.0.0/16").unwrap();
    assert!(c.contains("10.20.3.4".parse().unwrap()));
    assert!(!c.contains("10.21.0.1".parse().unwrap()));
    assert!(c.contains("::ffff:10.20.0.9".parse().unwrap()));
    let host = Cidr::parse("127.0.0.1").unwrap();
    assert!(host.contains("127.0.0.1".parse().unwrap()));
    assert!(!host.contains("127.0.0.2".parse().unwrap()));
    assert!(
        Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap())
    );
    assert!(
        Cidr::parse("::1/128")
            .unwrap()
            .contains("::1".parse().unwrap())
    );
    assert!(
        !Cidr::parse("::1/128")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap())
    );
    for bad in ["10.0.0.0/33", "::/129", "vanban.gov.vn", "10.0.0.0/x", ""] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn host_patterns() {
    let p = OutboundPolicy {
        hosts: vec!["*.haiphong.gov.vn".into(), "id.test".into()],
        ..OutboundPolicy::default()
    };
    assert!(p.host_allowed("vanban.haiphong.gov.vn"));
    assert!(p.host_allowed("VANBAN.Haiphong.gov.vn."));
    assert!(!p.host_allowed("haiphong.gov.vn"));
    assert!(!p.host_allowed("evilhaiphong.gov.vn"));
    assert!(p.host_allowed("id.test"));
    assert!(!p.host_allowed("id.test.evil"));
    assert!(!OutboundPolicy::default().host_allowed("id.test"));
}

#[tokio::test]
async fn nothing_is_allowed_by_default() {
    let peer = peer(ok()).await;
    let guard = GuardedOutbound::new(OutboundPolicy::default());
    let url = format!("http://127.0.0.1:{}/bcl", peer.port);
    assert!(is_not_allowed(guard.post_form(&url, &[("a", "b")]).await));
    assert!(is_not_allowed(guard.get_json(&url).await));
    assert!(peer.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn denied_scheme_host_and_address_never_connect() {
    let peer = peer(ok()).await;
    let port = peer.port;
    let form = [("logout_token", "x")];
    // http without outbound_allow_http; other schemes never.
    let g = policy(&["127.0.0.1"], &["127.0.0.0/8"], false);
    assert!(is_not_allowed(
        g.post_form(&format!("http://127.0.0.1:{port}/"), &form)
            .await
    ));
    let g = policy(&["*"], &["0.0.0.0/0"], true);
    assert!(is_not_allowed(
        g.post_form(&format!("ftp://127.0.0.1:{port}/"), &form)
            .await
    ));
    assert!(is_not_allowed(
        g.post_form(&format!("http://u:p@127.0.0.1:{port}/"), &form)
            .await
    ));
    // A host not on the list.
    let g = policy(&["vanban.test"], &["127.0.0.0/8"], true);
    assert!(is_not_allowed(
        g.post_form(&format!("http://127.0.0.1:{port}/"), &form)
            .await
    ));
    assert!(is_not_allowed(
        g.post_form(&format!("http://localhost:{port}/"), &form)
            .await
    ));
    // Allowed names that resolve outside the ranges: loopback, or the metadata service.
    let g = policy(&["*"], &["10.0.0.0/8"], true);
    assert!(is_not_allowed(
        g.post_form(&format!("http://localhost:{port}/"), &form)
            .await
    ));
    assert!(is_not_allowed(
        g.post_form(&format!("http://127.0.0.1:{port}/"), &form)
            .await
    ));
    assert!(is_not_allowed(
        g.post_form("http://169.254.169.254/latest", &form).await
    ));
    assert!(is_not_allowed(
        g.post_form(&format!("http://[::ffff:127.0.0.1]:{port}/"), &form)
            .await
    ));
    assert!(
        peer.seen.lock().unwrap().is_empty(),
        "a denied call connected"
    );
}

#[tokio::test]
async fn allowed_loopback_when_configured() {
    let peer = peer(ok()).await;
    let g = policy(
        &["127.0.0.1", "localhost"],
        &["127.0.0.0/8", "::1/128"],
        true,
    );
    let url = format!("http://127.0.0.1:{}/bcl", peer.port);
    let status = g
        .post_form(&url, &[("logout_token", "a.b.c")])
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Through name resolution too.
    let url = format!("http://localhost:{}/bcl", peer.port);
    assert_eq!(g.get_json(&url).await.unwrap(), serde_json::json!({}));
    let seen = peer.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("POST /bcl HTTP/1.1"), "{}", seen[0]);
    assert!(seen[0].ends_with("logout_token=a.b.c"), "{}", seen[0]);
    assert!(seen[1].starts_with("GET /bcl HTTP/1.1"), "{}", seen[1]);
}

#[tokio::test]
async fn oversized_answers_are_cut() {
    let mut big = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        1024 * 1024 + 2
    )
    .into_bytes();
    big.push(b'"');
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.push(b'"');
    let peer = peer(big).await;
    let g = policy(&["127.0.0.1"], &["127.0.0.1/32"], true);
    let url = format!("http://127.0.0.1:{}/jwks", peer.port);
    match g.get_json(&url).await {
        Err(OutboundError::Failed(msg)) => assert!(msg.contains("larger than"), "{msg}"),
        other => panic!("expected the answer to be refused, got {other:?}"),
    }
    assert_eq!(g.post_form(&url, &[("a", "b")]).await.unwrap(), 200);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = peer(ok()).await;
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        target.port
    );
    let peer = peer(redirect.into_bytes()).await;
    let g = policy(&["127.0.0.1"], &["127.0.0.0/8"], true);
    let url = format!("http://127.0.0.1:{}/bcl", peer.port);
    assert_eq!(g.post_form(&url, &[("a", "b")]).await.unwrap(), 307);
    assert!(matches!(
        g.get_json(&url).await,
        Err(OutboundError::Failed(_))
    ));
    assert_eq!(peer.seen.lock().unwrap().len(), 2);
    assert!(
        target.seen.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn unreachable_destinations_fail_without_hanging() {
    // A port that was just free: connection refused, well within the connect timeout.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let g = policy(&["127.0.0.1"], &["127.0.0.0/8"], true);
    let r = g
        .post_form(&format!("http://127.0.0.1:{port}/"), &[("a", "b")])
        .await;
    assert!(matches!(r, Err(OutboundError::Failed(_))), "{r:?}");
}
