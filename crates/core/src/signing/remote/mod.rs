//! Remote signing (issue 13): an application asks an official for signatures, the official
//! approves with a second factor proven at that moment, and the signatures are made with the
//! official's credential in custody — only for exactly what was approved.
//!
//! - [`auth`]: the callers of the API and their scopes.
//! - [`submit`]: the signing-requests API's use cases (create, read, cancel, fetch results),
//!   with its limits; documents are sealed at rest under the master key.
//! - [`approval`]: approve (second factor → SAD) or reject, as the official.
//! - [`sad`]: Signature Activation Data (CSC SCAL2): bound to hashes, a credential, a client,
//!   five minutes, one use per hash, checked right before the HSM call on any replica.
//! - [`execute`]: signing an approved request's documents concurrently; one bad document
//!   fails alone.
//! - [`lifecycle`]: expiry, retention, and the outcome webhook's queue.
//! - [`webhook`]: delivery of the signed JWT announcing an outcome, with lease and retries.
//! - [`permissions`]: the applications a unit allowed to ask its people for signatures.
//! - [`review`]: what the official sees before deciding, and their signing history.
//!
//! Nothing here is kept in process memory: every state change is a conditional update in the
//! database, so any replica can serve any step.

pub mod approval;
pub mod auth;
pub mod csc;
pub mod execute;
pub mod lifecycle;
pub mod permissions;
pub mod review;
pub mod sad;
pub mod submit;
pub mod webhook;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use tessera_store::signing_requests::{DocumentRecord, RequestRecord};

use super::SigningError;
use crate::CoreError;
use crate::pki::PkiError;

pub use crate::oidc::SIGNING_SCOPES as SCOPES;

/// Limits and lifetimes of remote signing.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// Largest document accepted (bytes, decoded).
    pub max_document_bytes: usize,
    /// Largest request accepted (all documents, bytes, decoded).
    pub max_request_bytes: usize,
    /// At most this many documents per request.
    pub max_documents: usize,
    /// Default and longest time an official has to decide (seconds).
    pub default_expires_in: i64,
    pub max_expires_in: i64,
    /// Lifetime of Signature Activation Data (seconds).
    pub sad_ttl: i64,
    /// Contents and results are deleted this long after a request ends (seconds), or as soon
    /// as the application fetched every result.
    pub retention: i64,
    /// Documents signed at once (the HSM session pool's size is a good value).
    pub concurrency: usize,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            max_document_bytes: 25 * 1024 * 1024,
            max_request_bytes: 200 * 1024 * 1024,
            max_documents: 100,
            default_expires_in: 900,
            max_expires_in: 86_400,
            sad_ttl: 300,
            retention: 7 * 86_400,
            concurrency: 4,
        }
    }
}

/// A request's state (`signing_requests.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Signed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
            Status::Signed => "signed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            "expired" => Status::Expired,
            "cancelled" => Status::Cancelled,
            "signed" => Status::Signed,
            "failed" => Status::Failed,
            _ => return None,
        })
    }

    /// Whether the request can change no more.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Pending | Status::Approved)
    }
}

/// Why a remote-signing step was refused, each with words the caller can act on. The HTTP
/// layer maps these to status codes and OAuth/CSC error codes.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The access token is not valid (`401 invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// The access token lacks the scope (`403 insufficient_scope`).
    #[error("{0}")]
    InsufficientScope(String),
    /// A malformed or unacceptable request (`400 invalid_request`).
    #[error("{0}")]
    Invalid(String),
    /// Over a size limit (`413`).
    #[error("{0}")]
    TooLarge(String),
    /// The caller may not do this (`403 access_denied`).
    #[error("{0}")]
    Forbidden(String),
    /// No such request, or not one the caller may see (`404`).
    #[error("{0}")]
    NotFound(String),
    /// The request is not in a state that allows this (`409`).
    #[error("{0}")]
    WrongState(String),
    /// The credential cannot sign (suspended, revoked, expired, not the signer's).
    #[error("{0}")]
    Unusable(String),
    /// The SAD was refused.
    #[error(transparent)]
    Sad(#[from] sad::SadError),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for RemoteError {
    fn from(e: tessera_store::StoreError) -> Self {
        RemoteError::Internal(e.into())
    }
}

impl From<PkiError> for RemoteError {
    fn from(e: PkiError) -> Self {
        match e {
            PkiError::Unusable(m) => RemoteError::Unusable(m),
            PkiError::NotFound(m) => RemoteError::NotFound(format!("{m} not found")),
            PkiError::Internal(e) => RemoteError::Internal(e),
            other => RemoteError::Invalid(other.to_string()),
        }
    }
}

impl From<SigningError> for RemoteError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Pki(p) => p.into(),
            SigningError::Refused(m) => RemoteError::Forbidden(m),
            other => RemoteError::Invalid(other.to_string()),
        }
    }
}

/// A request with its documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    pub request: RequestRecord,
    pub documents: Vec<DocumentRecord>,
    /// The official's username.
    pub signer: String,
}

impl RequestView {
    pub fn status(&self) -> Status {
        Status::parse(&self.request.status).unwrap_or(Status::Failed)
    }

    /// Documents whose signing ended (signed or failed), for a progress bar.
    pub fn done(&self) -> usize {
        self.documents
            .iter()
            .filter(|d| d.status != "pending")
            .count()
    }
}

/// The context a document or result is sealed under: bound to its request and position, so a
/// sealed blob cannot be moved to another row.
fn seal_context(request_id: &str, idx: i64, what: &str) -> String {
    format!("signing-request:{request_id}:{idx}:{what}")
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    crate::pki::hex(bytes)
}
