//! Hardware OTP tokens with the clock passed in: provisioning from a seed file, each code once,
//! the HOTP look-ahead window and resynchronisation, and signing in with a token alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_store::users::User;

use super::super::otp::{self, Spec};
use super::super::seed_file::{self, Seed};
use super::super::*;
use super::*;
use crate::session::{Authn, Factor};
use crate::testkit::{self, T0};

const ADMIN: &str = "cli:admin";
/// RFC 4226 Appendix D: "12345678901234567890" in base32; its first codes.
const SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SECRET: &[u8] = b"12345678901234567890";
const RFC4226_CODES: [&str; 10] = [
    "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
    "520489",
];
/// An 8-digit SHA-256 TOTP token with 60 s steps (the RFC 6238 Appendix B seed).
const TOTP_SECRET: &[u8] = b"12345678901234567890123456789012";
const TOTP_SPEC: Spec = Spec {
    algorithm: tessera_store::otp_tokens::OtpAlgorithm::Sha256,
    digits: 8,
};

fn meta() -> RequestMeta {
    RequestMeta::default()
}

fn seed_file() -> String {
    format!(
        "serial,secret,type,digits,period,algorithm,counter\n\
         HW-HOTP-1,{SECRET_B32},hotp,6,,SHA1,0\n\
         HW-TOTP-1,hex:{},totp,8,60,SHA256,\n",
        TOTP_SECRET
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn seed(serial: &str) -> Seed {
    seed_file::pick(seed_file::parse(&seed_file()).unwrap(), Some(serial)).unwrap()
}

async fn setup() -> (Provider, User) {
    let p = testkit::provider(T0 - 1000).await;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 1000).await;
    (p, user)
}

fn hotp_code(counter: u64) -> String {
    otp::hotp(SECRET, Spec::APP, counter).unwrap()
}

fn totp_code(at: i64) -> String {
    otp::totp(TOTP_SECRET, TOTP_SPEC, 60, at as u64).unwrap()
}

async fn events(p: &Provider) -> Vec<(String, String)> {
    p.store
        .recent_audit(50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.detail))
        .collect()
}

#[tokio::test]
async fn hotp_codes_work_once_within_the_look_ahead_window() {
    let (p, user) = setup().await;
    let info = import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    assert_eq!((info.kind, info.next_counter), ("hotp", Some(0)));
    assert_eq!(hotp_code(0), RFC4226_CODES[0]);

    let f = code::verify(&p, &user, RFC4226_CODES[0], &meta(), T0 + 1).await;
    assert_eq!(f.unwrap(), Factor::OtpToken);
    // Replayed: refused, and audited as such.
    let r = code::verify(&p, &user, RFC4226_CODES[0], &meta(), T0 + 2).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    assert!(
        events(&p)
            .await
            .iter()
            .any(|(e, d)| e == "mfa.failure" && d.contains("code already used"))
    );
    // The button was pressed four times unseen: the fifth code is accepted and the counter
    // moves there, so the codes skipped no longer work.
    code::verify(&p, &user, RFC4226_CODES[5], &meta(), T0 + 3)
        .await
        .unwrap();
    assert_eq!(list(&p, &user).await.unwrap()[0].next_counter, Some(6));
    let r = code::verify(&p, &user, RFC4226_CODES[3], &meta(), T0 + 4).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    // Ten counters ahead is the edge of the window: 6..=15.
    let r = code::verify(&p, &user, &hotp_code(16), &meta(), T0 + 5).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    code::verify(&p, &user, &hotp_code(15), &meta(), T0 + 6)
        .await
        .unwrap();
    // A success clears the wrong codes counted.
    assert_eq!(lockout(&p, &user.id, T0 + 6).await.unwrap(), None);
    let last = &list(&p, &user).await.unwrap()[0];
    assert_eq!(
        (last.next_counter, last.last_used_at),
        (Some(16), Some(T0 + 6))
    );
}

