//! The PKCS#11 backend against SoftHSM2.
//!
//! A PKCS#11 module is initialised once per process and reads `SOFTHSM2_CONF` then, so each
//! test runs in a child process of this test binary with its own token directory: the parent
//! makes the token, re-runs itself with `--exact <test>` and the child does the work. Without
//! SoftHSM2 the tests are skipped with a message, except in CI where they fail.
//!
//! Every signature is verified by an independent implementation (ring).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use der::{Decode, Encode};
use ring::signature::{self as rs, UnparsedPublicKey};
use signature::{Keypair, SignatureEncoding, Signer};
use spki::SubjectPublicKeyInfoRef;
use tessera_hsm::pkcs11::{
    DigestScheme, HashAlg, KeySpec, Pin, Pkcs11Config, Pkcs11Error, Pkcs11Token, TokenSelector,
    ecdsa_raw_to_der,
};
use tessera_hsm::softhsm::{SoftHsmToken, module_or_skip};
use tessera_hsm::{KeyAlgorithm, KeyCustody};

const CHILD: &str = "TESSERA_HSM_TEST_CHILD";
const LABEL: &str = "tessera-test";
const PIN: &str = "1234-5678";

/// What a test body gets: the module and an open token.
struct Env {
    module: PathBuf,
    label: String,
    pin: String,
}

impl Env {
    fn config(&self) -> Pkcs11Config {
        Pkcs11Config::new(
            &self.module,
            TokenSelector::Label(self.label.clone()),
            Pin::new(self.pin.clone()),
        )
    }

    fn open(&self) -> Pkcs11Token {
        Pkcs11Token::open(self.config()).unwrap()
    }
}

/// Runs `body` in a child process with a fresh token (see the module comment).
fn isolated(name: &str, body: impl FnOnce(&Env)) {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        let env = Env {
            module: std::env::var_os("TESSERA_HSM_TEST_MODULE").unwrap().into(),
            label: LABEL.into(),
            pin: PIN.into(),
        };
        return body(&env);
    }
    let module = match module_or_skip(name) {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => panic!("{e}"),
    };
    let token = SoftHsmToken::create(&module, LABEL, PIN).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env("SOFTHSM2_CONF", &token.conf)
        .env("TESSERA_HSM_TEST_MODULE", &module)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child test {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    print!("{stdout}");
    eprint!("{stderr}");
}

macro_rules! hsm_test {
    ($(#[$doc:meta])* $name:ident, $body:expr) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            isolated(stringify!($name), $body)
        }
    };
}

/// Verifies `sig` over `msg` with ring, taking the key from the SubjectPublicKeyInfo.
fn ring_verify(
    alg: &'static dyn rs::VerificationAlgorithm,
    spki_der: &[u8],
    msg: &[u8],
    sig: &[u8],
) {
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).unwrap();
    let key = spki.subject_public_key.raw_bytes();
    UnparsedPublicKey::new(alg, key)
        .verify(msg, sig)
        .unwrap_or_else(|_| panic!("ring rejects the signature ({alg:?})"));
}

fn spki(token: &Pkcs11Token, id: &[u8]) -> Vec<u8> {
    token.public_key(id).unwrap().to_spki_der().unwrap()
}

