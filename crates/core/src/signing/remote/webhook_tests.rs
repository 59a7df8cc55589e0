//! The outcome webhooks: queued for every final state, signed as `signing-event+jwt` with the
//! provider's key, retried with backoff, given up at the deadline or when the allow-list
//! refuses the destination.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tessera_proto::signing::{SIGNING_EVENT, SIGNING_EVENT_TYP};

use super::*;
use crate::logout::backchannel::Attempt;
use crate::outbound::{BoxFuture, Outbound, OutboundError};
use crate::signing::remote::lifecycle::housekeeping;
use crate::signing::remote::webhook::{self, CONTENT_TYPE, TTL};

/// Answers POSTs from a script (then 200), recording URL, content type and body.
#[derive(Debug, Default)]
struct Receiver {
    script: Mutex<VecDeque<Result<u16, OutboundError>>>,
    calls: Mutex<Vec<(String, String, String)>>,
}

impl Receiver {
    fn new(script: Vec<Result<u16, OutboundError>>) -> Arc<Receiver> {
        Arc::new(Receiver {
            script: Mutex::new(script.into()),
            calls: Mutex::default(),
        })
    }
    fn calls(&self) -> Vec<(String, String, String)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Outbound for Receiver {
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        _form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }

    fn get_json<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<serde_json::Value, OutboundError>> {
        Box::pin(async move { Err(OutboundError::NotAllowed(url.to_owned())) })
    }

    fn post_body<'a>(
        &'a self,
        url: &'a str,
        content_type: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<u16, OutboundError>> {
        self.calls.lock().unwrap().push((
            url.to_owned(),
            content_type.to_owned(),
            String::from_utf8_lossy(body).into_owned(),
        ));
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Ok(200));
        Box::pin(async move { next })
    }
}

async fn world_with(receiver: Arc<Receiver>) -> World {
    let mut w = world().await;
    w.p.outbound = receiver;
    w
}

/// Checks the JWT's signature against the provider's published keys and its claims; answers
/// the announced (id, status).
async fn announced(w: &World, jwt: &str, at: i64) -> (String, String) {
    let v =
        w.p.signer
            .verify(jwt, at)
            .await
            .unwrap()
            .expect("signature");
    assert_eq!(v.header["typ"], SIGNING_EVENT_TYP);
    let c = &v.claims;
    assert_eq!(c["iss"], w.p.config.issuer.as_str());
    assert_eq!(c["aud"], "vanban");
    assert_eq!(c["iat"], at);
    assert_eq!(c["exp"], at + TTL);
    assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
    // Never an ID token or a logout token.
    assert!(c.get("sub").is_none() && c.get("nonce").is_none());
    let e = &c["events"][SIGNING_EVENT];
    (
        e["id"].as_str().unwrap().to_owned(),
        e["status"].as_str().unwrap().to_owned(),
    )
}

async fn events(w: &World, name: &str) -> Vec<serde_json::Value> {
    w.p.store
        .recent_audit(200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == name)
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect()
}

