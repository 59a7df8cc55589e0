//! SoftHSM2 tokens for tests and benchmarks: each gets its own token directory (through
//! `SOFTHSM2_CONF`), initialised with `softhsm2-util`. Not used by the server.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian puts the module; `TESSERA_TEST_PKCS11_MODULE` overrides it.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The SoftHSM2 module, if installed (only `TESSERA_TEST_PKCS11_MODULE` when that is set).
pub fn module_path() -> Option<PathBuf> {
    if let Some(module) = std::env::var_os("TESSERA_TEST_PKCS11_MODULE") {
        return Some(PathBuf::from(module)).filter(|p| p.is_file());
    }
    [
        DEFAULT_MODULE,
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// The module for a test that needs it. Without SoftHSM2 the test is skipped with a visible
/// message — except in CI (`CI` set), where a missing module is an error.
pub fn module_or_skip(test: &str) -> Result<Option<PathBuf>, String> {
    match module_path() {
        Some(m) => Ok(Some(m)),
        None if std::env::var_os("CI").is_some() => Err(format!(
            "{test}: SoftHSM2 is not installed but CI is set; install it with \
             `apt-get install -y softhsm2 opensc`"
        )),
        None => {
            // Straight to the process's stderr: the test harness captures `eprintln!`, and a
            // skip nobody sees is a silent pass.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: SoftHSM2 is not installed (apt-get install -y softhsm2 opensc)"
            );
            Ok(None)
        }
    }
}

/// A freshly initialised SoftHSM2 token in its own directory, removed on drop.
#[derive(Debug)]
pub struct SoftHsmToken {
    pub dir: PathBuf,
    /// The `softhsm2.conf` to point `SOFTHSM2_CONF` at.
    pub conf: PathBuf,
    pub module: PathBuf,
    pub label: String,
    pub pin: String,
    pub so_pin: String,
}

fn unique_suffix() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 6];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    format!(
        "{}-{}",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

impl SoftHsmToken {
    /// Initialises a token labelled `label` with user PIN `pin` in a new directory.
    pub fn create(module: &Path, label: &str, pin: &str) -> Result<SoftHsmToken, String> {
        let dir = std::env::temp_dir().join(format!("tessera-softhsm-{}", unique_suffix()));
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).map_err(|e| format!("{}: {e}", tokens.display()))?;
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let token = SoftHsmToken {
            dir,
            conf,
            module: module.to_path_buf(),
            label: label.to_owned(),
            pin: pin.to_owned(),
            so_pin: format!("so-{pin}"),
        };
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &token.conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", &token.so_pin, "--pin", pin])
            .output()
            .map_err(|e| format!("cannot run softhsm2-util: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "softhsm2-util --init-token failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(token)
    }
}

impl Drop for SoftHsmToken {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
