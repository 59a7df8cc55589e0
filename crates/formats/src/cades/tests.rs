//! CAdES-B-B signatures made with the software token for every hash × scheme, checked with
//! `openssl cms -verify` against a small CA built here.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::signed_data::SignedData;
use der::asn1::OctetString;
use sha2::{Digest, Sha256};
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::x509::X509Signature;
use tessera_hsm::{EcdsaForm, KeyCustody, KeyPurpose, KeyType, MasterKey, SignScheme};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::profile::cabf::Root;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::*;
use crate::ess::{ID_AA_SIGNING_CERTIFICATE_V2, SigningCertificateV2};

/// An end-entity profile with no extensions: `openssl -purpose any` needs nothing more.
struct Leaf {
    issuer: Name,
    subject: Name,
}

impl BuilderProfile for Leaf {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(Vec::new())
    }
}

fn openssl_present() -> bool {
    if Command::new("openssl").arg("version").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "openssl is needed in CI");
    eprintln!("SKIPPED: the openssl CLI is not installed");
    false
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-cades-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pem(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let text = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn openssl_verifies(dir: &Path, sig: &[u8], content: &[u8], root_pem: &Path) -> bool {
    let sig_path = dir.join("sig.p7s");
    let content_path = dir.join("content.bin");
    std::fs::write(&sig_path, sig).unwrap();
    std::fs::write(&content_path, content).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
        ])
        .arg("-in")
        .arg(&sig_path)
        .arg("-content")
        .arg(&content_path)
        .arg("-CAfile")
        .arg(root_pem)
        .args(["-out", "/dev/null"])
        .output()
        .unwrap();
    out.status.success()
}

struct Ca {
    custody: Arc<dyn KeyCustody>,
    root: CustodySigner,
    root_der: Vec<u8>,
}

fn ca() -> Ca {
    let custody: Arc<dyn KeyCustody> =
        Arc::new(SoftwareToken::new(&MasterKey::generate().unwrap()).unwrap());
    let key = custody.generate(KeyType::P256, KeyPurpose::Ca).unwrap();
    let root =
        CustodySigner::open(custody.clone(), KeyType::P256, KeyPurpose::Ca, &key.key_ref).unwrap();
    let subject = Name::from_str("CN=Tessera Test Root,O=UBND TP Hai Phong,C=VN").unwrap();
    let cert = CertificateBuilder::new(
        Root::new(false, subject).unwrap(),
        SerialNumber::from(1u32),
        Validity::from_now(Duration::from_secs(3600)).unwrap(),
        root.spki().unwrap(),
    )
    .unwrap()
    .build::<_, X509Signature>(&root)
    .unwrap();
    Ca {
        custody,
        root,
        root_der: cert.to_der().unwrap(),
    }
}

/// A credential key of `key_type` with a certificate from the CA; answers the key reference.
fn credential(ca: &Ca, key_type: KeyType, serial: u32) -> (Vec<u8>, Vec<u8>) {
    let key = ca
        .custody
        .generate(key_type, KeyPurpose::Credential)
        .unwrap();
    let issuer = Certificate::from_der(&ca.root_der)
        .unwrap()
        .tbs_certificate()
        .subject()
        .clone();
    let subject = Name::from_str("CN=Van thu,OU=So Noi vu,O=UBND TP Hai Phong,C=VN").unwrap();
    let spki = spki::SubjectPublicKeyInfoOwned::from_der(&key.spki_der).unwrap();
    let cert = CertificateBuilder::new(
        Leaf { issuer, subject },
        SerialNumber::from(serial),
        Validity::from_now(Duration::from_secs(3600)).unwrap(),
        spki,
    )
    .unwrap()
    .build::<_, X509Signature>(&ca.root)
    .unwrap();
    (key.key_ref, cert.to_der().unwrap())
}

fn signed_data(cms_der: &[u8]) -> SignedData {
    let ci = ContentInfo::from_der(cms_der).unwrap();
    ci.content.decode_as::<SignedData>().unwrap()
}

