//! The master key: wraps software-token keys and derives the server's keyed-hash keys.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::HsmError;

/// 256-bit secret from `TESSERA_MASTER_KEY` (base64) or a key file. Never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<MasterKey, HsmError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| HsmError::MasterKey("not valid base64".into()))?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| HsmError::MasterKey(format!("must be 32 bytes, got {}", bytes.len())))?;
        Ok(MasterKey(Zeroizing::new(arr)))
    }

    pub fn generate() -> Result<MasterKey, HsmError> {
        let mut key = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| HsmError::MasterKey("no system randomness".into()))?;
        Ok(MasterKey(key))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    /// Loads the key file, or creates it with mode 0600 when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, HsmError> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate()?;
                write_private(path, key.to_base64().as_bytes())
                    .map_err(|e| HsmError::MasterKey(format!("{}: {e}", path.display())))?;
                Ok(key)
            }
            Err(e) => Err(HsmError::MasterKey(format!("{}: {e}", path.display()))),
        }
    }

    /// A 32-byte key for one purpose (HKDF-SHA-256, RFC 5869), e.g. `client-secret-hash`.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera-master-key-v1").extract(self.0.as_ref());
        let info = [purpose.as_bytes()];
        let mut out = Zeroizing::new([0u8; 32]);
        // HKDF-SHA-256 can always expand to 32 bytes; the fallible paths cannot happen here.
        if let Ok(okm) = prk.expand(&info, hkdf::HKDF_SHA256) {
            let _ = okm.fill(out.as_mut());
        }
        out
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn derive_is_stable_and_separates_purposes() {
        let k = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(*k.derive("a"), *k.derive("a"));
        assert_ne!(*k.derive("a"), *k.derive("b"));
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{k:?}"), "MasterKey(***)");
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tessera-mk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let _ = std::fs::remove_file(&path);
        let a = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(*a.derive("x"), *b.derive("x"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
