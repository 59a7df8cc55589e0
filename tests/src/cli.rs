//! The `tessera` administration CLI, run against a test server's data.

use std::process::{ExitStatus, Stdio};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::server::{TestServer, clear_tessera_env, tessera_bin};

/// How long one CLI run may take (a server that wrongly starts serving would hang here).
const CLI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// What one CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Stdout parsed as one JSON value.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(self.stdout.trim())
            .with_context(|| format!("CLI stdout is not JSON: {:?}", self.stdout))
    }
}

impl std::fmt::Display for CliOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A user for `tessera user add`.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub password: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub unit: Option<String>,
    pub roles: Vec<String>,
}

impl NewUser {
    pub fn new(username: &str, name: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            name: name.to_owned(),
            password: password.to_owned(),
            email: None,
            phone: None,
            unit: None,
            roles: Vec::new(),
        }
    }
}

/// A client for `tessera client add`.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub redirect_uri: String,
    pub public: bool,
    /// `--alg`, e.g. `RS256`; the server's default (ES256) when `None`.
    pub alg: Option<String>,
    /// `--post-logout-redirect-uri`, repeatable.
    pub post_logout_redirect_uris: Vec<String>,
    /// `--backchannel-logout-uri`.
    pub backchannel_logout_uri: Option<String>,
    /// `--min-acr`: the level every login to this client must reach.
    pub min_acr: Option<String>,
    /// `--scopes`, space separated; the server's default when `None`.
    pub scopes: Option<String>,
}

impl NewClient {
    /// A confidential client whose redirect URI is a closed loopback port (never followed).
    pub fn confidential(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            redirect_uri: format!("http://127.0.0.1:9/{id}/cb"),
            public: false,
            alg: None,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            min_acr: None,
            scopes: None,
        }
    }

    /// Allows `scopes` (space separated) instead of the default ones.
    pub fn scopes(mut self, scopes: &str) -> Self {
        self.scopes = Some(scopes.to_owned());
        self
    }

    /// Requires `level` (e.g. `urn:tessera:loa:2`) of every login to this client.
    pub fn min_acr(mut self, level: &str) -> Self {
        self.min_acr = Some(level.to_owned());
        self
    }

    /// Registers `uri` as a post-logout redirect URI.
    pub fn post_logout_redirect_uri(mut self, uri: &str) -> Self {
        self.post_logout_redirect_uris.push(uri.to_owned());
        self
    }

    /// Registers `uri` as the back-channel logout endpoint.
    pub fn backchannel_logout_uri(mut self, uri: &str) -> Self {
        self.backchannel_logout_uri = Some(uri.to_owned());
        self
    }

    pub fn public(id: &str, name: &str) -> Self {
        Self {
            public: true,
            ..Self::confidential(id, name)
        }
    }
}

/// A registered client as the CLI reported it.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
}

impl TestServer {
    /// Runs `tessera <args> --data-dir <dir>` with the server's database, feeding `stdin`.
    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<CliOutput> {
        let data_dir = self.data_dir();
        let data_dir = data_dir.to_string_lossy();
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--data-dir", &data_dir]);
        let env: Vec<(&str, &str)> = self
            .database_env()
            .map(|url| ("TESSERA_DATABASE_URL", url))
            .into_iter()
            .collect();
        run_tessera(&full, &env, stdin).await
    }

    /// Like [`cli`](Self::cli), but a non-zero exit is an error.
    pub async fn cli_ok(&self, args: &[&str], stdin: Option<&str>) -> anyhow::Result<CliOutput> {
        let out = self.cli(args, stdin).await?;
        if !out.success() {
            bail!("tessera {} failed: {out}", args.join(" "));
        }
        Ok(out)
    }

