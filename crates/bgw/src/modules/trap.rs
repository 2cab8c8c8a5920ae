//! The error trap of `sqlfn_trap.c`: module code that reports `ereport(ERROR)` fails the call it is in (a SQL
//! function's statement, a library's `_PG_init`), not the process, as in PostgreSQL.
//!
//! Runs in the postmaster (a preloaded library's `_PG_init`) and backends (SQL functions). The C shim sets a
//! `setjmp` point around the call; `ereport(ERROR)` inside it ([`throw`]) records the error here and jumps back.
//! The error travels in [`RAISED`], never in the C frames the jump discards. This is the bottom of the modules
//! folder: the loader, the C ABI and the SQL functions all use it, and it uses none of them.

use crate::sql::SqlError;
use bgw_abi::{bgw_sql_function, BgwSqlValue};
use std::ffi::c_int;
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
    Err(take_raised().unwrap_or_else(|| SqlError::error("XX000", "error")))
}

/// Records `e` as the error of the SQL function running now (reported by return code, without a jump).
pub fn raise(e: SqlError) {
    *RAISED.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
}

/// Takes the error recorded for the last call, if any.
pub fn take_raised() -> Option<SqlError> {
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
