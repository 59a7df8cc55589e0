//! The seed files vendors ship with hardware OTP tokens: CSV with a header line, one token a
//! row. Columns are named in the header (any order, any case; unknown columns are ignored):
//!
//! - `serial` (or `serial_number`, `serialno`, `sn`): printed on the device; required;
//! - `secret` (or `seed`): base32 (RFC 4648, case and padding ignored), or hex after a `hex:`
//!   prefix; or `secret_hex` (or `seed_hex`): hex. Exactly one of them, required;
//! - `type` (or `kind`): `totp` or `hotp`; required;
//! - `digits`: 6, 7 or 8 [default 6];
//! - `period` (or `timestep`, `time_step`): seconds per code, TOTP only [default 30];
//! - `algorithm` (or `algo`, `hash`): SHA1, SHA256 or SHA512 (`SHA-256`, `HMAC-SHA256` too)
//!   [default SHA1];
//! - `counter`: the next counter of an HOTP token [default 0].
//!
//! Fields may be quoted (`"…"`, with `""` for a quote); the separator is a comma, or a
//! semicolon or tab when the header has no comma. Blank lines and lines starting with `#` are
//! skipped. A bad row fails the whole file, naming its line: a damaged file is not half
//! trusted.

use tessera_store::otp_tokens::{OtpAlgorithm, OtpKind};

use super::otp::{self, Spec};

/// One token of a seed file.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed {
    /// The line of the file it came from (1-based).
    pub line: usize,
    pub serial: String,
    pub kind: OtpKind,
    pub secret: Vec<u8>,
    pub spec: Spec,
    /// Seconds per code (TOTP only).
    pub period: Option<i64>,
    /// The next counter (HOTP; 0 for TOTP).
    pub counter: i64,
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seed")
            .field("line", &self.line)
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .field("secret", &"***")
            .field("spec", &self.spec)
            .field("period", &self.period)
            .field("counter", &self.counter)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file has no header line")]
    Empty,
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("no token with serial '{0}' in the seed file")]
    NoSuchSerial(String),
    #[error("the seed file holds {0} tokens: choose one with --serial")]
    SerialNeeded(usize),
    #[error("the seed file holds no token")]
    NoRows,
}

/// The longest serial accepted: longer ones are not serials.
const MAX_SERIAL: usize = 64;
/// The default seconds per TOTP code (RFC 6238 §5.2).
pub const DEFAULT_PERIOD: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Serial,
    Secret,
    SecretHex,
    Kind,
    Digits,
    Period,
    Algorithm,
    Counter,
}

fn column(name: &str) -> Option<Column> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "serial" | "serial_number" | "serialno" | "sn" => Column::Serial,
        "secret" | "seed" => Column::Secret,
        "secret_hex" | "seed_hex" => Column::SecretHex,
        "type" | "kind" => Column::Kind,
        "digits" => Column::Digits,
        "period" | "timestep" | "time_step" => Column::Period,
        "algorithm" | "algo" | "hash" => Column::Algorithm,
        "counter" => Column::Counter,
        _ => return None,
    })
}

/// Splits one line into fields (RFC 4180 quoting, within one line).
fn fields(line: &str, sep: char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            c if c == sep && !quoted => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            c if was_quoted && !quoted && !c.is_whitespace() => {
                return Err("text after a closing quote".into());
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    out.push(field);
    Ok(out.into_iter().map(|f| f.trim().to_owned()).collect())
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u32> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_digit(16).ok_or(()))
        .collect::<Result<_, _>>()
        .map_err(|()| "the secret is not hexadecimal".to_owned())?;
    if !digits.len().is_multiple_of(2) {
        return Err("the hexadecimal secret has an odd number of digits".into());
    }
    Ok(digits
        .chunks(2)
        .map(|pair| pair.iter().fold(0u8, |acc, d| (acc << 4) | *d as u8))
        .collect())
}

fn base32(text: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    totp_rs::Secret::try_from_base32(&cleaned)
        .map(|s| s.as_bytes().to_vec())
        .map_err(|_| {
            "the secret is not base32 (write hex: before a hexadecimal secret, or use a secret_hex column)"
                .to_owned()
        })
}

