//! Just enough HTML reading for login forms: find an `<input>` by name, read its value.

/// The `value` of the first `<input>` whose `name` is `name`, HTML entities decoded.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = find_ci(rest, "<input") {
        let tag_and_more = &rest[start..];
        let end = tag_and_more.find('>')?;
        let tag = &tag_and_more[..end];
        if attribute(tag, "name").as_deref() == Some(name) {
            return attribute(tag, "value");
        }
        rest = &tag_and_more[end..];
    }
    None
}

/// The text a person would read: no `<head>` (styles), no tags, whitespace collapsed, plus
/// the form fields as `[name=value]` so that failures show the form's state.
pub fn visible_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("</head>").map_or(0, |i| i + "</head>".len());
    let mut out = String::new();
    let mut rest = &html[start..];
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open..open + close];
        if tag.to_ascii_lowercase().starts_with("<input") {
            let name = attribute(tag, "name").unwrap_or_default();
            let value = attribute(tag, "value").unwrap_or_default();
            out.push_str(&format!("[{name}={value}] "));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The value of attribute `attr` in the text of one tag (`<input a="b" ...`).
fn attribute(tag: &str, attr: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(pos) = find_ci(&tag[from..], attr) {
        let at = from + pos;
        from = at + attr.len();
        // Must be a whole attribute name: preceded by whitespace, followed by `=`.
        let before_ok = at > 0 && bytes[at - 1].is_ascii_whitespace();
        let after = tag[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value = after[1..].trim_start();
        let raw = match value.chars().next()? {
            quote @ ('"' | '\'') => value[1..].split(quote).next()?,
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '>')
                .next()?,
        };
        return Some(unescape(raw));
    }
    None
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// Decodes the entities a template engine may emit in attribute values and text (e.g. a PEM
/// block shown in a page).
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::hidden_input;

    #[test]
    fn reads_hidden_inputs() {
        let html = r#"<form><input type="hidden" name="csrf_token" value="ab-c_d">
            <input type="hidden" name="req" value="x&#x2f;y&amp;z"><input name=username value=an.nv></form>"#;
        assert_eq!(hidden_input(html, "csrf_token").as_deref(), Some("ab-c_d"));
        assert_eq!(hidden_input(html, "req").as_deref(), Some("x/y&z"));
        assert_eq!(hidden_input(html, "username").as_deref(), Some("an.nv"));
        assert_eq!(hidden_input(html, "password"), None);
    }

    #[test]
    fn shows_visible_text() {
        let html = "<html><head><style>p{}</style></head><body><p>Sai &amp; lỗi</p>\n\n                    <input name=\"req\" value=\"r1\"></body></html>";
        assert_eq!(super::visible_text(html), "Sai & lỗi [req=r1]");
    }
}
