//! Signature validation for people and programs (`tessera verify`, `POST /api/verify`, the
//! `/verify` page): the trust anchors are the operator's (`tessera trust add`) plus Tessera's
//! own root CAs; Tessera's issuing CAs help build chains; the revocation status of Tessera's
//! own certificates is answered locally from its CRLs, with no network; for other certificates
//! that name a CRL or OCSP service and come with no data, it is fetched as for signing
//! (`signing::ltv`, through the outbound allow-list) and the signatures verified again. The
//! checks themselves are `tessera_formats::verify` (ETSI EN 319 102-1 verdicts).

use tessera_formats::FormatError;
pub use tessera_formats::verify::{
    CertSummary, Coverage, Indication, PdfReport, RevocationSource, RevocationStatus,
    SignatureKind, SignatureReport, SubIndication, Verdict,
};
use tessera_formats::verify::{Options, WantedRevocation, overall, verify_detached, verify_pdf};

use crate::Provider;

/// What is verified.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    Pdf(&'a [u8]),
    /// A detached CMS (DER or PEM) and the content it signs.
    Detached {
        cms: &'a [u8],
        content: &'a [u8],
    },
}

/// The reports, one per signature (a detached CMS has one), and the worst verdict.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verification {
    /// `None` when the input holds no signature.
    pub overall: Option<Indication>,
    pub signatures: Vec<SignatureReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The input is not a PDF or CMS this can read (said in words for people).
    #[error("{0}")]
    BadInput(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Certificates the caller adds to the trust anchors (e.g. `tessera verify --trust`).
#[derive(Clone, Debug, Default)]
pub struct Trust {
    pub extra_anchors: Vec<Vec<u8>>,
    /// CRLs (DER) the caller has, e.g. `tessera verify --crl`.
    pub crls: Vec<Vec<u8>>,
}

/// Verifies `input` at `now` against the configured anchors, Tessera's roots and `trust`.
pub async fn verify(
    p: &Provider,
    input: Input<'_>,
    trust: &Trust,
    now: i64,
) -> Result<Verification, VerifyError> {
    let mut opts = Options {
        now,
        anchors: trust.extra_anchors.clone(),
        crls: trust.crls.clone(),
        ..Options::default()
    };
    let anchors = p
        .store
        .list_trust_anchors()
        .await
        .map_err(|e| VerifyError::Internal(e.to_string()))?;
    opts.anchors.extend(anchors.into_iter().map(|a| a.cert_der));
    let cas = p
        .store
        .list_cas()
        .await
        .map_err(|e| VerifyError::Internal(e.to_string()))?;
    for ca in &cas {
        if ca.role == "root" {
            opts.anchors.push(ca.cert_der.clone());
        } else {
            opts.extra_certs.push(ca.cert_der.clone());
        }
        // Tessera's own revocation answers, read locally. A CA whose key is not here (an
        // imported offline root) has no CRL to publish: its subordinates then go unchecked.
        if let Ok(crl) = crate::pki::crl::current_crl(p, &ca.id, now).await {
            opts.crls.push(crl);
        }
    }
    let mut signatures = check(input, &opts).await?;
    // Revocation data the signatures point to but do not carry: fetched once, then checked
    // again. What cannot be fetched stays INDETERMINATE/TRY_LATER.
    let mut wanted: Vec<WantedRevocation> = Vec::new();
    for s in &signatures {
        if s.verdict.sub_indication == Some(SubIndication::TryLater) {
            for w in &s.revocation_wanted {
                if !wanted.contains(w) {
                    wanted.push(w.clone());
                }
            }
        }
    }
    let mut fetched = false;
    for w in &wanted {
        if let Ok(data) = crate::signing::ltv::fetch_external(p, &w.cert, &w.issuer).await {
            opts.crls.extend(data.crls);
            opts.ocsps.extend(data.ocsps);
            fetched = true;
        }
    }
    if fetched {
        signatures = check(input, &opts).await?;
    }
    Ok(Verification {
        overall: overall(signatures.iter()),
        signatures,
    })
}

/// One run of the format checks on `input`, off the async workers (hashing megabytes and
/// parsing PDFs).
async fn check(input: Input<'_>, opts: &Options) -> Result<Vec<SignatureReport>, VerifyError> {
    let (pdf, cms, content) = match input {
        Input::Pdf(b) => (Some(b.to_vec()), Vec::new(), Vec::new()),
        Input::Detached { cms, content } => (None, cms.to_vec(), content.to_vec()),
    };
    let opts = opts.clone();
    let result = tokio::task::spawn_blocking(move || match pdf {
        Some(pdf) => verify_pdf(&pdf, &opts).map(|r| r.signatures),
        None => verify_detached(&cms, &content, &opts).map(|r| vec![r]),
    })
    .await
    .map_err(|e| VerifyError::Internal(format!("verification task: {e}")))?;
    result.map_err(|e| match e {
        FormatError::Invalid(m) | FormatError::Unsupported(m) | FormatError::TooLarge(m) => {
            VerifyError::BadInput(m)
        }
        other => VerifyError::Internal(other.to_string()),
    })
}
