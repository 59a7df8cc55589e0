//! `tessera verify FILE [--content FILE] [--trust PEM]... [--json]`: validates the signatures
//! of a PDF, or a detached CMS over its content, and says so in English or JSON.
//!
//! Exit codes: 0 every signature TOTAL-PASSED; 1 at least one TOTAL-FAILED; 2 at least one
//! INDETERMINATE (none failed); 3 the file has no signature; 4 bad input (unreadable file, not
//! a PDF or CMS, bad `--trust` file); 5 any other error (configuration, database).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use tessera_core::verify::{
    Indication, Input, RevocationStatus, SignatureKind, SignatureReport, Trust, Verification,
    verify,
};

use crate::settings::{FileSettings, Settings};

/// Largest file read (PDF, CMS or content).
const MAX_INPUT: u64 = 256 * 1024 * 1024;

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INDETERMINATE: u8 = 2;
pub const EXIT_NO_SIGNATURE: u8 = 3;
pub const EXIT_BAD_INPUT: u8 = 4;
pub const EXIT_ERROR: u8 = 5;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signed PDF, or a detached CMS signature (DER or PEM) when --content is given
    pub file: PathBuf,
    /// The content a detached CMS signature signs
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Also trust the CA certificate(s) of this PEM, DER or PKCS#7 file (repeatable), besides
    /// `tessera trust` anchors and Tessera's own root CAs
    #[arg(long)]
    pub trust: Vec<PathBuf>,
    /// Use this CRL (DER or PEM, repeatable) for revocation, besides the PDF's DSS and
    /// Tessera's own CRLs
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Validate as of this time (Unix seconds) instead of now
    #[arg(long)]
    pub at: Option<i64>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > MAX_INPUT {
        return Err(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_INPUT / 1024 / 1024
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs the command; every outcome is an exit code (errors are printed to stderr).
pub async fn run(settings: &Settings, file: &FileSettings, args: VerifyArgs) -> ExitCode {
    let fail = |code: u8, msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(code)
    };
    let bytes = match read(&args.file) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_BAD_INPUT, e),
    };
    let content = match &args.content {
        Some(p) => match read(p) {
            Ok(b) => Some(b),
            Err(e) => return fail(EXIT_BAD_INPUT, e),
        },
        None => None,
    };
    let mut trust = Trust::default();
    for path in &args.trust {
        let certs = read(path).and_then(|b| {
            tessera_core::pki::import::parse_bundle(&b)
                .map_err(|e| format!("{}: {e}", path.display()))
        });
        match certs {
            Ok(c) => trust.extra_anchors.extend(c),
            Err(e) => return fail(EXIT_BAD_INPUT, e),
        }
    }
    for path in &args.crl {
        match read(path).and_then(|b| crl_der(&b).ok_or(format!("{}: not a CRL", path.display()))) {
            Ok(c) => trust.crls.push(c),
            Err(e) => return fail(EXIT_BAD_INPUT, e),
        }
    }
    let issuer = file
        .issuer
        .clone()
        .unwrap_or_else(|| "http://localhost".into());
    let p = match crate::app::open(settings, &issuer, &crate::app::cli_writer()).await {
        Ok(p) => p,
        Err(e) => return fail(EXIT_ERROR, format!("{e:#}")),
    };
    let now = args.at.unwrap_or_else(crate::clock::now);
    let input = match &content {
        Some(c) => Input::Detached {
            cms: &bytes,
            content: c,
        },
        None => Input::Pdf(&bytes),
    };
    let result = verify(&p, input, &trust, now).await;
    p.close().await;
    let v = match result {
        Ok(v) => v,
        Err(tessera_core::verify::VerifyError::BadInput(m)) => {
            return fail(EXIT_BAD_INPUT, format!("{}: {m}", args.file.display()));
        }
        Err(e) => return fail(EXIT_ERROR, e.to_string()),
    };
    if args.json {
        match serde_json::to_string_pretty(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(EXIT_ERROR, e.to_string()),
        }
    } else {
        print!("{}", human(&args.file, &v));
    }
    ExitCode::from(exit_code(&v))
}

/// A CRL file: DER, or PEM `X509 CRL`.
fn crl_der(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (label, der_bytes) = der::pem::decode_vec(bytes.trim_ascii_start()).ok()?;
        return (label == "X509 CRL").then_some(der_bytes);
    }
    (bytes.first() == Some(&0x30)).then(|| bytes.to_vec())
}

pub fn exit_code(v: &Verification) -> u8 {
    match v.overall {
        None => EXIT_NO_SIGNATURE,
        Some(Indication::TotalPassed) => EXIT_PASSED,
        Some(Indication::TotalFailed) => EXIT_FAILED,
        Some(Indication::Indeterminate) => EXIT_INDETERMINATE,
    }
}

