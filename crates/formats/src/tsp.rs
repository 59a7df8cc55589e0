//! RFC 3161 time-stamp protocol: requests, responses and tokens, for the client (B-T
//! signatures, ETSI EN 319 122-1 §5.3) and for Tessera's own time-stamping authority.
//!
//! RustCrypto's `x509-tsp` has no release on `der` 0.8 / `cms` 0.3 yet (0.1.0 is on `der` 0.7),
//! so the structures of RFC 3161 §2.4 are declared here with der's derive macros.

use std::time::Duration;

use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use tessera_hsm::x509::CustodySigner;
use tessera_hsm::{EcdsaForm, HashAlg, SignScheme};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};

use crate::FormatError;
pub use crate::ess::{ID_AA_SIGNING_CERTIFICATE, ID_AA_SIGNING_CERTIFICATE_V2};
use crate::ess::{SigningCertificate, SigningCertificateV2};

/// `id-ct-TSTInfo` (RFC 3161 §2.4.2).
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-signedData` (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-aa-signatureTimeStampToken` (RFC 3161 Appendix A).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// `id-kp-timeStamping` (RFC 5280 §4.2.1.12); RFC 3161 §2.3 wants it alone and critical.
pub const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
#[cfg(test)]
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// The OID of a hash function (RFC 5754 §2).
pub fn hash_oid(hash: HashAlg) -> ObjectIdentifier {
    match hash {
        HashAlg::Sha256 => SHA256,
        HashAlg::Sha384 => SHA384,
        HashAlg::Sha512 => SHA512,
    }
}

/// The hash function an OID names, among those Tessera accepts.
pub fn hash_from_oid(oid: &ObjectIdentifier) -> Option<HashAlg> {
    match *oid {
        SHA256 => Some(HashAlg::Sha256),
        SHA384 => Some(HashAlg::Sha384),
        SHA512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// A digest AlgorithmIdentifier: parameters absent (RFC 5754 §2).
pub fn hash_algorithm_identifier(hash: HashAlg) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: hash_oid(hash),
        parameters: None,
    }
}

/// `MessageImprint` (RFC 3161 §2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1); `version` is v1 (1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    #[asn1(
        context_specific = "0",
        optional = "true",
        tag_mode = "IMPLICIT",
        constructed = "true"
    )]
    pub extensions: Option<Extensions>,
}

/// `PKIStatus` values (RFC 3161 §2.4.2).
pub mod status {
    pub const GRANTED: u8 = 0;
    pub const GRANTED_WITH_MODS: u8 = 1;
    pub const REJECTION: u8 = 2;
    pub const WAITING: u8 = 3;
}

/// `PKIFailureInfo` bits (RFC 3161 §2.4.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FailureInfo {
    BadAlg = 0,
    BadRequest = 2,
    BadDataFormat = 5,
    TimeNotAvailable = 14,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    AddInfoNotAvailable = 17,
    SystemFailure = 25,
}

impl FailureInfo {
    const ALL: [FailureInfo; 8] = [
        FailureInfo::BadAlg,
        FailureInfo::BadRequest,
        FailureInfo::BadDataFormat,
        FailureInfo::TimeNotAvailable,
        FailureInfo::UnacceptedPolicy,
        FailureInfo::UnacceptedExtension,
        FailureInfo::AddInfoNotAvailable,
        FailureInfo::SystemFailure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailureInfo::BadAlg => "badAlg",
            FailureInfo::BadRequest => "badRequest",
            FailureInfo::BadDataFormat => "badDataFormat",
            FailureInfo::TimeNotAvailable => "timeNotAvailable",
            FailureInfo::UnacceptedPolicy => "unacceptedPolicy",
            FailureInfo::UnacceptedExtension => "unacceptedExtension",
            FailureInfo::AddInfoNotAvailable => "addInfoNotAvailable",
            FailureInfo::SystemFailure => "systemFailure",
        }
    }

    /// The named-bit BIT STRING with only this bit set (DER: trailing zero bits dropped,
    /// X.690 §11.2.2).
    pub fn to_bit_string(self) -> Result<BitString, FormatError> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        if let Some(b) = bytes.last_mut() {
            *b = 0x80 >> (bit % 8);
        }
        let unused = 7 - (bit % 8) as u8;
        Ok(BitString::new(unused, bytes)?)
    }

    /// The bits set in a received `failInfo`.
    pub fn from_bit_string(bits: &BitString) -> Vec<FailureInfo> {
        let set: Vec<bool> = bits.bits().collect();
        FailureInfo::ALL
            .into_iter()
            .filter(|f| set.get(*f as usize).copied().unwrap_or(false))
            .collect()
    }
}

