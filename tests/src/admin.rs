//! The administration API (`/admin/api/…`) as a console would call it: an administration
//! client registered with the `tessera:admin` scope, an access token obtained through the real
//! authorization-code flow, and JSON requests with that token.

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

use crate::browser::Browser;
use crate::cli::RegisteredClient;
use crate::flow;
use crate::oauth::{AuthRequest, ClientAuth, JsonAnswer, exchange, rp_http};
use crate::server::TestServer;

/// The scope the administration API requires.
pub const ADMIN_SCOPE: &str = "tessera:admin";

impl TestServer {
    /// `tessera client add` for an administration console allowed `scopes`, with a loopback
    /// redirect URI that is never followed.
    pub async fn add_console(&self, id: &str, scopes: &str) -> anyhow::Result<RegisteredClient> {
        let redirect_uri = format!("http://127.0.0.1:9/{id}/cb");
        let args = [
            "client".to_owned(),
            "add".to_owned(),
            format!("--id={id}"),
            format!("--name=Console {id}"),
            format!("--redirect-uri={redirect_uri}"),
            format!("--scopes={scopes}"),
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
    let cb =
        flow::browser_login(&browser, server, &request.url(server), username, password).await?;
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
    let cb = flow::first_login(
        &browser,
        server,
        &request.url(server),
        username,
        temporary,
        new_password,
    )
    .await?;
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

    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<JsonAnswer> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<JsonAnswer> {
        self.call(Method::DELETE, path, None).await
    }
}
