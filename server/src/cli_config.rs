//! `tessera config check`: the effective settings, secrets masked, and what is dangerous about
//! them. With `TESSERA_ENV=production` the dangers are refusals (exit 1, one reason a line);
//! otherwise they are printed as warnings.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::settings::{FileSettings, ServeSettings, Settings};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings (secrets masked) and refuse dangerous ones when
    /// TESSERA_ENV=production
    Check {
        /// Settings as JSON, with the findings
        #[arg(long)]
        json: bool,
    },
}

/// One finding about the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Refused in production (else a warning everywhere).
    pub refused: bool,
    pub text: String,
}

fn refuse(text: impl Into<String>) -> Finding {
    Finding {
        refused: true,
        text: text.into(),
    }
}

fn warn(text: impl Into<String>) -> Finding {
    Finding {
        refused: false,
        text: text.into(),
    }
}

/// Whether `TESSERA_ENV` names production (`production` or `prod`).
pub fn production() -> bool {
    std::env::var("TESSERA_ENV").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "production" | "prod"
        )
    })
}

/// The effective settings as shown, secrets masked.
fn effective(settings: &Settings, serve: &ServeSettings) -> Value {
    json!({
        "listen": serve.listen.to_string(),
        "issuer": serve.issuer.clone().unwrap_or_else(|| format!("http://{} (derived)", serve.listen)),
        "metrics_addr": serve.metrics_addr.map(|a| a.to_string()),
        "data_dir": settings.data_dir.display().to_string(),
        "database_url": tessera_store::redact(&settings.database_url),
        "master_key": if settings.master_key.is_some() { "*** (TESSERA_MASTER_KEY)".to_owned() } else { format!("{} (file)", settings.data_dir.join("master.key").display()) },
        "code_ttl_secs": settings.code_ttl_secs,
        "access_token_ttl_secs": settings.access_token_ttl_secs,
        "session_ttl_secs": settings.session_ttl_secs,
        "trust_forwarded_for": settings.trust_forwarded_for,
        "key_rotation_days": settings.key_rotation_days,
        "outbound_allow_hosts": settings.outbound.hosts,
        "outbound_allow_cidrs": settings.outbound.cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "outbound_allow_http": settings.outbound.allow_http,
        "pkcs11_module": settings.pkcs11.as_ref().map(|h| h.module.display().to_string()),
        "pkcs11_token_label": settings.pkcs11.as_ref().map(|h| h.token_label.clone()),
        "pkcs11_pin": settings.pkcs11.as_ref().map(|_| "***"),
        "pki_organization": settings.pki.organization,
        "pki_tsa_url": settings.pki.tsa_url,
        "syslog_url": serve.syslog.as_ref().map(|s| s.url.clone()),
        "shutdown_drain_secs": serve.shutdown_drain.as_secs(),
        "ldap_url": settings.ldap.as_ref().map(|l| l.url.clone()),
        "ldap_bind_dn": settings.ldap.as_ref().map(|l| l.bind_dn.clone()),
        "ldap_bind_password": settings.ldap.as_ref().map(|_| "***"),
        "ldap_sync_interval_secs": settings.ldap.as_ref().and_then(|l| l.sync_interval_secs),
        "ldap_password_login": settings.ldap.as_ref().is_some_and(|l| l.password_login),
        "signing_max_document_bytes": settings.signing.max_document_bytes,
        "signing_retention_days": settings.signing.retention_secs / 86_400,
    })
}

