//! Signature validation (`tessera verify`, `POST /api/verify`, `/verify`) against signatures
//! made by tools nobody here wrote: pyHanko signs PDFs with keys and certificates made by the
//! openssl CLI (`crates/formats/tests/data/verify/make.sh`), and `tessera verify` must agree
//! with pyHanko's validator on each — valid, tampered inside the byte range, junk appended,
//! Contents padding changed, expired, untrusted — and with `openssl cms -verify` on a detached
//! CMS. pyHanko, openssl and qpdf are needed; without pyHanko the test is skipped, except
//! when `CI` is set, where it fails.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use tessera_e2e::{Backend, CliOutput, TempDir, TestServer};

scenarios!(verify_agrees_with_pyhanko_and_openssl);

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/formats/tests/data/verify")
}

async fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .with_context(|| format!("running {program}"))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

async fn pyhanko_available() -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-m", "pyhanko", "--version"])
        .output()
        .await;
    matches!(probe, Ok(o) if o.status.success())
}

/// pyHanko's verdict: every signature intact, trusted and with acceptable changes.
async fn pyhanko_valid(dir: &Path, file: &str, root: &str) -> anyhow::Result<(bool, String)> {
    let (ok, text) = run(
        dir,
        "python3",
        &[
            "-m",
            "pyhanko",
            "sign",
            "validate",
            "--trust",
            root,
            "--trust-replace",
            file,
        ],
    )
    .await?;
    let valid = ok && !text.contains("INVALID") && !text.contains("UNTRUSTED");
    Ok((valid, text))
}

fn exit(out: &CliOutput) -> i32 {
    out.status.code().unwrap_or(-1)
}

async fn verify_json(server: &TestServer, args: &[&str]) -> anyhow::Result<(i32, Value)> {
    let mut full = vec!["verify"];
    full.extend_from_slice(args);
    full.push("--json");
    let out = server.cli(&full, None).await?;
    let code = exit(&out);
    ensure!((0..=3).contains(&code), "tessera {full:?}: {out}");
    Ok((code, out.json()?))
}

async fn verify_agrees_with_pyhanko_and_openssl(backend: Backend) -> anyhow::Result<()> {
    if !pyhanko_available().await {
        if std::env::var_os("CI").is_some() {
            bail!("pyHanko is not installed (pip install pyHanko)");
        }
        eprintln!("skipping verify_agrees_with_pyhanko_and_openssl: pyHanko is not installed");
        return Ok(());
    }
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-verify")?;
    let d = dir.path();
    let make = data_dir().join("make.sh");
    let input = data_dir().join("input.pdf");
    let (ok, text) = run(
        d,
        "sh",
        &[
            &make.display().to_string(),
            &d.display().to_string(),
            &input.display().to_string(),
        ],
    )
    .await?;
    ensure!(ok, "make.sh failed: {text}");
    let root = d.join("root.pem").display().to_string();
    let path = |f: &str| d.join(f).display().to_string();

    // Nothing is trusted yet: the valid signature is INDETERMINATE, no chain (exit 2).
    let (code, report) = verify_json(&server, &[&path("valid.pdf")]).await?;
    ensure!(code == 2, "{report}");
    ensure!(
        report["signatures"][0]["verdict"]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND",
        "{report}"
    );
    server
        .cli_ok(&["trust", "add", "--file", &root], None)
        .await?;

    // (file, exit code of tessera verify, sub-indication)
    let cases: [(&str, i32, Option<&str>); 8] = [
        ("valid.pdf", 0, None),
        ("valid-ec.pdf", 0, None),
        ("two-signatures.pdf", 0, None),
        ("tampered-inside.pdf", 1, Some("HASH_FAILURE")),
        ("tampered-appended.pdf", 0, None),
        ("tampered-padding.pdf", 0, None),
        ("expired.pdf", 2, Some("OUT_OF_BOUNDS_NO_POE")),
        ("untrusted.pdf", 2, Some("NO_CERTIFICATE_CHAIN_FOUND")),
    ];
    for (file, want_code, want_sub) in cases {
        let (code, report) = verify_json(&server, &[&path(file)]).await?;
        ensure!(
            code == want_code,
            "{file}: exit {code}, want {want_code}: {report}"
        );
        let subs: Vec<&Value> = report["signatures"]
            .as_array()
            .map(|a| a.iter().map(|s| &s["verdict"]["sub_indication"]).collect())
            .unwrap_or_default();
        ensure!(!subs.is_empty(), "{file}: no signature: {report}");
        match want_sub {
            Some(sub) => ensure!(subs.iter().any(|s| *s == sub), "{file}: {report}"),
            None => ensure!(subs.iter().all(|s| s.is_null()), "{file}: {report}"),
        }
        let (py_valid, py_text) = pyhanko_valid(d, file, "root.pem").await?;
        ensure!(
            py_valid == (code == 0),
            "{file}: tessera exit {code} but pyHanko says valid={py_valid}:\n{py_text}\n{report}"
        );
    }

    // The human report names the signer and the verdict; appended junk is mentioned.
    let human = server
        .cli(&["verify", &path("tampered-appended.pdf")], None)
        .await?;
    ensure!(exit(&human) == 0, "{human}");
    for want in ["CN=Test signer", "TOTAL-PASSED", "not a PDF revision"] {
        ensure!(human.stdout.contains(want), "missing {want:?}: {human}");
    }

    // --trust adds an anchor for one run; --crl gives revocation data.
    let (code, report) = verify_json(
        &server,
        &[&path("untrusted.pdf"), "--trust", &path("other-root.pem")],
    )
    .await?;
    ensure!(code == 0, "{report}");
    let (code, report) = verify_json(&server, &[&path("revoked.pdf")]).await?;
    ensure!(code == 0, "no revocation data, nothing to check: {report}");
    let (code, report) = verify_json(
        &server,
        &[&path("revoked.pdf"), "--crl", &path("root.crl.pem")],
    )
    .await?;
    ensure!(code == 2, "{report}");
    let sig = &report["signatures"][0];
    ensure!(
        sig["verdict"]["sub_indication"] == "REVOKED_NO_POE",
        "{report}"
    );
    ensure!(sig["revocation"]["status"] == "revoked", "{report}");

    // A detached CMS by openssl: openssl cms -verify and tessera agree on the right and the
    // wrong content.
    for (content, want) in [("content.txt", true), ("other-content.txt", false)] {
        let (ossl, text) = run(
            d,
            "openssl",
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "content.p7s",
                "-content",
                content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        )
        .await?;
        ensure!(ossl == want, "openssl cms -verify on {content}: {text}");
        let (code, report) = verify_json(
            &server,
            &[&path("content.p7s"), "--content", &path(content)],
        )
        .await?;
        ensure!((code == 0) == want, "{content}: exit {code}: {report}");
    }

    // Bad input: exit 4 with a message.
    let bad = server.cli(&["verify", &path("content.txt")], None).await?;
    ensure!(exit(&bad) == 4 && bad.stderr.contains("not a PDF"), "{bad}");
    let none = server.cli(&["verify", &path("missing.pdf")], None).await?;
    ensure!(exit(&none) == 4, "{none}");
    let unsigned = server
        .cli(&["verify", &input.display().to_string()], None)
        .await?;
    ensure!(exit(&unsigned) == 3, "{unsigned}");

    api_and_page(&server, d).await
}

