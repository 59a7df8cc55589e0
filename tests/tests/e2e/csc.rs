//! The CSC API v2 (`/csc/v2/`) driven by an existing CSC client nobody here wrote: pyHanko's
//! `CSCSigner`, one PDF at a time and in a batch (`batch_size`), with the official's OTP in
//! `credentials/authorize`; the PDFs are then checked by `pyhanko sign validate` and pdfsig.
//! A replayed SAD and a hash the SAD does not cover get their own errors. Needs pyHanko and
//! pdfsig; without them the test is skipped, except when `CI` is set, where it fails.

use std::path::Path;

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::admin::login_token;
use tessera_e2e::{Backend, NewClient, NewUser, RegisteredClient, TempDir, TestServer};

use crate::signing_pdf::{pdfsig_valid, pyhanko_cli, run, tools_available};

scenarios!(csc_api_with_pyhanko);

const PASSWORD: &str = "mat-khau-rat-dai-2468";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/csc/pyhanko_csc.py");
const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/formats/tests/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);

/// Enrols an authenticator app for the official in a browser session; answers the browser,
/// signed in, and the app's secret.
pub(crate) async fn enrol_totp(
    server: &TestServer,
    client: &RegisteredClient,
) -> anyhow::Result<(tessera_e2e::Browser, String)> {
    let browser = tessera_e2e::Browser::new()?;
    let request = tessera_e2e::oauth::AuthRequest::new(client);
    tessera_e2e::flow::browser_login(&browser, server, &request.url(server), "minh.pd", PASSWORD)
        .await?;
    let secret = tessera_e2e::totp::enrol_on_account(&browser, server).await?;
    Ok((browser, secret))
}

/// The official minh.pd in a unit of their own.
pub(crate) async fn add_official(server: &TestServer) -> anyhow::Result<()> {
    let unit = server.add_unit("Sở Tư pháp", None).await?;
    let mut user = NewUser::new("minh.pd", "Phạm Đức Minh", PASSWORD);
    user.unit = Some(unit);
    server.add_user(&user).await?;
    Ok(())
}

/// Issues minh.pd a personal credential with an `alg` key; answers its id.
pub(crate) async fn issue_credential(server: &TestServer, alg: &str) -> anyhow::Result<String> {
    let issued = server
        .cli_ok(
            &["cert", "issue", "--user", "minh.pd", "--alg", alg, "--json"],
            None,
        )
        .await?
        .json()?;
    Ok(issued["id"]
        .as_str()
        .context("no credential id")?
        .to_owned())
}

pub(crate) async fn post(
    server: &TestServer,
    token: Option<&str>,
    path: &str,
    body: Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut req = reqwest::Client::new().post(server.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// The current TOTP step (the server checks codes against the real clock).
#[allow(clippy::disallowed_methods)]
fn step_now() -> anyhow::Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        / 30)
}

/// Runs the pyHanko client for `credential`; answers its report.
#[allow(clippy::too_many_arguments)]
async fn pyhanko_client(
    server: &TestServer,
    dir: &Path,
    token: &str,
    credential: &str,
    secret: &str,
    sign_algo: &str,
    first_step: u64,
    batch: usize,
) -> anyhow::Result<Value> {
    let out = dir.display().to_string();
    let (ok, text) = run(
        dir,
        "python3",
        &[
            SCRIPT,
            server.issuer(),
            token,
            credential,
            secret,
            sign_algo,
            PDF,
            &out,
            &first_step.to_string(),
            &batch.to_string(),
        ],
    )
    .await?;
    ensure!(ok, "pyHanko CSC client: {text}");
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("pyHanko CSC client said: {text}"))
}

