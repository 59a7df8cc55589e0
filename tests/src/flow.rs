//! The browser's and the relying party's sides of the authorization code flow.

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use tessera_sdk::{AuthOptions, LoginResult, RelyingParty, RpConfig};
use url::Url;

use crate::browser::{Browser, Page};
use crate::cli::RegisteredClient;
use crate::html::hidden_input;
use crate::server::TestServer;

/// Where the browser landed on the client's redirect URI (OIDC Core §3.1.2.5–3.1.2.6).
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: Url,
}

impl Callback {
    pub fn param(&self, key: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The `code`; an error response or a missing code is an error.
    pub fn code(&self) -> anyhow::Result<String> {
        self.param("code")
            .with_context(|| format!("no code in the redirect to {}", self.url))
    }

    pub fn state(&self) -> Option<String> {
        self.param("state")
    }

    pub fn error(&self) -> Option<String> {
        self.param("error")
    }
}

/// Whether `url` is `redirect_uri` plus query parameters.
pub fn at_redirect_uri(url: &Url, redirect_uri: &str) -> bool {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    Url::parse(redirect_uri).is_ok_and(|expected| bare == expected)
}

/// The `redirect_uri` parameter of an authorization URL.
fn redirect_uri_of(auth_url: &Url) -> anyhow::Result<String> {
    auth_url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no redirect_uri in {auth_url}"))
}

/// Turns a 303 to the client's redirect URI into a [`Callback`].
fn callback(page: &Page, redirect_uri: &str) -> anyhow::Result<Callback> {
    let location = page.see_other()?;
    ensure!(
        at_redirect_uri(&location, redirect_uri),
        "expected a redirect to {redirect_uri}, got {page}"
    );
    Ok(Callback { url: location })
}

/// `GET auth_url`, which must send the browser (303) to `/login?req=…`; returns that page.
pub async fn open_login_page(browser: &Browser, auth_url: &Url) -> anyhow::Result<Page> {
    let page = browser.get(auth_url).await?;
    let location = page.see_other()?;
    ensure!(
        location.path() == "/login" && location.query_pairs().any(|(k, _)| k == "req"),
        "expected a redirect to /login?req=…, got {page}"
    );
    let login = browser.get(&location).await?;
    ensure!(
        login.status == StatusCode::OK && login.is_login_form(),
        "expected the login form, got {login}"
    );
    Ok(login)
}

/// The whole interactive login: `/authorize` → login page → `POST /login` → redirect URI.
pub async fn browser_login(
    browser: &Browser,
    server: &TestServer,
    auth_url: &Url,
    username: &str,
    password: &str,
) -> anyhow::Result<Callback> {
    let redirect_uri = redirect_uri_of(auth_url)?;
    let login = open_login_page(browser, auth_url).await?;
    let form = login.login_form()?;
    let answer = browser
        .submit_login(server, &form, username, password)
        .await?;
    callback(&answer, &redirect_uri).context("after POST /login")
}

/// The first login with a password an administrator set: after the password the sign-in must
/// stop at the change-password page (with no session yet), which takes `new_password`; then
/// the browser lands on the redirect URI.
pub async fn first_login(
    browser: &Browser,
    server: &TestServer,
    auth_url: &Url,
    username: &str,
    temporary: &str,
    new_password: &str,
) -> anyhow::Result<Callback> {
    let redirect_uri = redirect_uri_of(auth_url)?;
    let (done, _) =
        change_temporary_password(browser, server, auth_url, username, temporary, new_password)
            .await?;
    callback(&done, &redirect_uri).context("after POST /login/password")
}

/// The sign-in with a temporary password up to the change-password page, which takes
/// `new_password`: answers the server's reply to the change and the pending request's id.
pub async fn change_temporary_password(
    browser: &Browser,
    server: &TestServer,
    auth_url: &Url,
    username: &str,
    temporary: &str,
    new_password: &str,
) -> anyhow::Result<(Page, Option<String>)> {
    let login = open_login_page(browser, auth_url).await?;
    let form = login.login_form()?;
    let answer = browser
        .submit_login(server, &form, username, temporary)
        .await?;
    let change = answer.see_other()?;
    ensure!(
        change.path() == "/login/password",
        "expected the change-password page, got {answer}"
    );
    ensure!(
        answer.set_cookie("tessera_session").is_none(),
        "a session before the password was changed: {answer}"
    );
    let page = browser.get(&change).await?;
    let csrf = hidden_input(&page.body, "csrf_token")
        .with_context(|| format!("no CSRF token on {page}"))?;
    let mut fields = vec![
        ("csrf_token", csrf.as_str()),
        ("new_password", new_password),
        ("confirm_password", new_password),
    ];
    if let Some(req) = &form.req {
        fields.push(("req", req.as_str()));
    }
    let done = browser
        .post_form(&server.url("/login/password"), &fields)
        .await?;
    Ok((done, form.req))
}

/// `GET auth_url` with a live session: straight back to the redirect URI, no login page.
pub async fn authorize_silently(browser: &Browser, auth_url: &Url) -> anyhow::Result<Callback> {
    let redirect_uri = redirect_uri_of(auth_url)?;
    let page = browser.get(auth_url).await?;
    if page.location().is_some_and(|l| l.path() == "/login") {
        bail!(
            "expected no login prompt, but /authorize sent the browser to the login page: {page}"
        );
    }
    callback(&page, &redirect_uri)
}

/// A relying party (the SDK) for `client` on `server`.
pub async fn relying_party(
    server: &TestServer,
    client: &RegisteredClient,
) -> anyhow::Result<RelyingParty> {
    let config = RpConfig {
        issuer: server.issuer().to_owned(),
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        redirect_uri: client.redirect_uri.clone(),
    };
    Ok(RelyingParty::discover_trusting(config, &crate::tls::trusted_roots_pem()).await?)
}

/// A full SDK login with a password prompt; returns the verified result.
pub async fn sdk_login(
    browser: &Browser,
    server: &TestServer,
    rp: &RelyingParty,
    scopes: &[&str],
    username: &str,
    password: &str,
) -> anyhow::Result<LoginResult> {
    let (url, pending) = rp.authorization_url(scopes, &AuthOptions::default());
    let cb = browser_login(browser, server, &url, username, password).await?;
    let state = cb.state().context("no state in the callback")?;
    Ok(rp.exchange_code(&pending, &cb.code()?, &state).await?)
}