#[test]
fn every_hash_and_scheme_verifies_with_openssl_and_a_changed_content_fails() {
    if !openssl_present() {
        return;
    }
    let ca = ca();
    let dir = scratch("all");
    let root_pem = pem(&dir, "root.pem", &ca.root_der);
    let content = "Quyết định số 12/QĐ-UBND: phê duyệt kế hoạch chuyển đổi số".as_bytes();
    let (rsa_ref, rsa_cert) = credential(&ca, KeyType::Rsa2048, 10);
    let (ec_ref, ec_cert) = credential(&ca, KeyType::P256, 11);
    let mut cases = Vec::new();
    for h in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        cases.push((KeyType::Rsa2048, SignScheme::RsaPkcs1v15(h)));
        cases.push((KeyType::Rsa2048, SignScheme::RsaPss(h)));
        cases.push((KeyType::P256, SignScheme::Ecdsa(h, EcdsaForm::Der)));
    }
    for (key_type, scheme) in cases {
        let (key_ref, cert_der) = match key_type {
            KeyType::P256 => (&ec_ref, &ec_cert),
            _ => (&rsa_ref, &rsa_cert),
        };
        let signer = CustodySigner::with_scheme(
            ca.custody.clone(),
            key_type,
            KeyPurpose::Credential,
            key_ref,
            scheme,
        )
        .unwrap();
        let certs = SignerCerts {
            cert_der: cert_der.clone(),
            chain: vec![ca.root_der.clone()],
        };
        let digest = scheme.hash().digest(content);
        let sig = sign_detached(
            &signer,
            &certs,
            &digest,
            Profile::Cades {
                signing_time: 1_796_000_000,
            },
        )
        .unwrap();
        assert!(
            openssl_verifies(&dir, &sig, content, &root_pem),
            "{scheme:?} does not verify"
        );
        let mut changed = content.to_vec();
        changed[0] ^= 1;
        assert!(
            !openssl_verifies(&dir, &sig, &changed, &root_pem),
            "{scheme:?} verifies over changed content"
        );

        let sd = signed_data(&sig);
        assert!(sd.encap_content_info.econtent.is_none(), "detached");
        assert_eq!(
            sd.certificates.as_ref().unwrap().0.len(),
            2,
            "signer and root"
        );
        let info = sd.signer_infos.0.get(0).unwrap();
        assert_eq!(info.digest_alg, digest_algorithm(scheme.hash()));
        assert_eq!(
            info.signature_algorithm,
            scheme.algorithm_identifier().unwrap()
        );
    }
}

#[test]
fn the_signed_attributes_are_those_of_cades_b_b_and_the_cert_hash_is_the_signers() {
    let ca = ca();
    let (key_ref, cert_der) = credential(&ca, KeyType::P256, 20);
    let signer = CustodySigner::open(
        ca.custody.clone(),
        KeyType::P256,
        KeyPurpose::Credential,
        &key_ref,
    )
    .unwrap();
    let certs = SignerCerts {
        cert_der: cert_der.clone(),
        chain: vec![ca.root_der.clone()],
    };
    let digest = Sha256::digest(b"content").to_vec();
    let attrs = |profile| {
        let sd = signed_data(&sign_detached(&signer, &certs, &digest, profile).unwrap());
        let info = sd.signer_infos.0.get(0).unwrap().clone();
        info.signed_attrs.unwrap().into_vec()
    };

    // 2026-11-29T10:13:20Z
    let cades = attrs(Profile::Cades {
        signing_time: 1_796_000_000,
    });
    let oids: Vec<String> = cades.iter().map(|a| a.oid.to_string()).collect();
    for oid in [
        "1.2.840.113549.1.9.3",
        "1.2.840.113549.1.9.4",
        "1.2.840.113549.1.9.5",
        "1.2.840.113549.1.9.16.2.47",
    ] {
        assert!(oids.contains(&oid.to_string()), "{oid} missing in {oids:?}");
    }
    assert_eq!(cades.len(), 4);
    let time = cades.iter().find(|a| a.oid == ID_SIGNING_TIME).unwrap();
    let time: Time = time.values.get(0).unwrap().decode_as().unwrap();
    assert!(matches!(time, Time::UtcTime(_)));
    assert_eq!(time.to_unix_duration().as_secs(), 1_796_000_000);
    let md = cades
        .iter()
        .find(|a| a.oid.to_string() == "1.2.840.113549.1.9.4")
        .unwrap();
    let md: OctetString = md.values.get(0).unwrap().decode_as().unwrap();
    assert_eq!(md.as_bytes(), digest.as_slice());

    let ess = cades
        .iter()
        .find(|a| a.oid == ID_AA_SIGNING_CERTIFICATE_V2)
        .unwrap();
    let ess: SigningCertificateV2 = ess.values.get(0).unwrap().decode_as().unwrap();
    let id = &ess.certs[0];
    assert_eq!(
        id.cert_hash.as_bytes(),
        Sha256::digest(&cert_der).as_slice()
    );
    assert!(id.hash_algorithm.is_none(), "SHA-256 is the DEFAULT");
    let cert = Certificate::from_der(&cert_der).unwrap();
    let serial = &id.issuer_serial.as_ref().unwrap().serial_number;
    assert_eq!(serial, cert.tbs_certificate().serial_number());

    let pades = attrs(Profile::Pades);
    assert_eq!(pades.len(), 3);
    assert!(pades.iter().all(|a| a.oid != ID_SIGNING_TIME));
}

