//! PDF signatures: finding them, checking what their byte ranges cover (ISO 32000-2 §12.8.1),
//! what later revisions changed (§12.8.2.2 DocMDP; ETSI EN 319 142-1 §5.4 DSS and document
//! timestamps), then the CMS of each.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Document, Object, ObjectId};

use super::cms::{self, Context, Extra, Signed};
use super::crypto::days_from_civil;
use super::{Coverage, Options, PdfReport, SignatureKind};
use crate::FormatError;

/// Largest stream read from the DSS (a certificate, CRL or OCSP response).
const MAX_DSS_STREAM: usize = 16 * 1024 * 1024;

struct Found {
    id: ObjectId,
    kind: SignatureKind,
    byte_range: [usize; 4],
    claimed: Option<i64>,
    docmdp: Option<u8>,
    field: Option<String>,
}

/// Verifies every signature and document timestamp of `pdf`, in file order.
pub fn verify_pdf(pdf: &[u8], opts: &Options) -> Result<PdfReport, FormatError> {
    if !pdf.starts_with(b"%PDF-") {
        return Err(FormatError::Invalid("this is not a PDF file".into()));
    }
    let doc = Document::load_mem(pdf)
        .map_err(|e| FormatError::Invalid(format!("unreadable PDF: {e}")))?;
    if doc.trailer.has(b"Encrypt") {
        return Err(FormatError::Unsupported(
            "encrypted PDFs are not supported".into(),
        ));
    }
    let fields = field_names(&doc);
    let mut found: Vec<Found> = Vec::new();
    for (id, obj) in &doc.objects {
        let Ok(d) = obj.as_dict() else { continue };
        let kind = match d.get(b"Type").and_then(Object::as_name) {
            Ok(b"Sig") => SignatureKind::Pdf,
            Ok(b"DocTimeStamp") => SignatureKind::DocumentTimestamp,
            _ if d.has(b"ByteRange") && d.has(b"Contents") && d.has(b"Filter") => {
                if matches!(
                    d.get(b"SubFilter").and_then(Object::as_name),
                    Ok(b"ETSI.RFC3161")
                ) {
                    SignatureKind::DocumentTimestamp
                } else {
                    SignatureKind::Pdf
                }
            }
            _ => continue,
        };
        let Some(byte_range) = byte_range(d) else {
            continue;
        };
        found.push(Found {
            id: *id,
            kind,
            byte_range,
            claimed: d.get(b"M").and_then(Object::as_str).ok().and_then(pdf_date),
            docmdp: docmdp(&doc, d),
            field: fields.get(id).cloned(),
        });
    }
    found.sort_by_key(|f| f.byte_range[2] + f.byte_range[3]);
    let dss = dss(&doc);

    let mut signatures = Vec::new();
    for f in &found {
        let (coverage, changes, cms_der) = coverage(pdf, &doc, f);
        let [a, b, c, d] = f.byte_range;
        let ranges: Vec<&[u8]> = if a.checked_add(b).is_some_and(|e| e <= pdf.len())
            && c.checked_add(d).is_some_and(|e| e <= pdf.len())
        {
            vec![&pdf[a..a + b], &pdf[c..c + d]]
        } else {
            Vec::new()
        };
        let ctx = Context {
            kind: f.kind,
            field: f.field.clone(),
            coverage,
            later_changes: changes,
            docmdp: f.docmdp,
            claimed_time: f.claimed,
            dss: dss.clone(),
        };
        let _ = f.id;
        signatures.push(cms::verify_signature(
            &cms_der,
            Signed::Ranges(ranges),
            &ctx,
            opts,
        ));
    }
    Ok(PdfReport {
        size: pdf.len(),
        signatures,
    })
}

fn byte_range(d: &Dictionary) -> Option<[usize; 4]> {
    let arr = d.get(b"ByteRange").ok()?.as_array().ok()?;
    if arr.len() != 4 {
        return None;
    }
    let mut out = [0usize; 4];
    for (o, v) in out.iter_mut().zip(arr) {
        *o = usize::try_from(v.as_i64().ok()?).ok()?;
    }
    Some(out)
}

