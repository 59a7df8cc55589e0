//! Vietnamese text in PDF appearances: Liberation Serif (metric twin of Times New Roman, SIL OFL
//! 1.1, licence in `assets/fonts/`) embedded as a subset in a Type0 font with Identity-H encoding
//! and a CIDFontType2 descendant (ISO 32000-1 §9.7.4, §9.7.6), plus a ToUnicode CMap (§9.10.3) so
//! that text extraction gives back the exact Vietnamese letters. The standard 14 fonts have no ạ,
//! ễ, ự…, hence the embedding.
//!
//! The `subsetter` crate renumbers the kept glyphs from 0 and removes the font's `cmap`: the new
//! glyph id is used as the CID (`/CIDToGIDMap /Identity`) and the text is written as 2-byte CIDs.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;
use unicode_normalization::UnicodeNormalization;

use crate::FormatError;
use crate::pdf::image::deflate;

/// Liberation Serif Regular 2.1.5 (Debian `fonts-liberation2`), which has the Vietnamese letters
/// that 1.07 lacks.
pub static LIBERATION_SERIF: &[u8] =
    include_bytes!("../../assets/fonts/LiberationSerif-Regular.ttf");

const BASE_NAME: &str = "LiberationSerif";

/// Collects the glyphs that an appearance draws, then writes the font subset into a document.
pub struct FontBuilder {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    remapper: GlyphRemapper,
    /// New glyph id (the CID) → the text it stands for, and its advance width in 1/1000 em.
    used: BTreeMap<u16, (char, f32)>,
}

impl std::fmt::Debug for FontBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontBuilder")
            .field("glyphs", &self.used.len())
            .finish()
    }
}

impl FontBuilder {
    /// The shipped Liberation Serif Regular.
    pub fn liberation_serif() -> Result<FontBuilder, FormatError> {
        FontBuilder::new(LIBERATION_SERIF)
    }

    /// A TrueType font given as bytes that live for the whole program (e.g. `include_bytes!`).
    pub fn new(data: &'static [u8]) -> Result<FontBuilder, FormatError> {
        let face = ttf_parser::Face::parse(data, 0)
            .map_err(|e| FormatError::Invalid(format!("the font cannot be read: {e}")))?;
        Ok(FontBuilder {
            face,
            data,
            remapper: GlyphRemapper::new(),
            used: BTreeMap::new(),
        })
    }

    fn units(&self, v: f32) -> f32 {
        v * 1000.0 / f32::from(self.face.units_per_em().max(1))
    }

    fn glyph(&self, c: char) -> Result<ttf_parser::GlyphId, FormatError> {
        self.face.glyph_index(c).ok_or_else(|| {
            FormatError::Unsupported(format!(
                "the font {BASE_NAME} has no glyph for {c:?} (U+{:04X})",
                u32::from(c)
            ))
        })
    }

    /// Width of `text` in points at `size` points.
    pub fn text_width(&self, text: &str, size: f32) -> Result<f32, FormatError> {
        let mut w = 0.0;
        for c in text.nfc() {
            let g = self.glyph(c)?;
            w += self.units(f32::from(self.face.glyph_hor_advance(g).unwrap_or(0)));
        }
        Ok(w * size / 1000.0)
    }

    /// Ascent above the baseline, in points at `size`.
    pub fn ascent(&self, size: f32) -> f32 {
        self.units(f32::from(self.face.ascender())) * size / 1000.0
    }

    /// Descent below the baseline (negative), in points at `size`.
    pub fn descent(&self, size: f32) -> f32 {
        self.units(f32::from(self.face.descender())) * size / 1000.0
    }

    /// Encodes `text` as the bytes of a PDF string for this font (2-byte CIDs, big-endian), and
    /// records its glyphs for the subset. The text is composed first (Unicode NFC): without a
    /// shaping engine, "ễ" must be the font's precomposed glyph, not e + ̂ + ̃.
    pub fn encode(&mut self, text: &str) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.nfc() {
            let g = self.glyph(c)?;
            let advance = self.units(f32::from(self.face.glyph_hor_advance(g).unwrap_or(0)));
            let cid = self.remapper.remap(g.0);
            self.used.entry(cid).or_insert((c, advance));
            out.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(out)
    }

