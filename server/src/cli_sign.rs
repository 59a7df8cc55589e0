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
use tessera_core::signing::pdf::{Appendix, PadesLevel, PdfRequest, extend_file, sign_pdf_file};
use tessera_core::signing::pdf::{DocMdp, Placement};

use crate::clock::now;

#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// A detached CMS signature (CAdES baseline B-B or B-T, ETSI EN 319 122-1) over any file,
    /// written as DER (.p7s).
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
        /// CAdES level: B-B, or B-T with a signature timestamp from the TSA
        #[arg(long, value_parser = ["B-B", "B-T"], default_value = "B-B")]
        level: String,
        #[arg(long)]
        json: bool,
    },
    /// Sign a PDF (PAdES baseline, ETSI EN 319 142-1) as an incremental update: invisible, or
    /// visible with the unit's seal in a rectangle or above an anchor text.
    Pdf {
        /// Organisation credential id (`tessera cert issue --unit ID --organization`)
        #[arg(long)]
        credential: String,
        /// The PDF to sign
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the signed PDF (written whole or not at all)
        #[arg(long = "out")]
        output: PathBuf,
        /// Page of a visible signature (1-based) for --rect; for --anchor the page to search
        #[arg(long)]
        page: Option<u32>,
        /// Rectangle of a visible signature, x1,y1,x2,y2 in points from the bottom-left
        #[arg(long, requires = "page", conflicts_with = "anchor")]
        rect: Option<String>,
        /// A visible signature in the space above this text (e.g. the signer's full name)
        #[arg(long)]
        anchor: Option<String>,
        /// First page of an appendix in the same file: stamped with the document's number and
        /// the signing time
        #[arg(long, requires = "doc_number")]
        appendix_page: Option<u32>,
        /// Number and symbol of the document, e.g. "123/QĐ-UBND"
        #[arg(long, requires = "appendix_page")]
        doc_number: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        location: Option<String>,
        /// PAdES level
        #[arg(long, value_parser = ["B-B", "B-T", "B-LT", "B-LTA"], default_value = "B-B")]
        level: String,
        /// Certify the document (DocMDP): 1 no changes, 2 forms and signatures, 3 also
        /// annotations
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
        certify: Option<u8>,
        /// Digest algorithm
        #[arg(long, value_parser = ["sha256", "sha384", "sha512"], default_value = "sha256")]
        hash: String,
        /// Sign on behalf of this client, which the credential's unit must have allowed
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Extend a signed PDF to PAdES B-LTA: a DSS with the validation data of every signature
    /// in it, then a document timestamp.
    Extend {
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long = "out")]
        output: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn parse_rect(s: &str) -> anyhow::Result<[f32; 4]> {
    let parts: Vec<f32> = s
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("--rect must be four numbers x1,y1,x2,y2, not {s:?}"))?;
    match parts.as_slice() {
        [a, b, c, d] if c > a && d > b => Ok([*a, *b, *c, *d]),
        _ => anyhow::bail!("--rect must be four numbers x1,y1,x2,y2 with x2 > x1 and y2 > y1"),
    }
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
            level,
            json,
        } => {
            let req = CmsRequest {
                credential_id: credential,
                input,
                output,
                hash: parse_hash(&hash)?,
                pss,
                timestamp: level == "B-T",
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
                        "level": level,
                        "hash": signed.hash.name(),
                        "scheme": signed.scheme,
                        "content_bytes": signed.content_bytes,
                        "content_digest": signed.content_digest,
                        "signature_bytes": signed.signature_bytes,
                    })
                );
            } else {
                eprintln!(
                    "signed {} bytes ({} {}) with credential {}: {} (CAdES-{level}, {} bytes)",
                    signed.content_bytes,
                    signed.hash.name(),
                    signed.content_digest,
                    signed.credential_id,
                    signed.output.display(),
                    signed.signature_bytes
                );
            }
        }
        SignCommand::Pdf {
            credential,
            input,
            output,
            page,
            rect,
            anchor,
            appendix_page,
            doc_number,
            reason,
            location,
            level,
            certify,
            hash,
            client,
            json,
        } => {
            let placement = match (rect, anchor) {
                (Some(r), _) => Some(Placement::Rect {
                    page: page.unwrap_or(1),
                    rect: parse_rect(&r)?,
                }),
                (None, Some(text)) => Some(Placement::Anchor { text, page }),
                (None, None) => None,
            };
            let appendix = match (appendix_page, doc_number) {
                (Some(page), Some(doc_number)) => Some(Appendix { page, doc_number }),
                _ => None,
            };
            let certify = certify.map(|c| match c {
                1 => DocMdp::NoChanges,
                2 => DocMdp::FormFillAndSign,
                _ => DocMdp::FormFillSignAndAnnotate,
            });
            let req = PdfRequest {
                credential_id: credential,
                input,
                output,
                placement,
                appendix,
                reason,
                location,
                level: PadesLevel::parse(&level)?,
                certify,
                hash: parse_hash(&hash)?,
                client_id: client,
            };
            let signed = sign_pdf_file(p, &actor, &req, now).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "credential": signed.credential_id,
                        "unit_id": signed.unit_id,
                        "out": signed.output.display().to_string(),
                        "level": signed.level.name(),
                        "signer": signed.signer,
                        "input_bytes": signed.input_bytes,
                        "output_bytes": signed.output_bytes,
                    })
                );
            } else {
                eprintln!(
                    "signed {} as {} with credential {} (PAdES {}): {} ({} bytes)",
                    req.input.display(),
                    signed.signer,
                    signed.credential_id,
                    signed.level.name(),
                    signed.output.display(),
                    signed.output_bytes
                );
            }
        }
        SignCommand::Extend {
            input,
            output,
            json,
        } => {
            let ext = extend_file(p, &actor, &input, &output, now).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "out": ext.output.display().to_string(),
                        "signatures": ext.signatures,
                        "output_bytes": ext.output_bytes,
                        "level": "B-LTA",
                    })
                );
            } else {
                eprintln!(
                    "extended {} ({} signatures) to PAdES B-LTA: {} ({} bytes)",
                    input.display(),
                    ext.signatures,
                    ext.output.display(),
                    ext.output_bytes
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
