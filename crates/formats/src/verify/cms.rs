//! One CMS signature (RFC 5652 §5.6) checked end to end, and RFC 3161 timestamp tokens.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;

use super::chain::{self, CertStatusFound, Path, Sources};
use super::crypto::{CryptoError, SHA1, SHA256, digest, verify_raw};
use super::{
    Coverage, Options, RevocationSource, RevocationStatus, SignatureKind, SignatureReport,
    SubIndication, TimestampReport, Verdict,
};
use crate::FormatError;

const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const ID_SIGNING_CERT: &str = "1.2.840.113549.1.9.16.2.12";
const ID_SIGNING_CERT_V2: &str = "1.2.840.113549.1.9.16.2.47";
const ID_SIGNATURE_TIMESTAMP: &str = "1.2.840.113549.1.9.16.2.14";

/// What the signature covers.
pub(super) enum Signed<'a> {
    Content(&'a [u8]),
    /// The PDF byte ranges, in order.
    Ranges(Vec<&'a [u8]>),
}

impl Signed<'_> {
    fn parts(&self) -> Vec<&[u8]> {
        match self {
            Signed::Content(c) => vec![c],
            Signed::Ranges(r) => r.clone(),
        }
    }
}

/// Validation material found next to the signature (the PDF's DSS).
#[derive(Clone, Debug, Default)]
pub(super) struct Extra {
    pub certs: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
}

/// What the container (PDF or caller) already established about the signature.
pub(super) struct Context {
    pub kind: SignatureKind,
    pub field: Option<String>,
    pub coverage: Coverage,
    pub later_changes: Vec<String>,
    pub docmdp: Option<u8>,
    pub claimed_time: Option<i64>,
    pub dss: Option<Extra>,
}

/// Accepts DER, or PEM (`PKCS7`, `CMS`); cuts trailing bytes after the outer DER element (the
/// zero padding of a PDF `/Contents`).
pub(super) fn unpem(bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"-----BEGIN") {
        let (_, der_bytes) = der::pem::decode_vec(trimmed)
            .map_err(|e| FormatError::Invalid(format!("unreadable PEM: {e}")))?;
        return Ok(der_bytes);
    }
    Ok(bytes.to_vec())
}

/// Length of the first DER element of `bytes` (tag, length, value), if it is well formed.
fn first_element_len(bytes: &[u8]) -> Option<usize> {
    let mut reader = der::SliceReader::new(bytes).ok()?;
    let header = der::Header::decode(&mut reader).ok()?;
    let header_len = usize::try_from(u32::from(header.encoded_len().ok()?)).ok()?;
    let body = usize::try_from(u32::from(header.length())).ok()?;
    let total = header_len.checked_add(body)?;
    (total <= bytes.len()).then_some(total)
}

struct Parsed {
    sd: SignedData,
    si: SignerInfo,
    certs: Vec<Vec<u8>>,
    crls: Vec<Vec<u8>>,
}

fn parse(der_bytes: &[u8]) -> Result<Parsed, String> {
    let len = first_element_len(der_bytes).ok_or("the signature is not DER")?;
    let ci = ContentInfo::from_der(&der_bytes[..len])
        .map_err(|e| format!("the signature is not a CMS ContentInfo: {e}"))?;
    if ci.content_type.to_string() != ID_SIGNED_DATA {
        return Err(format!(
            "the CMS content is {}, not SignedData",
            ci.content_type
        ));
    }
    let sd_der = ci.content.to_der().map_err(|e| e.to_string())?;
    let sd = SignedData::from_der(&sd_der).map_err(|e| format!("malformed SignedData: {e}"))?;
    let mut infos = sd.signer_infos.0.iter();
    let si = infos
        .next()
        .ok_or("the SignedData has no SignerInfo")?
        .clone();
    if infos.next().is_some() {
        return Err("the SignedData has more than one SignerInfo".into());
    }
    let mut certs = Vec::new();
    for c in sd.certificates.iter().flat_map(|s| s.0.iter()) {
        if let cms::cert::CertificateChoices::Certificate(c) = c
            && let Ok(d) = c.to_der()
        {
            certs.push(d);
        }
    }
    let mut crls = Vec::new();
    for r in sd.crls.iter().flat_map(|s| s.0.iter()) {
        if let cms::revocation::RevocationInfoChoice::Crl(c) = r
            && let Ok(d) = c.to_der()
        {
            crls.push(d);
        }
    }
    Ok(Parsed {
        sd,
        si,
        certs,
        crls,
    })
}

