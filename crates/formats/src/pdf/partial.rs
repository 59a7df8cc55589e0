//! Reading only what an incremental update needs (ISO 32000-1 §7.5): the cross-reference
//! sections, from the last back through `/Prev`, then the objects a signature touches — the
//! catalog, the interactive form and its fields, the DocMDP permissions, the page tree down to
//! the first page and that page's annotations. The rest of the file (content streams, images,
//! fonts) is neither parsed nor copied, so signing a 60-page scan costs its hash and a few
//! small objects instead of a parse of every object.
//!
//! It answers a lopdf [`Document`] holding just those objects, with the file's trailer, its
//! cross-reference table and `xref_start`, which is all `sign` and `update` read. Whatever it
//! does not read cleanly — a damaged cross-reference table, any listed object that is not
//! where the table says, an encrypted file, a stream whose `/Length` is wrong, more objects
//! than the limits allow — makes it answer `None`, and the caller loads the whole file with
//! lopdf, which then accepts or refuses it as it always did.

use std::collections::{BTreeMap, HashSet};

use lopdf::xref::{Xref, XrefEntry, XrefType};
use lopdf::{Dictionary, Document, Object, ObjectId, ObjectStream, Stream};

use super::limits::{self, Limits};
use super::syntax::Parser;
use crate::FormatError;

/// lopdf's bound on chained references (`Document::DEREF_LIMIT` is private).
const MAX_REFERENCE_CHAIN: usize = 128;
/// lopdf's bound on the depth of the page tree it walks.
const MAX_PAGE_TREE_DEPTH: usize = 256;
/// At most this many cross-reference sections (incremental updates) are followed.
const MAX_SECTIONS: usize = 10_000;
/// `existing_fields` reads at most this many top-level fields.
const MAX_FIELDS: usize = 100_000;

/// [`limits::load`] for an update that reads only the catalog, the form, the permissions and the first
/// page (no appearance): just those objects are read when the file's structure is clean (see
/// [`read`]), the whole file otherwise. Accepts and refuses the same files as [`limits::load`].
pub(crate) fn load_for_update(bytes: &[u8], limits: &Limits) -> Result<Document, FormatError> {
    limits::check_bytes(bytes, limits)?;
    match read(bytes, limits) {
        Some(doc) => {
            limits::check_document(&doc, limits)?;
            Ok(doc)
        }
        None => limits::load(bytes, limits),
    }
}

/// The document an incremental update of `bytes` needs, or `None` if the whole file must be
/// loaded (see the module documentation).
pub(crate) fn read(bytes: &[u8], limits: &Limits) -> Option<Document> {
    let mut reader = Reader {
        bytes,
        limits,
        doc: Document::new(),
        loading: HashSet::new(),
        object_streams: BTreeMap::new(),
        in_use: 0,
    };
    reader.cross_references().ok()?;
    let first_page = reader.walk().ok()?;
    // lopdf's own page walk over what was read must find the same first page.
    let same = reader.doc.page_iter().next() == first_page;
    same.then_some(reader.doc)
}

/// Gives up: the caller loads the file with lopdf.
struct GiveUp;

type Step<T = ()> = Result<T, GiveUp>;