hsm_test!(
    /// Key pairs of every kind, with the attributes read back through PKCS#11 and once more
    /// by `pkcs11-tool`, an outside witness.
    generated_keys_are_locked_down,
    |env| {
        let token = env.open();
        let specs = [
            (KeySpec::rsa(2048).unwrap(), "rsa2048"),
            (KeySpec::rsa(3072).unwrap(), "rsa3072"),
            (KeySpec::P256, "p256"),
            (KeySpec::P384, "p384"),
            (KeySpec::Ed25519, "ed25519"),
        ];
        for (i, (spec, label)) in specs.iter().enumerate() {
            let id = vec![0xA0, i as u8];
            let info = token.generate_key_pair(*spec, label, &id).unwrap();
            assert_eq!(info.spec, Some(*spec), "{label}");
            assert_eq!(info.id, id);
            assert_eq!(info.label, *label);
            let a = &info.attributes;
            assert!(a.is_locked_down(), "{label}: {a:?}");
            assert!(a.local && a.always_sensitive, "{label}: {a:?}");
            // Found again by id and by label, and nothing else shares the id.
            let again = token.find_key(&id).unwrap().unwrap();
            assert_eq!(again.attributes, info.attributes);
            assert_eq!(token.find_keys_by_label(label).unwrap().len(), 1);
            // The public half parses as SubjectPublicKeyInfo of the right kind.
            let public = token.public_key(&id).unwrap();
            assert_eq!(public.spec(), *spec);
            let der = public.to_spki_der().unwrap();
            assert_eq!(SubjectPublicKeyInfoRef::from_der(&der).unwrap().to_der().unwrap(), der);
        }
        assert!(KeySpec::rsa(1024).is_err());
        assert!(
            token.generate_key_pair(KeySpec::P256, "dup", &[0xA0, 2]).is_err(),
            "a second key with the same CKA_ID"
        );
        assert_eq!(token.list_keys().unwrap().len(), specs.len());

        // The outside witness.
        let out = match Command::new("pkcs11-tool")
            .arg("--module")
            .arg(&env.module)
            .args(["--token-label", LABEL, "--login", "--pin", PIN])
            .args(["--list-objects", "--type", "privkey"])
            .output()
        {
            Ok(out) => out,
            Err(_) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED the pkcs11-tool check: OpenSC is not installed");
                return;
            }
            Err(e) => panic!("pkcs11-tool: {e} (apt-get install -y opensc)"),
        };
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{listing}{}", String::from_utf8_lossy(&out.stderr));
        let objects: Vec<&str> = listing.split("Private Key Object").skip(1).collect();
        assert_eq!(objects.len(), specs.len(), "{listing}");
        for object in objects {
            let usage = object.lines().find(|l| l.trim_start().starts_with("Usage:")).unwrap();
            let access = object.lines().find(|l| l.trim_start().starts_with("Access:")).unwrap();
            assert!(usage.contains("sign"), "{object}");
            for refused in ["decrypt", "unwrap", "derive"] {
                assert!(!usage.contains(refused), "{refused} allowed: {object}");
            }
            for required in ["sensitive", "always sensitive", "never extractable", "local"] {
                assert!(access.contains(required), "not {required}: {object}");
            }
        }
        for (_, label) in specs {
            assert!(listing.contains(&format!("label:      {label}")), "{label}: {listing}");
        }
    }
);

