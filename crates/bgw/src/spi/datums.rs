//! SPI's datums: result values as PostgreSQL's binary representation (`SPI_getbinval`), their text in
//! PostgreSQL's output format (`SPI_getvalue`), and argument datums to SQL values (`SPI_execute_with_args`).
//!
//! Types given as datums, as a 64-bit PostgreSQL gives them: by value `bool`, `int2`, `int4`, `int8`, `float4`,
//! `float8`, `oid`, `"char"`, `date` (days since 2000-01-01), `time` (microseconds since midnight), `timestamp` and
//! `timestamptz` (microseconds since 2000-01-01 00:00, UTC for timestamptz); by reference `text`, `varchar`, `bpchar` and `bytea` as a varlena (a
//! 4-byte header), `name` as a `NameData` (64 bytes, NUL-padded). Any other type (numeric, json, arrays,
//! interval, ...) has no datum here: [`Datum::Unsupported`], which `SPI_getbinval` raises as 0A000 (its text is
//! there through `SPI_getvalue`); a datum is never a different type's.
//!
//! A value's datum is read from its text in PostgreSQL's output format (the server's own text on a
//! postgresql-engine database, [`crate::sql::datum::output`] of the stored value on an embedded one), with the
//! type's input rules: a value SQLite stored in another form than its column's type (text in an `int4` column) is
//! refused as PostgreSQL's input function would refuse it ([`Datum::Invalid`], raised by `SPI_getbinval`).
//!
//! Runs in: a background worker process (SPI).

use std::ffi::CString;

use crate::sql::datum::{datetime, output, scalar};
use crate::sql::types::PgType;
use crate::sql::{SqlError, Value};

/// PostgreSQL's `NAMEDATALEN`: the size of a `name` datum.
pub const NAMEDATALEN: usize = 64;

/// One result value as the C side builds its datum.
#[derive(Debug)]
pub enum Datum {
    Null,
    /// A by-value datum (the machine word).
    ByValue(i64),
    /// A by-reference datum's bytes: a varlena with its header, or a `NameData`.
    ByRef(Vec<u8>),
    /// A type bgw gives no datum of.
    Unsupported,
    /// The stored value is not a valid value of the column's type.
    Invalid {
        sqlstate: &'static str,
        message: CString,
    },
}

/// A result value: its datum and its text.
#[derive(Debug)]
pub struct Cell {
    pub datum: Datum,
    pub text: Option<CString>,
}

/// Text for C (NUL bytes become spaces).
pub fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Whether values of `ty` are given as datums.
pub fn supported(ty: PgType) -> bool {
    use PgType as T;
    matches!(
        ty,
        T::Bool
            | T::Int2
            | T::Int4
            | T::Int8
            | T::Float4
            | T::Float8
            | T::Oid
            | T::Char
            | T::Date
            | T::Time
            | T::Timestamp
            | T::Timestamptz
            | T::Text
            | T::Varchar
            | T::Bpchar
            | T::Name
            | T::Bytea
    )
}

/// Whether a datum of `ty` is passed by value.
pub fn by_value(ty: PgType) -> bool {
    ty.size() > 0 && ty.size() <= 8
}

/// The type of a result column: the engine's, or on an embedded database where the engine does not say (an
/// expression of SQLite's), the storage class of the column's first non-NULL value (integer int8, real float8,
/// text text, blob bytea), text if every value is NULL (PostgreSQL resolves an untyped NULL column to text).
pub fn column_type<'a>(
    declared: Option<PgType>,
    remote: bool,
    mut values: impl Iterator<Item = &'a Value>,
) -> Option<PgType> {
    if declared.is_some() || remote {
        return declared;
    }
    Some(match values.find(|v| !matches!(v, Value::Null)) {
        Some(Value::Integer(_)) => PgType::Int8,
        Some(Value::Real(_)) => PgType::Float8,
        Some(Value::Blob(_)) => PgType::Bytea,
        _ => PgType::Text,
    })
}

/// A value's text in PostgreSQL's output format (None for NULL). `ty` None: a server type bgw does not know
/// (its text is the server's).
pub fn text_of(ty: Option<PgType>, value: &Value, remote: bool) -> Option<String> {
    match (value, ty) {
        (Value::Null, _) => None,
        (Value::Text(t), _) if remote => Some(t.clone()),
        (_, Some(ty)) => output(ty, value),
        (other, None) => output(PgType::Text, other),
    }
}

/// The cell of `value` in a column of type `ty`.
pub fn cell(ty: Option<PgType>, value: &Value, remote: bool) -> Cell {
    let Some(text) = text_of(ty, value, remote) else { return Cell { datum: Datum::Null, text: None } };
    let datum = match ty.filter(|t| supported(*t)) {
        None => Datum::Unsupported,
        Some(ty) => match value {
            // SQLite's blob is the bytes themselves.
            Value::Blob(b) if ty == PgType::Bytea => Datum::ByRef(varlena(b)),
            _ => from_text(ty, &text)
                .unwrap_or_else(|e| Datum::Invalid { sqlstate: e.code, message: c_text(&e.message) }),
        },
    };
    Cell { datum, text: Some(c_text(&text)) }
}

