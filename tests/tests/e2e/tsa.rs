//! Tessera's own time-stamping authority (RFC 3161), checked by OpenSSL: `openssl ts -query`
//! makes the request, the server answers over `POST /tsa`, and `openssl ts -reply` /
//! `openssl ts -verify` read and verify the token against the internal root. Bad requests get a
//! rejection with the RFC's failure info, never an HTTP error.

use std::path::Path;

use anyhow::{Context, ensure};
use tessera_e2e::{Backend, TempDir, TestServer};

use crate::pki::{ca_files, openssl, openssl_ok};

scenarios!(tsa_openssl_round_trip);

/// POSTs `body` to `/tsa` as `content_type`; answers (status, content type, body).
async fn post(
    server: &TestServer,
    content_type: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let resp = reqwest::Client::new()
        .post(server.url("/tsa"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Ok((status, ct, resp.bytes().await?.to_vec()))
}

/// Sends `dir/query` and stores the reply as `dir/reply`; answers `openssl ts -reply -text`.
async fn ask(server: &TestServer, dir: &Path, query: &str, reply: &str) -> anyhow::Result<String> {
    let body = std::fs::read(dir.join(query)).context("reading the query")?;
    let (status, ct, der) = post(server, "application/timestamp-query", body).await?;
    ensure!(status == 200, "POST /tsa: {status}");
    ensure!(ct == "application/timestamp-reply", "served as {ct}");
    std::fs::write(dir.join(reply), der)?;
    openssl_ok(dir, &["ts", "-reply", "-in", reply, "-text"]).await
}

async fn tsa_openssl_round_trip(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-tsa")?;
    let d = dir.path();
    std::fs::write(d.join("doc.txt"), "Quyết định số 12/QĐ-UBND".as_bytes())?;
    std::fs::write(d.join("other.txt"), b"another document")?;
    openssl_ok(
        d,
        &[
            "ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "q.tsq",
        ],
    )
    .await?;

    // Without a CA there is no time-stamping unit: a rejection (systemFailure), not a 500.
    let early = ask(&server, d, "q.tsq", "early.tsr").await?;
    ensure!(early.contains("Status: Rejected"), "{early}");

    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    ca_files(&server, d).await?;

    let text = ask(&server, d, "q.tsq", "r.tsr").await?;
    for part in [
        "Status: Granted.",
        "Policy OID: 1.3.6.1.4.1.32473.1.3161.1",
        "Hash Algorithm: sha256",
        "Accuracy: 0x01 seconds",
        "Ordering: no",
    ] {
        ensure!(text.contains(part), "{part} missing in:\n{text}");
    }
    ensure!(
        !text.contains("Nonce: unspecified"),
        "nonce echoed:\n{text}"
    );

    // The TSA certificate travels in the token (certReq); with the issuing CA it leads to
    // the root, and openssl checks EKU timeStamping (critical) and the ESS certificate id.
    openssl_ok(
        d,
        &[
            "ts",
            "-reply",
            "-in",
            "r.tsr",
            "-token_out",
            "-out",
            "token.der",
        ],
    )
    .await?;
    openssl_ok(
        d,
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            "token.der",
            "-print_certs",
            "-out",
            "tsa.pem",
        ],
    )
    .await?;
    let untrusted = [
        std::fs::read_to_string(d.join("tsa.pem"))?,
        std::fs::read_to_string(d.join("issuing.pem"))?,
    ]
    .concat();
    std::fs::write(d.join("untrusted.pem"), untrusted)?;
    // The token carries the TSA's certificate and the issuing CA's (certReq), in DER SET order.
    let carried = std::fs::read_to_string(d.join("tsa.pem"))?;
    let blocks: Vec<String> = carried
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
        .map(|b| b.trim_start().to_owned() + "\n")
        .collect();
    ensure!(
        blocks.len() == 2,
        "the token should carry 2 certificates: {carried}"
    );
    let mut tsa_cert = String::new();
    for (i, block) in blocks.iter().enumerate() {
        let file = format!("carried-{i}.pem");
        std::fs::write(d.join(&file), block)?;
        let text = openssl_ok(d, &["x509", "-in", &file, "-noout", "-text"]).await?;
        if text.contains("Time Stamping") {
            tsa_cert = text;
        }
    }
    ensure!(
        tsa_cert.contains("X509v3 Extended Key Usage: critical")
            && tsa_cert.contains("Time Stamping"),
        "no time-stamping certificate in the token: {carried}"
    );
    let verify = |data: &'static str| {
        let d = d.to_path_buf();
        async move {
            openssl(
                &d,
                &[
                    "ts",
                    "-verify",
                    "-data",
                    data,
                    "-in",
                    "r.tsr",
                    "-CAfile",
                    "root.pem",
                    "-untrusted",
                    "untrusted.pem",
                ],
            )
            .await
        }
    };
    let (ok, out) = verify("doc.txt").await?;
    ensure!(ok && out.contains("Verification: OK"), "{out}");
    let (ok, out) = verify("other.txt").await?;
    ensure!(!ok && out.contains("Verification: FAILED"), "{out}");

    // Two requests for the same data get different serial numbers.
    let again = ask(&server, d, "q.tsq", "r2.tsr").await?;
    let serial = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("Serial number:"))
            .map(str::to_owned)
    };
    ensure!(
        serial(&text).is_some() && serial(&text) != serial(&again),
        "{again}"
    );

    // SHA-1 is refused with badAlg; garbage with badDataFormat; both as timestamp replies.
    openssl_ok(
        d,
        &[
            "ts", "-query", "-data", "doc.txt", "-sha1", "-cert", "-out", "sha1.tsq",
        ],
    )
    .await?;
    let sha1 = ask(&server, d, "sha1.tsq", "sha1.tsr").await?;
    ensure!(
        sha1.contains("Status: Rejected") && sha1.contains("unrecognized or unsupported algorithm"),
        "{sha1}"
    );
    std::fs::write(d.join("junk.tsq"), b"\x30\x02\x05\x00")?;
    let junk = ask(&server, d, "junk.tsq", "junk.tsr").await?;
    ensure!(
        junk.contains("Status: Rejected") && junk.contains("data submitted has the wrong format"),
        "{junk}"
    );
    // A wrong media type is refused at the HTTP level.
    let (status, _, _) = post(&server, "application/octet-stream", b"x".to_vec()).await?;
    ensure!(status == 415, "wrong media type: {status}");
    Ok(())
}
