//! SPI for modules: the C exports (declared in the SPI section of `include/bgworker.h`).
//!
//! PostgreSQL's names where they exist (`SPI_connect`, `SPI_finish`, `SPI_execute`, `SPI_processed`, the
//! transaction calls a worker makes), bgw's (`bgw_spi_*`) for results and parameters as text. The logic is in
//! `crate::spi`; these functions convert the C arguments and return codes. SPI errors are return codes, never
//! raised (a module's SQL function must not be left by a `longjmp` from here); only a failed commit is an ERROR,
//! as in PostgreSQL.
//!
//! Runs in: a background worker (in other processes SPI answers "not connected").

// PostgreSQL's names; pointer arguments carry the header's contracts and are checked for NULL.
#![allow(non_upper_case_globals, non_snake_case, clippy::not_unsafe_ptr_arg_deref)]

use super::abi::{finish, text};
use bgw_abi::{SnapshotData, ERROR, FATAL, WARNING};
use std::ffi::{c_char, c_int, c_long};

/// PostgreSQL's `SPI_processed`: rows returned or affected by the last `SPI_execute`.
#[no_mangle]
pub static mut SPI_processed: u64 = 0;

fn set_processed(n: u64) {
    // SAFETY: a plain store to the exported global; SPI calls of a process are serialized by the state's lock,
    // and C code reads the value after the call returns.
    unsafe { std::ptr::addr_of_mut!(SPI_processed).write(n) };
}

/// PostgreSQL's `SPI_connect`: SPI_OK_CONNECT, or SPI_ERROR_CONNECT if the process has no database connection.
#[no_mangle]
pub extern "C" fn SPI_connect() -> c_int {
    set_processed(0);
    crate::spi::state().spi_connect()
}

/// PostgreSQL's `SPI_finish`: SPI_OK_FINISH, or SPI_ERROR_UNCONNECTED.
#[no_mangle]
pub extern "C" fn SPI_finish() -> c_int {
    set_processed(0);
    crate::spi::state().spi_finish()
}

/// A SIGTERM that arrived while an SPI call waited for a PostgreSQL server (`crate::spi::waiting_for_server`):
/// the statement has been canceled there, and the worker ends now as the signal would have ended it.
fn end_if_terminated() {
    if crate::process::termination_pending() {
        if let Some(spec) = crate::process::my_worker::my_spec() {
            let message =
                format!("terminating background worker \"{}\" due to administrator command", spec.display_type());
            finish(FATAL, message, None, None);
        }
    }
}

fn execute(src: *const c_char, params: Option<Vec<Option<String>>>, read_only: bool, count: c_long) -> c_int {
    let src = (!src.is_null()).then(|| text(src));
    let mut state = crate::spi::state();
    #[allow(clippy::useless_conversion)] // c_long is i64 here, i32 on 32-bit targets
    let rc = state.execute(src.as_deref(), params.as_deref(), read_only, i64::from(count));
    set_processed(state.processed());
    drop(state);
    end_if_terminated();
    rc
}

/// PostgreSQL's `SPI_execute`.
#[no_mangle]
pub extern "C" fn SPI_execute(src: *const c_char, read_only: bool, count: c_long) -> c_int {
    execute(src, None, read_only, count)
}

/// PostgreSQL's `SPI_exec`: `SPI_execute` with read_only = false.
#[no_mangle]
pub extern "C" fn SPI_exec(src: *const c_char, count: c_long) -> c_int {
    execute(src, None, false, count)
}

/// `SPI_execute` with `nparams` text parameters (`$1` is `values[0]`; a NULL entry is SQL NULL).
#[no_mangle]
pub extern "C" fn bgw_spi_execute_params(
    src: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
    read_only: bool,
    count: c_long,
) -> c_int {
    if nparams < 0 || (nparams > 0 && values.is_null()) {
        set_processed(0);
        return crate::spi::state().refuse_arguments(format!(
            "bgw_spi_execute_params: {nparams} parameters with {} values",
            if values.is_null() { "no" } else { "an array of" }
        ));
    }
    let mut params = Vec::with_capacity(nparams as usize);
    for i in 0..nparams as usize {
        // SAFETY: by the header's contract `values` points at `nparams` pointers, each NULL or a NUL-terminated
        // string; checked non-null above when nparams > 0.
        let p = unsafe { values.add(i).read() };
        params.push((!p.is_null()).then(|| text(p)));
    }
    execute(src, Some(params), read_only, count)
}

/// The number of columns of the last result.
#[no_mangle]
pub extern "C" fn bgw_spi_nfields() -> c_int {
    crate::spi::state().result().columns.len() as c_int
}

/// The name of column `col` (1-based) of the last result, or NULL. Valid until the next SPI call.
#[no_mangle]
pub extern "C" fn bgw_spi_fname(col: c_int) -> *const c_char {
    crate::spi::state().fname(col)
}

