//! The SDK's `SigningClient` against the real server: submit as the application (scope
//! `sign:request`) and as the official (scope `sign`), read, wait until a deadline, cancel,
//! verify the outcome webhook (and refuse it replayed — also to another replica sharing the
//! replay guard —, for another application, too late, tampered with, or a token of another
//! kind), and check documents with `/api/verify`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_e2e::Backend;
use tessera_e2e::admin::login_token;
use tessera_proto::signing::{NewSigningRequest, SIGNING_EVENT};
use tessera_sdk::signing::{Caller, SigningClient, document};
use tessera_sdk::{InMemoryJtiStore, JtiStore, SdkError, ServiceClient};

use crate::signing_requests::{PASSWORD, PDF, world};

scenarios!(signing_requests_with_the_sdk);

async fn signing_requests_with_the_sdk(backend: Backend) -> anyhow::Result<()> {
    let w = world(backend).await?;
    let s = &w.s;
    s.cli_ok(
        &[
            "client",
            "allow-signing-requests",
            "--client",
            "vanban",
            "--unit",
            &w.unit,
        ],
        None,
    )
    .await?;
    let secret = w.vanban.client_secret.as_deref().context("secret")?;
    let service = ServiceClient::discover(s.issuer(), "vanban", secret).await?;
    let client =
        SigningClient::discover(s.issuer(), "vanban", Caller::Application(service.into())).await?;
    let hook = w.hooks.url("/hooks/sdk");
    let created = client
        .submit(&NewSigningRequest {
            title: "Công văn".into(),
            signer: Some("an.nv".into()),
            documents: vec![
                document("qd.pdf", &std::fs::read(PDF)?),
                document("cv.txt", "Công văn số 45/STP-VP".as_bytes()),
            ],
            callback_uri: Some(hook),
            ..NewSigningRequest::default()
        })
        .await?;
    let state = client.status(&created.id).await?;
    ensure!(
        state.status == "pending" && state.documents.len() == 2,
        "{state:?}"
    );
    ensure!(state.documents[1].kind == "data", "{state:?}");
    // Waiting on a pending request ends at the deadline, having reported it once.
    let mut seen = Vec::new();
    let waited = client
        .wait(&created.id, Duration::from_secs(2), |s| {
            seen.push(s.status.clone())
        })
        .await;
    ensure!(matches!(waited, Err(SdkError::Timeout(_))), "{waited:?}");
    ensure!(seen == ["pending"], "{seen:?}");

    let cancelled = client.cancel(&created.id).await?;
    ensure!(cancelled.status == "cancelled", "{cancelled:?}");
    let done = client
        .wait(&created.id, Duration::from_secs(5), |_| {})
        .await?;
    ensure!(done.status == "cancelled", "{done:?}");
    let again = client.cancel(&created.id).await;
    ensure!(
        matches!(&again, Err(SdkError::SigningApi { status: 409, error, .. }) if error == "invalid_state"),
        "{again:?}"
    );

    let got = w.hooks.wait_for(1, Duration::from_secs(20)).await?;
    let event = client.verify_webhook(&got[0].body).await?;
    ensure!(
        event.event.id == created.id && event.event.status == "cancelled",
        "{event:?}"
    );
    // The same webhook again is a replay.
    let r = client.verify_webhook(&got[0].body).await;
    ensure!(
        matches!(&r, Err(SdkError::Webhook(m)) if m.contains("replayed")),
        "{r:?}"
    );
    // Two replicas of the application sharing their replay guard (as a database would):
    // what one accepted, the other refuses.
    let shared: Arc<dyn JtiStore> = Arc::new(InMemoryJtiStore::default());
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let service = ServiceClient::discover(s.issuer(), "vanban", secret).await?;
        replicas.push(
            SigningClient::discover(s.issuer(), "vanban", Caller::Application(service.into()))
                .await?
                .with_jti_store(shared.clone()),
        );
    }
    replicas[0].verify_webhook(&got[0].body).await?;
    let r = replicas[1].verify_webhook(&got[0].body).await;
    ensure!(
        matches!(&r, Err(SdkError::Webhook(m)) if m.contains("replayed")),
        "{r:?}"
    );
    // Not for another application, not later than its lifetime, not tampered with.
    let other_secret = w.motcua.client_secret.as_deref().context("secret")?;
    let other = SigningClient::discover(
        s.issuer(),
        "motcua",
        Caller::Application(
            ServiceClient::discover(s.issuer(), "motcua", other_secret)
                .await?
                .into(),
        ),
    )
    .await?;
    let r = other.verify_webhook(&got[0].body).await;
    ensure!(matches!(r, Err(SdkError::Webhook(_))), "{r:?}");
    let r = client
        .verify_webhook_at(&got[0].body, event.issued_at + 3600)
        .await;
    ensure!(matches!(r, Err(SdkError::Webhook(_))), "{r:?}");
    let mut parts: Vec<String> = got[0].body.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1])?)?;
    claims["events"][SIGNING_EVENT]["status"] = json!("signed");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let r = client.verify_webhook(&parts.join(".")).await;
    ensure!(matches!(r, Err(SdkError::Webhook(_))), "{r:?}");
    // A logout token or an ID token never passes for a webhook (explicit typing).
    let login = login_token(s, &w.vanban, "openid", "an.nv", PASSWORD).await?;
    let r = client.verify_webhook(&login).await;
    ensure!(matches!(r, Err(SdkError::Webhook(_))), "{r:?}");

    // The official's own token works as well; a result before signing is refused clearly.
    let own = login_token(s, &w.vanban, "openid sign", "an.nv", PASSWORD).await?;
    let official = SigningClient::discover(s.issuer(), "vanban", Caller::Official(own)).await?;
    let mine = official
        .submit(&NewSigningRequest {
            title: "Tờ trình".into(),
            documents: vec![document("tt.pdf", &std::fs::read(PDF)?)],
            ..NewSigningRequest::default()
        })
        .await?;
    let r = official.result(&mine.id, 0).await;
    ensure!(matches!(r, Err(SdkError::SigningApi { .. })), "{r:?}");

    // /api/verify through the SDK: the unsigned fixture has no signature to report, a
    // detached "signature" that is none fails, an empty document is refused with the reason.
    let report = client.verify(&std::fs::read(PDF)?, None).await?;
    ensure!(
        report["overall"].is_null() && report["signatures"] == json!([]),
        "{report}"
    );
    let report = client.verify(b"not a signature", Some(b"content")).await?;
    ensure!(report["overall"] == "TOTAL-FAILED", "{report}");
    let r = client.verify(b"", None).await;
    ensure!(
        matches!(&r, Err(SdkError::SigningApi { status: 400, error, description: Some(_) }) if error == "invalid_request"),
        "{r:?}"
    );
    Ok(())
}
