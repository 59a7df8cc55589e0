//! Tests of the TSA (authority and client) and of the validation data, on an in-memory
//! database with the software token. openssl's checks are in the e2e tests (`e2e/tsa.rs`).

use std::sync::{Arc, Mutex};

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use x509_cert::ext::pkix::ExtendedKeyUsage;

use super::*;
use crate::outbound::{BoxFuture, Outbound, OutboundError};
use crate::pki::{Actor, CaInit, CredentialRequest, create_credential, init_ca, issue_internal};
use crate::signing::ltv::{self, LtvError};
use crate::testkit::{add_unit, add_user, provider};

const NOW: i64 = 1_800_000_000;

async fn world() -> Provider {
    let p = provider(NOW).await;
    let mut init = CaInit::new("UBND Thành phố Hải Phòng");
    init.base_url = Some("https://id.haiphong.gov.vn/".into());
    init_ca(&p, &Actor::new("cli:test"), init, NOW)
        .await
        .unwrap();
    p
}

fn verify_by(issuer: &CaRecord, cert_der: &[u8]) {
    let cert = Certificate::from_der(cert_der).unwrap();
    let spki = Certificate::from_der(&issuer.cert_der)
        .unwrap()
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let scheme = KeyType::from_name(&issuer.key_alg).unwrap().x509_scheme();
    tessera_hsm::x509::verify(
        scheme,
        &spki,
        &cert.tbs_certificate().to_der().unwrap(),
        cert.signature().raw_bytes(),
    )
    .unwrap();
}

#[tokio::test]
async fn the_own_tsa_timestamps_with_a_unit_certified_by_the_issuing_ca() {
    let p = world().await;
    let digest = HashAlg::Sha256.digest(b"chu ky");
    let token = timestamp(&p, HashAlg::Sha256, &digest, NOW).await.unwrap();
    let checked = tsp::check_token(&token).unwrap();
    assert_eq!(checked.info.gen_time_unix(), NOW);
    assert_eq!(
        checked.info.policy.to_string(),
        crate::pki::DEFAULT_TSA_POLICY
    );
    assert_eq!(checked.info.serial_number.as_bytes().len(), 16);
    // The unit's certificate: issued by the issuing CA, EKU timeStamping alone and critical.
    let issuing = p.store.ca("issuing").await.unwrap().unwrap();
    verify_by(&issuing, &checked.tsa_cert_der);
    let cert = Certificate::from_der(&checked.tsa_cert_der).unwrap();
    let (critical, eku) = cert
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()
        .unwrap()
        .unwrap();
    assert!(critical);
    assert_eq!(eku.0, vec![tsp::ID_KP_TIME_STAMPING]);
    // The unit is reused, and serial numbers differ.
    let again = timestamp(&p, HashAlg::Sha256, &digest, NOW + 10)
        .await
        .unwrap();
    let again = tsp::check_token(&again).unwrap();
    assert_eq!(again.tsa_cert_der, checked.tsa_cert_der);
    assert_ne!(again.info.serial_number, checked.info.serial_number);
    assert_eq!(p.store.list_tsa_units().await.unwrap().len(), 1);
    // After a year of signing, a new unit takes over; the old one's certificate lasts on.
    let later = NOW + UNIT_SIGNING_SECS + 1;
    let next = timestamp(&p, HashAlg::Sha256, &digest, later)
        .await
        .unwrap();
    assert_ne!(
        tsp::check_token(&next).unwrap().tsa_cert_der,
        checked.tsa_cert_der
    );
    let units = p.store.list_tsa_units().await.unwrap();
    assert_eq!(units.len(), 2);
    assert!(units.iter().all(|u| u.not_after > u.sign_until));
}

#[tokio::test]
async fn bad_requests_get_a_rejection_and_no_ca_means_system_failure() {
    let p = world().await;
    let rejected = |der: &[u8]| {
        let r = tsp::TimeStampResp::from_der(der).unwrap();
        assert_eq!(r.status.status, tsp::status::REJECTION);
        tsp::FailureInfo::from_bit_string(r.status.fail_info.as_ref().unwrap())
    };
    assert_eq!(
        rejected(&respond(&p, b"\x30\x03\x02\x01\x01", NOW).await),
        vec![tsp::FailureInfo::BadDataFormat]
    );
    // Without a CA there is no unit: systemFailure, not a panic or an HTTP error.
    let bare = provider(NOW).await;
    let req = tsp::request_der(HashAlg::Sha256, &[7; 32], 1).unwrap();
    assert_eq!(
        rejected(&respond(&bare, &req, NOW).await),
        vec![tsp::FailureInfo::SystemFailure]
    );
    let err = timestamp(&bare, HashAlg::Sha256, &[7; 32], NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, TsaError::Pki(_)), "{err}");
    assert!(err.to_string().contains("tessera ca init"), "{err}");
}

