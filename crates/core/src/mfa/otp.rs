//! One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238), for the authenticator app and
//! hardware tokens alike. The codes are computed by `totp-rs`: TOTP is HOTP over the number of
//! time steps (RFC 6238 §4.2), so a generator with one-second steps and no skew, asked about
//! "time" `c`, gives the HOTP code of counter `c`.

use tessera_store::otp_tokens::OtpAlgorithm;
use totp_rs::{Algorithm, Builder, Totp};

use crate::CoreError;

/// How a secret turns into codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub algorithm: OtpAlgorithm,
    pub digits: u8,
}

impl Spec {
    /// What authenticator apps use (RFC 6238 defaults, which apps support everywhere).
    pub const APP: Spec = Spec {
        algorithm: OtpAlgorithm::Sha1,
        digits: 6,
    };
}

/// Time steps of the clock either side of the current one whose codes are accepted
/// (RFC 6238 §5.2).
pub const TOTP_SKEW: u16 = 1;

/// What spending a code did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spent {
    Accepted,
    /// The code was right but already spent (or a later one was).
    Replayed,
    NoMatch,
}

fn generator(secret: &[u8], spec: Spec, step: u64, skew: u16) -> Result<Totp, CoreError> {
    let algorithm = match spec.algorithm {
        OtpAlgorithm::Sha1 => Algorithm::SHA1,
        OtpAlgorithm::Sha256 => Algorithm::SHA256,
        OtpAlgorithm::Sha512 => Algorithm::SHA512,
    };
    // `build` checks what RFC 4226 demands: 6 to 8 digits (§5.3) and a secret of at least
    // 128 bits (§4 R6).
    Builder::new()
        .with_algorithm(algorithm)
        .with_digits(spec.digits)
        .with_secret(secret.to_vec())
        .with_step_duration(step)
        .with_skew(skew)
        .build()
        .map_err(|e| CoreError::Invalid(e.to_string()))
}

/// Whether a secret and a spec (and, for TOTP, a period in seconds) make a usable generator;
/// the reason when they do not.
pub fn check_params(secret: &[u8], spec: Spec, period: Option<i64>) -> Result<(), CoreError> {
    if secret.len() < 16 {
        return Err(CoreError::Invalid(format!(
            "the secret has {} bits; RFC 4226 asks for at least 128",
            secret.len() * 8
        )));
    }
    if !(6..=8).contains(&spec.digits) {
        return Err(CoreError::Invalid(format!(
            "{} digits; a code has 6, 7 or 8",
            spec.digits
        )));
    }
    let step = match period {
        Some(p) => u64::try_from(p)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| CoreError::Invalid(format!("period {p} is not a positive number")))?,
        None => 1,
    };
    generator(secret, spec, step, 0).map(|_| ())
}

/// The code of counter `counter` (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], spec: Spec, counter: u64) -> Result<String, CoreError> {
    Ok(generator(secret, spec, 1, 0)?.generate(counter).to_string())
}

/// The code shown at `time` (Unix seconds) with steps of `period` seconds (RFC 6238 §4.2).
pub fn totp(secret: &[u8], spec: Spec, period: u64, time: u64) -> Result<String, CoreError> {
    Ok(generator(secret, spec, period, 0)?
        .generate(time)
        .to_string())
}

/// The time step whose code `code` is, within [`TOTP_SKEW`] steps of `now`.
pub fn totp_step(
    secret: &[u8],
    spec: Spec,
    period: u64,
    code: &str,
    now: i64,
) -> Result<Option<i64>, CoreError> {
    let totp = generator(secret, spec, period, TOTP_SKEW)?;
    Ok(u64::try_from(now)
        .ok()
        .and_then(|t| totp.check(code, t))
        .and_then(|s| i64::try_from(s).ok()))
}

/// The first counter among `count` from `from` on whose code is `code` (the look-ahead of
/// RFC 4226 §7.4). Every counter of the window is tried, so the time taken does not tell
/// where (or whether) the code matched.
pub fn hotp_counter(
    secret: &[u8],
    spec: Spec,
    code: &str,
    from: i64,
    count: i64,
) -> Result<Option<i64>, CoreError> {
    let hotp = generator(secret, spec, 1, 0)?;
    let mut found = None;
    for counter in from.max(0)..from.saturating_add(count) {
        let matched = u64::try_from(counter)
            .ok()
            .and_then(|c| hotp.check(code, c))
            .is_some();
        if matched && found.is_none() {
            found = Some(counter);
        }
    }
    Ok(found)
}