async fn api_and_page(server: &TestServer, d: &Path) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let valid = std::fs::read(d.join("valid.pdf"))?;
    let tampered = std::fs::read(d.join("tampered-inside.pdf"))?;

    // Raw PDF body.
    let resp = http
        .post(server.url("/api/verify"))
        .header("content-type", "application/pdf")
        .body(valid.clone())
        .send()
        .await?;
    ensure!(resp.status() == 200, "{}", resp.status());
    let v: Value = resp.json().await?;
    ensure!(v["overall"] == "TOTAL-PASSED", "{v}");
    ensure!(
        v["signatures"][0]["signer"]["subject"] == "CN=Test signer, O=Tessera Test",
        "{v}"
    );

    // JSON with a detached CMS.
    use base64::Engine;
    let b64 = |p: &str| -> anyhow::Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(std::fs::read(d.join(p))?))
    };
    let v: Value = http
        .post(server.url("/api/verify"))
        .json(&serde_json::json!({"signature": b64("content.p7s")?, "content": b64("other-content.txt")?}))
        .send()
        .await?
        .json()
        .await?;
    ensure!(v["overall"] == "TOTAL-FAILED", "{v}");

    // Multipart, tampered.
    let (ctype, body) = multipart(&[("file", "t.pdf", &tampered)]);
    let v: Value = http
        .post(server.url("/api/verify"))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        v["signatures"][0]["verdict"]["sub_indication"] == "HASH_FAILURE",
        "{v}"
    );

    // Bad input: OAuth-style error.
    let resp = http
        .post(server.url("/api/verify"))
        .header("content-type", "application/pdf")
        .body("hello")
        .send()
        .await?;
    ensure!(resp.status() == 400, "{}", resp.status());
    let e: Value = resp.json().await?;
    ensure!(
        e["error"] == "invalid_request" && e["error_description"].is_string(),
        "{e}"
    );
    let resp = http
        .post(server.url("/api/verify"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await?;
    ensure!(resp.status() == 415, "{}", resp.status());

    // The page: a plain form with a CSRF token; the report in Vietnamese, then English.
    let html = http.get(server.url("/verify")).send().await?.text().await?;
    ensure!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no csrf_token on /verify")?
        .to_owned();
    let (ctype, body) = multipart(&[
        ("csrf_token", "", token.as_bytes()),
        ("file", "quyet-dinh.pdf", &valid),
    ]);
    let page = http
        .post(server.url("/verify"))
        .header("content-type", ctype.clone())
        .body(body.clone())
        .send()
        .await?;
    ensure!(page.status() == 200, "{}", page.status());
    let page = page.text().await?;
    for want in [
        "Chữ ký hợp lệ",
        "CN=Test signer",
        "quyet-dinh.pdf",
        "TOTAL-PASSED",
    ] {
        ensure!(page.contains(want), "missing {want:?} in {page}");
    }
    // A forged post (no token) is refused.
    let (ctype2, body2) = multipart(&[("file", "x.pdf", &valid)]);
    let forged = http
        .post(server.url("/verify"))
        .header("content-type", ctype2)
        .body(body2)
        .send()
        .await?;
    ensure!(forged.status().is_client_error(), "{}", forged.status());
    // English, with the tampered file.
    http.get(server.url("/verify?lang=en")).send().await?;
    let (ctype, body) = multipart(&[
        ("csrf_token", "", token.as_bytes()),
        ("file", "t.pdf", &tampered),
    ]);
    let page = http
        .post(server.url("/verify"))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await?
        .text()
        .await?;
    for want in [
        "Invalid signature",
        "changed after it was signed",
        "HASH_FAILURE",
    ] {
        ensure!(page.contains(want), "missing {want:?} in {page}");
    }
    Ok(())
}

/// A `multipart/form-data` body: (field, file name or "" for a text field, bytes).
fn multipart(fields: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    const B: &str = "tessera-e2e-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file, bytes) in fields {
        body.extend_from_slice(format!("--{B}\r\n").as_bytes());
        if file.is_empty() {
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            );
        } else {
            body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/pdf\r\n\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={B}"), body)
}
