//! Values on the wire: RowDescription with each column's PostgreSQL type (OID and `typlen`), DataRow fields in
//! text or binary format, and bind parameters decoded by their type, all over [`crate::sql::datum`] (PostgreSQL's
//! output, send, input and receive functions for every type of [`crate::sql::types`]).
//!
//! A parameter's type is the client's OID from Parse if it gave one, else the type the statement tells
//! ([`crate::sql::Statement::param_types`]), else text; ParameterDescription reports the same. A parameter of a
//! type the host does not know is taken as text (text format) or refused (binary format, 0A000).
//!
//! Runs in: a backend process (and the SQL functions' argument decoding there).

use std::time::{SystemTime, UNIX_EPOCH};

use pgwire::api::results::FieldFormat;
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};

use crate::sql::datum;
use crate::sql::SqlError;

pub(crate) use crate::sql::datum::float_text;
pub(crate) use crate::sql::datum::scalar::parse_bool;
pub(crate) use crate::sql::value::{type_from_values, PgType, Value};

/// A result column as sent: name, type and format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireColumn {
    pub name: String,
    pub ty: PgType,
    pub format: FieldFormat,
    /// The table's OID and the column's number, for a column that is a table's column (0, 0 otherwise).
    pub origin: (u32, i16),
}

pub(crate) fn row_description(columns: &[WireColumn]) -> RowDescription {
    RowDescription::new(
        columns
            .iter()
            .map(|c| {
                FieldDescription::new(
                    c.name.clone(),
                    c.origin.0 as i32,
                    c.origin.1,
                    c.ty.oid(),
                    c.ty.size(),
                    -1,
                    c.format.value(),
                )
            })
            .collect(),
    )
}

/// Encodes result rows as DataRow messages.
pub(crate) struct RowEncoder;

impl RowEncoder {
    pub(crate) fn new() -> RowEncoder {
        RowEncoder
    }

    pub(crate) fn encode(&mut self, row: &[Value], columns: &[WireColumn]) -> Result<DataRow, SqlError> {
        let mut data = DataRow::default();
        for (value, column) in row.iter().zip(columns) {
            let bytes = match (value, column.format) {
                (Value::Null, _) => None,
                (_, FieldFormat::Text) => text_output(value, column.ty).map(String::into_bytes),
                (_, FieldFormat::Binary) => Some(datum::send(column.ty, value)?),
            };
            match bytes {
                None => data.data.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(bytes) => {
                    let len = i32::try_from(bytes.len())
                        .map_err(|_| SqlError::error("54000", "result value is too large to send"))?;
                    data.data.extend_from_slice(&len.to_be_bytes());
                    data.data.extend_from_slice(&bytes);
                }
            }
            data.field_count += 1;
        }
        Ok(data)
    }
}

/// The text format of `value` in a column of type `ty`, or None for NULL.
pub(crate) fn text_output(value: &Value, ty: PgType) -> Option<String> {
    datum::output(ty, value)
}

/// At most 100 characters of `text` for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The OID a parameter is described with: the client's choice, else the type the statement tells, else text.
pub(crate) fn described_param_oid(client_oid: u32, statement_type: Option<PgType>) -> u32 {
    match (client_oid, statement_type) {
        (0, Some(ty)) => ty.oid(),
        (0, None) => PgType::Text.oid(),
        (oid, _) => oid,
    }
}

/// The type OID a parameter is decoded by: the client's, else the statement's (0: text, unspecified).
pub(crate) fn param_oid(client_oid: u32, statement_type: Option<PgType>) -> u32 {
    match (client_oid, statement_type) {
        (0, Some(ty)) => ty.oid(),
        (oid, _) => oid,
    }
}