    /// A PDF string operand for [`FontBuilder::encode`]d text.
    pub fn string(&mut self, text: &str) -> Result<Object, FormatError> {
        Ok(Object::String(
            self.encode(text)?,
            StringFormat::Hexadecimal,
        ))
    }

    /// Six capital letters derived from the glyph set (ISO 32000-1 §9.6.4 subset tag).
    fn subset_tag(&self) -> String {
        let mut h = Sha256::new();
        for cid in self.used.keys() {
            h.update(cid.to_be_bytes());
        }
        for &old in self.remapper.remapped_gids().collect::<Vec<_>>().iter() {
            h.update(old.to_be_bytes());
        }
        h.finalize()
            .iter()
            .take(6)
            .map(|b| char::from(b'A' + b % 26))
            .collect()
    }

    /// Writes the Type0 font (descendant, descriptor, subset font file, ToUnicode CMap) into
    /// `doc` and answers the Type0 font's id.
    pub fn finish(self, doc: &mut lopdf::Document) -> Result<ObjectId, FormatError> {
        let subset = subsetter::subset(self.data, 0, &self.remapper)
            .map_err(|e| FormatError::Encoding(format!("font subset: {e}")))?;
        let name = format!("{}+{BASE_NAME}", self.subset_tag());

        let mut file_dict = Dictionary::new();
        file_dict.set("Length1", subset.len() as i64);
        file_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let file_id =
            doc.add_object(Stream::new(file_dict, deflate(&subset)?).with_compression(false));

        let bbox = self.face.global_bounding_box();
        let u = |v: i16| Object::Real(self.units(f32::from(v)).round());
        let mut descriptor = Dictionary::new();
        descriptor.set("Type", Object::Name(b"FontDescriptor".to_vec()));
        descriptor.set("FontName", Object::Name(name.clone().into_bytes()));
        // Serif (bit 2) and Nonsymbolic (bit 6), ISO 32000-1 §9.8.2.
        descriptor.set("Flags", 34);
        descriptor.set(
            "FontBBox",
            Object::Array(vec![
                u(bbox.x_min),
                u(bbox.y_min),
                u(bbox.x_max),
                u(bbox.y_max),
            ]),
        );
        descriptor.set("ItalicAngle", 0);
        descriptor.set("Ascent", u(self.face.ascender()));
        descriptor.set("Descent", u(self.face.descender()));
        descriptor.set(
            "CapHeight",
            u(self.face.capital_height().unwrap_or(self.face.ascender())),
        );
        descriptor.set("StemV", 80);
        descriptor.set("FontFile2", Object::Reference(file_id));
        let descriptor_id = doc.add_object(descriptor);

        let mut widths = Vec::new();
        for (cid, (_, w)) in &self.used {
            widths.push(Object::Integer(i64::from(*cid)));
            widths.push(Object::Array(vec![Object::Real(w.round())]));
        }
        let mut system_info = Dictionary::new();
        system_info.set("Registry", Object::string_literal("Adobe"));
        system_info.set("Ordering", Object::string_literal("Identity"));
        system_info.set("Supplement", 0);
        let mut cid_font = Dictionary::new();
        cid_font.set("Type", Object::Name(b"Font".to_vec()));
        cid_font.set("Subtype", Object::Name(b"CIDFontType2".to_vec()));
        cid_font.set("BaseFont", Object::Name(name.clone().into_bytes()));
        cid_font.set("CIDSystemInfo", system_info);
        cid_font.set("FontDescriptor", Object::Reference(descriptor_id));
        cid_font.set("DW", 1000);
        cid_font.set("W", Object::Array(widths));
        cid_font.set("CIDToGIDMap", Object::Name(b"Identity".to_vec()));
        let cid_font_id = doc.add_object(cid_font);

        let cmap = to_unicode_cmap(&self.used);
        let mut cmap_dict = Dictionary::new();
        cmap_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let cmap_id =
            doc.add_object(Stream::new(cmap_dict, deflate(&cmap)?).with_compression(false));

        let mut font = Dictionary::new();
        font.set("Type", Object::Name(b"Font".to_vec()));
        font.set("Subtype", Object::Name(b"Type0".to_vec()));
        font.set("BaseFont", Object::Name(name.into_bytes()));
        font.set("Encoding", Object::Name(b"Identity-H".to_vec()));
        font.set(
            "DescendantFonts",
            Object::Array(vec![Object::Reference(cid_font_id)]),
        );
        font.set("ToUnicode", Object::Reference(cmap_id));
        Ok(doc.add_object(font))
    }
}

