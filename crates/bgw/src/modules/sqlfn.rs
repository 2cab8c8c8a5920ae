//! SQL functions defined by modules (`bgw_define_sql_function`), callable from every backend.
//!
//! A module defines its functions in `_PG_init` while it is preloaded, so every backend (forked from the
//! postmaster) inherits the table; the backend registers them in each session's SQLite database. A function gets
//! its arguments as [`BgwSqlValue`]s and fills in its result. `ereport(ERROR)` inside it fails the statement with
//! that message and the session goes on, as in PostgreSQL: the call runs inside the trap of `sqlfn_trap.c`.
//!
//! A function defined with `BGW_SQLFN_SUPERUSER` may only be called by superusers: anyone else gets PostgreSQL's
//! "permission denied for function" (42501) and the function does not run.
//!
//! Runs in: the postmaster (defining, during preload) and backends (calling).

#![allow(non_snake_case, clippy::not_unsafe_ptr_arg_deref)]

use super::abi::text;
use crate::backend::host::{ModuleFunction, SqlArg, SqlError, SqlResultType};
use bgw_abi::{
    bgw_sql_function, BgwSqlValue, BGW_SQLFN_MAX_ARGS, BGW_SQLFN_SUPERUSER, BGW_SQL_BOOL, BGW_SQL_FLOAT8, BGW_SQL_INT8,
    BGW_SQL_NULL, BGW_SQL_TEXT,
};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;

extern "C" {
    fn bgw_sqlfn_trap_call(
        f: bgw_sql_function,
        nargs: c_int,
        args: *const BgwSqlValue,
        result: *mut BgwSqlValue,
        raised: *mut c_int,
    ) -> c_int;
    fn bgw_sqlfn_trap_active() -> c_int;
    fn bgw_trap_call_void(f: unsafe extern "C" fn()) -> c_int;
    fn bgw_sqlfn_trap_throw();
}

#[derive(Clone, Copy)]
struct Defined {
    f: bgw_sql_function,
    nargs: c_int,
    result: SqlResultType,
    flags: c_int,
}

static FUNCTIONS: Mutex<Vec<(String, Defined)>> = Mutex::new(Vec::new());

/// The error a trapped function raised, carried out of the C frames.
static RAISED: Mutex<Option<SqlError>> = Mutex::new(None);

/// Whether a module's SQL function is running (an ERROR must then fail the statement, not end the process).
pub fn in_call() -> bool {
    // SAFETY: reads a static of the C shim.
    unsafe { bgw_sqlfn_trap_active() != 0 }
}

/// Records an ERROR raised inside a module's SQL function and jumps back to the trap. The caller must own
/// nothing that needs dropping (everything is moved in here), since the jump skips its frame.
pub fn throw(message: String, detail: Option<String>, hint: Option<String>) -> ! {
    {
        let mut e = SqlError::error("XX000", message);
        e.detail = detail;
        e.hint = hint;
        *RAISED.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
    // SAFETY: in_call() was true, so a trap is set up further down this stack; every Rust frame between here and
    // it has moved its owned values into RAISED (see the callers), so the jump skips no destructor.
    unsafe { bgw_sqlfn_trap_throw() };
    unreachable!("the SQL function trap was not active")
}

/// Calls `f` (a module's `void f(void)`) inside the error trap: an ERROR it raises comes back as `Err` instead
/// of ending the process.
pub fn call_trapped(f: unsafe extern "C" fn()) -> Result<(), SqlError> {
    // SAFETY: `f` is a module function with the `void f(void)` signature; the trap restores itself.
    if unsafe { bgw_trap_call_void(f) } == 0 {
        return Ok(());
    }
    Err(RAISED.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_else(|| SqlError::error("XX000", "error")))
}

/// Records the error a SQL function reports by returning non-zero (the way for code that must not jump, such as
/// Rust: `ereport(ERROR)` jumps over the caller's frames). Outside a SQL function call it does nothing.
#[no_mangle]
pub extern "C" fn bgw_sql_error(sqlstate: *const c_char, message: *const c_char, hint: *const c_char) {
    if !in_call() {
        return;
    }
    let code = text(sqlstate);
    let code: &'static str = match code.as_str() {
        c if c.len() == 5 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => Box::leak(c.to_string().into_boxed_str()),
        _ => "XX000",
    };
    let mut e = SqlError::error(code, text(message));
    if !hint.is_null() {
        e.hint = Some(text(hint));
    }
    *RAISED.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
}

/// Copies a result text into host-owned memory (the module may then free or reuse its own buffer).
#[no_mangle]
pub extern "C" fn bgw_sql_result_text(result: *mut BgwSqlValue, text: *const c_char) {
    if result.is_null() {
        return;
    }
    // SAFETY: strdup of a NUL-terminated string (or NULL, which we keep as a NULL result); `result` is the
    // result slot the host passed to the function.
    unsafe {
        let copy = if text.is_null() { std::ptr::null_mut() } else { libc::strdup(text) };
        (*result).kind = if copy.is_null() { BGW_SQL_NULL } else { BGW_SQL_TEXT };
        (*result).text = copy;
    }
}

