//! PostgreSQL's values: each type's input and output functions (text form to the value SQLite stores and back),
//! its binary send and receive functions (the wire's binary format), PostgreSQL's casts between the types, and
//! the arithmetic on numeric and date/time values, as plain Rust functions and as SQLite functions
//! ([`register`]).
//!
//! What a value of each type is in SQLite is [`crate::sql::types`]'s STORAGE table; [`input`] always produces it
//! and [`output`] prints it as PostgreSQL 15 does (with `extra_float_digits` 1, `DateStyle` ISO, `IntervalStyle`
//! postgres, `TimeZone` UTC, `bytea_output` hex). A value stored some other way (a table written by plain SQLite
//! SQL) is printed as it is when it does not read as the column's type.
//!
//! Modules: [`scalar`] (bool, integers, floats, strings, bytea, uuid, OIDs), [`numeric`], [`datetime`] (date,
//! time, timestamp, timestamptz, interval), [`json`], [`array`] (arrays, int2vector, oidvector), [`cast`],
//! [`functions`] (the SQLite functions).
//!
//! A type modifier ([`Typmod`]) is PostgreSQL's `atttypmod`: -1 for none, `n + 4` for `varchar(n)` and
//! `bpchar(n)`, `((p << 16) | s) + 4` for `numeric(p,s)`, `p` for `timestamp(p)`, `timestamptz(p)`, `time(p)`;
//! [`typmod_from_modifier`] reads the `(10,2)` of a declared type.
//!
//! Runs in: any process that runs SQL (a backend, a worker using SPI).

pub mod array;
pub mod cast;
pub mod datetime;
pub mod functions;
pub mod json;
pub mod numeric;
pub mod scalar;
#[cfg(test)]
mod tests;

pub use cast::{cast, cast_assign};
pub use functions::{register, transaction_ended, transaction_now};
pub use scalar::{float4_text, float_text};

use super::error::SqlError;
use super::types::PgType;
use super::value::Value;

/// PostgreSQL's type modifier (`atttypmod`); -1 is none.
pub type Typmod = i32;

/// PostgreSQL's input function for `ty`: the text form of a value to the value SQLite stores, with
/// PostgreSQL's validation and errors; `typmod` applies as it does when a value is stored in a column of that
/// type (`varchar(3)` refuses a longer value, `bpchar(n)` pads, `numeric(p,s)` rounds, `timestamp(p)` rounds).
pub fn input(ty: PgType, text: &str, typmod: Typmod) -> Result<Value, SqlError> {
    use PgType as T;
    match ty {
        T::Numeric => numeric::input(text, typmod),
        T::Date | T::Time | T::Timestamp | T::Timestamptz | T::Interval => datetime::input(ty, text, typmod),
        T::Json | T::Jsonb => json::input(ty, text),
        _ if ty.is_array() || matches!(ty, T::Int2Vector | T::OidVector) => array::input(ty, text, typmod),
        _ => scalar::input(ty, text, typmod),
    }
}

/// PostgreSQL's output function for `ty`: the text form of a stored value, None for NULL.
pub fn output(ty: PgType, value: &Value) -> Option<String> {
    use PgType as T;
    if matches!(value, Value::Null) {
        return None;
    }
    Some(match ty {
        T::Numeric => numeric::output(value),
        T::Date | T::Time | T::Timestamp | T::Timestamptz | T::Interval => datetime::output(ty, value),
        T::Json | T::Jsonb => json::output(value),
        _ if ty.is_array() || matches!(ty, T::Int2Vector | T::OidVector) => array::output(ty, value),
        _ => scalar::output(ty, value),
    })
}

/// PostgreSQL's binary receive function for `ty`: the binary form of a value to the value SQLite stores.
pub fn recv(ty: PgType, bytes: &[u8]) -> Result<Value, SqlError> {
    use PgType as T;
    match ty {
        T::Numeric => numeric::recv(bytes),
        T::Date | T::Time | T::Timestamp | T::Timestamptz | T::Interval => datetime::recv(ty, bytes),
        T::Json | T::Jsonb => json::recv(ty, bytes),
        _ if ty.is_array() || matches!(ty, T::Int2Vector | T::OidVector) => array::recv(ty, bytes),
        _ => scalar::recv(ty, bytes),
    }
}

/// PostgreSQL's binary send function for `ty`: the binary form of a stored value (NULL has none: an empty
/// vector). A value stored in another form than the type's (text in an int4 column) is read as the type's
/// input would, and fails as it would.
pub fn send(ty: PgType, value: &Value) -> Result<Vec<u8>, SqlError> {
    use PgType as T;
    if matches!(value, Value::Null) {
        return Ok(Vec::new());
    }
    match ty {
        T::Numeric => numeric::send(value),
        T::Date | T::Time | T::Timestamp | T::Timestamptz | T::Interval => datetime::send(ty, value),
        T::Json | T::Jsonb => json::send(ty, value),
        _ if ty.is_array() || matches!(ty, T::Int2Vector | T::OidVector) => array::send(ty, value),
        _ => scalar::send(ty, value),
    }
}

