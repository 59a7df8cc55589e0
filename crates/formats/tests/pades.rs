//! PAdES: every fixture signed in an incremental update, checked by verifiers nobody here wrote
//! (pdfsig, pyHanko, qpdf); DSS, document timestamps and hostile inputs.
//!
//! The CMS is made here by a minimal test-only helper (the `cms` builder with a
//! `CustodySigner` on the software token, under a tiny CA made in the test): PAdES profile, so
//! content-type, message-digest and signing-certificate-v2, no signing-time.
//! Signed PDFs are left in `target/test-artifacts/pades/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoRef};
use tessera_formats::FormatError;
use tessera_formats::pdf::doc_timestamp::{self, TimestampOptions};
use tessera_formats::pdf::dss::{ValidationData, add_dss};
use tessera_formats::pdf::{DocMdp, Limits, PlacedAppearance, SignOptions, sign_pdf};
use tessera_hsm::soft::SoftwareToken;
use tessera_hsm::x509::{CustodySigner, X509Signature};
use tessera_hsm::{EcdsaForm, HashAlg, KeyCustody, KeyPurpose, KeyType, MasterKey, SignScheme};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-aa-signingCertificateV2 (RFC 5035 §3).
const ID_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-ct-TSTInfo (RFC 3161 §2.4.2).
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const TEST_TSA_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");
const CRL_URL: &str = "http://127.0.0.1:9/tessera-test-ca.crl";

/// The PDF fixtures (their README describes each), or `TESSERA_PDF_FIXTURES`.
fn fixtures_dir() -> PathBuf {
    std::env::var_os("TESSERA_PDF_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf"))
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("the PDF fixtures (set TESSERA_PDF_FIXTURES)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert_eq!(out.len(), 5, "expected the five PDF fixtures");
    out
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("{name}.pdf"))).unwrap()
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts/pades");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// A tiny PKI and a test-only PAdES CMS.

/// A leaf or CA profile for the x509-cert builder.
struct TestProfile {
    issuer: Name,
    subject: Name,
    ca: bool,
    tsa: bool,
}

impl BuilderProfile for TestProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let s = &self.subject;
        let mut out = vec![
            BasicConstraints {
                ca: self.ca,
                path_len_constraint: None,
            }
            .to_extension(s, &[])?,
        ];
        if self.tsa {
            // RFC 3161 §2.3: the one, critical, extended key usage of a TSA.
            let eku = ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]);
            out.push(Extension {
                extn_id: ID_CE_EXT_KEY_USAGE,
                critical: true,
                extn_value: OctetString::new(eku.to_der()?)?,
            });
        }
        if self.ca {
            out.push(KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(s, &[])?);
        } else {
            out.push(
                KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)
                    .to_extension(s, &[])?,
            );
            let uri = der::asn1::Ia5String::new(CRL_URL).unwrap();
            out.push(
                CrlDistributionPoints(vec![DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![
                        GeneralName::UniformResourceIdentifier(uri),
                    ])),
                    reasons: None,
                    crl_issuer: None,
                }])
                .to_extension(s, &[])?,
            );
        }
        Ok(out)
    }
}

struct Signer {
    custody: Arc<dyn KeyCustody>,
    key_type: KeyType,
    key_ref: Vec<u8>,
    cert: Certificate,
}

impl Signer {
    /// The key signing in the scheme of `hash` (the signed attributes are hashed with it).
    fn with_hash(&self, hash: HashAlg) -> CustodySigner {
        let scheme = match self.key_type {
            KeyType::P256 => SignScheme::Ecdsa(hash, EcdsaForm::Der),
            _ => SignScheme::RsaPkcs1v15(hash),
        };
        CustodySigner::with_scheme(
            self.custody.clone(),
            self.key_type,
            KeyPurpose::Credential,
            &self.key_ref,
            scheme,
        )
        .unwrap()
    }
}

