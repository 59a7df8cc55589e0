//! The routes: the list and upload, a document with its signature, downloads, the language
//! switch. Sign-in, sessions, logout and back-channel logout come from the SDK's axum kit.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ring::hmac;
use serde::Deserialize;
use tessera_sdk::axum::{AuthKit, AuthUser};
use tessera_sdk::{SdkError, SigningClient};

use crate::clock;
use crate::office::{self, OfficeError};
use crate::pages::{self, DocumentView, Frame};
use crate::store::{Document, ORIGINAL, REPORT, SIGNED, Store, StoreError};
use crate::words::{Lang, Words};

/// Tessera's default limit for one document of a signing request.
const MAX_PDF_BYTES: usize = 25 * 1024 * 1024;

#[derive(Clone)]
pub struct App(Arc<Inner>);

struct Inner {
    name: String,
    store: Store,
    signing: SigningClient,
    kit: AuthKit,
    /// Keys the forms' CSRF tokens to the signed-in session (random at each start).
    csrf_key: hmac::Key,
}

impl App {
    pub fn new(
        name: String,
        store: Store,
        signing: SigningClient,
        kit: AuthKit,
    ) -> Result<App, String> {
        let rng = ring::rand::SystemRandom::new();
        let csrf_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "system randomness unavailable".to_owned())?;
        Ok(App(Arc::new(Inner {
            name,
            store,
            signing,
            kit,
            csrf_key,
        })))
    }

    pub fn router(self) -> Router {
        let kit = self.0.kit.clone();
        Router::new()
            .route("/", get(home))
            .route("/documents", post(upload))
            .route("/documents/{id}", get(show))
            .route("/documents/{id}/sign", post(request_signature))
            .route("/documents/{id}/{file}", get(download))
            .route("/lang", get(switch_language))
            .layer(DefaultBodyLimit::max(MAX_PDF_BYTES + 64 * 1024))
            .with_state(self)
            .merge(kit.routes())
            .layer(kit.session_layer())
    }

    /// The CSRF token of the forms shown to `user`: an HMAC of their Tessera session.
    fn csrf(&self, user: &AuthUser) -> String {
        let tag = hmac::sign(&self.0.csrf_key, csrf_input(user).as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn csrf_ok(&self, user: &AuthUser, token: &str) -> bool {
        let Some(bytes) = from_hex(token) else {
            return false;
        };
        hmac::verify(&self.0.csrf_key, csrf_input(user).as_bytes(), &bytes).is_ok()
    }

    fn page(&self, lang: Lang, user: Option<&AuthUser>, path: &str, body: &str) -> String {
        self.page_refreshing(lang, user, path, body, None)
    }

    fn page_refreshing(
        &self,
        lang: Lang,
        user: Option<&AuthUser>,
        path: &str,
        body: &str,
        refresh: Option<u32>,
    ) -> String {
        let logout = self.0.kit.logout_path();
        let who = user.map(|u| (display_name(u), u.claims.unit_name.as_deref().unwrap_or("")));
        pages::frame(
            &Frame {
                lang,
                app_name: &self.0.name,
                user: who,
                logout_path: &logout,
                path,
                refresh,
            },
            body,
        )
    }

    fn error(
        &self,
        lang: Lang,
        user: Option<&AuthUser>,
        status: StatusCode,
        msg: &str,
    ) -> Response {
        let body = pages::error(lang.words(), msg);
        html(status, self.page(lang, user, "/", &body))
    }

    /// An error of the store or of Tessera as a page: Tessera's own words when it refused.
    fn office_error(&self, lang: Lang, user: &AuthUser, e: OfficeError) -> Response {
        let w = lang.words();
        match e {
            OfficeError::Store(StoreError::NotFound) => {
                self.error(lang, Some(user), StatusCode::NOT_FOUND, w.not_found)
            }
            OfficeError::Tessera(SdkError::SigningApi {
                status,
                error,
                description,
            }) => {
                tracing::info!("Tessera refused: {error} {description:?}");
                let msg = format!("{}: {}.", w.tessera_refused, w.refusal(&error));
                let code = StatusCode::from_u16(status)
                    .ok()
                    .filter(|s| s.is_client_error())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                self.error(lang, Some(user), code, &msg)
            }
            OfficeError::Tessera(SdkError::Http(e)) => {
                tracing::warn!("Tessera unreachable: {e}");
                self.error(
                    lang,
                    Some(user),
                    StatusCode::BAD_GATEWAY,
                    w.tessera_unreachable,
                )
            }
            other => {
                tracing::error!("{other}");
                self.error(
                    lang,
                    Some(user),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    w.internal,
                )
            }
        }
    }

    /// The document if `user` may see it.
    async fn document_for(&self, user: &AuthUser, id: &str) -> Result<Document, OfficeError> {
        let doc = self.0.store.get(id).await?;
        if doc.visible_to(user.subject(), user.claims.unit_id.as_deref()) {
            Ok(doc)
        } else {
            Err(StoreError::NotFound.into())
        }
    }
}

fn csrf_input(user: &AuthUser) -> String {
    format!(
        "{}\u{0}{}",
        user.subject(),
        user.claims.sid.as_deref().unwrap_or("")
    )
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn display_name(u: &AuthUser) -> &str {
    u.claims
        .name
        .as_deref()
        .or(u.claims.preferred_username.as_deref())
        .unwrap_or(u.subject())
}

/// An HTML page, never cached, never framed.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn home(State(app): State<App>, headers: HeaderMap, user: Option<AuthUser>) -> Response {
    let lang = Lang::of(&headers);
    let w = lang.words();
    let Some(user) = user else {
        let body = pages::welcome(w, &app.0.kit.login_path());
        return html(StatusCode::OK, app.page(lang, None, "/", &body));
    };
    list_page(&app, lang, &user, StatusCode::OK, None).await
}

async fn list_page(
    app: &App,
    lang: Lang,
    user: &AuthUser,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let docs = match app
        .0
        .store
        .list(user.subject(), user.claims.unit_id.as_deref())
        .await
    {
        Ok(d) => d,
        Err(e) => return app.office_error(lang, user, e.into()),
    };
    let body = pages::list(lang.words(), &docs, &app.csrf(user), error);
    html(status, app.page(lang, Some(user), "/", &body))
}

/// The upload form's fields.
#[derive(Default)]
struct Upload {
    csrf: String,
    title: String,
    file: Option<(String, axum::body::Bytes)>,
}

/// Why an upload is refused: its status and the words shown above the form.
type Refusal = (StatusCode, &'static str);

async fn read_upload(mut form: Multipart, w: &Words) -> Result<Upload, Refusal> {
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, w.too_large);
    let mut up = Upload::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(up),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large),
            Err(_) => return Err((StatusCode::BAD_REQUEST, w.bad_form)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|_| too_large)?;
        match name.as_str() {
            "csrf_token" => up.csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "title" => up.title = String::from_utf8_lossy(&bytes).trim().to_owned(),
            "file" => up.file = Some((file_name.unwrap_or_default(), bytes)),
            _ => {}
        }
    }
}

