//! Debian's `rsyslogd` as the SOC's syslog receiver: RFC 5424 over TCP (`imtcp`, octet-counted
//! frames) or over TLS (`imtcp` with the GnuTLS driver, a certificate from a test CA). Each
//! message is written to a file as received (`%rawmsg%`), one per line. It can be stopped and
//! started again on the same port, as a receiver that goes down and comes back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::tempdir::TempDir;

/// A running (or stopped) rsyslogd of a test.
#[derive(Debug)]
pub struct Rsyslog {
    child: Option<Child>,
    port: u16,
    tls: bool,
    dir: TempDir,
}

/// Whether rsyslogd (and, for TLS, its GnuTLS driver) is installed.
pub fn available(tls: bool) -> bool {
    let daemon = Command::new("rsyslogd")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    daemon
        && (!tls
            || [
                "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu",
                "/usr/lib",
            ]
            .iter()
            .any(|d| Path::new(d).join("rsyslog/lmnsd_gtls.so").exists()))
}

impl Rsyslog {
    /// Starts a receiver on a free loopback port; with `tls`, also makes its CA and certificate
    /// (for `localhost` and 127.0.0.1).
    pub fn start(tls: bool) -> anyhow::Result<Rsyslog> {
        let dir = TempDir::new("tessera-e2e-rsyslog")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::create_dir_all(dir.path().join("work"))?;
        if tls {
            crate::tls::localhost_certificates(dir.path(), "SOC test CA")?;
        }
        let mut r = Rsyslog {
            child: None,
            port,
            tls,
            dir,
        };
        r.write_config()?;
        r.resume()?;
        Ok(r)
    }

    /// `tcp://127.0.0.1:PORT` or `tls://localhost:PORT`.
    pub fn url(&self) -> String {
        if self.tls {
            format!("tls://localhost:{}", self.port)
        } else {
            format!("tcp://127.0.0.1:{}", self.port)
        }
    }

    /// The CA that signed the receiver's certificate (TLS).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Every message received so far, one a line.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("out.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Stops the daemon, as a receiver that goes down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same port; returns once it accepts connections.
    #[allow(clippy::disallowed_methods)] // a short wait in the test harness, not library code
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let _ = std::fs::remove_file(d.join("rsyslogd.pid"));
        let child = Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(d.join("rsyslogd.out"))?)
            .stderr(std::fs::File::create(d.join("rsyslogd.err"))?)
            .spawn()
            .context("starting rsyslogd")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("rsyslogd exited ({status}):\n{}", self.output());
            }
            ensure!(
                Instant::now() < deadline,
                "rsyslogd does not listen:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// What rsyslogd printed (for failures).
    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("{}{}", read("rsyslogd.out"), read("rsyslogd.err"))
    }

    fn write_config(&self) -> anyhow::Result<()> {
        let d = self.dir.path().display();
        let (global_tls, module) = if self.tls {
            (
                format!(
                    " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
                     defaultNetstreamDriverCertFile=\"{d}/server.pem\" \
                     defaultNetstreamDriverKeyFile=\"{d}/server.key\""
                ),
                "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" \
                 streamDriver.authMode=\"anon\")",
            )
        } else {
            (String::new(), "module(load=\"imtcp\")")
        };
        let conf = format!(
            "global(workDirectory=\"{d}/work\"{global_tls})\n\
             {module}\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             ruleset(name=\"soc\") {{\n  action(type=\"omfile\" file=\"{d}/out.log\" template=\"raw\" \
             asyncWriting=\"off\" flushOnTXEnd=\"on\")\n}}\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" ruleset=\"soc\")\n",
            port = self.port
        );
        std::fs::write(self.dir.path().join("rsyslog.conf"), conf)?;
        Ok(())
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}