/// `PKIStatusInfo` (RFC 3161 §2.4.2; `PKIFreeText` is a SEQUENCE OF UTF8String).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `TimeStampResp` (RFC 3161 §2.4.2). The token is kept as it came (a `ContentInfo`).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<Any>,
}

/// `Accuracy` (RFC 3161 §2.4.2).
#[derive(Clone, Debug, Default, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "IMPLICIT")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "IMPLICIT")]
    pub micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2); `version` is v1 (1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub tsa: Option<GeneralName>,
    #[asn1(
        context_specific = "1",
        optional = "true",
        tag_mode = "IMPLICIT",
        constructed = "true"
    )]
    pub extensions: Option<Extensions>,
}

impl TstInfo {
    /// `genTime` in Unix seconds.
    pub fn gen_time_unix(&self) -> i64 {
        self.gen_time.to_unix_duration().as_secs() as i64
    }
}

fn invalid(msg: impl Into<String>) -> FormatError {
    FormatError::Invalid(msg.into())
}

fn u64_int(n: u64) -> Result<Int, FormatError> {
    Ok(Int::from_der(&n.to_der()?)?)
}

/// A DER `TimeStampReq` for `digest` (made with `hash`), asking for the TSA's certificate
/// (certReq, so the token can be checked on its own) and carrying `nonce` (RFC 3161 §2.4.1).
pub fn request_der(hash: HashAlg, digest: &[u8], nonce: u64) -> Result<Vec<u8>, FormatError> {
    if digest.len() != hash.output_len() {
        return Err(invalid(format!(
            "a {} digest has {} bytes, not {}",
            hash.name(),
            hash.output_len(),
            digest.len()
        )));
    }
    Ok(TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: hash_algorithm_identifier(hash),
            hashed_message: OctetString::new(digest)?,
        },
        req_policy: None,
        nonce: Some(u64_int(nonce)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()?)
}

/// What a time-stamp token says, once its signature has been checked.
#[derive(Clone, Debug)]
pub struct CheckedToken {
    pub info: TstInfo,
    /// The TSA's certificate (DER), found in the token.
    pub tsa_cert_der: Vec<u8>,
    /// Every certificate the token carries (DER).
    pub certs: Vec<Vec<u8>>,
}

/// Checks a DER `TimeStampResp` answering [`request_der`]: status granted, then the token
/// (see [`check_token`]) for exactly this imprint and nonce. Answers the token's DER, ready for
/// `add_signature_timestamp` or a document timestamp.
pub fn token_from_response(
    resp_der: &[u8],
    hash: HashAlg,
    digest: &[u8],
    nonce: u64,
) -> Result<Vec<u8>, FormatError> {
    let resp = TimeStampResp::from_der(resp_der)
        .map_err(|e| invalid(format!("the TSA's answer is not a TimeStampResp: {e}")))?;
    let st = &resp.status;
    if st.status != status::GRANTED && st.status != status::GRANTED_WITH_MODS {
        let text: Vec<String> = st
            .status_string
            .iter()
            .flatten()
            .map(|s| s.to_string())
            .collect();
        let fails: Vec<&str> = st
            .fail_info
            .as_ref()
            .map(FailureInfo::from_bit_string)
            .unwrap_or_default()
            .into_iter()
            .map(FailureInfo::name)
            .collect();
        return Err(invalid(format!(
            "the TSA refused the request (status {}{}{})",
            st.status,
            if fails.is_empty() {
                String::new()
            } else {
                format!(", {}", fails.join(", "))
            },
            if text.is_empty() {
                String::new()
            } else {
                format!(": {}", text.join("; "))
            }
        )));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| invalid("the TSA granted the request but sent no token"))?
        .to_der()?;
    let checked = check_token(&token)?;
    let imprint = &checked.info.message_imprint;
    if hash_from_oid(&imprint.hash_algorithm.oid) != Some(hash)
        || imprint.hashed_message.as_bytes() != digest
    {
        return Err(invalid("the TSA's token is for another message imprint"));
    }
    let want = u64_int(nonce)?;
    if checked.info.nonce.as_ref() != Some(&want) {
        return Err(invalid("the TSA's token does not echo the request's nonce"));
    }
    Ok(token)
}

