//! CSC scope `credential` (CSC API v2 §8.4.2, RFC 9396): an application sends the official to
//! `/authorize` with `authorization_details` naming a credential and two hashes; the official
//! approves them on the ordinary approval page with a code proven then; the access token the
//! application redeems signs exactly those hashes through `signatures/signHash` without a SAD,
//! once each. A replay, a hash that was not approved, another credential and an unknown
//! `authorization_details` type each get their own error.

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::flow::Callback;
use tessera_e2e::oauth::{AuthRequest, ClientAuth, exchange};
use tessera_e2e::{Backend, Browser, NewClient, TestServer};
use url::Url;

use crate::csc::{add_official, enrol_totp, issue_credential, post};
use crate::csc_async::{MESSAGE, openssl_verifies};
use crate::signing_pages::{csrf, totp_at};

scenarios!(csc_credential_scope_token_signs_the_approved_hashes);

pub(crate) const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
pub(crate) const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

pub(crate) fn sha256_b64(data: &[u8]) -> String {
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// Follows the browser's redirects from `url` until it leaves the server or lands on a page.
pub(crate) async fn follow(
    browser: &Browser,
    server: &TestServer,
    url: Url,
) -> anyhow::Result<Url> {
    let mut at = url;
    for _ in 0..8 {
        if !at.as_str().starts_with(server.issuer()) {
            return Ok(at);
        }
        let r = browser.get(&at).await?;
        match r.location() {
            Some(next) => at = next,
            None => return Ok(at),
        }
    }
    anyhow::bail!("too many redirects from {at}")
}

/// A server with Tessera's CA, the official minh.pd and one P-256 credential of theirs.
pub(crate) async fn official_with_credential(
    backend: Backend,
) -> anyhow::Result<(TestServer, String)> {
    let server = TestServer::start(backend).await?;
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    add_official(&server).await?;
    let credential = issue_credential(&server, "P-256").await?;
    Ok((server, credential))
}

/// Approves the approval page `page` (at `page_url`, reached from `/authorize`) with the
/// authenticator code of `totp`; answers the application's callback.
pub(crate) async fn approve_with_totp(
    browser: &Browser,
    server: &TestServer,
    page_url: &Url,
    page: &tessera_e2e::Page,
    totp: &str,
) -> anyhow::Result<Callback> {
    let approve_url = Url::parse(&format!(
        "{}{}/approve?{}",
        server.issuer(),
        page_url.path(),
        page_url.query().unwrap_or_default()
    ))?;
    let done = browser
        .post_form(
            &approve_url,
            &[("csrf_token", &csrf(page)?), ("code", &totp_at(totp, 1)?)],
        )
        .await?;
    // Approved: the page hands over to /authorize, which returns to the application.
    Ok(Callback {
        url: follow(browser, server, done.see_other()?).await?,
    })
}

/// Checks that `signature` (base64) is `credential`'s over [`MESSAGE`].
pub(crate) async fn verifies_with(
    server: &TestServer,
    token: &str,
    credential: &str,
    signature: &str,
) -> anyhow::Result<()> {
    let (_, info) = post(
        server,
        Some(token),
        "/csc/v2/credentials/info",
        json!({ "credentialID": credential }),
    )
    .await?;
    let cert = STANDARD.decode(
        info["cert"]["certificates"][0]
            .as_str()
            .context("no certificate")?,
    )?;
    openssl_verifies(&cert, &STANDARD.decode(signature)?).await
}

async fn csc_credential_scope_token_signs_the_approved_hashes(
    backend: Backend,
) -> anyhow::Result<()> {
    let (server, credential) = official_with_credential(backend).await?;
    let other_credential = issue_credential(&server, "P-256").await?;
    let client = server
        .add_client(
            &NewClient::confidential("kyso", "Ký số văn bản").scopes("openid service credential"),
        )
        .await?;
    let (browser, secret) = enrol_totp(&server, &client).await?;
    let approved = [
        sha256_b64(MESSAGE),
        sha256_b64("Công văn số 7/CV-STP".as_bytes()),
    ];
    let details = json!([{
        "type": "credential",
        "credentialID": credential,
        "documentDigests": [
            { "hash": approved[0], "label": "To trinh" },
            { "hash": approved[1], "label": "Cong van" },
        ],
        "hashAlgorithmOID": SHA256_OID,
        "description": "Hai văn bản của Sở Tư pháp",
    }]);

    // An unknown authorization_details type goes back to the application with its own error.
    let unknown = AuthRequest::new(&client).param(
        "authorization_details",
        &json!([{ "type": "payment_initiation" }]).to_string(),
    );
    let back = follow(&browser, &server, unknown.url(&server)).await?;
    let cb = Callback { url: back };
    ensure!(
        cb.error().as_deref() == Some("invalid_authorization_details")
            && cb
                .param("error_description")
                .unwrap_or_default()
                .contains("payment_initiation"),
        "{}",
        cb.url
    );

    // The signed-in official lands on the approval page of exactly those hashes.
    let request = AuthRequest::new(&client).param("authorization_details", &details.to_string());
    let page_url = follow(&browser, &server, request.url(&server)).await?;
    ensure!(
        page_url.path().starts_with("/sign/requests/")
            && page_url
                .query()
                .is_some_and(|q| q.starts_with("authorize=")),
        "{page_url}"
    );
    let page = browser.get(&page_url).await?;
    let page_hex: Vec<String> = approved
        .iter()
        .map(|h| {
            STANDARD
                .decode(h)
                .unwrap_or_default()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    ensure!(
        page.status == StatusCode::OK
            && page.body.contains("Hai văn bản của Sở Tư pháp")
            && page_hex.iter().all(|h| page.body.contains(h.as_str())),
        "{page}"
    );
    // No code until the official decides: the step sends the browser back to the page.
    let handle = page_url
        .query_pairs()
        .find(|(k, _)| k == "authorize")
        .map(|(_, v)| v.into_owned())
        .context("no handle")?;
    let early = browser
        .get(&server.url(&format!("/authorize/signing?req={handle}")))
        .await?;
    ensure!(early.see_other()?.path() == page_url.path(), "{early}");
    let cb = approve_with_totp(&browser, &server, &page_url, &page, &secret).await?;
    let answer = exchange(
        &server,
        ClientAuth::Basic(
            &client.client_id,
            client.client_secret.as_deref().context("no secret")?,
        ),
        &request,
        &cb.code()?,
    )
    .await?;
    let token = answer.str("access_token")?.to_owned();
    ensure!(
        answer.json["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|s| s == "credential")),
        "{}",
        answer.body
    );

    let sign = |credential: &str, hash: &str| {
        json!({
            "credentialID": credential, "hashes": [hash],
            "hashAlgorithmOID": SHA256_OID, "signAlgo": ECDSA_SHA256,
        })
    };
    let refused = |answer: &(StatusCode, Value), error: &str, words: &str| {
        let (status, body) = answer;
        ensure!(
            status.is_client_error()
                && body["error"] == error
                && body["error_description"]
                    .as_str()
                    .is_some_and(|d| d.contains(words)),
            "expected {error} ({words}): {status} {body}"
        );
        Ok(())
    };
    let path = "/csc/v2/signatures/signHash";

    // The token signs an approved hash without a SAD; the signature verifies.
    let (status, signed) =
        post(&server, Some(&token), path, sign(&credential, &approved[0])).await?;
    ensure!(status == StatusCode::OK, "{status} {signed}");
    let signature = signed["signatures"][0].as_str().context("no signature")?;
    verifies_with(&server, &token, &credential, signature).await?;

    // Each refusal has its own words.
    let replay = post(&server, Some(&token), path, sign(&credential, &approved[0])).await?;
    refused(&replay, "invalid_sad", "replayed")?;
    let unapproved = sha256_b64(b"not approved");
    let other_hash = post(&server, Some(&token), path, sign(&credential, &unapproved)).await?;
    refused(&other_hash, "invalid_sad", "hash_not_authorized")?;
    let mismatch = post(
        &server,
        Some(&token),
        path,
        sign(&other_credential, &approved[1]),
    )
    .await?;
    refused(&mismatch, "invalid_sad", "other_credential")?;
    // Only the service scope may ask for authorizations.
    let authorize = post(
        &server,
        Some(&token),
        "/csc/v2/credentials/authorize",
        json!({ "credentialID": credential, "numSignatures": 1, "hashes": [unapproved] }),
    )
    .await?;
    refused(&authorize, "insufficient_scope", "service")?;

    // The second approved hash is still there, once.
    let (status, signed) =
        post(&server, Some(&token), path, sign(&credential, &approved[1])).await?;
    ensure!(status == StatusCode::OK, "{status} {signed}");
    let again = post(&server, Some(&token), path, sign(&credential, &approved[1])).await?;
    refused(&again, "invalid_sad", "replayed")?;

    // Audited: the approval with its factor, and each refused SAD with its reason.
    let approvals = server.audit("signing.request.approved").await?;
    ensure!(
        approvals.len() == 1 && approvals[0].detail["factor"] == "totp",
        "{approvals:?}"
    );
    let reasons: Vec<String> = server
        .audit("signing.sad.refused")
        .await?
        .iter()
        .filter_map(|r| r.detail["reason"].as_str().map(str::to_owned))
        .collect();
    for reason in ["replayed", "hash_not_authorized", "other_credential"] {
        ensure!(reasons.iter().any(|r| r == reason), "{reasons:?}");
    }
    Ok(())
}
