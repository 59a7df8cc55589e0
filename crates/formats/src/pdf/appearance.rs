//! Visible signatures as Decree 30/2020/NĐ-CP, Annex I, section II lays them out:
//!
//! - the official's signature: the image of their handwritten signature (blue, transparent),
//!   centred in the space between their title and their full name;
//! - the organisation's signature: the image of the red seal at its real size, transparent,
//!   covering about a third of the official's signature image on its left;
//! - on an appendix (văn bản kèm theo) in the same file: no image, but the document's number and
//!   symbol (số và ký hiệu) and the signing time (ISO 8601 with the Vietnam offset `+07:00`) at the
//!   top right of the appendix's first page, Times New Roman style, upright, 10 pt, black.
//!
//! Each appearance is a Form XObject (ISO 32000-1 §8.10) added to the new revision of an
//! [`lopdf::IncrementalDocument`]; the PAdES writer makes it the normal appearance (`/AP /N`) of a
//! widget annotation. Nothing on the page itself is changed here.

use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, Stream};

use crate::FormatError;
use crate::pdf::PlacedAppearance;
use crate::pdf::anchor::{self, PageFrame, page_frame};
use crate::pdf::font::FontBuilder;
use crate::pdf::image::{RgbaImage, add_image, decode_png};

/// Default seal diameter, used when a unit has not recorded its seal's real size. Decree 30 asks
/// for the seal image at its real size; round seals of Vietnamese agencies are commonly about
/// 32–42 mm across, and 36 mm sits in the middle. Units should record their own.
pub const DEFAULT_SEAL_DIAMETER_MM: f32 = 36.0;
/// Font size of the appendix stamp (Decree 30, Annex I: 10 pt).
pub const APPENDIX_FONT_SIZE: f32 = 10.0;
/// The appendix stamp's distance from the right edge: Decree 30, Annex I sets the right margin
/// of a page to 15–20 mm, so the stamp ends where the text does.
pub const APPENDIX_MARGIN_RIGHT_MM: f32 = 20.0;
/// The appendix stamp's distance from the top edge: inside the 20–25 mm top margin, so that it
/// never covers the appendix's own heading.
pub const APPENDIX_MARGIN_TOP_MM: f32 = 10.0;
/// Narrowest signature area found from an anchor, in points (the space a handwritten signature
/// takes under a title in the Decree 30 layout, about 6 cm).
pub const MIN_AREA_WIDTH: f32 = 170.0;

const POINTS_PER_MM: f32 = 72.0 / 25.4;
const VIETNAM_OFFSET_SECONDS: i64 = 7 * 3600;

/// Where the signature area is.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// A rectangle on a page (1-based), `[x1, y1, x2, y2]` in the page's default user space.
    Rect { page: u32, rect: [f32; 4] },
    /// The space above a text drawn on the page, typically the signer's full name under the
    /// title; the area reaches up to the nearest line above. `page: None` searches every page and
    /// takes the last match.
    Anchor { text: String, page: Option<u32> },
}

/// The red seal of the organisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Seal {
    /// PNG, at most 1 MB.
    pub png: Vec<u8>,
    /// The seal's real diameter in millimetres ([`DEFAULT_SEAL_DIAMETER_MM`] if unknown).
    pub diameter_mm: f32,
}

/// A visible signature in the signature area.
#[derive(Clone, Debug, PartialEq)]
pub struct Visible {
    pub placement: Placement,
    /// The official's handwritten signature (PNG, at most 1 MB).
    pub signature_image: Option<Vec<u8>>,
    /// The organisation's seal, drawn over the left third of the signature image: the one in
    /// this spec, else the official's image that an earlier Tessera signature put in the area.
    pub seal: Option<Seal>,
    /// Lines of text (e.g. the signer's name, the time) drawn at the bottom of the area in
    /// Liberation Serif; Vietnamese letters are kept (Unicode NFC).
    pub lines: Vec<String>,
    /// Font size of `lines`, in points.
    pub text_size: f32,
}

/// The stamp on the first page of an appendix.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendixStamp {
    /// The appendix's first page (1-based).
    pub page: u32,
    /// Number and symbol of the main document, e.g. "123/QĐ-UBND".
    pub doc_number: String,
    /// Signing time, Unix seconds; written in Vietnam time as ISO 8601 with `+07:00`.
    pub signing_time: i64,
}

