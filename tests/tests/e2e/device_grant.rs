//! The device authorization grant (RFC 8628) end to end: a kiosk asks for a code and polls;
//! a person opens the QR code's link on a phone, signs in, sees which device application asks,
//! and approves or denies; the kiosk gets tokens, or `access_denied`; a code that outlived its
//! lifetime gets `expired_token` and is unknown on the phone. In Chromium
//! (`tests/browser/device.mjs`), a phone-sized page approves while the kiosk polls.

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::fixture::{FULL_NAME, Fixture, PASSWORD, USERNAME};
use tessera_e2e::oauth::{self, ClientAuth, JsonAnswer};
use tessera_e2e::{Backend, Browser, ServerOptions, TestServer, hidden_input};
use url::Url;

use crate::browser_passkey::{npm_ci_once, run_script, screenshot_dir, tools_or_skip};

scenarios!(
    kiosk_polls_phone_approves_or_denies,
    kiosk_approved_from_a_phone_in_chromium
);

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_authorization(server: &TestServer) -> anyhow::Result<JsonAnswer> {
    let response = oauth::rp_http()?
        .post(server.url("/device_authorization"))
        .form(&[("client_id", "kiosk"), ("scope", "openid profile")])
        .send()
        .await?;
    JsonAnswer::read(response).await
}

async fn poll(server: &TestServer, device_code: &str) -> anyhow::Result<JsonAnswer> {
    oauth::token_request(
        server,
        ClientAuth::None("kiosk"),
        &[("grant_type", GRANT), ("device_code", device_code)],
    )
    .await
}

/// The phone: opens the QR code's link, signs in when asked, and lands on the confirmation.
async fn open_on_phone(
    phone: &Browser,
    server: &TestServer,
    link: &str,
) -> anyhow::Result<tessera_e2e::Page> {
    let link = Url::parse(link)?;
    let mut page = phone.get(&link).await?;
    if page.location().is_some_and(|l| l.path() == "/login") {
        let login = phone.get(&page.see_other()?).await?;
        let form = login.login_form()?;
        let back = phone
            .submit_login(server, &form, USERNAME, PASSWORD)
            .await?
            .see_other()?;
        ensure!(
            back == link,
            "the sign-in led to {back}, not back to {link}"
        );
        page = phone.get(&back).await?;
    }
    ensure!(page.status == StatusCode::OK, "{page}");
    Ok(page)
}

async fn decide(
    phone: &Browser,
    server: &TestServer,
    confirm: &tessera_e2e::Page,
    decision: &str,
) -> anyhow::Result<tessera_e2e::Page> {
    let csrf = hidden_input(&confirm.body, "csrf_token").context("no CSRF token")?;
    let code = hidden_input(&confirm.body, "user_code").context("no user code")?;
    phone
        .post_form(
            &server.url("/device/decide"),
            &[
                ("csrf_token", csrf.as_str()),
                ("user_code", code.as_str()),
                ("decision", decision),
            ],
        )
        .await
}

async fn add_kiosk(server: &TestServer) -> anyhow::Result<()> {
    server
        .cli_ok(
            &[
                "client",
                "add",
                "--id",
                "kiosk",
                "--name",
                "Ki-ốt một cửa",
                "--public",
                "--grant-type",
                "device_code",
                "--json",
            ],
            None,
        )
        .await?;
    Ok(())
}

