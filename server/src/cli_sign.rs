//! `tessera sign …`: document signatures with an organisation credential, for operators and
//! tests (a unit's clerk system signs through the API). Personal credentials are refused: they
//! sign only through remote approval by their holder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use tessera_core::Provider;
use tessera_core::signing::cms::{CmsRequest, sign_cms_file};
use tessera_core::signing::parse_hash;

use crate::clock::now;

#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// A detached CMS signature (CAdES baseline B-B, ETSI EN 319 122-1) over any file, written
    /// as DER (.p7s). Only level B-B for now; B-T (with a timestamp) comes with the TSA.
    Cms {
        /// Organisation credential id (`tessera cert issue --unit ID --organization`)
        #[arg(long)]
        credential: String,
        /// The file to sign
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the signature (written whole or not at all)
        #[arg(long = "out")]
        output: PathBuf,
        /// Digest algorithm
        #[arg(long, value_parser = ["sha256", "sha384", "sha512"], default_value = "sha256")]
        hash: String,
        /// RSA-PSS instead of PKCS#1 v1.5 (RSA keys only)
        #[arg(long)]
        pss: bool,
        /// CAdES level: only B-B for now
        #[arg(long, value_parser = ["B-B"], default_value = "B-B")]
        level: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(p: &Provider, command: SignCommand) -> anyhow::Result<ExitCode> {
    let now = now();
    let actor = crate::cli_pki::actor();
    match command {
        SignCommand::Cms {
            credential,
            input,
            output,
            hash,
            pss,
            level: _,
            json,
        } => {
            let req = CmsRequest {
                credential_id: credential,
                input,
                output,
                hash: parse_hash(&hash)?,
                pss,
                client_id: None,
            };
            let signed = sign_cms_file(p, &actor, &req, now).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "credential": signed.credential_id,
                        "unit_id": signed.unit_id,
                        "out": signed.output.display().to_string(),
                        "level": "B-B",
                        "hash": signed.hash.name(),
                        "scheme": signed.scheme,
                        "content_bytes": signed.content_bytes,
                        "content_digest": signed.content_digest,
                        "signature_bytes": signed.signature_bytes,
                    })
                );
            } else {
                eprintln!(
                    "signed {} bytes ({} {}) with credential {}: {} (CAdES-B-B, {} bytes)",
                    signed.content_bytes,
                    signed.hash.name(),
                    signed.content_digest,
                    signed.credential_id,
                    signed.output.display(),
                    signed.signature_bytes
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
