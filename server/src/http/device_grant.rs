//! The device grant's pages (RFC 8628 §3.3): `/device` where a signed-in person types the code
//! a kiosk shows (or arrives from its QR code with `?user_code=`), confirms or denies, and
//! `/device/qr.svg`, the QR code of the verification URI with a user code, for kiosks to show.
//! The device's own endpoints (`/device_authorization`, the token grant) are in `oidc.rs`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tessera_core::oidc::device::approval::{self, Decided, Found, Pending};
use tessera_core::oidc::device::{VERIFICATION_PATH, user_code};
use tessera_core::request::RequestMeta;

use super::AppState;
use super::errors::{error_page, internal_page, page};
use super::extract::{Meta, Now, SignedIn, SignedInForm};
use super::web::{self, csrf_cookie, sign_in_first, step_up_first, when, with_cookies};
use crate::pages::device_grant::{DeviceView, Step, text};
use crate::pages::{ErrorKind, Lang};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(VERIFICATION_PATH, get(show).post(enter))
        .route("/device/decide", post(decide))
        .route("/device/qr.svg", get(qr))
}

#[derive(Debug, Default, Deserialize)]
struct DeviceQuery {
    user_code: Option<String>,
    lang: Option<String>,
}

/// The page's own address with the code, which the sign-in comes back to.
fn path_with(code: Option<&str>) -> String {
    match code.and_then(user_code::normalise) {
        Some(c) => format!("{VERIFICATION_PATH}?user_code={}", user_code::display(&c)),
        None => VERIFICATION_PATH.to_owned(),
    }
}

/// What a look-up or decision shows.
enum Shown {
    Enter(Option<&'static str>, StatusCode),
    Confirm(Box<Pending>),
    Done(Step),
}

struct Render<'a> {
    s: &'a AppState,
    headers: &'a HeaderMap,
    lang: Lang,
    me: &'a SignedIn,
    typed: &'a str,
}

impl<'a> Render<'a> {
    /// For a posted form: its language, its person and its `user_code`.
    fn of(s: &'a AppState, f: &'a SignedInForm) -> Render<'a> {
        Render {
            s,
            headers: &f.headers,
            lang: f.lang,
            me: &f.me,
            typed: f.form.get("user_code").unwrap_or("").trim(),
        }
    }

    fn page(&self, shown: Shown, mut cookies: Vec<String>) -> Response {
        let (csrf, set) = csrf_cookie(self.s, self.headers);
        cookies.extend(set);
        let (step, status, error, pending) = match shown {
            Shown::Enter(error, status) => (Step::Enter, status, error, None),
            Shown::Confirm(p) => (Step::Confirm, StatusCode::OK, None, Some(p)),
            Shown::Done(step) => (step, StatusCode::OK, None, None),
        };
        let view = DeviceView {
            step,
            csrf_token: self.s.provider.keyed.csrf_token(&csrf),
            user_code: pending
                .as_ref()
                .map_or_else(|| self.typed.to_owned(), |p| p.user_code.clone()),
            client_name: pending
                .as_ref()
                .map(|p| p.client.name.clone())
                .unwrap_or_default(),
            client_id: pending
                .as_ref()
                .map(|p| p.client.id.clone())
                .unwrap_or_default(),
            scope: pending
                .as_ref()
                .map(|p| p.scope.clone())
                .unwrap_or_default(),
            expires_at: pending
                .as_ref()
                .map(|p| when(p.expires_at))
                .unwrap_or_default(),
            display_name: self.me.user.display_name.clone(),
            username: self.me.user.username.clone(),
            error,
        };
        let html = self
            .s
            .pages
            .device_grant(self.lang, &path_with(Some(self.typed)), &view);
        with_cookies(page(status, html), &cookies)
    }

    /// The page for a look-up that found nothing to confirm.
    fn not_found(&self, found: Found, cookies: Vec<String>) -> Response {
        let g = text(self.lang);
        match found {
            Found::Pending(p) => self.page(Shown::Confirm(p), cookies),
            Found::NotFound => self.page(
                Shown::Enter(Some(g.wrong_code), StatusCode::BAD_REQUEST),
                cookies,
            ),
            Found::Throttled(_) => self.page(
                Shown::Enter(Some(g.throttled), StatusCode::TOO_MANY_REQUESTS),
                cookies,
            ),
            Found::StepUp(_) => step_up_first(self.s, &path_with(Some(self.typed))),
            Found::WrongAudience(detail) => with_cookies(
                error_page(
                    self.s,
                    self.lang,
                    &path_with(Some(self.typed)),
                    ErrorKind::WrongAudience,
                    Some(detail.as_str()),
                ),
                &cookies,
            ),
        }
    }
}

