use std::str::FromStr;
use std::sync::Arc;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::{Decode, Encode};
use tessera_hsm::x509::{CustodySigner, X509Signature};
use tessera_hsm::{HashAlg, KeyCustody, KeyPurpose, KeyType, MasterKey};
use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::*;

const NOW: i64 = 1_796_000_000;
const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1.3161.1");

struct Tsa {
    signer: CustodySigner,
    cert_der: Vec<u8>,
    /// The self-signed root that certified the TSA.
    root_der: Vec<u8>,
}

/// The TSA's certificate profile (RFC 3161 §2.3): not a CA, digitalSignature, EKU
/// timeStamping alone and critical.
struct TsaLeaf {
    issuer: Name,
}

impl x509_cert::builder::profile::BuilderProfile for TsaLeaf {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        Name::from_str("CN=Tessera TSA test,O=Tessera,C=VN").unwrap()
    }
    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        use x509_cert::ext::ToExtension;
        use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
        let subject = tbs.subject();
        Ok(vec![
            (&KeyUsage(KeyUsages::DigitalSignature.into())).to_extension(subject, &[])?,
            (true, &ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING])).to_extension(subject, &[])?,
        ])
    }
}

fn tsa(key_type: KeyType) -> Tsa {
    let custody: Arc<dyn KeyCustody> =
        Arc::new(tessera_hsm::soft::SoftwareToken::new(&MasterKey::generate().unwrap()).unwrap());
    let root_key = custody.generate(KeyType::P256, KeyPurpose::Ca).unwrap();
    let root_signer = CustodySigner::open(
        custody.clone(),
        KeyType::P256,
        KeyPurpose::Ca,
        &root_key.key_ref,
    )
    .unwrap();
    let root_name = Name::from_str("CN=Tessera Root test,O=Tessera,C=VN").unwrap();
    let validity = Validity::from_now(Duration::from_secs(86_400 * 3650)).unwrap();
    let root = CertificateBuilder::new(
        Root::new(false, root_name.clone()).unwrap(),
        SerialNumber::from(1u32),
        validity,
        root_signer.spki().unwrap(),
    )
    .unwrap()
    .build::<_, X509Signature>(&root_signer)
    .unwrap();
    let key = custody
        .generate(key_type, KeyPurpose::Timestamping)
        .unwrap();
    let signer =
        CustodySigner::open(custody, key_type, KeyPurpose::Timestamping, &key.key_ref).unwrap();
    let cert = CertificateBuilder::new(
        TsaLeaf { issuer: root_name },
        SerialNumber::from(7u32),
        validity,
        signer.spki().unwrap(),
    )
    .unwrap()
    .build::<_, X509Signature>(&root_signer)
    .unwrap();
    Tsa {
        signer,
        cert_der: cert.to_der().unwrap(),
        root_der: root.to_der().unwrap(),
    }
}

fn authority(t: &Tsa) -> Authority<'_> {
    Authority {
        signer: &t.signer,
        cert_der: &t.cert_der,
        chain: &[],
        policy: POLICY,
    }
}

fn answer(t: &Tsa, req: &[u8]) -> Vec<u8> {
    respond(&authority(t), req, &[0x42; 16], NOW)
}

#[test]
fn a_granted_token_checks_and_says_what_was_asked() {
    for kt in [KeyType::P256, KeyType::Rsa2048] {
        let t = tsa(kt);
        let digest = HashAlg::Sha256.digest(b"signature value");
        let req = request_der(HashAlg::Sha256, &digest, 0xfedc_ba98_7654_3210).unwrap();
        let resp = answer(&t, &req);
        let token =
            token_from_response(&resp, HashAlg::Sha256, &digest, 0xfedc_ba98_7654_3210).unwrap();
        let checked = check_token(&token).unwrap();
        assert_eq!(checked.info.gen_time_unix(), NOW);
        assert_eq!(checked.info.policy, POLICY);
        assert_eq!(checked.info.serial_number.as_bytes(), &[0x42; 16]);
        assert_eq!(checked.info.accuracy.as_ref().unwrap().seconds, Some(1));
        assert_eq!(checked.tsa_cert_der, t.cert_der);
        // The same answer for another nonce or imprint is refused.
        let err = token_from_response(&resp, HashAlg::Sha256, &digest, 1).unwrap_err();
        assert!(err.to_string().contains("nonce"), "{err}");
        let other = HashAlg::Sha256.digest(b"other");
        let err =
            token_from_response(&resp, HashAlg::Sha256, &other, 0xfedc_ba98_7654_3210).unwrap_err();
        assert!(err.to_string().contains("imprint"), "{err}");
    }
}

