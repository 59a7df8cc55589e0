//! The console's management pages over real HTTP, each form posted with the page's CSRF
//! token: a user's profile and application roles, administrative grants, the signature image
//! (a file upload); officials' certificates through an external CA (the CSR out, the
//! certificate pasted in) and renewal; a unit's organisation seal, its clients and its image.
//! Every change is the administration API's operation with its audit entry, and a department's
//! administrator reaches nothing of another department.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::console::ConsoleSession;
use tessera_e2e::{Backend, NewUser, Page, TestServer};

use super::pki::openssl_ok;

scenarios!(
    console_profiles_grants_images,
    console_certificates_and_seals
);

const SEAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/images/con-dau-do.png"
);
const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/quyet-dinh-libreoffice.pdf"
);

struct City {
    root: String,
    noivu: String,
    taichinh: String,
}

async fn city(s: &TestServer) -> anyhow::Result<City> {
    let root = s.add_unit("Thành phố Hải Phòng", None).await?;
    let noivu = s.add_unit("Sở Nội vụ", Some(&root)).await?;
    let taichinh = s.add_unit("Sở Tài chính", Some(&root)).await?;
    Ok(City {
        root,
        noivu,
        taichinh,
    })
}

async fn person(s: &TestServer, name: &str, unit: &str) -> anyhow::Result<String> {
    let mut u = NewUser::new(
        name,
        &format!("Cán bộ {name}"),
        &format!("mat-khau-cua-{name}"),
    );
    u.unit = Some(unit.to_owned());
    s.add_user(&u).await
}

fn expect(page: &Page, status: StatusCode, what: &str) -> anyhow::Result<()> {
    ensure!(
        page.status == status,
        "{what}: expected {status}, got {page}"
    );
    Ok(())
}

/// A change answered by a redirect to `to` saying it was done.
fn done(page: &Page, to: &str, what: &str) -> anyhow::Result<()> {
    let url = page.see_other().with_context(|| what.to_owned())?;
    let at = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    ensure!(
        at.starts_with(to) && at.contains("done=1"),
        "{what}: sent to {at}, not {to}"
    );
    Ok(())
}

async fn audited_by_console(s: &TestServer, event: &str) -> anyhow::Result<()> {
    let rows = s.audit(event).await?;
    ensure!(
        rows.iter()
            .any(|r| r.client_id.as_deref() == Some("tessera:console")),
        "{event} is not audited under the console: {rows:?}"
    );
    Ok(())
}

