//! The CSC API v2 subset under `/csc/v2/` (Cloud Signature Consortium API v2.0.0.2): thin
//! handlers over `tessera_core::signing::remote::csc`. Every answer is JSON; every refusal is
//! the CSC error body `{"error", "error_description"}` (§10.1), mapped once in [`error`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use tessera_core::oidc::authorization_details::CREDENTIAL_TYPE;
use tessera_core::signing::remote::csc::authorize::{self, Authorized};
use tessera_core::signing::remote::csc::{self, CscCaller, CscError, credentials, sign};
use tessera_proto::csc::{
    AuthorizeCheckPending, AuthorizeCheckRequest, AuthorizePending, AuthorizeRequest,
    AuthorizeResponse, CscError as ErrorBody, InfoRequest, InfoResponse, ListRequest, ListResponse,
    SignAlgorithms, SignDocRequest, SignDocResponse, SignHashRequest, SignHashResponse,
};
use tower_http::limit::RequestBodyLimitLayer;

use super::AppState;
use super::extract::{Bearer, Meta, Now};

/// The methods this service offers (`info.methods`).
const METHODS: &[&str] = &[
    "info",
    "credentials/list",
    "credentials/info",
    "credentials/authorize",
    "credentials/authorizeCheck",
    "signatures/signHash",
    "signatures/signDoc",
    // The authorization server's endpoints under `oauth2` (§8.3): the code flow with scopes
    // `service` and `credential`, pushed requests for long `authorization_details`.
    "oauth2/authorize",
    "oauth2/pushed_authorize",
    "oauth2/token",
    "oauth2/revoke",
];

pub fn routes(config: &tessera_core::signing::remote::RemoteConfig) -> Router<AppState> {
    let small = Router::new()
        .route("/csc/v2/info", post(info))
        .route("/csc/v2/credentials/list", post(list))
        .route("/csc/v2/credentials/info", post(credential_info))
        .route("/csc/v2/credentials/authorize", post(authorize))
        .route("/csc/v2/credentials/authorizeCheck", post(authorize_check))
        .route("/csc/v2/signatures/signHash", post(sign_hash))
        .layer(RequestBodyLimitLayer::new(super::MAX_BODY_BYTES));
    // PDFs: the handler answers an oversized body with a CSC 413 itself.
    let documents = Router::new()
        .route("/csc/v2/signatures/signDoc", post(sign_doc))
        .layer(DefaultBodyLimit::max(super::signing_api::max_body(config)));
    small.merge(documents)
}

/// The CSC error answer for `e`.
pub fn error(e: CscError) -> Response {
    let (status, code) = match &e {
        CscError::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
        CscError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
        CscError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        CscError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
        CscError::Otp(_) => (StatusCode::BAD_REQUEST, "invalid_otp"),
        CscError::Sad(_) => (StatusCode::BAD_REQUEST, "invalid_sad"),
        CscError::Suspended(_) => (StatusCode::BAD_REQUEST, "credential_suspended"),
        CscError::Revoked(..) => (StatusCode::BAD_REQUEST, "credential_revoked"),
        CscError::Expired(_) => (StatusCode::BAD_REQUEST, "credential_expired"),
        CscError::Unusable(_) => (StatusCode::BAD_REQUEST, "credential_unusable"),
        CscError::Denied(_) => (StatusCode::FORBIDDEN, "access_denied"),
        CscError::RequestEnded(_) => (StatusCode::BAD_REQUEST, "expired_request"),
        CscError::Internal(c) if c.is_unavailable() => {
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        CscError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    };
    let description = match &e {
        CscError::Internal(cause) => {
            super::errors::log_internal("CSC call failed", cause);
            if cause.is_unavailable() {
                tessera_core::error::UNAVAILABLE.to_owned()
            } else {
                "internal error".to_owned()
            }
        }
        // Each SAD refusal says which rule it broke (replay, hash, expiry, credential, client).
        CscError::Sad(s) => format!("SAD refused ({}): {s}", s.code()),
        other => other.to_string(),
    };
    let mut r = json(
        status,
        ErrorBody {
            error: code.into(),
            error_description: description.clone(),
        },
    );
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = HeaderValue::from_str(&format!(
            "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "")
        ))
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r = super::errors::retry_later(r);
    }
    r
}

fn json(status: StatusCode, body: impl serde::Serialize) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn caller(s: &AppState, headers: &HeaderMap, now: i64) -> Result<CscCaller, CscError> {
    let Bearer(token) = Bearer::from_headers(headers).map_err(|_| {
        CscError::InvalidToken("an access token is required (Authorization: Bearer)".into())
    })?;
    csc::caller(&s.provider, &token, now).await
}

/// The JSON body as `T`, or the CSC error for it.
fn body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, CscError> {
    let bytes = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(CscError::TooLarge(format!(
                "the request is over the limit of {limit} bytes"
            )));
        }
        Err(e) => return Err(CscError::Invalid(e.body_text())),
    };
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| CscError::Invalid(format!("the body is not a valid request: {e}")))
}

