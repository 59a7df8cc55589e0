//! Remote signing in Chromium (`tests/browser/signing.mjs`), the "done when": an
//! application submits 20 PDFs, the official approves them once with a passkey on a
//! phone-sized page opened from the desktop page's hand-off link, and the desktop page updates
//! by itself. The application then fetches the 20 signed PDFs, and pdfsig, pyHanko (trusting
//! Tessera's root) and `tessera verify` each call every one of them valid. Screenshots at 390 px and 1280 px, in Vietnamese and
//! English, are kept in `target/signing-screenshots` (the script fails when a page is wider
//! than its viewport). Skipped like `browser_passkey` when node or chromium is missing.

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::stream::{self, StreamExt};
use serde_json::json;
use tessera_e2e::lifecycle::{Auth, client_credentials};
use tessera_e2e::{Backend, NewUser, RegisteredClient, ServerOptions, TempDir, TestServer};

use crate::browser_passkey::{npm_ci_once, run_script, screenshot_dir, tools_or_skip};
use crate::signing_pdf::{pdfsig_valid, pyhanko_cli, tessera_verify, tools_available};

scenarios!(passkey_approval_on_the_phone_updates_the_desktop);

const USERNAME: &str = "lan.pt";
const PASSWORD: &str = "mat-khau-cua-lan-2024";
/// Documents in the request, as the walkthrough asks.
const DOCUMENTS: usize = 20;

async fn passkey_approval_on_the_phone_updates_the_desktop(backend: Backend) -> anyhow::Result<()> {
    let test = "browser_signing::passkey_approval_on_the_phone_updates_the_desktop";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    if !tools_available().await {
        ensure!(
            std::env::var_os("CI").is_none(),
            "{test}: pyHanko and pdfsig are needed (pip install pyHanko; apt-get install poppler-utils)"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: pyHanko or pdfsig is not installed"
        );
        return Ok(());
    }
    npm_ci_once().await?;
    let server =
        TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    let unit = server.add_unit("Sở Tài chính", None).await?;
    let mut user = NewUser::new(USERNAME, "Phạm Thị Lan", PASSWORD);
    user.unit = Some(unit.clone());
    server.add_user(&user).await?;
    server
        .cli_ok(&["cert", "issue", "--user", USERNAME], None)
        .await?;
    let out = server
        .cli_ok(
            &[
                "client",
                "add",
                "--id",
                "ketoan",
                "--name",
                "Phần mềm kế toán ngân sách",
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
    server
        .cli_ok(
            &[
                "client",
                "allow-signing-requests",
                "--client",
                "ketoan",
                "--unit",
                &unit,
            ],
            None,
        )
        .await?;
    let client = RegisteredClient {
        client_id: "ketoan".into(),
        client_secret: out["client_secret"].as_str().map(str::to_owned),
        redirect_uri: String::new(),
    };
    let token = client_credentials(&server, &Auth::basic(&client)?, Some("sign:request"))
        .await?
        .str("access_token")?
        .to_owned();
    let pdf = |name: &str| -> anyhow::Result<String> {
        let path = format!(
            "{}/../crates/formats/tests/fixtures/pdf/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        Ok(STANDARD.encode(std::fs::read(path)?))
    };
    // The five fixture PDFs four times over: 20 documents in one request.
    let fixtures = [
        "quyet-dinh-libreoffice.pdf",
        "cong-van-reportlab.pdf",
        "phu-luc-ghostscript.pdf",
        "quyet-dinh-linearized.pdf",
        "quyet-dinh-objstm.pdf",
    ];
    let documents: Vec<_> = (0..DOCUMENTS)
        .map(|i| {
            let n = fixtures[i % fixtures.len()];
            Ok(json!({ "name": format!("Hồ sơ thanh toán {:02} — {n}", i + 1), "pdf": pdf(n)? }))
        })
        .collect::<anyhow::Result<_>>()?;
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(server.url("/api/signing/requests"))
        .bearer_auth(&token)
        .json(&json!({
            "title": "Duyệt chi tạm ứng kinh phí hoạt động quý III năm 2026 cho các đơn vị trực thuộc",
            "signer": USERNAME,
            "documents": documents,
        }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"]
        .as_str()
        .with_context(|| format!("{created}"))?;

    let shots = screenshot_dir("signing-screenshots", backend)?;
    let args = [server.issuer(), USERNAME, PASSWORD, id];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(shots.as_os_str());
    run_script(&tools, "signing.mjs", &args).await?;

    // The signatures were made with a passkey proven at approval.
    let approved = server.audit("signing.request.approved").await?;
    ensure!(
        approved.len() == 1 && approved[0].detail["factor"] == "passkey",
        "{approved:?}"
    );
    let state: serde_json::Value = http
        .get(server.url(&format!("/api/signing/requests/{id}")))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        state["status"] == "signed" && state["done"] == DOCUMENTS,
        "{state}"
    );
    verify_all(&server, &http, &token, id).await
}

/// Fetches the signed PDFs as the application does and has each checked by pdfsig, pyHanko
/// (`--trust` Tessera's root) and `tessera verify`, a few documents at a time.
async fn verify_all(
    server: &TestServer,
    http: &reqwest::Client,
    token: &str,
    id: &str,
) -> anyhow::Result<()> {
    let dir = TempDir::new("tessera-e2e-browser-signing")?;
    let d = dir.path();
    let root = d.join("root.pem").display().to_string();
    server
        .cli_ok(&["ca", "export", "root", "--out", &root], None)
        .await?;
    for n in 0..DOCUMENTS {
        let r = http
            .get(server.url(&format!("/api/signing/requests/{id}/documents/{n}")))
            .bearer_auth(token)
            .send()
            .await?;
        ensure!(r.status().is_success(), "document {n}: {}", r.status());
        std::fs::write(d.join(format!("signed-{n:02}.pdf")), r.bytes().await?)?;
    }
    let checked: Vec<anyhow::Result<()>> = stream::iter(0..DOCUMENTS)
        .map(|n| async move {
            let file = format!("signed-{n:02}.pdf");
            tokio::try_join!(
                pdfsig_valid(d, &file),
                pyhanko_cli(d, &file),
                tessera_verify(server, d, &file),
            )
            .map(|_| ())
        })
        .buffer_unordered(4)
        .collect()
        .await;
    checked.into_iter().collect()
}
