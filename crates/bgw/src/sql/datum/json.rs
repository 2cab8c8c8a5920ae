//! json and jsonb: json is kept as the client wrote it (after checking that it is JSON); jsonb as PostgreSQL
//! prints it (keys sorted by length then bytes, the last of duplicate keys kept, `": "` and `", "` separators,
//! numbers as numeric prints them: `1e2` is `100`). Binary: json is its text, jsonb the version byte 1 and its
//! text.
//!
//! Runs in: any process that runs SQL.

use super::numeric::Numeric;
use super::scalar::utf8;
use super::{bad_binary, raw_text};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// A parsed JSON value (numbers as numeric).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Numeric),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn blank(&mut self) {
        while self.s.get(self.at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > 6400 {
            return None;
        }
        self.blank();
        match *self.s.get(self.at)? {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                self.blank();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Some(Json::Object(members));
                }
                loop {
                    self.blank();
                    let key = self.string()?;
                    self.blank();
                    if self.s.get(self.at) != Some(&b':') {
                        return None;
                    }
                    self.at += 1;
                    let value = self.value(depth + 1)?;
                    members.push((key, value));
                    self.blank();
                    match self.s.get(self.at)? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(Json::Object(members));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.blank();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Some(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.blank();
                    match self.s.get(self.at)? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(Json::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(Json::String),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => self.number(),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Option<Json> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            if self.s.get(self.at).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                return None;
            }
            Some(value)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        let mut i = self.at;
        if self.s.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        while self.s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == int_start || (self.s[int_start] == b'0' && i - int_start > 1) {
            return None;
        }
        if self.s.get(i) == Some(&b'.') {
            i += 1;
            let frac = i;
            while self.s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == frac {
                return None;
            }
        }
        if matches!(self.s.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(self.s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp = i;
            while self.s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == exp {
                return None;
            }
        }
        self.at = i;
        let text = std::str::from_utf8(&self.s[start..i]).ok()?;
        Numeric::parse(text).ok().map(Json::Number)
    }

    fn string(&mut self) -> Option<String> {
        if self.s.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let b = *self.s.get(self.at)?;
            self.at += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.at)?;
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) {
                                if self.s.get(self.at..self.at + 2) != Some(b"\\u") {
                                    return None;
                                }
                                self.at += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return None;
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            // jsonb cannot hold \u0000 (PostgreSQL refuses it too).
                            let c = char::from_u32(code).filter(|c| *c != '\0')?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return None,
                    }
                }
                b if b < 0x20 => return None,
                b => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = std::str::from_utf8(self.s.get(self.at..self.at + 4)?).ok()?;
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }
}

/// PostgreSQL's error for text that is not JSON (it names json for jsonb too).
fn syntax(_ty: PgType) -> SqlError {
    SqlError::error("22P02", "invalid input syntax for type json")
}

/// Parses JSON text (one value, blanks around).
pub fn parse(text: &str, ty: PgType) -> Result<Json, SqlError> {
    let mut p = Parser { s: text.as_bytes(), at: 0 };
    let value = p.value(0).ok_or_else(|| with_detail(syntax(ty), text))?;
    p.blank();
    if p.at != p.s.len() {
        return Err(with_detail(syntax(ty), text));
    }
    Ok(value)
}

/// PostgreSQL's DETAIL for the commonest malformed inputs: a word that is no JSON token (`Token "bad" is
/// invalid.`) or text that ends inside a value (`The input string ended unexpectedly.`); none otherwise.
fn with_detail(err: SqlError, text: &str) -> SqlError {
    // The first word that is neither a keyword, a number nor inside a string.
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut depth = 0i32;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return err.with_detail("The input string ended unexpectedly.");
            }
            i += 1;
            continue;
        }
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b == b'+' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-' | b'.' | b'+'))
            {
                i += 1;
            }
            let word = &text[start..i];
            if !matches!(word, "true" | "false" | "null") && word.parse::<f64>().is_err() {
                return err.with_detail(format!("Token \"{word}\" is invalid."));
            }
            continue;
        }
        match b {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    if depth > 0 || text.trim().is_empty() {
        return err.with_detail("The input string ended unexpectedly.");
    }
    err
}

/// A JSON string literal as PostgreSQL escapes it.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Json {
    /// jsonb's normal form: object keys sorted (by length, then bytes) and unique (the last one wins).
    pub fn normalize(self) -> Json {
        match self {
            Json::Array(items) => Json::Array(items.into_iter().map(Json::normalize).collect()),
            Json::Object(members) => {
                let mut out: Vec<(String, Json)> = Vec::with_capacity(members.len());
                for (k, v) in members {
                    let v = v.normalize();
                    match out.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                out.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
                Json::Object(out)
            }
            other => other,
        }
    }

    /// jsonb's output.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_text()),
            Json::String(s) => quote(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote(k, out);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// jsonb's text for JSON text.
pub fn jsonb_text(text: &str) -> Result<String, SqlError> {
    Ok(parse(text, PgType::Jsonb)?.normalize().to_text())
}

pub(super) fn input(ty: PgType, text: &str) -> Result<Value, SqlError> {
    let parsed = parse(text, ty)?;
    Ok(Value::Text(if ty == PgType::Jsonb { parsed.normalize().to_text() } else { text.to_owned() }))
}

pub(super) fn output(value: &Value) -> String {
    raw_text(value)
}

pub(super) fn send(ty: PgType, value: &Value) -> Result<Vec<u8>, SqlError> {
    let text = raw_text(value);
    Ok(if ty == PgType::Jsonb {
        let mut out = vec![1u8];
        out.extend_from_slice(text.as_bytes());
        out
    } else {
        text.into_bytes()
    })
}

pub(super) fn recv(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    let text = if ty == PgType::Jsonb {
        match bytes.split_first() {
            Some((1, rest)) => rest,
            Some((version, _)) => {
                return Err(SqlError::error("22P03", format!("unsupported jsonb version number {version}")))
            }
            None => return Err(bad_binary(ty)),
        }
    } else {
        bytes
    };
    input(ty, utf8(text)?)
}
