//! The SOC feed: audit entries as syslog messages (RFC 5424), framed by octet counting for
//! TCP and TLS transport (RFC 6587 §3.4.1, RFC 5425 §4.3). The transport is the server's; this
//! module decides what is sent, by which replica, and what counts as sent.
//!
//! One message per audit entry:
//!
//! ```text
//! <PRI>1 TIMESTAMP HOST tessera - EVENT [tessera@32473 event="…" outcome="…" actor="…" unit="…"
//!     client="…" ip="…" chain="…" seq="…" hash="…"] BOM{detail as JSON}
//! ```
//!
//! Facility 13 (log audit); severity 6 (informational) for a success, 5 (notice) for a
//! refusal, and the alert's own for `alert.*` events (see [`crate::alerts`]). HOST is the host
//! of the process that wrote the entry; MSGID is the event name. The structured data id uses
//! the documentation enterprise number 32473 (RFC 5612). Absent values are omitted.
//! `chain` and `seq` name the entry in the audit log and `hash` is its chain hash, so the SOC
//! can check a message against `tessera audit export`; `(chain, seq)` is also the key to
//! drop the repeats that at-least-once delivery allows.

use std::collections::BTreeMap;
use std::time::Duration;

use tessera_store::syslog_feed::FeedEntry;

use crate::error::CoreError;
use crate::provider::Provider;

/// Most messages sent in one batch.
pub const BATCH: i64 = 500;

/// Facility `log audit` (RFC 5424 §6.2.1, table 1).
const FACILITY: u8 = 13;

/// One framed message, and the audit entry it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub chain_id: String,
    pub seq: i64,
    /// `MSG-LEN SP SYSLOG-MSG`, ready to write.
    pub bytes: Vec<u8>,
}

/// Takes (or renews) the feed's lease for `owner` until `now + lease_secs` and reads the next
/// entries to send, past the forwarded positions and past what was already `sent` on the open
/// connection but not yet confirmed (see [`Sent`]); `None` when another replica holds the lease.
pub async fn claim(
    p: &Provider,
    owner: &str,
    now: i64,
    lease_secs: i64,
    sent: &Sent,
) -> Result<Option<Vec<Frame>>, CoreError> {
    if !p
        .store
        .take_syslog_lease(owner, now, now + lease_secs)
        .await?
    {
        return Ok(None);
    }
    let pending = p.store.syslog_pending(BATCH, &sent.last).await?;
    Ok(Some(pending.iter().map(frame).collect()))
}

/// What was written on the open connection and is not yet confirmed: batches in the order
/// written, and each chain's last sequence number among them. Only a confirmed batch moves the
/// positions in the database; when the connection turns out dead, this is dropped and the feed
/// resends from the positions, so nothing written into a dying connection is lost.
#[derive(Debug, Default)]
pub struct Sent {
    last: BTreeMap<String, i64>,
    batches: std::collections::VecDeque<(Duration, Vec<Frame>)>,
}

impl Sent {
    /// Notes `frames` as written at `at` (any monotonic time, e.g. since the process started).
    pub fn push(&mut self, at: Duration, frames: Vec<Frame>) {
        for f in &frames {
            let seq = self.last.entry(f.chain_id.clone()).or_insert(f.seq);
            *seq = (*seq).max(f.seq);
        }
        self.batches.push_back((at, frames));
    }

    /// Takes the batches written at or before `before` (confirmed by the caller).
    pub fn take_until(&mut self, before: Duration) -> Vec<Frame> {
        let mut out = Vec::new();
        while self.batches.front().is_some_and(|(at, _)| *at <= before) {
            if let Some((_, frames)) = self.batches.pop_front() {
                out.extend(frames);
            }
        }
        if self.batches.is_empty() {
            self.last.clear();
        }
        out
    }

