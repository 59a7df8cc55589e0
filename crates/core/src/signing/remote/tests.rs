//! Remote signing on a provider with an in-memory database and the software token: requests,
//! approval with TOTP, SAD rules, signing and its failures. The end-to-end tests check the
//! same through HTTP, with pdfsig and pyHanko.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_hsm::KeyType;
use tessera_proto::signing::{Appearance, NewDocument, NewSigningRequest};
use tessera_store::sessions::SessionRecord;
use tessera_store::users::User;

use super::approval::{Approval, approve, reject, take_sad};
use super::execute::sign_request;
use super::sad::{self, Presented, SadError};
use super::submit::{Purpose, Requester, Viewer, cancel, result, submit, view};
use super::*;
use crate::Provider;
use crate::mfa::prove::FactorInput;
use crate::mfa::totp;
use crate::pki::{Actor, CaInit, CredentialRequest, create_credential, init_ca, issue_internal};
use crate::request::RequestMeta;
use crate::testkit::{T0, add_unit, add_user, confidential_client, session};

pub(super) const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../formats/tests/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);

/// Shared with the CSC API's tests.
pub(super) struct World {
    pub(super) p: Provider,
    pub(super) official: User,
    pub(super) session: SessionRecord,
    pub(super) secret: String,
    pub(super) credential: String,
    pub(super) unit: String,
}

pub(super) fn meta() -> RequestMeta {
    RequestMeta::default()
}

pub(super) async fn world() -> World {
    let mut p = crate::testkit::provider(T0 - 1000).await;
    p.config.pki.organization = "UBND Thành phố Hải Phòng".into();
    let unit = add_unit(&p, "Sở Nội vụ", T0 - 1000).await;
    let official = add_user(&p, "an.nv", Some(&unit.id), &[], T0 - 1000).await;
    let actor = Actor::new("cli:test");
    init_ca(
        &p,
        &actor,
        CaInit::new("UBND Thành phố Hải Phòng"),
        T0 - 1000,
    )
    .await
    .unwrap();
    let c = create_credential(
        &p,
        &actor,
        CredentialRequest {
            user: official.id.clone(),
            alg: KeyType::P256,
            title: Some("Giám đốc".into()),
        },
        "internal",
        T0 - 1000,
    )
    .await
    .unwrap();
    let credential = issue_internal(&p, &actor, &c.id, T0 - 1000)
        .await
        .unwrap()
        .id;
    let e = totp::begin(&p, &official, "s", T0 - 900).await.unwrap();
    let code = totp::code_at(&e.secret_base32, T0 - 900).unwrap();
    totp::confirm(&p, &official, &code, "s", &meta(), T0 - 900)
        .await
        .unwrap();
    let (_, (session, _)) = session(&p, &official, T0 - 800).await;
    confidential_client(&p, "vanban", None, T0 - 1000).await;
    World {
        p,
        official,
        session,
        secret: e.secret_base32,
        credential,
        unit: unit.id,
    }
}

fn pdf_doc(name: &str) -> NewDocument {
    NewDocument {
        name: name.into(),
        pdf: Some(STANDARD.encode(std::fs::read(PDF).unwrap())),
        appearance: Some(Appearance {
            anchor: Some("Phạm Đức Minh".into()),
            ..Appearance::default()
        }),
        ..NewDocument::default()
    }
}

fn body(documents: Vec<NewDocument>) -> NewSigningRequest {
    NewSigningRequest {
        title: "Quyết định bổ nhiệm".into(),
        signer: Some("an.nv".into()),
        documents,
        callback_uri: Some("https://vanban.test/hook".into()),
        ..NewSigningRequest::default()
    }
}

async fn submitted(w: &World, documents: Vec<NewDocument>) -> String {
    super::permissions::allow(&w.p, &Actor::new("cli:test"), "vanban", &w.unit, T0)
        .await
        .unwrap();
    submit(
        &w.p,
        Requester::Application {
            client_id: "vanban",
        },
        &body(documents),
        Purpose::Sign,
        &meta(),
        T0,
    )
    .await
    .unwrap()
    .id
}

