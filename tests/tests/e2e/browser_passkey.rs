//! Passkeys in a real browser: headless Chromium (Debian's `chromium`) with its virtual
//! authenticator, driven by `tests/browser/passkey.mjs` (playwright-core over the DevTools
//! protocol). The script signs in with the password, registers a passkey on `/account`, signs
//! out, and signs in again with the passkey alone.
//!
//! Needs `node` (20 or later) and `chromium`; without them the test is skipped with a message,
//! except when `CI` is set, where it fails (`.ci/run` installs them). `npm ci` runs in
//! `tests/browser` when its `node_modules` is missing or out of date.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Row};
use tessera_e2e::{Backend, NewUser, ServerOptions, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::OnceCell;

scenarios!(passkey_register_sign_out_sign_in);

const USERNAME: &str = "lan.pt";
const FULL_NAME: &str = "Phạm Thị Lan";
const PASSWORD: &str = "mat-khau-cua-lan-2024";
/// The name `passkey.mjs` gives the passkey.
const PASSKEY_NAME: &str = "Laptop test";

/// The whole browser run (the script has its own per-step timeouts, 20 s each).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);
const NPM_TIMEOUT: Duration = Duration::from_secs(300);

/// Password sign-in, passkey registration on `/account`, sign-out, passkey sign-in, in
/// Chromium; the server then holds exactly that passkey, marked as used.
async fn passkey_register_sign_out_sign_in(backend: Backend) -> anyhow::Result<()> {
    let test = "browser_passkey::passkey_register_sign_out_sign_in";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    npm_ci_once().await?;

    let server =
        TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let user_id = server
        .add_user(&NewUser::new(USERNAME, FULL_NAME, PASSWORD))
        .await?;

    let script = browser_dir().join("passkey.mjs");
    let mut cmd = Command::new(&tools.node);
    cmd.arg(&script)
        .args([server.issuer(), USERNAME, PASSWORD])
        .env("CHROMIUM", &tools.chromium)
        .env("RESET_HANDSHAKE", "1")
        .current_dir(browser_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let run = async {
        let mut child = cmd
            .spawn()
            .with_context(|| format!("running {} {}", tools.node.display(), script.display()))?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let mut seen = String::new();
        // Up to the handshake: the passkey works; then the administrator makes the password
        // temporary (`tessera user passwd --temporary`) and the script tries the passkey again.
        while let Some(line) = stdout.next_line().await? {
            seen.push_str(&line);
            seen.push('\n');
            if line == "WAITING-FOR-RESET" {
                server
                    .cli_ok(
                        &[
                            "user",
                            "passwd",
                            USERNAME,
                            "--password-stdin",
                            "--temporary",
                        ],
                        Some("mat-khau-tam-thoi-2026\n"),
                    )
                    .await?;
                stdin.write_all(b"go\n").await?;
                stdin.flush().await?;
            }
        }
        let out = child.wait_with_output().await?;
        anyhow::Ok((out.status, seen, out.stderr))
    };
    let (status, stdout, stderr) = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .with_context(|| format!("{} did not finish in {SCRIPT_TIMEOUT:?}", script.display()))??;
    let printed = format!(
        "--- passkey.mjs stdout ---\n{stdout}--- passkey.mjs stderr ---\n{}",
        String::from_utf8_lossy(&stderr)
    );
    ensure!(
        status.success(),
        "the browser test failed ({status}):\n{printed}"
    );
    eprintln!("{printed}");

    // What the browser did is in the database: one passkey, named as typed, used to sign in.
    let passkeys = stored_passkeys(&server, &user_id).await?;
    ensure!(
        passkeys.len() == 1,
        "expected one stored passkey for {USERNAME}, found {passkeys:?}"
    );
    let (name, last_used_at) = &passkeys[0];
    ensure!(name == PASSKEY_NAME, "the passkey is stored as {name:?}");
    ensure!(
        last_used_at.is_some(),
        "the passkey sign-in did not record last_used_at"
    );

    // And in the audit log: the registration, and two sign-ins, the second without password.
    let registered = server.audit("mfa.passkey.registered").await?;
    ensure!(
        registered.len() == 1 && registered[0].detail["name"] == PASSKEY_NAME,
        "expected one mfa.passkey.registered entry naming {PASSKEY_NAME:?}: {registered:?}"
    );
    let logins = server.audit("login.success").await?;
    let amrs: Vec<&Value> = logins.iter().map(|r| &r.detail["amr"]).collect();
    ensure!(
        logins.len() == 2
            && logins
                .iter()
                .all(|r| r.actor.as_deref() == Some(user_id.as_str()))
            && amrs[0]
                .as_array()
                .is_some_and(|a| a.contains(&"pwd".into()))
            && amrs[1]
                .as_array()
                .is_some_and(|a| !a.contains(&"pwd".into())),
        "expected a password sign-in then a passkey sign-in (amr without pwd): {logins:?}"
    );
    Ok(())
}

/// `(name, last_used_at)` of the user's stored passkeys.
async fn stored_passkeys(
    server: &TestServer,
    user_id: &str,
) -> anyhow::Result<Vec<(String, Option<i64>)>> {
    sqlx::any::install_default_drivers();
    let mut db = AnyConnection::connect(&server.database_url())
        .await
        .context("opening the server's database")?;
    let rows =
        sqlx::query("SELECT name, last_used_at FROM webauthn_credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut db)
            .await?;
    db.close().await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("last_used_at")?)))
        .collect()
}

