//! The administration console (`/admin`): server-rendered pages for the administrators of the
//! units. It is a client of the administration API's rules: every page calls the same
//! `tessera_core::admin_api` functions as the JSON API (`admin_api.rs`), with the same unit
//! scope, delegation and audit entries, under the client id
//! [`CONSOLE_CLIENT_ID`](tessera_core::admin_api::CONSOLE_CLIENT_ID). Reaching it takes a signed-in
//! person holding an administrative grant, at level 2 proven in the last 15 minutes (else the
//! browser is sent to step up, and comes back). Every form carries the CSRF token, checked
//! before anything else; the pages run no script.

mod audit;
mod clients;
mod credentials;
mod seals;
mod signing;
mod units;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_core::admin_api::{self, AdminApiError, Caller, ConsoleGate, Permission};
use tessera_core::session;

use super::AppState;
use super::errors::{console_failure, error_page, internal_page, page, unavailable_page};
use super::extract::{Meta, Now};
use super::forms::{Form, csrf_ok};
use super::web::{self, csrf_cookie, with_cookies};
use crate::pages::console::{Frame, text};
use crate::pages::{ErrorKind, Lang};

/// Rows per page of every list.
pub(super) const PAGE_SIZE: i64 = 25;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/units") }))
        .merge(units::routes())
        .merge(users::routes())
        .merge(clients::routes())
        .merge(credentials::routes())
        .merge(seals::routes())
        .merge(audit::routes())
        .merge(signing::routes())
}

/// The image uploads (multipart forms), served under their own body limit (see
/// `http::router`): an official's signature image, a unit's seal.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .merge(users::upload_routes())
        .merge(seals::upload_routes())
}

/// Largest body of an image upload form: the image limit and room for the multipart framing
/// and the CSRF token.
pub const MAX_UPLOAD_BODY_BYTES: usize = super::MAX_IMAGE_BODY_BYTES + 16 * 1024;

/// An administrator at the console, checked like a console's token is: a grant, level 2.
pub(super) struct Console {
    pub(super) caller: Caller,
    pub(super) lang: Lang,
    pub(super) now: i64,
    /// Path and query of the page, for the language switch.
    pub(super) path: String,
    /// `METHOD path`, as refusals are audited.
    action: String,
    csrf_token: String,
    /// Cookies to set with the answer (the CSRF cookie when new, the language when chosen).
    cookies: Vec<String>,
    /// The units the caller sees, in tree order (from `admin_api::units::tree`).
    pub(super) units: Vec<UnitEntry>,
}

/// A unit of the caller's trees, with its depth for indenting.
#[derive(Clone, Debug)]
pub(super) struct UnitEntry {
    pub(super) unit: tessera_proto::admin::Unit,
    pub(super) depth: usize,
}

fn flatten(nodes: &[tessera_proto::admin::UnitNode], depth: usize, out: &mut Vec<UnitEntry>) {
    for n in nodes {
        if let Some(unit) = &n.unit {
            out.push(UnitEntry {
                unit: unit.clone(),
                depth,
            });
        }
        if let Some(kids) = &n.children {
            flatten(kids, depth + 1, out);
        }
    }
}

