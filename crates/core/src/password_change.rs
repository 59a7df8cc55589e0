//! Changing a password: the change that a password set by an administrator demands at the next
//! sign-in, and the change people make themselves on `/account`.
//!
//! An administrator who hands out a password (or keeps a copy of it) must not be able to use
//! it for long: the account does nothing with it but choose a new one. Either way the person's
//! other sessions end, with back-channel logout to their applications.

use serde_json::json;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use crate::audit::Event;
use crate::login::{LoginError, LoginFailure, confirm_password};
use crate::mfa::{Candidate, RECENT_AUTH, Subject};
use crate::request::RequestMeta;
use crate::{CoreError, Provider, password};

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the current password is not right")]
    WrongCurrent,
    #[error("too many attempts; retry in {retry_after} s")]
    TooManyAttempts { retry_after: i64 },
    /// The new password breaks the policy (the reason, in English, for logs and APIs).
    #[error("{0}")]
    Weak(&'static str),
    #[error("the new password is the same as the current one")]
    Unchanged,
    /// The session was authenticated too long ago: sign in again first.
    #[error("authenticate again before changing the password")]
    NotRecent,
    /// A temporary-password change was asked for an account that has none.
    #[error("no password change is pending")]
    NotRequired,
    /// The password changed meanwhile (another browser or replica): start again.
    #[error("the password was changed meanwhile")]
    Conflict,
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for ChangeError {
    fn from(e: tessera_store::StoreError) -> Self {
        ChangeError::Internal(e.into())
    }
}

/// Self-service change on `/account`: the current password, in a session authenticated in the
/// last [`RECENT_AUTH`] seconds. Ends the person's other sessions; this one stays. Returns how
/// many sessions ended.
pub async fn change_own(
    p: &Provider,
    session: &SessionRecord,
    user: &User,
    current: &str,
    new: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<usize, ChangeError> {
    if session.user_id != user.id || now - session.auth_time > RECENT_AUTH {
        return Err(ChangeError::NotRecent);
    }
    password::check_new(new, &user.username).map_err(ChangeError::Weak)?;
    let confirmed = match confirm_password(p, user, current, meta, now).await {
        Ok(u) => u,
        Err(LoginError::Refused(LoginFailure::TooManyAttempts { retry_after })) => {
            return Err(ChangeError::TooManyAttempts { retry_after });
        }
        Err(LoginError::Refused(_)) => return Err(ChangeError::WrongCurrent),
        Err(LoginError::Internal(e)) => return Err(e.into()),
    };
    if new == current {
        return Err(ChangeError::Unchanged);
    }
    replace(
        p,
        &confirmed,
        new,
        Keep::Session(session),
        "self",
        meta,
        now,
    )
    .await
}

/// The change a temporary password demands, half-way through the sign-in `pending_id` (the
/// pending login that proved the temporary password moments ago, and which goes on). Ends every
/// session and every other pending login of the person.
pub async fn change_temporary(
    p: &Provider,
    user: &User,
    pending_id: &str,
    new: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<usize, ChangeError> {
    // Read again: the flag may have been cleared by a change in another browser.
    let Some(user) = p.store.user_by_id(&user.id).await? else {
        return Err(ChangeError::NotRequired);
    };
    if !user.password_must_change {
        return Err(ChangeError::NotRequired);
    }
    password::check_new(new, &user.username).map_err(ChangeError::Weak)?;
    let stored = user.password_hash.clone().unwrap_or_default();
    let given = new.to_owned();
    let same = {
        let _permit = p
            .hash_permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("password check queue: {e}")))?;
        tokio::task::spawn_blocking(move || password::verify(&given, &stored))
            .await
            .map_err(|e| CoreError::Internal(format!("password check task: {e}")))?
    };
    if same {
        return Err(ChangeError::Unchanged);
    }
    replace(
        p,
        &user,
        new,
        Keep::Pending(pending_id),
        "temporary",
        meta,
        now,
    )
    .await
}

/// Where a sign-in goes after its temporary password was replaced.
#[derive(Debug)]
pub enum AfterChange {
    /// The request needs level 2: the pending login waits for the second factor.
    SecondFactor,
    /// Nothing to go on with (the person or the pending login is gone): sign in again.
    StartAgain,
    /// Signed in with the new password: the session cookie to set, and the session.
    SignedIn {
        cookie: String,
        session: Box<SessionRecord>,
        user: Box<User>,
    },
}

/// After [`change_temporary`], the sign-in goes on as if the new password had been typed: to
/// the second factor when the request `handle` (or the person's policy) needs level 2, else
/// into a session.
pub async fn continue_sign_in(
    p: &Provider,
    c: &Candidate,
    handle: Option<&str>,
    session_cookie: Option<&str>,
    meta: &RequestMeta,
    now: i64,
) -> Result<AfterChange, CoreError> {
    let Some(user) = p.store.user_by_id(&c.user.id).await? else {
        return Ok(AfterChange::StartAgain);
    };
    let needed = crate::oidc::authorize::required_level(p, handle, &user, now).await?;
    if crate::mfa::rank(needed) > 1 {
        return Ok(AfterChange::SecondFactor);
    }
    let Subject::Pending(pending) = &c.subject else {
        return Ok(AfterChange::StartAgain);
    };
    // Exactly one session per pending login, across replicas.
    if !p.store.delete_pending_login(&pending.id).await? {
        return Ok(AfterChange::StartAgain);
    }
    let (cookie, session) =
        crate::session::start_session(p, &user, session_cookie, meta, now).await?;
    Ok(AfterChange::SignedIn {
        cookie,
        session: Box::new(session),
        user: Box::new(user),
    })
}

/// What a password change leaves running: the session it was made in, or the sign-in it was
/// made half-way through.
#[derive(Clone, Copy)]
enum Keep<'a> {
    Session(&'a SessionRecord),
    Pending(&'a str),
}

/// Stores `new` in place of the hash `user` was read with (compare-and-set), clears the
/// must-change flag, ends every session and pending login but `keep` (sessions with
/// back-channel logout), and audits.
async fn replace(
    p: &Provider,
    user: &User,
    new: &str,
    keep: Keep<'_>,
    how: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<usize, ChangeError> {
    let Some(old_hash) = user.password_hash.clone() else {
        return Err(ChangeError::Conflict);
    };
    let pw = new.to_owned();
    let new_hash = {
        let _permit = p
            .hash_permits
            .acquire()
            .await
            .map_err(|e| CoreError::Internal(format!("password hash queue: {e}")))?;
        tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| CoreError::Internal(format!("hash task: {e}")))??
    };
    if !p
        .store
        .change_user_password(&user.id, &old_hash, &new_hash, now)
        .await?
    {
        return Err(ChangeError::Conflict);
    }
    let give_up = now + p.config.backchannel_give_up;
    let mut ended = 0;
    let mut queued = 0;
    let pending = match keep {
        Keep::Pending(id) => Some(id),
        Keep::Session(_) => None,
    };
    p.store
        .delete_user_pending_logins(&user.id, pending)
        .await?;
    for s in p.store.live_user_sessions(&user.id, now).await? {
        if matches!(keep, Keep::Session(k) if k.id == s.id) {
            continue;
        }
        if let Some(e) = p
            .store
            .end_session_with_logout(&s.id, "password_changed", now, give_up)
            .await?
        {
            ended += 1;
            queued += e.notifications;
        }
    }
    p.audit(
        Event::PasswordChanged
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "how": how, "sessions_ended": ended, "backchannel_queued": queued })),
    )
    .await?;
    Ok(ended)
}

#[cfg(test)]
mod tests;