hsm_test!(
    /// Every scheme, through the digest API and through the RustCrypto traits; ring verifies.
    every_signature_verifies_independently,
    |env| {
        let token = env.open();
        let msg = b"header.payload";
        let rsa = [0x01];
        token.generate_key_pair(KeySpec::rsa(2048).unwrap(), "rsa", &rsa).unwrap();
        let rsa_spki = spki(&token, &rsa);
        for (hash, alg) in [
            (HashAlg::Sha256, &rs::RSA_PKCS1_2048_8192_SHA256),
            (HashAlg::Sha384, &rs::RSA_PKCS1_2048_8192_SHA384),
            (HashAlg::Sha512, &rs::RSA_PKCS1_2048_8192_SHA512),
        ] {
            let sig = token
                .sign_digest(&rsa, DigestScheme::RsaPkcs1v15(hash), &hash.digest(msg))
                .unwrap();
            ring_verify(alg, &rsa_spki, msg, &sig);
        }
        for (hash, alg) in [
            (HashAlg::Sha256, &rs::RSA_PSS_2048_8192_SHA256),
            (HashAlg::Sha512, &rs::RSA_PSS_2048_8192_SHA512),
        ] {
            let sig = token
                .sign_digest(&rsa, DigestScheme::RsaPss(hash), &hash.digest(msg))
                .unwrap();
            ring_verify(alg, &rsa_spki, msg, &sig);
        }
        // A digest of the wrong length is refused before it reaches the token.
        assert!(matches!(
            token.sign_digest(&rsa, DigestScheme::RsaPkcs1v15(HashAlg::Sha256), &[0; 20]),
            Err(Pkcs11Error::Invalid(_))
        ));
        let signer = token.rsa_pkcs1v15::<sha2::Sha256>(&rsa).unwrap();
        let sig: rsa10::pkcs1v15::Signature = signer.try_sign(msg).unwrap();
        ring_verify(&rs::RSA_PKCS1_2048_8192_SHA256, &rsa_spki, msg, &sig.to_vec());
        let pss = token.rsa_pss::<sha2::Sha256>(&rsa).unwrap();
        let sig: rsa10::pss::Signature = pss.try_sign(msg).unwrap();
        ring_verify(&rs::RSA_PSS_2048_8192_SHA256, &rsa_spki, msg, &sig.to_vec());

        // ECDSA, many times over (SoftHSM2 issue #901 reports sporadic bad signatures).
        let p256 = [0x02];
        token.generate_key_pair(KeySpec::P256, "p256", &p256).unwrap();
        let p256_spki = spki(&token, &p256);
        let signer = token.p256(&p256).unwrap();
        for i in 0..200u32 {
            let m = format!("message {i}");
            let raw = token
                .sign_digest(&p256, DigestScheme::Ecdsa, &HashAlg::Sha256.digest(m.as_bytes()))
                .unwrap();
            assert_eq!(raw.len(), 64);
            ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &p256_spki, m.as_bytes(), &raw);
            let der = ecdsa_raw_to_der(KeySpec::P256, &raw).unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_ASN1, &p256_spki, m.as_bytes(), &der);
            let sig: p256::ecdsa::Signature = signer.try_sign(m.as_bytes()).unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &p256_spki, m.as_bytes(), &sig.to_bytes());
            let der: p256::ecdsa::DerSignature = signer.try_sign(m.as_bytes()).unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_ASN1, &p256_spki, m.as_bytes(), der.as_bytes());
        }
        assert_eq!(
            signer.verifying_key().to_sec1_point(false).as_bytes(),
            SubjectPublicKeyInfoRef::from_der(&p256_spki)
                .unwrap()
                .subject_public_key
                .raw_bytes()
        );

        let p384 = [0x03];
        token.generate_key_pair(KeySpec::P384, "p384", &p384).unwrap();
        let p384_spki = spki(&token, &p384);
        let signer = token.p384(&p384).unwrap();
        for i in 0..50u32 {
            let m = format!("message {i}");
            let sig: p384::ecdsa::Signature = signer.try_sign(m.as_bytes()).unwrap();
            ring_verify(&rs::ECDSA_P384_SHA384_FIXED, &p384_spki, m.as_bytes(), &sig.to_bytes());
            let der: p384::ecdsa::DerSignature = signer.try_sign(m.as_bytes()).unwrap();
            ring_verify(&rs::ECDSA_P384_SHA384_ASN1, &p384_spki, m.as_bytes(), der.as_bytes());
        }

        let ed = [0x04];
        token.generate_key_pair(KeySpec::Ed25519, "ed25519", &ed).unwrap();
        let ed_spki = spki(&token, &ed);
        let signer = token.ed25519(&ed).unwrap();
        let sig: ed25519::Signature = signer.try_sign(msg).unwrap();
        ring_verify(&rs::ED25519, &ed_spki, msg, &sig.to_bytes());

        // A signer of the wrong kind is refused.
        assert!(token.p256(&rsa).is_err());
        assert!(token.rsa_pkcs1v15::<sha2::Sha256>(&p256).is_err());
    }
);

hsm_test!(
    /// The standard x509-cert builder makes a self-signed certificate signed in the HSM.
    x509_builder_signs_inside_the_hsm,
    |env| {
        use std::str::FromStr;
        use std::time::Duration;
        use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::time::Validity;

        let token = env.open();
        token.generate_key_pair(KeySpec::P256, "ca-ec", &[0x10]).unwrap();
        token.generate_key_pair(KeySpec::rsa(2048).unwrap(), "ca-rsa", &[0x11]).unwrap();
        let subject = Name::from_str("CN=Tessera Test CA,O=UBND TP Hai Phong,C=VN").unwrap();
        let validity = Validity::from_now(Duration::from_secs(3600)).unwrap();

        let ec = token.p256(&[0x10]).unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(&ec.verifying_key()).unwrap();
        let profile = Root::new(false, subject.clone()).unwrap();
        let builder =
            CertificateBuilder::new(profile, SerialNumber::from(1u32), validity, spki)
                .unwrap();
        let cert = builder.build::<_, p256::ecdsa::DerSignature>(&ec).unwrap();
        assert_eq!(cert.signature_algorithm().oid, ecdsa::ECDSA_SHA256_OID);
        let tbs = cert.tbs_certificate().to_der().unwrap();
        let key_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        ring_verify(
            &rs::ECDSA_P256_SHA256_ASN1,
            &key_der,
            &tbs,
            cert.signature().raw_bytes(),
        );

        let rsa = token.rsa_pkcs1v15::<sha2::Sha256>(&[0x11]).unwrap();
        let spki = spki::SubjectPublicKeyInfoOwned::from_key(&rsa.verifying_key()).unwrap();
        let profile = Root::new(false, subject).unwrap();
        let builder =
            CertificateBuilder::new(profile, SerialNumber::from(2u32), validity, spki).unwrap();
        let cert = builder.build::<_, rsa10::pkcs1v15::Signature>(&rsa).unwrap();
        let tbs = cert.tbs_certificate().to_der().unwrap();
        let key_der = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .unwrap();
        ring_verify(
            &rs::RSA_PKCS1_2048_8192_SHA256,
            &key_der,
            &tbs,
            cert.signature().raw_bytes(),
        );
    }
);

