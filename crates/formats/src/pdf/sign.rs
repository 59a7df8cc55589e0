//! PAdES baseline B-B signatures (ETSI EN 319 142-1 §5.3, §6.3) as an incremental update: a
//! signature field, its widget(s) and a signature dictionary with `/SubFilter
//! /ETSI.CAdES.detached`, whose `/Contents` holds the CMS over the two byte ranges around it
//! (ISO 32000-1 §12.8.1). Document timestamps ([`super::doc_timestamp`]) use the same machinery.
//!
//! The original bytes are borrowed, never copied or rewritten: the result is the bytes to
//! append ([`SignedUpdate`]), which the caller writes after the original.
//!
//! Two ways in: [`sign_pdf`] with a closure that answers the CMS for the digest at once, or
//! [`prepare`] → [`PreparedSignature::digest`] → (sign elsewhere, e.g. after a remote approval)
//! → [`PreparedSignature::embed`]. Preparing is deterministic (same file, options and
//! appearance, same bytes), so a caller may prepare again when the CMS arrives instead of
//! keeping the prepared update.

use std::io::Write;

use lopdf::{Dictionary, IncrementalDocument, Object, ObjectId, StringFormat, Writer};
use sha2::Digest;
use tessera_hsm::HashAlg;

use super::PlacedAppearance;
use super::limits::{self, Limits};
use super::update::{self, RawObject};
use crate::FormatError;

/// The appearance hook: builds the visible appearances into the new revision and answers where
/// they go (see `pdf::appearance`).
pub type AppearanceHook<'h> =
    dyn Fn(&mut IncrementalDocument) -> Result<Vec<PlacedAppearance>, FormatError> + 'h;

/// Bytes reserved for the CMS by default: a signature with a chain of three RSA-4096
/// certificates, a signature timestamp with its TSA chain, and room to spare.
pub const DEFAULT_CONTENTS_SIZE: usize = 24 * 1024;

/// Certification (ISO 32000-1 §12.8.2.2, DocMDP): which changes keep the document certified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocMdp {
    /// P=1: no changes at all.
    NoChanges,
    /// P=2: filling in forms, instantiating templates and signing.
    FormFillAndSign,
    /// P=3: as P=2, plus annotations.
    FormFillSignAndAnnotate,
}

impl DocMdp {
    pub fn p(self) -> i64 {
        match self {
            DocMdp::NoChanges => 1,
            DocMdp::FormFillAndSign => 2,
            DocMdp::FormFillSignAndAnnotate => 3,
        }
    }
}

/// What goes into the signature dictionary and how big it may be.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// The hash of the byte ranges, handed to the signing closure.
    pub hash: HashAlg,
    /// Bytes reserved for the CMS (`/Contents` holds twice as many hex digits).
    pub contents_size: usize,
    /// Signing time for `/M`, in seconds since the Unix epoch (PAdES puts it here, not in a
    /// signing-time attribute: EN 319 142-1 §5.3).
    pub signing_time: i64,
    /// The offset of the local time written in `/M`, in minutes east of UTC (Vietnam: 420).
    pub utc_offset_minutes: i32,
    /// `/Name`: the signer's name.
    pub name: String,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub contact_info: Option<String>,
    /// The signature field's name (`/T`); by default the first free `SignatureN`.
    pub field_name: Option<String>,
    /// Certify the document (only its first signature may).
    pub certify: Option<DocMdp>,
    pub limits: Limits,
}

impl SignOptions {
    /// SHA-256, [`DEFAULT_CONTENTS_SIZE`], Vietnam time, no reason, location or certification.
    pub fn new(name: impl Into<String>, signing_time: i64) -> SignOptions {
        SignOptions {
            hash: HashAlg::Sha256,
            contents_size: DEFAULT_CONTENTS_SIZE,
            signing_time,
            utc_offset_minutes: 7 * 60,
            name: name.into(),
            reason: None,
            location: None,
            contact_info: None,
            field_name: None,
            certify: None,
            limits: Limits::default(),
        }
    }
}

/// The kind of signature dictionary.
#[derive(Clone, Debug)]
pub(crate) enum SigKind<'o> {
    /// `/Type /Sig`, `/SubFilter /ETSI.CAdES.detached`.
    Cades(&'o SignOptions),
    /// `/Type /DocTimeStamp`, `/SubFilter /ETSI.RFC3161` (EN 319 142-1 §5.4).
    DocTimeStamp,
}

/// An update whose `/Contents` is still a placeholder: the digest to sign is known.
#[derive(Debug)]
pub struct PreparedSignature<'a> {
    original: &'a [u8],
    appended: Vec<u8>,
    /// The hex digits of `/Contents` in `appended` (between `<` and `>`).
    contents: std::ops::Range<usize>,
    hash: HashAlg,
}