/// Everything one signature shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppearanceSpec {
    pub visible: Option<Visible>,
    pub appendices: Vec<AppendixStamp>,
}

/// Where each element of a visible signature goes, in the page's displayed frame (default user
/// space unless the page has `/Rotate`), as `[x1, y1, x2, y2]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub signature: Option<[f32; 4]>,
    pub seal: Option<[f32; 4]>,
    /// Baseline origin `(x, y)` of each text line.
    pub lines: Vec<(f32, f32)>,
    /// The union of everything drawn: the widget's rectangle.
    pub bbox: [f32; 4],
}

/// Lays out a visible signature in `area`: the text lines at the bottom, the signature image
/// centred in the rest with its aspect ratio kept (at most 80 % of the width, 90 % of the
/// height), the seal of `seal_diameter` points centred vertically on the image with its right
/// edge one third into the image. `official_image` is the official's signature image already
/// on the page (an earlier signature): the seal goes over it. A seal with neither sits where an
/// 8:3 image would be.
pub fn layout(
    area: [f32; 4],
    signature_aspect: Option<f32>,
    official_image: Option<[f32; 4]>,
    seal_diameter: Option<f32>,
    line_widths: &[f32],
    text_size: f32,
) -> Layout {
    let [ax0, ay0, ax1, ay1] = area;
    let (w, h) = ((ax1 - ax0).abs(), (ay1 - ay0).abs());
    let (ax0, ay0) = (ax0.min(ax1), ay0.min(ay1));
    let line_height = text_size * 1.2;
    let text_h = line_height * line_widths.len() as f32;
    let cx = ax0 + w / 2.0;
    let mut lines = Vec::new();
    for (i, lw) in line_widths.iter().enumerate() {
        let from_bottom = (line_widths.len() - 1 - i) as f32;
        lines.push((
            cx - lw / 2.0,
            ay0 + text_size * 0.25 + from_bottom * line_height,
        ));
    }
    let img_area_h = (h - text_h).max(h * 0.3);
    let img_y0 = ay0 + text_h.min(h * 0.7);
    let aspect = signature_aspect.unwrap_or(3.0 / 8.0).max(0.01);
    let iw = (w * 0.8).min(img_area_h * 0.9 / aspect);
    let ih = iw * aspect;
    let ix0 = cx - iw / 2.0;
    let iy0 = img_y0 + (img_area_h - ih) / 2.0;
    let image = [ix0, iy0, ix0 + iw, iy0 + ih];
    let under_seal = match (signature_aspect, official_image) {
        (None, Some(official)) => official,
        _ => image,
    };
    let seal = seal_diameter.map(|d| {
        let right = under_seal[0] + (under_seal[2] - under_seal[0]) / 3.0;
        let cy = (under_seal[1] + under_seal[3]) / 2.0;
        [right - d, cy - d / 2.0, right, cy + d / 2.0]
    });
    let signature = signature_aspect.map(|_| image);
    let mut bbox = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    let mut grow = |r: [f32; 4]| {
        bbox = [
            bbox[0].min(r[0]),
            bbox[1].min(r[1]),
            bbox[2].max(r[2]),
            bbox[3].max(r[3]),
        ];
    };
    signature.into_iter().chain(seal).for_each(&mut grow);
    for ((x, y), lw) in lines.iter().zip(line_widths) {
        grow([*x, y - text_size * 0.25, x + lw, y + text_size]);
    }
    if bbox[0] > bbox[2] {
        bbox = [ax0, ay0, ax0 + w, ay0 + h];
    }
    Layout {
        signature,
        seal,
        lines,
        bbox,
    }
}

