//! `tessera sign pdf` / `sign extend` / `sign cms --level B-T`: PAdES with an organisation
//! credential, on every PDF fixture, checked by tools nobody here wrote — pdfsig, pyHanko
//! (revocation required from the DSS, no fetching, for B-LT), `openssl cms -verify` — and by
//! `tessera verify`. Bad inputs fail with a message and leave no output. pyHanko and pdfsig are
//! needed; without them the test is skipped, except when `CI` is set, where it fails.

use std::path::Path;

use anyhow::{Context, anyhow, bail, ensure};
use tessera_e2e::{Backend, CliOutput, NewUser, TempDir, TestServer};

use crate::pki::openssl;

scenarios!(signing_pdf_with_an_organisation_credential);

fn fixture(name: &str) -> String {
    format!(
        "{}/../crates/formats/tests/fixtures/pdf/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Each fixture with where its visible signature goes: an anchor on the signer's name, else a
/// rectangle on page 1.
const FIXTURES: &[(&str, Option<&str>)] = &[
    ("quyet-dinh-libreoffice.pdf", Some("Phạm Đức Minh")),
    ("quyet-dinh-objstm.pdf", Some("Phạm Đức Minh")),
    ("quyet-dinh-linearized.pdf", Some("Phạm Đức Minh")),
    ("cong-van-reportlab.pdf", Some("Nguyễn Thị Thu Hà")),
    ("phu-luc-ghostscript.pdf", None),
];

fn id_of(out: &CliOutput) -> anyhow::Result<String> {
    out.json()?["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no id in {out}"))
}

pub(crate) async fn run(
    dir: &Path,
    program: &str,
    args: &[&str],
) -> anyhow::Result<(bool, String)> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .with_context(|| format!("running {program}"))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

pub(crate) async fn tools_available() -> bool {
    let py = run(Path::new("."), "python3", &["-m", "pyhanko", "--version"]).await;
    let pdfsig = run(Path::new("."), "pdfsig", &["-v"]).await;
    matches!(py, Ok((true, _))) && pdfsig.is_ok()
}

/// pyHanko's verdict per signature (Python API), one line each. `ltv`: revocation answers
/// only from the DSS, no fetching, a missing one fails.
const PYHANKO: &str = r#"
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
        if ltv:
            vc = DocumentSecurityStore.read_dss(r).as_validation_context({
                'trust_roots': [root], 'allow_fetching': False,
                'revocation_mode': 'require', 'retroactive_revinfo': True})
        else:
            vc = ValidationContext(trust_roots=[root], allow_fetching=False,
                                   revocation_mode='soft-fail')
        if sig.sig_object.get('/Type') == '/DocTimeStamp':
            st = validate_pdf_timestamp(sig, vc)
            print(sig.field_name, 'doc-timestamp intact=%s valid=%s trusted=%s' % (
                st.intact, st.valid, st.trusted))
            continue
        st = validate_pdf_signature(sig, vc)
        print(sig.field_name, 'intact=%s valid=%s trusted=%s ts=%s' % (
            st.intact, st.valid, st.trusted, st.timestamp_validity is not None))
"#;

/// Every signature intact, valid and trusted to `root.pem` in pyHanko; answers its lines.
async fn pyhanko_all(dir: &Path, file: &str, ltv: bool) -> anyhow::Result<Vec<String>> {
    let (ok, text) = run(
        dir,
        "python3",
        &[
            "-c",
            PYHANKO,
            file,
            "root.pem",
            if ltv { "ltv" } else { "plain" },
        ],
    )
    .await?;
    ensure!(ok, "pyHanko on {file}: {text}");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    ensure!(!lines.is_empty(), "pyHanko found no signature in {file}");
    for l in &lines {
        ensure!(
            l.contains("intact=True valid=True trusted=True"),
            "pyHanko on {file} (ltv={ltv}): {text}"
        );
    }
    Ok(lines)
}

/// pyHanko's command line too: `sign validate --trust root.pem`.
pub(crate) async fn pyhanko_cli(dir: &Path, file: &str) -> anyhow::Result<()> {
    let (ok, text) = run(
        dir,
        "python3",
        &[
            "-m",
            "pyhanko",
            "sign",
            "validate",
            "--trust",
            "root.pem",
            "--trust-replace",
            "--pretty-print",
            file,
        ],
    )
    .await?;
    ensure!(
        ok && !text.contains("INVALID") && !text.contains("UNTRUSTED"),
        "pyhanko sign validate {file}: {text}"
    );
    Ok(())
}

pub(crate) async fn pdfsig_valid(dir: &Path, file: &str) -> anyhow::Result<()> {
    let (_, text) = run(dir, "pdfsig", &[file]).await?;
    ensure!(
        text.contains("Signature Validation: Signature is Valid."),
        "pdfsig {file}: {text}"
    );
    ensure!(
        !text.contains("Signature is Invalid"),
        "pdfsig {file}: {text}"
    );
    Ok(())
}

pub(crate) async fn tessera_verify(
    server: &TestServer,
    dir: &Path,
    file: &str,
) -> anyhow::Result<()> {
    let path = dir.join(file).display().to_string();
    let root = dir.join("root.pem").display().to_string();
    let out = server
        .cli(&["verify", &path, "--trust", &root], None)
        .await?;
    ensure!(
        out.success()
            && out.stdout.contains("TOTAL-PASSED")
            && !out.stdout.contains("TOTAL-FAILED"),
        "tessera verify {file}: {out}"
    );
    Ok(())
}

async fn signing_pdf_with_an_organisation_credential(backend: Backend) -> anyhow::Result<()> {
    if !tools_available().await {
        if std::env::var_os("CI").is_some() {
            bail!(
                "pyHanko and pdfsig are needed (pip install pyHanko; apt-get install poppler-utils)"
            );
        }
        return Ok(());
    }
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("tessera-e2e-pdf")?;
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    server
        .cli_ok(&["ca", "export", "root", "--out", &path("root.pem")], None)
        .await?;
    let unit = server.add_unit("Ủy ban nhân dân thành phố", None).await?;
    let mut user = NewUser::new("minh.pd", "Phạm Đức Minh", "mat-khau-rat-dai-2468");
    user.unit = Some(unit.clone());
    server.add_user(&user).await?;
    server
        .cli_ok(
            &[
                "cert",
                "image",
                "set",
                "--unit",
                &unit,
                &fixture("images/con-dau-do.png"),
            ],
            None,
        )
        .await?;
    let org = id_of(
        &server
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
            .await?,
    )?;
    let org2 = id_of(
        &server
            .cli_ok(
                &["cert", "issue", "--unit", &unit, "--organization", "--json"],
                None,
            )
            .await?,
    )?;

    for (name, anchor) in FIXTURES {
        let input = fixture(name);
        let stem = name.trim_end_matches(".pdf");
        // B-B, invisible.
        let bb = format!("{stem}-bb.pdf");
        let out = server
            .cli_ok(
                &[
                    "sign",
                    "pdf",
                    "--credential",
                    &org,
                    "--in",
                    &input,
                    "--out",
                    &path(&bb),
                    "--json",
                ],
                None,
            )
            .await?
            .json()?;
        ensure!(out["level"] == "B-B", "{out}");
        pdfsig_valid(d, &bb).await?;
        pyhanko_all(d, &bb, false).await?;
        pyhanko_cli(d, &bb).await?;
        tessera_verify(&server, d, &bb).await?;

        // B-LT, visible: seal and Vietnamese text.
        let lt = format!("{stem}-lt.pdf");
        let lt_path = path(&lt);
        let mut args = vec![
            "sign",
            "pdf",
            "--credential",
            &org,
            "--in",
            &input,
            "--out",
            &lt_path,
            "--level",
            "B-LT",
            "--reason",
            "Phát hành văn bản",
            "--location",
            "Hải Phòng",
        ];
        match anchor {
            Some(a) => args.extend(["--anchor", a]),
            None => args.extend(["--page", "1", "--rect", "360,60,540,160"]),
        }
        server.cli_ok(&args, None).await?;
        pdfsig_valid(d, &lt).await?;
        let lines = pyhanko_all(d, &lt, true).await?;
        ensure!(lines.iter().all(|l| l.contains("ts=True")), "{lines:?}");
        tessera_verify(&server, d, &lt).await?;
    }

    // The rendered page shows the seal and the text (the widget is on page 2).
    let (ok, text) = run(
        d,
        "pdftotext",
        &["-f", "2", "-l", "2", "quyet-dinh-libreoffice-lt.pdf", "-"],
    )
    .await?;
    ensure!(ok, "{text}");

    // Signed twice, by two organisation credentials: both valid.
    server
        .cli_ok(
            &[
                "sign",
                "pdf",
                "--credential",
                &org2,
                "--in",
                &path("quyet-dinh-libreoffice-bb.pdf"),
                "--out",
                &path("twice.pdf"),
                "--page",
                "1",
                "--rect",
                "320,40,520,140",
            ],
            None,
        )
        .await?;
    let lines = pyhanko_all(d, "twice.pdf", false).await?;
    ensure!(lines.len() == 2, "{lines:?}");
    tessera_verify(&server, d, "twice.pdf").await?;

    // B-LTA, and extending a B-B file to B-LTA.
    server
        .cli_ok(
            &[
                "sign",
                "pdf",
                "--credential",
                &org,
                "--in",
                &fixture("quyet-dinh-libreoffice.pdf"),
                "--out",
                &path("lta.pdf"),
                "--level",
                "B-LTA",
                "--certify",
                "2",
            ],
            None,
        )
        .await?;
    let lines = pyhanko_all(d, "lta.pdf", true).await?;
    ensure!(
        lines.iter().any(|l| l.contains("doc-timestamp")),
        "{lines:?}"
    );
    tessera_verify(&server, d, "lta.pdf").await?;
    server
        .cli_ok(
            &[
                "sign",
                "extend",
                "--in",
                &path("twice.pdf"),
                "--out",
                &path("extended.pdf"),
            ],
            None,
        )
        .await?;
    let lines = pyhanko_all(d, "extended.pdf", true).await?;
    ensure!(lines.len() == 3, "{lines:?}");
    pyhanko_cli(d, "extended.pdf").await?;

    // CAdES B-T: openssl verifies, and the token is there.
    server
        .cli_ok(
            &[
                "sign",
                "cms",
                "--credential",
                &org,
                "--in",
                &fixture("quyet-dinh-libreoffice.pdf"),
                "--out",
                &path("bt.p7s"),
                "--level",
                "B-T",
            ],
            None,
        )
        .await?;
    let content = fixture("quyet-dinh-libreoffice.pdf");
    let (ok, text) = openssl(
        d,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "bt.p7s",
            "-content",
            &content,
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    )
    .await?;
    ensure!(ok && text.contains("Verification successful"), "{text}");
    let (_, dump) = openssl(
        d,
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "bt.p7s",
        ],
    )
    .await?;
    ensure!(
        dump.contains("id-smime-aa-timeStampToken") || dump.contains("1.2.840.113549.1.9.16.2.14"),
        "no signature timestamp in {dump}"
    );

    // Bad inputs: a message, a non-zero exit, no output.
    std::fs::write(d.join("note.txt"), "không phải PDF")?;
    let whole = std::fs::read(fixture("quyet-dinh-libreoffice.pdf"))?;
    std::fs::write(d.join("truncated.pdf"), &whole[..whole.len() / 2])?;
    let personal = id_of(
        &server
            .cli_ok(&["cert", "issue", "--user", "minh.pd", "--json"], None)
            .await?,
    )?;
    for (cred, input, want) in [
        (org.as_str(), path("note.txt"), "not a PDF"),
        (org.as_str(), path("truncated.pdf"), "PDF"),
        (org.as_str(), path("missing.pdf"), "cannot read"),
        (
            "no-such-credential",
            fixture("quyet-dinh-libreoffice.pdf"),
            "credential",
        ),
        (
            personal.as_str(),
            fixture("quyet-dinh-libreoffice.pdf"),
            "remote approval",
        ),
    ] {
        let out = server
            .cli(
                &[
                    "sign",
                    "pdf",
                    "--credential",
                    cred,
                    "--in",
                    &input,
                    "--out",
                    &path("bad.pdf"),
                ],
                None,
            )
            .await?;
        ensure!(
            !out.success() && out.stderr.contains(want),
            "{input} with {cred}: {out}"
        );
        ensure!(
            !d.join("bad.pdf").exists(),
            "output left after {input}: {out}"
        );
    }
    Ok(())
}
