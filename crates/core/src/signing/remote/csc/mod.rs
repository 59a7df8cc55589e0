//! The Cloud Signature Consortium API v2 subset (`/csc/v2/`): existing CSC clients (pyHanko,
//! EU DSS) sign with an official's personal credential through the same rules as Tessera's
//! own signing requests — a SAD bound to the hashes, proven with a second factor now.
//!
//! - [`credentials`]: `credentials/list` and `credentials/info`.
//! - [`authorize`]: `credentials/authorize` (with the official's OTP, or asynchronous: the
//!   official approves on the phone) and `credentials/authorizeCheck`.
//! - [`sign`]: `signatures/signHash` and `signatures/signDoc` (PDFs).
//!
//! Tokens come from Tessera's own authorization server: the official's access token with
//! scope [`SERVICE_SCOPE`] (code flow), or one of scope `credential` that carries the SAD of
//! the hashes approved when it was issued ([`oauth`]). Every refusal is its own [`CscError`] variant, which
//! the HTTP layer maps once to the CSC error body.

pub mod authorize;
pub mod credentials;
pub mod oauth;
pub mod sign;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use tessera_hsm::{HashAlg, KeyType};
use tessera_store::codes::TokenRecord;
use tessera_store::pki::{CredentialStatus, OwnerKind};
use tessera_store::users::User;

use super::RemoteError;
use super::sad::SadError;
use crate::oidc::authorization_details::CREDENTIAL_SCOPE;
use crate::oidc::resource::{TokenError, access_token};
use crate::pki::UsableCredential;
use crate::{CoreError, Provider};

/// Scope of the official's token for the CSC API (CSC v2 §8.4.2).
pub const SERVICE_SCOPE: &str = "service";
/// Most hashes one `credentials/authorize` or `signatures/signHash` call takes (`multisign`).
pub const MULTISIGN: usize = 100;

/// Why a CSC call was refused. Each has its own words; credentials that cannot sign and
/// refused SADs each have their own variant, so a client can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum CscError {
    /// `401 invalid_token`.
    #[error("{0}")]
    InvalidToken(String),
    /// `403 insufficient_scope`.
    #[error("{0}")]
    InsufficientScope(String),
    /// `400 invalid_request`: a malformed or unacceptable parameter.
    #[error("{0}")]
    Invalid(String),
    /// `413`: over a size limit.
    #[error("{0}")]
    TooLarge(String),
    /// `400 invalid_otp`: the one-time password was wrong (or the factor is locked).
    #[error("{0}")]
    Otp(String),
    /// The SAD was refused (`400 invalid_sad`, one description per reason).
    #[error(transparent)]
    Sad(#[from] SadError),
    /// The credential is suspended (certificateHold).
    #[error("credential {0} is suspended; a certificate administrator can resume it")]
    Suspended(String),
    /// The credential was revoked.
    #[error("credential {0} was revoked ({1})")]
    Revoked(String, String),
    /// The credential expired.
    #[error("credential {0} has expired")]
    Expired(String),
    /// The credential cannot sign for another reason (no certificate yet, owner disabled).
    #[error("{0}")]
    Unusable(String),
    /// `403 access_denied`: the official rejected the request.
    #[error("{0}")]
    Denied(String),
    /// `400 expired_request`: the asynchronous authorization ran out of time or was
    /// cancelled, or its SAD was handed out already.
    #[error("{0}")]
    RequestEnded(String),
    #[error(transparent)]
    Internal(#[from] CoreError),
}

impl From<tessera_store::StoreError> for CscError {
    fn from(e: tessera_store::StoreError) -> Self {
        CscError::Internal(e.into())
    }
}

impl From<RemoteError> for CscError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::InvalidToken(m) => CscError::InvalidToken(m),
            RemoteError::InsufficientScope(m) => CscError::InsufficientScope(m),
            RemoteError::Invalid(m) | RemoteError::NotFound(m) => CscError::Invalid(m),
            RemoteError::TooLarge(m) => CscError::TooLarge(m),
            RemoteError::Forbidden(m) => CscError::Denied(m),
            RemoteError::WrongState(m) => CscError::RequestEnded(m),
            RemoteError::Unusable(m) => CscError::Unusable(m),
            RemoteError::Sad(s) => CscError::Sad(s),
            RemoteError::Internal(e) => CscError::Internal(e),
        }
    }
}

