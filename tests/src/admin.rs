//! The administration API (`/admin/api/…`) as a console would call it: an administration
//! console pinned with `tessera client add --admin-console`, an access token obtained through
//! the real authorization-code flow (with a second factor and the consent page), and JSON
//! requests with that token.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, bail, ensure};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::browser::{Browser, Page};
use crate::cli::RegisteredClient;
use crate::flow::{self, Callback, at_redirect_uri};
use crate::html::hidden_input;
use crate::oauth::{AuthRequest, ClientAuth, JsonAnswer, exchange, rp_http};
use crate::server::TestServer;

/// The scope the administration API requires.
pub const ADMIN_SCOPE: &str = "tessera:admin";

impl TestServer {
    /// `tessera client add --admin-console` for an administration console allowed `scopes`,
    /// with a loopback redirect URI that is never followed.
    pub async fn add_console(&self, id: &str, scopes: &str) -> anyhow::Result<RegisteredClient> {
        let redirect_uri = format!("http://127.0.0.1:9/{id}/cb");
        let args = [
            "client".to_owned(),
            "add".to_owned(),
            format!("--id={id}"),
            format!("--name=Console {id}"),
            format!("--redirect-uri={redirect_uri}"),
            format!("--scopes={scopes}"),
            "--admin-console".to_owned(),
            "--json".to_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let json = self.cli_ok(&args, None).await?.json()?;
        Ok(RegisteredClient {
            client_id: json["client_id"]
                .as_str()
                .context("client add printed no client_id")?
                .to_owned(),
            client_secret: json["client_secret"].as_str().map(str::to_owned),
            redirect_uri,
        })
    }

    /// `tessera user grant <username> --role R --unit U`.
    pub async fn grant(&self, username: &str, role: &str, unit: &str) -> anyhow::Result<()> {
        let role = format!("--role={role}");
        let unit = format!("--unit={unit}");
        self.cli_ok(&["user", "grant", username, &role, &unit], None)
            .await?;
        Ok(())
    }
}

/// Logs `username` in through a fresh browser at `client` asking for `scope`, and exchanges
/// the code: returns the access token.
pub async fn login_token(
    server: &TestServer,
    client: &RegisteredClient,
    scope: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let mut request = AuthRequest::new(client);
    request.scope = scope.to_owned();
    let browser = Browser::new()?;
    let url = request.url(server);
    let cb = if scope.split(' ').any(|s| s == ADMIN_SCOPE) {
        let consent = admin_login(&browser, server, &url, username, password).await?;
        approve(&browser, server, &consent, &client.redirect_uri).await?
    } else {
        flow::browser_login(&browser, server, &url, username, password).await?
    };
    let secret = client
        .client_secret
        .as_deref()
        .context("console has no secret")?;
    let answer = exchange(
        server,
        ClientAuth::Basic(&client.client_id, secret),
        &request,
        &cb.code()?,
    )
    .await?;
    Ok(answer.str("access_token")?.to_owned())
}

/// [`login_token`] for someone whose password an administrator set: the first sign-in
/// replaces it with `new_password` on the way.
pub async fn first_login_token(
    server: &TestServer,
    client: &RegisteredClient,
    scope: &str,
    username: &str,
    temporary: &str,
    new_password: &str,
) -> anyhow::Result<String> {
    let mut request = AuthRequest::new(client);
    request.scope = scope.to_owned();
    let browser = Browser::new()?;
    let url = request.url(server);
    let cb = if scope.split(' ').any(|s| s == ADMIN_SCOPE) {
        let (done, req) = flow::change_temporary_password(
            &browser,
            server,
            &url,
            username,
            temporary,
            new_password,
        )
        .await?;
        let req = req.context("no pending request")?;
        let consent = factor_and_consent(&browser, server, &done, &req, username).await?;
        approve(&browser, server, &consent, &client.redirect_uri).await?
    } else {
        flow::first_login(&browser, server, &url, username, temporary, new_password).await?
    };
    let secret = client
        .client_secret
        .as_deref()
        .context("console has no secret")?;
    let answer = exchange(
        server,
        ClientAuth::Basic(&client.client_id, secret),
        &request,
        &cb.code()?,
    )
    .await?;
    Ok(answer.str("access_token")?.to_owned())
}

/// One administrator's view of the API.
#[derive(Debug, Clone)]
pub struct AdminApi {
    base: url::Url,
    pub token: Option<String>,
}

impl AdminApi {
    pub fn new(server: &TestServer, token: Option<&str>) -> Self {
        Self {
            base: server.url("/"),
            token: token.map(str::to_owned),
        }
    }

