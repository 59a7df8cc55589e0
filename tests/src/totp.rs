//! An authenticator app for a signed-in person, enrolled on `/account` as they would.

use anyhow::{Context, ensure};
use reqwest::StatusCode;

use crate::admin::{between, csrf, totp_now};
use crate::browser::Browser;
use crate::server::TestServer;

/// Enrols an authenticator app on `/account` for the person `browser` is signed in as;
/// answers the app's secret (base32).
pub async fn enrol_on_account(browser: &Browser, server: &TestServer) -> anyhow::Result<String> {
    let account = browser.get(&server.url("/account")).await?;
    let token = csrf(&account)?;
    browser
        .post_form(
            &server.url("/account/totp/begin"),
            &[("csrf_token", &token)],
        )
        .await?
        .see_other()?;
    let account = browser.get(&server.url("/account")).await?;
    let secret = between(&account.body, "<code id=\"totp-secret\">", "</code>")
        .with_context(|| format!("no TOTP secret: {account}"))?
        .to_owned();
    let done = browser
        .post_form(
            &server.url("/account/totp/confirm"),
            &[("csrf_token", &token), ("code", &totp_now(&secret)?)],
        )
        .await?;
    ensure!(done.status == StatusCode::OK, "TOTP confirmation: {done}");
    Ok(secret)
}