#[test]
fn bad_input_is_refused() {
    let ca = ca();
    let (key_ref, cert_der) = credential(&ca, KeyType::P256, 30);
    let (_, other_cert) = credential(&ca, KeyType::P256, 31);
    let signer = CustodySigner::open(
        ca.custody.clone(),
        KeyType::P256,
        KeyPurpose::Credential,
        &key_ref,
    )
    .unwrap();
    let good = SignerCerts {
        cert_der,
        chain: vec![],
    };
    let err = sign_detached(&signer, &good, &[0u8; 48], Profile::Pades).unwrap_err();
    assert_eq!(err.to_string(), "a SHA-256 digest is 32 bytes, not 48");
    let wrong = SignerCerts {
        cert_der: other_cert,
        chain: vec![],
    };
    let err = sign_detached(&signer, &wrong, &[0u8; 32], Profile::Pades).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the signer's certificate is not for the signing key"
    );
    let garbage = SignerCerts {
        cert_der: b"not a certificate".to_vec(),
        chain: vec![],
    };
    let err = sign_detached(&signer, &garbage, &[0u8; 32], Profile::Pades).unwrap_err();
    assert!(
        err.to_string().starts_with("the signer's certificate:"),
        "{err}"
    );
}

#[test]
fn the_signature_is_the_one_the_cms_builder_makes() {
    // RSASSA-PKCS1-v1_5 is deterministic: the same signed attributes give the same bytes.
    let ca = ca();
    let (key_ref, cert_der) = credential(&ca, KeyType::Rsa2048, 40);
    let signer = CustodySigner::open(
        ca.custody.clone(),
        KeyType::Rsa2048,
        KeyPurpose::Credential,
        &key_ref,
    )
    .unwrap();
    let certs = SignerCerts {
        cert_der: cert_der.clone(),
        chain: vec![ca.root_der.clone()],
    };
    let prepared = CadesSigner::new(signer.clone(), &certs).unwrap();
    let digest = Sha256::digest(b"content").to_vec();
    for profile in [
        Profile::Pades,
        Profile::Cades {
            signing_time: 1_796_000_000,
        },
    ] {
        let ours = prepared.sign_detached(&digest, profile).unwrap();
        let cert = Certificate::from_der(&cert_der).unwrap();
        let econtent = EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        };
        let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate().issuer().clone(),
            serial_number: cert.tbs_certificate().serial_number().clone(),
        });
        let alg = digest_algorithm(HashAlg::Sha256);
        let mut info = SignerInfoBuilder::new(sid, alg.clone(), &econtent, Some(&digest)).unwrap();
        if let Profile::Cades { signing_time } = profile {
            info.add_signed_attribute(signing_time_attribute(signing_time).unwrap())
                .unwrap();
        }
        info.add_signed_attribute(
            SigningCertificateV2::for_certificate(&cert_der)
                .unwrap()
                .to_attribute()
                .unwrap(),
        )
        .unwrap();
        let root = Certificate::from_der(&ca.root_der).unwrap();
        let theirs = SignedDataBuilder::new(&econtent)
            .add_digest_algorithm(alg)
            .unwrap()
            .add_certificate(CertificateChoices::Certificate(cert))
            .unwrap()
            .add_certificate(CertificateChoices::Certificate(root))
            .unwrap()
            .add_signer_info::<_, X509Signature>(info, &signer)
            .unwrap()
            .build()
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(ours, theirs, "{profile:?}");
    }
}
