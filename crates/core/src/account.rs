//! The person's own account (`/account`): what they see of themselves, and ending one of their
//! sessions. Only the person's own data is ever read or changed here.

use tessera_store::audit::AuditEntry;
use tessera_store::mfa::WebauthnCredential;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use crate::mfa::otp_token::{self, TokenInfo};
use crate::mfa::totp::Enrolment;
use crate::mfa::{self, Candidate, Enrolled, Lockout, Subject, totp};
use crate::request::RequestMeta;
use crate::{CoreError, Provider, session};

/// Events of the person's own history shown on the page (name prefixes).
pub const HISTORY: [&str; 4] = ["login.", "mfa.", "logout", "password."];
const HISTORY_LEN: i64 = 15;

/// Everything `/account` shows about the signed-in person.
#[derive(Debug)]
pub struct Overview {
    pub unit_name: Option<String>,
    pub enrolled: Enrolled,
    /// Whether this session may change the sign-in methods now ([`may_change_sign_in_methods`]).
    pub can_manage: bool,
    /// An unfinished authenticator-app set-up, shown only to the session that began it.
    pub pending_totp: Option<Enrolment>,
    pub passkeys: Vec<WebauthnCredential>,
    /// Hardware OTP tokens the administrators gave the person.
    pub otp_tokens: Vec<TokenInfo>,
    /// The person's live sessions, newest first, with whether each is this one.
    pub sessions: Vec<(SessionRecord, bool)>,
    pub history: Vec<AuditEntry>,
    pub lockout: Option<Lockout>,
}

/// Whether `session` may add or remove the person's sign-in methods now: a recent enough
/// authentication, and a second factor when one is enrolled (see [`mfa::may_manage`]).
pub fn may_change_sign_in_methods(
    session: &SessionRecord,
    user: &User,
    enrolled: &Enrolled,
    now: i64,
) -> bool {
    let candidate = Candidate {
        user: user.clone(),
        subject: Subject::Session(session.clone()),
    };
    mfa::may_manage(&candidate, enrolled.any(), now)
}

pub async fn overview(
    p: &Provider,
    session: &SessionRecord,
    user: &User,
    now: i64,
) -> Result<Overview, CoreError> {
    let enrolled = mfa::enrolled(p, &user.id).await?;
    let can_manage = may_change_sign_in_methods(session, user, &enrolled, now);
    let pending_totp = if can_manage {
        totp::pending_enrolment(p, user, &session.id, now).await?
    } else {
        None
    };
    let unit_name = match &user.unit_id {
        Some(u) => p.store.unit(u).await?.map(|u| u.name),
        None => None,
    };
    let sessions = p
        .store
        .live_user_sessions(&user.id, now)
        .await?
        .into_iter()
        .map(|x| {
            let current = x.id == session.id;
            (x, current)
        })
        .collect();
    Ok(Overview {
        unit_name,
        enrolled,
        can_manage,
        pending_totp,
        passkeys: p.store.webauthn_credentials(&user.id).await?,
        otp_tokens: otp_token::list(p, user).await?,
        sessions,
        history: p
            .store
            .audit_of_actor(&user.id, &HISTORY, HISTORY_LEN)
            .await?,
        lockout: mfa::lockout(p, &user.id, now).await?,
    })
}

/// What ending one of one's sessions did.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnded {
    /// Another of the person's sessions ended (with back-channel logout queued).
    Other,
    /// The session making the request ended: the person is signed out.
    ThisOne,
    /// No live session of this person has that `sid`: nothing was done (someone else's
    /// session is never named, and never revealed).
    NotFound,
}

/// Ends the person's own session named by its OIDC `sid`.
pub async fn end_my_session(
    p: &Provider,
    current: &SessionRecord,
    user: &User,
    sid: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<SessionEnded, CoreError> {
    let sessions = p.store.live_user_sessions(&user.id, now).await?;
    let Some(target) = sessions.into_iter().find(|x| x.sid == sid) else {
        return Ok(SessionEnded::NotFound);
    };
    session::end_session(p, &target, None, meta, now).await?;
    Ok(if target.id == current.id {
        SessionEnded::ThisOne
    } else {
        SessionEnded::Other
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testkit::{self, T0};

    #[tokio::test]
    async fn a_person_ends_only_their_own_sessions() {
        let p = testkit::provider(T0).await;
        let an = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let binh = testkit::add_user(&p, "binh.tt", None, &[], T0).await;
        let (_, (mine, _)) = testkit::session(&p, &an, T0).await;
        let (_, (other_mine, _)) = testkit::session(&p, &an, T0 + 1).await;
        let (_, (theirs, _)) = testkit::session(&p, &binh, T0 + 2).await;
        let meta = RequestMeta::default();

        let seen = overview(&p, &mine, &an, T0 + 10).await.unwrap();
        assert_eq!(seen.sessions.len(), 2);
        assert_eq!(seen.sessions.iter().filter(|(_, cur)| *cur).count(), 1);
        assert!(seen.sessions.iter().all(|(s, _)| s.user_id == an.id));

        // Someone else's sid is not found, and that session lives on.
        let r = end_my_session(&p, &mine, &an, &theirs.sid, &meta, T0 + 20).await;
        assert_eq!(r.unwrap(), SessionEnded::NotFound);
        assert!(
            p.store
                .live_session(&theirs.id, T0 + 21)
                .await
                .unwrap()
                .is_some()
        );

        let r = end_my_session(&p, &mine, &an, &other_mine.sid, &meta, T0 + 30).await;
        assert_eq!(r.unwrap(), SessionEnded::Other);
        assert!(
            p.store
                .live_session(&other_mine.id, T0 + 31)
                .await
                .unwrap()
                .is_none()
        );
        let r = end_my_session(&p, &mine, &an, &mine.sid, &meta, T0 + 40).await;
        assert_eq!(r.unwrap(), SessionEnded::ThisOne);
        assert!(
            overview(&p, &mine, &an, T0 + 41)
                .await
                .unwrap()
                .sessions
                .is_empty()
        );
    }
}
