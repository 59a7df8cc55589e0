//! The scope rules applied by the operations, on a real (in-memory) store.

use serde_json::json;

use super::*;
use crate::admin::{self, Acting, NewClient};
use crate::testkit::{self, ACTOR, T0};

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

    let listed = users::list(&w.p, &c, users::UserQuery::default())
        .await
        .unwrap();
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
    let reset = users::reset_password(&w.p, &c, &clerk.id, T0)
        .await
        .unwrap();
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

    // A console scope is for top-level administrators to give.
    let body = |id: &str, unit: &str| -> clients::NewClientBody {
        serde_json::from_value(json!({
            "client_id": id, "name": "Console", "unit_id": unit,
            "redirect_uris": ["https://console.test/cb"], "scopes": ["openid", ADMIN_SCOPE],
        }))
        .unwrap()
    };
    let err = clients::create(&w.p, &c, body("c1", &w.lechan), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminApiError::Forbidden(_)), "{err}");
    let city_admin = user_with(&w, "thanh.pho", Some(&w.city), &[("admin", &w.city)]).await;
    let top = caller(&w, &city_admin).await;
    let created = clients::create(&w.p, &top, body("c1", &w.lechan), T0)
        .await
        .unwrap();
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
