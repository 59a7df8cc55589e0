//! The official's signing pages (issue 13): `/sign/requests` lists what waits for them,
//! `/sign/requests/{id}` shows a request — application, documents with their SHA-256 and a
//! preview, the certificate that will sign — and takes the decision: approve with a second
//! factor proven now (a TOTP or OTP code, or a passkey), or reject. Approval starts the
//! signing in the background; the page follows its progress through `…/status`.
//!
//! Desktop → phone hand-off: the page shows its own address as a QR code. The link confers
//! nothing: the phone opens the page only signed in as the same official (or signs in first,
//! coming back to it), and approving there needs a second factor proven on the phone. So a
//! photographed screen gives nobody anything; the desktop page sees the new status by polling.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::mfa::{self, FactorError, FactorInput, Subject, passkey};
use tessera_core::request::RequestMeta;
use tessera_core::signing::remote::approval::{self, Approval};
use tessera_core::signing::remote::review::{self, Review};
use tessera_core::signing::remote::{RemoteError, Status, execute, submit};
use tessera_store::users::User;

use super::authorize_signing::continue_path;
use super::errors::{
    error_page, factor_json_error, factor_message, factor_status, internal_json, internal_page,
    json_error, page,
};
use super::extract::{CsrfJson, Meta, Now, SignedIn, SignedInForm};
use super::flow::{begin_allowed, json_signed_in};
use super::forms::valid_handle;
use super::web::{csrf_cookie, sign_in_first, when, with_cookies};
use super::{AppState, CSP_WITH_FRAMES, web};
use crate::pages::signing::text;
use crate::pages::{ErrorKind, Lang};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sign/requests", get(list))
        .route("/sign/requests/{id}", get(show))
        .route("/sign/requests/{id}/status", get(status))
        .route("/sign/requests/{id}/approve", post(approve))
        .route("/sign/requests/{id}/reject", post(reject))
        .route("/sign/requests/{id}/passkey/begin", post(passkey_begin))
        .route("/sign/requests/{id}/passkey/finish", post(passkey_finish))
        .route("/sign/requests/{id}/documents/{n}/preview", get(preview))
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
    /// The pending `/authorize` this approval continues (CSC scope `credential`), on the
    /// browser that started it only: the hand-off link does not carry it.
    authorize: Option<String>,
}

impl LangQuery {
    fn authorize(&self) -> Option<&str> {
        self.authorize.as_deref().filter(|h| valid_handle(h))
    }
}

/// `?authorize=…` kept on the page's own links and forms.
fn continue_query(authorize: Option<&str>) -> String {
    authorize
        .map(|h| format!("?authorize={h}"))
        .unwrap_or_default()
}

fn base_path(id: &str) -> String {
    format!("/sign/requests/{id}")
}

/// The language of a page (an explicit `?lang=` also sets the cookie).
fn language(headers: &HeaderMap, q: &LangQuery) -> (Lang, Vec<String>) {
    let (lang, set) = web::language(headers, q.lang.as_deref());
    (
        lang,
        set.then(|| web::lang_cookie(lang)).into_iter().collect(),
    )
}

#[derive(Serialize)]
struct ListRow {
    id: String,
    title: String,
    client_name: String,
    documents: usize,
    expires_at: String,
}

async fn list(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
    me: Option<SignedIn>,
) -> Response {
    let (lang, mut cookies) = language(&headers, &q);
    let Some(me) = me else {
        return with_cookies(sign_in_first(&s, "/sign/requests"), &cookies);
    };
    let waiting = match review::waiting(&s.provider, &me.user.id, now).await {
        Ok(w) => w,
        Err(e) => return internal_page(&s, lang, "/sign/requests", "signing requests lookup", e),
    };
    let requests: Vec<ListRow> = waiting
        .into_iter()
        .map(|(v, client_name)| ListRow {
            documents: v.documents.len(),
            expires_at: when(v.request.expires_at),
            id: v.request.id,
            title: v.request.title,
            client_name,
        })
        .collect();
    let html = s.pages.signing(
        lang,
        "sign_list.html",
        "/sign/requests",
        &json!({ "requests": requests }),
    );
    cookies.push(s.set_cookie(web::RETURN_COOKIE, "", 0));
    with_cookies(page(StatusCode::OK, html), &cookies)
}

