//! Running SQL on the session's private in-memory SQLite database.
//!
//! [`Engine::prepare`] takes the first statement off a query string and analyses it without running it: its
//! kind (for the command tag), its parameters (`$1`, `$2`, ... as PostgreSQL clients write them), and its result
//! columns with a PostgreSQL type where one can be known before running: from the declared column type, or from
//! SQLite's bytecode (`EXPLAIN`) when a column is computed by a function with a known result type or by a
//! literal. [`Engine::execute`] runs it and returns all rows.
//!
//! Transactions pass to SQLite, with PostgreSQL's rules on top: after an error inside a transaction block the
//! transaction is *failed* and only `ROLLBACK` (or `COMMIT`, which then rolls back) is accepted; `COMMIT` or
//! `ROLLBACK` outside a block and `BEGIN` inside one are warnings, not errors.

use std::ffi::{c_char, c_int, CStr};

use rusqlite::{ffi, Connection};

use super::context;
use super::functions;
use super::host::SqlError;
use super::types::{PgType, Value};
use super::views;

/// Transaction state, as ReadyForQuery reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxState {
    Idle,
    InBlock,
    Failed,
}

/// What a statement does, as far as command tags and transaction rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Insert,
    Update,
    Delete,
    Begin,
    Commit,
    Rollback,
    RollbackTo,
    /// A catalog command the host runs itself (CREATE/ALTER/DROP DATABASE and ROLE).
    Catalog,
    /// Anything else, with its command tag (`CREATE TABLE`, `PRAGMA`, ...).
    Other(String),
}

/// A result column before it is run: its name and, where known, its type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnInfo {
    pub name: String,
    pub ty: Option<PgType>,
}

/// One analysed statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sql: String,
    pub kind: Kind,
    pub columns: Vec<ColumnInfo>,
    /// For each SQLite parameter, in SQLite's order, the PostgreSQL parameter number (`$n`) it takes.
    param_numbers: Vec<usize>,
    /// How many parameters a Bind must supply: the highest `$n`.
    pub param_count: usize,
}

/// What running a statement produced.
#[derive(Debug)]
pub(crate) struct Executed {
    pub tag: String,
    /// The rows, for a statement that has result columns (even if it returned none).
    pub rows: Option<Vec<Vec<Value>>>,
}

pub(crate) struct Engine {
    conn: Connection,
    tx_failed: bool,
    /// Whether `PRAGMA query_only` is on (it follows the host's read-only state).
    read_only: bool,
}

impl Engine {
    /// The session's database (the file at `path`, or a fresh in-memory one) with the backend's functions and
    /// views. A file is opened as every database of the host is: WAL, durable commits, writers wait for writers.
    pub(crate) fn open(path: Option<&std::path::Path>) -> Result<Engine, SqlError> {
        let setup = || -> rusqlite::Result<Connection> {
            let conn = match path {
                Some(p) => crate::catalog::open_database_file(p)?,
                None => Connection::open_in_memory()?,
            };
            forbid_files(&conn)?;
            // Triggers, views, defaults and checks run with the privileges of whoever sets them off, and any role
            // may create them on any table: only functions and views without side effects may appear in them
            // (SQLite's trusted_schema off), so a trigger one role plants cannot make a superuser's statement
            // register workers or load libraries. Defensive mode keeps SQL from corrupting the file itself.
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            functions::register(&conn)?;
            views::register(&conn)?;
            Ok(conn)
        };
        let conn =
            setup().map_err(|err| SqlError::fatal("XX000", format!("could not set up the session database: {err}")))?;
        Ok(Engine { conn, tx_failed: false, read_only: false })
    }

    pub(crate) fn tx_state(&self) -> TxState {
        if self.conn.is_autocommit() {
            TxState::Idle
        } else if self.tx_failed {
            TxState::Failed
        } else {
            TxState::InBlock
        }
    }