/// ISO 8601 in Vietnam time, e.g. `2024-03-15T09:30:00+07:00`.
pub fn vietnam_time(unix: i64) -> String {
    let t = unix + VIETNAM_OFFSET_SECONDS;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+07:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn page_id(doc: &Document, page: u32) -> Result<ObjectId, FormatError> {
    let pages = doc.get_pages();
    pages.get(&page).copied().ok_or_else(|| {
        FormatError::Invalid(format!(
            "page {page} does not exist: the document has {} page(s)",
            pages.len()
        ))
    })
}

/// A caller's rectangle must be finite, at least 10 pt a side, and on the page.
fn check_rect(r: &[f32; 4], frame: &PageFrame) -> Result<(), FormatError> {
    let [bx0, by0, bx1, by1] = frame.user_box;
    let (x0, y0, x1, y1) = (
        r[0].min(r[2]),
        r[1].min(r[3]),
        r[0].max(r[2]),
        r[1].max(r[3]),
    );
    let ok = r.iter().all(|v| v.is_finite())
        && x1 - x0 >= 10.0
        && y1 - y0 >= 10.0
        && x0 >= bx0 - 1.0
        && y0 >= by0 - 1.0
        && x1 <= bx1 + 1.0
        && y1 <= by1 + 1.0;
    if ok {
        Ok(())
    } else {
        Err(FormatError::Invalid(format!(
            "the signature rectangle {r:?} is not on the page (page box {:?}) or is smaller than \
             10 pt",
            frame.user_box
        )))
    }
}

fn fmt(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A Form XObject whose BBox is the widget's rectangle moved to the origin, drawn in the page's
/// displayed frame: on a page with `/Rotate` its /Matrix turns it back upright (ISO 32000-1
/// §12.5.5: the BBox transformed by the Matrix is fitted to the annotation's Rect).
fn add_form(
    doc: &mut Document,
    frame: &PageFrame,
    bbox: [f32; 4],
    content: String,
    resources: Dictionary,
) -> Result<ObjectId, FormatError> {
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"XObject".to_vec()));
    dict.set("Subtype", Object::Name(b"Form".to_vec()));
    dict.set("FormType", 1);
    dict.set(
        "BBox",
        Object::Array(vec![
            Object::Real(0.0),
            Object::Real(0.0),
            Object::Real(bbox[2] - bbox[0]),
            Object::Real(bbox[3] - bbox[1]),
        ]),
    );
    if frame.rotate != 0 {
        let m = frame.to_user;
        dict.set(
            "Matrix",
            Object::Array(
                [m[0], m[1], m[2], m[3], 0.0, 0.0]
                    .iter()
                    .map(|v| Object::Real(*v))
                    .collect(),
            ),
        );
    }
    dict.set("Resources", resources);
    let mut stream = Stream::new(dict, content.into_bytes());
    // Compression failure only leaves the stream uncompressed.
    let _ = stream.compress();
    Ok(doc.add_object(stream))
}

fn image_op(name: &str, r: [f32; 4], origin: [f32; 4]) -> String {
    format!(
        "q {} 0 0 {} {} {} cm /{name} Do Q\n",
        fmt(r[2] - r[0]),
        fmt(r[3] - r[1]),
        fmt(r[0] - origin[0]),
        fmt(r[1] - origin[1])
    )
}

/// The resource name of the official's signature image in an appearance, by which a later
/// signature (the organisation's seal) finds it.
const OFFICIAL_IMAGE: &str = "TesseraOfficialSignature";

fn rect_of(o: &Object) -> Option<[f32; 4]> {
    let v: Vec<f32> = o
        .as_array()
        .ok()?
        .iter()
        .filter_map(|o| o.as_float().ok())
        .collect();
    <[f32; 4]>::try_from(v).ok()
}