/// `tests/browser`: the script, its package.json and lock file.
pub(crate) fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Runs `tests/browser/<script>` with `args` in Chromium; fails with its output unless it
/// exits 0 within five minutes, and prints that output otherwise.
pub(crate) async fn run_script(
    tools: &Tools,
    script: &str,
    args: &[&std::ffi::OsStr],
) -> anyhow::Result<()> {
    let mut cmd = Command::new(&tools.node);
    cmd.arg(browser_dir().join(script))
        .args(args)
        .env("CHROMIUM", &tools.chromium)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .with_context(|| format!("{script} did not finish in 300 s"))??;
    let printed = format!(
        "--- {script} stdout ---\n{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.status.success(), "the browser test failed:\n{printed}");
    eprintln!("{printed}");
    Ok(())
}

/// Where a browser test keeps its screenshots: `target/<dir>/<backend>`.
pub(crate) fn screenshot_dir(dir: &str, backend: Backend) -> anyhow::Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(dir)
        .join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        });
    std::fs::create_dir_all(&path)?;
    Ok(path)
}

pub(crate) struct Tools {
    pub(crate) node: PathBuf,
    pub(crate) chromium: PathBuf,
}

/// `node` and `chromium`, or `None` (after saying so) when one is missing and `CI` is unset.
pub(crate) fn tools_or_skip(test: &str) -> anyhow::Result<Option<Tools>> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node = find_in_path("node");
    let missing: Vec<String> = [
        node.is_none()
            .then(|| "node (Node.js 20 or later)".to_owned()),
        (!chromium.is_file()).then(|| format!("chromium ({})", chromium.display())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match node {
        Some(node) if missing.is_empty() => Ok(Some(Tools { node, chromium })),
        _ if std::env::var_os("CI").is_some() => bail!(
            "{test}: {} not installed but CI is set; install with `apt-get install -y chromium` \
             (and Node.js 20+)",
            missing.join(" and ")
        ),
        _ => {
            // Straight to the process's stderr: the test harness captures `eprintln!`, and a
            // skip nobody sees is a silent pass.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {} not installed (apt-get install -y chromium; Node.js 20+)",
                missing.join(" and ")
            );
            Ok(None)
        }
    }
}

pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `npm ci` in `tests/browser` unless `node_modules` already holds the locked playwright-core;
/// once per test process (the SQLite and PostgreSQL variants run in parallel threads).
pub(crate) async fn npm_ci_once() -> anyhow::Result<()> {
    static DONE: OnceCell<Result<(), String>> = OnceCell::const_new();
    DONE.get_or_init(|| async { npm_ci().await.map_err(|e| format!("{e:#}")) })
        .await
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

async fn npm_ci() -> anyhow::Result<()> {
    npm_ci_in(&browser_dir(), "playwright-core").await
}

/// `npm ci` in `dir` unless its `node_modules` already holds the locked version of `package`.
pub(crate) async fn npm_ci_in(dir: &Path, package: &str) -> anyhow::Result<()> {
    let version = |path: &Path, pointer: &str| -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        let json: Value = serde_json::from_str(&text).ok()?;
        json.pointer(pointer)?.as_str().map(str::to_owned)
    };
    let locked = version(
        &dir.join("package-lock.json"),
        &format!("/packages/node_modules~1{package}/version"),
    )
    .with_context(|| {
        format!(
            "{}/package-lock.json does not lock {package}",
            dir.display()
        )
    })?;
    let installed = version(
        &dir.join(format!("node_modules/{package}/package.json")),
        "/version",
    );
    if installed.as_deref() == Some(locked.as_str()) {
        return Ok(());
    }
    let npm = find_in_path("npm").context("npm is not installed (it comes with Node.js)")?;
    let mut cmd = Command::new(&npm);
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(NPM_TIMEOUT, cmd.output())
        .await
        .with_context(|| format!("npm ci did not finish in {NPM_TIMEOUT:?}"))?
        .with_context(|| format!("running {} ci in {}", npm.display(), dir.display()))?;
    if !out.status.success() {
        bail!(
            "npm ci in {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
