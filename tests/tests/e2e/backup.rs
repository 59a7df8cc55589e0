//! `tessera backup` and `tessera restore` (issue 16 §4): a running SQLite server is backed up
//! into one file sealed under the master key; restored into a fresh data directory (holding only
//! the master key), its audit log verifies and the user signs in with their password. A data
//! directory that holds more refuses the restore without `--force`; PostgreSQL is told to use
//! pg_dump.

use anyhow::{Context, ensure};
use reqwest::StatusCode;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::oauth::{self, AuthRequest, ClientAuth};
use tessera_e2e::{Backend, Browser, ServerOptions, TempDir, TestServer, flow};

scenarios!(backup_a_running_server_and_restore_it);

async fn backup_a_running_server_and_restore_it(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start(backend).await?;
    let a = &fx.server;
    let dir = TempDir::new("tessera-e2e-backup")?;
    let file = dir.path().join("tessera.backup");
    let file_arg = file.display().to_string();
    let out = a.cli(&["backup", "--out", &file_arg], None).await?;
    if backend == Backend::Postgres {
        ensure!(!out.success() && out.stderr.contains("pg_dump"), "{out}");
        return Ok(());
    }
    ensure!(out.success(), "{out}");
    let sealed = std::fs::read(&file)?;
    ensure!(sealed.starts_with(b"TESSERA-BACKUP-1\n"));
    for plain in [&b"SQLite format 3"[..], USERNAME.as_bytes()] {
        ensure!(
            !sealed.windows(plain.len()).any(|w| w == plain),
            "plaintext in the backup"
        );
    }
    // A backup never overwrites.
    let again = a.cli(&["backup", "--out", &file_arg], None).await?;
    ensure!(
        !again.success() && again.stderr.contains("exists"),
        "{again}"
    );
    // The running server's own data directory is not empty: refused without --force.
    let refused = a.cli(&["restore", "--in", &file_arg], None).await?;
    ensure!(
        !refused.success() && refused.stderr.contains("--force"),
        "{refused}"
    );

    // Another machine: a data directory with nothing but the deployment's master key.
    let mut b = TestServer::start(Backend::Sqlite).await?;
    let listen = b.issuer().trim_start_matches("http://").to_owned();
    b.stop();
    let fresh = b.data_dir();
    std::fs::remove_dir_all(&fresh)?;
    std::fs::create_dir_all(&fresh)?;
    let no_key = b.cli(&["restore", "--in", &file_arg], None).await?;
    ensure!(
        !no_key.success() && no_key.stderr.contains("master key"),
        "{no_key}"
    );
    std::fs::copy(a.data_dir().join("master.key"), fresh.join("master.key"))?;
    b.cli_ok(&["restore", "--in", &file_arg], None).await?;
    let verified = b.cli(&["audit", "verify"], None).await?;
    ensure!(verified.success(), "{verified}");

    // Served from the restored directory, the user signs in with their password.
    let options = ServerOptions {
        listen: Some(listen),
        ..ServerOptions::default()
    };
    let restored = b.start_replica(options).await?;
    let request = AuthRequest::new(&fx.client);
    let browser = Browser::new()?;
    let cb = flow::browser_login(
        &browser,
        &restored,
        &request.url(&restored),
        USERNAME,
        PASSWORD,
    )
    .await?;
    let secret = fx.client.client_secret.as_deref().context("no secret")?;
    let tokens = oauth::exchange(
        &restored,
        ClientAuth::Basic("vanban", secret),
        &request,
        &cb.code()?,
    )
    .await?;
    ensure!(tokens.status == StatusCode::OK, "{tokens}");
    Ok(())
}