hsm_test!(
    /// KeyCustody: ES256/RS256 token-signing keys generated in the HSM, signatures in JWS form
    /// verified against the published JWK.
    custody_signs_jws_in_the_hsm,
    |env| {
        use base64::Engine;
        let token = env.open();
        assert_eq!(token.backend(), "pkcs11");
        let unb64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let es = KeyCustody::generate(&token, KeyAlgorithm::Es256).unwrap();
        let info = token.find_key(&es.key_ref).unwrap().unwrap();
        assert!(info.label.starts_with("tessera:oidc:ES256:"), "{}", info.label);
        let sig = token.sign(KeyAlgorithm::Es256, &es.key_ref, b"h.p").unwrap();
        assert_eq!(sig.len(), 64);
        let mut point = vec![4u8];
        point.extend(unb64(&es.public_jwk["x"]));
        point.extend(unb64(&es.public_jwk["y"]));
        UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point)
            .verify(b"h.p", &sig)
            .unwrap();

        let rs_key = KeyCustody::generate(&token, KeyAlgorithm::Rs256).unwrap();
        let sig = token.sign(KeyAlgorithm::Rs256, &rs_key.key_ref, b"h.p").unwrap();
        let (n, e) = (unb64(&rs_key.public_jwk["n"]), unb64(&rs_key.public_jwk["e"]));
        rs::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&rs::RSA_PKCS1_2048_8192_SHA256, b"h.p", &sig)
            .unwrap();
        // The wrong algorithm for a key, or an unknown key, is an error, not a panic.
        assert!(token.sign(KeyAlgorithm::Es256, &rs_key.key_ref, b"m").is_err());
        assert!(token.sign(KeyAlgorithm::Rs256, b"no such key", b"m").is_err());
    }
);

hsm_test!(
    /// Faults under the pool: the module finalised and re-initialised by someone else (all
    /// sessions closed, handles renumbered), finalised and left so (our reload initialises it),
    /// and the token logged out. Each next signature succeeds.
    sessions_recover_from_faults,
    |env| {
        let token = env.open();
        let id = [0x20];
        token.generate_key_pair(KeySpec::P256, "k", &id).unwrap();
        let der = spki(&token, &id);
        let sign_and_check = |what: &str| {
            let digest = HashAlg::Sha256.digest(what.as_bytes());
            let raw = token
                .sign_digest(&id, DigestScheme::Ecdsa, &digest)
                .unwrap_or_else(|e| panic!("after {what}: {e}"));
            ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &der, what.as_bytes(), &raw);
        };
        sign_and_check("start");
        // Several sessions in the pool, so that more than one goes stale.
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| sign_and_check("warm-up"));
            }
        });

        // Another part of the process finalises the module and initialises it again.
        let other = cryptoki::context::Pkcs11::new(&env.module).unwrap();
        other.clone().finalize().unwrap();
        other
            .initialize(cryptoki::context::CInitializeArgs::new(
                cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
            ))
            .unwrap();
        let before = token.recoveries();
        sign_and_check("re-initialised module");
        assert!(token.recoveries() > before, "no fault was met");
        for i in 0..8 {
            sign_and_check(&format!("after re-initialisation {i}"));
        }

        // The module finalised and left uninitialised: CKR_CRYPTOKI_NOT_INITIALIZED.
        other.finalize().unwrap();
        let before = token.recoveries();
        sign_and_check("finalised module");
        assert!(token.recoveries() > before, "no fault was met");

        // The application logged out (login state is per token): CKR_USER_NOT_LOGGED_IN.
        let other = cryptoki::context::Pkcs11::new(&env.module).unwrap();
        let slot = other
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| other.get_token_info(*s).unwrap().label().trim_end() == LABEL)
            .unwrap();
        let session = other.open_ro_session(slot).unwrap();
        session.logout().unwrap();
        drop(session);
        let before = token.recoveries();
        sign_and_check("logout");
        assert!(token.recoveries() > before, "no fault was met");
        // Key lookups recover too (the handle cache is cold after a reload).
        other.finalize().unwrap();
        let before = token.recoveries();
        assert!(token.find_key(&id).unwrap().is_some());
        sign_and_check("lookup after reload");
        assert!(token.recoveries() > before, "no fault was met");
        eprintln!("recovered from {} faults", token.recoveries());
    }
);