struct Pki {
    root: Certificate,
    root_signer: CustodySigner,
    signers: Vec<Signer>,
    root_pem: PathBuf,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let master =
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let custody: Arc<dyn KeyCustody> = Arc::new(SoftwareToken::new(&master).unwrap());
        let validity = Validity::from_now(Duration::from_secs(24 * 3600)).unwrap();
        let root_name = Name::from_str("CN=Tessera Test Root,O=UBND TP Hai Phong,C=VN").unwrap();
        let key = custody.generate(KeyType::P256, KeyPurpose::Ca).unwrap();
        let root_signer =
            CustodySigner::open(custody.clone(), KeyType::P256, KeyPurpose::Ca, &key.key_ref)
                .unwrap();
        let root = CertificateBuilder::new(
            TestProfile {
                issuer: root_name.clone(),
                subject: root_name.clone(),
                ca: true,
                tsa: false,
            },
            SerialNumber::from(1u32),
            validity,
            root_signer.spki().unwrap(),
        )
        .unwrap()
        .build::<_, X509Signature>(&root_signer)
        .unwrap();
        let mut signers = Vec::new();
        for (i, (name, key_type)) in [
            ("CN=Pham Duc Minh,O=UBND TP Hai Phong,C=VN", KeyType::P256),
            ("CN=Nguyen Thi Thu Ha,O=So TTTT,C=VN", KeyType::Rsa2048),
            (
                "CN=Tessera Test TSA,O=UBND TP Hai Phong,C=VN",
                KeyType::P256,
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let key = custody.generate(key_type, KeyPurpose::Credential).unwrap();
            let signer = CustodySigner::open(
                custody.clone(),
                key_type,
                KeyPurpose::Credential,
                &key.key_ref,
            )
            .unwrap();
            let cert = CertificateBuilder::new(
                TestProfile {
                    issuer: root_name.clone(),
                    subject: Name::from_str(name).unwrap(),
                    ca: false,
                    tsa: i == 2,
                },
                SerialNumber::from(10u32 + i as u32),
                validity,
                signer.spki().unwrap(),
            )
            .unwrap()
            .build::<_, X509Signature>(&root_signer)
            .unwrap();
            signers.push(Signer {
                custody: custody.clone(),
                key_type,
                key_ref: key.key_ref,
                cert,
            });
        }
        let root_pem = artifacts().join("root.pem");
        std::fs::write(&root_pem, pem("CERTIFICATE", &root.to_der().unwrap())).unwrap();
        Pki {
            root,
            root_signer,
            signers,
            root_pem,
        }
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}

/// ESSCertIDv2 with the default (SHA-256) hash: hashAlgorithm absent (RFC 5035 §4, DER).
#[derive(der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

#[derive(der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn digest_alg(hash: HashAlg) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: match hash {
            HashAlg::Sha256 => ID_SHA256,
            HashAlg::Sha384 => ID_SHA384,
            HashAlg::Sha512 => ID_SHA512,
        },
        parameters: None,
    }
}

/// A detached CMS SignedData over a precomputed content digest, PAdES profile.
fn pades_cms(who: &Signer, hash: HashAlg, digest: &[u8]) -> Vec<u8> {
    let econtent = EncapsulatedContentInfo {
        econtent_type: ID_DATA,
        econtent: None,
    };
    signed_data(who, hash, &econtent, Some(digest))
}

/// MessageImprint (RFC 3161 §2.4.1).
#[derive(der::Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// TSTInfo (RFC 3161 §2.4.2), the fields a minimal TSA answers.
#[derive(der::Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: u32,
    gen_time: der::asn1::GeneralizedTime,
}

/// A TimeStampToken (RFC 3161 §2.4.2) by the test TSA for `digest`: test-only, the TSA
/// helper's `tsp` module makes the real ones.
fn timestamp_token(hash: HashAlg, digest: &[u8]) -> Vec<u8> {
    let tst = TstInfo {
        version: 1,
        policy: TEST_TSA_POLICY,
        message_imprint: MessageImprint {
            hash_algorithm: digest_alg(hash),
            hashed_message: OctetString::new(digest).unwrap(),
        },
        serial_number: 42,
        gen_time: der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(
            now_unix() as u64
        ))
        .unwrap(),
    };
    let econtent = EncapsulatedContentInfo {
        econtent_type: ID_CT_TST_INFO,
        econtent: Some(Any::new(der::Tag::OctetString, tst.to_der().unwrap()).unwrap()),
    };
    signed_data(&pki().signers[2], HashAlg::Sha256, &econtent, None)
}

