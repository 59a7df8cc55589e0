//! The cryptographic checks validation needs, on ring: digests by OID and signature
//! verification by algorithm OID. A leaf below the CMS, chain and PDF checks.

use der::{Any, Decode, Tagged};
use ring::signature as rsig;
use spki::AlgorithmIdentifierOwned;
use x509_parser::x509::SubjectPublicKeyInfo;

pub(super) const SHA1: &str = "1.3.14.3.2.26";
pub(super) const SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub(super) const SHA384: &str = "2.16.840.1.101.3.4.2.2";
pub(super) const SHA512: &str = "2.16.840.1.101.3.4.2.3";

pub(super) fn digest(alg: &str, parts: &[&[u8]]) -> Option<Vec<u8>> {
    let alg = match alg {
        SHA1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        SHA256 => &ring::digest::SHA256,
        SHA384 => &ring::digest::SHA384,
        SHA512 => &ring::digest::SHA512,
        _ => return None,
    };
    let mut ctx = ring::digest::Context::new(alg);
    for p in parts {
        ctx.update(p);
    }
    Some(ctx.finish().as_ref().to_vec())
}

pub(super) enum CryptoError {
    Unsupported(String),
    Bad,
}

/// Verifies `sig` over `msg` with the key `spki`. `sig_alg` is the signature algorithm OID
/// (combined, like sha256WithRSAEncryption, or the bare key algorithm as CMS allows, RFC 5754
/// §3, with `digest_alg` naming the hash); `params` the DER of its parameters (RSASSA-PSS).
pub(super) fn verify_raw(
    spki: &SubjectPublicKeyInfo<'_>,
    sig_alg: &str,
    params: Option<&[u8]>,
    digest_alg: Option<&str>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let ec = |hash: Option<&str>| -> Result<&'static dyn rsig::VerificationAlgorithm, CryptoError> {
        match (curve.as_deref(), hash) {
            (Some("1.2.840.10045.3.1.7"), Some(SHA256)) => Ok(&rsig::ECDSA_P256_SHA256_ASN1),
            (Some("1.2.840.10045.3.1.7"), Some(SHA384)) => Ok(&rsig::ECDSA_P256_SHA384_ASN1),
            (Some("1.3.132.0.34"), Some(SHA256)) => Ok(&rsig::ECDSA_P384_SHA256_ASN1),
            (Some("1.3.132.0.34"), Some(SHA384)) => Ok(&rsig::ECDSA_P384_SHA384_ASN1),
            _ => Err(CryptoError::Unsupported(format!(
                "ECDSA on curve {} with hash {}",
                curve.as_deref().unwrap_or("?"),
                hash.unwrap_or("?")
            ))),
        }
    };
    let rsa =
        |hash: Option<&str>| -> Result<&'static dyn rsig::VerificationAlgorithm, CryptoError> {
            match hash {
                Some(SHA256) => Ok(&rsig::RSA_PKCS1_2048_8192_SHA256),
                Some(SHA384) => Ok(&rsig::RSA_PKCS1_2048_8192_SHA384),
                Some(SHA512) => Ok(&rsig::RSA_PKCS1_2048_8192_SHA512),
                Some(SHA1) => Ok(&rsig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY),
                _ => Err(CryptoError::Unsupported(format!(
                    "RSA with hash {}",
                    hash.unwrap_or("?")
                ))),
            }
        };
    let alg: &'static dyn rsig::VerificationAlgorithm = match sig_alg {
        "1.2.840.113549.1.1.1" => rsa(digest_alg)?,
        "1.2.840.113549.1.1.5" => rsa(Some(SHA1))?,
        "1.2.840.113549.1.1.11" => rsa(Some(SHA256))?,
        "1.2.840.113549.1.1.12" => rsa(Some(SHA384))?,
        "1.2.840.113549.1.1.13" => rsa(Some(SHA512))?,
        "1.2.840.113549.1.1.10" => match pss_hash(params).as_deref() {
            Some(SHA256) => &rsig::RSA_PSS_2048_8192_SHA256,
            Some(SHA384) => &rsig::RSA_PSS_2048_8192_SHA384,
            Some(SHA512) => &rsig::RSA_PSS_2048_8192_SHA512,
            _ => return Err(CryptoError::Unsupported("RSA-PSS with this hash".into())),
        },
        "1.2.840.10045.2.1" => ec(digest_alg)?,
        "1.2.840.10045.4.3.2" => ec(Some(SHA256))?,
        "1.2.840.10045.4.3.3" => ec(Some(SHA384))?,
        other => {
            return Err(CryptoError::Unsupported(format!(
                "signature algorithm {other}"
            )));
        }
    };
    rsig::UnparsedPublicKey::new(alg, &spki.subject_public_key.data)
        .verify(msg, sig)
        .map_err(|_| CryptoError::Bad)
}

/// The hash of RSASSA-PSS-params (RFC 4055 §3.1): `[0] hashAlgorithm`, SHA-1 by default.
fn pss_hash(params: Option<&[u8]>) -> Option<String> {
    let Some(params) = params else {
        return Some(SHA1.into());
    };
    let fields = Vec::<Any>::from_der(params).ok()?;
    for f in fields {
        if f.tag().is_context_specific() && f.tag().number() == der::TagNumber(0) {
            let alg = AlgorithmIdentifierOwned::from_der(f.value()).ok()?;
            return Some(alg.oid.to_string());
        }
    }
    Some(SHA1.into())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
