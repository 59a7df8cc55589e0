//! Images for visible signatures (Decree 30/2020/NĐ-CP, Annex I): an official's handwritten
//! signature and a unit's seal. PNG only (transparency is needed to lay the seal over the
//! signature), at most [`MAX_IMAGE_BYTES`]; anything else is refused with the reason.

use std::io::Cursor;

use serde_json::json;
use tessera_store::pki_org::{ImageKind, SigningImage};

use super::SigningError;
use crate::Provider;
use crate::audit::Event;
use crate::pki::Actor;
use crate::pki::credential::{find_unit, find_user};

/// The largest image accepted: 1 MB.
pub const MAX_IMAGE_BYTES: usize = 1024 * 1024;
/// The largest side accepted, in pixels (a seal is a few centimetres; this is far above).
pub const MAX_IMAGE_SIDE: u32 = 4096;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Whose image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageOwner {
    /// An official (user id or username): their handwritten signature.
    User(String),
    /// A unit (id): its seal.
    Unit(String),
}

/// The size of a checked PNG image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PngInfo {
    pub width: u32,
    pub height: u32,
}

/// Checks that `bytes` are a whole, readable PNG image (signature, header and image data
/// decoded) within the limits.
pub fn check_png(bytes: &[u8]) -> Result<PngInfo, SigningError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(SigningError::Invalid(format!(
            "the image is {} bytes; at most 1 MB ({MAX_IMAGE_BYTES} bytes) is accepted",
            bytes.len()
        )));
    }
    if !bytes.starts_with(PNG_SIGNATURE) {
        return Err(SigningError::Invalid(
            "the image is not a PNG file; only PNG images are accepted".into(),
        ));
    }
    let damaged = |e: &dyn std::fmt::Display| {
        SigningError::Invalid(format!("the PNG image cannot be read: {e}"))
    };
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .map_err(|e| damaged(&e))?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(SigningError::Invalid(format!(
            "the image is {width}×{height} pixels; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} is accepted"
        )));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| damaged(&"the image is too large to decode"))?;
    let mut buf = vec![0u8; size];
    reader.next_frame(&mut buf).map_err(|e| damaged(&e))?;
    Ok(PngInfo { width, height })
}

/// The stored key of an owner's image, after checking that the owner exists.
async fn key(p: &Provider, owner: &ImageOwner) -> Result<(ImageKind, String), SigningError> {
    Ok(match owner {
        ImageOwner::User(u) => (ImageKind::Signature, find_user(p, u).await?.id),
        ImageOwner::Unit(u) => (ImageKind::Seal, find_unit(p, u).await?.id),
    })
}

/// Sets (or replaces) the owner's image after [`check_png`]; a refusal is audited too.
pub async fn set_image(
    p: &Provider,
    actor: &Actor,
    owner: &ImageOwner,
    png: &[u8],
    now: i64,
) -> Result<SigningImage, SigningError> {
    let (kind, owner_id) = key(p, owner).await?;
    let info = match check_png(png) {
        Ok(info) => info,
        Err(e) => {
            p.audit(
                Event::SigningImageRefused
                    .at(now)
                    .actor(&actor.id)
                    .meta(&actor.meta)
                    .detail(json!({ "kind": kind.as_str(), "owner": owner_id, "bytes": png.len(), "reason": e.to_string() })),
            )
            .await?;
            return Err(e);
        }
    };
    let image = SigningImage {
        kind,
        owner_id,
        png: png.to_vec(),
        width: i64::from(info.width),
        height: i64::from(info.height),
        updated_by: actor.id.clone(),
        updated_at: now,
    };
    p.store.set_signing_image(&image).await?;
    p.audit(
        Event::SigningImageSet
            .at(now)
            .actor(&actor.id)
            .meta(&actor.meta)
            .detail(json!({ "kind": kind.as_str(), "owner": image.owner_id, "bytes": png.len(), "width": info.width, "height": info.height })),
    )
    .await?;
    Ok(image)
}

/// The owner's image, if any.
pub async fn image(p: &Provider, owner: &ImageOwner) -> Result<Option<SigningImage>, SigningError> {
    let (kind, owner_id) = key(p, owner).await?;
    Ok(p.store.signing_image(kind, &owner_id).await?)
}

/// Removes the owner's image; `false` when there was none.
pub async fn remove_image(
    p: &Provider,
    actor: &Actor,
    owner: &ImageOwner,
    now: i64,
) -> Result<bool, SigningError> {
    let (kind, owner_id) = key(p, owner).await?;
    let removed = p.store.remove_signing_image(kind, &owner_id).await?;
    if removed {
        p.audit(
            Event::SigningImageRemoved
                .at(now)
                .actor(&actor.id)
                .meta(&actor.meta)
                .detail(json!({ "kind": kind.as_str(), "owner": owner_id })),
        )
        .await?;
    }
    Ok(removed)
}
