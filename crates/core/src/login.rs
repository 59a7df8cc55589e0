//! Password login, throttling of failures, and SSO browser sessions.

use std::sync::OnceLock;

use serde_json::json;
use tessera_store::users::{User, UserStatus};

use crate::audit::Event;
use crate::request::RequestMeta;
use crate::secrets::random_token;
use crate::throttle::{
    IP_DECAY_SECS, IP_FREE_FAILURES, USER_DECAY_SECS, USER_FREE_FAILURES, delay_after,
};
use crate::username::normalise_username;
use crate::{CoreError, Provider, password};

#[derive(Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// Unknown user or wrong password: the same answer, after the same work.
    BadCredentials,
    TooManyAttempts {
        retry_after: i64,
    },
    /// Shown only after the right password, so it reveals nothing to a guesser.
    Disabled,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("login refused: {0:?}")]
    Refused(LoginFailure),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for LoginError {
    fn from(e: tessera_store::StoreError) -> Self {
        LoginError::Internal(e.into())
    }
}

/// A valid Argon2id hash of a random password, checked when the user is unknown so that an
/// unknown name costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let pw = random_token().unwrap_or_else(|_| "tessera-dummy-password".into());
        password::hash(&pw).unwrap_or_else(|e| {
            // Without it, unknown users would be answered faster than known ones.
            tracing::error!(error = %e, "cannot compute the dummy password hash");
            String::new()
        })
    })
}

/// Computes the dummy hash ahead of the first login (it costs one Argon2id run).
pub fn warm_up() {
    let _ = dummy_hash();
}

fn throttle_keys(username: &str, meta: &RequestMeta) -> (String, Option<String>) {
    (
        format!("user:{username}"),
        meta.source_ip.as_ref().map(|ip| format!("ip:{ip}")),
    )
}

/// Why a password is checked: to sign in, or to confirm it in a signed-in session before it is
/// changed. Both count against the same throttle; they are audited apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Login,
    Confirm,
}

impl Purpose {
    fn throttled(self) -> Event {
        match self {
            Purpose::Login => Event::LoginThrottled,
            Purpose::Confirm => Event::PasswordConfirmThrottled,
        }
    }

    fn failure(self) -> Event {
        match self {
            Purpose::Login => Event::LoginFailure,
            Purpose::Confirm => Event::PasswordConfirmFailure,
        }
    }

    fn disabled(self) -> Event {
        match self {
            Purpose::Login => Event::LoginDisabled,
            Purpose::Confirm => Event::PasswordConfirmDisabled,
        }
    }
}

/// Refuses an attempt while `username` or its address is blocked, and audits it; the SOC
/// hears of it once per attack on each blocked key (the account, the address), at its onset.
async fn throttled(
    p: &Provider,
    purpose: Purpose,
    username: &str,
    meta: &RequestMeta,
    now: i64,
    (blocked_keys, blocked_until): (&[&str], i64),
) -> Result<User, LoginError> {
    crate::alerts::raise_at_onset(
        p,
        crate::alerts::Alert::BruteForce,
        blocked_keys,
        now,
        purpose
            .throttled()
            .at(now)
            .meta(meta)
            .detail(json!({ "username": username })),
    )
    .await?;
    Err(LoginError::Refused(LoginFailure::TooManyAttempts {
        retry_after: (blocked_until - now).max(1),
    }))
}

