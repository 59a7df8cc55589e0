//! `tessera sign pdf` / `tessera sign extend`: PAdES baseline signatures (ETSI EN 319 142-1
//! §6) with an organisation credential, as incremental updates of the input PDF.
//!
//! - B-B: the CAdES signature (PAdES profile, time in `/M` in Vietnam time);
//! - B-T: plus a signature timestamp (RFC 3161 Appendix A) inside the CMS;
//! - B-LT: plus a DSS with the certificates and revocation answers of the signer's and the
//!   TSA's paths (§5.4.2);
//! - B-LTA: plus a document timestamp (§5.4.3).
//!
//! A visible organisation signature shows the unit's seal (Decree 30/2020/NĐ-CP, Annex I) over
//! nothing: the official's handwritten image belongs to personal signatures, which are made
//! through remote approval. Below it go the signer's name and the signing time.

use std::path::PathBuf;

use serde_json::json;
use tessera_formats::cades::{self, Profile, SignerCerts};
use tessera_formats::pdf::appearance::{
    AppearanceSpec, AppendixStamp, DEFAULT_SEAL_DIAMETER_MM, Seal, Visible, add_appearances,
    vietnam_time,
};
use tessera_formats::pdf::doc_timestamp::{self, TimestampOptions};
use tessera_formats::pdf::dss::{self, ValidationData};
use tessera_formats::pdf::sign::{self, SignOptions};
use tessera_formats::pdf::{Limits, signature_contents};
use tessera_hsm::HashAlg;

use super::blocking_signing;
use super::images::{ImageOwner, image};
use super::organisation::audited_signer;
use super::{SigningError, ltv, scheme_for, tsa, write_atomically};
use crate::Provider;
use crate::audit::Event;
use crate::pki::Actor;

pub use tessera_formats::pdf::appearance::Placement;
pub use tessera_formats::pdf::sign::DocMdp;

/// PAdES baseline level (ETSI EN 319 142-1 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadesLevel {
    BB,
    BT,
    BLT,
    BLTA,
}

impl PadesLevel {
    /// `B-B`, `B-T`, `B-LT` or `B-LTA` (any case).
    pub fn parse(s: &str) -> Result<PadesLevel, SigningError> {
        match s.to_ascii_uppercase().as_str() {
            "B-B" => Ok(PadesLevel::BB),
            "B-T" => Ok(PadesLevel::BT),
            "B-LT" => Ok(PadesLevel::BLT),
            "B-LTA" => Ok(PadesLevel::BLTA),
            _ => Err(SigningError::Invalid(format!(
                "unknown level {s:?}: use B-B, B-T, B-LT or B-LTA"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PadesLevel::BB => "B-B",
            PadesLevel::BT => "B-T",
            PadesLevel::BLT => "B-LT",
            PadesLevel::BLTA => "B-LTA",
        }
    }
}

/// The stamp on an appendix (văn bản kèm theo) in the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appendix {
    /// The appendix's first page (1-based).
    pub page: u32,
    /// Number and symbol of the main document, e.g. "123/QĐ-UBND".
    pub doc_number: String,
}

/// What to sign and how.
#[derive(Clone, Debug)]
pub struct PdfRequest {
    pub credential_id: String,
    pub input: PathBuf,
    pub output: PathBuf,
    /// `None`: an invisible signature.
    pub placement: Option<Placement>,
    pub appendix: Option<Appendix>,
    pub reason: Option<String>,
    pub location: Option<String>,
    pub level: PadesLevel,
    pub certify: Option<DocMdp>,
    pub hash: HashAlg,
    /// The calling client, which the credential's unit must have allowed; `None` for the
    /// operator's command line.
    pub client_id: Option<String>,
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdfSigned {
    pub credential_id: String,
    pub unit_id: String,
    pub output: PathBuf,
    pub level: PadesLevel,
    pub signer: String,
    pub input_bytes: usize,
    pub output_bytes: usize,
}

/// What an extension added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdfExtended {
    pub output: PathBuf,
    /// Signatures and timestamps whose validation data went into the DSS.
    pub signatures: usize,
    pub output_bytes: usize,
}

/// Reads the input: it must be a PDF and not the output file.
fn read_pdf(input: &PathBuf, output: &PathBuf) -> Result<Vec<u8>, SigningError> {
    if input == output {
        return Err(SigningError::Invalid(
            "the output must be another file than the input".into(),
        ));
    }
    let bytes = std::fs::read(input)
        .map_err(|e| SigningError::Io(format!("cannot read {}: {e}", input.display())))?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(SigningError::Invalid(format!(
            "{} is not a PDF file",
            input.display()
        )));
    }
    Ok(bytes)
}

/// The name a signature shows: the subject's common name (a person), else its unit (OU) or
/// organisation (O) — an organisation credential has no CN — else the whole subject.
pub(crate) fn subject_name(cert_der: &[u8]) -> String {
    let Ok((_, c)) = x509_parser::parse_x509_certificate(cert_der) else {
        return String::new();
    };
    let subject = c.subject();
    fn first<'a>(
        mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
    ) -> Option<String> {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
    }
    first(subject.iter_common_name())
        .or_else(|| first(subject.iter_organizational_unit()))
        .or_else(|| first(subject.iter_organization()))
        .unwrap_or_else(|| subject.to_string())
}

