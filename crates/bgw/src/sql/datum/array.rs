//! Arrays (`_int4`, `text[]`, ...), held in SQLite as PostgreSQL's array literal (`{1,2,NULL}`,
//! `{{1,2},{3,4}}`, `{"a b",NULL}`) with each element in its type's output form; int2vector and oidvector as
//! their output (`1 2 3`). Binary format: PostgreSQL's (dimensions, null flag, element OID, each dimension's
//! length and lower bound, each element's length and binary form); int2vector and oidvector are one-dimension
//! arrays with lower bound 0. Arrays whose lower bound is not 1 (`'[0:1]={1,2}'`) are refused with 0A000.
//!
//! Runs in: any process that runs SQL.

use super::scalar::parse_int;
use super::{raw_text, Reader, Typmod};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

/// Most dimensions an array may have (PostgreSQL's MAXDIM).
const MAX_DIM: usize = 6;

/// An array's shape and elements (row-major), elements as text (None: NULL).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Array {
    pub dims: Vec<usize>,
    pub elements: Vec<Option<String>>,
}

fn malformed(text: &str, detail: &str) -> SqlError {
    SqlError::error("22P02", format!("malformed array literal: \"{text}\"")).with_detail(detail.to_owned())
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    at: usize,
    dims: Vec<Option<usize>>,
    elements: Vec<Option<String>>,
}

