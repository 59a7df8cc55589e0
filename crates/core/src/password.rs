//! Password hashing with Argon2id (RFC 9106), at or above OWASP's minimum (m=19 MiB, t=2, p=1).

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::CoreError;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn argon2() -> Result<Argon2<'static>, CoreError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| CoreError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string with a fresh salt. CPU-heavy: call off the async runtime.
pub fn hash(password: &str) -> Result<String, CoreError> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| CoreError::Internal(format!("argon2: {e}")))
}

/// Checks a password against a PHC string. A malformed stored hash is simply a mismatch.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    match argon2() {
        Ok(a) => a.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Rules for new passwords, after NIST SP 800-63B §5.1.1: length matters, composition rules do not.
pub fn check_policy(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Err("the password must have at least 10 characters");
    }
    if n > 256 {
        return Err("the password must have at most 256 characters");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_required_cost_and_verifies() {
        let h = hash("mật khẩu rất dài 2026").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("mật khẩu rất dài 2026", &h));
        assert!(!verify("mat khau rat dai 2026", &h));
        assert!(!verify("x", "not a hash"));
        assert_ne!(h, hash("mật khẩu rất dài 2026").unwrap(), "salted");
    }

    #[test]
    fn policy_wants_length() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("đủ dài rồi nhé").is_ok());
    }
}
