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

    #[test]
    fn names_are_checked() {
        assert!(check_function_name("worker_spi_launch").is_ok());
        for bad in ["", "1x", "a-b", "a b", "a\0", "f\u{e9}"] {
            assert!(check_function_name(bad).is_err(), "{bad:?}");
        }
    }
}