fn lang_param(parts: &Parts) -> Option<String> {
    parts.uri.query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v)
    })
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Console, Response> {
        let now = Now::of(parts);
        let (lang, set_lang) = web::language(&parts.headers, lang_param(parts).as_deref());
        let path = parts.uri.path().to_owned();
        let cookie = s.read_cookie(&parts.headers, web::SESSION_COOKIE);
        let (session, user) =
            match session::current_session(&s.provider, cookie.as_deref(), now).await {
                Ok(Some(v)) => v,
                Ok(None) => return Err(web::sign_in_first(s, &path)),
                Err(e) => return Err(internal_page(s, lang, &path, "session lookup failed", e)),
            };
        let meta = Meta::of(parts, s);
        let caller = match admin_api::console_caller(&s.provider, &session, user, meta, now).await {
            Ok(Ok(caller)) => caller,
            Ok(Err(ConsoleGate::StepUp)) => return Err(web::step_up_first(s, &path)),
            Err(e) => return Err(bare_refusal(s, lang, &path, &e)),
        };
        let tree = match admin_api::units::tree(&s.provider, &caller).await {
            Ok(t) => t,
            Err(e) => return Err(bare_refusal(s, lang, &path, &e)),
        };
        let mut units = Vec::new();
        flatten(&tree.units, 0, &mut units);
        let (csrf, set_csrf) = csrf_cookie(s, &parts.headers);
        let mut cookies: Vec<String> = set_csrf.into_iter().collect();
        if set_lang {
            cookies.push(web::lang_cookie(lang));
        }
        Ok(Console {
            caller,
            lang,
            now,
            path: parts
                .uri
                .path_and_query()
                .map_or(path.clone(), |p| p.as_str().to_owned()),
            action: format!("{} {path}", parts.method),
            csrf_token: s.provider.keyed.csrf_token(&csrf),
            cookies,
            units,
        })
    }
}

/// A form posted to the console: the CSRF check first (before the session is even looked up),
/// then the administrator as [`Console`].
pub(super) struct ConsoleForm {
    pub(super) console: Console,
    pub(super) form: Form,
}

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<ConsoleForm, Response> {
        let (mut parts, body) = req.into_parts();
        let headers: HeaderMap = parts.headers.clone();
        let (lang, _) = web::language(&headers, None);
        let path = parts.uri.path().to_owned();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), s)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(form) = Form::parse(&bytes) else {
            return Err(error_page(s, lang, &path, ErrorKind::BadRequest, None));
        };
        if !form.csrf_ok(s, &headers) {
            return Err(error_page(s, lang, &path, ErrorKind::CsrfFailed, None));
        }
        let console = Console::from_request_parts(&mut parts, s).await?;
        Ok(ConsoleForm { console, form })
    }
}

/// An image posted from a console form (`multipart/form-data`): the CSRF token checked first,
/// as for [`ConsoleForm`], then the administrator; `file` holds the bytes of the form's `file`
/// field (empty when no file was chosen).
pub(super) struct ConsoleUpload {
    pub(super) console: Console,
    pub(super) file: Bytes,
}

impl ConsoleUpload {
    /// Saves the uploaded PNG as `owner`'s image (checked by the core as the API checks it),
    /// then back to `back`, or the refusal on the `section` page.
    pub(super) async fn save_image(
        self,
        s: &AppState,
        owner: tessera_core::signing::images::ImageOwner,
        back: &str,
        section: &'static str,
    ) -> Response {
        let con = self.console;
        let r = if self.file.is_empty() {
            Err(tessera_core::admin_api::AdminApiError::Invalid(
                "choose a PNG image file to upload".into(),
            ))
        } else {
            tessera_core::admin_api::organisation::set_image(
                &s.provider,
                &con.caller,
                owner,
                &self.file,
                con.now,
            )
            .await
            .map(drop)
        };
        match r {
            Ok(()) => con.done(back),
            Err(e) => con.refused(s, section, e).await,
        }
    }
}

