//! The CSC API on a provider with an in-memory database and the software token: each
//! refusal (token, credential state, OTP, SAD) is its own error, and what is signed verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_hsm::{EcdsaForm, HashAlg, SignScheme};
use tessera_proto::csc::{
    AuthorizeRequest, ListRequest, SignDocDocument, SignDocRequest, SignHashRequest,
};

use super::super::approval::{Approval, approve, reject};
use super::super::sad::SadError;
use super::super::tests::{PDF, World, meta, world};
use super::authorize::{Authorized, authorize, check};
use super::credentials::{info, list};
use super::sign::{sign_doc, sign_hash};
use super::*;
use crate::mfa::prove::FactorInput;
use crate::mfa::totp;
use crate::oidc::issue::{AccessGrant, Authn, recorded_access_token};
use crate::pki::{Actor, RevocationReason};
use crate::testkit::T0;

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// An access token of `vanban` for the official, with `scope`.
async fn token(w: &World, scope: &str, user: bool) -> String {
    let client = w.p.store.client("vanban").await.unwrap().unwrap();
    let amr = vec!["pwd".to_owned()];
    let authn = Authn {
        user: &w.official,
        session_id: Some(&w.session.id),
        sid: Some(&w.session.sid),
        auth_time: w.session.auth_time,
        acr: &w.session.acr,
        amr: &amr,
    };
    recorded_access_token(
        &w.p,
        &AccessGrant {
            client: &client,
            authn: user.then_some(authn),
            scope,
            code_id: None,
            family_id: None,
        },
        T0,
    )
    .await
    .unwrap()
}

async fn official(w: &World) -> CscCaller {
    caller(&w.p, &token(w, "openid service", true).await, T0)
        .await
        .unwrap()
}

fn digests(n: u8) -> Vec<Vec<u8>> {
    (1..=n).map(|i| HashAlg::Sha256.digest(&[i])).collect()
}

fn b64(ds: &[Vec<u8>]) -> Vec<String> {
    ds.iter().map(|d| STANDARD.encode(d)).collect()
}

fn authorize_req(w: &World, ds: &[Vec<u8>], otp: Option<String>) -> AuthorizeRequest {
    AuthorizeRequest {
        credential_id: w.credential.clone(),
        num_signatures: ds.len() as u32,
        hashes: Some(b64(ds)),
        hash_algorithm_oid: Some(SHA256.into()),
        otp,
        ..AuthorizeRequest::default()
    }
}

async fn sad_for(w: &World, c: &CscCaller, ds: &[Vec<u8>]) -> String {
    let otp = totp::code_at(&w.secret, T0).unwrap();
    match authorize(&w.p, c, &authorize_req(w, ds, Some(otp)), &meta(), T0)
        .await
        .unwrap()
    {
        Authorized::Sad { sad, expires_in } => {
            assert_eq!(expires_in, 300);
            sad
        }
        other => panic!("{other:?}"),
    }
}

fn sign_req(w: &World, sad: &str, ds: &[Vec<u8>]) -> SignHashRequest {
    SignHashRequest {
        credential_id: w.credential.clone(),
        sad: sad.into(),
        hashes: b64(ds),
        hash_algorithm_oid: None,
        sign_algo: ECDSA_SHA256.into(),
        ..SignHashRequest::default()
    }
}