fn algorithm(text: &str) -> Result<OtpAlgorithm, String> {
    let t = text.to_ascii_uppercase().replace('-', "");
    match t.strip_prefix("HMAC").unwrap_or(&t) {
        "" | "SHA1" => Ok(OtpAlgorithm::Sha1),
        "SHA256" => Ok(OtpAlgorithm::Sha256),
        "SHA512" => Ok(OtpAlgorithm::Sha512),
        _ => Err(format!(
            "unknown algorithm '{text}' (SHA1, SHA256 or SHA512)"
        )),
    }
}

fn number(text: &str, what: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{what} '{text}' is not a whole number"))
}

fn valid_serial(serial: &str) -> Result<(), String> {
    if serial.is_empty() {
        return Err("the serial is empty".into());
    }
    if serial.len() > MAX_SERIAL
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
    {
        return Err(format!(
            "the serial '{serial}' is not a serial (at most {MAX_SERIAL} of A-Z, a-z, 0-9, - _ . : /)"
        ));
    }
    Ok(())
}

/// The value of `col` in `row`, empty when the file has no such column.
fn get<'a>(header: &[Option<Column>], row: &'a [String], col: Column) -> &'a str {
    header
        .iter()
        .position(|c| *c == Some(col))
        .and_then(|i| row.get(i))
        .map_or("", String::as_str)
}

fn seed(header: &[Option<Column>], row: &[String], line: usize) -> Result<Seed, String> {
    if row.len() != header.len() {
        return Err(format!(
            "{} fields where the header has {}",
            row.len(),
            header.len()
        ));
    }
    let serial = get(header, row, Column::Serial).to_owned();
    valid_serial(&serial)?;
    let kind = match get(header, row, Column::Kind).to_ascii_lowercase().as_str() {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        "" => return Err("the type is empty (totp or hotp)".into()),
        other => return Err(format!("unknown type '{other}' (totp or hotp)")),
    };
    let secret = if header.contains(&Some(Column::SecretHex)) {
        hex(get(header, row, Column::SecretHex))?
    } else {
        let text = get(header, row, Column::Secret);
        match text
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("hex:"))
            .and_then(|_| text.get(4..))
        {
            Some(h) => hex(h)?,
            None => base32(text)?,
        }
    };
    if secret.is_empty() {
        return Err("the secret is empty".into());
    }
    let digits = number(get(header, row, Column::Digits), "digits")?.unwrap_or(6);
    let spec = Spec {
        algorithm: algorithm(get(header, row, Column::Algorithm))?,
        digits: u8::try_from(digits).map_err(|_| format!("digits {digits} (6, 7 or 8)"))?,
    };
    let period = number(get(header, row, Column::Period), "period")?;
    let counter = number(get(header, row, Column::Counter), "counter")?;
    let (period, counter) = match kind {
        OtpKind::Totp => {
            if counter.is_some_and(|c| c != 0) {
                return Err("a TOTP token has no counter".into());
            }
            let p = period.unwrap_or(DEFAULT_PERIOD);
            if !(10..=300).contains(&p) {
                return Err(format!("period {p} s (10 to 300)"));
            }
            (Some(p), 0)
        }
        OtpKind::Hotp => {
            if period.is_some() {
                return Err("an HOTP token has no period".into());
            }
            let c = counter.unwrap_or(0);
            // Far below i64::MAX, so that the look-ahead window never overflows.
            if !(0..=1 << 48).contains(&c) {
                return Err(format!("counter {c} is out of range"));
            }
            (None, c)
        }
    };
    otp::check_params(&secret, spec, period).map_err(|e| e.to_string())?;
    Ok(Seed {
        line,
        serial,
        kind,
        secret,
        spec,
        period,
        counter,
    })
}

