//! Organisation credentials, their clients, CMS signing of files and image checks, on a
//! provider with an in-memory database and the software token. openssl checks the same
//! signatures in the end-to-end test `signing_cms`.

use ::cms::content_info::ContentInfo;
use ::cms::signed_data::SignedData;
use der::Decode;
use tessera_hsm::{HashAlg, KeyType};
use x509_cert::Certificate;

use super::cms::{CmsRequest, sign_cms_file};
use super::images::{ImageOwner, check_png, image, remove_image, set_image};
use super::organisation::{allow_client, allowed_clients, disallow_client, organisation_signer};
use super::*;
use crate::pki::{Actor, CaInit, CredentialRequest, create_credential, init_ca, issue_internal};
use crate::testkit::{add_unit, add_user, confidential_client, provider};

const NOW: i64 = 1_800_000_000;
const SEAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/pdf/images/con-dau-do.png"
);

struct World {
    p: crate::Provider,
    actor: Actor,
    unit: String,
    user: String,
    dir: tempfile::TempDir,
}

async fn world() -> World {
    let mut p = provider(NOW).await;
    p.config.pki.organization = "UBND Thành phố Hải Phòng".into();
    let unit = add_unit(&p, "Sở Nội vụ", NOW).await;
    let user = add_user(&p, "an.nv", Some(&unit.id), &[], NOW).await;
    let actor = Actor::new("cli:test");
    init_ca(&p, &actor, CaInit::new("UBND Thành phố Hải Phòng"), NOW)
        .await
        .unwrap();
    World {
        p,
        actor,
        unit: unit.id,
        user: user.id,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn request(w: &World, credential: &str, name: &str) -> CmsRequest {
    let input = w.dir.path().join(name);
    std::fs::write(&input, "Công văn số 45/SNV-VP".repeat(10_000)).unwrap();
    CmsRequest {
        credential_id: credential.into(),
        output: w.dir.path().join(format!("{name}.p7s")),
        input,
        hash: HashAlg::Sha256,
        pss: false,
        timestamp: false,
        client_id: None,
    }
}

#[tokio::test]
async fn an_organisation_credential_names_the_unit_and_signs_files() {
    let w = world().await;
    let cred =
        crate::pki::create_organisation_credential(&w.p, &w.actor, &w.unit, KeyType::Rsa2048, NOW)
            .await
            .unwrap();
    assert_eq!(cred.owner_kind, tessera_store::pki::OwnerKind::Organisation);
    assert_eq!(cred.user_id, None);
    let cert = Certificate::from_der(cred.cert_der.as_deref().unwrap()).unwrap();
    let subject = cert.tbs_certificate().subject().to_string();
    assert!(subject.contains("OU=Sở Nội vụ"), "{subject}");
    assert!(subject.contains("O=UBND Thành phố Hải Phòng"), "{subject}");
    assert!(subject.contains("C=VN"), "{subject}");
    assert!(!subject.contains("CN="), "no person's name: {subject}");

    let mut req = request(&w, &cred.id, "cong-van.txt");
    req.hash = HashAlg::Sha384;
    req.pss = true;
    let signed = sign_cms_file(&w.p, &w.actor, &req, NOW + 5).await.unwrap();
    assert_eq!(
        signed.content_bytes,
        std::fs::metadata(&req.input).unwrap().len()
    );
    let content = std::fs::read(&req.input).unwrap();
    assert_eq!(
        signed.content_digest,
        crate::pki::hex(&HashAlg::Sha384.digest(&content))
    );
    let der = std::fs::read(&req.output).unwrap();
    assert_eq!(der.len(), signed.signature_bytes);
    let sd: SignedData = ContentInfo::from_der(&der)
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    let info = sd.signer_infos.0.get(0).unwrap();
    assert_eq!(
        info.signature_algorithm.oid.to_string(),
        "1.2.840.113549.1.1.10"
    );
    // No temporary file is left beside the output.
    let names: Vec<String> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let audit = w.p.store.recent_audit(5).await.unwrap();
    let last = audit
        .iter()
        .find(|e| e.event == "signing.cms.signed")
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&last.detail).unwrap();
    assert_eq!(detail["credential"], cred.id);
    assert_eq!(detail["hash"], "SHA-384");

    // PSS needs RSA.
    let ec =
        crate::pki::create_organisation_credential(&w.p, &w.actor, &w.unit, KeyType::P256, NOW)
            .await
            .unwrap();
    let mut req = request(&w, &ec.id, "ec.txt");
    req.pss = true;
    let err = sign_cms_file(&w.p, &w.actor, &req, NOW).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "RSA-PSS needs an RSA key; this credential's key is P-256"
    );
    assert!(!req.output.exists());
}

