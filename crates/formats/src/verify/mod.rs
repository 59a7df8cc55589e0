//! Validation of CMS and PDF signatures, with verdicts in the terms of ETSI EN 319 102-1 §5.1.3
//! (indication `TOTAL-PASSED` / `TOTAL-FAILED` / `INDETERMINATE` and a sub-indication).
//!
//! What is checked, per signature: the PDF byte range (ISO 32000-2 §12.8.1) and what changed
//! after it; the CMS structure (RFC 5652 §5); the message-digest against the signed data; the
//! signer's signature over the signed attributes; the ESS signing-certificate(-v2) hash
//! (RFC 5035 §4); a signature timestamp (RFC 3161) as proof of existence; the chain to the
//! caller's trust anchors (RFC 5280 §6); revocation from the DSS, the CMS or the caller.
//! Nothing here fetches anything or reads the clock: the caller passes `now` and any
//! revocation data it fetched.

mod chain;
mod cms;
mod crypto;
mod pdf;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use pdf::verify_pdf;

/// What the caller knows: the time of validation, its trust anchors (DER certificates),
/// and revocation data it fetched itself (CRLs, OCSP responses, DER).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub now: i64,
    pub anchors: Vec<Vec<u8>>,
    /// Further certificates that may help build chains (e.g. Tessera's intermediate CAs).
    pub extra_certs: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
}

/// ETSI EN 319 102-1 §5.1.3 main indication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Indication {
    #[serde(rename = "TOTAL-PASSED")]
    TotalPassed,
    #[serde(rename = "TOTAL-FAILED")]
    TotalFailed,
    #[serde(rename = "INDETERMINATE")]
    Indeterminate,
}

impl Indication {
    pub fn as_str(self) -> &'static str {
        match self {
            Indication::TotalPassed => "TOTAL-PASSED",
            Indication::TotalFailed => "TOTAL-FAILED",
            Indication::Indeterminate => "INDETERMINATE",
        }
    }
}

/// ETSI EN 319 102-1 §5.1.3 sub-indications (the ones this validator can reach).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    // TOTAL-FAILED
    FormatFailure,
    HashFailure,
    SigCryptoFailure,
    Revoked,
    NotYetValid,
    // INDETERMINATE
    SigConstraintsFailure,
    NoSigningCertificateFound,
    NoCertificateChainFound,
    OutOfBoundsNoPoe,
    RevokedNoPoe,
    RevokedCaNoPoe,
    TryLater,
    CryptoConstraintsFailure,
    ChainConstraintsFailure,
}

impl SubIndication {
    pub fn as_str(self) -> &'static str {
        match self {
            SubIndication::FormatFailure => "FORMAT_FAILURE",
            SubIndication::HashFailure => "HASH_FAILURE",
            SubIndication::SigCryptoFailure => "SIG_CRYPTO_FAILURE",
            SubIndication::Revoked => "REVOKED",
            SubIndication::NotYetValid => "NOT_YET_VALID",
            SubIndication::SigConstraintsFailure => "SIG_CONSTRAINTS_FAILURE",
            SubIndication::NoSigningCertificateFound => "NO_SIGNING_CERTIFICATE_FOUND",
            SubIndication::NoCertificateChainFound => "NO_CERTIFICATE_CHAIN_FOUND",
            SubIndication::OutOfBoundsNoPoe => "OUT_OF_BOUNDS_NO_POE",
            SubIndication::RevokedNoPoe => "REVOKED_NO_POE",
            SubIndication::RevokedCaNoPoe => "REVOKED_CA_NO_POE",
            SubIndication::TryLater => "TRY_LATER",
            SubIndication::CryptoConstraintsFailure => "CRYPTO_CONSTRAINTS_FAILURE",
            SubIndication::ChainConstraintsFailure => "CHAIN_CONSTRAINTS_FAILURE",
        }
    }
}

/// The verdict on one signature, with a sentence (English) saying why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub indication: Indication,
    pub sub_indication: Option<SubIndication>,
    pub detail: String,
}

impl Verdict {
    fn passed() -> Verdict {
        Verdict {
            indication: Indication::TotalPassed,
            sub_indication: None,
            detail: String::new(),
        }
    }
    fn failed(sub: SubIndication, detail: impl Into<String>) -> Verdict {
        Verdict {
            indication: Indication::TotalFailed,
            sub_indication: Some(sub),
            detail: detail.into(),
        }
    }
    fn indeterminate(sub: SubIndication, detail: impl Into<String>) -> Verdict {
        Verdict {
            indication: Indication::Indeterminate,
            sub_indication: Some(sub),
            detail: detail.into(),
        }
    }
}

