//! SQL functions defined by modules (`bgw_define_sql_function`), callable from every backend.
//!
//! A module defines its functions in `_PG_init` while it is preloaded, so every backend (forked from the
//! postmaster) inherits the table; the backend registers them in each session's SQLite database. A function of
//! bgw's convention gets its arguments as [`BgwSqlValue`]s and fills in its result; one of PostgreSQL's
//! version-1 convention (`bgw_define_function_v1`) gets Datums of the types it was defined with (by oid) and
//! returns one. Each call runs in a memory context of its own, deleted after the call. `ereport(ERROR)` inside it fails the statement with
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

/// How a defined function is called.
#[derive(Clone, Copy)]
enum Callable {
    /// bgw's convention (`bgw_define_sql_function`).
    Bgw(bgw_sql_function),
    /// PostgreSQL's version-1 convention (`bgw_define_function_v1`): argument and result types by oid.
    V1 { f: usize, argtypes: [u32; BGW_SQLFN_MAX_ARGS as usize], rettype: u32, strict: bool },
}

#[derive(Clone, Copy)]
struct Defined {
    f: Callable,
    nargs: c_int,
    result: SqlResultType,
    flags: c_int,
}

static FUNCTIONS: Mutex<Vec<(String, Defined)>> = Mutex::new(Vec::new());

thread_local! {
    /// INFO, NOTICE and WARNING reports raised inside SQL function calls, for the session to send its client.
    static CLIENT_NOTICES: std::cell::RefCell<Vec<SqlError>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// SQLSTATEs of reports, kept for the life of the process (an error's code is a `&'static str`): few distinct.
static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn static_code(code: &str) -> &'static str {
    if !(code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return "XX000";
    }
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = codes.iter().find(|c| **c == code) {
        return c;
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.push(leaked);
    leaked
}

/// Whether a report at `level` (PostgreSQL's elevel) goes to a client now: INFO, NOTICE or WARNING raised inside
/// a SQL function's call (whatever `log_min_messages` says; `client_min_messages` is applied when it is sent).
pub(super) fn reaches_client(level: c_int) -> bool {
    use bgw_abi::{INFO, NOTICE, WARNING};
    (level == INFO || level == NOTICE || level == WARNING) && trap::in_call()
}

/// Queues a report for the client of the SQL function being called, if it [`reaches_client`].
pub(super) fn to_client(level: c_int, sqlstate: Option<&str>, message: &str, detail: Option<&str>, hint: Option<&str>) {
    use bgw_abi::{INFO, NOTICE};
    if !reaches_client(level) {
        return;
    }
    let (severity, default) = match level {
        INFO => (crate::backend::host::Severity::Info, "00000"),
        NOTICE => (crate::backend::host::Severity::Notice, "00000"),
        _ => (crate::backend::host::Severity::Warning, "01000"),
    };
    let mut e = SqlError::error(static_code(sqlstate.unwrap_or(default)), message);
    e.severity = severity;
    e.detail = detail.map(str::to_string);
    e.hint = hint.map(str::to_string);
    CLIENT_NOTICES.with(|n| n.borrow_mut().push(e));
}

/// The reports SQL functions raised for the client since the last call.
pub fn take_client_notices() -> Vec<SqlError> {
    CLIENT_NOTICES.with(|n| std::mem::take(&mut *n.borrow_mut()))
}

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
    table.push((name, Defined { f: Callable::Bgw(f), nargs, result, flags }));
}

/// The type oids a version-1 function may take and return (PostgreSQL's numbers, catalog/pg_type_d.h).
const BOOLOID: u32 = 16;
const INT8OID: u32 = 20;
const INT2OID: u32 = 21;
const INT4OID: u32 = 23;
const TEXTOID: u32 = 25;
const OIDOID: u32 = 26;
const FLOAT4OID: u32 = 700;
const FLOAT8OID: u32 = 701;
const VARCHAROID: u32 = 1043;
const VOIDOID: u32 = 2278;