async fn csc_api_with_pyhanko(backend: Backend) -> anyhow::Result<()> {
    if !tools_available().await {
        if std::env::var_os("CI").is_some() {
            bail!(
                "pyHanko and pdfsig are needed (pip install pyHanko; apt-get install poppler-utils)"
            );
        }
        return Ok(());
    }
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-csc")?;
    let d = dir.path();
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    server
        .cli_ok(
            &[
                "ca",
                "export",
                "root",
                "--out",
                &d.join("root.pem").display().to_string(),
            ],
            None,
        )
        .await?;
    add_official(&server).await?;
    let mut credentials = Vec::new();
    for alg in ["P-256", "RSA-2048"] {
        credentials.push(issue_credential(&server, alg).await?);
    }
    let client = server
        .add_client(&NewClient::confidential("kyso", "Ký số văn bản").scopes("openid service"))
        .await?;
    let token = login_token(&server, &client, "openid service", "minh.pd", PASSWORD).await?;
    let (_, secret) = enrol_totp(&server, &client).await?;

    // info needs no token; the rest need the official's token with scope service.
    let (status, info) = post(&server, None, "/csc/v2/info", json!({})).await?;
    ensure!(
        status == StatusCode::OK && info["specs"] == "2.0.0.2",
        "{info}"
    );
    let (status, err) = post(&server, None, "/csc/v2/credentials/list", json!({})).await?;
    ensure!(
        status == StatusCode::UNAUTHORIZED && err["error"] == "invalid_token",
        "{err}"
    );
    let (status, list) = post(&server, Some(&token), "/csc/v2/credentials/list", json!({})).await?;
    ensure!(status == StatusCode::OK, "{list}");
    for id in &credentials {
        ensure!(
            list["credentialIDs"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(id))),
            "{list}"
        );
    }

    // pyHanko: P-256 one by one and three in one batch; RSA-2048 one.
    let p256 = d.join("p256");
    let rsa = d.join("rsa");
    std::fs::create_dir_all(&p256)?;
    std::fs::create_dir_all(&rsa)?;
    let report = pyhanko_client(
        &server,
        &p256,
        &token,
        &credentials[0],
        &secret,
        "1.2.840.10045.4.3.2",
        step_now()?,
        3,
    )
    .await?;
    ensure!(
        report["max_batch"] == 100 && report["scal2"] == true,
        "{report}"
    );
    ensure!(
        report["authorizations"] == 2 && report["batch_hashes"] == 3,
        "{report}"
    );
    ensure!(report["replay"][0] == 400, "{report}");
    ensure!(report["replay"][1]["error"] == "invalid_sad", "{report}");
    ensure!(
        report["replay"][1]["error_description"]
            .as_str()
            .is_some_and(|s| s.contains("replayed")),
        "{report}"
    );
    ensure!(
        report["not_authorized"][1]["error_description"]
            .as_str()
            .is_some_and(|s| s.contains("hash_not_authorized")),
        "{report}"
    );
    let last = report["last_step"].as_u64().context("no last step")?;
    let rsa_report = pyhanko_client(
        &server,
        &rsa,
        &token,
        &credentials[1],
        &secret,
        "1.2.840.113549.1.1.11",
        last,
        1,
    )
    .await?;
    let mut files = Vec::new();
    for r in [&report, &rsa_report] {
        for f in r["files"].as_array().into_iter().flatten() {
            files.push(f.as_str().context("file")?.to_owned());
        }
    }
    ensure!(files.len() == 5, "{files:?}");
    std::fs::copy(d.join("root.pem"), p256.join("root.pem"))?;
    std::fs::copy(d.join("root.pem"), rsa.join("root.pem"))?;
    for f in &files {
        let path = Path::new(f);
        let (dir, name) = (
            path.parent().context("dir")?,
            path.file_name().context("name")?,
        );
        let name = name.to_string_lossy();
        pyhanko_cli(dir, &name).await?;
        pdfsig_valid(dir, &name).await?;
    }

    // Every signature was audited; the refusals too.
    let signed = server.audit("signing.csc.signed").await?;
    ensure!(signed.len() == 3, "{signed:?}");
    // A replay and a hash not covered, for each of the two runs.
    let refused = server.audit("signing.sad.refused").await?;
    let reasons: Vec<&str> = refused
        .iter()
        .filter_map(|r| r.detail["reason"].as_str())
        .collect();
    ensure!(
        reasons
            == [
                "replayed",
                "hash_not_authorized",
                "replayed",
                "hash_not_authorized"
            ],
        "{refused:?}"
    );
    Ok(())
}
