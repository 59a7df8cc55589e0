//! `tessera audit …`: checking the audit log, and exporting it for an independent copy.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use tessera_core::{Provider, audit_trail};
use tessera_store::audit_verify::{self, CSV_HEADER, VerifyReport};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log against the master key: every entry's MAC and link, every chain's
    /// recorded head (entries cut from the end) and the register of chains (deleted chains);
    /// exits with status 1 and names the chain and entry if anything was altered or removed
    Verify {
        /// Check an exported copy (from `tessera audit export`, JSON lines or CSV) instead
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// Print the entries of every chain from a time on, with their chain data, so that a SOC
    /// can keep its own copy and check it later with `tessera audit verify --export FILE`
    Export {
        /// RFC 3339 time (2026-12-01T08:00:00+07:00) or a date (2026-12-01, from 00:00 UTC)
        #[arg(long)]
        since: String,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
    },
    /// Once, after upgrading from a version without keyed chains: check the log first
    /// (`audit verify` names the unkeyed chains), then register and seal those chains so that
    /// they are protected from now on. Never run it for chains you did not expect: an unkeyed
    /// chain in a keyed installation was written by someone without the key
    SealLegacy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// One JSON object a line
    Jsonl,
    /// RFC 4180, with a header line
    Csv,
}

/// Unix seconds of an RFC 3339 time or of midnight UTC on a date.
pub fn parse_since(text: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let parts: Vec<&str> = text.split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
        && let Ok(month) = time::Month::try_from(m)
        && let Ok(date) = time::Date::from_calendar_date(y, month, d)
    {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    bail!(
        "--since must be an RFC 3339 time (2026-12-01T08:00:00+07:00) or a date (2026-12-01), not {text:?}"
    )
}

fn print_report(report: &VerifyReport, what: &str) -> ExitCode {
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if report.problems.is_empty() {
        println!(
            "{what} intact: {} entries in {} chains",
            report.entries, report.chains
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{what} BROKEN: {} problem(s) in {} entries",
            report.problems.len(),
            report.entries
        );
        for problem in &report.problems {
            eprintln!("  - {problem}");
        }
        ExitCode::FAILURE
    }
}

pub async fn run(p: &Provider, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { export: None } => {
            let report =
                audit_trail::verify(p, &crate::cli_pki::actor().id, crate::clock::now()).await?;
            Ok(print_report(&report, "audit log"))
        }
        AuditCommand::Verify { export: Some(path) } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let entries = audit_verify::parse_export(&text)
                .map_err(|e| anyhow::anyhow!("{} is not an audit export: {e}", path.display()))?;
            let report = audit_verify::verify_export(&p.keyed.audit_key(), &entries);
            Ok(print_report(&report, "exported copy"))
        }
        AuditCommand::SealLegacy => {
            let sealed = audit_trail::seal_legacy(p, crate::clock::now()).await?;
            println!("{sealed} unkeyed chain(s) sealed");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { since, format } => {
            let since = parse_since(&since)?;
            let entries = audit_trail::export(p, since).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if let Format::Csv = format {
                write!(out, "{CSV_HEADER}\r\n")?;
            }
            for e in &entries {
                match format {
                    Format::Jsonl => writeln!(out, "{}", serde_json::to_string(e)?)?,
                    Format::Csv => write!(out, "{}\r\n", e.to_csv())?,
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_rfc3339_or_a_date() {
        assert_eq!(parse_since("2026-12-01").unwrap(), 1_796_083_200);
        assert_eq!(
            parse_since("2026-12-01T08:00:00+07:00").unwrap(),
            1_796_083_200 + 3600
        );
        assert!(parse_since("01/12/2026").is_err());
        assert!(parse_since("2026-13-01").is_err());
    }
}