impl From<super::super::SigningError> for CscError {
    fn from(e: super::super::SigningError) -> Self {
        RemoteError::from(e).into()
    }
}

/// The official calling the CSC API, by their access token.
#[derive(Clone, Debug)]
pub struct CscCaller {
    pub user: User,
    pub client_id: String,
    /// The token's record (its session proves an OTP against).
    pub token: TokenRecord,
    /// The token has scope [`SERVICE_SCOPE`]: it may ask for authorizations.
    pub service: bool,
    /// The token has scope [`CREDENTIAL_SCOPE`]: it carries the SAD of the hashes the
    /// official approved when it was issued.
    pub bound: bool,
}

/// Checks the bearer token of a CSC call: the official's own token with scope `service`.
pub async fn caller(p: &Provider, token: &str, now: i64) -> Result<CscCaller, CscError> {
    let t = access_token(p, token, now).await.map_err(|e| match e {
        TokenError::Invalid(m) => CscError::InvalidToken(m.into()),
        TokenError::Internal(e) => CscError::Internal(e),
    })?;
    let Some(user) = t.user.clone() else {
        return Err(CscError::InsufficientScope(
            "the CSC API signs for an official: use the official's own access token (authorization code flow), not a client-credentials token".into(),
        ));
    };
    let (service, bound) = (t.has_scope(SERVICE_SCOPE), t.has_scope(CREDENTIAL_SCOPE));
    if !service && !bound {
        return Err(CscError::InsufficientScope(format!(
            "the access token needs the {SERVICE_SCOPE} or the {CREDENTIAL_SCOPE} scope"
        )));
    }
    Ok(CscCaller {
        user,
        client_id: t.record.client_id.clone(),
        token: t.record,
        service,
        bound,
    })
}

impl CscCaller {
    /// Refuses a token without scope [`SERVICE_SCOPE`] (a `credential` token only signs).
    pub fn needs_service(&self) -> Result<(), CscError> {
        if self.service {
            return Ok(());
        }
        Err(CscError::InsufficientScope(format!(
            "the access token needs the {SERVICE_SCOPE} scope for this method"
        )))
    }
}

/// The caller's own personal credential `id`, able to sign at `now`; each reason it cannot
/// has its own error. Someone else's credential is "not found", like an unknown one.
pub async fn own_credential(
    p: &Provider,
    c: &CscCaller,
    id: &str,
    now: i64,
) -> Result<UsableCredential, CscError> {
    let cred = p
        .store
        .credential(id)
        .await?
        .filter(|r| r.owner_kind == OwnerKind::Person && r.user_id.as_deref() == Some(&c.user.id))
        .ok_or_else(|| {
            CscError::Invalid(format!(
                "Invalid parameter credentialID: {id:?} is not one of your credentials"
            ))
        })?;
    match cred.status {
        CredentialStatus::Suspended => return Err(CscError::Suspended(id.into())),
        CredentialStatus::Revoked => {
            return Err(CscError::Revoked(
                id.into(),
                cred.revocation_reason
                    .unwrap_or_else(|| "unspecified".into()),
            ));
        }
        CredentialStatus::Expired => return Err(CscError::Expired(id.into())),
        CredentialStatus::Active | CredentialStatus::Pending => {}
    }
    if cred.not_after.is_some_and(|t| now >= t) {
        return Err(CscError::Expired(id.into()));
    }
    crate::pki::usable_credential(p, id, now)
        .await
        .map_err(|e| RemoteError::from(e).into())
}

/// The hash algorithms by OID (NIST, RFC 5754 §2).
pub fn hash_by_oid(oid: &str) -> Option<HashAlg> {
    match oid {
        "2.16.840.1.101.3.4.2.1" => Some(HashAlg::Sha256),
        "2.16.840.1.101.3.4.2.2" => Some(HashAlg::Sha384),
        "2.16.840.1.101.3.4.2.3" => Some(HashAlg::Sha512),
        _ => None,
    }
}

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256_CURVE: &str = "1.2.840.10045.3.1.7";

