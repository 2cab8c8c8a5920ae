//! The SQLite functions over this module's values, for the translator's rewritten SQL ([`register`]):
//!
//! | function | what it does |
//! |---|---|
//! | `pg_cast(v, from, to [, typmod])`, `pg_cast_assign(...)` | PostgreSQL's explicit and assignment casts; `to` may carry its modifier (`numeric(10,2)`) |
//! | `pg_in(text, typname [, typmod])`, `pg_out(v, typname)` | the input and output functions |
//! | `pg_numeric_add/sub/mul/div/mod(a, b)`, `pg_numeric_cmp(a, b)` | numeric arithmetic (canonical text) and order (-1, 0, 1) |
//! | `pg_numeric_sum(x)`, `pg_numeric_avg(x)` (aggregates) | exact sum and average as numeric |
//! | `pg_int_div(a, b [, typname])`, `pg_int_mod(...)`, `pg_float_div(a, b)` | 22012 on division by zero, 22003 on overflow (typname int2, int4 or int8, default int8) |
//! | `pg_ts_add_interval(ts, iv, typname)`, `pg_ts_sub_interval(...)` | timestamp, timestamptz or date ± interval (a date gives a timestamp) |
//! | `pg_ts_diff(a, b)` | timestamp - timestamp = interval |
//! | `pg_date_add_int(d, n)`, `pg_date_diff(a, b)` | date + integer, date - date |
//! | `pg_date_trunc(field, v, typname)`, `pg_extract(field, v, typname)`, `pg_date_part(...)` | `date_trunc`, `extract` (numeric), `date_part` (float8) |
//! | `pg_now()`, `pg_clock_timestamp()` | the transaction's start time and the current time, timestamptz |
//!
//! All are deterministic except the two clocks, and all are SQLITE_INNOCUOUS (no side effects), so views,
//! defaults and checks may use them. `pg_now()` is the time of its first call in the current transaction: the
//! SQLite engine calls [`transaction_ended`] whenever a transaction (a statement's own or a block) ends, and the
//! next call reads the clock again. An error is raised with [`crate::sql::sqlite::function_failed`], so that it
//! reaches the client with its SQLSTATE.
//!
//! Runs in: any process that runs SQL.

use std::cell::Cell;

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::Connection;

use super::datetime::{self, DateTime, Interval};
use super::numeric::{self, Numeric, SumState};
use super::{cast, cast_assign, input, output, raw_text, type_and_typmod, Typmod};
use crate::sql::error::SqlError;
use crate::sql::sqlite::function_failed;
use crate::sql::types::PgType;
use crate::sql::value::Value;

thread_local! {
    /// The time `pg_now()` returns until the current transaction ends.
    static NOW: Cell<Option<i64>> = const { Cell::new(None) };
}

/// A transaction ended: the next `pg_now()` reads the clock.
pub fn transaction_ended() {
    NOW.with(|n| n.set(None));
}

/// The current transaction's start time (the first `pg_now()` of the transaction), microseconds since 2000.
pub fn transaction_now() -> i64 {
    NOW.with(|n| match n.get() {
        Some(t) => t,
        None => {
            let t = datetime::now_micros();
            n.set(Some(t));
            t
        }
    })
}

fn arg(ctx: &Context<'_>, i: usize) -> Value {
    Value::from(ctx.get_raw(i))
}

fn text_arg(ctx: &Context<'_>, i: usize) -> String {
    raw_text(&arg(ctx, i))
}

fn ty_arg(ctx: &Context<'_>, i: usize) -> Result<(PgType, Typmod), SqlError> {
    type_and_typmod(&text_arg(ctx, i))
}

const PURE: FunctionFlags =
    FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DETERMINISTIC).union(FunctionFlags::SQLITE_INNOCUOUS);
const CLOCK: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);

