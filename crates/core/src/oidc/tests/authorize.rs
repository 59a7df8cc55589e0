//! The authorization endpoint: which failures are pages, which are redirects, and when a
//! session is used, with the clock passed in.

use tessera_proto::ErrorCode;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::{page_error, redirect_error};
use crate::error::PageError;
use crate::oidc::authorize::{self, Decision};
use crate::params::Params;
use crate::request::RequestMeta;
use crate::testkit::{self, CHALLENGE, ISSUER, REDIRECT, T0, authz};
use crate::{Config, Provider};

struct Setup {
    p: Provider,
    session: (SessionRecord, User),
}

/// Clients `conf` (confidential) and `pub` (public, scopes openid and profile only), and a
/// session that logged in at `T0 - 100`.
async fn setup() -> Setup {
    let p = testkit::provider(T0 - 1000).await;
    let user = testkit::add_user(&p, "an.nv", None, &[], T0 - 1000).await;
    testkit::confidential_client(&p, "conf", None, T0 - 1000).await;
    testkit::public_client(&p, "pub", Some(&["openid", "profile"]), T0 - 1000).await;
    let (_, session) = testkit::session(&p, &user, T0 - 100).await;
    Setup { p, session }
}

async fn run(
    s: &Setup,
    params: &Params,
    session: bool,
) -> Result<Decision, authorize::AuthorizeError> {
    let session = session.then_some(&s.session);
    authorize::authorize(&s.p, params, session, &RequestMeta::default(), T0).await
}

#[tokio::test]
async fn unknown_or_missing_client_is_a_page() {
    let s = setup().await;
    let r = run(&s, &authz("nobody", &[]), true).await;
    assert_eq!(page_error(r), PageError::UnknownClient);
    let r = run(&s, &authz("conf", &[("client_id", "")]), true).await;
    assert_eq!(page_error(r), PageError::UnknownClient);
}

#[tokio::test]
async fn unregistered_redirect_uri_is_a_page_never_a_redirect() {
    let s = setup().await;
    for uri in [
        "https://evil.test/cb",
        "https://app.test/cb/",
        "https://app.test/cb?next=1",
        "https://app.test/cb#x",
        "https://APP.test/cb",
        "https://app.test/c",
        "",
    ] {
        // An otherwise bad request must not turn into a redirect to an unchecked URI.
        for extra in [("response_type", "code"), ("response_type", "token")] {
            let r = run(&s, &authz("conf", &[("redirect_uri", uri), extra]), true).await;
            assert_eq!(page_error(r), PageError::InvalidRedirectUri, "{uri:?}");
        }
    }
}

#[tokio::test]
async fn response_type_token_redirects_unsupported_response_type_with_state() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("response_type", "token")]), true)
        .await
        .unwrap();
    let (code, state) = redirect_error(&d);
    assert_eq!(code, ErrorCode::UnsupportedResponseType.as_str());
    assert_eq!(state.as_deref(), Some("st-1"));
    let d = run(&s, &authz("conf", &[("response_type", "")]), true)
        .await
        .unwrap();
    assert_eq!(redirect_error(&d).0, "invalid_request");
}

#[tokio::test]
async fn openid_scope_is_required() {
    let s = setup().await;
    for scope in ["profile email", ""] {
        let d = run(&s, &authz("conf", &[("scope", scope)]), true)
            .await
            .unwrap();
        assert_eq!(redirect_error(&d).0, "invalid_scope", "{scope:?}");
    }
}

