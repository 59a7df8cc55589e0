//! CSC asynchronous approval over HTTP: `credentials/authorize` without an OTP answers 202 and
//! an approval page; `credentials/authorizeCheck` says "pending" until the official approves
//! on `/sign/requests/{id}` with an authenticator-app code, then hands the SAD out once;
//! `signatures/signHash` signs with it (the signature verifies with openssl against the
//! credential's certificate), and the authorization request then ends as `signed` instead of
//! staying approved.

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::admin::login_token;
use tessera_e2e::{Backend, NewClient, TempDir, TestServer};

use crate::csc::{enrol_totp, post};
use crate::signing_pages::{csrf, totp_at};
use crate::signing_pdf::run;

scenarios!(csc_authorization_approved_on_the_pages);

const PASSWORD: &str = "mat-khau-rat-dai-2468";
const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub(crate) const MESSAGE: &[u8] = "Tờ trình số 15/TTr-STP".as_bytes();

async fn csc_authorization_approved_on_the_pages(backend: Backend) -> anyhow::Result<()> {
    let (server, credential) =
        crate::csc_credential_scope::official_with_credential(backend).await?;
    let client = server
        .add_client(&NewClient::confidential("kyso", "Ký số văn bản").scopes("openid service"))
        .await?;
    let token = login_token(&server, &client, "openid service", "minh.pd", PASSWORD).await?;
    let (phone, secret) = enrol_totp(&server, &client).await?;
    let hash = STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, MESSAGE));

    // No OTP: the official is asked on the approval page.
    let (status, pending) = post(
        &server,
        Some(&token),
        "/csc/v2/credentials/authorize",
        json!({
            "credentialID": credential, "numSignatures": 1, "hashes": [hash],
            "hashAlgorithmOID": SHA256_OID, "description": "Tờ trình bổ nhiệm",
        }),
    )
    .await?;
    ensure!(status == StatusCode::ACCEPTED, "{status} {pending}");
    let id = pending["requestID"].as_str().context("no requestID")?;
    let approval_url = pending["approvalURL"].as_str().unwrap_or_default();
    ensure!(
        approval_url == format!("{}/sign/requests/{id}", server.issuer()),
        "{pending}"
    );
    let check = || {
        post(
            &server,
            Some(&token),
            "/csc/v2/credentials/authorizeCheck",
            json!({ "requestID": id }),
        )
    };
    let (status, waiting) = check().await?;
    ensure!(
        status == StatusCode::ACCEPTED && waiting["status"] == "pending",
        "{status} {waiting}"
    );

    // The official approves on the page with a code proven now.
    let page = phone
        .get(&server.url(&format!("/sign/requests/{id}")))
        .await?;
    ensure!(
        page.status == StatusCode::OK
            && page.body.contains("Tờ trình bổ nhiệm")
            && page.body.contains("id=\"approve-form\""),
        "{page}"
    );
    let done = phone
        .post_form(
            &server.url(&format!("/sign/requests/{id}/approve")),
            &[
                ("csrf_token", &csrf(&page)?),
                ("code", &totp_at(&secret, 1)?),
            ],
        )
        .await?;
    ensure!(
        done.see_other()?.path() == format!("/sign/requests/{id}"),
        "{done}"
    );

    // authorizeCheck hands the SAD out, once.
    let (status, answer) = check().await?;
    ensure!(status == StatusCode::OK, "{status} {answer}");
    let sad = answer["SAD"].as_str().context("no SAD")?.to_owned();
    ensure!(
        answer["expiresIn"]
            .as_i64()
            .is_some_and(|e| e > 0 && e <= 300),
        "{answer}"
    );
    let (status, again) = check().await?;
    ensure!(
        status == StatusCode::BAD_REQUEST && again["error"] == "expired_request",
        "{status} {again}"
    );
    ensure!(request_status(&phone, &server, id).await? == "approved");

    // signHash signs the approved hash; the signature verifies against the certificate.
    let sign = json!({
        "credentialID": credential, "SAD": sad, "hashes": [hash],
        "hashAlgorithmOID": SHA256_OID, "signAlgo": ECDSA_SHA256,
    });
    let (status, signed) = post(
        &server,
        Some(&token),
        "/csc/v2/signatures/signHash",
        sign.clone(),
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status} {signed}");
    let signature = STANDARD.decode(signed["signatures"][0].as_str().context("no signature")?)?;
    let (status, info) = post(
        &server,
        Some(&token),
        "/csc/v2/credentials/info",
        json!({ "credentialID": credential }),
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status} {info}");
    let cert = STANDARD.decode(
        info["cert"]["certificates"][0]
            .as_str()
            .context("no certificate")?,
    )?;
    openssl_verifies(&cert, &signature).await?;

    // Its only hash signed, the authorization is over; the SAD is spent.
    ensure!(request_status(&phone, &server, id).await? == "signed");
    let (status, replay) = post(&server, Some(&token), "/csc/v2/signatures/signHash", sign).await?;
    ensure!(
        status == StatusCode::BAD_REQUEST && replay["error"] == "invalid_sad",
        "{status} {replay}"
    );
    let approved = server.audit("signing.request.approved").await?;
    ensure!(
        approved.len() == 1 && approved[0].detail["factor"] == "totp",
        "{approved:?}"
    );
    Ok(())
}

/// The request's state as the official's page polls it.
async fn request_status(
    browser: &tessera_e2e::Browser,
    server: &TestServer,
    id: &str,
) -> anyhow::Result<String> {
    let r = browser
        .get(&server.url(&format!("/sign/requests/{id}/status")))
        .await?;
    let state: Value = serde_json::from_str(&r.body).with_context(|| format!("{r}"))?;
    Ok(state["status"].as_str().unwrap_or_default().to_owned())
}

/// `openssl dgst -verify` of `signature` over [`MESSAGE`] with the certificate's key.
pub(crate) async fn openssl_verifies(cert_der: &[u8], signature: &[u8]) -> anyhow::Result<()> {
    let dir = TempDir::new("tessera-e2e-csc-async")?;
    let d = dir.path();
    std::fs::write(d.join("cert.der"), cert_der)?;
    std::fs::write(d.join("sig.der"), signature)?;
    std::fs::write(d.join("message"), MESSAGE)?;
    let (ok, text) = run(
        d,
        "openssl",
        &[
            "x509", "-inform", "DER", "-in", "cert.der", "-pubkey", "-noout", "-out", "key.pem",
        ],
    )
    .await?;
    ensure!(ok, "openssl x509: {text}");
    let (ok, text) = run(
        d,
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-verify",
            "key.pem",
            "-signature",
            "sig.der",
            "message",
        ],
    )
    .await?;
    ensure!(ok && text.contains("Verified OK"), "openssl dgst: {text}");
    Ok(())
}
