//! PAdES (ETSI EN 319 142-1) on PDFs: incremental updates that never rewrite the original bytes,
//! visible appearances by Decree 30/2020/NĐ-CP, the DSS for long-term validation and document
//! timestamps.

pub mod anchor;
pub mod appearance;
pub mod doc_timestamp;
pub mod dss;
pub mod font;
pub mod image;
pub mod limits;
mod partial;
pub mod sign;
mod syntax;
mod update;

pub use dss::ValidationData;
pub use limits::Limits;
pub use sign::{AppearanceHook, DocMdp, PreparedSignature, SignOptions, SignedUpdate, sign_pdf};
pub use update::PdfUpdate;

/// A visible signature widget made by an appearance builder: the page it sits on, its rectangle
/// in the page's default user space (x1, y1, x2, y2; points, origin bottom-left) and the Form
/// XObject that is its normal appearance (`/AP /N`). The PAdES writer turns each into a widget
/// annotation of the signature field.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedAppearance {
    pub page: lopdf::ObjectId,
    pub rect: [f32; 4],
    pub normal: lopdf::ObjectId,
}

/// The `/Contents` (CMS `SignedData` or TimeStampToken, DER) of every signature and document
/// timestamp dictionary in `pdf` (ISO 32000-1 §12.8.1), for gathering their validation data
/// (PAdES B-LT, ETSI EN 319 142-1 §5.4.2). Padding after the DER is left as it is.
pub fn signature_contents(pdf: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, crate::FormatError> {
    let doc = limits::load(pdf, limits)?;
    let mut out = Vec::new();
    for obj in doc.objects.values() {
        let Ok(d) = obj.as_dict() else { continue };
        let is_sig = matches!(
            d.get(b"Type").and_then(lopdf::Object::as_name),
            Ok(b"Sig") | Ok(b"DocTimeStamp")
        ) || (d.has(b"ByteRange") && d.has(b"Filter"));
        if !is_sig {
            continue;
        }
        if let Ok(lopdf::Object::String(bytes, _)) = d.get(b"Contents") {
            out.push(bytes.clone());
        }
    }
    Ok(out)
}