#[tokio::test]
async fn scope_not_allowed_for_the_client_is_invalid_scope() {
    let s = setup().await;
    let ok = run(
        &s,
        &authz(
            "pub",
            &[
                ("scope", "openid profile"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ),
        true,
    )
    .await;
    testkit::code_of(&ok.unwrap());
    for scope in ["openid email", "openid admin", "openid  org"] {
        let params = authz(
            "pub",
            &[
                ("scope", scope),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        );
        let d = run(&s, &params, true).await.unwrap();
        assert_eq!(redirect_error(&d).0, "invalid_scope", "{scope:?}");
    }
}

#[tokio::test]
async fn public_client_without_pkce_is_invalid_request() {
    let s = setup().await;
    let d = run(&s, &authz("pub", &[]), true).await.unwrap();
    let (code, state) = redirect_error(&d);
    assert_eq!(code, "invalid_request");
    assert_eq!(state.as_deref(), Some("st-1"));
    // A method alone is not a challenge either.
    let d = run(
        &s,
        &authz("pub", &[("code_challenge_method", "S256")]),
        true,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "invalid_request");
}

#[tokio::test]
async fn plain_or_implicit_pkce_method_is_invalid_request() {
    let s = setup().await;
    for method in ["plain", "", "s256", "S512"] {
        let params = authz(
            "pub",
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", method),
            ],
        );
        let d = run(&s, &params, true).await.unwrap();
        assert_eq!(redirect_error(&d).0, "invalid_request", "{method:?}");
    }
}

#[tokio::test]
async fn malformed_challenge_is_invalid_request() {
    let s = setup().await;
    let padded = format!("{}=", &CHALLENGE[..42]);
    let plus = format!("{}+", &CHALLENGE[..42]);
    let long = format!("{CHALLENGE}A");
    for challenge in ["short", padded.as_str(), plus.as_str(), long.as_str()] {
        let params = authz(
            "conf",
            &[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let d = run(&s, &params, true).await.unwrap();
        assert_eq!(redirect_error(&d).0, "invalid_request", "{challenge:?}");
    }
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("prompt", "none")]), false)
        .await
        .unwrap();
    let Decision::Redirect(url) = &d else {
        panic!("expected a redirect, got {d:?}");
    };
    let q = testkit::query(url);
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], ISSUER);
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn prompt_none_with_session_redirects_with_code_state_and_iss() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("prompt", "none")]), true)
        .await
        .unwrap();
    let code = testkit::code_of(&d);
    assert_eq!(code.len(), 43);
    let Decision::Redirect(url) = &d else {
        unreachable!()
    };
    assert_eq!(testkit::query(url)["state"], "st-1");
    let audit = s.p.store.recent_audit(1).await.unwrap();
    assert_eq!(audit[0].event, "code.issued");
    assert_eq!(audit[0].client_id.as_deref(), Some("conf"));
}

#[tokio::test]
async fn prompt_login_with_session_asks_for_login() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("prompt", "login")]), true)
        .await
        .unwrap();
    assert!(matches!(d, Decision::Login { .. }), "{d:?}");
    let d = run(&s, &authz("conf", &[("prompt", "none login")]), true)
        .await
        .unwrap();
    assert_eq!(redirect_error(&d).0, "invalid_request");
}

#[tokio::test]
async fn max_age_decides_whether_the_session_is_fresh_enough() {
    // The session logged in at T0 - 100.
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("max_age", "50")]), true)
        .await
        .unwrap();
    assert!(matches!(d, Decision::Login { .. }), "{d:?}");
    let d = run(&s, &authz("conf", &[("max_age", "100")]), true)
        .await
        .unwrap();
    testkit::code_of(&d);
    let d = run(&s, &authz("conf", &[("max_age", "500")]), true)
        .await
        .unwrap();
    testkit::code_of(&d);
    // Too old and no interaction allowed: the client learns it must prompt.
    let params = authz("conf", &[("max_age", "50"), ("prompt", "none")]);
    let d = run(&s, &params, true).await.unwrap();
    assert_eq!(redirect_error(&d).0, "login_required");
    for bad in ["-1", "ten", "1.5"] {
        let d = run(&s, &authz("conf", &[("max_age", bad)]), true)
            .await
            .unwrap();
        assert_eq!(redirect_error(&d).0, "invalid_request", "{bad:?}");
    }
}

