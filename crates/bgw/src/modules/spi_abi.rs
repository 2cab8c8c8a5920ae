//! SPI for modules: the C exports of the Rust side (declared in `include/executor/spi.h` and `include/bgw/bgw.h`).
//!
//! PostgreSQL's SPI names (`SPI_connect`, `SPI_execute`, `SPI_tuptable`, `SPI_getbinval`, ...) are defined in C
//! (`pg_spi.c`: an ERROR is raised there, in C, so that its jump crosses no Rust frame); they call the
//! `bgw_spi_x_*` functions here, which return codes and hand out the result's columns and cells. bgw's own API
//! (`bgw_spi_execute`, `bgw_spi_execute_params`, text results `bgw_spi_*`) returns codes and never raises. Here
//! also: `SPI_processed` and the transaction calls a worker makes (a failed commit is an ERROR, as in
//! PostgreSQL). The logic is in `crate::spi`.
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

/// `SPI_connect`'s Rust half (pg_spi.c): SPI_OK_CONNECT, or SPI_ERROR_CONNECT if the process has no database
/// connection; `in_transaction` says whether a transaction is open.
#[no_mangle]
pub extern "C" fn bgw_spi_x_connect(in_transaction: *mut bool) -> c_int {
    set_processed(0);
    let mut state = crate::spi::state();
    if !in_transaction.is_null() {
        // SAFETY: a pointer to the caller's bool.
        unsafe { in_transaction.write(state.in_transaction()) };
    }
    state.spi_connect()
}

/// `SPI_finish`'s Rust half: SPI_OK_FINISH, or SPI_ERROR_UNCONNECTED.
#[no_mangle]
pub extern "C" fn bgw_spi_x_finish() -> c_int {
    set_processed(0);
    crate::spi::state().spi_finish()
}

/// An argument of `SPI_execute_with_args` / `SPI_execute_plan` as pg_spi.c passes it.
#[repr(C)]
pub struct BgwSpiArg {
    typid: u32,
    isnull: bool,
    /// The datum of a by-value type.
    word: i64,
    /// The data of a by-reference type (a varlena's without its header, a name's up to its NUL), `len` bytes.
    data: *const u8,
    len: usize,
}

/// A cell of the last result as pg_spi.c reads it; the pointers are valid until the next SPI call.
#[repr(C)]
pub struct BgwSpiCell {
    /// 0 NULL, 1 by value (`word`), 2 by reference (`data`, `len`: the datum's bytes), 3 a type without datums,
    /// 4 a value invalid for its type (`sqlstate`, `message`).
    kind: c_int,
    word: i64,
    data: *const u8,
    len: usize,
    text: *const c_char,
    sqlstate: *const c_char,
    message: *const c_char,
}

/// `SPI_execute*`'s Rust half: runs `src` with `nargs` arguments (`with_args` false: none, `$n` is an error),
/// sets `SPI_processed`, returns the code. The PostgreSQL-named callers raise BGW_SPI_ERROR_STATEMENT and
/// SPI_ERROR_PARAM as ERRORs with [`bgw_spi_x_error`]'s SQLSTATE and text.
#[no_mangle]
pub extern "C" fn bgw_spi_x_execute(
    src: *const c_char,
    nargs: c_int,
    args: *const BgwSpiArg,
    with_args: bool,
    read_only: bool,
    count: c_long,
) -> c_int {
    let mut params = Vec::new();
    if with_args {
        for i in 0..usize::try_from(nargs).unwrap_or(0) {
            // SAFETY: pg_spi.c passes `nargs` arguments whose data pointers are alive for this call.
            let a = unsafe { &*args.add(i) };
            let bytes = (!a.data.is_null()).then(|| {
                // SAFETY: `data` points at `len` bytes of the caller's datum, alive for this call.
                unsafe { std::slice::from_raw_parts(a.data, a.len) }
            });
            let value = if a.isnull {
                Ok(crate::sql::Value::Null)
            } else {
                crate::spi::datums::argument(a.typid, a.word, bytes)
            };
            match value {
                Ok(v) => params.push(v),
                Err(e) => {
                    set_processed(0);
                    return crate::spi::state().refuse_statement(e);
                }
            }
        }
    }
    let src = (!src.is_null()).then(|| text(src));
    let mut state = crate::spi::state();
    #[allow(clippy::useless_conversion)] // c_long is i64 here, i32 on 32-bit targets
    let rc = state.execute_values(src.as_deref(), with_args.then_some(&params[..]), read_only, i64::from(count));
    set_processed(state.processed());
    drop(state);
    end_if_terminated();
    rc
}