/// What is dangerous in these settings; `backchannel_clients` are the clients with a
/// back-channel logout URI.
pub fn findings(
    settings: &Settings,
    serve: &ServeSettings,
    backchannel_clients: &[String],
) -> Vec<Finding> {
    let mut out = Vec::new();
    match &serve.issuer {
        Some(i) if i.starts_with("https://") => {}
        Some(i) => out.push(refuse(format!(
            "the issuer {i} is not https: cookies lose Secure, tokens travel in clear (set TESSERA_ISSUER=https://…)"
        ))),
        None => out.push(refuse(
            "no issuer is set, so it is derived as http://<listen address>: set TESSERA_ISSUER to the public https URL",
        )),
    }
    match &settings.pkcs11 {
        None => out.push(refuse(
            "token-signing and CA keys would be held by the software token: configure the HSM (TESSERA_PKCS11_MODULE)",
        )),
        Some(h) if h.module.to_string_lossy().contains("softhsm") => out.push(refuse(format!(
            "the PKCS#11 module {} is SoftHSM2, a software token for trials: use the HSM's module",
            h.module.display()
        ))),
        Some(_) => {}
    }
    if settings.outbound.hosts.is_empty() && !backchannel_clients.is_empty() {
        out.push(refuse(format!(
            "the outbound allow-list is empty while clients have back-channel logout URIs ({}): their logouts would never be delivered (set TESSERA_OUTBOUND_ALLOW_HOSTS)",
            backchannel_clients.join(", ")
        )));
    }
    if settings.outbound.hosts.iter().any(|h| h == "*") && settings.outbound.cidrs.is_empty() {
        out.push(refuse(
            "the outbound allow-list allows any host (*) without address ranges: Tessera could be made to call internal services (set TESSERA_OUTBOUND_ALLOW_CIDRS)",
        ));
    }
    if settings.outbound.allow_http {
        out.push(refuse(
            "TESSERA_OUTBOUND_ALLOW_HTTP is on: logout tokens and signing results would travel in clear",
        ));
    }
    if settings.uses_sqlite() {
        out.push(warn(
            "the database is SQLite: one server only; production runs PostgreSQL (TESSERA_DATABASE_URL)",
        ));
    } else if settings.master_key.is_none() {
        out.push(refuse(
            "with PostgreSQL every replica needs the same master key: give it through TESSERA_MASTER_KEY (from the secret store), not a file in one replica's data directory",
        ));
    }
    if settings.database_url.contains("sslmode=disable") {
        out.push(refuse(
            "the database connection has sslmode=disable: use TLS to PostgreSQL",
        ));
    }
    if std::env::var_os("TESSERA_PKCS11_PIN").is_some() {
        out.push(warn(
            "the HSM PIN is given in the environment (TESSERA_PKCS11_PIN): prefer TESSERA_PKCS11_PIN_FILE",
        ));
    }
    match serve.syslog.as_ref().map(|s| s.url.as_str()) {
        None => out.push(warn(
            "no SOC feed: audit events are not forwarded (set TESSERA_SYSLOG_URL)",
        )),
        Some(u) if u.starts_with("tcp://") => out.push(warn(
            "the SOC feed is plain TCP: prefer tls:// with TESSERA_SYSLOG_CA",
        )),
        Some(_) => {}
    }
    if serve.metrics_addr.is_some_and(|a| a.ip().is_unspecified()) {
        out.push(warn(
            "the metrics endpoint listens on every interface: bind it to the management network",
        ));
    }
    if std::env::var("RUST_LOG").is_ok_and(|v| v.contains("debug") || v.contains("trace")) {
        out.push(warn(
            "RUST_LOG asks for debug logs: verbose and slower; use info in production",
        ));
    }
    out
}

pub async fn run(
    settings: &Settings,
    file: &FileSettings,
    command: ConfigCommand,
) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Check { json } = command;
    let serve = ServeSettings::resolve(
        std::env::var("TESSERA_LISTEN").ok(),
        std::env::var("TESSERA_ISSUER").ok(),
        std::env::var("TESSERA_METRICS_ADDR").ok(),
        file,
    )?;
    // The clients come from the database (read only: nothing is created or migrated); a
    // database that cannot be read is a finding too.
    let sqlite_file = settings
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .map(std::path::PathBuf::from);
    let fresh = settings.uses_sqlite() && sqlite_file.is_some_and(|f| !f.exists());
    let (clients, db_problem) = if fresh {
        (Vec::new(), None)
    } else {
        match tessera_store::Store::connect(&settings.database_url).await {
            Ok(store) => match tessera_core::admin::backchannel_clients(&store).await {
                Ok(ids) => (ids, None),
                Err(e) => (Vec::new(), Some(format!("cannot read the clients: {e}"))),
            },
            Err(e) => (
                Vec::new(),
                Some(format!(
                    "cannot open the database {}: {e}",
                    tessera_store::redact(&settings.database_url)
                )),
            ),
        }
    };
    let mut found = findings(settings, &serve, &clients);
    if let Some(problem) = db_problem {
        found.insert(0, refuse(problem));
    }
    let prod = production();
    let refused: Vec<&Finding> = found.iter().filter(|f| prod && f.refused).collect();
    if json {
        let list = |refused: bool| -> Vec<&str> {
            found
                .iter()
                .filter(|f| (prod && f.refused) == refused)
                .map(|f| f.text.as_str())
                .collect()
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "production": prod,
                "settings": effective(settings, &serve),
                "refused": list(true),
                "warnings": list(false),
            }))?
        );
    } else {
        println!("effective settings (secrets masked):");
        if let Value::Object(map) = effective(settings, &serve) {
            for (k, v) in map {
                let shown = match v {
                    Value::String(s) => s,
                    Value::Null => "(not set)".into(),
                    other => other.to_string(),
                };
                println!("  {k} = {shown}");
            }
        }
        for f in found.iter().filter(|f| !(prod && f.refused)) {
            println!("warning: {}", f.text);
        }
    }
    if refused.is_empty() {
        if !json {
            println!(
                "{}",
                if prod {
                    "production settings: no refusal"
                } else {
                    "not production (set TESSERA_ENV=production to refuse the dangers above)"
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    for f in &refused {
        eprintln!("refused: {}", f.text);
    }
    eprintln!(
        "error: {} setting(s) refused with TESSERA_ENV=production",
        refused.len()
    );
    Ok(ExitCode::FAILURE)
}
