//! Two other stacks against the real provider, as docs/integrating.md configures them: a Node.js
//! application with openid-client (`tests/stacks/node`) and a Python one with Authlib
//! (`tests/stacks/python`). Each signs the user in with SSO (the password was typed for another
//! application) and is logged out over the back channel when the user logs out of that other
//! application: its `/session` then says so.
//!
//! Needs `node` (20 or later, `npm ci` runs in `tests/stacks/node` when needed) and `python3`
//! with the pinned `tests/stacks/python/requirements.txt`; without them the test is skipped
//! with a message, except when `CI` is set, where it fails (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, NewClient, ServerOptions, flow};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;
use url::Url;

use crate::browser_passkey::{find_in_path, npm_ci_in};

scenarios!(
    node_openid_client_sso_and_backchannel_logout,
    python_authlib_sso_and_backchannel_logout
);

fn stack_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("stacks")
        .join(name)
}

/// `Some(program)` when it is usable; `None` (after saying so) when not and `CI` is unset.
async fn tool_or_skip(
    test: &str,
    program: &str,
    check: &[&str],
    install: &str,
) -> anyhow::Result<Option<PathBuf>> {
    let found = find_in_path(program);
    let works = match &found {
        Some(path) => Command::new(path)
            .args(check)
            .stdin(Stdio::null())
            .output()
            .await
            .is_ok_and(|o| o.status.success()),
        None => false,
    };
    match found {
        Some(path) if works => Ok(Some(path)),
        _ if std::env::var_os("CI").is_some() => {
            bail!("{test}: {program} is missing or unusable but CI is set; {install}")
        }
        _ => {
            // Straight to the process's stderr: a skip nobody sees is a silent pass.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {program} is missing or unusable ({install})"
            );
            Ok(None)
        }
    }
}

async fn node_openid_client_sso_and_backchannel_logout(backend: Backend) -> anyhow::Result<()> {
    let Some(node) = tool_or_skip(
        "stacks::node_openid_client_sso_and_backchannel_logout",
        "node",
        &[
            "-e",
            "process.exit(Number(process.versions.node.split('.')[0]) >= 20 ? 0 : 1)",
        ],
        "install Node.js 20 or later",
    )
    .await?
    else {
        return Ok(());
    };
    static NPM: OnceCell<Result<(), String>> = OnceCell::const_new();
    NPM.get_or_init(|| async {
        npm_ci_in(&stack_dir("node"), "openid-client")
            .await
            .map_err(|e| format!("{e:#}"))
    })
    .await
    .clone()
    .map_err(|e| anyhow::anyhow!(e))?;
    sso_then_backchannel_logout(backend, "nodeapp", &node, "app.mjs", &stack_dir("node")).await
}

async fn python_authlib_sso_and_backchannel_logout(backend: Backend) -> anyhow::Result<()> {
    let Some(python) = tool_or_skip(
        "stacks::python_authlib_sso_and_backchannel_logout",
        "python3",
        &["-c", "import authlib, joserfc, requests"],
        "python3 -m pip install -r tests/stacks/python/requirements.txt",
    )
    .await?
    else {
        return Ok(());
    };
    sso_then_backchannel_logout(backend, "pyapp", &python, "app.py", &stack_dir("python")).await
}

/// What a child process printed, kept for the failure message.
type Output = Arc<Mutex<String>>;

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Output) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut all) = into.lock() {
                all.push_str(&line);
                all.push('\n');
            }
        }
    });
}

/// Starts `program script` in `dir` and waits for it to print `READY`.
async fn start_app(
    mut cmd: Command,
    program: &Path,
    script: &str,
) -> anyhow::Result<(Child, Output)> {
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {} {script}", program.display()))?;
    let output: Output = Arc::default();
    collect(child.stderr.take().context("no stderr")?, output.clone());
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await? {
            if line == "READY" {
                return anyhow::Ok(true);
            }
        }
        Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let printed = output.lock().map(|o| o.clone()).unwrap_or_default();
        bail!("{script} did not start ({ready:?}):\n{printed}");
    }
    collect(stdout.into_inner(), output.clone());
    Ok((child, output))
}

async fn session(http: &tessera_e2e::Browser, base: &str) -> anyhow::Result<Value> {
    let page = http.get(&Url::parse(&format!("{base}/session"))?).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    Ok(serde_json::from_str(&page.body)?)
}

async fn sso_then_backchannel_logout(
    backend: Backend,
    client_id: &str,
    program: &Path,
    script: &str,
    dir: &Path,
) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = fx
        .add_client(
            NewClient {
                redirect_uri: format!("{base}/callback"),
                ..NewClient::confidential(client_id, &format!("Ứng dụng {client_id}"))
            }
            .backchannel_logout_uri(&format!("{base}/backchannel-logout")),
        )
        .await?;
    let mut cmd = Command::new(program);
    cmd.arg(script)
        .current_dir(dir)
        .env("ISSUER", fx.server.issuer())
        .env("CLIENT_ID", client_id)
        .env(
            "CLIENT_SECRET",
            client.client_secret.as_deref().context("no secret")?,
        )
        .env("APP_BASE", &base)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let (_child, output) = start_app(cmd, program, script).await?;
    let printed = || output.lock().map(|o| o.clone()).unwrap_or_default();

    // The password is typed once, for the Rust application `vanban`.
    let browser = fx.browser()?;
    let rp = fx.rp().await?;
    let login = flow::sdk_login(&browser, &fx.server, &rp, &[], USERNAME, PASSWORD).await?;
    assert_eq!(session(&browser, &base).await?["logged_in"], false);

    // The other stack's login: to the provider and straight back (SSO), then signed in.
    let start = browser.get(&Url::parse(&format!("{base}/login"))?).await?;
    let auth = start.see_other()?;
    ensure!(
        auth.as_str().starts_with(fx.server.issuer()),
        "{script}: /login should go to the provider: {start}"
    );
    let cb = flow::authorize_silently(&browser, &auth).await?;
    let landed = browser.get(&cb.url).await?;
    ensure!(
        landed.location().is_some_and(|l| l.path() == "/session"),
        "{script}: the callback failed: {landed}\n{}",
        printed()
    );
    let signed_in = session(&browser, &base).await?;
    assert_eq!(signed_in["logged_in"], true, "{signed_in}");
    assert_eq!(signed_in["sub"], fx.user_id.as_str());
    assert_eq!(signed_in["sid"].as_str(), login.claims.sid.as_deref());

    // Logging out of `vanban` ends the provider session; the back channel ends the other's.
    let out = browser
        .get(&rp.end_session_url(&login.id_token, None, None)?)
        .await?;
    assert_eq!(out.status, StatusCode::OK, "{out}");
    fx.server
        .wait_for_audit("backchannel.delivered", 1, Duration::from_secs(20))
        .await
        .with_context(printed)?;
    let after = session(&browser, &base).await?;
    assert_eq!(after["logged_in"], false, "{after}\n{}", printed());
    Ok(())
}