/// Defines a SQL function `name(nargs arguments) returns result_type` implemented by `fn_`. Call it in
/// `_PG_init`. `result_type` is one of BGW_SQL_INT8, BGW_SQL_FLOAT8, BGW_SQL_TEXT, BGW_SQL_BOOL.
#[no_mangle]
pub extern "C" fn bgw_define_sql_function(
    name: *const c_char,
    nargs: c_int,
    result_type: c_int,
    flags: c_int,
    fn_: Option<bgw_sql_function>,
) {
    let name = text(name);
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let result = match result_type {
        BGW_SQL_INT8 => Some(SqlResultType::Int8),
        BGW_SQL_FLOAT8 => Some(SqlResultType::Float8),
        BGW_SQL_TEXT => Some(SqlResultType::Text),
        BGW_SQL_BOOL => Some(SqlResultType::Bool),
        _ => None,
    };
    let (Some(f), Some(result), true, true) = (fn_, result, valid, (0..=BGW_SQLFN_MAX_ARGS).contains(&nargs)) else {
        super::abi::finish_error(format!(
            "invalid SQL function definition \"{name}\" ({nargs} arguments, result type {result_type})"
        ));
        return;
    };
    let mut table = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
    table.retain(|(n, d)| !(n.eq_ignore_ascii_case(&name) && d.nargs == nargs));
    table.push((name, Defined { f, nargs, result, flags }));
}

/// Calls a module function with `args` inside the trap.
fn call(name: &str, d: Defined, args: &[SqlArg]) -> Result<SqlArg, SqlError> {
    // Texts must outlive the call: keep the CStrings here.
    let texts: Vec<Option<std::ffi::CString>> = args
        .iter()
        .map(|a| match a {
            SqlArg::Text(t) => Some(std::ffi::CString::new(t.replace('\0', "")).unwrap_or_default()),
            _ => None,
        })
        .collect();
    let values: Vec<BgwSqlValue> = args
        .iter()
        .zip(&texts)
        .map(|(a, t)| {
            let mut v = BgwSqlValue { kind: BGW_SQL_NULL, int8: 0, float8: 0.0, text: std::ptr::null() };
            match a {
                SqlArg::Null => {}
                SqlArg::Int(i) => (v.kind, v.int8, v.float8) = (BGW_SQL_INT8, *i, *i as f64),
                SqlArg::Real(r) => (v.kind, v.float8, v.int8) = (BGW_SQL_FLOAT8, *r, *r as i64),
                SqlArg::Bool(b) => (v.kind, v.int8) = (BGW_SQL_BOOL, *b as i64),
                SqlArg::Text(_) => {
                    (v.kind, v.text) = (BGW_SQL_TEXT, t.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
                }
            }
            v
        })
        .collect();
    let mut result = BgwSqlValue { kind: BGW_SQL_NULL, int8: 0, float8: 0.0, text: std::ptr::null() };
    let mut raised: c_int = 0;
    RAISED.lock().unwrap_or_else(|e| e.into_inner()).take();
    // SAFETY: `d.f` is the module's function with the declared signature; `values` (and the texts they point
    // to) live until after the call; `result` and `raised` are valid out-parameters.
    let rc = unsafe { bgw_sqlfn_trap_call(d.f, values.len() as c_int, values.as_ptr(), &mut result, &mut raised) };
    drop(values);
    drop(texts);
    if raised != 0 {
        return Err(RAISED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| SqlError::error("XX000", format!("function {name} raised an error"))));
    }
    let value = match result.kind {
        BGW_SQL_INT8 => SqlArg::Int(result.int8),
        BGW_SQL_FLOAT8 => SqlArg::Real(result.float8),
        BGW_SQL_BOOL => SqlArg::Bool(result.int8 != 0),
        BGW_SQL_TEXT if !result.text.is_null() => {
            let t = text(result.text);
            // SAFETY: result texts are strdup'ed by bgw_sql_result_text; freed once, here.
            unsafe { libc::free(result.text as *mut c_void) };
            SqlArg::Text(t)
        }
        _ => SqlArg::Null,
    };
    if rc != 0 {
        return Err(RAISED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| SqlError::error("XX000", format!("function {name} failed (it returned {rc})"))));
    }
    Ok(value)
}

/// The functions modules defined, for a backend session; `superuser` says whether its user is one.
pub fn module_functions(superuser: bool) -> Vec<ModuleFunction> {
    let table = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    table
        .into_iter()
        .map(|(name, d)| {
            let n = name.clone();
            ModuleFunction {
                name,
                nargs: d.nargs,
                result: d.result,
                call: std::rc::Rc::new(move |args: &[SqlArg]| {
                    if d.flags & BGW_SQLFN_SUPERUSER != 0 && !superuser {
                        return Err(SqlError::error("42501", format!("permission denied for function {n}")));
                    }
                    call(&n, d, args)
                }),
            }
        })
        .collect()
}
