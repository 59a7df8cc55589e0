//! Passkeys and security keys (WebAuthn Level 3) through `webauthn-rs`.
//!
//! Every ceremony's state is kept in the database between the challenge and the answer, so
//! any replica can finish it, and each challenge is answered at most once. User verification
//! is always required; sign counters that go backwards are refused by webauthn-rs (a cloned
//! authenticator), and the counter and backup state are stored after every use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tessera_store::mfa::{Ceremony, WebauthnCredential};
use tessera_store::users::{User, UserStatus};
use webauthn_rs::prelude::*;

use super::{FactorError, audit_failure};
use crate::audit::Event;
use crate::request::RequestMeta;
use crate::secrets::{random_token, sha256_hex};
use crate::session::{Authn, Factor};
use crate::{CoreError, Provider};

/// How long a browser has to answer a challenge.
pub const CEREMONY_TTL: i64 = 300;
/// Ceremonies one address may begin in a burst, and the seconds after which it may begin one
/// more: each begin stores a challenge, so a flood from one address is cut off early, while an
/// office behind one address still signs in at 30 people a minute.
pub const BEGIN_BURST: i64 = 30;
pub const BEGIN_REFILL_SECS: i64 = 2;
const MAX_NAME: usize = 64;

const REGISTER: &str = "register";
const REGISTER_ATTESTED: &str = "register-attested";
const AUTHENTICATE: &str = "authenticate";
const DISCOVER: &str = "discover";

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string())
}

async fn save_ceremony(
    p: &Provider,
    user_id: Option<&str>,
    kind: &str,
    state: String,
    now: i64,
) -> Result<String, CoreError> {
    let handle = random_token()?;
    p.store
        .insert_ceremony(
            &sha256_hex(handle.as_bytes()),
            &Ceremony {
                user_id: user_id.map(str::to_owned),
                kind: kind.to_owned(),
                state,
            },
            now + CEREMONY_TTL,
        )
        .await?;
    Ok(handle)
}

async fn take_ceremony(
    p: &Provider,
    handle: &str,
    user_id: Option<&str>,
    kinds: &[&str],
    now: i64,
) -> Result<Ceremony, FactorError> {
    match p
        .store
        .take_ceremony(&sha256_hex(handle.as_bytes()), now)
        .await?
    {
        Some(c) if kinds.contains(&c.kind.as_str()) && c.user_id.as_deref() == user_id => Ok(c),
        _ => Err(FactorError::Expired),
    }
}

fn stored_passkey(c: &WebauthnCredential) -> Result<Passkey, CoreError> {
    serde_json::from_str(&c.passkey).map_err(|e| internal(format!("stored passkey {}: {e}", c.id)))
}

/// The browser sends JSON produced from the WebAuthn response.
fn parse<T: serde::de::DeserializeOwned>(json_text: &str) -> Result<T, FactorError> {
    serde_json::from_str(json_text).map_err(|_| FactorError::Invalid)
}

/// Starts registering a passkey for `user`; returns the ceremony handle and the options for
/// `navigator.credentials.create()`.
/// Admits one passkey ceremony begun from the request's address, counted in the database so
/// that every replica shares the allowance.
pub async fn admit_begin(p: &Provider, meta: &RequestMeta, now: i64) -> Result<(), FactorError> {
    let Some(ip) = &meta.source_ip else {
        return Ok(());
    };
    let key = format!("passkey-begin:ip:{ip}");
    if p.store
        .admit_within(&key, now, BEGIN_BURST, BEGIN_REFILL_SECS)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let until = p
        .store
        .throttle_state(&key)
        .await?
        .and_then(|s| s.below_at(now, BEGIN_BURST, BEGIN_REFILL_SECS))
        .unwrap_or(now + 1);
    Err(FactorError::TooManyAttempts {
        retry_after: (until - now).max(1),
    })
}

pub async fn begin_registration(
    p: &Provider,
    user: &User,
    now: i64,
) -> Result<(String, serde_json::Value), CoreError> {
    let handle = p
        .store
        .ensure_webauthn_handle(&user.id, &Uuid::new_v4().to_string())
        .await?;
    let user_handle = Uuid::parse_str(&handle).map_err(internal)?;
    let exclude: Vec<CredentialID> = p
        .store
        .webauthn_credentials(&user.id)
        .await?
        .iter()
        .filter_map(|c| URL_SAFE_NO_PAD.decode(&c.id).ok())
        .collect();
    let exclude = (!exclude.is_empty()).then_some(exclude);
    let passkeys = &p.passkeys;
    let (mut ccr, state, kind) = match &passkeys.attestation {
        Some(list) => {
            let (ccr, st) = passkeys
                .rp()?
                .start_attested_passkey_registration(
                    user_handle,
                    &user.username,
                    &user.display_name,
                    exclude,
                    (**list).clone(),
                    None,
                )
                .map_err(internal)?;
            (ccr, serde_json::to_string(&st), REGISTER_ATTESTED)
        }
        None => {
            let (ccr, st) = passkeys
                .rp()?
                .start_passkey_registration(
                    user_handle,
                    &user.username,
                    &user.display_name,
                    exclude,
                )
                .map_err(internal)?;
            (ccr, serde_json::to_string(&st), REGISTER)
        }
    };
    // Prefer a discoverable credential, so that the passkey alone can sign in later; security
    // keys without room for one still work as a second factor.
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Preferred);
        sel.require_resident_key = false;
    }
    let state = state.map_err(internal)?;
    let ceremony = save_ceremony(p, Some(&user.id), kind, state, now).await?;
    Ok((ceremony, serde_json::to_value(&ccr).map_err(internal)?))
}