impl FromRequest<AppState> for ConsoleUpload {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<ConsoleUpload, Response> {
        let (mut parts, body) = req.into_parts();
        let headers: HeaderMap = parts.headers.clone();
        let (lang, _) = web::language(&headers, None);
        let path = parts.uri.path().to_owned();
        let bad = |s: &AppState| error_page(s, lang, &path, ErrorKind::BadRequest, None);
        let Ok(mut m) = Multipart::from_request(Request::from_parts(parts.clone(), body), s).await
        else {
            return Err(bad(s));
        };
        let (mut token, mut file) = (None, Bytes::new());
        loop {
            let field = match m.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return Err(bad(s)),
            };
            let name = field.name().unwrap_or_default().to_owned();
            let Ok(bytes) = field.bytes().await else {
                return Err(bad(s));
            };
            match name.as_str() {
                "csrf_token" => token = Some(String::from_utf8_lossy(&bytes).into_owned()),
                "file" => file = bytes,
                _ => {}
            }
        }
        if !csrf_ok(s, &headers, token.as_deref()) {
            return Err(error_page(s, lang, &path, ErrorKind::CsrfFailed, None));
        }
        let console = Console::from_request_parts(&mut parts, s).await?;
        Ok(ConsoleUpload { console, file })
    }
}

/// Query parameters of a list; a malformed query is the console's "invalid request" page.
pub(super) fn query<T: DeserializeOwned + Default>(raw: Option<&str>) -> Result<T, AdminApiError> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|e| AdminApiError::Invalid(format!("invalid query: {e}"))),
    }
}

/// An empty form or query field means "not given".
pub(super) fn given(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl Console {
    fn frame(&self, section: &'static str) -> Frame {
        let roles = self
            .caller
            .actor
            .grants
            .iter()
            .map(|g| {
                format!(
                    "{} — {}",
                    role_name(self.lang, g.role.as_str()),
                    self.unit_name(Some(&g.unit_id))
                )
            })
            .collect();
        Frame {
            username: self.caller.actor.username.clone(),
            roles,
            section,
            csrf_token: self.csrf_token.clone(),
        }
    }

    /// A console page.
    pub(super) fn render<T: Serialize>(
        &self,
        s: &AppState,
        section: &'static str,
        template: &str,
        view: &T,
    ) -> Response {
        let html = s
            .pages
            .console(self.lang, template, &self.path, &self.frame(section), view);
        with_cookies(page(StatusCode::OK, html), &self.cookies)
    }

    /// A refused or failed request, shown as a page; refusals are audited (`admin.refused`)
    /// as the API audits them.
    pub(super) async fn refused(
        &self,
        s: &AppState,
        section: &'static str,
        e: AdminApiError,
    ) -> Response {
        if e.is_refusal()
            && let Err(audit) =
                admin_api::record_refusal(&s.provider, &self.caller, &self.action, &e, self.now)
                    .await
        {
            return internal_page(s, self.lang, &self.path, "console: audit failed", audit);
        }
        if let AdminApiError::Internal(cause) = &e
            && cause.is_unavailable()
        {
            return with_cookies(unavailable_page(s, self.lang, &self.path), &self.cookies);
        }
        let (status, code, message) = console_failure(&e);
        let c = text(self.lang);
        let heading = match status {
            StatusCode::FORBIDDEN => c.refused_title,
            StatusCode::NOT_FOUND => c.not_found_title,
            StatusCode::CONFLICT => c.conflict_title,
            _ => c.invalid_title,
        };
        let back = format!("/admin/{section}");
        let html = s.pages.console(
            self.lang,
            "console/error.html",
            &self.path,
            &self.frame(section),
            &ErrorView {
                heading,
                code,
                message,
                back,
            },
        );
        with_cookies(page(status, html), &self.cookies)
    }

    /// A secret shown once (a one-time password, a client secret), on the answer to the form
    /// itself: never in a URL, never stored (the page is `no-store`).
    pub(super) fn secret_page(
        &self,
        s: &AppState,
        section: &'static str,
        (heading, lead): (&'static str, &'static str),
        subject: String,
        secret: String,
        back: String,
    ) -> Response {
        let view = SecretView {
            heading,
            lead,
            subject,
            secret,
            back,
        };
        self.render(s, section, "console/secret.html", &view)
    }

    /// After a change: back to `to`, which says it was done.
    pub(super) fn done(&self, to: &str) -> Response {
        let sep = if to.contains('?') { '&' } else { '?' };
        with_cookies(
            Redirect::to(&format!("{to}{sep}done=1")).into_response(),
            &self.cookies,
        )
    }

    /// Units the caller may use for `perm`, as `(id, indented name)`, in tree order.
    pub(super) fn unit_choices(&self, perm: Permission) -> Vec<UnitChoice> {
        self.units
            .iter()
            .filter(|u| self.caller.actor.may(perm, Some(&u.unit.id)))
            .map(|u| UnitChoice {
                id: u.unit.id.clone(),
                label: format!("{}{}", "— ".repeat(u.depth), u.unit.name),
            })
            .collect()
    }

    /// A PNG image shown in a page, as a `data:` URL (the pages' CSP allows `img-src data:`).
    pub(super) fn png_data_url(png: &[u8]) -> String {
        use base64::Engine as _;
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        )
    }

    /// A unit's name, or its id when the caller does not see it; "no unit" for none.
    pub(super) fn unit_name(&self, unit: Option<&str>) -> String {
        match unit {
            Some(id) => self
                .units
                .iter()
                .find(|u| u.unit.id == id)
                .map_or_else(|| id.to_owned(), |u| u.unit.name.clone()),
            None => text(self.lang).no_unit.to_owned(),
        }
    }
}