/// One certificate, as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    /// Hex, upper case.
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// A PDF signature (`/Type /Sig`).
    Pdf,
    /// A PDF document timestamp (`/Type /DocTimeStamp`, ETSI EN 319 142-1 §5.4).
    DocumentTimestamp,
    /// A detached CMS signature over separate content.
    Detached,
}

/// What the signature's byte range covers (ISO 32000-2 §12.8.1, §12.8.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// The signature covers the whole file (bar its own Contents).
    WholeDocument,
    /// Later revisions were appended, with only changes a signature allows (further
    /// signatures, form filling of signature fields, DSS, document timestamps).
    AllowedLaterChanges,
    /// The byte range is malformed, or later revisions change the signed content.
    Modified,
    /// Detached signature: the content given was hashed as a whole.
    Content,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimestampReport {
    pub time: i64,
    /// Subject of the time-stamping authority's certificate.
    pub tsa: Option<String>,
    /// Its signature and imprint verify and its certificate chains to a trust anchor.
    pub valid: bool,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationSource {
    /// The PDF's Document Security Store (ETSI EN 319 142-1 §5.4.2).
    Dss,
    /// Revocation data embedded in the CMS (RFC 5652 `crls`, adbe-revocationInfoArchival).
    Cms,
    /// Fetched by the caller (Tessera's own CA, or the certificate's CRL/OCSP URLs).
    Caller,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationStatus {
    Good {
        source: RevocationSource,
    },
    Revoked {
        source: RevocationSource,
        time: i64,
        reason: Option<String>,
        /// The revoked certificate is a CA of the chain, not the signer's.
        ca: bool,
    },
    /// The certificates name a CRL or OCSP service, but no usable answer was at hand.
    Unknown {
        detail: String,
    },
    /// None of the certificates names a CRL or OCSP service: nothing to check.
    NotApplicable,
}

/// The report on one signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    pub kind: SignatureKind,
    /// The PDF signature field's name (`/T`).
    pub field: Option<String>,
    pub signer: Option<CertSummary>,
    /// From the signer's issuer up to the trust anchor (when one was reached).
    pub chain: Vec<CertSummary>,
    pub trusted: bool,
    /// The message-digest matches the signed bytes and the signer's signature verifies.
    pub integrity: bool,
    pub coverage: Coverage,
    /// What the later revisions changed (empty when nothing did).
    pub later_changes: Vec<String>,
    /// DocMDP permission level of a certification signature (1, 2 or 3).
    pub docmdp: Option<u8>,
    /// Signing time as claimed by the signer (`/M` or the signing-time attribute): no proof.
    pub claimed_signing_time: Option<i64>,
    pub timestamp: Option<TimestampReport>,
    pub revocation: RevocationStatus,
    pub verdict: Verdict,
    /// Certificates of the path that name a CRL or OCSP service but had no revocation data
    /// at hand: what a caller may fetch before verifying again (not part of the report).
    #[serde(skip)]
    pub revocation_wanted: Vec<WantedRevocation>,
}

/// A certificate and its issuer (both DER) whose revocation status is wanted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedRevocation {
    pub cert: Vec<u8>,
    pub issuer: Vec<u8>,
}

/// The report on a whole PDF.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PdfReport {
    pub size: usize,
    pub signatures: Vec<SignatureReport>,
}

impl PdfReport {
    /// The worst indication over all signatures: `None` when the PDF has no signature.
    pub fn overall(&self) -> Option<Indication> {
        overall(self.signatures.iter())
    }
}

/// Worst indication: TOTAL-FAILED over INDETERMINATE over TOTAL-PASSED.
pub fn overall<'a>(reports: impl Iterator<Item = &'a SignatureReport>) -> Option<Indication> {
    let mut worst = None;
    for r in reports {
        worst = Some(match (worst, r.verdict.indication) {
            (Some(Indication::TotalFailed), _) | (_, Indication::TotalFailed) => {
                Indication::TotalFailed
            }
            (Some(Indication::Indeterminate), _) | (_, Indication::Indeterminate) => {
                Indication::Indeterminate
            }
            _ => Indication::TotalPassed,
        });
    }
    worst
}

/// Verifies a detached CMS signature (DER, or PEM `-----BEGIN PKCS7-----`/`CMS`) over
/// `content` (RFC 5652 §5.6).
pub fn verify_detached(
    cms_der: &[u8],
    content: &[u8],
    opts: &Options,
) -> Result<SignatureReport, crate::FormatError> {
    let der_bytes = cms::unpem(cms_der)?;
    Ok(cms::verify_signature(
        &der_bytes,
        cms::Signed::Content(content),
        &cms::Context {
            kind: SignatureKind::Detached,
            field: None,
            coverage: Coverage::Content,
            later_changes: Vec::new(),
            docmdp: None,
            claimed_time: None,
            dss: None,
        },
        opts,
    ))
}