fn signed_data(cms_der: &[u8]) -> Result<SignedData, FormatError> {
    let ci = ContentInfo::from_der(cms_der)
        .map_err(|e| invalid(format!("not a CMS ContentInfo: {e}")))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(invalid("the CMS content is not SignedData"));
    }
    ci.content
        .decode_as::<SignedData>()
        .map_err(|e| invalid(format!("malformed CMS SignedData: {e}")))
}

fn single_signer(sd: &SignedData) -> Result<&SignerInfo, FormatError> {
    let mut it = sd.signer_infos.0.iter();
    match (it.next(), it.next()) {
        (Some(si), None) => Ok(si),
        _ => Err(invalid(
            "the CMS signature must have exactly one SignerInfo",
        )),
    }
}

fn certs_of(sd: &SignedData) -> Vec<Certificate> {
    sd.certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(cert) => Some(cert.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect()
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            isn.issuer == *tbs.issuer() && isn.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, s))) if s == *ski)
        }
    }
}

fn attr(attrs: Option<&SetOfVec<Attribute>>, oid: ObjectIdentifier) -> Option<&Any> {
    attrs?
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

/// The signature scheme of a SignerInfo: `sha*WithRSAEncryption` or `rsaEncryption` with the
/// digest algorithm (RFC 5754 §3.2), `ecdsa-with-SHA*` (RFC 5754 §3.3).
fn scheme_of(si: &SignerInfo, spki_alg: &ObjectIdentifier) -> Result<SignScheme, FormatError> {
    let digest = hash_from_oid(&si.digest_alg.oid)
        .ok_or_else(|| FormatError::Unsupported("the token's digest algorithm".into()))?;
    let oid = si.signature_algorithm.oid;
    let unsupported = || {
        FormatError::Unsupported(format!(
            "signature algorithm {oid} (Tessera checks RSA PKCS#1 v1.5 and ECDSA)"
        ))
    };
    for h in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        if SignScheme::RsaPkcs1v15(h)
            .algorithm_identifier()
            .is_ok_and(|a| a.oid == oid)
        {
            return Ok(SignScheme::RsaPkcs1v15(h));
        }
        if SignScheme::Ecdsa(h, EcdsaForm::Der)
            .algorithm_identifier()
            .is_ok_and(|a| a.oid == oid)
        {
            return Ok(SignScheme::Ecdsa(h, EcdsaForm::Der));
        }
    }
    if oid == RSA_ENCRYPTION && *spki_alg == RSA_ENCRYPTION {
        return Ok(SignScheme::RsaPkcs1v15(digest));
    }
    if oid == EC_PUBLIC_KEY && *spki_alg == EC_PUBLIC_KEY {
        return Ok(SignScheme::Ecdsa(digest, EcdsaForm::Der));
    }
    Err(unsupported())
}

/// Checks that the ESS signing-certificate attribute (v2, RFC 5035, or v1, RFC 2634) names
/// `cert` as the first certificate (RFC 3161 §2.4.1 wants it in every token).
fn check_ess(si: &SignerInfo, cert_der: &[u8]) -> Result<(), FormatError> {
    let attrs = si.signed_attrs.as_ref();
    if let Some(v2) = attr(attrs, ID_AA_SIGNING_CERTIFICATE_V2) {
        let sc: SigningCertificateV2 = v2
            .decode_as()
            .map_err(|e| invalid(format!("malformed signing-certificate-v2: {e}")))?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| invalid("empty signing-certificate-v2"))?;
        let h = match &first.hash_algorithm {
            None => HashAlg::Sha256,
            Some(a) => hash_from_oid(&a.oid)
                .ok_or_else(|| FormatError::Unsupported(format!("ESS hash algorithm {}", a.oid)))?,
        };
        if first.cert_hash.as_bytes() != h.digest(cert_der) {
            return Err(invalid(
                "the token's ESS certificate hash does not match the TSA's certificate",
            ));
        }
        return Ok(());
    }
    if let Some(v1) = attr(attrs, ID_AA_SIGNING_CERTIFICATE) {
        let sc: SigningCertificate = v1
            .decode_as()
            .map_err(|e| invalid(format!("malformed signing-certificate: {e}")))?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| invalid("empty signing-certificate"))?;
        if first.cert_hash.as_bytes() != sha1::Sha1::digest(cert_der).as_slice() {
            return Err(invalid(
                "the token's ESS certificate hash does not match the TSA's certificate",
            ));
        }
        return Ok(());
    }
    Err(invalid(
        "the token has no ESS signing-certificate attribute (RFC 3161 §2.4.1)",
    ))
}

