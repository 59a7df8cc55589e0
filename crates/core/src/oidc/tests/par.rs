//! Pushed authorization requests (RFC 9126): validated at `/par` like `/authorize` but
//! answered as JSON; taken once, by their client, before they expire. And the pure CSC scope
//! `credential`, which needs no `openid`.

use tessera_proto::ErrorCode;

use super::{oauth_code, page_error, redirect_error};
use crate::admin::NewClient;
use crate::error::PageError;
use crate::oidc::authorize::{self, Decision};
use crate::oidc::par::{self, PAR_TTL, REQUEST_URI_PREFIX};
use crate::params::Params;
use crate::request::RequestMeta;
use crate::testkit::{self, REDIRECT, T0, authz, basic, params};

async fn setup() -> (
    crate::Provider,
    String,
    (
        tessera_store::sessions::SessionRecord,
        tessera_store::users::User,
    ),
) {
    let p = testkit::provider(T0 - 1000).await;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 1000).await;
    let (_, secret) = testkit::client(
        &p,
        NewClient {
            id: "conf".into(),
            name: "Ký số".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: Some(vec!["openid".into(), "profile".into(), "credential".into()]),
            ..NewClient::default()
        },
        T0 - 1000,
    )
    .await;
    testkit::confidential_client(&p, "other", None, T0 - 1000).await;
    let (_, session) = testkit::session(&p, &user, T0 - 100).await;
    (p, secret.expect("a secret"), session)
}

fn by_uri(client_id: &str, request_uri: &str) -> Params {
    params(&[("client_id", client_id), ("request_uri", request_uri)])
}

#[tokio::test]
async fn a_pushed_request_is_taken_once_by_its_client_before_it_expires() {
    let (p, secret, session) = setup().await;
    let auth = basic("conf", &secret);
    let meta = RequestMeta::default();
    let pushed = par::push(&p, &authz("conf", &[]), Some(&auth), T0)
        .await
        .unwrap();
    assert!(pushed.request_uri.starts_with(REQUEST_URI_PREFIX));
    assert_eq!(pushed.expires_in, PAR_TTL);
    // Another client's request_uri is refused, and not burnt.
    let r = authorize::authorize(
        &p,
        &by_uri("other", &pushed.request_uri),
        Some(&session),
        &meta,
        T0 + 1,
    )
    .await;
    assert_eq!(page_error(r), PageError::RequestExpired);
    let d = authorize::authorize(
        &p,
        &by_uri("conf", &pushed.request_uri),
        Some(&session),
        &meta,
        T0 + 1,
    )
    .await
    .unwrap();
    let code = testkit::code_of(&d);
    assert!(!code.is_empty());
    assert_eq!(
        testkit::query(match &d {
            Decision::Redirect(u) => u,
            _ => unreachable!(),
        })["state"],
        "st-1"
    );
    // Once only.
    let r = authorize::authorize(
        &p,
        &by_uri("conf", &pushed.request_uri),
        Some(&session),
        &meta,
        T0 + 2,
    )
    .await;
    assert_eq!(page_error(r), PageError::RequestExpired);
    // Not after its lifetime.
    let late = par::push(&p, &authz("conf", &[]), Some(&auth), T0)
        .await
        .unwrap();
    let r = authorize::authorize(
        &p,
        &by_uri("conf", &late.request_uri),
        Some(&session),
        &meta,
        T0 + PAR_TTL,
    )
    .await;
    assert_eq!(page_error(r), PageError::RequestExpired);
    // A request_uri that is no pushed request's goes back as before.
    let d = authorize::authorize(
        &p,
        &authz("conf", &[("request_uri", "https://app.test/r")]),
        Some(&session),
        &meta,
        T0,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "request_uri_not_supported");
}

#[tokio::test]
async fn refusals_at_par_are_oauth_errors() {
    let (p, secret, _) = setup().await;
    let auth = basic("conf", &secret);
    let push = |extra: Vec<(&'static str, &'static str)>| {
        let p = p.clone();
        let auth = auth.clone();
        async move { par::push(&p, &authz("conf", &extra), Some(&auth), T0).await }
    };
    assert_eq!(
        oauth_code(par::push(&p, &authz("conf", &[]), Some(&basic("conf", "wrong")), T0).await),
        ErrorCode::InvalidClient
    );
    assert_eq!(
        oauth_code(push(vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")]).await),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        oauth_code(push(vec![("client_id", "other")]).await),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        oauth_code(push(vec![("redirect_uri", "https://evil.test/cb")]).await),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        oauth_code(push(vec![("response_type", "token")]).await),
        ErrorCode::UnsupportedResponseType
    );
    assert_eq!(
        oauth_code(push(vec![("authorization_details", r#"[{"type":"x"}]"#)]).await),
        ErrorCode::InvalidAuthorizationDetails
    );
}

#[tokio::test]
async fn the_credential_scope_needs_no_openid() {
    let (p, _, session) = setup().await;
    let meta = RequestMeta::default();
    let hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let pure = authz(
        "conf",
        &[
            ("scope", "credential"),
            ("credentialID", "c1"),
            ("numSignatures", "1"),
            ("hashes", hash),
            ("hashAlgorithmOID", "2.16.840.1.101.3.4.2.1"),
        ],
    );
    let d = authorize::authorize(&p, &pure, Some(&session), &meta, T0)
        .await
        .unwrap();
    assert!(matches!(d, Decision::SigningApproval { .. }), "{d:?}");
    // Without a credential authorization, openid stays required.
    let d = authorize::authorize(
        &p,
        &authz("conf", &[("scope", "profile")]),
        Some(&session),
        &meta,
        T0,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "invalid_scope");
    assert!(
        matches!(&d, Decision::Redirect(u) if u.contains("openid")),
        "{d:?}"
    );
}
