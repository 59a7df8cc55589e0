//! The whole mission in Chromium (`tests/browser/office.mjs`), on `tessera demo seed`'s data:
//! the administrator signs in to `/admin`, creates an official and registers a second
//! application; the official signs in to the reference application `examples/document-office`,
//! opens the second one without a password, uploads a PDF and asks for a signature, approves it
//! on a phone-sized page with a passkey after the QR hand-off, and downloads the signed PDF
//! (checked here with `pdfsig` and `tessera verify`); logging out of one application logs out
//! of the other (back-channel). Then an administrator of one department is refused another
//! unit's user, and issuing or resuming their own credential. Screenshots of every page go to
//! `target/page-screenshots/<backend>/office-*.png`. Skipped like `browser_passkey` when node
//! or chromium is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tessera_e2e::{Backend, ServerOptions, TestServer, workspace_bin};
use tokio::process::{Child, Command};

use crate::browser_passkey::{npm_ci_once, run_script, screenshot_dir, tools_or_skip};
use crate::signing_pdf::pdfsig_valid;

scenarios!(
    office_sso_signing_and_logout_in_chromium,
    office_administrator_refusals_in_chromium
);

/// The seeded official who signs in and signs.
const OFFICIAL: &str = "an.nv";
const ADMIN: &str = "quantri";

/// Seeds the demonstration data for a reference application at `app_url`; the passwords
/// printed once, by username, and the application's settings file.
async fn seed(
    server: &TestServer,
    app_url: &str,
    dir: &Path,
) -> anyhow::Result<(Vec<(String, String)>, PathBuf)> {
    let config = dir.join("vanban.json");
    let config_arg = config.display().to_string();
    let args = [
        "demo",
        "seed",
        "--issuer",
        server.issuer(),
        "--app-url",
        app_url,
        "--app-config",
        &config_arg,
    ];
    let out = server.cli_ok(&args, None).await?;
    let passwords = out
        .stdout
        .lines()
        .filter_map(|l| {
            let (who, password) = l.split_once(" — password: ")?;
            let username = who.split_whitespace().next()?;
            Some((username.to_owned(), password.trim().to_owned()))
        })
        .collect::<Vec<_>>();
    ensure!(passwords.len() == 3, "seed printed: {}", out.stdout);
    // Running it again creates nothing and prints no password.
    let again = server.cli_ok(&args, None).await?;
    ensure!(
        !again.stdout.contains("password: ") && again.stdout.contains("already there"),
        "a second seed: {}",
        again.stdout
    );
    Ok((passwords, config))
}

