//! PAdES B-LT: the Document Security Store (ETSI EN 319 142-1 §5.4.2, ISO 32000-2 §12.8.4.3),
//! holding the certificates, OCSP responses and CRLs that validate the signatures later
//! without network access, written in a further incremental update.

use lopdf::{Dictionary, Object, Stream};

use super::limits::{self, Limits};
use super::update::{self, PdfUpdate};
use crate::FormatError;

/// Revocation and chain data for the DSS, each item DER: X.509 certificates, `OCSPResponse`s
/// (RFC 6960 §4.2.1), CRLs (RFC 5280 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationData {
    pub certs: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
}

impl ValidationData {
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty() && self.ocsps.is_empty() && self.crls.is_empty()
    }

    /// Adds `other`'s entries that are not there yet (byte for byte), keeping the order.
    pub fn merge(&mut self, other: ValidationData) {
        for (mine, theirs) in [
            (&mut self.certs, other.certs),
            (&mut self.ocsps, other.ocsps),
            (&mut self.crls, other.crls),
        ] {
            for item in theirs {
                if !mine.contains(&item) {
                    mine.push(item);
                }
            }
        }
    }
}

/// Appends a revision whose catalog has a `/DSS` holding `data`, merged with the DSS already
/// there (items already present, byte for byte, are not added again). The optional `/VRI`
/// dictionary is kept as it is and not written for the new items.
pub fn add_dss<'a>(
    original: &'a [u8],
    data: &ValidationData,
    limits: &Limits,
) -> Result<PdfUpdate<'a>, FormatError> {
    if data.is_empty() {
        return Err(FormatError::Invalid(
            "no validation data to add to the DSS".into(),
        ));
    }
    let doc = limits::load(original, limits)?;
    let mut inc = update::incremental(doc);
    let root = update::root_id(inc.get_prev_documents())?;
    let prev = inc.get_prev_documents();
    let mut dss = match prev
        .get_dictionary(root)
        .ok()
        .and_then(|c| c.get(b"DSS").ok())
        .and_then(|d| update::resolve(&inc, d))
    {
        Some(Object::Dictionary(d)) => d.clone(),
        Some(_) => {
            return Err(FormatError::Invalid(
                "the PDF's /DSS is not a dictionary".into(),
            ));
        }
        None => Dictionary::new(),
    };
    dss.set("Type", Object::Name(b"DSS".to_vec()));
    for (key, items) in [
        (&b"Certs"[..], &data.certs),
        (b"OCSPs", &data.ocsps),
        (b"CRLs", &data.crls),
    ] {
        let mut refs: Vec<Object> = match dss.get(key).ok().and_then(|a| update::resolve(&inc, a)) {
            Some(Object::Array(a)) => a.clone(),
            Some(_) => {
                return Err(FormatError::Invalid(format!(
                    "the PDF's /DSS /{} is not an array",
                    String::from_utf8_lossy(key)
                )));
            }
            None => Vec::new(),
        };
        let mut present: Vec<Vec<u8>> = refs
            .iter()
            .filter_map(|r| match update::resolve(&inc, r) {
                Some(Object::Stream(s)) => s
                    .decompressed_content_with_limit(limits.max_decompressed_stream)
                    .ok()
                    .or_else(|| {
                        s.filters()
                            .ok()
                            .filter(|f| f.is_empty())
                            .map(|_| s.content.clone())
                    }),
                _ => None,
            })
            .collect();
        for item in items {
            if item.is_empty() || present.contains(item) {
                continue;
            }
            let id = inc
                .new_document
                .add_object(Stream::new(Dictionary::new(), item.clone()));
            refs.push(Object::Reference(id));
            present.push(item.clone());
        }
        if !refs.is_empty() {
            dss.set(key, Object::Array(refs));
        }
    }
    let dss_id = inc.new_document.add_object(dss);
    update::dict_in_revision(&mut inc, root)?.set("DSS", Object::Reference(dss_id));
    let appended = update::write_revision(original, &mut inc, &[])?;
    Ok(PdfUpdate {
        original,
        appended: appended.bytes,
    })
}
