//! HTTP layer: thin handlers that read the request, call one core function and map the result.

mod account;
pub mod admin_api;
mod admin_openapi;
mod assets;
mod authorize_signing;
mod consent;
mod console;
pub mod csc;
mod device_grant;
pub mod errors;
pub mod extract;
mod flow;
mod forms;
mod health;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod oidc;
mod password;
pub mod pki;
pub mod request_id;
pub mod signing_api;
mod signing_pages;
mod tsa;
mod upstream;
mod upstream_client;
pub mod verify;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tessera_core::Provider;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::pages::Pages;

/// Largest request body accepted (forms and token requests are small) outside the route
/// groups with their own limit (document verification, image uploads).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest body of a signature or seal image upload (`PUT …/seal`, `PUT …/signature-image`):
/// the 1 MB image limit, so that a larger image gets the core's clear refusal up to there.
pub const MAX_IMAGE_BODY_BYTES: usize = tessera_core::signing::images::MAX_IMAGE_BYTES + 1;

/// The pages' Content-Security-Policy: their own scripts only, no frames.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`] for the approval page, which frames its documents' previews (same origin only).
pub const CSP_WITH_FRAMES: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
pub struct AppState {
    pub provider: Provider,
    pub pages: Arc<Pages>,
    /// Cookies get `Secure` and the `__Host-` prefix when the issuer is https.
    pub secure_cookies: bool,
    pub trust_forwarded_for: bool,
    /// Wakes this replica's back-channel worker when a logout queued notifications (the others
    /// find them when they next poll the outbox).
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Bounds the signature verifications (`POST /api/verify`) run at once, see
    /// [`verify_permits`]; when none is free the API answers 503 with Retry-After.
    pub verify_permits: Arc<tokio::sync::Semaphore>,
    /// This replica's name, as the owner of the work it claims (approved signing requests,
    /// back-channel deliveries).
    pub instance: Arc<str>,
    /// Set on SIGTERM: readiness answers 503 at once while requests are still served, so the
    /// load balancer moves traffic away before the listener closes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

/// Verifications allowed at once: one per core, as each parses and hashes up to 32 MB off
/// the async workers.
pub fn verify_permits() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    Arc::new(tokio::sync::Semaphore::new(cores))
}

impl AppState {
    pub fn new(provider: Provider, trust_forwarded_for: bool) -> AppState {
        let secure_cookies = provider.config.issuer.starts_with("https://");
        AppState {
            provider,
            pages: Arc::new(Pages::new()),
            secure_cookies,
            trust_forwarded_for,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            verify_permits: verify_permits(),
            draining: Arc::default(),
            instance: format!(
                "serve/{}",
                tessera_core::secrets::random_id().unwrap_or_default()
            )
            .into(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    // One mechanism for body limits: each route group carries tower-http's limit (413 on a
    // long Content-Length), above the handlers' own limits so that they answer in words.
    let verify = verify::routes().layer(RequestBodyLimitLayer::new(
        verify::MAX_VERIFY_BYTES + 1024 * 1024,
    ));
    let uploads =
        admin_api::image_upload_routes().layer(RequestBodyLimitLayer::new(MAX_IMAGE_BODY_BYTES));
    let console_uploads =
        console::upload_routes().layer(RequestBodyLimitLayer::new(console::MAX_UPLOAD_BODY_BYTES));
    // Documents to sign: the handler answers an oversized body with a JSON 413 itself.
    let signing = signing_api::routes(&state.provider.config.signing);
    let csc = csc::routes(&state.provider.config.signing);
    let rest = Router::new()
        .merge(oidc::routes())
        .merge(consent::routes())
        .merge(authorize_signing::routes())
        .merge(login::routes())
        .merge(upstream::routes())
        .merge(logout::routes())
        .merge(mfa::routes())
        .merge(account::routes())
        .merge(signing_pages::routes())
        .merge(device_grant::routes())
        .merge(password::routes())
        .merge(admin_api::routes())
        .merge(console::routes())
        .merge(pki::routes())
        .merge(tsa::routes())
        .merge(assets::routes())
        .merge(health::routes())
        .fallback(errors::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    Router::new()
        .merge(verify)
        .merge(uploads)
        .merge(console_uploads)
        .merge(signing)
        .merge(csc)
        .merge(rest)
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(CSP),
        ))
        // Outermost, so that every line logged while answering carries the request id.
        .layer(axum::middleware::from_fn(request_id::track))
}
