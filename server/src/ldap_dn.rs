//! Distinguished names as the directory writes them (RFC 4514 string form): split into RDNs with
//! escapes undone, so that the OUs an entry sits in become the path of its unit.

/// One RDN's (first) attribute type, lower-cased, and its value with escapes undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rdn {
    pub attr: String,
    pub value: String,
}

/// Splits `dn` into RDNs, leftmost (the entry's own) first. RFC 4514 §3: `,` separates RDNs,
/// `+` the attributes of a multi-valued RDN (only the first is kept), `\` escapes a special
/// character or starts two hex digits of a UTF-8 byte.
pub fn parse(dn: &str) -> Result<Vec<Rdn>, String> {
    let mut rdns = Vec::new();
    let bytes = dn.as_bytes();
    let mut i = 0;
    if dn.trim().is_empty() {
        return Ok(rdns);
    }
    loop {
        // Attribute type, up to '='.
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' {
            if matches!(bytes[i], b',' | b'+' | b'\\') {
                return Err(format!("{dn:?} is not a DN (no '=' in an RDN)"));
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(format!("{dn:?} is not a DN (no '=' in an RDN)"));
        }
        let attr = dn[start..i].trim().to_ascii_lowercase();
        if attr.is_empty() {
            return Err(format!(
                "{dn:?} is not a DN (an RDN without attribute type)"
            ));
        }
        i += 1;
        // Value: bytes with whether each was escaped (unescaped spaces at the ends do not count).
        let mut value: Vec<(u8, bool)> = Vec::new();
        let mut first_only_done = false;
        while i < bytes.len() && bytes[i] != b',' && bytes[i] != b';' {
            match bytes[i] {
                b'+' => {
                    // Another attribute of the same RDN: skipped up to the next unescaped ','.
                    first_only_done = true;
                    i += 1;
                }
                b'\\' => {
                    let next = bytes.get(i + 1).copied().ok_or_else(|| {
                        format!("{dn:?} is not a DN (ends with a lone backslash)")
                    })?;
                    let hex = |b: u8| (b as char).to_digit(16);
                    match (hex(next), bytes.get(i + 2).and_then(|b| hex(*b))) {
                        (Some(h), Some(l)) => {
                            if !first_only_done {
                                value.push(((h * 16 + l) as u8, true));
                            }
                            i += 3;
                        }
                        _ => {
                            if !first_only_done {
                                value.push((next, true));
                            }
                            i += 2;
                        }
                    }
                }
                b => {
                    if !first_only_done {
                        value.push((b, false));
                    }
                    i += 1;
                }
            }
        }
        while value.first().is_some_and(|(b, esc)| *b == b' ' && !esc) {
            value.remove(0);
        }
        while value.last().is_some_and(|(b, esc)| *b == b' ' && !esc) {
            value.pop();
        }
        let value = String::from_utf8(value.into_iter().map(|(b, _)| b).collect())
            .map_err(|_| format!("{dn:?} is not a DN (a value is not UTF-8)"))?;
        rdns.push(Rdn { attr, value });
        if i >= bytes.len() {
            break;
        }
        i += 1;
    }
    Ok(rdns)
}

/// The names of the organisational units (`ou=`) an entry sits in below `base_dn`, from the
/// top down; other containers (AD's `cn=Users`) are passed over. An error when the entry is
/// not below the base.
pub fn ous_below(entry_dn: &str, base_dn: &str) -> Result<Vec<String>, String> {
    let entry = parse(entry_dn)?;
    let base = parse(base_dn)?;
    let same =
        |a: &Rdn, b: &Rdn| a.attr == b.attr && a.value.to_lowercase() == b.value.to_lowercase();
    if entry.len() <= base.len()
        || !entry[entry.len() - base.len()..]
            .iter()
            .zip(&base)
            .all(|(a, b)| same(a, b))
    {
        return Err(format!("{entry_dn:?} is not below the base DN {base_dn:?}"));
    }
    Ok(entry[1..entry.len() - base.len()]
        .iter()
        .rev()
        .filter(|r| r.attr == "ou")
        .map(|r| r.value.clone())
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_undone_and_ous_come_top_down() {
        let base = "dc=haiphong,dc=gov,dc=vn";
        let dn = "uid=an.nv,ou=Phòng Tổ chức\\, cán bộ,OU=Sở Nội vụ,dc=HaiPhong,dc=gov,dc=vn";
        assert_eq!(
            ous_below(dn, base).unwrap(),
            ["Sở Nội vụ", "Phòng Tổ chức, cán bộ"]
        );
        // Hex escapes of UTF-8 bytes (how some servers write non-ASCII), escaped '+' and '\'.
        let dn = "cn=x,ou=S\\E1\\BB\\9F T\\C6\\B0 ph\\C3\\A1p,ou=a\\+b\\\\c,dc=gov,dc=vn";
        assert_eq!(
            ous_below(dn, "dc=gov,dc=vn").unwrap(),
            ["a+b\\c", "Sở Tư pháp"]
        );
        // AD containers that are not OUs are passed over; multi-valued RDNs keep the first.
        let dn = "cn=Nguyễn Văn An+uid=an,cn=Users,ou=UBND,dc=gov,dc=vn";
        assert_eq!(parse(dn).unwrap()[0].value, "Nguyễn Văn An");
        assert_eq!(ous_below(dn, "dc=gov,dc=vn").unwrap(), ["UBND"]);
        // Escaped spaces at the ends count, unescaped ones do not.
        assert_eq!(parse("ou= \\ a ,dc=vn").unwrap()[0].value, " a");
        assert!(ous_below("uid=a,dc=other,dc=vn", base).is_err());
        assert!(ous_below(base, base).is_err());
        assert!(parse("uid=a,nonsense").is_err());
        assert!(parse("uid=a\\").is_err());
    }
}