hsm_test!(
    /// Many threads sign at once through a pool of 4 sessions; every signature verifies.
    concurrent_signing_from_many_threads,
    |env| {
        let mut config = env.config();
        config.max_sessions = 4;
        let token = Arc::new(Pkcs11Token::open(config).unwrap());
        let ec = [0x30];
        let rsa = [0x31];
        token.generate_key_pair(KeySpec::P256, "ec", &ec).unwrap();
        token.generate_key_pair(KeySpec::rsa(2048).unwrap(), "rsa", &rsa).unwrap();
        let (ec_der, rsa_der) = (spki(&token, &ec), spki(&token, &rsa));
        std::thread::scope(|s| {
            for t in 0..16 {
                let token = token.clone();
                let (ec_der, rsa_der) = (&ec_der, &rsa_der);
                s.spawn(move || {
                    for i in 0..25 {
                        let m = format!("thread {t} message {i}");
                        let d = HashAlg::Sha256.digest(m.as_bytes());
                        let raw = token.sign_digest(&ec, DigestScheme::Ecdsa, &d).unwrap();
                        ring_verify(&rs::ECDSA_P256_SHA256_FIXED, ec_der, m.as_bytes(), &raw);
                        if i % 5 == 0 {
                            let sig = token
                                .sign(KeyAlgorithm::Rs256, &rsa, m.as_bytes())
                                .unwrap();
                            ring_verify(&rs::RSA_PKCS1_2048_8192_SHA256, rsa_der, m.as_bytes(), &sig);
                        }
                    }
                });
            }
        });
        // No more sessions than configured were opened.
        let ctx = cryptoki::context::Pkcs11::new(&env.module).unwrap();
        let slot = ctx.get_slots_with_token().unwrap()[0];
        let count = ctx.get_token_info(slot).unwrap().session_count();
        assert!(count.is_none_or(|c| c <= 4), "{count:?} sessions open");
    }
);

