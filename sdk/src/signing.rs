//! Remote signing for departmental applications: ask an official for signatures
//! (`/api/signing/requests`), follow the request until the official decides and Tessera signs,
//! fetch the signed documents, check them with `/api/verify`, and verify the webhook Tessera
//! POSTs when a request ends.
//!
//! Two ways to call: the application's own client-credentials token with scope
//! `sign:request`, naming the signer (a unit's administrator must have allowed the
//! application), or the official's own access token with scope `sign` from the code flow.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera_sdk::SdkError> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tessera_sdk::signing::{Caller, SigningClient, document_from_path};
//! use tessera_sdk::ServiceClient;
//! use tessera_proto::signing::NewSigningRequest;
//!
//! let issuer = "https://sso.haiphong.gov.vn";
//! let service = ServiceClient::discover(issuer, "vanban", "s3cret").await?;
//! let client = SigningClient::discover(issuer, "vanban", Caller::Application(Arc::new(service))).await?;
//! let created = client
//!     .submit(&NewSigningRequest {
//!         title: "Quyết định bổ nhiệm".into(),
//!         signer: Some("an.nv".into()),
//!         documents: vec![document_from_path("quyet-dinh.pdf")?],
//!         callback_uri: Some("https://vanban.haiphong.gov.vn/hooks/signing".into()),
//!         ..NewSigningRequest::default()
//!     })
//!     .await?;
//! println!("ask the official to open {}", created.approval_url);
//! let done = client
//!     .wait(&created.id, Duration::from_secs(900), |s| println!("{}: {}/{}", s.status, s.done, s.documents.len()))
//!     .await?;
//! for d in done.documents.iter().filter(|d| d.status == "signed") {
//!     let (signed, _media_type) = client.result(&done.id, d.index).await?;
//!     std::fs::write(format!("signed-{}", d.name), signed).ok();
//! }
//! // In the handler of the callback URI (body: the JWT, Content-Type application/jwt):
//! # let body = "";
//! // A webhook is accepted once (by its `jti`); with several replicas of the application, give
//! // the client a shared store: `SigningClient::with_jti_store` (see `tessera_sdk::replay`).
//! let event = client.verify_webhook(body).await?;
//! println!("request {} is {}", event.event.id, event.event.status);
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::reqwest;
use serde_json::Value;
use tessera_proto::ProviderMetadata;
use tessera_proto::signing::{SIGNING_EVENT, SIGNING_EVENT_TYP, SigningEvent};

// The wire types an application builds and reads, so that it needs no other crate.
pub use tessera_proto::signing::{
    Appearance, DocumentState, NewDocument, NewSigningRequest, SigningRequestCreated,
    SigningRequestState,
};

use crate::ServiceClient;
use crate::error::{SdkError, body_preview, chain};
use crate::jws::{self, Signature};
use crate::replay::{InMemoryJtiStore, JtiStore};
use crate::transport::{check_secure, http_client};

/// Scope of the application's own token.
pub const REQUEST_SCOPE: &str = "sign:request";
/// Clock difference tolerated when checking a webhook's times, in seconds.
const LEEWAY_SECS: i64 = 60;
/// First and longest pause between two status reads in [`SigningClient::wait`].
const FIRST_POLL: Duration = Duration::from_secs(1);
const LONGEST_POLL: Duration = Duration::from_secs(15);

/// Whose token calls the API.
#[derive(Clone)]
pub enum Caller {
    /// The application, with client-credentials tokens of scope `sign:request` (renewed by
    /// the [`ServiceClient`] as they expire).
    Application(Arc<ServiceClient>),
    /// The official's access token (scope `sign`), obtained by the application in the code
    /// flow.
    Official(String),
}

impl std::fmt::Debug for Caller {
    // The official's token never goes to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Application(service) => f.debug_tuple("Application").field(service).finish(),
            Caller::Official(_) => f.write_str("Official(***)"),
        }
    }
}

/// A verified webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The request and the state it reached.
    pub event: SigningEvent,
    /// Unique per delivery attempt; the same outcome may be announced more than once.
    pub jti: String,
    pub issued_at: i64,
}

