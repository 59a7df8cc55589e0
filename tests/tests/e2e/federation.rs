//! Identity brokering (issue 17 §1): citizens sign in to departmental applications through an
//! upstream OpenID Connect provider standing in for VNeID — here a second Tessera started by
//! the test, on `localhost` so that the browser keeps its cookies apart from the
//! downstream's (on 127.0.0.1).

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, Callback};
use tessera_e2e::{
    Backend, Browser, NewClient, NewUser, Page, RegisteredClient, ServerOptions, TestServer,
};
use tessera_sdk::AuthOptions;

scenarios!(
    citizen_signs_in_through_upstream,
    upstream_down_creates_nothing,
    official_links_only_with_own_password,
    bad_id_tokens_are_refused
);

const CITIZEN: &str = "cd.001094012345";
const CITIZEN_PASSWORD: &str = "mat-khau-vneid-2024";
const CITIZEN_NAME: &str = "Trần Thị Bình";

struct World {
    up: TestServer,
    fx: Fixture,
}

/// The upstream (a Tessera with one person and Tessera registered as its client) and the
/// downstream (the usual fixture) with the upstream registered as `vneid` for `population`.
async fn world(backend: Backend, population: &str) -> anyhow::Result<World> {
    let up = TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let fx = Fixture::start_with(
        backend,
        ServerOptions::default()
            .allow_loopback_calls()
            .env("TESSERA_OUTBOUND_ALLOW_HOSTS", "127.0.0.1,localhost"),
    )
    .await?;
    let unit = up.add_unit("Bộ Công an", None).await?;
    let mut person = NewUser::new(CITIZEN, CITIZEN_NAME, CITIZEN_PASSWORD);
    person.unit = Some(unit);
    up.add_user(&person).await?;
    let mut registration = NewClient::confidential("tessera-haiphong", "Tessera Hải Phòng")
        .post_logout_redirect_uri(&format!("{}/logout/upstream/done", fx.server.issuer()));
    registration.redirect_uri = format!("{}/login/upstream/callback", fx.server.issuer());
    let at_up = up.add_client(&registration).await?;
    fx.server
        .cli_ok(
            &[
                "upstream",
                "add",
                "--id",
                "vneid",
                "--name",
                "VNeID",
                "--issuer",
                up.issuer(),
                "--client-id",
                &at_up.client_id,
                "--client-secret-stdin",
                "--scopes",
                "profile",
                "--claim-map",
                "name=name",
                "--for",
                population,
            ],
            at_up.client_secret.as_deref(),
        )
        .await?;
    Ok(World { up, fx })
}

