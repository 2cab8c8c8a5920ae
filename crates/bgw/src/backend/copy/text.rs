//! COPY's text and CSV formats, as PostgreSQL reads and writes them.
//!
//! Reading: [`LineReader`] cuts the data the client streams (in CopyData messages of any size) into records
//! (`\n`, `\r\n` or `\r` end one; in text format a backslash escapes the next byte, so `\` before a newline keeps
//! it in the data; in CSV a quoted field may hold newlines); [`split_text`] and [`split_csv`] cut a record into
//! fields. Text format: fields separated by the delimiter (tab), the NULL string (`\N`) compared before escapes
//! are read, escapes `\b \f \n \r \t \v`, `\` + 1 to 3 octal digits, `\x` + 1 or 2 hex digits, `\` + any other
//! byte for that byte. CSV: fields separated by the delimiter (comma), quoted with the quote character, the
//! escape character (by default the quote) before a quote or itself inside quotes; an unquoted field equal to the
//! NULL string (empty by default) is NULL. A line holding only `\.` ends the data in both.
//!
//! Writing: [`text_field`] and [`csv_field`], PostgreSQL's escaping and quoting.
//!
//! Runs in: a backend process.

use crate::sql::SqlError;

use super::options::{CopyOptions, Format};

/// Cuts the incoming bytes into records.
pub(crate) struct LineReader {
    buf: Vec<u8>,
    /// Where the current record starts in `buf`.
    start: usize,
    /// How far the current record has been scanned.
    pos: usize,
    in_quote: bool,
    csv: bool,
    quote: u8,
    escape: u8,
}

