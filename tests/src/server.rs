//! Starting the real `tessera serve` as a child process.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use url::Url;

use crate::backend::{Backend, PgDatabase};
use crate::tempdir::TempDir;

/// How long a server may take to print its `listening on` line (first start generates keys).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Removes every inherited `TESSERA_*` variable (database URL, data dir, config file, TTLs…)
/// so that a developer's shell cannot change what a test runs against.
pub(crate) fn clear_tessera_env(cmd: &mut Command) {
    // Plain logs in the captured output, not terminal colour codes.
    cmd.env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
}

/// The `tessera` binary under test: `$TESSERA_BIN`, else `debug/tessera` in the Cargo target
/// directory (`$CARGO_TARGET_DIR`, the one this test binary was built in, or
/// `<workspace>/target`).
pub fn tessera_bin() -> anyhow::Result<PathBuf> {
    workspace_bin("tessera", "TESSERA_BIN")
}

/// A binary of the workspace (`cargo build --bin NAME`), or the one `env_var` names.
pub fn workspace_bin(name: &str, env_var: &str) -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os(env_var) {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("{env_var}={} does not exist", bin.display());
        }
        return Ok(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(workspace.join(dir).join("debug").join(name));
    }
    // This test binary lives in `<target>/debug/deps/`.
    if let Some(debug) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        candidates.push(debug.join(name));
    }
    candidates.push(workspace.join("target").join("debug").join(name));
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    bail!(
        "the {name} binary was not found (looked at {}); run `cargo build --bin {name}` \
         first (scripts/test does), or set {env_var}",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Extra settings for one server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra environment for the server (not for CLI runs), e.g. `TESSERA_CODE_TTL_SECS`.
    pub env: Vec<(String, String)>,
    /// Program to start instead of [`tessera_bin`], e.g. a wrapper that pins it to a CPU.
    pub program: Option<PathBuf>,
    /// Listen address instead of `127.0.0.1:0`.
    pub listen: Option<String>,
}

impl ServerOptions {
    pub fn program(mut self, program: PathBuf) -> Self {
        self.program = Some(program);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Serves as `http://localhost:PORT`: WebAuthn needs a domain name as relying-party id
    /// (an IP address is refused by browsers), and browsers treat localhost as secure.
    pub fn localhost_issuer(mut self) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        self.listen = Some(format!("127.0.0.1:{port}"));
        Ok(self.env("TESSERA_ISSUER", &format!("http://localhost:{port}")))
    }

    /// Lets the server call loopback receivers over plain http (back-channel logout), and
    /// retry failed notifications after 1 s instead of 5.
    pub fn allow_loopback_calls(self) -> Self {
        self.env("TESSERA_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
            .env("TESSERA_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
            .env("TESSERA_OUTBOUND_ALLOW_HTTP", "true")
            .env("TESSERA_BACKCHANNEL_RETRY_BASE_SECS", "1")
    }
}

/// A running `tessera serve` with its own data directory and database. Killed on drop; its
/// PostgreSQL database is dropped too, and the end of its output is printed (to the test's
/// captured output, shown when the test fails).
#[derive(Debug)]
pub struct TestServer {
    issuer: String,
    base: Url,
    backend: Backend,
    child: Child,
    pg: Option<PgDatabase>,
    /// A replica's: the first server's data directory and `TESSERA_DATABASE_URL`, which it
    /// uses but does not own.
    shared: Option<(PathBuf, Option<String>)>,
    // Declared last: removed after the child is dead.
    dir: TempDir,
}

impl TestServer {
    /// Starts a server on `backend` with default options.
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, ServerOptions::default()).await
    }