/// A downstream client for `audience`.
async fn client(server: &TestServer, id: &str, audience: &str) -> anyhow::Result<RegisteredClient> {
    let redirect_uri = format!("http://127.0.0.1:9/{id}/cb");
    let out = server
        .cli_ok(
            &[
                "client",
                "add",
                "--id",
                id,
                "--name",
                "Cổng dịch vụ công",
                "--redirect-uri",
                &redirect_uri,
                "--post-logout-redirect-uri",
                &format!("http://127.0.0.1:9/{id}/bye"),
                "--audience",
                audience,
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    Ok(RegisteredClient {
        client_id: id.to_owned(),
        client_secret: out["client_secret"].as_str().map(str::to_owned),
        redirect_uri,
    })
}

/// From the downstream login page, through the upstream's own login, back to the
/// downstream's callback; answers the downstream's answer to that callback.
async fn through_upstream(w: &World, browser: &Browser, login: &Page) -> anyhow::Result<Page> {
    ensure!(login.body.contains("Đăng nhập bằng VNeID"), "{login}");
    // The page escapes attribute values as HTML (`/` too).
    let body = login.body.replace("&#x2f;", "/").replace("&amp;", "&");
    let href = body
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|h| h.starts_with("/login/upstream/vneid"))
        .context("no VNeID button")?;
    let start = browser.get(&w.fx.server.url(href)).await?;
    let at_up = start.see_other().context("start")?;
    ensure!(at_up.as_str().starts_with(w.up.issuer()), "{at_up}");
    let up_login = flow::open_login_page(browser, &at_up).await?;
    let form = up_login.login_form()?;
    let answer = browser
        .submit_login(&w.up, &form, CITIZEN, CITIZEN_PASSWORD)
        .await?;
    let back = answer.see_other().context("upstream login")?;
    ensure!(back.path() == "/login/upstream/callback", "{back}");
    browser.get(&back).await
}

async fn users(server: &TestServer) -> anyhow::Result<Vec<Value>> {
    match server
        .cli_ok(&["user", "list", "--json"], None)
        .await?
        .json()?
    {
        Value::Array(a) => Ok(a),
        other => bail!("user list: {other}"),
    }
}

/// The happy path: a citizen's first sign-in creates their account (in `citizens`, by issuer
/// and subject), the ID token says `amr` `fed`; SSO to a second citizens' application; an
/// officials' application refuses them; a second sign-in creates nobody; logout goes upstream.
async fn citizen_signs_in_through_upstream(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend, "citizens").await?;
    let portal = client(&w.fx.server, "dichvucong", "citizens").await?;
    let rp = flow::relying_party(&w.fx.server, &portal).await?;
    let browser = Browser::new()?;
    let before = users(&w.fx.server).await?.len();

    let (url, pending) = rp.authorization_url(&["profile"], &AuthOptions::default());
    let login = flow::open_login_page(&browser, &url).await?;
    let done = through_upstream(&w, &browser, &login).await?;
    let cb = Callback {
        url: done.see_other().context("downstream callback")?,
    };
    let state = cb.state().context("no state")?;
    let result = rp.exchange_code(&pending, &cb.code()?, &state).await?;
    assert_eq!(result.claims.amr, vec!["fed".to_owned()]);
    assert_eq!(result.claims.acr.as_deref(), Some("urn:tessera:loa:1"));
    assert_eq!(result.claims.name.as_deref(), Some(CITIZEN_NAME));
    let after = users(&w.fx.server).await?;
    assert_eq!(after.len(), before + 1);
    let citizen = after
        .iter()
        .find(|u| u["id"] == result.subject.as_str())
        .context("the citizen's account")?;
    assert_eq!(citizen["unit_id"], "citizens");

    // SSO: another citizens' application, no prompt anywhere.
    let other = client(&w.fx.server, "motcua-congdan", "both").await?;
    let other_rp = flow::relying_party(&w.fx.server, &other).await?;
    let (url, _) = other_rp.authorization_url(&[], &AuthOptions::default());
    flow::authorize_silently(&browser, &url).await?;

    // The officials' application refuses a citizen with a clear page.
    let officials_rp = w.fx.rp().await?;
    let (url, _) = officials_rp.authorization_url(&[], &AuthOptions::default());
    let refused = browser.get(&url).await?;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused}");
    assert!(refused.body.contains("wrong_audience"), "{refused}");

    // Citizens get no administrative role.
    let grant =
        w.fx.server
            .cli(
                &[
                    "user",
                    "grant",
                    citizen["username"].as_str().unwrap_or_default(),
                    "--role",
                    "admin",
                    "--unit",
                    &w.fx.unit_id,
                ],
                None,
            )
            .await?;
    assert!(!grant.success(), "{grant}");

    // Signing in again (another browser) finds the same account.
    let again = Browser::new()?;
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&again, &url).await?;
    let done = through_upstream(&w, &again, &login).await?;
    let cb = Callback {
        url: done.see_other()?,
    };
    let second = rp
        .exchange_code(&pending, &cb.code()?, &cb.state().unwrap_or_default())
        .await?;
    assert_eq!(second.subject, result.subject);
    assert_eq!(users(&w.fx.server).await?.len(), before + 1);

    // Logout goes upstream: RP-initiated logout at the upstream's end_session_endpoint,
    // which comes back to Tessera, which goes on to the application.
    let bye = format!("http://127.0.0.1:9/{}/bye", portal.client_id);
    let logout = rp.end_session_url(&result.id_token, Some(&bye), Some("s1"))?;
    let page = browser.get(&logout).await?;
    let at_up = page.see_other().context("logout")?;
    ensure!(
        at_up
            .as_str()
            .starts_with(&format!("{}/logout", w.up.issuer())),
        "{at_up}"
    );
    assert!(at_up.query_pairs().any(|(k, _)| k == "id_token_hint"));
    let up_done = browser.get(&at_up).await?;
    let back = up_done.see_other().context("upstream logout")?;
    ensure!(back.path() == "/logout/upstream/done", "{back}");
    let last = browser.get(&back).await?;
    let end = last.see_other()?;
    assert!(end.as_str().starts_with(&bye), "{end}");
    // Signed out upstream too: the upstream asks for the password again.
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&browser, &url).await?;
    let href = format!(
        "/login/upstream/vneid?req={}",
        login.login_form()?.req.unwrap_or_default()
    );
    let start = browser.get(&w.fx.server.url(&href)).await?;
    flow::open_login_page(&browser, &start.see_other()?).await?;
    Ok(())
}