#[tokio::test]
async fn a_drifted_hotp_token_is_resynchronised_with_two_consecutive_codes() {
    let (p, user) = setup().await;
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    // Far outside the window.
    let r = code::verify(&p, &user, &hotp_code(500), &meta(), T0 + 1).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    // Two codes that do not follow each other are refused and change nothing.
    let r = resync(
        &p,
        &user,
        "HW-HOTP-1",
        &hotp_code(500),
        &hotp_code(502),
        ADMIN,
        T0 + 2,
    )
    .await;
    assert!(matches!(r, Err(CoreError::Invalid(_))), "{r:?}");
    assert_eq!(list(&p, &user).await.unwrap()[0].next_counter, Some(0));
    let skipped = resync(
        &p,
        &user,
        "HW-HOTP-1",
        &hotp_code(500),
        &hotp_code(501),
        ADMIN,
        T0 + 3,
    )
    .await
    .unwrap();
    assert_eq!(skipped, 500);
    assert_eq!(list(&p, &user).await.unwrap()[0].next_counter, Some(502));
    // Both codes are spent; the next one signs in.
    let r = code::verify(&p, &user, &hotp_code(501), &meta(), T0 + 4).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    code::verify(&p, &user, &hotp_code(502), &meta(), T0 + 5)
        .await
        .unwrap();
    assert!(
        events(&p)
            .await
            .iter()
            .any(|(e, d)| e == "mfa.otp_token.resynced" && d.contains("\"skipped\":500"))
    );
    // Beyond the resynchronisation window, and for a TOTP token, it is refused.
    let far = resync(
        &p,
        &user,
        "HW-HOTP-1",
        &hotp_code(502 + 1 + RESYNC_WINDOW as u64),
        &hotp_code(502 + 2 + RESYNC_WINDOW as u64),
        ADMIN,
        T0 + 6,
    )
    .await;
    assert!(matches!(far, Err(CoreError::Invalid(_))), "{far:?}");
    import(&p, &user, &seed("HW-TOTP-1"), ADMIN, T0 + 7)
        .await
        .unwrap();
    let r = resync(&p, &user, "HW-TOTP-1", "1", "2", ADMIN, T0 + 8).await;
    assert!(matches!(r, Err(CoreError::Invalid(m)) if m.contains("TOTP")));
    let r = resync(&p, &user, "NOPE", "1", "2", ADMIN, T0 + 8).await;
    assert!(matches!(r, Err(CoreError::Invalid(m)) if m.contains("NOPE")));
}