impl From<super::syntax::SyntaxError> for GiveUp {
    fn from(_: super::syntax::SyntaxError) -> GiveUp {
        GiveUp
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    limits: &'a Limits,
    /// The objects read so far, the trailer and the cross-reference table.
    doc: Document,
    /// Objects being read (a stream's `/Length` may refer to another object).
    loading: HashSet<ObjectId>,
    /// Decoded object streams, by object number.
    object_streams: BTreeMap<u32, BTreeMap<ObjectId, Object>>,
    /// Objects the table lists as in use.
    in_use: usize,
}

impl Reader<'_> {
    /// The cross-reference table of the whole file: the newest section's entries win, a
    /// hybrid file's `/XRefStm` stream fills its table's free entries (ISO 32000-1 §7.5.8.4).
    fn cross_references(&mut self) -> Step {
        let version = self.bytes.get(5..).and_then(|rest| {
            let end = rest
                .iter()
                .position(|c| !(c.is_ascii_digit() || *c == b'.'))?;
            std::str::from_utf8(rest.get(..end)?).ok()
        });
        self.doc.version = version.filter(|v| !v.is_empty()).ok_or(GiveUp)?.to_string();
        let start = start_xref(self.bytes).ok_or(GiveUp)?;
        let (mut xref, mut trailer) = self.section(start)?;
        if trailer.has(b"Encrypt") {
            return Err(GiveUp);
        }
        self.hybrid(&mut xref, &mut trailer)?;
        let mut seen = HashSet::from([start]);
        let mut prev = trailer.remove(b"Prev");
        while let Some(offset) = prev {
            let offset = offset_of(&offset)?;
            if !seen.insert(offset) {
                break; // a cycle ends the chain, as in lopdf
            }
            if seen.len() > MAX_SECTIONS {
                return Err(GiveUp);
            }
            let (mut older, mut older_trailer) = self.section(offset)?;
            self.hybrid(&mut older, &mut older_trailer)?;
            xref.merge(older);
            prev = older_trailer.remove(b"Prev");
        }
        let in_use = xref
            .entries
            .values()
            .filter(|e| e.is_normal() || e.is_compressed())
            .count();
        if in_use > self.limits.max_objects {
            return Err(GiveUp);
        }
        self.in_use = in_use;
        xref.size = xref.max_id().checked_add(1).ok_or(GiveUp)?;
        self.check_entries(&xref)?;
        self.doc.max_id = xref.size.saturating_sub(1);
        self.doc.reference_table = xref;
        self.doc.trailer = trailer;
        self.doc.xref_start = start;
        Ok(())
    }

    /// Every object the table lists is where it says: lopdf rebuilds a table many of whose
    /// entries miss (and `limits` then refuses the file), so this reader decides nothing about
    /// such a table. Reading `n g obj` at each offset costs little next to parsing the objects.
    fn check_entries(&self, xref: &Xref) -> Step {
        for (&n, entry) in &xref.entries {
            match *entry {
                XrefEntry::Normal { offset, generation } => {
                    let mut p = Parser::new(self.bytes, offset as usize);
                    if p.object_header()? != (n, generation) {
                        return Err(GiveUp);
                    }
                }
                XrefEntry::Compressed { container, .. } => {
                    if !matches!(xref.get(container), Some(XrefEntry::Normal { .. })) {
                        return Err(GiveUp);
                    }
                }
                XrefEntry::Free | XrefEntry::UnusableFree => {}
            }
        }
        Ok(())
    }

    /// Merges the stream a hybrid-reference section names with `/XRefStm`.
    fn hybrid(&mut self, xref: &mut Xref, trailer: &mut Dictionary) -> Step {
        if let Some(at) = trailer.remove(b"XRefStm") {
            let (stream_xref, _) = self.section(offset_of(&at)?)?;
            xref.merge_hybrid(stream_xref);
        }
        Ok(())
    }

    /// The cross-reference section at `offset`: a table and its trailer (§7.5.4, §7.5.5) or a
    /// cross-reference stream (§7.5.8).
    fn section(&mut self, offset: usize) -> Step<(Xref, Dictionary)> {
        let mut p = Parser::new(self.bytes, offset);
        if self
            .bytes
            .get(offset..)
            .is_some_and(|b| b.starts_with(b"xref"))
        {
            return self.table(p);
        }
        p.object_header()?;
        let Object::Stream(stream) = self.object_body(&mut p)? else {
            return Err(GiveUp);
        };
        if !stream.dict.has_type(b"XRef") {
            return Err(GiveUp);
        }
        self.xref_stream(stream)
    }