/// An upstream that cannot be reached: a clear page, no account, an audit entry.
async fn upstream_down_creates_nothing(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(
        backend,
        ServerOptions::default()
            .allow_loopback_calls()
            .env("TESSERA_OUTBOUND_ALLOW_HOSTS", "127.0.0.1,localhost"),
    )
    .await?;
    fx.server
        .cli_ok(
            &[
                "upstream",
                "add",
                "--id",
                "vneid",
                "--issuer",
                "http://127.0.0.1:9/",
                "--client-id",
                "x",
            ],
            None,
        )
        .await?;
    let before = users(&fx.server).await?.len();
    let portal = client(&fx.server, "dichvucong", "citizens").await?;
    let rp = flow::relying_party(&fx.server, &portal).await?;
    let browser = Browser::new()?;
    let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&browser, &url).await?;
    let req = login.login_form()?.req.unwrap_or_default();
    let page = browser
        .get(&fx.server.url(&format!("/login/upstream/vneid?req={req}")))
        .await?;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{page}");
    assert!(page.body.contains("upstream_unavailable"), "{page}");
    assert!(
        page.body.contains("Chưa có tài khoản nào được tạo"),
        "{page}"
    );
    assert_eq!(users(&fx.server).await?.len(), before);
    // An unknown upstream is a plain 404 page; a callback nobody started is refused.
    let unknown = browser.get(&fx.server.url("/login/upstream/nope")).await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown}");
    let forged = browser
        .get(&fx.server.url("/login/upstream/callback?code=c&state=s"))
        .await?;
    assert_eq!(forged.status, StatusCode::BAD_GATEWAY, "{forged}");
    assert!(forged.body.contains("upstream_rejected"), "{forged}");
    Ok(())
}

/// An officials' upstream: an identity that matches nobody is linked only with the
/// official's own password; a wrong one links nothing; after linking, it signs in directly.
async fn official_links_only_with_own_password(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend, "officials").await?;
    let rp = w.fx.rp().await?;
    let browser = Browser::new()?;
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&browser, &url).await?;
    let offer_page = through_upstream(&w, &browser, &login).await?;
    let link = offer_page.see_other().context("link offer")?;
    ensure!(link.path() == "/login/upstream/link", "{link}");
    let form = browser.get(&link).await?;
    let csrf = tessera_e2e::hidden_input(&form.body, "csrf_token").context("csrf")?;
    let offer = tessera_e2e::hidden_input(&form.body, "offer").context("offer")?;
    let post = w.fx.server.url("/login/upstream/link");

    // Without proof: refused, nothing linked, no session.
    let wrong = browser
        .post_form(
            &post,
            &[
                ("csrf_token", csrf.as_str()),
                ("offer", offer.as_str()),
                ("username", USERNAME),
                ("password", "not-the-password"),
            ],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{wrong}");
    assert!(wrong.set_cookie("tessera_session").is_none());
    // Nor without the form's CSRF token.
    let forged = browser
        .post_form(
            &post,
            &[
                ("offer", offer.as_str()),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged}");

    // With the official's own password: linked and signed in.
    let right = browser
        .post_form(
            &post,
            &[
                ("csrf_token", csrf.as_str()),
                ("offer", offer.as_str()),
                ("username", USERNAME),
                ("password", PASSWORD),
            ],
        )
        .await?;
    let cb = Callback {
        url: right.see_other().context("after linking")?,
    };
    let result = rp
        .exchange_code(&pending, &cb.code()?, &cb.state().unwrap_or_default())
        .await?;
    assert_eq!(result.subject, w.fx.user_id);
    assert!(result.claims.amr.contains(&"fed".to_owned()));

    // Next time, the upstream alone signs the official in.
    let again = Browser::new()?;
    let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
    let login = flow::open_login_page(&again, &url).await?;
    let done = through_upstream(&w, &again, &login).await?;
    let cb = Callback {
        url: done.see_other()?,
    };
    let second = rp
        .exchange_code(&pending, &cb.code()?, &cb.state().unwrap_or_default())
        .await?;
    assert_eq!(second.subject, w.fx.user_id);
    assert_eq!(second.claims.amr, vec!["fed".to_owned()]);
    Ok(())
}

/// How the test-controlled upstream misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mischief {
    None,
    TamperedSignature,
    WrongNonce,
    WrongAudience,
}

