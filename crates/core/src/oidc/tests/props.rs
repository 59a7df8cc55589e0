//! Property tests of request parsing at `/authorize` and `/token`. Each case starts from a
//! valid request (so that it gets past the first checks) and keeps, drops or replaces each of
//! the real parameters with edge values — empty, at and over the length limit, unicode,
//! control characters, repeats — and adds unknown ones. Whatever comes in, nothing panics
//! and the answer is typed: a page, a redirect to the registered URI with an RFC error code,
//! a protocol error from the RFC 6749 §5.2 set, or a success that the request deserved.
//! One provider serves all cases; the clock is a parameter like any other.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tessera_proto::ErrorCode;
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;
use tokio::runtime::Runtime;

use crate::oidc::authorize::{self, AuthorizeError, Decision};
use crate::oidc::token;
use crate::params::{MAX_VALUE_LEN, Params};
use crate::request::RequestMeta;
use crate::testkit::{self, CHALLENGE, ISSUER, REDIRECT, T0, VERIFIER};
use crate::{Config, OAuthError, Provider};

/// Enough to reach every branch often; both properties together run in about a second.
const CASES: u32 = 300;

const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "request",
    "grant_type",
    "code",
    "code_verifier",
    "client_secret",
];

/// Replaced in the test body by the confidential client's secret and by a code freshly issued.
const SECRET: &str = "@SECRET@";
const FRESH_CODE: &str = "@CODE@";

/// Error codes of the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
const AUTHORIZE_CODES: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

/// Error codes of the token endpoint (RFC 6749 §5.2).
const TOKEN_CODES: &[ErrorCode] = &[
    ErrorCode::InvalidRequest,
    ErrorCode::InvalidClient,
    ErrorCode::InvalidGrant,
    ErrorCode::UnauthorizedClient,
    ErrorCode::UnsupportedGrantType,
    ErrorCode::InvalidScope,
];

fn meaningful() -> Vec<String> {
    [
        "conf",
        "pub",
        "nobody",
        REDIRECT,
        "https://app.test/cb/",
        "https://app.test/cb?x=1",
        "code",
        "token",
        "code id_token",
        "openid",
        "openid profile email phone org",
        "openid admin",
        "profile",
        CHALLENGE,
        "S256",
        "plain",
        "none",
        "login",
        "none login",
        "consent",
        "0",
        "50",
        "-1",
        "99999999999999999999",
        "authorization_code",
        "password",
        "refresh_token",
        VERIFIER,
        SECRET,
        FRESH_CODE,
        "eyJhbGciOiJub25lIn0.e30.",
        "Phường Hồng Bàng",
        "\0",
        "%00",
        " ",
        "a b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(meaningful()),
        2 => Just(String::new()),
        2 => any::<String>(),
        2 => "\\PC{0,64}",
        // At and just over the length limit, in bytes: "ệ" takes 3, so 683 of them are 2049.
        1 => prop::sample::select(vec![
            "x".repeat(MAX_VALUE_LEN),
            "x".repeat(MAX_VALUE_LEN + 1),
            "ệ".repeat(682),
            "ệ".repeat(683),
        ]),
        // Around the longest state and nonce accepted (1024).
        1 => (1020usize..=1030).prop_map(|n| "s".repeat(n)),
    ]
}

/// What a case does to one parameter of a valid base request.
#[derive(Clone, Debug)]
enum Edit {
    Keep,
    Drop,
    Set(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        20 => Just(Edit::Keep),
        1 => Just(Edit::Drop),
        3 => value().prop_map(Edit::Set),
    ]
}

/// A request built from a valid one (so that cases reach the deep checks): each known
/// parameter kept, dropped or replaced, a few unknown ones added, sometimes one repeated.
#[derive(Clone, Debug)]
struct Case {
    public: bool,
    pkce: bool,
    secret_in_body: bool,
    edits: Vec<Edit>,
    extra: Vec<(String, String)>,
    repeat: Option<prop::sample::Index>,
}