impl Parser<'_> {
    fn blank(&mut self) {
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn err(&self, detail: &str) -> SqlError {
        malformed(self.text, detail)
    }

    /// Parses `{...}` at `depth` (the opening brace is next).
    fn level(&mut self, depth: usize) -> Result<(), SqlError> {
        if depth >= MAX_DIM {
            return Err(SqlError::error(
                "54000",
                format!("number of array dimensions ({}) exceeds the maximum allowed ({MAX_DIM})", depth + 1),
            ));
        }
        self.at += 1; // '{'
        let mut count = 0usize;
        let mut nested: Option<bool> = None;
        self.blank();
        if self.s.get(self.at) == Some(&b'}') {
            self.at += 1;
            if depth > 0 {
                return Err(self.err("Unexpected \"}\" character."));
            }
            return Ok(());
        }
        loop {
            self.blank();
            let is_nested = self.s.get(self.at) == Some(&b'{');
            if *nested.get_or_insert(is_nested) != is_nested {
                return Err(self.err(if is_nested {
                    "Unexpected \"{\" character."
                } else {
                    "Unexpected array element."
                }));
            }
            if is_nested {
                self.level(depth + 1)?;
            } else {
                let element = self.element()?;
                self.elements.push(element);
            }
            count += 1;
            self.blank();
            match self.s.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                Some(&c) => return Err(self.err(&format!("Unexpected \"{}\" character.", c as char))),
                None => return Err(self.err("Unexpected end of input.")),
            }
        }
        if self.dims.len() <= depth {
            self.dims.resize(depth + 1, None);
        }
        match self.dims[depth] {
            None => self.dims[depth] = Some(count),
            Some(n) if n == count => {}
            Some(_) => return Err(self.err("Multidimensional arrays must have sub-arrays with matching dimensions.")),
        }
        if nested == Some(false) && self.dims.len() > depth + 1 {
            return Err(self.err("Multidimensional arrays must have sub-arrays with matching dimensions."));
        }
        Ok(())
    }

    fn element(&mut self) -> Result<Option<String>, SqlError> {
        let mut out = Vec::new();
        if self.s.get(self.at) == Some(&b'"') {
            self.at += 1;
            loop {
                match self.s.get(self.at) {
                    None => return Err(self.err("Unexpected end of input.")),
                    Some(b'"') => {
                        self.at += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let c = *self.s.get(self.at + 1).ok_or_else(|| self.err("Unexpected end of input."))?;
                        out.push(c);
                        self.at += 2;
                    }
                    Some(&c) => {
                        out.push(c);
                        self.at += 1;
                    }
                }
            }
            return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
        }
        let mut escaped_len = 0; // bytes up to the last escaped one: never trimmed
        let mut any_escape = false;
        loop {
            match self.s.get(self.at) {
                None => return Err(self.err("Unexpected end of input.")),
                Some(b',' | b'}') => break,
                Some(b'{' | b'"') => {
                    return Err(self.err(&format!("Unexpected \"{}\" character.", self.s[self.at] as char)))
                }
                Some(b'\\') => {
                    let c = *self.s.get(self.at + 1).ok_or_else(|| self.err("Unexpected end of input."))?;
                    out.push(c);
                    escaped_len = out.len();
                    any_escape = true;
                    self.at += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
        while out.len() > escaped_len && out.last().is_some_and(|b| b.is_ascii_whitespace()) {
            out.pop();
        }
        if out.is_empty() && !any_escape {
            let c = self.s.get(self.at).map_or('?', |&b| b as char);
            return Err(self.err(&format!("Unexpected \"{c}\" character.")));
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        if !any_escape && text.eq_ignore_ascii_case("NULL") {
            return Ok(None);
        }
        Ok(Some(text))
    }
}

/// Reads an array literal (elements as written, unescaped).
pub fn parse_literal(text: &str) -> Result<Array, SqlError> {
    let mut body = text.trim_start();
    if body.starts_with('[') {
        // Dimension decoration: `[1:2][1:3]=`; only lower bound 1 is held.
        let (decoration, rest) =
            body.split_once('=').ok_or_else(|| malformed(text, "Missing \"=\" after array dimensions."))?;
        for dim in decoration.trim().trim_start_matches('[').trim_end_matches(']').split("][") {
            let lower = dim.split_once(':').map_or("1", |(l, _)| l).trim();
            if lower != "1" {
                return Err(SqlError::error(
                    "0A000",
                    format!("arrays with a lower bound other than 1 are not supported: \"{text}\""),
                ));
            }
        }
        body = rest.trim_start();
    }
    if !body.starts_with('{') {
        return Err(malformed(text, "Array value must start with \"{\" or dimension information."));
    }
    let mut p = Parser { text, s: body.as_bytes(), at: 0, dims: Vec::new(), elements: Vec::new() };
    p.level(0)?;
    p.blank();
    if p.at != p.s.len() {
        return Err(malformed(text, "Junk after closing right brace."));
    }
    let dims = p.dims.into_iter().map(|d| d.unwrap_or(0)).collect();
    Ok(Array { dims, elements: p.elements })
}

/// Whether an element must be quoted in an array literal.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.bytes().any(|b| matches!(b, b'{' | b'}' | b'"' | b',' | b'\\') || b.is_ascii_whitespace() || b == 0x0b)
}

/// The array literal PostgreSQL prints.
pub fn literal(array: &Array) -> String {
    if array.dims.is_empty() || array.elements.is_empty() {
        return "{}".into();
    }
    let mut out = String::new();
    let mut index = 0;
    write_level(array, 0, &mut index, &mut out);
    out
}

fn write_level(array: &Array, depth: usize, index: &mut usize, out: &mut String) {
    out.push('{');
    for i in 0..array.dims[depth] {
        if i > 0 {
            out.push(',');
        }
        if depth + 1 < array.dims.len() {
            write_level(array, depth + 1, index, out);
        } else {
            match array.elements.get(*index).cloned().flatten() {
                None => out.push_str("NULL"),
                Some(e) if needs_quotes(&e) => {
                    out.push('"');
                    for c in e.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
                Some(e) => out.push_str(&e),
            }
            *index += 1;
        }
    }
    out.push('}');
}

fn is_vector(ty: PgType) -> bool {
    matches!(ty, PgType::Int2Vector | PgType::OidVector)
}

fn element_type(ty: PgType) -> PgType {
    ty.element().unwrap_or(PgType::Text)
}

/// The array a stored value holds, elements in their output form.
pub fn of_value(ty: PgType, value: &Value) -> Result<Array, SqlError> {
    let text = raw_text(value);
    if is_vector(ty) {
        let elements: Vec<Option<String>> = text.split_ascii_whitespace().map(|e| Some(e.to_owned())).collect();
        return Ok(Array { dims: vec![elements.len()], elements });
    }
    parse_literal(&text)
}

/// The stored value of an array.
pub fn to_value(ty: PgType, array: &Array) -> Value {
    if is_vector(ty) {
        let parts: Vec<&str> = array.elements.iter().map(|e| e.as_deref().unwrap_or("0")).collect();
        return Value::Text(parts.join(" "));
    }
    Value::Text(literal(array))
}

pub(super) fn input(ty: PgType, text: &str, typmod: Typmod) -> Result<Value, SqlError> {
    let elem = element_type(ty);
    if is_vector(ty) {
        let parts = text
            .split_ascii_whitespace()
            .map(|e| parse_int(elem, e).map(|n| n.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::Text(parts.join(" ")));
    }
    let mut array = parse_literal(text)?;
    for element in array.elements.iter_mut().flatten() {
        let value = super::input(elem, element, typmod)?;
        *element = super::output(elem, &value).unwrap_or_default();
    }
    Ok(to_value(ty, &array))
}

pub(super) fn output(ty: PgType, value: &Value) -> String {
    let _ = ty;
    raw_text(value)
}

pub(super) fn send(ty: PgType, value: &Value) -> Result<Vec<u8>, SqlError> {
    let elem = element_type(ty);
    let array = of_value(ty, value)?;
    let mut out = Vec::new();
    // int2vector and oidvector always have one dimension, even empty.
    let ndim = if is_vector(ty) {
        1
    } else if array.elements.is_empty() {
        0
    } else {
        array.dims.len() as i32
    };
    let has_nulls = array.elements.iter().any(Option::is_none);
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&i32::from(has_nulls).to_be_bytes());
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if ndim > 0 {
        let lower: i32 = if is_vector(ty) { 0 } else { 1 };
        let dims = if array.dims.is_empty() { vec![0] } else { array.dims.clone() };
        for d in &dims {
            out.extend_from_slice(&(*d as i32).to_be_bytes());
            out.extend_from_slice(&lower.to_be_bytes());
        }
    }
    for element in &array.elements {
        match element {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(text) => {
                let bytes = super::send(elem, &super::input(elem, text, -1)?)?;
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(&bytes);
            }
        }
    }
    Ok(out)
}

pub(super) fn recv(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    let elem = element_type(ty);
    let mut r = Reader { bytes, ty };
    let ndim = r.i32()?;
    let flags = r.i32()?;
    let oid = r.i32()? as u32;
    if !(0..=MAX_DIM as i32).contains(&ndim) {
        return Err(SqlError::error("22P03", format!("invalid number of dimensions: {ndim}")));
    }
    if flags != 0 && flags != 1 {
        return Err(SqlError::error("22P03", "invalid array flags"));
    }
    if oid != elem.oid() {
        let name = PgType::from_oid(oid).map_or_else(|| oid.to_string(), |t| t.sql_name().to_owned());
        return Err(SqlError::error(
            "42804",
            format!(
                "binary data has array element type {oid} ({name}) instead of expected {} ({})",
                elem.oid(),
                elem.sql_name()
            ),
        ));
    }
    let mut dims = Vec::new();
    let mut total: usize = 1;
    for _ in 0..ndim {
        let len = r.i32()?;
        let lower = r.i32()?;
        let expected_lower = if is_vector(ty) { 0 } else { 1 };
        if lower != expected_lower && len > 0 {
            return Err(SqlError::error("0A000", "arrays with a lower bound other than 1 are not supported"));
        }
        if len < 0 {
            return Err(SqlError::error("22P03", "invalid array dimension"));
        }
        total = total
            .checked_mul(len as usize)
            .filter(|t| *t <= 1 << 27)
            .ok_or_else(|| SqlError::error("54000", "array size exceeds the maximum allowed (134217727)"))?;
        dims.push(len as usize);
    }
    if ndim == 0 {
        total = 0;
    }
    let mut elements = Vec::with_capacity(total);
    for _ in 0..total {
        let len = r.i32()?;
        if len == -1 {
            elements.push(None);
            continue;
        }
        if len < 0 {
            return Err(SqlError::error("22P03", "insufficient data left in message"));
        }
        let raw = r.take(len as usize)?;
        let value = super::recv(elem, raw)?;
        elements.push(super::output(elem, &value));
    }
    r.finish()?;
    if total == 0 {
        dims.clear();
    }
    Ok(to_value(ty, &Array { dims, elements }))
}