    /// Analyses the first statement of `sql` and returns it with the rest of the string, or None if `sql` holds
    /// no statement (only blanks, comments and semicolons). An error (a syntax error, an unknown table, ...) fails
    /// the transaction block, if there is one.
    pub(crate) fn prepare<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        let result = self.prepare_first(sql);
        if result.is_err() && !self.conn.is_autocommit() {
            self.tx_failed = true;
        }
        result
    }

    fn prepare_first<'a>(&self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        let mut rest = sql;
        loop {
            if is_blank(rest) {
                return Ok(None);
            }
            if let Some(len) = context::host().ok().and_then(|h| h.catalog_statement_len(rest)) {
                let len = len.clamp(1, rest.len());
                let statement = Statement {
                    sql: rest[..len].to_owned(),
                    kind: Kind::Catalog,
                    columns: Vec::new(),
                    param_numbers: Vec::new(),
                    param_count: 0,
                };
                return Ok(Some((statement, &rest[len..])));
            }
            if let Some((canonical, kind, consumed)) = transaction_control(rest) {
                let statement = Statement {
                    sql: canonical.to_owned(),
                    kind,
                    columns: Vec::new(),
                    param_numbers: Vec::new(),
                    param_count: 0,
                };
                return Ok(Some((statement, &rest[consumed.min(rest.len())..])));
            }
            let (consumed, decltypes) = probe(&self.conn, rest).map_err(map_error)?;
            let consumed = consumed.min(rest.len());
            match decltypes {
                Some(decltypes) => {
                    let (text, remainder) = rest.split_at(consumed);
                    return Ok(Some((self.analyse(text, decltypes)?, remainder)));
                }
                None if consumed == 0 => return Ok(None),
                None => rest = &rest[consumed..],
            }
        }
    }

    fn analyse(&self, text: &str, decltypes: Vec<Option<String>>) -> Result<Statement, SqlError> {
        let prepared = self.conn.prepare(text).map_err(map_error)?;
        let names: Vec<String> = prepared.column_names().map(str::to_owned).collect();
        let param_numbers: Vec<usize> =
            (1..=prepared.parameter_count()).map(|index| param_number(prepared.parameter_name(index), index)).collect();
        let param_count = param_numbers.iter().copied().max().unwrap_or(0);
        drop(prepared);

        let mut types: Vec<Option<PgType>> = (0..names.len())
            .map(|i| decltypes.get(i).cloned().flatten().and_then(|d| PgType::from_decltype(&d)))
            .collect();
        if types.iter().any(Option::is_none) {
            let inferred = explain_types(&self.conn, text, names.len());
            for (ty, guess) in types.iter_mut().zip(inferred) {
                if ty.is_none() {
                    *ty = guess;
                }
            }
        }
        Ok(Statement {
            sql: text.to_owned(),
            kind: classify(text),
            columns: names.into_iter().zip(types).map(|(name, ty)| ColumnInfo { name, ty }).collect(),
            param_numbers,
            param_count,
        })
    }

    /// Runs `stmt` with `params` (`params[n - 1]` is `$n`; missing ones are NULL).
    pub(crate) fn execute(&mut self, stmt: &Statement, params: &[Value]) -> Result<Executed, SqlError> {
        context::clear_pending_error();
        let tag_only = |tag: &str| Ok(Executed { tag: tag.to_owned(), rows: None });
        match (self.tx_state(), &stmt.kind) {
            (TxState::Failed, Kind::Commit | Kind::Rollback) => {
                self.conn.execute_batch("ROLLBACK").map_err(map_error)?;
                self.tx_failed = false;
                if let Ok(h) = context::host() {
                    h.transaction_ended(false);
                }
                return tag_only("ROLLBACK");
            }
            (TxState::Failed, Kind::RollbackTo) => {}
            (TxState::Failed, _) => {
                return Err(SqlError::error(
                    "25P02",
                    "current transaction is aborted, commands ignored until end of transaction block",
                ))
            }
            (TxState::Idle, Kind::Commit | Kind::Rollback) => {
                context::notice(SqlError::warning("25P01", "there is no transaction in progress"));
                return tag_only(if stmt.kind == Kind::Commit { "COMMIT" } else { "ROLLBACK" });
            }
            (TxState::InBlock, Kind::Begin) => {
                context::notice(SqlError::warning("25001", "there is already a transaction in progress"));
                return tag_only("BEGIN");
            }
            _ => {}
        }
        let read_only = context::host().map(|h| h.read_only()).unwrap_or(false);
        if read_only != self.read_only {
            self.conn.pragma_update(None, "query_only", read_only).map_err(map_error)?;
            self.read_only = read_only;
        }
        if read_only && writes(&stmt.kind) {
            let e = SqlError::error("25006", format!("cannot execute {} in a read-only transaction", tag_of(stmt)));
            if !self.conn.is_autocommit() {
                self.tx_failed = true;
            }
            return Err(e);
        }
        let result = if stmt.kind == Kind::Catalog {
            let in_block = self.tx_state() == TxState::InBlock;
            context::host().and_then(|h| h.catalog_command(&stmt.sql, in_block)).map(|tag| Executed { tag, rows: None })
        } else {
            self.run(stmt, params)
        };
        if self.conn.is_autocommit() {
            self.tx_failed = false;
            // A transaction ended (the statement's own, or a block's): the host publishes its notifications only
            // if it committed.
            if let Ok(h) = context::host() {
                h.transaction_ended(result.is_ok() && !matches!(stmt.kind, Kind::Rollback));
            }
        } else if result.is_err() {
            self.tx_failed = true;
        } else if stmt.kind == Kind::RollbackTo {
            self.tx_failed = false;
        }
        result
    }

    fn run(&mut self, stmt: &Statement, params: &[Value]) -> Result<Executed, SqlError> {
        let mut prepared = self.conn.prepare(&stmt.sql).map_err(map_error)?;
        let width = prepared.column_count();
        if width != stmt.columns.len() {
            return Err(SqlError::error("0A000", "cached plan must not change result type")
                .with_detail("The statement's result columns changed since it was prepared."));
        }
        for (position, number) in stmt.param_numbers.iter().enumerate() {
            let value = params.get(number.wrapping_sub(1)).unwrap_or(&Value::Null);
            prepared.raw_bind_parameter(position + 1, value).map_err(map_error)?;
        }
        let mut rows_out = Vec::new();
        {
            let mut rows = prepared.raw_query();
            while let Some(row) = rows.next().map_err(map_error)? {
                if width > 0 {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(Value::from(row.get_ref(i).map_err(map_error)?));
                    }
                    rows_out.push(values);
                }
            }
        }
        let changes = self.conn.changes();
        let tag = match &stmt.kind {
            Kind::Insert => format!("INSERT 0 {changes}"),
            Kind::Update => format!("UPDATE {changes}"),
            Kind::Delete => format!("DELETE {changes}"),
            _ if width > 0 => format!("SELECT {}", rows_out.len()),
            Kind::Query => "SELECT 0".to_owned(),
            Kind::Begin => "BEGIN".to_owned(),
            Kind::Commit => "COMMIT".to_owned(),
            Kind::Rollback | Kind::RollbackTo => "ROLLBACK".to_owned(),
            // Catalog commands never reach SQLite (see execute).
            Kind::Catalog => String::new(),
            Kind::Other(tag) => tag.clone(),
        };
        Ok(Executed { tag, rows: (width > 0).then_some(rows_out) })
    }
}

