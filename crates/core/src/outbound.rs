//! Calls Tessera makes to other servers (back-channel logout, signing-request webhooks, client JWKS URIs, RFC 3161
//! time-stamping authorities, OCSP responders and CRL distribution points).
//!
//! The core decides *what* to send; the server supplies the transport, which enforces the
//! administrator's allow-list of schemes, hosts and address ranges (server-side request forgery
//! guard), timeouts and size limits. The default transport allows nothing.

use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The destination is not on the allow-list (scheme, host or resolved address).
    #[error("outbound call to {0} is not allowed by configuration")]
    NotAllowed(String),
    #[error("outbound call failed: {0}")]
    Failed(String),
}

/// One HTTP request of a protocol client that builds its own (the OpenID Connect client of
/// upstream sign-in: discovery, JWKS, token endpoint).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer to an [`Exchange`], whatever its status.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub trait Outbound: Send + Sync + std::fmt::Debug {
    /// Sends `request` as given and answers the response (body at most the JSON limit).
    /// Transports that do not carry such calls refuse them.
    fn exchange<'a>(&'a self, request: Exchange) -> BoxFuture<'a, Result<Answer, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(request.url)) })
    }

    /// POSTs an `application/x-www-form-urlencoded` body; returns the HTTP status code.
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<u16, OutboundError>>;

    /// GETs a JSON document (e.g. a client's JWKS).
    fn get_json<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, OutboundError>>;

    /// POSTs `body` as `content_type` (a signing-request webhook's JWT); returns the HTTP
    /// status code. Transports that do not carry such calls refuse them.
    fn post_body<'a>(
        &'a self,
        url: &'a str,
        _content_type: &'a str,
        _body: &'a [u8],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }

    /// POSTs `body` as `content_type` and answers the body of a 2xx answer whose type is
    /// `accept` (an RFC 3161 `application/timestamp-query`, an OCSP request). Transports that
    /// do not carry binary exchanges refuse them.
    fn post_bytes<'a>(
        &'a self,
        url: &'a str,
        _content_type: &'a str,
        _accept: &'a str,
        _body: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }

    /// GETs a binary document (a CRL, a CA certificate) from a 2xx answer.
    fn get_bytes<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }
}

/// The default: no outbound call is allowed until the administrator configures an allow-list.
#[derive(Debug, Default)]
pub struct DenyAll;

impl Outbound for DenyAll {
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        _form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }

    fn get_json<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }
}