fn v1_result_type(oid: u32) -> Option<SqlResultType> {
    Some(match oid {
        BOOLOID => SqlResultType::Bool,
        INT2OID | INT4OID | INT8OID | OIDOID => SqlResultType::Int8,
        FLOAT4OID | FLOAT8OID => SqlResultType::Float8,
        TEXTOID | VARCHAROID => SqlResultType::Text,
        _ => return None,
    })
}

/// Whether a C function may take (or, with `result`, return) values of type `oid` (void: results only).
pub fn c_type_supported(oid: u32, result: bool) -> bool {
    v1_result_type(oid).is_some() || (result && oid == VOIDOID)
}

/// The file a C function's library name stands for, as PostgreSQL's `load_external_function` finds it: a leading
/// `$libdir` is the host's library directory; a name without a `/` is searched along `dynamic_library_path`;
/// `.so` is tried after the name as given.
fn library_file(name: &str) -> Result<std::path::PathBuf, SqlError> {
    let expanded = match name.strip_prefix("$libdir") {
        Some(rest) => format!("{}{rest}", super::loader::libdir().display()),
        None => name.to_string(),
    };
    let missing = || SqlError::error("58P01", format!("could not access file \"{name}\": No such file or directory"));
    if !expanded.contains('/') {
        return super::loader::resolve(&expanded).map_err(|_| missing());
    }
    let path = std::path::PathBuf::from(&expanded);
    if path.is_file() {
        return Ok(path);
    }
    let with_so = std::path::PathBuf::from(format!("{expanded}.so"));
    if with_so.is_file() {
        return Ok(with_so);
    }
    // Beyond PostgreSQL: `$libdir/x` not in the host's library directory is searched for along
    // `dynamic_library_path` (an installation whose `bgw` is a link to the executable elsewhere).
    match name.strip_prefix("$libdir/") {
        Some(rest) if !rest.contains('/') => super::loader::resolve(rest).map_err(|_| missing()),
        _ => Err(missing()),
    }
}

/// PostgreSQL's `Pg_finfo_record`.
#[repr(C)]
struct FinfoRecord {
    api_version: c_int,
}

/// The version-1 function `symbol` of library `library` (loaded now, RTLD_NOW, running its `_PG_init` once), as
/// CREATE FUNCTION ... LANGUAGE C checks it: the library exists and loads, the symbol exists, and its
/// `pg_finfo_<symbol>` says version 1. Returns how to call it with arguments of `argtypes` (oids).
pub fn c_function(
    library: &str,
    symbol: &str,
    argtypes: &[u32],
    rettype: u32,
    strict: bool,
) -> Result<crate::backend::host::ModuleCall, SqlError> {
    if argtypes.len() > BGW_SQLFN_MAX_ARGS as usize {
        return Err(SqlError::error(
            "54023",
            format!("functions cannot have more than {BGW_SQLFN_MAX_ARGS} arguments"),
        ));
    }
    let path = library_file(library)?;
    let lib = super::loader::open(&path).map_err(|e| SqlError::error("58P01", e.to_string()))?;
    let shown = path.display().to_string();
    let sym = |name: &str| -> Option<*const c_void> {
        let mut bytes = name.as_bytes().to_vec();
        bytes.push(0);
        // SAFETY: only the symbol's address is taken here.
        unsafe { lib.get::<*const c_void>(&bytes) }.ok().map(|s| *s).filter(|p| !p.is_null())
    };
    let f = sym(symbol)
        .ok_or_else(|| SqlError::error("42883", format!("could not find function \"{symbol}\" in file \"{shown}\"")))?;
    let info = sym(&format!("pg_finfo_{symbol}")).ok_or_else(|| {
        let mut e = SqlError::error("42P13", format!("could not find function information for function \"{symbol}\""));
        e.hint = Some("SQL-callable functions need an accompanying PG_FUNCTION_INFO_V1(funcname).".into());
        e
    })?;
    // SAFETY: PG_FUNCTION_INFO_V1 defines pg_finfo_<symbol> as `const Pg_finfo_record *(void)`, returning a
    // static record.
    let version = unsafe {
        let info: extern "C" fn() -> *const FinfoRecord = std::mem::transmute(info);
        let record = info();
        if record.is_null() {
            0
        } else {
            (*record).api_version
        }
    };
    if version != 1 {
        return Err(SqlError::error(
            "XX000",
            format!("unrecognized API version {version} reported by info function \"pg_finfo_{symbol}\""),
        ));
    }
    let mut types = [0u32; BGW_SQLFN_MAX_ARGS as usize];
    types[..argtypes.len()].copy_from_slice(argtypes);
    let n = argtypes.len();
    let f = f as usize;
    Ok(std::rc::Rc::new(move |args: &[SqlArg]| call_v1(f, &types[..n], rettype, strict, args)))
}