/// Checks a username and password. Every outcome is audited.
pub async fn authenticate(
    p: &Provider,
    username: &str,
    password_given: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<User, LoginError> {
    check(p, Purpose::Login, username, password_given, meta, now).await
}

/// Checks the current password of a signed-in person (before it is changed), under the same
/// throttle as logins, so a forgotten browser is no way around it. Failures are audited.
pub async fn confirm_password(
    p: &Provider,
    user: &User,
    password_given: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<User, LoginError> {
    let confirmed = check(
        p,
        Purpose::Confirm,
        &user.username,
        password_given,
        meta,
        now,
    )
    .await?;
    if confirmed.id != user.id {
        return Err(LoginError::Refused(LoginFailure::BadCredentials));
    }
    Ok(confirmed)
}

async fn check(
    p: &Provider,
    purpose: Purpose,
    username: &str,
    password_given: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<User, LoginError> {
    let username = normalise_username(username);
    let (user_key, ip_key) = throttle_keys(&username, meta);
    let mut blocked = 0;
    let mut blocked_keys = Vec::new();
    for key in std::iter::once(&user_key).chain(ip_key.as_ref()) {
        let until = p.store.blocked_until(key).await?;
        if until > now {
            blocked = blocked.max(until);
            blocked_keys.push(key.as_str());
        }
    }
    if blocked > now {
        return throttled(p, purpose, &username, meta, now, (&blocked_keys, blocked)).await;
    }

    // Count the attempt before checking it, so that concurrent attempts cannot all slip under
    // the limit: past the free ones, one attempt per block period goes through.
    let attempts = p
        .store
        .record_failure(&user_key, now, USER_DECAY_SECS)
        .await?;
    if attempts > USER_FREE_FAILURES {
        let until = now + delay_after(attempts, USER_FREE_FAILURES);
        if !p.store.claim_attempt(&user_key, now, until).await? {
            let blocked = p.store.blocked_until(&user_key).await?;
            let keys = [user_key.as_str()];
            return throttled(p, purpose, &username, meta, now, (&keys, blocked)).await;
        }
    }

    let user = p.store.user_by_username(&username).await?;
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let given = password_given.to_owned();
    // Each Argon2id run holds 19 MiB: bound how many run at once on this replica.
    let permit = p
        .hash_permits
        .acquire()
        .await
        .map_err(|e| CoreError::Internal(format!("password check queue: {e}")))?;
    let matches = tokio::task::spawn_blocking(move || password::verify(&given, &stored))
        .await
        .map_err(|e| CoreError::Internal(format!("password check task: {e}")))?;
    drop(permit);
    // People who came from the directory keep their domain password when the directory
    // checks passwords: it, not a local hash, decides (after the hash above, so that the time
    // taken tells nothing about who is who).
    let from_directory = match (&p.directory, &user) {
        (Some(directory), Some(u)) if p.store.directory_dn_of(&u.id).await?.is_some() => {
            Some(directory_accepts(directory.as_ref(), &username, password_given).await?)
        }
        _ => None,
    };

    let user = match user {
        Some(u) if from_directory == Some(true) => u,
        Some(u) if from_directory.is_none() && matches && u.password_hash.is_some() => u,
        _ => {
            // The attempt was counted above.
            let mut delay = delay_after(attempts, USER_FREE_FAILURES);
            if delay > 0 {
                p.store.block_until(&user_key, now + delay).await?;
            }
            if let Some(k) = &ip_key {
                let ip_failures = p.store.record_failure(k, now, IP_DECAY_SECS).await?;
                let ip_delay = delay_after(ip_failures, IP_FREE_FAILURES);
                if ip_delay > 0 {
                    p.store.block_until(k, now + ip_delay).await?;
                }
                delay = delay.max(ip_delay);
            }
            p.audit(
                purpose
                    .failure()
                    .at(now)
                    .meta(meta)
                    .detail(json!({ "username": username, "delay": delay })),
            )
            .await?;
            return Err(LoginError::Refused(LoginFailure::BadCredentials));
        }
    };
    if user.status != UserStatus::Active {
        p.audit(purpose.disabled().at(now).actor(&user.id).meta(meta))
            .await?;
        return Err(LoginError::Refused(LoginFailure::Disabled));
    }
    p.store.clear_failures(&user_key).await?;
    if purpose == Purpose::Confirm {
        return Ok(user);
    }
    p.audit(
        Event::LoginSuccess
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "amr": ["pwd"] })),
    )
    .await?;
    Ok(user)
}

