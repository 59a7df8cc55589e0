//! Tests of the certificate functions against a provider on an in-memory database (software
//! token). The OpenSSL checks of the same certificates, CRLs and OCSP answers are in the
//! end-to-end tests (`tests/tests/e2e/pki.rs`).

use der::{Decode, Encode};
use tessera_hsm::KeyType;
use tessera_store::pki::{CredentialFilter, CredentialStatus};
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use super::credential::expiry_housekeeping;
use super::crl::RevocationReason;
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
    let notice = p.store.recent_audit(2).await.unwrap();
    assert_eq!(
        (notice[0].event.as_str(), notice[1].event.as_str()),
        ("pki.credential.expiring", "alert.certificate_expiring")
    );
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

/// A CA made by anyone (here with the software token): its certificate, DER, and a signer.
fn rogue_ca(
    p: &crate::Provider,
    cn: &str,
    parent: Option<(&tessera_hsm::x509::CustodySigner, &Certificate)>,
    path_len: u8,
) -> (Vec<u8>, tessera_hsm::x509::CustodySigner) {
    use super::issuer::build_certificate;
    use super::profile::{CertSpec, Kind, Pointers, SubjectInfo, random_serial};
    let custody = p.signer.custody().clone();
    let key = custody
        .generate(KeyType::P256, tessera_hsm::KeyPurpose::Ca)
        .unwrap();
    let signer = tessera_hsm::x509::CustodySigner::open(
        custody,
        KeyType::P256,
        tessera_hsm::KeyPurpose::Ca,
        &key.key_ref,
    )
    .unwrap();
    let subject = SubjectInfo {
        common_name: cn.into(),
        organization: "Tự làm".into(),
        ..Default::default()
    }
    .to_name()
    .unwrap();
    let (issuer_signer, issuer_name, issuer_spki) = match parent {
        Some((s, c)) => (
            s,
            Some(c.tbs_certificate().subject().clone()),
            c.tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .unwrap(),
        ),
        None => (&signer, None, key.spki_der.clone()),
    };
    let profile = CertSpec {
        subject,
        issuer: issuer_name,
        kind: Kind::Ca { path_len },
        pointers: Pointers::default(),
    }
    .profile(&key.spki_der, &issuer_spki)
    .unwrap();
    let cert = build_certificate(
        issuer_signer,
        profile,
        random_serial().unwrap(),
        NOW - 60,
        NOW + 86_400 * 365,
        &key.spki_der,
    )
    .unwrap();
    (cert.to_der().unwrap(), signer)
}

/// The user's certificate for a pending credential's key, from `ca`.
async fn rogue_leaf(
    p: &crate::Provider,
    cred: &tessera_store::pki::Credential,
    ca: (&tessera_hsm::x509::CustodySigner, &Certificate),
) -> Vec<u8> {
    use super::issuer::build_certificate;
    use super::profile::{CertSpec, Kind, Pointers, random_serial};
    let user = p
        .store
        .user_by_id(cred.user_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    let subject = credential::user_subject(p, &user)
        .await
        .unwrap()
        .to_name()
        .unwrap();
    let spki = p
        .signer
        .custody()
        .public_key(tessera_hsm::KeyHandle {
            key_type: KeyType::P256,
            purpose: tessera_hsm::KeyPurpose::Credential,
            key_ref: &cred.key_ref,
        })
        .unwrap();
    let profile = CertSpec {
        subject,
        issuer: Some(ca.1.tbs_certificate().subject().clone()),
        kind: Kind::Signing {
            policies: vec![],
            email: None,
        },
        pointers: Pointers::default(),
    }
    .profile(
        &spki,
        &ca.1
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap(),
    )
    .unwrap();
    build_certificate(
        ca.0,
        profile,
        random_serial().unwrap(),
        NOW - 60,
        NOW + 86_400 * 30,
        &spki,
    )
    .unwrap()
    .to_der()
    .unwrap()
}

fn pem_of(ders: &[&[u8]]) -> Vec<u8> {
    ders.iter()
        .map(|d| der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, d).unwrap())
        .collect::<String>()
        .into_bytes()
}