/// A signed update: the original bytes followed by [`SignedUpdate::appended`] are the signed
/// PDF.
#[derive(Debug)]
pub struct SignedUpdate<'a> {
    original: &'a [u8],
    appended: Vec<u8>,
    byte_range: [u64; 4],
}

impl SignedUpdate<'_> {
    /// The bytes to write after the original.
    pub fn appended(&self) -> &[u8] {
        &self.appended
    }

    pub fn into_appended(self) -> Vec<u8> {
        self.appended
    }

    /// `/ByteRange` as written.
    pub fn byte_range(&self) -> [u64; 4] {
        self.byte_range
    }

    /// The whole signed PDF's length.
    pub fn len(&self) -> usize {
        self.original.len() + self.appended.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the signed PDF: the original, then the update.
    pub fn write_to<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        out.write_all(self.original)?;
        out.write_all(&self.appended)
    }

    /// The signed PDF in one buffer (a copy of the original: for tests and small files).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        v.extend_from_slice(self.original);
        v.extend_from_slice(&self.appended);
        v
    }
}

impl<'a> PreparedSignature<'a> {
    /// `/ByteRange`: everything but the `/Contents` hex string, `<` and `>` included.
    pub fn byte_range(&self) -> [u64; 4] {
        let base = self.original.len() as u64;
        let gap_start = base + self.contents.start as u64 - 1;
        let gap_end = base + self.contents.end as u64 + 1;
        let total = base + self.appended.len() as u64;
        [0, gap_start, gap_end, total - gap_end]
    }