async fn approved(w: &World, id: &str, at: i64) -> String {
    let code = totp::code_at(&w.secret, at).unwrap();
    match approve(
        &w.p,
        &w.official,
        &w.session,
        id,
        FactorInput::Totp(&code),
        &meta(),
        at,
    )
    .await
    .unwrap()
    {
        Approval::Approved { sad: Some(sad) } => sad,
        other => panic!("not approved: {other:?}"),
    }
}

#[tokio::test]
async fn an_approved_batch_is_signed_and_only_once() {
    let w = world().await;
    let data = b"Cong van so 45/SNV-VP".to_vec();
    let digest = tessera_hsm::HashAlg::Sha256.digest(b"precomputed");
    let id = submitted(
        &w,
        vec![
            pdf_doc("qd.pdf"),
            NewDocument {
                name: "cv.txt".into(),
                data: Some(STANDARD.encode(&data)),
                ..NewDocument::default()
            },
            NewDocument {
                name: "h".into(),
                hash: Some(STANDARD.encode(&digest)),
                hash_alg: Some("sha256".into()),
                result: Some("raw".into()),
                ..NewDocument::default()
            },
            // The same PDF twice is two signatures, each approved.
            pdf_doc("qd-copy.pdf"),
        ],
    )
    .await;
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Pending);
    assert_eq!(v.signer, "an.nv");
    assert_eq!(v.documents.len(), 4);
    // The contents are sealed at rest, not stored in clear.
    let stored =
        w.p.store
            .signing_document_content(&id, 1)
            .await
            .unwrap()
            .unwrap();
    assert!(!stored.windows(data.len()).any(|win| win == data.as_slice()));

    let sad = approved(&w, &id, T0 + 10).await;
    let (signed, failed) = sign_request(&w.p, &id, &sad, "replica-a", &meta(), T0 + 11)
        .await
        .unwrap();
    assert_eq!((signed, failed), (4, 0));
    let v = view(&w.p, Viewer::Signer(&w.official.id), &id)
        .await
        .unwrap();
    assert_eq!(v.status(), Status::Signed);
    assert_eq!(v.request.factor.as_deref(), Some("totp"));
    assert_eq!(v.request.replica.as_deref(), Some("replica-a"));

    let (pdf, media) = result(&w.p, Viewer::Client("vanban"), &id, 0, T0 + 12)
        .await
        .unwrap();
    assert_eq!(media, "application/pdf");
    let report = crate::verify::verify(
        &w.p,
        crate::verify::Input::Pdf(&pdf),
        &crate::verify::Trust::default(),
        T0 + 12,
    )
    .await
    .unwrap();
    assert_eq!(
        report.overall,
        Some(crate::verify::Indication::TotalPassed),
        "{report:?}"
    );
    let (cms, media) = result(&w.p, Viewer::Client("vanban"), &id, 1, T0 + 12)
        .await
        .unwrap();
    assert_eq!(media, "application/pkcs7-signature");
    let report = crate::verify::verify(
        &w.p,
        crate::verify::Input::Detached {
            cms: &cms,
            content: &data,
        },
        &crate::verify::Trust::default(),
        T0 + 12,
    )
    .await
    .unwrap();
    assert_eq!(report.overall, Some(crate::verify::Indication::TotalPassed));
    let (raw, media) = result(&w.p, Viewer::Client("vanban"), &id, 2, T0 + 12)
        .await
        .unwrap();
    assert_eq!(media, "application/octet-stream");
    assert_eq!(raw[0], 0x30, "an ECDSA signature in DER");

    // The SAD is spent: presenting it again for the same document is a replay.
    let entry = [sad::entry(
        tessera_hsm::HashAlg::Sha256,
        &v.documents[0].digest,
        Some(0),
    )];
    let replay = sad::redeem(
        &w.p,
        &Presented {
            sad: &sad,
            credential_id: &w.credential,
            client_id: "vanban",
            entries: &entry,
        },
        &meta(),
        T0 + 13,
    )
    .await;
    assert!(
        matches!(replay, Err(RemoteError::Sad(SadError::Replayed(_)))),
        "{replay:?}"
    );
    // A hash nobody approved is refused with its own error.
    let other = [sad::entry(tessera_hsm::HashAlg::Sha256, &[7; 32], Some(0))];
    let r = sad::redeem(
        &w.p,
        &Presented {
            sad: &sad,
            credential_id: &w.credential,
            client_id: "vanban",
            entries: &other,
        },
        &meta(),
        T0 + 13,
    )
    .await;
    assert!(
        matches!(r, Err(RemoteError::Sad(SadError::HashNotAuthorized(_)))),
        "{r:?}"
    );
    // After the SAD's five minutes it is expired.
    let r = sad::redeem(
        &w.p,
        &Presented {
            sad: &sad,
            credential_id: &w.credential,
            client_id: "vanban",
            entries: &entry,
        },
        &meta(),
        T0 + 10 + 300,
    )
    .await;
    assert!(
        matches!(r, Err(RemoteError::Sad(SadError::Expired))),
        "{r:?}"
    );
    let audit = w.p.store.recent_audit(100).await.unwrap();
    let count = |name: &str| audit.iter().filter(|e| e.event == name).count();
    assert_eq!(count("signing.request.created"), 1);
    assert_eq!(count("signing.request.approved"), 1);
    assert_eq!(count("signing.document.signed"), 4);
    assert_eq!(count("signing.sad.refused"), 3);
    // The outcome webhook is queued.
    assert!(
        !w.p.store
            .enqueue_signing_webhook(
                &id,
                "signed",
                "vanban",
                "https://vanban.test/hook",
                T0,
                T0 + 1
            )
            .await
            .unwrap(),
        "already queued"
    );
}