fn case() -> impl Strategy<Value = Case> {
    let extra_name = prop_oneof![
        1 => Just("request_uri".to_owned()),
        1 => Just("response_mode".to_owned()),
        1 => Just("client_assertion".to_owned()),
        3 => "[a-z_]{0,12}",
    ];
    (
        any::<bool>(),
        prop::bool::weighted(0.8),
        any::<bool>(),
        prop::collection::vec(edit(), NAMES.len()),
        prop::collection::vec((extra_name, value()), 0..2),
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(
            |(public, pkce, secret_in_body, edits, extra, repeat)| Case {
                public,
                pkce,
                secret_in_body,
                edits,
                extra,
                repeat,
            },
        )
}

impl Case {
    fn client(&self) -> &'static str {
        if self.public { "pub" } else { "conf" }
    }

    /// The base request: valid at `/authorize` and, with a fresh code, at `/token`.
    fn base(&self, name: &str) -> Option<&'static str> {
        Some(match name {
            "client_id" => self.client(),
            "redirect_uri" => REDIRECT,
            "response_type" => "code",
            "scope" => "openid profile",
            "state" => "st-1",
            "nonce" => "n-1",
            "code_challenge" if self.pkce => CHALLENGE,
            "code_challenge_method" if self.pkce => "S256",
            "grant_type" => "authorization_code",
            "code" => FRESH_CODE,
            "code_verifier" if self.pkce => VERIFIER,
            "client_secret" if !self.public && self.secret_in_body => SECRET,
            _ => return None,
        })
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (name, edit) in NAMES.iter().zip(&self.edits) {
            let value = match edit {
                Edit::Keep => self.base(name).map(str::to_owned),
                Edit::Drop => None,
                Edit::Set(v) => Some(v.clone()),
            };
            if let Some(v) = value {
                pairs.push(((*name).to_owned(), v));
            }
        }
        pairs.extend(self.extra.iter().cloned());
        if let Some(i) = &self.repeat
            && !pairs.is_empty()
        {
            let dup = pairs[i.index(pairs.len())].clone();
            pairs.push(dup);
        }
        pairs
    }

    /// The `Authorization` header of the base token request.
    fn basic(&self) -> Option<String> {
        (!self.public && !self.secret_in_body).then(|| testkit::basic("conf", SECRET))
    }
}

/// What a case does to the `Authorization` header of the base token request.
fn authorization() -> impl Strategy<Value = Option<Option<String>>> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    prop_oneof![
        12 => Just(None),
        1 => Just(Some(None)),
        1 => Just(Some(Some(testkit::basic("conf", SECRET)))),
        1 => Just(Some(Some(testkit::basic("pub", "")))),
        1 => Just(Some(Some(testkit::basic("conf", "wrong")))),
        1 => any::<String>().prop_map(|s| Some(Some(s))),
        1 => prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| Some(Some(format!("Basic {}", STANDARD.encode(b))))),
        1 => "[ -~]{0,40}".prop_map(|s| Some(Some(format!("Basic {s}")))),
    ]
}

struct Shared {
    p: Provider,
    session: (SessionRecord, User),
    secret: String,
}

fn shared(rt: &Runtime) -> Shared {
    rt.block_on(async {
        let t = T0 - 1000;
        let p = testkit::provider(t).await;
        let user = testkit::add_user(&p, "an.nv", None, &[], t).await;
        let (_, secret) = testkit::confidential_client(&p, "conf", None, t).await;
        testkit::public_client(&p, "pub", None, t).await;
        let (_, session) = testkit::session(&p, &user, T0 - 100).await;
        Shared { p, session, secret }
    })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    }
}

/// A redirect is to the registered URI, which the request named exactly, and carries either a
/// code or an error of the authorization endpoint, plus the state and the issuer.
fn check_redirect(params: &Params, url: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(params.get("redirect_uri"), Some(REDIRECT));
    prop_assert!(url.starts_with(&format!("{REDIRECT}?")), "{}", url);
    let q = testkit::query(url);
    prop_assert_eq!(q.get("iss").map(String::as_str), Some(ISSUER));
    prop_assert_eq!(q.get("state").map(String::as_str), params.get("state"));
    match (q.get("code"), q.get("error")) {
        (Some(_), None) => {}
        (None, Some(e)) => prop_assert!(AUTHORIZE_CODES.contains(&e.as_str()), "{}", e),
        other => prop_assert!(false, "neither code nor error: {:?}", other),
    }
    Ok(())
}

