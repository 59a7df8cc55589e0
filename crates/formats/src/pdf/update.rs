//! Appending a revision to a PDF (ISO 32000-1 §7.5.6, incremental updates): the changed and new
//! objects, a cross-reference section of the same kind as the file's last one, and a trailer
//! whose `/Prev` points back. The original bytes are never rewritten, and this module never
//! copies them: it writes only the appended bytes, with offsets counted from the original's end.

use std::collections::BTreeMap;
use std::io::Write;

use lopdf::xref::XrefType;
use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, Stream, Writer};

use crate::FormatError;

/// An object whose bytes the caller wrote itself (the signature dictionary, whose placeholders
/// it patches later).
pub(crate) struct RawObject {
    pub id: ObjectId,
    /// The object's body, without `N G obj` / `endobj`.
    pub body: Vec<u8>,
}

/// The bytes to append, and where each raw object's body starts in them.
pub(crate) struct Appended {
    pub bytes: Vec<u8>,
    pub raw_body_offsets: Vec<usize>,
}

/// An `IncrementalDocument` over `prev` that holds no copy of the original bytes, with its
/// next object id past every id the file's trailer reserves.
pub(crate) fn incremental(prev: Document) -> IncrementalDocument {
    let size = prev
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .ok()
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(0);
    let mut inc = IncrementalDocument::create_from(Vec::new(), prev);
    inc.new_document.max_id = inc.new_document.max_id.max(size.saturating_sub(1));
    inc
}

fn io(e: std::io::Error) -> FormatError {
    FormatError::Encoding(format!("writing the PDF update: {e}"))
}

/// Writes the new revision of `inc` (its `new_document` objects plus `raw`) as the bytes to
/// append to `original`.
pub(crate) fn write_revision(
    original: &[u8],
    inc: &mut IncrementalDocument,
    raw: &[RawObject],
) -> Result<Appended, FormatError> {
    let base = original.len();
    let mut out: Vec<u8> = Vec::new();
    // The update starts on a new line (§7.5.6: appended after the previous %%EOF).
    if !matches!(original.last(), Some(b'\n' | b'\r')) {
        out.push(b'\n');
    }
    let mut offsets: BTreeMap<u32, (usize, u16)> = BTreeMap::new();
    let mut raw_body_offsets = Vec::with_capacity(raw.len());

    let objects = std::mem::take(&mut inc.new_document.objects);
    for (&(id, generation), object) in &objects {
        if matches!(object.type_name(), Ok(b"ObjStm" | b"XRef" | b"Linearized")) {
            continue;
        }
        if let Object::Stream(s) = object
            && s.dict.has(super::limits::STRIPPED)
        {
            return Err(FormatError::Unsupported(format!(
                "object {id} {generation} (an image, font or file) cannot be changed in an \
                 incremental update"
            )));
        }
        offsets.insert(id, (base + out.len(), generation));
        writeln!(out, "{id} {generation} obj").map_err(io)?;
        match object {
            Object::Stream(stream) => {
                // A stream changed in memory must say its new length.
                let mut stream = stream.clone();
                let len = stream.content.len() as i64;
                stream.dict.set("Length", len);
                Writer::write_object(&mut out, &Object::Stream(stream)).map_err(io)?;
            }
            other => Writer::write_object(&mut out, other).map_err(io)?,
        }
        out.extend_from_slice(b"\nendobj\n");
    }
    inc.new_document.objects = objects;
    for object in raw {
        offsets.insert(object.id.0, (base + out.len(), object.id.1));
        writeln!(out, "{} {} obj", object.id.0, object.id.1).map_err(io)?;
        raw_body_offsets.push(out.len());
        out.extend_from_slice(&object.body);
        out.extend_from_slice(b"\nendobj\n");
    }

    let prev = inc.get_prev_documents();
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = prev.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    trailer.set("Prev", prev.xref_start as i64);
    let prev_size = prev
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let xref_start = base + out.len();
    match prev.reference_table.cross_reference_type {
        XrefType::CrossReferenceTable => {
            let max_id = offsets.keys().next_back().copied().unwrap_or(0);
            trailer.set("Size", prev_size.max(i64::from(max_id) + 1));
            out.extend_from_slice(b"xref\n");
            for run in runs(&offsets) {
                writeln!(out, "{} {}", run[0].0, run.len()).map_err(io)?;
                for (_, (offset, generation)) in run {
                    writeln!(out, "{offset:010} {generation:05} n\r").map_err(io)?;
                }
            }
            out.extend_from_slice(b"trailer\n");
            Writer::write_object(&mut out, &Object::Dictionary(trailer)).map_err(io)?;
            out.push(b'\n');
        }
        XrefType::CrossReferenceStream => {
            // The stream lists itself too (§7.5.8.3).
            let stream_id = inc
                .new_document
                .max_id
                .max(offsets.keys().next_back().copied().unwrap_or(0))
                + 1;
            inc.new_document.max_id = stream_id;
            offsets.insert(stream_id, (xref_start, 0));
            let offset_width = byte_width(xref_start as u64);
            let mut data = Vec::new();
            let mut index = Vec::new();
            for run in runs(&offsets) {
                index.push(Object::Integer(i64::from(run[0].0)));
                index.push(Object::Integer(run.len() as i64));
                for (_, (offset, generation)) in run {
                    data.push(1u8);
                    data.extend_from_slice(&(offset as u64).to_be_bytes()[8 - offset_width..]);
                    data.extend_from_slice(&generation.to_be_bytes());
                }
            }
            trailer.set("Type", Object::Name(b"XRef".to_vec()));
            trailer.set("Size", prev_size.max(i64::from(stream_id) + 1));
            trailer.set("Index", Object::Array(index));
            trailer.set(
                "W",
                Object::Array(vec![
                    Object::Integer(1),
                    Object::Integer(offset_width as i64),
                    Object::Integer(2),
                ]),
            );
            writeln!(out, "{stream_id} 0 obj").map_err(io)?;
            Writer::write_object(&mut out, &Object::Stream(Stream::new(trailer, data)))
                .map_err(io)?;
            out.extend_from_slice(b"\nendobj\n");
        }
    }
    write!(out, "startxref\n{xref_start}\n%%EOF\n").map_err(io)?;
    Ok(Appended {
        bytes: out,
        raw_body_offsets,
    })
}