/// Whether a statement of this kind writes (refused in a read-only session; SQLite's `query_only` backs this up
/// for anything the classification misses).
fn writes(kind: &Kind) -> bool {
    match kind {
        Kind::Insert | Kind::Update | Kind::Delete => true,
        Kind::Other(tag) => !matches!(tag.split(' ').next(), Some("SELECT" | "EXPLAIN" | "PRAGMA" | "VALUES" | "WITH")),
        Kind::Query | Kind::Begin | Kind::Commit | Kind::Rollback | Kind::RollbackTo | Kind::Catalog => false,
    }
}

/// The command named in a read-only error: the statement's tag without counts.
fn tag_of(stmt: &Statement) -> String {
    match &stmt.kind {
        Kind::Insert => "INSERT".into(),
        Kind::Update => "UPDATE".into(),
        Kind::Delete => "DELETE".into(),
        Kind::Other(tag) => tag.clone(),
        _ => "this command".into(),
    }
}

/// Keeps the session's SQL away from the file system: attaching a database file (`ATTACH`) and writing one
/// (`VACUUM INTO`) are refused with SQLITE_AUTH (SQLSTATE 42501), since the backend runs with the host's
/// privileges. In-memory and temporary databases are still allowed, named by a string literal: SQLite tells the
/// authorizer the file name only when it is one, so an `ATTACH` whose name is an expression, a subquery or a
/// parameter (which could name the catalog or any file) is refused.
fn forbid_files(conn: &Connection) -> rusqlite::Result<()> {
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

/// The PostgreSQL number of the SQLite parameter at `index`: `$n` and `?n` are number n, anything else counts
/// by position.
fn param_number(name: Option<&str>, index: usize) -> usize {
    name.and_then(|name| name.strip_prefix('$').or_else(|| name.strip_prefix('?')))
        .and_then(|digits| digits.parse::<usize>().ok())
        .filter(|n| (1..=65_535).contains(n))
        .unwrap_or(index)
}

/// Prepares the first statement of `sql` without keeping it: how many bytes it (or the blanks before the next
/// one) takes, and the declared types of its result columns; no types (None) when SQLite found no statement.
fn probe(conn: &Connection, sql: &str) -> rusqlite::Result<(usize, Option<Vec<Option<String>>>)> {
    let Ok(len) = c_int::try_from(sql.len()) else {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_TOOBIG),
            Some("query is too long".into()),
        ));
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
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::sqlite3_extended_errcode(db)),
                Some(message),
            ));
        }
        let consumed = if tail.is_null() { sql.len() } else { tail.offset_from(head).max(0) as usize };
        if stmt.is_null() {
            return Ok((consumed, None));
        }
        let decltypes = (0..ffi::sqlite3_column_count(stmt))
            .map(|i| {
                let decl = ffi::sqlite3_column_decltype(stmt, i);
                (!decl.is_null()).then(|| CStr::from_ptr(decl).to_string_lossy().into_owned())
            })
            .collect();
        ffi::sqlite3_finalize(stmt);
        Ok((consumed, Some(decltypes)))
    }
}

/// Where a register's value comes from, as far as the result type goes.
#[derive(Debug, Clone)]
enum Source {
    Known(PgType),
    Function(String),
    CopyOf(i64),
    Arithmetic(i64, i64),
    Cast(i64),
    Null,
    /// A value whose type the bytecode does not tell (a table column, a parameter, ...).
    Unknown,
}