#[tokio::test]
async fn a_wrong_code_approves_nothing_and_a_rejection_is_final() {
    let w = world().await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let right = totp::code_at(&w.secret, T0 + 10).unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = approve(
        &w.p,
        &w.official,
        &w.session,
        &id,
        FactorInput::Totp(wrong),
        &meta(),
        T0 + 10,
    )
    .await
    .unwrap();
    assert!(matches!(r, Approval::Refused(_)), "{r:?}");
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Pending);
    reject(&w.p, &w.official, &id, &meta(), T0 + 20)
        .await
        .unwrap();
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Rejected);
    let again = approve(
        &w.p,
        &w.official,
        &w.session,
        &id,
        FactorInput::Totp(&right),
        &meta(),
        T0 + 30,
    )
    .await;
    assert!(
        matches!(again, Err(RemoteError::WrongState(_))),
        "{again:?}"
    );
    let audit = w.p.store.recent_audit(100).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "signing.request.refused"));
    assert!(audit.iter().any(|e| e.event == "signing.request.rejected"));
}

#[tokio::test]
async fn requests_are_private_expire_and_can_be_cancelled() {
    let w = world().await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let other = add_user(&w.p, "binh.tt", Some(&w.unit), &[], T0).await;
    let (_, (other_session, _)) = session(&w.p, &other, T0).await;
    // Another person's request does not exist for them; another client's neither.
    let r = view(&w.p, Viewer::Signer(&other.id), &id).await;
    assert!(matches!(r, Err(RemoteError::NotFound(_))), "{r:?}");
    let r = approve(
        &w.p,
        &other,
        &other_session,
        &id,
        FactorInput::Totp("123456"),
        &meta(),
        T0 + 1,
    )
    .await;
    assert!(matches!(r, Err(RemoteError::NotFound(_))), "{r:?}");
    let r = view(&w.p, Viewer::Client("other-app"), &id).await;
    assert!(matches!(r, Err(RemoteError::NotFound(_))), "{r:?}");

    // Past its time the request expires, and approving it is refused.
    let late = T0 + 901;
    let code = totp::code_at(&w.secret, late).unwrap();
    let r = approve(
        &w.p,
        &w.official,
        &w.session,
        &id,
        FactorInput::Totp(&code),
        &meta(),
        late,
    )
    .await;
    assert!(matches!(r, Err(RemoteError::WrongState(_))), "{r:?}");
    assert_eq!(
        view(&w.p, Viewer::Client("vanban"), &id)
            .await
            .unwrap()
            .status(),
        Status::Expired
    );

    let id2 = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let v = cancel(&w.p, "vanban", &id2, &meta(), T0 + 5).await.unwrap();
    assert_eq!(v.status(), Status::Cancelled);
    assert!(matches!(
        cancel(&w.p, "vanban", &id2, &meta(), T0 + 6).await,
        Err(RemoteError::WrongState(_))
    ));
}