/// Converts core's validation data to the DSS's (same fields).
fn to_dss(v: ltv::ValidationData) -> ValidationData {
    ValidationData {
        certs: v.certs,
        ocsps: v.ocsps,
        crls: v.crls,
    }
}

/// The certificates a CMS `SignedData` (or TimeStampToken) carries, DER. Trailing padding
/// (a PDF's `/Contents` is zero-filled) is ignored.
fn cms_certificates(der: &[u8]) -> Result<Vec<Vec<u8>>, SigningError> {
    use ::cms::cert::CertificateChoices;
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::SignedData;
    use der::{Decode, Encode, SliceReader};
    let bad = |e: der::Error| SigningError::Invalid(format!("a signature is not CMS: {e}"));
    let mut reader = SliceReader::new(der).map_err(bad)?;
    let ci = ContentInfo::decode(&mut reader).map_err(bad)?;
    let sd: SignedData = ci.content.decode_as().map_err(bad)?;
    let mut out = Vec::new();
    for c in sd.certificates.iter().flat_map(|s| s.0.iter()) {
        if let CertificateChoices::Certificate(c) = c {
            out.push(c.to_der().map_err(bad)?);
        }
    }
    Ok(out)
}

/// Validation data for every certificate in `subjects` that is not self-signed, with its path
/// built from them and Tessera's CAs (issuer name = subject name).
async fn pool_validation_data(
    p: &Provider,
    subjects: &[Vec<u8>],
    now: i64,
) -> Result<ValidationData, SigningError> {
    use der::Decode;
    // Tessera's own CA certificates help build paths the signatures do not carry whole.
    let mut pool = subjects.to_vec();
    for ca in p.store.list_cas().await? {
        if !pool.contains(&ca.cert_der) {
            pool.push(ca.cert_der);
        }
    }
    let parsed: Vec<(Vec<u8>, x509_cert::Certificate)> = pool
        .iter()
        .filter_map(|d| {
            x509_cert::Certificate::from_der(d)
                .ok()
                .map(|c| (d.clone(), c))
        })
        .collect();
    let mut all = ltv::ValidationData::default();
    for (der, cert) in &parsed {
        if !subjects.contains(der) {
            continue;
        }
        let tbs = cert.tbs_certificate();
        if tbs.subject() == tbs.issuer() {
            continue;
        }
        let mut chain = Vec::new();
        let mut issuer = tbs.issuer().clone();
        for _ in 0..8 {
            let Some((d, c)) = parsed
                .iter()
                .find(|(_, c)| c.tbs_certificate().subject() == &issuer)
            else {
                break;
            };
            if chain.contains(d) || d == der {
                break;
            }
            chain.push(d.clone());
            if c.tbs_certificate().subject() == c.tbs_certificate().issuer() {
                break;
            }
            issuer = c.tbs_certificate().issuer().clone();
        }
        all.merge(ltv::validation_data(p, der, &chain, now).await?);
    }
    Ok(to_dss(all))
}