/// Result column types read off the statement's bytecode: for each column, the type every instruction that
/// writes its register agrees on, or None.
fn explain_types(conn: &Connection, sql: &str, width: usize) -> Vec<Option<PgType>> {
    let mut types = vec![None; width];
    if width == 0 {
        return types;
    }
    let Ok(mut explain) = conn.prepare(&format!("EXPLAIN {sql}")) else {
        return types;
    };
    let mut writers: std::collections::HashMap<i64, Vec<Source>> = std::collections::HashMap::new();
    let mut outputs: Vec<(i64, i64)> = Vec::new();
    let mut rows = explain.raw_query();
    while let Ok(Some(row)) = rows.next() {
        let opcode: String = row.get(1).unwrap_or_default();
        let p = |i: usize| row.get::<_, Option<i64>>(i).ok().flatten().unwrap_or(0);
        let (p1, p2, p3) = (p(2), p(3), p(4));
        let p4: String = row.get::<_, Option<String>>(5).ok().flatten().unwrap_or_default();
        let function = || Source::Function(p4.split('(').next().unwrap_or("").to_ascii_lowercase());
        let mut write = |register: i64, source: Source| writers.entry(register).or_default().push(source);
        match opcode.as_str() {
            "ResultRow" => outputs.push((p1, p2)),
            "Function" | "PureFunc" | "AggValue" => write(p3, function()),
            "AggFinal" => write(p1, function()),
            "Count" => write(p2, Source::Known(PgType::Int8)),
            "Integer" | "Int64" => write(p2, Source::Known(PgType::Int8)),
            "Real" => write(p2, Source::Known(PgType::Float8)),
            "String8" | "String" | "Concat" => {
                write(if opcode == "Concat" { p3 } else { p2 }, Source::Known(PgType::Text))
            }
            "Blob" => write(p2, Source::Known(PgType::Bytea)),
            "Null" => {
                for register in p2..=p3.max(p2).min(p2 + 1000) {
                    write(register, Source::Null);
                }
            }
            "Copy" => {
                for k in 0..=p3.clamp(0, 1000) {
                    write(p2 + k, Source::CopyOf(p1 + k));
                }
            }
            "SCopy" | "IntCopy" | "Move" => write(p2, Source::CopyOf(p1)),
            "Add" | "Subtract" | "Multiply" | "Divide" | "Remainder" => write(p3, Source::Arithmetic(p1, p2)),
            "Cast" => write(p1, Source::Cast(p2)),
            "Rowid" => write(p2, Source::Known(PgType::Int8)),
            "Column" | "VColumn" => write(p3, Source::Unknown),
            "Variable" => write(p2, Source::Unknown),
            _ => {}
        }
    }
    drop(rows);
    for (column, ty) in types.iter_mut().enumerate() {
        let mut agreed: Option<PgType> = None;
        for &(first, count) in &outputs {
            if (column as i64) >= count {
                agreed = None;
                break;
            }
            match register_type(&writers, first + column as i64, 0) {
                Some(t) if agreed.is_none() || agreed == Some(t) => agreed = Some(t),
                _ => {
                    agreed = None;
                    break;
                }
            }
        }
        *ty = agreed;
    }
    types
}

fn register_type(writers: &std::collections::HashMap<i64, Vec<Source>>, register: i64, depth: u32) -> Option<PgType> {
    if depth > 16 {
        return None;
    }
    let sources = writers.get(&register)?;
    if let Some(Source::Cast(affinity)) = sources.iter().rev().find(|s| matches!(s, Source::Cast(_))) {
        return match u8::try_from(*affinity).ok()? {
            b'A' => Some(PgType::Bytea),
            b'B' => Some(PgType::Text),
            b'D' => Some(PgType::Int8),
            b'E' => Some(PgType::Float8),
            _ => None,
        };
    }
    let mut agreed = None;
    let mut only_nulls = true;
    for source in sources {
        let ty = match source {
            Source::Null | Source::Cast(_) => continue,
            Source::Unknown => return None,
            Source::Known(ty) => *ty,
            Source::Function(name) => functions::result_type(name)?,
            Source::CopyOf(from) => register_type(writers, *from, depth + 1)?,
            Source::Arithmetic(a, b) => {
                match (register_type(writers, *a, depth + 1)?, register_type(writers, *b, depth + 1)?) {
                    (PgType::Float8, PgType::Float8 | PgType::Int8 | PgType::Int4)
                    | (PgType::Int8 | PgType::Int4, PgType::Float8) => PgType::Float8,
                    (PgType::Int8 | PgType::Int4, PgType::Int8 | PgType::Int4) => PgType::Int8,
                    _ => return None,
                }
            }
        };
        only_nulls = false;
        if agreed.is_some_and(|t| t != ty) {
            return None;
        }
        agreed = Some(ty);
    }
    if only_nulls {
        None
    } else {
        agreed
    }
}

/// Maps a rusqlite error to a PostgreSQL error; an error raised by one of the backend's SQL functions comes back
/// whole, SQLSTATE included.
pub(crate) fn map_error(err: rusqlite::Error) -> SqlError {
    if let Some(err) = context::take_pending_error() {
        return err;
    }
    match err {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.unwrap_or_else(|| failure.to_string());
            SqlError::error(sqlstate(failure.extended_code, &message), message)
        }
        rusqlite::Error::Utf8Error(..) => SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\""),
        other => SqlError::error("XX000", other.to_string()),
    }
}