/// A configured TSA, played by a fixed authority; records what it was sent.
#[derive(Debug)]
struct FakeTsa {
    signer: CustodySigner,
    cert_der: Vec<u8>,
    gen_time: i64,
    seen: Mutex<Vec<(String, String)>>,
}

impl Outbound for FakeTsa {
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
    fn post_bytes<'a>(
        &'a self,
        url: &'a str,
        content_type: &'a str,
        _accept: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap()
                .push((url.to_owned(), content_type.to_owned()));
            let authority = tsp::Authority {
                signer: &self.signer,
                cert_der: &self.cert_der,
                chain: &[],
                policy: ObjectIdentifier::new_unwrap("1.2.3.4.5"),
            };
            Ok(tsp::respond(&authority, body, &[1; 16], self.gen_time))
        })
    }
}

#[tokio::test]
async fn a_configured_tsa_is_called_through_the_outbound_transport() {
    let mut p = world().await;
    let (signer, cert_der) = unit(&p, NOW).await.unwrap();
    let fake = Arc::new(FakeTsa {
        signer,
        cert_der,
        gen_time: NOW + 2,
        seen: Mutex::new(Vec::new()),
    });
    p.outbound = fake.clone();
    p.config.pki.tsa_url = Some("https://tsa.example.vn/tsr".into());
    let digest = HashAlg::Sha384.digest(b"x");
    let token = timestamp(&p, HashAlg::Sha384, &digest, NOW).await.unwrap();
    assert_eq!(
        tsp::check_token(&token).unwrap().info.policy.to_string(),
        "1.2.3.4.5"
    );
    assert_eq!(
        fake.seen.lock().unwrap().as_slice(),
        &[(
            "https://tsa.example.vn/tsr".to_owned(),
            "application/timestamp-query".to_owned()
        )]
    );
    // A TSA whose clock is off is not believed.
    let (signer, cert_der) = unit(&p, NOW).await.unwrap();
    p.outbound = Arc::new(FakeTsa {
        signer,
        cert_der,
        gen_time: NOW - 3600,
        seen: Mutex::new(Vec::new()),
    });
    let err = timestamp(&p, HashAlg::Sha384, &digest, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("3600 s away"), "{err}");
    // An unreachable one is a clear error.
    p.outbound = Arc::new(crate::outbound::DenyAll);
    let err = timestamp(&p, HashAlg::Sha384, &digest, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, TsaError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("tsa.example.vn"), "{err}");
}

#[tokio::test]
async fn a_cms_signature_becomes_b_t() {
    let p = world().await;
    // A detached CMS signature by a unit's key stands in for a CAdES-B-B one.
    let (signer, cert_der) = unit(&p, NOW).await.unwrap();
    let cert = Certificate::from_der(&cert_der).unwrap();
    let content = EncapsulatedContentInfo {
        econtent_type: ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1"),
        econtent: None,
    };
    let digest = HashAlg::Sha256.digest(b"document");
    let si = SignerInfoBuilder::new(
        SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        }),
        tsp::hash_algorithm_identifier(HashAlg::Sha256),
        &content,
        Some(&digest),
    )
    .unwrap();
    let mut b = SignedDataBuilder::new(&content);
    b.add_digest_algorithm(tsp::hash_algorithm_identifier(HashAlg::Sha256))
        .unwrap();
    b.add_certificate(CertificateChoices::Certificate(cert))
        .unwrap();
    b.add_signer_info::<_, tessera_hsm::x509::X509Signature>(si, &signer)
        .unwrap();
    let cms_der = b.build().unwrap().to_der().unwrap();
    let bt = add_signature_timestamp(&p, &cms_der, NOW).await.unwrap();
    assert!(bt.len() > cms_der.len() + 500);
    assert_eq!(
        tsp::signature_value(&bt).unwrap(),
        tsp::signature_value(&cms_der).unwrap()
    );
    let err = add_signature_timestamp(&p, b"not CMS", NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, TsaError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn validation_data_of_own_certificates_come_from_the_core() {
    let p = world().await;
    let unit_id = add_unit(&p, "Sở Tư pháp", NOW).await.id;
    let user = add_user(&p, "an.nv", Some(&unit_id), &[], NOW).await;
    let actor = Actor::new("cli:test");
    let c = create_credential(
        &p,
        &actor,
        CredentialRequest {
            user: user.id,
            alg: KeyType::P256,
            title: None,
        },
        "internal",
        NOW,
    )
    .await
    .unwrap();
    issue_internal(&p, &actor, &c.id, NOW).await.unwrap();
    let usable = crate::pki::usable_credential(&p, &c.id, NOW).await.unwrap();
    let vd = ltv::validation_data(&p, &usable.cert_der, &usable.chain, NOW)
        .await
        .unwrap();
    assert_eq!(vd.certs.len(), 3);
    assert_eq!(vd.certs[0], usable.cert_der);
    // OCSP for the official's certificate, the root's CRL for the issuing CA.
    assert_eq!(vd.ocsps.len(), 1);
    let resp = crate::pki::ocsp::OcspResponse::from_der(&vd.ocsps[0]).unwrap();
    assert_eq!(
        resp.response_status,
        crate::pki::ocsp::OcspResponseStatus::Successful
    );
    assert_eq!(vd.crls.len(), 1);
    let root = p.store.ca("root").await.unwrap().unwrap();
    let list: x509_cert::crl::CertificateList = Decode::from_der(&vd.crls[0]).unwrap();
    assert_eq!(
        list.tbs_cert_list.issuer,
        *Certificate::from_der(&root.cert_der)
            .unwrap()
            .tbs_certificate()
            .subject()
    );

    // A time-stamping unit's certificate: the issuing CA's CRL (no OCSP for it).
    let (_, tsa_cert) = unit(&p, NOW).await.unwrap();
    let vd = ltv::validation_data(&p, &tsa_cert, &usable.chain, NOW)
        .await
        .unwrap();
    assert!(vd.ocsps.is_empty());
    assert_eq!(vd.crls.len(), 2);
}

#[tokio::test]
async fn an_external_certificate_without_reachable_pointers_is_a_clear_error() {
    let p = world().await;
    // A unit's certificate presented with a chain that is not Tessera's: treated as external,
    // and the transport allows nothing.
    let (_, tsa_cert) = unit(&p, NOW).await.unwrap();
    let err = ltv::validation_data(&p, &tsa_cert, &[], NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, LtvError::NoRevocationData { .. }), "{err}");
    assert!(
        err.to_string().contains("id.haiphong.gov.vn/pki/crl"),
        "{err}"
    );
}

