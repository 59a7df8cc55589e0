//! `tessera user import`: the command-line side of [`tessera_core::user_import`] — a line per
//! row on standard output, progress on standard error, exit status 1 when a row was refused.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use tessera_core::Provider;
use tessera_core::user_import::{self, ImportOptions, RowResult};

pub async fn run(
    p: &Provider,
    actor: &str,
    file: &Path,
    unit: Option<String>,
    dry_run: bool,
    create_units: bool,
    now: i64,
) -> anyhow::Result<()> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let opts = ImportOptions {
        default_unit: unit,
        dry_run,
        create_units,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed_write = None;
    let mut report = |r: &user_import::RowReport| {
        let (what, why) = match &r.result {
            RowResult::Created if dry_run => ("would create", ""),
            RowResult::Updated if dry_run => ("would update", ""),
            RowResult::Created => ("created", ""),
            RowResult::Updated => ("updated", ""),
            RowResult::Unchanged => ("unchanged", ""),
            RowResult::Refused(why) => ("refused", why.as_str()),
        };
        let written = if why.is_empty() {
            writeln!(out, "line {}\t{what}\t{}", r.line, r.username)
        } else {
            writeln!(out, "line {}\t{what}\t{}\t{why}", r.line, r.username)
        };
        if let Err(e) = written {
            failed_write.get_or_insert(e);
        }
    };
    let mut shown = 0;
    let mut progress = |done: usize| {
        if done > shown && done.is_multiple_of(10_000) {
            eprintln!(
                "… {done} rows {}",
                if dry_run { "checked" } else { "written" }
            );
            shown = done;
        }
    };
    let summary =
        user_import::import(p, actor, input, &opts, now, &mut report, &mut progress).await?;
    if let Some(e) = failed_write {
        return Err(e).context("writing the report");
    }
    out.flush()?;
    drop(out);
    let units = if summary.units_created.is_empty() {
        String::new()
    } else {
        format!(", units created: {}", summary.units_created.join("; "))
    };
    eprintln!(
        "{}{} created, {} updated, {} unchanged, {} refused{units}",
        if dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.refused
    );
    if summary.refused > 0 {
        bail!(
            "{} row(s) refused (listed above); the other rows were {}",
            summary.refused,
            if dry_run { "checked" } else { "imported" }
        );
    }
    Ok(())
}