/// Converts bind parameter `number` (1-based; None = NULL), of type `type_oid` (0 = unspecified), to the value
/// SQLite stores for that type (PostgreSQL's input or receive function).
pub(crate) fn decode_param(raw: Option<&[u8]>, type_oid: u32, binary: bool, number: usize) -> Result<Value, SqlError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    let ty = match type_oid {
        0 => None,
        oid => PgType::from_oid(oid),
    };
    if !binary {
        let text = datum::scalar::utf8(raw)?;
        return match ty {
            None => Ok(Value::Text(text.to_owned())),
            Some(ty) => datum::input(ty, text, -1).map_err(|mut err| {
                if err.message.chars().count() > 200 {
                    err.message = shorten(&err.message);
                }
                err
            }),
        };
    }
    let Some(ty) = ty.or((type_oid == 0).then_some(PgType::Text)) else {
        return Err(SqlError::error(
            "0A000",
            format!("binary format is not supported for bind parameter {number} (type oid {type_oid})"),
        )
        .with_hint("Send the parameter in text format."));
    };
    datum::recv(ty, raw).map_err(|err| match err.code {
        "22P03" | "08P01" => {
            SqlError::error("22P03", format!("incorrect binary data format in bind parameter {number}"))
        }
        _ => err,
    })
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

    const INT2: u32 = 21;
    const INT4: u32 = 23;
    const INT8: u32 = 20;
    const BOOL: u32 = 16;
    const FLOAT8: u32 = 701;
    const BYTEA: u32 = 17;
    const TEXT: u32 = 25;

    #[test]
    fn params() {
        assert_eq!(decode_param(None, INT8, false, 1).unwrap(), Value::Null);
        assert_eq!(decode_param(Some(b"42"), 0, false, 1).unwrap(), Value::Text("42".into()));
        assert_eq!(decode_param(Some(b" 42"), INT4, false, 1).unwrap(), Value::Integer(42));
        assert_eq!(decode_param(Some(&7i32.to_be_bytes()), INT4, true, 1).unwrap(), Value::Integer(7));
        assert_eq!(decode_param(Some(&(-7i64).to_be_bytes()), INT8, true, 1).unwrap(), Value::Integer(-7));
        assert_eq!(decode_param(Some(&[1]), BOOL, true, 1).unwrap(), Value::Integer(1));
        assert_eq!(decode_param(Some(b"off"), BOOL, false, 1).unwrap(), Value::Integer(0));
        assert_eq!(decode_param(Some(&2.5f64.to_be_bytes()), FLOAT8, true, 1).unwrap(), Value::Real(2.5));
        assert_eq!(decode_param(Some(b"\\x00ff"), BYTEA, false, 1).unwrap(), Value::Blob(vec![0, 255]));
        assert_eq!(decode_param(Some(b"abc"), TEXT, true, 1).unwrap(), Value::Text("abc".into()));
        assert_eq!(decode_param(Some(b"x"), INT8, false, 1).unwrap_err().code, "22P02");
        let e = decode_param(Some(&[1, 2, 3]), INT4, true, 2).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), ("22P03", "incorrect binary data format in bind parameter 2"));
        assert_eq!(decode_param(Some(&[1, 2, 3]), INT2, true, 1).unwrap_err().code, "22P03");
        assert_eq!(decode_param(Some(&[0xff]), TEXT, false, 1).unwrap_err().code, "22021");
        // Every type the host knows, in both formats, stored as the STORAGE table says.
        assert_eq!(
            decode_param(Some(b"2024-01-01"), 1184, false, 1).unwrap(),
            Value::Text("2024-01-01 00:00:00+00".into())
        );
        assert_eq!(decode_param(Some(&[0; 8]), 1184, true, 1).unwrap(), Value::Text("2000-01-01 00:00:00+00".into()));
        assert_eq!(decode_param(Some(&[0; 4]), 1082, true, 1).unwrap(), Value::Text("2000-01-01".into()));
        assert_eq!(decode_param(Some(&[0; 8]), 99_999, true, 1).unwrap_err().code, "0A000");
        assert_eq!(decode_param(Some(b"anything"), 99_999, false, 1).unwrap(), Value::Text("anything".into()));
    }

    #[test]
    fn parameter_types() {
        assert_eq!(described_param_oid(0, None), 25);
        assert_eq!(described_param_oid(0, Some(PgType::Date)), 1082);
        assert_eq!(described_param_oid(20, Some(PgType::Date)), 20);
        assert_eq!(param_oid(0, None), 0);
        assert_eq!(param_oid(0, Some(PgType::Uuid)), 2950);
    }

    #[test]
    fn binary_rows() {
        let columns = [
            WireColumn { name: "a".into(), ty: PgType::Int4, format: FieldFormat::Binary, origin: (0, 0) },
            WireColumn { name: "b".into(), ty: PgType::Numeric, format: FieldFormat::Text, origin: (0, 0) },
            WireColumn { name: "c".into(), ty: PgType::Int8, format: FieldFormat::Binary, origin: (0, 0) },
        ];
        let row =
            RowEncoder::new().encode(&[Value::Integer(3), Value::Text("1.50".into()), Value::Null], &columns).unwrap();
        assert_eq!(row.field_count, 3);
        assert_eq!(&row.data[..], &[0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 4, b'1', b'.', b'5', b'0', 255, 255, 255, 255]);
        assert_eq!(RowEncoder::new().encode(&[Value::Integer(1 << 40)], &columns).unwrap_err().code, "22003");
        assert_eq!(RowEncoder::new().encode(&[Value::Text("x".into())], &columns).unwrap_err().code, "22P02");
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
