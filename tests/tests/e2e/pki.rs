//! Certificates, checked by OpenSSL: the internal CA issues an official's credential that
//! `openssl verify` accepts; revocation shows in the CRL (`openssl crl`) and over OCSP
//! (`openssl ocsp`); a certificate from a second CA made with OpenSSL is imported, and a
//! mismatched key, a wrong chain and an expired certificate are refused with clear errors.
//! The CA keys also live in SoftHSM2.

use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::Value;
use tessera_e2e::{Backend, CliOutput, NewUser, ServerOptions, TempDir, TestServer, run_tessera};
use tessera_hsm::softhsm::{SoftHsmToken, module_or_skip};

scenarios!(
    pki_internal_ca_crl_and_ocsp,
    pki_external_ca_import,
    pki_ca_keys_in_softhsm
);

const NAME: &str = "Nguyễn Văn An";

/// Runs `openssl <args>` in `dir`; answers (success, stdout + stderr).
pub(crate) async fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let out = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .context("running openssl (is the openssl CLI installed?)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

pub(crate) async fn openssl_ok(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let (ok, text) = openssl(dir, args).await?;
    ensure!(ok, "openssl {} failed:\n{text}", args.join(" "));
    Ok(text)
}

/// GET `path` on the server into `dir/file`; answers the content type.
pub(crate) async fn fetch(
    server: &TestServer,
    path: &str,
    dir: &Path,
    file: &str,
) -> anyhow::Result<String> {
    let resp = reqwest::get(server.url(path)).await?;
    ensure!(resp.status() == 200, "GET {path}: {}", resp.status());
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    std::fs::write(dir.join(file), resp.bytes().await?)?;
    Ok(ct)
}

async fn official(server: &TestServer) -> anyhow::Result<()> {
    let unit = server.add_unit("Sở Tư pháp", None).await?;
    let mut user = NewUser::new("an.nv", NAME, "mat-khau-rat-dai-2468");
    user.unit = Some(unit);
    server.add_user(&user).await?;
    Ok(())
}

/// The CA certificates from the server's AIA endpoint, as PEM files root.pem and issuing.pem.
pub(crate) async fn ca_files(server: &TestServer, dir: &Path) -> anyhow::Result<()> {
    for ca in ["root", "issuing"] {
        let ct = fetch(
            server,
            &format!("/pki/ca/{ca}.crt"),
            dir,
            &format!("{ca}.der"),
        )
        .await?;
        ensure!(ct == "application/pkix-cert", "{ca}.crt served as {ct}");
        openssl_ok(
            dir,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                &format!("{ca}.der"),
                "-out",
                &format!("{ca}.pem"),
            ],
        )
        .await?;
    }
    Ok(())
}

/// `openssl ocsp` against the server for `cert.pem`; answers its output.
pub(crate) async fn ocsp(
    server: &TestServer,
    dir: &Path,
    cert_args: &[&str],
) -> anyhow::Result<String> {
    let url = server.url("/pki/ocsp").to_string();
    let mut args = vec!["ocsp", "-issuer", "issuing.pem"];
    args.extend_from_slice(cert_args);
    args.extend_from_slice(&["-url", &url, "-CAfile", "root.pem"]);
    let out = openssl_ok(dir, &args).await?;
    // Verified through the delegated responder the issuing CA certified (EKU OCSPSigning).
    ensure!(out.contains("Response verify OK"), "{out}");
    // An answer about one certificate is signed once and shared (cached), so it does not echo
    // the nonce openssl sends (RFC 5019 §2.2.1); answers about several certificates do.
    ensure!(
        cert_args.len() == 2 || !out.contains("WARNING: no nonce"),
        "{out}"
    );
    Ok(out)
}

fn credential_id(out: &CliOutput) -> anyhow::Result<String> {
    out.json()?["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no id in {out}"))
}