/// Defines a SQL function with PostgreSQL's version-1 calling convention (see bgw/bgw.h). Call it in `_PG_init`.
#[no_mangle]
pub extern "C" fn bgw_define_function_v1(
    name: *const c_char,
    nargs: c_int,
    argtypes: *const u32,
    rettype: u32,
    strict: bool,
    fn_: *const c_void,
) {
    let name = text(name);
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut types = [0u32; BGW_SQLFN_MAX_ARGS as usize];
    let nargs_ok = (0..=BGW_SQLFN_MAX_ARGS).contains(&nargs) && (nargs == 0 || !argtypes.is_null());
    if nargs_ok {
        for (i, t) in types.iter_mut().enumerate().take(nargs as usize) {
            // SAFETY: by the API's contract argtypes has nargs entries (checked non-NULL above).
            *t = unsafe { argtypes.add(i).read() };
        }
    }
    let args_ok = types[..nargs.clamp(0, BGW_SQLFN_MAX_ARGS) as usize].iter().all(|t| v1_result_type(*t).is_some());
    let (Some(result), true, true, true, false) = (v1_result_type(rettype), valid, nargs_ok, args_ok, fn_.is_null())
    else {
        super::abi::finish_error(format!(
            "invalid SQL function definition \"{name}\" ({nargs} arguments, result type {rettype})"
        ));
        return;
    };
    let mut table = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
    table.retain(|(n, d)| !(n.eq_ignore_ascii_case(&name) && d.nargs == nargs));
    let f = Callable::V1 { f: fn_ as usize, argtypes: types, rettype, strict };
    table.push((name, Defined { f, nargs, result, flags: 0 }));
}

extern "C" {
    fn cstring_to_text_with_len(s: *const c_char, len: c_int) -> *mut c_void;
}

/// An argument as the datum of type `oid`, or the error PostgreSQL would give converting it.
fn to_datum(arg: &SqlArg, oid: u32) -> Result<usize, SqlError> {
    let int = |v: i64, min: i64, max: i64, what: &str| {
        if (min..=max).contains(&v) {
            Ok(v as usize)
        } else {
            Err(SqlError::error("22003", format!("{what} out of range")))
        }
    };
    let parse_int = |t: &str, what: &str| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| SqlError::error("22P02", format!("invalid input syntax for type {what}: \"{t}\"")))
    };
    Ok(match (oid, arg) {
        (BOOLOID, SqlArg::Bool(b)) => *b as usize,
        (BOOLOID, SqlArg::Int(i)) => (*i != 0) as usize,
        (INT2OID, SqlArg::Int(i)) => int(*i, i16::MIN as i64, i16::MAX as i64, "smallint")? as i16 as isize as usize,
        (INT4OID, SqlArg::Int(i)) => int(*i, i32::MIN as i64, i32::MAX as i64, "integer")? as i32 as isize as usize,
        (INT8OID, SqlArg::Int(i)) => *i as usize,
        (OIDOID, SqlArg::Int(i)) => int(*i, 0, u32::MAX as i64, "OID")?,
        (INT2OID, SqlArg::Text(t)) => to_datum(&SqlArg::Int(parse_int(t, "smallint")?), oid)?,
        (INT4OID, SqlArg::Text(t)) => to_datum(&SqlArg::Int(parse_int(t, "integer")?), oid)?,
        (INT8OID, SqlArg::Text(t)) => parse_int(t, "bigint")? as usize,
        (FLOAT4OID, SqlArg::Real(r)) => (*r as f32).to_bits() as usize,
        (FLOAT4OID, SqlArg::Int(i)) => (*i as f32).to_bits() as usize,
        (FLOAT8OID, SqlArg::Real(r)) => r.to_bits() as usize,
        (FLOAT8OID, SqlArg::Int(i)) => (*i as f64).to_bits() as usize,
        (TEXTOID | VARCHAROID, a) => {
            let t = match a {
                SqlArg::Text(t) => t.clone(),
                SqlArg::Int(i) => i.to_string(),
                SqlArg::Real(r) => r.to_string(),
                SqlArg::Bool(b) => if *b { "true" } else { "false" }.to_string(),
                SqlArg::Null => String::new(),
            };
            // SAFETY: a pointer and length of valid bytes; the varlena is palloc'd in the call's context (an
            // out-of-memory ERROR would end the process here: no handler is active outside the trap).
            unsafe { cstring_to_text_with_len(t.as_ptr() as *const c_char, t.len() as c_int) as usize }
        }
        (_, a) => {
            return Err(SqlError::error("42883", format!("cannot pass {a:?} as an argument of type oid {oid}")));
        }
    })
}