#[test]
fn sha384_and_sha512_imprints_are_granted() {
    let t = tsa(KeyType::P256);
    for h in [HashAlg::Sha384, HashAlg::Sha512] {
        let d = h.digest(b"x");
        let resp = answer(&t, &request_der(h, &d, 5).unwrap());
        token_from_response(&resp, h, &d, 5).unwrap();
    }
}

#[test]
fn without_cert_req_the_certificate_is_left_out() {
    let t = tsa(KeyType::P256);
    let d = HashAlg::Sha256.digest(b"x");
    let mut req = TimeStampReq::from_der(&request_der(HashAlg::Sha256, &d, 5).unwrap()).unwrap();
    req.cert_req = false;
    let resp = TimeStampResp::from_der(&answer(&t, &req.to_der().unwrap())).unwrap();
    let token = resp.time_stamp_token.unwrap().to_der().unwrap();
    let err = check_token(&token).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

fn rejected(resp: &[u8]) -> (u8, Vec<FailureInfo>) {
    let r = TimeStampResp::from_der(resp).unwrap();
    assert!(r.time_stamp_token.is_none());
    (
        r.status.status,
        FailureInfo::from_bit_string(r.status.fail_info.as_ref().unwrap()),
    )
}

#[test]
fn bad_requests_are_rejected_with_the_rfc_failure() {
    let t = tsa(KeyType::P256);
    assert_eq!(
        rejected(&answer(&t, b"not DER")),
        (status::REJECTION, vec![FailureInfo::BadDataFormat])
    );
    // SHA-1 is not accepted.
    let mut req =
        TimeStampReq::from_der(&request_der(HashAlg::Sha256, &[1; 32], 5).unwrap()).unwrap();
    req.message_imprint.hash_algorithm.oid = SHA1;
    req.message_imprint.hashed_message = OctetString::new(vec![1; 20]).unwrap();
    let resp = answer(&t, &req.to_der().unwrap());
    assert_eq!(
        rejected(&resp),
        (status::REJECTION, vec![FailureInfo::BadAlg])
    );
    let err = token_from_response(&resp, HashAlg::Sha256, &[1; 32], 5).unwrap_err();
    assert!(err.to_string().contains("badAlg"), "{err}");
    // A digest of the wrong length.
    let mut req =
        TimeStampReq::from_der(&request_der(HashAlg::Sha256, &[1; 32], 5).unwrap()).unwrap();
    req.message_imprint.hashed_message = OctetString::new(vec![1; 31]).unwrap();
    assert_eq!(
        rejected(&answer(&t, &req.to_der().unwrap())).1,
        vec![FailureInfo::BadDataFormat]
    );
    // Another policy.
    let mut req =
        TimeStampReq::from_der(&request_der(HashAlg::Sha256, &[1; 32], 5).unwrap()).unwrap();
    req.req_policy = Some(ObjectIdentifier::new_unwrap("1.2.3.4"));
    assert_eq!(
        rejected(&answer(&t, &req.to_der().unwrap())).1,
        vec![FailureInfo::UnacceptedPolicy]
    );
}

#[test]
fn failure_bits_are_der_named_bits() {
    assert_eq!(
        FailureInfo::BadAlg
            .to_bit_string()
            .unwrap()
            .to_der()
            .unwrap(),
        [0x03, 0x02, 0x07, 0x80]
    );
    assert_eq!(
        FailureInfo::BadDataFormat
            .to_bit_string()
            .unwrap()
            .to_der()
            .unwrap(),
        [0x03, 0x02, 0x02, 0x04]
    );
    assert_eq!(
        FailureInfo::SystemFailure
            .to_bit_string()
            .unwrap()
            .to_der()
            .unwrap(),
        [0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40]
    );
}

#[test]
fn a_tampered_token_is_refused() {
    let t = tsa(KeyType::P256);
    let d = HashAlg::Sha256.digest(b"x");
    let resp = answer(&t, &request_der(HashAlg::Sha256, &d, 5).unwrap());
    let token = token_from_response(&resp, HashAlg::Sha256, &d, 5).unwrap();
    // Change one byte of the imprint inside the TSTInfo.
    let pos = token
        .windows(d.len())
        .position(|w| w == d.as_slice())
        .unwrap();
    let mut bad = token.clone();
    bad[pos] ^= 1;
    let err = check_token(&bad).unwrap_err();
    assert!(err.to_string().contains("message-digest"), "{err}");
}

/// A detached CMS signature made with the `cms` builder (stands in for CAdES).
fn cms_signature(t: &Tsa) -> Vec<u8> {
    let cert = Certificate::from_der(&t.cert_der).unwrap();
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
        hash_algorithm_identifier(HashAlg::Sha256),
        &content,
        Some(&digest),
    )
    .unwrap();
    let mut b = SignedDataBuilder::new(&content);
    b.add_digest_algorithm(hash_algorithm_identifier(HashAlg::Sha256))
        .unwrap();
    b.add_certificate(CertificateChoices::Certificate(cert))
        .unwrap();
    b.add_signer_info::<_, X509Signature>(si, &t.signer)
        .unwrap();
    b.build().unwrap().to_der().unwrap()
}

