//! Tests of the certificate functions against a provider on an in-memory database (software
//! token). The OpenSSL checks of the same certificates, CRLs and OCSP answers are in the
//! end-to-end tests (`tests/tests/e2e/pki.rs`).

use der::{Decode, Encode};
use tessera_hsm::KeyType;
use tessera_store::pki::{CredentialFilter, CredentialStatus};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use super::credential::{RevocationReason, expiry_housekeeping};
use super::*;
use crate::testkit::{add_unit, add_user, provider};

const NOW: i64 = 1_800_000_000;

async fn world() -> (crate::Provider, Actor, String) {
    let mut p = provider(NOW).await;
    p.config.pki.organization = "UBND Thành phố Hải Phòng".into();
    let unit = add_unit(&p, "Sở Tư pháp", NOW).await;
    let user = add_user(&p, "an.nv", Some(&unit.id), &[], NOW).await;
    let actor = Actor::new("cli:test");
    let mut init = CaInit::new("UBND Thành phố Hải Phòng");
    init.base_url = Some("https://id.haiphong.gov.vn/".into());
    init_ca(&p, &actor, init, NOW).await.unwrap();
    (p, actor, user.id)
}

async fn issue(p: &crate::Provider, actor: &Actor, user: &str, now: i64) -> String {
    let req = CredentialRequest {
        user: user.into(),
        alg: KeyType::P256,
        title: Some("Phó Giám đốc".into()),
    };
    let c = create_credential(p, actor, req, "internal", now)
        .await
        .unwrap();
    issue_internal(p, actor, &c.id, now).await.unwrap().id
}

fn verify(signed: &[u8], sig: &[u8], issuer_der: &[u8]) {
    let issuer = Certificate::from_der(issuer_der).unwrap();
    let spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    tessera_hsm::x509::verify(KeyType::P256.x509_scheme(), &spki, signed, sig).unwrap();
}