#[tokio::test]
async fn a_credential_suspended_after_approval_signs_nothing() {
    let w = world().await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    let sad = approved(&w, &id, T0 + 10).await;
    crate::pki::credential::suspend(&w.p, &Actor::new("cli:test"), &w.credential, T0 + 11)
        .await
        .unwrap();
    let (signed, failed) = sign_request(&w.p, &id, &sad, "r", &meta(), T0 + 12)
        .await
        .unwrap();
    assert_eq!((signed, failed), (0, 1));
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Failed);
    let why = v.documents[0].error.clone().unwrap();
    assert!(why.contains("suspended"), "{why}");
}

#[tokio::test]
async fn bad_submissions_are_refused_with_their_reason() {
    let w = world().await;
    let app = Requester::Application {
        client_id: "vanban",
    };
    // Without the unit's permission the application may not name a signer.
    let r = submit(
        &w.p,
        app,
        &body(vec![pdf_doc("a.pdf")]),
        Purpose::Sign,
        &meta(),
        T0,
    )
    .await;
    assert!(matches!(r, Err(RemoteError::Forbidden(_))), "{r:?}");
    super::permissions::allow(&w.p, &Actor::new("cli:test"), "vanban", &w.unit, T0)
        .await
        .unwrap();
    // An unknown signer gets the same answer as one outside the allowed units.
    let mut b = body(vec![pdf_doc("a.pdf")]);
    b.signer = Some("nobody".into());
    let r = submit(&w.p, app, &b, Purpose::Sign, &meta(), T0).await;
    assert!(matches!(r, Err(RemoteError::Forbidden(_))), "{r:?}");

    let not_pdf = NewDocument {
        name: "x.pdf".into(),
        pdf: Some(STANDARD.encode(b"hello")),
        ..NewDocument::default()
    };
    let r = submit(&w.p, app, &body(vec![not_pdf]), Purpose::Sign, &meta(), T0).await;
    assert!(
        matches!(&r, Err(RemoteError::Invalid(m)) if m.contains("not a PDF")),
        "{r:?}"
    );

    let mut p = w.p.clone();
    p.config.signing.max_document_bytes = 1000;
    let r = submit(
        &p,
        app,
        &body(vec![pdf_doc("big.pdf")]),
        Purpose::Sign,
        &meta(),
        T0,
    )
    .await;
    assert!(matches!(r, Err(RemoteError::TooLarge(_))), "{r:?}");

    let r = submit(&w.p, app, &body(vec![]), Purpose::Sign, &meta(), T0).await;
    assert!(matches!(r, Err(RemoteError::Invalid(_))), "{r:?}");
    let two = NewDocument {
        data: Some(STANDARD.encode(b"x")),
        ..pdf_doc("two.pdf")
    };
    let r = submit(&w.p, app, &body(vec![two]), Purpose::Sign, &meta(), T0).await;
    assert!(matches!(r, Err(RemoteError::Invalid(_))), "{r:?}");
    let mut b = body(vec![pdf_doc("a.pdf")]);
    b.callback_uri = Some("http://evil.example/hook".into());
    let r = submit(&w.p, app, &b, Purpose::Sign, &meta(), T0).await;
    assert!(matches!(r, Err(RemoteError::Invalid(_))), "{r:?}");
    let mut b = body(vec![pdf_doc("a.pdf")]);
    b.expires_in = Some(2 * 86_400);
    let r = submit(&w.p, app, &b, Purpose::Sign, &meta(), T0).await;
    assert!(matches!(r, Err(RemoteError::Invalid(_))), "{r:?}");

    // The official's own token names nobody else.
    let mut b = body(vec![pdf_doc("a.pdf")]);
    b.signer = Some("binh.tt".into());
    let r = submit(
        &w.p,
        Requester::Official {
            user_id: &w.official.id,
            client_id: "vanban",
        },
        &b,
        Purpose::Sign,
        &meta(),
        T0,
    )
    .await;
    assert!(matches!(r, Err(RemoteError::Forbidden(_))), "{r:?}");
    let audit = w.p.store.recent_audit(100).await.unwrap();
    assert!(
        audit
            .iter()
            .filter(|e| e.event == "signing.request.refused")
            .count()
            >= 8
    );
}

