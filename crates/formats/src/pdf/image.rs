//! PNG images as PDF image XObjects (ISO 32000-1 §8.9.5), with the alpha channel as a soft mask
//! (`/SMask`, §11.6.5.3) so that a transparent signature or seal shows the page beneath it.

use std::io::{Cursor, Write};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use lopdf::{Dictionary, Object, ObjectId, Stream};

use crate::FormatError;

/// Largest PNG file accepted for a signature or a seal image.
pub const MAX_PNG_BYTES: usize = 1024 * 1024;
/// Largest decoded image, in pixels a side: a small PNG can inflate to gigabytes (a
/// decompression bomb), so the header is checked before any pixel is decoded.
pub const MAX_PNG_SIDE: u32 = 4096;

const PNG_MAGIC: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// A decoded image: 8-bit RGB pixels and, when some pixel is not opaque, an 8-bit alpha plane.
#[derive(Clone, Debug)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    pub alpha: Option<Vec<u8>>,
}

impl RgbaImage {
    /// Height over width, for layouts that keep the aspect ratio.
    pub fn aspect(&self) -> f32 {
        self.height as f32 / self.width.max(1) as f32
    }
}

/// Decodes a PNG (any colour type and depth: gray, gray+alpha, palette with or without `tRNS`,
/// RGB, RGBA, 16-bit) into 8-bit RGB plus alpha. Refuses anything that is not a PNG, files over
/// [`MAX_PNG_BYTES`] and images over [`MAX_PNG_SIDE`].
pub fn decode_png(bytes: &[u8]) -> Result<RgbaImage, FormatError> {
    if bytes.len() > MAX_PNG_BYTES {
        return Err(FormatError::TooLarge(format!(
            "the image is {} bytes; images may be at most 1 MB ({MAX_PNG_BYTES} bytes)",
            bytes.len()
        )));
    }
    if !bytes.starts_with(PNG_MAGIC) {
        return Err(FormatError::Invalid(
            "the image is not a PNG file (only PNG is accepted for signature and seal images)"
                .into(),
        ));
    }
    let bad =
        |e: png::DecodingError| FormatError::Invalid(format!("the PNG image is damaged: {e}"));
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: 4 * (MAX_PNG_SIDE as usize) * (MAX_PNG_SIDE as usize),
        },
    );
    // Palette → RGB(A), low bit depths → 8, tRNS → alpha, 16 bits → 8.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let (w, h) = (reader.info().width, reader.info().height);
    if w == 0 || h == 0 || w > MAX_PNG_SIDE || h > MAX_PNG_SIDE {
        return Err(FormatError::TooLarge(format!(
            "the image is {w}×{h} pixels; at most {MAX_PNG_SIDE}×{MAX_PNG_SIDE} is accepted"
        )));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| FormatError::TooLarge("the PNG image is too large to decode".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let (color, depth) = (info.color_type, info.bit_depth);
    if depth != png::BitDepth::Eight {
        return Err(FormatError::Unsupported(format!(
            "PNG bit depth {depth:?} after conversion is not supported"
        )));
    }
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(FormatError::Unsupported(
                "indexed PNG could not be expanded".into(),
            ));
        }
    };
    let pixels = (info.width as usize) * (info.height as usize);
    let mut rgb = Vec::with_capacity(pixels * 3);
    let mut alpha = Vec::with_capacity(pixels);
    let line = info.line_size;
    for row in buf.chunks(line).take(info.height as usize) {
        for px in row.chunks_exact(channels).take(info.width as usize) {
            match *px {
                [g] => {
                    rgb.extend_from_slice(&[g, g, g]);
                    alpha.push(255);
                }
                [g, a] => {
                    rgb.extend_from_slice(&[g, g, g]);
                    alpha.push(a);
                }
                [r, g, b] => {
                    rgb.extend_from_slice(&[r, g, b]);
                    alpha.push(255);
                }
                [r, g, b, a] => {
                    rgb.extend_from_slice(&[r, g, b]);
                    alpha.push(a);
                }
                _ => {}
            }
        }
    }
    if rgb.len() != pixels * 3 {
        return Err(FormatError::Invalid("the PNG image is truncated".into()));
    }
    let opaque = alpha.iter().all(|&a| a == 255);
    Ok(RgbaImage {
        width: info.width,
        height: info.height,
        rgb,
        alpha: (!opaque).then_some(alpha),
    })
}

