//! `tessera ldap sync`: one synchronisation with the LDAP/AD directory now, with a line per
//! person created, updated, refused or disabled on standard output and progress on standard
//! error. It takes the same database lease as the schedule of `tessera serve`, so it never
//! runs alongside another sync.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use tessera_core::Provider;
use tessera_core::directory_sync::{EntryReport, EntryResult};

use crate::ldap_sync::{self, Progress, SyncError};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Synchronise people and units with the directory now: creates and updates people (OUs
    /// become units under TESSERA_LDAP_ROOT_UNIT), disables those who left (ending their
    /// sessions, with back-channel logout). Settings: TESSERA_LDAP_* (see the README)
    Sync {
        /// Also list the people who did not change
        #[arg(long)]
        verbose: bool,
    },
}

pub async fn run(p: &Provider, settings: &Settings, cmd: LdapCommand) -> anyhow::Result<ExitCode> {
    let LdapCommand::Sync { verbose } = cmd;
    let Some(ldap) = &settings.ldap else {
        bail!(
            "no directory is configured: set TESSERA_LDAP_URL, TESSERA_LDAP_CA_FILE, \
             TESSERA_LDAP_BIND_DN, TESSERA_LDAP_BIND_PASSWORD_FILE, TESSERA_LDAP_BASE_DN and \
             TESSERA_LDAP_ROOT_UNIT (or their ldap_* keys in the --config file)"
        );
    };
    let actor = crate::cli_pki::actor().id;
    let owner = format!(
        "{}/{}",
        crate::app::cli_writer(),
        tessera_core::secrets::random_id()?
    );
    // Not the lock: the report is written from the sync's (Send) future.
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut failed_write = None;
    let mut entry = |r: &EntryReport| {
        let (what, why) = match &r.result {
            EntryResult::Created => ("created", ""),
            EntryResult::Updated => ("updated", ""),
            EntryResult::Unchanged if verbose => ("unchanged", ""),
            EntryResult::Unchanged => return,
            EntryResult::Refused(why) => ("refused", why.as_str()),
            EntryResult::Disabled => ("disabled (left the directory)", ""),
        };
        let line = if why.is_empty() {
            writeln!(out, "{what}\t{}\t{}", r.username, r.dn)
        } else {
            writeln!(out, "{what}\t{}\t{}\t{why}", r.username, r.dn)
        };
        if let Err(e) = line {
            failed_write.get_or_insert(e);
        }
    };
    let mut read = |n: usize| eprintln!("… {n} entries read from {}", ldap.url);
    let mut written = |n: usize| {
        if n > 0 {
            eprintln!("… {n} people written");
        }
    };
    let progress = Progress {
        read: &mut read,
        written: &mut written,
        entry: &mut entry,
    };
    let result = ldap_sync::run(p, ldap, &actor, &owner, None, progress).await;
    if let Some(e) = failed_write {
        return Err(e).context("writing the report");
    }
    out.flush()?;
    drop(out);
    let summary = match result {
        Ok(Some(summary)) => summary,
        Ok(None) => bail!("the sync did not run"),
        Err(SyncError::Busy { owner, secs }) => {
            bail!("another sync of the directory is running ({owner}); try again in up to {secs} s")
        }
        Err(SyncError::Failed(e)) => return Err(e.context("the directory sync failed")),
    };
    let units = if summary.units_created.is_empty() {
        String::new()
    } else {
        format!(", units created: {}", summary.units_created.join("; "))
    };
    eprintln!(
        "{} entries: {} created, {} updated, {} unchanged, {} refused, {} disabled{units}",
        summary.entries,
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.refused,
        summary.disabled
    );
    if summary.refused > 0 {
        eprintln!(
            "error: {} entr{} refused (listed above); the others were synchronised",
            summary.refused,
            if summary.refused == 1 { "y" } else { "ies" }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
