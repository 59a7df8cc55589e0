//! RP-Initiated Logout 1.0: the end-session endpoint, with and without `id_token_hint`.

use anyhow::Context;
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, at_redirect_uri};
use tessera_e2e::{Backend, Browser, NewClient, RegisteredClient, hidden_input, oauth};
use tessera_sdk::{AuthOptions, LoginResult, RelyingParty};
use url::Url;

scenarios!(
    logout_with_hint_returns_to_the_application,
    unregistered_post_logout_uri_is_an_error_page,
    logout_without_hint_asks_first
);

const BYE: &str = "http://127.0.0.1:9/hoso/bye";

struct World {
    fx: Fixture,
    client: RegisteredClient,
    rp: RelyingParty,
    browser: Browser,
    login: LoginResult,
}

/// The fixture plus client `hoso` (with a post-logout URI), signed in in one browser.
async fn world(backend: Backend) -> anyhow::Result<World> {
    let fx = Fixture::start(backend).await?;
    let client = fx
        .add_client(
            NewClient::confidential("hoso", "Hồ sơ công việc").post_logout_redirect_uri(BYE),
        )
        .await?;
    let rp = flow::relying_party(&fx.server, &client).await?;
    let browser = fx.browser()?;
    let login = flow::sdk_login(&browser, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    Ok(World {
        fx,
        client,
        rp,
        browser,
        login,
    })
}

fn logout_url(w: &World, pairs: &[(&str, &str)]) -> Url {
    let mut url = w.fx.server.url("/logout");
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// `prompt=none` in the browser: whether the session still signs the user in silently.
async fn still_signed_in(w: &World) -> anyhow::Result<bool> {
    let none = AuthOptions {
        prompt: Some("none".into()),
        ..AuthOptions::default()
    };
    let (url, _) = w.rp.authorization_url(&[], &none);
    let page = w.browser.get(&url).await?;
    let location = page.see_other()?;
    anyhow::ensure!(at_redirect_uri(&location, &w.client.redirect_uri), "{page}");
    let cb = flow::Callback { url: location };
    match cb.error().as_deref() {
        None => Ok(cb.param("code").is_some()),
        Some("login_required") => Ok(false),
        Some(other) => anyhow::bail!("unexpected error {other} from {page}"),
    }
}

async fn logout_with_hint_returns_to_the_application(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let server = &w.fx.server;
    let info = oauth::userinfo(server, &w.login.access_token).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");

    // The SDK builds the request (id_token_hint, client_id, post_logout_redirect_uri, state).
    let url =
        w.rp.end_session_url(&w.login.id_token, Some(BYE), Some("trạng thái 1"))?;
    assert_eq!(url.path(), "/logout");
    let page = w.browser.get(&url).await?;
    let to = page.see_other()?;
    assert!(at_redirect_uri(&to, BYE), "{page}");
    let state: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    assert_eq!(state, [("state".to_owned(), "trạng thái 1".to_owned())]);
    let cookie = page
        .set_cookie("tessera_session")
        .context("the session cookie is not cleared")?;
    assert!(cookie.contains("Max-Age=0"), "{cookie}");

    // The session is over on the server, not just in this browser.
    assert_eq!(server.open_sessions().await?, 0);
    assert!(!still_signed_in(&w).await?);
    let info = oauth::userinfo(server, &w.login.access_token).await?;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED, "{info}");
    let audit = server.audit("logout").await?;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor.as_deref(), Some(w.login.subject.as_str()));
    assert_eq!(
        audit[0].detail["sid"],
        w.login.claims.sid.clone().unwrap_or_default().as_str()
    );
    assert!(
        audit[0].detail["tokens_revoked"].as_u64() >= Some(1),
        "{audit:?}"
    );

    // POST works the same (§2), and with no session left there is nothing to confirm.
    let page = w
        .browser
        .post_form(
            &server.url("/logout"),
            &[
                ("id_token_hint", &w.login.id_token),
                ("post_logout_redirect_uri", BYE),
            ],
        )
        .await?;
    assert!(at_redirect_uri(&page.see_other()?, BYE), "{page}");
    Ok(())
}

