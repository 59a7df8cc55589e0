//! The built-in administration console (`/admin`) as a person uses it: signing in with the
//! password, enrolling or proving a second factor when the console asks for level 2, then
//! pages and their forms (each with the page's CSRF token).

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use url::Url;

use crate::admin::{between, csrf, enrol_totp};
use crate::browser::{Browser, Page};
use crate::server::TestServer;

/// A browser signed in to the console, and the TOTP secret it enrolled.
#[derive(Debug)]
pub struct ConsoleSession {
    pub browser: Browser,
    pub totp_secret: Option<String>,
}

impl ConsoleSession {
    /// Opens `/admin/units` and follows the console's requests: the password, then an
    /// authenticator app enrolled (the first time) — until the page itself answers. Fails
    /// when the console answers anything but the page (e.g. 403 for someone without a role).
    pub async fn sign_in(
        server: &TestServer,
        username: &str,
        password: &str,
    ) -> anyhow::Result<ConsoleSession> {
        let browser = Browser::new()?;
        let mut totp_secret = None;
        let mut recovery: Vec<String> = Vec::new();
        let start = server.url("/admin/units");
        let mut url = start.clone();
        for _ in 0..12 {
            let page = browser.get(&url).await?;
            if page.status == StatusCode::OK && url.path() == "/admin/units" {
                return Ok(ConsoleSession {
                    browser,
                    totp_secret,
                });
            }
            if page.status != StatusCode::OK && page.status != StatusCode::SEE_OTHER {
                bail!("the console answered {page}");
            }
            url = match (page.status, url.path()) {
                (StatusCode::SEE_OTHER, _) => page.see_other()?,
                (_, "/login") => {
                    let form = page.login_form()?;
                    let answer = browser
                        .submit_login(server, &form, username, password)
                        .await?;
                    answer.see_other()?
                }
                (_, "/login/enrol") => {
                    let (secret, codes) = enrol_totp(&browser, server, &url, None).await?;
                    totp_secret = Some(secret);
                    recovery = codes;
                    start.clone()
                }
                // The code just used to enrol cannot be used twice: a recovery code steps up.
                (_, "/login/factor") => {
                    let code = recovery
                        .pop()
                        .with_context(|| format!("no recovery code for the step-up: {page}"))?;
                    let done = browser
                        .post_form(
                            &server.url("/login/factor"),
                            &[
                                ("csrf_token", &csrf(&page)?),
                                ("method", "recovery"),
                                ("code", &code),
                            ],
                        )
                        .await?;
                    done.see_other()?
                }
                _ => bail!("unexpected page on the way to the console: {page}"),
            };
        }
        bail!("the console did not open after 12 steps")
    }

    pub async fn get(&self, server: &TestServer, path: &str) -> anyhow::Result<Page> {
        self.browser.get(&server.url(path)).await
    }

    /// Posts a console form with the CSRF token of `page_path`'s page.
    pub async fn post(
        &self,
        server: &TestServer,
        page_path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Page> {
        let page = self.get(server, page_path).await?;
        ensure!(page.status == StatusCode::OK, "{page}");
        let token = csrf(&page)?;
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend_from_slice(fields);
        self.browser.post_form(&server.url(action), &form).await
    }

    /// Posts a console form with a file (`multipart/form-data`) and the CSRF token of
    /// `page_path`'s page.
    pub async fn upload(
        &self,
        server: &TestServer,
        page_path: &str,
        action: &str,
        file: (&str, &str, &[u8]),
    ) -> anyhow::Result<Page> {
        let page = self.get(server, page_path).await?;
        ensure!(page.status == StatusCode::OK, "{page}");
        let token = csrf(&page)?;
        let (name, file_name, bytes) = file;
        self.browser
            .post_multipart(
                &server.url(action),
                &[("csrf_token", &token)],
                (name, file_name, "image/png", bytes),
            )
            .await
    }

    pub fn url(&self, server: &TestServer, path: &str) -> Url {
        server.url(path)
    }
}

/// The one-time secret shown on a console page (`#one-time-secret`).
pub fn one_time_secret(page: &Page) -> anyhow::Result<String> {
    between(&page.body, "id=\"one-time-secret\">", "</p>")
        .map(str::to_owned)
        .with_context(|| format!("no one-time secret on {page}"))
}