/// The checked upload: CSRF first, before anything of the form is used.
fn check_upload(
    app: &App,
    user: &AuthUser,
    up: Upload,
    w: &Words,
) -> Result<(String, String, axum::body::Bytes), Refusal> {
    if !app.csrf_ok(user, &up.csrf) {
        return Err((StatusCode::FORBIDDEN, w.bad_form));
    }
    if up.title.is_empty() || up.title.chars().count() > 300 {
        return Err((StatusCode::BAD_REQUEST, w.no_title));
    }
    let Some((file_name, pdf)) = up.file.filter(|(_, b)| b.starts_with(b"%PDF-")) else {
        return Err((StatusCode::BAD_REQUEST, w.not_pdf));
    };
    if pdf.len() > MAX_PDF_BYTES {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, w.too_large));
    }
    Ok((up.title, sanitize_file_name(&file_name), pdf))
}

async fn upload(
    State(app): State<App>,
    headers: HeaderMap,
    user: AuthUser,
    form: Multipart,
) -> Response {
    let lang = Lang::of(&headers);
    let w = lang.words();
    let checked = match read_upload(form, w).await {
        Ok(up) => check_upload(&app, &user, up, w),
        Err(refusal) => Err(refusal),
    };
    let (title, file_name, pdf) = match checked {
        Ok(c) => c,
        Err((status, words)) => return list_page(&app, lang, &user, status, Some(words)).await,
    };
    let id = match app.0.store.new_id() {
        Ok(id) => id,
        Err(e) => return app.office_error(lang, &user, e.into()),
    };
    let doc = Document {
        id: id.clone(),
        title,
        file_name,
        size: pdf.len() as u64,
        unit_id: user.claims.unit_id.clone(),
        owner_sub: user.subject().to_owned(),
        owner_name: display_name(&user).to_owned(),
        uploaded_at: clock::now(),
        signing: None,
    };
    if let Err(e) = app.0.store.create(&doc, &pdf).await {
        return app.office_error(lang, &user, e.into());
    }
    Redirect::to(&format!("/documents/{id}")).into_response()
}

/// A file name fit for `Content-Disposition` and the signing request: no path, no quotes.
fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    if clean.trim().is_empty() {
        "van-ban.pdf".into()
    } else {
        clean
    }
}