/// The official's signature image drawn by an earlier Tessera appearance on the page, within
/// `area` (displayed frame), as a rectangle of the displayed frame. Its place is read back from
/// the annotation: the Rect, the form's BBox and Matrix (ISO 32000-1 §12.5.5) and the `cm` that
/// paints the image.
fn official_image(
    doc: &Document,
    page_id: ObjectId,
    frame: &PageFrame,
    area: [f32; 4],
) -> Option<[f32; 4]> {
    let page = doc.get_dictionary(page_id).ok()?;
    let annots = match page.get(b"Annots").ok()? {
        Object::Reference(id) => doc.get_object(*id).ok()?.as_array().ok()?,
        Object::Array(a) => a,
        _ => return None,
    };
    let to_display = frame.to_display();
    annots.iter().rev().find_map(|a| {
        let annot = match a {
            Object::Reference(id) => doc.get_dictionary(*id).ok()?,
            Object::Dictionary(d) => d,
            _ => return None,
        };
        let rect = rect_of(annot.get(b"Rect").ok()?)?;
        let ap = match annot.get(b"AP").ok()? {
            Object::Reference(id) => doc.get_dictionary(*id).ok()?,
            Object::Dictionary(d) => d,
            _ => return None,
        };
        let form = doc
            .get_object(ap.get(b"N").ok()?.as_reference().ok()?)
            .ok()?;
        let form = form.as_stream().ok()?;
        let bbox = rect_of(form.dict.get(b"BBox").ok()?)?;
        let matrix = form
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(rect6)
            .unwrap_or([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // The image's unit square, painted through `w 0 0 h x y cm /Name Do`.
        let content = form.decompressed_content().ok()?;
        let ops = lopdf::content::Content::decode(&content).ok()?.operations;
        let cm = ops.windows(2).find_map(|w| match (w.first(), w.get(1)) {
            (Some(cm), Some(d))
                if cm.operator == "cm"
                    && d.operator == "Do"
                    && d.operands.first().and_then(|o| o.as_name().ok())
                        == Some(OFFICIAL_IMAGE.as_bytes()) =>
            {
                rect6(&Object::Array(cm.operands.clone()))
            }
            _ => None,
        })?;
        // Form space → the transformed BBox → fitted to Rect (§12.5.5 algorithm 8.1).
        let corners = [
            (bbox[0], bbox[1]),
            (bbox[2], bbox[1]),
            (bbox[0], bbox[3]),
            (bbox[2], bbox[3]),
        ]
        .map(|(x, y)| anchor::apply(&matrix, x, y));
        let (tx0, ty0) = corners
            .iter()
            .fold((f32::MAX, f32::MAX), |a, p| (a.0.min(p.0), a.1.min(p.1)));
        let (tx1, ty1) = corners
            .iter()
            .fold((f32::MIN, f32::MIN), |a, p| (a.0.max(p.0), a.1.max(p.1)));
        let (rx0, ry0) = (rect[0].min(rect[2]), rect[1].min(rect[3]));
        let (rx1, ry1) = (rect[0].max(rect[2]), rect[1].max(rect[3]));
        let sx = (rx1 - rx0) / (tx1 - tx0).max(f32::EPSILON);
        let sy = (ry1 - ry0) / (ty1 - ty0).max(f32::EPSILON);
        let fit = [sx, 0.0, 0.0, sy, rx0 - tx0 * sx, ry0 - ty0 * sy];
        let to_page = anchor::mul(&anchor::mul(&cm, &matrix), &fit);
        let to_page = anchor::mul(&to_page, &to_display);
        let pts = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
            .map(|(x, y)| anchor::apply(&to_page, x, y));
        let (ix0, iy0) = pts
            .iter()
            .fold((f32::MAX, f32::MAX), |a, p| (a.0.min(p.0), a.1.min(p.1)));
        let (ix1, iy1) = pts
            .iter()
            .fold((f32::MIN, f32::MIN), |a, p| (a.0.max(p.0), a.1.max(p.1)));
        let overlaps = ix1 > area[0] && ix0 < area[2] && iy1 > area[1] && iy0 < area[3];
        overlaps.then_some([ix0, iy0, ix1, iy1])
    })
}

fn rect6(o: &Object) -> Option<[f32; 6]> {
    let v: Vec<f32> = o
        .as_array()
        .ok()?
        .iter()
        .filter_map(|o| o.as_float().ok())
        .collect();
    <[f32; 6]>::try_from(v).ok()
}

fn add_visible(
    inc: &mut IncrementalDocument,
    v: &Visible,
) -> Result<PlacedAppearance, FormatError> {
    if !(v.text_size >= 4.0 && v.text_size <= 72.0) {
        return Err(FormatError::Invalid(format!(
            "a text size of {} pt is not plausible (4–72 pt)",
            v.text_size
        )));
    }
    if v.signature_image.is_none() && v.seal.is_none() && v.lines.is_empty() {
        return Err(FormatError::Invalid(
            "a visible signature needs a signature image, a seal or a line of text".into(),
        ));
    }
    let (page_id, frame, area) = match &v.placement {
        Placement::Rect { page, rect } => {
            let prev = inc.get_prev_documents();
            let id = page_id(prev, *page)?;
            let frame = page_frame(prev, id);
            check_rect(rect, &frame)?;
            // The layout happens in the displayed frame.
            let to_display = frame.to_display();
            let a = anchor::apply(&to_display, rect[0], rect[1]);
            let b = anchor::apply(&to_display, rect[2], rect[3]);
            let area = [a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1)];
            (id, frame, area)
        }
        Placement::Anchor { text, page } => {
            let prev = inc.get_prev_documents();
            let m = anchor::find_text(prev, text, *page)?.ok_or_else(|| {
                FormatError::Invalid(format!(
                    "the anchor text {text:?} was not found{}",
                    page.map(|p| format!(" on page {p}")).unwrap_or_default()
                ))
            })?;
            let glyphs = anchor::page_glyphs(prev, m.page_id)?;
            let frame = page_frame(prev, m.page_id);
            (
                m.page_id,
                frame,
                anchor::area_above(&glyphs, &m, MIN_AREA_WIDTH),
            )
        }
    };
    let signature: Option<RgbaImage> = v.signature_image.as_deref().map(decode_png).transpose()?;
    let seal: Option<(RgbaImage, f32)> = v
        .seal
        .as_ref()
        .map(|s| {
            if !(s.diameter_mm > 5.0 && s.diameter_mm < 100.0) {
                return Err(FormatError::Invalid(format!(
                    "a seal diameter of {} mm is not plausible (5–100 mm)",
                    s.diameter_mm
                )));
            }
            Ok((decode_png(&s.png)?, s.diameter_mm * POINTS_PER_MM))
        })
        .transpose()?;
    let mut font = FontBuilder::liberation_serif()?;
    let widths = v
        .lines
        .iter()
        .map(|l| font.text_width(l, v.text_size))
        .collect::<Result<Vec<_>, _>>()?;
    // The organisation signing after the official: its seal goes over the image already there.
    let official = match (&signature, &seal) {
        (None, Some(_)) => official_image(inc.get_prev_documents(), page_id, &frame, area),
        _ => None,
    };
    let lay = layout(
        area,
        signature.as_ref().map(RgbaImage::aspect),
        official,
        seal.as_ref().map(|(_, d)| *d),
        &widths,
        v.text_size,
    );

    let doc = &mut inc.new_document;
    let mut xobjects = Dictionary::new();
    let mut content = String::new();
    if let (Some(img), Some(r)) = (&signature, lay.signature) {
        xobjects.set(OFFICIAL_IMAGE, Object::Reference(add_image(doc, img)?));
        content.push_str(&image_op(OFFICIAL_IMAGE, r, lay.bbox));
    }
    // The seal is stamped over the signature, as on paper.
    if let (Some((img, _)), Some(r)) = (&seal, lay.seal) {
        xobjects.set("Seal", Object::Reference(add_image(doc, img)?));
        content.push_str(&image_op("Seal", r, lay.bbox));
    }
    let mut resources = Dictionary::new();
    if !v.lines.is_empty() {
        content.push_str(&format!("BT 0 g /F1 {} Tf\n", fmt(v.text_size)));
        let mut prev = (0.0, 0.0);
        for (line, (x, y)) in v.lines.iter().zip(&lay.lines) {
            let (x, y) = (x - lay.bbox[0], y - lay.bbox[1]);
            let s = font.encode(line)?;
            content.push_str(&format!(
                "{} {} Td <{}> Tj\n",
                fmt(x - prev.0),
                fmt(y - prev.1),
                hex(&s)
            ));
            prev = (x, y);
        }
        content.push_str("ET\n");
        let mut fonts = Dictionary::new();
        fonts.set("F1", Object::Reference(font.finish(doc)?));
        resources.set("Font", fonts);
    }
    if !xobjects.is_empty() {
        resources.set("XObject", xobjects);
    }
    let normal = add_form(doc, &frame, lay.bbox, content, resources)?;
    Ok(PlacedAppearance {
        page: page_id,
        rect: frame.rect_to_user(lay.bbox),
        normal,
    })
}

fn add_appendix(
    inc: &mut IncrementalDocument,
    a: &AppendixStamp,
) -> Result<PlacedAppearance, FormatError> {
    let prev = inc.get_prev_documents();
    let page_id = page_id(prev, a.page)?;
    let frame = page_frame(prev, page_id);
    let [_, _, px1, py1] = frame.display_box;
    let lines = [a.doc_number.clone(), vietnam_time(a.signing_time)];
    let mut font = FontBuilder::liberation_serif()?;
    let size = APPENDIX_FONT_SIZE;
    let widths = lines
        .iter()
        .map(|l| font.text_width(l, size))
        .collect::<Result<Vec<_>, _>>()?;
    let width = widths.iter().copied().fold(0.0, f32::max);
    let leading = size * 1.2;
    let (asc, desc) = (font.ascent(size), font.descent(size));
    let x1 = px1 - APPENDIX_MARGIN_RIGHT_MM * POINTS_PER_MM;
    let y1 = py1 - APPENDIX_MARGIN_TOP_MM * POINTS_PER_MM;
    let height = asc + leading * (lines.len() as f32 - 1.0) - desc;
    let bbox = [x1 - width, y1 - height, x1, y1];
    let mut content = String::from("BT 0 g\n");
    content.push_str(&format!("/F1 {} Tf\n", fmt(size)));
    for (i, (line, w)) in lines.iter().zip(&widths).enumerate() {
        // Right-aligned lines; Tm restates the position so each line stands alone.
        let x = width - w;
        let y = height - asc - leading * i as f32;
        let s = font.encode(line)?;
        content.push_str(&format!(
            "1 0 0 1 {} {} Tm <{}> Tj\n",
            fmt(x),
            fmt(y),
            hex(&s)
        ));
    }
    content.push_str("ET\n");
    let doc = &mut inc.new_document;
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Reference(font.finish(doc)?));
    let mut resources = Dictionary::new();
    resources.set("Font", fonts);
    let normal = add_form(doc, &frame, bbox, content, resources)?;
    Ok(PlacedAppearance {
        page: page_id,
        rect: frame.rect_to_user(bbox),
        normal,
    })
}

