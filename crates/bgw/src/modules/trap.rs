//! The error trap of `sqlfn_trap.c`: module code that reports `ereport(ERROR)` fails the call it is in (a SQL
//! function's statement, a library's `_PG_init`), not the process, as in PostgreSQL.
//!
//! Runs in the postmaster (a preloaded library's `_PG_init`) and backends (SQL functions). The C shim is a
//! `PG_TRY` around the call (it sets `PG_exception_stack`, see `pg_elog.c`): an ERROR the module raises jumps
//! back to it in C, and one the host raises on the module's behalf ([`throw`]) is handed to C first and jumps the
//! same way. After the jump the error is C's current error; [`take_raised`] reads it (with its SQLSTATE),
//! logs it as PostgreSQL's top-level handler does, and flushes it. An error reported without a jump
//! (`bgw_sql_error`) travels in [`RAISED`]. This is the bottom of the modules folder: the loader, the C ABI and
//! the SQL functions all use it, and it uses none of them.

use crate::elog::{self, Level};
use crate::sql::SqlError;
use bgw_abi::{bgw_sql_function, BgwSqlValue};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Mutex;

extern "C" {
    fn bgw_sqlfn_trap_call(
        f: bgw_sql_function,
        nargs: c_int,
        args: *const BgwSqlValue,
        result: *mut BgwSqlValue,
        raised: *mut c_int,
    ) -> c_int;
    fn bgw_trap_call_v1(
        f: *const c_void,
        nargs: c_int,
        values: *const usize,
        nulls: *const bool,
        isnull: *mut bool,
        raised: *mut c_int,
    ) -> usize;
    fn bgw_begin_call(old: *mut *mut c_void) -> *mut c_void;
    fn bgw_end_call(cxt: *mut c_void, old: *mut c_void);
    fn bgw_trap_call_void(f: unsafe extern "C" fn()) -> c_int;
    fn bgw_error_handler_active() -> c_int;
    fn bgw_prepare_error(sqlstate: *const c_char, message: *const c_char, detail: *const c_char, hint: *const c_char);
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
    fn bgw_current_error(
        sqlstate: *mut *const c_char,
        message: *mut *const c_char,
        detail: *mut *const c_char,
        hint: *mut *const c_char,
        context: *mut *const c_char,
    ) -> bool;
    fn FlushErrorState();
}

/// The error a trapped function reported without a jump.
static RAISED: Mutex<Option<SqlError>> = Mutex::new(None);

/// Whether an ERROR would be caught now (a module's `PG_TRY`, or the trap around a SQL function or `_PG_init`)
/// instead of ending the process.
pub fn in_call() -> bool {
    // SAFETY: reads a static of the C part.
    unsafe { bgw_error_handler_active() != 0 }
}

/// Raises an ERROR on a module's behalf and jumps to the innermost handler. Call only when [`in_call`] is true.
/// Everything is moved in here and dropped before the jump, so the frames it skips own nothing.
pub fn throw(sqlstate: &str, message: String, detail: Option<String>, hint: Option<String>) -> ! {
    {
        let c = |s: &str| CString::new(s.replace('\0', "")).unwrap_or_default();
        let (state, message) = (c(sqlstate), c(&message));
        let (detail, hint) = (detail.as_deref().map(c), hint.as_deref().map(c));
        let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        // SAFETY: NUL-terminated strings that outlive the call; the C side copies them.
        unsafe { bgw_prepare_error(state.as_ptr(), message.as_ptr(), ptr(&detail), ptr(&hint)) };
    }
    // SAFETY: in_call() was true, so a handler is set further down this stack; every Rust frame between here and
    // it has moved its owned values into this function, which dropped them above, so the jump skips no destructor.
    unsafe { errfinish(std::ptr::null(), 0, std::ptr::null()) };
    unreachable!("no error handler was active")
}

/// Calls `f` (a module's `void f(void)`) inside the error trap: an ERROR it raises comes back as `Err` instead
/// of ending the process.
pub fn call_trapped(f: unsafe extern "C" fn()) -> Result<(), SqlError> {
    // SAFETY: `f` is a module function with the `void f(void)` signature; the trap restores itself.
    if unsafe { bgw_trap_call_void(f) } == 0 {
        return Ok(());
    }
    Err(take_raised().unwrap_or_else(|| SqlError::error("XX000", "error")))
}