#[tokio::test]
async fn an_authorization_hands_its_sad_to_the_client_once() {
    let w = world().await;
    let digest = tessera_hsm::HashAlg::Sha256.digest(b"csc");
    let r = submit(
        &w.p,
        Requester::Official {
            user_id: &w.official.id,
            client_id: "vanban",
        },
        &NewSigningRequest {
            title: "CSC".into(),
            documents: vec![NewDocument {
                name: "hash 1".into(),
                hash: Some(STANDARD.encode(&digest)),
                hash_alg: Some("sha256".into()),
                ..NewDocument::default()
            }],
            ..NewSigningRequest::default()
        },
        Purpose::Authorize,
        &meta(),
        T0,
    )
    .await
    .unwrap();
    assert_eq!(take_sad(&w.p, "vanban", &r.id).await.unwrap(), None);
    let code = totp::code_at(&w.secret, T0 + 10).unwrap();
    let a = approve(
        &w.p,
        &w.official,
        &w.session,
        &r.id,
        FactorInput::Totp(&code),
        &meta(),
        T0 + 10,
    )
    .await
    .unwrap();
    assert!(matches!(a, Approval::Approved { sad: None }), "{a:?}");
    let sad = take_sad(&w.p, "vanban", &r.id).await.unwrap().unwrap();
    assert_eq!(take_sad(&w.p, "vanban", &r.id).await.unwrap(), None);
    // A CSC client presents the bare hash.
    let entries = [sad::entry(tessera_hsm::HashAlg::Sha256, &digest, None)];
    sad::redeem(
        &w.p,
        &Presented {
            sad: &sad,
            credential_id: &w.credential,
            client_id: "vanban",
            entries: &entries,
        },
        &meta(),
        T0 + 11,
    )
    .await
    .unwrap();
}