/// Checks a `TimeStampToken` (a CMS SignedData over a TSTInfo, RFC 3161 §2.4.2) on its own:
/// content type, message-digest, ESS signing-certificate, and the signature by the certificate
/// the token carries, which must have EKU timeStamping (§2.3). Whether that certificate is
/// trusted is the caller's question (chain, revocation).
pub fn check_token(token_der: &[u8]) -> Result<CheckedToken, FormatError> {
    let sd = signed_data(token_der)?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(invalid("the token's content is not a TSTInfo"));
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| invalid("the token has no TSTInfo"))?;
    let tst_der = econtent
        .decode_as::<OctetString>()
        .map_err(|e| invalid(format!("the token's content: {e}")))?;
    let info = TstInfo::from_der(tst_der.as_bytes())
        .map_err(|e| invalid(format!("malformed TSTInfo: {e}")))?;
    if info.version != 1 {
        return Err(invalid(format!("TSTInfo version {}", info.version)));
    }
    let si = single_signer(&sd)?;
    let certs = certs_of(&sd);
    let cert = certs
        .iter()
        .find(|c| identifies(&si.sid, c))
        .ok_or_else(|| invalid("the token does not carry the TSA's certificate"))?;
    let cert_der = cert.to_der()?;
    let eku_ok = matches!(
        cert.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
        Ok(Some((_, eku))) if eku.0.contains(&ID_KP_TIME_STAMPING)
    );
    if !eku_ok {
        return Err(invalid(
            "the TSA's certificate lacks the timeStamping key purpose",
        ));
    }
    let signed = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("the token has no signed attributes"))?;
    let digest_alg = hash_from_oid(&si.digest_alg.oid).ok_or_else(|| {
        FormatError::Unsupported(format!("digest algorithm {}", si.digest_alg.oid))
    })?;
    let ct =
        attr(Some(signed), ID_CONTENT_TYPE).and_then(|a| a.decode_as::<ObjectIdentifier>().ok());
    if ct != Some(ID_CT_TST_INFO) {
        return Err(invalid(
            "the token's content-type attribute is not id-ct-TSTInfo",
        ));
    }
    let md = attr(Some(signed), ID_MESSAGE_DIGEST)
        .and_then(|a| a.decode_as::<OctetString>().ok())
        .ok_or_else(|| invalid("the token has no message-digest attribute"))?;
    if md.as_bytes() != digest_alg.digest(tst_der.as_bytes()) {
        return Err(invalid(
            "the token's message-digest does not match its TSTInfo",
        ));
    }
    check_ess(si, &cert_der)?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let scheme = scheme_of(si, &spki.algorithm.oid)?;
    tessera_hsm::x509::verify(
        scheme,
        &spki.to_der()?,
        &signed.to_der()?,
        si.signature.as_bytes(),
    )
    .map_err(|_| invalid("the token's signature does not verify"))?;
    Ok(CheckedToken {
        info,
        tsa_cert_der: cert_der,
        certs: certs.iter().map(|c| c.to_der()).collect::<Result<_, _>>()?,
    })
}

/// The signature value of the single SignerInfo of a CMS signature: what a signature
/// timestamp covers (RFC 3161 Appendix A; ETSI EN 319 122-1 §5.3).
pub fn signature_value(cms_der: &[u8]) -> Result<Vec<u8>, FormatError> {
    let sd = signed_data(cms_der)?;
    Ok(single_signer(&sd)?.signature.as_bytes().to_vec())
}

