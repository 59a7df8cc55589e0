//! Bad input: what Tessera refuses before it appends a revision to a PDF, and the limits it
//! enforces while reading one.
//!
//! Enforced here:
//! - **File size**: at most [`Limits::max_file_size`] bytes (default 100 MB), checked before any
//!   parsing.
//! - **Header and trailer**: the file starts with `%PDF-` and ends with `%%EOF` (ISO 32000-1
//!   §7.5.2, §7.5.5), so a truncated upload is refused rather than silently repaired.
//! - **Cross-reference data**: a file whose cross-reference table or stream had to be rebuilt
//!   or corrected by scanning is refused: an incremental update points back at that table
//!   (`/Prev`), so every reader would see the broken one.
//! - **Encryption**: an `/Encrypt` trailer entry is refused as unsupported.
//! - **Decompression bombs**: object and cross-reference streams are decoded while loading, each
//!   to at most [`Limits::max_decompressed_stream`] bytes (lopdf's `max_decompressed_size`).
//!   Content streams are not decoded here.
//! - **Deep nesting**: lopdf's parser stops at 100 levels of arrays/dictionaries and of
//!   parentheses in literal strings, and at 128 chained references; these are lopdf's constants,
//!   not options. Reading is also guarded against a panic inside the parser, which becomes an
//!   `Invalid` error.
//! - **Objects**: at most [`Limits::max_objects`] indirect objects.
//!
//! Memory and time: the original bytes are borrowed, never copied. A signature without a
//! visible appearance reads only the objects its update needs (`partial::load_for_update`,
//! which checks the same limits), so neither parses nor copies content streams, images or fonts. A full load
//! (appearances, DSS, reading signatures) lets lopdf copy each stream's bytes into its object
//! tree; the bulky kinds no update needs (images, embedded font programs, embedded files, XMP)
//! are emptied as they load when over 64 KiB, so the steady state is the file plus its small
//! objects, not the file twice. Such a stripped object is marked and [`super::update`] refuses
//! to write it back.

use lopdf::{Document, LoadOptions, Object};

use crate::FormatError;

/// Limits on the PDFs Tessera reads. The defaults fit administrative documents with scanned
/// appendices; raise them per deployment if needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_file_size: usize,
    /// Largest size one object or cross-reference stream may decompress to while loading.
    pub max_decompressed_stream: usize,
    /// Most indirect objects a file may hold.
    pub max_objects: usize,
}

/// 100 MB.
pub const DEFAULT_MAX_FILE_SIZE: usize = 100 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_decompressed_stream: 64 * 1024 * 1024,
            max_objects: 1_000_000,
        }
    }
}

/// Reads `bytes` as a PDF that can take an incremental update, or says clearly why not.
pub fn load(bytes: &[u8], limits: &Limits) -> Result<Document, FormatError> {
    check_bytes(bytes, limits)?;
    let options = LoadOptions {
        strict: false,
        max_decompressed_size: Some(limits.max_decompressed_stream),
        filter: Some(strip_bulk),
        ..LoadOptions::default()
    };
    // lopdf is meant never to panic on bad input; should it, the upload is refused, not the
    // process.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Document::load_mem_with_options(bytes, options)
    }));
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(e)) => return Err(load_error(e)),
        Err(_) => {
            return Err(FormatError::Invalid(
                "the PDF could not be read (its structure is damaged)".into(),
            ));
        }
    };
    check_document(&doc, limits)?;
    Ok(doc)
}

/// What is refused before any parsing: size, header and trailer.
pub(super) fn check_bytes(bytes: &[u8], limits: &Limits) -> Result<(), FormatError> {
    if bytes.len() > limits.max_file_size {
        return Err(FormatError::TooLarge(format!(
            "the PDF is {} bytes; the limit is {} bytes",
            bytes.len(),
            limits.max_file_size
        )));
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(FormatError::Invalid(
            "not a PDF: the file does not start with %PDF-".into(),
        ));
    }
    if !ends_with_eof_marker(bytes) {
        return Err(FormatError::Invalid(
            "the PDF is truncated: it does not end with %%EOF".into(),
        ));
    }
    Ok(())
}

