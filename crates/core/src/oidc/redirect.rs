//! Whether a redirect URI in a request is one the client registered.
//!
//! Exact string comparison (RFC 9700 §4.1.3), with the one exception native apps need
//! (RFC 8252 §7.3): for a loopback IP literal over http — `http://127.0.0.1/…` or
//! `http://[::1]/…` — the port is ignored, because the app listens on whatever port the
//! system gives it at the time of the request. `localhost` gets no such latitude: RFC 8252
//! §8.3 advises against it (the name may resolve elsewhere, or to the other address family),
//! so a `localhost` URI must match exactly, port included.

use url::{Host, Url};

/// Whether `requested` matches one of `registered`.
pub fn is_registered(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|r| r == requested)
        || registered.iter().any(|r| loopback_match(r, requested))
}

fn loopback_match(registered: &str, requested: &str) -> bool {
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback_ip = |u: &Url| match u.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && loopback_ip(&reg)
        && reg.host() == req.host()
        && reg.username() == req.username()
        && reg.password() == req.password()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && reg.fragment().is_none()
        && req.fragment().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(uris: &[&str]) -> Vec<String> {
        uris.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn loopback_ip_literals_match_any_port() {
        let r = reg(&["http://127.0.0.1/cb", "http://[::1]/cb"]);
        for ok in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53412/cb",
            "http://127.0.0.1:1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(is_registered(&r, ok), "{ok}");
        }
        // Registered with a port: any other port matches too (§7.3).
        assert!(is_registered(
            &reg(&["http://127.0.0.1:9000/cb"]),
            "http://127.0.0.1:41000/cb"
        ));
    }

    #[test]
    fn everything_but_the_port_must_match() {
        let r = reg(&["http://127.0.0.1/cb"]);
        for bad in [
            "http://127.0.0.1:53412/cb/",
            "http://127.0.0.1:53412/other",
            "http://127.0.0.1:53412/cb?x=1",
            "http://127.0.0.1:53412/cb#f",
            "http://127.0.0.2:53412/cb",
            "http://[::1]:53412/cb",
            "https://127.0.0.1:53412/cb",
            "http://user@127.0.0.1:53412/cb",
            "http://localhost:53412/cb",
        ] {
            assert!(!is_registered(&r, bad), "{bad}");
        }
    }

    #[test]
    fn localhost_and_https_stay_exact() {
        let r = reg(&["http://localhost/cb", "https://vanban.haiphong.gov.vn/cb"]);
        assert!(is_registered(&r, "http://localhost/cb"));
        assert!(!is_registered(&r, "http://localhost:53412/cb"));
        assert!(is_registered(&r, "https://vanban.haiphong.gov.vn/cb"));
        assert!(!is_registered(&r, "https://vanban.haiphong.gov.vn:8443/cb"));
        // Claimed https redirects and private-use schemes: exact.
        let app = reg(&["vn.gov.haiphong.dichvucong:/cb"]);
        assert!(is_registered(&app, "vn.gov.haiphong.dichvucong:/cb"));
        assert!(!is_registered(&app, "vn.gov.haiphong.dichvucong:/cb2"));
    }
}
