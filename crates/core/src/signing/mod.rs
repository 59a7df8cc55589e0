//! Document signatures (issue 12): what a signature may be made with, and the use cases that
//! make them. Formats live in `tessera-formats`; this module decides *whether* a credential
//! may sign for a caller, streams the document through the hash, and audits every use.
//!
//! - [`organisation`]: organisation credentials (the unit's seal, "chữ ký số của cơ quan, tổ
//!   chức") and the clients a unit allowed to use them; [`organisation::organisation_signer`]
//!   refuses personal credentials, which sign only through remote approval by their holder.
//! - [`cms`]: detached CAdES-B-B/B-T signatures over any file (`tessera sign cms`).
//! - [`pdf`]: PAdES B-B to B-LTA signatures of PDFs and their extension (`tessera sign pdf`,
//!   `tessera sign extend`).
//! - [`images`]: officials' signature images and units' seal images (PNG, ≤ 1 MB).
//! - [`remote`]: remote signing (issue 13): applications ask, officials approve with a second
//!   factor, personal credentials sign only what was approved.
//! - [`tsa`]: RFC 3161 timestamps (Tessera's own TSA and a configured one); [`ltv`]: the
//!   validation data (chain, OCSP answers, CRLs) that long-term signatures carry.

pub mod cms;
pub mod images;
pub mod ltv;
pub mod organisation;
pub mod pdf;
pub mod remote;
pub mod tsa;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::io::{Read, Write};
use std::path::Path;

use sha2::Digest;
use tessera_formats::FormatError;
use tessera_hsm::{HashAlg, KeyType, SignScheme};

use crate::pki::PkiError;

/// Why a personal credential is refused everywhere but in remote approval.
pub const PERSONAL_CREDENTIAL_REFUSED: &str =
    "personal credentials sign only through remote approval by their holder (issue 13)";

/// Why a signature was not made, in words the operator or the calling system can act on.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// Policy said no: a personal credential, a client the unit did not allow.
    #[error("{0}")]
    Refused(String),
    /// Bad input: options that do not fit the key, an image that is not an acceptable PNG.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// A service the signature needs (the TSA, a revocation responder) failed.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

impl From<tessera_store::StoreError> for SigningError {
    fn from(e: tessera_store::StoreError) -> Self {
        SigningError::Pki(PkiError::from(e))
    }
}

impl From<tsa::TsaError> for SigningError {
    fn from(e: tsa::TsaError) -> Self {
        match e {
            tsa::TsaError::Pki(p) => SigningError::Pki(p),
            tsa::TsaError::Invalid(m) => SigningError::Invalid(m),
            other => SigningError::Unavailable(other.to_string()),
        }
    }
}

impl From<ltv::LtvError> for SigningError {
    fn from(e: ltv::LtvError) -> Self {
        match e {
            ltv::LtvError::Pki(p) => SigningError::Pki(p),
            ltv::LtvError::Invalid(m) => SigningError::Invalid(m),
            other => SigningError::Unavailable(other.to_string()),
        }
    }
}

impl From<crate::CoreError> for SigningError {
    fn from(e: crate::CoreError) -> Self {
        SigningError::Pki(PkiError::Internal(e))
    }
}

/// The signature scheme for a key, a hash and the RSA padding asked for. ECDSA signatures in
/// CMS are DER (RFC 5753 §2.1.1 via RFC 5480).
pub fn scheme_for(key_type: KeyType, hash: HashAlg, pss: bool) -> Result<SignScheme, SigningError> {
    Ok(match (key_type.is_rsa(), pss) {
        (true, false) => SignScheme::RsaPkcs1v15(hash),
        (true, true) => SignScheme::RsaPss(hash),
        (false, false) => SignScheme::Ecdsa(hash, tessera_hsm::EcdsaForm::Der),
        (false, true) => {
            return Err(SigningError::Invalid(format!(
                "RSA-PSS needs an RSA key; this credential's key is {}",
                key_type.name()
            )));
        }
    })
}

/// Parses `sha256`, `sha384` or `sha512` (also with a dash, any case).
pub fn parse_hash(name: &str) -> Result<HashAlg, SigningError> {
    match name.to_ascii_lowercase().replace('-', "").as_str() {
        "sha256" => Ok(HashAlg::Sha256),
        "sha384" => Ok(HashAlg::Sha384),
        "sha512" => Ok(HashAlg::Sha512),
        _ => Err(SigningError::Invalid(format!(
            "unknown hash {name:?}: use sha256, sha384 or sha512"
        ))),
    }
}

/// Hashes everything `r` gives in 64 KiB steps, so a document is never held in memory;
/// answers the digest and the number of bytes.
pub fn hash_reader(hash: HashAlg, mut r: impl Read) -> std::io::Result<(Vec<u8>, u64)> {
    fn run<D: Digest>(mut d: D, r: &mut dyn Read) -> std::io::Result<(Vec<u8>, u64)> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            d.update(buf.get(..n).unwrap_or_default());
            total += n as u64;
        }
        Ok((d.finalize().to_vec(), total))
    }
    match hash {
        HashAlg::Sha256 => run(sha2::Sha256::new(), &mut r),
        HashAlg::Sha384 => run(sha2::Sha384::new(), &mut r),
        HashAlg::Sha512 => run(sha2::Sha512::new(), &mut r),
    }
}

/// Hashes the file at `path` (streamed).
pub fn hash_file(hash: HashAlg, path: &Path) -> Result<(Vec<u8>, u64), SigningError> {
    let file = std::fs::File::open(path)
        .map_err(|e| SigningError::Io(format!("cannot read {}: {e}", path.display())))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(SigningError::Io(format!(
            "cannot read {}: it is a directory",
            path.display()
        )));
    }
    hash_reader(hash, std::io::BufReader::new(file))
        .map_err(|e| SigningError::Io(format!("cannot read {}: {e}", path.display())))
}

/// Writes `bytes` to `path` all at once or not at all: a temporary file in the same directory,
/// flushed to disk, then renamed over `path`. A failure leaves no partial file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    let cannot = |e: &dyn std::fmt::Display| {
        SigningError::Io(format!("cannot write {}: {e}", path.display()))
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tessera-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| cannot(&e))?;
    tmp.write_all(bytes).map_err(|e| cannot(&e))?;
    tmp.as_file().sync_all().map_err(|e| cannot(&e))?;
    tmp.persist(path).map_err(|e| cannot(&e.error))?;
    Ok(())
}

/// Runs a blocking signing step (file I/O and a custody call) off the async workers.
pub(crate) async fn blocking_signing<T, F>(f: F) -> Result<T, SigningError>
where
    F: FnOnce() -> Result<T, SigningError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::pki::internal(format!("signing task: {e}")))?
}