/// Finishes a registration with the browser's answer and stores the new credential.
pub async fn finish_registration(
    p: &Provider,
    user: &User,
    ceremony: &str,
    name: &str,
    response_json: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<WebauthnCredential, FactorError> {
    let c = take_ceremony(
        p,
        ceremony,
        Some(&user.id),
        &[REGISTER, REGISTER_ATTESTED],
        now,
    )
    .await?;
    let reg: RegisterPublicKeyCredential = parse(response_json)?;
    let result = if c.kind == REGISTER_ATTESTED {
        let st: AttestedPasskeyRegistration = serde_json::from_str(&c.state).map_err(internal)?;
        p.passkeys
            .rp()?
            .finish_attested_passkey_registration(&reg, &st)
            .map(|ak| {
                let aaguid = match &ak.attestation().metadata {
                    AttestationMetadata::Packed { aaguid } => aaguid.to_string(),
                    AttestationMetadata::Tpm { aaguid, .. } => aaguid.to_string(),
                    _ => String::new(),
                };
                (Passkey::from(ak), aaguid)
            })
    } else {
        let st: PasskeyRegistration = serde_json::from_str(&c.state).map_err(internal)?;
        p.passkeys
            .rp()?
            .finish_passkey_registration(&reg, &st)
            .map(|pk| (pk, String::new()))
    };
    let (passkey, aaguid) = match result {
        Ok(v) => v,
        Err(e) => {
            let reason = format!("registration refused: {e}");
            audit_failure(p, &user.id, "passkey", &reason, meta, now).await?;
            return Err(FactorError::Invalid);
        }
    };
    let first_factor = !super::enrolled(p, &user.id).await?.any();
    let cred = Credential::from(passkey.clone());
    let name: String = name.trim().chars().take(MAX_NAME).collect();
    let record = WebauthnCredential {
        id: URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice()),
        user_id: user.id.clone(),
        name: if name.is_empty() {
            "Passkey".into()
        } else {
            name
        },
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        aaguid,
        backup_eligible: cred.backup_eligible,
        created_at: now,
        last_used_at: None,
    };
    match p.store.insert_webauthn_credential(&record).await {
        Ok(()) => {}
        Err(tessera_store::StoreError::Conflict(_)) => {
            audit_failure(
                p,
                &user.id,
                "passkey",
                "credential already registered",
                meta,
                now,
            )
            .await?;
            return Err(FactorError::Invalid);
        }
        Err(e) => return Err(e.into()),
    }
    if first_factor {
        p.store.delete_recovery_codes(&user.id).await?;
    }
    p.audit(
        Event::MfaPasskeyRegistered
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({
                "credential": record.id, "name": record.name, "aaguid": record.aaguid,
                "synced": record.backup_eligible,
            })),
    )
    .await?;
    Ok(record)
}

/// Starts a passkey check for a known person (second factor or step-up).
pub async fn begin_authentication(
    p: &Provider,
    user: &User,
    now: i64,
) -> Result<(String, serde_json::Value), FactorError> {
    let creds = p.store.webauthn_credentials(&user.id).await?;
    if creds.is_empty() {
        return Err(FactorError::NotEnrolled);
    }
    let passkeys: Vec<Passkey> = creds.iter().map(stored_passkey).collect::<Result<_, _>>()?;
    let (rcr, st) = p
        .passkeys
        .rp()?
        .start_passkey_authentication(&passkeys)
        .map_err(internal)?;
    let state = serde_json::to_string(&st).map_err(internal)?;
    let ceremony = save_ceremony(p, Some(&user.id), AUTHENTICATE, state, now).await?;
    Ok((ceremony, serde_json::to_value(&rcr).map_err(internal)?))
}

/// Finishes a passkey check for a known person.
pub async fn finish_authentication(
    p: &Provider,
    user: &User,
    ceremony: &str,
    response_json: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<Factor, FactorError> {
    let c = take_ceremony(p, ceremony, Some(&user.id), &[AUTHENTICATE], now).await?;
    let st: PasskeyAuthentication = serde_json::from_str(&c.state).map_err(internal)?;
    let answer: PublicKeyCredential = parse(response_json)?;
    let result = match p.passkeys.rp()?.finish_passkey_authentication(&answer, &st) {
        Ok(r) => r,
        Err(e) => {
            let record = super::failure_record(&user.id, "passkey", &refusal(&e), meta, now);
            if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                crate::alerts::raise(p, crate::alerts::Alert::SignCounterRegression, record)
                    .await?;
            } else {
                p.audit(record).await?;
            }
            return Err(FactorError::Invalid);
        }
    };
    let synced = record_use(p, &user.id, &result, now).await?;
    Ok(Factor::Passkey { synced })
}