/// A tiny OpenID provider run by the test, with the real crates (axum, ring ES256), that signs
/// bad ID tokens on demand: the real providers never misbehave when asked.
struct Rogue {
    issuer: String,
    state: std::sync::Arc<std::sync::Mutex<(Mischief, String)>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Rogue {
    async fn start() -> anyhow::Result<Rogue> {
        use axum::extract::{Query, State};
        use axum::response::{IntoResponse, Redirect};
        use axum::routing::{get, post};
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        use std::collections::HashMap;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("key"))?;
        let key = std::sync::Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|_| anyhow::anyhow!("key"))?,
        );
        let public = key.public_key().as_ref().to_vec();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": B64.encode(&public[1..33]), "y": B64.encode(&public[33..65]),
        });
        let state = std::sync::Arc::new(std::sync::Mutex::new((Mischief::None, String::new())));
        type Shared = (
            String,
            std::sync::Arc<EcdsaKeyPair>,
            serde_json::Value,
            std::sync::Arc<std::sync::Mutex<(Mischief, String)>>,
        );
        let shared: Shared = (issuer.clone(), key, jwk, state.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<Shared>| async move {
                    axum::Json(serde_json::json!({
                        "issuer": s.0,
                        "authorization_endpoint": format!("{}/authorize", s.0),
                        "token_endpoint": format!("{}/token", s.0),
                        "jwks_uri": format!("{}/jwks", s.0),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["ES256"],
                    }))
                }),
            )
            .route(
                "/jwks",
                get(|State(s): State<Shared>| async move {
                    axum::Json(serde_json::json!({ "keys": [s.2] }))
                }),
            )
            .route(
                "/authorize",
                get(
                    |State(s): State<Shared>, Query(q): Query<HashMap<String, String>>| async move {
                        let mut st = s.3.lock().unwrap_or_else(|e| e.into_inner());
                        st.1 = q.get("nonce").cloned().unwrap_or_default();
                        let mut back = url::Url::parse(&q["redirect_uri"]).expect("redirect_uri");
                        back.query_pairs_mut()
                            .append_pair("code", "the-code")
                            .append_pair("state", &q["state"]);
                        Redirect::to(back.as_str()).into_response()
                    },
                ),
            )
            .route(
                "/token",
                post(|State(s): State<Shared>| async move {
                    let (mischief, nonce) = s.3.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let now = tessera_e2e::lifecycle::unix_now();
                    let claims = serde_json::json!({
                        "iss": s.0, "sub": "079201000123", "name": "Lê Văn Cường",
                        "aud": if mischief == Mischief::WrongAudience { "someone-else" } else { "rogue-client" },
                        "iat": now, "exp": now + 300,
                        "nonce": if mischief == Mischief::WrongNonce { "not-the-nonce".to_owned() } else { nonce },
                    });
                    let header = B64.encode(br#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#);
                    let payload = B64.encode(claims.to_string());
                    let input = format!("{header}.{payload}");
                    let sig = s.1.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
                    let mut token = format!("{input}.{}", B64.encode(sig.as_ref()));
                    if mischief == Mischief::TamperedSignature {
                        // Another subject, the signature of the original.
                        let forged = B64.encode(claims.to_string().replace("079201000123", "079201000999"));
                        token = format!("{header}.{forged}.{}", B64.encode(sig.as_ref()));
                    }
                    axum::Json(serde_json::json!({
                        "access_token": "at", "token_type": "Bearer", "expires_in": 300,
                        "id_token": token,
                    }))
                }),
            )
            .with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Rogue {
            issuer,
            state,
            _task: task,
        })
    }

    fn misbehave(&self, m: Mischief) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = m;
    }
}

/// A tampered ID token, a wrong nonce and a wrong audience are each refused with a clear page
/// and create nothing; the same upstream behaving well signs the citizen in.
async fn bad_id_tokens_are_refused(backend: Backend) -> anyhow::Result<()> {
    let rogue = Rogue::start().await?;
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    fx.server
        .cli_ok(
            &[
                "upstream",
                "add",
                "--id",
                "rogue",
                "--issuer",
                &rogue.issuer,
                "--client-id",
                "rogue-client",
                "--client-secret-stdin",
            ],
            Some("rogue-secret"),
        )
        .await?;
    let portal = client(&fx.server, "dichvucong", "citizens").await?;
    let rp = flow::relying_party(&fx.server, &portal).await?;
    let before = users(&fx.server).await?.len();
    for mischief in [
        Mischief::TamperedSignature,
        Mischief::WrongNonce,
        Mischief::WrongAudience,
        Mischief::None,
    ] {
        rogue.misbehave(mischief);
        let browser = Browser::new()?;
        let (url, _) = rp.authorization_url(&[], &AuthOptions::default());
        let login = flow::open_login_page(&browser, &url).await?;
        let req = login.login_form()?.req.unwrap_or_default();
        let start = browser
            .get(&fx.server.url(&format!("/login/upstream/rogue?req={req}")))
            .await?;
        let at_rogue = start.see_other().context("start")?;
        let back = browser.get(&at_rogue).await?.see_other()?;
        let page = browser.get(&back).await?;
        if mischief == Mischief::None {
            let cb = page.see_other().with_context(|| format!("{mischief:?}"))?;
            assert!(cb.as_str().starts_with(&portal.redirect_uri), "{cb}");
            assert_eq!(users(&fx.server).await?.len(), before + 1);
        } else {
            assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{mischief:?}: {page}");
            assert!(
                page.body.contains("upstream_rejected"),
                "{mischief:?}: {page}"
            );
            assert!(page.set_cookie("tessera_session").is_none());
            assert_eq!(users(&fx.server).await?.len(), before, "{mischief:?}");
        }
    }
    Ok(())
}
