//! Certificate profiles (RFC 5280 §4.2): the CA certificates of the internal hierarchy and the
//! document-signing certificates of officials, plus the names, times and serial numbers they
//! are made of.

use std::time::Duration;

use der::asn1::{GeneralizedTime, Ia5String, ObjectIdentifier, PrintableStringRef, UtcTime};
use der::{Any, Decode, Encode};
use ring::rand::{SecureRandom, SystemRandom};
use spki::SubjectPublicKeyInfoRef;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

use super::{PkiError, internal};

/// `id-at-commonName`, `id-at-title`, `id-at-organizationalUnitName`, `id-at-organizationName`,
/// `id-at-countryName` (RFC 5280 Appendix A.1), and `UID` (RFC 4519 §2.39).
pub mod oid {
    use der::asn1::ObjectIdentifier;
    pub const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    pub const TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
    pub const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
    pub const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    pub const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    pub const UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
    /// `id-ad-ocsp` and `id-ad-caIssuers` (RFC 5280 §4.2.2.1).
    pub const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
    pub const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
}

/// The attributes of a subject, most significant first once encoded (C, O, OU, title, CN, UID).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectInfo {
    pub common_name: String,
    pub title: Option<String>,
    pub unit: Option<String>,
    pub organization: String,
    /// The user id (UID), for officials.
    pub uid: Option<String>,
}

fn utf8_atv(oid: ObjectIdentifier, value: &str) -> Result<AttributeTypeAndValue, PkiError> {
    let s = der::asn1::Utf8StringRef::new(value)
        .map_err(|e| PkiError::Invalid(format!("{value:?} cannot go in a certificate: {e}")))?;
    Ok(AttributeTypeAndValue {
        oid,
        value: Any::encode_from(&s)?,
    })
}

impl SubjectInfo {
    /// The subject of an organisation credential: `O=<organisation>, OU=<unit>, C=VN`, no
    /// person's name (the seal of a unit, not a signature of an official).
    pub fn organisation(organization: &str, unit: &str) -> SubjectInfo {
        SubjectInfo {
            common_name: String::new(),
            title: None,
            unit: Some(unit.to_owned()),
            organization: organization.to_owned(),
            uid: None,
        }
    }

    /// The X.501 name; text attributes are UTF8String (RFC 5280 §4.1.2.6, so Vietnamese names
    /// keep their diacritics), the country a PrintableString.
    pub fn to_name(&self) -> Result<Name, PkiError> {
        let country = AttributeTypeAndValue {
            oid: oid::C,
            value: Any::encode_from(&PrintableStringRef::new("VN")?)?,
        };
        let mut atvs = vec![country, utf8_atv(oid::O, &self.organization)?];
        if let Some(unit) = &self.unit {
            atvs.push(utf8_atv(oid::OU, unit)?);
        }
        if let Some(title) = &self.title {
            atvs.push(utf8_atv(oid::TITLE, title)?);
        }
        // An organisation credential has no common name (see [`SubjectInfo::organisation`]).
        if !self.common_name.is_empty() {
            atvs.push(utf8_atv(oid::CN, &self.common_name)?);
        }
        if let Some(uid) = &self.uid {
            atvs.push(utf8_atv(oid::UID, uid)?);
        }
        let mut rdns = RdnSequence::default();
        for atv in atvs {
            rdns.push(RelativeDistinguishedName::try_from(vec![atv])?);
        }
        // Through DER so that the name is checked like any decoded one.
        Ok(Name::from_der(&rdns.to_der()?)?)
    }
}

/// Reads one text attribute of `name` (UTF8String, PrintableString, …).
pub fn name_attr(name: &Name, wanted: ObjectIdentifier) -> Option<String> {
    name.iter().find(|atv| atv.oid == wanted).and_then(|atv| {
        use x509_cert::ext::pkix::name::DirectoryString;
        atv.value
            .decode_as::<DirectoryString>()
            .ok()
            .map(|d| d.value().into_owned())
            .or_else(|| {
                atv.value
                    .decode_as::<der::asn1::Ia5StringRef<'_>>()
                    .ok()
                    .map(|s| s.to_string())
            })
    })
}