fn attr<'a>(attrs: Option<&'a x509_cert::attr::Attributes>, oid: &str) -> Option<&'a Any> {
    attrs?
        .iter()
        .find(|a| a.oid.to_string() == oid)
        .and_then(|a| a.values.iter().next())
}

enum Ess {
    Absent,
    Match,
    Mismatch,
}

struct SignerCheck {
    cert: Option<Vec<u8>>,
    digest_ok: bool,
    crypto: Result<(), (SubIndication, String)>,
    signing_time: Option<i64>,
    ess: Ess,
}

fn find_signer(p: &Parsed) -> Option<Vec<u8>> {
    p.sd.certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .find_map(|c| {
            let cms::cert::CertificateChoices::Certificate(c) = c else {
                return None;
            };
            let tbs = c.tbs_certificate();
            let hit = match &p.si.sid {
                SignerIdentifier::IssuerAndSerialNumber(isn) => {
                    isn.issuer == *tbs.issuer() && isn.serial_number == *tbs.serial_number()
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                    .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                    .ok()
                    .flatten()
                    .is_some_and(|(_, s)| s == *ski),
            };
            if hit { c.to_der().ok() } else { None }
        })
}

/// Checks the SignerInfo against `content` (the signed bytes, RFC 5652 §5.4) and the signer's
/// certificate: message-digest, signature, ESS signing-certificate(-v2).
fn check_signer(p: &Parsed, content: &[&[u8]]) -> SignerCheck {
    let si = &p.si;
    let attrs = si.signed_attrs.as_ref();
    let signing_time = attr(attrs, ID_SIGNING_TIME)
        .and_then(|a| a.to_der().ok())
        .and_then(|d| x509_cert::time::Time::from_der(&d).ok())
        .map(|t| t.to_unix_duration().as_secs() as i64);
    let mut check = SignerCheck {
        cert: find_signer(p),
        digest_ok: false,
        crypto: Ok(()),
        signing_time,
        ess: Ess::Absent,
    };
    let digest_alg = si.digest_alg.oid.to_string();
    let Some(computed) = digest(&digest_alg, content) else {
        check.crypto = Err((
            SubIndication::CryptoConstraintsFailure,
            format!("unsupported digest algorithm {digest_alg}"),
        ));
        return check;
    };
    let message = match attrs {
        Some(a) => {
            let md =
                attr(Some(a), ID_MESSAGE_DIGEST).and_then(|v| v.decode_as::<OctetString>().ok());
            check.digest_ok = md.is_some_and(|md| md.as_bytes() == computed.as_slice());
            match a.to_der() {
                Ok(d) => d,
                Err(e) => {
                    check.crypto = Err((SubIndication::FormatFailure, e.to_string()));
                    return check;
                }
            }
        }
        None => {
            check.digest_ok = true;
            content.concat()
        }
    };
    let Some(cert_der) = check.cert.clone() else {
        return check;
    };
    let Some(cert) = chain::parse(&cert_der) else {
        check.crypto = Err((
            SubIndication::FormatFailure,
            "the signer's certificate is unreadable".into(),
        ));
        return check;
    };
    let params = si
        .signature_algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.to_der().ok());
    check.crypto = match verify_raw(
        cert.public_key(),
        &si.signature_algorithm.oid.to_string(),
        params.as_deref(),
        Some(&digest_alg),
        &message,
        si.signature.as_bytes(),
    ) {
        Ok(()) => Ok(()),
        Err(CryptoError::Bad) => Err((
            SubIndication::SigCryptoFailure,
            "the signer's signature does not verify with its certificate's key".into(),
        )),
        Err(CryptoError::Unsupported(what)) => Err((
            SubIndication::CryptoConstraintsFailure,
            format!("unsupported: {what}"),
        )),
    };
    check.ess = ess_check(attrs, &cert_der);
    check
}