/// What is refused once the document is read: encryption, a repaired cross-reference table,
/// too many objects, no catalog or no pages.
pub(super) fn check_document(doc: &Document, limits: &Limits) -> Result<(), FormatError> {
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() {
        return Err(FormatError::Unsupported(
            "the PDF is encrypted; remove the password protection before signing".into(),
        ));
    }
    if doc.xref_recovery.is_some() || doc.xref_start == 0 {
        return Err(FormatError::Invalid(
            "the PDF's cross-reference table is broken; repair the file (e.g. print it to a new \
             PDF) before signing"
                .into(),
        ));
    }
    if doc.objects.len() > limits.max_objects {
        return Err(FormatError::TooLarge(format!(
            "the PDF has {} objects; the limit is {}",
            doc.objects.len(),
            limits.max_objects
        )));
    }
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| FormatError::Invalid("the PDF has no document catalog (/Root)".into()))?;
    let catalog = doc
        .get_dictionary(root)
        .map_err(|_| FormatError::Invalid("the PDF's document catalog is missing".into()))?;
    if catalog
        .get(b"Pages")
        .and_then(Object::as_reference)
        .is_err()
    {
        return Err(FormatError::Invalid("the PDF has no page tree".into()));
    }
    if doc.page_iter().next().is_none() {
        return Err(FormatError::Invalid("the PDF has no pages".into()));
    }
    Ok(())
}

/// Marks a stream whose bytes [`strip_bulk`] dropped.
pub(crate) const STRIPPED: &[u8] = b"TesseraStrippedContent";

const STRIP_ABOVE: usize = 64 * 1024;

/// Drops the bytes of large images, font programs, embedded files and XMP streams while
/// loading: an incremental update never rewrites them, and the original file holds them
/// already.
fn strip_bulk(id: (u32, u16), object: &mut Object) -> Option<((u32, u16), Object)> {
    if let Object::Stream(stream) = object {
        let d = &stream.dict;
        let name_is = |key: &[u8], names: &[&[u8]]| matches!(d.get(key), Ok(Object::Name(n)) if names.contains(&n.as_slice()));
        let bulky = name_is(
            b"Subtype",
            &[b"Image", b"Type1C", b"CIDFontType0C", b"OpenType", b"XML"],
        ) || name_is(b"Type", &[b"EmbeddedFile", b"Metadata"])
            || d.has(b"Length1")
            || d.has(b"Length2");
        if bulky && stream.content.len() > STRIP_ABOVE {
            stream.content = Vec::new();
            stream.dict.set(STRIPPED, true);
        }
        // lopdf keeps the object it filtered in place; the answer is read only for objects
        // inside object streams, which are never streams.
        return Some((id, Object::Null));
    }
    Some((id, object.clone()))
}

/// `%%EOF` within the last 1024 bytes, where readers look for it.
fn ends_with_eof_marker(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    tail.windows(5).any(|w| w == b"%%EOF")
}

fn load_error(e: lopdf::Error) -> FormatError {
    match e {
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => {
            FormatError::TooLarge(
                "a stream of the PDF decompresses beyond the limit (a possible decompression bomb)"
                    .into(),
            )
        }
        e if is_encryption_error(&e) => FormatError::Unsupported(
            "the PDF is encrypted; remove the password protection before signing".into(),
        ),
        e => FormatError::Invalid(format!("the PDF could not be read: {e}")),
    }
}

fn is_encryption_error(e: &lopdf::Error) -> bool {
    matches!(
        e,
        lopdf::Error::Decryption(_)
            | lopdf::Error::InvalidPassword
            | lopdf::Error::AlreadyEncrypted
    )
}
