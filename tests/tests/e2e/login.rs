//! The login form: credential errors, throttling, disabled accounts, CSRF.

use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::flow::{self, Callback};
use tessera_e2e::oauth::{self, AuthRequest};
use tessera_e2e::{Backend, Browser, LoginForm, NewUser, Page};
use tessera_sdk::AuthOptions;

use crate::token_errors::assert_invalid_token;

scenarios!(
    unknown_user_and_wrong_password_look_alike,
    throttling_after_repeated_failures,
    disabled_user_is_locked_out,
    tampered_csrf_token
);

const BAD_CREDENTIALS: &str = "Tên đăng nhập hoặc mật khẩu không đúng.";

/// Opens the login page for `fx.client` and returns it.
async fn login_page(fx: &Fixture, browser: &Browser) -> anyhow::Result<Page> {
    flow::open_login_page(browser, &AuthRequest::new(&fx.client).url(&fx.server)).await
}

/// The form is shown again, with status `status`, and no session is opened.
fn assert_form_again(page: &Page, status: StatusCode) -> anyhow::Result<LoginForm> {
    assert_eq!(page.status, status, "{page}");
    assert!(page.header("location").is_none(), "{page}");
    assert!(
        page.body.contains("name=\"password\""),
        "not the login form: {page}"
    );
    assert_eq!(page.set_cookie("tessera_session"), None, "{page}");
    page.login_form()
}

/// A browser in this state has no session: `prompt=none` says `login_required`.
async fn assert_no_session(fx: &Fixture, browser: &Browser) -> anyhow::Result<()> {
    let request = AuthRequest::new(&fx.client).param("prompt", "none");
    let page = browser.get(&request.url(&fx.server)).await?;
    let cb = Callback {
        url: page.see_other()?,
    };
    assert_eq!(cb.error().as_deref(), Some("login_required"), "{page}");
    Ok(())
}

/// An unknown user and a wrong password get the same answer (no user enumeration).
async fn unknown_user_and_wrong_password_look_alike(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let browser = Browser::new()?;
    let form = login_page(&fx, &browser).await?.login_form()?;

    let wrong = browser
        .submit_login(&fx.server, &form, USERNAME, "mat-khau-sai-roi")
        .await?;
    let form = assert_form_again(&wrong, StatusCode::UNAUTHORIZED)?;
    assert!(wrong.body.contains(BAD_CREDENTIALS), "{wrong}");

    let unknown = browser
        .submit_login(&fx.server, &form, "khong.ai", PASSWORD)
        .await?;
    assert_form_again(&unknown, StatusCode::UNAUTHORIZED)?;
    assert!(unknown.body.contains(BAD_CREDENTIALS), "{unknown}");
    assert_no_session(&fx, &browser).await
}

/// After 5 failures for one username, even the right password is refused (429) for a while;
/// other users are not affected.
async fn throttling_after_repeated_failures(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let other = NewUser::new("binh.tt", "Trần Thanh Bình", "mat-khau-cua-binh-2024");
    fx.server.add_user(&other).await?;
    let browser = Browser::new()?;
    let mut form = login_page(&fx, &browser).await?.login_form()?;
    for attempt in 1..=5 {
        let page = browser
            .submit_login(&fx.server, &form, USERNAME, "doan-bua-thu-n")
            .await?;
        assert_eq!(
            page.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {page}"
        );
        form = assert_form_again(&page, StatusCode::UNAUTHORIZED)?;
    }
    let page = browser
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?;
    assert_form_again(&page, StatusCode::TOO_MANY_REQUESTS)?;
    assert_no_session(&fx, &browser).await?;

    // Someone else, from the same browser, still gets in.
    let url = AuthRequest::new(&fx.client).url(&fx.server);
    flow::browser_login(&browser, &fx.server, &url, &other.username, &other.password).await?;
    Ok(())
}

/// Disabling a user cuts off their existing access token and session, and new logins.
async fn disabled_user_is_locked_out(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let rp = fx.rp().await?;
    let browser = Browser::new()?;
    let login =
        flow::sdk_login(&browser, &fx.server, &rp, &["profile"], USERNAME, PASSWORD).await?;
    let info = oauth::userinfo(&fx.server, &login.access_token).await?;
    assert_eq!(info.status, StatusCode::OK, "{info}");

    fx.server.disable_user(USERNAME).await?;

    let info = oauth::userinfo(&fx.server, &login.access_token).await?;
    assert_invalid_token(&info);
    // The browser's session no longer counts.
    let none = AuthOptions {
        prompt: Some("none".into()),
        ..AuthOptions::default()
    };
    let (url, _) = rp.authorization_url(&[], &none);
    let cb = Callback {
        url: browser.get(&url).await?.see_other()?,
    };
    assert_eq!(cb.error().as_deref(), Some("login_required"), "{}", cb.url);
    // And the right password is refused.
    let fresh = Browser::new()?;
    let form = login_page(&fx, &fresh).await?.login_form()?;
    let page = fresh
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?;
    assert_form_again(&page, StatusCode::FORBIDDEN)?;
    Ok(())
}

/// A login POST whose CSRF token was altered or left out is refused with no session.
async fn tampered_csrf_token(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let browser = Browser::new()?;
    let mut form = login_page(&fx, &browser).await?.login_form()?;
    form.csrf_token = tamper(&form.csrf_token);
    let page = browser
        .submit_login(&fx.server, &form, USERNAME, PASSWORD)
        .await?;
    assert_refused(&page);

    let form = login_page(&fx, &browser).await?.login_form()?;
    let mut fields = vec![("username", USERNAME), ("password", PASSWORD)];
    if let Some(req) = &form.req {
        fields.push(("req", req.as_str()));
    }
    let page = browser.post_form(&fx.server.url("/login"), &fields).await?;
    assert_refused(&page);

    // A token from another browser does not work either (it is bound to the cookie).
    let stranger = Browser::new()?;
    let theirs = login_page(&fx, &stranger).await?.login_form()?;
    let mine = login_page(&fx, &browser).await?.login_form()?;
    let swapped = LoginForm {
        csrf_token: theirs.csrf_token,
        req: mine.req,
    };
    let page = browser
        .submit_login(&fx.server, &swapped, USERNAME, PASSWORD)
        .await?;
    assert_refused(&page);
    assert_no_session(&fx, &browser).await
}

fn assert_refused(page: &Page) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.header("location").is_none(), "{page}");
    assert_eq!(page.set_cookie("tessera_session"), None, "{page}");
    let content_type = page.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "content-type {content_type:?}"
    );
}

/// Changes one character of a base64url token, keeping it well-formed.
fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    if let Some(middle) = chars.get_mut(token.len() / 2) {
        *middle = if *middle == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}
