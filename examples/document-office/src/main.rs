//! Quản lý văn bản (document office): the reference departmental application of Tessera.
//!
//! Officials sign in once with Tessera (the SDK's axum kit), see their unit's documents,
//! upload PDFs, ask an official of the unit for a signature, follow its progress, and download
//! the signed PDF with Tessera's verification report. Logging out here, or anywhere else in
//! the province, ends the session in both places (RP-initiated and back-channel logout).
//!
//! `tessera demo seed` writes the settings this reads; see README.md beside this file.

mod clock;
mod office;
mod pages;
mod store;
mod web;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use serde::Deserialize;
use tessera_sdk::axum::AuthKit;
use tessera_sdk::signing::Caller;
use tessera_sdk::{RelyingParty, RpConfig, ServiceClient, SigningClient};

/// Quản lý văn bản: a departmental application signing in with Tessera and asking officials
/// for signatures.
#[derive(Debug, Parser)]
#[command(name = "document-office", version)]
struct Args {
    /// Settings file, as `tessera demo seed` writes it: issuer, client_id, client_secret,
    /// app_url and optionally name
    #[arg(
        long,
        env = "DOCUMENT_OFFICE_CONFIG",
        default_value = "tessera-data/document-office.json"
    )]
    config: PathBuf,
    /// Where documents are kept [default: document-office-<client_id> beside the settings file]
    #[arg(long, env = "DOCUMENT_OFFICE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Settings {
    issuer: String,
    client_id: String,
    client_secret: String,
    /// Public base URL of this application; it listens on its host and port.
    app_url: String,
    /// Name in the page header [default: Quản lý văn bản].
    name: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("document-office: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.config).map_err(|e| {
        format!(
            "cannot read the settings {}: {e}\n(run `tessera demo seed` first, from the same directory)",
            args.config.display()
        )
    })?;
    let settings: Settings = serde_json::from_str(&text)
        .map_err(|e| format!("settings {}: {e}", args.config.display()))?;
    let app_url = url::Url::parse(&settings.app_url)
        .map_err(|e| format!("app_url `{}`: {e}", settings.app_url))?;
    let origin = settings.app_url.trim_end_matches('/');
    let listen = format!(
        "{}:{}",
        app_url.host_str().unwrap_or("127.0.0.1"),
        app_url.port_or_known_default().unwrap_or(4000)
    );
    let data_dir = args.data_dir.unwrap_or_else(|| {
        args.config
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(format!("document-office-{}", settings.client_id))
    });
    let store = store::Store::open(&data_dir).map_err(|e| e.to_string())?;

    let tessera = |e: tessera_sdk::SdkError| {
        format!(
            "Tessera at {}: {e}\n(is `tessera serve` running?)",
            settings.issuer
        )
    };
    let rp = RelyingParty::discover(RpConfig {
        issuer: settings.issuer.clone(),
        client_id: settings.client_id.clone(),
        client_secret: Some(settings.client_secret.clone()),
        redirect_uri: format!("{origin}/callback"),
    })
    .await
    .map_err(tessera)?;
    let kit = AuthKit::new(Arc::new(rp))
        .map_err(tessera)?
        .scopes(&["profile", "email", "org"])
        .post_logout_redirect_uri(&format!("{origin}/"));
    // Requests name another official, so they go with the application's own token
    // (client credentials, scope sign:request), as the unit's administrators allowed.
    let service = ServiceClient::discover(
        &settings.issuer,
        &settings.client_id,
        &settings.client_secret,
    )
    .await
    .map_err(tessera)?;
    let signing = SigningClient::discover(
        &settings.issuer,
        &settings.client_id,
        Caller::Application(Arc::new(service)),
    )
    .await
    .map_err(tessera)?;

    let name = settings.name.unwrap_or_else(|| "Quản lý văn bản".into());
    let app = web::App::new(name, store, signing, kit)?.router();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!(
        "document-office: open {origin} (documents in {})",
        data_dir.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
