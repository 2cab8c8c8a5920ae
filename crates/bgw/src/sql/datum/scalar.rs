//! The simple types: bool, int2/int4/int8, float4/float8, text, varchar, bpchar, name, "char", bytea, uuid, oid
//! and the reg* types, unknown, void and record: input, output, send and receive.
//!
//! Runs in: any process that runs SQL.

use super::{bad_binary, invalid_syntax, raw_text, Typmod};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

use PgType as T;

/// PostgreSQL's bool input: `t`, `true`, `yes`, `on`, `1` and their false forms, any case, any unique prefix
/// (`tr`, `of`), blanks around.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return None;
    }
    let prefix = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix("true", 1) || prefix("yes", 1) || prefix("on", 2) || t == "1" {
        Some(true)
    } else if prefix("false", 1) || prefix("no", 1) || prefix("off", 2) || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// An integer of `ty` (int2, int4, int8, oid) from text, as `pg_strtoint*` reads it.
pub fn parse_int(ty: PgType, text: &str) -> Result<i64, SqlError> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_syntax(ty, text));
    }
    let out_of_range =
        || SqlError::error("22003", format!("value \"{text}\" is out of range for type {}", ty.sql_name()));
    let value: i64 = trimmed.parse().map_err(|_| out_of_range())?;
    let fits = match ty {
        T::Int2 => i16::try_from(value).is_ok(),
        T::Int4 => i32::try_from(value).is_ok(),
        // oidin takes -2147483648..4294967295 (a negative number wraps).
        T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace => {
            (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&value)
        }
        _ => true,
    };
    if !fits {
        return Err(out_of_range());
    }
    if matches!(ty, T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace) && value < 0 {
        return Ok(i64::from(value as i32 as u32));
    }
    Ok(value)
}

/// A float8 (or float4) from text as `float8in` reads it: `NaN`, `Infinity`, `inf` in any case and sign.
pub fn parse_float(ty: PgType, text: &str) -> Result<f64, SqlError> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let negative = lower.starts_with('-');
    let special = match unsigned {
        "nan" if !lower.starts_with(['+', '-']) => Some(f64::NAN),
        "infinity" | "inf" => Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY }),
        _ => None,
    };
    if let Some(f) = special {
        return Ok(f);
    }
    let well_formed = !unsigned.is_empty()
        && unsigned.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        && unsigned.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.');
    let value: f64 = if well_formed { lower.parse().ok() } else { None }.ok_or_else(|| invalid_syntax(ty, text))?;
    let out_of_range = || SqlError::error("22003", format!("\"{text}\" is out of range for type {}", ty.sql_name()));
    let mantissa_nonzero = unsigned.split('e').next().is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b)));
    if ty == T::Float4 {
        let narrow = value as f32;
        if narrow.is_infinite() || (narrow == 0.0 && mantissa_nonzero) {
            return Err(out_of_range());
        }
        return Ok(f64::from(narrow));
    }
    if value.is_infinite() || (value == 0.0 && mantissa_nonzero) {
        return Err(out_of_range());
    }
    Ok(value)
}

/// A float8 as PostgreSQL prints it (`extra_float_digits` 1): the shortest text that reads back exactly, in
/// exponent form below 1e-4 and from 1e15 on (`1e+20`, `1e-05`), and `NaN`, `Infinity`, `-Infinity`.
pub fn float_text(f: f64) -> String {
    shortest(f.is_nan(), f.is_infinite(), f < 0.0, f == 0.0, format!("{f:e}"), 15)
}

/// A float4 as PostgreSQL prints it: shortest round trip, exponent form below 1e-4 and from 1e6 on.
pub fn float4_text(f: f32) -> String {
    shortest(f.is_nan(), f.is_infinite(), f < 0.0, f == 0.0, format!("{f:e}"), 6)
}

