//! User codes of the device grant (RFC 8628 §6.1): eight letters from an alphabet without
//! vowels (no words) and without the look-alikes 0/O and 1/I, read aloud or typed on a phone,
//! in any case and with or without the dash.

use ring::rand::{SecureRandom, SystemRandom};

use crate::CoreError;

/// RFC 8628 §6.1's example alphabet: 20 consonants, 20^8 ≈ 2^34.6 codes.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const LEN: usize = 8;

/// A fresh user code, normalised (`BCDFGHJK`).
pub fn generate() -> Result<String, CoreError> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(LEN);
    while out.len() < LEN {
        let mut b = [0u8; 1];
        rng.fill(&mut b)
            .map_err(|_| CoreError::Internal("system randomness unavailable".into()))?;
        // 240 = 12 × 20: rejecting the rest keeps every letter equally likely.
        if b[0] < 240 {
            out.push(char::from(ALPHABET[usize::from(b[0] % 20)]));
        }
    }
    Ok(out)
}

/// The code as typed, normalised: upper case, dashes and spaces dropped. `None` when what is
/// left cannot be a user code, so nothing is looked up (or counted) for it.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A normalised code as shown: `BCDF-GHJK`.
pub fn display(normalised: &str) -> String {
    let (a, b) = normalised.split_at(normalised.len().min(LEN / 2));
    format!("{a}-{b}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_unambiguous_and_distinct() {
        let a = generate().unwrap();
        assert_eq!(a.len(), 8);
        assert!(
            a.bytes()
                .all(|b| !b"0O1IAEUY".contains(&b) && b.is_ascii_uppercase())
        );
        assert_ne!(a, generate().unwrap());
        assert_eq!(normalise(&a).as_deref(), Some(a.as_str()));
    }

    #[test]
    fn typing_is_case_and_dash_insensitive() {
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        for typed in [
            "BCDF-GHJK",
            "bcdf-ghjk",
            "bcdfghjk",
            " Bcdf ghjK ",
            "BCDF–GHJK",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some("BCDFGHJK"), "{typed}");
        }
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "BCDF-GHJ0",
            "ABCD-EFGH",
            "BCDF_GHJK",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }
}