/// RFC 5035 §3 / RFC 2634 §5.4: the first ESSCertID(v2) must hash the signer's certificate.
fn ess_check(attrs: Option<&x509_cert::attr::Attributes>, cert_der: &[u8]) -> Ess {
    let (value, default_hash) = match (
        attr(attrs, ID_SIGNING_CERT_V2),
        attr(attrs, ID_SIGNING_CERT),
    ) {
        (Some(v), _) => (v, SHA256),
        (None, Some(v)) => (v, SHA1),
        (None, None) => return Ess::Absent,
    };
    let first_hash = || -> Option<(String, Vec<u8>)> {
        let sc = Vec::<Any>::from_der(&value.to_der().ok()?).ok()?;
        let ids = Vec::<Any>::from_der(&sc.first()?.to_der().ok()?).ok()?;
        let id = Vec::<Any>::from_der(&ids.first()?.to_der().ok()?).ok()?;
        let mut it = id.iter();
        let mut f = it.next()?;
        let mut hash = default_hash.to_string();
        if f.tag() == Tag::Sequence {
            hash = AlgorithmIdentifierOwned::from_der(&f.to_der().ok()?)
                .ok()?
                .oid
                .to_string();
            f = it.next()?;
        }
        Some((hash, f.decode_as::<OctetString>().ok()?.as_bytes().to_vec()))
    };
    match first_hash() {
        Some((alg, h)) if digest(&alg, &[cert_der]).is_some_and(|d| d == h) => Ess::Match,
        _ => Ess::Mismatch,
    }
}

/// TSTInfo fields used here (RFC 3161 §2.4.2).
struct TstInfo {
    hash_alg: String,
    imprint: Vec<u8>,
    gen_time: i64,
}