/// A page that failed before the administrator was known (no role, disabled): the people's
/// error page, with the reason; refusals are audited by the core.
fn bare_refusal(s: &AppState, lang: Lang, path: &str, e: &AdminApiError) -> Response {
    if let AdminApiError::Internal(cause) = e
        && cause.is_unavailable()
    {
        return unavailable_page(s, lang, path);
    }
    let (status, _, message) = console_failure(e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return error_page(s, lang, path, ErrorKind::Internal, None);
    }
    let detail = match e {
        AdminApiError::Forbidden(_) => text(lang).no_role.to_owned(),
        _ => message,
    };
    let mut resp = error_page(s, lang, path, ErrorKind::BadRequest, Some(&detail));
    *resp.status_mut() = status;
    resp
}

pub(super) fn role_name(lang: Lang, role: &str) -> &'static str {
    let c = text(lang);
    match role {
        "admin" => c.role_admin,
        "cert_admin" => c.role_cert_admin,
        _ => c.role_auditor,
    }
}

#[derive(Serialize)]
struct SecretView {
    heading: &'static str,
    lead: &'static str,
    subject: String,
    secret: String,
    back: String,
}

#[derive(Serialize)]
struct ErrorView {
    heading: &'static str,
    code: &'static str,
    message: String,
    back: String,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct UnitChoice {
    pub(super) id: String,
    pub(super) label: String,
}

/// Previous and next links of a list, keeping its filters.
#[derive(Debug, Serialize)]
pub(super) struct Pager {
    pub(super) page: i64,
    pub(super) prev_url: Option<String>,
    pub(super) next_url: Option<String>,
}

impl Pager {
    /// `more`: whether a row beyond this page exists. `filters`: the list's query without
    /// `page`.
    pub(super) fn new(
        base: &str,
        filters: &[(&str, Option<&str>)],
        page: i64,
        more: bool,
    ) -> Pager {
        let url = |p: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in filters {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    q.append_pair(k, v);
                }
            }
            q.append_pair("page", &p.to_string());
            format!("{base}?{}", q.finish())
        };
        Pager {
            page,
            prev_url: (page > 1).then(|| url(page - 1)),
            next_url: more.then(|| url(page + 1)),
        }
    }
}

/// The page number asked for (1 when absent), and the offset of its first row.
pub(super) fn page_offset(page: Option<i64>) -> Result<(i64, i64), AdminApiError> {
    let page = page.unwrap_or(1);
    if !(1..=10_000).contains(&page) {
        return Err(AdminApiError::Invalid("page must be 1–10000".into()));
    }
    Ok((page, (page - 1) * PAGE_SIZE))
}
