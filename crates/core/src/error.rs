use tessera_proto::{ErrorBody, ErrorCode};
use tessera_store::StoreError;

/// Failures that are not the caller's fault (database, key custody).
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error(transparent)]
    Hsm(#[from] tessera_hsm::HsmError),
    #[error("{0}")]
    Internal(String),
    /// A request that cannot be carried out as asked (shown to the caller).
    #[error("{0}")]
    Invalid(String),
    /// The thing exists already or is in a state that forbids the change.
    #[error("{0}")]
    Conflict(String),
}

/// What a caller is told while the HSM is out of service.
pub const UNAVAILABLE: &str = "the key store (HSM) is temporarily unavailable; try again shortly";

impl CoreError {
    /// Whether the key custodian (the HSM) is out of service: a fault that passes, which
    /// callers answer with "try again later" (`503`, `temporarily_unavailable`).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CoreError::Hsm(e) if e.is_unavailable())
    }
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2, RFC 6750 §3.1), or an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{code}: {description}")]
    Protocol {
        code: ErrorCode,
        description: String,
    },
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError::Protocol {
            code,
            description: description.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            OAuthError::Protocol { code, .. } => *code,
            OAuthError::Internal(e) if e.is_unavailable() => ErrorCode::TemporarilyUnavailable,
            OAuthError::Internal(_) => ErrorCode::ServerError,
        }
    }

    /// The body to send; internal details never leave the server.
    pub fn body(&self) -> ErrorBody {
        match self {
            OAuthError::Protocol { code, description } => ErrorBody {
                error: *code,
                error_description: Some(description.clone()),
            },
            OAuthError::Internal(e) if e.is_unavailable() => ErrorBody {
                error: ErrorCode::TemporarilyUnavailable,
                error_description: Some(UNAVAILABLE.into()),
            },
            OAuthError::Internal(_) => ErrorBody {
                error: ErrorCode::ServerError,
                error_description: Some("internal error".into()),
            },
        }
    }
}

impl From<tessera_store::StoreError> for OAuthError {
    fn from(e: tessera_store::StoreError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<tessera_hsm::HsmError> for OAuthError {
    fn from(e: tessera_hsm::HsmError) -> Self {
        OAuthError::Internal(e.into())
    }
}

/// Errors shown to the person, never sent to the redirect URI (RFC 6749 §4.1.2.1): the client
/// or its redirect URI cannot be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    UnknownClient,
    InvalidRedirectUri,
    BadRequest,
    RequestExpired,
    /// The client is for the other population (citizens / officials).
    WrongAudience,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AdminError::Exists(what),
            StoreError::NotFound(what) => AdminError::NotFound(what),
            other => AdminError::Internal(other.into()),
        }
    }
}
