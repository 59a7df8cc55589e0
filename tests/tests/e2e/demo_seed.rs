//! `tessera demo seed` outside the browser: refused in production before anything is created,
//! and the reference application's settings file written once (mode 0600), with a new secret
//! when it is lost. The browser scenarios (`browser_office`) use the seeded data.

use anyhow::{Context, ensure};
use serde_json::Value;
use tessera_e2e::{Backend, TempDir, TestServer, run_tessera};

scenarios!(demo_seed_refuses_production_and_restores_lost_settings);

async fn demo_seed_refuses_production_and_restores_lost_settings(
    backend: Backend,
) -> anyhow::Result<()> {
    let server = TestServer::start(backend).await?;
    let dir = TempDir::new("demo-seed")?;
    let config = dir.path().join("vanban.json");
    let config_arg = config.display().to_string();
    let data_dir = server.data_dir().display().to_string();
    let args = [
        "demo",
        "seed",
        "--issuer",
        server.issuer(),
        "--app-config",
        &config_arg,
        "--data-dir",
        &data_dir,
    ];
    let database = server.database_url();
    let mut env = vec![("TESSERA_ENV", "production")];
    if backend == Backend::Postgres {
        env.push(("TESSERA_DATABASE_URL", &database));
    }
    let refused = run_tessera(&args, &env, None).await?;
    ensure!(
        !refused.success() && refused.stderr.contains("TESSERA_ENV=production"),
        "{refused:?}"
    );
    let users = server
        .cli_ok(&["user", "list", "--json"], None)
        .await?
        .json()?;
    ensure!(users.as_array().is_some_and(Vec::is_empty), "{users}");
    ensure!(
        !config.exists(),
        "a settings file was written in production"
    );

    let seed = || server.cli_ok(&args[..6], None);
    seed().await?;
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&config)?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config)?.permissions().mode() & 0o777;
        ensure!(mode == 0o600, "the settings file is mode {mode:o}");
    }
    ensure!(
        first["client_id"] == "vanban" && first["issuer"] == server.issuer(),
        "{first}"
    );
    let secret = first["client_secret"]
        .as_str()
        .context("no secret")?
        .to_owned();

    // Kept as it is when present; a lost file gets the client a new secret.
    seed().await?;
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&config)?)?;
    ensure!(kept["client_secret"] == secret.as_str(), "{kept}");
    std::fs::remove_file(&config)?;
    let again = seed().await?;
    ensure!(again.stdout.contains("new secret"), "{}", again.stdout);
    let renewed: Value = serde_json::from_str(&std::fs::read_to_string(&config)?)?;
    ensure!(
        renewed["client_secret"]
            .as_str()
            .is_some_and(|s| s != secret),
        "{renewed}"
    );
    let clients = server
        .cli_ok(&["client", "list", "--json"], None)
        .await?
        .json()?;
    ensure!(
        clients.as_array().map(Vec::len) == Some(1),
        "one client after three seeds: {clients}"
    );
    Ok(())
}
