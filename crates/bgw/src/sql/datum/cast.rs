//! PostgreSQL's casts between the types the host knows: [`cast`] is an explicit cast (`x::varchar(3)`
//! truncates), [`cast_assign`] the assignment cast a stored value gets (`varchar(3)` refuses a longer value).
//! A cast PostgreSQL does not have is refused with 42846 "cannot cast type X to Y".
//!
//! Runs in: any process that runs SQL.

use super::datetime::{self, DateTime, Interval, USECS_PER_DAY};
use super::json::{self, Json};
use super::numeric::{self, Numeric};
use super::scalar::{float4_text, float_text, string_typmod};
use super::{array, input, output, raw_text, Typmod};
use crate::sql::error::SqlError;
use crate::sql::types::PgType;
use crate::sql::value::Value;

use PgType as T;

/// The explicit cast of `value` (stored as `from` stores it) to `to` with modifier `typmod`.
pub fn cast(value: &Value, from: PgType, to: PgType, typmod: Typmod) -> Result<Value, SqlError> {
    convert(value, from, to, typmod, true)
}

/// The assignment cast (what storing a value in a column of type `to` does).
pub fn cast_assign(value: &Value, from: PgType, to: PgType, typmod: Typmod) -> Result<Value, SqlError> {
    convert(value, from, to, typmod, false)
}

fn cannot(from: PgType, to: PgType) -> SqlError {
    SqlError::error("42846", format!("cannot cast type {} to {}", from.sql_name(), to.sql_name()))
}

fn int_out_of_range(to: PgType) -> SqlError {
    SqlError::error(
        "22003",
        match to {
            T::Int2 => "smallint out of range",
            T::Int4 => "integer out of range",
            T::Int8 => "bigint out of range",
            _ => "OID out of range",
        },
    )
}

/// An i64 that must fit `to`.
fn fit_int(i: i64, to: PgType) -> Result<Value, SqlError> {
    let fits = match to {
        T::Int2 => i16::try_from(i).is_ok(),
        T::Int4 => i32::try_from(i).is_ok(),
        T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace => {
            u32::try_from(i).is_ok() || i32::try_from(i).is_ok()
        }
        _ => true,
    };
    if !fits {
        return Err(int_out_of_range(to));
    }
    if matches!(to, T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace) && i < 0 {
        return Ok(Value::Integer(i64::from(i as i32 as u32)));
    }
    Ok(Value::Integer(i))
}

fn int_of(value: &Value, from: PgType) -> Result<i64, SqlError> {
    match value {
        Value::Integer(i) => Ok(*i),
        other => super::scalar::parse_int(from, &raw_text(other)),
    }
}

fn float_of(value: &Value, from: PgType) -> Result<f64, SqlError> {
    match value {
        Value::Real(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        other => super::scalar::parse_float(from, &raw_text(other)),
    }
}

/// A float rounded to an integer as PostgreSQL does (`rint`: half to even), within `to`'s range.
fn float_to_int(f: f64, to: PgType) -> Result<Value, SqlError> {
    let r = f.round_ties_even();
    if !r.is_finite() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
        return Err(int_out_of_range(to));
    }
    fit_int(r as i64, to)
}

fn float4_of(f: f64) -> Result<f64, SqlError> {
    let narrow = f as f32;
    if narrow.is_infinite() && f.is_finite() {
        return Err(SqlError::error("22003", "value out of range: overflow"));
    }
    if narrow == 0.0 && f != 0.0 {
        return Err(SqlError::error("22003", "value out of range: underflow"));
    }
    Ok(f64::from(narrow))
}

/// The text a value of `from` casts to (bool as `true`/`false`, bpchar without its padding).
fn text_of(value: &Value, from: PgType) -> String {
    match from {
        T::Bool => match output(from, value).as_deref() {
            Some("t") => "true".into(),
            Some("f") => "false".into(),
            other => other.unwrap_or_default().to_owned(),
        },
        T::Bpchar => raw_text(value).trim_end_matches(' ').to_owned(),
        T::Float4 => match value {
            Value::Real(f) => float4_text(*f as f32),
            other => raw_text(other),
        },
        T::Float8 => match value {
            Value::Real(f) => float_text(*f),
            other => raw_text(other),
        },
        _ => output(from, value).unwrap_or_default(),
    }
}

