//! The SOC feed's transport: audit entries to the SOC's syslog receiver over TCP (RFC 6587,
//! octet counting) or TLS (RFC 5425) with the SOC's CA. What is sent, and the resume position,
//! are `tessera_core::soc_feed`'s.
//!
//! Every replica runs the forwarder; the one holding the lease in the database sends, the
//! others wait (and take over when its lease runs out). The positions in the database are the
//! cursor: they move only for a batch the receiver still held the connection for [`CONFIRM`]
//! after it was written. When the connection dies, everything written since the cursor is sent
//! again on the next one, so an outage of the receiver, even in the middle of a stream, loses
//! nothing (at least once; the SOC drops repeats by `chain` and `seq`).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tessera_core::Provider;
use tessera_core::soc_feed::{self, Frame, Sent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::clock::now;

/// How long a lease lasts; renewed on every round, so about 30 s after a replica dies another
/// one takes over.
const LEASE_SECS: i64 = 30;
/// Pause between rounds when there was nothing to send.
const POLL: Duration = Duration::from_secs(1);
/// Longest pause between attempts while the receiver is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long the receiver must hold the connection open after a write before the entries
/// written count as taken. A receiver that dies drops what reached its socket but was not yet
/// read; with TCP alone (no application acknowledgement) the only sign that it read them is that
/// it lived on well past the write. Entries of a connection that dies sooner are resent.
const CONFIRM: Duration = Duration::from_secs(1);
/// Slack added when waiting for a confirmation to fall due.
const TICK: Duration = Duration::from_millis(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the feed goes: `TESSERA_SYSLOG_URL` (`tcp://host:port` or `tls://host:port`) and, for
/// TLS, the CA that signed the receiver's certificate (`TESSERA_SYSLOG_CA`, PEM).
#[derive(Clone)]
pub struct SyslogSettings {
    pub url: String,
    host: String,
    port: u16,
    /// TLS: the connector trusting the configured CA only.
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for SyslogSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl SyslogSettings {
    /// Reads and checks the feed's settings; `None` when no URL is set (no feed).
    pub fn resolve(url: Option<String>, ca: Option<PathBuf>) -> anyhow::Result<Option<Self>> {
        let Some(text) = url else {
            if ca.is_some() {
                bail!("TESSERA_SYSLOG_CA is set but TESSERA_SYSLOG_URL is not");
            }
            return Ok(None);
        };
        let parsed = url::Url::parse(&text).with_context(|| {
            format!("TESSERA_SYSLOG_URL must be tcp://host:port or tls://host:port, got {text:?}")
        })?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .with_context(|| format!("TESSERA_SYSLOG_URL has no host: {text}"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().with_context(|| {
            format!("TESSERA_SYSLOG_URL has no port: {text} (RFC 5425's is 6514)")
        })?;
        if parsed.path() != "" && parsed.path() != "/" {
            bail!("TESSERA_SYSLOG_URL takes no path: {text}");
        }
        let tls = match (parsed.scheme(), ca) {
            ("tcp", None) => None,
            ("tcp", Some(_)) => bail!("TESSERA_SYSLOG_CA is only for tls:// receivers"),
            ("tls", Some(ca)) => Some(connector(&ca)?),
            ("tls", None) => bail!(
                "TESSERA_SYSLOG_URL is tls:// but TESSERA_SYSLOG_CA is not set: give the PEM file of \
                 the CA that signed the receiver's certificate"
            ),
            (other, _) => {
                bail!("TESSERA_SYSLOG_URL must start with tcp:// or tls://, not {other}://")
            }
        };
        Ok(Some(SyslogSettings {
            url: text,
            host,
            port,
            tls,
        }))
    }
}

fn connector(ca: &std::path::Path) -> anyhow::Result<TlsConnector> {
    Ok(TlsConnector::from(Arc::new(client_config(
        ca,
        "TESSERA_SYSLOG_CA",
    )?)))
}

/// A TLS client configuration trusting only the CA certificates of the PEM file `ca` (named
/// `setting` in errors); also used for the LDAP directory.
pub(crate) fn client_config(ca: &std::path::Path, setting: &str) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("cannot read {setting} {}", ca.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{setting} {} is not PEM", ca.display()))?;
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("a certificate of {} is not usable", ca.display()))?;
    }
    if roots.is_empty() {
        bail!("{setting} {} holds no certificate", ca.display());
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// An open connection to the receiver.
struct Connection(Pin<Box<dyn Stream>>);

impl Connection {
    async fn open(s: &SyslogSettings) -> anyhow::Result<Connection> {
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((s.host.as_str(), s.port)),
        )
        .await
        .context("connection timed out")??;
        tcp.set_nodelay(true)?;
        let Some(tls) = &s.tls else {
            return Ok(Connection(Box::pin(tcp)));
        };
        let name = ServerName::try_from(s.host.clone())?;
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tls.connect(name, tcp))
            .await
            .context("TLS handshake timed out")??;
        Ok(Connection(Box::pin(stream)))
    }

    /// Whether the receiver still holds the connection open. It never sends anything (TLS may
    /// send session tickets, read and dropped here), so a read that would wait means open, and
    /// an end of stream or an error means it went away.
    async fn is_open(&mut self) -> bool {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(Duration::ZERO, self.0.read(&mut buf)).await {
                Err(_would_wait) => return true,
                Ok(Ok(0)) | Ok(Err(_)) => return false,
                Ok(Ok(_)) => continue,
            }
        }
    }

    async fn send(&mut self, frames: &[Frame]) -> anyhow::Result<()> {
        let bytes: Vec<u8> = frames
            .iter()
            .flat_map(|f| f.bytes.iter().copied())
            .collect();
        tokio::time::timeout(WRITE_TIMEOUT, async {
            self.0.write_all(&bytes).await?;
            self.0.flush().await
        })
        .await
        .context("write timed out")??;
        Ok(())
    }
}

/// The running forwarder: stop it with [`Forwarder::stop`] at shutdown.
pub struct Forwarder {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    /// Sends what is pending and confirms what was sent (within `limit`), then stops.
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::warn!("the SOC feed was not flushed in time; the next forwarder resends");
        }
    }
}