#[test]
fn authorization_requests_end_in_a_typed_answer() {
    let rt = runtime();
    let s = shared(&rt);
    let meta = RequestMeta::default();
    proptest!(config(), |(case in case(), with_session in any::<bool>(), dt in 0i64..100_000)| {
        let Ok(params) = Params::from_pairs(case.pairs()) else {
            // A repeated or over-long parameter: a typed refusal before any endpoint logic.
            return Ok(());
        };
        let now = T0 + dt;
        rt.block_on(async {
            match authorize::validate(&s.p, &params, now).await {
                Ok(Ok((client, req))) => {
                    prop_assert_eq!(Some(client.id.as_str()), params.get("client_id"));
                    prop_assert!(client.redirect_uris.contains(&req.redirect_uri));
                    prop_assert!(req.scope.iter().any(|s| s == "openid"));
                    prop_assert!(req.code_challenge.is_some() || !client.public);
                    prop_assert_eq!(req.received_at, now);
                }
                Ok(Err(Decision::Redirect(url))) => {
                    check_redirect(&params, &url)?;
                    prop_assert!(testkit::query(&url).contains_key("error"));
                }
                Ok(Err(other)) => prop_assert!(false, "validate asked for {:?}", other),
                Err(AuthorizeError::Page { .. }) => {}
                Err(AuthorizeError::Internal(e)) => prop_assert!(false, "internal: {}", e),
            }
            let session = with_session.then_some(&s.session);
            match authorize::authorize(&s.p, &params, session, &meta, now).await {
                Ok(Decision::Redirect(url)) => check_redirect(&params, &url)?,
                Ok(Decision::Login { .. }) => {
                    prop_assert_eq!(params.get("redirect_uri"), Some(REDIRECT));
                    prop_assert!(params.get("prompt") != Some("none"));
                }
                Ok(Decision::StepUp { .. }) => {
                    prop_assert!(with_session, "a step-up needs a session");
                    prop_assert!(params.get("prompt") != Some("none"));
                }
                Ok(Decision::Consent { .. }) => {
                    prop_assert!(with_session, "consent needs a session");
                    prop_assert!(
                        params.get("scope").is_some_and(|s| s.contains("tessera:admin")),
                        "consent only for the administration scope"
                    );
                }
                Ok(Decision::SigningApproval { .. }) => {
                    prop_assert!(with_session, "an approval needs a session");
                    prop_assert!(
                        params.get("authorization_details").is_some()
                            || params.get("scope").is_some_and(|s| s.contains("credential")),
                        "an approval only for a credential authorization"
                    );
                }
                Err(AuthorizeError::Page { .. }) => {}
                Err(AuthorizeError::Internal(e)) => prop_assert!(false, "internal: {}", e),
            }
            Ok(())
        })?;
    });
}

#[test]
fn token_requests_end_in_a_token_or_an_rfc_error() {
    let rt = runtime();
    let s = shared(&rt);
    let meta = RequestMeta::default();
    let code_ttl = Config::new(ISSUER).code_ttl;
    proptest!(
        config(),
        |(case in case(), authorization in authorization(), cross in prop::bool::weighted(0.1),
          step in 0i64..300, delay in 0i64..90)| {
            // Codes are issued within the session's lifetime; some are redeemed too late.
            let issued = T0 + step * 100;
            let now = issued + delay;
            let mut pairs = case.pairs();
            let authorization = authorization.unwrap_or_else(|| case.basic());
            rt.block_on(async {
                let mut fresh = None;
                let mut code_client = None;
                let mut challenged = false;
                if pairs.iter().any(|(_, v)| v == FRESH_CODE) {
                    // Sometimes the code goes to the other client.
                    let public = case.public != cross;
                    let client = if public { "pub" } else { "conf" };
                    let mut req = vec![("scope", "openid profile")];
                    challenged = case.pkce || public;
                    if challenged {
                        req.extend([("code_challenge", CHALLENGE), ("code_challenge_method", "S256")]);
                    }
                    let d = authorize::authorize(
                        &s.p, &testkit::authz(client, &req), Some(&s.session), &meta, issued,
                    )
                    .await;
                    let Ok(d) = d else {
                        return Err(TestCaseError::fail(format!("issuing a code: {d:?}")));
                    };
                    fresh = Some(testkit::code_of(&d));
                    code_client = Some(client);
                }
                for (_, v) in &mut pairs {
                    if v == SECRET {
                        v.clone_from(&s.secret);
                    } else if v == FRESH_CODE
                        && let Some(code) = &fresh
                    {
                        v.clone_from(code);
                    }
                }
                let authorization = authorization.map(|a| {
                    a.replace(&testkit::basic("conf", SECRET), &testkit::basic("conf", &s.secret))
                });
                let Ok(params) = Params::from_pairs(pairs) else {
                    return Ok(());
                };
                match token::token(&s.p, &params, authorization.as_deref(), &meta, now).await {
                    Ok(r) => {
                        // Only a fresh code, to the client it was issued to, in time, with the same
                        // redirect URI.
                        prop_assert_eq!(params.get("grant_type"), Some("authorization_code"));
                        prop_assert!(fresh.is_some());
                        prop_assert_eq!(params.get("code"), fresh.as_deref());
                        prop_assert_eq!(params.get("redirect_uri"), Some(REDIRECT));
                        prop_assert!(delay < code_ttl);
                        // PKCE both ways: a verifier exactly when a challenge was sent.
                        let verifier = params.get("code_verifier");
                        prop_assert_eq!(verifier, challenged.then_some(VERIFIER));
                        prop_assert_eq!(r.token_type, "Bearer");
                        let id_token = r.id_token.unwrap_or_default();
                        let v = s.p.signer.verify(&id_token, now).await;
                        let Ok(Some(v)) = v else {
                            return Err(TestCaseError::fail(format!("ID token: {v:?}")));
                        };
                        prop_assert_eq!(v.claims["aud"].as_str(), code_client);
                    }
                    Err(OAuthError::Protocol { code, .. }) => {
                        prop_assert!(TOKEN_CODES.contains(&code), "{}", code);
                    }
                    Err(OAuthError::Internal(e)) => prop_assert!(false, "internal: {}", e),
                }
                Ok(())
            })?;
        }
    );
}