    /// The hash of the two byte ranges (what the CMS message-digest attribute holds).
    pub fn digest(&self) -> Vec<u8> {
        let first = &self.appended[..self.contents.start - 1];
        let second = &self.appended[self.contents.end + 1..];
        fn run<D: Digest>(parts: [&[u8]; 3]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        let parts = [self.original, first, second];
        match self.hash {
            HashAlg::Sha256 => run::<sha2::Sha256>(parts),
            HashAlg::Sha384 => run::<sha2::Sha384>(parts),
            HashAlg::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The hash algorithm of [`Self::digest`].
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// Puts the CMS (or TimeStampToken) into `/Contents`.
    pub fn embed(mut self, der: &[u8]) -> Result<SignedUpdate<'a>, FormatError> {
        let room = self.contents.len() / 2;
        if der.len() > room {
            return Err(FormatError::TooLarge(format!(
                "the signature is {} bytes but only {room} bytes were reserved for it; sign \
                 again with a larger contents size",
                der.len()
            )));
        }
        if der.is_empty() {
            return Err(FormatError::Invalid("the signature is empty".into()));
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let slot = &mut self.appended[self.contents.clone()];
        for (i, b) in der.iter().enumerate() {
            slot[2 * i] = HEX[usize::from(b >> 4)];
            slot[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        let byte_range = self.byte_range();
        Ok(SignedUpdate {
            original: self.original,
            appended: self.appended,
            byte_range,
        })
    }
}

/// Signs `original` (PAdES B-B): prepares the update, hands the digest of the byte ranges to
/// `sign`, which answers the CMS `SignedData` DER (see `cades::sign_detached` with the PAdES
/// profile), and embeds it.
pub fn sign_pdf<'a>(
    original: &'a [u8],
    options: &SignOptions,
    appearance: Option<&AppearanceHook<'_>>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, FormatError>,
) -> Result<SignedUpdate<'a>, FormatError> {
    let prepared = prepare(original, options, appearance)?;
    let cms = sign(&prepared.digest())?;
    prepared.embed(&cms)
}

/// Builds the update with a placeholder signature; [`PreparedSignature::digest`] is then what
/// to sign.
pub fn prepare<'a>(
    original: &'a [u8],
    options: &SignOptions,
    appearance: Option<&AppearanceHook<'_>>,
) -> Result<PreparedSignature<'a>, FormatError> {
    prepare_kind(
        original,
        &options.limits,
        options.hash,
        options.contents_size,
        options.field_name.as_deref(),
        SigKind::Cades(options),
        appearance,
    )
}

pub(crate) fn prepare_kind<'a>(
    original: &'a [u8],
    limits: &Limits,
    hash: HashAlg,
    contents_size: usize,
    field_name: Option<&str>,
    kind: SigKind<'_>,
    appearance: Option<&AppearanceHook<'_>>,
) -> Result<PreparedSignature<'a>, FormatError> {
    if contents_size == 0 || contents_size > 1024 * 1024 {
        return Err(FormatError::Invalid(
            "the contents size must be between 1 byte and 1 MB".into(),
        ));
    }
    // Appearance hooks read any object of the page (content, resources, fonts): they get the
    // whole file; otherwise only what the update touches is read.
    let doc = match appearance {
        Some(_) => limits::load(original, limits)?,
        None => super::partial::load_for_update(original, limits)?,
    };
    let mut inc = update::incremental(doc);
    let root = update::root_id(inc.get_prev_documents())?;
    let existing = existing_fields(&inc, root);
    let certified = certification(&inc, root);
    if let SigKind::Cades(options) = &kind {
        if certified == Some(1) {
            return Err(FormatError::Unsupported(
                "the document is certified with no changes allowed (DocMDP P=1); it cannot be \
                 signed again"
                    .into(),
            ));
        }
        if options.certify.is_some() && (certified.is_some() || existing.signed > 0) {
            return Err(FormatError::Unsupported(
                "only the first signature of a document may certify it".into(),
            ));
        }
    }
    let name = match field_name {
        Some(n) if existing.names.iter().any(|e| e == n) => {
            return Err(FormatError::Invalid(format!(
                "the PDF already has a field named {n:?}"
            )));
        }
        Some(n) if n.is_empty() || n.contains('.') => {
            return Err(FormatError::Invalid(
                "a field name may not be empty or contain a period".into(),
            ));
        }
        Some(n) => n.to_string(),
        None => (1..)
            .map(|i| format!("Signature{i}"))
            .find(|n| !existing.names.contains(n))
            .unwrap_or_default(),
    };

    let placed = match appearance {
        Some(hook) => hook(&mut inc)?,
        None => Vec::new(),
    };
    let first_page = inc
        .get_prev_documents()
        .page_iter()
        .next()
        .ok_or_else(|| FormatError::Invalid("the PDF has no pages".into()))?;

    let sig_id = inc.new_document.new_object_id();
    let field_id = inc.new_document.new_object_id();
    let mut field = Dictionary::new();
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", lopdf::text_string(&name));
    field.set("V", Object::Reference(sig_id));
    let widget = |page: ObjectId, rect: [f32; 4], normal: Option<ObjectId>| {
        let mut w = Dictionary::new();
        w.set("Type", Object::Name(b"Annot".to_vec()));
        w.set("Subtype", Object::Name(b"Widget".to_vec()));
        w.set(
            "Rect",
            Object::Array(rect.iter().map(|&v| Object::Real(v)).collect()),
        );
        // Print (4) + Locked (128): shown when printed, not movable.
        w.set("F", 132);
        w.set("P", Object::Reference(page));
        if let Some(n) = normal {
            let mut ap = Dictionary::new();
            ap.set("N", Object::Reference(n));
            w.set("AP", ap);
        }
        w
    };
    let mut annotations: Vec<(ObjectId, ObjectId)> = Vec::new();
    match placed.as_slice() {
        [] => {
            field.extend(&widget(first_page, [0.0; 4], None));
            annotations.push((first_page, field_id));
        }
        [one] => {
            field.extend(&widget(one.page, one.rect, Some(one.normal)));
            annotations.push((one.page, field_id));
        }
        many => {
            let mut kids = Vec::new();
            for p in many {
                let mut w = widget(p.page, p.rect, Some(p.normal));
                w.set("Parent", Object::Reference(field_id));
                // /V is inherited from the field anyway (ISO 32000-1 §12.7.3.1 table 220);
                // poppler (22.12) reads it only from the widget when a field has several.
                w.set("V", Object::Reference(sig_id));
                let wid = inc.new_document.add_object(w);
                kids.push(Object::Reference(wid));
                annotations.push((p.page, wid));
            }
            field.set("Kids", Object::Array(kids));
        }
    }
    inc.new_document.set_object(field_id, field);
    for (page, annot) in annotations {
        update::push_to_array(&mut inc, page, b"Annots", Object::Reference(annot))?;
    }
    add_to_acroform(&mut inc, root, field_id)?;

    let sig_body = signature_dictionary(&kind, contents_size)?;
    if let SigKind::Cades(SignOptions {
        certify: Some(_), ..
    }) = &kind
    {
        // Keep other permissions (e.g. UR3) beside DocMDP (ISO 32000-1 §12.8.4).
        let mut perms = update::dict_in_revision(&mut inc, root)?
            .get(b"Perms")
            .ok()
            .cloned()
            .and_then(|p| {
                update::resolve(&inc, &p)
                    .and_then(|p| p.as_dict().ok())
                    .cloned()
            })
            .unwrap_or_default();
        perms.set("DocMDP", Object::Reference(sig_id));
        update::dict_in_revision(&mut inc, root)?.set("Perms", perms);
    }
    let appended = update::write_revision(
        original,
        &mut inc,
        &[RawObject {
            id: sig_id,
            body: sig_body.bytes,
        }],
    )?;
    let body_at = appended.raw_body_offsets.first().copied().unwrap_or(0);
    let contents = body_at + sig_body.contents.start..body_at + sig_body.contents.end;
    let byte_range_at = body_at + sig_body.byte_range_at;
    let mut prepared = PreparedSignature {
        original,
        appended: appended.bytes,
        contents,
        hash,
    };
    let br = prepared.byte_range();
    let text = format!("[{} {} {} {}]", br[0], br[1], br[2], br[3]);
    let slot = prepared
        .appended
        .get_mut(byte_range_at..byte_range_at + BYTE_RANGE_WIDTH)
        .ok_or_else(|| FormatError::Encoding("byte range placeholder".into()))?;
    if text.len() > slot.len() {
        return Err(FormatError::TooLarge(
            "the PDF is too large for a byte range".into(),
        ));
    }
    slot.fill(b' ');
    slot[..text.len()].copy_from_slice(text.as_bytes());
    Ok(prepared)
}