/// Runs the forwarder of this replica (`owner`) until it is stopped.
pub fn spawn(p: Provider, settings: SyslogSettings, owner: String) -> Forwarder {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run(p, settings, owner, stopping));
    Forwarder { stop, task }
}

/// One round after another: check the connection, confirm what it has held long enough, send
/// what is new. Once stopping, rounds go on until nothing is pending or unconfirmed.
async fn run(
    p: Provider,
    settings: SyslogSettings,
    owner: String,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let started = Instant::now();
    let mut conn: Option<Connection> = None;
    let mut sent = Sent::default();
    let mut backoff = POLL;
    let mut failing = false;
    loop {
        let stop = *stopping.borrow();
        let mut pause = POLL;
        if let Some(c) = conn.as_mut() {
            if c.is_open().await {
                // Open now, so everything written CONFIRM ago or earlier was taken.
                let confirmed = sent.take_until(started.elapsed().saturating_sub(CONFIRM));
                if !confirmed.is_empty()
                    && let Err(e) = soc_feed::forwarded(&p, &confirmed, now()).await
                {
                    tracing::warn!(error = %e, "cannot record the SOC feed's position");
                }
            } else {
                if !sent.is_empty() {
                    tracing::info!(
                        receiver = %settings.url,
                        "the SOC's syslog receiver closed the connection; resending what it may not have taken"
                    );
                }
                conn = None;
                sent.clear();
            }
        }
        match soc_feed::claim(&p, &owner, now(), LEASE_SECS, &sent).await {
            Ok(None) => {
                // Another replica forwards; be ready to take over (it resends the unconfirmed).
                conn = None;
                sent.clear();
                if stop {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the SOC feed's position"),
            Ok(Some(frames)) if frames.is_empty() => {
                if stop && sent.is_empty() {
                    return;
                }
            }
            Ok(Some(frames)) => match deliver(&settings, &mut conn, &frames).await {
                Ok(()) => {
                    if failing {
                        tracing::info!(receiver = %settings.url, "the SOC's syslog receiver is back");
                        failing = false;
                    }
                    backoff = POLL;
                    sent.push(started.elapsed(), frames);
                    continue;
                }
                Err(e) => {
                    conn = None;
                    sent.clear();
                    if !failing {
                        tracing::warn!(receiver = %settings.url, error = %format!("{e:#}"), "cannot deliver audit events to the SOC's syslog receiver; retrying");
                        failing = true;
                    }
                    if stop {
                        return;
                    }
                    pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
        // Wake for the next confirmation, if one is due sooner.
        if let Some(oldest) = sent.oldest() {
            pause = pause.min((oldest + CONFIRM).saturating_sub(started.elapsed()) + TICK);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stopping.changed(), if !stop => {}
        }
    }
}

/// Writes `frames` on the open connection, opening one if there is none.
async fn deliver(
    settings: &SyslogSettings,
    conn: &mut Option<Connection>,
    frames: &[Frame],
) -> anyhow::Result<()> {
    if conn.is_none() {
        *conn = Some(Connection::open(settings).await?);
    }
    let Some(c) = conn.as_mut() else {
        bail!("no connection");
    };
    c.send(frames).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::SyslogSettings;

    #[test]
    fn urls_and_cas_are_checked() {
        let tcp = SyslogSettings::resolve(Some("tcp://10.0.0.5:514".into()), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (tcp.host.as_str(), tcp.port, tcp.tls.is_none()),
            ("10.0.0.5", 514, true)
        );
        assert!(SyslogSettings::resolve(None, None).unwrap().is_none());
        for (url, ca, why) in [
            ("udp://h:514", None, "tcp:// or tls://"),
            ("tcp://h", None, "no port"),
            ("tls://h:6514", None, "TESSERA_SYSLOG_CA is not set"),
            ("tcp://h:514", Some("/x.pem"), "only for tls://"),
            ("tls://h:6514", Some("/no/such/ca.pem"), "cannot read"),
        ] {
            let e = SyslogSettings::resolve(Some(url.into()), ca.map(Into::into)).unwrap_err();
            assert!(format!("{e:#}").contains(why), "{url}: {e:#}");
        }
    }
}
