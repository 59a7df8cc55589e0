//! The CSC scope `credential` on `/authorize` (CSC API v2 §8.4.2), in either spelling: the
//! scope with `credentialID`, `numSignatures`, `hashes` and `hashAlgorithmOID` parameters, or
//! RFC 9396 `authorization_details` of type `credential`. Either way the official approves
//! exactly those hashes on the signing page, and the access token carries that approval.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use tessera_proto::ErrorCode;

use crate::params::Params;

/// The CSC scope of an access token bound to approved hashes.
pub const CREDENTIAL_SCOPE: &str = "credential";
/// The one `authorization_details` type understood (CSC API v2 §8.4.2).
pub const CREDENTIAL_TYPE: &str = "credential";
/// Most hashes one authorization covers (the CSC API's `multisign`).
const MAX_HASHES: usize = 100;

/// What the official is asked to approve: hashes for one of their credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialAuthorization {
    pub credential_id: String,
    pub hash_algorithm_oid: String,
    /// The hashes, standard base64.
    pub hashes: Vec<String>,
    pub description: Option<String>,
}

/// An `authorization_details` entry as sent (RFC 9396 §2; CSC API v2 §8.4.2).
#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "credentialID")]
    credential_id: Option<String>,
    #[serde(rename = "documentDigests", default)]
    document_digests: Vec<Digest>,
    #[serde(rename = "hashAlgorithmOID")]
    hash_algorithm_oid: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Digest {
    hash: String,
}

type Refusal = (ErrorCode, String);

fn bad_details(m: impl Into<String>) -> Refusal {
    (ErrorCode::InvalidAuthorizationDetails, m.into())
}

/// The credential authorization a request asks for, if any; `scope` gains `credential` when
/// `authorization_details` asked for it without the scope.
pub fn parse(
    params: &Params,
    scope: &mut Vec<String>,
) -> Result<Option<CredentialAuthorization>, Refusal> {
    let wanted = if let Some(raw) = params.get("authorization_details") {
        Some(from_details(raw)?)
    } else if scope.iter().any(|s| s == CREDENTIAL_SCOPE) {
        Some(from_parameters(params)?)
    } else {
        None
    };
    if wanted.is_some() && !scope.iter().any(|s| s == CREDENTIAL_SCOPE) {
        scope.push(CREDENTIAL_SCOPE.to_owned());
    }
    Ok(wanted)
}

fn from_details(raw: &str) -> Result<CredentialAuthorization, Refusal> {
    let details: Vec<Detail> = serde_json::from_str(raw).map_err(|e| {
        bad_details(format!(
            "authorization_details must be a JSON array of objects: {e}"
        ))
    })?;
    if let Some(other) = details
        .iter()
        .find(|d| d.kind.as_deref() != Some(CREDENTIAL_TYPE))
    {
        return Err(bad_details(format!(
            "authorization_details type {:?} is not supported; only \"{CREDENTIAL_TYPE}\" is",
            other.kind.as_deref().unwrap_or("")
        )));
    }
    let [d] = details.as_slice() else {
        return Err(bad_details(
            "authorization_details must hold exactly one entry of type \"credential\"",
        ));
    };
    let credential_id = d
        .credential_id
        .clone()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| bad_details("authorization_details: credentialID is missing"))?;
    let oid = d
        .hash_algorithm_oid
        .clone()
        .ok_or_else(|| bad_details("authorization_details: hashAlgorithmOID is missing"))?;
    let hashes: Vec<&str> = d.document_digests.iter().map(|h| h.hash.as_str()).collect();
    let hashes = normalise(&hashes).map_err(bad_details)?;
    Ok(CredentialAuthorization {
        credential_id,
        hash_algorithm_oid: oid,
        hashes,
        description: d.description.clone(),
    })
}