/// Signs `req.input` into `req.output` at `req.level`, at time `now`. Nothing is written
/// unless the whole signature (and its timestamps and DSS) was made.
pub async fn sign_pdf_file(
    p: &Provider,
    actor: &Actor,
    req: &PdfRequest,
    now: i64,
) -> Result<PdfSigned, SigningError> {
    let signer = audited_signer(
        p,
        actor,
        "pdf",
        &req.credential_id,
        req.client_id.as_deref(),
        now,
    )
    .await?;
    let original = read_pdf(&req.input, &req.output)?;
    let scheme = scheme_for(signer.credential.key_alg, req.hash, false)?;
    let certs = signer.certs();
    let name = subject_name(&certs.cert_der);

    let mut spec = AppearanceSpec::default();
    if let Some(placement) = &req.placement {
        let seal = image(p, &ImageOwner::Unit(signer.unit_id().to_owned()))
            .await?
            .map(|img| Seal {
                png: img.png,
                diameter_mm: DEFAULT_SEAL_DIAMETER_MM,
            });
        spec.visible = Some(Visible {
            placement: placement.clone(),
            signature_image: None,
            seal,
            lines: vec![
                format!("Ký bởi: {name}"),
                format!("Thời gian ký: {}", vietnam_time(now)),
            ],
            text_size: 8.0,
        });
    }
    if let Some(a) = &req.appendix {
        spec.appendices.push(AppendixStamp {
            page: a.page,
            doc_number: a.doc_number.clone(),
            signing_time: now,
        });
    }
    let mut options = SignOptions::new(name.clone(), now);
    options.hash = req.hash;
    options.reason = req.reason.clone();
    options.location = req.location.clone();
    options.certify = req.certify;
    let job = PadesJob {
        custody_signer: signer.custody_signer(scheme)?,
        certs,
        spec,
        options,
        level: req.level,
    };
    let input_bytes = original.len();
    let out = make_pades(p, original, job, now).await?;
    write_atomically(&req.output, &out)?;

    let signed = PdfSigned {
        credential_id: req.credential_id.clone(),
        unit_id: signer.unit_id().to_owned(),
        output: req.output.clone(),
        level: req.level,
        signer: name,
        input_bytes,
        output_bytes: out.len(),
    };
    p.audit(
        Event::SigningPdfSigned
            .at(now)
            .actor(&actor.id)
            .maybe_client(req.client_id.as_deref())
            .meta(&actor.meta)
            .detail(json!({
                "credential": signed.credential_id,
                "unit": signed.unit_id,
                "level": req.level.name(),
                "hash": req.hash.name(),
                "scheme": format!("{scheme:?}"),
                "visible": req.placement.is_some(),
                "certify": req.certify.map(DocMdp::p),
                "input_bytes": signed.input_bytes,
                "output_bytes": signed.output_bytes,
            })),
    )
    .await?;
    Ok(signed)
}

/// What one PAdES signature is made with.
pub(crate) struct PadesJob {
    pub custody_signer: tessera_hsm::x509::CustodySigner,
    pub certs: SignerCerts,
    pub spec: AppearanceSpec,
    pub options: SignOptions,
    pub level: PadesLevel,
}

/// Signs `original` (already known to be a PDF) as `job` says: the signed file, with its
/// timestamps and DSS as the level asks.
pub(crate) async fn make_pades(
    p: &Provider,
    original: Vec<u8>,
    job: PadesJob,
    now: i64,
) -> Result<Vec<u8>, SigningError> {
    let PadesJob {
        custody_signer,
        certs,
        spec,
        options,
        level,
    } = job;
    let hook: &sign::AppearanceHook<'_> = &|inc| add_appearances(inc, &spec);
    let hook_ref = (spec.visible.is_some() || !spec.appendices.is_empty()).then_some(hook);
    let prepared = sign::prepare(&original, &options, hook_ref)?;
    let digest = prepared.digest();
    let cms_certs = certs.clone();
    let mut cms = blocking_signing(move || {
        Ok(cades::sign_detached(
            &custody_signer,
            &cms_certs,
            &digest,
            Profile::Pades,
        )?)
    })
    .await?;
    if level != PadesLevel::BB {
        cms = tsa::add_signature_timestamp(p, &cms, now).await?;
    }
    let appended = prepared.embed(&cms)?.into_appended();
    // The original's buffer takes the update: no second copy of the file.
    let mut out = original;
    out.extend_from_slice(&appended);
    drop(appended);

    if matches!(level, PadesLevel::BLT | PadesLevel::BLTA) {
        let mut pool = vec![certs.cert_der.clone()];
        pool.extend(certs.chain.iter().cloned());
        for c in cms_certificates_with_tst(&cms)? {
            if !pool.contains(&c) {
                pool.push(c);
            }
        }
        let data = pool_validation_data(p, &pool, now).await?;
        out = append_dss(out, &data)?;
    }
    if level == PadesLevel::BLTA {
        out = add_document_timestamp(p, out, now).await?;
    }
    Ok(out)
}