hsm_test!(
    /// Wrong PIN, missing token, missing module: one clear error each, no panic.
    configuration_errors_are_clear,
    |env| {
        let mut config = env.config();
        config.pin = Pin::new("9999-0000");
        let err = Pkcs11Token::open(config).unwrap_err();
        assert!(matches!(err, Pkcs11Error::PinIncorrect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("wrong user PIN") && text.contains(LABEL), "{text}");
        assert!(!text.contains("9999"), "the PIN is in the message: {text}");

        let mut config = env.config();
        config.token = TokenSelector::Label("khong-co".into());
        let err = Pkcs11Token::open(config).unwrap_err();
        assert!(matches!(err, Pkcs11Error::TokenNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains(LABEL), "lists the tokens present: {err}");

        let mut config = env.config();
        config.module = "/nonexistent/libpkcs11.so".into();
        let err = Pkcs11Token::open(config).unwrap_err();
        assert!(matches!(err, Pkcs11Error::ModuleLoad { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/libpkcs11.so"), "{err}");

        // The right PIN still works: failed attempts did not lock anything.
        let token = env.open();
        assert_eq!(token.token_label(), LABEL);
        assert!(token.is_softhsm(), "{}", token.token_maker());
        let serial = tessera_hsm::pkcs11::inspect_module(&env.module)
            .unwrap()
            .slots
            .into_iter()
            .find_map(|s| s.token.filter(|t| t.label == LABEL))
            .unwrap()
            .serial;
        let mut config = env.config();
        config.token = TokenSelector::Serial(serial);
        Pkcs11Token::open(config).unwrap();
    }
);

hsm_test!(
    /// A key is destroyed only when the caller repeats its label.
    destroying_a_key_needs_its_label,
    |env| {
        let token = env.open();
        let id = [0x40];
        token.generate_key_pair(KeySpec::P256, "tessera:oidc:ES256:40", &id).unwrap();
        let err = token.destroy_key(&id, "yes").unwrap_err();
        assert!(matches!(err, Pkcs11Error::NotConfirmed { .. }), "{err:?}");
        assert!(token.find_key(&id).unwrap().is_some());
        token.destroy_key(&id, "tessera:oidc:ES256:40").unwrap();
        assert!(token.find_key(&id).unwrap().is_none());
        assert!(token.public_key(&id).is_err());
        assert!(matches!(
            token.sign_digest(&id, DigestScheme::Ecdsa, &[1; 32]),
            Err(Pkcs11Error::KeyNotFound { .. })
        ));
    }
);

hsm_test!(
    /// `inspect_module` lists the token and the mechanisms Tessera uses.
    module_report_lists_mechanisms,
    |env| {
        let report = tessera_hsm::pkcs11::inspect_module(&env.module).unwrap();
        assert!(report.manufacturer.contains("SoftHSM"), "{report:?}");
        let token = report
            .slots
            .iter()
            .find_map(|s| s.token.as_ref().filter(|t| t.label == LABEL))
            .unwrap();
        let supported = |name: &str| {
            token
                .mechanisms
                .iter()
                .any(|m| m.name == name && m.supported)
        };
        assert!(supported("CKM_RSA_PKCS") && supported("CKM_ECDSA"), "{token:?}");
        assert!(!supported("CKM_ECDSA_SHA256"), "SoftHSM2 2.6 has no CKM_ECDSA_SHA256");
    }
);

hsm_test!(
    /// KeyCustody for certificate keys: RSA-2048/3072 and P-256 generated locked down on the
    /// token, signatures in X.509 form, and the x509-cert builder signing through the custody
    /// signer (CA certificates in the HSM).
    certificate_keys_through_custody,
    |env| {
        use std::str::FromStr;
        use std::time::Duration;
        use tessera_hsm::CertKeyAlgorithm;
        use tessera_hsm::x509::{CustodySigner, X509Signature};
        use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::time::Validity;

        let token = env.open();
        let custody: Arc<dyn KeyCustody> = Arc::new(token.clone());
        for alg in CertKeyAlgorithm::ALL {
            let key = custody.generate_cert_key(alg, "ca").unwrap();
            let info = token.find_key(&key.key_ref).unwrap().unwrap();
            assert!(info.attributes.is_locked_down(), "{alg:?}: {info:?}");
            assert!(info.label.starts_with("tessera:ca:"), "{}", info.label);
            assert_eq!(spki(&token, &key.key_ref), key.spki_der);
            let sig = custody.sign_x509(alg, &key.key_ref, b"tbs").unwrap();
            let verifier: &'static dyn rs::VerificationAlgorithm = if alg.is_rsa() {
                &rs::RSA_PKCS1_2048_8192_SHA256
            } else {
                &rs::ECDSA_P256_SHA256_ASN1
            };
            ring_verify(verifier, &key.spki_der, b"tbs", &sig);

            let signer = CustodySigner::open(custody.clone(), alg, &key.key_ref).unwrap();
            let subject = Name::from_str("CN=Tessera Root CA,O=UBND TP Hai Phong,C=VN").unwrap();
            let validity = Validity::from_now(Duration::from_secs(3600)).unwrap();
            let builder = CertificateBuilder::new(
                Root::new(false, subject).unwrap(),
                SerialNumber::from(7u32),
                validity,
                signer.spki().unwrap(),
            )
            .unwrap();
            let cert = builder.build::<_, X509Signature>(&signer).unwrap();
            ring_verify(
                verifier,
                &key.spki_der,
                &cert.tbs_certificate().to_der().unwrap(),
                cert.signature().raw_bytes(),
            );
        }
        // A key of one algorithm is refused as another.
        let p256 = custody
            .generate_cert_key(CertKeyAlgorithm::P256, "cert")
            .unwrap();
        assert!(
            custody
                .cert_public_key(CertKeyAlgorithm::Rsa2048, &p256.key_ref)
                .is_err()
        );
    }
);