/// Every token of a seed file, checked.
pub fn parse(text: &str) -> Result<Vec<Seed>, SeedError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((header_line, header)) = lines.next() else {
        return Err(SeedError::Empty);
    };
    let at = |line: usize| move |reason: String| SeedError::Line { line, reason };
    let sep = if header.contains(',') {
        ','
    } else if header.contains(';') {
        ';'
    } else if header.contains('\t') {
        '\t'
    } else {
        ','
    };
    let names = fields(header, sep).map_err(at(header_line))?;
    let header: Vec<Option<Column>> = names.iter().map(|n| column(n)).collect();
    for col in [Column::Serial, Column::Kind] {
        if !header.contains(&Some(col)) {
            let name = if col == Column::Serial {
                "serial"
            } else {
                "type"
            };
            return Err(at(header_line)(format!("no '{name}' column in the header")));
        }
    }
    for col in [
        Column::Serial,
        Column::Secret,
        Column::SecretHex,
        Column::Kind,
        Column::Digits,
        Column::Period,
        Column::Algorithm,
        Column::Counter,
    ] {
        if header.iter().filter(|c| **c == Some(col)).count() > 1 {
            return Err(at(header_line)(format!(
                "the header names the {col:?} column twice"
            )));
        }
    }
    match (
        header.contains(&Some(Column::Secret)),
        header.contains(&Some(Column::SecretHex)),
    ) {
        (false, false) => {
            return Err(at(header_line)(
                "no 'secret' or 'secret_hex' column in the header".into(),
            ));
        }
        (true, true) => {
            return Err(at(header_line)(
                "the header has both 'secret' and 'secret_hex': keep one".into(),
            ));
        }
        _ => {}
    }
    let mut seeds: Vec<Seed> = Vec::new();
    for (line, text) in lines {
        let row = fields(text, sep).map_err(at(line))?;
        let s = seed(&header, &row, line).map_err(at(line))?;
        if let Some(first) = seeds.iter().find(|x| x.serial == s.serial) {
            return Err(at(line)(format!(
                "serial '{}' is also on line {}",
                s.serial, first.line
            )));
        }
        seeds.push(s);
    }
    Ok(seeds)
}

