//! What it takes to reach a token: the module, which token, and the user PIN.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::error::Pkcs11Error;

/// The user PIN of a token. Zeroed when dropped; never printed (`Debug` shows `***`, and there
/// is no `Display`), so it cannot end up in a log line or an error message by accident.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

impl Pin {
    pub fn new(pin: impl Into<String>) -> Pin {
        Pin(Zeroizing::new(pin.into()))
    }

    /// Reads the PIN from a file (e.g. a mounted secret); one trailing line break is dropped.
    pub fn from_file(path: &Path) -> Result<Pin, Pkcs11Error> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            Pkcs11Error::Config(format!("cannot read the PIN file {}: {e}", path.display()))
        })?);
        let pin = text.strip_suffix('\n').unwrap_or(&text);
        let pin = pin.strip_suffix('\r').unwrap_or(pin);
        if pin.is_empty() {
            return Err(Pkcs11Error::Config(format!(
                "the PIN file {} is empty",
                path.display()
            )));
        }
        Ok(Pin::new(pin))
    }

    pub(crate) fn to_auth_pin(&self) -> cryptoki::types::AuthPin {
        cryptoki::types::AuthPin::from(self.0.as_str())
    }

    /// The PIN itself, for handing to an outside tool in tests and benchmarks.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Which token of the module to use. Labels are the stable handle: SoftHSM2 (and some HSMs)
/// renumber slots, so a slot id is never configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// `CKA_LABEL` of the token (`CK_TOKEN_INFO.label`, blank-padded by the module).
    Label(String),
    /// `CK_TOKEN_INFO.serialNumber`.
    Serial(String),
}

impl std::fmt::Display for TokenSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSelector::Label(l) => write!(f, "label {l:?}"),
            TokenSelector::Serial(s) => write!(f, "serial {s:?}"),
        }
    }
}

/// Configuration of the PKCS#11 backend.
#[derive(Clone, Debug)]
pub struct Pkcs11Config {
    /// Path of the module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    pub token: TokenSelector,
    pub pin: Pin,
    /// Most sessions open at once; each serves one signature at a time. Default: one per core.
    pub max_sessions: usize,
}

impl Pkcs11Config {
    pub fn new(module: impl Into<PathBuf>, token: TokenSelector, pin: Pin) -> Pkcs11Config {
        Pkcs11Config {
            module: module.into(),
            token,
            pin,
            max_sessions: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pin_never_prints() {
        let pin = Pin::new("123456");
        assert_eq!(format!("{pin:?}"), "Pin(***)");
        let config = Pkcs11Config::new("/m.so", TokenSelector::Label("t".into()), pin);
        assert!(!format!("{config:?}").contains("123456"));
    }

    #[test]
    fn pin_file_drops_one_line_break() {
        let dir = std::env::temp_dir().join(format!("tessera-pin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pin");
        std::fs::write(&path, "secret 1\r\n").unwrap();
        assert_eq!(Pin::from_file(&path).unwrap().expose(), "secret 1");
        std::fs::write(&path, "\n").unwrap();
        assert!(Pin::from_file(&path).is_err());
        assert!(Pin::from_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
