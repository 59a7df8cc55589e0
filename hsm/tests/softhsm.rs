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
use spki::SubjectPublicKeyInfoRef;
use tessera_hsm::pkcs11::{
    DigestScheme, HashAlg, KeySpec, Pin, Pkcs11Config, Pkcs11Error, Pkcs11Token, TokenSelector,
    ecdsa_raw_to_der, spec_of,
};
use tessera_hsm::softhsm::{SoftHsmToken, module_or_skip};
use tessera_hsm::x509::{CustodySigner, X509Signature};
use tessera_hsm::{
    EcdsaForm, KeyAlgorithm, KeyCustody, KeyHandle, KeyPurpose, KeyType, PublicKey, SignInput,
    SignScheme,
};

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

fn handle(key_type: KeyType, key_ref: &[u8]) -> KeyHandle<'_> {
    KeyHandle {
        key_type,
        purpose: KeyPurpose::Credential,
        key_ref,
    }
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
            assert_eq!(spec_of(&public), *spec);
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
        // The same through KeyCustody, message and digest alike.
        let custody: Arc<dyn KeyCustody> = Arc::new(token.clone());
        let key = handle(KeyType::Rsa2048, &rsa);
        for (scheme, alg) in [
            (SignScheme::RsaPkcs1v15(HashAlg::Sha384), &rs::RSA_PKCS1_2048_8192_SHA384),
            (SignScheme::RsaPss(HashAlg::Sha256), &rs::RSA_PSS_2048_8192_SHA256),
        ] {
            let sig = custody.sign(key, scheme, SignInput::Message(msg)).unwrap();
            ring_verify(alg, &rsa_spki, msg, &sig);
            let digest = scheme.hash().digest(msg);
            let sig = custody.sign(key, scheme, SignInput::Digest(&digest)).unwrap();
            ring_verify(alg, &rsa_spki, msg, &sig);
        }
        assert!(custody
            .sign(key, SignScheme::Ecdsa(HashAlg::Sha256, EcdsaForm::Der), SignInput::Message(msg))
            .is_err());

        // ECDSA, many times over (SoftHSM2 issue #901 reports sporadic bad signatures).
        let p256 = [0x02];
        token.generate_key_pair(KeySpec::P256, "p256", &p256).unwrap();
        let p256_spki = spki(&token, &p256);
        let key = handle(KeyType::P256, &p256);
        for i in 0..200u32 {
            let m = format!("message {i}");
            let raw = token
                .sign_digest(&p256, DigestScheme::Ecdsa, &HashAlg::Sha256.digest(m.as_bytes()))
                .unwrap();
            assert_eq!(raw.len(), 64);
            ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &p256_spki, m.as_bytes(), &raw);
            let der = ecdsa_raw_to_der(KeySpec::P256, &raw).unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_ASN1, &p256_spki, m.as_bytes(), &der);
            let raw = custody
                .sign(key, KeyAlgorithm::Es256.scheme(), SignInput::Message(m.as_bytes()))
                .unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &p256_spki, m.as_bytes(), &raw);
            let der = custody
                .sign(key, KeyType::P256.x509_scheme(), SignInput::Message(m.as_bytes()))
                .unwrap();
            ring_verify(&rs::ECDSA_P256_SHA256_ASN1, &p256_spki, m.as_bytes(), &der);
        }
        assert_eq!(custody.public_key(key).unwrap(), p256_spki);
        assert!(custody.public_key(handle(KeyType::Rsa2048, &p256)).is_err());

        let p384 = [0x03];
        token.generate_key_pair(KeySpec::P384, "p384", &p384).unwrap();
        let p384_spki = spki(&token, &p384);
        for i in 0..50u32 {
            let m = format!("message {i}");
            let digest = HashAlg::Sha384.digest(m.as_bytes());
            let raw = token.sign_digest(&p384, DigestScheme::Ecdsa, &digest).unwrap();
            ring_verify(&rs::ECDSA_P384_SHA384_FIXED, &p384_spki, m.as_bytes(), &raw);
            let der = ecdsa_raw_to_der(KeySpec::P384, &raw).unwrap();
            ring_verify(&rs::ECDSA_P384_SHA384_ASN1, &p384_spki, m.as_bytes(), &der);
        }

        let ed = [0x04];
        token.generate_key_pair(KeySpec::Ed25519, "ed25519", &ed).unwrap();
        let ed_spki = spki(&token, &ed);
        let sig = token.sign_ed25519(&ed, msg).unwrap();
        ring_verify(&rs::ED25519, &ed_spki, msg, &sig);
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

        let custody: Arc<dyn KeyCustody> = Arc::new(token.clone());
        let ec = CustodySigner::open(custody.clone(), KeyType::P256, KeyPurpose::Ca, &[0x10]).unwrap();
        let spki = ec.spki().unwrap();
        let profile = Root::new(false, subject.clone()).unwrap();
        let builder =
            CertificateBuilder::new(profile, SerialNumber::from(1u32), validity, spki)
                .unwrap();
        let cert = builder.build::<_, X509Signature>(&ec).unwrap();
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

        let rsa = CustodySigner::open(custody, KeyType::Rsa2048, KeyPurpose::Ca, &[0x11]).unwrap();
        let spki = rsa.spki().unwrap();
        let profile = Root::new(false, subject).unwrap();
        let builder =
            CertificateBuilder::new(profile, SerialNumber::from(2u32), validity, spki).unwrap();
        let cert = builder.build::<_, X509Signature>(&rsa).unwrap();
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
        let jwk = |spki: &[u8]| PublicKey::from_spki_der(spki).unwrap().to_jwk().unwrap();
        let es = KeyCustody::generate(&token, KeyType::P256, KeyPurpose::Token).unwrap();
        let info = token.find_key(&es.key_ref).unwrap().unwrap();
        assert!(info.label.starts_with("tessera:oidc:ES256:"), "{}", info.label);
        let es_key = handle(KeyType::P256, &es.key_ref);
        let sig = token
            .sign(es_key, KeyAlgorithm::Es256.scheme(), SignInput::Message(b"h.p"))
            .unwrap();
        assert_eq!(sig.len(), 64);
        let es_jwk = jwk(&es.spki_der);
        let mut point = vec![4u8];
        point.extend(unb64(&es_jwk["x"]));
        point.extend(unb64(&es_jwk["y"]));
        UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, point)
            .verify(b"h.p", &sig)
            .unwrap();

        let rs_key = KeyCustody::generate(&token, KeyType::Rsa2048, KeyPurpose::Token).unwrap();
        let rs_handle = handle(KeyType::Rsa2048, &rs_key.key_ref);
        let sig = token
            .sign(rs_handle, KeyAlgorithm::Rs256.scheme(), SignInput::Message(b"h.p"))
            .unwrap();
        let rs_jwk = jwk(&rs_key.spki_der);
        let (n, e) = (unb64(&rs_jwk["n"]), unb64(&rs_jwk["e"]));
        rs::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&rs::RSA_PKCS1_2048_8192_SHA256, b"h.p", &sig)
            .unwrap();
        // The wrong scheme for a key, or an unknown key, is an error, not a panic.
        assert!(token
            .sign(rs_handle, KeyAlgorithm::Es256.scheme(), SignInput::Message(b"m"))
            .is_err());
        let missing = handle(KeyType::Rsa2048, b"no such key");
        assert!(token
            .sign(missing, KeyAlgorithm::Rs256.scheme(), SignInput::Message(b"m"))
            .is_err());
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
                            let key = handle(KeyType::Rsa2048, &rsa);
                            let scheme = KeyAlgorithm::Rs256.scheme();
                            let sig = token
                                .sign(key, scheme, SignInput::Message(m.as_bytes()))
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
        use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::time::Validity;

        let token = env.open();
        let custody: Arc<dyn KeyCustody> = Arc::new(token.clone());
        for alg in KeyType::ALL {
            let key = custody.generate(alg, KeyPurpose::Ca).unwrap();
            let info = token.find_key(&key.key_ref).unwrap().unwrap();
            assert!(info.attributes.is_locked_down(), "{alg:?}: {info:?}");
            assert!(info.label.starts_with("tessera:ca:"), "{}", info.label);
            assert_eq!(spki(&token, &key.key_ref), key.spki_der);
            let k = KeyHandle {
                key_type: alg,
                purpose: KeyPurpose::Ca,
                key_ref: &key.key_ref,
            };
            let sig = custody
                .sign(k, alg.x509_scheme(), SignInput::Message(b"tbs"))
                .unwrap();
            let verifier: &'static dyn rs::VerificationAlgorithm = if alg.is_rsa() {
                &rs::RSA_PKCS1_2048_8192_SHA256
            } else {
                &rs::ECDSA_P256_SHA256_ASN1
            };
            ring_verify(verifier, &key.spki_der, b"tbs", &sig);

            let signer =
                CustodySigner::open(custody.clone(), alg, KeyPurpose::Ca, &key.key_ref).unwrap();
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
            .generate(KeyType::P256, KeyPurpose::Credential)
            .unwrap();
        assert!(
            custody
                .public_key(handle(KeyType::Rsa2048, &p256.key_ref))
                .is_err()
        );
    }
);