fn sqlstate(code: c_int, message: &str) -> &'static str {
    match code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => return "23505",
        ffi::SQLITE_CONSTRAINT_NOTNULL => return "23502",
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return "23503",
        ffi::SQLITE_CONSTRAINT_CHECK => return "23514",
        _ => {}
    }
    match code & 0xff {
        ffi::SQLITE_CONSTRAINT => return "23000",
        ffi::SQLITE_TOOBIG => return "54000",
        ffi::SQLITE_MISMATCH => return "42804",
        ffi::SQLITE_NOMEM => return "53200",
        ffi::SQLITE_FULL => return "53100",
        ffi::SQLITE_INTERRUPT => return "57014",
        ffi::SQLITE_READONLY => return "25006",
        ffi::SQLITE_AUTH => return "42501",
        _ => {}
    }
    const BY_MESSAGE: &[(&str, &str)] = &[
        ("syntax error", "42601"),
        ("incomplete input", "42601"),
        ("unrecognized token", "42601"),
        ("no such table", "42P01"),
        ("no such column", "42703"),
        ("ambiguous column name", "42702"),
        ("no such function", "42883"),
        ("wrong number of arguments to function", "42883"),
        ("already exists", "42P07"),
        ("no such index", "42704"),
        ("no such view", "42704"),
        ("no such trigger", "42704"),
        ("no such savepoint", "3B001"),
        ("cannot start a transaction within a transaction", "25001"),
        ("no transaction is active", "25P01"),
        ("misuse of aggregate", "42803"),
        ("integer overflow", "22003"),
        ("too many", "54000"),
    ];
    let lower = message.to_ascii_lowercase();
    BY_MESSAGE.iter().find(|(needle, _)| lower.contains(needle)).map_or("XX000", |(_, state)| state)
}

/// A token of SQL text, as far as finding keywords goes.
#[derive(Debug, PartialEq)]
enum Token {
    /// An unquoted word, upper-cased.
    Word(String),
    Symbol(u8),
    /// A string, number, blob or quoted identifier.
    Literal,
}

/// Splits SQL text into tokens with their parenthesis depth, skipping blanks and comments.
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer { bytes: text.as_bytes(), pos: 0, depth: 0 }
    }

    fn skip_until(&mut self, end: &[u8]) {
        while self.pos < self.bytes.len() && !self.bytes[self.pos..].starts_with(end) {
            self.pos += 1;
        }
        self.pos = (self.pos + end.len()).min(self.bytes.len());
    }
}

impl Iterator for Lexer<'_> {
    type Item = (usize, Token);

    fn next(&mut self) -> Option<(usize, Token)> {
        loop {
            let &byte = self.bytes.get(self.pos)?;
            let next = self.bytes.get(self.pos + 1).copied();
            match byte {
                b if b.is_ascii_whitespace() => self.pos += 1,
                b'-' if next == Some(b'-') => self.skip_until(b"\n"),
                b'/' if next == Some(b'*') => {
                    self.pos += 2;
                    self.skip_until(b"*/");
                }
                b'\'' | b'"' | b'`' => {
                    // A doubled quote inside is an escaped quote: skipping to the next quote and going on
                    // from there reads it as two adjacent literals, which is just as good here.
                    self.pos += 1;
                    self.skip_until(&[byte]);
                    return Some((self.depth, Token::Literal));
                }
                b'[' => {
                    self.skip_until(b"]");
                    return Some((self.depth, Token::Literal));
                }
                b'(' => {
                    self.pos += 1;
                    self.depth += 1;
                    return Some((self.depth - 1, Token::Symbol(b'(')));
                }
                b')' => {
                    self.pos += 1;
                    self.depth = self.depth.saturating_sub(1);
                    return Some((self.depth, Token::Symbol(b')')));
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let start = self.pos;
                    while self.pos < self.bytes.len() {
                        let b = self.bytes[self.pos];
                        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    let word = String::from_utf8_lossy(&self.bytes[start..self.pos]).to_ascii_uppercase();
                    return Some((self.depth, Token::Word(word)));
                }
                b if b.is_ascii_digit() => {
                    while self.pos < self.bytes.len()
                        && (self.bytes[self.pos].is_ascii_alphanumeric() || self.bytes[self.pos] == b'.')
                    {
                        self.pos += 1;
                    }
                    return Some((self.depth, Token::Literal));
                }
                other => {
                    self.pos += 1;
                    return Some((self.depth, Token::Symbol(other)));
                }
            }
        }
    }
}

/// PostgreSQL's spellings of transaction control that SQLite does not know (`START TRANSACTION`, `BEGIN
/// ISOLATION LEVEL ...`, `COMMIT WORK`, `ABORT`, ...): the SQLite statement to run instead, its kind, and how many
/// bytes of `sql` the statement takes. None for anything else, SQLite's own spellings included.
fn transaction_control(sql: &str) -> Option<(&'static str, Kind, usize)> {
    const CONTROL: &[&str] = &["START", "BEGIN", "COMMIT", "END", "ABORT", "ROLLBACK"];
    let mut lexer = Lexer::new(sql);
    let mut words: Vec<String> = Vec::new();
    let mut end = sql.len();
    while let Some((depth, token)) = lexer.next() {
        match token {
            Token::Symbol(b';') if depth == 0 => {
                end = lexer.pos;
                break;
            }
            Token::Word(word) => {
                if words.is_empty() && !CONTROL.contains(&word.as_str()) {
                    return None;
                }
                words.push(word);
            }
            _ if words.is_empty() => return None,
            _ => {}
        }
    }
    let (first, modifiers) = words.split_first()?;
    let only = |allowed: &[&str]| modifiers.len() <= 1 && modifiers.iter().all(|w| allowed.contains(&w.as_str()));
    let (canonical, kind) = match first.as_str() {
        "START" if modifiers.first().map(String::as_str) == Some("TRANSACTION") => ("BEGIN", Kind::Begin),
        "BEGIN" if only(&["DEFERRED", "IMMEDIATE", "EXCLUSIVE", "TRANSACTION"]) => return None,
        "BEGIN" if modifiers.len() == 2 && modifiers[1] == "TRANSACTION" && modifiers[0] != "WORK" => return None,
        "BEGIN" => ("BEGIN", Kind::Begin),
        "COMMIT" | "END" if only(&["TRANSACTION"]) => return None,
        "COMMIT" | "END" => ("COMMIT", Kind::Commit),
        "ROLLBACK" if modifiers.iter().any(|w| w == "TO") || only(&["TRANSACTION"]) => return None,
        "ROLLBACK" | "ABORT" => ("ROLLBACK", Kind::Rollback),
        _ => return None,
    };
    Some((canonical, kind, end))
}

