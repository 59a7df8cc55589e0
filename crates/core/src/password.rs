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

/// Passwords of at least 10 characters that lists of leaked passwords show most often (the
/// shorter ones are refused by length already), in English and Vietnamese. Compared after
/// lower-casing.
const COMMON: &[&str] = &[
    "0123456789",
    "1234567890",
    "0987654321",
    "9876543210",
    "1122334455",
    "1234512345",
    "123456789a",
    "a123456789",
    "1234567890a",
    "123456789@",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "q1w2e3r4t5",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "password12",
    "password123",
    "password1234",
    "password@123",
    "passw0rd123",
    "p@ssw0rd123",
    "p@ssword123",
    "iloveyou12",
    "iloveyou123",
    "abc1234567",
    "abcd123456",
    "abcd@12345",
    "abc@123456",
    "admin12345",
    "admin@123456",
    "administrator",
    "welcome123",
    "welcome@123",
    "changeme123",
    "letmein123",
    "football123",
    "baseball123",
    "sunshine123",
    "princess123",
    "dragon1234",
    "monkey1234",
    "master1234",
    "superman123",
    "matkhau123",
    "matkhau1234",
    "matkhau@123",
    "matkhaumoi",
    "matkhau2024",
    "matkhau2025",
    "matkhau2026",
    "anhyeuem123",
    "emyeuanh123",
    "anhyeuem1234",
    "vietnam123",
    "vietnam1234",
    "vietnam@123",
    "hanoi12345",
    "saigon1234",
    "123456aa@@",
    "aa123456789",
    "tessera123",
    "tessera2026",
];

/// Rules for new passwords, after NIST SP 800-63B §5.1.1: length matters, composition rules do
/// not, and passwords known from breaches or made of one repeated pattern are refused.
pub fn check_policy(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Err("the password must have at least 10 characters");
    }
    if n > 256 {
        return Err("the password must have at most 256 characters");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err("this password is among the most common ones; choose another");
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err("the password repeats too few different characters");
    }
    Ok(())
}

/// [`check_policy`] for a password a person chooses for themselves: it must not contain their
/// username either.
pub fn check_new(password: &str, username: &str) -> Result<(), &'static str> {
    check_policy(password)?;
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err("the password must not contain your username");
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

    #[test]
    fn policy_refuses_common_and_repetitive_passwords() {
        for weak in ["matkhau123", "Password123", "QWERTYUIOP", "1234567890"] {
            assert_eq!(
                check_policy(weak),
                Err("this password is among the most common ones; choose another"),
                "{weak}"
            );
        }
        assert!(check_policy("aaaaaaaaaaaa").is_err());
        assert!(check_policy("abababababab").is_err());
        assert!(check_policy("con ngựa đá con ngựa đá").is_ok());
        assert!(
            COMMON
                .iter()
                .all(|c| c.chars().count() >= 10 && c.to_lowercase() == *c)
        );
    }

    #[test]
    fn a_chosen_password_does_not_contain_the_username() {
        assert!(check_new("an.nv-mat-khau-moi", "an.nv").is_err());
        assert!(check_new("AN.NV-mat-khau-moi", "an.nv").is_err());
        assert!(check_new("mùa thu Hà Nội 2026", "an.nv").is_ok());
    }
}