/// A varlena holding `data`: the 4-byte header (`SET_VARSIZE`: the total length shifted left by 2, little
/// endian) and the bytes.
pub fn varlena(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + data.len());
    out.extend_from_slice(&(((data.len() + 4) as u32) << 2).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The datum of `ty` whose output text is `text`, read by the type's input rules.
fn from_text(ty: PgType, text: &str) -> Result<Datum, SqlError> {
    use PgType as T;
    Ok(match ty {
        T::Bool => {
            Datum::ByValue(i64::from(scalar::parse_bool(text).ok_or_else(|| {
                SqlError::error("22P02", format!("invalid input syntax for type boolean: \"{text}\""))
            })?))
        }
        T::Int2 | T::Int4 | T::Int8 | T::Oid => Datum::ByValue(scalar::parse_int(ty, text)?),
        T::Float4 => Datum::ByValue(i64::from((scalar::parse_float(ty, text)? as f32).to_bits() as i32)),
        T::Float8 => Datum::ByValue(scalar::parse_float(ty, text)?.to_bits() as i64),
        T::Char => Datum::ByValue(i64::from(text.as_bytes().first().copied().unwrap_or(0) as i8)),
        T::Date => Datum::ByValue(i64::from(datetime::parse_date(text)?)),
        T::Time => Datum::ByValue(datetime::parse_time(text)?),
        T::Timestamp | T::Timestamptz => Datum::ByValue(datetime::parse_timestamp(ty, text)?),
        T::Text | T::Varchar | T::Bpchar => Datum::ByRef(varlena(text.as_bytes())),
        T::Bytea => Datum::ByRef(varlena(&scalar::parse_bytea(text)?)),
        T::Name => {
            let mut name = vec![0u8; NAMEDATALEN];
            let mut n = text.len().min(NAMEDATALEN - 1);
            while !text.is_char_boundary(n) {
                n -= 1;
            }
            name[..n].copy_from_slice(&text.as_bytes()[..n]);
            Datum::ByRef(name)
        }
        _ => Datum::Unsupported,
    })
}

/// An argument datum of type `typid` as the SQL value bound for it: `word` is the datum (by value), `bytes` the
/// data of a by-reference one (a varlena's without its header, a `name`'s up to its NUL).
pub fn argument(typid: u32, word: i64, bytes: Option<&[u8]>) -> Result<Value, SqlError> {
    use PgType as T;
    let ty = PgType::from_oid(typid).filter(|t| supported(*t)).ok_or_else(|| {
        let name = PgType::from_oid(typid).map_or_else(|| format!("with OID {typid}"), |t| t.sql_name().to_string());
        SqlError::error(
            "0A000",
            format!("an SPI argument of type {name} is not supported: pass it as text (TEXTOID) and cast it in SQL"),
        )
    })?;
    let text = |b: Option<&[u8]>| {
        String::from_utf8(b.unwrap_or_default().to_vec())
            .map_err(|_| SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\" in an SPI argument"))
    };
    Ok(match ty {
        T::Bool => Value::Integer(i64::from(word != 0)),
        T::Int2 => Value::Integer(i64::from(word as i16)),
        T::Int4 => Value::Integer(i64::from(word as i32)),
        T::Int8 => Value::Integer(word),
        T::Oid => Value::Integer(i64::from(word as u32)),
        T::Float4 => Value::Real(f64::from(f32::from_bits(word as u32))),
        T::Float8 => Value::Real(f64::from_bits(word as u64)),
        T::Char => Value::Text(char::from(word as u8).to_string()),
        T::Date => Value::Text(datetime::date_text(word as i32)),
        T::Time => Value::Text(datetime::time_text(word)),
        T::Timestamp => Value::Text(datetime::timestamp_text(word, false)),
        T::Timestamptz => Value::Text(datetime::timestamp_text(word, true)),
        T::Text | T::Varchar | T::Bpchar | T::Name => Value::Text(text(bytes)?),
        T::Bytea => Value::Blob(bytes.unwrap_or_default().to_vec()),
        _ => unreachable!("supported types only"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(c: Cell) -> i64 {
        match c.datum {
            Datum::ByValue(w) => w,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn datums_are_postgresqls() {
        assert_eq!(word(cell(Some(PgType::Bool), &Value::Integer(1), false)), 1);
        assert_eq!(word(cell(Some(PgType::Int4), &Value::Integer(-5), false)), -5);
        assert_eq!(word(cell(Some(PgType::Float8), &Value::Real(2.5), false)), 2.5f64.to_bits() as i64);
        assert_eq!(word(cell(Some(PgType::Date), &Value::Text("2000-01-02".into()), false)), 1);
        assert_eq!(
            word(cell(Some(PgType::Timestamptz), &Value::Text("2000-01-01 00:00:01+00".into()), true)),
            1_000_000
        );
        let c = cell(Some(PgType::Text), &Value::Text("ab".into()), false);
        assert!(matches!(c.datum, Datum::ByRef(ref b) if b == &[24, 0, 0, 0, b'a', b'b']));
        assert!(matches!(cell(Some(PgType::Numeric), &Value::Text("1.5".into()), false).datum, Datum::Unsupported));
        assert!(matches!(cell(Some(PgType::Int4), &Value::Text("x".into()), false).datum, Datum::Invalid { .. }));
        assert_eq!(column_type(None, false, [Value::Null, Value::Integer(1)].iter()), Some(PgType::Int8));
        assert_eq!(argument(23, -1i32 as u32 as i64, None).unwrap(), Value::Integer(-1));
        assert_eq!(argument(1082, 1, None).unwrap(), Value::Text("2000-01-02".into()));
        assert_eq!(word(cell(Some(PgType::Time), &Value::Text("00:00:01.5".into()), false)), 1_500_000);
        assert_eq!(argument(1083, 1_500_000, None).unwrap(), Value::Text("00:00:01.5".into()));
        assert!(argument(1700, 0, None).is_err());
    }
}