#[tokio::test]
async fn request_objects_are_not_supported() {
    let s = setup().await;
    let d = run(
        &s,
        &authz("conf", &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
        true,
    )
    .await
    .unwrap();
    let (code, state) = redirect_error(&d);
    assert_eq!(code, "request_not_supported");
    assert_eq!(state.as_deref(), Some("st-1"));
    let d = run(
        &s,
        &authz("conf", &[("request_uri", "https://app.test/r")]),
        true,
    )
    .await
    .unwrap();
    assert_eq!(redirect_error(&d).0, "request_uri_not_supported");
}

#[tokio::test]
async fn resume_after_login_issues_a_code_once() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("login_hint", "an.nv")]), false)
        .await
        .unwrap();
    let Decision::Login {
        handle,
        client_name,
        login_hint,
    } = d
    else {
        panic!("expected a login, got {d:?}");
    };
    assert_eq!(client_name, "Ứng dụng conf");
    assert_eq!(login_hint.as_deref(), Some("an.nv"));
    let (pending_client, pending) = authorize::pending(&s.p, &handle, T0 + 10)
        .await
        .unwrap()
        .expect("pending request");
    assert_eq!(pending_client.id, "conf");
    assert_eq!(pending.state.as_deref(), Some("st-1"));

    let user = s.session.1.clone();
    let (_, (fresh, _)) = testkit::session(&s.p, &user, T0 + 30).await;
    let meta = RequestMeta::default();
    let d = authorize::resume(&s.p, &handle, &fresh, &user, &meta, T0 + 30)
        .await
        .unwrap();
    let Decision::Redirect(url) = &d else {
        panic!("expected a redirect, got {d:?}");
    };
    testkit::code_of(&d);
    assert_eq!(testkit::query(url)["state"], "st-1");
    // The handle is spent.
    let again = authorize::resume(&s.p, &handle, &fresh, &user, &meta, T0 + 31).await;
    assert_eq!(page_error(again), PageError::RequestExpired);
}

#[tokio::test]
async fn resume_after_the_request_ttl_is_request_expired() {
    let s = setup().await;
    let ttl = Config::new(ISSUER).auth_request_ttl;
    let mut handles = Vec::new();
    for _ in 0..2 {
        match run(&s, &authz("conf", &[]), false).await.unwrap() {
            Decision::Login { handle, .. } => handles.push(handle),
            other => panic!("expected a login, got {other:?}"),
        }
    }
    let (session, user) = &s.session;
    let meta = RequestMeta::default();
    let last_moment = authorize::resume(&s.p, &handles[0], session, user, &meta, T0 + ttl - 1)
        .await
        .unwrap();
    testkit::code_of(&last_moment);
    let expired = authorize::resume(&s.p, &handles[1], session, user, &meta, T0 + ttl).await;
    assert_eq!(page_error(expired), PageError::RequestExpired);
}

#[tokio::test]
async fn resume_of_prompt_login_needs_a_login_after_the_request() {
    let s = setup().await;
    let Decision::Login { handle, .. } = run(&s, &authz("conf", &[("prompt", "login")]), true)
        .await
        .unwrap()
    else {
        panic!("expected a login");
    };
    // The old session (logged in at T0 - 100) does not satisfy prompt=login.
    let (old, user) = &s.session;
    let meta = RequestMeta::default();
    let r = authorize::resume(&s.p, &handle, old, user, &meta, T0 + 5).await;
    assert_eq!(page_error(r), PageError::BadRequest);
    let (_, (fresh, _)) = testkit::session(&s.p, user, T0 + 5).await;
    let d = authorize::resume(&s.p, &handle, &fresh, user, &meta, T0 + 5)
        .await
        .unwrap();
    testkit::code_of(&d);
}

#[tokio::test]
async fn errors_after_the_redirect_check_never_leave_the_registered_uri() {
    let s = setup().await;
    let d = run(&s, &authz("conf", &[("response_mode", "fragment")]), true)
        .await
        .unwrap();
    let Decision::Redirect(url) = &d else {
        panic!("expected a redirect, got {d:?}");
    };
    assert!(url.starts_with(&format!("{REDIRECT}?")), "{url}");
    assert_eq!(testkit::query(url)["error"], "invalid_request");
    let long_state = "s".repeat(1025);
    let r = run(&s, &authz("conf", &[("state", &long_state)]), true).await;
    assert_eq!(page_error(r), PageError::BadRequest);
}