/// The type modifier a declared type's modifier stands for: `(10,2)` on numeric, `(3)` on varchar, bpchar and
/// the time types ("" or no parentheses: -1). An array type takes its element's.
pub fn typmod_from_modifier(ty: PgType, modifier: &str) -> Result<Typmod, SqlError> {
    let modifier = modifier.trim();
    let Some(inner) = modifier.strip_prefix('(').and_then(|m| m.strip_suffix(')')) else {
        return if modifier.is_empty() {
            Ok(-1)
        } else {
            Err(SqlError::error("42601", format!("syntax error at or near \"{modifier}\"")))
        };
    };
    let numbers = inner
        .split(',')
        .map(|n| n.trim().parse::<i32>())
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| SqlError::error("22023", format!("invalid type modifier \"{modifier}\"")))?;
    let ty = ty.element().filter(|_| ty.is_array()).unwrap_or(ty);
    let invalid = |msg: String| Err(SqlError::error("22023", msg));
    match (ty, numbers.as_slice()) {
        (PgType::Varchar | PgType::Bpchar, [n]) => {
            if *n < 1 {
                return invalid(format!("length for type {} must be at least 1", ty.typname()));
            }
            if *n > 10_485_760 {
                return invalid(format!("length for type {} cannot exceed 10485760", ty.typname()));
            }
            Ok(n + 4)
        }
        (PgType::Numeric, [p]) | (PgType::Numeric, [p, _]) => {
            let s = numbers.get(1).copied().unwrap_or(0);
            if !(1..=1000).contains(p) {
                return invalid(format!("NUMERIC precision {p} must be between 1 and 1000"));
            }
            if !(-1000..=1000).contains(&s) {
                return invalid(format!("NUMERIC scale {s} must be between -1000 and 1000"));
            }
            Ok(((p << 16) | (s & 0x7ff)) + 4)
        }
        (PgType::Time | PgType::Timestamp | PgType::Timestamptz | PgType::Interval, [p]) => {
            if *p < 0 {
                return invalid(format!("{}({p}) precision must not be negative", ty.sql_name()));
            }
            Ok((*p).min(6))
        }
        _ => invalid(format!("type modifier is not allowed for type \"{}\"", ty.typname())),
    }
}

/// The type and modifier a declared type or type name with a modifier stands for (`numeric(10,2)`,
/// `varchar(3)`, `_int4`, `character varying(3)`).
pub fn type_and_typmod(name: &str) -> Result<(PgType, Typmod), SqlError> {
    let (base, modifier) = match name.find('(') {
        Some(at) => {
            let close = name.rfind(')').unwrap_or(name.len() - 1);
            let rest = format!("{}{}", &name[..at], &name[close + 1..]);
            (rest, &name[at..=close])
        }
        None => (name.to_owned(), ""),
    };
    let ty = PgType::from_name(&base)
        .or_else(|| PgType::from_decltype(&base))
        .ok_or_else(|| SqlError::error("42704", format!("type \"{}\" does not exist", base.trim())))?;
    Ok((ty, typmod_from_modifier(ty, modifier)?))
}

/// 22P02 `invalid input syntax for type X: "text"`.
pub(crate) fn invalid_syntax(ty: PgType, text: &str) -> SqlError {
    SqlError::error("22P02", format!("invalid input syntax for type {}: \"{text}\"", ty.sql_name()))
}

/// 22P03 for binary data that is not the type's format.
pub(crate) fn bad_binary(ty: PgType) -> SqlError {
    SqlError::error("22P03", format!("incorrect binary data format for type {}", ty.sql_name()))
}

/// The text of a stored value whatever its storage class (for values stored in another form than their type's;
/// a blob as bytea prints it).
pub(crate) fn raw_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => float_text(*f),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => scalar::bytea_text(b),
    }
}

/// Reads 4/8-byte big-endian numbers out of binary data.
pub(crate) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub ty: PgType,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], SqlError> {
        if self.bytes.len() < n {
            return Err(SqlError::error("08P01", "insufficient data left in message"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    pub fn i16(&mut self) -> Result<i16, SqlError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap_or_default()))
    }
    pub fn i32(&mut self) -> Result<i32, SqlError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap_or_default()))
    }
    pub fn i64(&mut self) -> Result<i64, SqlError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()))
    }
    /// Fails unless every byte was read (PostgreSQL: "incorrect binary data format").
    pub fn finish(&self) -> Result<(), SqlError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(bad_binary(self.ty))
        }
    }
}