async fn look_up(r: &Render<'_>, meta: &RequestMeta, now: i64, cookies: Vec<String>) -> Response {
    match approval::find(&r.s.provider, &r.me.user, &r.me.session, r.typed, meta, now).await {
        Ok(found) => r.not_found(found, cookies),
        Err(e) => internal_page(
            r.s,
            r.lang,
            VERIFICATION_PATH,
            "device code lookup failed",
            e,
        ),
    }
}

/// `GET /device[?user_code=…]`: sign in first (coming back here), then the code form, or the
/// confirmation when the QR code brought the code along.
async fn show(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    headers: HeaderMap,
    Query(q): Query<DeviceQuery>,
    me: Option<SignedIn>,
) -> Response {
    let (lang, set) = web::language(&headers, q.lang.as_deref());
    let mut cookies: Vec<String> = set.then(|| web::lang_cookie(lang)).into_iter().collect();
    let Some(me) = me else {
        return with_cookies(
            sign_in_first(&s, &path_with(q.user_code.as_deref())),
            &cookies,
        );
    };
    // Back where the sign-in was meant to lead: the way back is spent.
    if web::cookie(&headers, &s.cookie_name(web::RETURN_COOKIE)).is_some() {
        cookies.push(s.set_cookie(web::RETURN_COOKIE, "", 0));
    }
    let typed = q.user_code.as_deref().unwrap_or("").trim();
    let r = Render {
        s: &s,
        headers: &headers,
        lang,
        me: &me,
        typed,
    };
    if typed.is_empty() {
        return r.page(Shown::Enter(None, StatusCode::OK), cookies);
    }
    look_up(&r, &meta, now, cookies).await
}

/// `POST /device`: the typed code.
async fn enter(State(s): State<AppState>, Meta(meta): Meta, f: SignedInForm) -> Response {
    look_up(&Render::of(&s, &f), &meta, f.now, Vec::new()).await
}

/// `POST /device/decide`: approve or deny.
async fn decide(State(s): State<AppState>, Meta(meta): Meta, f: SignedInForm) -> Response {
    let approve = match f.form.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return super::errors::error_page(
                &s,
                f.lang,
                VERIFICATION_PATH,
                ErrorKind::BadRequest,
                None,
            );
        }
    };
    let r = Render::of(&s, &f);
    let me = &f.me;
    match approval::decide(
        &s.provider,
        &me.user,
        &me.session,
        r.typed,
        approve,
        &meta,
        f.now,
    )
    .await
    {
        Ok(Decided::Approved(_)) => r.page(Shown::Done(Step::Approved), Vec::new()),
        Ok(Decided::Denied(_)) => r.page(Shown::Done(Step::Denied), Vec::new()),
        Ok(Decided::Not(found)) => r.not_found(found, Vec::new()),
        Err(e) => internal_page(&s, f.lang, VERIFICATION_PATH, "device decision failed", e),
    }
}

/// `GET /device/qr.svg?user_code=…`: the QR code a kiosk shows beside the code, leading the
/// phone straight to the confirmation. It encodes only this provider's own page.
async fn qr(State(s): State<AppState>, Query(q): Query<DeviceQuery>) -> Response {
    let Some(code) = q.user_code.as_deref().and_then(user_code::normalise) else {
        return (StatusCode::BAD_REQUEST, "user_code is missing or malformed").into_response();
    };
    let url = s.provider.config.endpoint(&path_with(Some(&code)));
    match tessera_core::qr::svg(&url, 240) {
        Ok(svg) => {
            let mut resp = svg.into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "device QR code failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
