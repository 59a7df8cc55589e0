//! The scope rules applied by the operations, on a real (in-memory) store.

use serde_json::json;

use super::*;
use crate::admin::{self, Acting, NewClient};
use crate::testkit::{self, ACTOR, T0};

/// The answer as its JSON body, which is what these tests check.
fn json_of<T: serde::Serialize>(answer: T) -> serde_json::Value {
    serde_json::to_value(answer).unwrap()
}

struct World {
    p: Provider,
    city: String,
    lechan: String,
    an_bien: String,
    tuphap: String,
}

/// city → lechan (district) → an_bien (commune); city → tuphap (department).
async fn world() -> World {
    let p = testkit::provider(T0).await;
    let city = testkit::add_unit(&p, "Hải Phòng", T0).await.id;
    let by = Acting::cli(ACTOR);
    let lechan = admin::add_unit_by(&p, &by, "Lê Chân", Some(&city), T0)
        .await
        .unwrap()
        .id;
    let an_bien = admin::add_unit_by(&p, &by, "An Biên", Some(&lechan), T0)
        .await
        .unwrap()
        .id;
    let tuphap = admin::add_unit_by(&p, &by, "Sở Tư pháp", Some(&city), T0)
        .await
        .unwrap()
        .id;
    World {
        p,
        city,
        lechan,
        an_bien,
        tuphap,
    }
}

async fn user_with(w: &World, name: &str, unit: Option<&str>, grants: &[(&str, &str)]) -> User {
    let user = testkit::add_user(&w.p, name, unit, &[], T0).await;
    for (role, unit) in grants {
        admin::grant_role_by(&w.p, &Acting::cli(ACTOR), &user, role, unit, T0)
            .await
            .unwrap();
    }
    user
}

async fn caller(w: &World, user: &User) -> Caller {
    Caller {
        actor: Actor {
            user_id: user.id.clone(),
            username: user.username.clone(),
            grants: grants_of(&w.p, &user.id).await.unwrap(),
            tree: UnitTree::new(&w.p.store.list_units().await.unwrap()),
        },
        client_id: "console".into(),
        meta: RequestMeta::default(),
    }
}

#[tokio::test]
async fn district_admin_reaches_communes_but_not_a_sibling_department() {
    let w = world().await;
    let admin = user_with(&w, "quan.tri", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let c = caller(&w, &admin).await;
    let commune_user = user_with(&w, "xa.vien", Some(&w.an_bien), &[]).await;
    let dept_user = user_with(&w, "tu.phap", Some(&w.tuphap), &[]).await;
    let unitless = user_with(&w, "khong.don.vi", None, &[]).await;

    assert!(managed_user(&w.p, &c, &commune_user.id).await.is_ok());
    for other in [&dept_user, &unitless] {
        let err = visible_user(&w.p, &c, &other.id).await.unwrap_err();
        assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    }
    let err = require_unit(&c, Permission::Manage, Some(&w.city)).unwrap_err();
    assert!(matches!(err, AdminApiError::OutOfScope(_)), "{err}");
    assert!(require_unit(&c, Permission::Manage, Some("no-such-unit")).is_err());

    let listed = json_of(
        users::list(&w.p, &c, users::UserQuery::default())
            .await
            .unwrap(),
    );
    let mut names: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["quan.tri", "xa.vien"]);

    let city_admin = user_with(&w, "thanh.pho", Some(&w.city), &[("admin", &w.city)]).await;
    let top = caller(&w, &city_admin).await;
    assert!(visible_user(&w.p, &top, &unitless.id).await.is_ok());
    assert!(managed_user(&w.p, &top, &admin.id).await.is_ok());
    // The district administrator cannot touch the city administrator, even once moved into
    // the district: their rights are wider.
    admin_api_move(&w, &city_admin, &w.lechan).await;
    let err = managed_user(&w.p, &c, &city_admin.id).await.unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
}