#[test]
fn a_signature_timestamp_goes_in_the_unsigned_attributes() {
    let t = tsa(KeyType::P256);
    let cms_der = cms_signature(&t);
    let sig = signature_value(&cms_der).unwrap();
    let d = HashAlg::Sha256.digest(&sig);
    let token = token_from_response(
        &answer(&t, &request_der(HashAlg::Sha256, &d, 9).unwrap()),
        HashAlg::Sha256,
        &d,
        9,
    )
    .unwrap();
    let bt = add_signature_timestamp(&cms_der, &token).unwrap();
    assert_eq!(signature_value(&bt).unwrap(), sig);
    let sd = signed_data(&bt).unwrap();
    let si = single_signer(&sd).unwrap();
    let got = attr(si.unsigned_attrs.as_ref(), ID_AA_SIGNATURE_TIME_STAMP_TOKEN).unwrap();
    assert_eq!(got.to_der().unwrap(), token);
    // The signed attributes are untouched.
    let before = signed_data(&cms_der).unwrap();
    assert_eq!(
        single_signer(&before).unwrap().signed_attrs,
        si.signed_attrs
    );
    // A token over something else is refused.
    let other = HashAlg::Sha256.digest(b"other");
    let wrong = token_from_response(
        &answer(&t, &request_der(HashAlg::Sha256, &other, 9).unwrap()),
        HashAlg::Sha256,
        &other,
        9,
    )
    .unwrap();
    let err = add_signature_timestamp(&cms_der, &wrong).unwrap_err();
    assert!(err.to_string().contains("not over this signature"), "{err}");
}