async fn kiosk_polls_phone_approves_or_denies(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let server = &fx.server;
    add_kiosk(server).await?;
    let discovery = oauth::get_json(server, "/.well-known/openid-configuration").await?;
    assert_eq!(
        discovery.json["device_authorization_endpoint"],
        format!("{}/device_authorization", server.issuer())
    );
    // A client without the grant is refused.
    let refused = oauth::rp_http()?
        .post(server.url("/device_authorization"))
        .basic_auth(&fx.client.client_id, fx.client.client_secret.as_deref())
        .form(&[("scope", "openid")])
        .send()
        .await?;
    let refused = JsonAnswer::read(refused).await?;
    assert_eq!(refused.error(), Some("unauthorized_client"), "{refused}");

    let d = device_authorization(server).await?;
    assert_eq!(d.status, StatusCode::OK, "{d}");
    assert_eq!(d.header("cache-control"), Some("no-store"));
    let device_code = d.str("device_code")?.to_owned();
    let user_code = d.str("user_code")?.to_owned();
    let complete = d.str("verification_uri_complete")?.to_owned();
    assert_eq!(
        d.str("verification_uri")?,
        format!("{}/device", server.issuer())
    );
    assert_eq!(d.json["interval"], 5);

    // The QR code the kiosk shows.
    let qr = oauth::rp_http()?
        .get(server.url(&format!("/device/qr.svg?user_code={user_code}")))
        .send()
        .await?;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await?.contains("<svg"));

    // Polling: pending, then too fast.
    let p = poll(server, &device_code).await?;
    assert_eq!(p.error(), Some("authorization_pending"), "{p}");
    let p = poll(server, &device_code).await?;
    assert_eq!(p.error(), Some("slow_down"), "{p}");

    // The phone: a wrong code first (typed by hand), then the QR code's link.
    let phone = fx.browser()?;
    let confirm = open_on_phone(&phone, server, &complete).await?;
    let csrf = hidden_input(&confirm.body, "csrf_token").context("no CSRF token")?;
    let wrong = phone
        .post_form(
            &server.url("/device"),
            &[("csrf_token", csrf.as_str()), ("user_code", "bcdf-ghjk")],
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong}");
    let typed = phone
        .post_form(
            &server.url("/device"),
            &[
                ("csrf_token", csrf.as_str()),
                ("user_code", &user_code.to_lowercase().replace('-', "")),
            ],
        )
        .await?;
    assert_eq!(typed.status, StatusCode::OK, "{typed}");
    for page in [&confirm, &typed] {
        assert!(page.body.contains("Ki-ốt một cửa"), "{page}");
        assert!(page.body.contains(&user_code), "{page}");
        assert!(page.body.contains(FULL_NAME), "{page}");
    }
    // Without the CSRF token nothing is decided.
    let forged = phone
        .post_form(
            &server.url("/device/decide"),
            &[("user_code", user_code.as_str()), ("decision", "approve")],
        )
        .await?;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{forged}");
    let done = decide(&phone, server, &typed, "approve").await?;
    assert_eq!(done.status, StatusCode::OK, "{done}");
    assert!(done.body.contains("device-done"), "{done}");

    // The interval grew to 10 s with the slow_down; then the kiosk collects its tokens, once.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let t = poll(server, &device_code).await?;
    assert_eq!(t.status, StatusCode::OK, "{t}");
    let (_, claims) = oauth::jwt_parts(t.str("id_token")?)?;
    assert_eq!(claims["sub"], fx.user_id);
    assert_eq!(claims["aud"], "kiosk");
    let info = oauth::userinfo(server, t.str("access_token")?).await?;
    assert_eq!(info.json["name"], FULL_NAME, "{info}");
    let again = poll(server, &device_code).await?;
    assert_eq!(again.error(), Some("invalid_grant"), "{again}");

    // A second request, denied on the same phone (already signed in).
    let d = device_authorization(server).await?;
    let denied_code = d.str("device_code")?.to_owned();
    let confirm = open_on_phone(&phone, server, d.str("verification_uri_complete")?).await?;
    let done = decide(&phone, server, &confirm, "deny").await?;
    assert_eq!(done.status, StatusCode::OK, "{done}");
    let p = poll(server, &denied_code).await?;
    assert_eq!(p.error(), Some("access_denied"), "{p}");

    // A citizens-only kiosk: an official cannot approve it (separate populations).
    server
        .cli_ok(
            &[
                "client",
                "add",
                "--id",
                "kiosk-dan",
                "--name",
                "Ki-ốt công dân",
                "--public",
                "--grant-type",
                "device_code",
                "--audience",
                "citizens",
                "--json",
            ],
            None,
        )
        .await?;
    let citizens = oauth::rp_http()?
        .post(server.url("/device_authorization"))
        .form(&[("client_id", "kiosk-dan"), ("scope", "openid")])
        .send()
        .await?;
    let citizens = JsonAnswer::read(citizens).await?;
    let other = phone
        .get(&Url::parse(citizens.str("verification_uri_complete")?)?)
        .await?;
    ensure!(
        other.status == StatusCode::FORBIDDEN
            && other.body.contains("wrong_audience")
            && !other.body.contains("device-approve"),
        "an official may approve a citizens' kiosk: {other}"
    );

    // A third code outlives its lifetime: the kiosk is told to start again, and the phone finds
    // nothing to approve.
    let d = device_authorization(server).await?;
    let late_code = d.str("device_code")?.to_owned();
    let late_link = d.str("verification_uri_complete")?.to_owned();
    ensure!(
        server.expire_device_codes().await? >= 1,
        "no device code to expire"
    );
    let p = poll(server, &late_code).await?;
    assert_eq!(p.error(), Some("expired_token"), "{p}");
    let late = phone.get(&Url::parse(&late_link)?).await?;
    ensure!(
        late.status.is_client_error() && !late.body.contains("device-approve"),
        "an expired code can still be approved: {late}"
    );

    for event in [
        "device.code_issued",
        "device.user_code_refused",
        "device.approved",
        "device.denied",
    ] {
        ensure!(
            !server.audit(event).await?.is_empty(),
            "no {event} in the audit log"
        );
    }
    Ok(())
}