    /// Starts a server on `backend`: creates its data directory (and PostgreSQL database),
    /// runs `tessera serve --listen 127.0.0.1:0`, and waits for its `listening on` line.
    pub async fn start_with(backend: Backend, options: ServerOptions) -> anyhow::Result<Self> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = Backend::postgres_admin_url()
                    .with_context(|| format!("{} is not set", crate::PG_URL_ENV))?;
                Some(PgDatabase::create(&admin).await?)
            }
        };
        Self::spawn(backend, options, pg, None).await
    }

    /// Another `tessera serve` on this server's data directory and database, as a second
    /// replica behind a load balancer would be (or the same server after a restart).
    /// Replicas share the issuer, as behind a load balancer.
    pub async fn start_replica(&self, mut options: ServerOptions) -> anyhow::Result<Self> {
        options
            .env
            .insert(0, ("TESSERA_ISSUER".to_owned(), self.issuer.clone()));
        let shared = (self.data_dir(), self.database_env().map(str::to_owned));
        Self::spawn(self.backend, options, None, Some(shared)).await
    }

    /// Sends SIGTERM, as an orchestrator stopping a replica does.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", self.child.id());
        }
        Ok(())
    }

    /// Waits up to `limit` for the process to exit: its exit status, or `None` if it still runs.
    pub async fn wait_exit(
        &mut self,
        limit: Duration,
    ) -> anyhow::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server process (its data stays until the value is dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn spawn(
        backend: Backend,
        options: ServerOptions,
        pg: Option<PgDatabase>,
        shared: Option<(PathBuf, Option<String>)>,
    ) -> anyhow::Result<Self> {
        let bin = match &options.program {
            Some(program) => program.clone(),
            None => tessera_bin()?,
        };
        let dir = TempDir::new("tessera-e2e")?;
        let data_dir = match &shared {
            Some((data, _)) => data.clone(),
            None => dir.path().join("data"),
        };
        let db_env = match (&pg, &shared) {
            (Some(pg), _) => Some(pg.url().to_owned()),
            (None, Some((_, url))) => url.clone(),
            (None, None) => None,
        };
        let stdout_path = dir.path().join("server.stdout");
        let stderr_path = dir.path().join("server.stderr");
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(options.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path)?)
            .stderr(File::create(&stderr_path)?);
        clear_tessera_env(&mut cmd);
        // Tests stop servers at once unless they test the drain (options come after).
        cmd.env("TESSERA_SHUTDOWN_DRAIN_SECS", "0");
        if let Some(url) = &db_env {
            cmd.env("TESSERA_DATABASE_URL", url);
        }
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Self {
            issuer: String::new(),
            base: Url::parse("http://127.0.0.1/")?,
            backend,
            child,
            pg,
            shared,
            dir,
        };
        server.issuer = server.wait_for_listening(&stdout_path).await?;
        if let Some((_, issuer)) = options
            .env
            .iter()
            .find(|(k, _)| k == "TESSERA_ISSUER" && options.listen.is_some())
        {
            server.issuer = issuer.clone();
        }
        server.base = Url::parse(&server.issuer)?;
        Ok(server)
    }

    async fn wait_for_listening(&mut self, stdout_path: &Path) -> anyhow::Result<String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let stdout = std::fs::read_to_string(stdout_path).unwrap_or_default();
            if let Some(issuer) = parse_listening(&stdout) {
                return Ok(issuer);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "tessera serve exited ({status}) before listening\n{}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "tessera serve did not print `listening on` within {STARTUP_TIMEOUT:?}\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The issuer identifier: `http://127.0.0.1:PORT`, no trailing slash.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Sends this server's requests to `issuer` from now on, the public URL of a load balancer
    /// in front of it (the server was started with it as `TESSERA_ISSUER`).
    pub fn route_through(&mut self, issuer: &str) -> anyhow::Result<()> {
        self.base = Url::parse(issuer)?;
        self.issuer = issuer.trim_end_matches('/').to_owned();
        Ok(())
    }

    /// An absolute URL on this server, e.g. `url("/token")`.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        match &self.shared {
            Some((data, _)) => data.clone(),
            None => self.dir.path().join("data"),
        }
    }

    /// The database URL the server uses, for poking at it directly with sqlx.
    pub fn database_url(&self) -> String {
        match self.database_env() {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", self.data_dir().join("tessera.db").display()),
        }
    }

    /// `TESSERA_DATABASE_URL` for CLI runs against the same data, if any.
    pub(crate) fn database_env(&self) -> Option<&str> {
        match (&self.pg, &self.shared) {
            (Some(pg), _) => Some(pg.url()),
            (None, Some((_, url))) => url.as_deref(),
            (None, None) => None,
        }
    }

    /// Process id of the server, e.g. to read its memory use.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed so far (stdout then stderr).
    pub fn output(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- tessera stdout ---\n{}--- tessera stderr ---\n{}",
            read("server.stdout"),
            read("server.stderr")
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Test output is captured and shown only for failing tests, where this is what one
        // needs to see (a scenario that returns an error drops its server before panicking).
        eprintln!(
            "server {} ({:?}) output, last lines:\n{}",
            self.issuer,
            self.backend,
            tail(&self.output(), 60)
        );
        if let Some(pg) = &self.pg {
            pg.drop_blocking();
        }
    }
}

/// The URL after `listening on ` in the server's stdout.
fn parse_listening(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|line| {
        let (_, rest) = line.split_once("listening on ")?;
        let url = rest.split_whitespace().next()?;
        Url::parse(url).ok()?;
        Some(url.trim_end_matches('/').to_owned())
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_listening_line() {
        let out = "starting\n2024 INFO tessera: listening on http://127.0.0.1:4242/ (pid 7)\n";
        assert_eq!(
            super::parse_listening(out).as_deref(),
            Some("http://127.0.0.1:4242")
        );
        assert_eq!(super::parse_listening("listening on nothing"), None);
    }
}
