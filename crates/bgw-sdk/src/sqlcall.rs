//! Whether a SQL function defined with the SDK is running on this thread, and the ERROR that ends one early.
//!
//! Purpose: inside a SQL function the SDK's ERROR and FATAL logging must not call the host, whose ERROR would
//! `longjmp` over Rust frames. [`crate::elog`] asks [`in_sql_function`] and, when it is true, calls [`raise`],
//! which unwinds to the SDK's trampoline in [`crate::sql`]; the trampoline fails the statement with the message
//! and hint (SQLSTATE XX000). The flag and the unwinding payload live here, below both, so that logging does not
//! depend on the SQL layer that uses it.
//!
//! Runs in: backends (calling a module's SQL functions); elsewhere the flag is never set. Imports nothing of the
//! SDK.

use std::cell::Cell;

thread_local! {
    /// Whether a SQL function of this module runs on this thread (ERRORs must then not reach the host).
    static IN_SQL: Cell<bool> = const { Cell::new(false) };
}

/// Whether a SQL function defined with this SDK is running on the current thread.
pub fn in_sql_function() -> bool {
    IN_SQL.try_with(Cell::get).unwrap_or(false)
}

/// Runs `f` as a SQL function's body: [`in_sql_function`] is true meanwhile. `f` must not unwind (the caller
/// passes a closure that catches panics).
pub(crate) fn run_as_sql_function<T>(f: impl FnOnce() -> T) -> T {
    let was = IN_SQL.with(|c| c.replace(true));
    let outcome = f();
    IN_SQL.with(|c| c.set(was));
    outcome
}

/// An ERROR raised with the SDK's logging inside a SQL function, unwinding to the trampoline: the message and
/// hint the statement fails with.
pub(crate) struct Raised {
    pub message: String,
    pub hint: Option<String>,
}

/// Fails the running SQL function with `message` and `hint` by unwinding to the SDK's trampoline (no panic
/// report is made). Only called when [`in_sql_function`] is true.
pub(crate) fn raise(message: &str, hint: Option<&str>) -> ! {
    std::panic::resume_unwind(Box::new(Raised { message: message.to_string(), hint: hint.map(str::to_string) }))
}
