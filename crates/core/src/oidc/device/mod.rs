//! The device authorization grant (RFC 8628) for kiosks and counter screens: the device asks
//! for a code ([`start`]), shows the user code and a QR code, and polls the token endpoint
//! ([`poll::grant`]) while the person approves on their phone ([`approval`]).

pub mod approval;
pub mod poll;
pub mod user_code;

use serde_json::json;
use tessera_proto::{DeviceAuthorizationResponse, ErrorCode};
use tessera_store::device_codes::{DeviceCodeRecord, DeviceStatus};

use super::client_auth;
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::secrets::{random_token, sha256_hex};
use crate::{OAuthError, Provider};

/// The grant type at the token endpoint (RFC 8628 §3.4); `device_code` is accepted as its
/// short name when registering a client.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long a device code lives: long enough to take out a phone and sign in.
pub const TTL_SECS: i64 = 600;
/// The polling interval first given to the device (RFC 8628 §3.2 default).
pub const INTERVAL_SECS: i64 = 5;
/// The page where people type the code.
pub const VERIFICATION_PATH: &str = "/device";

fn err(code: ErrorCode, d: &str) -> OAuthError {
    OAuthError::new(code, d)
}

/// `POST /device_authorization` (RFC 8628 §3.1–3.2): authenticates the client as the token
/// endpoint does, checks the scope, and records a new pending device code.
pub async fn start(
    p: &Provider,
    params: &Params,
    authorization: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<DeviceAuthorizationResponse, OAuthError> {
    let client = client_auth::authenticate_client(p, params, authorization, now).await?;
    if !client.grant_types.iter().any(|g| g == GRANT_TYPE) {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the device grant (tessera client add --grant-type device_code)",
        ));
    }
    let scope: Vec<&str> = params
        .get("scope")
        .unwrap_or("openid")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if scope.is_empty() {
        return Err(err(ErrorCode::InvalidScope, "scope is empty"));
    }
    if let Some(bad) = scope
        .iter()
        .find(|s| !client.allowed_scopes.iter().any(|a| a == *s))
    {
        return Err(err(
            ErrorCode::InvalidScope,
            &format!("scope '{bad}' is not allowed for this client"),
        ));
    }
    // Administration rights are approved on a console's consent page, never from a kiosk.
    if let Some(bad) = scope.iter().find(|s| s.starts_with("tessera:")) {
        return Err(err(
            ErrorCode::InvalidScope,
            &format!("scope '{bad}' cannot be granted to a device"),
        ));
    }
    let scope = scope.join(" ");
    let device_code = random_token()?;
    let id = sha256_hex(device_code.as_bytes());
    // A collision of user codes among live ones is rare (2^34 codes); draw again when it happens.
    let mut user_code = String::new();
    for _ in 0..5 {
        let candidate = user_code::generate()?;
        let record = DeviceCodeRecord {
            id: id.clone(),
            user_code: p.keyed.hash_user_code(&candidate),
            client_id: client.id.clone(),
            scope: scope.clone(),
            created_at: now,
            expires_at: now + TTL_SECS,
            interval_secs: INTERVAL_SECS,
            last_poll_at: None,
            slowed: false,
            status: DeviceStatus::Pending,
            user_id: None,
            session_id: None,
            decided_at: None,
        };
        if p.store.insert_device_code(&record).await? {
            user_code = candidate;
            break;
        }
    }
    if user_code.is_empty() {
        return Err(err(ErrorCode::TemporarilyUnavailable, "try again"));
    }
    p.audit(
        Event::DeviceCodeIssued
            .at(now)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "scope": scope })),
    )
    .await?;
    let shown = user_code::display(&user_code);
    let verification_uri = p.config.endpoint(VERIFICATION_PATH);
    Ok(DeviceAuthorizationResponse {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
        verification_uri,
        user_code: shown,
        expires_in: TTL_SECS as u64,
        interval: INTERVAL_SECS as u64,
    })
}