fn tst_info(p: &Parsed) -> Result<TstInfo, String> {
    if p.sd.encap_content_info.econtent_type.to_string() != ID_TST_INFO {
        return Err("the token does not hold a TSTInfo".into());
    }
    let octets =
        p.sd.encap_content_info
            .econtent
            .as_ref()
            .and_then(|e| e.decode_as::<OctetString>().ok())
            .ok_or("the token has no TSTInfo content")?;
    let fields = Vec::<Any>::from_der(octets.as_bytes()).map_err(|e| e.to_string())?;
    let imprint = fields.get(2).ok_or("short TSTInfo")?;
    let imprint = Vec::<Any>::from_der(&imprint.to_der().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let alg = AlgorithmIdentifierOwned::from_der(
        &imprint
            .first()
            .ok_or("short imprint")?
            .to_der()
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let hashed = imprint
        .get(1)
        .ok_or("short imprint")?
        .decode_as::<OctetString>()
        .map_err(|e| e.to_string())?;
    let gen_time = fields
        .get(4)
        .and_then(generalized_time)
        .ok_or("the TSTInfo's genTime is malformed")?;
    Ok(TstInfo {
        hash_alg: alg.oid.to_string(),
        imprint: hashed.as_bytes().to_vec(),
        gen_time,
    })
}

/// A GeneralizedTime as RFC 3161 §2.4.2 allows in genTime: `YYYYMMDDhhmmss[.s+]Z`. The
/// fraction (which DER `GeneralizedTime` decoding refuses) is dropped.
fn generalized_time(any: &Any) -> Option<i64> {
    if any.tag() != Tag::GeneralizedTime {
        return None;
    }
    let v = std::str::from_utf8(any.value()).ok()?;
    let v = v.strip_suffix('Z')?;
    let main = v.split('.').next()?;
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| main.get(a..b).and_then(|x| x.parse::<i64>().ok());
    Some(
        super::crypto::days_from_civil(n(0, 4)?, n(4, 6)?, n(6, 8)?) * 86_400
            + n(8, 10)? * 3600
            + n(10, 12)? * 60
            + n(12, 14)?,
    )
}

/// Checks a TimeStampToken over `imprinted` (RFC 3161 §2.4.2): the TSA's signature, the
/// message imprint, and the TSA certificate's path to a trust anchor at genTime.
fn check_token(
    token: &[u8],
    imprinted: &[&[u8]],
    pool: &[Vec<u8>],
    opts: &Options,
) -> TimestampReport {
    let mut report = TimestampReport {
        time: 0,
        tsa: None,
        valid: false,
        detail: String::new(),
    };
    let p = match parse(token) {
        Ok(p) => p,
        Err(e) => {
            report.detail = format!("unreadable timestamp token: {e}");
            return report;
        }
    };
    let tst = match tst_info(&p) {
        Ok(t) => t,
        Err(e) => {
            report.detail = e;
            return report;
        }
    };
    report.time = tst.gen_time;
    let econtent =
        p.sd.encap_content_info
            .econtent
            .as_ref()
            .and_then(|e| e.decode_as::<OctetString>().ok())
            .map(|o| o.as_bytes().to_vec())
            .unwrap_or_default();
    let check = check_signer(&p, &[&econtent]);
    report.tsa = check
        .cert
        .as_deref()
        .and_then(chain::summary)
        .map(|s| s.subject);
    if digest(&tst.hash_alg, imprinted).is_none_or(|d| d != tst.imprint) {
        report.detail = "the timestamp's message imprint does not match".into();
        return report;
    }
    if !check.digest_ok {
        report.detail = "the timestamp's message-digest does not match its TSTInfo".into();
        return report;
    }
    if let Err((_, why)) = check.crypto {
        report.detail = format!("the timestamp's signature: {why}");
        return report;
    }
    let Some(cert) = check.cert else {
        report.detail = "the TSA's certificate is not in the token".into();
        return report;
    };
    let mut all: Vec<Vec<u8>> = p.certs.clone();
    all.extend_from_slice(pool);
    match chain::build(&cert, &all, &opts.anchors) {
        Path::Trusted(_) => {}
        Path::Untrusted(_, why) => {
            report.detail = format!("the TSA is not trusted: {why}");
            return report;
        }
    }
    if let Some(s) = chain::summary(&cert)
        && (tst.gen_time < s.not_before || tst.gen_time > s.not_after)
    {
        report.detail = "the TSA's certificate was not valid at the time stamped".into();
        return report;
    }
    report.valid = true;
    report
}

/// Verifies one CMS signature (or, for a document timestamp, one TimeStampToken) over
/// `signed`, and gives its ETSI EN 319 102-1 verdict.
pub(super) fn verify_signature(
    der_bytes: &[u8],
    signed: Signed<'_>,
    ctx: &Context,
    opts: &Options,
) -> SignatureReport {
    let mut r = SignatureReport {
        kind: ctx.kind,
        field: ctx.field.clone(),
        signer: None,
        chain: Vec::new(),
        trusted: false,
        integrity: false,
        coverage: ctx.coverage,
        later_changes: ctx.later_changes.clone(),
        docmdp: ctx.docmdp,
        claimed_signing_time: ctx.claimed_time,
        timestamp: None,
        revocation: RevocationStatus::NotApplicable,
        verdict: Verdict::passed(),
        revocation_wanted: Vec::new(),
    };
    let p = match parse(der_bytes) {
        Ok(p) => p,
        Err(e) => {
            r.verdict = Verdict::failed(SubIndication::FormatFailure, e);
            return r;
        }
    };
    let dss = ctx.dss.clone().unwrap_or_default();
    let mut pool: Vec<Vec<u8>> = p.certs.clone();
    pool.extend(dss.certs.iter().cloned());
    pool.extend(opts.extra_certs.iter().cloned());

    // The bytes the SignerInfo signs: the document (PDF, detached), or the TSTInfo of a
    // document timestamp, whose imprint then covers the document.
    let parts = signed.parts();
    let (check, doc_digest_ok) = if ctx.kind == SignatureKind::DocumentTimestamp {
        match tst_info(&p) {
            Ok(tst) => {
                let econtent =
                    p.sd.encap_content_info
                        .econtent
                        .as_ref()
                        .and_then(|e| e.decode_as::<OctetString>().ok())
                        .map(|o| o.as_bytes().to_vec())
                        .unwrap_or_default();
                let check = check_signer(&p, &[&econtent]);
                let imprint_ok = digest(&tst.hash_alg, &parts).is_some_and(|d| d == tst.imprint);
                let ts = check_token(der_bytes, &parts, &pool, opts);
                r.timestamp = Some(ts);
                r.claimed_signing_time = Some(tst.gen_time);
                (check, imprint_ok)
            }
            Err(e) => {
                r.verdict = Verdict::failed(SubIndication::FormatFailure, e);
                return r;
            }
        }
    } else {
        let check = check_signer(&p, &parts);
        let ok = check.digest_ok;
        (check, ok)
    };
    if r.claimed_signing_time.is_none() {
        r.claimed_signing_time = check.signing_time;
    }
    r.signer = check.cert.as_deref().and_then(chain::summary);
    r.integrity = doc_digest_ok && check.crypto.is_ok() && check.cert.is_some();

    // Signature timestamp (unsigned attribute, RFC 3161 Appendix A) over the signature value.
    if ctx.kind != SignatureKind::DocumentTimestamp
        && let Some(token) = attr(p.si.unsigned_attrs.as_ref(), ID_SIGNATURE_TIMESTAMP)
        && let Ok(token_der) = token.to_der()
    {
        r.timestamp = Some(check_token(
            &token_der,
            &[p.si.signature.as_bytes()],
            &pool,
            opts,
        ));
    }
    let poe = r.timestamp.as_ref().filter(|t| t.valid).map(|t| t.time);

    let Some(cert) = check.cert.clone() else {
        r.verdict = Verdict::indeterminate(
            SubIndication::NoSigningCertificateFound,
            "the signer's certificate is not in the signature",
        );
        return r;
    };
    // The path is reported even when the signature fails, so the report says who signed.
    let (path, trusted, path_problem) = match chain::build(&cert, &pool, &opts.anchors) {
        Path::Trusted(p) => (p, true, None),
        Path::Untrusted(p, why) => (p, false, Some(why)),
    };
    r.trusted = trusted;
    r.chain = path.iter().filter_map(|d| chain::summary(d)).collect();
    if !doc_digest_ok {
        r.verdict = Verdict::failed(
            SubIndication::HashFailure,
            "the signed data's digest does not match the message-digest in the signature",
        );
        return r;
    }
    if let Err((sub, why)) = &check.crypto {
        r.verdict = match sub {
            SubIndication::SigCryptoFailure | SubIndication::FormatFailure => {
                Verdict::failed(*sub, why.clone())
            }
            _ => Verdict::indeterminate(*sub, why.clone()),
        };
        return r;
    }
    if ctx.coverage == Coverage::Modified {
        let why = if ctx.later_changes.is_empty() {
            "the byte range does not cover the document".to_string()
        } else {
            format!(
                "the document was changed after signing: {}",
                ctx.later_changes.join("; ")
            )
        };
        r.verdict = Verdict::failed(SubIndication::HashFailure, why);
        return r;
    }
    if matches!(check.ess, Ess::Mismatch) {
        r.verdict = Verdict::indeterminate(
            SubIndication::NoSigningCertificateFound,
            "the signing-certificate attribute does not identify the signer's certificate",
        );
        return r;
    }

    // Path, validity and revocation.
    let mut certs_to_check: Vec<Vec<u8>> = vec![cert.clone()];
    certs_to_check.extend(path.iter().cloned());

    let sources = Sources {
        sets: vec![
            (RevocationSource::Dss, &dss.crls, &dss.ocsps),
            (RevocationSource::Cms, &p.crls, &[]),
            (RevocationSource::Caller, &opts.crls, &opts.ocsps),
        ],
    };
    let mut revoked: Option<(usize, i64, RevocationStatus)> = None;
    let mut unknown: Option<String> = None;
    let mut good: Option<RevocationSource> = None;
    for (i, pair) in certs_to_check.windows(2).enumerate() {
        let (c, issuer) = (&pair[0], &pair[1]);
        match chain::status(c, issuer, &sources) {
            CertStatusFound::Revoked {
                source,
                time,
                reason,
            } => {
                if revoked.is_none() {
                    revoked = Some((
                        i,
                        time,
                        RevocationStatus::Revoked {
                            source,
                            time,
                            reason,
                            ca: i > 0,
                        },
                    ));
                }
            }
            CertStatusFound::Good(s) => {
                good.get_or_insert(s);
            }
            CertStatusFound::None => {
                if let Some(pc) = chain::parse(c)
                    && chain::has_revocation_pointers(&pc)
                {
                    if unknown.is_none() {
                        unknown = Some(format!(
                            "no revocation data for {} (its CRL or OCSP service was not consulted)",
                            pc.subject()
                        ));
                    }
                    r.revocation_wanted.push(super::WantedRevocation {
                        cert: c.clone(),
                        issuer: issuer.clone(),
                    });
                }
            }
        }
    }
    r.revocation = match (&revoked, &unknown, good) {
        (Some((_, _, s)), _, _) => s.clone(),
        (None, Some(d), _) => RevocationStatus::Unknown { detail: d.clone() },
        (None, None, Some(source)) => RevocationStatus::Good { source },
        (None, None, None) => RevocationStatus::NotApplicable,
    };

    // A timestamp proving the signature was made after the revocation: failed for good.
    if let (Some((i, rev_time, _)), Some(t)) = (&revoked, poe)
        && t >= *rev_time
    {
        let sub = if *i == 0 {
            SubIndication::Revoked
        } else {
            SubIndication::RevokedCaNoPoe
        };
        r.verdict = if *i == 0 {
            Verdict::failed(
                sub,
                "the signer's certificate was revoked before the time-stamped signing time",
            )
        } else {
            Verdict::indeterminate(
                sub,
                "a CA certificate of the chain was revoked before the time-stamped signing time",
            )
        };
        return r;
    }
    if let Some(why) = path_problem {
        r.verdict = Verdict::indeterminate(SubIndication::NoCertificateChainFound, why);
        return r;
    }
    let best_time = poe.unwrap_or(opts.now);
    let last_checked = if trusted {
        certs_to_check.len().saturating_sub(1)
    } else {
        certs_to_check.len()
    };
    for c in certs_to_check.iter().take(last_checked.max(1)) {
        let Some(s) = chain::summary(c) else { continue };
        if best_time > s.not_after {
            r.verdict = Verdict::indeterminate(
                SubIndication::OutOfBoundsNoPoe,
                format!(
                    "the certificate {} expired (notAfter {}) and no timestamp proves the signature existed before",
                    s.subject, s.not_after
                ),
            );
            return r;
        }
        if best_time < s.not_before {
            r.verdict = Verdict::failed(
                SubIndication::NotYetValid,
                format!("the certificate {} is not valid yet", s.subject),
            );
            return r;
        }
    }
    if let Some(pc) = chain::parse(&cert)
        && let Ok(Some(ku)) = pc.key_usage()
        && !(ku.value.digital_signature() || ku.value.non_repudiation())
    {
        r.verdict = Verdict::indeterminate(
            SubIndication::ChainConstraintsFailure,
            "the signer's certificate allows neither digitalSignature nor nonRepudiation",
        );
        return r;
    }
    if let Some((i, rev_time, _)) = &revoked
        && poe.is_none_or(|t| t >= *rev_time)
    {
        let claimed = match r.claimed_signing_time {
            Some(t) if t < *rev_time => {
                " (the signer claims to have signed before it, but no timestamp proves it)"
            }
            _ => "",
        };
        r.verdict = if *i == 0 {
            Verdict::indeterminate(
                SubIndication::RevokedNoPoe,
                format!("the signer's certificate is revoked{claimed}"),
            )
        } else {
            Verdict::indeterminate(
                SubIndication::RevokedCaNoPoe,
                format!("a CA certificate of the chain is revoked{claimed}"),
            )
        };
        return r;
    }
    if let Some(d) = unknown {
        r.verdict = Verdict::indeterminate(SubIndication::TryLater, d);
        return r;
    }
    if let Some(ts) = &r.timestamp
        && !ts.valid
        && ctx.kind == SignatureKind::DocumentTimestamp
    {
        r.verdict =
            Verdict::indeterminate(SubIndication::NoCertificateChainFound, ts.detail.clone());
        return r;
    }
    r
}
