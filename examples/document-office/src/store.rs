//! The application's own state: a directory per document, holding `meta.json`, the uploaded
//! `original.pdf` and, once signed, `signed.pdf` and `report.json` (the verification report).
//! A sample application needs no database; a real one keeps this in its own.

use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// Files a document directory may hold (the only names served back).
pub const ORIGINAL: &str = "original.pdf";
pub const SIGNED: &str = "signed.pdf";
pub const REPORT: &str = "report.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub size: u64,
    /// The uploader's unit (claim `unit_id`): its people see the document.
    pub unit_id: Option<String>,
    pub owner_sub: String,
    pub owner_name: String,
    pub uploaded_at: i64,
    pub signing: Option<Signing>,
}

/// The signing request asked for a document, as last read from Tessera.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Signing {
    pub request_id: String,
    pub signer: String,
    /// `pending | approved | rejected | expired | cancelled | signed | failed`.
    pub status: String,
    pub done: u32,
    pub total: u32,
    /// Where the official approves (Tessera's page).
    pub approval_url: String,
    pub requested_at: i64,
    pub expires_at: i64,
    pub error: Option<String>,
    /// `TOTAL-PASSED`, `INDETERMINATE` or `TOTAL-FAILED` once the signed PDF was checked.
    pub verdict: Option<String>,
}

impl Document {
    /// Whether `sub` of unit `unit` may see this document: its uploader and their unit.
    pub fn visible_to(&self, sub: &str, unit: Option<&str>) -> bool {
        self.owner_sub == sub || (unit.is_some() && self.unit_id.as_deref() == unit)
    }
}

#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    rng: SystemRandom,
    /// One writer at a time: a page view and a form may refresh the same document.
    write: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such document")]
    NotFound,
    #[error("{0}")]
    Io(String),
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let dir = dir.join("documents");
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        Ok(Store {
            dir,
            rng: SystemRandom::new(),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// A new random document id (128 bits, hex).
    pub fn new_id(&self) -> Result<String, StoreError> {
        let mut buf = [0u8; 16];
        self.rng
            .fill(&mut buf)
            .map_err(|_| StoreError::Io("system randomness unavailable".into()))?;
        Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The directory of document `id`; ids are 32 hex digits, so nothing escapes the store.
    fn doc_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound);
        }
        Ok(self.dir.join(id))
    }

    /// Stores a new document and its PDF.
    pub async fn create(&self, doc: &Document, pdf: &[u8]) -> Result<(), StoreError> {
        let dir = self.doc_dir(&doc.id)?;
        let _guard = self.write.lock().await;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io("cannot create", &dir, e))?;
        write(&dir.join(ORIGINAL), pdf).await?;
        self.save_locked(doc).await
    }

    pub async fn save(&self, doc: &Document) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        self.save_locked(doc).await
    }

    async fn save_locked(&self, doc: &Document) -> Result<(), StoreError> {
        let dir = self.doc_dir(&doc.id)?;
        let json = serde_json::to_vec_pretty(doc).map_err(|e| StoreError::Io(e.to_string()))?;
        // Write beside, then rename: a reader never sees half a file.
        let tmp = dir.join("meta.json.tmp");
        write(&tmp, &json).await?;
        let meta = dir.join("meta.json");
        tokio::fs::rename(&tmp, &meta)
            .await
            .map_err(|e| io("cannot write", &meta, e))
    }

    pub async fn get(&self, id: &str) -> Result<Document, StoreError> {
        let path = self.doc_dir(id)?.join("meta.json");
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(io("cannot read", &path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| io("cannot read", &path, e))
    }

    /// The documents `sub` (of `unit`) may see, newest first.
    pub async fn list(&self, sub: &str, unit: Option<&str>) -> Result<Vec<Document>, StoreError> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| io("cannot read", &self.dir, e))?;
        let mut docs = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io("cannot read", &self.dir, e))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            match self.get(&name).await {
                Ok(d) if d.visible_to(sub, unit) => docs.push(d),
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        docs.sort_by_key(|d| std::cmp::Reverse(d.uploaded_at));
        Ok(docs)
    }

    /// One of the document's files ([`ORIGINAL`], [`SIGNED`], [`REPORT`]).
    pub async fn read_file(&self, id: &str, name: &str) -> Result<Vec<u8>, StoreError> {
        if ![ORIGINAL, SIGNED, REPORT].contains(&name) {
            return Err(StoreError::NotFound);
        }
        let path = self.doc_dir(id)?.join(name);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound),
            Err(e) => Err(io("cannot read", &path, e)),
        }
    }

    pub async fn write_file(&self, id: &str, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.doc_dir(id)?.join(name);
        write(&path, bytes).await
    }
}

async fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| io("cannot write", path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn doc(id: &str, owner: &str, unit: Option<&str>, at: i64) -> Document {
        Document {
            id: id.into(),
            title: "Công văn".into(),
            file_name: "cv.pdf".into(),
            size: 9,
            unit_id: unit.map(str::to_owned),
            owner_sub: owner.into(),
            owner_name: "Cán bộ".into(),
            uploaded_at: at,
            signing: None,
        }
    }

    #[tokio::test]
    async fn documents_are_seen_by_their_unit_only_and_ids_cannot_leave_the_store() {
        let dir = std::env::temp_dir().join(format!("document-office-test-{}", std::process::id()));
        let store = Store::open(&dir).unwrap();
        let (a, b) = (store.new_id().unwrap(), store.new_id().unwrap());
        store
            .create(&doc(&a, "an", Some("noivu"), 1), b"%PDF-1.7")
            .await
            .unwrap();
        store
            .create(&doc(&b, "nam", Some("lechan"), 2), b"%PDF-1.7")
            .await
            .unwrap();
        let seen = store.list("hoa", Some("noivu")).await.unwrap();
        assert_eq!(
            seen.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            [a.as_str()]
        );
        // Their own documents, whatever their unit; nothing for someone without a unit.
        assert_eq!(store.list("nam", None).await.unwrap().len(), 1);
        assert!(store.list("khach", None).await.unwrap().is_empty());
        for bad in ["../../etc/passwd", "meta.json", &a[..31]] {
            assert!(matches!(store.get(bad).await, Err(StoreError::NotFound)));
        }
        assert!(matches!(
            store.read_file(&a, "meta.json").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.read_file(&a, ORIGINAL).await.unwrap(), b"%PDF-1.7");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