fn signed_data(
    who: &Signer,
    hash: HashAlg,
    econtent: &EncapsulatedContentInfo,
    digest: Option<&[u8]>,
) -> Vec<u8> {
    let pki = pki();
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: who.cert.tbs_certificate().issuer().clone(),
        serial_number: who.cert.tbs_certificate().serial_number().clone(),
    });
    let mut info = SignerInfoBuilder::new(sid, digest_alg(hash), econtent, digest).unwrap();
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(sha2::Sha256::digest(who.cert.to_der().unwrap()).to_vec())
                .unwrap(),
        }],
    };
    let mut values = SetOfVec::new();
    values
        .insert(Any::from_der(&ess.to_der().unwrap()).unwrap())
        .unwrap();
    info.add_signed_attribute(Attribute {
        oid: ID_SIGNING_CERT_V2,
        values,
    })
    .unwrap();
    SignedDataBuilder::new(econtent)
        .add_digest_algorithm(digest_alg(hash))
        .unwrap()
        .add_certificate(CertificateChoices::Certificate(who.cert.clone()))
        .unwrap()
        .add_certificate(CertificateChoices::Certificate(pki.root.clone()))
        .unwrap()
        .add_signer_info::<_, X509Signature>(info, &who.with_hash(hash))
        .unwrap()
        .build()
        .unwrap()
        .to_der()
        .unwrap()
}

/// An empty CRL of the test root (nothing revoked), for the DSS.
fn root_crl() -> Vec<u8> {
    use x509_cert::builder::CrlBuilder;
    use x509_cert::ext::pkix::CrlNumber;
    let pki = pki();
    let now = Duration::from_secs(now_unix() as u64);
    let this_update =
        x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + now - Duration::from_secs(60))
            .unwrap();
    let next_update = x509_cert::time::Time::try_from(
        std::time::UNIX_EPOCH + now + Duration::from_secs(7 * 24 * 3600),
    )
    .unwrap();
    let builder: CrlBuilder = CrlBuilder::new_with_this_update(
        &pki.root,
        CrlNumber(der::asn1::Uint::new(&[1]).unwrap()),
        this_update,
    )
    .unwrap()
    .with_next_update(Some(next_update));
    builder
        .build::<_, X509Signature>(&pki.root_signer)
        .unwrap()
        .to_der()
        .unwrap()
}

/// The tests' one reading of the clock: certificates are made from now, so signing times are.
#[allow(clippy::disallowed_methods)]
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign_with(who: usize, pdf: &[u8], options: &SignOptions) -> Vec<u8> {
    let hash = options.hash;
    sign_pdf(pdf, options, None, |d| {
        Ok(pades_cms(&pki().signers[who], hash, d))
    })
    .unwrap()
    .to_vec()
}

fn options() -> SignOptions {
    let mut o = SignOptions::new("Phạm Đức Minh", now_unix());
    o.reason = Some("Phê duyệt".into());
    o.location = Some("Hải Phòng".into());
    o
}

// ---------------------------------------------------------------------------------------------
// Verifiers nobody here wrote.

/// Whether `tool` runs; if not, the test is skipped with a message (fails under CI).
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is needed in CI (poppler-utils / pyHanko / qpdf)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    ok
}

fn qpdf_check(path: &Path) {
    if !have("qpdf", &["--version"]) {
        return;
    }
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "qpdf --check {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// pdfsig's report; asserts every signature valid and the last one covering the whole file.
fn pdfsig(path: &Path, signatures: usize, last_covers_all: bool) -> Option<String> {
    if !have("pdfsig", &["-v"]) {
        return None;
    }
    let out = Command::new("pdfsig").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pdfsig {}: {text}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.matches("Signature Validation: Signature is Valid.")
            .count(),
        signatures,
        "{}: {text}",
        path.display()
    );
    let last = text.rsplit("Signature #").next().unwrap();
    assert_eq!(
        last.contains("Total document signed"),
        last_covers_all,
        "{}: {text}",
        path.display()
    );
    // pdfsig knows no trust anchor of ours: "Certificate issuer isn't Trusted" is its verdict
    // for a chain to an unknown root (trust is pyHanko's to check here).
    assert!(!text.contains("Revoked"), "{text}");
    Some(text)
}

