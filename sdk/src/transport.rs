//! The HTTP client and the transport-security policy for provider URLs.

use std::time::Duration;

use openidconnect::reqwest;
use url::{Host, Url};

use crate::error::{SdkError, chain};

/// Builds the HTTP client used for every back-channel request, trusting the public web's
/// certificate authorities.
pub(crate) fn http_client() -> Result<reqwest::Client, SdkError> {
    http_client_trusting(&[])
}

/// [`http_client`] that also trusts the certificate authorities in `roots_pem` (PEM, one or
/// more certificates): a province's own CA in front of its provider.
///
/// Redirects are disabled, as the `openidconnect` documentation requires, so that a
/// provider endpoint cannot bounce a request (carrying a client secret or an access token)
/// to another origin (OAuth 2.0 Security BCP, RFC 9700 §4.11).
pub(crate) fn http_client_trusting(roots_pem: &[u8]) -> Result<reqwest::Client, SdkError> {
    let mut builder = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if !roots_pem.is_empty() {
        let roots = reqwest::Certificate::from_pem_bundle(roots_pem)
            .map_err(|e| SdkError::Config(format!("trusted CA certificates: {}", chain(&e))))?;
        if roots.is_empty() {
            return Err(SdkError::Config(
                "trusted CA certificates: no PEM certificate found".into(),
            ));
        }
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    builder.build().map_err(|e| SdkError::Http(chain(&e)))
}

/// TLS is required for every provider URL (OIDC Core §16.17, Discovery §4.3 and §7),
/// except plain `http` on a loopback host, which never leaves the machine.
pub(crate) fn check_secure(url: &Url, what: &str) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(format!(
            "{what} `{url}` must use https (plain http is allowed only on loopback hosts)"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Compares two strings without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn trusted_roots_must_be_pem_certificates() {
        assert!(http_client_trusting(&[]).is_ok());
        for bad in [
            &b"not a certificate"[..],
            b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        ] {
            let err = http_client_trusting(bad).unwrap_err();
            assert!(matches!(err, SdkError::Config(_)), "{err:?}");
        }
    }

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://sso.example.gov.vn",
            "http://127.0.0.1:8080",
            "http://127.1.2.3/x",
            "http://[::1]:9000",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            assert!(
                check_secure(&Url::parse(ok).unwrap(), "issuer").is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://sso.example.gov.vn",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "ftp://127.0.0.1",
        ] {
            assert!(
                check_secure(&Url::parse(bad).unwrap(), "issuer").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(constant_time_eq("", ""));
    }
}