#[tokio::test]
async fn personal_credentials_and_clients_not_allowed_are_refused() {
    let w = world().await;
    let personal = create_credential(
        &w.p,
        &w.actor,
        CredentialRequest {
            user: w.user.clone(),
            alg: KeyType::P256,
            title: None,
        },
        "internal",
        NOW,
    )
    .await
    .unwrap();
    issue_internal(&w.p, &w.actor, &personal.id, NOW)
        .await
        .unwrap();
    let err = organisation_signer(&w.p, &personal.id, None, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), PERSONAL_CREDENTIAL_REFUSED);
    let req = request(&w, &personal.id, "a.txt");
    let err = sign_cms_file(&w.p, &w.actor, &req, NOW).await.unwrap_err();
    assert_eq!(err.to_string(), PERSONAL_CREDENTIAL_REFUSED);
    assert!(!req.output.exists());
    let audit = w.p.store.recent_audit(3).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "signing.refused"));
    assert!(matches!(
        allow_client(&w.p, &w.actor, &personal.id, "vanban", NOW).await,
        Err(SigningError::Refused(_))
    ));

    let org =
        crate::pki::create_organisation_credential(&w.p, &w.actor, &w.unit, KeyType::P256, NOW)
            .await
            .unwrap();
    confidential_client(&w.p, "vanban", None, NOW).await;
    let err = organisation_signer(&w.p, &org.id, Some("vanban"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, SigningError::Refused(_)), "{err}");
    assert!(
        allow_client(&w.p, &w.actor, &org.id, "vanban", NOW)
            .await
            .unwrap()
    );
    assert!(
        !allow_client(&w.p, &w.actor, &org.id, "vanban", NOW)
            .await
            .unwrap()
    );
    assert!(matches!(
        allow_client(&w.p, &w.actor, &org.id, "nobody", NOW).await,
        Err(SigningError::Pki(crate::pki::PkiError::NotFound(_)))
    ));
    assert_eq!(allowed_clients(&w.p, &org.id).await.unwrap().len(), 1);
    let s = organisation_signer(&w.p, &org.id, Some("vanban"), NOW)
        .await
        .unwrap();
    assert_eq!(s.unit_id(), w.unit);
    assert!(
        disallow_client(&w.p, &w.actor, &org.id, "vanban", NOW)
            .await
            .unwrap()
    );
    assert!(
        organisation_signer(&w.p, &org.id, Some("vanban"), NOW)
            .await
            .is_err()
    );

    // A revoked organisation credential no longer signs.
    crate::pki::revoke(
        &w.p,
        &w.actor,
        &org.id,
        crate::pki::RevocationReason::KeyCompromise,
        NOW,
    )
    .await
    .unwrap();
    let err = organisation_signer(&w.p, &org.id, None, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("was revoked"), "{err}");
}

#[tokio::test]
async fn a_missing_input_is_a_clear_error_and_writes_nothing() {
    let w = world().await;
    let org =
        crate::pki::create_organisation_credential(&w.p, &w.actor, &w.unit, KeyType::P256, NOW)
            .await
            .unwrap();
    let mut req = request(&w, &org.id, "x.txt");
    req.input = w.dir.path().join("missing.pdf");
    let err = sign_cms_file(&w.p, &w.actor, &req, NOW).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    assert!(err.to_string().contains("missing.pdf"), "{err}");
    assert!(!req.output.exists());
}

#[test]
fn only_whole_png_images_up_to_one_megabyte_are_accepted() {
    let seal = std::fs::read(SEAL).unwrap();
    let info = check_png(&seal).unwrap();
    assert!(info.width > 0 && info.height > 0);
    let err = check_png(b"GIF89a....").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image is not a PNG file; only PNG images are accepted"
    );
    let err = check_png(&seal[..seal.len() / 2]).unwrap_err();
    assert!(
        err.to_string().starts_with("the PNG image cannot be read"),
        "{err}"
    );
    let mut big = seal.clone();
    big.resize(MAX_BYTES_PLUS_ONE, 0);
    let err = check_png(&big).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image is 1048577 bytes; at most 1 MB (1048576 bytes) is accepted"
    );
}

const MAX_BYTES_PLUS_ONE: usize = images::MAX_IMAGE_BYTES + 1;

#[tokio::test]
async fn signature_and_seal_images_are_set_shown_and_removed() {
    let w = world().await;
    let seal = std::fs::read(SEAL).unwrap();
    let unit = ImageOwner::Unit(w.unit.clone());
    set_image(&w.p, &w.actor, &unit, &seal, NOW).await.unwrap();
    let got = image(&w.p, &unit).await.unwrap().unwrap();
    assert_eq!(got.png, seal);
    let user = ImageOwner::User("an.nv".into());
    assert!(image(&w.p, &user).await.unwrap().is_none());
    assert!(
        set_image(&w.p, &w.actor, &user, b"not png", NOW)
            .await
            .is_err()
    );
    let audit = w.p.store.recent_audit(2).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "signing.image.refused"));
    assert!(remove_image(&w.p, &w.actor, &unit, NOW).await.unwrap());
    assert!(!remove_image(&w.p, &w.actor, &unit, NOW).await.unwrap());
    assert!(matches!(
        set_image(&w.p, &w.actor, &ImageOwner::Unit("nope".into()), &seal, NOW).await,
        Err(SigningError::Pki(crate::pki::PkiError::NotFound(_)))
    ));
}
