//! Values and types: how SQLite values become PostgreSQL-typed columns on the wire, and back for parameters.
//!
//! SQLite has five storage classes; a result column gets one of six PostgreSQL types:
//!
//! | PostgreSQL | from a declared type containing | or values that are |
//! |------------|---------------------------------|--------------------|
//! | `bool`     | BOOL                            | (never inferred from values) |
//! | `int4`     | INT4, INT2, SMALLINT            | (never inferred from values) |
//! | `int8`     | INT (other)                     | all integers       |
//! | `float8`   | REAL, FLOA, DOUB                | integers and reals |
//! | `text`     | CHAR, CLOB, TEXT                | text, mixed, or all NULL |
//! | `bytea`    | BLOB, BYTEA                     | all blobs          |
//!
//! Text format follows PostgreSQL's output (`t`/`f`, shortest round-trip floats, `\x` hex for bytea); binary
//! format is PostgreSQL's binary send format for these six types.
//!
//! Runs in: a backend process (and the SQL functions' argument decoding there).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pgwire::api::results::{DataRowEncoder, FieldFormat};
use pgwire::api::Type;
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};
use pgwire::types::format::FormatOptions;

use crate::sql::SqlError;

pub(crate) use crate::sql::value::{type_from_values, PgType, Value};

/// The wire protocol's type for a result column of type `ty`.
fn wire_type(ty: PgType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::TEXT)
}

/// A result column as sent: name, type and format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireColumn {
    pub name: String,
    pub ty: PgType,
    pub format: FieldFormat,
}

pub(crate) fn row_description(columns: &[WireColumn]) -> RowDescription {
    RowDescription::new(
        columns
            .iter()
            .map(|c| {
                FieldDescription::new(c.name.clone(), 0, 0, wire_type(c.ty).oid(), c.ty.size(), -1, c.format.value())
            })
            .collect(),
    )
}

/// Encodes result rows as DataRow messages.
pub(crate) struct RowEncoder {
    encoder: DataRowEncoder,
    options: FormatOptions,
}

impl RowEncoder {
    pub(crate) fn new() -> RowEncoder {
        RowEncoder { encoder: DataRowEncoder::new(Arc::new(Vec::new())), options: FormatOptions::default() }
    }

    pub(crate) fn encode(&mut self, row: &[Value], columns: &[WireColumn]) -> Result<DataRow, SqlError> {
        for (value, column) in row.iter().zip(columns) {
            let ty = wire_type(column.ty);
            let result = match column.format {
                FieldFormat::Text => {
                    let text = text_output(value, column.ty);
                    self.encoder.encode_field_with_type_and_format(&text, &ty, FieldFormat::Text, &self.options)
                }
                FieldFormat::Binary => match binary_output(value, column.ty)? {
                    Binary::Null => self.encoder.encode_field_with_type_and_format(
                        &None::<i64>,
                        &ty,
                        FieldFormat::Binary,
                        &self.options,
                    ),
                    Binary::Bool(b) => {
                        self.encoder.encode_field_with_type_and_format(&b, &ty, FieldFormat::Binary, &self.options)
                    }
                    Binary::Int4(i) => {
                        self.encoder.encode_field_with_type_and_format(&i, &ty, FieldFormat::Binary, &self.options)
                    }
                    Binary::Int8(i) => {
                        self.encoder.encode_field_with_type_and_format(&i, &ty, FieldFormat::Binary, &self.options)
                    }
                    Binary::Float8(f) => {
                        self.encoder.encode_field_with_type_and_format(&f, &ty, FieldFormat::Binary, &self.options)
                    }
                    Binary::Bytes(b) => {
                        self.encoder.encode_field_with_type_and_format(&b, &ty, FieldFormat::Binary, &self.options)
                    }
                },
            };
            result.map_err(|err| SqlError::error("XX000", format!("could not encode a result value: {err}")))?;
        }
        Ok(self.encoder.take_row())
    }
}