/// A signing-requests API client for one application.
pub struct SigningClient {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    caller: Caller,
    jwks_uri: String,
    algs: Vec<CoreJwsSigningAlgorithm>,
    jwks: RwLock<CoreJsonWebKeySet>,
    /// Webhooks already accepted, by `jti`.
    jtis: Arc<dyn JtiStore>,
}

impl std::fmt::Debug for SigningClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningClient")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn webhook_error(msg: String) -> SdkError {
    SdkError::Webhook(msg)
}

/// A document from bytes: a PDF (signed in place) when they start like one, else any file
/// (answered with a detached CAdES signature).
pub fn document(name: &str, bytes: &[u8]) -> NewDocument {
    let encoded = Some(STANDARD.encode(bytes));
    let is_pdf = bytes.starts_with(b"%PDF-");
    NewDocument {
        name: name.to_owned(),
        pdf: if is_pdf { encoded.clone() } else { None },
        data: if is_pdf { None } else { encoded },
        ..NewDocument::default()
    }
}

/// [`document`] from a file, named by its file name.
pub fn document_from_path(path: impl AsRef<Path>) -> Result<NewDocument, SdkError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| SdkError::Config(format!("cannot read {}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document".into());
    Ok(document(&name, &bytes))
}

impl SigningClient {
    /// Discovers the provider (its JWKS, for webhooks) and checks that it names itself
    /// `issuer`; `client_id` is the application's, the audience of its webhooks.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        caller: Caller,
    ) -> Result<SigningClient, SdkError> {
        let issuer = issuer.trim_end_matches('/').to_owned();
        let url = url::Url::parse(&format!("{issuer}/.well-known/openid-configuration"))
            .map_err(|e| SdkError::Config(format!("issuer `{issuer}`: {e}")))?;
        check_secure(&url, "issuer").map_err(SdkError::Config)?;
        let http = http_client()?;
        let metadata: ProviderMetadata = get_json(&http, url.as_str())
            .await
            .map_err(|e| SdkError::Discovery(format!("provider configuration: {e}")))?;
        if metadata.issuer != issuer {
            return Err(SdkError::Discovery(format!(
                "the provider calls itself `{}`, not `{issuer}`",
                metadata.issuer
            )));
        }
        let jwks_url = url::Url::parse(&metadata.jwks_uri)
            .map_err(|e| SdkError::Discovery(format!("jwks_uri: {e}")))?;
        check_secure(&jwks_url, "jwks_uri").map_err(SdkError::Discovery)?;
        let algs = metadata
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|a| serde_json::from_value(Value::String(a.clone())).ok())
            .collect();
        let jwks: CoreJsonWebKeySet = get_json(&http, &metadata.jwks_uri)
            .await
            .map_err(|e| SdkError::Discovery(format!("JWKS: {e}")))?;
        Ok(SigningClient {
            http,
            issuer,
            client_id: client_id.to_owned(),
            caller,
            jwks_uri: metadata.jwks_uri,
            algs,
            jwks: RwLock::new(jwks),
            jtis: Arc::new(InMemoryJtiStore::default()),
        })
    }

    /// The same client acting with an official's access token (scope `sign`), without a new
    /// discovery: for a web application that signs in officials and asks on their behalf.
    pub fn for_official(&self, access_token: &str) -> SigningClient {
        SigningClient {
            http: self.http.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            caller: Caller::Official(access_token.to_owned()),
            jwks_uri: self.jwks_uri.clone(),
            algs: self.algs.clone(),
            jwks: RwLock::new(
                self.jwks
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
            jtis: self.jtis.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/signing/requests{path}", self.issuer)
    }

    async fn bearer(&self) -> Result<String, SdkError> {
        match &self.caller {
            Caller::Application(service) => service.access_token(&[REQUEST_SCOPE]).await,
            Caller::Official(token) => Ok(token.clone()),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, SdkError> {
        let resp = req
            .bearer_auth(self.bearer().await?)
            .send()
            .await
            .map_err(|e| SdkError::Http(chain(&e)))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| SdkError::Http(chain(&e)))?;
        Err(api_error(status, &body))
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, SdkError> {
        let body = self
            .send(req)
            .await?
            .bytes()
            .await
            .map_err(|e| SdkError::Http(chain(&e)))?;
        serde_json::from_slice(&body)
            .map_err(|e| SdkError::Protocol(format!("{e} in {}", body_preview(&body))))
    }

    /// Asks for signatures (`201`): the answer names the page where the official approves.
    pub async fn submit(
        &self,
        request: &NewSigningRequest,
    ) -> Result<SigningRequestCreated, SdkError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| SdkError::Config(format!("signing request: {e}")))?;
        self.json(
            self.http
                .post(self.url(""))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// The request's state, with each document's.
    pub async fn status(&self, id: &str) -> Result<SigningRequestState, SdkError> {
        self.json(self.http.get(self.url(&format!("/{}", enc(id)))))
            .await
    }

    /// Withdraws a request the official has not decided yet.
    pub async fn cancel(&self, id: &str) -> Result<SigningRequestState, SdkError> {
        self.json(self.http.post(self.url(&format!("/{}/cancel", enc(id)))))
            .await
    }

    /// Reads the state until it is final (signed, failed, rejected, expired, cancelled),
    /// calling `progress` whenever it changed; pauses grow from 1 s to 15 s. Past `timeout`
    /// the answer is [`SdkError::Timeout`] (the request goes on: read it again later).
    pub async fn wait(
        &self,
        id: &str,
        timeout: Duration,
        mut progress: impl FnMut(&SigningRequestState),
    ) -> Result<SigningRequestState, SdkError> {
        let deadline = Instant::now() + timeout;
        let mut pause = FIRST_POLL;
        let mut last: Option<(String, u32)> = None;
        loop {
            let state = self.status(id).await?;
            let seen = (state.status.clone(), state.done);
            if last.as_ref() != Some(&seen) {
                progress(&state);
                last = Some(seen);
            }
            if is_final(&state.status) {
                return Ok(state);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SdkError::Timeout(format!(
                    "request {id} is still {} after {timeout:?}",
                    state.status
                )));
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(LONGEST_POLL);
        }
    }

    /// A signed document (or signature) and its media type.
    pub async fn result(&self, id: &str, index: u32) -> Result<(Vec<u8>, String), SdkError> {
        let resp = self
            .send(
                self.http
                    .get(self.url(&format!("/{}/documents/{index}", enc(id)))),
            )
            .await?;
        let media_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = resp.bytes().await.map_err(|e| SdkError::Http(chain(&e)))?;
        Ok((bytes.to_vec(), media_type))
    }

    /// Validates signatures with the provider's `/api/verify`: a signed PDF, or a detached
    /// signature with the `content` it signs. Answers the JSON report.
    pub async fn verify(&self, signed: &[u8], content: Option<&[u8]>) -> Result<Value, SdkError> {
        let url = format!("{}/api/verify", self.issuer);
        let req = match content {
            None => self
                .http
                .post(url)
                .header("content-type", "application/pdf")
                .body(signed.to_vec()),
            Some(content) => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({
                        "signature": STANDARD.encode(signed),
                        "content": STANDARD.encode(content),
                    })
                    .to_string(),
                ),
        };
        let resp = req.send().await.map_err(|e| SdkError::Http(chain(&e)))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| SdkError::Http(chain(&e)))?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| SdkError::Protocol(format!("verification report: {e}")))
    }

    /// Replaces the in-memory replay guard of webhooks: an application running as several
    /// replicas needs one they share (see [`crate::replay`]).
    pub fn with_jti_store(mut self, store: Arc<dyn JtiStore>) -> SigningClient {
        self.jtis = store;
        self
    }

    /// Verifies a webhook's body (the JWT) now. See [`verify_webhook_at`](Self::verify_webhook_at).
    pub async fn verify_webhook(&self, jwt: &str) -> Result<WebhookEvent, SdkError> {
        self.verify_webhook_at(jwt, crate::backchannel::unix_now())
            .await
    }

    /// Checks a webhook JWT at `now` (Unix seconds): signed by the provider with an
    /// algorithm it announces, typed `signing-event+jwt` (so neither an ID token nor a logout
    /// token passes), `iss` the provider, `aud` this application, unexpired, with the
    /// signing-request event, and not seen before (its `jti`, kept by the replay guard until
    /// it expires). Each delivery attempt has its own `jti`, so a retried announcement of the
    /// same outcome passes: handle an outcome idempotently.
    pub async fn verify_webhook_at(&self, jwt: &str, now: i64) -> Result<WebhookEvent, SdkError> {
        let jws = jws::parse(jwt.trim(), &self.algs, webhook_error)?;
        if jws::typ(&jws).as_deref() != Some(SIGNING_EVENT_TYP) {
            return Err(webhook_error(format!("typ is not {SIGNING_EVENT_TYP}")));
        }
        if let Signature::UnknownKey =
            jws::check_signature(&self.current_jwks(), &jws, webhook_error)?
        {
            // The provider rotated its keys: fetch them once more.
            let fresh: CoreJsonWebKeySet =
                get_json(&self.http, &self.jwks_uri).await.map_err(|e| {
                    webhook_error(format!("unknown signing key; JWKS refetch failed: {e}"))
                })?;
            *self.jwks.write().unwrap_or_else(PoisonError::into_inner) = fresh;
            if let Signature::UnknownKey =
                jws::check_signature(&self.current_jwks(), &jws, webhook_error)?
            {
                return Err(webhook_error(
                    "no provider key matches the signature".into(),
                ));
            }
        }
        let c = &jws.claims;
        if c["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(webhook_error("iss is not the provider".into()));
        }
        if !jws::audience_is(c, &self.client_id) {
            return Err(webhook_error("aud is not this application".into()));
        }
        let (Some(iat), Some(exp)) = (c["iat"].as_i64(), c["exp"].as_i64()) else {
            return Err(webhook_error("iat and exp are required".into()));
        };
        if iat > now + LEEWAY_SECS || exp + LEEWAY_SECS <= now {
            return Err(webhook_error("the token is not valid now".into()));
        }
        let event: SigningEvent = serde_json::from_value(c["events"][SIGNING_EVENT].clone())
            .map_err(|_| webhook_error("events lacks the signing-request event".into()))?;
        let jti = c["jti"]
            .as_str()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| webhook_error("jti is required".into()))?
            .to_owned();
        if !self.jtis.remember(&jti, exp + LEEWAY_SECS, now).await? {
            return Err(webhook_error(
                "this webhook was already received (its jti is replayed)".into(),
            ));
        }
        Ok(WebhookEvent {
            event,
            jti,
            issued_at: iat,
        })
    }

    fn current_jwks(&self) -> CoreJsonWebKeySet {
        self.jwks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Whether a request can change no more.
pub fn is_final(status: &str) -> bool {
    !matches!(status, "pending" | "approved")
}

fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn api_error(status: u16, body: &[u8]) -> SdkError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|v| v["error"].as_str()) {
        Some(error) => SdkError::SigningApi {
            status,
            error: error.to_owned(),
            description: parsed
                .as_ref()
                .and_then(|v| v["error_description"].as_str())
                .map(str::to_owned),
        },
        None => SdkError::Protocol(format!("HTTP status {status}: {}", body_preview(body))),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let resp = http.get(url).send().await.map_err(|e| chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    let body = resp.bytes().await.map_err(|e| chain(&e))?;
    serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn documents_are_pdfs_by_their_bytes_and_errors_keep_the_servers_words() {
        let pdf = document("qd.pdf", b"%PDF-1.7 ...");
        assert!(pdf.pdf.is_some() && pdf.data.is_none());
        let txt = document("qd.pdf", b"not a pdf");
        assert!(txt.pdf.is_none() && txt.data.as_deref() == Some("bm90IGEgcGRm"));
        let e = api_error(
            413,
            br#"{"error":"invalid_request","error_description":"too large"}"#,
        );
        assert!(
            matches!(&e, SdkError::SigningApi { status: 413, error, description: Some(d) } if error == "invalid_request" && d == "too large"),
            "{e}"
        );
        assert!(matches!(api_error(502, b"<html>"), SdkError::Protocol(_)));
        assert!(is_final("cancelled") && is_final("signed") && !is_final("approved"));
        let official = format!("{:?}", Caller::Official("eyJ.secret.token".into()));
        assert!(!official.contains("secret"), "{official}");
    }
}
