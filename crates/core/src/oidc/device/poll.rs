//! The device's polling at the token endpoint (RFC 8628 §3.4–3.5).

use serde_json::json;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::clients::Client;
use tessera_store::device_codes::{DeviceCodeRecord, DeviceStatus};
use tessera_store::users::UserStatus;

use super::super::issue::{Authn, Granted, issue_granted};
use super::GRANT_TYPE;
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::{OAuthError, Provider};

fn err(code: ErrorCode, d: &str) -> OAuthError {
    OAuthError::new(code, d)
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`: every poll is counted in the
/// database (so `slow_down` holds whichever replica answers); an approved code is spent once.
pub async fn grant(
    p: &Provider,
    client: &Client,
    params: &Params,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let id = super::super::token::presented_id(params, "device_code")?;
    // Another client's code is as unknown as a made-up one (RFC 8628 §3.4: bound to its client).
    let Some(rec) = p.store.poll_device_code(&id, &client.id, now).await? else {
        return Err(invalid_code());
    };
    if rec.status == DeviceStatus::Used {
        return Err(invalid_code());
    }
    if now >= rec.expires_at {
        return Err(err(
            ErrorCode::ExpiredToken,
            "the device code expired; start again",
        ));
    }
    match rec.status {
        DeviceStatus::Denied => Err(err(
            ErrorCode::AccessDenied,
            "the person denied the request",
        )),
        DeviceStatus::Pending if rec.slowed => Err(err(
            ErrorCode::SlowDown,
            &format!(
                "polling too fast: wait {} seconds between polls",
                rec.interval_secs
            ),
        )),
        DeviceStatus::Pending => Err(err(
            ErrorCode::AuthorizationPending,
            "the person has not approved the request yet",
        )),
        _ => redeem(p, client, &rec, meta, now).await,
    }
}

fn invalid_code() -> OAuthError {
    err(
        ErrorCode::InvalidGrant,
        "the device code is invalid or already used",
    )
}

async fn redeem(
    p: &Provider,
    client: &Client,
    rec: &DeviceCodeRecord,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    if !p.store.spend_device_code(&rec.id).await? {
        return Err(invalid_code());
    }
    let refuse = |user_id: &str, why: &'static str| {
        Event::TokenRefused
            .at(now)
            .actor(user_id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "grant_type": GRANT_TYPE, "reason": why }))
    };
    let (Some(user_id), Some(session_id)) = (&rec.user_id, &rec.session_id) else {
        return Err(invalid_code());
    };
    let user = match p.store.user_by_id(user_id).await? {
        Some(u) if u.status == UserStatus::Active => u,
        _ => {
            p.audit(refuse(user_id, "user disabled or removed")).await?;
            return Err(invalid_code());
        }
    };
    let Some(session) = p.store.live_session(session_id, now).await? else {
        p.audit(refuse(user_id, "the approving session has ended"))
            .await?;
        return Err(err(
            ErrorCode::AccessDenied,
            "the person signed out before the device collected its tokens",
        ));
    };
    let granted = Granted {
        authn: Authn {
            user: &user,
            session_id: Some(&session.id),
            sid: Some(&session.sid),
            auth_time: session.auth_time,
            acr: &session.acr,
            amr: &session.amr,
        },
        scope: &rec.scope,
        nonce: None,
        code_id: None,
    };
    let (response, writes) = issue_granted(p, client, &granted, now).await?;
    p.commit(
        Event::TokenIssued
            .at(now)
            .actor(&user.id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "grant_type": GRANT_TYPE, "scope": rec.scope })),
        writes,
    )
    .await?;
    Ok(response)
}
