//! The transport for calls Tessera makes to other servers (back-channel logout), guarded
//! against server-side request forgery by the administrator's allow-list.
//!
//! A call goes out only when the URL's scheme is allowed (https; http too when configured), its
//! host is on `outbound_allow_hosts` (an exact name or IP, `*.domain` for subdomains, or `*`),
//! and every address the host resolves to lies in `outbound_allow_cidrs`. Tessera resolves the
//! name itself and connects to exactly the addresses it checked, so a DNS answer that changes
//! between the check and the connection (rebinding) cannot redirect the call. Redirects are
//! never followed, proxies from the environment are ignored, and time and answer size are
//! bounded.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tessera_core::outbound::{Answer, BoxFuture, Exchange, Outbound, OutboundError};
use url::{Host, Url};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest answer read; the rest is cut off (a logout receiver answers with a few bytes).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest binary answer (a time-stamp reply, an OCSP answer, a CRL of a large CA).
pub const MAX_BINARY_BYTES: usize = 4 * 1024 * 1024;

/// An address range such as `10.20.0.0/16` or `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a single host).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address range such as 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0–{max}"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are checked as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What the administrator allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    pub allow_http: bool,
    /// Lower-case names or IP literals, `*.domain`, or `*`.
    pub hosts: Vec<String>,
    pub cidrs: Vec<Cidr>,
}

impl OutboundPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
            match pattern.strip_prefix("*") {
                Some("") => true,
                Some(suffix) if suffix.starts_with('.') => host.ends_with(suffix),
                _ => host == pattern,
            }
        })
    }

    fn address_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        // Never a meaningful destination, whatever the ranges say.
        if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]) {
            return false;
        }
        self.cidrs.iter().any(|c| c.contains(ip))
    }
}

/// The server's [`Outbound`]: reqwest behind the [`OutboundPolicy`].
#[derive(Debug)]
pub struct GuardedOutbound {
    policy: OutboundPolicy,
}

fn not_allowed(url: &str, why: impl std::fmt::Display) -> OutboundError {
    OutboundError::NotAllowed(format!("{url} ({why})"))
}

impl GuardedOutbound {
    pub fn new(policy: OutboundPolicy) -> GuardedOutbound {
        GuardedOutbound { policy }
    }

    /// Checks `raw` against the policy and returns a client pinned to the checked addresses.
    async fn checked_client(&self, raw: &str) -> Result<(Url, reqwest::Client), OutboundError> {
        let url = Url::parse(raw).map_err(|e| not_allowed(raw, format!("not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            scheme => return Err(not_allowed(raw, format!("scheme {scheme} is not allowed"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(not_allowed(raw, "credentials in the URL"));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| not_allowed(raw, "no port"))?;
        let (name, addrs): (Option<String>, Vec<SocketAddr>) = match url.host() {
            Some(Host::Domain(d)) => {
                if !self.policy.host_allowed(d) {
                    return Err(not_allowed(raw, format!("host {d} is not allowed")));
                }
                let found = tokio::net::lookup_host((d, port))
                    .await
                    .map_err(|e| OutboundError::Failed(format!("cannot resolve {d}: {e}")))?
                    .collect();
                (Some(d.to_owned()), found)
            }
            Some(Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            None => return Err(not_allowed(raw, "no host")),
        };
        if name.is_none() {
            let literal = addrs
                .first()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            if !self.policy.host_allowed(&literal) {
                return Err(not_allowed(raw, format!("host {literal} is not allowed")));
            }
        }
        if addrs.is_empty() {
            return Err(OutboundError::Failed(format!(
                "{raw}: the host has no address"
            )));
        }
        if let Some(bad) = addrs.iter().find(|a| !self.policy.address_allowed(a.ip())) {
            return Err(not_allowed(
                raw,
                format!("address {} is outside the allowed ranges", bad.ip()),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")));
        if let Some(name) = &name {
            // Connect to the addresses just checked, not to a second DNS answer.
            builder = builder.resolve_to_addrs(name, &addrs);
        }
        let client = builder
            .build()
            .map_err(|e| OutboundError::Failed(format!("HTTP client: {e}")))?;
        Ok((url, client))
    }
}

/// Reads at most `limit` bytes of the body; `Err(n)` if there was more (`n` read so far).
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, usize> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(body.len() + chunk.len());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) | Err(_) => return Ok(body),
        }
    }
}

fn failed(url: &Url, e: reqwest::Error) -> OutboundError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    OutboundError::Failed(format!(
        "{url}: {kind}: {}",
        std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
    ))
}

impl Outbound for GuardedOutbound {
    fn exchange<'a>(&'a self, request: Exchange) -> BoxFuture<'a, Result<Answer, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(&request.url).await?;
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|_| not_allowed(&request.url, "bad method"))?;
            let mut builder = client.request(method, url.clone());
            for (k, v) in &request.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let resp = builder
                .body(request.body)
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let body = read_limited(resp, MAX_BINARY_BYTES).await.map_err(|_| {
                OutboundError::Failed(format!(
                    "{url}: the answer is larger than {MAX_BINARY_BYTES} bytes"
                ))
            })?;
            Ok(Answer {
                status,
                headers,
                body,
            })
        })
    }

    fn post_form<'a>(
        &'a self,
        url: &'a str,
        form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(url).await?;
            let resp = client
                .post(url.clone())
                .form(form)
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            let status = resp.status().as_u16();
            // Drain a little so the connection closes cleanly; the answer's content is unused.
            let _ = read_limited(resp, MAX_RESPONSE_BYTES).await;
            Ok(status)
        })
    }

    fn post_body<'a>(
        &'a self,
        url: &'a str,
        content_type: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(url).await?;
            let resp = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            let status = resp.status().as_u16();
            let _ = read_limited(resp, MAX_RESPONSE_BYTES).await;
            Ok(status)
        })
    }

    fn get_json<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(url).await?;
            let resp = client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(OutboundError::Failed(format!(
                    "{url}: HTTP status {status}"
                )));
            }
            let body = read_limited(resp, MAX_RESPONSE_BYTES).await.map_err(|_| {
                OutboundError::Failed(format!(
                    "{url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes"
                ))
            })?;
            serde_json::from_slice(&body)
                .map_err(|e| OutboundError::Failed(format!("{url}: not JSON: {e}")))
        })
    }

    fn post_bytes<'a>(
        &'a self,
        url: &'a str,
        content_type: &'a str,
        accept: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(url).await?;
            let resp = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .header(reqwest::header::ACCEPT, accept)
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            binary_answer(&url, resp, Some(accept)).await
        })
    }

    fn get_bytes<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move {
            let (url, client) = self.checked_client(url).await?;
            let resp = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| failed(&url, e))?;
            binary_answer(&url, resp, None).await
        })
    }
}

/// The body of a 2xx answer, of the `expected` media type when given, at most
/// [`MAX_BINARY_BYTES`].
async fn binary_answer(
    url: &Url,
    resp: reqwest::Response,
    expected: Option<&str>,
) -> Result<Vec<u8>, OutboundError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(OutboundError::Failed(format!(
            "{url}: HTTP status {status}"
        )));
    }
    if let Some(expected) = expected {
        let got = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if !got.eq_ignore_ascii_case(expected) {
            return Err(OutboundError::Failed(format!(
                "{url}: the answer is {got:?}, not {expected}"
            )));
        }
    }
    read_limited(resp, MAX_BINARY_BYTES).await.map_err(|_| {
        OutboundError::Failed(format!(
            "{url}: the answer is larger than {MAX_BINARY_BYTES} bytes"
        ))
    })
}

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;
