//! QR codes as SVG, rendered here so that no outside service sees what they encode (a TOTP
//! secret, a signing request's link).

use crate::CoreError;

/// `text` as an SVG QR code at least `size` pixels wide.
pub fn svg(text: &str, size: u32) -> Result<String, CoreError> {
    Ok(qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| CoreError::Internal(format!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(size, size)
        .build())
}
