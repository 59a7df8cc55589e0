//! Every people-facing page and the console's pages in Chromium (`tests/browser/pages.mjs`), at
//! 1280 px and 390 px, in Vietnamese and English: screenshots kept in
//! `target/page-screenshots`, and a failure when a page is wider than its viewport. On
//! `/account` the script also checks Vietnam time, named sessions, phrased activity and the
//! stacked profile. Skipped like `browser_passkey` when node or chromium is missing.

use anyhow::Context;
use tessera_e2e::console::ConsoleSession;
use tessera_e2e::{Backend, NewUser, ServerOptions, TestServer};

use crate::browser_passkey::{npm_ci_once, run_script, screenshot_dir, tools_or_skip};

scenarios!(pages_fit_phone_and_desktop_in_both_languages);

const USERNAME: &str = "thao.ntp";
const SEAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/pdf/images/con-dau-do.png"
);
const PASSWORD: &str = "mat-khau-cua-thao-2026";

async fn pages_fit_phone_and_desktop_in_both_languages(backend: Backend) -> anyhow::Result<()> {
    let test = "browser_pages::pages_fit_phone_and_desktop_in_both_languages";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    npm_ci_once().await?;
    let server =
        TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let city = server
        .add_unit("Ủy ban nhân dân thành phố Hải Phòng", None)
        .await?;
    let unit = server
        .add_unit(
            "Phòng Kinh tế, Hạ tầng và Đô thị quận Hồng Bàng",
            Some(&city),
        )
        .await?;
    // A long name and address, which must wrap at 390 px rather than widen the page.
    let mut official = NewUser::new(USERNAME, "Nguyễn Thị Phương Thảo", PASSWORD);
    official.unit = Some(unit.clone());
    official.email = Some("nguyen.thi.phuong.thao.phongkinhte@honghang.haiphong.gov.vn".into());
    let official_id = server.add_user(&official).await?;
    let mut admin = NewUser::new("quantri.hb", "Trần Văn Quản", "mat-khau-quan-tri-2026");
    admin.unit = Some(city.clone());
    server.add_user(&admin).await?;
    server.grant("quantri.hb", "admin", &city).await?;
    server.grant("quantri.hb", "cert_admin", &city).await?;
    server
        .cli_ok(&["ca", "init", "--base-url", server.issuer()], None)
        .await?;
    let console = ConsoleSession::sign_in(&server, "quantri.hb", "mat-khau-quan-tri-2026").await?;
    // Content for the console's management pages: a credential waiting for an external CA
    // (its CSR shown), the city's seal with its image, the official's signature image.
    let pending = console
        .post(
            &server,
            "/admin/credentials",
            "/admin/credentials",
            &[
                ("username", USERNAME),
                ("title", "Chuyên viên"),
                ("ca", "external"),
            ],
        )
        .await?;
    let credential = pending.see_other()?.path().to_owned();
    let png = std::fs::read(SEAL)?;
    console
        .post(
            &server,
            "/admin/seals",
            &format!("/admin/seals/{city}/issue"),
            &[("alg", "P-256")],
        )
        .await?
        .see_other()?;
    for (page, action) in [
        (
            "/admin/seals".to_owned(),
            format!("/admin/seals/{city}/seal"),
        ),
        (
            format!("/admin/users/{official_id}"),
            format!("/admin/users/{official_id}/signature-image"),
        ),
    ] {
        console
            .upload(&server, &page, &action, ("file", "hinh.png", &png))
            .await?
            .see_other()?;
    }
    let cookie = console
        .browser
        .cookie(&server.url("/admin"), "tessera_session")
        .context("the console's session cookie")?;

    let shots = screenshot_dir("page-screenshots", backend)?;
    let admin_cookie = format!("tessera_session={cookie}");
    let args = [
        server.issuer(),
        USERNAME,
        PASSWORD,
        &admin_cookie,
        &official_id,
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(shots.as_os_str());
    args.push(std::ffi::OsStr::new(&credential));
    run_script(&tools, "pages.mjs", &args).await
}
