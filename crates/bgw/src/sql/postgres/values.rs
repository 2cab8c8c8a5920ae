//! Values between the SQL layer and a PostgreSQL server: parameters go in PostgreSQL's text format (the server's
//! input function of the parameter's type reads them, as it reads a literal), results come back in the binary
//! format (the only one the client asks for) and are printed with [`crate::sql::datum`]'s output functions, the
//! text PostgreSQL 15 prints with the session settings the engine sets at connect (`TimeZone` UTC, `DateStyle`
//! ISO, `IntervalStyle` postgres, `extra_float_digits` 1, `bytea_output` hex). While the session's `TimeZone`,
//! `DateStyle` or `IntervalStyle` differ from those (the connection's options or a `SET` chose others: the server
//! reports each change), the date/time types ([`depends_on_settings`]) are read as the server's text too. A result type [`datum`](crate::sql::datum) cannot
//! decode (a composite, a range, a type of an extension, `regclass`) is not guessed at: [`decodable`] says so
//! before the statement runs, and the engine reads such a result through the simple protocol, whose rows are the
//! server's own text.
//!
//! Runs in: a process connected to a PostgreSQL server (a background worker).

use std::error::Error;

use tokio_postgres::types::{to_sql_checked, Format, FromSql, IsNull, Kind, ToSql, Type};

use crate::sql::datum;
use crate::sql::types::PgType;
use crate::sql::value::Value;

type BoxError = Box<dyn Error + Sync + Send>;

/// A parameter in text format (None is SQL NULL), accepted for a parameter of any type.
#[derive(Debug)]
pub struct TextParam<'a>(pub Option<&'a str>);

impl ToSql for TextParam<'_> {
    fn to_sql(&self, _ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// The text of a SQL layer value, as a text-format parameter takes it.
pub fn param_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(datum::float_text(*f)),
        Value::Text(t) => Some(t.clone()),
        Value::Blob(b) => datum::output(PgType::Bytea, &Value::Blob(b.clone())),
    }
}

/// The PostgreSQL type a result column or parameter of server type `ty` is described with, if the host knows
/// it (a domain is its base type, an enum is text).
pub fn pg_type(ty: &Type) -> Option<PgType> {
    match ty.kind() {
        Kind::Domain(base) => pg_type(base),
        Kind::Enum(_) => Some(PgType::Text),
        _ => PgType::from_oid(ty.oid()),
    }
}

/// Whether a binary value of server type `ty` can be printed as the server would print it.
pub fn decodable(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Domain(base) => decodable(base),
        Kind::Enum(_) => true,
        _ => PgType::from_oid(ty.oid()).is_some_and(|t| {
            let element = t.element().filter(|_| t.is_array()).unwrap_or(t);
            !matches!(
                element,
                PgType::Regclass | PgType::Regproc | PgType::Regtype | PgType::Regnamespace | PgType::Record
            )
        }),
    }
}

/// Whether the text of a value of server type `ty` depends on the session's `TimeZone`, `DateStyle` or
/// `IntervalStyle` (the date/time types, and arrays of them).
pub fn depends_on_settings(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Domain(base) => depends_on_settings(base),
        _ => PgType::from_oid(ty.oid()).is_some_and(|t| {
            let element = t.element().filter(|_| t.is_array()).unwrap_or(t);
            matches!(element, PgType::Date | PgType::Time | PgType::Timestamp | PgType::Timestamptz | PgType::Interval)
        }),
    }
}

/// One result value, printed as PostgreSQL's output function prints it.
pub struct Cell(pub Option<String>);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        match ty.kind() {
            Kind::Domain(base) => Cell::from_sql(base, raw),
            Kind::Enum(_) => Ok(Cell(Some(std::str::from_utf8(raw)?.to_owned()))),
            _ => {
                let Some(pg) = PgType::from_oid(ty.oid()).filter(|_| decodable(ty)) else {
                    return Err(format!("cannot read a value of type {} in binary", ty.name()).into());
                };
                let value = datum::recv(pg, raw)?;
                Ok(Cell(datum::output(pg, &value)))
            }
        }
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, BoxError> {
        Ok(Cell(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_decode_and_others_do_not() {
        assert!(decodable(&Type::INT4) && decodable(&Type::NUMERIC) && decodable(&Type::TIMESTAMPTZ));
        assert!(decodable(&Type::TEXT_ARRAY) && decodable(&Type::JSONB) && decodable(&Type::VOID));
        assert!(!decodable(&Type::REGCLASS) && !decodable(&Type::RECORD) && !decodable(&Type::INET));
        assert!(!decodable(&Type::INT4_RANGE) && !decodable(&Type::POINT));
        assert!(depends_on_settings(&Type::TIMESTAMPTZ_ARRAY) && depends_on_settings(&Type::DATE));
        assert!(!depends_on_settings(&Type::FLOAT8) && !depends_on_settings(&Type::TEXT));
        let cell = Cell::from_sql(&Type::INT8, &42i64.to_be_bytes()).unwrap();
        assert_eq!(cell.0.as_deref(), Some("42"));
        let cell = Cell::from_sql(&Type::FLOAT8, &1e100f64.to_be_bytes()).unwrap();
        assert_eq!(cell.0.as_deref(), Some("1e+100"));
        assert_eq!(Cell::from_sql(&Type::BOOL, &[1]).unwrap().0.as_deref(), Some("t"));
        assert_eq!(param_text(&Value::Blob(vec![0, 255])).as_deref(), Some("\\x00ff"));
        assert_eq!(param_text(&Value::Null), None);
    }
}