fn shortest(nan: bool, inf: bool, negative: bool, zero: bool, scientific: String, digits: i32) -> String {
    if nan {
        return "NaN".to_owned();
    }
    if inf {
        return if negative { "-Infinity" } else { "Infinity" }.to_owned();
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if zero {
        return if scientific.starts_with('-') { "-0" } else { "0" }.to_owned();
    }
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits_only: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if (-4..digits).contains(&exponent) {
        // Fixed notation from the shortest digits.
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits_only)
        } else if point as usize >= digits_only.len() {
            format!("{digits_only}{}", "0".repeat(point as usize - digits_only.len()))
        } else {
            format!("{}.{}", &digits_only[..point as usize], &digits_only[point as usize..])
        };
        format!("{sign}{text}")
    } else {
        let sign_e = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{sign_e}{:02}", exponent.unsigned_abs())
    }
}

/// bytea's input: `\x` hex (blanks between digit pairs allowed) or the escape format (`\\`, `\ooo`).
pub fn parse_bytea(text: &str) -> Result<Vec<u8>, SqlError> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(high) = chars.next() {
            let digit = |c: char| {
                c.to_digit(16).ok_or_else(|| SqlError::error("22023", format!("invalid hexadecimal digit: \"{c}\"")))
            };
            let h = digit(high)?;
            let low = chars
                .next()
                .ok_or_else(|| SqlError::error("22023", "invalid hexadecimal data: odd number of digits"))?;
            out.push((h * 16 + digit(low)?) as u8);
        }
        return Ok(out);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if bytes.len() >= i + 4
            && (b'0'..=b'3').contains(&bytes[i + 1])
            && bytes[i + 2..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            out.push((bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(invalid_syntax(T::Bytea, text));
        }
    }
    Ok(out)
}

/// bytea's output (hex).
pub fn bytea_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// uuid's input: 32 hex digits, optionally in braces, with a hyphen allowed after any group of four.
pub fn parse_uuid(text: &str) -> Result<[u8; 16], SqlError> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let mut digits = Vec::with_capacity(32);
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '-'
            && !digits.is_empty()
            && digits.len() % 4 == 0
            && digits.len() < 32
            && chars.get(i + 1) != Some(&'-')
        {
            i += 1;
            continue;
        }
        match c.to_digit(16) {
            Some(d) if digits.len() < 32 => digits.push(d as u8),
            _ => return Err(invalid_syntax(T::Uuid, text)),
        }
        i += 1;
    }
    if digits.len() != 32 || inner.ends_with('-') {
        return Err(invalid_syntax(T::Uuid, text));
    }
    let mut out = [0u8; 16];
    for (k, pair) in digits.chunks(2).enumerate() {
        out[k] = pair[0] * 16 + pair[1];
    }
    Ok(out)
}

/// uuid's output: lower case, hyphens 8-4-4-4-12.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The maximum length a `varchar(n)`/`bpchar(n)` modifier allows.
fn max_len(typmod: Typmod) -> Option<usize> {
    (typmod >= 5).then(|| (typmod - 4) as usize)
}

/// Applies a string type's length: longer than `n` characters is refused (22001) unless the excess is blanks
/// or `explicit` (an explicit cast truncates); bpchar is padded with blanks to `n`; name is cut to 63 bytes.
pub fn string_typmod(ty: PgType, text: &str, typmod: Typmod, explicit: bool) -> Result<String, SqlError> {
    if ty == T::Name {
        let mut end = text.len().min(63);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        return Ok(text[..end].to_owned());
    }
    let Some(n) = max_len(typmod).filter(|_| matches!(ty, T::Varchar | T::Bpchar)) else {
        return Ok(text.to_owned());
    };
    let count = text.chars().count();
    let mut out: String = if count > n {
        let cut = text.char_indices().nth(n).map_or(text.len(), |(at, _)| at);
        if !explicit && text[cut..].chars().any(|c| c != ' ') {
            return Err(SqlError::error("22001", format!("value too long for type {}({n})", ty.sql_name())));
        }
        text[..cut].to_owned()
    } else {
        text.to_owned()
    };
    if ty == T::Bpchar {
        let have = out.chars().count();
        out.extend(std::iter::repeat_n(' ', n.saturating_sub(have)));
    }
    Ok(out)
}