/// Adds `token_der` as the unsigned attribute id-aa-signatureTimeStampToken of the single
/// SignerInfo (RFC 3161 Appendix A), making a CAdES-B-B signature B-T. The token must be over
/// the signature value (checked). Signed parts are left byte for byte as they were.
pub fn add_signature_timestamp(cms_der: &[u8], token_der: &[u8]) -> Result<Vec<u8>, FormatError> {
    let ci = ContentInfo::from_der(cms_der)
        .map_err(|e| invalid(format!("not a CMS ContentInfo: {e}")))?;
    let mut sd = signed_data(cms_der)?;
    let token = Any::from_der(token_der)
        .map_err(|e| invalid(format!("the timestamp token is not DER: {e}")))?;
    let checked = check_token(token_der)?;
    let mut infos: Vec<SignerInfo> = sd.signer_infos.0.iter().cloned().collect();
    let [si] = infos.as_mut_slice() else {
        return Err(invalid(
            "the CMS signature must have exactly one SignerInfo",
        ));
    };
    let imprint = &checked.info.message_imprint;
    let h = hash_from_oid(&imprint.hash_algorithm.oid).ok_or_else(|| {
        FormatError::Unsupported(format!("imprint hash {}", imprint.hash_algorithm.oid))
    })?;
    if imprint.hashed_message.as_bytes() != h.digest(si.signature.as_bytes()) {
        return Err(invalid(
            "the timestamp token is not over this signature value",
        ));
    }
    let attribute = Attribute {
        oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        values: SetOfVec::try_from(vec![token])?,
    };
    let mut unsigned: Vec<Attribute> = si
        .unsigned_attrs
        .take()
        .map(|a| a.into_vec())
        .unwrap_or_default();
    unsigned.push(attribute);
    si.unsigned_attrs = Some(SetOfVec::try_from(unsigned)?);
    sd.signer_infos = cms::signed_data::SignerInfos(SetOfVec::try_from(infos)?);
    Ok(ContentInfo {
        content_type: ci.content_type,
        content: Any::encode_from(&sd)?,
    }
    .to_der()?)
}

/// What the authority needs to answer: its signer, its certificate, its policy.
pub struct Authority<'a> {
    pub signer: &'a CustodySigner,
    /// The TSA certificate (DER), EKU timeStamping critical (RFC 3161 §2.3).
    pub cert_der: &'a [u8],
    /// The CA certificates above it (DER), sent with it when the request asks (`certReq`), so
    /// that a verifier can build the path without fetching (RFC 3161 §2.4.1 allows any).
    pub chain: &'a [Vec<u8>],
    pub policy: ObjectIdentifier,
}

/// Why the authority refused a request, and what it answers.
#[derive(Debug)]
pub struct Rejection {
    pub fail: FailureInfo,
    pub text: String,
}

/// A DER `TimeStampResp` with status rejection (RFC 3161 §2.4.2).
pub fn rejection_der(fail: FailureInfo, text: &str) -> Vec<u8> {
    let build = || -> Result<Vec<u8>, FormatError> {
        Ok(TimeStampResp {
            status: PkiStatusInfo {
                status: status::REJECTION,
                status_string: Some(vec![text.to_owned()]),
                fail_info: Some(fail.to_bit_string()?),
            },
            time_stamp_token: None,
        }
        .to_der()?)
    };
    // Only a text too long for DER could fail; the bare status then says enough.
    build().unwrap_or_else(|_| vec![0x30, 0x05, 0x30, 0x03, 0x02, 0x01, status::REJECTION])
}

/// Reads and checks a request: v1, SHA-256/384/512 with a digest of its length, no policy but
/// ours, no extensions (RFC 3161 §2.4.1: unrecognised ones are refused).
pub fn parse_request(req_der: &[u8], policy: &ObjectIdentifier) -> Result<TimeStampReq, Rejection> {
    let reject = |fail, text: &str| Rejection {
        fail,
        text: text.to_owned(),
    };
    let req = TimeStampReq::from_der(req_der).map_err(|_| {
        reject(
            FailureInfo::BadDataFormat,
            "the request is not a DER TimeStampReq",
        )
    })?;
    if req.version != 1 {
        return Err(reject(
            FailureInfo::BadDataFormat,
            "only TimeStampReq version 1 is known",
        ));
    }
    let imprint = &req.message_imprint;
    let Some(hash) = hash_from_oid(&imprint.hash_algorithm.oid) else {
        return Err(reject(
            FailureInfo::BadAlg,
            "only SHA-256, SHA-384 and SHA-512 are accepted",
        ));
    };
    if imprint.hashed_message.as_bytes().len() != hash.output_len() {
        return Err(reject(
            FailureInfo::BadDataFormat,
            "the hashed message does not have the hash's length",
        ));
    }
    if req.req_policy.as_ref().is_some_and(|p| p != policy) {
        return Err(reject(
            FailureInfo::UnacceptedPolicy,
            "this TSA has another policy",
        ));
    }
    if req.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(reject(
            FailureInfo::UnacceptedExtension,
            "no request extension is supported",
        ));
    }
    if req.nonce.as_ref().is_some_and(|n| n.as_bytes().len() > 64) {
        return Err(reject(FailureInfo::BadRequest, "the nonce is too long"));
    }
    Ok(req)
}