/// openssl, which nobody here wrote, reads and verifies the token.
#[test]
fn openssl_verifies_the_authoritys_answer() {
    use std::process::Command;
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "openssl is needed in CI");
        eprintln!("SKIPPED: the openssl CLI is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-tsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, kt) in [KeyType::P256, KeyType::Rsa2048].into_iter().enumerate() {
        let t = tsa(kt);
        let pem = dir.join(format!("tsa{i}.pem"));
        let root = Certificate::from_der(&t.root_der).unwrap();
        std::fs::write(
            &pem,
            der::EncodePem::to_pem(&root, der::pem::LineEnding::LF).unwrap(),
        )
        .unwrap();
        let data = dir.join(format!("data{i}.txt"));
        std::fs::write(&data, b"Van ban so 12/QD-UBND").unwrap();
        let q = dir.join(format!("q{i}.tsq"));
        let out = Command::new("openssl")
            .args(["ts", "-query", "-sha256", "-cert", "-data"])
            .arg(&data)
            .arg("-out")
            .arg(&q)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let resp = answer(&t, &std::fs::read(&q).unwrap());
        let r = dir.join(format!("r{i}.tsr"));
        std::fs::write(&r, &resp).unwrap();
        let text = Command::new("openssl")
            .args(["ts", "-reply", "-text", "-in"])
            .arg(&r)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("Status: Granted."), "{text}");
        assert!(text.contains("Accuracy: 0x01 seconds"), "{text}");
        let verify = Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(&data)
            .arg("-in")
            .arg(&r)
            .arg("-CAfile")
            .arg(&pem)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&verify.stdout);
        assert!(
            verify.status.success() && said.contains("Verification: OK"),
            "{said}{}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The client side against a TSA nobody here wrote: `openssl ts -reply` with an RSA key
/// (signatureAlgorithm rsaEncryption), ordering and tsa name set, and the ESS certificate id
/// in both versions (v1 with SHA-1, v2 with SHA-256).
#[test]
fn tokens_of_an_openssl_tsa_are_accepted() {
    use std::process::Command;
    if Command::new("openssl").arg("version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "openssl is needed in CI");
        eprintln!("SKIPPED: the openssl CLI is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-tsp-ossl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("ext.cnf"),
        "[tsa_ext]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-subj",
        "/CN=Other Root/C=VN",
        "-days",
        "30",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        "/CN=Other TSA/C=VN",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-CAcreateserial",
        "-out",
        "tsa.pem",
        "-days",
        "30",
        "-extfile",
        "ext.cnf",
        "-extensions",
        "tsa_ext",
    ]);
    for (i, ess) in ["sha1", "sha256"].into_iter().enumerate() {
        std::fs::write(
            dir.join("tsa.cnf"),
            format!(
                "[tsa]\ndefault_tsa = t\n[t]\nserial = ./serial\ncrypto_device = builtin\n\
                 signer_cert = ./tsa.pem\ncerts = ./root.pem\nsigner_key = ./tsa.key\n\
                 signer_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1, millisecs:500\n\
                 ordering = yes\ntsa_name = yes\ness_cert_id_chain = no\n\
                 ess_cert_id_alg = {ess}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        let digest = HashAlg::Sha512.digest(format!("signature {i}").as_bytes());
        let nonce = 0x8000_0000_0000_0001 + i as u64;
        std::fs::write(
            dir.join("q.tsq"),
            request_der(HashAlg::Sha512, &digest, nonce).unwrap(),
        )
        .unwrap();
        run(&[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            "q.tsq",
            "-out",
            "r.tsr",
        ]);
        let resp = std::fs::read(dir.join("r.tsr")).unwrap();
        let token = token_from_response(&resp, HashAlg::Sha512, &digest, nonce).unwrap();
        let checked = check_token(&token).unwrap();
        assert!(checked.info.ordering);
        assert!(checked.info.tsa.is_some());
        assert_eq!(
            checked.info.accuracy,
            Some(Accuracy {
                seconds: Some(1),
                millis: Some(500),
                micros: None
            })
        );
        assert_eq!(checked.certs.len(), 2, "signer and the extra certificate");
        // The wrong nonce is still caught.
        assert!(token_from_response(&resp, HashAlg::Sha512, &digest, nonce + 1).is_err());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