/// Width of the `/ByteRange` array placeholder: four numbers of up to 11 digits.
const BYTE_RANGE_WIDTH: usize = 2 + 4 * 12;

struct SigBody {
    bytes: Vec<u8>,
    /// The hex digits of `/Contents`.
    contents: std::ops::Range<usize>,
    /// Where the `/ByteRange` array placeholder starts.
    byte_range_at: usize,
}

/// The signature dictionary (ISO 32000-1 §12.8.1 table 252), written by hand so that the
/// placeholders sit at known offsets.
fn signature_dictionary(kind: &SigKind<'_>, contents_size: usize) -> Result<SigBody, FormatError> {
    let mut b: Vec<u8> = Vec::with_capacity(2 * contents_size + 512);
    let (ty, sub_filter) = match kind {
        SigKind::Cades(_) => ("Sig", "ETSI.CAdES.detached"),
        SigKind::DocTimeStamp => ("DocTimeStamp", "ETSI.RFC3161"),
    };
    b.extend_from_slice(
        format!("<</Type /{ty} /Filter /Adobe.PPKLite /SubFilter /{sub_filter} /ByteRange ")
            .as_bytes(),
    );
    let byte_range_at = b.len();
    b.extend(std::iter::repeat_n(b' ', BYTE_RANGE_WIDTH));
    b.extend_from_slice(b"\n/Contents <");
    let start = b.len();
    b.extend(std::iter::repeat_n(b'0', 2 * contents_size));
    let contents = start..b.len();
    b.extend_from_slice(b">");
    if let SigKind::Cades(o) = kind {
        let mut entry = |key: &str, value: Object| -> Result<(), FormatError> {
            b.extend_from_slice(format!("\n/{key} ").as_bytes());
            Writer::write_object(&mut b, &value).map_err(|e| FormatError::Encoding(e.to_string()))
        };
        entry(
            "M",
            Object::String(
                pdf_date(o.signing_time, o.utc_offset_minutes)?.into_bytes(),
                StringFormat::Literal,
            ),
        )?;
        entry("Name", lopdf::text_string(&o.name))?;
        for (key, value) in [
            ("Reason", &o.reason),
            ("Location", &o.location),
            ("ContactInfo", &o.contact_info),
        ] {
            if let Some(v) = value {
                entry(key, lopdf::text_string(v))?;
            }
        }
        if let Some(mdp) = o.certify {
            let mut params = Dictionary::new();
            params.set("Type", Object::Name(b"TransformParams".to_vec()));
            params.set("P", mdp.p());
            params.set("V", Object::Name(b"1.2".to_vec()));
            let mut reference = Dictionary::new();
            reference.set("Type", Object::Name(b"SigRef".to_vec()));
            reference.set("TransformMethod", Object::Name(b"DocMDP".to_vec()));
            reference.set("TransformParams", params);
            entry(
                "Reference",
                Object::Array(vec![Object::Dictionary(reference)]),
            )?;
        }
    }
    b.extend_from_slice(b">>");
    Ok(SigBody {
        bytes: b,
        contents,
        byte_range_at,
    })
}