/// pyHanko's CLI verdict with the test root as the only trust anchor; asserts each signature
/// INTACT and TRUSTED, and answers the report.
fn pyhanko(path: &Path) -> Option<String> {
    if !have("pyhanko", &["--version"]) {
        return None;
    }
    let out = Command::new("pyhanko")
        .args(["sign", "validate", "--soft-revocation-check"])
        .args(["--trust-replace", "--trust"])
        .arg(&pki().root_pem)
        .arg(path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pyhanko {}: {text}", path.display());
    Some(text)
}

/// pyHanko's verdict per signature of `path` (Python API), one line each.
fn pyhanko_lines(path: &Path, ltv: bool) -> Option<Vec<String>> {
    if !have("python3", &["-c", "import pyhanko"]) {
        return None;
    }
    let script = r#"
import sys
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from asn1crypto import pem, x509
with open(sys.argv[2], 'rb') as f:
    _, _, der_bytes = pem.unarmor(f.read())
root = x509.Certificate.load(der_bytes)
ltv = sys.argv[3] == 'ltv'
with open(sys.argv[1], 'rb') as f:
    r = PdfFileReader(f)
    for sig in r.embedded_signatures:
        if sig.sig_object.get('/Type') == '/DocTimeStamp':
            vc = ValidationContext(trust_roots=[root], allow_fetching=False,
                                   revocation_mode='soft-fail')
            st = validate_pdf_timestamp(sig, vc)
            print(sig.field_name, 'doc-timestamp intact=%s valid=%s trusted=%s coverage=%s' % (
                st.intact, st.valid, st.trusted, st.coverage.name))
            continue
        if ltv:
            # Revocation from the DSS only: no fetching, and a missing CRL fails.
            vc = DocumentSecurityStore.read_dss(r).as_validation_context({
                'trust_roots': [root], 'allow_fetching': False,
                'revocation_mode': 'require', 'retroactive_revinfo': True})
        else:
            vc = ValidationContext(trust_roots=[root], allow_fetching=False,
                                   revocation_mode='soft-fail')
        st = validate_pdf_signature(sig, vc)
        print(sig.field_name, 'intact=%s valid=%s trusted=%s coverage=%s modification=%s docmdp_ok=%s' % (
            st.intact, st.valid, st.trusted, st.coverage.name,
            st.modification_level.name if st.modification_level else None, st.docmdp_ok))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .arg(&pki().root_pem)
        .arg(if ltv { "ltv" } else { "plain" })
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pyHanko API on {}: {text}{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(text.lines().map(str::to_string).collect())
}

/// Every signature of `path` checked through pyHanko's Python API: intact, valid, trusted to
/// the test root; answers one line per signature.
fn pyhanko_all(path: &Path, ltv: bool) -> Option<Vec<String>> {
    let lines = pyhanko_lines(path, ltv)?;
    let text = lines.join("\n");
    for line in &lines {
        assert!(
            line.contains("intact=True valid=True trusted=True"),
            "{}: {text}",
            path.display()
        );
        assert!(
            !line.contains("docmdp_ok=False"),
            "{}: {text}",
            path.display()
        );
    }
    Some(lines)
}

fn save(name: &str, bytes: &[u8]) -> PathBuf {
    let path = artifacts().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_fixture_is_signed_in_an_incremental_update_that_verifiers_accept() {
    for (name, original) in fixtures() {
        let signed = sign_with(0, &original, &options());
        // The original bytes are untouched: the signature is an appended revision.
        assert_eq!(&signed[..original.len()], &original[..], "{name}");
        let path = save(&format!("{name}-signed.pdf"), &signed);
        qpdf_check(&path);
        pdfsig(&path, 1, true);
        if let Some(report) = pyhanko(&path) {
            // The summary line: field:fingerprint:INTACT:TRUSTED,UNTOUCHED
            assert!(
                report.contains(":INTACT:TRUSTED,UNTOUCHED"),
                "{name}: {report}"
            );
        }
        let lines = pyhanko_all(&path, false);
        if let Some(lines) = lines {
            assert_eq!(lines.len(), 1, "{name}: {lines:?}");
            assert!(
                lines[0].contains("coverage=ENTIRE_FILE"),
                "{name}: {lines:?}"
            );
        }
        // B-LT: the chain and the CA's CRL in the DSS validate it without network access.
        let lt = add_dss(&signed, &validation_data(), &Limits::default())
            .unwrap()
            .to_vec();
        let path = save(&format!("{name}-b-lt.pdf"), &lt);
        qpdf_check(&path);
        pdfsig(&path, 1, false);
        if let Some(lines) = pyhanko_all(&path, true) {
            assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        }
    }
}

/// The signer's chain and the CA's CRL.
fn validation_data() -> ValidationData {
    let pki = pki();
    ValidationData {
        certs: vec![
            pki.signers[0].cert.to_der().unwrap(),
            pki.root.to_der().unwrap(),
        ],
        ocsps: vec![],
        crls: vec![root_crl()],
    }
}

#[test]
fn a_second_signature_keeps_the_first_valid() {
    for (name, original) in fixtures() {
        let once = sign_with(0, &original, &options());
        let mut second = options();
        second.name = "Nguyễn Thị Thu Hà".into();
        second.hash = HashAlg::Sha384;
        let twice = sign_with(1, &once, &second);
        assert_eq!(&twice[..once.len()], &once[..], "{name}");
        let path = save(&format!("{name}-signed-twice.pdf"), &twice);
        qpdf_check(&path);
        pdfsig(&path, 2, true);
        if let Some(lines) = pyhanko_all(&path, false) {
            assert_eq!(lines.len(), 2, "{name}: {lines:?}");
            assert!(lines[0].starts_with("Signature1 "), "{lines:?}");
            assert!(lines[1].starts_with("Signature2 "), "{lines:?}");
            assert!(lines[1].contains("coverage=ENTIRE_FILE"), "{lines:?}");
        }
    }
}

#[test]
fn certification_is_for_the_first_signature_only() {
    let original = fixture("quyet-dinh-libreoffice");
    let mut certify = options();
    certify.certify = Some(DocMdp::FormFillAndSign);
    let certified = sign_with(0, &original, &certify);
    let path = save("quyet-dinh-certified.pdf", &certified);
    qpdf_check(&path);
    pdfsig(&path, 1, true);
    // Signing a P=2 certified document is an allowed change.
    let signed = sign_with(1, &certified, &options());
    let path2 = save("quyet-dinh-certified-then-signed.pdf", &signed);
    if let Some(lines) = pyhanko_all(&path2, false) {
        assert_eq!(lines.len(), 2, "{lines:?}");
    }
    // A second certification is refused.
    let again = sign_pdf(&certified, &certify, None, |_| unreachable!());
    assert!(
        matches!(again, Err(FormatError::Unsupported(_))),
        "{again:?}"
    );
    // So is certifying a document that already carries a signature.
    let plain = sign_with(0, &original, &options());
    let late = sign_pdf(&plain, &certify, None, |_| unreachable!());
    assert!(matches!(late, Err(FormatError::Unsupported(_))), "{late:?}");
    // And any signature on a P=1 document.
    certify.certify = Some(DocMdp::NoChanges);
    let locked = sign_with(0, &original, &certify);
    let refused = sign_pdf(&locked, &options(), None, |_| unreachable!());
    assert!(
        matches!(refused, Err(FormatError::Unsupported(_))),
        "{refused:?}"
    );
}

/// An appearance hook like the APPEARANCE helper's: a Form XObject per page in `pages`, placed
/// in the signature area of the LibreOffice fixtures.
fn boxes_on(
    pages: &'static [u32],
) -> impl Fn(&mut lopdf::IncrementalDocument) -> Result<Vec<PlacedAppearance>, FormatError> {
    move |inc| {
        let all = inc.get_prev_documents().get_pages();
        let mut placed = Vec::new();
        for page in pages {
            let mut dict = lopdf::Dictionary::new();
            dict.set("Type", lopdf::Object::Name(b"XObject".to_vec()));
            dict.set("Subtype", lopdf::Object::Name(b"Form".to_vec()));
            dict.set(
                "BBox",
                lopdf::Object::Array(vec![0.into(), 0.into(), 186.into(), 92.into()]),
            );
            let content = b"0 0 1 RG 2 w 4 4 178 84 re S".to_vec();
            let normal = inc
                .new_document
                .add_object(lopdf::Stream::new(dict, content));
            placed.push(PlacedAppearance {
                page: all[page],
                rect: [322.0, 252.0, 508.0, 344.0],
                normal,
            });
        }
        Ok(placed)
    }
}

#[test]
fn a_visible_appearance_becomes_the_widget_of_the_field() {
    let mut cases: Vec<(String, &'static [u32])> = fixtures()
        .into_iter()
        .map(|(name, bytes)| {
            let pages = lopdf::Document::load_mem(&bytes).unwrap().get_pages().len();
            (name, [&[1u32][..], &[2], &[3]][pages - 1])
        })
        .collect();
    cases.push(("quyet-dinh-libreoffice".into(), &[1, 2]));
    for (name, pages) in cases {
        let name = name.as_str();
        let original = fixture(name);
        let hook = boxes_on(pages);
        let signed = sign_pdf(&original, &options(), Some(&hook), |d| {
            Ok(pades_cms(&pki().signers[0], HashAlg::Sha256, d))
        })
        .unwrap()
        .to_vec();
        let path = save(&format!("{name}-visible-{}.pdf", pages.len()), &signed);
        qpdf_check(&path);
        // poppler lists a field's signature once per widget.
        pdfsig(&path, pages.len(), true);
        if let Some(lines) = pyhanko_all(&path, false) {
            assert_eq!(lines.len(), 1, "{lines:?}");
        }
        let doc = lopdf::Document::load_mem(&signed).unwrap();
        for (number, page) in doc.get_pages() {
            let annots = doc
                .get_dictionary(page)
                .unwrap()
                .get(b"Annots")
                .and_then(lopdf::Object::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            assert_eq!(
                annots,
                usize::from(pages.contains(&number)),
                "{name} page {number}"
            );
        }
    }
}

#[test]
fn the_dss_holds_chain_and_crl_and_merges_with_an_existing_one() {
    let original = fixture("cong-van-reportlab");
    let signed = sign_with(0, &original, &options());
    let pki = pki();
    let data = ValidationData {
        certs: vec![
            pki.signers[0].cert.to_der().unwrap(),
            pki.root.to_der().unwrap(),
        ],
        ocsps: vec![],
        crls: vec![root_crl()],
    };
    let with_dss = add_dss(&signed, &data, &Limits::default())
        .unwrap()
        .to_vec();
    assert_eq!(&with_dss[..signed.len()], &signed[..]);
    let path = save("cong-van-reportlab-b-lt.pdf", &with_dss);
    qpdf_check(&path);
    // The DSS revision comes after the signature, which therefore no longer covers the file.
    pdfsig(&path, 1, false);
    // Adding the same data again adds no stream; a new item is added beside the old ones.
    let mut more = data.clone();
    more.certs.push(pki.signers[1].cert.to_der().unwrap());
    let merged = add_dss(&with_dss, &more, &Limits::default())
        .unwrap()
        .to_vec();
    let doc = lopdf::Document::load_mem(&merged).unwrap();
    let dss = doc
        .get_dictionary(
            doc.catalog()
                .unwrap()
                .get(b"DSS")
                .unwrap()
                .as_reference()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(dss.get(b"Certs").unwrap().as_array().unwrap().len(), 3);
    assert_eq!(dss.get(b"CRLs").unwrap().as_array().unwrap().len(), 1);
    let path = save("cong-van-reportlab-b-lt-merged.pdf", &merged);
    qpdf_check(&path);
    // LTV: pyHanko validates the signature from the DSS alone (no fetching), at PAdES-LT.
    if let Some(lines) = pyhanko_all(&path, true) {
        assert_eq!(lines.len(), 1, "{lines:?}");
    }
    // Without the CRL the same check fails: the DSS is what makes it pass.
    let certs_only = ValidationData {
        crls: vec![],
        ..data.clone()
    };
    let no_crl = add_dss(&signed, &certs_only, &Limits::default())
        .unwrap()
        .to_vec();
    let path = save("cong-van-reportlab-dss-without-crl.pdf", &no_crl);
    if let Some(lines) = pyhanko_lines(&path, true) {
        assert!(lines[0].contains("trusted=False"), "{lines:?}");
    }
    let empty = add_dss(&signed, &ValidationData::default(), &Limits::default());
    assert!(matches!(empty, Err(FormatError::Invalid(_))));
}

#[test]
fn a_document_timestamp_covers_the_whole_file() {
    let original = fixture("phu-luc-ghostscript");
    let signed = sign_with(0, &original, &options());
    let pki = pki();
    let data = ValidationData {
        certs: vec![
            pki.signers[0].cert.to_der().unwrap(),
            pki.root.to_der().unwrap(),
        ],
        ocsps: vec![],
        crls: vec![root_crl()],
    };
    let lt = add_dss(&signed, &data, &Limits::default())
        .unwrap()
        .to_vec();
    let mut seen = Vec::new();
    let stamped = doc_timestamp::timestamp_pdf(&lt, &TimestampOptions::default(), |d| {
        seen = d.to_vec();
        Ok(timestamp_token(HashAlg::Sha256, d))
    })
    .unwrap();
    let br = stamped.byte_range();
    let bytes = stamped.to_vec();
    assert_eq!(br[0], 0);
    assert_eq!((br[2] + br[3]) as usize, bytes.len());
    let mut h = sha2::Sha256::new();
    h.update(&bytes[..br[1] as usize]);
    h.update(&bytes[br[2] as usize..]);
    assert_eq!(h.finalize().to_vec(), seen);
    let text = String::from_utf8_lossy(&bytes[lt.len()..]);
    assert!(text.contains("/Type /DocTimeStamp"), "{text}");
    assert!(text.contains("/SubFilter /ETSI.RFC3161"), "{text}");
    let path = save("phu-luc-ghostscript-b-lta.pdf", &bytes);
    qpdf_check(&path);
    if let Some(lines) = pyhanko_all(&path, false) {
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("Signature1 intact=True"), "{lines:?}");
        assert!(
            lines[1].starts_with(
                "Signature2 doc-timestamp intact=True valid=True trusted=True coverage=ENTIRE_FILE"
            ),
            "{lines:?}"
        );
    }
}

#[test]
fn the_byte_range_is_exact_and_the_digest_is_of_it() {
    let original = fixture("quyet-dinh-linearized");
    for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let mut o = options();
        o.hash = hash;
        let mut digest = Vec::new();
        let signed = sign_pdf(&original, &o, None, |d| {
            digest = d.to_vec();
            Ok(pades_cms(&pki().signers[0], hash, d))
        })
        .unwrap();
        let bytes = signed.to_vec();
        let br = signed.byte_range();
        assert_eq!(bytes[br[1] as usize], b'<');
        assert_eq!(bytes[br[2] as usize - 1], b'>');
        assert_eq!((br[2] + br[3]) as usize, bytes.len());
        let mut covered = bytes[..br[1] as usize].to_vec();
        covered.extend_from_slice(&bytes[br[2] as usize..]);
        assert_eq!(hash.digest(&covered), digest, "{hash:?}");
        let written = format!("/ByteRange [0 {} {} {}]", br[1], br[2], br[3]);
        assert!(
            String::from_utf8_lossy(&bytes).contains(&written),
            "{written}"
        );
    }
}

#[test]
fn preparing_is_deterministic_and_the_cms_may_come_later() {
    let original = fixture("quyet-dinh-objstm");
    let o = options();
    let first = tessera_formats::pdf::sign::prepare(&original, &o, None).unwrap();
    let again = tessera_formats::pdf::sign::prepare(&original, &o, None).unwrap();
    assert_eq!(first.digest(), again.digest());
    assert_eq!(first.byte_range(), again.byte_range());
    let cms = pades_cms(&pki().signers[0], HashAlg::Sha256, &first.digest());
    let signed = again.embed(&cms).unwrap().to_vec();
    let path = save("quyet-dinh-objstm-prepared.pdf", &signed);
    pdfsig(&path, 1, true);
}

#[test]
fn a_cms_too_big_for_the_placeholder_is_refused() {
    let original = fixture("quyet-dinh-libreoffice");
    let mut o = options();
    o.contents_size = 100;
    let err = sign_pdf(&original, &o, None, |d| {
        Ok(pades_cms(&pki().signers[0], HashAlg::Sha256, d))
    })
    .unwrap_err();
    assert!(matches!(err, FormatError::TooLarge(_)), "{err:?}");
    assert!(err.to_string().contains("reserved"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Bad input.

fn sign_err(pdf: &[u8], limits: Limits) -> FormatError {
    let mut o = options();
    o.limits = limits;
    sign_pdf(pdf, &o, None, |_| Ok(vec![0x30, 0])).unwrap_err()
}

#[test]
fn bad_inputs_get_clear_errors() {
    let good = fixture("quyet-dinh-libreoffice");
    let d = Limits::default();

    let e = sign_err(b"PK\x03\x04 this is a zip file", d);
    assert!(
        matches!(&e, FormatError::Invalid(m) if m.contains("not a PDF")),
        "{e}"
    );

    let e = sign_err(&good[..good.len() / 2], d);
    assert!(
        matches!(&e, FormatError::Invalid(m) if m.contains("truncated")),
        "{e}"
    );

    // A startxref pointing nowhere.
    let at = good.windows(9).rposition(|w| w == b"startxref").unwrap();
    let mut broken = good[..at].to_vec();
    broken.extend_from_slice(b"startxref\n17\n%%EOF\n");
    let e = sign_err(&broken, d);
    assert!(
        matches!(&e, FormatError::Invalid(m) if m.contains("cross-reference")),
        "{e}"
    );

    let e = sign_err(
        &good,
        Limits {
            max_file_size: 1000,
            ..d
        },
    );
    assert!(
        matches!(&e, FormatError::TooLarge(m) if m.contains("limit")),
        "{e}"
    );

    // The object stream of this fixture decompresses to a few KB.
    let e = sign_err(
        &fixture("quyet-dinh-objstm"),
        Limits {
            max_decompressed_stream: 256,
            ..d
        },
    );
    assert!(
        matches!(&e, FormatError::TooLarge(m) if m.contains("decompress")),
        "{e}"
    );

    let e = sign_err(&encrypted_pdf(), d);
    assert!(
        matches!(&e, FormatError::Unsupported(m) if m.contains("encrypted")),
        "{e}"
    );

    let e = sign_err(&nested_pdf(100_000), d);
    assert!(matches!(e, FormatError::Invalid(_)), "{e}");

    // A page tree whose node is its own kid.
    let cycle = hand_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
        ],
        "",
    );
    let e = sign_err(&cycle, d);
    assert!(matches!(e, FormatError::Invalid(_)), "{e}");

    // A catalog that is not a dictionary.
    let e = sign_err(&hand_pdf(&["[1 2 3]"], ""), d);
    assert!(matches!(e, FormatError::Invalid(_)), "{e}");

    let e = sign_err(&[], d);
    assert!(matches!(e, FormatError::Invalid(_)), "{e}");
}

/// A small PDF written by hand, with objects `objects` (1 = catalog, 2 = pages, 3 = page
/// expected) and the given extra trailer entries.
fn hand_pdf(objects: &[&str], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn encrypted_pdf() -> Vec<u8> {
    hand_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            "<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 /O <00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF> /U <00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF> >>",
        ],
        "/Encrypt 4 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]",
    )
}

fn nested_pdf(depth: usize) -> Vec<u8> {
    let deep = format!(
        "<< /Type /Catalog /Pages 2 0 R /X {}{} >>",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    hand_pdf(
        &[
            &deep,
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ],
        "",
    )
}

#[test]
fn a_hand_written_pdf_signs_and_the_nesting_limit_is_lopdfs() {
    // The generator itself makes signable PDFs, so the refusals above are about their faults.
    let ok = nested_pdf(10);
    let signed = sign_with(0, &ok, &options());
    let path = save("hand-written-signed.pdf", &signed);
    qpdf_check(&path);
    pdfsig(&path, 1, true);
}

/// Large images are not held in memory twice: their bytes are dropped while loading, so a hook
/// that tries to change one is refused rather than writing an empty image.
#[test]
fn large_images_are_not_copied_and_cannot_be_rewritten() {
    let image = format!(
        "<< /Type /XObject /Subtype /Image /Width 256 /Height 256 /ColorSpace /DeviceRGB \
         /BitsPerComponent 8 /Length {} >>\nstream\n{}\nendstream",
        256 * 256 * 3,
        "\u{7f}".repeat(256 * 256 * 3)
    );
    let pdf = hand_pdf(
        &[
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> >>",
            &image,
        ],
        "",
    );
    let signed = sign_with(0, &pdf, &options());
    let path = save("hand-written-image-signed.pdf", &signed);
    qpdf_check(&path);
    pdfsig(&path, 1, true);
    let touch =
        |inc: &mut lopdf::IncrementalDocument| -> Result<Vec<PlacedAppearance>, FormatError> {
            inc.opt_clone_object_to_new_document((4, 0)).unwrap();
            Ok(Vec::new())
        };
    let e = sign_pdf(&pdf, &options(), Some(&touch), |_| unreachable!()).unwrap_err();
    assert!(
        matches!(&e, FormatError::Unsupported(m) if m.contains("image")),
        "{e}"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn base() -> &'static [u8] {
        static B: OnceLock<Vec<u8>> = OnceLock::new();
        B.get_or_init(|| fixture("cong-van-reportlab"))
    }

    fn try_sign(pdf: &[u8]) {
        let r = sign_pdf(pdf, &options(), None, |d| Ok(vec![0x04, d.len() as u8]));
        if let Ok(update) = r {
            // Whatever was accepted ends in a readable revision.
            let bytes = update.to_vec();
            assert!(lopdf::Document::load_mem(&bytes).is_ok());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        #[test]
        fn truncations_never_panic(cut in 0usize..93_085) {
            let b = base();
            try_sign(&b[..cut.min(b.len())]);
        }

        #[test]
        fn byte_flips_never_panic(flips in proptest::collection::vec((0usize..93_085, any::<u8>()), 1..8)) {
            let mut b = base().to_vec();
            for (at, byte) in flips {
                let at = at % b.len();
                b[at] = byte;
            }
            try_sign(&b);
        }
    }
}