/// `2026-12-03T13:59:01Z`.
pub fn utc(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ),
        Err(_) => t.to_string(),
    }
}

fn human(file: &Path, v: &Verification) -> String {
    let mut out = String::new();
    let n = v.signatures.len();
    out.push_str(&format!(
        "{}: {} signature{}\n",
        file.display(),
        n,
        if n == 1 { "" } else { "s" }
    ));
    for (i, s) in v.signatures.iter().enumerate() {
        out.push('\n');
        out.push_str(&signature(i + 1, s));
    }
    if let Some(o) = v.overall {
        out.push_str(&format!("\nOverall: {}\n", o.as_str()));
    }
    out
}

fn signature(i: usize, s: &SignatureReport) -> String {
    let mut out = String::new();
    let kind = match s.kind {
        SignatureKind::Pdf => "Signature",
        SignatureKind::DocumentTimestamp => "Document timestamp",
        SignatureKind::Detached => "Detached signature",
    };
    let field = s
        .field
        .as_deref()
        .map(|f| format!(" (field {f})"))
        .unwrap_or_default();
    out.push_str(&format!("#{i} {kind}{field}\n"));
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<16}{v}\n"));
    let verdict = match s.verdict.sub_indication {
        Some(sub) => format!("{} / {}", s.verdict.indication.as_str(), sub.as_str()),
        None => s.verdict.indication.as_str().to_string(),
    };
    line("Verdict:", verdict);
    if !s.verdict.detail.is_empty() {
        line("Reason:", s.verdict.detail.clone());
    }
    match &s.signer {
        Some(c) => line(
            "Signer:",
            format!(
                "{} (serial {}, valid {} to {})",
                c.subject,
                c.serial,
                utc(c.not_before),
                utc(c.not_after)
            ),
        ),
        None => line("Signer:", "not found".into()),
    }
    for (k, c) in s.chain.iter().enumerate() {
        line(if k == 0 { "Chain:" } else { "" }, c.subject.clone());
    }
    line(
        "Trusted:",
        if s.trusted {
            "yes, chains to a trust anchor".into()
        } else {
            "no".into()
        },
    );
    line(
        "Integrity:",
        if s.integrity {
            "intact (digest and signature verify)".into()
        } else {
            "NOT intact".into()
        },
    );
    let coverage = match s.coverage {
        tessera_core::verify::Coverage::WholeDocument => "the whole document",
        tessera_core::verify::Coverage::AllowedLaterChanges => {
            "the document, with later changes that signatures allow"
        }
        tessera_core::verify::Coverage::Modified => "MODIFIED after signing",
        tessera_core::verify::Coverage::Content => "the content given",
    };
    line("Covers:", coverage.into());
    for c in &s.later_changes {
        line("", format!("- {c}"));
    }
    if let Some(p) = s.docmdp {
        line("Certification:", format!("DocMDP P={p}"));
    }
    if let Some(t) = s.claimed_signing_time {
        line("Signing time:", format!("{} (claimed)", utc(t)));
    }
    if let Some(ts) = &s.timestamp {
        line(
            "Timestamp:",
            format!(
                "{} by {} — {}",
                utc(ts.time),
                ts.tsa.as_deref().unwrap_or("an unknown TSA"),
                if ts.valid {
                    "valid".to_string()
                } else {
                    format!("not valid: {}", ts.detail)
                }
            ),
        );
    }
    let revocation = match &s.revocation {
        RevocationStatus::Good { source } => {
            format!("not revoked (source: {})", source_name(*source))
        }
        RevocationStatus::Revoked {
            source,
            time,
            reason,
            ca,
        } => format!(
            "{} REVOKED on {}{} (source: {})",
            if *ca {
                "a CA certificate"
            } else {
                "the signer's certificate"
            },
            utc(*time),
            reason
                .as_deref()
                .map(|r| format!(", reason {r}"))
                .unwrap_or_default(),
            source_name(*source)
        ),
        RevocationStatus::Unknown { detail } => format!("unknown: {detail}"),
        RevocationStatus::NotApplicable => {
            "not checked: the certificates name no CRL or OCSP service".into()
        }
    };
    line("Revocation:", revocation);
    out
}

fn source_name(s: tessera_core::verify::RevocationSource) -> &'static str {
    match s {
        tessera_core::verify::RevocationSource::Dss => "the PDF's DSS",
        tessera_core::verify::RevocationSource::Cms => "the signature",
        tessera_core::verify::RevocationSource::Caller => {
            "Tessera's own CA or data supplied to the check"
        }
    }
}