/// An import from a root someone made themselves is refused, however well formed the chain;
/// once an operator adds that root as a trust anchor it is accepted (and audited). The chain's
/// CAs must also respect pathLenConstraint.
#[tokio::test]
async fn import_chains_only_to_a_configured_trust_anchor() {
    let (p, actor, user) = world().await;
    let pending = |p: &crate::Provider| {
        let (p, actor, user) = (p.clone(), actor.clone(), user.clone());
        async move {
            let req = CredentialRequest {
                user,
                alg: KeyType::P256,
                title: None,
            };
            create_credential(&p, &actor, req, "external", NOW)
                .await
                .unwrap()
        }
    };
    let cred = pending(&p).await;
    let (root_der, root_signer) = rogue_ca(&p, "Root tự làm", None, 1);
    let root = Certificate::from_der(&root_der).unwrap();
    let leaf = rogue_leaf(&p, &cred, (&root_signer, &root)).await;
    let bundle = pem_of(&[&leaf, &root_der]);
    let err = import_certificate(&p, &actor, &cred.id, &bundle, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PkiError::Refused(m) if m.contains("not a trust anchor")),
        "{err}"
    );
    assert_eq!(
        p.store.credential(&cred.id).await.unwrap().unwrap().status,
        CredentialStatus::Pending
    );

    // A non-CA is not an anchor; the root is, once, and the import then goes through.
    let err = trust::add_anchors(&p, &actor, None, &pem_of(&[&leaf]), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::Invalid(_)), "{err}");
    let added = trust::add_anchors(&p, &actor, Some("Thử nghiệm"), &pem_of(&[&root_der]), NOW)
        .await
        .unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].name, "Thử nghiệm");
    let err = trust::add_anchors(&p, &actor, None, &root_der, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::Conflict(_)), "{err}");
    // The leaf alone is enough: the anchor completes the chain.
    let done = import_certificate(&p, &actor, &cred.id, &leaf, NOW)
        .await
        .unwrap();
    assert_eq!(done.status, CredentialStatus::Active);
    assert_eq!(done.chain_der.as_deref(), Some(root_der.as_slice()));
    let trail = p
        .store
        .audit_of_actor(&actor.id, &["pki.trust"], 10)
        .await
        .unwrap();
    assert!(
        trail.iter().any(|e| e.event == "pki.trust.added"),
        "{trail:?}"
    );

    // pathLenConstraint 0 on the anchor: it may not certify another CA that certifies users.
    let (tight_der, tight_signer) = rogue_ca(&p, "Root pathLen 0", None, 0);
    let tight = Certificate::from_der(&tight_der).unwrap();
    let (mid_der, mid_signer) = rogue_ca(&p, "Trung gian", Some((&tight_signer, &tight)), 0);
    let mid = Certificate::from_der(&mid_der).unwrap();
    trust::add_anchors(&p, &actor, None, &tight_der, NOW)
        .await
        .unwrap();
    let cred2 = pending(&p).await;
    let leaf2 = rogue_leaf(&p, &cred2, (&mid_signer, &mid)).await;
    let err = import_certificate(&p, &actor, &cred2.id, &pem_of(&[&leaf2, &mid_der]), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PkiError::Refused(m) if m.contains("pathLenConstraint")),
        "{err}"
    );

    // Removing the anchor: later imports under it are refused again.
    let cred3 = pending(&p).await;
    let leaf3 = rogue_leaf(&p, &cred3, (&root_signer, &root)).await;
    let removed = trust::remove_anchor(&p, &actor, &added[0].id, NOW)
        .await
        .unwrap();
    assert_eq!(removed.fingerprint, added[0].fingerprint);
    assert!(matches!(
        trust::remove_anchor(&p, &actor, &added[0].id, NOW).await,
        Err(PkiError::NotFound(_))
    ));
    let err = import_certificate(&p, &actor, &cred3.id, &leaf3, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, PkiError::Refused(_)), "{err}");
}

/// An OCSP request about `serials` of `issuer` (SHA-1 CertIDs, as OpenSSL sends).
fn ocsp_request(
    issuer: &Certificate,
    serials: &[x509_cert::serial_number::SerialNumber],
) -> Vec<u8> {
    use der::asn1::OctetString;
    use ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};
    let sha1 = |b: &[u8]| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let tbs = issuer.tbs_certificate();
    let name_hash = sha1(&tbs.subject().to_der().unwrap());
    let key_hash = sha1(tbs.subject_public_key_info().subject_public_key.raw_bytes());
    let request_list = serials
        .iter()
        .map(|s| Request {
            req_cert: CertId {
                hash_algorithm: spki::AlgorithmIdentifierOwned {
                    oid: der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                    parameters: Some(der::Any::null()),
                },
                issuer_name_hash: OctetString::new(name_hash.clone()).unwrap(),
                issuer_key_hash: OctetString::new(key_hash.clone()).unwrap(),
                serial_number: s.clone(),
            },
            single_request_extensions: None,
        })
        .collect();
    OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list,
            request_extensions: None,
        },
        optional_signature: None,
    }
    .to_der()
    .unwrap()
}