fn convert(value: &Value, from: PgType, to: PgType, typmod: Typmod, explicit: bool) -> Result<Value, SqlError> {
    if matches!(value, Value::Null) {
        return Ok(Value::Null);
    }
    let is_text = |t: PgType| matches!(t, T::Text | T::Varchar | T::Bpchar | T::Name | T::Unknown);
    // To a string type: the output function (any type, explicitly; PostgreSQL's I/O conversion).
    if is_text(to) {
        let text = text_of(value, from);
        return Ok(Value::Text(string_typmod(to, &text, typmod, explicit)?));
    }
    // From a string type: the input function.
    if is_text(from) {
        let text = text_of(value, from);
        return input(to, &text, typmod);
    }
    if from == to {
        return same_type(value, to, typmod);
    }
    if from.is_array() && to.is_array() {
        let (fe, te) = (from.element().unwrap_or(T::Text), to.element().unwrap_or(T::Text));
        let mut arr = array::of_value(from, value)?;
        for element in arr.elements.iter_mut().flatten() {
            let v = input(fe, element, -1)?;
            let converted = convert(&v, fe, te, typmod, explicit)?;
            *element = output(te, &converted).unwrap_or_default();
        }
        return Ok(array::to_value(to, &arr));
    }
    let numeric_value = |v: &Value| numeric::of_value(v);
    match (from, to) {
        // Numbers.
        (T::Int2 | T::Int4 | T::Int8, T::Int2 | T::Int4 | T::Int8) => fit_int(int_of(value, from)?, to),
        (T::Int2 | T::Int4 | T::Int8, T::Float8) => Ok(Value::Real(int_of(value, from)? as f64)),
        (T::Int2 | T::Int4 | T::Int8, T::Float4) => Ok(Value::Real(f64::from(int_of(value, from)? as f32))),
        (T::Int2 | T::Int4 | T::Int8, T::Numeric) => {
            Ok(numeric::to_value(&Numeric::from_i64(int_of(value, from)?).apply_typmod(typmod)?))
        }
        (T::Float4 | T::Float8, T::Int2 | T::Int4 | T::Int8) => float_to_int(float_of(value, from)?, to),
        (T::Float8, T::Float4) => Ok(Value::Real(float4_of(float_of(value, from)?)?)),
        (T::Float4, T::Float8) => Ok(Value::Real(float_of(value, from)?)),
        (T::Float4 | T::Float8, T::Numeric) => {
            let f = float_of(value, from)?;
            let digits = if from == T::Float4 { 6 } else { 15 };
            Ok(numeric::to_value(&Numeric::from_f64(f, digits)?.apply_typmod(typmod)?))
        }
        (T::Numeric, T::Int2 | T::Int4 | T::Int8) => {
            let n = numeric_value(value)?;
            match n {
                Numeric::NaN => Err(SqlError::error("0A000", format!("cannot convert NaN to {}", to.sql_name()))),
                Numeric::Inf(_) => {
                    Err(SqlError::error("0A000", format!("cannot convert infinity to {}", to.sql_name())))
                }
                finite => fit_int(finite.to_i64().ok_or_else(|| int_out_of_range(to))?, to),
            }
        }
        (T::Numeric, T::Float8) => Ok(Value::Real(numeric_value(value)?.to_f64())),
        (T::Numeric, T::Float4) => Ok(Value::Real(float4_of(numeric_value(value)?.to_f64())?)),
        // bool and int4.
        (T::Bool, T::Int4) => Ok(Value::Integer(i64::from(int_of(value, T::Int8)? != 0))),
        (T::Int4, T::Bool) => Ok(Value::Integer(i64::from(int_of(value, from)? != 0))),
        // OIDs.
        (T::Int2 | T::Int4 | T::Int8, T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace)
        | (
            T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace,
            T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace,
        ) => fit_int(int_of(value, T::Int8)?, to),
        (T::Oid | T::Regclass | T::Regproc | T::Regtype | T::Regnamespace, T::Int4 | T::Int8) => {
            let oid = int_of(value, T::Int8)?;
            Ok(Value::Integer(if to == T::Int4 { i64::from(oid as u32 as i32) } else { oid }))
        }
        // "char" and int4.
        (T::Int4, T::Char) => {
            let i = int_of(value, from)?;
            let byte = i8::try_from(i).map_err(|_| SqlError::error("22003", "\"char\" out of range"))? as u8;
            super::recv(T::Char, &[byte])
        }
        (T::Char, T::Int4) => {
            let bytes = super::send(T::Char, value)?;
            Ok(Value::Integer(i64::from(bytes.first().copied().unwrap_or(0) as i8)))
        }
        // Dates and times.
        (T::Date | T::Timestamp | T::Timestamptz | T::Time | T::Interval, _)
            if matches!(to, T::Date | T::Timestamp | T::Timestamptz | T::Time | T::Interval) =>
        {
            datetime_cast(value, from, to, typmod)
        }
        // json and jsonb.
        (T::Json, T::Jsonb) => Ok(Value::Text(json::jsonb_text(&raw_text(value))?)),
        (T::Jsonb, T::Json) => Ok(Value::Text(raw_text(value))),
        (T::Jsonb, T::Bool | T::Numeric | T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8) => {
            jsonb_scalar(value, to, typmod)
        }
        _ => Err(cannot(from, to)),
    }
}