/// Unix seconds as an X.509 `Time`: UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280
/// §4.1.2.5).
pub fn x509_time(unix: i64) -> Result<Time, PkiError> {
    let secs = u64::try_from(unix).map_err(|_| internal("a time before 1970"))?;
    let dt = der::DateTime::from_unix_duration(Duration::from_secs(secs))?;
    if dt.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(dt)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// Unix seconds as a GeneralizedTime (OCSP, RFC 6960 §4.2.1).
pub fn generalized_time(unix: i64) -> Result<GeneralizedTime, PkiError> {
    let secs = u64::try_from(unix).map_err(|_| internal("a time before 1970"))?;
    Ok(GeneralizedTime::from_unix_duration(Duration::from_secs(
        secs,
    ))?)
}

pub fn unix_time(t: &Time) -> i64 {
    t.to_unix_duration().as_secs() as i64
}

/// A random positive 16-byte serial number (RFC 5280 §4.1.2.2; CA/B Forum: ≥ 64 random bits).
pub fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| internal("system randomness unavailable"))?;
    // Positive, and 16 bytes long once encoded.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

/// Where a certificate points relying parties (RFC 5280 §4.2.1.13 and §4.2.2.1).
#[derive(Clone, Debug, Default)]
pub struct Pointers {
    pub crl_url: Option<String>,
    pub ca_issuers_url: Option<String>,
    pub ocsp_url: Option<String>,
}

/// `id-kp-OCSPSigning` (RFC 5280 §4.2.1.12).
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// `id-kp-timeStamping` (RFC 5280 §4.2.1.12).
pub const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// `id-pkix-ocsp-nocheck` (RFC 6960 §4.2.2.2.1).
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");

/// What kind of certificate a [`Profile`] makes.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A CA: `basicConstraints` cA with this `pathLenConstraint`; keyCertSign and cRLSign
    /// (and digitalSignature, as the CA signs its own OCSP responses).
    Ca { path_len: u8 },
    /// A delegated OCSP responder (RFC 6960 §4.2.2.2): digitalSignature, EKU OCSPSigning, and
    /// id-pkix-ocsp-nocheck (§4.2.2.2.1: clients do not check its revocation, so it is
    /// short-lived).
    OcspResponder,
    /// A time-stamping unit (RFC 3161 §2.3): digitalSignature, EKU timeStamping alone and
    /// critical.
    Timestamping,
    /// An official's document-signing certificate: digitalSignature and nonRepudiation.
    Signing {
        policies: Vec<ObjectIdentifier>,
        email: Option<String>,
    },
}

/// A [`BuilderProfile`] for the x509-cert `CertificateBuilder`: the names and the extensions,
/// worked out beforehand so that a bad value is a clear error rather than a builder failure.
#[derive(Clone, Debug)]
pub struct Profile {
    subject: Name,
    /// `None`: self-signed.
    issuer: Option<Name>,
    extensions: Vec<Extension>,
}

/// What goes into a certificate besides its key and validity.
#[derive(Clone, Debug)]
pub struct CertSpec {
    pub subject: Name,
    /// `None`: self-signed.
    pub issuer: Option<Name>,
    pub kind: Kind,
    pub pointers: Pointers,
}

fn uri(url: &str) -> Result<GeneralName, PkiError> {
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}

fn ext<T>(value: &T, subject: &Name) -> Result<Extension, der::Error>
where
    for<'a> &'a T: ToExtension<Error = der::Error>,
{
    value.to_extension(subject, &[])
}

impl CertSpec {
    /// The profile for a certificate of the key `spki_der`, issued by the key `issuer_spki_der`
    /// (the same for a self-signed one).
    pub fn profile(self, spki_der: &[u8], issuer_spki_der: &[u8]) -> Result<Profile, PkiError> {
        let spk = SubjectPublicKeyInfoRef::from_der(spki_der)?;
        let issuer_spk = SubjectPublicKeyInfoRef::from_der(issuer_spki_der)?;
        let extensions = self.extensions(spk, issuer_spk)?;
        Ok(Profile {
            subject: self.subject,
            issuer: self.issuer,
            extensions,
        })
    }