/// `"char"`'s input: its first byte (a non-ASCII one is kept as PostgreSQL prints it, `\ooo`).
fn char_value(text: &str) -> String {
    match text.as_bytes().first() {
        None => String::new(),
        Some(b) if b.is_ascii() => (*b as char).to_string(),
        Some(b) => format!("\\{b:03o}"),
    }
}

pub(super) fn input(ty: PgType, text: &str, typmod: Typmod) -> Result<Value, SqlError> {
    Ok(match ty {
        T::Bool => Value::Integer(parse_bool(text).ok_or_else(|| invalid_syntax(ty, text))?.into()),
        T::Int2 | T::Int4 | T::Int8 | T::Oid => Value::Integer(parse_int(ty, text)?),
        T::Regclass | T::Regproc | T::Regtype | T::Regnamespace => match parse_int(ty, text) {
            Ok(oid) => Value::Integer(oid),
            Err(_) => {
                return Err(SqlError::error(
                    "0A000",
                    format!("input of type {} by name is not supported here: \"{text}\"", ty.sql_name()),
                ))
            }
        },
        T::Float4 | T::Float8 => Value::Real(parse_float(ty, text)?),
        T::Text | T::Varchar | T::Bpchar | T::Name | T::Unknown => Value::Text(string_typmod(ty, text, typmod, false)?),
        T::Char => Value::Text(char_value(text)),
        T::Bytea => Value::Blob(parse_bytea(text)?),
        T::Uuid => Value::Text(uuid_text(&parse_uuid(text)?)),
        T::Void => Value::Text(String::new()),
        T::Record => {
            return Err(SqlError::error("0A000", "input of anonymous composite types is not implemented"));
        }
        _ => return Err(SqlError::error("0A000", format!("input of type {} is not supported", ty.sql_name()))),
    })
}

pub(super) fn output(ty: PgType, value: &Value) -> String {
    match (ty, value) {
        (T::Bool, Value::Integer(i)) => if *i != 0 { "t" } else { "f" }.to_owned(),
        (T::Bool, Value::Real(f)) => if *f != 0.0 { "t" } else { "f" }.to_owned(),
        (T::Bool, Value::Text(s)) => match parse_bool(s) {
            Some(b) => if b { "t" } else { "f" }.to_owned(),
            None => s.clone(),
        },
        (T::Float4, Value::Real(f)) => float4_text(*f as f32),
        (T::Float4, Value::Integer(i)) => float4_text(*i as f32),
        (T::Bytea, Value::Blob(b)) => bytea_text(b),
        (T::Bytea, other) => bytea_text(raw_text(other).as_bytes()),
        (T::Void, _) => String::new(),
        (_, other) => raw_text(other),
    }
}

/// The value as an integer of `ty`, reading text as the type's input does.
fn integer(ty: PgType, value: &Value) -> Result<i64, SqlError> {
    match value {
        Value::Integer(i) => Ok(*i),
        Value::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        other => parse_int(ty, &raw_text(other)),
    }
}

fn float(ty: PgType, value: &Value) -> Result<f64, SqlError> {
    match value {
        Value::Integer(i) => Ok(*i as f64),
        Value::Real(f) => Ok(*f),
        other => parse_float(ty, &raw_text(other)),
    }
}

fn out_of_range(ty: PgType) -> SqlError {
    let name = match ty {
        T::Int2 => "smallint",
        T::Int4 => "integer",
        T::Int8 => "bigint",
        _ => "OID",
    };
    SqlError::error("22003", format!("{name} out of range"))
}