#[tokio::test]
async fn issued_certificate_chains_to_the_ca_and_names_the_official() {
    let (p, actor, user) = world().await;
    let id = issue(&p, &actor, &user, NOW).await;
    let usable = usable_credential(&p, &id, NOW).await.unwrap();
    assert_eq!(usable.chain.len(), 2, "issuing CA and root");
    let cert = Certificate::from_der(&usable.cert_der).unwrap();
    let tbs = cert.tbs_certificate();
    verify(
        &tbs.to_der().unwrap(),
        cert.signature().raw_bytes(),
        &usable.chain[0],
    );
    let subject = tbs.subject().to_string();
    for part in [
        "CN=Nguyễn Văn An",
        "OU=Sở Tư pháp",
        "O=UBND Thành phố Hải Phòng",
        "C=VN",
    ] {
        assert!(subject.contains(part), "{subject} lacks {part}");
    }
    assert_eq!(
        profile::name_attr(tbs.subject(), profile::oid::TITLE).as_deref(),
        Some("Phó Giám đốc")
    );
    assert_eq!(
        profile::name_attr(tbs.subject(), profile::oid::UID).as_deref(),
        Some(user.as_str())
    );
    // 16 random bytes, positive.
    assert_eq!(tbs.serial_number().as_bytes().len(), 16);
    // The URLs recorded at CA initialisation.
    let der = cert.to_der().unwrap();
    let text = String::from_utf8_lossy(&der);
    assert!(text.contains("https://id.haiphong.gov.vn/pki/crl/issuing.crl"));
    assert!(text.contains("https://id.haiphong.gov.vn/pki/ocsp"));
    // A second init is refused.
    let again = init_ca(&p, &actor, CaInit::new("x"), NOW).await;
    assert!(matches!(again, Err(PkiError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn suspended_revoked_and_expired_credentials_cannot_sign() {
    let (p, actor, user) = world().await;
    let id = issue(&p, &actor, &user, NOW).await;
    usable_credential(&p, &id, NOW + 1).await.unwrap();

    suspend(&p, &actor, &id, NOW + 2).await.unwrap();
    let err = usable_credential(&p, &id, NOW + 2).await.unwrap_err();
    assert!(err.to_string().contains("suspended"), "{err}");
    // On hold: in the CRL with certificateHold.
    let ca = p.store.ca("issuing").await.unwrap().unwrap();
    let crl: CertificateList = CertificateList::from_der(ca.crl_der.as_deref().unwrap()).unwrap();
    assert_eq!(
        crl.tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map(Vec::len),
        Some(1)
    );
    verify(
        &crl.tbs_cert_list.to_der().unwrap(),
        crl.signature.raw_bytes(),
        &ca.cert_der,
    );

    resume(&p, &actor, &id, NOW + 3).await.unwrap();
    usable_credential(&p, &id, NOW + 3).await.unwrap();
    let ca = p.store.ca("issuing").await.unwrap().unwrap();
    let crl: CertificateList = CertificateList::from_der(ca.crl_der.as_deref().unwrap()).unwrap();
    assert!(crl.tbs_cert_list.revoked_certificates.is_none());

    revoke(&p, &actor, &id, RevocationReason::KeyCompromise, NOW + 4)
        .await
        .unwrap();
    let err = usable_credential(&p, &id, NOW + 4).await.unwrap_err();
    assert!(err.to_string().contains("revoked (keyCompromise)"), "{err}");
    // Revoked is final.
    assert!(matches!(
        resume(&p, &actor, &id, NOW + 5).await,
        Err(PkiError::Conflict(_))
    ));
    assert!(matches!(
        revoke(&p, &actor, &id, RevocationReason::CertificateHold, NOW + 5).await,
        Err(PkiError::Invalid(_))
    ));

    // Expiry: refused at not_after, and housekeeping marks it.
    let other = issue(&p, &actor, &user, NOW).await;
    let c = p.store.credential(&other).await.unwrap().unwrap();
    let end = c.not_after.unwrap();
    let err = usable_credential(&p, &other, end).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(expiry_housekeeping(&p, end).await.unwrap().0, 1);
    assert_eq!(
        p.store.credential(&other).await.unwrap().unwrap().status,
        CredentialStatus::Expired
    );
    // CRL numbers only grow: init, suspend, resume, revoke.
    let ca = p.store.ca("issuing").await.unwrap().unwrap();
    assert_eq!(ca.crl_number, 4);
}

#[tokio::test]
async fn expiry_notices_are_given_once_and_renewal_supersedes() {
    let (p, actor, user) = world().await;
    let id = issue(&p, &actor, &user, NOW).await;
    let end = p
        .store
        .credential(&id)
        .await
        .unwrap()
        .unwrap()
        .not_after
        .unwrap();
    let soon = end - 10 * 86_400;
    assert_eq!(
        expiry_housekeeping(&p, soon - 30 * 86_400).await.unwrap().1,
        0
    );
    assert_eq!(expiry_housekeeping(&p, soon).await.unwrap().1, 1);
    assert_eq!(expiry_housekeeping(&p, soon + 60).await.unwrap().1, 0);
    let expiring = list_credentials(&p, CredentialFilter::default(), Some(30), soon)
        .await
        .unwrap();
    assert_eq!(expiring.len(), 1);

    // Same key: a new certificate; the old one is superseded.
    let renewed = renew(&p, &actor, &id, false, soon).await.unwrap();
    assert_eq!(renewed.status, CredentialStatus::Active);
    assert_eq!(renewed.renewed_from.as_deref(), Some(id.as_str()));
    let old = p.store.credential(&id).await.unwrap().unwrap();
    assert_eq!(old.status, CredentialStatus::Revoked);
    assert_eq!(old.revocation_reason.as_deref(), Some("superseded"));
    assert_eq!(old.key_ref, renewed.key_ref);
    // New key.
    let rekeyed = renew(&p, &actor, &renewed.id, true, soon).await.unwrap();
    assert_ne!(rekeyed.key_ref, renewed.key_ref);
    usable_credential(&p, &rekeyed.id, soon).await.unwrap();
}

#[tokio::test]
async fn crls_are_reissued_on_schedule_once_per_due_time() {
    let (p, _actor, _user) = world().await;
    let before = p.store.ca("issuing").await.unwrap().unwrap();
    assert_eq!(before.crl_number, 1);
    // Not yet due.
    assert_eq!(crl::reissue_due_crls(&p, NOW + 60).await.unwrap(), 0);
    // Due: both CAs get their next CRL, once.
    let due = NOW + p.config.pki.crl_reissue_secs;
    assert_eq!(crl::reissue_due_crls(&p, due).await.unwrap(), 2);
    assert_eq!(crl::reissue_due_crls(&p, due).await.unwrap(), 0);
    let after = p.store.ca("issuing").await.unwrap().unwrap();
    assert_eq!(after.crl_number, 2);
    assert_eq!(after.crl_this_update, Some(due));
    assert_eq!(
        after.crl_next_update,
        Some(due + p.config.pki.crl_validity_secs)
    );
    // A stale CRL is never served: past nextUpdate a fresh one is published on request.
    let late = due + p.config.pki.crl_validity_secs + 1;
    let der = crl::current_crl(&p, "issuing", late).await.unwrap();
    let list: CertificateList = CertificateList::from_der(&der).unwrap();
    assert_eq!(
        list.tbs_cert_list.this_update.to_unix_duration().as_secs() as i64,
        late
    );
}

#[tokio::test]
async fn import_refuses_a_certificate_for_another_key_and_unknown_issuers() {
    let (p, actor, user) = world().await;
    // A pending credential, and a certificate of the internal CA for another credential's key.
    let req = CredentialRequest {
        user: user.clone(),
        alg: KeyType::P256,
        title: None,
    };
    let pending = create_credential(&p, &actor, req, "external", NOW)
        .await
        .unwrap();
    let other = issue(&p, &actor, &user, NOW).await;
    let other_cert = p
        .store
        .credential(&other)
        .await
        .unwrap()
        .unwrap()
        .cert_der
        .unwrap();
    let err = import_certificate(&p, &actor, &pending.id, &other_cert, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let err = import_certificate(&p, &actor, &pending.id, b"junk", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::Refused(_)), "{err}");
    // An internal issue for the pending credential completes it; the chain is Tessera's own.
    let done = issue_internal(&p, &actor, &pending.id, NOW).await.unwrap();
    assert_eq!(done.status, CredentialStatus::Active);
}