/// Answers a checked request with a granted `TimeStampResp` (RFC 3161 §2.4.2): TSTInfo with
/// `serial` (unique, from the caller's randomness), `genTime` = `now`, accuracy 1 s, the nonce
/// echoed; signed attributes content-type, message-digest and signing-certificate-v2; the TSA
/// certificate included when the request asked for it (certReq).
pub fn grant(
    authority: &Authority<'_>,
    req: &TimeStampReq,
    serial: &[u8],
    now: i64,
) -> Result<Vec<u8>, FormatError> {
    let cert = Certificate::from_der(authority.cert_der)?;
    let secs =
        u64::try_from(now).map_err(|_| FormatError::Encoding("a time before 1970".into()))?;
    let info = TstInfo {
        version: 1,
        policy: authority.policy,
        message_imprint: req.message_imprint.clone(),
        serial_number: Int::new(serial)?,
        gen_time: GeneralizedTime::from_unix_duration(Duration::from_secs(secs))?,
        accuracy: Some(Accuracy {
            seconds: Some(1),
            millis: None,
            micros: None,
        }),
        ordering: false,
        nonce: req.nonce.clone(),
        tsa: None,
        extensions: None,
    };
    let content = EncapsulatedContentInfo {
        econtent_type: ID_CT_TST_INFO,
        econtent: Some(Any::encode_from(&OctetString::new(info.to_der()?)?)?),
    };
    let tbs = cert.tbs_certificate();
    let ess = SigningCertificateV2::for_certificate(authority.cert_der)?;
    let hash = authority.signer.scheme().hash();
    let mut si = SignerInfoBuilder::new(
        SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        hash_algorithm_identifier(hash),
        &content,
        None,
    )
    .map_err(|e| FormatError::Encoding(format!("SignerInfo: {e}")))?;
    si.add_signed_attribute(ess.to_attribute()?)
        .map_err(|e| FormatError::Encoding(format!("SignerInfo: {e}")))?;
    let mut builder = SignedDataBuilder::new(&content);
    builder
        .add_digest_algorithm(hash_algorithm_identifier(hash))
        .map_err(|e| FormatError::Encoding(format!("SignedData: {e}")))?;
    if req.cert_req {
        builder
            .add_certificate(CertificateChoices::Certificate(cert.clone()))
            .map_err(|e| FormatError::Encoding(format!("SignedData: {e}")))?;
        for der_bytes in authority.chain {
            builder
                .add_certificate(CertificateChoices::Certificate(Certificate::from_der(
                    der_bytes,
                )?))
                .map_err(|e| FormatError::Encoding(format!("SignedData: {e}")))?;
        }
    }
    builder
        .add_signer_info::<_, tessera_hsm::x509::X509Signature>(si, authority.signer)
        .map_err(|e| FormatError::Encoding(format!("signing the token: {e}")))?;
    let token = builder
        .build()
        .map_err(|e| FormatError::Encoding(format!("SignedData: {e}")))?;
    Ok(TimeStampResp {
        status: PkiStatusInfo {
            status: status::GRANTED,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(Any::encode_from(&token)?),
    }
    .to_der()?)
}

/// The authority's answer to a DER `TimeStampReq`: a granted response, or a rejection with
/// badDataFormat / badAlg / unacceptedPolicy / unacceptedExtension for a bad request and
/// systemFailure when signing fails — never an error (RFC 3161 §2.4.2).
pub fn respond(authority: &Authority<'_>, req_der: &[u8], serial: &[u8], now: i64) -> Vec<u8> {
    match parse_request(req_der, &authority.policy) {
        Err(r) => rejection_der(r.fail, &r.text),
        Ok(req) => grant(authority, &req, serial, now).unwrap_or_else(|_| {
            rejection_der(
                FailureInfo::SystemFailure,
                "the time-stamp could not be signed",
            )
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "tsp_tests.rs"]
mod tests;
