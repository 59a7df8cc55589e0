//! The administration scope: never a silent code, a consent page every time, a recent level 2
//! session, and a single-use answer bound to the session that saw the page.

use tessera_proto::ErrorCode;
use tessera_store::clients::Client;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::{page_error, redirect_error};
use crate::Provider;
use crate::admin::{self, Acting, NewClient};
use crate::admin_api::ADMIN_SCOPE;
use crate::error::PageError;
use crate::oidc::authorize::{self, ADMIN_AUTH_MAX_AGE, Decision};
use crate::oidc::consent;
use crate::request::RequestMeta;
use crate::session::{Authn, Factor};
use crate::testkit::{self, ACTOR, REDIRECT, T0};

fn meta() -> RequestMeta {
    RequestMeta::default()
}

struct World {
    p: Provider,
    console: Client,
    secret: String,
    user: User,
}

/// A pinned console, and a `cert_admin` of the city.
async fn world() -> World {
    let p = testkit::provider(T0).await;
    let city = testkit::add_unit(&p, "Hải Phòng", T0).await;
    let user = testkit::add_user(&p, "ky.so", Some(&city.id), &[], T0).await;
    admin::grant_role_by(&p, &Acting::cli(ACTOR), &user, "cert_admin", &city.id, T0)
        .await
        .unwrap();
    let (console, secret) = testkit::client(
        &p,
        NewClient {
            id: "console".into(),
            name: "Quản trị".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: Some(vec!["openid".into(), ADMIN_SCOPE.into()]),
            admin_console: true,
            ..NewClient::default()
        },
        T0,
    )
    .await;
    World {
        p,
        console,
        secret: secret.unwrap(),
        user,
    }
}

/// A session at level 2 (password and authenticator app) started at `at`.
async fn strong_session(w: &World, at: i64) -> SessionRecord {
    let authn = Authn::plus(&["pwd".into()], Factor::Totp);
    crate::session::start_session_with(&w.p, &w.user, &authn, None, &meta(), at)
        .await
        .unwrap()
        .1
}

fn admin_request(overrides: &[(&str, &str)]) -> crate::params::Params {
    let mut all = vec![("scope", "openid tessera:admin")];
    all.extend_from_slice(overrides);
    testkit::authz("console", &all)
}

