//! `tessera hsm`: what the PKCS#11 module offers, and the keys Tessera keeps in it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tessera_hsm::pkcs11::{KeyInfo, inspect_module};

use crate::app;
use crate::clock::now;
use crate::custody::open_hsm;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// Show the PKCS#11 module: library, slots, tokens and the mechanisms Tessera uses (no login)
    Info {
        /// Module to inspect [default: TESSERA_PKCS11_MODULE]
        #[arg(long)]
        module: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List the keys Tessera manages on the token: algorithm, label, id, use and status
    Keys {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, command: HsmCommand) -> anyhow::Result<ExitCode> {
    match command {
        HsmCommand::Info { module, json } => info(settings, module, json),
        HsmCommand::Keys { json } => keys(settings, json).await,
    }
}

fn info(settings: &Settings, module: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let module = module
        .or_else(|| settings.pkcs11.as_ref().map(|p| p.module.clone()))
        .context("no HSM is configured: set TESSERA_PKCS11_MODULE or pass --module")?;
    let report = inspect_module(&module)?;
    if json {
        let slots: Vec<_> = report
            .slots
            .iter()
            .map(|s| {
                json!({
                    "slot": s.id,
                    "description": s.description,
                    "token": s.token.as_ref().map(|t| json!({
                        "label": t.label, "manufacturer": t.manufacturer, "model": t.model,
                        "serial": t.serial, "initialized": t.initialized,
                        "user_pin_initialized": t.user_pin_initialized,
                        "user_pin_locked": t.user_pin_locked,
                        "mechanisms": t.mechanisms.iter().map(|m| json!({
                            "name": m.name, "supported": m.supported, "purpose": m.purpose,
                            "key_sizes": m.key_sizes,
                        })).collect::<Vec<_>>(),
                    })),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "module": report.module, "library": report.library_description,
                "manufacturer": report.manufacturer, "library_version": report.library_version,
                "cryptoki_version": report.cryptoki_version, "slots": slots,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("module:   {}", report.module);
    println!(
        "library:  {} ({}), version {}, PKCS#11 {}",
        report.library_description,
        report.manufacturer,
        report.library_version,
        report.cryptoki_version
    );
    let configured = settings.pkcs11.as_ref().map(|p| p.token_label.as_str());
    for slot in &report.slots {
        println!("slot {}: {}", slot.id, slot.description);
        let Some(t) = &slot.token else {
            println!("  no token");
            continue;
        };
        let mark = if Some(t.label.as_str()) == configured {
            "  ← configured (TESSERA_PKCS11_TOKEN_LABEL)"
        } else {
            ""
        };
        println!("  token {:?}{mark}", t.label);
        println!("    {} {}, serial {}", t.manufacturer, t.model, t.serial);
        let pin = if t.user_pin_locked {
            "LOCKED"
        } else if t.user_pin_final_try {
            "one attempt left"
        } else if t.user_pin_count_low {
            "wrong PINs entered recently"
        } else if t.user_pin_initialized {
            "set"
        } else {
            "not set"
        };
        println!(
            "    initialised: {}, user PIN: {pin}",
            if t.initialized { "yes" } else { "no" }
        );
        println!("    mechanisms Tessera uses:");
        for m in &t.mechanisms {
            let sizes = m
                .key_sizes
                .map(|(lo, hi)| format!(" [{lo}–{hi}]"))
                .unwrap_or_default();
            let state = if m.supported { "yes" } else { "no " };
            println!("      {state} {:<28}{sizes:<16} {}", m.name, m.purpose);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tessera:oidc:ES256:1a2b3c4d` → `oidc`.
fn key_use(label: &str) -> Option<&str> {
    label
        .strip_prefix(tessera_hsm::pkcs11::custody_label_prefix())
        .and_then(|rest| rest.split(':').next())
}

fn describe_use(key_use: Option<&str>) -> &str {
    match key_use {
        Some("oidc") => "OIDC token signing",
        Some("ca") => "certificate authority",
        Some("cert") => "signing credential",
        Some("ocsp") => "OCSP responder",
        Some("tsa") => "time-stamping unit",
        Some(other) => other,
        None => "-",
    }
}

async fn keys(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let hsm = settings.pkcs11.as_ref().context(
        "no HSM is configured: set TESSERA_PKCS11_MODULE, TESSERA_PKCS11_TOKEN_LABEL and a PIN",
    )?;
    let token = open_hsm(hsm)?;
    let on_token = tokio::task::spawn_blocking(move || token.list_keys()).await??;
    // What the database says about them (kid, status).
    let p = app::open(settings, "http://localhost", &app::cli_writer()).await?;
    let records = p.signer.published_keys(now()).await;
    p.close().await;
    let records: Vec<_> = records?
        .into_iter()
        .filter(|r| r.backend == "pkcs11")
        .collect();

    let managed: Vec<&KeyInfo> = on_token
        .iter()
        .filter(|k| key_use(&k.label).is_some() || records.iter().any(|r| r.key_ref == k.id))
        .collect();
    let missing: Vec<_> = records
        .iter()
        .filter(|r| !on_token.iter().any(|k| k.id == r.key_ref))
        .collect();
    let rows: Vec<serde_json::Value> = managed
        .iter()
        .map(|k| {
            let record = records.iter().find(|r| r.key_ref == k.id);
            json!({
                "id": k.id_hex(),
                "label": k.label,
                "algorithm": k.spec.map(|s| s.name()),
                "jws_alg": record.map(|r| r.alg.clone()),
                "use": describe_use(key_use(&k.label)),
                "kid": record.map(|r| r.kid.clone()),
                "status": record.map(|r| r.status.clone()).unwrap_or_else(|| "not published".into()),
                "locked_down": k.attributes.is_locked_down(),
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::Value::Array(rows));
    } else {
        println!("ALGORITHM\tJWS\tSTATUS\tUSE\tID\tLABEL\tKID");
        for r in &rows {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_owned();
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                s("algorithm"),
                s("jws_alg"),
                s("status"),
                s("use"),
                s("id"),
                s("label"),
                s("kid")
            );
        }
        let others = on_token.len() - managed.len();
        if others > 0 {
            println!("({others} other key(s) on the token are not Tessera's)");
        }
    }
    for r in &missing {
        eprintln!(
            "warning: {} key {} (status {}) is in the database but not on the token",
            r.alg, r.kid, r.status
        );
    }
    Ok(if missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