/// Calls a version-1 function (`Datum f(FunctionCallInfo)`) with `values` and `nulls` inside the trap:
/// `Ok((datum, isnull))`, or `Err` if it raised an ERROR. Run it between [`begin_call`] and [`end_call`]: the
/// call's FunctionCallInfo (and what the function pallocs) lives in the call's context.
///
/// # Safety
/// `f` must be a version-1 function taking `values.len()` arguments of the types the datums hold.
pub unsafe fn call_v1(f: *const c_void, values: &[usize], nulls: &[bool]) -> Result<(usize, bool), SqlError> {
    let (mut raised, mut isnull): (c_int, bool) = (0, false);
    take_raised();
    // SAFETY: the caller's contract; the slices have values.len() elements; out-parameters are valid.
    let d = unsafe {
        bgw_trap_call_v1(f, values.len() as c_int, values.as_ptr(), nulls.as_ptr(), &mut isnull, &mut raised)
    };
    if raised != 0 {
        return Err(take_raised().unwrap_or_else(|| SqlError::error("XX000", "error")));
    }
    Ok((d, isnull))
}

/// A call into a module begins: a fresh memory context is current (PostgreSQL's per-call context).
pub struct CallContext {
    cxt: *mut c_void,
    old: *mut c_void,
}

pub fn begin_call() -> CallContext {
    let mut old = std::ptr::null_mut();
    // SAFETY: the C part's function; `old` is a valid out-parameter.
    let cxt = unsafe { bgw_begin_call(&mut old) };
    CallContext { cxt, old }
}

/// The call ends: the previous context is current again and everything allocated in the call's is freed.
pub fn end_call(c: CallContext) {
    // SAFETY: the pair begin_call returned, ended once (the value is consumed).
    unsafe { bgw_end_call(c.cxt, c.old) };
}

/// Records `e` as the error of the SQL function running now (reported by return code, without a jump).
pub fn raise(e: SqlError) {
    *RAISED.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
}

/// A SQLSTATE as the `&'static str` SqlError keeps (each distinct code is leaked once).
fn intern(code: &str) -> &'static str {
    static CODES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut codes = CODES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = codes.iter().find(|c| **c == code) {
        return c;
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    codes.push(leaked);
    leaked
}

/// Takes the error of the last call: one raised with a jump (C's current error, logged here as PostgreSQL's
/// top-level handler logs it, then flushed) or one recorded without a jump.
pub fn take_raised() -> Option<SqlError> {
    let (mut state, mut message, mut detail, mut hint, mut context) =
        (std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null());
    // SAFETY: valid out-parameters; on true the C side stored pointers valid until FlushErrorState.
    if unsafe { bgw_current_error(&mut state, &mut message, &mut detail, &mut hint, &mut context) } {
        let text = |p: *const c_char| {
            // SAFETY: NUL-terminated strings of the current error (or NULL).
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        let code = text(state).unwrap_or_default();
        let code = if code.len() == 5 { intern(&code) } else { "XX000" };
        let mut e = SqlError::error(code, text(message).unwrap_or_default());
        e.detail = text(detail);
        e.hint = text(hint);
        e.context = text(context).map(String::into_boxed_str);
        // SAFETY: forgets C's current error (its strings were copied above).
        unsafe { FlushErrorState() };
        let mut r = elog::Report::new(Level::Error, e.message.clone());
        if let Some(d) = &e.detail {
            r = r.detail(d.clone());
        }
        if let Some(h) = &e.hint {
            r = r.hint(h.clone());
        }
        r.emit();
        RAISED.lock().unwrap_or_else(|p| p.into_inner()).take();
        return Some(e);
    }
    RAISED.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Calls a module's SQL function `f` with `args` inside the trap. `Ok(rc)`: it returned `rc` (non-zero: it failed,
/// and [`take_raised`] may say why); `Err`: it raised an ERROR (the error, if one was recorded).
pub fn call_sql_function(
    f: bgw_sql_function,
    args: &[BgwSqlValue],
    result: &mut BgwSqlValue,
) -> Result<c_int, Option<SqlError>> {
    let mut raised: c_int = 0;
    take_raised();
    // SAFETY: `f` is the module's function with the declared signature; `args` (and what they point to) are valid
    // for the call, the caller keeping them alive; `result` and `raised` are valid out-parameters.
    let rc = unsafe { bgw_sqlfn_trap_call(f, args.len() as c_int, args.as_ptr(), result, &mut raised) };
    if raised != 0 {
        return Err(take_raised());
    }
    Ok(rc)
}
