//! Values and the PostgreSQL types result columns are described with, independent of any wire format.
//!
//! SQLite has five storage classes, and so does [`Value`]; a result column gets a PostgreSQL type ([`PgType`],
//! defined in [`super::types`]): from its declared type ([`PgType::from_decltype`]), from what the engine can
//! tell before running it, or from the values it holds ([`type_from_values`]). How they are encoded for a client lives in the
//! backend; SPI turns them into text.
//!
//! Runs in: any process that runs SQL.

use rusqlite::types::{ToSqlOutput, ValueRef};

pub use super::types::PgType;

/// An owned SQL value (SQLite's five storage classes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<ValueRef<'_>> for Value {
    fn from(value: ValueRef<'_>) -> Value {
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
            ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// The type of a column nothing declared, from the values it holds.
pub fn type_from_values<'a>(values: impl Iterator<Item = &'a Value>) -> PgType {
    let (mut ints, mut reals, mut blobs, mut others) = (0usize, 0usize, 0usize, 0usize);
    for value in values {
        match value {
            Value::Null => {}
            Value::Integer(_) => ints += 1,
            Value::Real(_) => reals += 1,
            Value::Blob(_) => blobs += 1,
            Value::Text(_) => others += 1,
        }
    }
    match (ints, reals, blobs, others) {
        (0, 0, 0, _) | (_, _, _, 1..) => PgType::Text,
        (1.., 0, 0, 0) => PgType::Int8,
        (_, 1.., 0, 0) => PgType::Float8,
        (0, 0, 1.., 0) => PgType::Bytea,
        _ => PgType::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_values() {
        use Value::*;
        assert_eq!(type_from_values([Integer(1), Null, Integer(2)].iter()), PgType::Int8);
        assert_eq!(type_from_values([Integer(1), Real(2.5)].iter()), PgType::Float8);
        assert_eq!(type_from_values([Real(2.5)].iter()), PgType::Float8);
        assert_eq!(type_from_values([Blob(vec![1])].iter()), PgType::Bytea);
        assert_eq!(type_from_values([Text("a".into()), Integer(1)].iter()), PgType::Text);
        assert_eq!(type_from_values([Blob(vec![1]), Integer(1)].iter()), PgType::Text);
        assert_eq!(type_from_values([Null].iter()), PgType::Text);
        assert_eq!(type_from_values([].iter()), PgType::Text);
    }
}