    fn table(&self, mut p: Parser<'_>) -> Step<(Xref, Dictionary)> {
        let mut xref = Xref::new(0, XrefType::CrossReferenceTable);
        for (first, entries) in p.xref_table()? {
            for (i, (offset, generation, in_use)) in entries.into_iter().enumerate() {
                let entry = match (in_use, u16::try_from(generation)) {
                    (false, _) => XrefEntry::Free,
                    (true, Ok(generation)) => XrefEntry::Normal { offset, generation },
                    (true, Err(_)) => continue, // as lopdf: such an entry is skipped
                };
                let id = first
                    .checked_add(i as u64)
                    .and_then(|id| u32::try_from(id).ok())
                    .ok_or(GiveUp)?;
                xref.insert(id, entry);
            }
        }
        let trailer = match p.object()? {
            Object::Dictionary(trailer) => trailer,
            _ => return Err(GiveUp),
        };
        // lopdf cannot read a table whose trailer has no /Size.
        trailer
            .get(b"Size")
            .and_then(Object::as_i64)
            .map_err(|_| GiveUp)?;
        Ok((xref, trailer))
    }

    fn xref_stream(&self, stream: Stream) -> Step<(Xref, Dictionary)> {
        let data = stream
            .decompressed_content_with_limit(self.limits.max_decompressed_stream)
            .map_err(|_| GiveUp)?;
        let dict = stream.dict;
        let ints = |key: &[u8]| -> Option<Vec<u64>> {
            dict.get(key)
                .ok()?
                .as_array()
                .ok()?
                .iter()
                .map(|o| o.as_i64().ok().and_then(|v| u64::try_from(v).ok()))
                .collect()
        };
        let size = dict
            .get(b"Size")
            .and_then(Object::as_i64)
            .map_err(|_| GiveUp)?;
        let size = u64::try_from(size).map_err(|_| GiveUp)?;
        let widths = ints(b"W").ok_or(GiveUp)?;
        let [w0, w1, w2] = widths.as_slice() else {
            return Err(GiveUp);
        };
        let widths = [*w0, *w1, *w2].map(|w| usize::try_from(w).unwrap_or(usize::MAX));
        if widths.iter().any(|&w| w > 8) || widths.iter().sum::<usize>() == 0 {
            return Err(GiveUp);
        }
        let index = match dict.get(b"Index") {
            Ok(_) => ints(b"Index").ok_or(GiveUp)?,
            Err(_) => vec![0, size],
        };
        let mut xref = Xref::new(0, XrefType::CrossReferenceStream);
        let mut fields = data.chunks_exact(widths.iter().sum());
        let field = |bytes: &[u8], at: usize, len: usize| -> u64 {
            let start: usize = widths.iter().take(at).sum();
            bytes
                .get(start..start + len)
                .unwrap_or_default()
                .iter()
                .fold(0u64, |v, &b| (v << 8) | u64::from(b))
        };
        for run in index.chunks(2) {
            let [first, count] = run else {
                return Err(GiveUp);
            };
            for i in 0..*count {
                let entry = fields.next().ok_or(GiveUp)?;
                // A missing type field means type 1 (§7.5.8.2 table 17).
                let kind = if widths[0] == 0 {
                    1
                } else {
                    field(entry, 0, widths[0])
                };
                let (a, b) = (field(entry, 1, widths[1]), field(entry, 2, widths[2]));
                let id = first
                    .checked_add(i)
                    .and_then(|id| u32::try_from(id).ok())
                    .ok_or(GiveUp)?;
                let entry = match kind {
                    0 => XrefEntry::Free,
                    1 => XrefEntry::Normal {
                        offset: u32::try_from(a).map_err(|_| GiveUp)?,
                        generation: u16::try_from(b).map_err(|_| GiveUp)?,
                    },
                    2 => XrefEntry::Compressed {
                        container: u32::try_from(a).map_err(|_| GiveUp)?,
                        index: u16::try_from(b).map_err(|_| GiveUp)?,
                    },
                    _ => continue, // a null reference (§7.5.8.3)
                };
                xref.insert(id, entry);
            }
        }
        Ok((xref, dict))
    }