/// A ToUnicode CMap (ISO 32000-1 §9.10.3, Adobe TN 5411) mapping each 2-byte CID to its
/// UTF-16BE text.
fn to_unicode_cmap(used: &BTreeMap<u16, (char, f32)>) -> Vec<u8> {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = used.iter().collect();
    for chunk in entries.chunks(100) {
        s.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (cid, (c, _)) in chunk {
            let mut buf = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut buf)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            s.push_str(&format!("<{cid:04X}> <{hex}>\n"));
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s.into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    struct NoOutline;
    impl ttf_parser::OutlineBuilder for NoOutline {
        fn move_to(&mut self, _: f32, _: f32) {}
        fn line_to(&mut self, _: f32, _: f32) {}
        fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
        fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
        fn close(&mut self) {}
    }

    #[test]
    fn encodes_vietnamese_with_renumbered_glyphs() {
        let mut f = FontBuilder::liberation_serif().unwrap();
        let a = f.encode("Phạm Đức Minh").unwrap();
        assert_eq!(a.len(), 26);
        // Glyph ids are renumbered from 1 (.notdef is 0) in order of first use.
        assert_eq!(&a[..4], &[0, 1, 0, 2]);
        assert!(f.text_width("Phạm Đức Minh", 10.0).unwrap() > 40.0);
        // Decomposed input is composed: e + circumflex + tilde is the glyph of "ễ".
        assert_eq!(
            f.encode("Nguye\u{302}\u{303}n").unwrap(),
            f.encode("Nguyễn").unwrap()
        );
        let e = f.encode("\u{4e2d}").unwrap_err();
        assert!(e.to_string().contains("no glyph"), "{e}");
        let mut doc = lopdf::Document::with_version("1.7");
        let id = f.finish(&mut doc).unwrap();
        let font = doc.get_dictionary(id).unwrap();
        let base = font.get(b"BaseFont").unwrap().as_name().unwrap();
        assert!(base.ends_with(b"+LiberationSerif") && base.len() == 22);
        // The embedded program is a real subset: .notdef, the 16 distinct characters of "Phạm
        // Đức Minh" and "Nguyễn", and the components of the accented letters (composite glyphs;
        // the subsetter numbers them after ours, so our CIDs stay valid).
        let cid_font = font.get(b"DescendantFonts").unwrap().as_array().unwrap()[0]
            .as_reference()
            .unwrap();
        let cid_font = doc.get_dictionary(cid_font).unwrap();
        let descriptor = doc
            .get_dictionary(
                cid_font
                    .get(b"FontDescriptor")
                    .unwrap()
                    .as_reference()
                    .unwrap(),
            )
            .unwrap();
        let file = descriptor
            .get(b"FontFile2")
            .unwrap()
            .as_reference()
            .unwrap();
        let program = doc.get_object(file).unwrap().as_stream().unwrap();
        let program = program.decompressed_content().unwrap();
        assert!(program.len() < 20_000, "{} bytes", program.len());
        let face = ttf_parser::Face::parse(&program, 0).unwrap();
        let distinct: std::collections::BTreeSet<char> = "Phạm Đức MinhNguyễn".chars().collect();
        let glyphs = usize::from(face.number_of_glyphs());
        assert!(glyphs > distinct.len() && glyphs < 40, "{glyphs} glyphs");
        assert!(
            face.outline_glyph(ttf_parser::GlyphId(2), &mut NoOutline)
                .is_some()
        );
    }
}
