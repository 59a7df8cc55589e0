//! `credentials/list` and `credentials/info` (CSC API v2 §11.4, §11.5): the official's own
//! personal credentials, with the certificate chain signer first and the algorithms the key
//! makes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_proto::csc::{AuthInfo, AuthObject, CertInfo, CredentialInfo, KeyInfo, ListRequest};
use tessera_store::pki::{Credential, CredentialFilter, CredentialStatus, OwnerKind};

use super::{CscCaller, CscError, MULTISIGN, key_algos, key_len};
use crate::Provider;

/// `credentials/list`: the caller's personal credentials, newest first; `only_valid` keeps
/// those that can sign now.
pub async fn list(
    p: &Provider,
    c: &CscCaller,
    req: &ListRequest,
    now: i64,
) -> Result<Vec<(String, Option<CredentialInfo>)>, CscError> {
    if let Some(u) = &req.user_id
        && u != &c.user.id
        && !u.eq_ignore_ascii_case(&c.user.username)
    {
        return Err(CscError::Invalid(
            "Invalid parameter userID: a user's token lists only that user's credentials".into(),
        ));
    }
    let mut creds = p
        .store
        .list_credentials(&CredentialFilter {
            user_id: Some(c.user.id.clone()),
            ..CredentialFilter::default()
        })
        .await?;
    creds.retain(|r| r.owner_kind == OwnerKind::Person && (!req.only_valid || can_sign(r, now)));
    creds.sort_by_key(|r| std::cmp::Reverse(r.not_before.unwrap_or(r.created_at)));
    let max = req.max_results.map_or(usize::MAX, |m| m as usize);
    creds
        .into_iter()
        .take(max)
        .map(|r| {
            let info = req
                .credential_info
                .then(|| {
                    info_of(
                        &r,
                        req.certificates.as_deref(),
                        req.cert_info,
                        req.auth_info,
                        now,
                    )
                })
                .transpose()?
                .map(|mut i| {
                    i.credential_id = Some(r.id.clone());
                    i
                });
            Ok((r.id, info))
        })
        .collect()
}

/// `credentials/info` of the caller's credential `id`. Suspended, revoked and expired
/// credentials are described too (their status says so); others' are "not found".
pub async fn info(
    p: &Provider,
    c: &CscCaller,
    id: &str,
    certificates: Option<&str>,
    cert_info: bool,
    auth_info: bool,
    now: i64,
) -> Result<CredentialInfo, CscError> {
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
    info_of(&cred, certificates, cert_info, auth_info, now)
}

fn can_sign(r: &Credential, now: i64) -> bool {
    r.status == CredentialStatus::Active
        && r.not_before.is_some_and(|t| t <= now)
        && r.not_after.is_some_and(|t| now < t)
}

fn info_of(
    r: &Credential,
    certificates: Option<&str>,
    cert_info: bool,
    auth_info: bool,
    now: i64,
) -> Result<CredentialInfo, CscError> {
    let key = tessera_hsm::KeyType::from_name(&r.key_alg).ok_or_else(|| {
        CscError::Internal(crate::CoreError::Internal(format!(
            "credential key algorithm {}",
            r.key_alg
        )))
    })?;
    let expired = r.status == CredentialStatus::Expired || r.not_after.is_some_and(|t| now >= t);
    let cert_status = match r.status {
        CredentialStatus::Revoked => "revoked",
        CredentialStatus::Suspended => "suspended",
        _ if expired => "expired",
        _ => "valid",
    };
    let mut der = Vec::new();
    let wanted = certificates.unwrap_or("single");
    match wanted {
        "none" => {}
        "single" | "chain" => {
            if let Some(cert) = &r.cert_der {
                der.push(cert.clone());
                if wanted == "chain" {
                    der.extend(
                        crate::pki::import::split_der(r.chain_der.as_deref().unwrap_or_default())
                            .map_err(|e| {
                            CscError::Internal(crate::CoreError::Internal(e.to_string()))
                        })?,
                    );
                }
            }
        }
        other => {
            return Err(CscError::Invalid(format!(
                "Invalid parameter certificates: {other:?} (use none, single or chain)"
            )));
        }
    }
    let (len, curve) = key_len(key);
    let time = |t: Option<i64>| -> Result<Option<String>, CscError> {
        t.map(|t| {
            crate::pki::profile::generalized_time(t)
                .map(|g| {
                    let d = g.to_date_time();
                    format!(
                        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
                        d.year(),
                        d.month(),
                        d.day(),
                        d.hour(),
                        d.minutes(),
                        d.seconds()
                    )
                })
                .map_err(|e| CscError::Internal(crate::CoreError::Internal(e.to_string())))
        })
        .transpose()
    };
    Ok(CredentialInfo {
        credential_id: None,
        description: r
            .subject
            .clone()
            .unwrap_or_else(|| format!("credential {}", r.id)),
        signature_qualifier: None,
        key: KeyInfo {
            status: if r.status == CredentialStatus::Active && !expired {
                "enabled"
            } else {
                "disabled"
            }
            .into(),
            algo: key_algos(key).into_iter().map(str::to_owned).collect(),
            len,
            curve: curve.map(str::to_owned),
        },
        cert: CertInfo {
            status: cert_status.into(),
            certificates: der.iter().map(|d| STANDARD.encode(d)).collect(),
            issuer_dn: cert_info.then(|| r.issuer.clone()).flatten(),
            serial_number: cert_info.then(|| r.serial.clone()).flatten(),
            subject_dn: cert_info.then(|| r.subject.clone()).flatten(),
            valid_from: if cert_info { time(r.not_before)? } else { None },
            valid_to: if cert_info { time(r.not_after)? } else { None },
        },
        auth: auth_info.then(|| AuthInfo {
            mode: "explicit".into(),
            objects: vec![AuthObject {
                kind: "OTP".into(),
                id: "otp".into(),
                format: "N".into(),
                label: "OTP".into(),
                description: "The code of the official's authenticator app; without it the official approves on their phone".into(),
            }],
        }),
        auth_mode: "explicit".into(),
        scal: "2".into(),
        multisign: MULTISIGN as u32,
        lang: "vi-VN".into(),
    })
}
