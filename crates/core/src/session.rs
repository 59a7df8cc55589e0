//! SSO browser sessions: how a person authenticated ([`Authn`]), starting, finding and ending
//! sessions, and ending all of a person's access at once.

use serde_json::json;

use tessera_store::logout::EndedSession;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::{User, UserStatus};

use crate::audit::Event;
use crate::error::AdminError;
use crate::request::RequestMeta;
use crate::secrets::{random_id, random_token, sha256_hex};
use crate::{CoreError, Provider, acr};

/// The methods a login used and the level they reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authn {
    pub amr: Vec<String>,
    pub acr: String,
}

impl Authn {
    pub fn password() -> Authn {
        Authn {
            amr: vec!["pwd".into()],
            acr: acr::LOA1.into(),
        }
    }

    /// A passkey alone: possession of the key plus user verification on the device.
    pub fn passkey_only(synced: bool) -> Authn {
        Authn {
            amr: vec![key_amr(synced).into(), "user".into(), "mfa".into()],
            acr: acr::LOA2.into(),
        }
    }

    /// The methods of `first` plus a second factor.
    pub fn plus(first: &[String], factor: Factor) -> Authn {
        let mut amr: Vec<String> = first.to_vec();
        for m in [factor.amr(), "mfa"] {
            if !amr.iter().any(|a| a == m) {
                amr.push(m.into());
            }
        }
        Authn {
            amr,
            acr: acr::LOA2.into(),
        }
    }
}

/// `hwk` for a key bound to its device, `swk` for a passkey that may be synchronised.
fn key_amr(synced: bool) -> &'static str {
    if synced { "swk" } else { "hwk" }
}

/// A second factor just proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Totp,
    /// A hardware OTP token.
    OtpToken,
    RecoveryCode,
    Passkey {
        synced: bool,
    },
}

impl Factor {
    pub fn amr(self) -> &'static str {
        match self {
            // A recovery code is a one-time password from a printed list.
            Factor::Totp | Factor::OtpToken | Factor::RecoveryCode => "otp",
            Factor::Passkey { synced } => key_amr(synced),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::OtpToken => "otp_token",
            Factor::RecoveryCode => "recovery_code",
            Factor::Passkey { .. } => "passkey",
        }
    }
}

