//! Wire types of the signing-requests API (`/api/signing/requests`): a departmental app asks an
//! official for signatures, the official approves them with a second factor, and the app fetches
//! the signed documents. Shared by the server, the SDK's signing client and the tests.

use serde::{Deserialize, Serialize};

/// `POST /api/signing/requests`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewSigningRequest {
    /// What the official sees as the request's title.
    pub title: String,
    /// The official asked to sign (their username). Only with the app's client-credentials
    /// token (scope `sign:request`); with the official's own token (scope `sign`) it is absent
    /// or the token's own user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// 1 to 100 documents.
    pub documents: Vec<NewDocument>,
    /// The official's credential to sign with; default: their only usable signing credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// `B-B` (default), `B-T`, `B-LT` or `B-LTA` for PDFs; `B-B` or `B-T` for CMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Where the signed JWT announcing the outcome is POSTed (`https`, or `http` on loopback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
    /// Seconds the official has to decide: default 900, at most 86,400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

/// One document of a request: exactly one of `pdf`, `data` and `hash` is present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewDocument {
    pub name: String,
    /// A PDF (standard base64), signed in place (PAdES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
    /// Any file (standard base64), answered with a detached CAdES signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A precomputed hash (standard base64), with `hash_alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// `sha256`, `sha384` or `sha512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_alg: Option<String>,
    /// For a hash: `cms` (default), a detached CMS whose message digest is the hash, or `raw`,
    /// the bare signature value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// For a PDF: a visible signature; absent, the signature is invisible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<Appearance>,
}

/// Where a visible PDF signature goes: `rect` on `page`, or above the text `anchor` (on `page`,
/// else the last match in the document).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appearance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// `[x1, y1, x2, y2]` in the page's default user space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rect: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// `201` answer to [`NewSigningRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningRequestCreated {
    pub id: String,
    /// `pending`.
    pub status: String,
    /// The page where the official approves.
    pub approval_url: String,
    pub expires_at: i64,
}

/// `GET /api/signing/requests/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningRequestState {
    pub id: String,
    pub title: String,
    /// `pending`, `approved`, `rejected`, `expired`, `cancelled`, `signed` or `failed`.
    pub status: String,
    pub client_id: String,
    /// The official's username.
    pub signer: String,
    pub credential_id: String,
    pub level: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the official approved or rejected.
    pub decided_at: Option<i64>,
    /// Documents signed so far, for a progress bar.
    pub done: u32,
    pub documents: Vec<DocumentState>,
}

/// One document's state in [`SigningRequestState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentState {
    /// 0-based position in the request.
    pub index: u32,
    pub name: String,
    /// `pdf`, `data` or `hash`.
    pub kind: String,
    /// Lower-case hex SHA-256 of the document as submitted (for a hash: the hash itself).
    pub sha256: String,
    /// `pending`, `signed` or `failed`.
    pub status: String,
    pub error: Option<String>,
    /// Where the result is fetched once signed.
    pub result_url: Option<String>,
    /// `application/pdf`, `application/pkcs7-signature` or `application/octet-stream` (a raw
    /// signature value).
    pub result_type: Option<String>,
}

/// JOSE `typ` of the webhook JWT announcing a request's outcome.
pub const SIGNING_EVENT_TYP: &str = "signing-event+jwt";

/// The `events` member naming a signing-request event in the webhook JWT.
pub const SIGNING_EVENT: &str = "urn:tessera:signing-request";

/// What the webhook JWT's `events` member holds under [`SIGNING_EVENT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningEvent {
    /// The request's id.
    pub id: String,
    /// `signed`, `failed`, `rejected`, `expired` or `cancelled`.
    pub status: String,
}
