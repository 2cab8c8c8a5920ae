//! What the SQLite engine needs from SQLite's C API that rusqlite does not offer: the process's heap limit
//! ([`set_hard_heap_limit`]), and preparing the first
//! statement of a string and learning where it ends (with what the engine wants to know of it before it runs:
//! its columns with their declared types, its parameters, whether it writes), and an authorizer that keeps SQL
//! away from database files and keeps non-superusers off SQLite's own knobs (PRAGMAs).
//!
//! This is the only `unsafe` code of the SQL layer.
//!
//! Runs in: any process that runs SQL.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Whether the session this process serves runs as a superuser (a backend serves one session; workers' SPI
/// connections are not sandboxed). Written by the session's host whenever it learns the role's privilege (at
/// connection and at each privileged call), read by the authorizer at each statement's prepare.
static SUPERUSER: AtomicBool = AtomicBool::new(false);

/// Tells the authorizer whether the session's role is a superuser now.
pub fn set_superuser(superuser: bool) {
    SUPERUSER.store(superuser, Ordering::Relaxed);
}

thread_local! {
    /// The PostgreSQL-style message of the authorizer's last refusal of a PRAGMA, for the error SQLite raises.
    static DENIAL: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The engine itself is running a PRAGMA (following the host's read-only state with `query_only`): allowed
    /// whoever the session's role is.
    static ENGINE_PRAGMA: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a PRAGMA the engine issues itself) past the non-superuser PRAGMA check.
pub(super) fn as_engine<R>(f: impl FnOnce() -> R) -> R {
    ENGINE_PRAGMA.with(|e| e.set(true));
    let r = f();
    ENGINE_PRAGMA.with(|e| e.set(false));
    r
}

/// The message of the authorizer's last PRAGMA refusal, if the error at hand is one (and forgets it).
pub(super) fn take_denial() -> Option<String> {
    DENIAL.with(|d| d.borrow_mut().take())
}

/// PRAGMAs any role may run, with any argument: the connection's own behaviour (no files, no durability, no
/// memory beyond the session's limits) and introspection of the schema.
pub const PRAGMAS_ANYONE: &[&str] = &[
    "analysis_limit",
    "application_id",
    "automatic_index",
    "case_sensitive_like",
    "collation_list",
    "compile_options",
    "data_version",
    "defer_foreign_keys",
    "encoding",
    "foreign_key_check",
    "foreign_key_list",
    "foreign_keys",
    "freelist_count",
    "function_list",
    "index_info",
    "index_list",
    "index_xinfo",
    "integrity_check",
    "module_list",
    "optimize",
    "page_count",
    "pragma_list",
    "quick_check",
    "recursive_triggers",
    "reverse_unordered_selects",
    "shrink_memory",
    "table_info",
    "table_list",
    "table_xinfo",
    "user_version",
    // Defensive mode (the sandbox) keeps the schema read-only whatever this says.
    "writable_schema",
];

/// PRAGMAs any role may read (without an argument) but only a superuser may set: they touch files, durability
/// or the process's memory.
pub const PRAGMAS_READ_ONLY: &[&str] = &[
    "auto_vacuum",
    // The engine's busy handler carries lock_timeout and interrupts; SQLite's own would replace it.
    "busy_timeout",
    "cache_size",
    "cache_spill",
    "cell_size_check",
    "checkpoint_fullfsync",
    "fullfsync",
    "hard_heap_limit",
    "ignore_check_constraints",
    "journal_mode",
    "journal_size_limit",
    "legacy_alter_table",
    "locking_mode",
    "max_page_count",
    "mmap_size",
    "page_size",
    // The engine keeps it equal to the host's read-only state (a standby's sessions); a session may not lift it.
    "query_only",
    "schema_version",
    "secure_delete",
    "soft_heap_limit",
    "synchronous",
    "temp_store",
    "threads",
    "trusted_schema",
    "wal_autocheckpoint",
];

/// Whether a non-superuser may run PRAGMA `name` (with `argument`, None when reading); Err is PostgreSQL's
/// message. Every PRAGMA not listed (`database_list`, `temp_store_directory`, `data_store_directory`,
/// `wal_checkpoint`, `incremental_vacuum`, ...) is a superuser's.
pub fn pragma_allowed(name: &str, argument: Option<&str>) -> Result<(), String> {
    let name = name.to_ascii_lowercase();
    if PRAGMAS_ANYONE.contains(&name.as_str()) {
        return Ok(());
    }
    if PRAGMAS_READ_ONLY.contains(&name.as_str()) {
        return match argument {
            None => Ok(()),
            Some(_) => Err(format!("permission denied to set parameter \"{name}\"")),
        };
    }
    match argument {
        Some(_) => Err(format!("permission denied to set parameter \"{name}\"")),
        None => Err(format!("must be superuser or have privileges of pg_read_all_settings to examine \"{name}\"")),
    }
}

/// Keeps a connection's SQL away from the file system: attaching a database file (`ATTACH`) and writing one
/// (`VACUUM INTO`) are refused with SQLITE_AUTH (SQLSTATE 42501), for a connection that runs with the host's
/// privileges on behalf of a client. In-memory and temporary databases are still allowed, named by a string
/// literal: SQLite tells the authorizer the file name only when it is one, so an `ATTACH` whose name is an
/// expression, a subquery or a parameter (which could name the catalog or any file) is refused. PRAGMAs of a
/// non-superuser session are checked by [`pragma_allowed`] (42501 with PostgreSQL's wording); table-valued
/// PRAGMA functions (`SELECT * FROM pragma_database_list`) are checked the same way.
pub(super) fn forbid_files(conn: &Connection) -> rusqlite::Result<()> {
    unsafe extern "C" fn authorize(
        _data: *mut std::ffi::c_void,
        action: c_int,
        arg1: *const c_char,
        arg2: *const c_char,
        _database: *const c_char,
        _trigger: *const c_char,
    ) -> c_int {
        // SAFETY: SQLite passes NUL-terminated strings (or NULL) that live for the duration of the call.
        let text = |p: *const c_char| (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy());
        match action {
            ffi::SQLITE_ATTACH => match text(arg1).as_deref() {
                Some("" | ":memory:") => ffi::SQLITE_OK,
                _ => {
                    DENIAL.with(|d| d.borrow_mut().take());
                    ffi::SQLITE_DENY
                }
            },
            ffi::SQLITE_PRAGMA if !SUPERUSER.load(Ordering::Relaxed) && !ENGINE_PRAGMA.with(|e| e.get()) => {
                let name = text(arg1).unwrap_or_default();
                match pragma_allowed(&name, text(arg2).as_deref()) {
                    Ok(()) => ffi::SQLITE_OK,
                    Err(message) => {
                        DENIAL.with(|d| *d.borrow_mut() = Some(message));
                        ffi::SQLITE_DENY
                    }
                }
            }
            _ => ffi::SQLITE_OK,
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

/// How many more bytes SQLite's heap may grow in this process before its hard limit (None: no limit).
pub(super) fn heap_room() -> Option<i64> {
    // SAFETY: plain calls reading process-wide numbers inside SQLite (a negative argument only queries the limit).
    let (limit, used) = unsafe { (ffi::sqlite3_hard_heap_limit64(-1), ffi::sqlite3_memory_used()) };
    (limit > 0).then(|| (limit - used).max(0))
}