    /// When the oldest unconfirmed batch was written.
    pub fn oldest(&self) -> Option<Duration> {
        self.batches.front().map(|(at, _)| *at)
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Forgets everything unconfirmed: it is sent again from the positions.
    pub fn clear(&mut self) {
        self.last.clear();
        self.batches.clear();
    }
}

/// Records that `sent` reached the receiver: each chain's position moves to its last entry.
pub async fn forwarded(p: &Provider, sent: &[Frame], now: i64) -> Result<(), CoreError> {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for f in sent {
        let seq = last.entry(&f.chain_id).or_insert(f.seq);
        *seq = (*seq).max(f.seq);
    }
    for (chain, seq) in last {
        p.store.syslog_forwarded(chain, seq, now).await?;
    }
    Ok(())
}

/// Gives the lease up, so that another replica takes over at once.
pub async fn release(p: &Provider, owner: &str) -> Result<(), CoreError> {
    Ok(p.store.release_syslog_lease(owner).await?)
}

/// Each audit chain's forwarded position.
pub async fn positions(p: &Provider) -> Result<Vec<(String, i64)>, CoreError> {
    Ok(p.store.syslog_positions().await?)
}

fn frame(f: &FeedEntry) -> Frame {
    let msg = message(f);
    let mut bytes = format!("{} ", msg.len()).into_bytes();
    bytes.extend_from_slice(msg.as_bytes());
    Frame {
        chain_id: f.entry.chain_id.clone(),
        seq: f.entry.seq,
        bytes,
    }
}

/// The RFC 5424 message of one entry (without framing).
pub fn message(f: &FeedEntry) -> String {
    let e = &f.entry;
    let severity = crate::alerts::severity(&e.event).unwrap_or(match e.outcome.as_str() {
        "success" => 6,
        _ => 5,
    });
    let pri = u16::from(FACILITY) * 8 + u16::from(severity);
    // HOSTNAME: the writer `role@host:pid`'s host (RFC 5424 §6.2.4: printable, 255 at most).
    let host = f
        .writer
        .split_once('@')
        .map(|(_, h)| h.rsplit_once(':').map_or(h, |(h, _)| h))
        .map(|h| header_field(h, 255))
        .unwrap_or_else(|| "-".into());
    let mut sd = String::from("[tessera@32473");
    let mut param = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            sd.push_str(&format!(" {name}=\"{}\"", sd_escape(v)));
        }
    };
    let seq = e.seq.to_string();
    param("event", Some(&e.event));
    param("outcome", Some(&e.outcome));
    param("actor", e.actor.as_deref());
    param("unit", f.unit_id.as_deref());
    param("client", e.client_id.as_deref());
    param("ip", e.source_ip.as_deref());
    param("chain", Some(&e.chain_id));
    param("seq", Some(&seq));
    param("hash", Some(&e.hash));
    sd.push(']');
    // The MSG is UTF-8, announced by the BOM (RFC 5424 §6.4).
    format!(
        "<{pri}>1 {} {host} tessera - {} {sd} \u{feff}{}",
        rfc3339(e.at),
        header_field(&e.event, 32),
        e.detail
    )
}

/// RFC 3339 in UTC, as RFC 5424 §6.2.3 asks.
pub fn rfc3339(at: i64) -> String {
    match der::DateTime::from_unix_duration(Duration::from_secs(at.max(0) as u64)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        ),
        Err(_) => "-".into(),
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` if empty.
fn header_field(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() { "-".into() } else { clean }
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash.
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tessera_store::audit::AuditEntry;
    use tessera_store::syslog_feed::FeedEntry;

    fn entry(event: &str, outcome: &str, actor: Option<&str>) -> FeedEntry {
        FeedEntry {
            entry: AuditEntry {
                chain_id: "c1".into(),
                seq: 7,
                at: 1_767_225_600, // 2026-01-01T00:00:00Z
                event: event.into(),
                actor: actor.map(str::to_owned),
                client_id: Some("vanban".into()),
                source_ip: Some("10.0.0.9".into()),
                outcome: outcome.into(),
                detail: r#"{"reason":"x"}"#.into(),
                prev_hash: "p".into(),
                hash: "h7".into(),
            },
            unit_id: Some("u1".into()),
            writer: "serve@node-a:4242".into(),
        }
    }

    #[test]
    fn an_entry_as_rfc5424() {
        let m = super::message(&entry("login.success", "success", Some("user-1")));
        assert_eq!(
            m,
            "<110>1 2026-01-01T00:00:00Z node-a tessera - login.success [tessera@32473 \
             event=\"login.success\" outcome=\"success\" actor=\"user-1\" unit=\"u1\" \
             client=\"vanban\" ip=\"10.0.0.9\" chain=\"c1\" seq=\"7\" hash=\"h7\"] \
             \u{feff}{\"reason\":\"x\"}"
        );
    }

    #[test]
    fn refusals_are_notices_and_alerts_louder() {
        assert!(super::message(&entry("login.failure", "failure", None)).starts_with("<109>1 "));
        assert!(
            super::message(&entry("alert.hsm_failure", "failure", None)).starts_with("<105>1 ")
        );
    }

    #[test]
    fn values_are_escaped_and_framed_by_length() {
        let f = super::frame(&entry("login.failure", "failure", Some("a\"]\\b")));
        let text = String::from_utf8(f.bytes).unwrap();
        let (len, msg) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert!(msg.contains(r#"actor="a\"\]\\b""#), "{msg}");
    }
}
