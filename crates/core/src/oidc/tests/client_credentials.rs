//! The client-credentials grant (RFC 6749 §4.4): a service acting for itself, with API scopes
//! only, and the registration rules around it.

use serde_json::json;
use tessera_proto::ErrorCode;

use super::oauth_code;
use super::world::World;
use crate::admin::{self, NewClient};
use crate::error::AdminError;
use crate::oidc::userinfo;
use crate::testkit::{self, ACTOR, ISSUER, REDIRECT, T0};

#[tokio::test]
async fn default_scope_is_every_api_scope_of_the_client() {
    let w = World::new().await;
    let now = T0 + 5;
    let r = w.client_credentials("lgsp", None, now).await.unwrap();
    assert_eq!(r.scope, "lgsp.read lgsp.write");
    assert_eq!(r.token_type, "Bearer");
    assert_eq!(r.expires_in, 600);
    assert!(r.refresh_token.is_none());
    assert!(r.id_token.is_none());

    let v =
        w.p.signer
            .verify(&r.access_token, now)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(v.header["typ"], "at+jwt");
    let c = &v.claims;
    assert_eq!(c["sub"], "lgsp");
    assert_eq!(c["client_id"], "lgsp");
    assert_eq!(c["aud"], "lgsp");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["scope"], "lgsp.read lgsp.write");
    assert_eq!(c["exp"], now + 600);
    for user_claim in ["auth_time", "acr", "sid"] {
        assert!(c.get(user_claim).is_none(), "{user_claim} in {c}");
    }
    let rec =
        w.p.store
            .token(c["jti"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(rec.user_id, None);
    assert_eq!(rec.family_id, None);

    let e = w.assert_audit("token.issued", None).await;
    assert_eq!(e.actor.as_deref(), Some("lgsp"));
    assert_eq!(e.client_id.as_deref(), Some("lgsp"));
    assert!(e.detail.contains("client_credentials"), "{e:?}");

    // There is no user behind it: UserInfo refuses it.
    let r = userinfo::userinfo(&w.p, &r.access_token, now).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidToken);
}

#[tokio::test]
async fn narrower_scope_is_granted_as_asked() {
    let w = World::new().await;
    for asked in ["lgsp.read", "lgsp.write", "lgsp.write lgsp.read"] {
        let r = w.client_credentials("lgsp", Some(asked), T0).await.unwrap();
        assert_eq!(r.scope, asked);
        let v =
            w.p.signer
                .verify(&r.access_token, T0)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(v.claims["scope"], asked);
    }
}

#[tokio::test]
async fn user_scopes_and_unknown_scopes_are_invalid_scope() {
    let w = World::new().await;
    for asked in [
        "openid",
        "lgsp.read openid",
        "profile",
        "offline_access",
        "lgsp.admin",
        "lgsp.read lgsp.admin",
    ] {
        let r = w.client_credentials("lgsp", Some(asked), T0).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidScope, "{asked}");
    }
}

#[tokio::test]
async fn only_clients_registered_for_it_may_use_the_grant() {
    let w = World::new().await;
    // `conf` has the default grants (authorization_code, refresh_token).
    let r = w.client_credentials("conf", None, T0).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    // A public client cannot even ask.
    let params = testkit::params(&[("grant_type", "client_credentials"), ("client_id", "pub")]);
    let r = crate::oidc::token::token(&w.p, &params, None, &Default::default(), T0).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    // A service client has no authorization-code grant.
    let params = testkit::params(&[
        ("grant_type", "authorization_code"),
        ("code", "bat-ky"),
        ("redirect_uri", REDIRECT),
    ]);
    let r = crate::oidc::token::token(
        &w.p,
        &params,
        Some(&w.auth("lgsp")),
        &Default::default(),
        T0,
    )
    .await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    // Wrong secret.
    let params = testkit::params(&[("grant_type", "client_credentials")]);
    let wrong = testkit::basic("lgsp", w.secret("conf"));
    let r = crate::oidc::token::token(&w.p, &params, Some(&wrong), &Default::default(), T0).await;
    assert_eq!(oauth_code(r), ErrorCode::InvalidClient);
    w.assert_audit("client.auth_failed", None).await;
}