/// `SPI_prepare`'s Rust half: checks every statement of `src` without running it; 0 or a failure code (the C
/// side raises BGW_SPI_ERROR_STATEMENT as an ERROR).
#[no_mangle]
pub extern "C" fn bgw_spi_x_prepare(src: *const c_char) -> c_int {
    let src = text(src);
    let rc = crate::spi::state().check(&src);
    end_if_terminated();
    rc
}

/// Fails the open transaction (pg_spi.c calls it before raising an ERROR): further statements are refused until
/// it is rolled back, as after any ERROR in PostgreSQL.
#[no_mangle]
pub extern "C" fn bgw_spi_x_fail_transaction() {
    crate::spi::state().fail_transaction();
}

/// The last error's SQLSTATE and text (pointers valid until the next SPI call).
#[no_mangle]
pub extern "C" fn bgw_spi_x_error(sqlstate: *mut *const c_char, message: *mut *const c_char) {
    let state = crate::spi::state();
    static STATES: std::sync::Mutex<Vec<std::ffi::CString>> = std::sync::Mutex::new(Vec::new());
    let code = state.error_sqlstate();
    let mut states = STATES.lock().unwrap_or_else(|e| e.into_inner());
    if !states.iter().any(|s| s.to_bytes() == code.as_bytes()) {
        states.push(std::ffi::CString::new(code).unwrap_or_default());
    }
    let code_ptr = states.iter().find(|s| s.to_bytes() == code.as_bytes()).map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: pointers to the caller's variables.
    unsafe {
        sqlstate.write(code_ptr);
        message.write(state.error_message());
    }
}

/// The shape of the last result: false if it has no rows to show (no `SPI_tuptable`).
#[no_mangle]
pub extern "C" fn bgw_spi_x_shape(ncols: *mut c_int, nrows: *mut u64) -> bool {
    let mut state = crate::spi::state();
    let Some(table) = state.table() else { return false };
    // SAFETY: pointers to the caller's variables.
    unsafe {
        ncols.write(table.columns.len() as c_int);
        nrows.write(table.cells.len() as u64);
    }
    true
}

/// Column `col` (0-based) of the last result.
#[no_mangle]
pub extern "C" fn bgw_spi_x_column(
    col: c_int,
    name: *mut *const c_char,
    typid: *mut u32,
    typlen: *mut i16,
    byval: *mut bool,
) -> bool {
    let mut state = crate::spi::state();
    let Some(c) = state.table().and_then(|t| t.columns.get(usize::try_from(col).ok()?)) else { return false };
    // SAFETY: pointers to the caller's variables; the name lives in the state until the next SPI call.
    unsafe {
        name.write(c.name.as_ptr());
        typid.write(c.typid);
        typlen.write(c.typlen);
        byval.write(c.byval);
    }
    true
}

/// Cell `row` (0-based), `col` (0-based) of the last result.
#[no_mangle]
pub extern "C" fn bgw_spi_x_cell(row: u64, col: c_int, out: *mut BgwSpiCell) -> bool {
    use crate::spi::datums::Datum;
    let mut state = crate::spi::state();
    let Some(cell) =
        state.table().and_then(|t| t.cells.get(usize::try_from(row).ok()?)?.get(usize::try_from(col).ok()?))
    else {
        return false;
    };
    let mut c = BgwSpiCell {
        kind: 0,
        word: 0,
        data: std::ptr::null(),
        len: 0,
        text: cell.text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
        sqlstate: std::ptr::null(),
        message: std::ptr::null(),
    };
    match &cell.datum {
        Datum::Null => {}
        Datum::ByValue(w) => (c.kind, c.word) = (1, *w),
        Datum::ByRef(b) => (c.kind, c.data, c.len) = (2, b.as_ptr(), b.len()),
        Datum::Unsupported => c.kind = 3,
        Datum::Invalid { sqlstate, message } => {
            c.kind = 4;
            c.sqlstate = sqlstate.as_ptr().cast();
            c.message = message.as_ptr();
        }
    }
    // SAFETY: a pointer to the caller's struct.
    unsafe { out.write(c) };
    true
}

