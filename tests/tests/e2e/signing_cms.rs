//! `tessera sign cms`: detached CAdES-B-B signatures with an organisation credential, checked
//! by `openssl cms -verify` against the root exported with `tessera ca export`; a personal
//! credential is refused, a missing input is a clear error, and no output file is left behind
//! by a failure. Also the organisation credential's clients and images from the command line.

use std::path::Path;

use anyhow::{anyhow, ensure};
use tessera_e2e::{Backend, CliOutput, NewClient, NewUser, TempDir, TestServer};

use crate::pki::{openssl, openssl_ok};

scenarios!(signing_cms_with_an_organisation_credential);

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);
const SEAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/images/con-dau-do.png"
);

fn id_of(out: &CliOutput) -> anyhow::Result<String> {
    out.json()?["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no id in {out}"))
}

async fn verify(dir: &Path, sig: &str, content: &str) -> anyhow::Result<(bool, String)> {
    openssl(
        dir,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sig,
            "-content",
            content,
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    )
    .await
}

async fn signing_cms_with_an_organisation_credential(backend: Backend) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-cms")?;
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    server
        .cli_ok(&["ca", "export", "root", "--out", &path("root.pem")], None)
        .await?;
    let unit = server.add_unit("Sở Nội vụ", None).await?;
    let mut user = NewUser::new("an.nv", "Nguyễn Văn An", "mat-khau-rat-dai-2468");
    user.unit = Some(unit.clone());
    server.add_user(&user).await?;
    std::fs::copy(FIXTURE, d.join("quyet-dinh.pdf"))?;

    // The unit's organisation credential: O=<organisation>, OU=<unit>, C=VN, no person.
    let org = server
        .cli_ok(
            &[
                "cert",
                "issue",
                "--unit",
                &unit,
                "--organization",
                "--alg",
                "RSA-2048",
                "--json",
            ],
            None,
        )
        .await?;
    let org_json = org.json()?;
    ensure!(org_json["owner"] == "organisation", "{org}");
    let subject = org_json["subject"].as_str().unwrap_or_default();
    ensure!(
        subject.contains("OU=Sở Nội vụ") && subject.contains("C=VN") && !subject.contains("CN="),
        "{org}"
    );
    let org_id = id_of(&org)?;

    // PKCS#1 v1.5 with SHA-256, then PSS with SHA-512: openssl accepts both over the PDF.
    for (out, extra) in [
        ("a.p7s", vec![]),
        ("b.p7s", vec!["--hash", "sha512", "--pss"]),
    ] {
        let pdf = path("quyet-dinh.pdf");
        let sig = path(out);
        let mut args = vec![
            "sign",
            "cms",
            "--credential",
            &org_id,
            "--in",
            &pdf,
            "--out",
            &sig,
            "--json",
        ];
        args.extend(extra);
        let signed = server.cli_ok(&args, None).await?.json()?;
        ensure!(signed["level"] == "B-B", "{signed}");
        let (ok, text) = verify(d, out, "quyet-dinh.pdf").await?;
        ensure!(
            ok && text.contains("Verification successful"),
            "{out}: {text}"
        );
    }
    // The signed attributes: signing time and ESS signing-certificate-v2.
    let dump = openssl_ok(
        d,
        &["cms", "-cmsout", "-print", "-inform", "DER", "-in", "a.p7s"],
    )
    .await?;
    ensure!(dump.contains("signingTime"), "{dump}");
    ensure!(
        dump.contains("id-smime-aa-signingCertificateV2")
            || dump.contains("1.2.840.113549.1.9.16.2.47"),
        "{dump}"
    );
    // A changed byte fails.
    let mut changed = std::fs::read(d.join("quyet-dinh.pdf"))?;
    changed[100] ^= 1;
    std::fs::write(d.join("changed.pdf"), changed)?;
    let (ok, text) = verify(d, "a.p7s", "changed.pdf").await?;
    ensure!(!ok, "changed content verified: {text}");

    // A P-256 organisation credential with SHA-384.
    let ec = server
        .cli_ok(
            &["cert", "issue", "--unit", &unit, "--organization", "--json"],
            None,
        )
        .await?;
    let ec_id = id_of(&ec)?;
    server
        .cli_ok(
            &[
                "sign",
                "cms",
                "--credential",
                &ec_id,
                "--in",
                &path("quyet-dinh.pdf"),
                "--out",
                &path("c.p7s"),
                "--hash",
                "sha384",
            ],
            None,
        )
        .await?;
    let (ok, text) = verify(d, "c.p7s", "quyet-dinh.pdf").await?;
    ensure!(ok, "{text}");
    let pss = server
        .cli(
            &[
                "sign",
                "cms",
                "--credential",
                &ec_id,
                "--in",
                &path("quyet-dinh.pdf"),
                "--out",
                &path("d.p7s"),
                "--pss",
            ],
            None,
        )
        .await?;
    ensure!(
        !pss.success() && pss.stderr.contains("RSA-PSS needs an RSA key"),
        "{pss}"
    );
    ensure!(!d.join("d.p7s").exists(), "output left after a refusal");

    // A personal credential is refused, pointing to remote approval; nothing is written.
    let personal = server
        .cli_ok(&["cert", "issue", "--user", "an.nv", "--json"], None)
        .await?;
    let personal_id = id_of(&personal)?;
    let refused = server
        .cli(
            &[
                "sign",
                "cms",
                "--credential",
                &personal_id,
                "--in",
                &path("quyet-dinh.pdf"),
                "--out",
                &path("p.p7s"),
            ],
            None,
        )
        .await?;
    ensure!(
        !refused.success() && refused.stderr.contains("remote approval by their holder"),
        "{refused}"
    );
    ensure!(
        !d.join("p.p7s").exists(),
        "output written for a refused credential"
    );

    // A missing input: a clear error, no output file.
    let missing = server
        .cli(
            &[
                "sign",
                "cms",
                "--credential",
                &org_id,
                "--in",
                &path("missing.pdf"),
                "--out",
                &path("m.p7s"),
            ],
            None,
        )
        .await?;
    ensure!(
        !missing.success()
            && missing.stderr.contains("cannot read")
            && missing.stderr.contains("missing.pdf"),
        "{missing}"
    );
    ensure!(
        !d.join("m.p7s").exists(),
        "output written for a missing input"
    );
    let names: Vec<String> = std::fs::read_dir(d)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    ensure!(names.is_empty(), "temporary files left: {names:?}");
    // B-T: a signature timestamp (openssl's check is in signing_pdf); B-LT is not offered.
    let bt = server
        .cli(
            &[
                "sign",
                "cms",
                "--credential",
                &org_id,
                "--in",
                &path("quyet-dinh.pdf"),
                "--out",
                &path("t.p7s"),
                "--level",
                "B-T",
            ],
            None,
        )
        .await?;
    ensure!(
        bt.success() && bt.stderr.contains("CAdES-B-T") && d.join("t.p7s").exists(),
        "{bt}"
    );
    let lt = server
        .cli(
            &[
                "sign",
                "cms",
                "--credential",
                &org_id,
                "--in",
                &path("quyet-dinh.pdf"),
                "--out",
                &path("u.p7s"),
                "--level",
                "B-LT",
            ],
            None,
        )
        .await?;
    ensure!(!lt.success() && !d.join("u.p7s").exists(), "{lt}");

    // Clients allowed to use the organisation credential.
    server
        .add_client(&NewClient::confidential("vanban", "Văn thư"))
        .await?;
    server
        .cli_ok(&["cert", "allow-client", &org_id, "vanban"], None)
        .await?;
    let clients = server
        .cli_ok(&["cert", "clients", &org_id, "--json"], None)
        .await?
        .json()?;
    ensure!(clients[0]["client_id"] == "vanban", "{clients}");
    let personal_client = server
        .cli(&["cert", "allow-client", &personal_id, "vanban"], None)
        .await?;
    ensure!(!personal_client.success(), "{personal_client}");
    server
        .cli_ok(&["cert", "disallow-client", &org_id, "vanban"], None)
        .await?;

    // Seal and signature images: PNG only.
    server
        .cli_ok(&["cert", "image", "set", "--unit", &unit, SEAL], None)
        .await?;
    let shown = server
        .cli_ok(
            &[
                "cert",
                "image",
                "show",
                "--unit",
                &unit,
                "--out",
                &path("seal.png"),
                "--json",
            ],
            None,
        )
        .await?
        .json()?;
    ensure!(shown["kind"] == "seal", "{shown}");
    ensure!(
        std::fs::read(d.join("seal.png"))? == std::fs::read(SEAL)?,
        "seal changed"
    );
    let not_png = server
        .cli(&["cert", "image", "set", "--user", "an.nv", FIXTURE], None)
        .await?;
    ensure!(
        !not_png.success() && not_png.stderr.contains("not a PNG file"),
        "{not_png}"
    );
    server
        .cli_ok(&["cert", "image", "remove", "--unit", &unit], None)
        .await?;

    // Every use is in the audit log.
    let audit = server
        .cli_ok(&["audit", "export", "--since", "2000-01-01"], None)
        .await?;
    for event in [
        "signing.cms.signed",
        "signing.refused",
        "pki.credential.client_allowed",
        "signing.image.set",
        "signing.image.refused",
    ] {
        ensure!(audit.stdout.contains(event), "{event} not audited");
    }
    Ok(())
}
