//! Certificates for remote signing: Tessera's own CA hierarchy (RFC 5280), officials' signing
//! credentials (HSM key, PKCS#10 CSR, certificate from the internal CA or imported from an
//! external one), their life cycle, and revocation publication (CRL, OCSP per RFC 6960).
//!
//! Every key lives in the key custodian (software token or HSM); certificates, CSRs, CRLs and
//! OCSP responses are built with the RustCrypto `x509-cert`/`der` types and signed through
//! [`tessera_hsm::x509::CustodySigner`]. Functions that change state take the acting
//! administrator ([`Actor`]) and audit the change.

pub mod ca;
pub mod credential;
pub mod crl;
pub mod import;
pub mod issuer;
pub mod ocsp;
pub mod profile;
pub mod trust;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use tessera_store::StoreError;

use crate::CoreError;
use crate::request::RequestMeta;

pub use ca::{CaInit, CaPlan, import_ca, init_ca, issuing_ca_csr, plan_ca};
pub use credential::{
    CredentialRequest, UsableCredential, create_credential, create_organisation_credential,
    import_certificate, issue_internal, list_credentials, renew, resume, revoke, suspend,
    usable_credential,
};
pub use crl::RevocationReason;
pub use issuer::issuing_ca;

/// Certificate settings of this installation.
#[derive(Clone, Debug)]
pub struct PkiConfig {
    /// Base URL of the CRL, CA-certificate and OCSP endpoints, e.g. `https://id.haiphong.gov.vn`.
    pub public_base_url: String,
    /// `O=` of subjects, e.g. `UBND Thành phố Hải Phòng`.
    pub organization: String,
    /// Validity of officials' certificates.
    pub cert_validity_days: i64,
    /// Certificate policies (OIDs) put in officials' certificates.
    pub policies: Vec<String>,
    /// `nextUpdate` of each CRL is this long after its `thisUpdate`.
    pub crl_validity_secs: i64,
    /// A CRL is reissued on schedule this long after the previous one (and on every change).
    pub crl_reissue_secs: i64,
    /// Credentials expiring within this many days get an expiry notice in the audit log.
    pub expiry_notice_days: i64,
    /// The RFC 3161 TSA that timestamps signatures (B-T); `None`: Tessera's own TSA, called
    /// in-process.
    pub tsa_url: Option<String>,
    /// The policy OID of Tessera's own TSA (RFC 3161 §2.4.2 `policy`).
    pub tsa_policy: String,
}

impl PkiConfig {
    pub fn new(public_base_url: &str) -> PkiConfig {
        PkiConfig {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
            organization: "Tessera".into(),
            cert_validity_days: 730,
            policies: Vec::new(),
            crl_validity_secs: 7 * 86_400,
            crl_reissue_secs: 86_400,
            expiry_notice_days: 30,
            tsa_url: None,
            tsa_policy: DEFAULT_TSA_POLICY.to_owned(),
        }
    }

    pub fn crl_url(&self, ca_id: &str) -> String {
        format!("{}/pki/crl/{ca_id}.crl", self.public_base_url)
    }

    pub fn ca_cert_url(&self, ca_id: &str) -> String {
        format!("{}/pki/ca/{ca_id}.crt", self.public_base_url)
    }

    pub fn ocsp_url(&self) -> String {
        format!("{}/pki/ocsp", self.public_base_url)
    }
}

/// The default policy of Tessera's own TSA. Tessera has no IANA enterprise number yet, so its
/// arc is `1.3.6.1.4.1.32473.1` under 32473, the number RFC 5612 reserves for documentation
/// (never assigned to anyone); `.3161.1` is the TSA policy. An installation states its own
/// policy (`pki_tsa_policy`) once its TSA practice statement has an OID.
pub const DEFAULT_TSA_POLICY: &str = "1.3.6.1.4.1.32473.1.3161.1";

/// The setting under which `tessera ca init` records the public base URL of the CA endpoints
/// (it is written into every certificate, so it is fixed with the CA, not per process).
pub const BASE_URL_SETTING: &str = "pki_base_url";

/// The certificate settings in force: the configured ones, with the base URL recorded at CA
/// initialisation.
pub async fn effective_config(p: &crate::Provider) -> Result<PkiConfig, PkiError> {
    let mut config = p.config.pki.clone();
    if let Some(url) = p.store.setting(BASE_URL_SETTING).await? {
        config.public_base_url = url;
    }
    Ok(config)
}

/// Checks a base URL for the CA endpoints: http(s), no query or fragment.
pub fn check_base_url(url: &str) -> Result<String, PkiError> {
    let parsed = url::Url::parse(url)
        .map_err(|_| PkiError::Invalid(format!("the base URL {url:?} is not a URL")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || parsed.host_str().is_none()
    {
        return Err(PkiError::Invalid(format!(
            "the base URL must be an http(s) URL without query or fragment, got {url:?}"
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Who is acting (`cli:<user>` or an administrator's user id) and from where; recorded in the
/// audit log with every change.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub id: String,
    pub meta: RequestMeta,
}

impl Actor {
    pub fn new(id: impl Into<String>) -> Actor {
        Actor {
            id: id.into(),
            meta: RequestMeta::default(),
        }
    }
}

/// Why a certificate operation was refused, in words an administrator can act on.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The operation does not fit the current state (e.g. resuming a revoked credential).
    #[error("{0}")]
    Conflict(String),
    /// A certificate offered for import was refused.
    #[error("certificate refused: {0}")]
    Refused(String),
    /// The credential exists but may not sign now (suspended, revoked, expired, pending).
    #[error("{0}")]
    Unusable(String),
    /// The actor may not do this (e.g. certify their own key).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<StoreError> for PkiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => PkiError::NotFound(what),
            StoreError::Conflict(what) => PkiError::Conflict(format!("{what} already exists")),
            other => PkiError::Internal(other.into()),
        }
    }
}

impl From<tessera_hsm::HsmError> for PkiError {
    fn from(e: tessera_hsm::HsmError) -> Self {
        PkiError::Internal(e.into())
    }
}

impl From<der::Error> for PkiError {
    fn from(e: der::Error) -> Self {
        PkiError::Internal(CoreError::Internal(format!("DER encoding: {e}")))
    }
}

impl From<x509_cert::builder::Error> for PkiError {
    fn from(e: x509_cert::builder::Error) -> Self {
        PkiError::Internal(CoreError::Internal(format!("certificate builder: {e}")))
    }
}

pub(crate) fn internal(msg: impl Into<String>) -> PkiError {
    PkiError::Internal(CoreError::Internal(msg.into()))
}

/// Runs a blocking custody operation (an HSM call may wait for a free session) off the async
/// workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, PkiError>
where
    F: FnOnce() -> Result<T, PkiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(format!("custody task: {e}")))?
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