/// The "done when": the kiosk polls while a phone-sized Chromium page signs in, types
/// the code and approves; the kiosk then gets tokens for that person.
async fn kiosk_approved_from_a_phone_in_chromium(backend: Backend) -> anyhow::Result<()> {
    let test = "device_grant::kiosk_approved_from_a_phone_in_chromium";
    let Some(tools) = tools_or_skip(test)? else {
        return Ok(());
    };
    npm_ci_once().await?;
    let server =
        TestServer::start_with(backend, ServerOptions::default().localhost_issuer()?).await?;
    let user = tessera_e2e::NewUser::new("tiep.nhan", "Đỗ Thị Hồng", "mat-khau-mot-cua-2026");
    let user_id = server.add_user(&user).await?;
    add_kiosk(&server).await?;

    let d = device_authorization(&server).await?;
    assert_eq!(d.status, StatusCode::OK, "{d}");
    let device_code = d.str("device_code")?.to_owned();
    let interval = d.json["interval"].as_u64().context("no interval")?;

    // The kiosk polls at the interval it was given while the phone approves.
    let kiosk = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let p = poll(&server, &device_code).await?;
            match p.error() {
                Some("authorization_pending") => continue,
                None => return Ok(p),
                Some(_) => anyhow::bail!("the kiosk's poll failed: {p}"),
            }
        }
        anyhow::bail!("the kiosk got no tokens in time")
    };
    let shots = screenshot_dir("page-screenshots", backend)?;
    let args = [
        d.str("verification_uri")?,
        d.str("user_code")?,
        "tiep.nhan",
        "mat-khau-mot-cua-2026",
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(shots.as_os_str());
    // Whichever fails first fails the test; the phone's failure stops the kiosk's polling.
    let ((), t) = tokio::try_join!(run_script(&tools, "device.mjs", &args), kiosk)?;
    assert_eq!(t.status, StatusCode::OK, "{t}");
    let (_, claims) = oauth::jwt_parts(t.str("id_token")?)?;
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["aud"], "kiosk");
    let info = oauth::userinfo(&server, t.str("access_token")?).await?;
    assert_eq!(info.json["name"], "Đỗ Thị Hồng", "{info}");
    Ok(())
}