/// The official's review: the application's name, the credential with its subject and
/// validity (and why it cannot sign once suspended), the PDF's own bytes and nothing else;
/// an undecided request past its time reads as expired; someone else sees nothing.
#[tokio::test]
async fn the_official_reviews_the_request_and_its_credential() {
    let w = world().await;
    let data = NewDocument {
        name: "data".into(),
        data: Some(STANDARD.encode(b"<html>x</html>")),
        ..NewDocument::default()
    };
    let id = submitted(&w, vec![pdf_doc("qd.pdf"), data]).await;
    let r = review::review(&w.p, &w.official.id, &id, T0 + 1)
        .await
        .unwrap();
    assert_eq!(r.client_name, "Ứng dụng vanban");
    assert_eq!(r.view.status(), Status::Pending);
    assert_eq!(r.credential.id, w.credential);
    assert!(
        r.credential.subject.contains("CN="),
        "{}",
        r.credential.subject
    );
    assert!(!r.credential.serial.is_empty());
    assert!(r.credential.not_after.unwrap() > T0);
    assert_eq!(r.credential.unusable, None);

    let pdf = review::original_pdf(&w.p, &w.official.id, &id, 0)
        .await
        .unwrap();
    assert_eq!(pdf, std::fs::read(PDF).unwrap());
    for (user, idx) in [
        (w.official.id.as_str(), 1),
        (w.official.id.as_str(), 2),
        ("someone", 0),
    ] {
        assert!(matches!(
            review::original_pdf(&w.p, user, &id, idx).await,
            Err(RemoteError::NotFound(_))
        ));
    }
    assert!(matches!(
        review::review(&w.p, "someone", &id, T0 + 1).await,
        Err(RemoteError::NotFound(_))
    ));

    crate::pki::credential::suspend(&w.p, &Actor::new("cli:test"), &w.credential, T0 + 2)
        .await
        .unwrap();
    let r = review::review(&w.p, &w.official.id, &id, T0 + 3)
        .await
        .unwrap();
    assert!(r.credential.unusable.unwrap().contains("suspended"));

    let expires = r.view.request.expires_at;
    let r = review::review(&w.p, &w.official.id, &id, expires)
        .await
        .unwrap();
    assert_eq!(r.view.status(), Status::Expired);

    let h = review::history(&w.p, &w.official.id, 10).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].request.id, id);
    assert_eq!(h[0].request.status, "expired");
    assert!(
        review::history(&w.p, "someone", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A credential suspended before the decision: approving is refused as unusable before the
/// code is looked at (it stays usable), and the request stays pending.
#[tokio::test]
async fn approving_with_an_unusable_credential_is_refused_first() {
    let w = world().await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    crate::pki::credential::suspend(&w.p, &Actor::new("cli:test"), &w.credential, T0 + 5)
        .await
        .unwrap();
    let code = totp::code_at(&w.secret, T0 + 10).unwrap();
    let refused = approve(
        &w.p,
        &w.official,
        &w.session,
        &id,
        FactorInput::Totp(&code),
        &meta(),
        T0 + 10,
    )
    .await;
    assert!(matches!(refused, Err(RemoteError::Unusable(ref m)) if m.contains("suspended")));
    let v = view(&w.p, Viewer::Signer(&w.official.id), &id)
        .await
        .unwrap();
    assert_eq!(v.status(), Status::Pending);
    crate::pki::credential::resume(&w.p, &Actor::new("cli:test"), &w.credential, T0 + 11)
        .await
        .unwrap();
    approved(&w, &id, T0 + 10).await;
}

#[tokio::test]
async fn an_interrupted_signing_ends_once_its_sad_expired() {
    let w = world().await;
    let id = submitted(&w, vec![pdf_doc("qd.pdf")]).await;
    // Approved, but the replica that was to sign stopped before it began.
    let _sad = approved(&w, &id, T0 + 10).await;
    let (expired, _) = lifecycle::housekeeping(&w.p, T0 + 20).await.unwrap();
    assert_eq!(expired, 0);
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Approved, "the SAD still runs");
    lifecycle::housekeeping(&w.p, T0 + 10 + w.p.config.signing.sad_ttl + 61)
        .await
        .unwrap();
    let v = view(&w.p, Viewer::Client("vanban"), &id).await.unwrap();
    assert_eq!(v.status(), Status::Failed);
    assert_eq!(
        v.documents[0].error.as_deref(),
        Some(lifecycle::INTERRUPTED)
    );
}

#[path = "webhook_tests.rs"]
mod webhook_tests;
