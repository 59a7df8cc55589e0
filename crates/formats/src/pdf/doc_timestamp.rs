//! PAdES B-LTA: a document timestamp (ETSI EN 319 142-1 §5.4.3, ISO 32000-2 §12.8.5), a
//! signature field whose dictionary has `/Type /DocTimeStamp /SubFilter /ETSI.RFC3161` and
//! whose `/Contents` is an RFC 3161 TimeStampToken over the digest of the byte ranges.

use tessera_hsm::HashAlg;

use super::limits::Limits;
use super::sign::{self, PreparedSignature, SigKind, SignedUpdate};
use crate::FormatError;

/// Options of a document timestamp.
#[derive(Clone, Debug)]
pub struct TimestampOptions {
    /// The hash the TSA is asked to timestamp (the TimeStampReq's messageImprint).
    pub hash: HashAlg,
    /// Bytes reserved for the TimeStampToken.
    pub contents_size: usize,
    /// The field's name; by default the first free `SignatureN`.
    pub field_name: Option<String>,
    pub limits: Limits,
}

impl Default for TimestampOptions {
    fn default() -> TimestampOptions {
        TimestampOptions {
            hash: HashAlg::Sha256,
            contents_size: 16 * 1024,
            field_name: None,
            limits: Limits::default(),
        }
    }
}

/// Builds the update with a placeholder token; [`PreparedSignature::digest`] is what to send
/// to the TSA.
pub fn prepare<'a>(
    original: &'a [u8],
    options: &TimestampOptions,
) -> Result<PreparedSignature<'a>, FormatError> {
    sign::prepare_kind(
        original,
        &options.limits,
        options.hash,
        options.contents_size,
        options.field_name.as_deref(),
        SigKind::DocTimeStamp,
        None,
    )
}

/// Adds a document timestamp: `token` receives the digest of the byte ranges and answers the
/// TimeStampToken (ContentInfo DER, see `tsp::token_from_response`).
pub fn timestamp_pdf<'a>(
    original: &'a [u8],
    options: &TimestampOptions,
    token: impl FnOnce(&[u8]) -> Result<Vec<u8>, FormatError>,
) -> Result<SignedUpdate<'a>, FormatError> {
    let prepared = prepare(original, options)?;
    let tst = token(&prepared.digest())?;
    prepared.embed(&tst)
}