pub(super) fn send(ty: PgType, value: &Value) -> Result<Vec<u8>, SqlError> {
    Ok(match ty {
        T::Bool => vec![match value {
            Value::Integer(i) => u8::from(*i != 0),
            Value::Real(f) => u8::from(*f != 0.0),
            other => u8::from(parse_bool(&raw_text(other)).ok_or_else(|| invalid_syntax(ty, &raw_text(other)))?),
        }],
        T::Int2 => i16::try_from(integer(ty, value)?).map_err(|_| out_of_range(ty))?.to_be_bytes().to_vec(),
        T::Int4 => i32::try_from(integer(ty, value)?).map_err(|_| out_of_range(ty))?.to_be_bytes().to_vec(),
        T::Int8 => integer(ty, value)?.to_be_bytes().to_vec(),
        T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace => {
            u32::try_from(integer(ty, value)?).map_err(|_| out_of_range(ty))?.to_be_bytes().to_vec()
        }
        T::Float4 => (float(ty, value)? as f32).to_be_bytes().to_vec(),
        T::Float8 => float(ty, value)?.to_be_bytes().to_vec(),
        T::Bytea => match value {
            Value::Blob(b) => b.clone(),
            other => raw_text(other).into_bytes(),
        },
        T::Uuid => parse_uuid(&raw_text(value))?.to_vec(),
        T::Char => match raw_text(value).as_bytes() {
            [] => vec![0],
            [b'\\', o @ ..] if o.len() == 3 => {
                vec![o.iter().fold(0u8, |acc, d| acc.wrapping_mul(8).wrapping_add(d.wrapping_sub(b'0')))]
            }
            bytes => vec![bytes[0]],
        },
        T::Void => Vec::new(),
        T::Record => {
            return Err(SqlError::error("0A000", "binary output of type record is not supported"));
        }
        _ => output(ty, value).into_bytes(),
    })
}

pub(super) fn recv(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    let exact = |n: usize| if bytes.len() == n { Ok(()) } else { Err(bad_binary(ty)) };
    Ok(match ty {
        T::Bool => {
            exact(1)?;
            Value::Integer(i64::from(bytes[0] != 0))
        }
        T::Int2 => {
            exact(2)?;
            Value::Integer(i16::from_be_bytes([bytes[0], bytes[1]]).into())
        }
        T::Int4 => Value::Integer(i32::from_be_bytes(bytes.try_into().map_err(|_| bad_binary(ty))?).into()),
        T::Int8 => Value::Integer(i64::from_be_bytes(bytes.try_into().map_err(|_| bad_binary(ty))?)),
        T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace => {
            Value::Integer(u32::from_be_bytes(bytes.try_into().map_err(|_| bad_binary(ty))?).into())
        }
        T::Float4 => Value::Real(f32::from_be_bytes(bytes.try_into().map_err(|_| bad_binary(ty))?).into()),
        T::Float8 => Value::Real(f64::from_be_bytes(bytes.try_into().map_err(|_| bad_binary(ty))?)),
        T::Bytea => Value::Blob(bytes.to_vec()),
        T::Uuid => Value::Text(uuid_text(&bytes.try_into().map_err(|_| bad_binary(ty))?)),
        T::Char => {
            exact(1)?;
            Value::Text(char_value_byte(bytes[0]))
        }
        T::Text | T::Varchar | T::Bpchar | T::Name | T::Unknown => Value::Text(utf8(bytes)?.to_owned()),
        T::Void => Value::Text(String::new()),
        _ => return Err(SqlError::error("0A000", format!("binary input of type {} is not supported", ty.sql_name()))),
    })
}

fn char_value_byte(b: u8) -> String {
    match b {
        0 => String::new(),
        b if b.is_ascii() => (b as char).to_string(),
        b => format!("\\{b:03o}"),
    }
}

/// Text from the wire: UTF-8 without NUL (22021 otherwise).
pub fn utf8(bytes: &[u8]) -> Result<&str, SqlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let shown: Vec<String> = bytes[at..].iter().take(2).map(|b| format!("0x{b:02x}")).collect();
        SqlError::error("22021", format!("invalid byte sequence for encoding \"UTF8\": {}", shown.join(" ")))
    })?;
    if text.contains('\0') {
        return Err(SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\": 0x00"));
    }
    Ok(text)
}