/// The text format of `value` in a column of type `ty`, or None for NULL.
pub(crate) fn text_output(value: &Value, ty: PgType) -> Option<String> {
    Some(match (value, ty) {
        (Value::Null, _) => return None,
        (Value::Integer(i), PgType::Bool) => bool_text(*i != 0),
        (Value::Real(f), PgType::Bool) => bool_text(*f != 0.0),
        (Value::Blob(b), _) => bytea_text(b),
        (Value::Text(s), PgType::Bytea) => bytea_text(s.as_bytes()),
        (Value::Integer(i), PgType::Bytea) => bytea_text(i.to_string().as_bytes()),
        (Value::Real(f), PgType::Bytea) => bytea_text(float_text(*f).as_bytes()),
        (Value::Integer(i), _) => i.to_string(),
        (Value::Real(f), _) => float_text(*f),
        (Value::Text(s), _) => s.clone(),
    })
}

fn bool_text(b: bool) -> String {
    if b { "t" } else { "f" }.to_owned()
}

fn bytea_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + 2 * bytes.len());
    text.push_str("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A float as PostgreSQL prints a float8: the shortest text that reads back exactly, in exponent form for very
/// large and very small magnitudes (`1e+20`, `1e-05`), and `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..15).contains(&exponent) {
        format!("{f}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

enum Binary {
    Null,
    Bool(bool),
    Int4(i32),
    Int8(i64),
    Float8(f64),
    Bytes(Vec<u8>),
}

fn bad_value(value: &Value, ty: PgType) -> SqlError {
    let shown = text_output(value, PgType::Text).unwrap_or_default();
    SqlError::error("22P02", format!("invalid input syntax for type {}: \"{}\"", ty.sql_name(), shorten(&shown)))
}

fn out_of_range(ty: PgType) -> SqlError {
    SqlError::error("22003", format!("value out of range for type {}", ty.sql_name()))
}

fn binary_output(value: &Value, ty: PgType) -> Result<Binary, SqlError> {
    if *value == Value::Null {
        return Ok(Binary::Null);
    }
    Ok(match ty {
        PgType::Bool => Binary::Bool(match value {
            Value::Integer(i) => *i != 0,
            Value::Real(f) => *f != 0.0,
            Value::Text(s) => parse_bool(s).ok_or_else(|| bad_value(value, ty))?,
            _ => return Err(bad_value(value, ty)),
        }),
        PgType::Int4 => {
            let wide = integer_of(value).ok_or_else(|| bad_value(value, ty))?;
            Binary::Int4(i32::try_from(wide).map_err(|_| out_of_range(ty))?)
        }
        PgType::Int8 => Binary::Int8(integer_of(value).ok_or_else(|| bad_value(value, ty))?),
        PgType::Float8 => Binary::Float8(match value {
            Value::Integer(i) => *i as f64,
            Value::Real(f) => *f,
            Value::Text(s) => parse_float(s).ok_or_else(|| bad_value(value, ty))?,
            _ => return Err(bad_value(value, ty)),
        }),
        PgType::Text => Binary::Bytes(text_output(value, PgType::Text).unwrap_or_default().into_bytes()),
        PgType::Bytea => Binary::Bytes(match value {
            Value::Blob(b) => b.clone(),
            Value::Text(s) => s.as_bytes().to_vec(),
            other => text_output(other, PgType::Text).unwrap_or_default().into_bytes(),
        }),
        other => {
            return Err(SqlError::error(
                "0A000",
                format!("binary format is not supported for result columns of type {}", other.sql_name()),
            ))
        }
    })
}

fn integer_of(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(i) => Some(*i),
        Value::Real(f) if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 => Some(*f as i64),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_float(text: &str) -> Option<f64> {
    match text.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// At most 100 characters of `text` for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Parameter types the backend understands, by OID.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const JSONB: u32 = 3802;
}

/// The OID a parameter is described with: the client's choice, or text when it left it open (0).
pub(crate) fn described_param_oid(client_oid: u32) -> u32 {
    if client_oid == 0 {
        oid::TEXT
    } else {
        client_oid
    }
}

/// Converts bind parameter `number` (1-based; None = NULL), of type `type_oid` (0 = unspecified), to a SQLite
/// value.
pub(crate) fn decode_param(raw: Option<&[u8]>, type_oid: u32, binary: bool, number: usize) -> Result<Value, SqlError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let bad_binary = || SqlError::error("22P03", format!("incorrect binary data format in bind parameter {number}"));
    let text = || {
        std::str::from_utf8(raw).map_err(|_| SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\""))
    };
    let bad_text = |ty: &str, text: &str| {
        SqlError::error("22P02", format!("invalid input syntax for type {ty}: \"{}\"", shorten(text)))
    };
    match (type_oid, binary) {
        (oid::INT2 | oid::INT4 | oid::INT8 | oid::OID, false) => {
            let t = text()?;
            t.trim().parse::<i64>().map(Value::Integer).map_err(|_| bad_text("integer", t))
        }
        (oid::INT2, true) => {
            <[u8; 2]>::try_from(raw).map(|b| Value::Integer(i16::from_be_bytes(b).into())).map_err(|_| bad_binary())
        }
        (oid::INT4, true) => {
            <[u8; 4]>::try_from(raw).map(|b| Value::Integer(i32::from_be_bytes(b).into())).map_err(|_| bad_binary())
        }
        (oid::OID, true) => {
            <[u8; 4]>::try_from(raw).map(|b| Value::Integer(u32::from_be_bytes(b).into())).map_err(|_| bad_binary())
        }
        (oid::INT8, true) => {
            <[u8; 8]>::try_from(raw).map(|b| Value::Integer(i64::from_be_bytes(b))).map_err(|_| bad_binary())
        }
        (oid::FLOAT4 | oid::FLOAT8, false) => {
            let t = text()?;
            parse_float(t).map(Value::Real).ok_or_else(|| bad_text("double precision", t))
        }
        (oid::FLOAT4, true) => {
            <[u8; 4]>::try_from(raw).map(|b| Value::Real(f32::from_be_bytes(b).into())).map_err(|_| bad_binary())
        }
        (oid::FLOAT8, true) => {
            <[u8; 8]>::try_from(raw).map(|b| Value::Real(f64::from_be_bytes(b))).map_err(|_| bad_binary())
        }
        (oid::BOOL, false) => {
            let t = text()?;
            parse_bool(t).map(|b| Value::Integer(b.into())).ok_or_else(|| bad_text("boolean", t))
        }
        (oid::BOOL, true) => match raw {
            [b] => Ok(Value::Integer((*b != 0).into())),
            _ => Err(bad_binary()),
        },
        (oid::BYTEA, true) => Ok(Value::Blob(raw.to_vec())),
        (oid::BYTEA, false) => match raw.strip_prefix(b"\\x") {
            Some(hex) => decode_hex(hex)
                .map(Value::Blob)
                .ok_or_else(|| SqlError::error("22P02", "invalid hexadecimal data in a bytea parameter")),
            None => Ok(Value::Blob(raw.to_vec())),
        },
        (oid::JSONB, true) => match raw.split_first() {
            Some((1, json)) => std::str::from_utf8(json)
                .map(|s| Value::Text(s.to_owned()))
                .map_err(|_| SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\"")),
            _ => Err(bad_binary()),
        },
        (0 | oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::CHAR | oid::UNKNOWN | oid::JSON, true) => {
            text().map(|t| Value::Text(t.to_owned()))
        }
        (_, false) => text().map(|t| Value::Text(t.to_owned())),
        (other, true) => Err(SqlError::error(
            "0A000",
            format!("binary format is not supported for bind parameter {number} (type oid {other})"),
        )
        .with_hint("Send the parameter in text format.")),
    }
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() & 1 == 1 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

/// A timestamp as PostgreSQL prints a `timestamptz` in UTC: `YYYY-MM-DD HH:MM:SS.ffffff+00`.
pub(crate) fn timestamp_text(time: SystemTime) -> String {
    let (seconds, micros) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_micros() as i64),
        Err(before) => {
            let d = before.duration();
            let micros = d.subsec_micros() as i64;
            let seconds = -(d.as_secs() as i64);
            if micros == 0 {
                (seconds, 0)
            } else {
                (seconds - 1, 1_000_000 - micros)
            }
        }
    };
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{micros:06}+00",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` days after 1970-01-01.
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Count in 400-year eras starting on 0000-03-01, so that leap days fall at the end of each year.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn text_outputs() {
        assert_eq!(text_output(&Value::Integer(1), PgType::Bool).as_deref(), Some("t"));
        assert_eq!(text_output(&Value::Integer(0), PgType::Bool).as_deref(), Some("f"));
        assert_eq!(text_output(&Value::Integer(-5), PgType::Int8).as_deref(), Some("-5"));
        assert_eq!(text_output(&Value::Blob(vec![0, 0xab]), PgType::Bytea).as_deref(), Some("\\x00ab"));
        assert_eq!(text_output(&Value::Text("x".into()), PgType::Int8).as_deref(), Some("x"));
        assert_eq!(text_output(&Value::Null, PgType::Text), None);
    }

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(float_text(1.5), "1.5");
        assert_eq!(float_text(2.0), "2");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(1e20), "1e+20");
        assert_eq!(float_text(1.5e-5), "1.5e-05");
        assert_eq!(float_text(123456789012345.0), "123456789012345");
        assert_eq!(float_text(1e15), "1e+15");
        assert_eq!(float_text(0.0001), "0.0001");
        assert_eq!(float_text(f64::NAN), "NaN");
        assert_eq!(float_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float_text(-0.0), "-0");
    }

    #[test]
    fn params() {
        assert_eq!(decode_param(None, oid::INT8, false, 1).unwrap(), Value::Null);
        assert_eq!(decode_param(Some(b"42"), 0, false, 1).unwrap(), Value::Text("42".into()));
        assert_eq!(decode_param(Some(b" 42"), oid::INT4, false, 1).unwrap(), Value::Integer(42));
        assert_eq!(decode_param(Some(&7i32.to_be_bytes()), oid::INT4, true, 1).unwrap(), Value::Integer(7));
        assert_eq!(decode_param(Some(&(-7i64).to_be_bytes()), oid::INT8, true, 1).unwrap(), Value::Integer(-7));
        assert_eq!(decode_param(Some(&[1]), oid::BOOL, true, 1).unwrap(), Value::Integer(1));
        assert_eq!(decode_param(Some(b"off"), oid::BOOL, false, 1).unwrap(), Value::Integer(0));
        assert_eq!(decode_param(Some(&2.5f64.to_be_bytes()), oid::FLOAT8, true, 1).unwrap(), Value::Real(2.5));
        assert_eq!(decode_param(Some(b"\\x00ff"), oid::BYTEA, false, 1).unwrap(), Value::Blob(vec![0, 255]));
        assert_eq!(decode_param(Some(b"abc"), oid::TEXT, true, 1).unwrap(), Value::Text("abc".into()));
        assert_eq!(decode_param(Some(b"x"), oid::INT8, false, 1).unwrap_err().code, "22P02");
        assert_eq!(decode_param(Some(&[1, 2, 3]), oid::INT4, true, 2).unwrap_err().code, "22P03");
        assert_eq!(decode_param(Some(&[0xff]), oid::TEXT, false, 1).unwrap_err().code, "22021");
        assert_eq!(decode_param(Some(&[0; 8]), 1184, true, 1).unwrap_err().code, "0A000");
        assert_eq!(decode_param(Some(b"2024-01-01"), 1184, false, 1).unwrap(), Value::Text("2024-01-01".into()));
    }

    #[test]
    fn binary_outputs() {
        assert!(matches!(binary_output(&Value::Integer(3), PgType::Int4).unwrap(), Binary::Int4(3)));
        assert_eq!(binary_output(&Value::Integer(1 << 40), PgType::Int4).err().unwrap().code, "22003");
        assert_eq!(binary_output(&Value::Text("x".into()), PgType::Int8).err().unwrap().code, "22P02");
        assert!(matches!(binary_output(&Value::Text("12".into()), PgType::Int8).unwrap(), Binary::Int8(12)));
        assert!(matches!(binary_output(&Value::Integer(2), PgType::Float8).unwrap(), Binary::Float8(f) if f == 2.0));
        assert!(matches!(binary_output(&Value::Null, PgType::Bool).unwrap(), Binary::Null));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_text(UNIX_EPOCH), "1970-01-01 00:00:00.000000+00");
        let t = UNIX_EPOCH + Duration::from_micros(1_709_210_096_123_456);
        assert_eq!(timestamp_text(t), "2024-02-29 12:34:56.123456+00");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp_text(t), "2000-02-29 00:00:00.000000+00");
        let t = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(timestamp_text(t), "1969-12-31 23:59:59.999999+00");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
        assert_eq!(timestamp_text(t), "2100-01-01 00:00:00.000000+00");
    }
}