/// Asks the directory; an empty password is refused here, never sent (an LDAP simple bind with
/// an empty password is an unauthenticated bind, which many servers "accept").
async fn directory_accepts(
    directory: &dyn crate::directory_sync::PasswordDirectory,
    username: &str,
    password_given: &str,
) -> Result<bool, LoginError> {
    if password_given.is_empty() {
        return Ok(false);
    }
    directory
        .check_password(username, password_given)
        .await
        .map_err(|e| {
            LoginError::Internal(CoreError::Internal(format!(
                "the directory cannot check the password of {username}: {e}"
            )))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::admin;
    use crate::secrets::sha256_hex;
    use crate::session::{current_session, start_session};
    use crate::testkit::{self, ACTOR, PASSWORD, T0};
    use crate::throttle::{FIRST_DELAY_SECS, MAX_DELAY_SECS};

    const WRONG: &str = "sai mật khẩu rồi";

    async fn login(p: &Provider, user: &str, pw: &str, now: i64) -> Result<User, LoginFailure> {
        match authenticate(p, user, pw, &RequestMeta::default(), now).await {
            Ok(u) => Ok(u),
            Err(LoginError::Refused(f)) => Err(f),
            Err(LoginError::Internal(e)) => panic!("internal error: {e}"),
        }
    }

    /// The newest audit entry: its event, actor and detail.
    async fn last_audit(p: &Provider) -> (String, Option<String>, serde_json::Value) {
        let e = p.store.recent_audit(1).await.unwrap().remove(0);
        (e.event, e.actor, serde_json::from_str(&e.detail).unwrap())
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_user_get_the_same_answer() {
        let p = testkit::provider(T0).await;
        let user = testkit::add_user(&p, "an.nv", None, &[], T0).await;

        assert_eq!(
            login(&p, "an.nv", WRONG, T0 + 1).await,
            Err(LoginFailure::BadCredentials)
        );
        let (event, actor, detail) = last_audit(&p).await;
        assert_eq!((event.as_str(), actor), ("login.failure", None));
        assert_eq!(detail["username"], "an.nv");

        assert_eq!(
            login(&p, "khong.co", PASSWORD, T0 + 2).await,
            Err(LoginFailure::BadCredentials)
        );
        let (event, _, detail) = last_audit(&p).await;
        assert_eq!(event, "login.failure");
        assert_eq!(detail["username"], "khong.co");

        // Names are matched after trimming and lower-casing, as they were stored.
        let ok = login(&p, "  An.NV ", PASSWORD, T0 + 3).await.unwrap();
        assert_eq!(ok.id, user.id);
        let (event, actor, _) = last_audit(&p).await;
        assert_eq!(event, "login.success");
        assert_eq!(actor.as_deref(), Some(user.id.as_str()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_guesses_cannot_slip_under_the_limit() {
        let p = testkit::provider(T0).await;
        testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let meta = RequestMeta {
            source_ip: None,
            user_agent: None,
        };
        let guesses: Vec<_> = (0..60)
            .map(|i| {
                let (p, meta) = (p.clone(), meta.clone());
                tokio::spawn(async move {
                    authenticate(&p, "an.nv", &format!("wrong-{i}"), &meta, T0).await
                })
            })
            .collect();
        let mut checked = 0;
        for g in guesses {
            match g.await.unwrap() {
                Err(LoginError::Refused(LoginFailure::BadCredentials)) => checked += 1,
                Err(LoginError::Refused(LoginFailure::TooManyAttempts { .. })) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            checked <= USER_FREE_FAILURES + 1,
            "{checked} passwords were checked"
        );
    }

    #[tokio::test]
    async fn failures_beyond_the_free_ones_throttle_even_the_right_password() {
        let p = testkit::provider(T0).await;
        testkit::add_user(&p, "an.nv", None, &[], T0).await;
        for i in 0..USER_FREE_FAILURES {
            assert_eq!(
                login(&p, "an.nv", WRONG, T0 + i).await,
                Err(LoginFailure::BadCredentials),
                "attempt {i}"
            );
        }
        let last_failure = T0 + USER_FREE_FAILURES - 1;
        let now = last_failure + 10;
        let Err(LoginFailure::TooManyAttempts { retry_after }) =
            login(&p, "an.nv", PASSWORD, now).await
        else {
            panic!("expected throttling");
        };
        assert!(retry_after > 0);
        assert_eq!(retry_after, last_failure + FIRST_DELAY_SECS - now);
        let (event, _, detail) = last_audit(&p).await;
        assert_eq!(event, "login.throttled");
        assert_eq!(detail["username"], "an.nv");
        let both = p.store.recent_audit(2).await.unwrap();
        assert_eq!(both[1].event, "alert.brute_force");
        assert!(
            both[1].detail.contains("\"cause\":\"login.throttled\""),
            "{both:?}"
        );

        // Still blocked one second before the end; free one second after.
        let r = login(&p, "an.nv", PASSWORD, now + retry_after - 1).await;
        assert_eq!(r, Err(LoginFailure::TooManyAttempts { retry_after: 1 }));
        login(&p, "an.nv", PASSWORD, now + retry_after + 1)
            .await
            .unwrap();
        assert_eq!(last_audit(&p).await.0, "login.success");
        // Success clears the count: one more failure is free again.
        let later = now + retry_after + 2;
        assert_eq!(
            login(&p, "an.nv", WRONG, later).await,
            Err(LoginFailure::BadCredentials)
        );
        login(&p, "an.nv", PASSWORD, later + 1).await.unwrap();
    }

    /// An attack is one `alert.brute_force` at its onset, however many attempts are refused;
    /// a later attack, after a quiet period, is alerted again.
    #[tokio::test]
    async fn brute_force_is_alerted_once_per_attack() {
        let p = testkit::provider(T0).await;
        testkit::add_user(&p, "an.nv", None, &[], T0).await;
        async fn alerts(p: &Provider) -> usize {
            let all = p.store.recent_audit(1000).await.unwrap();
            all.iter()
                .filter(|e| e.event == "alert.brute_force")
                .count()
        }
        /// Wrong passwords from `t` on, a second apart, until `refusals` were throttled.
        async fn attack(p: &Provider, mut t: i64, refusals: usize) -> i64 {
            let mut refused = 0;
            while refused < refusals {
                if let Err(LoginFailure::TooManyAttempts { .. }) = login(p, "an.nv", WRONG, t).await
                {
                    refused += 1;
                }
                t += 1;
                assert!(t < T0 + 100_000, "never throttled");
            }
            t
        }
        let end = attack(&p, T0, 10).await;
        assert_eq!(alerts(&p).await, 1);
        let throttled = p.store.recent_audit(1000).await.unwrap();
        let throttled = throttled
            .iter()
            .filter(|e| e.event == "login.throttled")
            .count();
        assert_eq!(throttled, 10, "every refusal is still audited");
        // Within the quiet period the same attack goes on: no new alert.
        let end = attack(&p, end + crate::alerts::QUIET_SECS - 5, 2).await;
        assert_eq!(alerts(&p).await, 1);
        // After a quiet period, a new attack.
        attack(&p, end + crate::alerts::QUIET_SECS + 1, 1).await;
        assert_eq!(alerts(&p).await, 2);
    }

    /// A guesser who waits out every block: the delay keeps doubling up to its cap instead of
    /// restarting with a fresh window every 15 minutes.
    #[tokio::test]
    async fn waiting_does_not_restart_the_count() {
        let p = testkit::provider(T0).await;
        testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let (mut t, mut checked) = (T0, Vec::new());
        while t < T0 + 2 * 3600 {
            match login(&p, "an.nv", WRONG, t).await {
                Err(LoginFailure::BadCredentials) => {
                    checked.push(t);
                    t += 1;
                }
                Err(LoginFailure::TooManyAttempts { retry_after }) => t += retry_after,
                other => panic!("unexpected {other:?}"),
            }
        }
        // One guess per 15 minutes once the delay reached its cap (a restarting window let
        // 5 free guesses through every 15 minutes).
        let second_hour = checked.iter().filter(|c| **c >= T0 + 3600).count();
        assert!(second_hour <= 5, "{second_hour} guesses: {checked:?}");
        assert!(
            checked.len() <= USER_FREE_FAILURES as usize + 12,
            "{checked:?}"
        );
    }

    #[tokio::test]
    async fn disabled_user_is_told_only_after_the_right_password() {
        let p = testkit::provider(T0).await;
        let user = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        admin::disable_user(&p, ACTOR, "an.nv", T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            login(&p, "an.nv", WRONG, T0 + 2).await,
            Err(LoginFailure::BadCredentials)
        );
        assert_eq!(last_audit(&p).await.0, "login.failure");
        assert_eq!(
            login(&p, "an.nv", PASSWORD, T0 + 3).await,
            Err(LoginFailure::Disabled)
        );
        let (event, actor, _) = last_audit(&p).await;
        assert_eq!(event, "login.disabled");
        assert_eq!(actor.as_deref(), Some(user.id.as_str()));
        let entries = p.store.recent_audit(100).await.unwrap();
        assert!(entries.iter().all(|e| e.event != "login.success"));
    }

    #[tokio::test]
    async fn session_lives_until_expires_at() {
        let p = testkit::provider(T0).await;
        let user = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let (cookie, record) = start_session(&p, &user, None, &RequestMeta::default(), T0)
            .await
            .unwrap();
        assert_eq!(record.expires_at, T0 + p.config.session_ttl);
        assert_eq!(record.auth_time, T0);
        let (s, u) = current_session(&p, Some(&cookie), record.expires_at - 1)
            .await
            .unwrap()
            .expect("live one second before expiry");
        assert_eq!((s.id, u.id), (record.id.clone(), user.id.clone()));
        for now in [record.expires_at, record.expires_at + 3600] {
            assert!(
                current_session(&p, Some(&cookie), now)
                    .await
                    .unwrap()
                    .is_none(),
                "at {now}"
            );
        }
        assert!(current_session(&p, None, T0).await.unwrap().is_none());
        assert!(
            current_session(&p, Some("not-a-cookie"), T0)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn another_person_signing_in_ends_the_previous_session() {
        let p = testkit::provider(T0).await;
        let an = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let binh = testkit::add_user(&p, "binh.tt", None, &[], T0).await;
        let meta = RequestMeta::default();
        let (old, _) = start_session(&p, &an, None, &meta, T0).await.unwrap();
        let (new, _) = start_session(&p, &binh, Some(&old), &meta, T0 + 5)
            .await
            .unwrap();
        assert!(
            current_session(&p, Some(&old), T0 + 6)
                .await
                .unwrap()
                .is_none()
        );
        let (_, who) = current_session(&p, Some(&new), T0 + 6)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(who.id, binh.id);
        let audit = p.store.recent_audit(10).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.event == "logout" && e.actor.as_deref() == Some(an.id.as_str()))
        );
    }

    #[tokio::test]
    async fn the_same_person_re_authenticating_keeps_the_session_under_a_new_cookie() {
        let p = testkit::provider(T0).await;
        let user = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let meta = RequestMeta::default();
        let (old, first) = start_session(&p, &user, None, &meta, T0).await.unwrap();
        let (again, second) = start_session(&p, &user, Some(&old), &meta, T0 + 5)
            .await
            .unwrap();
        assert_ne!(again, old, "a new cookie value");
        assert_eq!(
            (second.id.as_str(), second.sid.as_str()),
            (first.id.as_str(), first.sid.as_str()),
            "same session and sid: the apps in the session stay in it"
        );
        let (live, _) = current_session(&p, Some(&again), T0 + 6)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.auth_time, T0 + 5, "fresh auth_time");
        // A copy of the cookie taken before the re-authentication is refused, and does not
        // start or revive anything when presented again.
        assert!(
            current_session(&p, Some(&old), T0 + 6)
                .await
                .unwrap()
                .is_none()
        );
        let (third, _) = start_session(&p, &user, Some(&again), &meta, T0 + 7)
            .await
            .unwrap();
        assert!(
            current_session(&p, Some(&again), T0 + 8)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            current_session(&p, Some(&third), T0 + 8)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            p.store
                .live_user_sessions(&user.id, T0 + 8)
                .await
                .unwrap()
                .len(),
            1,
            "still one session"
        );
    }

    #[tokio::test]
    async fn session_of_a_disabled_user_is_gone() {
        let p = testkit::provider(T0).await;
        let an = testkit::add_user(&p, "an.nv", None, &[], T0).await;
        let binh = testkit::add_user(&p, "binh.tt", None, &[], T0).await;
        let meta = RequestMeta::default();
        let (an_cookie, _) = start_session(&p, &an, None, &meta, T0).await.unwrap();
        let (binh_cookie, _) = start_session(&p, &binh, None, &meta, T0).await.unwrap();
        // Through administration: sessions end with the account.
        admin::disable_user(&p, ACTOR, "an.nv", T0 + 1)
            .await
            .unwrap();
        assert!(
            current_session(&p, Some(&an_cookie), T0 + 2)
                .await
                .unwrap()
                .is_none()
        );
        // Status changed behind the sessions' back (another replica, a database edit): the
        // session row is still live, but the user check refuses it.
        p.store
            .set_user_status("binh.tt", UserStatus::Disabled, T0 + 1)
            .await
            .unwrap();
        assert!(
            current_session(&p, Some(&binh_cookie), T0 + 2)
                .await
                .unwrap()
                .is_none()
        );
        let row = p
            .store
            .live_session_by_cookie(&sha256_hex(binh_cookie.as_bytes()), T0 + 2)
            .await
            .unwrap();
        assert!(row.is_some(), "the session row itself is still live");
    }

    #[test]
    fn delay_grows_after_free_attempts_and_is_capped() {
        assert_eq!(delay_after(4, 5), 0);
        assert_eq!(delay_after(5, 5), 30);
        assert_eq!(delay_after(6, 5), 60);
        assert_eq!(delay_after(100, 5), MAX_DELAY_SECS);
    }
}
