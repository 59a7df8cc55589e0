//! Remote signing through the official's pages (issue 13): an application submits PDFs with its
//! client-credentials token (scope `sign:request`); the official opens the approval link, signs
//! in and comes back to it, sees the documents, their SHA-256 and the certificate, approves
//! with an authenticator-app code (a wrong one re-shows the form), and the page follows the
//! signing; the application fetches the signed PDFs, which pdfsig and pyHanko call valid.
//! Rejection is one click and final; someone else's request is "not found". The application's
//! webhook receives a `signed` event after the approval and a `rejected` one after the
//! rejection, each a JWT that verifies against the JWKS. On PostgreSQL the approval goes
//! through a second replica.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::lifecycle::{Auth, client_credentials};
use tessera_e2e::oauth;
use tessera_e2e::{
    Backend, Browser, LogoutReceiver, NewUser, Page, RegisteredClient, ServerOptions, TempDir,
    TestServer, hidden_input,
};
use tessera_proto::signing::{SIGNING_EVENT, SIGNING_EVENT_TYP};

use crate::signing_pdf::{pdfsig_valid, pyhanko_cli, tools_available};

scenarios!(an_official_approves_on_the_pages_and_the_application_gets_valid_pdfs);

const OFFICIAL: &str = "minh.pd";
const PASSWORD: &str = "mat-khau-rat-dai-2468";
const TITLE: &str = "Quyết định bổ nhiệm cán bộ";
/// The public name both replicas answer to, as behind a load balancer.
const ISSUER: &str = "http://ky.haiphong.test";

