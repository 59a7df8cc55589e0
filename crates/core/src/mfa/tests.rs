//! Second factors with the clock passed in, and a software authenticator for passkeys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_store::users::User;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use super::*;
use crate::admin::NewClient;
use crate::oidc::authorize::{self, Decision};
use crate::testkit::{self, ISSUER, REDIRECT, T0};

fn meta() -> RequestMeta {
    RequestMeta::default()
}

async fn setup() -> (Provider, User) {
    let p = testkit::provider(T0 - 1000).await;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 1000).await;
    (p, user)
}

/// Enrols and confirms TOTP at `T0`; returns the secret.
async fn with_totp(p: &Provider, user: &User) -> String {
    let e = totp::begin(p, user, "session-1", T0).await.unwrap();
    assert!(e.uri.starts_with("otpauth://totp/"));
    assert!(e.qr_svg.contains("<svg"));
    let code = totp::code_at(&e.secret_base32, T0).unwrap();
    totp::confirm(p, user, &code, "session-1", &meta(), T0)
        .await
        .unwrap();
    e.secret_base32
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
async fn totp_codes_work_once_within_one_step_of_the_clock() {
    let (p, user) = setup().await;
    let secret = with_totp(&p, &user).await;
    assert!(enrolled(&p, &user.id).await.unwrap().totp);
    // The confirmation code is spent: the same code is refused at once.
    let confirm_code = totp::code_at(&secret, T0).unwrap();
    assert!(matches!(
        code::verify(&p, &user, &confirm_code, &meta(), T0 + 1).await,
        Err(FactorError::Invalid)
    ));
    // The next step's code works one step early (skew), once.
    let next = totp::code_at(&secret, T0 + 30).unwrap();
    code::verify(&p, &user, &next, &meta(), T0 + 5)
        .await
        .unwrap();
    let replay = code::verify(&p, &user, &next, &meta(), T0 + 31).await;
    assert!(matches!(replay, Err(FactorError::Invalid)), "{replay:?}");
    // Two steps away is outside the window.
    let far = totp::code_at(&secret, T0 + 150).unwrap();
    assert!(matches!(
        code::verify(&p, &user, &far, &meta(), T0 + 60).await,
        Err(FactorError::Invalid)
    ));
    let ev = events(&p).await;
    assert!(
        ev.iter()
            .any(|(e, d)| e == "mfa.failure" && d.contains("code already used"))
    );
    assert!(ev.iter().any(|(e, _)| e == "mfa.totp.enrolled"));
}

/// A six-digit code that is none of the codes accepted at `at` (the step before, at and after).
fn wrong_code(secret: &str, at: i64) -> String {
    let accepted: Vec<String> = [at - 30, at, at + 30]
        .iter()
        .map(|t| totp::code_at(secret, *t).unwrap())
        .collect();
    (0..4)
        .map(|i| format!("{:06}", (at as u64 * 7919 + i) % 1_000_000))
        .find(|c| !accepted.contains(c))
        .unwrap()
}

#[tokio::test]
async fn wrong_totp_codes_lock_the_second_factor() {
    let (p, user) = setup().await;
    let secret = with_totp(&p, &user).await;
    let t = T0 + 100;
    for _ in 0..FACTOR_FREE_FAILURES {
        let r = code::verify(&p, &user, &wrong_code(&secret, t), &meta(), t).await;
        assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    }
    // Locked now, even for the right code; recovery codes share the count.
    let right = totp::code_at(&secret, t + 1).unwrap();
    let r = code::verify(&p, &user, &right, &meta(), t + 1).await;
    let Err(FactorError::TooManyAttempts { retry_after }) = r else {
        panic!("expected a lockout, got {r:?}");
    };
    assert_eq!(retry_after, FACTOR_DECAY_SECS - 1);
    let r = recovery::verify(&p, &user, "aaaa-bbbb", &meta(), t + 1).await;
    assert!(
        matches!(r, Err(FactorError::TooManyAttempts { .. })),
        "{r:?}"
    );
    // The lockout is audited and visible.
    let ev = events(&p).await;
    assert!(ev.iter().any(|(e, _)| e == "mfa.locked"), "{ev:?}");
    let l = lockout(&p, &user.id, t + 1).await.unwrap().unwrap();
    assert_eq!(l.failures, FACTOR_FREE_FAILURES);
    assert_eq!(l.locked_until, Some(t + FACTOR_DECAY_SECS));
    // Waiting one window no longer wipes the count: one attempt comes back per decay step.
    let later = t + 15 * 60;
    assert_eq!(
        lockout(&p, &user.id, later)
            .await
            .unwrap()
            .unwrap()
            .locked_until,
        None
    );
    let r = code::verify(&p, &user, &wrong_code(&secret, later), &meta(), later).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    let right = totp::code_at(&secret, later + 1).unwrap();
    let r = code::verify(&p, &user, &right, &meta(), later + 1).await;
    assert!(
        matches!(r, Err(FactorError::TooManyAttempts { .. })),
        "{r:?}"
    );
    // An administrator clears it; a success then starts from nothing.
    let cleared = unlock(&p, &user).await.unwrap();
    assert!(cleared.second_factor);
    assert_eq!(lockout(&p, &user.id, later + 1).await.unwrap(), None);
    code::verify(&p, &user, &right, &meta(), later + 1)
        .await
        .unwrap();
}

/// Someone who holds the password guesses a code every 10 s for three hours: in no hour are
/// more than 10 codes checked (with a 15-minute window that restarted, about 36 were).
#[tokio::test]
async fn at_most_ten_codes_are_checked_in_any_hour() {
    let (p, user) = setup().await;
    let secret = with_totp(&p, &user).await;
    let start = T0 + 1000;
    let mut checked = Vec::new();
    for i in 0..(3 * 360) {
        let at = start + i * 10;
        match code::verify(&p, &user, &wrong_code(&secret, at), &meta(), at).await {
            Err(FactorError::Invalid) => checked.push(at),
            Err(FactorError::TooManyAttempts { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let worst_hour = checked
        .iter()
        .map(|from| {
            checked
                .iter()
                .filter(|t| (*from..*from + 3600).contains(*t))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        worst_hour <= 10,
        "{worst_hour} codes in one hour: {checked:?}"
    );
    // Still usable by its owner: the lock lets attempts through as the count decays.
    assert!(checked.len() >= 15, "{checked:?}");
}

#[tokio::test]
async fn passkey_begins_are_limited_per_address() {
    let (p, _) = setup().await;
    let from = |ip: &str| RequestMeta {
        source_ip: Some(ip.into()),
        user_agent: None,
    };
    for _ in 0..passkey::BEGIN_BURST {
        passkey::admit_begin(&p, &from("10.0.0.9"), T0)
            .await
            .unwrap();
    }
    let r = passkey::admit_begin(&p, &from("10.0.0.9"), T0 + 1).await;
    let Err(FactorError::TooManyAttempts { retry_after }) = r else {
        panic!("expected a refusal, got {r:?}");
    };
    assert_eq!(retry_after, passkey::BEGIN_REFILL_SECS - 1);
    // Another address is not held back, and the first gets one more after the refill time.
    passkey::admit_begin(&p, &from("10.0.0.10"), T0 + 1)
        .await
        .unwrap();
    passkey::admit_begin(&p, &from("10.0.0.9"), T0 + passkey::BEGIN_REFILL_SECS)
        .await
        .unwrap();
    assert!(
        passkey::admit_begin(&p, &from("10.0.0.9"), T0 + passkey::BEGIN_REFILL_SECS)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn recovery_codes_work_once() {
    let (p, user) = setup().await;
    // They back up a real factor: none can be made before one exists.
    assert!(recovery::regenerate(&p, &user, &meta(), T0).await.is_err());
    with_totp(&p, &user).await;
    let codes = recovery::regenerate(&p, &user, &meta(), T0).await.unwrap();
    assert_eq!(codes.len(), recovery::COUNT);
    assert_eq!(p.store.recovery_codes_left(&user.id).await.unwrap(), 10);
    // Typed in capitals with spaces: still the same code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    recovery::verify(&p, &user, &typed, &meta(), T0 + 1)
        .await
        .unwrap();
    let again = recovery::verify(&p, &user, &codes[3], &meta(), T0 + 2).await;
    assert!(matches!(again, Err(FactorError::Invalid)), "{again:?}");
    assert_eq!(p.store.recovery_codes_left(&user.id).await.unwrap(), 9);
    // New codes replace the old ones.
    recovery::regenerate(&p, &user, &meta(), T0 + 3)
        .await
        .unwrap();
    assert!(matches!(
        recovery::verify(&p, &user, &codes[4], &meta(), T0 + 4).await,
        Err(FactorError::Invalid)
    ));
}

fn origin() -> Url {
    Url::parse(ISSUER).unwrap()
}

async fn register_soft(p: &Provider, user: &User, auth: &mut SoftPasskey) {
    let (ceremony, options) = passkey::begin_registration(p, user, T0).await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let answer = auth.do_registration(origin(), ccr).unwrap();
    passkey::finish_registration(
        p,
        user,
        &ceremony,
        "Khóa USB",
        &serde_json::to_string(&answer).unwrap(),
        &meta(),
        T0,
    )
    .await
    .unwrap();
}

async fn authenticate_soft(
    p: &Provider,
    user: &User,
    auth: &mut SoftPasskey,
    now: i64,
) -> Result<Factor, FactorError> {
    let (ceremony, options) = passkey::begin_authentication(p, user, now).await?;
    let rcr: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let answer = auth.do_authentication(origin(), rcr).unwrap();
    passkey::finish_authentication(
        p,
        user,
        &ceremony,
        &serde_json::to_string(&answer).unwrap(),
        &meta(),
        now,
    )
    .await
}

#[tokio::test]
async fn passkey_registers_authenticates_and_refuses_a_counter_regression() {
    let (p, user) = setup().await;
    let mut auth = SoftPasskey::new(true);
    register_soft(&p, &user, &mut auth).await;
    let creds = p.store.webauthn_credentials(&user.id).await.unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].name, "Khóa USB");

    let f = authenticate_soft(&p, &user, &mut auth, T0 + 10)
        .await
        .unwrap();
    assert_eq!(f, Factor::Passkey { synced: false });
    assert_eq!(
        Authn::plus(&["pwd".into()], f).amr,
        vec!["pwd", "hwk", "mfa"]
    );
    let used = p.store.webauthn_credential(&creds[0].id).await.unwrap();
    assert_eq!(used.unwrap().last_used_at, Some(T0 + 10));

    // The stored counter is ahead of the authenticator's, as after a clone was used.
    let stored = p
        .store
        .webauthn_credential(&creds[0].id)
        .await
        .unwrap()
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&stored.passkey).unwrap();
    json["cred"]["counter"] = 1000.into();
    p.store
        .update_webauthn_credential(&stored.id, &json.to_string(), false, T0 + 11)
        .await
        .unwrap();
    let r = authenticate_soft(&p, &user, &mut auth, T0 + 20).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    assert!(
        events(&p)
            .await
            .iter()
            .any(|(e, d)| e == "mfa.failure" && d.contains("counter went backwards"))
    );
    // The SOC hears of it under its own name.
    assert!(
        events(&p)
            .await
            .iter()
            .any(|(e, d)| e == "alert.sign_counter_regression"
                && d.contains("\"cause\":\"mfa.failure\""))
    );
}

#[tokio::test]
async fn a_ceremony_is_answered_once_and_only_by_its_user() {
    let (p, user) = setup().await;
    let other = testkit::add_user(&p, "binh.tt", None, &[], T0).await;
    let mut auth = SoftPasskey::new(true);
    let (ceremony, options) = passkey::begin_registration(&p, &user, T0).await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let answer = serde_json::to_string(&auth.do_registration(origin(), ccr).unwrap()).unwrap();
    let wrong_user =
        passkey::finish_registration(&p, &other, &ceremony, "x", &answer, &meta(), T0).await;
    assert!(matches!(wrong_user, Err(FactorError::Expired)));
    // The failed attempt spent the ceremony.
    let again = passkey::finish_registration(&p, &user, &ceremony, "x", &answer, &meta(), T0).await;
    assert!(matches!(again, Err(FactorError::Expired)));
}

#[tokio::test]
async fn step_up_from_level_1_to_level_2_keeps_the_request() {
    let (p, user) = setup().await;
    let (client, _) = testkit::client(
        &p,
        NewClient {
            id: "kyso".into(),
            name: "Ký số".into(),
            redirect_uris: vec![REDIRECT.into()],
            min_acr: Some(acr::LOA2.into()),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let secret = with_totp(&p, &user).await;
    let (cookie, session) = testkit::session(&p, &user, T0 + 10).await;
    assert_eq!(session.0.acr, acr::LOA1);
    let params = testkit::authz(&client.id, &[]);
    let d = authorize::authorize(&p, &params, Some(&session), &meta(), T0 + 20)
        .await
        .unwrap();
    let Decision::StepUp { handle } = d else {
        panic!("expected a step-up, got {d:?}");
    };
    // The person proves the second factor on the session...
    let c = candidate(&p, None, Some(&cookie), T0 + 30)
        .await
        .unwrap()
        .unwrap();
    let code = totp::code_at(&secret, T0 + 60).unwrap();
    code::verify(&p, &user, &code, &meta(), T0 + 60)
        .await
        .unwrap();
    let (new_cookie, upgraded) = complete(&p, c, Factor::Totp, Some(&cookie), &meta(), T0 + 60)
        .await
        .unwrap();
    assert_eq!(upgraded.acr, acr::LOA2);
    assert_eq!(upgraded.amr, vec!["pwd", "otp", "mfa"]);
    assert_eq!(upgraded.sid, session.0.sid, "a step-up keeps the session");
    assert_eq!(upgraded.id, session.0.id);
    // The level-2 session answers only to a new cookie: one copied at level 1 is dead.
    let new_cookie = new_cookie.expect("a step-up rotates the cookie");
    assert_ne!(new_cookie, cookie);
    assert!(
        crate::session::current_session(&p, Some(&cookie), T0 + 61)
            .await
            .unwrap()
            .is_none(),
        "the level-1 cookie stops working"
    );
    let (live, _) = crate::session::current_session(&p, Some(&new_cookie), T0 + 61)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.acr.as_str(), live.auth_time), (acr::LOA2, T0 + 60));
    // ...and the stored request resumes with a code.
    let d = authorize::resume(&p, &handle, &upgraded, &user, &meta(), T0 + 61)
        .await
        .unwrap();
    assert!(
        matches!(d, Decision::Redirect(ref u) if u.contains("code=")),
        "{d:?}"
    );
}

#[tokio::test]
async fn acr_values_ask_for_a_level_and_prompt_none_reports_it() {
    let (p, user) = setup().await;
    testkit::confidential_client(&p, "vanban", None, T0).await;
    let (_, session) = testkit::session(&p, &user, T0).await;
    let asked = testkit::authz("vanban", &[("acr_values", "urn:tessera:loa:2")]);
    let d = authorize::authorize(&p, &asked, Some(&session), &meta(), T0 + 1)
        .await
        .unwrap();
    assert!(matches!(d, Decision::StepUp { .. }), "{d:?}");
    let silent = testkit::authz(
        "vanban",
        &[("acr_values", "urn:tessera:loa:2"), ("prompt", "none")],
    );
    let d = authorize::authorize(&p, &silent, Some(&session), &meta(), T0 + 1)
        .await
        .unwrap();
    let Decision::Redirect(url) = d else {
        panic!("{d:?}")
    };
    assert_eq!(testkit::query(&url)["error"], "interaction_required");
    // Level 1 (or an unknown value) asks for nothing more than the session has.
    for v in ["urn:tessera:loa:1", "urn:other:gold"] {
        let d = authorize::authorize(
            &p,
            &testkit::authz("vanban", &[("acr_values", v)]),
            Some(&session),
            &meta(),
            T0 + 1,
        )
        .await
        .unwrap();
        assert!(
            matches!(d, Decision::Redirect(ref u) if u.contains("code=")),
            "{v}: {d:?}"
        );
    }
}

#[tokio::test]
async fn policies_apply_to_sub_units_and_roles() {
    let p = testkit::provider(T0).await;
    let city = testkit::add_unit(&p, "UBND thành phố", T0).await;
    let dept = crate::admin::add_unit(&p, testkit::ACTOR, "Sở Nội vụ", Some(&city.id), T0)
        .await
        .unwrap();
    let other = testkit::add_unit(&p, "Tỉnh khác", T0).await;
    let in_dept = testkit::add_user(&p, "lan.tt", Some(&dept.id), &[], T0).await;
    let elsewhere = testkit::add_user(&p, "minh.lv", Some(&other.id), &[], T0).await;
    let signer = testkit::add_user(&p, "hoa.nt", Some(&other.id), &["signer"], T0).await;
    assert_eq!(
        policy::level_for_user(&p, &in_dept).await.unwrap(),
        acr::LOA1
    );

    policy::add(&p, Some(&city.id), None, acr::LOA2, testkit::ACTOR, T0)
        .await
        .unwrap();
    let role = policy::add(&p, None, Some("signer"), acr::LOA2, testkit::ACTOR, T0)
        .await
        .unwrap();
    assert_eq!(
        policy::level_for_user(&p, &in_dept).await.unwrap(),
        acr::LOA2
    );
    assert_eq!(
        policy::level_for_user(&p, &elsewhere).await.unwrap(),
        acr::LOA1
    );
    assert_eq!(
        policy::level_for_user(&p, &signer).await.unwrap(),
        acr::LOA2
    );
    assert!(
        policy::remove(&p, &role.id, testkit::ACTOR, T0)
            .await
            .unwrap()
    );
    assert_eq!(
        policy::level_for_user(&p, &signer).await.unwrap(),
        acr::LOA1
    );
    assert!(
        policy::add(&p, None, None, "urn:tessera:loa:9", testkit::ACTOR, T0)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_pending_login_completes_once_into_a_level_2_session() {
    let (p, user) = setup().await;
    let cookie = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    let c = candidate(&p, Some(&cookie), None, T0 + 1)
        .await
        .unwrap()
        .unwrap();
    let again = c.clone();
    let (session_cookie, session) = complete(&p, c, Factor::RecoveryCode, None, &meta(), T0 + 2)
        .await
        .unwrap();
    assert!(session_cookie.is_some());
    assert_eq!(session.acr, acr::LOA2);
    let second = complete(&p, again, Factor::Totp, None, &meta(), T0 + 3).await;
    assert!(matches!(second, Err(FactorError::Expired)));
    // Expired pending logins are not candidates.
    let late = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    assert!(
        candidate(&p, Some(&late), None, T0 + PENDING_TTL + 1)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_authenticator_allow_list_refuses_unattested_passkeys() {
    use crate::pki::Actor;
    use crate::pki::ca::{CaInit, init_ca};

    let (mut p, user) = setup().await;
    assert!(
        super::relying_party::Passkeys::new(ISSUER)
            .unwrap()
            .with_allow_list("[]")
            .is_err()
    );
    assert!(
        super::relying_party::Passkeys::new(ISSUER)
            .unwrap()
            .with_allow_list("{")
            .is_err()
    );
    // Any real CA certificate will do as a vendor root: the software authenticator's
    // attestation chains to none.
    let mut init = CaInit::new("Nhà sản xuất khóa");
    init.base_url = Some("https://vendor.test/".into());
    let cas = init_ca(&p, &Actor::new("cli:test"), init, T0)
        .await
        .unwrap();
    let root = cas.iter().find(|c| c.parent_id.is_none()).unwrap();
    let pem =
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &root.cert_der).unwrap();
    let list = serde_json::json!([{
        "aaguid": "cb69481e-8ff7-4039-93ec-0a2729a154a8",
        "description": "YubiKey 5 (FIPS)",
        "ca_pem": pem,
    }]);
    p.passkeys = super::relying_party::Passkeys::new(ISSUER)
        .unwrap()
        .with_allow_list(&list.to_string())
        .unwrap();
    assert!(p.passkeys.attested_only());

    let (ceremony, options) = passkey::begin_registration(&p, &user, T0).await.unwrap();
    assert_eq!(options["publicKey"]["attestation"], "direct");
    let ccr: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let mut key = SoftPasskey::new(true);
    let answer = serde_json::to_string(&key.do_registration(origin(), ccr).unwrap()).unwrap();
    let r = passkey::finish_registration(&p, &user, &ceremony, "x", &answer, &meta(), T0).await;
    assert!(matches!(r, Err(FactorError::Invalid)), "{r:?}");
    assert!(
        p.store
            .webauthn_credentials(&user.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        events(&p)
            .await
            .iter()
            .any(|(e, d)| e == "mfa.failure" && d.contains("registration refused"))
    );
}

#[tokio::test]
async fn an_unfinished_totp_enrolment_is_seen_only_by_its_starter_and_expires() {
    let (p, user) = setup().await;
    let e = totp::begin(&p, &user, "session-1", T0).await.unwrap();
    assert!(
        totp::pending_enrolment(&p, &user, "session-1", T0 + 1)
            .await
            .unwrap()
            .is_some()
    );
    // Another session of the same person neither sees nor confirms it.
    assert!(
        totp::pending_enrolment(&p, &user, "session-2", T0 + 1)
            .await
            .unwrap()
            .is_none()
    );
    let code = totp::code_at(&e.secret_base32, T0 + 2).unwrap();
    let r = totp::confirm(&p, &user, &code, "session-2", &meta(), T0 + 2).await;
    assert!(matches!(r, Err(FactorError::NotEnrolled)), "{r:?}");
    // Nor does its starter once the enrolment is stale.
    let late = T0 + totp::ENROL_TTL + 1;
    let code = totp::code_at(&e.secret_base32, late).unwrap();
    let r = totp::confirm(&p, &user, &code, "session-1", &meta(), late).await;
    assert!(matches!(r, Err(FactorError::NotEnrolled)), "{r:?}");
    assert!(!enrolled(&p, &user.id).await.unwrap().totp);
}

#[tokio::test]
async fn only_a_recent_enough_session_changes_factors() {
    let (p, user) = setup().await;
    let (_, (session, _)) = testkit::session(&p, &user, T0).await;
    let c = Candidate {
        user: user.clone(),
        subject: Subject::Session(session.clone()),
    };
    // No factor yet: a fresh password session enrols the first one; a stale one does not.
    assert!(may_manage(&c, false, T0 + 60));
    assert!(!may_manage(&c, false, T0 + RECENT_AUTH + 1));
    // With a factor, level 1 is not enough, however fresh.
    assert!(!may_manage(&c, true, T0 + 60));
    let mut stepped = session.clone();
    stepped.acr = acr::LOA2.into();
    let c2 = Candidate {
        user: user.clone(),
        subject: Subject::Session(stepped),
    };
    assert!(may_manage(&c2, true, T0 + 60));
    assert!(!may_manage(&c2, true, T0 + RECENT_AUTH + 1));
    // Half-way through a login, only enrolment of a first factor.
    let cookie = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    let pending = candidate(&p, Some(&cookie), None, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(may_manage(&pending, false, T0));
    assert!(!may_manage(&pending, true, T0));
}

#[tokio::test]
async fn a_pending_login_ends_after_a_few_wrong_factors() {
    let (p, user) = setup().await;
    let cookie = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    let c = candidate(&p, Some(&cookie), None, T0)
        .await
        .unwrap()
        .unwrap();
    for _ in 1..MAX_PENDING_FAILURES {
        assert!(!note_failure(&p, &c).await.unwrap());
    }
    assert!(note_failure(&p, &c).await.unwrap());
    assert!(
        candidate(&p, Some(&cookie), None, T0)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn recovery_codes_go_with_the_last_factor() {
    let (p, user) = setup().await;
    with_totp(&p, &user).await;
    recovery::regenerate(&p, &user, &meta(), T0).await.unwrap();
    assert_eq!(p.store.recovery_codes_left(&user.id).await.unwrap(), 10);
    assert!(totp::remove(&p, &user, &meta(), T0).await.unwrap());
    assert_eq!(p.store.recovery_codes_left(&user.id).await.unwrap(), 0);
}

#[tokio::test]
async fn a_factor_reset_lifts_the_lock_of_the_old_factors() {
    let (p, user) = setup().await;
    let secret = with_totp(&p, &user).await;
    let t = T0 + 100;
    for _ in 0..FACTOR_FREE_FAILURES {
        let _ = code::verify(&p, &user, &wrong_code(&secret, t), &meta(), t).await;
    }
    assert!(
        lockout(&p, &user.id, t)
            .await
            .unwrap()
            .is_some_and(|l| l.locked_until.is_some())
    );
    reset(&p, &user, "cli:test", t).await.unwrap();
    assert_eq!(lockout(&p, &user.id, t).await.unwrap(), None);
    // Enrolling again is not held back by the old count.
    let e = totp::begin(&p, &user, "session-2", t).await.unwrap();
    let code = totp::code_at(&e.secret_base32, t).unwrap();
    totp::confirm(&p, &user, &code, "session-2", &meta(), t)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_factors_start_the_sign_in_again_and_a_right_one_signs_in() {
    let (p, user) = setup().await;
    let secret = with_totp(&p, &user).await;
    let t = T0 + 100;
    let cookie = begin_pending(&p, &user, &Authn::password(), t)
        .await
        .unwrap();
    let c = candidate(&p, Some(&cookie), None, t)
        .await
        .unwrap()
        .unwrap();
    let wrong = wrong_code(&secret, t);
    for _ in 1..MAX_PENDING_FAILURES {
        let proof = prove_now(&p, &c, FactorInput::Totp(&wrong), &meta(), t)
            .await
            .unwrap();
        assert!(
            matches!(proof, Proof::Refused(FactorError::Invalid)),
            "{proof:?}"
        );
    }
    let last = submit_factor(&p, c, FactorInput::Totp(&wrong), None, &meta(), t)
        .await
        .unwrap();
    assert!(
        matches!(last, Submitted::StartAgain(Some(FactorError::Invalid))),
        "{last:?}"
    );
    assert!(
        candidate(&p, Some(&cookie), None, t)
            .await
            .unwrap()
            .is_none()
    );
    // Signing in again, the right code completes the login at level 2.
    let cookie = begin_pending(&p, &user, &Authn::password(), t)
        .await
        .unwrap();
    let c = candidate(&p, Some(&cookie), None, t)
        .await
        .unwrap()
        .unwrap();
    let code = totp::code_at(&secret, t).unwrap();
    match submit_factor(&p, c, FactorInput::Totp(&code), None, &meta(), t)
        .await
        .unwrap()
    {
        Submitted::Done {
            cookie: Some(_),
            session,
        } => assert_eq!(session.acr, acr::LOA2),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_enrolment_gate_depends_on_where_and_on_the_factors_held() {
    let (p, user) = setup().await;
    let cookie = begin_pending(&p, &user, &Authn::password(), T0)
        .await
        .unwrap();
    let pending = candidate(&p, Some(&cookie), None, T0)
        .await
        .unwrap()
        .unwrap();
    let (_, (session, _)) = testkit::session(&p, &user, T0).await;
    let mut stepped = session.clone();
    stepped.acr = acr::LOA2.into();
    let on = |s: SessionRecord| Candidate {
        user: user.clone(),
        subject: Subject::Session(s),
    };
    let (plain, stepped) = (on(session), on(stepped));
    let gate_at = |c, place, now| enrol::gate(&p, c, place, now);
    let stale = T0 + RECENT_AUTH + 1;
    // No factor yet: a sign-in enrols one; on the account a recent session does, an old one
    // signs in again.
    assert_eq!(
        gate_at(&pending, Place::SignIn, T0).await.unwrap(),
        Gate::Allowed
    );
    assert_eq!(
        gate_at(&plain, Place::Account, T0 + 60).await.unwrap(),
        Gate::Allowed
    );
    assert_eq!(
        gate_at(&plain, Place::Account, stale).await.unwrap(),
        Gate::SignInAgain
    );
    // With a factor: a sign-in proves it instead; a password-only session steps up first,
    // however recent, and a stepped-up one must be recent too.
    with_totp(&p, &user).await;
    assert_eq!(
        gate_at(&pending, Place::SignIn, T0).await.unwrap(),
        Gate::HasFactor
    );
    assert_eq!(
        gate_at(&plain, Place::Account, T0 + 60).await.unwrap(),
        Gate::StepUpFirst
    );
    assert_eq!(
        gate_at(&stepped, Place::Account, T0 + 60).await.unwrap(),
        Gate::Allowed
    );
    assert_eq!(
        gate_at(&stepped, Place::Account, stale).await.unwrap(),
        Gate::StepUpFirst
    );
}