fn ocsp_status(der_bytes: &[u8]) -> ocsp::OcspResponseStatus {
    ocsp::OcspResponse::from_der(der_bytes)
        .unwrap()
        .response_status
}

fn ocsp_basic(der_bytes: &[u8]) -> ocsp::BasicOcspResponse {
    let resp = ocsp::OcspResponse::from_der(der_bytes).unwrap();
    assert_eq!(resp.response_status, ocsp::OcspResponseStatus::Successful);
    ocsp::BasicOcspResponse::from_der(resp.response_bytes.unwrap().response.as_bytes()).unwrap()
}

async fn cache_rows(p: &crate::Provider) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM pki_ocsp_cache")
        .fetch_one(p.store.pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

/// OCSP limits: more than 10 certificates is malformedRequest; the root does not answer for
/// the issuing CA (its key stays offline; the root's CRL does); answers are signed by a
/// delegated responder certified by the issuing CA, not by the CA's key; an answer about one
/// certificate is signed once and served from the database until shortly before its
/// nextUpdate, and a status change drops it in the same transaction.
#[tokio::test]
async fn ocsp_is_bounded_delegated_and_cached_until_the_status_changes() {
    let (p, actor, user) = world().await;
    let id = issue(&p, &actor, &user, NOW).await;
    let cred = p.store.credential(&id).await.unwrap().unwrap();
    let leaf = Certificate::from_der(cred.cert_der.as_ref().unwrap()).unwrap();
    let serial = leaf.tbs_certificate().serial_number().clone();
    let issuing_rec = p.store.ca("issuing").await.unwrap().unwrap();
    let issuing = Certificate::from_der(&issuing_rec.cert_der).unwrap();
    let root = Certificate::from_der(&p.store.ca("root").await.unwrap().unwrap().cert_der).unwrap();

    // 11 certificates: refused before any lookup or signature; 10 are answered.
    let eleven = ocsp_request(&issuing, &vec![serial.clone(); 11]);
    assert_eq!(
        ocsp_status(&ocsp::respond(&p, &eleven, NOW).await),
        ocsp::OcspResponseStatus::MalformedRequest
    );
    let ten = ocsp::respond(&p, &ocsp_request(&issuing, &vec![serial.clone(); 10]), NOW).await;
    assert_eq!(ocsp_basic(&ten).tbs_response_data.responses.len(), 10);

    // The issuing CA's own certificate, asked of the root: not answered.
    let about_issuing = ocsp_request(&root, &[issuing.tbs_certificate().serial_number().clone()]);
    assert_eq!(
        ocsp_status(&ocsp::respond(&p, &about_issuing, NOW).await),
        ocsp::OcspResponseStatus::Unauthorized
    );

    // Signed by the delegated responder, which the issuing CA certified for OCSP only.
    let request = ocsp_request(&issuing, std::slice::from_ref(&serial));
    let first = ocsp::respond(&p, &request, NOW).await;
    let basic = ocsp_basic(&first);
    let certs = basic.certs.clone().unwrap();
    let responder = &certs[0];
    assert_ne!(responder, &issuing, "the CA's key does not sign answers");
    let responder_der = responder.to_der().unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&responder_der).unwrap();
    let eku = parsed.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.ocsp_signing && !eku.value.any);
    assert!(
        parsed
            .extensions()
            .iter()
            .any(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.48.1.5")
    );
    assert!(!parsed.is_ca());
    verify(
        &responder.tbs_certificate().to_der().unwrap(),
        responder.signature().raw_bytes(),
        &issuing_rec.cert_der,
    );
    verify(
        &basic.tbs_response_data.to_der().unwrap(),
        basic.signature.raw_bytes(),
        &responder.to_der().unwrap(),
    );
    assert!(matches!(
        basic.tbs_response_data.responses[0].cert_status,
        ocsp::CertStatus::Good(_)
    ));

    // Cached: the same signed bytes later, for any replica (it is in the database).
    assert_eq!(cache_rows(&p).await, 1);
    assert_eq!(ocsp::respond(&p, &request, NOW + 600).await, first);
    // Not once nextUpdate is near: signed again.
    let later = NOW + ocsp::RESPONSE_VALIDITY_SECS - 60;
    assert_ne!(ocsp::respond(&p, &request, later).await, first);

    // A suspension drops the cached answer in its own transaction; the next says so.
    let cached = ocsp::respond(&p, &request, NOW + 700).await;
    assert_eq!(ocsp::respond(&p, &request, NOW + 701).await, cached);
    suspend(&p, &actor, &id, NOW + 800).await.unwrap();
    assert_eq!(cache_rows(&p).await, 0);
    let held = ocsp_basic(&ocsp::respond(&p, &request, NOW + 801).await);
    assert!(matches!(
        held.tbs_response_data.responses[0].cert_status,
        ocsp::CertStatus::Revoked(_)
    ));
    // A "good" answer written late by a replica that read the old status is never served.
    let key = ring::digest::digest(
        &ring::digest::SHA256,
        &ocsp::OcspRequest::from_der(&request)
            .unwrap()
            .tbs_request
            .request_list[0]
            .req_cert
            .to_der()
            .unwrap(),
    );
    p.store
        .put_cached_ocsp(
            &tessera_store::pki_ocsp::CachedOcsp {
                cert_id_hash: hex(key.as_ref()),
                ca_id: "issuing".into(),
                serial: cred.serial.clone().unwrap(),
                status: "active".into(),
                cred_updated_at: cred.updated_at,
                response_der: cached.clone(),
                next_update: NOW + 3600,
            },
            NOW + 802,
        )
        .await
        .unwrap();
    let still_held = ocsp_basic(&ocsp::respond(&p, &request, NOW + 803).await);
    assert!(matches!(
        still_held.tbs_response_data.responses[0].cert_status,
        ocsp::CertStatus::Revoked(_)
    ));
    resume(&p, &actor, &id, NOW + 900).await.unwrap();
    let good = ocsp_basic(&ocsp::respond(&p, &request, NOW + 901).await);
    assert!(matches!(
        good.tbs_response_data.responses[0].cert_status,
        ocsp::CertStatus::Good(_)
    ));
}