/// True if `sql` holds no statement: only blanks, comments and semicolons.
pub(crate) fn is_blank(sql: &str) -> bool {
    Lexer::new(sql).all(|(_, token)| token == Token::Symbol(b';'))
}

/// The kind of a single statement, from its leading keywords.
pub(crate) fn classify(sql: &str) -> Kind {
    let mut words = Lexer::new(sql).filter_map(|(depth, token)| match token {
        Token::Word(word) if depth == 0 => Some(word),
        _ => None,
    });
    let Some(first) = words.next() else {
        return Kind::Other(String::new());
    };
    match first.as_str() {
        "SELECT" | "VALUES" => Kind::Query,
        "INSERT" | "REPLACE" => Kind::Insert,
        "UPDATE" => Kind::Update,
        "DELETE" => Kind::Delete,
        "BEGIN" => Kind::Begin,
        "COMMIT" | "END" => Kind::Commit,
        "ROLLBACK" => {
            if words.any(|w| w == "TO") {
                Kind::RollbackTo
            } else {
                Kind::Rollback
            }
        }
        "WITH" => {
            for word in words {
                match word.as_str() {
                    "SELECT" | "VALUES" => return Kind::Query,
                    "INSERT" | "REPLACE" => return Kind::Insert,
                    "UPDATE" => return Kind::Update,
                    "DELETE" => return Kind::Delete,
                    _ => {}
                }
            }
            Kind::Query
        }
        "CREATE" | "DROP" | "ALTER" => {
            let object =
                words.find(|w| !matches!(w.as_str(), "TEMP" | "TEMPORARY" | "UNIQUE" | "VIRTUAL")).unwrap_or_default();
            Kind::Other(format!("{first} {object}").trim_end().to_owned())
        }
        _ => Kind::Other(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let conn = Connection::open_in_memory().unwrap();
        forbid_files(&conn).unwrap();
        Engine { conn, tx_failed: false, read_only: false }
    }

    fn run(engine: &mut Engine, sql: &str) -> Result<Executed, SqlError> {
        let (stmt, _) = engine.prepare(sql)?.expect("a statement");
        engine.execute(&stmt, &[])
    }

    #[test]
    fn kinds() {
        assert_eq!(classify("select 1"), Kind::Query);
        assert_eq!(classify("  -- hi\n /* x */ VALUES (1)"), Kind::Query);
        assert_eq!(classify("insert or replace into t values (1)"), Kind::Insert);
        assert_eq!(classify("WITH x(a) AS (SELECT 1) INSERT INTO t SELECT a FROM x"), Kind::Insert);
        assert_eq!(classify("WITH x AS (DELETE) SELECT 1"), Kind::Query);
        assert_eq!(classify("with recursive c(n) as (select 1) select * from c"), Kind::Query);
        assert_eq!(classify("create temp table t(a)"), Kind::Other("CREATE TABLE".into()));
        assert_eq!(classify("CREATE UNIQUE INDEX i ON t(a)"), Kind::Other("CREATE INDEX".into()));
        assert_eq!(classify("drop view v"), Kind::Other("DROP VIEW".into()));
        assert_eq!(classify("begin immediate"), Kind::Begin);
        assert_eq!(classify("end transaction"), Kind::Commit);
        assert_eq!(classify("rollback"), Kind::Rollback);
        assert_eq!(classify("rollback to savepoint a"), Kind::RollbackTo);
        assert_eq!(classify("savepoint a"), Kind::Other("SAVEPOINT".into()));
        assert_eq!(classify("pragma table_info('t')"), Kind::Other("PRAGMA".into()));
    }

    #[test]
    fn postgres_transaction_spellings() {
        assert_eq!(transaction_control("START TRANSACTION; SELECT 1"), Some(("BEGIN", Kind::Begin, 18)));
        let long = "start transaction isolation level serializable, read only";
        assert_eq!(transaction_control(long), Some(("BEGIN", Kind::Begin, long.len())));
        assert_eq!(transaction_control("BEGIN WORK").map(|t| t.0), Some("BEGIN"));
        assert_eq!(transaction_control("begin isolation level read committed").map(|t| t.0), Some("BEGIN"));
        assert_eq!(transaction_control("COMMIT WORK").map(|t| t.0), Some("COMMIT"));
        assert_eq!(transaction_control("abort").map(|t| t.0), Some("ROLLBACK"));
        assert_eq!(transaction_control("ROLLBACK WORK").map(|t| t.0), Some("ROLLBACK"));
        // SQLite's own spellings go to SQLite.
        for sqlite in [
            "BEGIN",
            "BEGIN IMMEDIATE",
            "BEGIN EXCLUSIVE TRANSACTION",
            "COMMIT",
            "END TRANSACTION",
            "ROLLBACK",
            "ROLLBACK TO s",
            "SELECT 1",
            "; BEGIN WORK",
        ] {
            assert_eq!(transaction_control(sqlite), None, "{sqlite}");
        }
        let mut e = engine();
        run(&mut e, "CREATE TABLE t(a)").unwrap();
        assert_eq!(run(&mut e, "START TRANSACTION ISOLATION LEVEL REPEATABLE READ").unwrap().tag, "BEGIN");
        assert_eq!(e.tx_state(), TxState::InBlock);
        run(&mut e, "INSERT INTO t VALUES (1)").unwrap();
        assert_eq!(run(&mut e, "ABORT").unwrap().tag, "ROLLBACK");
        assert_eq!(e.tx_state(), TxState::Idle);
    }

    #[test]
    fn blanks() {
        assert!(is_blank(""));
        assert!(is_blank(" ;; -- x\n /* y */ ;"));
        assert!(is_blank("/* unterminated"));
        assert!(!is_blank("1"));
        assert!(!is_blank(";select"));
        assert!(!is_blank("'x'"));
    }

    #[test]
    fn parameter_numbers() {
        assert_eq!(param_number(Some("$2"), 1), 2);
        assert_eq!(param_number(Some("?3"), 1), 3);
        assert_eq!(param_number(None, 4), 4);
        assert_eq!(param_number(Some(":name"), 5), 5);
        assert_eq!(param_number(Some("$0"), 6), 6);
        assert_eq!(param_number(Some("$99999999999999999999999"), 7), 7);
    }

    #[test]
    fn prepares_statements_one_by_one() {
        let mut e = engine();
        let sql = "SELECT 1 AS a, 'x'; /* c */ SELECT 2.5;  ";
        let (first, rest) = e.prepare(sql).unwrap().unwrap();
        assert_eq!(first.sql, "SELECT 1 AS a, 'x';");
        assert_eq!(first.columns[0], ColumnInfo { name: "a".into(), ty: Some(PgType::Int8) });
        assert_eq!(first.columns[1].ty, Some(PgType::Text));
        let (second, rest) = e.prepare(rest).unwrap().unwrap();
        assert_eq!(second.columns[0].ty, Some(PgType::Float8));
        assert!(e.prepare(rest).unwrap().is_none());
        assert!(e.prepare(" ; ; ").unwrap().is_none());
    }

    #[test]
    fn declared_and_computed_types() {
        let mut e = engine();
        run(&mut e, "CREATE TABLE t(a INTEGER, b TEXT, c BOOLEAN, d BLOB, e REAL, f)").unwrap();
        let (stmt, _) = e
            .prepare("SELECT a, b, c, d, e, f, a + 1, 1 + 2, 1.5 * 2, count(*), lower(b), CAST(a AS TEXT) FROM t")
            .unwrap()
            .unwrap();
        let types: Vec<Option<PgType>> = stmt.columns.iter().map(|c| c.ty).collect();
        use PgType::*;
        assert_eq!(
            types,
            vec![
                Some(Int8),
                Some(Text),
                Some(Bool),
                Some(Bytea),
                Some(Float8),
                None,
                None,
                Some(Int8),
                Some(Float8),
                Some(Int8),
                Some(Text),
                Some(Text)
            ]
        );
        let (stmt, _) = e.prepare("SELECT CASE WHEN 1 THEN 'a' ELSE 2 END, coalesce(NULL, 3), NULL").unwrap().unwrap();
        assert_eq!(stmt.columns[0].ty, None);
        assert_eq!(stmt.columns[2].ty, None);
        let (stmt, _) = e.prepare("SELECT 1 UNION ALL SELECT 'x'").unwrap().unwrap();
        assert_eq!(stmt.columns[0].ty, None);
        let (stmt, _) = e.prepare("SELECT 1 UNION ALL SELECT 2").unwrap().unwrap();
        assert_eq!(stmt.columns[0].ty, Some(Int8));
    }

    #[test]
    fn parameters_are_numbered_like_postgres() {
        let mut e = engine();
        let (stmt, _) = e.prepare("SELECT $2, $1, $2").unwrap().unwrap();
        assert_eq!(stmt.param_count, 2);
        let done = e.execute(&stmt, &[Value::Integer(1), Value::Text("two".into())]).unwrap();
        assert_eq!(
            done.rows.unwrap()[0],
            vec![Value::Text("two".into()), Value::Integer(1), Value::Text("two".into())]
        );
        let (stmt, _) = e.prepare("SELECT ?, ?").unwrap().unwrap();
        assert_eq!(stmt.param_count, 2);
    }

    #[test]
    fn command_tags() {
        let mut e = engine();
        assert_eq!(run(&mut e, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL)").unwrap().tag, "CREATE TABLE");
        assert_eq!(run(&mut e, "INSERT INTO t(b) VALUES ('x'), ('y'), ('z')").unwrap().tag, "INSERT 0 3");
        assert_eq!(run(&mut e, "UPDATE t SET b = 'w' WHERE a > 1").unwrap().tag, "UPDATE 2");
        let selected = run(&mut e, "SELECT * FROM t").unwrap();
        assert_eq!(selected.tag, "SELECT 3");
        assert_eq!(selected.rows.unwrap().len(), 3);
        assert_eq!(run(&mut e, "DELETE FROM t WHERE a = 1").unwrap().tag, "DELETE 1");
        let empty = run(&mut e, "SELECT * FROM t WHERE 0").unwrap();
        assert_eq!(empty.tag, "SELECT 0");
        assert_eq!(empty.rows.unwrap().len(), 0);
        assert_eq!(run(&mut e, "INSERT INTO t(b) VALUES ('r') RETURNING a").unwrap().tag, "INSERT 0 1");
        assert_eq!(run(&mut e, "DROP TABLE t").unwrap().tag, "DROP TABLE");
    }

    #[test]
    fn error_codes() {
        let mut e = engine();
        let code = |e: &mut Engine, sql: &str| run(e, sql).unwrap_err().code;
        assert_eq!(code(&mut e, "SELEC 1"), "42601");
        assert_eq!(code(&mut e, "SELECT * FROM nope"), "42P01");
        assert_eq!(code(&mut e, "SELECT nope()"), "42883");
        assert_eq!(code(&mut e, "SELECT lower()"), "42883");
        run(&mut e, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL, c CHECK (c > 0))").unwrap();
        assert_eq!(code(&mut e, "SELECT zzz FROM t"), "42703");
        assert_eq!(code(&mut e, "CREATE TABLE t(x)"), "42P07");
        run(&mut e, "INSERT INTO t VALUES (1, 'x', 1)").unwrap();
        assert_eq!(code(&mut e, "INSERT INTO t VALUES (1, 'x', 1)"), "23505");
        assert_eq!(code(&mut e, "INSERT INTO t VALUES (2, NULL, 1)"), "23502");
        assert_eq!(code(&mut e, "INSERT INTO t VALUES (3, 'x', -1)"), "23514");
        assert_eq!(code(&mut e, "SELECT 'unterminated"), "42601");
        // No files: neither attached nor written.
        let dir = std::env::temp_dir().join(format!("bgw-backend-test-{}", std::process::id()));
        assert_eq!(code(&mut e, &format!("ATTACH '{}' AS other", dir.display())), "42501");
        assert_eq!(code(&mut e, &format!("VACUUM INTO '{}'", dir.display())), "42501");
        assert!(!dir.exists());
        for name in [format!("'{}' || ''", dir.display()), format!("(SELECT '{}')", dir.display())] {
            assert_eq!(code(&mut e, &format!("ATTACH {name} AS other")), "42501", "{name}");
            assert_eq!(code(&mut e, &format!("VACUUM INTO {name}")), "42501", "{name}");
        }
        assert!(!dir.exists());
        run(&mut e, "ATTACH ':memory:' AS scratch").unwrap();
        run(&mut e, "VACUUM").unwrap();
    }

    #[test]
    fn postgres_transaction_rules() {
        let mut e = engine();
        run(&mut e, "CREATE TABLE t(a)").unwrap();
        assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "COMMIT");
        assert_eq!(context::take_notices()[0].code, "25P01");
        run(&mut e, "BEGIN").unwrap();
        assert_eq!(e.tx_state(), TxState::InBlock);
        assert_eq!(run(&mut e, "BEGIN").unwrap().tag, "BEGIN");
        assert_eq!(context::take_notices()[0].code, "25001");
        run(&mut e, "INSERT INTO t VALUES (1)").unwrap();
        assert!(run(&mut e, "SELECT * FROM nope").is_err());
        assert_eq!(e.tx_state(), TxState::Failed);
        assert_eq!(run(&mut e, "SELECT 1").unwrap_err().code, "25P02");
        assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "ROLLBACK");
        assert_eq!(e.tx_state(), TxState::Idle);
        assert_eq!(run(&mut e, "SELECT count(*) FROM t").unwrap().rows.unwrap()[0][0], Value::Integer(0));
        // An error outside a block does not fail anything.
        assert!(run(&mut e, "SELECT * FROM nope").is_err());
        assert_eq!(e.tx_state(), TxState::Idle);
        // ROLLBACK TO a savepoint recovers a failed block.
        run(&mut e, "BEGIN").unwrap();
        run(&mut e, "SAVEPOINT s").unwrap();
        assert!(run(&mut e, "SELECT * FROM nope").is_err());
        run(&mut e, "ROLLBACK TO SAVEPOINT s").unwrap();
        assert_eq!(e.tx_state(), TxState::InBlock);
        run(&mut e, "INSERT INTO t VALUES (2)").unwrap();
        assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "COMMIT");
        assert_eq!(run(&mut e, "SELECT count(*) FROM t").unwrap().rows.unwrap()[0][0], Value::Integer(1));
    }
}
