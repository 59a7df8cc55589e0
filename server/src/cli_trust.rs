//! `tessera trust …`: the trust anchors imported certificates must chain to.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::pki::{Actor, trust};

use crate::clock::now;

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust the CA certificate(s) of a PEM, DER or PKCS#7 file (e.g. the Vietnamese national
    /// root CAs) for `cert import`
    Add {
        #[arg(long)]
        file: PathBuf,
        /// A name for listings [default: the certificate's CN]
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the trust anchors
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting an anchor (certificates already imported under it stay)
    Remove { id: String },
}

fn anchor_json(a: &tessera_store::pki_ocsp::TrustAnchor) -> serde_json::Value {
    json!({ "id": a.id, "name": a.name, "subject": a.subject, "sha256": a.fingerprint, "not_after": a.not_after, "created_at": a.created_at })
}

pub async fn run(p: &Provider, command: TrustCommand, actor: Actor) -> anyhow::Result<ExitCode> {
    let now = now();
    match command {
        TrustCommand::Add { file, name, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let added = trust::add_anchors(p, &actor, name.as_deref(), &bytes, now).await?;
            if json {
                println!(
                    "{}",
                    json!(added.iter().map(anchor_json).collect::<Vec<_>>())
                );
            } else {
                for a in &added {
                    println!("trusted {}\t{}\tSHA-256 {}", a.id, a.subject, a.fingerprint);
                }
            }
        }
        TrustCommand::List { json } => {
            let list = trust::list_anchors(p).await?;
            if json {
                println!(
                    "{}",
                    json!(list.iter().map(anchor_json).collect::<Vec<_>>())
                );
            } else {
                for a in &list {
                    println!(
                        "{}\t{}\t{}\tSHA-256 {}",
                        a.id, a.name, a.subject, a.fingerprint
                    );
                }
            }
        }
        TrustCommand::Remove { id } => {
            let a = trust::remove_anchor(p, &actor, &id, now).await?;
            println!("no longer trusted: {} ({})", a.name, a.subject);
        }
    }
    Ok(ExitCode::SUCCESS)
}
