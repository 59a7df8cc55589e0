//! The server's own logs (issue 16 §3): with `TESSERA_LOG_FORMAT=json` every line is one JSON
//! object, every line logged while answering a request carries its id, which comes back as
//! `X-Request-Id` (the balancer's when well formed). A full day's work at debug level — a
//! password login, the code exchange, a refresh, an organisation's signing request approved
//! with an authenticator code and the signed PDF fetched, with the HSM PIN in the environment —
//! leaves none of its secrets in the log: not the password, the client secrets, the tokens,
//! the code, the PIN, the TOTP secret, nor a word inside the signed document.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::lifecycle::{self, Auth};
use tessera_e2e::{Backend, Browser, ServerOptions, TempDir, run_tessera};

use crate::hsm::{PIN, hsm_env};
use crate::signing_pages::{App, csrf, totp_at};
use tessera_e2e::totp::enrol_on_account;

scenarios!(logs_carry_request_ids_and_no_secrets);

/// Replaces `make_congvan.py` in the fixture's document information (same length, so the
/// cross-reference offsets stay right): a word that exists only inside the document.
const MARKER: &str = "SECRETDOC-7q3zK";

fn marked_pdf() -> anyhow::Result<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/formats/tests/fixtures/pdf/cong-van-reportlab.pdf"
    );
    let mut pdf = std::fs::read(path)?;
    let from = b"make_congvan.py";
    let at = pdf
        .windows(from.len())
        .position(|w| w == from)
        .context("no Creator in the fixture")?;
    pdf[at..at + from.len()].copy_from_slice(MARKER.as_bytes());
    Ok(pdf)
}

/// The request ids of the lines of `stderr`, each checked to be one JSON object.
fn json_lines(stderr: &str) -> anyhow::Result<Vec<Value>> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not a JSON line: {l}")))
        .collect()
}