/// `info` needs no token (§11.1).
async fn info(State(s): State<AppState>) -> Response {
    let issuer = &s.provider.config.issuer;
    json(
        StatusCode::OK,
        InfoResponse {
            specs: "2.0.0.2".into(),
            name: "Tessera".into(),
            logo: None,
            region: "VN".into(),
            lang: "vi-VN".into(),
            description: "Ký số từ xa bằng chứng thư số của cán bộ (Tessera)".into(),
            auth_type: vec!["oauth2code".into()],
            oauth2: issuer.clone(),
            oauth2_issuer: issuer.clone(),
            asynchronous_operation_mode: false,
            methods: METHODS.iter().map(|m| (*m).to_owned()).collect(),
            validation_info: false,
            sign_algorithms: Some(SignAlgorithms {
                algos: csc::sign_algos().into_iter().map(str::to_owned).collect(),
            }),
            authorization_details_types_supported: vec![CREDENTIAL_TYPE.to_owned()],
        },
    )
}

async fn list(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: ListRequest = body(raw, super::MAX_BODY_BYTES)?;
        let listed = credentials::list(&s.provider, &c, &req, now).await?;
        let infos = req
            .credential_info
            .then(|| listed.iter().filter_map(|(_, i)| i.clone()).collect());
        Ok::<_, CscError>(ListResponse {
            credential_ids: listed.into_iter().map(|(id, _)| id).collect(),
            credential_infos: infos,
            only_valid: req.only_valid,
        })
    };
    match run.await {
        Ok(r) => json(StatusCode::OK, r),
        Err(e) => error(e),
    }
}

async fn credential_info(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: InfoRequest = body(raw, super::MAX_BODY_BYTES)?;
        credentials::info(
            &s.provider,
            &c,
            &req.credential_id,
            req.certificates.as_deref(),
            req.cert_info,
            req.auth_info,
            now,
        )
        .await
    };
    match run.await {
        Ok(r) => json(StatusCode::OK, r),
        Err(e) => error(e),
    }
}

async fn authorize(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: AuthorizeRequest = body(raw, super::MAX_BODY_BYTES)?;
        authorize::authorize(&s.provider, &c, &req, &meta, now).await
    };
    match run.await {
        Ok(Authorized::Sad { sad, expires_in }) => {
            json(StatusCode::OK, AuthorizeResponse { sad, expires_in })
        }
        Ok(Authorized::Pending {
            request_id,
            expires_at,
        }) => json(
            StatusCode::ACCEPTED,
            AuthorizePending {
                approval_url: format!("{}/sign/requests/{request_id}", s.provider.config.issuer),
                request_id,
                expires_in: (expires_at - now).max(0),
            },
        ),
        Err(e) => error(e),
    }
}

async fn authorize_check(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: AuthorizeCheckRequest = body(raw, super::MAX_BODY_BYTES)?;
        authorize::check(&s.provider, &c, &req.request_id, now).await
    };
    match run.await {
        Ok(Some((sad, expires_in))) => json(StatusCode::OK, AuthorizeResponse { sad, expires_in }),
        Ok(None) => json(
            StatusCode::ACCEPTED,
            AuthorizeCheckPending {
                status: "pending".into(),
            },
        ),
        Err(e) => error(e),
    }
}

async fn sign_hash(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: SignHashRequest = body(raw, super::MAX_BODY_BYTES)?;
        sign::sign_hash(&s.provider, &c, &req, &meta, now).await
    };
    match run.await {
        Ok(sigs) => json(
            StatusCode::OK,
            SignHashResponse {
                signatures: sigs.iter().map(|s| STANDARD.encode(s)).collect(),
            },
        ),
        Err(e) => error(e),
    }
}

async fn sign_doc(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let limit = super::signing_api::max_body(&s.provider.config.signing);
    let run = async {
        let c = caller(&s, &headers, now).await?;
        let req: SignDocRequest = body(raw, limit)?;
        sign::sign_doc(&s.provider, &c, &req, &meta, now).await
    };
    match run.await {
        Ok(pdfs) => json(
            StatusCode::OK,
            SignDocResponse {
                document_with_signature: pdfs.iter().map(|p| STANDARD.encode(p)).collect(),
            },
        ),
        Err(e) => error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::signing::remote::sad::SadError;

    async fn body_of(r: Response) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn each_refusal_has_its_code_and_words() {
        let cases = [
            (
                error(CscError::Sad(SadError::Expired)),
                400,
                "invalid_sad",
                "expired",
            ),
            (
                error(CscError::Sad(SadError::Replayed("h".into()))),
                400,
                "invalid_sad",
                "replayed",
            ),
            (
                error(CscError::Sad(SadError::HashNotAuthorized("h".into()))),
                400,
                "invalid_sad",
                "hash_not_authorized",
            ),
            (
                error(CscError::Suspended("c".into())),
                400,
                "credential_suspended",
                "suspended",
            ),
            (
                error(CscError::Revoked("c".into(), "keyCompromise".into())),
                400,
                "credential_revoked",
                "keyCompromise",
            ),
            (
                error(CscError::Otp("The OTP is invalid".into())),
                400,
                "invalid_otp",
                "OTP",
            ),
            (
                error(CscError::InvalidToken("gone".into())),
                401,
                "invalid_token",
                "gone",
            ),
        ];
        for (r, status, code, words) in cases {
            let (s, b) = body_of(r).await;
            assert_eq!(s.as_u16(), status);
            assert_eq!(b["error"], code);
            assert!(
                b["error_description"]
                    .as_str()
                    .is_some_and(|d| d.contains(words)),
                "{b}"
            );
        }
    }
}