/// Field names (`/T`) by the signature dictionary their `/V` points to.
fn field_names(doc: &Document) -> BTreeMap<ObjectId, String> {
    let mut out = BTreeMap::new();
    for obj in doc.objects.values() {
        let Ok(d) = obj.as_dict() else { continue };
        if let Ok(v) = d.get(b"V").and_then(Object::as_reference)
            && let Ok(t) = d.get(b"T").and_then(Object::as_str)
        {
            out.insert(v, text(t));
        }
    }
    out
}

/// A PDF text string: UTF-16BE with a BOM, else PDFDocEncoding (read as Latin-1).
fn text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    bytes.iter().map(|&b| b as char).collect()
}

/// `D:YYYYMMDDHHmmSSOHH'mm'` (ISO 32000-2 §7.9.4) to Unix seconds.
fn pdf_date(s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?;
    let s = s.strip_prefix("D:").unwrap_or(s);
    let num = |from: usize, len: usize, default: i64| -> Option<i64> {
        match s.get(from..from + len) {
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => v.parse().ok(),
            Some(_) => None,
            None => Some(default),
        }
    };
    let year = num(0, 4, 0)?;
    let month = num(4, 2, 1)?;
    let day = num(6, 2, 1)?;
    let hour = num(8, 2, 0)?;
    let minute = num(10, 2, 0)?;
    let second = num(12, 2, 0)?;
    let mut offset = 0;
    if let Some(sign) = s.get(14..15)
        && (sign == "+" || sign == "-")
    {
        let oh = num(15, 2, 0)?;
        let om = s
            .get(18..20)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        offset = (oh * 3600 + om * 60) * if sign == "-" { -1 } else { 1 };
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The DocMDP permission (ISO 32000-2 §12.8.2.2) if this is a certification signature.
fn docmdp(doc: &Document, sig: &Dictionary) -> Option<u8> {
    let refs = sig.get(b"Reference").ok()?;
    let (_, refs) = doc.dereference(refs).ok()?;
    for r in refs.as_array().ok()? {
        let Ok((_, r)) = doc.dereference(r) else {
            continue;
        };
        let Ok(r) = r.as_dict() else { continue };
        if matches!(
            r.get(b"TransformMethod").and_then(Object::as_name),
            Ok(b"DocMDP")
        ) {
            let p = r
                .get(b"TransformParams")
                .ok()
                .and_then(|t| doc.dereference(t).ok())
                .and_then(|(_, t)| t.as_dict().ok())
                .and_then(|t| t.get(b"P").ok())
                .and_then(|p| p.as_i64().ok())
                .unwrap_or(2);
            return u8::try_from(p.clamp(1, 3)).ok();
        }
    }
    None
}

/// The Document Security Store (ETSI EN 319 142-1 §5.4.2.2).
fn dss(doc: &Document) -> Option<Extra> {
    let root = doc.trailer.get(b"Root").ok()?;
    let (_, root) = doc.dereference(root).ok()?;
    let dss = root.as_dict().ok()?.get(b"DSS").ok()?;
    let (_, dss) = doc.dereference(dss).ok()?;
    let dss = dss.as_dict().ok()?;
    let streams = |key: &[u8]| -> Vec<Vec<u8>> {
        let Ok(arr) = dss.get(key) else {
            return Vec::new();
        };
        let Ok((_, arr)) = doc.dereference(arr) else {
            return Vec::new();
        };
        let Ok(arr) = arr.as_array() else {
            return Vec::new();
        };
        arr.iter()
            .filter_map(|o| doc.dereference(o).ok())
            .filter_map(|(_, o)| o.as_stream().ok())
            .filter_map(|s| {
                s.decompressed_content_with_limit(MAX_DSS_STREAM)
                    .ok()
                    .or_else(|| Some(s.content.clone()))
            })
            .collect()
    };
    Some(Extra {
        certs: streams(b"Certs"),
        crls: streams(b"CRLs"),
        ocsps: streams(b"OCSPs"),
    })
}

/// Checks the byte range and answers the coverage, the later changes and the CMS bytes (the
/// decoded `/Contents` hex string lying in the range's gap).
fn coverage(pdf: &[u8], doc: &Document, f: &Found) -> (Coverage, Vec<String>, Vec<u8>) {
    let [a, b, c, d] = f.byte_range;
    let bad = |why: &str| (Coverage::Modified, vec![why.to_string()], Vec::new());
    let Some(signed_end) = c.checked_add(d) else {
        return bad("the byte range is malformed");
    };
    if a != 0 || b >= c || signed_end > pdf.len() || c == 0 {
        return bad(
            "the byte range does not start at the beginning of the file or lies outside it",
        );
    }
    // The gap must be exactly one hex string: `<…>`.
    let gap = &pdf[b..c];
    let (Some(b'<'), Some(b'>')) = (gap.first(), gap.last()) else {
        return bad("the byte range's gap is not the signature's /Contents");
    };
    let hex = &gap[1..gap.len() - 1];
    let Some(cms_der) = unhex(hex) else {
        return bad("the byte range's gap is not a hex string");
    };
    let contents = doc
        .get_object(f.id)
        .and_then(Object::as_dict)
        .and_then(|dict| dict.get(b"Contents"))
        .and_then(Object::as_str);
    if contents.map(|c| c != cms_der.as_slice()).unwrap_or(true) {
        return (
            Coverage::Modified,
            vec!["the byte range's gap is not this signature's /Contents".into()],
            cms_der,
        );
    }
    let tail = &pdf[signed_end..];
    if tail.iter().all(u8::is_ascii_whitespace) {
        return (Coverage::WholeDocument, Vec::new(), cms_der);
    }
    // Bytes that are no revision (no `startxref`): readers still find the signed revision's
    // cross-reference through the last `startxref`, so what is shown is what was signed.
    // pyHanko accepts this too; the report says so.
    if !is_revision(tail) {
        return (
            Coverage::AllowedLaterChanges,
            vec![format!(
                "{} bytes after the signed revision are not a PDF revision (ignored by readers)",
                tail.len()
            )],
            cms_der,
        );
    }
    let Ok(signed) = Document::load_mem(&pdf[..signed_end]) else {
        return (
            Coverage::Modified,
            vec!["the signed revision cannot be read on its own".into()],
            cms_der,
        );
    };
    let (allowed, disallowed) = diff(&signed, doc, f.docmdp);
    if disallowed.is_empty() {
        (Coverage::AllowedLaterChanges, allowed, cms_der)
    } else {
        (Coverage::Modified, disallowed, cms_der)
    }
}

/// An incremental update ends with `startxref`, an offset and `%%EOF`.
fn is_revision(tail: &[u8]) -> bool {
    let t = tail.trim_ascii_end();
    t.ends_with(b"%%EOF") && t.windows(9).any(|w| w == b"startxref")
}

fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn type_of(o: &Object) -> Option<&[u8]> {
    let d = match o {
        Object::Dictionary(d) => d,
        Object::Stream(s) => &s.dict,
        _ => return None,
    };
    d.get(b"Type").and_then(Object::as_name).ok()
}

fn dict_of(o: &Object) -> Option<&Dictionary> {
    match o {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// Keys whose values differ between two dictionaries.
fn changed_keys(old: &Dictionary, new: &Dictionary) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (k, v) in new.iter() {
        if old.get(k).ok() != Some(v) {
            keys.push(String::from_utf8_lossy(k).into_owned());
        }
    }
    for (k, _) in old.iter() {
        if !new.has(k) {
            keys.push(String::from_utf8_lossy(k).into_owned());
        }
    }
    keys
}

fn is_sig_widget(doc: &Document, o: &Object) -> bool {
    let Ok((_, o)) = doc.dereference(o) else {
        return false;
    };
    let Some(d) = dict_of(o) else { return false };
    let ft = |d: &Dictionary| matches!(d.get(b"FT").and_then(Object::as_name), Ok(b"Sig"));
    ft(d)
        || d.get(b"Parent")
            .ok()
            .and_then(|p| doc.dereference(p).ok())
            .and_then(|(_, p)| dict_of(p))
            .is_some_and(ft)
}

/// What changed from the signed revision to the final document, split into changes a
/// signature allows and the others (ISO 32000-2 §12.8.2.2.2; with P=1 only the DSS and
/// document timestamps may follow, ETSI EN 319 142-1 §5.4).
fn diff(old: &Document, new: &Document, docmdp: Option<u8>) -> (Vec<String>, Vec<String>) {
    let strict = docmdp == Some(1);
    let annotations_ok = docmdp.is_none() || docmdp == Some(3);
    let mut allowed: Vec<String> = Vec::new();
    let mut disallowed: Vec<String> = Vec::new();
    let mut note = |ok: bool, what: String| {
        let list = if ok { &mut allowed } else { &mut disallowed };
        if !list.contains(&what) {
            list.push(what);
        }
    };
    let info = new.trailer.get(b"Info").and_then(Object::as_reference).ok();
    for (id, obj) in &new.objects {
        let t = type_of(obj);
        if matches!(t, Some(b"XRef") | Some(b"ObjStm")) {
            continue;
        }
        let Some(prev) = old.objects.get(id) else {
            match t {
                Some(b"Sig") => note(!strict, "a further signature was added".into()),
                Some(b"DocTimeStamp") => note(true, "a document timestamp was added".into()),
                Some(b"DSS") => note(true, "validation data (DSS) was added".into()),
                Some(b"Page") | Some(b"Pages") => note(false, "a page was added".into()),
                _ => {}
            }
            continue;
        };
        if prev == obj {
            continue;
        }
        let name = format!(
            "object {} {} ({})",
            id.0,
            id.1,
            t.map(|t| String::from_utf8_lossy(t).into_owned())
                .unwrap_or_else(|| "untyped".into())
        );
        // Writers refresh /ModDate and /Producer with every revision, timestamps included;
        // pyHanko accepts that even under P=1.
        if Some(*id) == info || t == Some(b"Metadata") {
            note(true, "the document information was updated".into());
            continue;
        }
        if let (Object::Array(a), Object::Array(b)) = (prev, obj) {
            if b.starts_with(a) {
                let added_ok = b[a.len()..]
                    .iter()
                    .all(|o| is_sig_widget(new, o) || annotations_ok);
                note(added_ok, format!("{name}: entries were added"));
            } else {
                note(false, format!("{name} was changed"));
            }
            continue;
        }
        let (Some(pd), Some(nd)) = (dict_of(prev), dict_of(obj)) else {
            note(false, format!("{name} was changed"));
            continue;
        };
        if matches!(obj, Object::Stream(_)) && !matches!(t, Some(b"DSS")) {
            note(false, format!("{name}: its content was changed"));
            continue;
        }
        let keys = changed_keys(pd, nd);
        let only = |set: &[&str]| keys.iter().all(|k| set.contains(&k.as_str()));
        match t {
            Some(b"Catalog") if only(&["DSS", "AcroForm", "Extensions", "Version", "Metadata"]) => {
                note(
                    true,
                    "the catalog: DSS, form, version or metadata entries".into(),
                );
            }
            Some(b"Page") if only(&["Annots"]) => {
                let added_ok = match (pd.get(b"Annots"), nd.get(b"Annots")) {
                    (Ok(Object::Array(a)), Ok(Object::Array(b))) if b.starts_with(a) => b
                        [a.len()..]
                        .iter()
                        .all(|o| is_sig_widget(new, o) || annotations_ok),
                    (Err(_), Ok(Object::Array(b))) => {
                        b.iter().all(|o| is_sig_widget(new, o) || annotations_ok)
                    }
                    _ => keys.iter().all(|_| true) && !strict,
                };
                note(added_ok, format!("{name}: annotations were added"));
            }
            Some(b"DSS") => note(true, "validation data (DSS) was updated".into()),
            _ if nd.has(b"Fields") && only(&["Fields", "SigFlags", "DR", "DA"]) => {
                note(true, "the form: fields were added".into());
            }
            _ if matches!(nd.get(b"FT").and_then(Object::as_name), Ok(b"Sig"))
                && !pd.has(b"V")
                && only(&["V", "AP", "AS", "F", "Rect", "P", "Lock", "SV"]) =>
            {
                let doc_ts = nd
                    .get(b"V")
                    .ok()
                    .and_then(|v| new.dereference(v).ok())
                    .and_then(|(_, v)| type_of(v))
                    == Some(b"DocTimeStamp");
                note(
                    !strict || doc_ts,
                    format!("{name}: an empty signature field was signed"),
                );
            }
            _ => note(false, format!("{name} was changed ({})", keys.join(", "))),
        }
    }
    (allowed, disallowed)
}

#[cfg(test)]
pub(super) fn tests_pdf_date(s: &[u8]) -> Option<i64> {
    pdf_date(s)
}