impl LineReader {
    pub(crate) fn new(options: &CopyOptions) -> LineReader {
        LineReader {
            buf: Vec::new(),
            start: 0,
            pos: 0,
            in_quote: false,
            csv: options.format == Format::Csv,
            quote: options.quote,
            escape: options.escape,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.pos -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole record (without its line end); at the end of the data (`eof`) the bytes left are the last
    /// record. None when more data is needed (or none is left).
    pub(crate) fn next_record(&mut self, eof: bool) -> Option<Vec<u8>> {
        let buf = &self.buf;
        let mut i = self.pos;
        loop {
            let Some(&b) = buf.get(i) else {
                if eof && self.start < buf.len() {
                    let record = buf[self.start..].to_vec();
                    self.start = buf.len();
                    self.pos = buf.len();
                    self.in_quote = false;
                    return Some(record);
                }
                self.pos = i;
                return None;
            };
            if self.csv {
                if self.in_quote {
                    if b == self.escape && self.escape != self.quote {
                        match buf.get(i + 1) {
                            None if !eof => {
                                self.pos = i;
                                return None;
                            }
                            Some(&next) if next == self.quote || next == self.escape => {
                                i += 2;
                                continue;
                            }
                            _ => {}
                        }
                    }
                    if b == self.quote {
                        self.in_quote = false;
                    }
                    i += 1;
                    continue;
                }
                if b == self.quote {
                    self.in_quote = true;
                    i += 1;
                    continue;
                }
            } else if b == b'\\' {
                if i + 1 >= buf.len() && !eof {
                    self.pos = i;
                    return None;
                }
                i += 2;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                let end_len = if b == b'\r' {
                    match buf.get(i + 1) {
                        None if !eof => {
                            self.pos = i;
                            return None;
                        }
                        Some(b'\n') => 2,
                        _ => 1,
                    }
                } else {
                    1
                };
                let record = buf[self.start..i].to_vec();
                self.start = i + end_len;
                self.pos = self.start;
                return Some(record);
            }
            i += 1;
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The text format's escapes read.
fn unescape_text(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b != b'\\' || i >= raw.len() {
            out.push(b);
            continue;
        }
        let c = raw[i];
        i += 1;
        match c {
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' => match raw.get(i).copied().and_then(hex_value) {
                Some(high) => {
                    i += 1;
                    let mut value = high;
                    if let Some(low) = raw.get(i).copied().and_then(hex_value) {
                        value = value * 16 + low;
                        i += 1;
                    }
                    out.push(value);
                }
                None => out.push(b'x'),
            },
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            other => out.push(other),
        }
    }
    out
}

/// A text-format record's fields (None: NULL).
pub(crate) fn split_text(record: &[u8], delimiter: u8, null: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    loop {
        if i >= record.len() || record[i] == delimiter {
            let raw = &record[start..i.min(record.len())];
            fields.push(if raw == null { None } else { Some(unescape_text(raw)) });
            if i >= record.len() {
                return fields;
            }
            i += 1;
            start = i;
            continue;
        }
        i += if record[i] == b'\\' { 2 } else { 1 };
    }
}

/// A CSV field as read: its value and whether any of it was quoted.
#[derive(Debug)]
pub(crate) struct CsvField {
    pub value: Vec<u8>,
    pub quoted: bool,
}

/// A CSV record's fields; Err for an unterminated quoted field.
pub(crate) fn split_csv(record: &[u8], options: &CopyOptions) -> Result<Vec<CsvField>, SqlError> {
    let (delimiter, quote, escape) = (options.delimiter, options.quote, options.escape);
    let mut fields = Vec::new();
    let mut field = CsvField { value: Vec::new(), quoted: false };
    let mut in_quote = false;
    let mut i = 0;
    while i < record.len() {
        let b = record[i];
        if in_quote {
            if b == escape && matches!(record.get(i + 1), Some(&n) if n == quote || n == escape) {
                field.value.push(record[i + 1]);
                i += 2;
                continue;
            }
            if b == quote {
                in_quote = false;
            } else {
                field.value.push(b);
            }
        } else if b == delimiter {
            fields.push(std::mem::replace(&mut field, CsvField { value: Vec::new(), quoted: false }));
        } else if b == quote {
            in_quote = true;
            field.quoted = true;
        } else {
            field.value.push(b);
        }
        i += 1;
    }
    if in_quote {
        return Err(SqlError::error("22P04", "unterminated CSV quoted field"));
    }
    fields.push(field);
    Ok(fields)
}

/// Appends `value` in text format: backslash, the control characters and the delimiter escaped.
pub(crate) fn text_field(out: &mut Vec<u8>, value: &str, delimiter: u8) {
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            8 => out.extend_from_slice(b"\\b"),
            12 => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            11 => out.extend_from_slice(b"\\v"),
            b if b == delimiter => {
                out.push(b'\\');
                out.push(b);
            }
            b => out.push(b),
        }
    }
}

/// Appends `value` in CSV: quoted when `force` says, when it equals the NULL string, when it holds the
/// delimiter, the quote or a line end, or when it is `\.` alone on its line (`single_column`).
pub(crate) fn csv_field(out: &mut Vec<u8>, value: &str, options: &CopyOptions, force: bool, single_column: bool) {
    let bytes = value.as_bytes();
    let needs_quotes = force
        || value == options.null
        || (single_column && value == "\\.")
        || bytes.iter().any(|&b| b == options.delimiter || b == options.quote || b == b'\n' || b == b'\r');
    if !needs_quotes {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(options.quote);
    for &b in bytes {
        if b == options.quote || b == options.escape {
            out.push(options.escape);
        }
        out.push(b);
    }
    out.push(options.quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::copy::parse::parse;

    fn options(sql: &str) -> CopyOptions {
        let (statement, _) = parse(sql).unwrap();
        CopyOptions::check(&statement.options, statement.from).unwrap()
    }

    fn records(options: &CopyOptions, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut reader = LineReader::new(options);
        let mut out = Vec::new();
        for chunk in chunks {
            reader.push(chunk);
            while let Some(r) = reader.next_record(false) {
                out.push(r);
            }
        }
        while let Some(r) = reader.next_record(true) {
            out.push(r);
        }
        out
    }

    #[test]
    fn records_across_chunks() {
        let text = options("copy t from stdin");
        let got = records(&text, &[b"a\tb\nc\\", b"\nd\r", b"\ne\rf"]);
        assert_eq!(got, vec![b"a\tb".to_vec(), b"c\\\nd".to_vec(), b"e".to_vec(), b"f".to_vec()]);
        let csv = options("copy t from stdin csv");
        let got = records(&csv, &[b"1,\"x\n", b"y\"\n2,\"\"\"\"\n"]);
        assert_eq!(got, vec![b"1,\"x\ny\"".to_vec(), b"2,\"\"\"\"".to_vec()]);
        let csv = options("copy t from stdin (format csv, escape '\\')");
        let got = records(&csv, &[b"\"a\\", b"\"\n\"\n"]);
        assert_eq!(got, vec![b"\"a\\\"\n\"".to_vec()]);
    }

    #[test]
    fn text_fields() {
        let fields = split_text(b"1\t\\N\t\\\\N\ta\\tb\t\\x41\\101\\7\\q\t", b'\t', b"\\N");
        assert_eq!(
            fields,
            vec![
                Some(b"1".to_vec()),
                None,
                Some(b"\\N".to_vec()),
                Some(b"a\tb".to_vec()),
                Some(b"AA\x07q".to_vec()),
                Some(Vec::new())
            ]
        );
        assert_eq!(split_text(b"a\\,b,c", b',', b"\\N"), vec![Some(b"a,b".to_vec()), Some(b"c".to_vec())]);
        let mut out = Vec::new();
        text_field(&mut out, "a\tb\\c\nd|", b'|');
        assert_eq!(out, b"a\\tb\\\\c\\nd\\|");
    }

    #[test]
    fn csv_fields() {
        let csv = options("copy t from stdin csv");
        let fields = split_csv(b"1,,\"\",\"a,\"\"b\"\"\",x\"y\"z", &csv).unwrap();
        let shown: Vec<(String, bool)> =
            fields.iter().map(|f| (String::from_utf8(f.value.clone()).unwrap(), f.quoted)).collect();
        assert_eq!(
            shown,
            vec![
                ("1".into(), false),
                ("".into(), false),
                ("".into(), true),
                ("a,\"b\"".into(), true),
                ("xyz".into(), true)
            ]
        );
        assert_eq!(split_csv(b"1,\"abc", &csv).unwrap_err().message, "unterminated CSV quoted field");
        let to = options("copy t to stdout csv");
        let mut out = Vec::new();
        for (value, force) in [("plain", false), ("", false), ("a\"b", false), ("x", true), ("a,b", false)] {
            csv_field(&mut out, value, &to, force, false);
            out.push(b'|');
        }
        assert_eq!(String::from_utf8(out).unwrap(), "plain|\"\"|\"a\"\"b\"|\"x\"|\"a,b\"|");
    }
}
