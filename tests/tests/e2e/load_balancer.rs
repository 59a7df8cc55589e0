//! The production topology of `deploy/`, run as processes: two `tessera serve` replicas on one
//! PostgreSQL behind Debian's HAProxy, which terminates TLS with `deploy/haproxy.cfg` and a
//! certificate from `deploy/make-trial-secrets.sh`. Single sign-on across two applications and
//! logout everywhere (back-channel) pass through the balancer, and both replicas serve. Also
//! checks `deploy/compose.yaml` against the Compose Specification, since no container engine
//! runs here.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tessera_e2e::fixture::Fixture;
use tessera_e2e::{Backend, LogoutReceiver, ServerOptions, TempDir, flow, oauth, tls};
use tessera_sdk::AuthOptions;

const WAIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Skips (with a message) where a tool is missing, except in CI, where that fails.
fn require(tool: &str, found: bool) -> anyhow::Result<bool> {
    if found {
        return Ok(true);
    }
    if std::env::var_os("CI").is_some() {
        bail!("{tool} is missing (apt-get install haproxy; pip install compose-spec)");
    }
    eprintln!("skipped: {tool} is not installed");
    Ok(false)
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let check = || -> anyhow::Result<()> {
        let has_checker = Command::new("python3")
            .args(["-c", "import compose_spec, yaml"])
            .status()
            .is_ok_and(|s| s.success());
        if !require("python3 with compose-spec and PyYAML", has_checker)? {
            return Ok(());
        }
        let out = Command::new("python3")
            .arg(repo().join("deploy/check-compose.py"))
            .output()?;
        ensure!(
            out.status.success(),
            "deploy/compose.yaml: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        for service in ["haproxy", "postgres", "tessera1", "tessera2"] {
            ensure!(said.contains(service), "no service {service}: {said}");
        }
        Ok(())
    };
    if let Err(e) = check() {
        panic!("{e:#}");
    }
}

#[tokio::test]
async fn sso_and_logout_through_the_tls_load_balancer() {
    if !Backend::Postgres.available() {
        return;
    }
    let run = async {
        if !require("haproxy", runs("haproxy", "-v"))? {
            return Ok(());
        }
        through_the_balancer().await
    };
    if let Err(e) = run.await {
        panic!("{e:#}");
    }
}

/// `haproxy -db` in the foreground, killed on drop; its log (one line per request, naming
/// the replica that served it) goes to a file.
struct HaProxy {
    child: Child,
    log: PathBuf,
}

