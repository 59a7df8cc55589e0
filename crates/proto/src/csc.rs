//! Wire types of the Cloud Signature Consortium API v2 subset served under `/csc/v2/`
//! (CSC API v2.0.0.2, §11): service information, credentials, their authorization and hash or
//! document signatures. Field names follow the specification's JSON, so they are camelCase;
//! where v1 named a field differently (`hash`, `hashAlgo`) both spellings are read, because
//! clients such as pyHanko send the v1 names to v2 endpoints.

use serde::{Deserialize, Serialize};

/// `info` (§11.1): the service and the methods it offers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoResponse {
    pub specs: String,
    pub name: String,
    /// Absent: Tessera serves no logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    pub region: String,
    pub lang: String,
    pub description: String,
    pub auth_type: Vec<String>,
    /// The authorization server's base URI.
    pub oauth2: String,
    pub oauth2_issuer: String,
    pub asynchronous_operation_mode: bool,
    pub methods: Vec<String>,
    pub validation_info: bool,
    /// The `signAlgo` OIDs `signatures/signHash` accepts (§11.1 `signAlgorithms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_algorithms: Option<SignAlgorithms>,
    /// The `authorization_details` types the authorization server accepts for the scope
    /// `credential` (§8.4.2), named as in its RFC 9396 metadata: a Tessera addition, so a CSC
    /// client needs no second document to learn it.
    #[serde(
        default,
        rename = "authorization_details_types_supported",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub authorization_details_types_supported: Vec<String>,
}

/// `info.signAlgorithms` (§11.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignAlgorithms {
    pub algos: Vec<String>,
}

/// `credentials/list` (§11.4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRequest {
    /// Must be absent or the token's user (a user's token lists only their own credentials).
    #[serde(default, rename = "userID", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Answer each credential's [`InfoResponse`] too.
    #[serde(default)]
    pub credential_info: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<String>,
    #[serde(default)]
    pub cert_info: bool,
    #[serde(default)]
    pub auth_info: bool,
    /// Only credentials that can sign now.
    #[serde(default)]
    pub only_valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    #[serde(rename = "credentialIDs")]
    pub credential_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_infos: Option<Vec<CredentialInfo>>,
    pub only_valid: bool,
}

/// `credentials/info` (§11.5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoRequest {
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// `none`, `single` (default) or `chain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<String>,
    #[serde(default)]
    pub cert_info: bool,
    #[serde(default)]
    pub auth_info: bool,
}

/// A credential as `credentials/info` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CredentialInfo {
    /// Only in `credentials/list` answers.
    #[serde(
        default,
        rename = "credentialID",
        skip_serializing_if = "Option::is_none"
    )]
    pub credential_id: Option<String>,
    pub description: String,
    /// `eu_eidas_qes` and the like; absent: Tessera's credentials are not qualified ones.
    #[serde(
        default,
        rename = "signatureQualifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub signature_qualifier: Option<String>,
    pub key: KeyInfo,
    pub cert: CertInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthInfo>,
    /// v1's name of `auth.mode`, still read by v1 clients.
    #[serde(rename = "authMode")]
    pub auth_mode: String,
    /// `"2"`: every SAD is bound to the hashes it may sign.
    #[serde(rename = "SCAL")]
    pub scal: String,
    /// Most hashes one `signatures/signHash` call may sign.
    pub multisign: u32,
    pub lang: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `enabled` or `disabled`.
    pub status: String,
    /// Signature algorithm OIDs the key makes, the combined ones (with a hash) included.
    pub algo: Vec<String>,
    /// Key length in bits (the curve's order for ECDSA).
    pub len: u32,
    /// The curve's OID, for an EC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertInfo {
    /// `valid`, `expired`, `revoked` or `suspended`.
    pub status: String,
    /// Base64 DER, the signer's certificate first, then its issuers.
    pub certificates: Vec<String>,
    #[serde(default, rename = "issuerDN", skip_serializing_if = "Option::is_none")]
    pub issuer_dn: Option<String>,
    /// Hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, rename = "subjectDN", skip_serializing_if = "Option::is_none")]
    pub subject_dn: Option<String>,
    /// `YYYYMMDDHHMMSSZ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// `explicit`: `credentials/authorize` with an OTP, or approval on the official's phone.
    pub mode: String,
    pub objects: Vec<AuthObject>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub format: String,
    pub label: String,
    pub description: String,
}