pub(crate) fn deflate(data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut enc = ZlibEncoder::new(Vec::with_capacity(data.len() / 2), Compression::best());
    enc.write_all(data)
        .map_err(|e| FormatError::Encoding(format!("deflate: {e}")))?;
    enc.finish()
        .map_err(|e| FormatError::Encoding(format!("deflate: {e}")))
}

fn image_stream(
    width: u32,
    height: u32,
    color_space: &str,
    data: &[u8],
) -> Result<Stream, FormatError> {
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"XObject".to_vec()));
    dict.set("Subtype", Object::Name(b"Image".to_vec()));
    dict.set("Width", i64::from(width));
    dict.set("Height", i64::from(height));
    dict.set("ColorSpace", Object::Name(color_space.as_bytes().to_vec()));
    dict.set("BitsPerComponent", 8);
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    // Already compressed: lopdf must not compress it again.
    Ok(Stream::new(dict, deflate(data)?).with_compression(false))
}

/// Adds the image to `doc` as a `/DeviceRGB` `/FlateDecode` image XObject, with a `/DeviceGray`
/// soft mask when the image has transparency. Answers the image's object id.
pub fn add_image(doc: &mut lopdf::Document, img: &RgbaImage) -> Result<ObjectId, FormatError> {
    let mut stream = image_stream(img.width, img.height, "DeviceRGB", &img.rgb)?;
    if let Some(alpha) = &img.alpha {
        let smask = image_stream(img.width, img.height, "DeviceGray", alpha)?;
        let smask_id = doc.add_object(smask);
        stream.dict.set("SMask", Object::Reference(smask_id));
    }
    Ok(doc.add_object(stream))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn encode(color: png::ColorType, depth: png::BitDepth, w: u32, h: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(color);
            enc.set_depth(depth);
            let mut wr = enc.write_header().unwrap();
            wr.write_image_data(data).unwrap();
        }
        out
    }

    #[test]
    fn refuses_non_png_and_large_files() {
        let e = decode_png(b"GIF89a....").unwrap_err();
        assert!(e.to_string().contains("not a PNG"), "{e}");
        let mut big = PNG_MAGIC.to_vec();
        big.resize(MAX_PNG_BYTES + 1, 0);
        let e = decode_png(&big).unwrap_err();
        assert!(matches!(e, FormatError::TooLarge(_)), "{e}");
        assert!(e.to_string().contains("1 MB"));
    }

    #[test]
    fn converts_gray_and_16_bit() {
        let gray = encode(
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            2,
            1,
            &[0, 200],
        );
        let img = decode_png(&gray).unwrap();
        assert_eq!(img.rgb, vec![0, 0, 0, 200, 200, 200]);
        assert!(img.alpha.is_none());
        let rgba16 = encode(
            png::ColorType::Rgba,
            png::BitDepth::Sixteen,
            1,
            1,
            &[0xff, 0x00, 0x80, 0x00, 0x00, 0x00, 0x40, 0x00],
        );
        let img = decode_png(&rgba16).unwrap();
        assert_eq!(img.rgb, vec![0xff, 0x80, 0x00]);
        assert_eq!(img.alpha, Some(vec![0x40]));
    }

    #[test]
    fn fixture_signature_keeps_its_transparency() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pdf/images/chu-ky-xanh.png"
        ))
        .unwrap();
        let img = decode_png(&bytes).unwrap();
        assert_eq!((img.width, img.height), (400, 150));
        let alpha = img.alpha.unwrap();
        assert_eq!(alpha[0], 0, "the background is transparent");
        assert!(alpha.contains(&255));
    }
}