fn fixture(name: &str) -> String {
    format!(
        "{}/../crates/formats/tests/fixtures/pdf/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The code an authenticator app shows `steps` time steps from now (a later step than the one
/// spent at enrolment, within the server's one-step skew).
#[allow(clippy::disallowed_methods)] // the server checks codes against the real clock
pub(crate) fn totp_at(secret: &str, steps: u64) -> anyhow::Result<String> {
    let secret =
        totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("secret: {e:?}"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret.as_bytes().to_vec())
        .build()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp.generate(now + 30 * steps).to_string())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let len = html[from..].find(end)?;
    Some(&html[from..from + len])
}

pub(crate) fn csrf(page: &Page) -> anyhow::Result<String> {
    hidden_input(&page.body, "csrf_token").with_context(|| format!("no CSRF token in {page}"))
}

/// Signs in with the password on the login page; answers where the server sends the browser.
async fn sign_in(browser: &Browser, server: &TestServer) -> anyhow::Result<url::Url> {
    let login = browser.get(&server.url("/login")).await?;
    let form = login.login_form()?;
    browser
        .submit_login(server, &form, OFFICIAL, PASSWORD)
        .await?
        .see_other()
}

/// Checks a webhook body: a signing-event JWT of the provider, verified against its JWKS,
/// telling that request `id` is now `status`.
fn signing_event(jwt: &str, jwks: &Value, id: &str, status: &str) -> anyhow::Result<()> {
    oauth::verify_jws(jwt, jwks)?;
    let (header, claims) = oauth::jwt_parts(jwt)?;
    ensure!(header["typ"] == SIGNING_EVENT_TYP, "{header}");
    ensure!(
        claims["iss"] == ISSUER && claims["aud"] == "vanban",
        "{claims}"
    );
    ensure!(
        claims["events"][SIGNING_EVENT] == json!({ "id": id, "status": status }),
        "{claims}"
    );
    Ok(())
}

pub(crate) struct App {
    http: reqwest::Client,
    pub(crate) token: String,
}

impl App {
    pub(crate) async fn new(
        server: &TestServer,
        client: &RegisteredClient,
    ) -> anyhow::Result<Self> {
        let answer =
            client_credentials(server, &Auth::basic(client)?, Some("sign:request")).await?;
        ensure!(answer.status == StatusCode::OK, "token: {answer}");
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            token: answer.str("access_token")?.to_owned(),
        })
    }

    pub(crate) async fn submit(&self, server: &TestServer, body: &Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(server.url("/api/signing/requests"))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = r.status();
        let json: Value = r.json().await?;
        ensure!(status == StatusCode::CREATED, "submit: {status} {json}");
        Ok(json)
    }

    pub(crate) async fn state(&self, server: &TestServer, id: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(server.url(&format!("/api/signing/requests/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await?;
        ensure!(r.status() == StatusCode::OK, "read: {}", r.status());
        Ok(r.json().await?)
    }

    pub(crate) async fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        let r = self.http.get(url).bearer_auth(&self.token).send().await?;
        ensure!(r.status() == StatusCode::OK, "fetch {url}: {}", r.status());
        Ok(r.bytes().await?.to_vec())
    }
}

async fn an_official_approves_on_the_pages_and_the_application_gets_valid_pdfs(
    backend: Backend,
) -> anyhow::Result<()> {
    if !tools_available().await {
        if std::env::var_os("CI").is_some() {
            bail!("pyHanko and pdfsig are needed");
        }
        return Ok(());
    }
    let options = ServerOptions::default()
        .env("TESSERA_ISSUER", ISSUER)
        .allow_loopback_calls();
    let a = TestServer::start_with(backend, options.clone()).await?;
    // On PostgreSQL the official's browser talks to another replica than the application.
    let replica = match backend {
        Backend::Postgres => Some(a.start_replica(options).await?),
        Backend::Sqlite => None,
    };
    let b = replica.as_ref().unwrap_or(&a);
    let dir = TempDir::new("tessera-e2e-sign-pages")?;
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();

    a.cli_ok(&["ca", "init", "--base-url", a.issuer()], None)
        .await?;
    a.cli_ok(&["ca", "export", "root", "--out", &path("root.pem")], None)
        .await?;
    let unit = a.add_unit("Sở Nội vụ", None).await?;
    let mut user = NewUser::new(OFFICIAL, "Phạm Đức Minh", PASSWORD);
    user.unit = Some(unit.clone());
    a.add_user(&user).await?;
    a.add_user(&NewUser::new("khac.nv", "Người Khác", PASSWORD))
        .await?;
    let cert = a
        .cli_ok(&["cert", "issue", "--user", OFFICIAL, "--json"], None)
        .await?
        .json()?;
    let serial = cert["serial"].as_str().unwrap_or_default().to_owned();
    let client = a
        .add_signing_request_client("vanban", "Quản lý văn bản", &unit)
        .await?;

    // The official has an authenticator app (set up on another computer).
    let desk = Browser::new()?;
    ensure!(sign_in(&desk, b).await?.path() == "/account");
    let secret = tessera_e2e::totp::enrol_on_account(&desk, b).await?;

    let pdfs = ["quyet-dinh-libreoffice.pdf", "cong-van-reportlab.pdf"];
    let originals: Vec<Vec<u8>> = pdfs
        .iter()
        .map(|n| std::fs::read(fixture(n)))
        .collect::<Result<_, _>>()?;
    let app = App::new(&a, &client).await?;
    let hooks = LogoutReceiver::start().await?;
    let hook = hooks.url("/hooks/signing");
    let created = app
        .submit(
            &a,
            &json!({
                "title": TITLE,
                "signer": OFFICIAL,
                "callback_uri": hook,
                "documents": [
                    { "name": pdfs[0], "pdf": STANDARD.encode(&originals[0]),
                      "appearance": { "anchor": "Phạm Đức Minh", "reason": "Phê duyệt" } },
                    { "name": pdfs[1], "pdf": STANDARD.encode(&originals[1]) },
                ],
            }),
        )
        .await?;
    let id = created["id"].as_str().context("no id")?.to_owned();
    let approval_url = created["approval_url"]
        .as_str()
        .context("no approval_url")?;
    ensure!(
        approval_url.ends_with(&format!("/sign/requests/{id}")),
        "{created}"
    );
    let page_url = b.url(&format!("/sign/requests/{id}"));

    // The phone is not signed in: it signs in and comes back to the request.
    let phone = Browser::new()?;
    let first = phone.get(&page_url).await?;
    ensure!(first.see_other()?.path() == "/login", "{first}");
    ensure!(
        sign_in(&phone, b).await? == page_url,
        "sign-in did not come back"
    );
    let page = phone.get(&page_url).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    let csp = page.header("content-security-policy").unwrap_or_default();
    ensure!(
        csp.contains("frame-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    for (name, bytes) in pdfs.iter().zip(&originals) {
        let sha: String = ring::digest::digest(&ring::digest::SHA256, bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ensure!(
            page.body.contains(name) && page.body.contains(&sha),
            "{name} {sha}: {page}"
        );
    }
    ensure!(
        page.body.contains(TITLE) && page.body.contains("Quản lý văn bản"),
        "{page}"
    );
    ensure!(
        !serial.is_empty() && page.body.contains(&serial),
        "serial {serial}: {page}"
    );
    ensure!(page.body.contains("id=\"handoff-qr\"") && page.body.contains("<svg"));
    // The preview is the PDF as sent, framed by this origin only.
    let preview = phone
        .get(&b.url(&format!("/sign/requests/{id}/documents/0/preview")))
        .await?;
    ensure!(
        preview.status == StatusCode::OK
            && preview.header("content-type") == Some("application/pdf")
            && preview.header("x-frame-options") == Some("SAMEORIGIN"),
        "{preview}"
    );
    // Someone else sees nothing, as if there were no such request.
    let other = Browser::new()?;
    let login = other.get(&b.url("/login")).await?;
    other
        .submit_login(b, &login.login_form()?, "khac.nv", PASSWORD)
        .await?;
    for p in [
        format!("/sign/requests/{id}"),
        format!("/sign/requests/{id}/documents/0/preview"),
    ] {
        let r = other.get(&b.url(&p)).await?;
        ensure!(
            r.status == StatusCode::NOT_FOUND,
            "{p} for someone else: {r}"
        );
    }

    // A wrong code re-shows the form with its message; nothing is decided.
    let token = csrf(&page)?;
    let approve = b.url(&format!("/sign/requests/{id}/approve"));
    let wrong = phone
        .post_form(&approve, &[("csrf_token", &token), ("code", "000000")])
        .await?;
    ensure!(
        wrong.status == StatusCode::BAD_REQUEST
            && wrong.body.contains("aria-invalid=\"true\"")
            && wrong.body.contains("id=\"approve-form\""),
        "{wrong}"
    );
    // A forged form (no CSRF token) is refused before anything is looked at.
    let forged = phone.post_form(&approve, &[("code", "123456")]).await?;
    ensure!(forged.status == StatusCode::FORBIDDEN, "{forged}");
    ensure!(app.state(&a, &id).await?["status"] == "pending");

    // The right code: approved, and the signing runs in the background.
    let done = phone
        .post_form(
            &approve,
            &[("csrf_token", &token), ("code", &totp_at(&secret, 1)?)],
        )
        .await?;
    ensure!(
        done.see_other()?.path() == format!("/sign/requests/{id}"),
        "{done}"
    );
    let status_url = a.url(&format!("/sign/requests/{id}/status"));
    let mut state = Value::Null;
    for _ in 0..120 {
        // The desktop asks the other replica, as its page's script does.
        let r = desk.get(&status_url).await?;
        state = serde_json::from_str(&r.body).with_context(|| format!("{r}"))?;
        if state["status"] != "approved" && state["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(
        state["status"] == "signed" && state["done"] == 2 && state["total"] == 2,
        "{state}"
    );
    let page = desk
        .get(&b.url(&format!("/sign/requests/{id}?lang=en")))
        .await?;
    ensure!(
        page.body
            .contains("<progress id=\"progress\" max=\"2\" value=\"2\">")
            && !page.body.contains("approve-form"),
        "{page}"
    );

    // The application fetches the signed PDFs: valid for pdfsig and pyHanko.
    let api = app.state(&a, &id).await?;
    ensure!(api["status"] == "signed", "{api}");
    for (i, doc) in api["documents"]
        .as_array()
        .context("documents")?
        .iter()
        .enumerate()
    {
        let url = doc["result_url"]
            .as_str()
            .with_context(|| format!("{api}"))?;
        let url = url.replace(ISSUER, a.url("/").as_str().trim_end_matches('/'));
        let signed = app.fetch(&url).await?;
        let file = format!("signed-{i}.pdf");
        std::fs::write(d.join(&file), &signed)?;
        pdfsig_valid(d, &file).await?;
        pyhanko_cli(d, &file).await?;
    }
    let approved = a.audit("signing.request.approved").await?;
    ensure!(
        approved.len() == 1 && approved[0].detail["factor"] == "totp",
        "{approved:?}"
    );
    let jwks = oauth::get_json(&a, "/jwks").await?.json;
    let got = hooks.wait_for(1, Duration::from_secs(20)).await?;
    signing_event(&got[0].body, &jwks, &id, "signed")?;

    // A second request: rejected in one click, and then final.
    let second = app
        .submit(
            &a,
            &json!({ "title": "Công văn gửi Sở", "signer": OFFICIAL, "callback_uri": hook,
                     "documents": [{ "name": pdfs[1], "pdf": STANDARD.encode(&originals[1]) }] }),
        )
        .await?;
    let id2 = second["id"].as_str().context("no id")?.to_owned();
    let waiting = phone.get(&b.url("/sign/requests")).await?;
    ensure!(
        waiting
            .body
            .contains(&format!("href=\"/sign/requests/{id2}\""))
            && !waiting
                .body
                .contains(&format!("href=\"/sign/requests/{id}\"")),
        "{waiting}"
    );
    let page = phone.get(&b.url(&format!("/sign/requests/{id2}"))).await?;
    let token = csrf(&page)?;
    let rejected = phone
        .post_form(
            &b.url(&format!("/sign/requests/{id2}/reject")),
            &[("csrf_token", &token)],
        )
        .await?;
    ensure!(
        rejected.see_other()?.path() == format!("/sign/requests/{id2}"),
        "{rejected}"
    );
    ensure!(app.state(&a, &id2).await?["status"] == "rejected");
    let got = hooks.wait_for(2, Duration::from_secs(20)).await?;
    signing_event(&got[1].body, &jwks, &id2, "rejected")?;
    let late = phone
        .post_form(
            &b.url(&format!("/sign/requests/{id2}/approve")),
            &[("csrf_token", &token), ("code", &totp_at(&secret, 1)?)],
        )
        .await?;
    ensure!(
        late.status == StatusCode::CONFLICT && late.body.contains("id=\"sign-error\""),
        "{late}"
    );

    // The account page lists both, newest first.
    let account = phone.get(&b.url("/account")).await?;
    let history = between(&account.body, "id=\"signing-history\"", "</div>")
        .with_context(|| format!("no signing history: {account}"))?;
    let (first, second) = (
        history
            .find("Công văn gửi Sở")
            .context("second request missing")?,
        history.find(TITLE).context("first request missing")?,
    );
    ensure!(first < second, "{history}");
    ensure!(
        history.contains("data-status=\"rejected\"") && history.contains("data-status=\"signed\"")
    );
    Ok(())
}
