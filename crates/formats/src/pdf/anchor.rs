//! Finding a text on a page, to place a signature by an anchor such as the signer's name under
//! the title. The page's content stream is interpreted just enough to know where each glyph is
//! drawn: graphics state (`q`/`Q`/`cm`), text state and positioning (ISO 32000-1 §9.3, §9.4:
//! `Tm Td TD T* TL Tc Tw Tz Ts Tf`) and the text-showing operators (`Tj TJ ' "`). Codes become
//! Unicode through the font's `/ToUnicode` CMap when it has one (§9.10.2), else through its
//! encoding (standard encodings and `/Differences` with glyph names).

use std::collections::BTreeMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

use crate::FormatError;

/// Bound on a page's decoded content, against decompression bombs.
const MAX_CONTENT_BYTES: usize = 64 * 1024 * 1024;

/// A PDF transformation matrix `[a b c d e f]` (ISO 32000-1 §8.3.4).
pub type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m × n` with PDF's row-vector convention: first `m`, then `n`.
pub fn mul(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

/// The point `(x, y)` transformed by `m`.
pub fn apply(m: &Matrix, x: f32, y: f32) -> (f32, f32) {
    (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])
}

/// One glyph drawn on a page, in the page's displayed frame (see [`PageFrame`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Glyph {
    /// The text the glyph stands for (usually one character).
    pub text: String,
    /// Start and end of the glyph's advance on the baseline.
    pub x0: f32,
    pub x1: f32,
    /// Baseline height.
    pub y: f32,
    /// Font size in user-space units (the text matrix and CTM applied).
    pub size: f32,
}

/// Where a text was found: the page (1-based number and object id) and the baseline box of the
/// match, `[x0, baseline, x1, baseline + font size]` in the page's displayed frame (default user
/// space unless the page has `/Rotate`; see [`PageFrame`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TextMatch {
    pub page: u32,
    pub page_id: ObjectId,
    pub rect: [f32; 4],
    pub baseline: f32,
    pub font_size: f32,
}

/// How a font's codes become text: a table for simple fonts (1-byte codes), the font's
/// ToUnicode CMap for composite ones.
enum Decoder<'a> {
    Table(Vec<String>),
    Map(Option<Encoding<'a>>),
}

struct FontInfo<'a> {
    decoder: Decoder<'a>,
    two_byte: bool,
    widths: BTreeMap<u32, f32>,
    default_width: f32,
}

impl FontInfo<'_> {
    fn text(&self, code: &[u8]) -> String {
        match &self.decoder {
            Decoder::Table(t) => code
                .first()
                .and_then(|c| t.get(usize::from(*c)))
                .cloned()
                .unwrap_or_default(),
            Decoder::Map(e) => e
                .as_ref()
                .and_then(|e| e.bytes_to_string(code).ok())
                .unwrap_or_default(),
        }
    }
}

fn num(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
    match o {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

/// The text a glyph name stands for (Adobe Glyph List specification: `uniXXXX`, `uXXXX[XX]`,
/// a suffix after a period ignored, else the AGL names lopdf knows, such as `adotbelow`,
/// `Ohorn`, `dcroat`).
pub fn glyph_name_text(doc: &Document, name: &[u8]) -> Option<String> {
    let base = name.split(|b| *b == b'.').next().unwrap_or(name);
    let s = std::str::from_utf8(base).ok()?;
    let hex_chars = |h: &str, group: usize| -> Option<String> {
        if h.is_empty()
            || !h.len().is_multiple_of(group)
            || !h.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let units: Option<Vec<u32>> = (0..h.len() / group)
            .map(|i| {
                h.get(i * group..(i + 1) * group)
                    .and_then(|g| u32::from_str_radix(g, 16).ok())
            })
            .collect();
        units?.into_iter().map(char::from_u32).collect()
    };
    if let Some(t) = s.strip_prefix("uni").and_then(|h| hex_chars(h, 4)) {
        return Some(t);
    }
    if let Some(t) = s
        .strip_prefix('u')
        .filter(|h| (4..=6).contains(&h.len()))
        .and_then(|h| hex_chars(h, h.len()))
    {
        return Some(t);
    }
    // lopdf knows the AGL names but refuses a whole /Differences array for one unknown name,
    // so ask it one name at a time.
    let mut enc = Dictionary::new();
    enc.set(
        "Differences",
        Object::Array(vec![Object::Integer(65), Object::Name(base.to_vec())]),
    );
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Encoding", enc);
    match font.get_font_encoding(doc) {
        Ok(e @ Encoding::Differences(_)) => e.bytes_to_string(b"A").ok(),
        _ => None,
    }
}

fn simple_table(doc: &Document, font: &Dictionary) -> Vec<String> {
    let has_to_unicode = font.has(b"ToUnicode");
    let encoding_obj = font.get(b"Encoding").ok().and_then(|o| deref(doc, o));
    let differences = match encoding_obj {
        Some(Object::Dictionary(d)) if !has_to_unicode => d
            .get(b"Differences")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok()),
        _ => None,
    };
    // ToUnicode is the most faithful mapping (ISO 32000-1 §9.10.2) but lopdf prefers
    // /Encoding: ask it with a copy that has only the ToUnicode. With /Differences and no
    // ToUnicode, ask it for the base encoding and apply the differences here.
    let mut copy = font.clone();
    if has_to_unicode {
        copy.remove(b"Encoding");
    } else if let Some(Object::Dictionary(d)) = encoding_obj {
        match d.get(b"BaseEncoding") {
            Ok(base @ Object::Name(_)) => copy.set("Encoding", base.clone()),
            _ => {
                copy.remove(b"Encoding");
            }
        }
    }
    let encoding = copy.get_font_encoding(doc).ok();
    let mut table: Vec<String> = (0u8..=255)
        .map(|c| {
            encoding
                .as_ref()
                .and_then(|e| e.bytes_to_string(&[c]).ok())
                .unwrap_or_default()
        })
        .collect();
    if let Some(diffs) = differences {
        let mut code = 0usize;
        for item in diffs {
            match item {
                Object::Integer(i) => code = usize::try_from(*i).unwrap_or(256),
                Object::Name(name) => {
                    if let (Some(slot), Some(text)) =
                        (table.get_mut(code), glyph_name_text(doc, name))
                    {
                        *slot = text;
                    }
                    code += 1;
                }
                _ => {}
            }
        }
    }
    table
}

fn font_info<'a>(doc: &'a Document, font: &'a Dictionary) -> FontInfo<'a> {
    let two_byte = font
        .get(b"Subtype")
        .and_then(Object::as_name)
        .is_ok_and(|s| s == b"Type0");
    let decoder = if !two_byte {
        Decoder::Table(simple_table(doc, font))
    } else if font.has(b"ToUnicode") {
        let mut only = font.clone();
        only.remove(b"Encoding");
        match only.get_font_encoding(doc) {
            Ok(Encoding::UnicodeMapEncoding(map)) => {
                Decoder::Map(Some(Encoding::UnicodeMapEncoding(map)))
            }
            _ => Decoder::Map(None),
        }
    } else {
        // Identity-H without ToUnicode: the codes are glyph ids, not text.
        Decoder::Map(None)
    };
    let mut widths = BTreeMap::new();
    let mut default_width = 0.0;
    if two_byte {
        default_width = 1000.0;
        let desc = font
            .get(b"DescendantFonts")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok());
        if let Some(desc) = desc {
            if let Some(dw) = desc.get(b"DW").ok().and_then(num) {
                default_width = dw;
            }
            let w = desc
                .get(b"W")
                .ok()
                .and_then(|o| deref(doc, o))
                .and_then(|o| o.as_array().ok());
            if let Some(w) = w {
                let mut i = 0;
                while i + 1 < w.len() {
                    let Some(first) = w.get(i).and_then(num) else {
                        break;
                    };
                    match w.get(i + 1).and_then(|o| deref(doc, o)) {
                        Some(Object::Array(list)) => {
                            for (k, v) in list.iter().enumerate() {
                                if let Some(v) = num(v) {
                                    widths.insert(first as u32 + k as u32, v);
                                }
                            }
                            i += 2;
                        }
                        Some(o) => {
                            let (Some(last), Some(v)) = (num(o), w.get(i + 2).and_then(num)) else {
                                break;
                            };
                            for c in (first as u32)..=(last as u32).min(first as u32 + 65535) {
                                widths.insert(c, v);
                            }
                            i += 3;
                        }
                        None => break,
                    }
                }
            }
        }
    } else {
        let first = font.get(b"FirstChar").ok().and_then(num).unwrap_or(0.0) as u32;
        if let Some(list) = font
            .get(b"Widths")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
        {
            for (k, v) in list.iter().enumerate() {
                if let Some(v) = deref(doc, v).and_then(num) {
                    widths.insert(first + k as u32, v);
                }
            }
        }
        if let Some(mw) = font
            .get(b"FontDescriptor")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok())
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(num)
        {
            default_width = mw;
        }
    }
    FontInfo {
        decoder,
        two_byte,
        widths,
        default_width,
    }
}

#[derive(Clone)]
struct TextState {
    ctm: Matrix,
    char_spacing: f32,
    word_spacing: f32,
    scale: f32,
    leading: f32,
    rise: f32,
    font: Vec<u8>,
    size: f32,
}

/// How deep Form XObjects may nest inside one another before the rest is ignored.
const MAX_FORM_DEPTH: usize = 8;
/// How many glyphs a page may draw before the rest is ignored.
const MAX_GLYPHS: usize = 1_000_000;

/// A page as it is displayed: `/Rotate` applied (ISO 32000-1 §7.7.3.3, clockwise in multiples
/// of 90°), and the visible box (CropBox, else MediaBox, both inheritable).
#[derive(Clone, Debug, PartialEq)]
pub struct PageFrame {
    /// Clockwise rotation in degrees: 0, 90, 180 or 270.
    pub rotate: i64,
    /// The visible box in default user space, `[x1, y1, x2, y2]` normalised.
    pub user_box: [f32; 4],
    /// The visible box in the displayed frame: the same as `user_box` when the page is not
    /// rotated, else `[0, 0, displayed width, displayed height]`.
    pub display_box: [f32; 4],
    /// From the displayed frame to default user space.
    pub to_user: Matrix,
}

impl PageFrame {
    /// From default user space to the displayed frame.
    pub fn to_display(&self) -> Matrix {
        invert(&self.to_user)
    }

    /// A rectangle of the displayed frame as a rectangle of default user space.
    pub fn rect_to_user(&self, r: [f32; 4]) -> [f32; 4] {
        let pts = [
            apply(&self.to_user, r[0], r[1]),
            apply(&self.to_user, r[2], r[1]),
            apply(&self.to_user, r[0], r[3]),
            apply(&self.to_user, r[2], r[3]),
        ];
        let xs = pts.iter().map(|p| p.0);
        let ys = pts.iter().map(|p| p.1);
        [
            xs.clone().fold(f32::MAX, f32::min),
            ys.clone().fold(f32::MAX, f32::min),
            xs.fold(f32::MIN, f32::max),
            ys.fold(f32::MIN, f32::max),
        ]
    }
}

fn invert(m: &Matrix) -> Matrix {
    let det = m[0] * m[3] - m[1] * m[2];
    if det.abs() < f32::EPSILON {
        return IDENTITY;
    }
    let (a, b, c, d) = (m[3] / det, -m[1] / det, -m[2] / det, m[0] / det);
    [a, b, c, d, -(m[4] * a + m[5] * c), -(m[4] * b + m[5] * d)]
}

/// A page attribute, inherited through the page tree (ISO 32000-1 §7.7.3.4).
fn inherited<'a>(doc: &'a Document, page_id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = doc.get_dictionary(page_id).ok();
    for _ in 0..32 {
        let d = node?;
        if let Ok(o) = d.get(key) {
            return deref(doc, o);
        }
        node = d
            .get(b"Parent")
            .and_then(Object::as_reference)
            .and_then(|id| doc.get_dictionary(id))
            .ok();
    }
    None
}

/// The page's displayed frame. A page without a usable box is taken as A4 portrait, the size of
/// Vietnamese administrative documents.
pub fn page_frame(doc: &Document, page_id: ObjectId) -> PageFrame {
    let rect = |key: &[u8]| -> Option<[f32; 4]> {
        let arr = inherited(doc, page_id, key)?.as_array().ok()?;
        let v: Vec<f32> = arr
            .iter()
            .filter_map(|o| deref(doc, o).and_then(num))
            .collect();
        match v[..] {
            [x0, y0, x1, y1] if (x1 - x0).abs() > 1.0 && (y1 - y0).abs() > 1.0 => {
                Some([x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)])
            }
            _ => None,
        }
    };
    let user_box = rect(b"CropBox")
        .or_else(|| rect(b"MediaBox"))
        .unwrap_or([0.0, 0.0, 595.28, 841.89]);
    let rotate = inherited(doc, page_id, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(0)
        .rem_euclid(360);
    let [x0, y0, x1, y1] = user_box;
    let (w, h) = (x1 - x0, y1 - y0);
    let (to_user, display_box) = match rotate {
        // Displayed top edge = user left edge; displayed right = user +y.
        90 => ([0.0, 1.0, -1.0, 0.0, x1, y0], [0.0, 0.0, h, w]),
        180 => ([-1.0, 0.0, 0.0, -1.0, x1, y1], [0.0, 0.0, w, h]),
        270 => ([0.0, -1.0, 1.0, 0.0, x0, y1], [0.0, 0.0, h, w]),
        _ => (IDENTITY, user_box),
    };
    PageFrame {
        rotate: if matches!(rotate, 90 | 180 | 270) {
            rotate
        } else {
            0
        },
        user_box,
        display_box,
        to_user,
    }
}

/// The nearest `/Resources` of a page (its own, else the nearest ancestor's).
fn page_resources(doc: &Document, page_id: ObjectId) -> Option<&Dictionary> {
    inherited(doc, page_id, b"Resources").and_then(|o| o.as_dict().ok())
}

fn resource<'a>(
    doc: &'a Document,
    res: &'a Dictionary,
    kind: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    let group = deref(doc, res.get(kind).ok()?)?.as_dict().ok()?;
    deref(doc, group.get(name).ok()?)
}

struct Interpreter<'d> {
    doc: &'d Document,
    glyphs: Vec<Glyph>,
    budget: usize,
}

impl<'d> Interpreter<'d> {
    /// Interprets a content stream. Only the page's own content must parse; a damaged form is
    /// skipped.
    fn run(
        &mut self,
        content: &[u8],
        res: Option<&'d Dictionary>,
        ctm: Matrix,
        depth: usize,
    ) -> Result<(), FormatError> {
        let doc = self.doc;
        let content = match Content::decode(content) {
            Ok(c) => c,
            Err(e) if depth == 0 => {
                return Err(FormatError::Invalid(format!(
                    "the page content cannot be parsed: {e}"
                )));
            }
            Err(_) => return Ok(()),
        };
        let mut fonts: BTreeMap<Vec<u8>, Option<FontInfo<'d>>> = BTreeMap::new();
        let mut stack: Vec<TextState> = Vec::new();
        let mut st = TextState {
            ctm,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
            font: Vec::new(),
            size: 0.0,
        };
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;

        for op in &content.operations {
            let n = |i: usize| op.operands.get(i).and_then(num).unwrap_or(0.0);
            let mut show: Vec<&Object> = Vec::new();
            match op.operator.as_str() {
                // Deeper nesting than 64 is hostile; the extra saves are ignored.
                "q" if stack.len() < 64 => stack.push(st.clone()),
                "Q" => {
                    if let Some(s) = stack.pop() {
                        st = s;
                    }
                }
                "cm" => st.ctm = mul(&[n(0), n(1), n(2), n(3), n(4), n(5)], &st.ctm),
                "BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                "Tc" => st.char_spacing = n(0),
                "Tw" => st.word_spacing = n(0),
                "Tz" => st.scale = n(0) / 100.0,
                "TL" => st.leading = n(0),
                "Ts" => st.rise = n(0),
                "Tf" => {
                    if let Some(Object::Name(name)) = op.operands.first() {
                        st.font = name.clone();
                    }
                    st.size = n(1);
                }
                "Td" | "TD" => {
                    if op.operator == "TD" {
                        st.leading = -n(1);
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, n(0), n(1)], &tlm);
                    tm = tlm;
                }
                "Tm" => {
                    tlm = [n(0), n(1), n(2), n(3), n(4), n(5)];
                    tm = tlm;
                }
                "T*" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -st.leading], &tlm);
                    tm = tlm;
                }
                "Tj" => show.extend(op.operands.first()),
                "'" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -st.leading], &tlm);
                    tm = tlm;
                    show.extend(op.operands.first());
                }
                "\"" => {
                    st.word_spacing = n(0);
                    st.char_spacing = n(1);
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -st.leading], &tlm);
                    tm = tlm;
                    show.extend(op.operands.get(2));
                }
                "TJ" => {
                    if let Some(Object::Array(items)) = op.operands.first() {
                        show.extend(items.iter());
                    }
                }
                // Text inside a Form XObject (ISO 32000-1 §8.10.1): its /Matrix, then its own
                // resources or, for old files, the page's.
                "Do" if depth < MAX_FORM_DEPTH => {
                    let form = match (res, op.operands.first()) {
                        (Some(res), Some(Object::Name(name))) => {
                            resource(doc, res, b"XObject", name).and_then(|o| o.as_stream().ok())
                        }
                        _ => None,
                    };
                    let is_form = form.is_some_and(|f| {
                        f.dict
                            .get(b"Subtype")
                            .and_then(Object::as_name)
                            .is_ok_and(|s| s == b"Form")
                    });
                    if let (Some(form), true) = (form, is_form) {
                        let matrix = form
                            .dict
                            .get(b"Matrix")
                            .and_then(Object::as_array)
                            .ok()
                            .map(|a| a.iter().filter_map(num).collect::<Vec<_>>())
                            .and_then(|v| <[f32; 6]>::try_from(v).ok())
                            .unwrap_or(IDENTITY);
                        let form_res = form
                            .dict
                            .get(b"Resources")
                            .ok()
                            .and_then(|o| deref(doc, o))
                            .and_then(|o| o.as_dict().ok())
                            .or(res);
                        if let Ok(bytes) = form.get_plain_content_with_limit(self.budget) {
                            self.budget = self.budget.saturating_sub(bytes.len());
                            self.run(&bytes, form_res, mul(&matrix, &st.ctm), depth + 1)?;
                        }
                    }
                }
                _ => {}
            }
            if show.is_empty() {
                continue;
            }
            let font = fonts.entry(st.font.clone()).or_insert_with(|| {
                let dict = res.and_then(|r| resource(doc, r, b"Font", &st.font))?;
                Some(font_info(doc, dict.as_dict().ok()?))
            });
            let Some(font) = font.as_ref() else {
                continue;
            };
            for item in show {
                match item {
                    Object::String(bytes, _) => {
                        let step = if font.two_byte { 2 } else { 1 };
                        for code in bytes.chunks(step) {
                            let c = code.iter().fold(0u32, |a, b| a * 256 + u32::from(*b));
                            let w0 = font.widths.get(&c).copied().unwrap_or(font.default_width);
                            let mut tx = w0 / 1000.0 * st.size + st.char_spacing;
                            if step == 1 && c == 32 {
                                tx += st.word_spacing;
                            }
                            tx *= st.scale;
                            if self.glyphs.len() < MAX_GLYPHS {
                                let m = mul(&tm, &st.ctm);
                                let (x0, y) = apply(&m, 0.0, st.rise);
                                let (x1, _) = apply(&m, tx, st.rise);
                                let (_, top) = apply(&m, 0.0, st.rise + st.size);
                                self.glyphs.push(Glyph {
                                    text: font.text(code),
                                    x0,
                                    x1,
                                    y,
                                    size: (top - y).abs(),
                                });
                            }
                            tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                        }
                    }
                    other => {
                        if let Some(adj) = num(other) {
                            let tx = -adj / 1000.0 * st.size * st.scale;
                            tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The glyphs a page draws, in its content stream and the Form XObjects it paints (not in
/// annotations), in the order they are drawn, with positions in the page's displayed frame (see
/// [`PageFrame`]; default user space for a page without `/Rotate`).
pub fn page_glyphs(doc: &Document, page_id: ObjectId) -> Result<Vec<Glyph>, FormatError> {
    let bytes = doc
        .get_page_content_with_limit(page_id, MAX_CONTENT_BYTES)
        .map_err(|e| FormatError::Invalid(format!("the page content cannot be read: {e}")))?;
    let mut interp = Interpreter {
        doc,
        glyphs: Vec::new(),
        budget: MAX_CONTENT_BYTES.saturating_sub(bytes.len()),
    };
    let frame = page_frame(doc, page_id);
    interp.run(&bytes, page_resources(doc, page_id), frame.to_display(), 0)?;
    Ok(interp.glyphs)
}

/// Finds `needle` in the glyphs, ignoring white space (producers often move the pen instead of
/// drawing a space). Answers the indices of the first and last glyph of the LAST match: the
/// signer's name under the title is the last line of a document, after any mention in the body.
pub fn find_in_glyphs(glyphs: &[Glyph], needle: &str) -> Option<(usize, usize)> {
    let want: Vec<char> = needle.chars().filter(|c| !c.is_whitespace()).collect();
    if want.is_empty() {
        return None;
    }
    let mut hay: Vec<(char, usize)> = Vec::new();
    for (i, g) in glyphs.iter().enumerate() {
        for c in g.text.chars().filter(|c| !c.is_whitespace()) {
            hay.push((c, i));
        }
    }
    if hay.len() < want.len() {
        return None;
    }
    (0..=hay.len() - want.len()).rev().find_map(|start| {
        let window = hay.get(start..start + want.len())?;
        if window.iter().map(|(c, _)| *c).eq(want.iter().copied()) {
            Some((window.first()?.1, window.last()?.1))
        } else {
            None
        }
    })
}

/// Finds a text on the given page (1-based), or on any page when `page` is `None` (the last
/// match in the document wins). Answers `None` when the text is not drawn as text (e.g. the page
/// is a scanned image or the font has no Unicode mapping).
pub fn find_text(
    doc: &Document,
    needle: &str,
    page: Option<u32>,
) -> Result<Option<TextMatch>, FormatError> {
    let pages = doc.get_pages();
    let mut found = None;
    for (&number, &page_id) in &pages {
        if page.is_some_and(|p| p != number) {
            continue;
        }
        let glyphs = page_glyphs(doc, page_id)?;
        if let Some((a, b)) = find_in_glyphs(&glyphs, needle) {
            let run = glyphs.get(a..=b).unwrap_or_default();
            let Some(first) = run.first() else { continue };
            let x0 = run.iter().map(|g| g.x0.min(g.x1)).fold(f32::MAX, f32::min);
            let x1 = run.iter().map(|g| g.x0.max(g.x1)).fold(f32::MIN, f32::max);
            found = Some(TextMatch {
                page: number,
                page_id,
                rect: [x0, first.y, x1, first.y + first.size],
                baseline: first.y,
                font_size: first.size,
            });
        }
    }
    Ok(found)
}

/// The empty space above an anchor line in which a signature goes: from just above the anchor
/// (e.g. the signer's name) up to just below the nearest text line above it that overlaps it
/// horizontally (e.g. the title "CHỦ TỊCH"), centred on the anchor and at least `min_width`
/// wide. When nothing is drawn above within 250 pt, the area is 90 pt high.
pub fn area_above(glyphs: &[Glyph], m: &TextMatch, min_width: f32) -> [f32; 4] {
    let [x0, base, x1, _] = m.rect;
    let bottom = base + 0.75 * m.font_size;
    let (lo, hi) = (x0 - 60.0, x1 + 60.0);
    let above = glyphs
        .iter()
        .filter(|g| !g.text.trim().is_empty())
        .filter(|g| g.y > base + m.font_size && g.y < base + 250.0)
        .filter(|g| g.x1 > lo && g.x0 < hi);
    let title = above.min_by(|a, b| a.y.total_cmp(&b.y));
    let (top, title_width) = match title {
        Some(t) => {
            let line: Vec<&Glyph> = glyphs
                .iter()
                .filter(|g| (g.y - t.y).abs() < 0.5 && g.x1 > lo && g.x0 < hi)
                .collect();
            let l0 = line.iter().map(|g| g.x0).fold(f32::MAX, f32::min);
            let l1 = line.iter().map(|g| g.x1).fold(f32::MIN, f32::max);
            (t.y - 0.3 * t.size, l1 - l0)
        }
        None => (bottom + 90.0, 0.0),
    };
    let cx = (x0 + x1) / 2.0;
    let half = (x1 - x0).max(title_width).max(min_width) / 2.0;
    [cx - half, bottom, cx + half, top.max(bottom + 20.0)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use lopdf::{Stream, dictionary};

    use super::*;

    /// A one-page document whose font re-encodes codes 128… with glyph names, as Ghostscript
    /// does for Type 42 fonts, and has no ToUnicode.
    fn differences_doc() -> (Document, ObjectId) {
        let mut doc = Document::with_version("1.4");
        let font = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "TrueType",
            "BaseFont" => "LiberationSerif",
            "FirstChar" => 32,
            "LastChar" => 132,
            "Widths" => Object::Array((32..=132).map(|_| Object::Integer(500)).collect()),
            "Encoding" => dictionary! {
                "Type" => "Encoding",
                "BaseEncoding" => "WinAnsiEncoding",
                "Differences" => vec![
                    Object::Integer(128),
                    Object::Name(b"Dcroat".to_vec()),
                    Object::Name(b"uni1EE9".to_vec()),
                    Object::Name(b"adotbelow".to_vec()),
                    Object::Name(b"u1EC5".to_vec()),
                    Object::Name(b"glyph123".to_vec()),
                ],
            },
        });
        let content = b"q 2 0 0 2 0 0 cm BT /F1 6 Tf 50 300 Td (Ph\x82m \x80\x81c) Tj \
                        [(Minh) -500 (x)] TJ ET Q"
            .to_vec();
        let content = doc.add_object(Stream::new(Dictionary::new(), content));
        let pages = doc.new_object_id();
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        doc.objects.insert(
            pages,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page.into()],
                "Count" => 1,
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", catalog);
        (doc, page)
    }

    #[test]
    fn glyph_names_of_vietnamese_letters() {
        let (doc, page) = differences_doc();
        let glyphs = page_glyphs(&doc, page).unwrap();
        let text: String = glyphs.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(text, "Phạm ĐứcMinhx");
        let m = find_text(&doc, "Phạm Đức Minh", None).unwrap().unwrap();
        // Td 50 300 in a 2× CTM; 6 pt text is 12 units; each glyph 500/1000 em = 6 units.
        assert_eq!(m.rect, [100.0, 600.0, 100.0 + 12.0 * 6.0, 612.0]);
        // The TJ adjustment of -500 moves "x" half an em (6 units) further right.
        let x = glyphs.last().unwrap();
        assert_eq!(x.x0, 100.0 + 13.0 * 6.0);
        assert!(find_text(&doc, "Minh x", Some(2)).unwrap().is_none());
        assert_eq!(glyph_name_text(&doc, b"Ohorn.sc").as_deref(), Some("Ơ"));
        assert_eq!(glyph_name_text(&doc, b"glyph123"), None);
    }

    #[test]
    fn the_last_match_wins() {
        let g = |t: &str, x: f32| Glyph {
            text: t.into(),
            x0: x,
            x1: x + 1.0,
            y: 0.0,
            size: 1.0,
        };
        let glyphs = vec![
            g("a", 0.0),
            g("b", 1.0),
            g(" ", 2.0),
            g("a", 3.0),
            g("b", 4.0),
        ];
        assert_eq!(find_in_glyphs(&glyphs, "ab"), Some((3, 4)));
        assert_eq!(find_in_glyphs(&glyphs, "b a"), Some((1, 3)));
        assert_eq!(find_in_glyphs(&glyphs, "  "), None);
    }
}