/// Why webauthn-rs refused an assertion, in words for the audit log.
fn refusal(e: &WebauthnError) -> String {
    match e {
        WebauthnError::CredentialPossibleCompromise => {
            "signature counter went backwards: possible cloned authenticator".into()
        }
        other => format!("assertion refused: {other}"),
    }
}

/// Stores the new counter and backup state of the credential just used.
async fn record_use(
    p: &Provider,
    user_id: &str,
    result: &AuthenticationResult,
    now: i64,
) -> Result<bool, FactorError> {
    let id = URL_SAFE_NO_PAD.encode(result.cred_id().as_slice());
    let Some(stored) = p.store.webauthn_credential(&id).await? else {
        return Err(FactorError::Invalid);
    };
    if stored.user_id != user_id {
        return Err(FactorError::Invalid);
    }
    let mut passkey = stored_passkey(&stored)?;
    passkey.update_credential(result);
    p.store
        .update_webauthn_credential(
            &id,
            &serde_json::to_string(&passkey).map_err(internal)?,
            result.backup_eligible(),
            now,
        )
        .await?;
    Ok(result.backup_eligible())
}

/// Starts a passkey-only sign-in: the authenticator tells us who it is for.
pub async fn begin_discoverable(
    p: &Provider,
    now: i64,
) -> Result<(String, serde_json::Value), CoreError> {
    let (mut rcr, st) = p
        .passkeys
        .rp()?
        .start_discoverable_authentication()
        .map_err(internal)?;
    // Started by a button, not by autofill.
    rcr.mediation = None;
    let state = serde_json::to_string(&st).map_err(internal)?;
    let ceremony = save_ceremony(p, None, DISCOVER, state, now).await?;
    Ok((ceremony, serde_json::to_value(&rcr).map_err(internal)?))
}

/// Finishes a passkey-only sign-in; returns the person and the methods proven.
pub async fn finish_discoverable(
    p: &Provider,
    ceremony: &str,
    response_json: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(User, Authn), FactorError> {
    let c = take_ceremony(p, ceremony, None, &[DISCOVER], now).await?;
    let st: DiscoverableAuthentication = serde_json::from_str(&c.state).map_err(internal)?;
    let answer: PublicKeyCredential = parse(response_json)?;
    let (handle, cred_id) = p
        .passkeys
        .rp()?
        .identify_discoverable_authentication(&answer)
        .map_err(|_| FactorError::Invalid)?;
    let cred_id = URL_SAFE_NO_PAD.encode(cred_id);
    let user_id = p
        .store
        .user_id_by_webauthn_handle(&handle.to_string())
        .await?;
    let stored = p.store.webauthn_credential(&cred_id).await?;
    let (Some(user_id), Some(stored)) = (user_id, stored) else {
        return Err(FactorError::Invalid);
    };
    if stored.user_id != user_id {
        return Err(FactorError::Invalid);
    }
    let user = p
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(FactorError::Invalid)?;
    let passkey = stored_passkey(&stored)?;
    let result = match p
        .passkeys
        .rp()?
        .finish_discoverable_authentication_v2(&answer, st, &passkey)
    {
        Ok(r) => r,
        Err(e) => {
            audit_failure(p, &user.id, "passkey", &refusal(&e), meta, now).await?;
            return Err(FactorError::Invalid);
        }
    };
    if user.status != UserStatus::Active {
        audit_failure(p, &user.id, "passkey", "account disabled", meta, now).await?;
        return Err(FactorError::Invalid);
    }
    // A password an administrator set is changed before anything else, whatever the way in:
    // otherwise the administrator's copy of it would stay good for as long as passkeys work.
    if user.password_must_change {
        audit_failure(
            p,
            &user.id,
            "passkey",
            "password must be changed",
            meta,
            now,
        )
        .await?;
        return Err(FactorError::PasswordChangeRequired);
    }
    let synced = record_use(p, &user.id, &result, now).await?;
    Ok((user, Authn::passkey_only(synced)))
}

pub async fn rename(
    p: &Provider,
    user: &User,
    id: &str,
    name: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<bool, CoreError> {
    let name: String = name.trim().chars().take(MAX_NAME).collect();
    if name.is_empty() {
        return Ok(false);
    }
    let done = p
        .store
        .rename_webauthn_credential(&user.id, id, &name)
        .await?;
    if done {
        p.audit(
            Event::MfaPasskeyRenamed
                .at(now)
                .actor(&user.id)
                .meta(meta)
                .detail(json!({ "credential": id, "name": name })),
        )
        .await?;
    }
    Ok(done)
}

pub async fn remove(
    p: &Provider,
    user: &User,
    id: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<bool, CoreError> {
    let done = p.store.delete_webauthn_credential(&user.id, id).await?;
    if done {
        super::drop_recovery_codes_unless_enrolled(p, &user.id).await?;
        p.audit(
            Event::MfaPasskeyRemoved
                .at(now)
                .actor(&user.id)
                .meta(meta)
                .detail(json!({ "credential": id })),
        )
        .await?;
    }
    Ok(done)
}