fn password_of<'a>(passwords: &'a [(String, String)], user: &str) -> anyhow::Result<&'a str> {
    passwords
        .iter()
        .find(|(u, _)| u == user)
        .map(|(_, p)| p.as_str())
        .with_context(|| format!("no password printed for {user}"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `examples/document-office` on its settings file; killed when dropped.
async fn start_app(config: &Path, data: &Path, url: &str) -> anyhow::Result<Child> {
    let bin = workspace_bin("document-office", "DOCUMENT_OFFICE_BIN")?;
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting document-office")?;
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(url).send().await.is_ok() {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            bail!("document-office exited with {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("document-office did not answer at {url}")
}

async fn office_sso_signing_and_logout_in_chromium(backend: Backend) -> anyhow::Result<()> {
    let test = "browser_office::office_sso_signing_and_logout_in_chromium";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    npm_ci_once().await?;
    let server = TestServer::start_with(
        backend,
        ServerOptions::default()
            .localhost_issuer()?
            .allow_loopback_calls(),
    )
    .await?;
    let dir = tessera_e2e::TempDir::new("office")?;
    let app1 = format!("http://127.0.0.1:{}", free_port()?);
    let app2 = format!("http://127.0.0.1:{}", free_port()?);
    let (passwords, config) = seed(&server, &app1, dir.path()).await?;
    let _app = start_app(&config, &dir.path().join("vanban"), &app1).await?;

    let shots = screenshot_dir("page-screenshots", backend)?;
    let signed = dir.path().join("signed.pdf");
    let pdf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/formats/tests/fixtures/pdf/quyet-dinh-libreoffice.pdf");
    let bin = workspace_bin("document-office", "DOCUMENT_OFFICE_BIN")?;
    let args: Vec<std::ffi::OsString> = vec![
        "journey".into(),
        server.issuer().into(),
        app1.clone().into(),
        app2.clone().into(),
        ADMIN.into(),
        password_of(&passwords, ADMIN)?.into(),
        OFFICIAL.into(),
        password_of(&passwords, OFFICIAL)?.into(),
        pdf.into_os_string(),
        signed.clone().into_os_string(),
        bin.into_os_string(),
        dir.path().as_os_str().to_owned(),
        shots.into_os_string(),
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_script(&tools, "office.mjs", &args).await?;

    // What the browser downloaded is a valid PAdES signature for pdfsig and for Tessera.
    pdfsig_valid(dir.path(), "signed.pdf").await?;
    let report = server
        .cli(&["verify", &signed.display().to_string(), "--json"], None)
        .await?;
    ensure!(
        report.success(),
        "tessera verify: {}{}",
        report.stdout,
        report.stderr
    );
    let v: Value = report.json()?;
    ensure!(v["overall"] == "TOTAL-PASSED", "{v}");
    // Approved with the passkey, on behalf of the application that asked.
    let approved = server.audit("signing.request.approved").await?;
    ensure!(
        approved.len() == 1 && approved[0].detail["factor"] == "passkey",
        "{approved:?}"
    );
    // The logout reached the other application over the back channel.
    let delivered = server.audit("backchannel.delivered").await?;
    ensure!(
        !delivered.is_empty(),
        "no back-channel logout was delivered"
    );
    Ok(())
}

async fn office_administrator_refusals_in_chromium(backend: Backend) -> anyhow::Result<()> {
    let test = "browser_office::office_administrator_refusals_in_chromium";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    npm_ci_once().await?;
    let server =
        TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let dir = tessera_e2e::TempDir::new("office-refusals")?;
    let app = format!("http://127.0.0.1:{}", free_port()?);
    seed(&server, &app, dir.path()).await?;
    let units = server
        .cli_ok(&["unit", "list", "--json"], None)
        .await?
        .json()?;
    let unit = |name: &str| -> anyhow::Result<String> {
        units
            .as_array()
            .and_then(|a| a.iter().find(|u| u["name"] == name))
            .and_then(|u| u["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no unit {name} in {units}"))
    };
    let noivu = unit("Sở Nội vụ")?;
    let lechan = unit("UBND quận Lê Chân")?;
    // The department's administrator, who also holds a signing credential of their own.
    let mut admin = tessera_e2e::NewUser::new("nv.admin", "Vũ Thị Thu", "mat-khau-quan-tri-nv");
    admin.unit = Some(noivu.clone());
    let admin_id = server.add_user(&admin).await?;
    for role in ["admin", "cert_admin"] {
        server.grant("nv.admin", role, &noivu).await?;
    }
    let own = server
        .cli_ok(&["cert", "issue", "--user", "nv.admin", "--json"], None)
        .await?
        .json()?;
    let own_id = own["id"].as_str().context("no credential id")?.to_owned();
    server.cli_ok(&["cert", "suspend", &own_id], None).await?;
    let mut other = tessera_e2e::NewUser::new("lc.canbo", "Hoàng Văn Nam", "mat-khau-le-chan");
    other.unit = Some(lechan);
    let other_id = server.add_user(&other).await?;

    let shots = screenshot_dir("page-screenshots", backend)?;
    let args = [
        "refusals",
        server.issuer(),
        "nv.admin",
        "mat-khau-quan-tri-nv",
        &other_id,
        &own_id,
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(shots.as_os_str());
    run_script(&tools, "office.mjs", &args).await?;

    // Nothing changed: one credential, still suspended; the refusals of their own credential
    // are audited (another unit's user is simply not found, as for a user who does not exist).
    let list = server
        .cli_ok(&["cert", "list", "--json"], None)
        .await?
        .json()?;
    let own: Vec<&Value> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["user_id"] == admin_id.as_str())
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        own.len() == 1 && own[0]["status"] == "suspended",
        "the administrator's own credentials: {list}"
    );
    let refused = server.audit("admin.refused").await?;
    for action in [
        "POST /admin/credentials",
        &format!("POST /admin/credentials/{own_id}/resume"),
    ] {
        ensure!(
            refused
                .iter()
                .any(|r| r.detail["action"] == action && r.detail["error"] == "forbidden"),
            "{action} is not audited as refused: {refused:?}"
        );
    }
    Ok(())
}