/// Another installation's OCSP responder and CRL endpoints, reached through the transport.
#[derive(Debug)]
struct OtherInstallation {
    other: Arc<Provider>,
    seen: Mutex<Vec<String>>,
}

impl Outbound for OtherInstallation {
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
    fn post_bytes<'a>(
        &'a self,
        url: &'a str,
        content_type: &'a str,
        _accept: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move {
            self.seen.lock().unwrap().push(format!("POST {url}"));
            assert_eq!(content_type, "application/ocsp-request");
            Ok(crate::pki::ocsp::respond(&self.other, body, NOW).await)
        })
    }
    fn get_bytes<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<u8>, OutboundError>> {
        Box::pin(async move {
            self.seen.lock().unwrap().push(format!("GET {url}"));
            let ca = url
                .rsplit('/')
                .next()
                .and_then(|f| f.strip_suffix(".crl"))
                .unwrap_or("");
            crate::pki::crl::current_crl(&self.other, ca, NOW)
                .await
                .map_err(|e| OutboundError::Failed(e.to_string()))
        })
    }
}

#[tokio::test]
async fn validation_data_of_external_certificates_are_fetched_at_their_pointers() {
    // The official's certificate is another installation's: OCSP at its AIA URL for it, the
    // root's CRL at the issuing CA's distribution point.
    let other = world().await;
    let unit_id = add_unit(&other, "Sở Tư pháp", NOW).await.id;
    let user = add_user(&other, "an.nv", Some(&unit_id), &[], NOW).await;
    let actor = Actor::new("cli:test");
    let c = create_credential(
        &other,
        &actor,
        CredentialRequest {
            user: user.id,
            alg: KeyType::P256,
            title: None,
        },
        "internal",
        NOW,
    )
    .await
    .unwrap();
    issue_internal(&other, &actor, &c.id, NOW).await.unwrap();
    let usable = crate::pki::usable_credential(&other, &c.id, NOW)
        .await
        .unwrap();
    let mut p = world().await;
    let transport = Arc::new(OtherInstallation {
        other: Arc::new(other),
        seen: Mutex::new(Vec::new()),
    });
    p.outbound = transport.clone();
    let vd = ltv::validation_data(&p, &usable.cert_der, &usable.chain, NOW)
        .await
        .unwrap();
    assert_eq!(vd.certs.len(), 3);
    assert_eq!(vd.ocsps.len(), 1);
    assert_eq!(vd.crls.len(), 1);
    assert_eq!(
        transport.seen.lock().unwrap().as_slice(),
        &[
            "POST https://id.haiphong.gov.vn/pki/ocsp".to_owned(),
            "GET https://id.haiphong.gov.vn/pki/crl/root.crl".to_owned(),
        ]
    );
    let resp = crate::pki::ocsp::OcspResponse::from_der(&vd.ocsps[0]).unwrap();
    assert_eq!(
        resp.response_status,
        crate::pki::ocsp::OcspResponseStatus::Successful
    );
}