#[tokio::test]
async fn only_the_officials_token_with_scope_service_calls_it() {
    let w = world().await;
    let c = official(&w).await;
    assert_eq!(c.user.id, w.official.id);
    assert_eq!(c.client_id, "vanban");
    let no_scope = token(&w, "openid profile", true).await;
    assert!(matches!(
        caller(&w.p, &no_scope, T0).await,
        Err(CscError::InsufficientScope(_))
    ));
    let app = token(&w, "service", false).await;
    assert!(matches!(
        caller(&w.p, &app, T0).await,
        Err(CscError::InsufficientScope(_))
    ));
    assert!(matches!(
        caller(&w.p, "garbage", T0).await,
        Err(CscError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn credentials_are_listed_and_described_signer_first() {
    let w = world().await;
    let c = official(&w).await;
    let listed = list(&w.p, &c, &ListRequest::default(), T0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, w.credential);
    let i = info(&w.p, &c, &w.credential, Some("chain"), true, true, T0)
        .await
        .unwrap();
    let usable = crate::pki::usable_credential(&w.p, &w.credential, T0)
        .await
        .unwrap();
    assert_eq!(i.cert.certificates.len(), 1 + usable.chain.len());
    assert_eq!(i.cert.certificates[0], STANDARD.encode(&usable.cert_der));
    assert!(i.key.algo.contains(&ECDSA_SHA256.to_owned()));
    assert_eq!((i.key.len, i.key.status.as_str()), (256, "enabled"));
    assert_eq!((i.scal.as_str(), i.multisign), ("2", 100));
    assert_eq!(i.auth.unwrap().mode, "explicit");
    assert_eq!(i.cert.status, "valid");
    assert!(i.cert.valid_to.unwrap().ends_with('Z'));
    // Someone else's or an unknown credential: the same answer.
    assert!(matches!(
        info(&w.p, &c, "nope", None, false, false, T0).await,
        Err(CscError::Invalid(_))
    ));
}

#[tokio::test]
async fn otp_then_sign_hash_and_each_sad_refusal() {
    let w = world().await;
    let c = official(&w).await;
    let ds = digests(3);
    let sad = sad_for(&w, &c, &ds).await;
    // Two of the three now: each verifies against the certificate's key.
    let first = sign_req(&w, &sad, &ds[..2]);
    let sigs = sign_hash(&w.p, &c, &first, &meta(), T0 + 1).await.unwrap();
    assert_eq!(sigs.len(), 2);
    let usable = crate::pki::usable_credential(&w.p, &w.credential, T0)
        .await
        .unwrap();
    let cert = <x509_cert::Certificate as der::Decode>::from_der(&usable.cert_der).unwrap();
    let spki = der::Encode::to_der(cert.tbs_certificate().subject_public_key_info()).unwrap();
    for (d, s) in ds.iter().zip(&sigs) {
        tessera_hsm::x509::verify_digest(
            SignScheme::Ecdsa(HashAlg::Sha256, EcdsaForm::Der),
            &spki,
            d,
            s,
        )
        .unwrap();
    }
    // Replay.
    let again = sign_hash(&w.p, &c, &first, &meta(), T0 + 2).await;
    assert!(matches!(again, Err(CscError::Sad(SadError::Replayed(_)))));
    // A hash the official did not authorize.
    let other = sign_req(&w, &sad, &digests(4)[3..]);
    let refused = sign_hash(&w.p, &c, &other, &meta(), T0 + 2).await;
    assert!(matches!(
        refused,
        Err(CscError::Sad(SadError::HashNotAuthorized(_)))
    ));
    // The third, too late.
    let late = sign_hash(&w.p, &c, &sign_req(&w, &sad, &ds[2..]), &meta(), T0 + 300).await;
    assert!(matches!(late, Err(CscError::Sad(SadError::Expired))));
    // The words differ for each.
    let words: Vec<String> = [again, refused, late]
        .into_iter()
        .map(|r| r.unwrap_err().to_string())
        .collect();
    assert!(words[0] != words[1] && words[1] != words[2] && words[0] != words[2]);
}

#[tokio::test]
async fn sign_algo_must_fit_and_agree() {
    let w = world().await;
    let c = official(&w).await;
    let ds = digests(1);
    let sad = sad_for(&w, &c, &ds).await;
    let mut rsa = sign_req(&w, &sad, &ds);
    rsa.sign_algo = "1.2.840.113549.1.1.11".into();
    assert!(matches!(
        sign_hash(&w.p, &c, &rsa, &meta(), T0).await,
        Err(CscError::Invalid(_))
    ));
    let mut clash = sign_req(&w, &sad, &ds);
    clash.hash_algorithm_oid = Some("2.16.840.1.101.3.4.2.3".into());
    assert!(matches!(
        sign_hash(&w.p, &c, &clash, &meta(), T0).await,
        Err(CscError::Invalid(_))
    ));
    // The plain key OID with v1's hashAlgo works; nothing was spent by the refusals.
    let mut plain = sign_req(&w, &sad, &ds);
    plain.sign_algo = "1.2.840.10045.2.1".into();
    plain.hash_algorithm_oid = Some(SHA256.into());
    assert_eq!(
        sign_hash(&w.p, &c, &plain, &meta(), T0)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_wrong_otp_and_missing_hashes_are_refused() {
    let w = world().await;
    let c = official(&w).await;
    let ds = digests(1);
    let wrong = authorize(
        &w.p,
        &c,
        &authorize_req(&w, &ds, Some("000000".into())),
        &meta(),
        T0,
    )
    .await;
    assert!(matches!(wrong, Err(CscError::Otp(_))));
    let mut no_hashes = authorize_req(&w, &ds, Some("000000".into()));
    no_hashes.hashes = None;
    assert!(matches!(
        authorize(&w.p, &c, &no_hashes, &meta(), T0).await,
        Err(CscError::Invalid(_))
    ));
    let mut count = authorize_req(&w, &ds, None);
    count.num_signatures = 2;
    assert!(matches!(
        authorize(&w.p, &c, &count, &meta(), T0).await,
        Err(CscError::Invalid(_))
    ));
}

#[tokio::test]
async fn suspended_and_revoked_credentials_have_their_own_errors() {
    let w = world().await;
    let c = official(&w).await;
    let ds = digests(1);
    let sad = sad_for(&w, &c, &ds).await;
    let actor = Actor::new("cli:test");
    crate::pki::suspend(&w.p, &actor, &w.credential, T0 + 1)
        .await
        .unwrap();
    let suspended = sign_hash(&w.p, &c, &sign_req(&w, &sad, &ds), &meta(), T0 + 2).await;
    assert!(matches!(suspended, Err(CscError::Suspended(_))));
    let i = info(&w.p, &c, &w.credential, None, false, false, T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        (i.cert.status.as_str(), i.key.status.as_str()),
        ("suspended", "disabled")
    );
    crate::pki::revoke(
        &w.p,
        &actor,
        &w.credential,
        RevocationReason::KeyCompromise,
        T0 + 3,
    )
    .await
    .unwrap();
    let revoked = sign_hash(&w.p, &c, &sign_req(&w, &sad, &ds), &meta(), T0 + 4).await;
    assert!(matches!(revoked, Err(CscError::Revoked(..))));
    let otp = totp::code_at(&w.secret, T0 + 30).unwrap();
    let authorize_revoked = authorize(
        &w.p,
        &c,
        &authorize_req(&w, &ds, Some(otp)),
        &meta(),
        T0 + 30,
    )
    .await;
    assert!(matches!(authorize_revoked, Err(CscError::Revoked(..))));
    let listed = list(
        &w.p,
        &c,
        &ListRequest {
            only_valid: true,
            ..ListRequest::default()
        },
        T0 + 4,
    )
    .await
    .unwrap();
    assert!(listed.is_empty());
}

async fn status(w: &World, request_id: &str) -> String {
    w.p.store
        .signing_request(request_id)
        .await
        .unwrap()
        .unwrap()
        .status
}

#[tokio::test]
async fn without_otp_the_official_approves_and_the_sad_is_handed_out_once() {
    let w = world().await;
    let c = official(&w).await;
    let ds = digests(2);
    let Authorized::Pending { request_id, .. } =
        authorize(&w.p, &c, &authorize_req(&w, &ds, None), &meta(), T0)
            .await
            .unwrap()
    else {
        panic!("expected a pending authorization");
    };
    assert_eq!(check(&w.p, &c, &request_id, T0 + 1).await.unwrap(), None);
    let code = totp::code_at(&w.secret, T0 + 30).unwrap();
    let approved = approve(
        &w.p,
        &w.official,
        &w.session,
        &request_id,
        FactorInput::Totp(&code),
        &meta(),
        T0 + 30,
    )
    .await
    .unwrap();
    assert!(matches!(approved, Approval::Approved { sad: None }));
    let (sad, expires_in) = check(&w.p, &c, &request_id, T0 + 31)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expires_in, 299);
    assert!(matches!(
        check(&w.p, &c, &request_id, T0 + 32).await,
        Err(CscError::RequestEnded(_))
    ));
    // Signed hash by hash: the request stays approved until the last one, then is signed.
    let sigs = sign_hash(&w.p, &c, &sign_req(&w, &sad, &ds[..1]), &meta(), T0 + 33)
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(status(&w, &request_id).await, "approved");
    let sigs = sign_hash(&w.p, &c, &sign_req(&w, &sad, &ds[1..]), &meta(), T0 + 34)
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(status(&w, &request_id).await, "signed");
    let docs = w.p.store.signing_documents(&request_id).await.unwrap();
    assert!(docs.iter().all(|d| d.status == "signed"), "{docs:?}");
    assert!(matches!(
        check(&w.p, &c, &request_id, T0 + 35).await,
        Err(CscError::RequestEnded(m)) if m.contains("signed")
    ));

    // One whose SAD the client never used ends expired once the SAD has lapsed.
    let Authorized::Pending {
        request_id: unused, ..
    } = authorize(
        &w.p,
        &c,
        &authorize_req(&w, &digests(3), None),
        &meta(),
        T0 + 36,
    )
    .await
    .unwrap()
    else {
        panic!("expected a pending authorization");
    };
    let code = totp::code_at(&w.secret, T0 + 60).unwrap();
    approve(
        &w.p,
        &w.official,
        &w.session,
        &unused,
        FactorInput::Totp(&code),
        &meta(),
        T0 + 60,
    )
    .await
    .unwrap();
    super::super::lifecycle::housekeeping(&w.p, T0 + 60 + 300)
        .await
        .unwrap();
    assert_eq!(status(&w, &unused).await, "approved");
    super::super::lifecycle::housekeeping(&w.p, T0 + 60 + 361)
        .await
        .unwrap();
    assert_eq!(status(&w, &unused).await, "expired");
    let docs = w.p.store.signing_documents(&unused).await.unwrap();
    assert!(docs.iter().all(|d| d.status == "failed"), "{docs:?}");
    assert!(matches!(
        check(&w.p, &c, &unused, T0 + 362).await,
        Err(CscError::RequestEnded(m)) if m.contains("expired")
    ));

    // A rejected one.
    let Authorized::Pending { request_id, .. } = authorize(
        &w.p,
        &c,
        &authorize_req(&w, &digests(1), None),
        &meta(),
        T0 + 40,
    )
    .await
    .unwrap() else {
        panic!("expected a pending authorization");
    };
    reject(&w.p, &w.official, &request_id, &meta(), T0 + 41)
        .await
        .unwrap();
    assert!(matches!(
        check(&w.p, &c, &request_id, T0 + 42).await,
        Err(CscError::Denied(_))
    ));
}

#[tokio::test]
async fn sign_doc_signs_the_authorized_pdf_only() {
    let w = world().await;
    let c = official(&w).await;
    let pdf = std::fs::read(PDF).unwrap();
    let sad = sad_for(&w, &c, &[HashAlg::Sha256.digest(&pdf)]).await;
    let doc = |bytes: &[u8]| SignDocRequest {
        credential_id: w.credential.clone(),
        sad: sad.clone(),
        documents: vec![SignDocDocument {
            document: STANDARD.encode(bytes),
            signature_format: Some("P".into()),
            conformance_level: Some("Ades-B-B".into()),
        }],
    };
    let mut other = pdf.clone();
    other.extend_from_slice(b"\n% changed\n");
    assert!(matches!(
        sign_doc(&w.p, &c, &doc(&other), &meta(), T0 + 1).await,
        Err(CscError::Sad(SadError::HashNotAuthorized(_)))
    ));
    let signed = sign_doc(&w.p, &c, &doc(&pdf), &meta(), T0 + 1)
        .await
        .unwrap();
    assert_eq!(signed.len(), 1);
    assert!(signed[0].starts_with(&pdf) && signed[0].len() > pdf.len());
    assert!(
        signed[0]
            .windows(9)
            .any(|x| x == b"/ByteRange"[..9].as_ref())
    );
}