/// The certificates of a CMS signature and of its signature timestamp tokens (found by
/// decoding every nested `SignedData` the unsigned attributes carry).
fn cms_certificates_with_tst(cms_der: &[u8]) -> Result<Vec<Vec<u8>>, SigningError> {
    use ::cms::content_info::ContentInfo;
    use ::cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let mut out = cms_certificates(cms_der)?;
    let bad = |e: der::Error| SigningError::Invalid(format!("a signature is not CMS: {e}"));
    let mut reader = der::SliceReader::new(cms_der).map_err(bad)?;
    let ci = ContentInfo::decode(&mut reader).map_err(bad)?;
    let sd: SignedData = ci.content.decode_as().map_err(bad)?;
    for si in sd.signer_infos.0.iter() {
        for attr in si.unsigned_attrs.iter().flat_map(|a| a.iter()) {
            for v in attr.values.iter() {
                let der = v.to_der().map_err(bad)?;
                if let Ok(certs) = cms_certificates(&der) {
                    out.extend(certs);
                }
            }
        }
    }
    Ok(out)
}

/// `pdf` plus a DSS revision holding `data`.
fn append_dss(mut pdf: Vec<u8>, data: &ValidationData) -> Result<Vec<u8>, SigningError> {
    if data.is_empty() {
        return Ok(pdf);
    }
    let appended = dss::add_dss(&pdf, data, &Limits::default())?.into_appended();
    pdf.extend_from_slice(&appended);
    Ok(pdf)
}

/// `pdf` plus a document timestamp (B-LTA) from the configured TSA.
async fn add_document_timestamp(
    p: &Provider,
    mut pdf: Vec<u8>,
    now: i64,
) -> Result<Vec<u8>, SigningError> {
    let options = TimestampOptions::default();
    let appended = {
        let prepared = doc_timestamp::prepare(&pdf, &options)?;
        let token = tsa::timestamp(p, options.hash, &prepared.digest(), now).await?;
        prepared.embed(&token)?.into_appended()
    };
    pdf.extend_from_slice(&appended);
    Ok(pdf)
}

/// Extends a signed PDF to B-LTA: a DSS with the validation data of every signature's and
/// timestamp's certificates found in the file, then a document timestamp.
pub async fn extend_file(
    p: &Provider,
    actor: &Actor,
    input: &PathBuf,
    output: &PathBuf,
    now: i64,
) -> Result<PdfExtended, SigningError> {
    let original = read_pdf(input, output)?;
    let contents = signature_contents(&original, &Limits::default())?;
    if contents.is_empty() {
        return Err(SigningError::Invalid(format!(
            "{} has no signature to extend",
            input.display()
        )));
    }
    let mut pool: Vec<Vec<u8>> = Vec::new();
    for c in &contents {
        for cert in cms_certificates_with_tst(c)? {
            if !pool.contains(&cert) {
                pool.push(cert);
            }
        }
    }
    for cert in tsa::unit_certificates(p).await? {
        if !pool.contains(&cert) {
            pool.push(cert);
        }
    }
    let data = pool_validation_data(p, &pool, now).await?;
    let out = append_dss(original, &data)?;
    let out = add_document_timestamp(p, out, now).await?;
    write_atomically(output, &out)?;
    let extended = PdfExtended {
        output: output.clone(),
        signatures: contents.len(),
        output_bytes: out.len(),
    };
    p.audit(
        Event::SigningPdfExtended
            .at(now)
            .actor(&actor.id)
            .meta(&actor.meta)
            .detail(json!({
                "signatures": extended.signatures,
                "output_bytes": extended.output_bytes,
            })),
    )
    .await?;
    Ok(extended)
}