#[derive(Serialize)]
struct DocumentRow {
    idx: i64,
    name: String,
    kind_text: &'static str,
    sha256: String,
    status_text: &'static str,
    error: Option<String>,
    preview_url: Option<String>,
}

#[derive(Serialize)]
struct CredentialView {
    subject: String,
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    unusable: Option<String>,
}

#[derive(Serialize)]
struct RequestPage {
    base_path: String,
    title: String,
    client_name: String,
    status: String,
    status_text: &'static str,
    pending: bool,
    show_progress: bool,
    /// The no-script page refreshes itself while the documents are being signed.
    refresh: bool,
    done: usize,
    total: usize,
    created_at: String,
    expires_at: String,
    decided_at: Option<String>,
    documents: Vec<DocumentRow>,
    credential: CredentialView,
    csrf_token: String,
    /// The factors the official has: only those are offered.
    has_passkey: bool,
    has_totp: bool,
    has_otp_token: bool,
    qr_svg: String,
    error: Option<&'static str>,
    code_error: bool,
    continue_query: String,
}

/// What went wrong with a decision, shown above the page.
#[derive(Clone, Copy)]
enum Problem {
    Factor(&'static str),
    Other(&'static str),
}

/// Renders request `id` for `user`: the page, or a friendly error page ("not found" for
/// anything not theirs).
#[allow(clippy::too_many_arguments)] // the request's parts, read once by the handler
async fn render(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    user: &User,
    id: &str,
    status: StatusCode,
    problem: Option<Problem>,
    authorize: Option<&str>,
    now: i64,
) -> Response {
    let path = base_path(id);
    let r = match review::review(&s.provider, &user.id, id, now).await {
        Ok(r) => r,
        Err(e) => return page_error(s, lang, &path, e),
    };
    let enrolled = match mfa::enrolled(&s.provider, &user.id).await {
        Ok(e) => e,
        Err(e) => return internal_page(s, lang, &path, "enrolled factors lookup failed", e),
    };
    let handoff = format!("{}{path}?lang={}", s.provider.config.issuer, lang.tag());
    let qr_svg = match tessera_core::qr::svg(&handoff, 200) {
        Ok(svg) => svg,
        Err(e) => return internal_page(s, lang, &path, "hand-off QR code failed", e),
    };
    let (csrf, set) = csrf_cookie(s, headers);
    let mut view = request_page(s, lang, r, &csrf, &enrolled, qr_svg, problem);
    view.continue_query = continue_query(authorize);
    let html = s.pages.signing(lang, "sign_request.html", &path, &view);
    let mut resp = with_cookies(page(status, html), &set.into_iter().collect::<Vec<_>>());
    // The previews are frames of this origin; every other page forbids frames.
    resp.headers_mut().insert(
        header::HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP_WITH_FRAMES),
    );
    resp
}

fn request_page(
    s: &AppState,
    lang: Lang,
    r: Review,
    csrf: &str,
    enrolled: &mfa::Enrolled,
    qr_svg: String,
    problem: Option<Problem>,
) -> RequestPage {
    let g = text(lang);
    let v = &r.view;
    let id = &v.request.id;
    let status = v.status();
    let pending = status == Status::Pending;
    let path = base_path(id);
    let documents = v
        .documents
        .iter()
        .map(|d| DocumentRow {
            idx: d.idx,
            name: d.name.clone(),
            kind_text: g.kind(&d.kind),
            sha256: d.sha256.clone(),
            status_text: g.document_status(&d.status),
            error: d.error.clone(),
            preview_url: (pending && d.kind == "pdf")
                .then(|| format!("{path}/documents/{}/preview", d.idx)),
        })
        .collect();
    let c = &r.credential;
    let (error, code_error) = match problem {
        Some(Problem::Factor(m)) => (Some(m), true),
        Some(Problem::Other(m)) => (Some(m), false),
        None => (None, false),
    };
    RequestPage {
        base_path: path,
        title: v.request.title.clone(),
        client_name: r.client_name.clone(),
        status: v.request.status.clone(),
        status_text: g.status(&v.request.status),
        pending,
        // An authorization (CSC) is signed by the application afterwards: nothing to follow.
        show_progress: v.request.purpose == "sign"
            && matches!(status, Status::Approved | Status::Signed | Status::Failed),
        refresh: v.request.purpose == "sign" && status == Status::Approved,
        done: v.done(),
        total: v.documents.len(),
        created_at: when(v.request.created_at),
        expires_at: when(v.request.expires_at),
        decided_at: v.request.decided_at.map(when),
        documents,
        credential: CredentialView {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before.map(when).unwrap_or_default(),
            not_after: c.not_after.map(when).unwrap_or_default(),
            unusable: c.unusable.clone(),
        },
        csrf_token: s.provider.keyed.csrf_token(csrf),
        has_passkey: enrolled.passkeys > 0,
        has_totp: enrolled.totp,
        has_otp_token: enrolled.otp_tokens > 0,
        qr_svg,
        error,
        code_error,
        continue_query: String::new(),
    }
}

/// The friendly page for a refused look-up or decision.
fn page_error(s: &AppState, lang: Lang, path: &str, e: RemoteError) -> Response {
    match e {
        // Someone else's request, or none: the same page, so nothing is revealed.
        RemoteError::NotFound(_) => error_page(s, lang, path, ErrorKind::NotFound, None),
        RemoteError::Internal(e) => internal_page(s, lang, path, "signing request failed", e),
        other => error_page(
            s,
            lang,
            path,
            ErrorKind::BadRequest,
            Some(&other.to_string()),
        ),
    }
}

/// What a refused decision says on the page, or `None` when it is not the page's to say.
fn decision_problem(lang: Lang, e: &RemoteError) -> Option<(StatusCode, &'static str)> {
    let g = text(lang);
    match e {
        RemoteError::WrongState(m) if m.contains("expired") => {
            Some((StatusCode::CONFLICT, g.error_expired))
        }
        RemoteError::WrongState(_) => Some((StatusCode::CONFLICT, g.error_decided)),
        RemoteError::Unusable(_) => Some((StatusCode::CONFLICT, g.error_unusable)),
        _ => None,
    }
}

fn valid_id(id: &str) -> bool {
    valid_handle(id)
}

async fn show(
    State(s): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    me: Option<SignedIn>,
) -> Response {
    let (lang, mut cookies) = language(&headers, &q);
    if !valid_id(&id) {
        return error_page(&s, lang, "/sign/requests", ErrorKind::NotFound, None);
    }
    let Some(me) = me else {
        return with_cookies(sign_in_first(&s, &base_path(&id)), &cookies);
    };
    // Decided on this browser or on the phone: the authorization that waited for it goes on.
    if let Some(handle) = q.authorize() {
        match submit::view(&s.provider, submit::Viewer::Signer(&me.user.id), &id).await {
            Ok(v) if v.status() != Status::Pending => {
                return with_cookies(
                    Redirect::to(&continue_path(handle)).into_response(),
                    &cookies,
                );
            }
            _ => {}
        }
    }
    let resp = render(
        &s,
        &headers,
        lang,
        &me.user,
        &id,
        StatusCode::OK,
        None,
        q.authorize(),
        now,
    )
    .await;
    // Back where the sign-in was meant to lead: the way back is spent.
    if web::cookie(&headers, &s.cookie_name(web::RETURN_COOKIE)).is_some() {
        cookies.push(s.set_cookie(web::RETURN_COOKIE, "", 0));
    }
    with_cookies(resp, &cookies)
}

/// `GET …/status`: what the page's script polls.
async fn status(
    State(s): State<AppState>,
    headers: HeaderMap,
    Now(now): Now,
    Path(id): Path<String>,
) -> Response {
    let session = s.read_cookie(&headers, web::SESSION_COOKIE);
    let me =
        match tessera_core::session::current_session(&s.provider, session.as_deref(), now).await {
            Ok(Some((_, user))) => user,
            Ok(None) => return json_error(StatusCode::UNAUTHORIZED, "sign in first"),
            Err(e) => return internal_json("session lookup failed", e),
        };
    match submit::view(&s.provider, submit::Viewer::Signer(&me.id), &id).await {
        Ok(v) => {
            let body = json!({
                "status": v.request.status,
                "done": v.done(),
                "total": v.documents.len(),
                "documents": v.documents.iter().map(|d| json!({
                    "index": d.idx, "status": d.status, "error": d.error,
                })).collect::<Vec<_>>(),
            });
            let mut r = axum::Json(body).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(RemoteError::NotFound(_)) => json_error(StatusCode::NOT_FOUND, "not found"),
        Err(e) => internal_json("signing request status failed", e),
    }
}

/// Signs the approved request in the background on this replica; the page follows the
/// progress from the database (any replica can answer it).
fn start_signing(s: &AppState, id: &str, sad: String, meta: RequestMeta, now: i64) {
    let (p, replica, id) = (s.provider.clone(), s.instance.clone(), id.to_owned());
    tokio::spawn(async move {
        match execute::sign_request(&p, &id, &sad, &replica, &meta, now).await {
            Ok((signed, failed)) => {
                tracing::info!(request = %id, signed, failed, "signing request done")
            }
            Err(e) => tracing::error!(request = %id, error = %e, "signing request failed"),
        }
    });
}

async fn approve(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    f: SignedInForm,
) -> Response {
    let (lang, now) = (f.lang, f.now);
    let path = base_path(&id);
    let code = f.form.get("code").unwrap_or("").trim();
    if !valid_id(&id) || code.is_empty() || code.len() > 64 {
        return error_page(&s, lang, &path, ErrorKind::BadRequest, None);
    }
    let me = &f.me;
    let decided = approval::approve(
        &s.provider,
        &me.user,
        &me.session,
        &id,
        FactorInput::Totp(code),
        &meta,
        now,
    )
    .await;
    match decided {
        Ok(Approval::Approved { sad }) => {
            if let Some(sad) = sad {
                start_signing(&s, &id, sad, meta, now);
            }
            Redirect::to(&format!("{path}{}", continue_query(q.authorize()))).into_response()
        }
        Ok(Approval::Refused(e)) => {
            let problem = Problem::Factor(factor_message(lang, &e));
            let status = factor_status(&e);
            render(
                &s,
                &f.headers,
                lang,
                &me.user,
                &id,
                status,
                Some(problem),
                q.authorize(),
                now,
            )
            .await
        }
        Err(e) => refused(&s, &f.headers, lang, &me.user, &id, e, q.authorize(), now).await,
    }
}

/// The page again with what stopped the decision, or the error page.
#[allow(clippy::too_many_arguments)] // the page's parts, as `render` takes them
async fn refused(
    s: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    user: &User,
    id: &str,
    e: RemoteError,
    authorize: Option<&str>,
    now: i64,
) -> Response {
    match decision_problem(lang, &e) {
        Some((status, m)) => {
            render(
                s,
                headers,
                lang,
                user,
                id,
                status,
                Some(Problem::Other(m)),
                authorize,
                now,
            )
            .await
        }
        None => page_error(s, lang, &base_path(id), e),
    }
}

async fn reject(
    State(s): State<AppState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    f: SignedInForm,
) -> Response {
    let (lang, now) = (f.lang, f.now);
    if !valid_id(&id) {
        return error_page(&s, lang, "/sign/requests", ErrorKind::NotFound, None);
    }
    match approval::reject(&s.provider, &f.me.user, &id, &meta, now).await {
        Ok(()) => Redirect::to(&format!(
            "{}{}",
            base_path(&id),
            continue_query(q.authorize())
        ))
        .into_response(),
        Err(e) => refused(&s, &f.headers, lang, &f.me.user, &id, e, q.authorize(), now).await,
    }
}

async fn passkey_begin(
    State(s): State<AppState>,
    Now(now): Now,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    CsrfJson { headers, .. }: CsrfJson,
) -> Response {
    if let Err(r) = begin_allowed(&s, &headers, peer, now).await {
        return r;
    }
    let c = match json_signed_in(&s, &headers, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    // Only for a request of this official that is still to be decided.
    if let Err(e) = review::review(&s.provider, &c.user.id, &id, now)
        .await
        .and_then(|r| r.decidable())
    {
        let (lang, _) = web::language(&headers, None);
        return decision_json(lang, e);
    }
    match passkey::begin_authentication(&s.provider, &c.user, now).await {
        Ok((ceremony, options)) => {
            axum::Json(json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(FactorError::NotEnrolled) => {
            let (lang, _) = web::language(&headers, None);
            json_error(StatusCode::BAD_REQUEST, text(lang).error_passkey_none)
        }
        Err(e) => factor_json_error(&e),
    }
}

async fn passkey_finish(
    State(s): State<AppState>,
    Now(now): Now,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    CsrfJson { form, headers }: CsrfJson,
) -> Response {
    let c = match json_signed_in(&s, &headers, now).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Subject::Session(session) = &c.subject else {
        return json_error(StatusCode::UNAUTHORIZED, "sign in first");
    };
    let (Some(ceremony), Some(credential)) = (form.value("ceremony"), form.value("credential"))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "ceremony and credential are required",
        );
    };
    let input = FactorInput::Passkey {
        ceremony,
        credential,
    };
    let (lang, _) = web::language(&headers, None);
    match approval::approve(&s.provider, &c.user, session, &id, input, &meta, now).await {
        Ok(Approval::Approved { sad }) => {
            if let Some(sad) = sad {
                start_signing(&s, &id, sad, meta, now);
            }
            let to = format!("{}{}", base_path(&id), continue_query(q.authorize()));
            axum::Json(json!({ "redirect": to })).into_response()
        }
        Ok(Approval::Refused(e)) => json_error(factor_status(&e), factor_message(lang, &e)),
        Err(e) => decision_json(lang, e),
    }
}

/// The JSON answer to a refused decision, in the page's words.
fn decision_json(lang: Lang, e: RemoteError) -> Response {
    if let Some((status, m)) = decision_problem(lang, &e) {
        return json_error(status, m);
    }
    match e {
        RemoteError::NotFound(_) => json_error(StatusCode::NOT_FOUND, "not found"),
        RemoteError::Internal(e) => internal_json("signing decision failed", e),
        other => json_error(StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// `GET …/documents/{n}/preview`: the PDF as it was sent, for the browser's own viewer in the
/// page's frame. Only for the official, only PDFs, only while the contents are kept.
async fn preview(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
    me: Option<SignedIn>,
) -> Response {
    let (lang, _) = web::language(&headers, None);
    let path = base_path(&id);
    let (Some(me), Ok(idx)) = (me, n.parse::<i64>()) else {
        return error_page(&s, lang, &path, ErrorKind::NotFound, None);
    };
    match review::original_pdf(&s.provider, &me.user.id, &id, idx).await {
        Ok(bytes) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            // Framed by the approval page only. No other policy: a restrictive one (object-src
            // 'none', sandbox) stops the browser's PDF viewer itself.
            h.insert(
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("SAMEORIGIN"),
            );
            h.insert(
                header::HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static("frame-ancestors 'self'"),
            );
            r
        }
        Err(e) => page_error(&s, lang, &path, e),
    }
}