async fn admin_api_move(w: &World, user: &User, unit: &str) {
    let update = tessera_store::users::ProfileUpdate {
        display_name: user.display_name.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        unit_id: Some(unit.to_owned()),
        roles: user.roles.clone(),
    };
    assert!(
        w.p.store
            .update_user_profile(&user.id, &update, T0)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn no_escalation_through_grants_or_password_resets() {
    let w = world().await;
    let admin = user_with(&w, "quan.tri", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let c = caller(&w, &admin).await;
    let clerk = user_with(&w, "van.thu", Some(&w.an_bien), &[]).await;

    let grant = |role: &str, unit: &str| users::GrantBody {
        role: role.into(),
        unit_id: unit.into(),
    };
    let err = users::add_grant(&w.p, &c, &admin.id, grant("admin", &w.city), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::OutOfScope(_)), "{err}");
    let err = users::add_grant(&w.p, &c, &admin.id, grant("admin", &w.an_bien), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdminApiError::Forbidden(_)),
        "own grants: {err}"
    );
    let err = users::add_grant(&w.p, &c, &clerk.id, grant("cert_admin", &w.an_bien), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdminApiError::Forbidden(_)),
        "a role not held: {err}"
    );
    let err = users::add_grant(&w.p, &c, &clerk.id, grant("root", &w.an_bien), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");
    users::add_grant(&w.p, &c, &clerk.id, grant("admin", &w.an_bien), T0)
        .await
        .unwrap();

    // A certificate administrator in the district, appointed by the city: the district
    // administrator may not reset that password (it would hand over cert_admin).
    let cert = user_with(
        &w,
        "chung.thu",
        Some(&w.lechan),
        &[("cert_admin", &w.lechan)],
    )
    .await;
    let err = users::reset_password(&w.p, &c, &cert.id, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = users::reset_password(&w.p, &c, &admin.id, T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdminApiError::Forbidden(_)),
        "own password: {err}"
    );
    let reset = json_of(
        users::reset_password(&w.p, &c, &clerk.id, T0)
            .await
            .unwrap(),
    );
    let new = reset["temporary_password"].as_str().unwrap();
    let stored = w.p.store.user_by_id(&clerk.id).await.unwrap().unwrap();
    assert!(crate::password::verify(
        new,
        stored.password_hash.as_deref().unwrap()
    ));

    // Application roles cannot smuggle in an administrative name.
    let patch = users::UserPatch {
        roles: Some(vec!["admin".into()]),
        ..users::UserPatch::default()
    };
    let err = users::update(&w.p, &c, &clerk.id, patch, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");

    // The administration scope is given by no one through the API, not even the city's
    // administrator: only the operator pins a console.
    let body = |id: &str, unit: &str, scopes: &[&str]| -> clients::NewClientBody {
        serde_json::from_value(json!({
            "client_id": id, "name": "Console", "unit_id": unit,
            "redirect_uris": ["https://console.test/cb"], "scopes": scopes,
        }))
        .unwrap()
    };
    let city_admin = user_with(&w, "thanh.pho", Some(&w.city), &[("admin", &w.city)]).await;
    let top = caller(&w, &city_admin).await;
    for who in [&c, &top] {
        let err = clients::create(
            &w.p,
            who,
            body("c1", &w.lechan, &["openid", ADMIN_SCOPE]),
            T0,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    }
    let created = json_of(
        clients::create(&w.p, &top, body("c1", &w.lechan, &["openid"]), T0)
            .await
            .unwrap(),
    );
    let patch = clients::ClientPatch {
        scopes: Some(vec!["openid".into(), ADMIN_SCOPE.into()]),
        ..clients::ClientPatch::default()
    };
    let err = clients::update(&w.p, &top, "c1", patch, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    assert!(created["client_secret"].is_string());
    // The district administrator sees the district's client but not one without a unit.
    testkit::client(
        &w.p,
        NewClient {
            id: "unowned".into(),
            name: "X".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            ..NewClient::default()
        },
        T0,
    )
    .await;
    assert!(clients::visible_client(&w.p, &c, "c1").await.is_ok());
    let err = clients::visible_client(&w.p, &c, "unowned")
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    assert!(clients::visible_client(&w.p, &top, "unowned").await.is_ok());
}

/// Credentials follow their owner's unit: seen by whoever sees the owner, changed only by a
/// `cert_admin` over the owner's unit, and otherwise 404 without revealing them.
#[tokio::test]
async fn credentials_follow_the_owners_unit() {
    use credentials::{
        CaChoice, CredentialQuery, ExpiringQuery, NewCredentialBody, ReasonValue, RevokeBody,
    };
    let w = world().await;
    let mut init = crate::pki::CaInit::new("UBND Thành phố Hải Phòng");
    init.base_url = Some("https://id.test".into());
    crate::pki::init_ca(&w.p, &crate::pki::Actor::new(ACTOR), init, T0)
        .await
        .unwrap();
    let city_cert = user_with(&w, "ca.thanhpho", Some(&w.city), &[("cert_admin", &w.city)]).await;
    let district_cert = user_with(
        &w,
        "ca.lechan",
        Some(&w.lechan),
        &[("cert_admin", &w.lechan)],
    )
    .await;
    let district_admin = user_with(&w, "quan.tri", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let auditor = user_with(&w, "kiem.toan", Some(&w.city), &[("auditor", &w.city)]).await;
    let commune = user_with(&w, "xa.vien", Some(&w.an_bien), &[]).await;
    let dept = user_with(&w, "tu.phap", Some(&w.tuphap), &[]).await;
    let (top, cert, admin, audit) = (
        caller(&w, &city_cert).await,
        caller(&w, &district_cert).await,
        caller(&w, &district_admin).await,
        caller(&w, &auditor).await,
    );
    let body = |user: &User| NewCredentialBody {
        user_id: user.id.clone(),
        alg: None,
        title: Some("Chuyên viên".into()),
        ca: CaChoice::Internal,
    };

    // The district's certificate administrator issues for a commune official.
    let issued = json_of(
        credentials::create(&w.p, &cert, body(&commune), T0)
            .await
            .unwrap(),
    );
    assert_eq!(issued["status"], "active", "{issued}");
    assert_eq!(issued["chain_pem"].as_array().unwrap().len(), 2);
    assert!(
        issued["certificate_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let commune_cred = issued["id"].as_str().unwrap().to_owned();
    let trail =
        w.p.store
            .audit_of_actor(&district_cert.id, &["pki.credential"], 10)
            .await
            .unwrap();
    assert!(
        trail.iter().any(|e| e.event == "pki.credential.issued"),
        "the issue is audited with the administrator's id: {trail:?}"
    );
    // …but not for another department, nor for themselves.
    let err = credentials::create(&w.p, &cert, body(&dept), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    let err = credentials::create(&w.p, &cert, body(&district_cert), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "self: {err}");
    // An external request answers the CSR and stays pending.
    let mut external = body(&dept);
    external.ca = CaChoice::External;
    external.alg = Some("RSA-2048".into());
    let pending = json_of(credentials::create(&w.p, &top, external, T0).await.unwrap());
    assert_eq!(pending["status"], "pending");
    assert!(
        pending["csr_pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    let dept_cred = pending["id"].as_str().unwrap().to_owned();
    let mut bad = body(&dept);
    bad.alg = Some("RSA-1024".into());
    let err = credentials::create(&w.p, &top, bad, T0).await.unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");

    // The department's credential does not exist for the district.
    for c in [&cert, &admin] {
        let err = credentials::get(&w.p, c, &dept_cred).await.unwrap_err();
        assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
        let err = credentials::revoke(&w.p, c, &dept_cred, RevokeBody::default(), T0)
            .await
            .unwrap_err();
        assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    }
    let err = credentials::import(&w.p, &cert, &dept_cred, b"garbage", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    // An administrator without cert_admin sees the district's credentials but changes none.
    assert!(credentials::get(&w.p, &admin, &commune_cred).await.is_ok());
    let err = credentials::suspend(&w.p, &admin, &commune_cred, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = credentials::create(&w.p, &admin, body(&commune), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = credentials::revoke(&w.p, &audit, &commune_cred, RevokeBody::default(), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");

    // Lists stop at the scope; naming a unit outside it is 404.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mine = json_of(
        credentials::list(&w.p, &cert, CredentialQuery::default(), T0)
            .await
            .unwrap(),
    );
    assert_eq!(ids(&mine), vec![commune_cred.clone()]);
    let all = json_of(
        credentials::list(&w.p, &audit, CredentialQuery::default(), T0)
            .await
            .unwrap(),
    );
    assert_eq!(all["credentials"].as_array().unwrap().len(), 2);
    let q = CredentialQuery {
        unit_id: Some(w.tuphap.clone()),
        ..Default::default()
    };
    let err = credentials::list(&w.p, &cert, q, T0).await.unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    let q = CredentialQuery {
        user_id: Some(dept.id.clone()),
        ..Default::default()
    };
    let err = credentials::list(&w.p, &cert, q, T0).await.unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    let q = CredentialQuery {
        status: Some("pending".into()),
        ..Default::default()
    };
    let pend = json_of(credentials::list(&w.p, &top, q, T0).await.unwrap());
    assert_eq!(ids(&pend), vec![dept_cred.clone()]);
    let q = CredentialQuery {
        status: Some("lost".into()),
        ..Default::default()
    };
    let err = credentials::list(&w.p, &top, q, T0).await.unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");

    // Expiry notices: the issued certificate, in scope, within the window.
    let notices = |c: &Caller, days: Option<i64>| {
        let c = c.clone();
        let p = &w.p;
        async move {
            credentials::expiring(
                p,
                &c,
                ExpiringQuery {
                    days,
                    unit_id: None,
                },
                T0,
            )
            .await
        }
    };
    let soon = json_of(notices(&top, Some(3650)).await.unwrap());
    assert_eq!(soon["notices"].as_array().unwrap().len(), 1, "{soon}");
    assert_eq!(soon["notices"][0]["credential_id"], commune_cred.as_str());
    assert!(soon["notices"][0]["days_left"].as_i64().unwrap() > 300);
    let none = json_of(notices(&top, None).await.unwrap());
    assert_eq!(none["days"], 30);
    assert!(none["notices"].as_array().unwrap().is_empty());
    let err = notices(&top, Some(-1)).await.unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");

    // Revocation: by RFC 5280 code; certificateHold is a suspension; a second time conflicts.
    let hold = RevokeBody {
        reason: Some(ReasonValue::Code(6)),
    };
    let err = credentials::revoke(&w.p, &cert, &commune_cred, hold, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Invalid(_)), "{err}");
    let key = || RevokeBody {
        reason: Some(ReasonValue::Code(1)),
    };
    let revoked = json_of(
        credentials::revoke(&w.p, &cert, &commune_cred, key(), T0)
            .await
            .unwrap(),
    );
    assert_eq!(revoked["revocation_reason"], "keyCompromise");
    let err = credentials::revoke(&w.p, &cert, &commune_cred, key(), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Conflict(_)), "{err}");
    // A refused import keeps the validation message, as a 400.
    let err = credentials::import(&w.p, &top, &dept_cred, b"not a certificate", T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdminApiError::Invalid(m) if m.contains("certificate")),
        "{err}"
    );
}

#[tokio::test]
async fn a_unit_admin_sees_and_clears_a_second_factor_lockout() {
    let w = world().await;
    let admin = user_with(&w, "quan.tri", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let auditor = user_with(&w, "kiem.tra", Some(&w.lechan), &[("auditor", &w.lechan)]).await;
    let other = user_with(
        &w,
        "tu.phap.admin",
        Some(&w.tuphap),
        &[("admin", &w.tuphap)],
    )
    .await;
    let clerk = user_with(&w, "xa.vien", Some(&w.an_bien), &[]).await;
    let key = crate::mfa::factor_key(&clerk.id);
    for _ in 0..crate::mfa::FACTOR_FREE_FAILURES {
        w.p.store
            .admit_within(
                &key,
                T0,
                crate::mfa::FACTOR_FREE_FAILURES,
                crate::mfa::FACTOR_DECAY_SECS,
            )
            .await
            .unwrap()
            .unwrap();
    }
    let c = caller(&w, &admin).await;
    let seen = json_of(users::get(&w.p, &c, &clerk.id, T0 + 1).await.unwrap());
    assert_eq!(
        seen["second_factor_lock"],
        json!({ "failures": 5, "locked_until": T0 + crate::mfa::FACTOR_DECAY_SECS })
    );

    let err = users::unlock(&w.p, &caller(&w, &auditor).await, &clerk.id, T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = users::unlock(&w.p, &caller(&w, &other).await, &clerk.id, T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    let err = users::unlock(&w.p, &c, &admin.id, T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");

    let done = json_of(users::unlock(&w.p, &c, &clerk.id, T0 + 2).await.unwrap());
    assert_eq!(done["second_factor_cleared"], true);
    let seen = json_of(users::get(&w.p, &c, &clerk.id, T0 + 3).await.unwrap());
    assert_eq!(seen["second_factor_lock"], serde_json::Value::Null);
    let audit = w.p.store.recent_audit(5).await.unwrap();
    let entry = audit.iter().find(|e| e.event == "user.unlocked").unwrap();
    assert_eq!(entry.actor.as_deref(), Some(admin.id.as_str()));
    assert!(entry.detail.contains(&clerk.id), "{}", entry.detail);
}

/// A certificate administrator cannot complete their own pending credential by importing a
/// certificate (e.g. from a root they made), nor issue, renew or resume their own, even when
/// another administrator made the key.
#[tokio::test]
async fn no_one_certifies_their_own_credential_by_any_route() {
    use credentials::{CaChoice, NewCredentialBody, RenewBody};
    let w = world().await;
    let mut init = crate::pki::CaInit::new("UBND Thành phố Hải Phòng");
    init.base_url = Some("https://id.test".into());
    crate::pki::init_ca(&w.p, &crate::pki::Actor::new(ACTOR), init, T0)
        .await
        .unwrap();
    let alice = user_with(&w, "ca.mot", Some(&w.city), &[("cert_admin", &w.city)]).await;
    let bob = user_with(&w, "ca.hai", Some(&w.city), &[("cert_admin", &w.city)]).await;
    let (a, b) = (caller(&w, &alice).await, caller(&w, &bob).await);
    let body = |ca| NewCredentialBody {
        user_id: alice.id.clone(),
        alg: None,
        title: None,
        ca,
    };
    // Bob makes Alice's key and CSR for an external CA; Alice may not import its answer.
    let pending = json_of(
        credentials::create(&w.p, &b, body(CaChoice::External), T0)
            .await
            .unwrap(),
    );
    let pending_id = pending["id"].as_str().unwrap().to_owned();
    let err = credentials::import(&w.p, &a, &pending_id, b"any certificate", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    // The core refuses it too, whatever the route that reaches it.
    let me = crate::pki::Actor::new(alice.id.clone());
    let err = crate::pki::import_certificate(&w.p, &me, &pending_id, b"x", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, crate::pki::PkiError::Forbidden(_)), "{err}");
    let err = crate::pki::issue_internal(&w.p, &me, &pending_id, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, crate::pki::PkiError::Forbidden(_)), "{err}");
    assert_eq!(
        w.p.store
            .credential(&pending_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        tessera_store::pki::CredentialStatus::Pending
    );
    // An issued credential of Alice's: she may neither renew nor resume it.
    let active = json_of(
        credentials::create(&w.p, &b, body(CaChoice::Internal), T0)
            .await
            .unwrap(),
    );
    let active_id = active["id"].as_str().unwrap().to_owned();
    credentials::suspend(&w.p, &b, &active_id, T0)
        .await
        .unwrap();
    let err = credentials::resume(&w.p, &a, &active_id, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = crate::pki::resume(&w.p, &me, &active_id, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, crate::pki::PkiError::Forbidden(_)), "{err}");
    let err = crate::pki::renew(&w.p, &me, &active_id, false, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, crate::pki::PkiError::Forbidden(_)), "{err}");
    let err = credentials::renew(&w.p, &a, &active_id, RenewBody::default(), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    // Bob may.
    credentials::resume(&w.p, &b, &active_id, T0).await.unwrap();
}

fn client_body(v: serde_json::Value) -> clients::NewClientBody {
    serde_json::from_value(v).unwrap()
}

/// A console pinned by the operator inside a district: the district's administrator sees it but
/// changes nothing that decides who receives administration tokens.
#[tokio::test]
async fn a_console_is_changed_only_from_the_command_line() {
    let w = world().await;
    testkit::client(
        &w.p,
        NewClient {
            id: "console".into(),
            name: "Quản trị".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            scopes: Some(vec!["openid".into()]),
            unit_id: Some(w.lechan.clone()),
            admin_console: true,
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let district = user_with(&w, "quan.huyen", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let c = caller(&w, &district).await;
    assert!(clients::visible_client(&w.p, &c, "console").await.is_ok());
    let patches = [
        json!({ "redirect_uris": ["https://attacker.test/cb"] }),
        json!({ "post_logout_redirect_uris": ["https://attacker.test/bye"] }),
        json!({ "scopes": ["openid"] }),
        json!({ "name": "Quản trị mới" }),
    ];
    for patch in patches {
        let patch: clients::ClientPatch = serde_json::from_value(patch).unwrap();
        let err = clients::update(&w.p, &c, "console", patch, T0)
            .await
            .unwrap_err();
        assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    }
    let err = clients::rotate_secret(&w.p, &c, "console", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = clients::remove(&w.p, &c, "console", T0).await.unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let stored = w.p.store.client("console").await.unwrap().unwrap();
    assert_eq!(stored.redirect_uris, vec![testkit::REDIRECT.to_owned()]);
    assert!(stored.admin_console && stored.allowed_scopes.iter().any(|s| s == ADMIN_SCOPE));
    // The operator rotates its secret from the command line.
    admin::rotate_client_secret(&w.p, ACTOR, "console", T0 + 1)
        .await
        .unwrap();
    let rotated = w.p.store.client("console").await.unwrap().unwrap();
    assert_ne!(rotated.secret_hash, stored.secret_hash);
    // Unpinning (command line) takes the scope away with the pin.
    let unpinned = admin::set_admin_console(&w.p, ACTOR, "console", false, T0)
        .await
        .unwrap();
    assert!(!unpinned.admin_console);
    assert!(!unpinned.allowed_scopes.iter().any(|s| s == ADMIN_SCOPE));
}

/// API scopes are registered objects: a commune administrator gives a client only the scopes of
/// the commune, never the city's `lgsp.write`, nor one nobody registered.
#[tokio::test]
async fn api_scopes_are_given_only_by_administrators_of_their_unit() {
    let w = world().await;
    admin::add_api_scope(&w.p, ACTOR, "lgsp.write", "Ghi LGSP", Some(&w.city), T0)
        .await
        .unwrap();
    admin::add_api_scope(
        &w.p,
        ACTOR,
        "xa.read",
        "Đọc dữ liệu xã",
        Some(&w.an_bien),
        T0,
    )
    .await
    .unwrap();
    let commune = user_with(&w, "quan.xa", Some(&w.an_bien), &[("admin", &w.an_bien)]).await;
    let c = caller(&w, &commune).await;
    let service = |id: &str, scope: &str| {
        client_body(json!({
            "client_id": id, "name": "Dịch vụ", "unit_id": w.an_bien,
            "grant_types": ["client_credentials"], "scopes": [scope],
        }))
    };
    let err = clients::create(&w.p, &c, service("xa-lgsp", "lgsp.write"), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let err = clients::create(&w.p, &c, service("xa-lgsp", "lgsp.admin"), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdminApiError::Invalid(m) if m.contains("not registered")),
        "{err}"
    );
    clients::create(&w.p, &c, service("xa-dich-vu", "xa.read"), T0)
        .await
        .unwrap();
    // Nor by changing a client afterwards; keeping a scope it already has is fine.
    let patch: clients::ClientPatch =
        serde_json::from_value(json!({ "scopes": ["xa.read", "lgsp.write"] })).unwrap();
    let err = clients::update(&w.p, &c, "xa-dich-vu", patch, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    // The city's administrator may give the city's scope.
    let city_admin = user_with(&w, "thanh.pho", Some(&w.city), &[("admin", &w.city)]).await;
    let top = caller(&w, &city_admin).await;
    let patch: clients::ClientPatch =
        serde_json::from_value(json!({ "scopes": ["xa.read", "lgsp.write"] })).unwrap();
    clients::update(&w.p, &top, "xa-dich-vu", patch, T0)
        .await
        .unwrap();
    let patch: clients::ClientPatch =
        serde_json::from_value(json!({ "name": "Dịch vụ xã" })).unwrap();
    clients::update(&w.p, &c, "xa-dich-vu", patch, T0)
        .await
        .unwrap();
    // A scope in use is not removed under its clients.
    let err = admin::remove_api_scope(&w.p, ACTOR, "lgsp.write", T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("xa-dich-vu"), "{err}");
    // A client id shaped like a user id is refused through the API too.
    let err = clients::create(&w.p, &c, service(&commune.id, "xa.read"), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdminApiError::Invalid(m) if m.contains("user id")),
        "{err}"
    );
}

/// Two cities on one provider: neither city's administrator reaches the objects without a
/// unit, nor the other city's.
#[tokio::test]
async fn with_two_cities_unitless_objects_belong_to_neither() {
    let w = world().await;
    let danang = testkit::add_unit(&w.p, "Đà Nẵng", T0).await.id;
    testkit::client(
        &w.p,
        NewClient {
            id: "unowned".into(),
            name: "X".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let loose = user_with(&w, "khong.don.vi", None, &[]).await;
    let hp_admin = user_with(&w, "hai.phong", Some(&w.city), &[("admin", &w.city)]).await;
    let dn_admin = user_with(&w, "da.nang", Some(&danang), &[("admin", &danang)]).await;
    let hp_user = user_with(&w, "nhan.vien", Some(&w.tuphap), &[]).await;
    for admin in [&hp_admin, &dn_admin] {
        let c = caller(&w, admin).await;
        let err = clients::visible_client(&w.p, &c, "unowned")
            .await
            .unwrap_err();
        assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
        let err = visible_user(&w.p, &c, &loose.id).await.unwrap_err();
        assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
        let listed = json_of(
            clients::list(&w.p, &c, clients::ClientQuery::default())
                .await
                .unwrap(),
        );
        assert!(!listed.to_string().contains("unowned"), "{listed}");
        let err = require_unit(&c, Permission::Manage, None).unwrap_err();
        assert!(matches!(err, AdminApiError::OutOfScope(_)), "{err}");
    }
    let dn = caller(&w, &dn_admin).await;
    let err = visible_user(&w.p, &dn, &hp_user.id).await.unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
}

/// Only a console pinned by the operator lends its tokens to the API, and only tokens issued
/// after a level-2 sign-in: a console registered with the scope but unpinned (as any top-level
/// administrator could before), or a token minted at level 1 (silently, before consent), is
/// refused.
#[tokio::test]
async fn the_api_takes_tokens_of_pinned_consoles_at_level_2_only() {
    use crate::oidc::issue::{self, AccessGrant, Authn};
    let w = world().await;
    let root = user_with(&w, "thanh.pho", Some(&w.city), &[("admin", &w.city)]).await;
    let (console, _) = testkit::client(
        &w.p,
        NewClient {
            id: "console".into(),
            name: "Quản trị".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            scopes: Some(vec!["openid".into()]),
            admin_console: true,
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let amr = vec!["pwd".to_owned(), "otp".to_owned(), "mfa".to_owned()];
    let token = |acr: &'static str| {
        let (p, console, root, amr) = (&w.p, &console, &root, &amr);
        async move {
            let grant = AccessGrant {
                client: console,
                authn: Some(Authn {
                    user: root,
                    session_id: None,
                    sid: None,
                    auth_time: T0,
                    acr,
                    amr,
                }),
                scope: "openid tessera:admin",
                code_id: None,
                family_id: None,
            };
            issue::recorded_access_token(p, &grant, T0).await.unwrap()
        }
    };
    let strong = token(crate::acr::LOA2).await;
    let weak = token(crate::acr::LOA1).await;
    let caller = authenticate(&w.p, &strong, RequestMeta::default(), T0 + 1)
        .await
        .unwrap();
    assert_eq!(caller.actor.user_id, root.id);
    let err = authenticate(&w.p, &weak, RequestMeta::default(), T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    // The same registration, unpinned but keeping the scope (a legacy console): refused.
    w.p.store
        .set_client_admin_console("console", false, T0)
        .await
        .unwrap();
    let err = authenticate(&w.p, &strong, RequestMeta::default(), T0 + 1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdminApiError::Forbidden(m) if m.contains("pinned")),
        "{err}"
    );
}

/// A district administrator lets the city's document system ask the district's people for
/// signatures, but not the department's; the city's auditor sees the permission only.
#[tokio::test]
async fn only_a_units_administrators_let_a_client_ask_its_people_for_signatures() {
    let w = world().await;
    testkit::client(
        &w.p,
        NewClient {
            id: "vanban".into(),
            name: "Văn bản".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            unit_id: Some(w.city.clone()),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    testkit::client(
        &w.p,
        NewClient {
            id: "tuphap-app".into(),
            name: "Tư pháp".into(),
            redirect_uris: vec![testkit::REDIRECT.into()],
            unit_id: Some(w.tuphap.clone()),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let district = user_with(&w, "quan.huyen", Some(&w.lechan), &[("admin", &w.lechan)]).await;
    let reader = user_with(&w, "doc.vien", Some(&w.city), &[("auditor", &w.city)]).await;
    let d = caller(&w, &district).await;
    let r = caller(&w, &reader).await;

    // Any existing client may be allowed, the city's as the department's.
    let got = signing_units::allow(&w.p, &d, "vanban", &w.lechan, T0)
        .await
        .unwrap();
    assert_eq!(got.unit_ids, vec![w.lechan.clone()]);
    // Twice changes nothing, and is audited once.
    signing_units::allow(&w.p, &d, "vanban", &w.lechan, T0)
        .await
        .unwrap();
    let err = signing_units::allow(&w.p, &d, "no-such-app", &w.lechan, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    // Another unit's people are not the district's to give.
    let err = signing_units::allow(&w.p, &d, "vanban", &w.tuphap, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    // The city's auditor sees both, and changes nothing.
    signing_units::allow(&w.p, &d, "tuphap-app", &w.an_bien, T0)
        .await
        .unwrap();
    assert_eq!(
        signing_units::list(&w.p, &r, "vanban")
            .await
            .unwrap()
            .unit_ids,
        vec![w.lechan.clone()]
    );
    assert_eq!(
        signing_units::list(&w.p, &r, "tuphap-app")
            .await
            .unwrap()
            .unit_ids,
        vec![w.an_bien.clone()]
    );
    // The district administrator does not see what the department decided elsewhere.
    let tuphap_admin = user_with(&w, "tu.phap.qt", Some(&w.tuphap), &[("admin", &w.tuphap)]).await;
    let t = caller(&w, &tuphap_admin).await;
    assert!(
        signing_units::list(&w.p, &t, "tuphap-app")
            .await
            .unwrap()
            .unit_ids
            .is_empty()
    );
    let err = signing_units::disallow(&w.p, &r, "vanban", &w.lechan, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    assert_eq!(
        w.p.store.signing_request_units("vanban").await.unwrap(),
        vec![w.lechan.clone()]
    );
    signing_units::disallow(&w.p, &d, "vanban", &w.lechan, T0)
        .await
        .unwrap();
    let err = signing_units::disallow(&w.p, &d, "vanban", &w.lechan, T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::NotFound(_)), "{err}");
    let audit = w.p.store.recent_audit(50).await.unwrap();
    let count = |e: &str| audit.iter().filter(|a| a.event == e).count();
    assert_eq!(count("signing.request_client.allowed"), 2);
    assert_eq!(count("signing.request_client.disallowed"), 1);
    assert!(
        audit
            .iter()
            .any(|a| a.event == "signing.request_client.allowed"
                && a.actor.as_deref() == Some(district.id.as_str()))
    );
}