    fn extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
    ) -> Result<Vec<Extension>, PkiError> {
        let subject = &self.subject;
        let mut out = Vec::new();
        let (ca, path_len, usage) = match &self.kind {
            Kind::Ca { path_len } => (
                true,
                Some(*path_len),
                KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature,
            ),
            Kind::OcspResponder | Kind::Timestamping => {
                (false, None, KeyUsages::DigitalSignature.into())
            }
            Kind::Signing { .. } => (
                false,
                None,
                KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
            ),
        };
        let mut bc = ext(
            &BasicConstraints {
                ca,
                path_len_constraint: path_len,
            },
            subject,
        )?;
        // Critical in CA certificates (RFC 5280 §4.2.1.9).
        bc.critical = ca;
        out.push(bc);
        out.push(ext(&KeyUsage(usage), subject)?);
        let ski = SubjectKeyIdentifier::try_from(spk)
            .map_err(|e| internal(format!("subject key identifier: {e}")))?;
        let aki_source = SubjectKeyIdentifier::try_from(issuer_spk)
            .map_err(|e| internal(format!("authority key identifier: {e}")))?;
        out.push(ext(&ski, subject)?);
        out.push(ext(
            &AuthorityKeyIdentifier {
                key_identifier: Some(aki_source.0),
                ..Default::default()
            },
            subject,
        )?);
        if let Some(url) = &self.pointers.crl_url {
            out.push(ext(
                &CrlDistributionPoints(vec![DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
                    reasons: None,
                    crl_issuer: None,
                }]),
                subject,
            )?);
        }
        let mut access = Vec::new();
        if let Some(url) = &self.pointers.ocsp_url {
            access.push(AccessDescription {
                access_method: oid::AD_OCSP,
                access_location: uri(url)?,
            });
        }
        if let Some(url) = &self.pointers.ca_issuers_url {
            access.push(AccessDescription {
                access_method: oid::AD_CA_ISSUERS,
                access_location: uri(url)?,
            });
        }
        if !access.is_empty() {
            out.push(ext(&AuthorityInfoAccessSyntax(access), subject)?);
        }
        if let Kind::OcspResponder = &self.kind {
            out.push(ext(&ExtendedKeyUsage(vec![ID_KP_OCSP_SIGNING]), subject)?);
            out.push(Extension {
                extn_id: ID_PKIX_OCSP_NOCHECK,
                critical: false,
                extn_value: der::asn1::OctetString::new(der::asn1::Null.to_der()?)?,
            });
        }
        if let Kind::Timestamping = &self.kind {
            let mut eku = ext(&ExtendedKeyUsage(vec![ID_KP_TIME_STAMPING]), subject)?;
            // RFC 3161 §2.3: "This extension MUST be critical."
            eku.critical = true;
            out.push(eku);
        }
        if let Kind::Signing { policies, email } = &self.kind {
            if !policies.is_empty() {
                out.push(ext(
                    &CertificatePolicies(
                        policies
                            .iter()
                            .map(|p| PolicyInformation {
                                policy_identifier: *p,
                                policy_qualifiers: None,
                            })
                            .collect(),
                    ),
                    subject,
                )?);
            }
            if let Some(email) = email {
                out.push(ext(
                    &SubjectAltName(vec![GeneralName::Rfc822Name(Ia5String::new(email)?)]),
                    subject,
                )?);
            }
        }
        Ok(out)
    }
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

/// Parses configured policy OIDs (dotted form).
pub fn parse_policies(policies: &[String]) -> Result<Vec<ObjectIdentifier>, PkiError> {
    policies
        .iter()
        .map(|p| {
            ObjectIdentifier::new(p.trim())
                .map_err(|_| PkiError::Invalid(format!("certificate policy {p:?} is not an OID")))
        })
        .collect()
}
