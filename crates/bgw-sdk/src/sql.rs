//! SQL functions a module adds to every client session (`bgw_define_sql_function`).
//!
//! Purpose: [`define_function`] makes a safe Rust function `fn(&[SqlValue]) -> Result<SqlValue, SqlError>`
//! callable from SQL. The SDK generates the C function the host calls (one per Rust function), converts the
//! arguments, runs the Rust function, and hands back the result, or the error with its SQLSTATE and hint.
//!
//! ```no_run
//! use bgw_sdk::sql::{self, FunctionFlags, ResultType, SqlError, SqlValue};
//!
//! fn divide(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
//!     match (args[0].as_i64(), args[1].as_i64()) {
//!         (Some(_), Some(0)) => Err(SqlError::new("22012", "division by zero")),
//!         (Some(a), Some(b)) => Ok(SqlValue::Int(a / b)),
//!         _ => Ok(SqlValue::Null),
//!     }
//! }
//!
//! bgw_sdk::module_init!(|| -> Result<(), bgw_sdk::Error> {
//!     if bgw_sdk::preloading() {
//!         sql::define_function("my_divide", 2, ResultType::Int, FunctionFlags::empty(), divide)?;
//!     }
//!     Ok(())
//! });
//! # fn main() {}
//! ```
//!
//! Invariants (why nothing here ever jumps):
//! - The host can fail a statement two ways: `ereport(ERROR)` inside the function, which `siglongjmp`s back to
//!   the host's trap over every frame in between, or `bgw_sql_error` followed by a non-zero return. Jumping over
//!   Rust frames skips their destructors and is undefined behaviour for frames that have any, so the SDK only
//!   uses the second way: an `Err` becomes `bgw_sql_error(sqlstate, message, hint)` and return 1.
//! - A panic in the function is caught (it must not unwind into the host) and fails the statement with
//!   SQLSTATE XX000 and the panic's message; its location goes to the server log as a WARNING.
//! - While a SQL function runs, the SDK's ERROR and FATAL logging ([`error!`](crate::error),
//!   [`fatal!`](crate::fatal), [`Report`] at those levels) does not call the host (whose ERROR
//!   would jump): it unwinds to the SDK's trampoline, which fails the statement (XX000) with that message and
//!   hint. FATAL does not end the session here.
//! - The host functions the SDK calls for you validate first, so the host's own ERRORs (which would jump) are
//!   not reached for mistakes the SDK can see; see the crate README for what remains.
//! - Each Rust function is identified by its type (a function item or a closure that captures nothing: a
//!   zero-sized type, checked at compile time), so the trampoline finds it without any global state in C.
//!
//! Where to define: in `_PG_init` while preloading; backends inherit the definitions from the postmaster. (A
//! definition made in a process that loads the module later stays in that process.)
//!
//! Layer: the top of the SDK's internal stack: above `ffi` (which holds the C trampoline and calls back through
//! `ffi::SqlDispatch`), `ctext`, `catch`, `sqlcall` and `elog`.
//!
//! Runs in: the postmaster (defining) and backends (calling).

use crate::catch::catch;
use crate::ctext::c_text;
use crate::elog::{Level, Report};
use crate::error::Error;
use crate::ffi::{self, RawSqlValue, SqlErrorParts};
use crate::sqlcall::{self, Raised};
use std::any::TypeId;
use std::ffi::CString;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

pub use crate::sqlcall::in_sql_function;