/// The value at `row` (0-based), column `col` (1-based) of the last result as text; NULL for SQL NULL or out of
/// range. Valid until the next SPI call.
#[no_mangle]
pub extern "C" fn bgw_spi_getvalue(row: u64, col: c_int) -> *const c_char {
    crate::spi::state().getvalue(row, col)
}

/// The text of the last SPI error, or NULL. Valid until the next SPI call.
#[no_mangle]
pub extern "C" fn bgw_spi_error_message() -> *const c_char {
    crate::spi::state().error_message()
}

/// PostgreSQL's `StartTransactionCommand`: begins a transaction on the worker's database connection (none
/// without one). A transaction that cannot begin is an ERROR.
#[no_mangle]
pub extern "C" fn StartTransactionCommand() {
    let outcome = crate::spi::state().start_transaction();
    end_if_terminated();
    if let Err(message) = outcome {
        finish(ERROR, message, None, None);
    }
}

/// PostgreSQL's `CommitTransactionCommand`: commits the open transaction; a failed commit is an ERROR. A
/// transaction in which an SPI statement failed is rolled back instead, with a WARNING.
#[no_mangle]
pub extern "C" fn CommitTransactionCommand() {
    let mut state = crate::spi::state();
    let failed = state.transaction_failed();
    let outcome = state.commit();
    drop(state);
    end_if_terminated();
    match outcome {
        Err(message) => finish(ERROR, message, None, None),
        Ok(false) if failed => finish(
            WARNING,
            "the transaction was rolled back: a statement in it failed".into(),
            None,
            Some("Call AbortCurrentTransaction after a failed SPI statement.".into()),
        ),
        Ok(_) => {}
    }
}

/// PostgreSQL's `AbortCurrentTransaction`: rolls the open transaction back.
#[no_mangle]
pub extern "C" fn AbortCurrentTransaction() {
    crate::spi::state().abort();
    end_if_terminated();
}

/// PostgreSQL's `Async_Notify`: NOTIFY `channel` with `payload` (NULL is empty), sent when the open transaction
/// commits, or at once outside a transaction. A bad channel or payload, or no database connection, is an ERROR.
#[no_mangle]
pub extern "C" fn Async_Notify(channel: *const c_char, payload: *const c_char) {
    // SAFETY: the caller passes NULL or NUL-terminated strings that live for this call.
    let text = |p: *const c_char| (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy());
    let channel = text(channel).unwrap_or_default();
    let payload = text(payload).unwrap_or_default();
    let outcome = crate::spi::state().notify(&channel, &payload);
    end_if_terminated();
    if let Err(message) = outcome {
        finish(ERROR, message, None, None);
    }
}

/// PostgreSQL's `SetCurrentStatementStartTimestamp`: accepted, nothing to do.
#[no_mangle]
pub extern "C" fn SetCurrentStatementStartTimestamp() {}

// bgw has no snapshots of its own (SQLite's transaction is the snapshot): the functions below hand out and take
// a token.
static mut SNAPSHOT_TOKEN: u8 = 0;

/// PostgreSQL's `GetTransactionSnapshot`: a token to pass to `PushActiveSnapshot`.
#[no_mangle]
pub extern "C" fn GetTransactionSnapshot() -> *mut SnapshotData {
    std::ptr::addr_of_mut!(SNAPSHOT_TOKEN) as *mut SnapshotData
}

/// PostgreSQL's `PushActiveSnapshot`: accepted, nothing to do.
#[no_mangle]
pub extern "C" fn PushActiveSnapshot(_snapshot: *mut SnapshotData) {}

/// PostgreSQL's `PopActiveSnapshot`: accepted, nothing to do.
#[no_mangle]
pub extern "C" fn PopActiveSnapshot() {}

/// Reads a C string argument, for tests of this module.
#[cfg(test)]
fn read(p: *const c_char) -> Option<String> {
    // SAFETY: NULL or a NUL-terminated string owned by the SPI state, alive for this call.
    (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_connection_spi_answers_with_codes() {
        // This test process has no worker connection.
        assert_eq!(SPI_connect(), crate::spi::codes::SPI_ERROR_CONNECT);
        assert!(read(bgw_spi_error_message()).unwrap().contains("no database connection"));
        assert_eq!(SPI_execute(c"SELECT 1".as_ptr(), true, 0), crate::spi::codes::SPI_ERROR_UNCONNECTED);
        assert_eq!(
            bgw_spi_execute_params(c"SELECT $1".as_ptr(), 1, std::ptr::null(), true, 0),
            crate::spi::codes::SPI_ERROR_UNCONNECTED
        );
        assert_eq!(SPI_finish(), crate::spi::codes::SPI_ERROR_UNCONNECTED);
        assert_eq!(bgw_spi_nfields(), 0);
        assert!(bgw_spi_getvalue(0, 1).is_null());
        StartTransactionCommand();
        CommitTransactionCommand();
        AbortCurrentTransaction();
        SetCurrentStatementStartTimestamp();
        PushActiveSnapshot(GetTransactionSnapshot());
        PopActiveSnapshot();
    }
}