#[tokio::test]
async fn totp_token_codes_work_once_within_one_step_of_the_clock() {
    let (p, user) = setup().await;
    let info = import(&p, &user, &seed("HW-TOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    assert_eq!(
        (info.kind, info.digits, info.algorithm, info.period),
        ("totp", 8, "SHA256", Some(60))
    );
    let now = T0 + 600;
    let code = totp_code(now);
    assert_eq!(code.len(), 8);
    assert_eq!(
        code::verify(&p, &user, &code, &meta(), now).await.unwrap(),
        Factor::OtpToken
    );
    let r = code::verify(&p, &user, &code, &meta(), now + 1).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    // One step ahead works early, once; two steps away never.
    let next = totp_code(now + 60);
    code::verify(&p, &user, &next, &meta(), now + 2)
        .await
        .unwrap();
    let r = code::verify(&p, &user, &next, &meta(), now + 61).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    let r = code::verify(&p, &user, &totp_code(now + 240), &meta(), now + 62).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    // The code of a step before the last one spent is refused too.
    let r = code::verify(&p, &user, &totp_code(now), &meta(), now + 61).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
}

#[tokio::test]
async fn a_code_is_accepted_once_even_when_tried_twice_at_the_same_time() {
    let (p, user) = setup().await;
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    let m = meta();
    let (a, b) = tokio::join!(
        code::verify(&p, &user, RFC4226_CODES[2], &m, T0 + 1),
        code::verify(&p, &user, RFC4226_CODES[2], &m, T0 + 1),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
}

#[tokio::test]
async fn provisioning_is_audited_and_serials_are_unique() {
    let (p, user) = setup().await;
    let other = testkit::add_user(&p, "binh.tt", None, &[], T0).await;
    assert!(!enrolled(&p, &user.id).await.unwrap().any());
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    let e = enrolled(&p, &user.id).await.unwrap();
    assert!(e.any() && !e.totp && e.otp_tokens == 1, "{e:?}");
    // The same serial again, for anyone, is refused.
    for holder in [&user, &other] {
        let r = import(&p, holder, &seed("HW-HOTP-1"), ADMIN, T0 + 1).await;
        assert!(
            matches!(r, Err(CoreError::Conflict(ref m)) if m.contains("HW-HOTP-1")),
            "{r:?}"
        );
    }
    // The seed is sealed: not in the row, and bound to its holder and row.
    let row = &p.store.otp_tokens_of(&user.id).await.unwrap()[0];
    assert!(!row.secret.windows(SECRET.len()).any(|w| w == SECRET));
    assert!(
        p.keyed
            .open(&format!("otp_token:{}:{}", other.id, row.id), &row.secret)
            .is_err()
    );

    let codes = recovery::regenerate(&p, &user, &meta(), T0 + 2)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        !remove(&p, &other, "HW-HOTP-1", ADMIN, T0 + 3)
            .await
            .unwrap()
    );
    assert!(remove(&p, &user, "HW-HOTP-1", ADMIN, T0 + 3).await.unwrap());
    assert!(!remove(&p, &user, "HW-HOTP-1", ADMIN, T0 + 3).await.unwrap());
    // Recovery codes go with the last factor.
    assert_eq!(p.store.recovery_codes_left(&user.id).await.unwrap(), 0);
    assert!(list(&p, &user).await.unwrap().is_empty());
    // Removed, the serial may be given to someone else.
    import(&p, &other, &seed("HW-HOTP-1"), ADMIN, T0 + 4)
        .await
        .unwrap();

    let ev = events(&p).await;
    for name in ["mfa.otp_token.imported", "mfa.otp_token.removed"] {
        let (_, detail) = ev.iter().find(|(e, _)| e == name).unwrap();
        assert!(detail.contains("HW-HOTP-1"), "{detail}");
        assert!(!detail.contains(SECRET_B32), "{detail}");
    }
}

#[tokio::test]
async fn a_disabled_token_proves_nothing_until_enabled() {
    let (p, user) = setup().await;
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    assert!(
        set_disabled(&p, &user, "HW-HOTP-1", true, ADMIN, T0 + 1)
            .await
            .unwrap()
    );
    assert!(
        !set_disabled(&p, &user, "HW-HOTP-1", true, ADMIN, T0 + 1)
            .await
            .unwrap()
    );
    assert!(!enrolled(&p, &user.id).await.unwrap().any());
    let r = code::verify(&p, &user, RFC4226_CODES[0], &meta(), T0 + 2).await;
    assert!(matches!(r, Err(FactorError::NotEnrolled)), "{r:?}");
    assert!(
        set_disabled(&p, &user, "HW-HOTP-1", false, ADMIN, T0 + 3)
            .await
            .unwrap()
    );
    code::verify(&p, &user, RFC4226_CODES[0], &meta(), T0 + 4)
        .await
        .unwrap();
    let ev = events(&p).await;
    assert!(ev.iter().any(|(e, _)| e == "mfa.otp_token.disabled"));
    assert!(ev.iter().any(|(e, _)| e == "mfa.otp_token.enabled"));
}

#[tokio::test]
async fn wrong_token_codes_share_the_lockout_with_the_app() {
    let (p, user) = setup().await;
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    let wrong = (0..20)
        .map(|i| format!("{:06}", 111_111 * (i % 9 + 1)))
        .find(|c| !RFC4226_CODES.contains(&c.as_str()))
        .unwrap();
    for _ in 0..FACTOR_FREE_FAILURES {
        let r = code::verify(&p, &user, &wrong, &meta(), T0 + 1).await;
        assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    }
    let r = code::verify(&p, &user, RFC4226_CODES[0], &meta(), T0 + 2).await;
    assert!(
        matches!(r, Err(FactorError::TooManyAttempts { .. })),
        "{r:?}"
    );
    let ev = events(&p).await;
    assert!(
        ev.iter()
            .any(|(e, d)| e == "mfa.failure" && d.contains("otp_token"))
    );
    assert!(ev.iter().any(|(e, _)| e == "mfa.locked"));
}

/// Someone whose only second factor is a token signs in with it at level 2, and someone with
/// both an app and a token may type a code of either in the same field.
#[tokio::test]
async fn a_token_alone_signs_in_at_level_two() {
    let (p, user) = setup().await;
    import(&p, &user, &seed("HW-HOTP-1"), ADMIN, T0)
        .await
        .unwrap();
    let cookie = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    let c = candidate(&p, Some(&cookie), None, T0 + 1)
        .await
        .unwrap()
        .unwrap();
    // A policy's sign-in does not send this person to enrolment: the token is a factor.
    assert_eq!(
        enrol::gate(&p, &c, Place::SignIn, T0 + 1).await.unwrap(),
        Gate::HasFactor
    );
    let done = submit_factor(
        &p,
        c,
        FactorInput::Totp(&format!(" {} ", RFC4226_CODES[0])),
        None,
        &meta(),
        T0 + 2,
    )
    .await
    .unwrap();
    let Submitted::Done { session, .. } = done else {
        panic!("expected a session, got {done:?}");
    };
    assert_eq!(session.acr, crate::acr::LOA2);
    assert_eq!(session.amr, vec!["pwd", "otp", "mfa"]);
    let (_, detail) = events(&p)
        .await
        .into_iter()
        .find(|(e, _)| e == "login.success")
        .unwrap();
    assert!(detail.contains("\"factor\":\"otp_token\""), "{detail}");

    // With an authenticator app beside it, both kinds of code are taken in the same field.
    let e = totp::begin(&p, &user, "session-1", T0 + 10).await.unwrap();
    let first = totp::code_at(&e.secret_base32, T0 + 10).unwrap();
    totp::confirm(&p, &user, &first, "session-1", &meta(), T0 + 10)
        .await
        .unwrap();
    let app = totp::code_at(&e.secret_base32, T0 + 40).unwrap();
    assert_eq!(
        code::verify(&p, &user, &app, &meta(), T0 + 40)
            .await
            .unwrap(),
        Factor::Totp
    );
    assert_eq!(
        code::verify(&p, &user, RFC4226_CODES[1], &meta(), T0 + 41)
            .await
            .unwrap(),
        Factor::OtpToken
    );
    // A reset takes the token too.
    reset(&p, &user, ADMIN, T0 + 50).await.unwrap();
    assert!(list(&p, &user).await.unwrap().is_empty());
}
