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
use super::trap;
use crate::backend::host::{ModuleFunction, SqlArg, SqlError, SqlResultType};
use bgw_abi::{
    bgw_sql_function, BgwSqlValue, BGW_SQLFN_MAX_ARGS, BGW_SQLFN_SUPERUSER, BGW_SQL_BOOL, BGW_SQL_FLOAT8, BGW_SQL_INT8,
    BGW_SQL_NULL, BGW_SQL_TEXT,
};
use std::ffi::{c_char, c_int, c_void};
use std::sync::Mutex;

#[derive(Clone, Copy)]
struct Defined {
    f: bgw_sql_function,
    nargs: c_int,
    result: SqlResultType,
    flags: c_int,
}

static FUNCTIONS: Mutex<Vec<(String, Defined)>> = Mutex::new(Vec::new());

/// Records the error a SQL function reports by returning non-zero (the way for code that must not jump, such as
/// Rust: `ereport(ERROR)` jumps over the caller's frames). Outside a SQL function call it does nothing.
#[no_mangle]
pub extern "C" fn bgw_sql_error(sqlstate: *const c_char, message: *const c_char, hint: *const c_char) {
    if !trap::in_call() {
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
    trap::raise(e);
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
    // `values` (and the texts they point to) live until after the call.
    super::server::refresh_my_database_id();
    let outcome = trap::call_sql_function(d.f, &values, &mut result);
    drop(values);
    drop(texts);
    let rc = match outcome {
        Ok(rc) => rc,
        Err(e) => return Err(e.unwrap_or_else(|| SqlError::error("XX000", format!("function {name} raised an error")))),
    };
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
        return Err(trap::take_raised()
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