    /// `tessera unit add --name N [--parent P] --json`; returns the unit id.
    pub async fn add_unit(&self, name: &str, parent: Option<&str>) -> anyhow::Result<String> {
        let mut args = vec![flag("--name", name)];
        if let Some(parent) = parent {
            args.push(flag("--parent", parent));
        }
        let args: Vec<&str> = ["unit", "add", "--json"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        let json = self.cli_ok(&args, None).await?.json()?;
        if json["name"] != name {
            bail!("unit add echoed another name: {json}");
        }
        json_str(&json, "id")
    }

    /// `tessera user add ... --password-stdin --json`; returns the user id.
    pub async fn add_user(&self, user: &NewUser) -> anyhow::Result<String> {
        let mut args = vec![
            flag("--username", &user.username),
            flag("--name", &user.name),
        ];
        for (name, value) in [
            ("--email", &user.email),
            ("--phone", &user.phone),
            ("--unit", &user.unit),
        ] {
            if let Some(value) = value {
                args.push(flag(name, value));
            }
        }
        for role in &user.roles {
            args.push(flag("--role", role));
        }
        let args: Vec<&str> = ["user", "add", "--password-stdin", "--json"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        let json = self.cli_ok(&args, Some(&user.password)).await?.json()?;
        if json["username"] != user.username.as_str() {
            bail!("user add echoed another username: {json}");
        }
        json_str(&json, "id")
    }

    /// `tessera client add ... --json`.
    pub async fn add_client(&self, client: &NewClient) -> anyhow::Result<RegisteredClient> {
        let mut args = vec![
            flag("--id", &client.id),
            flag("--name", &client.name),
            flag("--redirect-uri", &client.redirect_uri),
            "--json".to_owned(),
        ];
        if client.public {
            args.push("--public".to_owned());
        }
        if let Some(alg) = &client.alg {
            args.push(flag("--alg", alg));
        }
        for uri in &client.post_logout_redirect_uris {
            args.push(flag("--post-logout-redirect-uri", uri));
        }
        if let Some(level) = &client.min_acr {
            args.push(flag("--min-acr", level));
        }
        if let Some(uri) = &client.backchannel_logout_uri {
            args.push(flag("--backchannel-logout-uri", uri));
        }
        if let Some(scopes) = &client.scopes {
            args.push(flag("--scopes", scopes));
        }
        let args: Vec<&str> = ["client", "add"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        let json = self.cli_ok(&args, None).await?.json()?;
        let client_secret = match &json["client_secret"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => bail!("client add: client_secret is {other}"),
        };
        if client.public != client_secret.is_none() {
            bail!(
                "client add: public={} but client_secret={client_secret:?}",
                client.public
            );
        }
        Ok(RegisteredClient {
            client_id: json_str(&json, "client_id")?,
            client_secret,
            redirect_uri: client.redirect_uri.clone(),
        })
    }

    /// A service application `client_id` that may ask the people of `unit` (and the units
    /// below it) for signatures: `client add --grant-type client_credentials --scopes
    /// sign:request`, then `client allow-signing-requests`.
    pub async fn add_signing_request_client(
        &self,
        client_id: &str,
        name: &str,
        unit: &str,
    ) -> anyhow::Result<RegisteredClient> {
        let out = self
            .cli_ok(
                &[
                    "client",
                    "add",
                    "--id",
                    client_id,
                    "--name",
                    name,
                    "--grant-type",
                    "client_credentials",
                    "--scopes",
                    "sign:request",
                    "--json",
                ],
                None,
            )
            .await?
            .json()?;
        self.cli_ok(
            &[
                "client",
                "allow-signing-requests",
                "--client",
                client_id,
                "--unit",
                unit,
            ],
            None,
        )
        .await?;
        Ok(RegisteredClient {
            client_id: client_id.into(),
            client_secret: out["client_secret"].as_str().map(str::to_owned),
            redirect_uri: String::new(),
        })
    }

    /// `tessera user disable <username>`.
    pub async fn disable_user(&self, username: &str) -> anyhow::Result<()> {
        self.cli_ok(&["user", "disable", username], None).await?;
        Ok(())
    }
}

/// Runs the `tessera` binary with exactly `args` and `env` (inherited `TESSERA_*` variables
/// removed), feeding `stdin` plus a newline.
pub async fn run_tessera(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> anyhow::Result<CliOutput> {
    let bin = tessera_bin()?;
    let mut std_cmd = std::process::Command::new(&bin);
    clear_tessera_env(&mut std_cmd);
    let mut cmd = Command::from(std_cmd);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running tessera {}", args.join(" ")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await?;
        pipe.write_all(b"\n").await?;
        drop(pipe);
    }
    let out = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| {
            format!(
                "tessera {} did not finish in {CLI_TIMEOUT:?}",
                args.join(" ")
            )
        })??;
    Ok(CliOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `--flag=value`: generated ids may start with `-`, which clap would take for a flag.
fn flag(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

fn json_str(json: &Value, key: &str) -> anyhow::Result<String> {
    json[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("`{key}` missing or not a string in {json}"))
}