/// A SQL value: an argument or a result.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SqlValue {
    #[default]
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl SqlValue {
    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
    /// The integer of an `Int` (a `Real` or anything else is None).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The number of a `Real` or an `Int`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Real(r) => Some(*r),
            SqlValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(t) => Some(t),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SqlValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn kind_name(&self) -> &'static str {
        match self {
            SqlValue::Null => "null",
            SqlValue::Int(_) => "bigint",
            SqlValue::Real(_) => "double precision",
            SqlValue::Text(_) => "text",
            SqlValue::Bool(_) => "boolean",
        }
    }
    fn from_raw(v: RawSqlValue) -> SqlValue {
        match v {
            RawSqlValue::Null => SqlValue::Null,
            RawSqlValue::Int(i) => SqlValue::Int(i),
            RawSqlValue::Real(r) => SqlValue::Real(r),
            RawSqlValue::Text(t) => SqlValue::Text(t.to_string_lossy().into_owned()),
            RawSqlValue::Bool(b) => SqlValue::Bool(b),
        }
    }
    fn into_raw(self) -> RawSqlValue {
        match self {
            SqlValue::Null => RawSqlValue::Null,
            SqlValue::Int(i) => RawSqlValue::Int(i),
            SqlValue::Real(r) => RawSqlValue::Real(r),
            SqlValue::Text(t) => RawSqlValue::Text(c_text(&t)),
            SqlValue::Bool(b) => RawSqlValue::Bool(b),
        }
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}
impl From<i32> for SqlValue {
    fn from(v: i32) -> Self {
        SqlValue::Int(v.into())
    }
}
impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Bool(v)
    }
}
impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}
impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_string())
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A SQL function's declared result type (`BGW_SQL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// `bigint` (`BGW_SQL_INT8`).
    Int,
    /// `double precision` (`BGW_SQL_FLOAT8`).
    Real,
    /// `text` (`BGW_SQL_TEXT`).
    Text,
    /// `boolean` (`BGW_SQL_BOOL`).
    Bool,
}

impl ResultType {
    /// The C value.
    pub const fn to_raw(self) -> i32 {
        match self {
            ResultType::Int => ffi::BGW_SQL_INT8,
            ResultType::Real => ffi::BGW_SQL_FLOAT8,
            ResultType::Text => ffi::BGW_SQL_TEXT,
            ResultType::Bool => ffi::BGW_SQL_BOOL,
        }
    }
    /// Whether `v` may be returned (NULL always may; an `Int` is accepted for `Real` and converted).
    fn accept(self, v: SqlValue) -> Result<SqlValue, SqlValue> {
        match (self, v) {
            (_, SqlValue::Null) => Ok(SqlValue::Null),
            (ResultType::Int, v @ SqlValue::Int(_)) => Ok(v),
            (ResultType::Real, v @ SqlValue::Real(_)) => Ok(v),
            (ResultType::Real, SqlValue::Int(i)) => Ok(SqlValue::Real(i as f64)),
            (ResultType::Text, v @ SqlValue::Text(_)) => Ok(v),
            (ResultType::Bool, v @ SqlValue::Bool(_)) => Ok(v),
            (_, v) => Err(v),
        }
    }
    fn name(self) -> &'static str {
        match self {
            ResultType::Int => "bigint",
            ResultType::Real => "double precision",
            ResultType::Text => "text",
            ResultType::Bool => "boolean",
        }
    }
}

/// Flags of a SQL function (`BGW_SQLFN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FunctionFlags(i32);

impl FunctionFlags {
    /// `BGW_SQLFN_SUPERUSER`: only superusers may call it (others get 42501, "permission denied for function").
    pub const SUPERUSER: FunctionFlags = FunctionFlags(ffi::BGW_SQLFN_SUPERUSER);
    pub const fn empty() -> FunctionFlags {
        FunctionFlags(0)
    }
    pub const fn bits(self) -> i32 {
        self.0
    }
}

/// The error a SQL function reports: the statement fails with this SQLSTATE, message and hint, and the session
/// goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Five characters, digits and upper-case letters (PostgreSQL's error codes); anything else is sent as XX000.
    pub sqlstate: String,
    pub message: String,
    pub hint: Option<String>,
}