    /// The body of the indirect object whose header `p` has just read: a direct object, or a
    /// dictionary and its stream data.
    fn object_body(&mut self, p: &mut Parser<'_>) -> Step<Object> {
        let object = p.object()?;
        let Object::Dictionary(dict) = object else {
            return Ok(object);
        };
        if !p.stream_keyword() {
            return Ok(Object::Dictionary(dict));
        }
        let length = match dict.get(b"Length") {
            Ok(Object::Reference(id)) => {
                let id = *id;
                self.load(id)?;
                self.doc.objects.get(&id).and_then(|o| o.as_i64().ok())
            }
            Ok(o) => o.as_i64().ok(),
            Err(_) => None,
        };
        let length = length.and_then(|l| usize::try_from(l).ok()).ok_or(GiveUp)?;
        Ok(Object::Stream(p.stream_data(dict, length)?))
    }

    /// Reads object `id` into the document (with the objects a reference chain from it leads
    /// to); an object the table lists as free stays absent, as in lopdf.
    fn load(&mut self, id: ObjectId) -> Step {
        let mut id = id;
        for _ in 0..MAX_REFERENCE_CHAIN {
            if let Some(object) = self.doc.objects.get(&id) {
                match object.as_reference() {
                    Ok(next) => id = next,
                    Err(_) => return Ok(()),
                }
                continue;
            }
            if !self.loading.insert(id) {
                return Err(GiveUp); // a stream whose /Length leads back to itself
            }
            let object = self.read_object(id);
            self.loading.remove(&id);
            let Some(object) = object? else {
                return Ok(());
            };
            let next = object.as_reference().ok();
            self.doc.objects.insert(id, object);
            match next {
                Some(next) => id = next,
                None => return Ok(()),
            }
        }
        Err(GiveUp)
    }

    fn read_object(&mut self, id: ObjectId) -> Step<Option<Object>> {
        match self.doc.reference_table.get(id.0).cloned() {
            Some(XrefEntry::Normal { offset, generation }) if generation == id.1 => {
                let mut p = Parser::new(self.bytes, offset as usize);
                if p.object_header()? != id {
                    return Err(GiveUp);
                }
                self.object_body(&mut p).map(Some)
            }
            Some(XrefEntry::Compressed { container, .. }) if id.1 == 0 => {
                self.compressed(container, id).map(Some)
            }
            Some(XrefEntry::Free | XrefEntry::UnusableFree) => Ok(None),
            // Not in the table, or another generation: lopdf's lenient loading might still
            // find it somewhere.
            _ => Err(GiveUp),
        }
    }

    fn compressed(&mut self, container: u32, id: ObjectId) -> Step<Object> {
        if !self.object_streams.contains_key(&container) {
            let stream = match self.doc.reference_table.get(container).cloned() {
                Some(XrefEntry::Normal {
                    offset,
                    generation: 0,
                }) => {
                    let mut p = Parser::new(self.bytes, offset as usize);
                    if p.object_header()? != (container, 0) {
                        return Err(GiveUp);
                    }
                    match self.object_body(&mut p)? {
                        Object::Stream(s) if s.dict.has_type(b"ObjStm") => s,
                        _ => return Err(GiveUp),
                    }
                }
                _ => return Err(GiveUp),
            };
            let objects =
                ObjectStream::new_with_limit(&stream, Some(self.limits.max_decompressed_stream))
                    .map_err(|_| GiveUp)?
                    .objects;
            self.object_streams.insert(container, objects);
        }
        self.object_streams
            .get(&container)
            .and_then(|objects| objects.get(&id))
            .cloned()
            .ok_or(GiveUp)
    }

