//! What the SQLite engine needs from SQLite's C API that rusqlite does not offer: the process's heap limit
//! ([`set_hard_heap_limit`]), and preparing the first
//! statement of a string and learning where it ends (with what the engine wants to know of it before it runs:
//! its columns with their declared types, its parameters, whether it writes), and an authorizer that keeps SQL
//! away from database files.
//!
//! This is the only `unsafe` code of the SQL layer.
//!
//! Runs in: any process that runs SQL.

use std::ffi::{c_char, c_int, CStr};

use rusqlite::{ffi, Connection};

/// What [`probe`] found at the start of a string.
pub(super) struct Probe {
    /// How many bytes the first statement (or the blanks before the next one) takes.
    pub consumed: usize,
    /// The statement; None when SQLite found none (only blanks, comments or an empty statement).
    pub shape: Option<Shape>,
}

/// A prepared statement's shape.
pub(super) struct Shape {
    /// Its result columns' names.
    pub names: Vec<String>,
    /// Its result columns' declared types (None for a computed column).
    pub decltypes: Vec<Option<String>>,
    /// Its parameters' names in SQLite's order (None for an anonymous `?`).
    pub param_names: Vec<Option<String>>,
    /// Whether it leaves the database as it is (`sqlite3_stmt_readonly`).
    pub read_only: bool,
}

/// A failed prepare: SQLite's extended code, its message, and the byte offset of the error when SQLite knows it.
pub(super) struct ProbeError {
    pub error: rusqlite::Error,
    pub offset: Option<usize>,
}

/// Prepares the first statement of `sql` without keeping it.
pub(super) fn probe(conn: &Connection, sql: &str) -> Result<Probe, ProbeError> {
    let Ok(len) = c_int::try_from(sql.len()) else {
        let error =
            rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), Some("query is too long".into()));
        return Err(ProbeError { error, offset: None });
    };
    // SAFETY: `conn.handle()` is the live connection owned by `conn`; `sql` outlives the call and SQLite reads at
    // most `len` bytes of it; the statement is finalized before returning and the strings SQLite returns are
    // copied while it is alive.
    unsafe {
        let db = conn.handle();
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        let head = sql.as_ptr().cast::<c_char>();
        let rc = ffi::sqlite3_prepare_v2(db, head, len, &mut stmt, &mut tail);
        if rc != ffi::SQLITE_OK {
            let message = CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned();
            let code = ffi::sqlite3_extended_errcode(db);
            let error = ffi::Error::new(code);
            // Where SQLite places the error, for the errors rusqlite reports with an offset too.
            let offset = if error.code == ffi::ErrorCode::Unknown {
                usize::try_from(ffi::sqlite3_error_offset(db)).ok()
            } else {
                None
            };
            let error = rusqlite::Error::SqliteFailure(error, Some(message));
            return Err(ProbeError { error, offset });
        }
        let consumed = if tail.is_null() { sql.len() } else { tail.offset_from(head).max(0) as usize };
        if stmt.is_null() {
            return Ok(Probe { consumed, shape: None });
        }
        let text = |p: *const c_char| (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned());
        let width = ffi::sqlite3_column_count(stmt);
        let shape = Shape {
            names: (0..width).map(|i| text(ffi::sqlite3_column_name(stmt, i)).unwrap_or_default()).collect(),
            decltypes: (0..width).map(|i| text(ffi::sqlite3_column_decltype(stmt, i))).collect(),
            param_names: (1..=ffi::sqlite3_bind_parameter_count(stmt))
                .map(|i| text(ffi::sqlite3_bind_parameter_name(stmt, i)))
                .collect(),
            read_only: ffi::sqlite3_stmt_readonly(stmt) != 0,
        };
        ffi::sqlite3_finalize(stmt);
        Ok(Probe { consumed, shape: Some(shape) })
    }
}

/// Keeps a connection's SQL away from the file system: attaching a database file (`ATTACH`) and writing one
/// (`VACUUM INTO`) are refused with SQLITE_AUTH (SQLSTATE 42501), for a connection that runs with the host's
/// privileges on behalf of a client. In-memory and temporary databases are still allowed, named by a string
/// literal: SQLite tells the authorizer the file name only when it is one, so an `ATTACH` whose name is an
/// expression, a subquery or a parameter (which could name the catalog or any file) is refused.
pub(super) fn forbid_files(conn: &Connection) -> rusqlite::Result<()> {
    unsafe extern "C" fn authorize(
        _data: *mut std::ffi::c_void,
        action: c_int,
        file: *const c_char,
        _arg2: *const c_char,
        _database: *const c_char,
        _trigger: *const c_char,
    ) -> c_int {
        if action != ffi::SQLITE_ATTACH {
            return ffi::SQLITE_OK;
        }
        if file.is_null() {
            return ffi::SQLITE_DENY;
        }
        // SAFETY: SQLite passes a NUL-terminated file name that lives for the duration of the call.
        match unsafe { CStr::from_ptr(file) }.to_bytes() {
            b"" | b":memory:" => ffi::SQLITE_OK,
            _ => ffi::SQLITE_DENY,
        }
    }
    // SAFETY: `conn.handle()` is the live connection; the callback is a plain function that uses no user data.
    let rc = unsafe { ffi::sqlite3_set_authorizer(conn.handle(), Some(authorize), std::ptr::null_mut()) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("could not install the authorizer".into())))
    }
}

/// Sets SQLite's hard heap limit for the whole process (`sqlite3_hard_heap_limit64`; 0 removes it): past it, an
/// allocation SQLite asks for fails and the statement ends with SQLITE_NOMEM, the process goes on.
pub(super) fn set_hard_heap_limit(bytes: i64) {
    // SAFETY: a plain call that only sets a process-wide number inside SQLite (thread-safe in SQLite's default
    // serialized mode).
    unsafe {
        ffi::sqlite3_hard_heap_limit64(bytes.max(0));
    }
}