impl SqlError {
    pub fn new(sqlstate: impl Into<String>, message: impl Into<String>) -> SqlError {
        SqlError { sqlstate: sqlstate.into(), message: message.into(), hint: None }
    }
    /// An internal error (XX000).
    pub fn internal(message: impl Into<String>) -> SqlError {
        SqlError::new("XX000", message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> SqlError {
        self.hint = Some(hint.into());
        self
    }
    /// The SQLSTATE the host is given: this one if well-formed, else XX000.
    pub fn effective_sqlstate(&self) -> &str {
        let ok =
            self.sqlstate.len() == 5 && self.sqlstate.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if ok {
            &self.sqlstate
        } else {
            "XX000"
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.effective_sqlstate())
    }
}

impl std::error::Error for SqlError {}

type Function = dyn Fn(&[SqlValue]) -> Result<SqlValue, SqlError> + Send + Sync;

struct Defined {
    type_id: TypeId,
    name: String,
    result: ResultType,
    f: Arc<Function>,
}

/// The Rust functions behind the trampolines, by type. Filled in `_PG_init`; backends inherit it through fork.
static FUNCTIONS: Mutex<Vec<Defined>> = Mutex::new(Vec::new());

/// The most arguments the host accepts.
pub const MAX_ARGS: usize = ffi::BGW_SQLFN_MAX_ARGS as usize;

/// Defines the SQL function `name` with `nargs` arguments and result type `result`, implemented by `f`.
///
/// `f` must be a function item or a closure that captures nothing (checked at compile time): the SDK finds it
/// by its type. Refused before the host is called: a name that is not `[A-Za-z_][A-Za-z0-9_]*`, more than
/// [`MAX_ARGS`] arguments. A function of the same name and number of arguments defined earlier is replaced (the
/// host's rule).
pub fn define_function<F>(name: &str, nargs: usize, result: ResultType, flags: FunctionFlags, f: F) -> Result<(), Error>
where
    F: Fn(&[SqlValue]) -> Result<SqlValue, SqlError> + Send + Sync + 'static,
{
    const { assert!(std::mem::size_of::<F>() == 0, "a SQL function must be a fn item or a closure that captures nothing") };
    check_function_name(name)?;
    if nargs > MAX_ARGS {
        return Err(Error::InvalidSqlFunction {
            name: name.to_string(),
            reason: format!("{nargs} arguments (at most {MAX_ARGS})"),
        });
    }
    let c_name = CString::new(name).expect("checked for NUL");
    {
        let mut table = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
        let type_id = TypeId::of::<F>();
        table.retain(|d| d.type_id != type_id);
        table.push(Defined { type_id, name: name.to_string(), result, f: Arc::new(f) });
    }
    ffi::define_sql_function(&c_name, nargs as i32, result.to_raw(), flags.bits(), ffi::sql_trampoline::<Dispatch<F>>);
    Ok(())
}

/// A SQL function made by `#[bgw_sdk::sql_function]` (the attribute implements this for a type named like the
/// Rust function); define it in `_PG_init` with [`define`].
pub trait SqlFunction: 'static {
    /// The SQL name.
    const NAME: &'static str;
    const NARGS: usize;
    const RESULT: ResultType;
    const FLAGS: FunctionFlags;
    /// Converts the arguments, calls the Rust function and converts its result.
    fn call(args: &[SqlValue]) -> Result<SqlValue, SqlError>;
}

/// Defines the SQL function `F` made by `#[bgw_sdk::sql_function]` (see [`define_function`] for the rules).
///
/// ```no_run
/// #[bgw_sdk::sql_function]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// bgw_sdk::module_init!(|| -> Result<(), bgw_sdk::Error> {
///     if bgw_sdk::preloading() {
///         bgw_sdk::sql::define::<add>()?;
///     }
///     Ok(())
/// });
/// # fn main() {}
/// ```
pub fn define<F: SqlFunction>() -> Result<(), Error> {
    define_function(F::NAME, F::NARGS, F::RESULT, F::FLAGS, |args: &[SqlValue]| F::call(args))
}

/// An argument type of a `#[bgw_sdk::sql_function]`: `i16`, `i32`, `i64`, `f32`, `f64`, `bool`, `String`, `&str`,
/// or `Option` of one (which receives NULL as None).
pub trait FromSqlArg<'a>: Sized {
    /// The argument from its SQL value: `Ok(None)` for a NULL given to a non-`Option` type (the function then
    /// returns NULL without being called, as PostgreSQL's STRICT functions do); an error (42804) for a value of
    /// another type or out of range. `function`, `position` (from 1) and `name` are for the message.
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError>;
}