hsm_test!(
    /// The `cms` crate's SignedData builder with an HSM key behind `CustodySigner`: detached
    /// CMS signatures (SHA-256 and SHA-384; RSA PKCS#1 v1.5, RSA-PSS, ECDSA) that
    /// `openssl cms -verify` accepts, and that it refuses for other content.
    cms_builder_signs_with_an_hsm_key,
    |env| {
        use cms::builder::{SignedDataBuilder, SignerInfoBuilder, create_signing_time_attribute};
        use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
        use cms::content_info::ContentInfo;
        use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
        use std::str::FromStr;
        use std::time::Duration;
        use x509_cert::builder::{Builder, CertificateBuilder, profile::cabf::Root};
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::time::Validity;

        if Command::new("openssl").arg("version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "openssl is needed in CI");
            eprintln!("SKIPPED: the openssl CLI is not installed");
            return;
        }
        let token = env.open();
        let custody: Arc<dyn KeyCustody> = Arc::new(token.clone());
        let dir = std::env::temp_dir().join(format!("tessera-cms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let content = "Quyết định số 12/QĐ-UBND: phê duyệt kế hoạch chuyển đổi số".as_bytes();
        std::fs::write(dir.join("content.txt"), content).unwrap();
        std::fs::write(dir.join("other.txt"), b"another document").unwrap();

        let cases = [
            (KeyType::P256, SignScheme::Ecdsa(HashAlg::Sha256, EcdsaForm::Der)),
            (KeyType::P256, SignScheme::Ecdsa(HashAlg::Sha384, EcdsaForm::Der)),
            (KeyType::Rsa2048, SignScheme::RsaPkcs1v15(HashAlg::Sha256)),
            (KeyType::Rsa2048, SignScheme::RsaPss(HashAlg::Sha512)),
        ];
        for (i, (key_type, scheme)) in cases.into_iter().enumerate() {
            let key = custody.generate(key_type, KeyPurpose::Credential).unwrap();
            // A self-signed certificate for the key, also signed in the HSM.
            let cert_signer =
                CustodySigner::open(custody.clone(), key_type, KeyPurpose::Credential, &key.key_ref)
                    .unwrap();
            let subject =
                Name::from_str(&format!("CN=Nguyen Van An {i},O=UBND TP Hai Phong,C=VN")).unwrap();
            let cert = CertificateBuilder::new(
                Root::new(false, subject).unwrap(),
                SerialNumber::from(100u32 + i as u32),
                Validity::from_now(Duration::from_secs(3600)).unwrap(),
                cert_signer.spki().unwrap(),
            )
            .unwrap()
            .build::<_, X509Signature>(&cert_signer)
            .unwrap();

            let signer = CustodySigner::with_scheme(
                custody.clone(),
                key_type,
                KeyPurpose::Credential,
                &key.key_ref,
                scheme,
            )
            .unwrap();
            let digest = scheme.hash().digest(content);
            let digest_alg = spki::AlgorithmIdentifierOwned {
                oid: match scheme.hash() {
                    HashAlg::Sha256 => const_oid::db::rfc5912::ID_SHA_256,
                    HashAlg::Sha384 => const_oid::db::rfc5912::ID_SHA_384,
                    HashAlg::Sha512 => const_oid::db::rfc5912::ID_SHA_512,
                },
                parameters: None,
            };
            let econtent = EncapsulatedContentInfo {
                econtent_type: const_oid::db::rfc5911::ID_DATA,
                econtent: None,
            };
            let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate().issuer().clone(),
                serial_number: cert.tbs_certificate().serial_number().clone(),
            });
            let mut info =
                SignerInfoBuilder::new(sid, digest_alg.clone(), &econtent, Some(&digest)).unwrap();
            info.add_signed_attribute(create_signing_time_attribute().unwrap())
                .unwrap();
            let signed: ContentInfo = SignedDataBuilder::new(&econtent)
                .add_digest_algorithm(digest_alg)
                .unwrap()
                .add_certificate(CertificateChoices::Certificate(cert.clone()))
                .unwrap()
                .add_signer_info::<_, X509Signature>(info, &signer)
                .unwrap()
                .build()
                .unwrap();
            let sig_path = dir.join(format!("sig{i}.p7s"));
            let cert_path = dir.join(format!("cert{i}.der"));
            std::fs::write(&sig_path, signed.to_der().unwrap()).unwrap();
            std::fs::write(&cert_path, cert.to_der().unwrap()).unwrap();
            let pem = Command::new("openssl")
                .args(["x509", "-inform", "DER", "-in"])
                .arg(&cert_path)
                .output()
                .unwrap();
            let cert_pem = dir.join(format!("cert{i}.pem"));
            std::fs::write(&cert_pem, pem.stdout).unwrap();
            let verify = |content_file: &str| {
                Command::new("openssl")
                    .args(["cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any"])
                    .arg("-in")
                    .arg(&sig_path)
                    .arg("-content")
                    .arg(dir.join(content_file))
                    .arg("-CAfile")
                    .arg(&cert_pem)
                    .args(["-out", "/dev/null"])
                    .output()
                    .unwrap()
            };
            let ok = verify("content.txt");
            assert!(
                ok.status.success(),
                "{key_type:?} {scheme:?}: {}",
                String::from_utf8_lossy(&ok.stderr)
            );
            assert!(String::from_utf8_lossy(&ok.stderr).contains("Verification successful"));
            assert!(!verify("other.txt").status.success(), "{scheme:?} accepted other content");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
);

/// The token directory named in the `SOFTHSM2_CONF` of this (child) process.
fn token_dir() -> PathBuf {
    let conf = std::fs::read_to_string(std::env::var_os("SOFTHSM2_CONF").unwrap()).unwrap();
    let line = conf
        .lines()
        .find_map(|l| l.strip_prefix("directories.tokendir = "))
        .unwrap();
    PathBuf::from(line.trim())
}

hsm_test!(
    /// The token directory moved aside and put back, as a rebooting network HSM looks to the
    /// application: while it is gone every signature fails as "unavailable" (quickly, without
    /// retrying the PIN), and once it is back signatures succeed again by themselves.
    token_outage_heals_by_itself,
    |env| {
        let token = env.open();
        let id = [0x40];
        token.generate_key_pair(KeySpec::P256, "k", &id).unwrap();
        let der = spki(&token, &id);
        let sign = |what: &str| {
            let digest = HashAlg::Sha256.digest(what.as_bytes());
            token
                .sign_digest(&id, DigestScheme::Ecdsa, &digest)
                .map(|raw| ring_verify(&rs::ECDSA_P256_SHA256_FIXED, &der, what.as_bytes(), &raw))
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| sign("warm-up").unwrap());
            }
        });
        let dir = token_dir();
        let aside = dir.with_extension("aside");
        std::fs::rename(&dir, &aside).unwrap();
        let err = sign("outage").unwrap_err();
        eprintln!("during the outage: {err} ({err:?})");
        assert!(err.is_unavailable(), "{err:?}");
        std::fs::rename(&aside, &dir).unwrap();
        let back = std::time::Instant::now();
        loop {
            match sign("after") {
                Ok(()) => break,
                Err(e) if back.elapsed() < std::time::Duration::from_secs(5) => {
                    assert!(e.is_unavailable(), "{e:?}");
                    // Real time: the custodian retries a dead token on a wall-clock interval.
                    #[allow(clippy::disallowed_methods)]
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("still failing 5 s after the token came back: {e}"),
            }
        }
        eprintln!("healed {:?} after the token came back", back.elapsed());
        for i in 0..8 {
            sign(&format!("after {i}")).unwrap();
        }
        assert!(token.find_key(&id).unwrap().is_some());
    }
);