impl HaProxy {
    async fn start(
        dir: &Path,
        port: u16,
        cert: &Path,
        replicas: [&str; 2],
    ) -> anyhow::Result<Self> {
        let log = dir.join("haproxy.log");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(repo().join("deploy/haproxy.cfg"))
            .env("HAPROXY_BIND", format!("127.0.0.1:{port}"))
            .env("HAPROXY_CERT", cert)
            .env("TESSERA1_ADDR", replicas[0])
            .env("TESSERA2_ADDR", replicas[1])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.join("haproxy.err"))?)
            .spawn()
            .context("starting haproxy")?;
        let mut proxy = Self { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = proxy.child.try_wait()? {
                let err = std::fs::read_to_string(dir.join("haproxy.err")).unwrap_or_default();
                bail!("haproxy exited ({status}): {err}");
            }
            ensure!(Instant::now() < deadline, "haproxy is not listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(proxy)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The trial secrets script, run on a copy of `deploy/`: answers the CA certificate (PEM)
/// and the path of HAProxy's certificate-and-key file.
fn trial_tls(dir: &Path) -> anyhow::Result<(Vec<u8>, PathBuf)> {
    let deploy = dir.join("deploy");
    std::fs::create_dir_all(&deploy)?;
    let script = deploy.join("make-trial-secrets.sh");
    std::fs::copy(repo().join("deploy/make-trial-secrets.sh"), &script)?;
    let out = Command::new("bash").arg(&script).output()?;
    ensure!(
        out.status.success(),
        "make-trial-secrets.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for made in [".env", "secrets/hsm_pin", "secrets/hsm_so_pin"] {
        ensure!(deploy.join(made).is_file(), "the script made no {made}");
    }
    Ok((
        std::fs::read(deploy.join("tls/ca.pem"))?,
        deploy.join("tls/tessera.pem"),
    ))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn through_the_balancer() -> anyhow::Result<()> {
    let dir = TempDir::new("tessera-lb")?;
    let port = free_port()?;
    let issuer = format!("https://localhost:{port}");
    let (ca, cert) = trial_tls(dir.path())?;
    let options = ServerOptions::default()
        .env("TESSERA_ISSUER", &issuer)
        .env("TESSERA_TRUST_FORWARDED_FOR", "true")
        .allow_loopback_calls();
    let mut fx = Fixture::start_with(Backend::Postgres, options.clone()).await?;
    let mut b = fx.server.start_replica(options).await?;
    let direct = |url: &str| url.trim_start_matches("http://").to_owned();
    let (a_addr, b_addr) = (direct(fx.server.issuer()), direct(b.issuer()));
    let proxy = HaProxy::start(dir.path(), port, &cert, [&a_addr, &b_addr]).await?;
    tls::trust_root(&ca);
    fx.server.route_through(&issuer)?;
    b.route_through(&issuer)?;

    // Both replicas pass HAProxy's health check (GET /health/ready) and serve.
    let browser = fx.browser()?;
    let ready = browser.get(&fx.server.url("/health/ready")).await?;
    ensure!(
        ready.status.is_success(),
        "/health/ready through HAProxy: {ready}"
    );
    // HAProxy's request id (`hex:port_hex:port_…`) is the one Tessera answers, and logs.
    let id = ready.header("x-request-id").unwrap_or_default();
    ensure!(id.contains('_') && id.contains(':'), "X-Request-Id {id:?}");
    let discovery = oauth::get_json(&fx.server, "/.well-known/openid-configuration").await?;
    ensure!(
        discovery.json["issuer"] == issuer.as_str(),
        "discovery through HAProxy: {discovery}"
    );

    // One password, two applications, each with a back-channel logout endpoint.
    let receiver = LogoutReceiver::start().await?;
    let (browser, logins) = fx
        .sign_in_with_backchannel(&receiver, &["hoso", "motcua"])
        .await?;
    ensure!(
        logins[0].claims.sid == logins[1].claims.sid,
        "one SSO session across both applications"
    );
    let session = browser
        .cookie(&fx.server.url("/"), "__Host-tessera_session")
        .context("no __Host- session cookie over https")?;
    ensure!(!session.is_empty());

    // Logout from one application ends the session in both.
    let mut url = fx.server.url("/logout");
    url.query_pairs_mut()
        .append_pair("id_token_hint", &logins[0].id_token);
    let page = browser.get(&url).await?;
    ensure!(page.status.is_success(), "logout: {page}");
    let got = receiver.wait_for(2, WAIT).await?;
    for id in ["hoso", "motcua"] {
        let one = got
            .iter()
            .find(|r| r.path == format!("/{id}/bcl"))
            .with_context(|| format!("no back-channel logout for {id}: {got:?}"))?;
        let token = one.logout_token.as_deref().context("no logout_token")?;
        let (_, claims) = oauth::jwt_parts(token)?;
        ensure!(claims["iss"] == issuer.as_str(), "{claims}");
    }
    let (url, _) = flow::relying_party(&fx.server, &fx.client)
        .await?
        .authorization_url(&[], &AuthOptions::default());
    let again = browser.get(&url).await?;
    ensure!(
        again.location().is_some_and(|l| l.path() == "/login"),
        "the session still works after logout: {again}"
    );

    // HAProxy's log names the replica of each request: both took a share.
    let log = proxy.log();
    for name in ["tessera/tessera1", "tessera/tessera2"] {
        ensure!(log.contains(name), "no request went to {name}:\n{log}");
    }
    Ok(())
}