/// How a key signs, as a `signAlgo` OID says: the kind, and the hash when the OID combines
/// one (RFC 4055 §5, RFC 5758 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignAlgo {
    RsaPkcs1(Option<HashAlg>),
    RsaPss,
    Ecdsa(Option<HashAlg>),
}

impl SignAlgo {
    pub fn parse(oid: &str) -> Option<SignAlgo> {
        Some(match oid {
            RSA_ENCRYPTION => SignAlgo::RsaPkcs1(None),
            "1.2.840.113549.1.1.11" => SignAlgo::RsaPkcs1(Some(HashAlg::Sha256)),
            "1.2.840.113549.1.1.12" => SignAlgo::RsaPkcs1(Some(HashAlg::Sha384)),
            "1.2.840.113549.1.1.13" => SignAlgo::RsaPkcs1(Some(HashAlg::Sha512)),
            RSA_PSS => SignAlgo::RsaPss,
            EC_PUBLIC_KEY => SignAlgo::Ecdsa(None),
            "1.2.840.10045.4.3.2" => SignAlgo::Ecdsa(Some(HashAlg::Sha256)),
            "1.2.840.10045.4.3.3" => SignAlgo::Ecdsa(Some(HashAlg::Sha384)),
            "1.2.840.10045.4.3.4" => SignAlgo::Ecdsa(Some(HashAlg::Sha512)),
            _ => return None,
        })
    }

    /// The hash the OID names, if it names one.
    pub fn hash(self) -> Option<HashAlg> {
        match self {
            SignAlgo::RsaPkcs1(h) | SignAlgo::Ecdsa(h) => h,
            SignAlgo::RsaPss => None,
        }
    }

    pub fn fits(self, key: KeyType) -> bool {
        matches!(self, SignAlgo::Ecdsa(_)) != key.is_rsa()
    }
}

/// The `signAlgo` OIDs a key makes (`key.algo`): the plain key algorithm and each combined
/// signature algorithm, which clients such as pyHanko look for.
pub fn key_algos(key: KeyType) -> Vec<&'static str> {
    if key.is_rsa() {
        vec![
            RSA_ENCRYPTION,
            "1.2.840.113549.1.1.11",
            "1.2.840.113549.1.1.12",
            "1.2.840.113549.1.1.13",
            RSA_PSS,
        ]
    } else {
        vec![
            EC_PUBLIC_KEY,
            "1.2.840.10045.4.3.2",
            "1.2.840.10045.4.3.3",
            "1.2.840.10045.4.3.4",
        ]
    }
}

/// Every `signAlgo` OID this service signs with, for `info.signAlgorithms`.
pub fn sign_algos() -> Vec<&'static str> {
    [key_algos(KeyType::Rsa2048), key_algos(KeyType::P256)].concat()
}

/// Key length in bits, and the curve's OID for an EC key.
pub fn key_len(key: KeyType) -> (u32, Option<&'static str>) {
    match key {
        KeyType::Rsa2048 => (2048, None),
        KeyType::Rsa3072 => (3072, None),
        KeyType::P256 => (256, Some(P256_CURVE)),
    }
}

/// Decodes base64 hashes, all of `hash`'s length.
pub fn decode_hashes(hash: HashAlg, b64s: &[String]) -> Result<Vec<Vec<u8>>, CscError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    if b64s.is_empty() {
        return Err(CscError::Invalid(
            "Missing (or invalid type) array parameter hashes".into(),
        ));
    }
    if b64s.len() > MULTISIGN {
        return Err(CscError::Invalid(format!(
            "at most {MULTISIGN} hashes per call (multisign), not {}",
            b64s.len()
        )));
    }
    b64s.iter()
        .enumerate()
        .map(|(i, h)| {
            let d = STANDARD.decode(h.trim()).map_err(|e| {
                CscError::Invalid(format!(
                    "Invalid parameter hashes: hash {i} is not base64: {e}"
                ))
            })?;
            if d.len() != hash.output_len() {
                return Err(CscError::Invalid(format!(
                    "Invalid parameter hashes: hash {i} has {} bytes, a {} hash has {}",
                    d.len(),
                    hash.name(),
                    hash.output_len()
                )));
            }
            Ok(d)
        })
        .collect()
}