#[tokio::test]
async fn a_rejection_is_announced_retried_with_backoff_and_delivered_once() {
    let rx = Receiver::new(vec![
        Ok(503),
        Err(OutboundError::Failed("timed out".into())),
    ]);
    let w = world_with(rx.clone()).await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    // Nothing is queued while the request is pending.
    assert!(webhook::claim(&w.p, "a", T0 + 1).await.unwrap().is_empty());
    reject(&w.p, &w.official, &id, &meta(), T0 + 20)
        .await
        .unwrap();

    let t1 = T0 + 21;
    let claimed = webhook::claim(&w.p, "a", t1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // Leased: another replica does not send it too.
    assert!(webhook::claim(&w.p, "b", t1).await.unwrap().is_empty());
    let base = w.p.config.backchannel_retry_base;
    assert_eq!(
        webhook::deliver(&w.p, &claimed[0], "a", t1).await.unwrap(),
        Attempt::Retry { next_at: t1 + base }
    );
    let t2 = t1 + base;
    let claimed = webhook::claim(&w.p, "b", t2).await.unwrap();
    assert_eq!(
        webhook::deliver(&w.p, &claimed[0], "b", t2).await.unwrap(),
        Attempt::Retry {
            next_at: t2 + 2 * base
        }
    );
    let t3 = t2 + 2 * base;
    let claimed = webhook::claim(&w.p, "a", t3).await.unwrap();
    assert_eq!(
        webhook::deliver(&w.p, &claimed[0], "a", t3).await.unwrap(),
        Attempt::Delivered { status: 200 }
    );
    assert!(
        webhook::claim(&w.p, "a", t3 + 3600)
            .await
            .unwrap()
            .is_empty()
    );

    let calls = rx.calls();
    assert_eq!(calls.len(), 3);
    for (uri, content_type, _) in &calls {
        assert_eq!(uri, "https://vanban.test/hook");
        assert_eq!(content_type, CONTENT_TYPE);
    }
    // Each attempt carries a fresh token.
    assert_ne!(calls[0].2, calls[2].2);
    assert_eq!(
        announced(&w, &calls[2].2, t3).await,
        (id.clone(), "rejected".to_owned())
    );
    let failed = events(&w, "signing.webhook.failed").await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|d| d["http_status"] == 503));
    let delivered = events(&w, "signing.webhook.delivered").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["request"], id.as_str());
    assert_eq!(delivered[0]["attempt"], 3);
}

#[tokio::test]
async fn an_expiry_and_a_cancellation_are_announced_a_signature_too() {
    let rx = Receiver::new(vec![]);
    let w = world_with(rx.clone()).await;
    let expiring = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let cancelled = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    cancel(&w.p, "vanban", &cancelled, &meta(), T0 + 5)
        .await
        .unwrap();
    let signed = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let sad = approved(&w, &signed, T0 + 10).await;
    sign_request(&w.p, &signed, &sad, "replica-a", &meta(), T0 + 11)
        .await
        .unwrap();
    // Housekeeping a minute after the deadline expires the undecided one.
    let later = T0 + 960;
    assert_eq!(housekeeping(&w.p, later).await.unwrap().0, 1);

    for entry in webhook::claim(&w.p, "a", later).await.unwrap() {
        let r = webhook::deliver(&w.p, &entry, "a", later).await.unwrap();
        assert_eq!(r, Attempt::Delivered { status: 200 });
    }
    let mut got = Vec::new();
    for (_, _, jwt) in rx.calls() {
        got.push(announced(&w, &jwt, later).await);
    }
    got.sort();
    let mut want = vec![
        (expiring, "expired".to_owned()),
        (cancelled, "cancelled".to_owned()),
        (signed, "signed".to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_refused_destination_or_the_deadline_gives_the_webhook_up() {
    let rx = Receiver::new(vec![
        Err(OutboundError::NotAllowed("https://vanban.test/hook".into())),
        Ok(500),
    ]);
    let w = world_with(rx.clone()).await;
    let first = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    reject(&w.p, &w.official, &first, &meta(), T0 + 20)
        .await
        .unwrap();
    let claimed = webhook::claim(&w.p, "a", T0 + 21).await.unwrap();
    let r = webhook::deliver(&w.p, &claimed[0], "a", T0 + 21)
        .await
        .unwrap();
    assert!(
        matches!(&r, Attempt::Abandoned { reason } if reason.contains("allow-list")),
        "{r:?}"
    );

    let second = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    reject(&w.p, &w.official, &second, &meta(), T0 + 30)
        .await
        .unwrap();
    // Past give_up_at a failure is the last attempt.
    let late = T0 + 30 + w.p.config.backchannel_give_up;
    let claimed = webhook::claim(&w.p, "a", late).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let r = webhook::deliver(&w.p, &claimed[0], "a", late)
        .await
        .unwrap();
    assert!(
        matches!(&r, Attempt::Abandoned { reason } if reason == "HTTP status 500"),
        "{r:?}"
    );
    assert!(
        webhook::claim(&w.p, "a", late + 3600)
            .await
            .unwrap()
            .is_empty()
    );
    let abandoned = events(&w, "signing.webhook.abandoned").await;
    assert_eq!(abandoned.len(), 2);
    let states = w.p.store.signing_webhooks(&second).await.unwrap();
    assert_eq!(states[0].abandoned_at, Some(late));
    assert_eq!(states[0].last_status, Some(500));
}
