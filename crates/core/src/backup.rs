//! Backup files of the SQLite deployment: a snapshot of the database sealed under the master
//! key with AES-256-GCM, as the other secrets at rest are ([`Keyed::seal`]). Without the master
//! key a backup is unreadable; with another key, or damaged, it does not open at all.

use std::path::Path;

use crate::error::CoreError;
use crate::provider::Provider;
use crate::secrets::Keyed;

/// First line of every backup file (format version 1).
const MAGIC: &[u8] = b"TESSERA-BACKUP-1\n";
/// Binds the sealed bytes to their use.
const CONTEXT: &str = "tessera-backup-v1";

/// A consistent snapshot of the database into `path` (which must not exist), while serving.
pub async fn snapshot(p: &Provider, path: &Path) -> Result<(), CoreError> {
    Ok(p.store.snapshot_into(path).await?)
}

/// The backup file of the database `snapshot`.
pub fn seal(keyed: &Keyed, snapshot: &[u8]) -> Result<Vec<u8>, CoreError> {
    let mut out = MAGIC.to_vec();
    out.extend(keyed.seal(CONTEXT, snapshot)?);
    Ok(out)
}

/// The database inside a backup file.
pub fn open(keyed: &Keyed, file: &[u8]) -> Result<Vec<u8>, CoreError> {
    let sealed = file
        .strip_prefix(MAGIC)
        .ok_or_else(|| CoreError::Internal("this is not a Tessera backup file".into()))?;
    keyed.open(CONTEXT, sealed).map_err(|_| {
        CoreError::Internal(
            "the backup does not open with this master key: it was made under another key, or \
             it is damaged"
                .into(),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tessera_hsm::MasterKey;

    use crate::secrets::Keyed;

    fn keyed(byte: u8) -> Keyed {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        Keyed::new(&MasterKey::from_base64(&b64).unwrap())
    }

    #[test]
    fn opens_only_under_its_key_and_undamaged() {
        let file = super::seal(&keyed(1), b"SQLite format 3\0...").unwrap();
        assert!(file.starts_with(b"TESSERA-BACKUP-1\n"));
        assert!(!file.windows(6).any(|w| w == b"SQLite"));
        assert_eq!(
            super::open(&keyed(1), &file).unwrap(),
            b"SQLite format 3\0..."
        );
        let e = super::open(&keyed(2), &file).unwrap_err();
        assert!(e.to_string().contains("another key"), "{e}");
        let mut damaged = file.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(super::open(&keyed(1), &damaged).is_err());
        assert!(
            super::open(&keyed(1), b"hello")
                .unwrap_err()
                .to_string()
                .contains("not a Tessera backup")
        );
    }
}