/// Adds the appearances of `spec` to the new revision of `doc`: image XObjects, the font subset
/// and one Form XObject per widget. Answers the widgets to place (the visible signature first,
/// then the appendix stamps in the order given). The pages are not modified.
pub fn add_appearances(
    doc: &mut IncrementalDocument,
    spec: &AppearanceSpec,
) -> Result<Vec<PlacedAppearance>, FormatError> {
    let mut placed = Vec::new();
    if let Some(v) = &spec.visible {
        placed.push(add_visible(doc, v)?);
    }
    for a in &spec.appendices {
        placed.push(add_appendix(doc, a)?);
    }
    Ok(placed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_time_is_iso_8601_with_offset() {
        // 2024-03-15T02:30:00Z
        assert_eq!(vietnam_time(1_710_469_800), "2024-03-15T09:30:00+07:00");
        assert_eq!(vietnam_time(0), "1970-01-01T07:00:00+07:00");
        // 2024-02-29T20:00:00Z → the next day in Vietnam.
        assert_eq!(vietnam_time(1_709_236_800), "2024-03-01T03:00:00+07:00");
    }

    #[test]
    fn seal_covers_the_left_third_of_the_signature() {
        let l = layout(
            [322.0, 252.0, 508.0, 344.0],
            Some(150.0 / 400.0),
            None,
            Some(102.0),
            &[],
            9.0,
        );
        let sig = l.signature.unwrap();
        let seal = l.seal.unwrap();
        let third = (sig[2] - sig[0]) / 3.0;
        assert!((seal[2] - (sig[0] + third)).abs() < 0.01);
        assert!((seal[2] - seal[0] - 102.0).abs() < 0.01);
        // Centred between title and name.
        assert!(((sig[0] + sig[2]) / 2.0 - 415.0).abs() < 0.01);
        assert!(((sig[1] + sig[3]) / 2.0 - 298.0).abs() < 0.01);
        assert!((((sig[3] - sig[1]) / (sig[2] - sig[0])) - 0.375).abs() < 0.001);
        assert_eq!(l.bbox, [seal[0], seal[1], sig[2], seal[3]]);
    }
}