#[tokio::test]
async fn a_client_with_both_kinds_of_grant_gets_only_api_scopes() {
    let w = World::new().await;
    let (_, secret) = testkit::client(
        &w.p,
        NewClient {
            id: "hybrid".into(),
            name: "Cổng dịch vụ công".into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: Some(vec![
                "authorization_code".into(),
                "client_credentials".into(),
            ]),
            scopes: Some(vec!["openid".into(), "profile".into(), "lgsp.read".into()]),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let params = testkit::params(&[("grant_type", "client_credentials")]);
    let auth = testkit::basic("hybrid", &secret.unwrap());
    let r = crate::oidc::token::token(&w.p, &params, Some(&auth), &Default::default(), T0)
        .await
        .unwrap();
    assert_eq!(r.scope, "lgsp.read");
}

#[tokio::test]
async fn a_client_without_api_scopes_gets_no_empty_token() {
    let w = World::new().await;
    let (_, secret) = testkit::client(
        &w.p,
        NewClient {
            id: "noscope".into(),
            name: "Ứng dụng chưa cấu hình".into(),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["openid".into()]),
            ..NewClient::default()
        },
        T0,
    )
    .await;
    let auth = testkit::basic("noscope", &secret.unwrap());
    for params in [
        testkit::params(&[("grant_type", "client_credentials")]),
        testkit::params(&[("grant_type", "client_credentials"), ("scope", "   ")]),
    ] {
        let r =
            crate::oidc::token::token(&w.p, &params, Some(&auth), &Default::default(), T0).await;
        assert_eq!(oauth_code(r), ErrorCode::InvalidScope);
    }
}

/// A service registered before client ids were kept apart from user ids, under a person's id:
/// its token's `sub` would name that person, so the grant is refused.
#[tokio::test]
async fn a_client_id_shaped_like_a_user_id_gets_no_service_token() {
    let w = World::new().await;
    let (mut client, secret) = testkit::service_client(&w.p, "dich-vu", &["lgsp.read"], T0).await;
    let person = testkit::add_user(&w.p, "nguoi.dung", None, &[], T0).await;
    client.id = person.id.clone();
    w.p.store.insert_client(&client).await.unwrap();
    let auth = testkit::basic(&person.id, &secret);
    let params = testkit::params(&[("grant_type", "client_credentials")]);
    let r = crate::oidc::token::token(&w.p, &params, Some(&auth), &Default::default(), T0).await;
    assert_eq!(oauth_code(r), ErrorCode::UnauthorizedClient);
    // The same registration under its own id works.
    let auth = testkit::basic("dich-vu", &secret);
    let r = crate::oidc::token::token(&w.p, &params, Some(&auth), &Default::default(), T0).await;
    assert!(r.is_ok(), "{r:?}");
}

fn invalid(r: Result<impl std::fmt::Debug, AdminError>) -> String {
    match r {
        Err(AdminError::Invalid(m)) => m,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn registration_rules_for_service_clients() {
    let p = testkit::provider(T0).await;
    let service = |id: &str| NewClient {
        id: id.into(),
        name: "Dịch vụ".into(),
        grant_types: Some(vec!["client_credentials".into()]),
        scopes: Some(vec!["lgsp.read".into()]),
        ..NewClient::default()
    };
    // A public client has no credentials to present.
    let m = invalid(
        admin::add_client(
            &p,
            ACTOR,
            NewClient {
                public: true,
                ..service("cong-khai")
            },
            T0,
        )
        .await,
    );
    assert!(m.contains("public"), "{m}");
    // Redirect URIs belong to the authorization-code grant.
    invalid(
        admin::add_client(
            &p,
            ACTOR,
            NewClient {
                redirect_uris: vec![REDIRECT.into()],
                ..service("co-redirect")
            },
            T0,
        )
        .await,
    );
    // Unknown grant types, none at all, malformed scope names.
    for grants in [vec!["password".to_owned()], vec![]] {
        invalid(
            admin::add_client(
                &p,
                ACTOR,
                NewClient {
                    grant_types: Some(grants),
                    ..service("sai-grant")
                },
                T0,
            )
            .await,
        );
    }
    invalid(
        admin::add_client(
            &p,
            ACTOR,
            NewClient {
                scopes: Some(vec!["lgsp read".into()]),
                ..service("sai-scope")
            },
            T0,
        )
        .await,
    );
    // Refresh lifetimes outside 60 s – 1 year.
    for (idle, absolute) in [(Some(59), None), (None, Some(366 * 86_400))] {
        invalid(
            admin::add_client(
                &p,
                ACTOR,
                NewClient {
                    id: "sai-ttl".into(),
                    name: "Sai".into(),
                    redirect_uris: vec![REDIRECT.into()],
                    refresh_idle_ttl: idle,
                    refresh_absolute_ttl: absolute,
                    ..NewClient::default()
                },
                T0,
            )
            .await,
        );
    }
    // An API scope nobody registered (`tessera scope add`) is refused.
    let err = admin::add_client(&p, ACTOR, service("lgsp"), T0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not registered"), "{err}");
    // A client id shaped like a user id would make a service token's `sub` a person's.
    let user = testkit::add_user(&p, "an.nv", None, &[], T0).await;
    testkit::register_api_scopes(&p, &["lgsp.read".into()], T0).await;
    for id in [user.id.clone(), "0123456789abcdef0123456789abcdef".into()] {
        let err = admin::add_client(&p, ACTOR, service(&id), T0)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shape of a user id"), "{err}");
    }
    // None of these was stored; the valid one is, with a secret and client_secret_basic.
    assert!(p.store.list_clients().await.unwrap().is_empty());
    let (client, secret) = admin::add_client(&p, ACTOR, service("lgsp"), T0)
        .await
        .unwrap();
    assert!(secret.is_some());
    assert_eq!(client.grant_types, vec!["client_credentials"]);
    assert_eq!(client.auth_method, "client_secret_basic");
    let stored = p.store.client("lgsp").await.unwrap().unwrap();
    assert_eq!(stored.grant_types, client.grant_types);
    assert_eq!(stored.allowed_scopes, vec!["lgsp.read"]);
    assert_eq!(json!(stored.auth_method), json!("client_secret_basic"));
}