/// The result datum of type `oid` as a value.
fn from_datum(d: usize, oid: u32) -> SqlArg {
    match oid {
        BOOLOID => SqlArg::Bool(d != 0),
        INT2OID => SqlArg::Int(d as i16 as i64),
        INT4OID => SqlArg::Int(d as i32 as i64),
        INT8OID => SqlArg::Int(d as i64),
        OIDOID => SqlArg::Int(d as u32 as i64),
        FLOAT4OID => SqlArg::Real(f32::from_bits(d as u32) as f64),
        FLOAT8OID => SqlArg::Real(f64::from_bits(d as u64)),
        VOIDOID => SqlArg::Null,
        _ if d == 0 => SqlArg::Null,
        _ => {
            // SAFETY: a text result is a pointer to a varlena with a 4-byte header (all bgw makes, see c.h); its
            // total length is the header word >> 2, and it lives in the call's context until end_call.
            let bytes = unsafe {
                let header = (d as *const u32).read_unaligned();
                let len = ((header >> 2) & 0x3FFF_FFFF) as usize;
                std::slice::from_raw_parts((d as *const u8).add(4), len.saturating_sub(4))
            };
            SqlArg::Text(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// Calls a version-1 function inside a call context of its own.
fn call_v1(f: usize, argtypes: &[u32], rettype: u32, strict: bool, args: &[SqlArg]) -> Result<SqlArg, SqlError> {
    if strict && args.iter().any(|a| matches!(a, SqlArg::Null)) {
        return Ok(SqlArg::Null);
    }
    let call = trap::begin_call();
    let datums: Result<Vec<usize>, SqlError> = args
        .iter()
        .zip(argtypes)
        .map(|(a, t)| if matches!(a, SqlArg::Null) { Ok(0) } else { to_datum(a, *t) })
        .collect();
    let outcome = datums.and_then(|values| {
        let nulls: Vec<bool> = args.iter().map(|a| matches!(a, SqlArg::Null)).collect();
        super::server::refresh_my_database_id();
        // SAFETY: `f` is the module's version-1 function, defined with these argument types.
        unsafe { trap::call_v1(f as *const c_void, &values, &nulls) }
    });
    let result = outcome.map(|(d, isnull)| if isnull { SqlArg::Null } else { from_datum(d, rettype) });
    trap::end_call(call);
    result
}

/// Calls a module function with `args` inside the trap.
fn call(name: &str, d: Defined, args: &[SqlArg]) -> Result<SqlArg, SqlError> {
    let f = match d.f {
        Callable::Bgw(f) => f,
        Callable::V1 { f, argtypes, rettype, strict } => {
            return call_v1(f, &argtypes[..d.nargs as usize], rettype, strict, args);
        }
    };
    let call = trap::begin_call();
    let outcome = call_bgw(name, f, args);
    trap::end_call(call);
    outcome
}

/// Calls a function of bgw's convention with `args` inside the trap.
fn call_bgw(name: &str, f: bgw_sql_function, args: &[SqlArg]) -> Result<SqlArg, SqlError> {
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
    let outcome = trap::call_sql_function(f, &values, &mut result);
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
