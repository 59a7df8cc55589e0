//! The person's side of the device grant: the verification page looks a typed user code up
//! ([`find`]) and records the decision ([`decide`]). Both need a signed-in person at the level
//! the application requires; wrong codes are counted per person, so a phone cannot guess its
//! way into somebody else's kiosk (RFC 8628 §5.1).

use serde_json::json;
use tessera_store::clients::Client;
use tessera_store::device_codes::{DeviceCodeRecord, DeviceStatus};
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::{GRANT_TYPE, user_code};
use crate::audit::Event;
use crate::mfa::{self, policy};
use crate::request::RequestMeta;
use crate::{CoreError, Provider};

/// Wrong codes a person may type before being held back; one is forgiven every
/// [`GUESS_DECAY_SECS`] seconds.
const GUESS_LIMIT: i64 = 10;
const GUESS_DECAY_SECS: i64 = 360;

/// A pending request as the confirmation page names it.
#[derive(Clone, Debug)]
pub struct Pending {
    pub client: Client,
    /// As shown: `BCDF-GHJK`.
    pub user_code: String,
    pub scope: Vec<String>,
    pub expires_at: i64,
    record: DeviceCodeRecord,
}

#[derive(Debug)]
pub enum Found {
    Pending(Box<Pending>),
    /// Unknown, expired or already decided: one answer for all, nothing revealed.
    NotFound,
    /// Too many wrong codes lately; try again at this instant.
    Throttled(i64),
    /// The application needs a higher level than this session's (`acr`).
    StepUp(&'static str),
    /// The application is for the other population (citizens / officials).
    WrongAudience(String),
}

fn guess_key(user_id: &str) -> String {
    format!("device-user-code:{user_id}")
}

/// Looks up the code `typed` for `user`, counting a wrong one.
pub async fn find(
    p: &Provider,
    user: &User,
    session: &SessionRecord,
    typed: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<Found, CoreError> {
    let key = guess_key(&user.id);
    if let Some(at) = p
        .store
        .throttle_state(&key)
        .await?
        .and_then(|t| t.below_at(now, GUESS_LIMIT, GUESS_DECAY_SECS))
    {
        return Ok(Found::Throttled(at));
    }
    let record = match user_code::normalise(typed) {
        Some(code) => {
            p.store
                .device_code_by_user_code(&p.keyed.hash_user_code(&code), now)
                .await?
        }
        None => None,
    };
    let found = match record.filter(|r| r.status == DeviceStatus::Pending) {
        Some(r) => p.store.client(&r.client_id).await?.map(|c| (r, c)),
        None => None,
    };
    let Some((record, client)) =
        found.filter(|(_, c)| c.grant_types.iter().any(|g| g == GRANT_TYPE))
    else {
        p.store.record_failure(&key, now, GUESS_DECAY_SECS).await?;
        p.audit(
            Event::DeviceUserCodeRefused
                .at(now)
                .actor(&user.id)
                .meta(meta)
                .detail(json!({ "reason": "unknown, expired or decided user code" })),
        )
        .await?;
        return Ok(Found::NotFound);
    };
    // Citizens and officials are separate populations, as for authorization codes.
    let audience = p.store.client_audience(&client.id).await?;
    if !crate::upstream::admits(&audience, user) {
        return Ok(Found::WrongAudience(format!(
            "{} is for {audience} only",
            client.name
        )));
    }
    let needed = policy::required(p, &client, &[], user).await?;
    if mfa::rank(&session.acr) < mfa::rank(needed) {
        return Ok(Found::StepUp(needed));
    }
    Ok(Found::Pending(Box::new(Pending {
        user_code: user_code::display(&user_code::normalise(typed).unwrap_or_default()),
        scope: record.scope.split(' ').map(str::to_owned).collect(),
        expires_at: record.expires_at,
        client,
        record,
    })))
}

#[derive(Debug)]
pub enum Decided {
    Approved(Box<Pending>),
    Denied(Box<Pending>),
    /// As [`Found`] when the code did not lead to a pending request (or was decided meanwhile).
    Not(Found),
}

/// Approves or denies the request behind `typed`. An approval joins the device's application
/// to this session, so that signing out here signs the kiosk out too (back-channel logout).
pub async fn decide(
    p: &Provider,
    user: &User,
    session: &SessionRecord,
    typed: &str,
    approve: bool,
    meta: &RequestMeta,
    now: i64,
) -> Result<Decided, CoreError> {
    let pending = match find(p, user, session, typed, meta, now).await? {
        Found::Pending(pending) => pending,
        other => return Ok(Decided::Not(other)),
    };
    let id = &pending.record.id;
    if !p
        .store
        .decide_device_code(id, approve, &user.id, &session.id, now)
        .await?
    {
        return Ok(Decided::Not(Found::NotFound));
    }
    let event = if approve {
        p.store
            .add_session_client(&session.id, &pending.client.id, now)
            .await?;
        Event::DeviceApproved
    } else {
        Event::DeviceDenied
    };
    p.audit(
        event
            .at(now)
            .actor(&user.id)
            .client(&pending.client.id)
            .meta(meta)
            .detail(json!({ "sid": session.sid, "scope": pending.record.scope })),
    )
    .await?;
    Ok(if approve {
        Decided::Approved(pending)
    } else {
        Decided::Denied(pending)
    })
}