/// `credentials/authorize` (§11.6), explicit mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeRequest {
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    pub num_signatures: u32,
    /// Base64 hashes the SAD will allow (v2 `hashes`, v1 `hash`).
    #[serde(default, alias = "hash", skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Vec<String>>,
    /// v2 `hashAlgorithmOID`; v1 had none (SHA-256 then, or the hash's length says).
    #[serde(
        default,
        rename = "hashAlgorithmOID",
        alias = "hashAlgo",
        skip_serializing_if = "Option::is_none"
    )]
    pub hash_algorithm_oid: Option<String>,
    /// The official's authenticator code. Absent: the official approves on their phone and
    /// the client polls `credentials/authorizeCheck`.
    #[serde(default, rename = "OTP", skip_serializing_if = "Option::is_none")]
    pub otp: Option<String>,
    #[serde(default, rename = "PIN", skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Shown to the official when approving on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_data: Option<String>,
}

/// The SAD (`credentials/authorize` with an OTP, `credentials/authorizeCheck` once approved).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    #[serde(rename = "SAD")]
    pub sad: String,
    /// Seconds.
    pub expires_in: i64,
}

/// `credentials/authorize` without an OTP: HTTP 202 and this; the official approves on
/// `approvalURL` and the client asks `credentials/authorizeCheck` for the SAD.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizePending {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "approvalURL")]
    pub approval_url: String,
    /// Seconds the official has to decide.
    pub expires_in: i64,
}

/// `credentials/authorizeCheck`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeCheckRequest {
    #[serde(rename = "requestID")]
    pub request_id: String,
}

/// `credentials/authorizeCheck` while the official has not decided: HTTP 202 and this.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthorizeCheckPending {
    /// `pending`.
    pub status: String,
}

/// `signatures/signHash` (§11.9).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignHashRequest {
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// Left out with an access token of scope `credential`, which carries the SAD.
    #[serde(default, rename = "SAD", skip_serializing_if = "String::is_empty")]
    pub sad: String,
    /// Base64 hashes (v2 `hashes`, v1 `hash`).
    #[serde(alias = "hash")]
    pub hashes: Vec<String>,
    /// v2 `hashAlgorithmOID`, v1 `hashAlgo`; may be left out when `signAlgo` names the hash.
    #[serde(
        default,
        rename = "hashAlgorithmOID",
        alias = "hashAlgo",
        skip_serializing_if = "Option::is_none"
    )]
    pub hash_algorithm_oid: Option<String>,
    /// A signature algorithm OID: plain (`rsaEncryption`, `id-ecPublicKey`) or combined.
    pub sign_algo: String,
    /// Base64 DER parameters (RSASSA-PSS-params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_algo_params: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_data: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignHashResponse {
    /// Base64 signature values, in the order of the hashes: PKCS#1 for RSA, DER
    /// `Ecdsa-Sig-Value` for ECDSA.
    pub signatures: Vec<String>,
}

/// `signatures/signDoc` (§11.10), for PDFs: Tessera makes the PAdES signature itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignDocRequest {
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// Left out with an access token of scope `credential`, which carries the SAD.
    #[serde(default, rename = "SAD", skip_serializing_if = "String::is_empty")]
    pub sad: String,
    pub documents: Vec<SignDocDocument>,
}

/// One document: a base64 PDF whose SHA-256 the SAD allows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignDocDocument {
    pub document: String,
    /// `P` (PAdES); the only one offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_format: Option<String>,
    /// `ETSI.PAdES.B-B` (default), `…B-T`, `…B-LT`, `…B-LTA`, or Tessera's `B-T` etc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance_level: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignDocResponse {
    /// Base64 signed PDFs, in the order of the documents.
    pub document_with_signature: Vec<String>,
}

/// The CSC error body (§10.1): an OAuth-style code and words.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CscError {
    pub error: String,
    pub error_description: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_field_names_both_read() {
        let v1: SignHashRequest = serde_json::from_str(
            r#"{"credentialID":"c","SAD":"s","hash":["AA=="],"hashAlgo":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}"#,
        )
        .unwrap();
        let v2: SignHashRequest = serde_json::from_str(
            r#"{"credentialID":"c","SAD":"s","hashes":["AA=="],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1","signAlgo":"1.2.840.10045.4.3.2"}"#,
        )
        .unwrap();
        assert_eq!(v1, v2);
        assert_eq!(v1.hashes, vec!["AA=="]);
        let a: AuthorizeRequest = serde_json::from_str(
            r#"{"credentialID":"c","numSignatures":1,"hash":["AA=="],"OTP":"123456"}"#,
        )
        .unwrap();
        assert_eq!(a.hashes.as_deref(), Some(&["AA==".to_owned()][..]));
        assert_eq!(a.otp.as_deref(), Some("123456"));
    }
}