async fn consent_handle(w: &World, session: &SessionRecord, now: i64) -> String {
    let pair = (session.clone(), w.user.clone());
    let d = authorize::authorize(&w.p, &admin_request(&[]), Some(&pair), &meta(), now)
        .await
        .unwrap();
    match d {
        Decision::Consent { handle } => handle,
        other => panic!("expected the consent page, got {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_in_administrator_is_never_given_a_silent_code() {
    let w = world().await;
    let session = strong_session(&w, T0).await;
    // The attack: a link to /authorize sent to a signed-in administrator. Before, SSO answered
    // with a code at once; now the person is asked.
    let handle = consent_handle(&w, &session, T0 + 5).await;
    let page = consent::prepare(&w.p, &handle, &session, &w.user, T0 + 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.client.id, w.console.id);
    assert!(page.scope.iter().any(|s| s == ADMIN_SCOPE));
    assert_eq!(page.grants, vec![("cert_admin".into(), "Hải Phòng".into())]);
    // prompt=none cannot skip it.
    let pair = (session.clone(), w.user.clone());
    let d = authorize::authorize(
        &w.p,
        &admin_request(&[("prompt", "none")]),
        Some(&pair),
        &meta(),
        T0 + 5,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "consent_required");
    // The same session asking again is asked again.
    consent_handle(&w, &session, T0 + 7).await;
}

#[tokio::test]
async fn approval_gives_a_code_once_and_only_to_the_session_that_saw_the_page() {
    let w = world().await;
    let session = strong_session(&w, T0).await;
    let handle = consent_handle(&w, &session, T0 + 5).await;
    let page = consent::prepare(&w.p, &handle, &session, &w.user, T0 + 6)
        .await
        .unwrap()
        .unwrap();
    // Another session of the same person (another browser) cannot answer it.
    let other = strong_session(&w, T0 + 1).await;
    let r = consent::answer(
        &w.p,
        &handle,
        &page.token,
        true,
        &other,
        &w.user,
        &meta(),
        T0 + 8,
    )
    .await;
    assert_eq!(page_error(r), PageError::BadRequest);
    // That try spent the page: show it again, then approve.
    let page = consent::prepare(&w.p, &handle, &session, &w.user, T0 + 9)
        .await
        .unwrap()
        .unwrap();
    let d = consent::answer(
        &w.p,
        &handle,
        &page.token,
        true,
        &session,
        &w.user,
        &meta(),
        T0 + 10,
    )
    .await
    .unwrap();
    let code = testkit::code_of(&d);
    // The code gives an administration token, but no refresh token: the next one needs a new
    // approval.
    let answer = crate::oidc::token::token(
        &w.p,
        &testkit::params(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ]),
        Some(&testkit::basic("console", &w.secret)),
        &meta(),
        T0 + 10,
    )
    .await
    .unwrap();
    assert!(answer.scope.contains(ADMIN_SCOPE), "{answer:?}");
    assert!(answer.refresh_token.is_none(), "{answer:?}");
    // A second answer with the same page is refused.
    let r = consent::answer(
        &w.p,
        &handle,
        &page.token,
        true,
        &session,
        &w.user,
        &meta(),
        T0 + 11,
    )
    .await;
    assert_eq!(page_error(r), PageError::RequestExpired);
    // A page answered after it expired is refused.
    let handle = consent_handle(&w, &session, T0 + 20).await;
    let page = consent::prepare(&w.p, &handle, &session, &w.user, T0 + 20)
        .await
        .unwrap()
        .unwrap();
    let late = T0 + 21 + consent::CONSENT_TTL;
    let r = consent::answer(
        &w.p,
        &handle,
        &page.token,
        true,
        &session,
        &w.user,
        &meta(),
        late,
    )
    .await;
    assert_eq!(page_error(r), PageError::RequestExpired);
}

#[tokio::test]
async fn refusing_sends_access_denied() {
    let w = world().await;
    let session = strong_session(&w, T0).await;
    let handle = consent_handle(&w, &session, T0 + 5).await;
    let page = consent::prepare(&w.p, &handle, &session, &w.user, T0 + 6)
        .await
        .unwrap()
        .unwrap();
    let d = consent::answer(
        &w.p,
        &handle,
        &page.token,
        false,
        &session,
        &w.user,
        &meta(),
        T0 + 7,
    )
    .await
    .unwrap();
    let (error, state) = redirect_error(&d);
    assert_eq!(error, ErrorCode::AccessDenied.as_str());
    assert_eq!(state.as_deref(), Some("st-1"));
    // The request is gone: no later approval.
    assert!(
        authorize::pending(&w.p, &handle, T0 + 8)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_password_session_or_an_old_level_2_is_stepped_up_first() {
    let w = world().await;
    // Level 1: the second factor first.
    let (_, weak) = testkit::session(&w.p, &w.user, T0).await;
    let d = authorize::authorize(&w.p, &admin_request(&[]), Some(&weak), &meta(), T0 + 1)
        .await
        .unwrap();
    assert!(matches!(d, Decision::StepUp { .. }), "{d:?}");
    // Level 2, but proven more than 15 minutes ago: again.
    let session = strong_session(&w, T0).await;
    let pair = (session.clone(), w.user.clone());
    let stale = T0 + ADMIN_AUTH_MAX_AGE + 1;
    let d = authorize::authorize(&w.p, &admin_request(&[]), Some(&pair), &meta(), stale)
        .await
        .unwrap();
    let Decision::StepUp { handle } = d else {
        panic!("expected a step-up, got {d:?}");
    };
    // Neither the consent page nor its answer lets it through meanwhile.
    let d = consent::prepare(&w.p, &handle, &session, &w.user, stale)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(d, Decision::StepUp { .. }), "{d:?}");
    let d = authorize::resume(&w.p, &handle, &session, &w.user, &meta(), stale)
        .await
        .unwrap();
    assert!(matches!(d, Decision::StepUp { .. }), "{d:?}");
    // A page shown while fresh but answered once stale asks for the step-up too.
    let shown = T0 + ADMIN_AUTH_MAX_AGE - 60;
    let handle = consent_handle(&w, &session, shown).await;
    let page = consent::prepare(&w.p, &handle, &session, &w.user, shown)
        .await
        .unwrap()
        .unwrap();
    let d = consent::answer(
        &w.p,
        &handle,
        &page.token,
        true,
        &session,
        &w.user,
        &meta(),
        T0 + ADMIN_AUTH_MAX_AGE + 2,
    )
    .await
    .unwrap();
    assert!(matches!(d, Decision::StepUp { .. }), "{d:?}");
}

#[tokio::test]
async fn only_a_pinned_console_may_ask_for_the_administration_scope() {
    let w = world().await;
    // A client that holds the scope without being pinned (registered before pinning existed).
    let mut legacy = w.console.clone();
    legacy.id = "cu".into();
    legacy.admin_console = false;
    w.p.store.insert_client(&legacy).await.unwrap();
    let session = strong_session(&w, T0).await;
    let pair = (session, w.user.clone());
    let d = authorize::authorize(
        &w.p,
        &testkit::authz("cu", &[("scope", "openid tessera:admin")]),
        Some(&pair),
        &meta(),
        T0 + 1,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "invalid_scope");
    // Nor can the registration give it to an unpinned client.
    let err = admin::add_client(
        &w.p,
        ACTOR,
        NewClient {
            id: "khac".into(),
            name: "Khác".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: Some(vec!["openid".into(), ADMIN_SCOPE.into()]),
            ..NewClient::default()
        },
        T0,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("administration console"), "{err}");
}