    /// `method /admin/api{path}` with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<JsonAnswer> {
        let url = self.base.join(&format!("admin/api{path}"))?;
        let mut request = rp_http()?.request(method.clone(), url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} /admin/api{path}"))?;
        JsonAnswer::read(response).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<JsonAnswer> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<JsonAnswer> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `POST /admin/api{path}` with a non-JSON body (a certificate, for instance).
    pub async fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<JsonAnswer> {
        let url = self.base.join(&format!("admin/api{path}"))?;
        let mut request = rp_http()?
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST /admin/api{path}"))?;
        JsonAnswer::read(response).await
    }

    /// `PUT /admin/api{path}` with a non-JSON body (an image, for instance).
    pub async fn put_bytes(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<JsonAnswer> {
        let url = self.base.join(&format!("admin/api{path}"))?;
        let mut request = rp_http()?
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("PUT /admin/api{path}"))?;
        JsonAnswer::read(response).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<JsonAnswer> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<JsonAnswer> {
        self.call(Method::DELETE, path, None).await
    }
}

/// Recovery codes left to each test user, by issuer and username: every login to a console
/// spends one as its second factor (a TOTP code could not be used twice within 30 seconds).
type CodesByUser = Mutex<HashMap<(String, String), Vec<String>>>;

fn recovery_codes() -> &'static CodesByUser {
    static CODES: OnceLock<CodesByUser> = OnceLock::new();
    CODES.get_or_init(Mutex::default)
}

/// The code an authenticator app shows now.
#[allow(clippy::disallowed_methods)] // the server checks codes against the real clock
pub fn totp_now(secret: &str) -> anyhow::Result<String> {
    let secret =
        totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("secret: {e:?}"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret.as_bytes().to_vec())
        .build()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp.generate(now).to_string())
}

pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

pub(crate) fn csrf(page: &Page) -> anyhow::Result<String> {
    hidden_input(&page.body, "csrf_token").with_context(|| format!("no CSRF token in {page}"))
}

/// Signs `username` in at `auth_url` (a request for the administration scope) with the password
/// and a second factor — enrolling an authenticator app the first time, a recovery code later —
/// and follows the browser to the consent page, which it returns.
pub async fn admin_login(
    browser: &Browser,
    server: &TestServer,
    auth_url: &Url,
    username: &str,
    password: &str,
) -> anyhow::Result<Page> {
    let login = flow::open_login_page(browser, auth_url).await?;
    let form = login.login_form()?;
    let req = form.req.clone().context("no pending request")?;
    let answer = browser
        .submit_login(server, &form, username, password)
        .await?;
    factor_and_consent(browser, server, &answer, &req, username).await
}