async fn unregistered_post_logout_uri_is_an_error_page(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    for wrong in [
        "http://127.0.0.1:9/hoso/bye/",
        "http://127.0.0.1:9/hoso/bye?next=x",
        "http://127.0.0.1:9/hoso",
        "https://evil.example/bye",
    ] {
        let url = logout_url(
            &w,
            &[
                ("id_token_hint", &w.login.id_token),
                ("post_logout_redirect_uri", wrong),
                ("state", "s"),
            ],
        );
        let page = w.browser.get(&url).await?;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.location().is_none(), "{wrong}: redirected: {page}");
        assert!(page.body.contains("invalid_redirect_uri"), "{page}");
        assert!(page.set_cookie("tessera_session").is_none(), "{page}");
    }
    // A hint that is not one of our ID tokens, a client that is not its audience.
    let forged = format!("{}x", w.login.id_token);
    for pairs in [
        vec![("id_token_hint", forged.as_str())],
        vec![("id_token_hint", w.login.access_token.as_str())],
        vec![
            ("id_token_hint", w.login.id_token.as_str()),
            ("client_id", "vanban"),
        ],
    ] {
        let page = w.browser.get(&logout_url(&w, &pairs)).await?;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.location().is_none(), "{page}");
    }
    assert!(
        still_signed_in(&w).await?,
        "a refused logout ended the session"
    );
    assert_eq!(w.fx.server.open_sessions().await?, 1);
    Ok(())
}

async fn logout_without_hint_asks_first(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let server = &w.fx.server;
    // A person on Tessera's own page can sign out too: the link leads to the same question.
    let home = w.browser.get(&server.url("/login")).await?;
    assert!(home.body.contains("href=\"/logout\""), "{home}");
    let bare = w.browser.get(&server.url("/logout")).await?;
    assert!(bare.body.contains("action=\"/logout/confirm\""), "{bare}");
    let url = logout_url(
        &w,
        &[
            ("client_id", "hoso"),
            ("post_logout_redirect_uri", BYE),
            ("state", "s-7"),
        ],
    );
    let page = w.browser.get(&url).await?;
    assert_eq!(page.status, StatusCode::OK, "{page}");
    assert!(
        page.body
            .contains("Bạn có muốn đăng xuất khỏi Tessera không?"),
        "{page}"
    );
    assert!(page.body.contains("Hồ sơ công việc"), "{page}");
    assert!(page.body.contains("action=\"/logout/confirm\""), "{page}");
    assert!(!page.body.contains("<script"), "{page}");
    let en = w
        .browser
        .get(&logout_url(
            &w,
            &[("client_id", "hoso"), ("ui_locales", "en")],
        ))
        .await?;
    assert!(
        en.body.contains("Do you want to sign out of Tessera?"),
        "{en}"
    );
    // Asking ends nothing.
    assert!(still_signed_in(&w).await?);

    let field = |name: &str| hidden_input(&page.body, name).unwrap_or_default();
    let csrf = field("csrf_token");
    assert!(!csrf.is_empty(), "{page}");
    let form = |token: String| {
        vec![
            ("csrf_token".to_owned(), token),
            ("client_id".to_owned(), field("client_id")),
            (
                "post_logout_redirect_uri".to_owned(),
                field("post_logout_redirect_uri"),
            ),
            ("state".to_owned(), field("state")),
        ]
    };
    let confirm = server.url("/logout/confirm");
    // A forged or altered form is refused and changes nothing.
    let mut tampered = csrf.clone();
    tampered.replace_range(0..1, if csrf.starts_with('A') { "B" } else { "A" });
    for token in [tampered, String::new()] {
        let page = w.browser.post_params(&confirm, &form(token)).await?;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{page}");
        assert!(page.location().is_none(), "{page}");
    }
    assert!(still_signed_in(&w).await?);
    // The confirmed form cannot be bent to another return address either.
    let mut bent = form(csrf.clone());
    bent[2].1 = "https://evil.example/bye".into();
    let page = w.browser.post_params(&confirm, &bent).await?;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page}");
    assert!(still_signed_in(&w).await?);

    let page = w.browser.post_params(&confirm, &form(csrf)).await?;
    let to = page.see_other()?;
    assert_eq!(to.as_str(), format!("{BYE}?state=s-7"), "{page}");
    assert_eq!(server.open_sessions().await?, 0);
    assert!(!still_signed_in(&w).await?);

    // Without a session or an application to return to: the signed-out page.
    let page = w.browser.get(&server.url("/logout")).await?;
    assert_eq!(page.status, StatusCode::OK, "{page}");
    assert!(page.body.contains("Bạn đã đăng xuất"), "{page}");
    Ok(())
}