/// A code as typed, without the spaces people put in to read it more easily.
pub fn normalise(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 4226 Appendix D: the secret is the ASCII string "12345678901234567890".
    const RFC4226_SECRET: &[u8] = b"12345678901234567890";
    const RFC4226_CODES: [&str; 10] = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        for (counter, expected) in RFC4226_CODES.iter().enumerate() {
            let code = hotp(RFC4226_SECRET, Spec::APP, counter as u64).unwrap();
            assert_eq!(&code, expected, "counter {counter}");
        }
    }

    /// RFC 6238 Appendix B: 8 digits, 30 s steps, a seed per hash as long as its output.
    #[test]
    fn totp_matches_rfc_6238_appendix_b() {
        let sha1: &[u8] = b"12345678901234567890";
        let sha256: &[u8] = b"12345678901234567890123456789012";
        let sha512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
        let vectors: [(u64, [&str; 3]); 6] = [
            (59, ["94287082", "46119246", "90693936"]),
            (1111111109, ["07081804", "68084774", "25091201"]),
            (1111111111, ["14050471", "67062674", "99943326"]),
            (1234567890, ["89005924", "91819424", "93441116"]),
            (2000000000, ["69279037", "90698825", "38618901"]),
            (20000000000, ["65353130", "77737706", "47863826"]),
        ];
        let algorithms = [
            (OtpAlgorithm::Sha1, sha1),
            (OtpAlgorithm::Sha256, sha256),
            (OtpAlgorithm::Sha512, sha512),
        ];
        for (time, codes) in vectors {
            for ((algorithm, secret), expected) in algorithms.iter().zip(codes) {
                let spec = Spec {
                    algorithm: *algorithm,
                    digits: 8,
                };
                assert_eq!(
                    totp(secret, spec, 30, time).unwrap(),
                    expected,
                    "{algorithm:?} at {time}"
                );
            }
        }
    }

    #[test]
    fn totp_accepts_one_step_either_side() {
        let spec = Spec {
            algorithm: OtpAlgorithm::Sha256,
            digits: 8,
        };
        let secret = b"12345678901234567890123456789012";
        let now = 1_234_567_890;
        let code = |t: u64| totp(secret, spec, 60, t).unwrap();
        let step = now / 60;
        for (at, expected) in [(now - 60, step - 1), (now, step), (now + 60, step + 1)] {
            let got = totp_step(secret, spec, 60, &code(at as u64), now).unwrap();
            assert_eq!(got, Some(expected));
        }
        assert_eq!(
            totp_step(secret, spec, 60, &code(now as u64 + 120), now).unwrap(),
            None
        );
        // A six-digit code never matches an eight-digit token.
        assert_eq!(
            totp_step(secret, spec, 60, &code(now as u64)[2..], now).unwrap(),
            None
        );
    }

    #[test]
    fn hotp_look_ahead_finds_the_counter_inside_the_window_only() {
        let code = |c| RFC4226_CODES[c];
        assert_eq!(
            hotp_counter(RFC4226_SECRET, Spec::APP, code(7), 3, 5).unwrap(),
            Some(7)
        );
        assert_eq!(
            hotp_counter(RFC4226_SECRET, Spec::APP, code(8), 3, 5).unwrap(),
            None,
            "counters 3..8 only"
        );
        assert_eq!(
            hotp_counter(RFC4226_SECRET, Spec::APP, code(2), 3, 5).unwrap(),
            None,
            "nothing behind"
        );
        assert_eq!(
            hotp_counter(RFC4226_SECRET, Spec::APP, "75522", 0, 5).unwrap(),
            None
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let short = check_params(b"0123456789", Spec::APP, None).unwrap_err();
        assert!(short.to_string().contains("80"), "{short}");
        let digits = Spec {
            algorithm: OtpAlgorithm::Sha1,
            digits: 9,
        };
        assert!(check_params(RFC4226_SECRET, digits, None).is_err());
        assert!(check_params(RFC4226_SECRET, Spec::APP, Some(0)).is_err());
        assert!(check_params(RFC4226_SECRET, Spec::APP, Some(30)).is_ok());
    }

    #[test]
    fn spaces_are_ignored() {
        assert_eq!(normalise(" 755 224\t"), "755224");
    }
}
