//! PDF object syntax (ISO 32000-1 §7.2, §7.3) read into lopdf's [`Object`]s, one object where
//! it is needed: for [`super::partial`], which reads only the objects an incremental update
//! touches. lopdf keeps its own parser private and reads whole files.
//!
//! It reads what lopdf's parser reads, the same way (escapes, end-of-line rules, the nesting
//! bound of 100, reals as `f32`), so that an object read here equals the one lopdf loads; the
//! tests of `partial` compare the two on every fixture. It does not repair anything: a stream
//! whose `/Length` is wrong is an error here, and the caller then loads the file with lopdf.

use lopdf::{Dictionary, Object, ObjectId, Stream, StringFormat};

/// lopdf's bound on nested arrays and dictionaries, and on nested parentheses in strings.
const MAX_DEPTH: usize = 100;

/// Why an object could not be read here (the caller falls back to lopdf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub at: usize,
    pub what: &'static str,
}

pub(crate) type Result<T> = std::result::Result<T, SyntaxError>;

/// A cross-reference subsection: its first object number and its entries (offset,
/// generation, in use).
pub(crate) type XrefSubsection = (u64, Vec<(u32, u32, bool)>);

fn is_white(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\0' | b'\x0C')
}

fn is_delimiter(c: u8) -> bool {
    b"()<>[]{}/%".contains(&c)
}

fn is_regular(c: u8) -> bool {
    !is_white(c) && !is_delimiter(c)
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|v| u8::try_from(v).ok())
}