/// Runs of consecutive object numbers: the subsections of a cross-reference section.
fn runs(offsets: &BTreeMap<u32, (usize, u16)>) -> Vec<Vec<(u32, (usize, u16))>> {
    let mut runs: Vec<Vec<(u32, (usize, u16))>> = Vec::new();
    for (&id, &entry) in offsets {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|(last, _)| last + 1 == id) => {
                run.push((id, entry))
            }
            _ => runs.push(vec![(id, entry)]),
        }
    }
    runs
}

/// Bytes needed for `n`, at least 4.
fn byte_width(n: u64) -> usize {
    let bits = 64 - n.leading_zeros() as usize;
    bits.div_ceil(8).max(4)
}

/// Copies `id` into the new revision if it is not there yet, and answers its dictionary there.
pub(crate) fn dict_in_revision(
    inc: &mut IncrementalDocument,
    id: ObjectId,
) -> Result<&mut Dictionary, FormatError> {
    inc.opt_clone_object_to_new_document(id)
        .map_err(|e| FormatError::Invalid(format!("object {} {} of the PDF: {e}", id.0, id.1)))?;
    inc.new_document
        .get_object_mut(id)
        .and_then(Object::as_dict_mut)
        .map_err(|_| {
            FormatError::Invalid(format!(
                "object {} {} of the PDF is not a dictionary",
                id.0, id.1
            ))
        })
}

/// The catalog's object id.
pub(crate) fn root_id(prev: &Document) -> Result<ObjectId, FormatError> {
    prev.trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| FormatError::Invalid("the PDF has no document catalog (/Root)".into()))
}

/// The object the value resolves to in the newest revision: `inc`'s new objects first, then
/// the original's.
pub(crate) fn resolve<'a>(inc: &'a IncrementalDocument, value: &'a Object) -> Option<&'a Object> {
    match value {
        Object::Reference(id) => inc
            .new_document
            .objects
            .get(id)
            .or_else(|| inc.get_prev_documents().objects.get(id)),
        other => Some(other),
    }
}

/// Pushes `item` onto the array at `key` of the dictionary `owner` in the new revision,
/// following a reference to an array object (copied into the revision) or creating a direct
/// array.
pub(crate) fn push_to_array(
    inc: &mut IncrementalDocument,
    owner: ObjectId,
    key: &[u8],
    item: Object,
) -> Result<(), FormatError> {
    let current = dict_in_revision(inc, owner)?.get(key).ok().cloned();
    match current {
        Some(Object::Reference(array_id)) => {
            inc.opt_clone_object_to_new_document(array_id)
                .map_err(|e| FormatError::Invalid(format!("the PDF's {} array: {e}", show(key))))?;
            match inc.new_document.get_object_mut(array_id) {
                Ok(Object::Array(items)) => items.push(item),
                _ => {
                    return Err(FormatError::Invalid(format!(
                        "the PDF's {} entry is not an array",
                        show(key)
                    )));
                }
            }
        }
        Some(Object::Array(mut items)) => {
            items.push(item);
            dict_in_revision(inc, owner)?.set(key, Object::Array(items));
        }
        None | Some(Object::Null) => {
            dict_in_revision(inc, owner)?.set(key, Object::Array(vec![item]));
        }
        Some(_) => {
            return Err(FormatError::Invalid(format!(
                "the PDF's {} entry is not an array",
                show(key)
            )));
        }
    }
    Ok(())
}

fn show(key: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(key))
}

/// A revision appended to a PDF: the original bytes followed by [`PdfUpdate::appended`] are
/// the new file.
#[derive(Debug)]
pub struct PdfUpdate<'a> {
    pub(crate) original: &'a [u8],
    pub(crate) appended: Vec<u8>,
}

impl PdfUpdate<'_> {
    /// The bytes to write after the original.
    pub fn appended(&self) -> &[u8] {
        &self.appended
    }

    pub fn into_appended(self) -> Vec<u8> {
        self.appended
    }

    /// The new file's length.
    pub fn len(&self) -> usize {
        self.original.len() + self.appended.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the new file: the original, then the update.
    pub fn write_to<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        out.write_all(self.original)?;
        out.write_all(&self.appended)
    }

    /// The new file in one buffer (a copy of the original: for tests and small files).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        v.extend_from_slice(self.original);
        v.extend_from_slice(&self.appended);
        v
    }
}