/// Housekeeping certifies the issuing CA's delegated responder once (never one for the root)
/// and a new one a week before the current one expires.
#[tokio::test]
async fn ocsp_responders_are_certified_by_housekeeping_and_renewed_before_expiry() {
    let (p, _, _) = world().await;
    assert_eq!(ocsp::renew_responders(&p, NOW).await.unwrap(), 1);
    assert_eq!(ocsp::renew_responders(&p, NOW + 60).await.unwrap(), 0);
    assert!(p.store.ocsp_responder("root", NOW).await.unwrap().is_none());
    let first = p
        .store
        .ocsp_responder("issuing", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.not_after, NOW + ocsp::RESPONDER_VALIDITY_SECS);
    let due = first.not_after - 6 * 86_400;
    assert_eq!(ocsp::renew_responders(&p, due).await.unwrap(), 1);
    let second = p
        .store
        .ocsp_responder("issuing", due)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_ne!(second.key_ref, first.key_ref);

    // In the issuing CA's last days a responder cannot outlive it: one is certified, then kept.
    let issuing = p
        .store
        .list_cas()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == "issuing")
        .unwrap();
    let late = issuing.not_after - 3 * 86_400;
    assert_eq!(ocsp::renew_responders(&p, late).await.unwrap(), 1);
    let last = p
        .store
        .ocsp_responder("issuing", late)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.not_after, issuing.not_after);
    assert_eq!(ocsp::renew_responders(&p, late + 60).await.unwrap(), 0);
    assert_eq!(ocsp::renew_responders(&p, late + 86_400).await.unwrap(), 0);
}

/// An intermediate CA may be the trust anchor: the path ends there even when the bundle also
/// carries the root above it, which is stored with the chain but need not be trusted.
#[tokio::test]
async fn an_intermediate_anchor_ends_the_path_below_an_untrusted_root() {
    let (p, actor, user) = world().await;
    let req = CredentialRequest {
        user,
        alg: KeyType::P256,
        title: None,
    };
    let cred = create_credential(&p, &actor, req, "external", NOW)
        .await
        .unwrap();
    let (root_der, root_signer) = rogue_ca(&p, "Root quốc gia", None, 1);
    let root = Certificate::from_der(&root_der).unwrap();
    let (mid_der, mid_signer) = rogue_ca(&p, "CA được cấp phép", Some((&root_signer, &root)), 0);
    let mid = Certificate::from_der(&mid_der).unwrap();
    trust::add_anchors(&p, &actor, None, &mid_der, NOW)
        .await
        .unwrap();
    let leaf = rogue_leaf(&p, &cred, (&mid_signer, &mid)).await;
    let done = import_certificate(
        &p,
        &actor,
        &cred.id,
        &pem_of(&[&leaf, &mid_der, &root_der]),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(done.status, CredentialStatus::Active);
    let mut expected = mid_der.clone();
    expected.extend_from_slice(&root_der);
    assert_eq!(done.chain_der.as_deref(), Some(expected.as_slice()));
}
