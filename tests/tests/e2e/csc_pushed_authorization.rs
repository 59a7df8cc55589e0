//! A batch of 100 hashes authorized through a pushed authorization request (RFC 9126) with the
//! pure CSC scope `credential` (CSC API v2 §8.4.2, no `openid`): the `authorization_details`
//! that no query string can carry is pushed to `/par` with the client's authentication; the
//! browser goes to `/authorize` with only `client_id` and the `request_uri`; the official
//! approves the 100 hashes once with a code proven then; the token (no ID token) signs all 100
//! in one `signHash`. The `request_uri` is single-use and bound to its client; refusals at
//! `/par` are OAuth JSON errors. Discovery and CSC `info` advertise what is supported.

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_e2e::oauth::{AuthRequest, ClientAuth, client_post, exchange};
use tessera_e2e::{Backend, NewClient, TestServer};

use crate::csc::{enrol_totp, post};
use crate::csc_async::MESSAGE;
use crate::csc_credential_scope::{
    ECDSA_SHA256, SHA256_OID, approve_with_totp, follow, official_with_credential, sha256_b64,
    verifies_with,
};

scenarios!(csc_pushed_authorization_signs_100_hashes);

const BATCH: usize = 100;

/// `authorization_details` for `hashes` of `credential`.
fn details(credential: &str, hashes: &[String]) -> String {
    let digests: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| json!({ "hash": h, "label": format!("Văn bản {}", i + 1) }))
        .collect();
    json!([{
        "type": "credential",
        "credentialID": credential,
        "documentDigests": digests,
        "hashAlgorithmOID": SHA256_OID,
        "description": "Lô 100 văn bản của Sở Tư pháp",
    }])
    .to_string()
}

fn pairs(request: &AuthRequest) -> Vec<(String, String)> {
    request.params()
}

async fn push(
    server: &TestServer,
    path: &str,
    auth: ClientAuth<'_>,
    params: &[(String, String)],
) -> anyhow::Result<tessera_e2e::oauth::JsonAnswer> {
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client_post(server, path, auth, &form).await
}