    /// Loads the object `value` refers to, if it is a reference; answers it resolved.
    fn follow(&mut self, value: &Object) -> Step<Option<Object>> {
        match value {
            Object::Reference(id) => {
                self.load(*id)?;
                Ok(self.doc.get_object(*id).ok().cloned())
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn follow_dict(&mut self, value: &Object) -> Step<Option<Dictionary>> {
        Ok(self.follow(value)?.and_then(|o| match o {
            Object::Dictionary(d) => Some(d),
            _ => None,
        }))
    }

    /// Loads what `sign::prepare_kind` and `limits` read: the catalog, the form's fields, the
    /// DocMDP chain, the first page and its annotations. Answers the first page.
    fn walk(&mut self) -> Step<Option<ObjectId>> {
        let root = self.doc.trailer.get(b"Root").and_then(Object::as_reference);
        let root = root.map_err(|_| GiveUp)?;
        let catalog = self.follow_dict(&Object::Reference(root))?.ok_or(GiveUp)?;
        if let Ok(form) = catalog.get(b"AcroForm")
            && let Some(form) = self.follow_dict(form)?
            && let Ok(fields) = form.get(b"Fields")
            && let Some(Object::Array(fields)) = self.follow(fields)?
        {
            for field in fields.iter().take(MAX_FIELDS) {
                self.follow(field)?;
            }
        }
        if let Ok(perms) = catalog.get(b"Perms")
            && let Some(perms) = self.follow_dict(perms)?
            && let Ok(docmdp) = perms.get(b"DocMDP")
            && let Some(sig) = self.follow_dict(docmdp)?
            && let Ok(references) = sig.get(b"Reference")
            && let Some(Object::Array(references)) = self.follow(references)?
        {
            for reference in &references {
                if let Some(reference) = self.follow_dict(reference)?
                    && let Ok(params) = reference.get(b"TransformParams")
                {
                    self.follow(params)?;
                }
            }
        }
        let pages = catalog.get(b"Pages").and_then(Object::as_reference);
        let pages = pages.map_err(|_| GiveUp)?;
        let first = self.first_page(pages)?;
        if let Some(page) = first
            && let Some(page) = self.follow_dict(&Object::Reference(page))?
            && let Ok(annots) = page.get(b"Annots")
        {
            self.follow(annots)?;
        }
        Ok(first)
    }

    /// Loads the page-tree nodes lopdf's `page_iter` visits before it yields the first page,
    /// and answers that page.
    fn first_page(&mut self, pages: ObjectId) -> Step<Option<ObjectId>> {
        let mut stack: Vec<Vec<Object>> = Vec::new();
        let mut kids = self.kids(pages)?;
        // lopdf stops after as many kids as the document has objects (a tree that is its own
        // kid would never end).
        let mut visits = self.in_use;
        loop {
            while let Some((kid, rest)) = kids.split_first() {
                if visits == 0 {
                    return Ok(None);
                }
                visits -= 1;
                let (kid, rest) = (kid.clone(), rest.to_vec());
                kids = rest;
                let Ok(kid) = kid.as_reference() else {
                    continue;
                };
                let node = self.follow_dict(&Object::Reference(kid))?;
                match node.as_ref().map(Dictionary::get_type) {
                    Some(Ok(b"Page")) => return Ok(Some(kid)),
                    Some(Ok(b"Pages")) if stack.len() < MAX_PAGE_TREE_DEPTH => {
                        if !kids.is_empty() {
                            stack.push(std::mem::take(&mut kids));
                        }
                        kids = self.kids(kid)?;
                    }
                    Some(Ok(_)) => {}
                    // A kid that is no dictionary with a type counts as a page in lopdf.
                    _ => return Ok(Some(kid)),
                }
            }
            match stack.pop() {
                Some(k) => kids = k,
                None => return Ok(None),
            }
        }
    }

    fn kids(&mut self, node: ObjectId) -> Step<Vec<Object>> {
        let Some(node) = self.follow_dict(&Object::Reference(node))? else {
            return Ok(Vec::new());
        };
        match node.get(b"Kids") {
            Ok(kids) => Ok(match self.follow(kids)? {
                Some(Object::Array(kids)) => kids,
                _ => Vec::new(),
            }),
            Err(_) => Ok(Vec::new()),
        }
    }
}

fn offset_of(value: &Object) -> Step<usize> {
    value
        .as_i64()
        .ok()
        .and_then(|v| usize::try_from(v).ok())
        .ok_or(GiveUp)
}

/// The offset after the last `startxref` (§7.5.5), found as lopdf finds it: `%%EOF` within
/// the last 1024 bytes (trailing white space aside), `startxref` shortly before it.
fn start_xref(bytes: &[u8]) -> Option<usize> {
    let end = bytes
        .iter()
        .rposition(|c| !b" \t\n\r\0\x0C".contains(c))
        .map_or(0, |p| p + 1);
    let tail_from = end.saturating_sub(1024);
    let eof = rfind(bytes.get(tail_from..end)?, b"%%EOF")? + tail_from;
    let from = eof.checked_sub(25)?;
    let at = rfind(bytes.get(from..eof)?, b"startxref")? + from;
    let offset = Parser::new(bytes, at).startxref()?;
    usize::try_from(offset).ok().filter(|&o| o < bytes.len())
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::pdf::limits;
    use crate::pdf::sign::{self, AppearanceHook, SignOptions};

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf");
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        out.sort();
        assert!(out.len() >= 5);
        out
    }

    fn signed(pdf: &[u8], name: &str, certify: Option<sign::DocMdp>) -> Vec<u8> {
        let mut options = SignOptions::new(name, 1_796_305_760);
        options.certify = certify;
        let update = sign::sign_pdf(pdf, &options, None, |_| Ok(vec![0x30; 600])).unwrap();
        update.to_vec()
    }

    /// Every fixture, each once and twice signed (incremental updates in the file's own kind
    /// of cross-reference section) and certified (DocMDP), and a hybrid-reference file.
    fn cases() -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (name, pdf) in fixtures() {
            let once = signed(&pdf, "A", None);
            let twice = signed(&once, "B", None);
            let certified = signed(&pdf, "C", Some(sign::DocMdp::FormFillAndSign));
            let locked = signed(&pdf, "D", Some(sign::DocMdp::NoChanges));
            out.push((format!("{name}, certified with no changes allowed"), locked));
            out.push((name.clone(), pdf));
            out.push((format!("{name}, signed"), once));
            out.push((format!("{name}, signed twice"), twice));
            out.push((format!("{name}, certified"), certified));
        }
        out.push(("hybrid".into(), hybrid()));
        out
    }

    #[test]
    fn what_it_reads_is_what_lopdf_loads() {
        for (name, pdf) in cases() {
            let part = read(&pdf, &Limits::default()).unwrap_or_else(|| panic!("{name}: gave up"));
            let full = limits::load(&pdf, &Limits::default()).unwrap();
            assert!(!part.objects.is_empty());
            for (id, object) in &part.objects {
                assert_eq!(Some(object), full.objects.get(id), "{name}: object {id:?}");
            }
            for key in [&b"Root"[..], b"Info", b"ID", b"Size", b"Encrypt"] {
                assert_eq!(
                    part.trailer.get(key).ok(),
                    full.trailer.get(key).ok(),
                    "{name}"
                );
            }
            assert_eq!(part.xref_start, full.xref_start, "{name}");
            assert_eq!(part.max_id, full.max_id, "{name}");
            assert_eq!(
                format!("{:?}", part.reference_table),
                format!("{:?}", full.reference_table),
                "{name}"
            );
            assert_eq!(part.page_iter().next(), full.page_iter().next(), "{name}");
        }
    }

    #[test]
    fn the_update_is_the_same_as_with_the_whole_file_loaded() {
        // A hook that places nothing makes `prepare` load the whole file.
        let nothing: &AppearanceHook<'_> = &|_| Ok(Vec::new());
        for (name, pdf) in cases() {
            for certify in [None, Some(sign::DocMdp::FormFillAndSign)] {
                let mut options = SignOptions::new("Nguyễn Văn A", 1_796_305_760);
                options.certify = certify;
                let fast = sign::prepare(&pdf, &options, None);
                let whole = sign::prepare(&pdf, &options, Some(nothing));
                match (fast, whole) {
                    (Ok(fast), Ok(whole)) => {
                        assert_eq!(fast.digest(), whole.digest(), "{name} {certify:?}");
                    }
                    (Err(fast), Err(whole)) => {
                        assert_eq!(fast.to_string(), whole.to_string(), "{name} {certify:?}")
                    }
                    (fast, whole) => panic!("{name} {certify:?}: {fast:?} vs {whole:?}"),
                }
            }
        }
    }

    #[test]
    fn a_large_document_costs_a_few_objects() {
        let (_, pdf) = fixtures()
            .into_iter()
            .find(|(n, _)| n == "quyet-dinh-libreoffice")
            .unwrap();
        let part = read(&pdf, &Limits::default()).unwrap();
        let full = limits::load(&pdf, &Limits::default()).unwrap();
        // Catalog, page tree, first page (no form, no annotations yet).
        assert!(part.objects.len() <= 4, "{:?}", part.objects.keys());
        assert!(full.objects.len() > 20);
    }

    #[test]
    fn damage_sends_the_file_to_lopdf_which_decides() {
        let (_, pdf) = fixtures()
            .into_iter()
            .find(|(n, _)| n == "quyet-dinh-libreoffice")
            .unwrap();
        // startxref off by a few bytes; objects moved; a table without its end of line.
        let at = rfind(&pdf, b"startxref").unwrap();
        let mut wrong_start = pdf.clone();
        let digit = at + "startxref\n".len();
        wrong_start[digit] = if wrong_start[digit] == b'1' {
            b'2'
        } else {
            b'1'
        };
        let mut shifted = pdf.clone();
        shifted.splice(20..20, b"%%%%%%%%\n".iter().copied());
        let mut no_eol = pdf.clone();
        let xref = rfind(&pdf, b"\nxref").unwrap() + 1;
        no_eol[xref + 4] = b' ';
        for (what, bad) in [
            ("a wrong startxref", wrong_start),
            ("shifted objects", shifted),
            ("a damaged table", no_eol),
        ] {
            assert!(read(&bad, &Limits::default()).is_none(), "{what}");
            let fast = load_for_update(&bad, &Limits::default()).map(|_| ());
            let whole = limits::load(&bad, &Limits::default()).map(|_| ());
            assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{what}");
        }
        let limits = Limits {
            max_objects: 5,
            ..Limits::default()
        };
        assert!(read(&pdf, &limits).is_none(), "over the object limit");
    }

    /// A PDF of `objects` (numbered from 1, the first the catalog) with a classic table.
    fn hand_pdf(objects: &[&str]) -> Vec<u8> {
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let table = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{table}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    #[test]
    fn hostile_structures_end_and_are_judged_alike() {
        for (what, objects) in [
            (
                "a page tree that is its own kid",
                vec![
                    "<< /Type /Catalog /Pages 2 0 R >>",
                    "<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
                ],
            ),
            (
                "a reference chain that loops",
                vec!["<< /Type /Catalog /Pages 2 0 R >>", "3 0 R", "2 0 R"],
            ),
            (
                "a stream whose length is itself",
                vec![
                    "<< /Type /Catalog /Pages 2 0 R >>",
                    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    "<< /Type /Page /Annots 4 0 R >>",
                    "<< /Length 4 0 R >>\nstream\nabc\nendstream",
                ],
            ),
        ] {
            let pdf = hand_pdf(&objects);
            let fast = load_for_update(&pdf, &Limits::default()).map(|_| ());
            let whole = limits::load(&pdf, &Limits::default()).map(|_| ());
            assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{what}");
        }
    }

    /// A hybrid-reference file (ISO 32000-1 §7.5.8.4): the table lists the page's annotation
    /// array (object 5) as free; the stream named by `/XRefStm` puts it in object stream 4.
    fn hybrid() -> Vec<u8> {
        let mut pdf = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        let mut obj = |pdf: &mut Vec<u8>, body: &[u8]| {
            offsets.push(pdf.len());
            pdf.extend_from_slice(body);
        };
        obj(
            &mut pdf,
            b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        );
        obj(
            &mut pdf,
            b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        );
        obj(
            &mut pdf,
            b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots 5 0 R >>\nendobj\n",
        );
        let objstm = b"5 0 [ ]";
        obj(
            &mut pdf,
            &[
                format!(
                    "4 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Length {} >>\nstream\n",
                    objstm.len()
                )
                .as_bytes(),
                objstm,
                b"\nendstream\nendobj\n",
            ]
            .concat(),
        );
        let xref_stream_at = pdf.len();
        let entries = [2u8, 0, 4, 0];
        pdf.extend_from_slice(
            format!(
                "6 0 obj\n<< /Type /XRef /Size 7 /W [1 2 1] /Index [5 1] /Length {} >>\nstream\n",
                entries.len()
            )
            .as_bytes(),
        );
        pdf.extend_from_slice(&entries);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        let table_at = pdf.len();
        pdf.extend_from_slice(b"xref\n0 7\n0000000000 65535 f\r\n");
        for o in &offsets {
            pdf.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes());
        }
        pdf.extend_from_slice(b"0000000000 00001 f\r\n");
        pdf.extend_from_slice(format!("{xref_stream_at:010} 00000 n\r\n").as_bytes());
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size 7 /Root 1 0 R /XRefStm {xref_stream_at} >>\nstartxref\n{table_at}\n%%EOF\n"
            )
            .as_bytes(),
        );
        pdf
    }

    #[test]
    fn a_hybrid_file_finds_its_compressed_objects() {
        let pdf = hybrid();
        let part = read(&pdf, &Limits::default()).unwrap();
        assert_eq!(part.objects.get(&(5, 0)), Some(&Object::Array(Vec::new())));
        let full = limits::load(&pdf, &Limits::default()).unwrap();
        assert_eq!(full.objects.get(&(5, 0)), Some(&Object::Array(Vec::new())));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A damaged byte anywhere: no panic, and when this reader still reads the file, the
        /// update is the one the whole-file path makes (or both refuse alike).
        #[test]
        fn damage_anywhere_changes_nothing_it_decides(
            which in 0usize..3,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            byte in proptest::prelude::any::<u8>(),
        ) {
            let names = ["quyet-dinh-libreoffice", "quyet-dinh-objstm", "quyet-dinh-linearized"];
            let (_, mut pdf) = fixtures().into_iter().find(|(n, _)| n == names[which]).unwrap();
            let at = at.index(pdf.len());
            pdf[at] = byte;
            if read(&pdf, &Limits::default()).is_some() {
                let nothing: &AppearanceHook<'_> = &|_| Ok(Vec::new());
                let options = SignOptions::new("A", 1_796_305_760);
                let fast = sign::prepare(&pdf, &options, None).map(|p| p.digest());
                let whole = sign::prepare(&pdf, &options, Some(nothing)).map(|p| p.digest());
                proptest::prop_assert_eq!(
                    format!("{fast:?}"), format!("{whole:?}"), "byte {} at {}", byte, at
                );
            }
        }
    }
}