/// After the password, for the administration scope: the second factor (an authenticator app
/// enrolled the first time, a recovery code after), then the consent page.
async fn factor_and_consent(
    browser: &Browser,
    server: &TestServer,
    answer: &Page,
    req: &str,
    username: &str,
) -> anyhow::Result<Page> {
    let req = req.to_owned();
    let next = answer.see_other()?;
    ensure!(
        next.path() == "/login/factor",
        "the administration scope must ask for a second factor: {answer}"
    );
    let factor = browser.get(&next).await?;
    let key = (server.issuer().to_owned(), username.to_owned());
    if factor.status == StatusCode::SEE_OTHER {
        // No factor yet: enrol an authenticator app, keep the recovery codes.
        let enrol_url = factor.see_other()?;
        ensure!(enrol_url.path() == "/login/enrol", "{factor}");
        let (_, codes) = enrol_totp(browser, server, &enrol_url, Some(&req)).await?;
        recovery_codes()
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(key, codes);
    } else {
        ensure!(factor.status == StatusCode::OK, "{factor}");
        let code = recovery_codes()
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .get_mut(&key)
            .and_then(Vec::pop)
            .with_context(|| format!("no recovery code left for {username}"))?;
        let done = browser
            .post_form(
                &server.url("/login/factor"),
                &[
                    ("csrf_token", &csrf(&factor)?),
                    ("req", &req),
                    ("method", "recovery"),
                    ("code", &code),
                ],
            )
            .await?;
        ensure!(
            done.see_other()?.path() == "/login/continue",
            "the recovery code was refused: {done}"
        );
    }
    let cont = browser
        .get(&server.url(&format!("/login/continue?req={req}")))
        .await?;
    let consent_url = cont.see_other()?;
    ensure!(
        consent_url.path() == "/authorize/consent",
        "expected the consent page, got {cont}"
    );
    let page = browser.get(&consent_url).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    Ok(page)
}

/// Enrols an authenticator app on the enrolment page at `enrol_url` (within the sign-in of the
/// pending request `req`, if any): its secret and the recovery codes shown once.
pub(crate) async fn enrol_totp(
    browser: &Browser,
    server: &TestServer,
    enrol_url: &Url,
    req: Option<&str>,
) -> anyhow::Result<(String, Vec<String>)> {
    let enrol = browser.get(enrol_url).await?;
    let token = csrf(&enrol)?;
    let mut form = vec![("csrf_token", token.as_str())];
    if let Some(req) = req {
        form.push(("req", req));
    }
    browser
        .post_form(&server.url("/login/enrol/totp"), &form)
        .await?
        .see_other()?;
    let enrol = browser.get(enrol_url).await?;
    let secret = between(&enrol.body, "<code id=\"totp-secret\">", "</code>")
        .with_context(|| format!("no TOTP secret: {enrol}"))?
        .to_owned();
    let code = totp_now(&secret)?;
    form.push(("code", &code));
    let codes = browser
        .post_form(&server.url("/login/enrol/totp/confirm"), &form)
        .await?;
    let list = between(&codes.body, "id=\"recovery-codes\">", "</ol>")
        .with_context(|| format!("no recovery codes: {codes}"))?;
    let codes: Vec<String> = list
        .split("<code>")
        .skip(1)
        .filter_map(|c| c.split("</code>").next())
        .map(str::to_owned)
        .collect();
    ensure!(!codes.is_empty(), "no recovery codes");
    Ok((secret, codes))
}

/// Answers a consent page (`decision`: approve or deny); returns the server's answer.
pub async fn answer_consent(
    browser: &Browser,
    server: &TestServer,
    consent: &Page,
    decision: &str,
) -> anyhow::Result<Page> {
    let field = |name: &str| {
        hidden_input(&consent.body, name).with_context(|| format!("no {name} in {consent}"))
    };
    browser
        .post_form(
            &server.url("/authorize/consent"),
            &[
                ("csrf_token", &field("csrf_token")?),
                ("req", &field("req")?),
                ("consent", &field("consent")?),
                ("decision", decision),
            ],
        )
        .await
}

/// Approves a consent page; the browser must land on `redirect_uri` with a code.
pub async fn approve(
    browser: &Browser,
    server: &TestServer,
    consent: &Page,
    redirect_uri: &str,
) -> anyhow::Result<Callback> {
    let answer = answer_consent(browser, server, consent, "approve").await?;
    let url = answer.see_other()?;
    if !at_redirect_uri(&url, redirect_uri) {
        bail!("approving did not return to the console: {answer}");
    }
    Ok(Callback { url })
}