/// Starts an SSO session after a login; returns the cookie value (never stored) and the record.
///
/// When the same person re-authenticates in a live session (`prompt=login`, `max_age`), the
/// session is kept with a fresh `auth_time`, so the applications already in it keep their
/// sessions and refresh chains; it is named by a new cookie all the same (see
/// [`rotate_cookie`]). When someone else signs in on this browser, the previous person is
/// logged out everywhere (tokens revoked, back-channel logouts queued).
pub async fn start_session(
    p: &Provider,
    user: &User,
    previous_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(String, SessionRecord), CoreError> {
    start_session_with(p, user, &Authn::password(), previous_cookie, meta, now).await
}

/// [`start_session`] for any combination of factors.
pub async fn start_session_with(
    p: &Provider,
    user: &User,
    authn: &Authn,
    previous_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<(String, SessionRecord), CoreError> {
    if let Some((mut session, previous)) = current_session(p, previous_cookie, now).await? {
        if previous.id == user.id
            && let Some(cookie) = previous_cookie
        {
            session.auth_time = now;
            session.amr = authn.amr.clone();
            session.acr = authn.acr.clone();
            session.last_seen_at = now;
            session.expires_at = now + p.config.session_ttl;
            if let Some(fresh) = rotate_cookie(p, &session, cookie).await? {
                return Ok((fresh, session));
            }
        } else {
            end_session(p, &session, None, meta, now).await?;
        }
    }
    let cookie = random_token()?;
    let record = SessionRecord {
        id: random_id()?,
        sid: random_id()?,
        user_id: user.id.clone(),
        auth_time: now,
        amr: authn.amr.clone(),
        acr: authn.acr.clone(),
        source_ip: meta.source_ip.clone(),
        user_agent: meta
            .user_agent
            .as_ref()
            .map(|ua| ua.chars().take(256).collect()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + p.config.session_ttl,
        ended_at: None,
    };
    p.store
        .insert_session(&record, &sha256_hex(cookie.as_bytes()))
        .await?;
    Ok((cookie, record))
}

/// Saves a fresh authentication of `session` (its `auth_time`, `amr`, `acr` and expiry as
/// updated by the caller) under a new cookie value, returned; `old_cookie` stops naming it in
/// the same database statement, so on every replica. A cookie copied while the session was at
/// a lower level, or before its owner authenticated again, never inherits the new level.
/// `None` when the session ended or `old_cookie` was rotated meanwhile.
pub async fn rotate_cookie(
    p: &Provider,
    session: &SessionRecord,
    old_cookie: &str,
) -> Result<Option<String>, CoreError> {
    let fresh = random_token()?;
    let rotated = p
        .store
        .reauthenticate_session(
            session,
            &sha256_hex(old_cookie.as_bytes()),
            &sha256_hex(fresh.as_bytes()),
        )
        .await?;
    Ok(rotated.then_some(fresh))
}

/// The live session behind a cookie, with its user, if the user is still active.
pub async fn current_session(
    p: &Provider,
    cookie: Option<&str>,
    now: i64,
) -> Result<Option<(SessionRecord, User)>, CoreError> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let Some(session) = p
        .store
        .live_session_by_cookie(&sha256_hex(cookie.as_bytes()), now)
        .await?
    else {
        return Ok(None);
    };
    match p.store.user_by_id(&session.user_id).await? {
        Some(user) if user.status == UserStatus::Active => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// Ends a session: marks it ended, revokes its access tokens and online refresh families,
/// queues the back-channel notifications (one transaction), and audits `logout`. `None` when
/// it had already ended.
pub async fn end_session(
    p: &Provider,
    session: &SessionRecord,
    client_id: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<Option<EndedSession>, CoreError> {
    let give_up = now + p.config.backchannel_give_up;
    let Some(ended) = p
        .store
        .end_session_with_logout(&session.id, "logout", now, give_up)
        .await?
    else {
        return Ok(None);
    };
    p.audit(
        Event::Logout
            .at(now)
            .actor(&ended.user_id)
            .maybe_client(client_id)
            .meta(meta)
            .detail(json!({
                "sid": ended.sid,
                "tokens_revoked": ended.tokens_revoked,
                "refresh_families_revoked": ended.families_revoked,
                "backchannel_queued": ended.notifications,
            })),
    )
    .await?;
    Ok(Some(ended))
}

/// What [`end_user_access`] ended.
#[derive(Debug)]
pub(crate) struct Ended {
    sessions: usize,
    tokens: u64,
    queued: u64,
}

impl Ended {
    pub(crate) fn detail(&self, user_id: &str) -> serde_json::Value {
        json!({
            "user": user_id, "sessions_ended": self.sessions, "tokens_revoked": self.tokens,
            "backchannel_queued": self.queued,
        })
    }
}

/// Ends every session of `user` and revokes their tokens (disabling, password reset).
pub(crate) async fn end_user_access(
    p: &Provider,
    user: &User,
    reason: &str,
    now: i64,
) -> Result<Ended, AdminError> {
    // Each session ends as in a logout: the clients that took part in it are told over the
    // back channel (Back-Channel Logout 1.0), by the workers of the running servers.
    let give_up = now + p.config.backchannel_give_up;
    let ended = p
        .store
        .end_user_sessions_with_logout(&user.id, reason, now, give_up)
        .await?;
    let queued: u64 = ended.iter().map(|s| s.notifications).sum();
    let tokens = p.store.revoke_user_tokens(&user.id, now).await?;
    p.store
        .revoke_user_refresh_families(&user.id, reason, now)
        .await?;
    // Nor may a login half-way through (password given, second factor or change to come).
    p.store.delete_user_pending_logins(&user.id, None).await?;
    Ok(Ended {
        sessions: ended.len(),
        tokens,
        queued,
    })
}
