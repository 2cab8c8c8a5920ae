//! A database's extension catalog (tables inside its SQLite file, so it survives restarts and every session of
//! the database sees it) and the C functions it holds, registered as SQLite functions in this session.
//!
//! Tables: `_pg_extension` (one row per installed extension), `_pg_c_function` (one row per C function, with the
//! extension that created it, if any), `_pg_extension_member` (the relations an extension's script created,
//! dropped with it).
//!
//! How sessions learn of a change: the session that makes it re-registers at once (and again after its
//! transaction ends, in case it rolled back); every other session compares SQLite's `PRAGMA data_version` (which
//! changes when another connection commits to the file) before each statement outside a transaction block and
//! re-reads the table when it changed. Registration compares the rows with what is registered: functions gone
//! are removed from the connection, new ones are defined; a function's library is opened in this process at its
//! first call.
//!
//! Runs in: a backend process.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension};

use crate::backend::context;
use crate::backend::host::{ModuleCall, SqlArg, SqlError};
use crate::sql::PgType;

/// The catalog's tables, created on first use.
pub(crate) const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS _pg_extension (extname TEXT PRIMARY KEY, extversion TEXT NOT NULL, \
extschema TEXT NOT NULL, extrelocatable INTEGER NOT NULL, comment TEXT, requires TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS _pg_c_function (proname TEXT NOT NULL, schema TEXT NOT NULL, argtypes TEXT NOT NULL, \
rettype INTEGER NOT NULL, strict INTEGER NOT NULL, volatility TEXT NOT NULL, library TEXT NOT NULL, \
symbol TEXT NOT NULL, extension TEXT, PRIMARY KEY (proname, argtypes));
CREATE TABLE IF NOT EXISTS _pg_extension_member (extension TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL);";

/// One C function of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CFunctionRow {
    pub name: String,
    pub schema: String,
    pub argtypes: Vec<u32>,
    pub rettype: u32,
    pub strict: bool,
    pub volatility: String,
    pub library: String,
    pub symbol: String,
    pub extension: Option<String>,
}

impl CFunctionRow {
    /// The argument types as stored: oids separated by spaces.
    pub fn argtypes_text(&self) -> String {
        oids_text(&self.argtypes)
    }

