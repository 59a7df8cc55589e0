//! Recovery codes: ten random one-time codes, shown once, stored as keyed hashes.

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use tessera_store::users::User;

use super::{FactorError, admit_attempt, audit_failure, audit_wrong_code, factor_key};
use crate::audit::Event;
use crate::request::RequestMeta;
use crate::{CoreError, Provider};

pub const COUNT: usize = 10;
/// Letters and digits that cannot be mistaken for one another when copied from paper.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const LEN: usize = 12;

/// `xxxx-xxxx-xxxx`: 12 characters of a 31-letter alphabet, about 59 bits.
fn new_code() -> Result<String, CoreError> {
    let mut raw = [0u8; LEN];
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(LEN + 2);
    let mut i = 0;
    while i < LEN {
        rng.fill(&mut raw)
            .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
        for b in raw {
            // Rejection sampling keeps every letter equally likely.
            if usize::from(b) >= 256 - 256 % ALPHABET.len() || i == LEN {
                continue;
            }
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            i += 1;
        }
    }
    Ok(out)
}

/// How a typed code is compared: case, spaces and dashes do not matter.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Replaces the person's recovery codes with ten new ones and returns them (shown once).
pub async fn regenerate(
    p: &Provider,
    user: &User,
    meta: &RequestMeta,
    now: i64,
) -> Result<Vec<String>, CoreError> {
    if !super::enrolled(p, &user.id).await?.any() {
        return Err(CoreError::Conflict(
            "recovery codes back up a passkey or an authenticator app: set one up first".into(),
        ));
    }
    let mut codes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        codes.push(new_code()?);
    }
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| p.keyed.hash_recovery_code(&normalise(c)))
        .collect();
    p.store
        .replace_recovery_codes(&user.id, &hashes, now)
        .await?;
    p.audit(
        Event::MfaRecoveryCodesGenerated
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "count": COUNT })),
    )
    .await?;
    Ok(codes)
}

/// Spends one recovery code. Throttled and audited.
pub async fn verify(
    p: &Provider,
    user: &User,
    code: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), FactorError> {
    if !super::enrolled(p, &user.id).await?.any() {
        return Err(FactorError::NotEnrolled);
    }
    let count = match admit_attempt(p, &user.id, now).await {
        Ok(n) => n,
        Err(e) => {
            audit_failure(p, &user.id, "recovery_code", "throttled", meta, now).await?;
            return Err(e);
        }
    };
    let hash = p.keyed.hash_recovery_code(&normalise(code));
    if !p.store.spend_recovery_code(&user.id, &hash, now).await? {
        audit_wrong_code(
            p,
            &user.id,
            "recovery_code",
            "unknown or used code",
            count,
            meta,
            now,
        )
        .await?;
        return Err(FactorError::Invalid);
    }
    p.store.clear_failures(&factor_key(&user.id)).await?;
    let left = p.store.recovery_codes_left(&user.id).await?;
    p.audit(
        Event::MfaRecoveryCodeUsed
            .at(now)
            .actor(&user.id)
            .meta(meta)
            .detail(json!({ "left": left })),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_and_distinct() {
        let a = new_code().unwrap();
        assert_eq!(a.len(), 14);
        assert_eq!(a.matches('-').count(), 2);
        assert!(normalise(&a).bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(a, new_code().unwrap());
        assert_eq!(normalise(" ABCD-efgh 2345 "), "abcdefgh2345");
    }
}
