//! `tessera backup` and `tessera restore`: the SQLite deployment's database, as one file
//! sealed under the master key (see `tessera_core::backup`). PostgreSQL is backed up with
//! `pg_dump` (deploy/README.md says what to keep beside it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use tessera_core::backup;
use tessera_core::secrets::{Keyed, random_id};

use crate::app;
use crate::settings::Settings;

/// The SQLite database file of `settings`, or a clear refusal for PostgreSQL.
fn sqlite_path(settings: &Settings, what: &str) -> anyhow::Result<PathBuf> {
    if !settings.uses_sqlite() {
        bail!(
            "tessera {what} is for the SQLite database; with PostgreSQL use pg_dump and pg_restore \
             (see deploy/README.md for what to keep beside the dump)"
        );
    }
    let path = settings
        .database_url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    Ok(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Writes `bytes` to `path` through a temporary file beside it, readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tessera"),
        random_id()?
    ));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// `tessera backup --out FILE`: an online snapshot, sealed, written atomically.
pub async fn backup(settings: &Settings, out: &Path) -> anyhow::Result<ExitCode> {
    sqlite_path(settings, "backup")?;
    if out.exists() {
        bail!(
            "{} exists; give another file (a backup never overwrites)",
            out.display()
        );
    }
    let p = app::open(settings, "http://localhost", &app::cli_writer()).await?;
    let snapshot = out.with_file_name(format!(".tessera-snapshot-{}.db", random_id()?));
    let result = async {
        backup::snapshot(&p, &snapshot).await?;
        let db = std::fs::read(&snapshot)
            .with_context(|| format!("cannot read the snapshot {}", snapshot.display()))?;
        let sealed = backup::seal(&p.keyed, &db)?;
        write_private(out, &sealed)?;
        anyhow::Ok(db.len())
    }
    .await;
    let _ = std::fs::remove_file(&snapshot);
    p.close().await;
    let size = result?;
    println!(
        "wrote {} ({size} bytes of database, sealed under the master key: keep the master key \
         apart from the backup)",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tessera restore --in FILE [--force]`: the database of a backup into the data directory.
pub async fn restore(settings: &Settings, input: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let db_path = sqlite_path(settings, "restore")?;
    let dir = &settings.data_dir;
    // The master key file belongs in the data directory; anything else means data to lose.
    let occupied: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "master.key")
            .collect(),
        Err(_) => Vec::new(),
    };
    if !occupied.is_empty() && !force {
        bail!(
            "the data directory {} is not empty ({}); restore into a fresh one, or give --force to \
             replace its database",
            dir.display(),
            occupied.join(", ")
        );
    }
    if settings.master_key.is_none() && !dir.join("master.key").is_file() {
        bail!(
            "no master key: put the backed-up deployment's master key in {} or TESSERA_MASTER_KEY \
             (a backup opens only with the key it was made under)",
            dir.join("master.key").display()
        );
    }
    let file = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let keyed = Keyed::new(&app::master_key(settings)?);
    let db = backup::open(&keyed, &file)?;
    if let Some(parent) = db_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    for stale in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", db_path.display()));
    }
    write_private(&db_path, &db)?;
    // Opening checks the master key's fingerprint and brings the schema up to date.
    let p = app::open(settings, "http://localhost", &app::cli_writer()).await?;
    p.close().await;
    println!(
        "restored {} into {}; check it with `tessera audit verify`",
        input.display(),
        db_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