    /// `name(integer, text)`, as PostgreSQL names a function in messages.
    pub fn signature(&self) -> String {
        let args: Vec<&str> =
            self.argtypes.iter().map(|o| PgType::from_oid(*o).map_or("unknown", PgType::sql_name)).collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

pub(crate) fn oids_text(oids: &[u32]) -> String {
    oids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

/// One extension of the catalog.
#[derive(Debug, Clone)]
pub(crate) struct ExtensionRow {
    pub name: String,
    pub requires: Vec<String>,
}

/// A C function registered in this session; its library is loaded at its first call, as PostgreSQL's.
struct Registered {
    row: CFunctionRow,
    call: Option<ModuleCall>,
}

thread_local! {
    static REGISTERED: RefCell<Vec<Registered>> = const { RefCell::new(Vec::new()) };
    static DATA_VERSION: Cell<Option<i64>> = const { Cell::new(None) };
    /// Set by a change this session made: re-read until its transaction has ended.
    static DIRTY: Cell<bool> = const { Cell::new(true) };
}

/// Whether the catalog's tables exist in the database.
pub(crate) fn exists(conn: &Connection) -> bool {
    conn.query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_pg_c_function'", [], |_| Ok(()))
        .optional()
        .ok()
        .flatten()
        .is_some()
}

/// Creates the catalog's tables if they do not exist (inside the caller's transaction).
pub(crate) fn ensure(conn: &Connection) -> Result<(), SqlError> {
    if exists(conn) {
        return Ok(());
    }
    conn.execute_batch(SCHEMA).map_err(internal)
}

pub(crate) fn internal(e: rusqlite::Error) -> SqlError {
    crate::sql::sqlite::from_rusqlite(e)
}

/// The C functions of the catalog.
pub(crate) fn functions(conn: &Connection) -> Result<Vec<CFunctionRow>, SqlError> {
    if !exists(conn) {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare(
            "SELECT proname, schema, argtypes, rettype, strict, volatility, library, symbol, extension \
             FROM _pg_c_function ORDER BY proname, argtypes",
        )
        .map_err(internal)?;
    let rows = stmt
        .query_map([], |r| {
            let args: String = r.get(2)?;
            Ok(CFunctionRow {
                name: r.get(0)?,
                schema: r.get(1)?,
                argtypes: args.split_whitespace().filter_map(|a| a.parse().ok()).collect(),
                rettype: r.get(3)?,
                strict: r.get::<_, i64>(4)? != 0,
                volatility: r.get(5)?,
                library: r.get(6)?,
                symbol: r.get(7)?,
                extension: r.get(8)?,
            })
        })
        .map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// The extensions of the catalog.
pub(crate) fn extensions(conn: &Connection) -> Result<Vec<ExtensionRow>, SqlError> {
    if !exists(conn) {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT extname, requires FROM _pg_extension ORDER BY extname").map_err(internal)?;
    let rows = stmt
        .query_map([], |r| {
            let requires: String = r.get(1)?;
            Ok(ExtensionRow {
                name: r.get(0)?,
                requires: requires.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            })
        })
        .map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// Marks the catalog changed by this session (registration re-reads it before the next statement).
pub(crate) fn changed() {
    DIRTY.with(|d| d.set(true));
}

/// Brings this session's registered C functions up to date with the catalog, if it may have changed (a change of
/// this session's, or a commit by another connection). Called before each statement.
pub(crate) fn sync(conn: &Connection) -> Result<(), SqlError> {
    let version: Option<i64> =
        conn.prepare_cached("PRAGMA data_version").and_then(|mut s| s.query_row([], |r| r.get(0))).ok();
    let dirty = DIRTY.with(Cell::get);
    if !dirty && version.is_some() && DATA_VERSION.with(Cell::get) == version {
        return Ok(());
    }
    DATA_VERSION.with(|v| v.set(version));
    if conn.is_autocommit() {
        // Nothing of this session's is pending any more: what the file holds is final.
        DIRTY.with(|d| d.set(false));
    }
    let rows = functions(conn)?;
    apply(conn, rows)
}

/// Registers `rows` and removes what is registered but not among them.
fn apply(conn: &Connection, rows: Vec<CFunctionRow>) -> Result<(), SqlError> {
    let gone: Vec<CFunctionRow> = REGISTERED.with(|r| {
        let mut r = r.borrow_mut();
        let (keep, gone): (Vec<Registered>, Vec<Registered>) = r.drain(..).partition(|x| rows.contains(&x.row));
        *r = keep;
        gone.into_iter().map(|g| g.row).collect()
    });
    for g in &gone {
        let still = REGISTERED
            .with(|r| r.borrow().iter().any(|x| x.row.name == g.name && x.row.argtypes.len() == g.argtypes.len()));
        if !still {
            let _ = conn.remove_function(g.name.as_str(), i32::try_from(g.argtypes.len()).unwrap_or(0));
        }
    }
    for row in rows {
        if REGISTERED.with(|r| r.borrow().iter().any(|x| x.row == row)) {
            continue;
        }
        define(conn, &row)?;
        REGISTERED.with(|r| r.borrow_mut().push(Registered { row, call: None }));
    }
    Ok(())
}

/// Defines the SQLite function that calls C function `row` (looked up again by name and argument count).
fn define(conn: &Connection, row: &CFunctionRow) -> Result<(), SqlError> {
    let name = row.name.clone();
    let nargs = row.argtypes.len();
    let flags = FunctionFlags::SQLITE_UTF8;
    conn.create_scalar_function(row.name.as_str(), i32::try_from(nargs).unwrap_or(0), flags, move |ctx| {
        let run = || -> Result<rusqlite::types::Value, SqlError> {
            let args = (0..ctx.len())
                .map(|i| crate::backend::host::SqlArg::from_sqlite(ctx.get_raw(i)))
                .collect::<Result<Vec<_>, _>>()?;
            let call = callable(&name, nargs)?;
            Ok(match call(&args)? {
                SqlArg::Null => rusqlite::types::Value::Null,
                SqlArg::Int(i) => rusqlite::types::Value::Integer(i),
                SqlArg::Real(r) => rusqlite::types::Value::Real(r),
                SqlArg::Text(t) => rusqlite::types::Value::Text(t),
                SqlArg::Bool(b) => rusqlite::types::Value::Integer(i64::from(b)),
            })
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(result) => result.map_err(context::fail),
            Err(payload) => Err(context::fail(SqlError::error(
                "XX000",
                format!("internal error in function {name}: {}", context::panic_message(&*payload)),
            ))),
        }
    })
    .map_err(internal)
}

/// How to call the registered C function `name` of `nargs` arguments: its library loaded (and its symbol
/// checked) at the first call in this session; a library that no longer loads fails the call with why.
fn callable(name: &str, nargs: usize) -> Result<ModuleCall, SqlError> {
    let found = REGISTERED.with(|r| {
        r.borrow()
            .iter()
            .find(|x| x.row.name == name && x.row.argtypes.len() == nargs)
            .map(|x| (x.row.clone(), x.call.clone()))
    });
    let (row, call) = found.ok_or_else(|| SqlError::error("42883", format!("function {name} does not exist")))?;
    if let Some(call) = call {
        return Ok(call);
    }
    let call = context::host()?.c_function(&row.library, &row.symbol, &row.argtypes, row.rettype, row.strict)?;
    REGISTERED.with(|r| {
        if let Some(x) = r.borrow_mut().iter_mut().find(|x| x.row == row) {
            x.call = Some(call.clone());
        }
    });
    Ok(call)
}

/// The result type of a C function registered in this session, for the translator.
pub(crate) fn result_type(name: &str) -> Option<PgType> {
    REGISTERED.with(|r| {
        r.borrow().iter().find(|x| x.row.name.eq_ignore_ascii_case(name)).map(|x| {
            if x.row.rettype == PgType::Void.oid() {
                PgType::Void
            } else {
                PgType::from_oid(x.row.rettype).unwrap_or(PgType::Text)
            }
        })
    })
}

/// The argument types of a C function registered in this session.
pub(crate) fn argument_types(name: &str) -> Option<Vec<PgType>> {
    REGISTERED.with(|r| {
        r.borrow()
            .iter()
            .find(|x| x.row.name.eq_ignore_ascii_case(name))
            .map(|x| x.row.argtypes.iter().map(|o| PgType::from_oid(*o).unwrap_or(PgType::Text)).collect())
    })
}

/// The C functions registered in this session (for `pg_proc`).
pub(crate) fn registered() -> Vec<CFunctionRow> {
    REGISTERED.with(|r| r.borrow().iter().map(|x| x.row.clone()).collect())
}