fn mismatch(v: &SqlValue, function: &str, position: usize, name: &str, wanted: &str) -> SqlError {
    SqlError::new(
        "42804",
        format!("argument {position} ({name}) of function {function} must be {wanted}, not {}", v.kind_name()),
    )
}

macro_rules! int_arg {
    ($($t:ty => $wanted:literal),*) => {$(
        impl<'a> FromSqlArg<'a> for $t {
            fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
                match v {
                    SqlValue::Null => Ok(None),
                    SqlValue::Int(i) => <$t>::try_from(*i).map(Some).map_err(|_| {
                        SqlError::new("22003", format!("{} out of range", $wanted))
                    }),
                    other => Err(mismatch(other, function, position, name, $wanted)),
                }
            }
        }
    )*};
}
int_arg!(i16 => "smallint", i32 => "integer", i64 => "bigint");

impl<'a> FromSqlArg<'a> for f64 {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        match v {
            SqlValue::Null => Ok(None),
            SqlValue::Real(r) => Ok(Some(*r)),
            SqlValue::Int(i) => Ok(Some(*i as f64)),
            // A numeric (`1.5`) reaches a module as its text.
            SqlValue::Text(t) if t.trim().parse::<f64>().is_ok() => Ok(t.trim().parse().ok()),
            other => Err(mismatch(other, function, position, name, "double precision")),
        }
    }
}

impl<'a> FromSqlArg<'a> for f32 {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        Ok(f64::from_sql_arg(v, function, position, name)?.map(|r| r as f32))
    }
}

impl<'a> FromSqlArg<'a> for bool {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        match v {
            SqlValue::Null => Ok(None),
            SqlValue::Bool(b) => Ok(Some(*b)),
            other => Err(mismatch(other, function, position, name, "boolean")),
        }
    }
}

impl<'a> FromSqlArg<'a> for &'a str {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        match v {
            SqlValue::Null => Ok(None),
            SqlValue::Text(t) => Ok(Some(t)),
            other => Err(mismatch(other, function, position, name, "text")),
        }
    }
}

impl<'a> FromSqlArg<'a> for String {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        Ok(<&str>::from_sql_arg(v, function, position, name)?.map(str::to_string))
    }
}

impl<'a, T: FromSqlArg<'a>> FromSqlArg<'a> for Option<T> {
    fn from_sql_arg(v: &'a SqlValue, function: &str, position: usize, name: &str) -> Result<Option<Self>, SqlError> {
        Ok(Some(T::from_sql_arg(v, function, position, name)?))
    }
}

/// A result type of a `#[bgw_sdk::sql_function]`: integers, floats, `bool`, `String`, `&str`, or `Option` of one
/// (None is NULL).
pub trait IntoSqlValue {
    /// The declared result type.
    const RESULT: ResultType;
    fn into_sql_value(self) -> SqlValue;
}

macro_rules! into_value {
    ($($t:ty => $kind:ident, $variant:ident, $conv:expr;)*) => {$(
        impl IntoSqlValue for $t {
            const RESULT: ResultType = ResultType::$kind;
            fn into_sql_value(self) -> SqlValue {
                SqlValue::$variant($conv(self))
            }
        }
    )*};
}
into_value! {
    i16 => Int, Int, i64::from;
    i32 => Int, Int, i64::from;
    i64 => Int, Int, std::convert::identity;
    f32 => Real, Real, f64::from;
    f64 => Real, Real, std::convert::identity;
    bool => Bool, Bool, std::convert::identity;
    String => Text, Text, std::convert::identity;
    &str => Text, Text, str::to_string;
}