async fn console_profiles_grants_images(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    let c = city(&s).await?;
    person(&s, "nv.admin", &c.noivu).await?;
    s.grant("nv.admin", "admin", &c.noivu).await?;
    s.grant("nv.admin", "cert_admin", &c.noivu).await?;
    person(&s, "tp.admin", &c.root).await?;
    s.grant("tp.admin", "admin", &c.root).await?;
    let staff = person(&s, "nv.canbo", &c.noivu).await?;
    let other = person(&s, "tc.canbo", &c.taichinh).await?;
    let nv = ConsoleSession::sign_in(&s, "nv.admin", "mat-khau-cua-nv.admin").await?;
    let page = format!("/admin/users/{staff}");

    // The profile and the application roles.
    let edited = nv
        .post(
            &s,
            &page,
            &format!("{page}/profile"),
            &[
                ("name", "Trần Thị Bình"),
                ("email", "binh.tt@haiphong.gov.vn"),
                ("phone", "0912345678"),
                ("unit_id", &c.noivu),
                ("roles", "van_thu  lanh_dao"),
            ],
        )
        .await?;
    done(&edited, &page, "profile")?;
    let shown = nv.get(&s, &page).await?;
    ensure!(
        shown.body.contains("Trần Thị Bình")
            && shown.body.contains("binh.tt@haiphong.gov.vn")
            && shown.body.contains("lanh_dao")
            && shown.body.contains("van_thu"),
        "{shown}"
    );
    audited_by_console(&s, "user.updated").await?;
    let moved_out = nv
        .post(
            &s,
            &page,
            &format!("{page}/profile"),
            &[("name", "Trần Thị Bình"), ("unit_id", &c.taichinh)],
        )
        .await?;
    expect(
        &moved_out,
        StatusCode::FORBIDDEN,
        "moving a user to another department",
    )?;
    let reserved = nv
        .post(
            &s,
            &page,
            &format!("{page}/profile"),
            &[("name", "Trần Thị Bình"), ("roles", "admin")],
        )
        .await?;
    expect(
        &reserved,
        StatusCode::BAD_REQUEST,
        "an application role named like a grant",
    )?;

    // Administrative grants: what the administrator holds, over their units only.
    let granted = nv
        .post(
            &s,
            &page,
            &format!("{page}/grant"),
            &[("role", "cert_admin"), ("unit_id", &c.noivu)],
        )
        .await?;
    done(&granted, &page, "grant")?;
    let shown = nv.get(&s, &page).await?;
    ensure!(shown.body.contains("data-role=\"cert_admin\""), "{shown}");
    audited_by_console(&s, "grant.added").await?;
    let above = nv
        .post(
            &s,
            &page,
            &format!("{page}/grant"),
            &[("role", "admin"), ("unit_id", &c.root)],
        )
        .await?;
    expect(&above, StatusCode::FORBIDDEN, "a grant over the city")?;
    let revoked = nv
        .post(
            &s,
            &page,
            &format!("{page}/revoke-grant"),
            &[("role", "cert_admin"), ("unit_id", &c.noivu)],
        )
        .await?;
    done(&revoked, &page, "revoking the grant")?;
    let shown = nv.get(&s, &page).await?;
    ensure!(!shown.body.contains("data-role=\"cert_admin\""), "{shown}");
    audited_by_console(&s, "grant.removed").await?;
    let me = nv.get(&s, "/admin/users?q=nv.admin").await?;
    let my_id = me
        .body
        .split("href=\"/admin/users/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .with_context(|| format!("{me}"))?
        .to_owned();
    let own = nv
        .post(
            &s,
            &page,
            &format!("/admin/users/{my_id}/grant"),
            &[("role", "admin"), ("unit_id", &c.noivu)],
        )
        .await?;
    expect(&own, StatusCode::FORBIDDEN, "changing one's own grants")?;

    // The signature image: a PNG uploaded with the form's token, shown on the page.
    let png = std::fs::read(SEAL)?;
    let uploaded = nv
        .upload(
            &s,
            &page,
            &format!("{page}/signature-image"),
            ("file", "chu-ky.png", &png),
        )
        .await?;
    done(&uploaded, &page, "signature image")?;
    let shown = nv.get(&s, &page).await?;
    ensure!(
        shown.body.contains("id=\"signature-image\"")
            && shown
                .body
                .contains("<img src=\"data:image&#x2f;png;base64,"),
        "{shown}"
    );
    let set = s.audit("signing.image.set").await?;
    ensure!(set.len() == 1, "{set:?}");
    let not_png = nv
        .upload(
            &s,
            &page,
            &format!("{page}/signature-image"),
            ("file", "quyet-dinh.png", &std::fs::read(PDF)?),
        )
        .await?;
    expect(&not_png, StatusCode::BAD_REQUEST, "a PDF as an image")?;
    let forged = nv
        .browser
        .post_multipart(
            &s.url(&format!("{page}/signature-image")),
            &[("csrf_token", "forged")],
            ("file", "chu-ky.png", "image/png", &png),
        )
        .await?;
    expect(
        &forged,
        StatusCode::FORBIDDEN,
        "an upload without the token",
    )?;
    let elsewhere = nv
        .upload(
            &s,
            &page,
            &format!("/admin/users/{other}/signature-image"),
            ("file", "chu-ky.png", &png),
        )
        .await?;
    expect(
        &elsewhere,
        StatusCode::NOT_FOUND,
        "another department's official",
    )?;
    ensure!(
        s.audit("signing.image.set").await?.len() == 1,
        "refused uploads changed nothing"
    );
    let removed = nv
        .post(&s, &page, &format!("{page}/remove-signature-image"), &[])
        .await?;
    done(&removed, &page, "removing the image")?;
    let shown = nv.get(&s, &page).await?;
    ensure!(!shown.body.contains("class=\"stamp\""), "{shown}");

    // The city's administrator without cert_admin manages profiles, not images.
    let tp = ConsoleSession::sign_in(&s, "tp.admin", "mat-khau-cua-tp.admin").await?;
    let seen = tp.get(&s, &page).await?;
    expect(&seen, StatusCode::OK, "the city sees the department's user")?;
    ensure!(
        seen.body.contains("id=\"user-profile\"") && !seen.body.contains("id=\"signature-upload\""),
        "{seen}"
    );
    let not_held = tp
        .post(
            &s,
            &page,
            &format!("{page}/grant"),
            &[("role", "cert_admin"), ("unit_id", &c.noivu)],
        )
        .await?;
    expect(
        &not_held,
        StatusCode::FORBIDDEN,
        "a role the administrator does not hold",
    )?;
    Ok(())
}

async fn console_certificates_and_seals(backend: Backend) -> anyhow::Result<()> {
    let s = TestServer::start(backend).await?;
    s.cli_ok(&["ca", "init", "--base-url", s.issuer()], None)
        .await?;
    let c = city(&s).await?;
    person(&s, "nv.admin", &c.noivu).await?;
    s.grant("nv.admin", "admin", &c.noivu).await?;
    s.grant("nv.admin", "cert_admin", &c.noivu).await?;
    person(&s, "nv.canbo", &c.noivu).await?;
    person(&s, "nv.lanhdao", &c.noivu).await?;
    person(&s, "tc.canbo", &c.taichinh).await?;
    let nv = ConsoleSession::sign_in(&s, "nv.admin", "mat-khau-cua-nv.admin").await?;
    let dir = tessera_e2e::TempDir::new("console-certs")?;
    let d = dir.path();

    // An external CA: the key and its CSR now, the certificate pasted in later.
    let created = nv
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials",
            &[
                ("username", "nv.canbo"),
                ("title", "Chuyên viên"),
                ("alg", "P-256"),
                ("ca", "external"),
            ],
        )
        .await?;
    let to = created.see_other()?;
    let page = to.path().to_owned();
    ensure!(page.starts_with("/admin/credentials/"), "{created}");
    let pending = nv.get(&s, &page).await?;
    ensure!(
        pending.body.contains("data-status=\"pending\""),
        "{pending}"
    );
    let csr = pending
        .body
        .split("id=\"csr-pem\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .map(tessera_e2e::unescape)
        .with_context(|| format!("no CSR on {pending}"))?;
    ensure!(csr.contains("BEGIN CERTIFICATE REQUEST"), "{csr}");
    std::fs::write(d.join("canbo.csr"), &csr)?;
    let verified = openssl_ok(d, &["req", "-in", "canbo.csr", "-verify", "-noout"]).await?;
    ensure!(verified.contains("verify OK"), "{verified}");
    openssl_ok(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ext.key",
            "-out",
            "ext.pem",
            "-days",
            "30",
            "-subj",
            "/C=VN/O=Ban Cơ yếu Chính phủ/CN=Test Government CA",
            "-utf8",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
    .await?;
    std::fs::write(
        d.join("user.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    )?;
    openssl_ok(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "canbo.csr",
            "-CA",
            "ext.pem",
            "-CAkey",
            "ext.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "user.ext",
            "-out",
            "canbo.pem",
        ],
    )
    .await?;
    let import = format!("{page}/certificate");
    let junk = nv
        .post(
            &s,
            &page,
            &import,
            &[(
                "certificate",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            )],
        )
        .await?;
    expect(&junk, StatusCode::BAD_REQUEST, "a malformed certificate")?;
    ensure!(junk.body.contains("certificate refused"), "{junk}");
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(d.join("canbo.pem"))?,
        std::fs::read_to_string(d.join("ext.pem"))?
    );
    let ext_pem = d.join("ext.pem").display().to_string();
    s.cli_ok(&["trust", "add", "--file", &ext_pem], None)
        .await?;
    let imported = nv
        .post(&s, &page, &import, &[("certificate", &bundle)])
        .await?;
    done(&imported, &page, "importing the certificate")?;
    let active = nv.get(&s, &page).await?;
    ensure!(
        active.body.contains("data-status=\"active\"")
            && active.body.contains("id=\"certificate-pem\"")
            && active.body.contains("Test Government CA"),
        "{active}"
    );

    // Renewal of an internal credential with a new key: its new certificate at once.
    let issued = nv
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials",
            &[("username", "nv.lanhdao"), ("alg", "P-256")],
        )
        .await?;
    let first = issued.see_other()?.path().to_owned();
    let renewed = nv
        .post(&s, &first, &format!("{first}/renew"), &[("new_key", "1")])
        .await?;
    let second = renewed.see_other()?.path().to_owned();
    ensure!(second != first, "a renewal is a new credential: {renewed}");
    let fresh = nv.get(&s, &second).await?;
    ensure!(fresh.body.contains("data-status=\"active\""), "{fresh}");
    let old = nv.get(&s, &first).await?;
    ensure!(old.body.contains("data-status=\"revoked\""), "{old}");
    ensure!(!s.audit("pki.credential.renewed").await?.is_empty());
    let other = nv
        .post(
            &s,
            "/admin/credentials",
            "/admin/credentials",
            &[("username", "tc.canbo"), ("ca", "external")],
        )
        .await?;
    expect(
        &other,
        StatusCode::NOT_FOUND,
        "another department's official",
    )?;

    // The department's seal: issued, a clerk system allowed and withdrawn, suspended and
    // resumed, its image uploaded and removed.
    s.cli_ok(
        &[
            "client",
            "add",
            "--id",
            "vanthu-noivu",
            "--name",
            "Văn thư Sở Nội vụ",
            "--redirect-uri",
            "https://vanthu.noivu.example/cb",
            "--unit",
            &c.noivu,
        ],
        None,
    )
    .await?;
    let seals = nv.get(&s, "/admin/seals").await?;
    expect(&seals, StatusCode::OK, "seals")?;
    ensure!(
        seals.body.contains("id=\"seal-issue\"") && !seals.body.contains("class=\"seal-row\""),
        "{seals}"
    );
    let back = format!("/admin/seals?unit_id={}", c.noivu);
    let issued = nv
        .post(
            &s,
            &back,
            &format!("/admin/seals/{}/issue", c.noivu),
            &[("alg", "P-256")],
        )
        .await?;
    done(&issued, "/admin/seals", "issuing the seal")?;
    let seals = nv.get(&s, &back).await?;
    let id = seals
        .body
        .split("class=\"seal-row\" data-status=\"active\" data-id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .with_context(|| format!("no active seal: {seals}"))?
        .to_owned();
    let act = |a: &str| format!("/admin/seals/{}/credentials/{id}/{a}", c.noivu);
    let allowed = nv
        .post(&s, &back, &act("allow"), &[("client_id", "vanthu-noivu")])
        .await?;
    done(&allowed, "/admin/seals", "allowing the clerk system")?;
    let seals = nv.get(&s, &back).await?;
    ensure!(seals.body.contains("<code>vanthu-noivu</code>"), "{seals}");
    let unknown = nv
        .post(&s, &back, &act("allow"), &[("client_id", "khong-co")])
        .await?;
    expect(&unknown, StatusCode::NOT_FOUND, "an unknown client")?;
    for (action, fields) in [
        ("withdraw", vec![("client_id", "vanthu-noivu")]),
        ("suspend", vec![]),
        ("resume", vec![]),
    ] {
        let answer = nv.post(&s, &back, &act(action), &fields).await?;
        done(&answer, "/admin/seals", action)?;
    }
    for event in [
        "pki.credential.client_allowed",
        "pki.credential.client_disallowed",
        "pki.credential.suspended",
        "pki.credential.resumed",
    ] {
        ensure!(!s.audit(event).await?.is_empty(), "{event} not audited");
    }
    let png = std::fs::read(SEAL)?;
    let uploaded = nv
        .upload(
            &s,
            &back,
            &format!("/admin/seals/{}/seal", c.noivu),
            ("file", "con-dau.png", &png),
        )
        .await?;
    done(&uploaded, "/admin/seals", "seal image")?;
    let seals = nv.get(&s, &back).await?;
    ensure!(
        seals
            .body
            .contains("<img src=\"data:image&#x2f;png;base64,"),
        "{seals}"
    );
    let removed = nv
        .post(
            &s,
            &back,
            &format!("/admin/seals/{}/seal/remove", c.noivu),
            &[],
        )
        .await?;
    done(&removed, "/admin/seals", "removing the seal image")?;
    ensure!(s.audit("signing.image.removed").await?.len() == 1);

    // Another department's seal: not found, to read or to change.
    let hidden = nv
        .get(&s, &format!("/admin/seals?unit_id={}", c.taichinh))
        .await?;
    expect(&hidden, StatusCode::NOT_FOUND, "another department's seals")?;
    let issue_other = nv
        .post(
            &s,
            &back,
            &format!("/admin/seals/{}/issue", c.taichinh),
            &[("alg", "P-256")],
        )
        .await?;
    expect(
        &issue_other,
        StatusCode::NOT_FOUND,
        "issuing another department's seal",
    )?;
    let upload_other = nv
        .upload(
            &s,
            &back,
            &format!("/admin/seals/{}/seal", c.taichinh),
            ("file", "con-dau.png", &png),
        )
        .await?;
    expect(
        &upload_other,
        StatusCode::NOT_FOUND,
        "another department's seal image",
    )?;
    let _ = c.root;
    Ok(())
}