/// A value cast to its own type: the modifier applied.
fn same_type(value: &Value, ty: PgType, typmod: Typmod) -> Result<Value, SqlError> {
    if typmod < 0 {
        return Ok(value.clone());
    }
    match ty {
        T::Numeric => Ok(numeric::to_value(&numeric::of_value(value)?.apply_typmod(typmod)?)),
        T::Time | T::Timestamp | T::Timestamptz | T::Interval => input(ty, &raw_text(value), typmod),
        _ if ty.is_array() => {
            let elem = ty.element().unwrap_or(T::Text);
            let mut arr = array::of_value(ty, value)?;
            for element in arr.elements.iter_mut().flatten() {
                let v = input(elem, element, -1)?;
                let converted = same_type(&v, elem, typmod)?;
                *element = output(elem, &converted).unwrap_or_default();
            }
            Ok(array::to_value(ty, &arr))
        }
        _ => Ok(value.clone()),
    }
}

fn datetime_cast(value: &Value, from: PgType, to: PgType, typmod: Typmod) -> Result<Value, SqlError> {
    let v = DateTime::of_value(from, value)?;
    let result = match (v, to) {
        (DateTime::Date(d), T::Timestamp) => DateTime::Timestamp(datetime::date_to_timestamp(d)),
        (DateTime::Date(d), T::Timestamptz) => DateTime::Timestamptz(datetime::date_to_timestamp(d)),
        (DateTime::Timestamp(t) | DateTime::Timestamptz(t), T::Date) => DateTime::Date(datetime::timestamp_to_date(t)),
        (DateTime::Timestamp(t), T::Timestamptz) => DateTime::Timestamptz(t),
        (DateTime::Timestamptz(t), T::Timestamp) => DateTime::Timestamp(t),
        (DateTime::Timestamp(t) | DateTime::Timestamptz(t), T::Time)
            if t != datetime::TS_NOBEGIN && t != datetime::TS_NOEND =>
        {
            DateTime::Time(t.rem_euclid(USECS_PER_DAY))
        }
        (DateTime::Time(t), T::Interval) => DateTime::Interval(Interval { months: 0, days: 0, micros: t }),
        (DateTime::Interval(iv), T::Time) => DateTime::Time(iv.micros.rem_euclid(USECS_PER_DAY)),
        (DateTime::Timestamp(_) | DateTime::Timestamptz(_), T::Time) => {
            return Err(SqlError::error("22008", "timestamp out of range"))
        }
        _ => return Err(cannot(from, to)),
    };
    if typmod >= 0 {
        return input(to, &result.text(), typmod);
    }
    Ok(result.to_value())
}

fn jsonb_scalar(value: &Value, to: PgType, typmod: Typmod) -> Result<Value, SqlError> {
    let parsed = json::parse(&raw_text(value), T::Jsonb)?;
    let kind = match &parsed {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "numeric",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    };
    let refuse = || SqlError::error("22023", format!("cannot cast jsonb {kind} to type {}", to.sql_name()));
    match (parsed, to) {
        (Json::Bool(b), T::Bool) => Ok(Value::Integer(b.into())),
        (Json::Number(n), T::Numeric) => Ok(numeric::to_value(&n.apply_typmod(typmod)?)),
        (Json::Number(n), T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8) => {
            convert(&numeric::to_value(&n), T::Numeric, to, typmod, true)
        }
        _ => Err(refuse()),
    }
}