fn define<F>(conn: &Connection, name: &str, nargs: &[i32], flags: FunctionFlags, f: F) -> rusqlite::Result<()>
where
    F: Fn(&Context<'_>) -> Result<Value, SqlError> + Send + Copy + 'static,
{
    for &n in nargs {
        conn.create_scalar_function(name, n, flags, move |ctx| f(ctx).map_err(function_failed))?;
    }
    Ok(())
}

/// Whether any argument is NULL (a strict function returns NULL then).
fn any_null(ctx: &Context<'_>, args: &[usize]) -> bool {
    args.iter().any(|&i| matches!(ctx.get_raw(i), rusqlite::types::ValueRef::Null))
}

fn numeric_op(ctx: &Context<'_>, op: fn(&Numeric, &Numeric) -> Result<Numeric, SqlError>) -> Result<Value, SqlError> {
    if any_null(ctx, &[0, 1]) {
        return Ok(Value::Null);
    }
    let a = numeric::of_value(&arg(ctx, 0))?;
    let b = numeric::of_value(&arg(ctx, 1))?;
    Ok(numeric::to_value(&op(&a, &b)?))
}

fn int_type(ctx: &Context<'_>) -> Result<PgType, SqlError> {
    if ctx.len() > 2 {
        Ok(ty_arg(ctx, 2)?.0)
    } else {
        Ok(PgType::Int8)
    }
}

fn int_overflow(ty: PgType) -> SqlError {
    SqlError::error(
        "22003",
        match ty {
            PgType::Int2 => "smallint out of range",
            PgType::Int4 => "integer out of range",
            _ => "bigint out of range",
        },
    )
}

fn int_args(ctx: &Context<'_>) -> Result<Option<(i64, i64, PgType)>, SqlError> {
    if any_null(ctx, &[0, 1]) {
        return Ok(None);
    }
    let ty = int_type(ctx)?;
    let int = |v: Value| match v {
        Value::Integer(i) => Ok(i),
        other => super::scalar::parse_int(PgType::Int8, &raw_text(&other)),
    };
    Ok(Some((int(arg(ctx, 0))?, int(arg(ctx, 1))?, ty)))
}

fn fits(i: i64, ty: PgType) -> Result<Value, SqlError> {
    let ok = match ty {
        PgType::Int2 => i16::try_from(i).is_ok(),
        PgType::Int4 => i32::try_from(i).is_ok(),
        _ => true,
    };
    if ok {
        Ok(Value::Integer(i))
    } else {
        Err(int_overflow(ty))
    }
}

fn division_by_zero() -> SqlError {
    SqlError::error("22012", "division by zero")
}

/// A date/time argument of type `ty`.
fn datetime_arg(ctx: &Context<'_>, i: usize, ty: PgType) -> Result<DateTime, SqlError> {
    DateTime::of_value(ty, &arg(ctx, i))
}

fn interval_arg(ctx: &Context<'_>, i: usize) -> Result<Interval, SqlError> {
    match datetime_arg(ctx, i, PgType::Interval)? {
        DateTime::Interval(iv) => Ok(iv),
        _ => Err(SqlError::error("XX000", "not an interval")),
    }
}

fn ts_plus(ctx: &Context<'_>, negate: bool) -> Result<Value, SqlError> {
    if any_null(ctx, &[0, 1]) {
        return Ok(Value::Null);
    }
    let (ty, _) = ty_arg(ctx, 2)?;
    let mut iv = interval_arg(ctx, 1)?;
    if negate {
        iv = datetime::interval_neg(&iv)?;
    }
    Ok(match datetime_arg(ctx, 0, ty)? {
        DateTime::Timestamp(t) => DateTime::Timestamp(datetime::timestamp_add(t, &iv)?),
        DateTime::Timestamptz(t) => DateTime::Timestamptz(datetime::timestamp_add(t, &iv)?),
        DateTime::Date(d) => DateTime::Timestamp(datetime::timestamp_add(datetime::date_to_timestamp(d), &iv)?),
        DateTime::Time(t) => DateTime::Time((t + iv.micros).rem_euclid(datetime::USECS_PER_DAY)),
        DateTime::Interval(a) => {
            let sum =
                |x: i64, y: i64| x.checked_add(y).ok_or_else(|| SqlError::error("22008", "interval out of range"));
            DateTime::Interval(Interval {
                months: i32::try_from(sum(a.months.into(), iv.months.into())?)
                    .map_err(|_| SqlError::error("22008", "interval out of range"))?,
                days: i32::try_from(sum(a.days.into(), iv.days.into())?)
                    .map_err(|_| SqlError::error("22008", "interval out of range"))?,
                micros: sum(a.micros, iv.micros)?,
            })
        }
    }
    .to_value())
}

fn timestamp_of(v: DateTime) -> Result<i64, SqlError> {
    match v {
        DateTime::Timestamp(t) | DateTime::Timestamptz(t) => Ok(t),
        DateTime::Date(d) => Ok(datetime::date_to_timestamp(d)),
        other => Err(SqlError::error("42883", format!("date_trunc is not defined for type {}", other.ty().sql_name()))),
    }
}

/// The typname argument of a date/time function, or the type the text reads as (timestamptz if it carries a
/// zone, else timestamp).
fn datetime_type(ctx: &Context<'_>, i: usize, value: &Value) -> Result<PgType, SqlError> {
    if ctx.len() > i {
        return Ok(ty_arg(ctx, i)?.0);
    }
    let text = raw_text(value);
    Ok(if text.ends_with("+00") { PgType::Timestamptz } else { PgType::Timestamp })
}

/// `pg_numeric_sum` and `pg_numeric_avg`.
struct NumericAggregate {
    avg: bool,
}

impl Aggregate<SumState, Value> for NumericAggregate {
    fn init(&self, _ctx: &mut Context<'_>) -> rusqlite::Result<SumState> {
        Ok(SumState::default())
    }

    fn step(&self, ctx: &mut Context<'_>, state: &mut SumState) -> rusqlite::Result<()> {
        let value = arg(ctx, 0);
        if matches!(value, Value::Null) {
            return Ok(());
        }
        let n = numeric::of_value(&value).map_err(function_failed)?;
        state.add(&n).map_err(function_failed)
    }

    fn finalize(&self, _ctx: &mut Context<'_>, state: Option<SumState>) -> rusqlite::Result<Value> {
        let state = state.unwrap_or_default();
        let result = if self.avg { state.avg().map_err(function_failed)? } else { state.sum() };
        Ok(result.map_or(Value::Null, |n| numeric::to_value(&n)))
    }
}

/// Defines this module's SQL functions on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    define(conn, "pg_cast", &[3, 4], PURE, |ctx| {
        let (from, _) = ty_arg(ctx, 1)?;
        let (to, mut typmod) = ty_arg(ctx, 2)?;
        if ctx.len() > 3 {
            if let Value::Integer(t) = arg(ctx, 3) {
                typmod = t as Typmod;
            }
        }
        cast(&arg(ctx, 0), from, to, typmod)
    })?;
    define(conn, "pg_cast_assign", &[3, 4], PURE, |ctx| {
        let (from, _) = ty_arg(ctx, 1)?;
        let (to, mut typmod) = ty_arg(ctx, 2)?;
        if ctx.len() > 3 {
            if let Value::Integer(t) = arg(ctx, 3) {
                typmod = t as Typmod;
            }
        }
        cast_assign(&arg(ctx, 0), from, to, typmod)
    })?;
    define(conn, "pg_in", &[2, 3], PURE, |ctx| {
        if any_null(ctx, &[0]) {
            return Ok(Value::Null);
        }
        let (ty, mut typmod) = ty_arg(ctx, 1)?;
        if ctx.len() > 2 {
            if let Value::Integer(t) = arg(ctx, 2) {
                typmod = t as Typmod;
            }
        }
        input(ty, &text_arg(ctx, 0), typmod)
    })?;
    define(conn, "pg_out", &[2], PURE, |ctx| {
        let (ty, _) = ty_arg(ctx, 1)?;
        Ok(output(ty, &arg(ctx, 0)).map_or(Value::Null, Value::Text))
    })?;
    define(conn, "pg_numeric_add", &[2], PURE, |ctx| numeric_op(ctx, Numeric::add))?;
    define(conn, "pg_numeric_sub", &[2], PURE, |ctx| numeric_op(ctx, Numeric::sub))?;
    define(conn, "pg_numeric_mul", &[2], PURE, |ctx| numeric_op(ctx, Numeric::mul))?;
    define(conn, "pg_numeric_div", &[2], PURE, |ctx| numeric_op(ctx, Numeric::div))?;
    define(conn, "pg_numeric_mod", &[2], PURE, |ctx| numeric_op(ctx, Numeric::rem))?;
    define(conn, "pg_numeric_cmp", &[2], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let a = numeric::of_value(&arg(ctx, 0))?;
        let b = numeric::of_value(&arg(ctx, 1))?;
        Ok(Value::Integer(a.compare(&b) as i64))
    })?;
    conn.create_aggregate_function("pg_numeric_sum", 1, PURE, NumericAggregate { avg: false })?;
    conn.create_aggregate_function("pg_numeric_avg", 1, PURE, NumericAggregate { avg: true })?;
    define(conn, "pg_int_div", &[2, 3], PURE, |ctx| {
        let Some((a, b, ty)) = int_args(ctx)? else { return Ok(Value::Null) };
        if b == 0 {
            return Err(division_by_zero());
        }
        fits(a.checked_div(b).ok_or_else(|| int_overflow(ty))?, ty)
    })?;
    define(conn, "pg_int_mod", &[2, 3], PURE, |ctx| {
        let Some((a, b, ty)) = int_args(ctx)? else { return Ok(Value::Null) };
        if b == 0 {
            return Err(division_by_zero());
        }
        fits(a.wrapping_rem(b), ty)
    })?;
    define(conn, "pg_float_div", &[2], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let float = |v: Value| match v {
            Value::Integer(i) => Ok(i as f64),
            Value::Real(f) => Ok(f),
            other => super::scalar::parse_float(PgType::Float8, &raw_text(&other)),
        };
        let (a, b) = (float(arg(ctx, 0))?, float(arg(ctx, 1))?);
        if b == 0.0 {
            return Err(division_by_zero());
        }
        let q = a / b;
        if q.is_infinite() && a.is_finite() {
            return Err(SqlError::error("22003", "value out of range: overflow"));
        }
        Ok(Value::Real(q))
    })?;
    define(conn, "pg_ts_add_interval", &[3], PURE, |ctx| ts_plus(ctx, false))?;
    define(conn, "pg_ts_sub_interval", &[3], PURE, |ctx| ts_plus(ctx, true))?;
    define(conn, "pg_ts_diff", &[2, 3], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let ty = datetime_type(ctx, 2, &arg(ctx, 0))?;
        let a = timestamp_of(datetime_arg(ctx, 0, ty)?)?;
        let b = timestamp_of(datetime_arg(ctx, 1, ty)?)?;
        Ok(DateTime::Interval(datetime::timestamp_diff(a, b)?).to_value())
    })?;
    define(conn, "pg_date_add_int", &[2], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let DateTime::Date(d) = datetime_arg(ctx, 0, PgType::Date)? else { return Ok(Value::Null) };
        let n = match arg(ctx, 1) {
            Value::Integer(n) => n,
            other => super::scalar::parse_int(PgType::Int4, &raw_text(&other))?,
        };
        Ok(DateTime::Date(datetime::date_add_days(d, n)?).to_value())
    })?;
    define(conn, "pg_date_diff", &[2], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let (DateTime::Date(a), DateTime::Date(b)) =
            (datetime_arg(ctx, 0, PgType::Date)?, datetime_arg(ctx, 1, PgType::Date)?)
        else {
            return Ok(Value::Null);
        };
        Ok(Value::Integer(datetime::date_diff(a, b)?.into()))
    })?;
    define(conn, "pg_date_trunc", &[2, 3], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let field = text_arg(ctx, 0);
        let ty = datetime_type(ctx, 2, &arg(ctx, 1))?;
        let value = datetime_arg(ctx, 1, ty)?;
        if let DateTime::Interval(iv) = value {
            return Ok(DateTime::Interval(datetime::interval_trunc(&field, &iv)?).to_value());
        }
        let result_ty = if ty == PgType::Date { PgType::Timestamptz } else { ty };
        let t = datetime::timestamp_trunc(&field, timestamp_of(value)?, result_ty)?;
        Ok(if result_ty == PgType::Timestamptz { DateTime::Timestamptz(t) } else { DateTime::Timestamp(t) }.to_value())
    })?;
    define(conn, "pg_extract", &[2, 3], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let ty = datetime_type(ctx, 2, &arg(ctx, 1))?;
        let value = datetime_arg(ctx, 1, ty)?;
        Ok(numeric::to_value(&datetime::extract(&text_arg(ctx, 0), &value)?))
    })?;
    define(conn, "pg_date_part", &[2, 3], PURE, |ctx| {
        if any_null(ctx, &[0, 1]) {
            return Ok(Value::Null);
        }
        let ty = datetime_type(ctx, 2, &arg(ctx, 1))?;
        let value = datetime_arg(ctx, 1, ty)?;
        Ok(Value::Real(datetime::extract(&text_arg(ctx, 0), &value)?.to_f64()))
    })?;
    define(conn, "pg_now", &[0], CLOCK, |_| Ok(DateTime::Timestamptz(transaction_now()).to_value()))?;
    define(conn, "pg_clock_timestamp", &[0], CLOCK, |_| Ok(DateTime::Timestamptz(datetime::now_micros()).to_value()))?;
    Ok(())
}