/// A PDF date (ISO 32000-1 §7.9.4): `D:YYYYMMDDHHmmSS+HH'mm'`.
pub(crate) fn pdf_date(unix: i64, offset_minutes: i32) -> Result<String, FormatError> {
    if !(-14 * 60..=14 * 60).contains(&offset_minutes) {
        return Err(FormatError::Invalid("UTC offset out of range".into()));
    }
    let local = unix + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(FormatError::Invalid("signing time out of range".into()));
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    Ok(format!(
        "D:{y:04}{m:02}{d:02}{:02}{:02}{:02}{sign}{:02}'{:02}'",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    ))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(crate) struct ExistingFields {
    pub names: Vec<String>,
    /// Signature fields that hold a signature.
    pub signed: usize,
}

/// The top-level field names and the number of signed signature fields.
pub(crate) fn existing_fields(inc: &IncrementalDocument, root: ObjectId) -> ExistingFields {
    let mut out = ExistingFields {
        names: Vec::new(),
        signed: 0,
    };
    let prev = inc.get_prev_documents();
    let fields = prev
        .get_dictionary(root)
        .ok()
        .and_then(|c| c.get(b"AcroForm").ok())
        .and_then(|a| update::resolve(inc, a))
        .and_then(|a| a.as_dict().ok())
        .and_then(|a| a.get(b"Fields").ok())
        .and_then(|f| update::resolve(inc, f))
        .and_then(|f| f.as_array().ok());
    for f in fields.into_iter().flatten().take(100_000) {
        let Some(Ok(field)) = update::resolve(inc, f).map(Object::as_dict) else {
            continue;
        };
        if let Ok(Object::String(t, _)) = field.get(b"T") {
            out.names.push(
                lopdf::decode_text_string(&Object::String(t.clone(), StringFormat::Literal))
                    .unwrap_or_default(),
            );
        }
        if matches!(field.get(b"FT"), Ok(Object::Name(n)) if n == b"Sig") && field.has(b"V") {
            out.signed += 1;
        }
    }
    out
}

/// The DocMDP `P` of a certified document.
fn certification(inc: &IncrementalDocument, root: ObjectId) -> Option<i64> {
    let prev = inc.get_prev_documents();
    let sig = prev
        .get_dictionary(root)
        .ok()?
        .get(b"Perms")
        .ok()
        .and_then(|p| update::resolve(inc, p))?
        .as_dict()
        .ok()?
        .get(b"DocMDP")
        .ok()
        .and_then(|s| update::resolve(inc, s))?
        .as_dict()
        .ok()?;
    let p = sig
        .get(b"Reference")
        .ok()
        .and_then(|r| r.as_array().ok())
        .and_then(|refs| {
            refs.iter().find_map(|r| {
                update::resolve(inc, r)?
                    .as_dict()
                    .ok()?
                    .get(b"TransformParams")
                    .ok()
                    .and_then(|t| update::resolve(inc, t))?
                    .as_dict()
                    .ok()?
                    .get(b"P")
                    .ok()?
                    .as_i64()
                    .ok()
            })
        });
    // P defaults to 2 (ISO 32000-1 §12.8.2.2 table 254).
    Some(p.unwrap_or(2))
}

/// Adds the field to the interactive form (creating it if absent) and sets `/SigFlags 3`
/// (SignaturesExist | AppendOnly, ISO 32000-1 §12.7.2 table 219).
fn add_to_acroform(
    inc: &mut IncrementalDocument,
    root: ObjectId,
    field_id: ObjectId,
) -> Result<(), FormatError> {
    let current = update::dict_in_revision(inc, root)?
        .get(b"AcroForm")
        .ok()
        .cloned();
    let form_id = match current {
        Some(Object::Reference(id)) => id,
        Some(Object::Dictionary(direct)) => {
            // Move a direct form into its own object; the catalog then refers to it.
            let id = inc.new_document.add_object(direct);
            update::dict_in_revision(inc, root)?.set("AcroForm", Object::Reference(id));
            id
        }
        _ => {
            let id = inc.new_document.add_object(Dictionary::new());
            update::dict_in_revision(inc, root)?.set("AcroForm", Object::Reference(id));
            id
        }
    };
    update::push_to_array(inc, form_id, b"Fields", Object::Reference(field_id))?;
    update::dict_in_revision(inc, form_id)?.set("SigFlags", 3);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_in_vietnam_time() {
        // 2026-12-03T13:49:20Z
        assert_eq!(
            pdf_date(1_796_305_760, 420).unwrap(),
            "D:20261203204920+07'00'"
        );
        assert_eq!(pdf_date(0, 0).unwrap(), "D:19700101000000+00'00'");
        assert_eq!(
            pdf_date(951_782_400, -90).unwrap(),
            "D:20000228223000-01'30'"
        );
    }
}