async fn csc_pushed_authorization_signs_100_hashes(backend: Backend) -> anyhow::Result<()> {
    let (server, credential) = official_with_credential(backend).await?;
    let client = server
        .add_client(
            &NewClient::confidential("kyso", "Ký số văn bản").scopes("openid service credential"),
        )
        .await?;
    let other = server
        .add_client(&NewClient::confidential("motcua", "Một cửa").scopes("openid credential"))
        .await?;
    let secret = client.client_secret.as_deref().context("no secret")?;
    let auth = ClientAuth::Basic(&client.client_id, secret);
    let (browser, totp) = enrol_totp(&server, &client).await?;

    // What is supported is advertised.
    let doc: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await?
        .json()
        .await?;
    ensure!(
        doc["pushed_authorization_request_endpoint"] == format!("{}/par", server.issuer())
            && doc["authorization_details_types_supported"] == json!(["credential"])
            && doc["require_pushed_authorization_requests"] == false,
        "{doc}"
    );
    let (_, info) = post(&server, None, "/csc/v2/info", json!({})).await?;
    ensure!(
        info["authorization_details_types_supported"] == json!(["credential"])
            && info["methods"]
                .as_array()
                .is_some_and(|m| m.contains(&json!("oauth2/pushed_authorize")))
            && info["signAlgorithms"]["algos"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(ECDSA_SHA256))),
        "{info}"
    );

    let mut hashes = vec![sha256_b64(MESSAGE)];
    hashes.extend((2..=BATCH).map(|i| sha256_b64(format!("Văn bản số {i}/STP").as_bytes())));
    let mut request =
        AuthRequest::new(&client).param("authorization_details", &details(&credential, &hashes));
    // The pure CSC scope: a token bound to the hashes, no sign-in for the application.
    request.scope = "credential".into();

    // Too long for the query string: a page, nothing reaches the application.
    let direct = browser.get(&request.url(&server)).await?;
    ensure!(
        direct.status == StatusCode::BAD_REQUEST && direct.body.contains("authorization_details"),
        "{direct}"
    );

    // Refusals at /par are OAuth JSON errors (through the CSC name of the endpoint too).
    let wrong = push(
        &server,
        "/par",
        ClientAuth::Basic(&client.client_id, "not-the-secret"),
        &pairs(&request),
    )
    .await?;
    ensure!(
        wrong.status == StatusCode::UNAUTHORIZED && wrong.error() == Some("invalid_client"),
        "{wrong}"
    );
    let mut with_uri = pairs(&request);
    with_uri.push((
        "request_uri".into(),
        "urn:ietf:params:oauth:request_uri:x".into(),
    ));
    let a = push(&server, "/par", auth, &with_uri).await?;
    ensure!(
        a.status == StatusCode::BAD_REQUEST && a.error() == Some("invalid_request"),
        "{a}"
    );
    let bad_type = AuthRequest::new(&client).param(
        "authorization_details",
        &json!([{ "type": "payment_initiation" }]).to_string(),
    );
    let a = push(&server, "/oauth2/pushed_authorize", auth, &pairs(&bad_type)).await?;
    ensure!(a.error() == Some("invalid_authorization_details"), "{a}");
    let mut no_openid = AuthRequest::new(&client);
    no_openid.scope = "service".into();
    let a = push(&server, "/par", auth, &pairs(&no_openid)).await?;
    ensure!(a.error() == Some("invalid_scope"), "{a}");
    let mut elsewhere = pairs(&request);
    for (k, v) in &mut elsewhere {
        if k == "redirect_uri" {
            *v = "https://evil.test/cb".into();
        }
    }
    let a = push(&server, "/par", auth, &elsewhere).await?;
    ensure!(a.error() == Some("invalid_request"), "{a}");

    // Pushed: 201 with a request_uri that only this client can use, once.
    let pushed = push(&server, "/par", auth, &pairs(&request)).await?;
    ensure!(
        pushed.status == StatusCode::CREATED
            && pushed.header("cache-control") == Some("no-store")
            && pushed.json["expires_in"].as_i64().is_some_and(|e| e > 0),
        "{pushed}"
    );
    let request_uri = pushed.str("request_uri")?.to_owned();
    ensure!(
        request_uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{pushed}"
    );
    let authorize_url = |client_id: &str| {
        let mut url = server.url("/authorize");
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("request_uri", &request_uri);
        url
    };
    let stolen = browser.get(&authorize_url(&other.client_id)).await?;
    ensure!(
        stolen.status.is_client_error() && stolen.location().is_none(),
        "{stolen}"
    );

    // The signed-in official lands on the approval page of the 100 hashes.
    let page_url = follow(&browser, &server, authorize_url(&client.client_id)).await?;
    ensure!(
        page_url.path().starts_with("/sign/requests/")
            && page_url
                .query()
                .is_some_and(|q| q.starts_with("authorize=")),
        "{page_url}"
    );
    let page = browser.get(&page_url).await?;
    let hex = |b64: &str| -> String {
        STANDARD
            .decode(b64)
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    ensure!(
        page.status == StatusCode::OK
            && page.body.contains("Lô 100 văn bản của Sở Tư pháp")
            && hashes.iter().all(|h| page.body.contains(&hex(h))),
        "the approval page does not show the 100 hashes: {page}"
    );
    // Used once: the same request_uri again is a page, never a second authorization.
    let again = browser.get(&authorize_url(&client.client_id)).await?;
    ensure!(
        again.status.is_client_error() && again.location().is_none(),
        "{again}"
    );

    let cb = approve_with_totp(&browser, &server, &page_url, &page, &totp).await?;
    ensure!(
        cb.param("state").as_deref() == Some(request.state.as_str()),
        "{}",
        cb.url
    );
    let answer = exchange(&server, auth, &request, &cb.code()?).await?;
    ensure!(answer.status == StatusCode::OK, "{answer}");
    // No sign-in was asked for: no ID token, only the credential-bound access token.
    ensure!(
        answer.json.get("id_token").is_none() && answer.json["scope"] == "credential",
        "{}",
        answer.body
    );
    let token = answer.str("access_token")?.to_owned();

    // All 100 in one call, without a SAD.
    let sign = json!({
        "credentialID": credential, "hashes": hashes,
        "hashAlgorithmOID": SHA256_OID, "signAlgo": ECDSA_SHA256,
    });
    let path = "/csc/v2/signatures/signHash";
    let (status, signed) = post(&server, Some(&token), path, sign.clone()).await?;
    ensure!(status == StatusCode::OK, "{status} {signed}");
    let signatures = signed["signatures"].as_array().context("no signatures")?;
    ensure!(signatures.len() == BATCH, "{} signatures", signatures.len());
    let first = signatures[0].as_str().context("not a string")?;
    verifies_with(&server, &token, &credential, first).await?;
    // Each approved hash signs once.
    let (status, replay) = post(&server, Some(&token), path, sign).await?;
    ensure!(
        status == StatusCode::BAD_REQUEST
            && replay["error"] == "invalid_sad"
            && replay["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("replayed")),
        "{status} {replay}"
    );
    Ok(())
}
