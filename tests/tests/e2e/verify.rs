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
use tessera_e2e::{Backend, CliOutput, NewUser, ServerOptions, TempDir, TestServer, run_tessera};
use tessera_hsm::softhsm::{SoftHsmToken, module_or_skip};

scenarios!(
    verify_agrees_with_pyhanko_and_openssl,
    verify_tessera_ca_revocation,
    verify_fetches_an_external_crl
);

fn test_data() -> PathBuf {
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
    let make = test_data().join("make.sh");
    let input = test_data().join("input.pdf");
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
    let cases: [(&str, i32, Option<&str>); 11] = [
        ("valid.pdf", 0, None),
        ("certified-p2-then-signed.pdf", 0, None),
        ("certified-p1-then-ts.pdf", 0, None),
        ("doc-ts.pdf", 0, None),
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

/// A credential of Tessera's own CA, its key in SoftHSM2: pyHanko signs a PDF with that key
/// (through pkcs11-tool), `tessera verify` passes it with Tessera's CRL as the revocation
/// source; after `tessera cert revoke` the same signature is INDETERMINATE / REVOKED_NO_POE
/// (no timestamp proves it was made before), and pyHanko, fetching Tessera's CRL or OCSP,
/// refuses it too.
async fn verify_tessera_ca_revocation(backend: Backend) -> anyhow::Result<()> {
    let Some(module) =
        module_or_skip("verify_tessera_ca_revocation").map_err(|e| anyhow::anyhow!(e))?
    else {
        return Ok(());
    };
    if !pyhanko_available().await {
        if std::env::var_os("CI").is_some() {
            bail!("pyHanko is not installed (pip install pyHanko)");
        }
        eprintln!("skipping verify_tessera_ca_revocation: pyHanko is not installed");
        return Ok(());
    }
    const LABEL: &str = "tessera-verify";
    const PIN: &str = "verify-pin-2468";
    let token = SoftHsmToken::create(&module, LABEL, PIN).map_err(|e| anyhow::anyhow!(e))?;
    let env = [
        ("SOFTHSM2_CONF", token.conf.display().to_string()),
        ("TESSERA_PKCS11_MODULE", module.display().to_string()),
        ("TESSERA_PKCS11_TOKEN_LABEL", LABEL.to_owned()),
        ("TESSERA_PKCS11_PIN", PIN.to_owned()),
    ];
    let mut options = ServerOptions::default();
    for (k, v) in &env {
        options = options.env(k, v);
    }
    let server = TestServer::start_with(backend, options).await?;
    let dir = TempDir::new("tessera-e2e-verify-ca")?;
    let d = dir.path();
    let data_dir = server.data_dir().display().to_string();
    let db = server.database_url();
    let mut cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cli_env.push(("TESSERA_DATABASE_URL", &db));
    let cli = |args: &[&str]| {
        let mut full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        full.extend(["--data-dir".to_owned(), data_dir.clone()]);
        let cli_env = cli_env.clone();
        async move {
            let full: Vec<&str> = full.iter().map(String::as_str).collect();
            run_tessera(&full, &cli_env, None).await
        }
    };
    let unit = server.add_unit("Sở Tư pháp", None).await?;
    let mut user = NewUser::new("an.nv", "Nguyễn Văn An", "mat-khau-rat-dai-2468");
    user.unit = Some(unit);
    server.add_user(&user).await?;
    let init = cli(&["ca", "init", "--base-url", server.issuer()]).await?;
    ensure!(init.success(), "{init}");
    let cert_file = d.join("an.pem").display().to_string();
    let issued = cli(&[
        "cert", "issue", "--user", "an.nv", "--alg", "RSA-2048", "--out", &cert_file, "--json",
    ])
    .await?;
    ensure!(issued.success(), "{issued}");
    let id = issued.json()?["id"].as_str().unwrap_or("").to_owned();
    crate::pki::ca_files(&server, d).await?;

    // The credential's key on the token: the private key labelled for a credential.
    let module_s = module.display().to_string();
    let list = tokio::process::Command::new("pkcs11-tool")
        .args([
            "--module",
            &module_s,
            "--token-label",
            LABEL,
            "--login",
            "--pin",
            PIN,
        ])
        .args(["--list-objects", "--type", "privkey"])
        .env("SOFTHSM2_CONF", &token.conf)
        .output()
        .await
        .context("pkcs11-tool (apt-get install opensc)")?;
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    let mut key_id = None;
    let mut in_cert_key = false;
    for line in listing.lines() {
        let line = line.trim();
        if let Some(label) = line.strip_prefix("label:") {
            in_cert_key = label.trim().starts_with("tessera:cert");
        } else if let Some(idv) = line.strip_prefix("ID:")
            && in_cert_key
        {
            key_id = Some(idv.trim().to_owned());
        }
    }
    let key_id = key_id.with_context(|| format!("no credential key on the token:\n{listing}"))?;

    let script = test_data()
        .join("pyhanko_hsm_sign.py")
        .display()
        .to_string();
    let input = test_data().join("input.pdf").display().to_string();
    let signed = d.join("signed.pdf").display().to_string();
    let out = tokio::process::Command::new("python3")
        .args([
            &script,
            &module_s,
            LABEL,
            PIN,
            &key_id,
            &cert_file,
            "issuing.pem",
            "root.pem",
            &input,
            &signed,
        ])
        .current_dir(d)
        .env("SOFTHSM2_CONF", &token.conf)
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "pyHanko signing failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Valid: Tessera's root is an anchor by itself, its CRL answers for the credential.
    let before = cli(&["verify", &signed, "--json"]).await?;
    ensure!(exit(&before) == 0, "{before}");
    let report = before.json()?;
    let sig = &report["signatures"][0];
    ensure!(sig["revocation"]["status"] == "good", "{report}");
    ensure!(sig["revocation"]["source"] == "caller", "{report}");
    ensure!(sig["chain"].as_array().map(Vec::len) == Some(2), "{report}");
    let (py_valid, py_text) = pyhanko_valid(d, "signed.pdf", "root.pem").await?;
    ensure!(py_valid, "pyHanko disagrees before revocation:\n{py_text}");

    let revoked = cli(&["cert", "revoke", &id, "--reason", "keyCompromise"]).await?;
    ensure!(revoked.success(), "{revoked}");
    let after = cli(&["verify", &signed, "--json"]).await?;
    ensure!(exit(&after) == 2, "{after}");
    let report = after.json()?;
    let sig = &report["signatures"][0];
    ensure!(
        sig["verdict"]["sub_indication"] == "REVOKED_NO_POE",
        "{report}"
    );
    ensure!(sig["revocation"]["status"] == "revoked", "{report}");
    let (py_valid, py_text) = pyhanko_valid(d, "signed.pdf", "root.pem").await?;
    ensure!(
        !py_valid,
        "pyHanko still accepts the revoked signature:\n{py_text}"
    );
    Ok(())
}

/// A tiny HTTP server answering every GET with the current `body` (a CRL), counting requests.
struct CrlServer {
    body: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CrlServer {
    fn start(listener: tokio::net::TcpListener) -> CrlServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (b, h) = (body.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (b, h) = (b.clone(), h.clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = b.lock().map(|v| v.clone()).unwrap_or_default();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        CrlServer { body, hits, task }
    }

    fn serve(&self, der: Vec<u8>) {
        if let Ok(mut b) = self.body.lock() {
            *b = der;
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A second CA, made with the openssl CLI, whose signer certificate names a CRL on a local
/// HTTP server: `POST /api/verify` fetches that CRL through the outbound allow-list (loopback
/// allowed here) and passes the detached CMS; once the CRL lists the certificate the same
/// signature is REVOKED_NO_POE.
async fn verify_fetches_an_external_crl(backend: Backend) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let crl_url = format!(
        "http://127.0.0.1:{}/other.crl",
        listener.local_addr()?.port()
    );
    let dir = TempDir::new("tessera-e2e-verify-crl")?;
    let d = dir.path();
    let script = r#"set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
  -subj "/CN=Other CA/O=Other/C=VN" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr -subj "/CN=Other signer/O=Other/C=VN" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\ncrlDistributionPoints=URI:%s\n' "$CRL_URL" > ext.cnf
openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile ext.cnf -out signer.pem 2>/dev/null
: > index.txt; echo 01 > crlnumber
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n' > ca.cnf
openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out good.crl 2>/dev/null
openssl crl -in good.crl -outform DER -out good.der
openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke signer.pem 2>/dev/null
openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out revoked.crl 2>/dev/null
openssl crl -in revoked.crl -outform DER -out revoked.der
printf 'Quyet dinh so 12' > content.txt
openssl cms -sign -binary -in content.txt -signer signer.pem -inkey signer.key -outform DER -out sig.der
"#;
    let out = tokio::process::Command::new("sh")
        .args(["-c", script])
        .env("CRL_URL", &crl_url)
        .current_dir(d)
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crls = CrlServer::start(listener);
    crls.serve(std::fs::read(d.join("good.der"))?);

    let server =
        TestServer::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let root = d.join("ca.pem").display().to_string();
    server
        .cli_ok(&["trust", "add", "--file", &root], None)
        .await?;
    use base64::Engine;
    let b64 = |p: &str| -> anyhow::Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(std::fs::read(d.join(p))?))
    };
    let body = serde_json::json!({"signature": b64("sig.der")?, "content": b64("content.txt")?});
    let http = reqwest::Client::new();
    let check = || async {
        let resp = http
            .post(server.url("/api/verify"))
            .json(&body)
            .send()
            .await?;
        ensure!(resp.status() == 200, "{}", resp.status());
        Ok::<Value, anyhow::Error>(resp.json().await?)
    };

    let v = check().await?;
    ensure!(v["overall"] == "TOTAL-PASSED", "{v}");
    ensure!(
        v["signatures"][0]["revocation"]["status"] == "good",
        "the fetched CRL says good: {v}"
    );
    ensure!(crls.hits() >= 1, "the CRL was not fetched");

    // The CRL now lists the signer: no timestamp proves the signature came before.
    crls.serve(std::fs::read(d.join("revoked.der"))?);
    let v = check().await?;
    ensure!(v["overall"] == "INDETERMINATE", "{v}");
    ensure!(
        v["signatures"][0]["verdict"]["sub_indication"] == "REVOKED_NO_POE",
        "{v}"
    );
    Ok(())
}