/// A cursor over the file's bytes.
pub(crate) struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Parser<'a> {
        Parser { buf, pos }
    }

    #[cfg(test)]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn err<T>(&self, what: &'static str) -> Result<T> {
        Err(SyntaxError { at: self.pos, what })
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn eat(&mut self, token: &[u8]) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// An end-of-line marker: CR LF, LF or CR.
    fn eol(&mut self) -> bool {
        self.eat(b"\r\n") || self.eat(b"\n") || self.eat(b"\r")
    }

    /// White space and comments (a comment runs to its end-of-line marker).
    pub(crate) fn space(&mut self) {
        loop {
            while self.peek().is_some_and(is_white) {
                self.pos += 1;
            }
            if self.peek() != Some(b'%') {
                return;
            }
            let line = self.rest().iter().position(|&c| c == b'\r' || c == b'\n');
            let Some(len) = line else {
                return; // a comment without an end of line is not white space to lopdf
            };
            self.pos += len;
            self.eol();
        }
    }

    /// `keyword` followed by white space, a delimiter or the end (after white space).
    pub(crate) fn keyword(&mut self, keyword: &[u8]) -> bool {
        self.space();
        let rest = self.rest();
        let ends = rest.get(keyword.len()).is_none_or(|&c| !is_regular(c));
        if rest.starts_with(keyword) && ends {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// An unsigned integer (object numbers, offsets, counts).
    pub(crate) fn unsigned(&mut self) -> Result<u64> {
        self.space();
        let start = self.pos;
        match self.digits() {
            Some(v) => Ok(v),
            None => {
                self.pos = start;
                self.err("a number was expected")
            }
        }
    }

    /// `n g obj` at the cursor: the object's number and generation.
    pub(crate) fn object_header(&mut self) -> Result<ObjectId> {
        let n = self.unsigned()?;
        let g = self.unsigned()?;
        if !self.keyword(b"obj") {
            return self.err("`obj` was expected");
        }
        match (u32::try_from(n), u16::try_from(g)) {
            (Ok(n), Ok(g)) => Ok((n, g)),
            _ => self.err("object number out of range"),
        }
    }

    /// A direct object (ISO 32000-1 §7.3), with the white space after it.
    pub(crate) fn object(&mut self) -> Result<Object> {
        self.space();
        let object = self.value(MAX_DEPTH)?;
        self.space();
        Ok(object)
    }

    fn value(&mut self, depth: usize) -> Result<Object> {
        if depth == 0 {
            return self.err("objects nested too deeply");
        }
        let depth = depth - 1;
        match self.peek() {
            Some(b'n') if self.eat(b"null") => Ok(Object::Null),
            Some(b't') if self.eat(b"true") => Ok(Object::Boolean(true)),
            Some(b'f') if self.eat(b"false") => Ok(Object::Boolean(false)),
            Some(b'0'..=b'9') => {
                if let Some(r) = self.reference() {
                    return Ok(r);
                }
                self.number()
            }
            Some(b'+' | b'-' | b'.') => self.number(),
            Some(b'/') => self.name().map(Object::Name),
            Some(b'(') => {
                self.pos += 1;
                let s = self.literal_string(MAX_DEPTH)?;
                Ok(Object::String(s, StringFormat::Literal))
            }
            Some(b'<') if self.rest().starts_with(b"<<") => {
                self.dictionary(depth).map(Object::Dictionary)
            }
            Some(b'<') => self.hex_string(),
            Some(b'[') => {
                self.pos += 1;
                self.space();
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    if self.peek().is_none() {
                        return self.err("unterminated array");
                    }
                    items.push(self.value(depth)?);
                    self.space();
                }
                self.pos += 1;
                Ok(Object::Array(items))
            }
            _ => self.err("not an object"),
        }
    }

    /// `<< /Key value … >>`; the last of repeated keys wins, as in lopdf. `depth` bounds the
    /// nesting of its values.
    fn dictionary(&mut self, depth: usize) -> Result<Dictionary> {
        if !self.eat(b"<<") {
            return self.err("`<<` was expected");
        }
        self.space();
        let mut dict = Dictionary::new();
        while !self.eat(b">>") {
            if self.peek() != Some(b'/') {
                return self.err("a name was expected as a dictionary key");
            }
            let key = self.name()?;
            self.space();
            let value = self.value(depth)?;
            self.space();
            dict.set(key, value);
        }
        Ok(dict)
    }

    /// `n g R` (ISO 32000-1 §7.3.10), or nothing with the cursor unmoved.
    fn reference(&mut self) -> Option<Object> {
        self.attempt(|p| {
            let n = u32::try_from(p.digits()?).ok()?;
            p.space();
            let g = u16::try_from(p.digits()?).ok()?;
            p.space();
            p.eat(b"R").then_some(Object::Reference((n, g)))
        })
    }

    /// Runs `read`; where it finds nothing, the cursor goes back to where it was.
    fn attempt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let start = self.pos;
        let found = read(self);
        if found.is_none() {
            self.pos = start;
        }
        found
    }

    /// An integer or a real. As in lopdf (and pdf.js, Poppler), a `-` inside the fraction is
    /// ignored.
    fn number(&mut self) -> Result<Object> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let whole_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let whole = self.pos > whole_start;
        if self.peek() == Some(b'.')
            && (whole || self.buf.get(self.pos + 1).is_some_and(u8::is_ascii_digit))
        {
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'-') {
                self.pos += 1;
            }
            let text: Vec<u8> = self
                .buf
                .get(start..self.pos)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .filter(|&(i, &c)| i == 0 || c != b'-')
                .map(|(_, &c)| c)
                .collect();
            return std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<f32>().ok())
                .map(Object::Real)
                .ok_or(SyntaxError {
                    at: start,
                    what: "a bad real number",
                });
        }
        if !whole {
            self.pos = start;
            return self.err("not a number");
        }
        let mut magnitude: u64 = 0;
        for &c in self.buf.get(whole_start..self.pos).unwrap_or_default() {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(c - b'0')))
                .ok_or(SyntaxError {
                    at: start,
                    what: "an integer out of range",
                })?;
        }
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value.map(Object::Integer).ok_or(SyntaxError {
            at: start,
            what: "an integer out of range",
        })
    }

    /// `/Name` with `#hh` escapes (ISO 32000-1 §7.3.5); a `#` not followed by two hex digits
    /// ends the name, as in lopdf.
    fn name(&mut self) -> Result<Vec<u8>> {
        if !self.eat(b"/") {
            return self.err("a name was expected");
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'#') => {
                    let hi = self.buf.get(self.pos + 1).copied().and_then(hex_value);
                    let lo = self.buf.get(self.pos + 2).copied().and_then(hex_value);
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => {
                            out.push((hi << 4) | lo);
                            self.pos += 3;
                        }
                        _ => return Ok(out),
                    }
                }
                Some(c) if is_regular(c) => {
                    out.push(c);
                    self.pos += 1;
                }
                _ => return Ok(out),
            }
        }
    }

    /// The bytes of a literal string after its `(` (ISO 32000-1 §7.3.4.2): escapes decoded,
    /// an unescaped end of line read as LF, balanced parentheses kept.
    fn literal_string(&mut self, depth: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'(') => {
                    if depth == 0 {
                        return self.err("parentheses nested too deeply");
                    }
                    self.pos += 1;
                    out.push(b'(');
                    out.extend(self.literal_string(depth - 1)?);
                    out.push(b')');
                }
                Some(b'\r' | b'\n') => {
                    self.eol();
                    out.push(b'\n');
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let Some(c) = self.peek() else {
            return self.err("unterminated string");
        };
        if (b'0'..=b'7').contains(&c) {
            // Up to three octal digits; the high-order overflow is ignored (§7.3.4.2).
            let mut value: u16 = 0;
            for _ in 0..3 {
                match self.peek() {
                    Some(d @ b'0'..=b'7') => {
                        value = value * 8 + u16::from(d - b'0');
                        self.pos += 1;
                    }
                    _ => break,
                }
            }
            out.push(value.to_le_bytes()[0]);
            return Ok(());
        }
        if self.eol() {
            return Ok(()); // a line continuation
        }
        self.pos += 1;
        out.push(match c {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'b' => b'\x08',
            b'f' => b'\x0C',
            other => other,
        });
        Ok(())
    }

    /// `<hex digits>` (ISO 32000-1 §7.3.4.3); an odd last digit is followed by 0.
    fn hex_string(&mut self) -> Result<Object> {
        if !self.eat(b"<") {
            return self.err("`<` was expected");
        }
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            while self.peek().is_some_and(is_white) {
                self.pos += 1;
            }
            match self.peek() {
                Some(b'>') => {
                    self.pos += 1;
                    if let Some(h) = high {
                        out.push(h << 4);
                    }
                    return Ok(Object::String(out, StringFormat::Hexadecimal));
                }
                Some(c) => {
                    let Some(v) = hex_value(c) else {
                        return self.err("not a hexadecimal digit");
                    };
                    self.pos += 1;
                    match high.take() {
                        Some(h) => out.push((h << 4) | v),
                        None => high = Some(v),
                    }
                }
                None => return self.err("unterminated hexadecimal string"),
            }
        }
    }

    /// A cross-reference table (ISO 32000-1 §7.5.4) at the cursor, up to its `trailer`
    /// keyword, read as lopdf reads it: entries may also be 19 bytes ending in a bare LF or
    /// CR, and a subsection's count is not checked. Answers each subsection's first object
    /// number and its entries (offset, generation, in use).
    pub(crate) fn xref_table(&mut self) -> Result<Vec<XrefSubsection>> {
        if !self.eat(b"xref") {
            return self.err("`xref` was expected");
        }
        self.eat(b" ");
        if !self.eol() {
            return self.err("an end of line was expected after `xref`");
        }
        let mut sections = Vec::new();
        while let Some(first) = self.subsection_header() {
            let mut entries = Vec::new();
            while let Some(entry) = self.xref_entry() {
                entries.push(entry);
            }
            sections.push((first, entries));
        }
        if sections.is_empty() {
            return self.err("a cross-reference subsection was expected");
        }
        self.space();
        if !self.eat(b"trailer") {
            return self.err("`trailer` was expected");
        }
        Ok(sections)
    }

    fn subsection_header(&mut self) -> Option<u64> {
        self.attempt(|p| {
            let first = p.digits()?;
            p.eat(b" ").then_some(())?;
            u32::try_from(p.digits()?).ok()?;
            p.eat(b" ");
            p.eol().then_some(first)
        })
    }

    fn xref_entry(&mut self) -> Option<(u32, u32, bool)> {
        self.attempt(|p| {
            let offset = u32::try_from(p.digits()?).ok()?;
            p.eat(b" ").then_some(())?;
            let generation = u32::try_from(p.digits()?).ok()?;
            p.eat(b" ").then_some(())?;
            let in_use = match p.peek()? {
                b'n' => true,
                b'f' => false,
                _ => return None,
            };
            p.pos += 1;
            let eol = p.eat(b" \r") || p.eat(b" \n") || p.eol();
            eol.then_some((offset, generation, in_use))
        })
    }

    /// `startxref`, its offset and `%%EOF` (ISO 32000-1 §7.5.5), laid out as lopdf requires.
    pub(crate) fn startxref(&mut self) -> Option<u64> {
        self.attempt(|p| {
            p.eat(b"startxref").then_some(())?;
            p.eat(b" ");
            p.eol().then_some(())?;
            while p.eat(b" ") {}
            p.eat(b"+");
            let offset = p.digits()?;
            while p.eat(b" ") {}
            p.eol().then_some(())?;
            p.eat(b"%%EOF").then_some(offset)
        })
    }

    /// After a stream's dictionary: `stream`, its end of line, then whether it is there.
    pub(crate) fn stream_keyword(&mut self) -> bool {
        let start = self.pos;
        self.space();
        if self.eat(b"stream") {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            if self.eol() {
                return true;
            }
        }
        self.pos = start;
        false
    }

    /// A stream's data of `length` bytes at the cursor, then an optional end of line and
    /// `endstream`.
    pub(crate) fn stream_data(&mut self, dict: Dictionary, length: usize) -> Result<Stream> {
        let end = self
            .pos
            .checked_add(length)
            .filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return self.err("a stream runs past the end of the file");
        };
        let data = self.buf.get(self.pos..end).unwrap_or_default().to_vec();
        self.pos = end;
        self.eol();
        if !self.eat(b"endstream") {
            return self.err("`endstream` is not where /Length says");
        }
        Ok(Stream::new(dict, data))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn one(text: &[u8]) -> Object {
        let mut p = Parser::new(text, 0);
        let o = p.object().unwrap();
        assert_eq!(
            p.pos(),
            text.len(),
            "all of {:?} read",
            String::from_utf8_lossy(text)
        );
        o
    }

    #[test]
    fn objects_read_as_lopdf_reads_them() {
        let cases: &[&[u8]] = &[
            b"null",
            b"true ",
            b"false",
            b"-12",
            b"+7",
            b"3.25",
            b"-.5",
            b"4.",
            b"0.00-4142502",
            b"12 0 R",
            b"12 0 % a comment\n R",
            b"[1 2 0 R 3 /N(x)]",
            b"/Name#20with#2Fspace",
            b"(a (nested) string\\) \\101\\1011 \\\nx\r\ny\rz \\q)",
            b"<48 65 6c6C 6f 7>",
            b"<</Type/Page /Kids[1 0 R 2 0 R]/Count 2 /Empty<< >> /S (x)>>",
            b"<< /Dup 1 /Dup 2 >>",
            b"%comment\r\n<</A 1>>",
        ];
        for text in cases {
            let lopdf = lopdf::ObjectStream::new(&Stream::new(
                {
                    let mut d = Dictionary::new();
                    d.set("Type", Object::Name(b"ObjStm".to_vec()));
                    d.set("N", 1);
                    d.set("First", 4);
                    d
                },
                [b"1 0 ".as_slice(), text].concat(),
            ))
            .unwrap()
            .objects
            .remove(&(1, 0))
            .unwrap();
            assert_eq!(one(text), lopdf, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn bad_syntax_is_an_error_not_a_panic() {
        for text in [
            &b"<</A 1"[..],
            b"[1 2",
            b"(open",
            b"<4G>",
            b"<< 1 2 >>",
            b"99999999999999999999999",
            b"-",
            b"",
            b")",
        ] {
            assert!(Parser::new(text, 0).object().is_err(), "{text:?}");
        }
        let deep = [vec![b'['; 200], vec![b']'; 200]].concat();
        assert_eq!(
            Parser::new(&deep, 0).object().unwrap_err().what,
            "objects nested too deeply"
        );
    }

    #[test]
    fn streams_need_endstream_where_the_length_says() {
        let text = b"<</Length 5>>stream\r\nhello\nendstream";
        let mut p = Parser::new(text, 0);
        let Object::Dictionary(d) = p.object().unwrap() else {
            panic!()
        };
        assert!(p.stream_keyword());
        let s = p.stream_data(d.clone(), 5).unwrap();
        assert_eq!(s.content, b"hello");
        let mut p = Parser::new(text, 0);
        p.object().unwrap();
        assert!(p.stream_keyword());
        assert!(p.stream_data(d, 4).is_err());
    }
}