impl<T: IntoSqlValue> IntoSqlValue for Option<T> {
    const RESULT: ResultType = T::RESULT;
    fn into_sql_value(self) -> SqlValue {
        self.map_or(SqlValue::Null, T::into_sql_value)
    }
}

fn check_function_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "SQL function",
            name: name.to_string(),
            reason: "it must match [A-Za-z_][A-Za-z0-9_]*",
        })
    }
}

fn to_c(e: &SqlError) -> SqlErrorParts {
    (c_text(e.effective_sqlstate()), c_text(&e.message), e.hint.as_deref().map(c_text))
}

/// What the C trampoline for the Rust function `F` calls back (the trampoline is `ffi::sql_trampoline`, which
/// knows nothing of this module: it only knows [`ffi::SqlDispatch`]).
struct Dispatch<F>(PhantomData<fn() -> F>);

impl<F: 'static> ffi::SqlDispatch for Dispatch<F> {
    fn dispatch(args: Vec<RawSqlValue>) -> Result<RawSqlValue, SqlErrorParts> {
        dispatch::<F>(args)
    }
}

/// Runs the Rust function behind the trampoline for `F`: never unwinds, never jumps.
fn dispatch<F: 'static>(args: Vec<RawSqlValue>) -> Result<RawSqlValue, SqlErrorParts> {
    let found = {
        let table = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
        table.iter().find(|d| d.type_id == TypeId::of::<F>()).map(|d| (d.name.clone(), d.result, d.f.clone()))
    };
    let Some((name, result, f)) = found else {
        return Err(to_c(&SqlError::internal("the SQL function's Rust code is not defined in this process")));
    };
    let args: Vec<SqlValue> = args.into_iter().map(SqlValue::from_raw).collect();
    let outcome = sqlcall::run_as_sql_function(|| catch(|| f(&args)));
    let e = match outcome {
        Ok(Ok(v)) => match result.accept(v) {
            Ok(v) => return Ok(v.into_raw()),
            Err(v) => SqlError::new(
                "42804",
                format!("function {name} returned {} but is declared to return {}", v.kind_name(), result.name()),
            ),
        },
        Ok(Err(e)) => e,
        Err(panic) => match panic.payload.downcast::<Raised>() {
            Ok(raised) => {
                let Raised { message, hint } = *raised;
                SqlError { hint, ..SqlError::internal(message) }
            }
            Err(_) => {
                let location = panic.location.map(|l| format!(" at {l}")).unwrap_or_default();
                Report::new(Level::Warning, format!("SQL function {name} panicked"))
                    .detail(format!("Rust panic{location}: {}", panic.message))
                    .emit();
                SqlError::internal(panic.message)
            }
        },
    };
    Err(to_c(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_checked() {
        assert_eq!(SqlError::new("22012", "x").effective_sqlstate(), "22012");
        assert_eq!(SqlError::new("53400", "x").effective_sqlstate(), "53400");
        for bad in ["", "2201", "220122", "22o12", "abcde", "22\u{e9}1"] {
            assert_eq!(SqlError::new(bad, "x").effective_sqlstate(), "XX000", "{bad:?}");
        }
        assert_eq!(SqlError::internal("boom").with_hint("h").to_string(), "boom (XX000)");
    }

    #[test]
    fn values_convert() {
        assert_eq!(SqlValue::from(3i32), SqlValue::Int(3));
        assert_eq!(SqlValue::from(Some("a")), SqlValue::Text("a".into()));
        assert_eq!(SqlValue::from(None::<i64>), SqlValue::Null);
        assert_eq!(SqlValue::Int(2).as_f64(), Some(2.0));
        assert_eq!(SqlValue::Real(2.5).as_i64(), None);
        assert_eq!(SqlValue::Bool(true).as_bool(), Some(true));
        assert_eq!(SqlValue::Text("t".into()).as_str(), Some("t"));
        assert!(SqlValue::default().is_null());
    }

    #[test]
    fn results_must_match_the_declared_type() {
        assert_eq!(ResultType::Real.accept(SqlValue::Int(2)), Ok(SqlValue::Real(2.0)));
        assert_eq!(ResultType::Int.accept(SqlValue::Null), Ok(SqlValue::Null));
        assert_eq!(ResultType::Int.accept(SqlValue::Text("x".into())), Err(SqlValue::Text("x".into())));
        assert_eq!(ResultType::Bool.accept(SqlValue::Bool(false)), Ok(SqlValue::Bool(false)));
    }

    #[crate::sql_function(name = "typed_add")]
    fn add(a: i64, b: Option<i32>, s: &str) -> Result<String, std::fmt::Error> {
        if s == "fail" {
            return Err(std::fmt::Error);
        }
        Ok(format!("{s}{}", a + i64::from(b.unwrap_or(0))))
    }

    #[test]
    fn the_attribute_converts_arguments_and_results() {
        assert_eq!(<add as SqlFunction>::NAME, "typed_add");
        assert_eq!(<add as SqlFunction>::NARGS, 3);
        assert_eq!(<add as SqlFunction>::RESULT, ResultType::Text);
        let t = |s: &str| SqlValue::Text(s.into());
        assert_eq!(add::call(&[SqlValue::Int(1), SqlValue::Int(2), t("=")]), Ok(t("=3")));
        assert_eq!(add::call(&[SqlValue::Int(1), SqlValue::Null, t("=")]), Ok(t("=1")));
        assert_eq!(add::call(&[SqlValue::Null, SqlValue::Int(2), t("=")]), Ok(SqlValue::Null));
        let e = add::call(&[SqlValue::Int(1), SqlValue::Int(1), t("fail")]).unwrap_err();
        assert_eq!(
            (e.sqlstate.as_str(), e.message.as_str()),
            ("P0001", "an error occurred when formatting an argument")
        );
        let e = add::call(&[SqlValue::Int(1), SqlValue::Int(1 << 40), t("")]).unwrap_err();
        assert_eq!((e.sqlstate.as_str(), e.message.as_str()), ("22003", "integer out of range"));
        let e = add::call(&[t("x"), SqlValue::Int(1), t("")]).unwrap_err();
        assert_eq!(e.message, "argument 1 (a) of function typed_add must be bigint, not text");
        assert_eq!(add(1, None, "x"), Ok("x1".to_string()));
    }

    #[test]
    fn argument_types() {
        let f = |v: SqlValue| f64::from_sql_arg(&v, "f", 1, "x").map_err(|e| e.sqlstate);
        assert_eq!(f(SqlValue::Text("-1.5".into())), Ok(Some(-1.5)));
        assert_eq!(f(SqlValue::Int(2)), Ok(Some(2.0)));
        assert_eq!(f(SqlValue::Null), Ok(None));
        assert_eq!(f(SqlValue::Bool(true)), Err("42804".to_string()));
        assert_eq!(Option::<bool>::from_sql_arg(&SqlValue::Null, "f", 1, "x"), Ok(Some(None)));
        assert_eq!(Some(3i16).into_sql_value(), SqlValue::Int(3));
        assert_eq!(None::<f32>.into_sql_value(), SqlValue::Null);
        assert_eq!(<Option<bool> as IntoSqlValue>::RESULT, ResultType::Bool);
    }

    #[test]
    fn names_are_checked() {
        assert!(check_function_name("worker_spi_launch").is_ok());
        for bad in ["", "1x", "a-b", "a b", "a\0", "f\u{e9}"] {
            assert!(check_function_name(bad).is_err(), "{bad:?}");
        }
    }
}