fn from_parameters(params: &Params) -> Result<CredentialAuthorization, Refusal> {
    let invalid = |m: &str| (ErrorCode::InvalidRequest, m.to_owned());
    let credential_id = params
        .get("credentialID")
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| invalid("scope credential needs the credentialID parameter"))?;
    let oid = params
        .get("hashAlgorithmOID")
        .ok_or_else(|| invalid("scope credential needs the hashAlgorithmOID parameter"))?;
    let hashes: Vec<&str> = params
        .get("hashes")
        .ok_or_else(|| {
            invalid("scope credential needs the hashes parameter (this service is SCAL2)")
        })?
        .split(',')
        .collect();
    let hashes = normalise(&hashes).map_err(|m| invalid(&m))?;
    if let Some(n) = params.get("numSignatures")
        && n.parse::<usize>().ok() != Some(hashes.len())
    {
        return Err(invalid(&format!(
            "numSignatures ({n}) does not match the {} hashes",
            hashes.len()
        )));
    }
    Ok(CredentialAuthorization {
        credential_id: credential_id.to_owned(),
        hash_algorithm_oid: oid.to_owned(),
        hashes,
        description: params.get("description").map(str::to_owned),
    })
}

/// The hashes as standard base64, whichever base64 they came in (CSC puts base64url in
/// query strings, base64 in JSON).
fn normalise(hashes: &[&str]) -> Result<Vec<String>, String> {
    if hashes.is_empty() || hashes.len() > MAX_HASHES {
        return Err(format!("1 to {MAX_HASHES} hashes, not {}", hashes.len()));
    }
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.trim();
            STANDARD
                .decode(h)
                .or_else(|_| URL_SAFE_NO_PAD.decode(h.trim_end_matches('=')))
                .map(|d| STANDARD.encode(d))
                .map_err(|_| format!("hash {i} is not base64"))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn both_spellings_give_the_same_authorization() {
        let hash = STANDARD.encode([7u8; 32]);
        let url_hash = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let details = format!(
            r#"[{{"type":"credential","credentialID":"c1","documentDigests":[{{"hash":"{hash}","label":"a.pdf"}}],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1"}}]"#
        );
        let mut scope = vec!["openid".to_owned()];
        let a = parse(&params(&[("authorization_details", &details)]), &mut scope)
            .unwrap()
            .unwrap();
        assert_eq!(scope, ["openid", "credential"]);
        let mut scope = vec!["openid".to_owned(), "credential".to_owned()];
        let b = parse(
            &params(&[
                ("credentialID", "c1"),
                ("numSignatures", "1"),
                ("hashes", &url_hash),
                ("hashAlgorithmOID", "2.16.840.1.101.3.4.2.1"),
            ]),
            &mut scope,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.hashes, [hash]);
    }

    #[test]
    fn unknown_types_and_bad_entries_are_refused() {
        let mut scope = vec!["openid".to_owned()];
        let refuse = |raw: &str, words: &str| {
            let mut scope = vec!["openid".to_owned()];
            let (code, m) =
                parse(&params(&[("authorization_details", raw)]), &mut scope).unwrap_err();
            assert_eq!(code, ErrorCode::InvalidAuthorizationDetails);
            assert!(m.contains(words), "{m}");
        };
        refuse(r#"[{"type":"payment_initiation"}]"#, "payment_initiation");
        refuse(r#"{"type":"credential"}"#, "JSON array");
        refuse("[]", "exactly one");
        refuse(
            r#"[{"type":"credential","hashAlgorithmOID":"x","documentDigests":[{"hash":"AA=="}]}]"#,
            "credentialID",
        );
        refuse(
            r#"[{"type":"credential","credentialID":"c","hashAlgorithmOID":"x","documentDigests":[]}]"#,
            "1 to 100",
        );
        // Neither spelling: nothing asked.
        assert_eq!(parse(&params(&[]), &mut scope), Ok(None));
        // The scope without hashes is refused.
        scope.push("credential".into());
        let (code, _) = parse(&params(&[("credentialID", "c")]), &mut scope).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidRequest);
    }
}