/// The internal CA path from start to revocation, with OpenSSL as the relying party.
async fn pki_internal_ca_crl_and_ocsp(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-pki")?;
    let d = dir.path();
    official(&server).await?;

    // Issuing before the CA exists is a clear error.
    let early = server
        .cli(&["cert", "issue", "--user", "an.nv"], None)
        .await?;
    ensure!(
        !early.success() && early.stderr.contains("tessera ca init"),
        "{early}"
    );
    let init = server
        .cli_ok(
            &["ca", "init", "--base-url", server.issuer(), "--json"],
            None,
        )
        .await?
        .json()?;
    ensure!(init.as_array().map(Vec::len) == Some(2), "{init}");
    let again = server
        .cli(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    ensure!(
        !again.success() && again.stderr.contains("already exist"),
        "{again}"
    );
    ca_files(&server, d).await?;

    let cert_file = d.join("an.pem").display().to_string();
    let issued = server
        .cli_ok(
            &[
                "cert",
                "issue",
                "--user",
                "an.nv",
                "--title",
                "Phó Giám đốc",
                "--out",
                &cert_file,
                "--json",
            ],
            None,
        )
        .await?;
    let id = credential_id(&issued)?;
    let serial = issued.json()?["serial"]
        .as_str()
        .unwrap_or("")
        .to_uppercase();
    ensure!(serial.len() == 32, "16-byte serial expected: {issued}");

    // openssl verify with the chain; the subject in UTF-8 with the official's details.
    let verify = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "an.pem",
        ],
    )
    .await?;
    ensure!(verify.contains("an.pem: OK"), "{verify}");
    let text = openssl_ok(
        d,
        &[
            "x509",
            "-in",
            "an.pem",
            "-noout",
            "-text",
            "-nameopt",
            "utf8,sep_multiline",
        ],
    )
    .await?;
    for want in [
        NAME,
        "Phó Giám đốc",
        "Sở Tư pháp",
        "C=VN",
        "Digital Signature, Non Repudiation",
        "CA:FALSE",
        &format!("{}/pki/crl/issuing.crl", server.issuer()),
        &format!("OCSP - URI:{}/pki/ocsp", server.issuer()),
        &format!("CA Issuers - URI:{}/pki/ca/issuing.crt", server.issuer()),
    ] {
        ensure!(
            text.contains(want),
            "the certificate lacks {want:?}:\n{text}"
        );
    }
    let ca_text = openssl_ok(d, &["x509", "-in", "issuing.pem", "-noout", "-text"]).await?;
    ensure!(
        ca_text.contains("CA:TRUE, pathlen:0") && ca_text.contains("Certificate Sign, CRL Sign"),
        "{ca_text}"
    );

    // The CRL: DER, signed by the issuing CA, nothing revoked yet.
    let ct = fetch(&server, "/pki/crl/issuing.crl", d, "issuing.crl").await?;
    ensure!(ct == "application/pkix-crl", "CRL served as {ct}");
    let crl = openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
        ],
    )
    .await?;
    ensure!(
        crl.contains("verify OK") && crl.contains("No Revoked Certificates"),
        "{crl}"
    );
    ensure!(crl.contains("Next Update"), "{crl}");

    // OCSP: good, unknown for a serial never issued.
    let good = ocsp(&server, d, &["-cert", "an.pem"]).await?;
    ensure!(good.contains("an.pem: good"), "{good}");
    let unknown = ocsp(&server, d, &["-serial", "0x1234567890"]).await?;
    ensure!(unknown.contains(": unknown"), "{unknown}");
    // Several certificates in one request: answered, with the nonce echoed …
    let two = ocsp(&server, d, &["-cert", "an.pem", "-serial", "0x1234567890"]).await?;
    ensure!(
        two.contains("an.pem: good") && two.contains(": unknown"),
        "{two}"
    );
    // … but not more than 10 (malformedRequest, before any lookup or signature).
    let url = server.url("/pki/ocsp").to_string();
    let mut many = vec![
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-url",
        &url,
        "-CAfile",
        "root.pem",
    ];
    for _ in 0..11 {
        many.extend_from_slice(&["-serial", "0x1234567890"]);
    }
    let (_, out) = openssl(d, &many).await?;
    ensure!(out.contains("Responder Error: malformedrequest"), "{out}");

    // Suspension shows as certificateHold, and is lifted.
    server.cli_ok(&["cert", "suspend", &id], None).await?;
    let held = ocsp(&server, d, &["-cert", "an.pem"]).await?;
    ensure!(
        held.contains("revoked") && held.contains("certificateHold"),
        "{held}"
    );
    server.cli_ok(&["cert", "resume", &id], None).await?;
    ensure!(
        ocsp(&server, d, &["-cert", "an.pem"])
            .await?
            .contains("an.pem: good")
    );

    // Revocation: the CRL is reissued with the serial, OpenSSL's checks see it.
    let bad_reason = server
        .cli(&["cert", "revoke", &id, "--reason", "boredom"], None)
        .await?;
    ensure!(
        !bad_reason.success() && bad_reason.stderr.contains("keyCompromise"),
        "{bad_reason}"
    );
    server
        .cli_ok(&["cert", "revoke", &id, "--reason", "keyCompromise"], None)
        .await?;
    fetch(&server, "/pki/crl/issuing.crl", d, "issuing.crl").await?;
    let crl = openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "issuing.pem",
            "-noout",
            "-text",
        ],
    )
    .await?;
    ensure!(
        crl.contains("verify OK") && crl.contains(&serial) && crl.contains("Key Compromise"),
        "the CRL does not list {serial}:\n{crl}"
    );
    let number = crl
        .lines()
        .skip_while(|l| !l.contains("CRL Number"))
        .nth(1)
        .map(str::trim)
        .unwrap_or("");
    ensure!(
        number == "4",
        "CRL number after init, suspend, resume, revoke: {number:?}"
    );
    openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-out",
            "issuing.crl.pem",
        ],
    )
    .await?;
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "issuing.crl.pem",
            "an.pem",
        ],
    )
    .await?;
    ensure!(!ok && out.contains("certificate revoked"), "{out}");
    let revoked = ocsp(&server, d, &["-cert", "an.pem"]).await?;
    ensure!(
        revoked.contains("an.pem: revoked") && revoked.contains("keyCompromise"),
        "{revoked}"
    );

    // OCSP over GET (RFC 6960 Appendix A.1): the base64 request in the path.
    openssl_ok(
        d,
        &[
            "ocsp",
            "-issuer",
            "issuing.pem",
            "-cert",
            "an.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    )
    .await?;
    let req = std::fs::read(d.join("req.der"))?;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let path = format!(
        "/pki/ocsp/{}",
        url::form_urlencoded::byte_serialize(b64.as_bytes()).collect::<String>()
    );
    let ct = fetch(&server, &path, d, "resp.der").await?;
    ensure!(ct == "application/ocsp-response", "{ct}");
    // Signed once, then served from the database by every replica: the very same bytes (a
    // new ECDSA signature would differ).
    let replica = server
        .start_replica(tessera_e2e::ServerOptions::default())
        .await?;
    fetch(&replica, &path, d, "resp-replica.der").await?;
    ensure!(
        std::fs::read(d.join("resp.der"))? == std::fs::read(d.join("resp-replica.der"))?,
        "the replica signed its own answer instead of serving the shared one"
    );
    let out = openssl_ok(
        d,
        &[
            "ocsp",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "an.pem",
            "-CAfile",
            "root.pem",
            "-no_nonce",
        ],
    )
    .await?;
    ensure!(out.contains("an.pem: revoked"), "{out}");
    // A request that is not OCSP: malformedRequest, and POST needs the right type.
    let resp = reqwest::Client::new()
        .post(server.url("/pki/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(b"not der".to_vec())
        .send()
        .await?;
    ensure!(resp.status() == 200);
    ensure!(
        resp.bytes().await?.as_ref() == [0x30, 0x03, 0x0a, 0x01, 0x01],
        "not malformedRequest"
    );
    let resp = reqwest::Client::new()
        .post(server.url("/pki/ocsp"))
        .body(req)
        .send()
        .await?;
    ensure!(resp.status() == 415, "{}", resp.status());
    let missing = reqwest::get(server.url("/pki/crl/nope.crl")).await?;
    ensure!(missing.status() == 404, "{}", missing.status());

    // Listing and the audit trail.
    let list = server
        .cli_ok(&["cert", "list", "--status", "revoked", "--json"], None)
        .await?
        .json()?;
    let list = list.as_array().context("cert list")?;
    ensure!(
        list.len() == 1 && list[0]["id"] == Value::String(id.clone()),
        "{list:?}"
    );
    ensure!(list[0]["revocation_reason"] == "keyCompromise", "{list:?}");
    let audit = server.audit("pki.").await?;
    for event in [
        "pki.ca.created",
        "pki.credential.issued",
        "pki.credential.suspended",
        "pki.credential.resumed",
        "pki.credential.revoked",
        "pki.crl.published",
    ] {
        ensure!(
            audit.iter().any(|r| r.event == event),
            "no {event} in the audit log"
        );
    }
    Ok(())
}

/// `cert csr` → a second CA made with OpenSSL → `cert import`, and what import refuses.
async fn pki_external_ca_import(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-pki")?;
    let d = dir.path();
    official(&server).await?;

    // The second CA, and a third with the same name but another key.
    let ca_ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";
    std::fs::write(d.join("ca.ext"), ca_ext)?;
    std::fs::write(
        d.join("user.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    )?;
    for ca in ["ca2", "ca3"] {
        openssl_ok(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "30",
                "-subj",
                "/C=VN/O=Ban Cơ yếu Chính phủ/CN=Test Government CA",
                "-utf8",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )
        .await?;
    }
    openssl_ok(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca4.key",
            "-out",
            "ca4.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Another CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    )
    .await?;

    // The CSR, signed in the HSM by the official's new key.
    let csr_file = d.join("an.csr").display().to_string();
    let out = server
        .cli_ok(
            &[
                "cert", "csr", "--user", "an.nv", "--out", &csr_file, "--json",
            ],
            None,
        )
        .await?;
    let id = credential_id(&out)?;
    let csr = openssl_ok(
        d,
        &[
            "req", "-in", "an.csr", "-verify", "-noout", "-subject", "-nameopt", "utf8",
        ],
    )
    .await?;
    ensure!(csr.contains("verify OK") && csr.contains(NAME), "{csr}");
    let sign = |ca: &'static str, csr: &'static str, out: &'static str, days: &'static str| {
        let d = d.to_path_buf();
        async move {
            openssl_ok(
                &d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    csr,
                    "-CA",
                    &format!("{ca}.pem"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-days",
                    days,
                    "-extfile",
                    "user.ext",
                    "-out",
                    out,
                ],
            )
            .await
        }
    };
    sign("ca2", "an.csr", "an-ext.pem", "30").await?;

    let import = |file: &'static str| {
        let path = d.join(file).display().to_string();
        let id = id.clone();
        let server = &server;
        async move {
            server
                .cli(&["cert", "import", &id, "--file", &path, "--json"], None)
                .await
        }
    };
    let refused = |out: CliOutput, want: &str| -> anyhow::Result<()> {
        ensure!(!out.success(), "import accepted: {out}");
        ensure!(
            out.stderr.contains("certificate refused") && out.stderr.contains(want),
            "expected a refusal mentioning {want:?}: {out}"
        );
        Ok(())
    };

    // 1. Mismatched key: a certificate of the same name for another key.
    openssl_ok(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.csr",
            "-utf8",
            "-subj",
            &format!("/C=VN/CN={NAME}"),
        ],
    )
    .await?;
    sign("ca2", "other.csr", "other.pem", "30").await?;
    std::fs::write(
        d.join("other-chain.pem"),
        [
            std::fs::read(d.join("other.pem"))?,
            std::fs::read(d.join("ca2.pem"))?,
        ]
        .concat(),
    )?;
    refused(
        import("other-chain.pem").await?,
        "public key does not match",
    )?;

    // 2. Wrong chain: the right certificate with a CA of the same name but another key, or
    //    with an unrelated CA.
    std::fs::write(
        d.join("wrong-chain.pem"),
        [
            std::fs::read(d.join("an-ext.pem"))?,
            std::fs::read(d.join("ca3.pem"))?,
        ]
        .concat(),
    )?;
    refused(import("wrong-chain.pem").await?, "does not verify")?;
    std::fs::write(
        d.join("unrelated-chain.pem"),
        [
            std::fs::read(d.join("an-ext.pem"))?,
            std::fs::read(d.join("ca4.pem"))?,
        ]
        .concat(),
    )?;
    refused(
        import("unrelated-chain.pem").await?,
        "chain is incomplete or wrong",
    )?;

    // 3. Expired.
    sign("ca2", "an.csr", "expired.pem", "-1").await?;
    std::fs::write(
        d.join("expired-chain.pem"),
        [
            std::fs::read(d.join("expired.pem"))?,
            std::fs::read(d.join("ca2.pem"))?,
        ]
        .concat(),
    )?;
    refused(import("expired-chain.pem").await?, "expired on")?;

    // Not a certificate at all.
    std::fs::write(
        d.join("junk.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )?;
    refused(import("junk.pem").await?, "")?;

    // The good one, as a PKCS#7 (certs-only, DER) bundle.
    openssl_ok(
        d,
        &[
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            "an-ext.pem",
            "-certfile",
            "ca2.pem",
            "-outform",
            "DER",
            "-out",
            "chain.p7b",
        ],
    )
    .await?;
    // A well-formed chain to a root nobody listed (anyone can make one): refused until an
    // operator trusts that root with `tessera trust add`.
    refused(import("chain.p7b").await?, "not a trust anchor")?;
    let file = |f: &str| d.join(f).display().to_string();
    // A CA certificate that may not sign certificates (no keyCertSign) is no anchor.
    let no_ku = server
        .cli(&["trust", "add", "--file", &file("ca4.pem")], None)
        .await?;
    ensure!(
        !no_ku.success() && no_ku.stderr.contains("keyCertSign"),
        "{no_ku}"
    );
    let added = server
        .cli_ok(
            &[
                "trust",
                "add",
                "--file",
                &file("ca2.pem"),
                "--name",
                "Ban Cơ yếu (thử)",
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    let anchor_id = added[0]["id"].as_str().unwrap_or_default().to_owned();
    let listed = server
        .cli_ok(&["trust", "list", "--json"], None)
        .await?
        .json()?;
    ensure!(
        listed.as_array().is_some_and(|l| l.len() == 1
            && l[0]["id"] == anchor_id.as_str()
            && l[0]["name"] == "Ban Cơ yếu (thử)"),
        "{listed}"
    );
    let ok = import("chain.p7b").await?;
    ensure!(ok.success(), "{ok}");
    let c = ok.json()?;
    ensure!(c["status"] == "active" && c["source"] == "external", "{c}");
    ensure!(
        c["issuer"]
            .as_str()
            .is_some_and(|i| i.contains("Test Government CA")),
        "{c}"
    );
    // Once active, nothing more is imported into it.
    let twice = import("chain.p7b").await?;
    ensure!(
        !twice.success() && twice.stderr.contains("not pending"),
        "{twice}"
    );

    // The exported certificate and chain verify with OpenSSL against the second CA.
    let exported = d.join("exported.pem").display().to_string();
    server
        .cli_ok(&["cert", "export", &id, "--out", &exported], None)
        .await?;
    let v = openssl_ok(d, &["verify", "-CAfile", "ca2.pem", "exported.pem"]).await?;
    ensure!(v.contains("OK"), "{v}");

    // A PEM chain for an RSA credential.
    let csr2 = d.join("rsa.csr").display().to_string();
    let out = server
        .cli_ok(
            &[
                "cert", "csr", "--user", "an.nv", "--alg", "RSA-2048", "--out", &csr2, "--json",
            ],
            None,
        )
        .await?;
    let rsa_id = credential_id(&out)?;
    sign("ca2", "rsa.csr", "rsa.pem", "30").await?;
    std::fs::write(
        d.join("rsa-chain.pem"),
        [
            std::fs::read(d.join("rsa.pem"))?,
            std::fs::read(d.join("ca2.pem"))?,
        ]
        .concat(),
    )?;
    let path = d.join("rsa-chain.pem").display().to_string();
    let ok = server
        .cli(&["cert", "import", &rsa_id, "--file", &path], None)
        .await?;
    ensure!(ok.success(), "{ok}");
    server
        .cli_ok(&["trust", "remove", &anchor_id], None)
        .await?;
    let listed = server
        .cli_ok(&["trust", "list", "--json"], None)
        .await?
        .json()?;
    ensure!(listed == serde_json::json!([]), "{listed}");

    // Revoking the external credential stops it signing (the external CA publishes its own
    // revocation); the list shows it.
    server
        .cli_ok(
            &["cert", "revoke", &id, "--reason", "affiliationChanged"],
            None,
        )
        .await?;
    let list = server
        .cli_ok(&["cert", "list", "--user", "an.nv", "--json"], None)
        .await?
        .json()?;
    let statuses: Vec<&str> = list
        .as_array()
        .context("list")?
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    ensure!(
        statuses.contains(&"revoked") && statuses.contains(&"active"),
        "{list}"
    );
    let audit = server.audit("pki.").await?;
    ensure!(
        audit
            .iter()
            .filter(|r| r.event == "pki.credential.import_refused")
            .count()
            >= 5,
        "refused imports are audited"
    );

    // The same external root as Tessera's root: Tessera makes the issuing CA key and CSR, the
    // root (OpenSSL) certifies it, and Tessera then issues under it.
    let ca_csr = d.join("issuing.csr").display().to_string();
    server
        .cli_ok(
            &["ca", "csr", "--base-url", server.issuer(), "--out", &ca_csr],
            None,
        )
        .await?;
    openssl_ok(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "issuing.csr",
            "-CA",
            "ca2.pem",
            "-CAkey",
            "ca2.key",
            "-CAcreateserial",
            "-days",
            "20",
            "-extfile",
            "ca.ext",
            "-out",
            "tessera-issuing.pem",
        ],
    )
    .await?;
    let path = |f: &str| d.join(f).display().to_string();
    let wrong = server
        .cli(
            &[
                "ca",
                "import",
                "--root",
                &path("ca3.pem"),
                "--issuing",
                &path("tessera-issuing.pem"),
            ],
            None,
        )
        .await?;
    ensure!(
        !wrong.success() && wrong.stderr.contains("not signed by this root"),
        "{wrong}"
    );
    let cas = server
        .cli_ok(
            &[
                "ca",
                "import",
                "--root",
                &path("ca2.pem"),
                "--issuing",
                &path("tessera-issuing.pem"),
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    ensure!(cas.as_array().map(Vec::len) == Some(2), "{cas}");
    let internal = path("an-internal.pem");
    server
        .cli_ok(
            &["cert", "issue", "--user", "an.nv", "--out", &internal],
            None,
        )
        .await?;
    let v = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "ca2.pem",
            "-untrusted",
            "tessera-issuing.pem",
            "an-internal.pem",
        ],
    )
    .await?;
    ensure!(v.contains("an-internal.pem: OK"), "{v}");
    fetch(&server, "/pki/crl/issuing.crl", d, "issuing.crl").await?;
    let crl = openssl_ok(
        d,
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "issuing.crl",
            "-CAfile",
            "tessera-issuing.pem",
            "-noout",
        ],
    )
    .await?;
    ensure!(crl.contains("verify OK"), "{crl}");
    // The external root's CRL is its owner's to publish.
    let root_crl = reqwest::get(server.url("/pki/crl/root.crl")).await?;
    ensure!(root_crl.status() == 404, "{}", root_crl.status());
    Ok(())
}

/// The CA keys and the official's key generated in SoftHSM2: the chain verifies with OpenSSL,
/// OCSP answers are signed in the HSM, and `tessera hsm keys` shows the keys locked down.
async fn pki_ca_keys_in_softhsm(backend: Backend) -> anyhow::Result<()> {
    let Some(module) = module_or_skip("pki_ca_keys_in_softhsm").map_err(|e| anyhow!(e))? else {
        return Ok(());
    };
    const LABEL: &str = "tessera-pki";
    const PIN: &str = "pki-pin-1357";
    let token = SoftHsmToken::create(&module, LABEL, PIN).map_err(|e| anyhow!(e))?;
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
    let dir = TempDir::new("tessera-e2e-pki")?;
    let d = dir.path();
    official(&server).await?;
    let data_dir = server.data_dir().display().to_string();
    let db = server.database_url();
    let mut cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cli_env.push(("TESSERA_DATABASE_URL", &db));
    let cli = |args: Vec<String>| {
        let cli_env = cli_env.clone();
        let data_dir = data_dir.clone();
        async move {
            let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
            full.extend(["--data-dir", &data_dir]);
            let out = run_tessera(&full, &cli_env, None).await?;
            if !out.success() {
                bail!("tessera {} failed: {out}", args.join(" "));
            }
            Ok::<_, anyhow::Error>(out)
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let cas = cli(s(&["ca", "init", "--base-url", server.issuer(), "--json"]))
        .await?
        .json()?;
    ensure!(cas[0]["key_backend"] == "pkcs11", "{cas}");
    ca_files(&server, d).await?;
    let cert_file = d.join("an.pem").display().to_string();
    cli(s(&[
        "cert", "issue", "--user", "an.nv", "--alg", "RSA-2048", "--out", &cert_file,
    ]))
    .await?;
    let verify = openssl_ok(
        d,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "an.pem",
        ],
    )
    .await?;
    ensure!(verify.contains("an.pem: OK"), "{verify}");
    let good = ocsp(&server, d, &["-cert", "an.pem"]).await?;
    ensure!(good.contains("an.pem: good"), "{good}");

    let keys = cli(s(&["hsm", "keys", "--json"])).await?.json()?;
    let keys = keys.as_array().context("hsm keys")?;
    let uses: Vec<&str> = keys.iter().filter_map(|k| k["use"].as_str()).collect();
    ensure!(
        uses.iter()
            .filter(|u| **u == "certificate authority")
            .count()
            == 2
            && uses.contains(&"signing credential"),
        "{keys:?}"
    );
    ensure!(
        keys.iter()
            .filter(|k| k["use"] != "OIDC token signing")
            .all(|k| k["locked_down"] == Value::Bool(true)),
        "{keys:?}"
    );
    Ok(())
}
