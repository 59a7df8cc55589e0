//! A scripted browser: keeps cookies, never follows redirects by itself.

use std::sync::Arc;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use url::Url;

use crate::html::hidden_input;
use crate::server::TestServer;

/// One browser profile (its own cookie jar).
#[derive(Debug, Clone)]
pub struct Browser {
    http: reqwest::Client,
    jar: Arc<Jar>,
}

/// One HTTP answer, read in full.
#[derive(Debug)]
pub struct Page {
    /// The URL that was requested.
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// The hidden fields of the login form.
#[derive(Debug, Clone)]
pub struct LoginForm {
    pub csrf_token: String,
    pub req: Option<String>,
}

impl Browser {
    pub fn new() -> anyhow::Result<Self> {
        let jar = Arc::new(Jar::default());
        let http = crate::tls::client_builder()?
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        Ok(Self { http, jar })
    }

    /// The value of cookie `name` this browser would send to `url` (to copy it elsewhere, as
    /// a thief would).
    pub fn cookie(&self, url: &Url, name: &str) -> Option<String> {
        let header = self.jar.cookies(url)?;
        let prefix = format!("{name}=");
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix(&prefix))
            .map(str::to_owned)
    }

    /// Plants cookie `name` for `url`'s site, as a copied cookie would be.
    pub fn put_cookie(&self, url: &Url, name: &str, value: &str) {
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/; HttpOnly"), url);
    }

    pub async fn get(&self, url: &Url) -> anyhow::Result<Page> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        Page::read(url.clone(), response).await
    }

    pub async fn post_form(&self, url: &Url, form: &[(&str, &str)]) -> anyhow::Result<Page> {
        let response = self
            .http
            .post(url.clone())
            .form(form)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        Page::read(url.clone(), response).await
    }

    /// Posts a `multipart/form-data` form, as a browser sends a form with a file input:
    /// text fields, then one file `(field, file name, content type, bytes)`.
    pub async fn post_multipart(
        &self,
        url: &Url,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> anyhow::Result<Page> {
        const B: &str = "tessera-e2e-form-boundary-91c4";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, file_name, ctype, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{B}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
        let response = self
            .http
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={B}"),
            )
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        Page::read(url.clone(), response).await
    }

    /// [`post_form`](Self::post_form) with owned pairs, e.g. `AuthRequest::params()`.
    pub async fn post_params(
        &self,
        url: &Url,
        params: &[(String, String)],
    ) -> anyhow::Result<Page> {
        let form: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post_form(url, &form).await
    }

    /// Submits the login form as a person would: the hidden fields plus credentials.
    pub async fn submit_login(
        &self,
        server: &TestServer,
        form: &LoginForm,
        username: &str,
        password: &str,
    ) -> anyhow::Result<Page> {
        let mut fields = vec![
            ("username", username),
            ("password", password),
            ("csrf_token", form.csrf_token.as_str()),
        ];
        if let Some(req) = &form.req {
            fields.push(("req", req.as_str()));
        }
        self.post_form(&server.url("/login"), &fields).await
    }
}

impl Page {
    async fn read(url: Url, response: reqwest::Response) -> anyhow::Result<Self> {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading the body of {url}"))?;
        Ok(Self {
            url,
            status,
            headers,
            body,
        })
    }

    /// The `Location` header, resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        let value = self.headers.get(LOCATION)?.to_str().ok()?;
        self.url.join(value).ok()
    }

    /// The target of a `303 See Other`; anything else is an error that shows the page.
    pub fn see_other(&self) -> anyhow::Result<Url> {
        match (self.status, self.location()) {
            (StatusCode::SEE_OTHER, Some(location)) => Ok(location),
            _ => bail!(
                "expected a 303 with a Location from {}, got {self}",
                self.url
            ),
        }
    }

    /// The raw `Set-Cookie` header that sets cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&prefix))
            .map(str::to_owned)
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The hidden fields of the login form on this page.
    pub fn login_form(&self) -> anyhow::Result<LoginForm> {
        let csrf_token = hidden_input(&self.body, "csrf_token")
            .with_context(|| format!("no csrf_token input on {self}"))?;
        Ok(LoginForm {
            csrf_token,
            req: hidden_input(&self.body, "req"),
        })
    }

    /// Whether this is the login page (a form posting a password).
    pub fn is_login_form(&self) -> bool {
        self.status.is_success()
            && self.body.contains("name=\"password\"")
            && self.login_form().is_ok()
    }
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MAX: usize = 1500;
        let text = if self.body.trim_start().starts_with('<') {
            crate::html::visible_text(&self.body)
        } else {
            self.body.clone()
        };
        let body: String = text.chars().take(MAX).collect();
        let more = if text.chars().count() > MAX {
            "…"
        } else {
            ""
        };
        write!(f, "{} from {}", self.status, self.url)?;
        if let Some(location) = self.header("location") {
            write!(f, " (Location: {location})")?;
        }
        write!(f, "\n{body}{more}")
    }
}