async fn logs_carry_request_ids_and_no_secrets(backend: Backend) -> anyhow::Result<()> {
    let pin_dir = TempDir::new("tessera-e2e-pin")?;
    let mut options = ServerOptions::default()
        .env("RUST_LOG", "debug")
        .env("TESSERA_LOG_FORMAT", "json");
    // The PIN itself in the environment, the more tempting place to print it from.
    let hsm = hsm_env("logs_carry_request_ids_and_no_secrets", &pin_dir)?;
    if let Some((_, env)) = &hsm {
        for (k, v) in env.iter().filter(|(k, _)| k != "TESSERA_PKCS11_PIN_FILE") {
            options = options.env(k, v);
        }
        options = options.env("TESSERA_PKCS11_PIN", PIN);
    }
    let fx = Fixture::start_with(backend, options).await?;
    let s = &fx.server;
    let mut secrets: Vec<(&str, String)> = vec![("password", PASSWORD.into())];
    if hsm.is_some() {
        secrets.push(("PIN", PIN.into()));
    }
    secrets.push((
        "client secret",
        fx.client.client_secret.clone().context("no secret")?,
    ));

    // The balancer's id is kept; a forged one is replaced by a fresh id.
    let http = reqwest::Client::new();
    let r = http
        .get(s.url("/health/live"))
        .header("x-request-id", "haproxy-7f00:0001")
        .send()
        .await?;
    ensure!(r.headers()["x-request-id"] == "haproxy-7f00:0001");
    let r = http
        .get(s.url("/health/live"))
        .header("x-request-id", "x\" level=\"ERROR")
        .send()
        .await?;
    let fresh = r.headers()["x-request-id"].to_str()?.to_owned();
    ensure!(
        fresh.len() == 32 && fresh.bytes().all(|b| b.is_ascii_hexdigit()),
        "{fresh}"
    );

    // Login, code exchange, refresh.
    let browser = Browser::new()?;
    let (_, tokens) = crate::refresh::login_tokens(&fx, &browser, "openid profile").await?;
    for key in ["access_token", "refresh_token", "id_token"] {
        secrets.push(("first tokens", tokens.str(key)?.to_owned()));
    }
    let auth = Auth::basic(&fx.client)?;
    let refreshed = lifecycle::refresh(s, &auth, tokens.str("refresh_token")?, None).await?;
    ensure!(refreshed.status == StatusCode::OK, "{refreshed}");
    for key in ["access_token", "refresh_token"] {
        secrets.push(("refreshed tokens", refreshed.str(key)?.to_owned()));
    }

    // An application's signing request, approved by the official with an authenticator code.
    // The CA and the official's key are made where the server keeps its keys (the HSM).
    let data_dir = s.data_dir().display().to_string();
    let db = s.database_url();
    let mut cli_env: Vec<(&str, &str)> = vec![("TESSERA_DATABASE_URL", &db)];
    if let Some((_, env)) = &hsm {
        cli_env.extend(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    for args in [
        ["ca", "init", "--base-url", s.issuer()],
        ["cert", "issue", "--user", USERNAME],
    ] {
        let full = [&args[..], &["--data-dir", &data_dir]].concat();
        let out = run_tessera(&full, &cli_env, None).await?;
        ensure!(out.success(), "{out}");
    }
    let app_client = s
        .add_signing_request_client("motcua", "Một cửa", &fx.unit_id)
        .await?;
    secrets.push((
        "application secret",
        app_client.client_secret.clone().context("no secret")?,
    ));
    let totp_secret = enrol_on_account(&browser, s).await?;
    secrets.push(("TOTP secret", totp_secret.clone()));
    let app = App::new(s, &app_client).await?;
    secrets.push(("application token", app.token.clone()));
    let pdf = marked_pdf()?;
    let encoded = STANDARD.encode(&pdf);
    // The marker's stretch of the request body as sent (base64 aligned on 3 bytes).
    let at = pdf
        .windows(MARKER.len())
        .position(|w| w == MARKER.as_bytes())
        .context("marker")?;
    let start = at / 3 * 4;
    secrets.push(("document in base64", encoded[start..start + 24].to_owned()));
    secrets.push(("document", MARKER.into()));
    let created = app
        .submit(
            s,
            &json!({ "title": "Công văn", "signer": USERNAME,
                     "documents": [{ "name": "cong-van.pdf", "pdf": encoded }] }),
        )
        .await?;
    let id = created["id"].as_str().context("no id")?.to_owned();
    let page = browser.get(&s.url(&format!("/sign/requests/{id}"))).await?;
    ensure!(page.status == StatusCode::OK, "{page}");
    let done = browser
        .post_form(
            &s.url(&format!("/sign/requests/{id}/approve")),
            &[
                ("csrf_token", &csrf(&page)?),
                ("code", &totp_at(&totp_secret, 1)?),
            ],
        )
        .await?;
    done.see_other()?;
    let mut state = Value::Null;
    for _ in 0..120 {
        state = app.state(s, &id).await?;
        if state["status"] == "signed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(state["status"] == "signed", "{state}");
    let url = state["documents"][0]["result_url"]
        .as_str()
        .with_context(|| format!("{state}"))?;
    let signed = app.fetch(url).await?;
    ensure!(
        signed.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "the signed PDF lost the marker"
    );

    // Every line is JSON; every line of a request names it; the balancer's id is there.
    let output = s.output();
    let stderr = output
        .split_once("--- tessera stderr ---\n")
        .map(|(_, e)| e)
        .unwrap_or_default();
    let lines = json_lines(stderr)?;
    ensure!(lines.len() > 20, "too few log lines: {stderr}");
    let ids: HashSet<&str> = lines
        .iter()
        .filter_map(|l| l["span"]["request_id"].as_str())
        .collect();
    ensure!(ids.contains("haproxy-7f00:0001"), "{stderr}");
    ensure!(ids.contains(fresh.as_str()), "{stderr}");
    let answered = lines.iter().filter(|l| l["message"] == "answered").count();
    ensure!(answered >= 10, "{answered} requests logged: {stderr}");
    ensure!(
        lines
            .iter()
            .filter(|l| l["message"] == "answered")
            .all(|l| l["span"]["request_id"].is_string()),
        "an answer without its request id: {stderr}"
    );
    for (what, secret) in &secrets {
        ensure!(
            !output.contains(secret.as_str()),
            "the {what} is in the log:\n{}",
            output
                .lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}