/// The token an administrator asked for: the row of `serial`, or the only row of the file.
pub fn pick(seeds: Vec<Seed>, serial: Option<&str>) -> Result<Seed, SeedError> {
    match serial {
        Some(s) => seeds
            .into_iter()
            .find(|x| x.serial == s)
            .ok_or_else(|| SeedError::NoSuchSerial(s.to_owned())),
        None => {
            let n = seeds.len();
            let mut it = seeds.into_iter();
            match (it.next(), n) {
                (None, _) => Err(SeedError::NoRows),
                (Some(only), 1) => Ok(only),
                _ => Err(SeedError::SerialNeeded(n)),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// "12345678901234567890" (RFC 4226 Appendix D) in base32 and hex.
    const B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const HEX: &str = "3132333435363738393031323334353637383930";

    #[test]
    fn vendor_files_in_base32_and_hex() {
        let file = format!(
            "\u{feff}serial,secret,type,digits,period,algorithm,counter\r\n\
             # comment\r\n\
             FT-001,{B32},totp,6,30,SHA1,\r\n\
             \r\n\
             FT-002,\"hex:{HEX}\",HOTP,8,,HMAC-SHA256,5\r\n\
             FT-003,{},totp,,60,sha-512,0\r\n",
            B32.to_lowercase()
        );
        let seeds = parse(&file).unwrap();
        assert_eq!(seeds.len(), 3);
        let s = &seeds[0];
        assert_eq!((s.line, s.serial.as_str()), (3, "FT-001"));
        assert_eq!(s.secret, b"12345678901234567890");
        assert_eq!((s.kind, s.period, s.counter), (OtpKind::Totp, Some(30), 0));
        let s = &seeds[1];
        assert_eq!(s.line, 5);
        assert_eq!(s.secret, b"12345678901234567890");
        assert_eq!(s.spec.digits, 8);
        assert_eq!(s.spec.algorithm, OtpAlgorithm::Sha256);
        assert_eq!((s.kind, s.period, s.counter), (OtpKind::Hotp, None, 5));
        let s = &seeds[2];
        assert_eq!(
            s.spec,
            Spec {
                algorithm: OtpAlgorithm::Sha512,
                digits: 6
            }
        );
        assert_eq!(s.period, Some(60));
        assert!(!format!("{s:?}").contains("1234"), "secrets never print");

        let semicolons = format!("SN;Seed_Hex;Kind;Vendor\nA1;{HEX};hotp;Feitian\n");
        let seeds = parse(&semicolons).unwrap();
        assert_eq!(seeds[0].serial, "A1");
        assert_eq!(seeds[0].secret, b"12345678901234567890");
    }

    fn line_error(file: &str) -> (usize, String) {
        match parse(file) {
            Err(SeedError::Line { line, reason }) => (line, reason),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn bad_rows_name_their_line() {
        let head = "serial,secret,type,digits,period,algorithm,counter\n";
        for (row, words) in [
            (format!("A,{B32},totp,6,30,SHA1"), "6 fields"),
            (format!("A,{B32},sotp,6,30,SHA1,"), "unknown type"),
            (format!("A,{B32},totp,9,30,SHA1,"), "9 digits"),
            (format!("A,{B32},totp,6,0,SHA1,"), "period 0"),
            (format!("A,{B32},totp,6,30,MD5,"), "unknown algorithm"),
            (format!("A,{B32},totp,6,30,SHA1,4"), "no counter"),
            (format!("A,{B32},hotp,6,30,SHA1,4"), "no period"),
            (format!("A,{B32},hotp,6,,SHA1,-1"), "out of range"),
            (format!("A,{B32},hotp,6,,SHA1,x"), "whole number"),
            ("A,GEZDGNBVGY3TQOJQ,totp,6,30,SHA1,".into(), "at least 128"),
            ("A,hex:31323,totp,6,30,SHA1,".into(), "odd number"),
            ("A,hex:zz,totp,6,30,SHA1,".into(), "not hexadecimal"),
            ("A,1!,totp,6,30,SHA1,".into(), "not base32"),
            (format!("A B,{B32},totp,6,30,SHA1,"), "not a serial"),
            (format!(",{B32},totp,6,30,SHA1,"), "serial is empty"),
            (format!("\"A,{B32},totp,6,30,SHA1,"), "not closed"),
            (
                format!("\"A\"x,{B32},totp,6,30,SHA1,"),
                "after a closing quote",
            ),
        ] {
            let file = format!("{head}A0,{B32},totp,6,30,SHA1,\n{row}\n");
            let (line, reason) = line_error(&file);
            assert_eq!(line, 3, "{row}: {reason}");
            assert!(reason.contains(words), "{row}: {reason}");
        }
        let (line, reason) = line_error(&format!("{head}\nA,{B32},totp,,,,\nA,{B32},totp,,,,\n"));
        assert_eq!(line, 4);
        assert!(reason.contains("also on line 3"), "{reason}");
    }

    #[test]
    fn headers_must_name_what_is_needed() {
        assert_eq!(parse("\n# nothing\n"), Err(SeedError::Empty));
        for (header, words) in [
            ("secret,type", "'serial'"),
            ("serial,secret", "'type'"),
            ("serial,type,digits", "'secret'"),
            ("serial,secret,secret_hex,type", "keep one"),
            ("serial,sn,secret,type", "twice"),
        ] {
            let (line, reason) = line_error(&format!("{header}\n"));
            assert_eq!(line, 1);
            assert!(reason.contains(words), "{header}: {reason}");
        }
    }

    #[test]
    fn one_row_is_picked() {
        let file = format!("serial,secret,type\nA,{B32},totp\nB,{B32},hotp\n");
        let seeds = parse(&file).unwrap();
        assert_eq!(pick(seeds.clone(), None), Err(SeedError::SerialNeeded(2)));
        assert_eq!(pick(seeds.clone(), Some("B")).unwrap().kind, OtpKind::Hotp);
        assert_eq!(
            pick(seeds, Some("C")),
            Err(SeedError::NoSuchSerial("C".into()))
        );
        let one = parse(&format!("serial,secret,type\nA,{B32},totp\n")).unwrap();
        assert_eq!(pick(one, None).unwrap().serial, "A");
        assert_eq!(
            pick(parse("serial,secret,type\n").unwrap(), None),
            Err(SeedError::NoRows)
        );
    }
}