/// The name of the type with OID `typid` into `buf` (`len` bytes, NUL-terminated): `pg_type.typname`, or with
/// `sql` its SQL name (`integer`, `numeric`). False for a type bgw does not know.
#[no_mangle]
pub extern "C" fn bgw_spi_x_type_name(typid: u32, sql: bool, buf: *mut c_char, len: usize) -> bool {
    let Some(ty) = crate::sql::types::PgType::from_oid(typid) else { return false };
    let name = if sql { ty.sql_name() } else { ty.typname() };
    if buf.is_null() || len == 0 {
        return false;
    }
    let n = name.len().min(len - 1);
    // SAFETY: the caller's buffer of `len` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), buf, n);
        buf.add(n).write(0);
    }
    true
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

/// bgw's `SPI_execute` that returns every failure as a code: BGW_SPI_ERROR_STATEMENT where PostgreSQL's
/// `SPI_execute` raises an ERROR (`bgw_spi_error_message` and `bgw_spi_error_sqlstate` say why).
#[no_mangle]
pub extern "C" fn bgw_spi_execute(src: *const c_char, read_only: bool, count: c_long) -> c_int {
    execute(src, None, read_only, count)
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

/// The SQLSTATE of the last SPI error ("00000" after a success). Valid until the next SPI call.
#[no_mangle]
pub extern "C" fn bgw_spi_error_sqlstate() -> *const c_char {
    let mut sqlstate = std::ptr::null();
    let mut message = std::ptr::null();
    bgw_spi_x_error(&mut sqlstate, &mut message);
    sqlstate
}

/// The text of the last SPI error, or NULL. Valid until the next SPI call.
#[no_mangle]
pub extern "C" fn bgw_spi_error_message() -> *const c_char {
    crate::spi::state().error_message()
}

extern "C" {
    /// pg_memory.c: TopTransactionContext becomes current.
    fn bgw_transaction_memory_begin();
    /// pg_memory.c: TopMemoryContext becomes current, TopTransactionContext is emptied.
    fn bgw_transaction_memory_end();
    /// pg_spi.c: the SPI connections made inside the transaction end (a WARNING at commit).
    fn bgw_spi_at_transaction_end(commit: bool);
}

/// The C side's end of a transaction: its SPI connections, then its memory.
fn transaction_ended(commit: bool) {
    // SAFETY: C functions of the host's C part, called with the SPI state unlocked (the first one calls back).
    unsafe {
        bgw_spi_at_transaction_end(commit);
        bgw_transaction_memory_end();
    }
}

/// PostgreSQL's `StartTransactionCommand`: begins a transaction on the worker's database connection (none
/// without one) and makes TopTransactionContext current. A transaction that cannot begin is an ERROR.
#[no_mangle]
pub extern "C" fn StartTransactionCommand() {
    let mut state = crate::spi::state();
    let outcome = state.start_transaction();
    let open = state.in_transaction();
    drop(state);
    if open {
        // SAFETY: a C function of the host's C part.
        unsafe { bgw_transaction_memory_begin() };
    }
    end_if_terminated();
    if let Err(message) = outcome {
        finish(ERROR, message, None, None);
    }
}

/// PostgreSQL's `CommitTransactionCommand`: commits the open transaction; a failed commit is an ERROR. A
/// transaction in which an SPI statement failed is rolled back instead, with a WARNING. The transaction's SPI
/// connections and memory end with it.
#[no_mangle]
pub extern "C" fn CommitTransactionCommand() {
    let mut state = crate::spi::state();
    let failed = state.transaction_failed();
    let outcome = state.commit();
    drop(state);
    transaction_ended(true);
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

/// PostgreSQL's `AbortCurrentTransaction`: rolls the open transaction back; its SPI connections and memory end
/// with it.
#[no_mangle]
pub extern "C" fn AbortCurrentTransaction() {
    crate::spi::state().abort();
    transaction_ended(false);
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
        assert_eq!(bgw_spi_x_connect(std::ptr::null_mut()), crate::spi::codes::SPI_ERROR_CONNECT);
        assert!(read(bgw_spi_error_message()).unwrap().contains("no database connection"));
        assert_eq!(bgw_spi_execute(c"SELECT 1".as_ptr(), true, 0), crate::spi::codes::SPI_ERROR_UNCONNECTED);
        assert_eq!(
            bgw_spi_execute_params(c"SELECT $1".as_ptr(), 1, std::ptr::null(), true, 0),
            crate::spi::codes::SPI_ERROR_UNCONNECTED
        );
        assert_eq!(bgw_spi_x_finish(), crate::spi::codes::SPI_ERROR_UNCONNECTED);
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