async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    user: AuthUser,
    Path(id): Path<String>,
) -> Response {
    let lang = Lang::of(&headers);
    let mut doc = match app.document_for(&user, &id).await {
        Ok(d) => d,
        Err(e) => return app.office_error(lang, &user, e),
    };
    if let Err(e) = office::refresh(&app.0.store, &app.0.signing, &mut doc).await {
        return app.office_error(lang, &user, e);
    }
    document_page(&app, lang, &user, &doc, StatusCode::OK, None).await
}

async fn document_page(
    app: &App,
    lang: Lang,
    user: &AuthUser,
    doc: &Document,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let report = match app.0.store.read_file(&doc.id, REPORT).await {
        Ok(bytes) => serde_json::from_slice(&bytes).ok(),
        Err(_) => None,
    };
    let signer = user.claims.preferred_username.clone().unwrap_or_default();
    let body = pages::document(
        lang.words(),
        &DocumentView {
            doc,
            csrf: &app.csrf(user),
            default_signer: &signer,
            report: report.as_ref(),
            error,
        },
    );
    // While the official has not finished, the page follows the request by itself.
    let refresh = doc
        .signing
        .as_ref()
        .filter(|s| matches!(s.status.as_str(), "pending" | "approved"))
        .map(|_| 3);
    let path = format!("/documents/{}", doc.id);
    html(
        status,
        app.page_refreshing(lang, Some(user), &path, &body, refresh),
    )
}

#[derive(Deserialize)]
struct SignForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    signer: String,
    #[serde(default)]
    anchor: String,
}

async fn request_signature(
    State(app): State<App>,
    headers: HeaderMap,
    user: AuthUser,
    Path(id): Path<String>,
    form: Result<axum::Form<SignForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = Lang::of(&headers);
    let w = lang.words();
    let mut doc = match app.document_for(&user, &id).await {
        Ok(d) => d,
        Err(e) => return app.office_error(lang, &user, e),
    };
    let Some(axum::Form(form)) = form.ok().filter(|f| app.csrf_ok(&user, &f.csrf_token)) else {
        return document_page(
            &app,
            lang,
            &user,
            &doc,
            StatusCode::FORBIDDEN,
            Some(w.bad_form),
        )
        .await;
    };
    let signer = form.signer.trim();
    if signer.is_empty() {
        return document_page(
            &app,
            lang,
            &user,
            &doc,
            StatusCode::BAD_REQUEST,
            Some(w.no_signer),
        )
        .await;
    }
    let anchor = Some(form.anchor.trim()).filter(|a| !a.is_empty());
    match office::request_signature(
        &app.0.store,
        &app.0.signing,
        &mut doc,
        signer,
        anchor,
        clock::now(),
    )
    .await
    {
        Ok(()) => Redirect::to(&format!("/documents/{id}")).into_response(),
        // Tessera's refusal (unknown signer, no credential, not allowed…) on the same form.
        Err(OfficeError::Tessera(SdkError::SigningApi {
            error, description, ..
        })) => {
            tracing::info!("Tessera refused the signing request: {error} {description:?}");
            let msg = format!("{}: {}.", w.tessera_refused, w.refusal(&error));
            document_page(&app, lang, &user, &doc, StatusCode::BAD_REQUEST, Some(&msg)).await
        }
        Err(e) => app.office_error(lang, &user, e),
    }
}

async fn download(
    State(app): State<App>,
    headers: HeaderMap,
    user: AuthUser,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let lang = Lang::of(&headers);
    let doc = match app.document_for(&user, &id).await {
        Ok(d) => d,
        Err(e) => return app.office_error(lang, &user, e),
    };
    let (name, media_type) = match file.as_str() {
        ORIGINAL => (doc.file_name.clone(), "application/pdf"),
        SIGNED => (
            format!("{}-da-ky.pdf", doc.file_name.trim_end_matches(".pdf")),
            "application/pdf",
        ),
        REPORT => ("bao-cao-kiem-tra.json".into(), "application/json"),
        _ => {
            return app.error(
                lang,
                Some(&user),
                StatusCode::NOT_FOUND,
                lang.words().not_found,
            );
        }
    };
    let bytes = match app.0.store.read_file(&id, &file).await {
        Ok(b) => b,
        Err(e) => return app.office_error(lang, &user, e.into()),
    };
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        name.chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect::<String>(),
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    );
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[derive(Deserialize)]
struct LangQuery {
    set: Option<String>,
    back: Option<String>,
}

async fn switch_language(Query(q): Query<LangQuery>) -> Response {
    let lang = if q.set.as_deref() == Some("en") {
        "en"
    } else {
        "vi"
    };
    // Back to a local path only (no open redirect).
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
