//! SPI on a worker's connection: statements, text results, transactions.
//!
//! The state of a process is one [`State`]: its connection (a [`Session`], once connected), how deep its
//! `SPI_connect`s are, the last result and the last error. Every operation returns a PostgreSQL SPI code (see
//! [`super::codes`]) and records an error text instead of raising; the C layer hands out pointers into the last
//! result, valid until the next SPI call replaces it.
//!
//! SQL goes to SQLite. A source string may hold several statements (run in order; the last one's result is
//! kept). Parameters are `$1`, `$2`, ... (or `?1`, `?`), bound as text, SQL NULL for absent values. Transactions
//! are SQLite's: `StartTransactionCommand` begins one with `BEGIN IMMEDIATE` (taking the database's write lock at
//! once, waiting up to the busy timeout for other writers, so that a later write cannot fail on a snapshot that
//! went stale), `CommitTransactionCommand` commits it. Outside a transaction every statement commits by itself.
//! After a failed statement inside a transaction the transaction is *failed*, as PostgreSQL's would be: further
//! statements are refused and committing rolls back.
//!
//! Runs in: a background worker process.

use super::codes::*;
use super::connection::Session;
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::ValueRef;
use std::ffi::{c_char, CString};

/// A statement's result: column names and rows, as text (None is SQL NULL).
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<CString>,
    pub rows: Vec<Vec<Option<CString>>>,
}

/// This process's connection and SPI state.
pub struct State {
    session: Option<Session>,
    depth: u32,
    tx_failed: bool,
    result: ResultSet,
    processed: u64,
    error: Option<CString>,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Text for C: NUL bytes (which C would read as the end) become spaces.
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

fn value_text(v: ValueRef<'_>) -> Option<CString> {
    let text = match v {
        ValueRef::Null => return None,
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) if f.is_infinite() => if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string(),
        ValueRef::Real(f) if f.is_nan() => "NaN".to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        // bytea's hex output format.
        ValueRef::Blob(b) => {
            let mut s = String::with_capacity(2 + 2 * b.len());
            s.push_str("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
    };
    Some(c_text(&text))
}

/// What a statement is, from its leading keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Select,
    Insert,
    Update,
    Delete,
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...: not allowed through SPI_execute.
    Transaction,
    Utility,
}

/// The words of `sql` at parenthesis depth 0, upper-cased, skipping comments, strings and quoted identifiers.
fn top_level_words(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i += 2;
        } else if c == b'\'' || c == b'"' || c == b'`' || c == b'[' {
            let close = if c == b'[' { b']' } else { c };
            i += 1;
            while i < b.len() && b[i] != close {
                i += 1;
            }
            i += 1;
        } else if c == b'(' {
            depth += 1;
            i += 1;
        } else if c == b')' {
            depth -= 1;
            i += 1;
        } else if c == b';' {
            break;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            if depth == 0 {
                words.push(sql[start..i].to_ascii_uppercase());
            }
        } else {
            i += 1;
        }
    }
    words
}

/// The kind of the first statement of `sql`.
pub fn classify(sql: &str) -> Kind {
    let words = top_level_words(sql);
    let Some(first) = words.first() else { return Kind::Utility };
    let dml = |w: &str| match w {
        "SELECT" | "VALUES" => Some(Kind::Select),
        "INSERT" | "REPLACE" => Some(Kind::Insert),
        "UPDATE" => Some(Kind::Update),
        "DELETE" => Some(Kind::Delete),
        _ => None,
    };
    match first.as_str() {
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => Kind::Transaction,
        "PREPARE" if words.get(1).map(String::as_str) == Some("TRANSACTION") => Kind::Transaction,
        "WITH" => words.iter().skip(1).find_map(|w| dml(w)).unwrap_or(Kind::Select),
        w => dml(w).unwrap_or(Kind::Utility),
    }
}

/// The number of a parameter as SQLite names it: `$N`, `?N`, or a bare `?` (its position).
fn parameter_number(name: Option<&str>, position: usize) -> Result<usize, String> {
    let Some(name) = name else { return Ok(position) };
    let digits = name.strip_prefix('$').or_else(|| name.strip_prefix('?'));
    match digits.and_then(|d| d.parse::<usize>().ok()) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!("parameter \"{name}\" is not supported: use $1, $2, ...")),
    }
}

/// An SPI failure: its code and text.
type Failure = (i32, String);

impl State {
    pub const fn new() -> State {
        State {
            session: None,
            depth: 0,
            tx_failed: false,
            result: ResultSet { columns: Vec::new(), rows: Vec::new() },
            processed: 0,
            error: None,
        }
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The connected database's oid (notifications are sent within it).
    fn database_oid(&self) -> Option<u32> {
        self.session.as_ref().and_then(|s| s.database.as_ref()).map(|d| d.oid)
    }

    pub fn set_session(&mut self, session: Session) {
        self.session = Some(session);
    }

    fn fail(&mut self, code: i32, message: impl Into<String>) -> i32 {
        self.error = Some(c_text(&message.into()));
        code
    }

    fn clear(&mut self) {
        self.result = ResultSet::default();
        self.processed = 0;
        self.error = None;
    }

    /// `SPI_connect`: needs a connection to a database.
    pub fn spi_connect(&mut self) -> i32 {
        self.clear();
        match &self.session {
            None => self.fail(
                SPI_ERROR_CONNECT,
                "SPI_connect: this process has no database connection: a background worker registered with \
                 BGWORKER_BACKEND_DATABASE_CONNECTION must call BackgroundWorkerInitializeConnection first",
            ),
            Some(s) if s.conn.is_none() => self.fail(
                SPI_ERROR_CONNECT,
                "SPI_connect: the worker is connected without a database (catalog only): SPI needs a database",
            ),
            Some(_) => {
                self.depth += 1;
                SPI_OK_CONNECT
            }
        }
    }

    /// `SPI_finish`.
    pub fn spi_finish(&mut self) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_finish called without SPI_connect");
        }
        self.depth -= 1;
        SPI_OK_FINISH
    }

    /// `SPI_execute` (no parameters) and `bgw_spi_execute_params` (`Some`: `$n` is `params[n-1]`).
    pub fn execute(
        &mut self,
        src: Option<&str>,
        params: Option<&[Option<String>]>,
        read_only: bool,
        count: i64,
    ) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_execute called without SPI_connect");
        }
        let Some(src) = src else { return self.fail(SPI_ERROR_ARGUMENT, "SPI_execute: the command is NULL") };
        if count < 0 {
            return self.fail(SPI_ERROR_ARGUMENT, format!("SPI_execute: count must not be negative (got {count})"));
        }
        if self.tx_failed {
            return self.fail(
                BGW_SPI_ERROR_STATEMENT,
                "current transaction is aborted, commands ignored until end of transaction block",
            );
        }
        let Some(conn) = self.session.as_ref().and_then(|s| s.conn.as_ref()) else {
            return self.fail(SPI_ERROR_UNCONNECTED, "this process has no database connection");
        };
        let in_tx = !conn.is_autocommit();
        let outcome = match super::notify::run_statement(src) {
            Some(_) if read_only => {
                Err((BGW_SPI_ERROR_STATEMENT, "NOTIFY is not allowed in a read-only execution".to_string()))
            }
            Some(done) => {
                done.map(|()| (SPI_OK_UTILITY, 0, ResultSet::default())).map_err(|m| (BGW_SPI_ERROR_STATEMENT, m))
            }
            None => run(conn, src, params, read_only, count as u64),
        };
        // Outside a transaction the statement was its own: its notifications go (or are dropped) now.
        if !in_tx {
            super::notify::transaction_ended(outcome.is_ok(), self.database_oid());
        }
        match outcome {
            Ok((code, processed, result)) => {
                self.result = result;
                self.processed = processed;
                code
            }
            Err((code, message)) => {
                if code == BGW_SPI_ERROR_STATEMENT && in_tx {
                    self.tx_failed = true;
                }
                self.fail(code, message)
            }
        }
    }

    /// `Async_Notify`, the direct call: queues a notification in the open transaction, or sends it at once
    /// outside one. Needs a database connection (notifications are sent within a database).
    pub fn notify(&mut self, channel: &str, payload: &str) -> Result<(), String> {
        let Some(conn) = self.session.as_ref().and_then(|s| s.conn.as_ref()) else {
            return Err("cannot send a notification: this process is not connected to a database".into());
        };
        let in_tx = !conn.is_autocommit();
        super::notify::queue(channel, payload)?;
        if !in_tx {
            super::notify::transaction_ended(true, self.database_oid());
        }
        Ok(())
    }

    /// Refuses a call's arguments: SPI_ERROR_ARGUMENT (SPI_ERROR_UNCONNECTED outside `SPI_connect`).
    pub fn refuse_arguments(&mut self, message: String) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_execute called without SPI_connect");
        }
        self.fail(SPI_ERROR_ARGUMENT, message)
    }

    /// `StartTransactionCommand`: begins a transaction on the connection, if there is one and none is open.
    /// Returns an error text if the transaction could not begin.
    pub fn start_transaction(&mut self) -> Result<(), String> {
        self.clear();
        let Some(conn) = self.session.as_ref().and_then(|s| s.conn.as_ref()) else { return Ok(()) };
        if !conn.is_autocommit() {
            return Ok(());
        }
        self.tx_failed = false;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| format!("could not start a transaction: {e}"))
    }

    /// `CommitTransactionCommand`: commits the open transaction. Ok(true) if it committed, Ok(false) if there
    /// was nothing to commit or a failed transaction was rolled back instead; Err if the commit failed (the
    /// transaction is then rolled back).
    pub fn commit(&mut self) -> Result<bool, String> {
        self.clear();
        let failed = std::mem::take(&mut self.tx_failed);
        let Some(conn) = self.session.as_ref().and_then(|s| s.conn.as_ref()) else { return Ok(false) };
        if conn.is_autocommit() {
            return Ok(false);
        }
        if failed {
            let _ = conn.execute_batch("ROLLBACK");
            super::notify::transaction_ended(false, None);
            return Ok(false);
        }
        let committed = conn.execute_batch("COMMIT");
        super::notify::transaction_ended(committed.is_ok(), self.database_oid());
        match committed {
            Ok(()) => Ok(true),
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(format!("could not commit the transaction: {e}"))
            }
        }
    }

    /// Whether the open transaction failed (committing it rolls back).
    pub fn transaction_failed(&self) -> bool {
        self.tx_failed
    }

    /// `AbortCurrentTransaction`: rolls the open transaction back, if any.
    pub fn abort(&mut self) {
        self.clear();
        self.tx_failed = false;
        super::notify::transaction_ended(false, None);
        if let Some(conn) = self.session.as_ref().and_then(|s| s.conn.as_ref()) {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }

    pub fn processed(&self) -> u64 {
        self.processed
    }

    pub fn result(&self) -> &ResultSet {
        &self.result
    }

    /// The column name of column `col` (1-based), or NULL.
    pub fn fname(&self, col: i32) -> *const c_char {
        usize::try_from(col)
            .ok()
            .and_then(|c| c.checked_sub(1))
            .and_then(|c| self.result.columns.get(c))
            .map_or(std::ptr::null(), |s| s.as_ptr())
    }

    /// The value at `row` (0-based), column `col` (1-based); NULL for SQL NULL or out of range.
    pub fn getvalue(&self, row: u64, col: i32) -> *const c_char {
        let Ok(row) = usize::try_from(row) else { return std::ptr::null() };
        usize::try_from(col)
            .ok()
            .and_then(|c| c.checked_sub(1))
            .and_then(|c| self.result.rows.get(row)?.get(c))
            .and_then(|v| v.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    }

    /// The last error's text, or NULL.
    pub fn error_message(&self) -> *const c_char {
        self.error.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
    }

    /// The last error's text (for Rust callers).
    pub fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(|s| s.to_string_lossy().into_owned())
    }
}

/// Runs every statement of `src`; the last one's code, processed count and result.
fn run(
    conn: &rusqlite::Connection,
    src: &str,
    params: Option<&[Option<String>]>,
    read_only: bool,
    count: u64,
) -> Result<(i32, u64, ResultSet), Failure> {
    let stmt_err = |e: rusqlite::Error| (BGW_SPI_ERROR_STATEMENT, e.to_string());
    // Spellings SQLite does not know (START TRANSACTION, ABORT) would otherwise be syntax errors.
    if classify(src) == Kind::Transaction {
        return Err(transaction_refused());
    }
    let mut batch = rusqlite::Batch::new(conn, src);
    let mut last = (SPI_OK_UTILITY, 0, ResultSet::default());
    while let Some(mut stmt) = batch.next().map_err(stmt_err)? {
        let text = stmt.expanded_sql().unwrap_or_default();
        let kind = classify(&text);
        if kind == Kind::Transaction {
            return Err(transaction_refused());
        }
        if read_only && !stmt.readonly() {
            return Err((
                BGW_SPI_ERROR_STATEMENT,
                format!("{} is not allowed in a read-only execution", kind_word(kind, &text)),
            ));
        }
        for i in 1..=stmt.parameter_count() {
            let n = parameter_number(stmt.parameter_name(i), i).map_err(|m| (SPI_ERROR_PARAM, m))?;
            let value = params.and_then(|p| p.get(n - 1));
            let Some(value) = value else {
                return Err((SPI_ERROR_PARAM, format!("there is no parameter ${n}")));
            };
            stmt.raw_bind_parameter(i, value.as_deref()).map_err(stmt_err)?;
        }
        let columns: Vec<CString> = stmt.column_names().map(c_text).collect();
        let ncols = columns.len();
        let mut rows = Vec::new();
        {
            let mut it = stmt.raw_query();
            while let Some(row) = it.next().map_err(stmt_err)? {
                if count > 0 && rows.len() as u64 >= count {
                    break;
                }
                let mut values = Vec::with_capacity(ncols);
                for c in 0..ncols {
                    values.push(value_text(row.get_ref(c).map_err(stmt_err)?));
                }
                rows.push(values);
            }
        }
        let returning = ncols > 0;
        let (code, processed) = match kind {
            Kind::Select => (SPI_OK_SELECT, rows.len() as u64),
            Kind::Insert if returning => (SPI_OK_INSERT_RETURNING, rows.len() as u64),
            Kind::Update if returning => (SPI_OK_UPDATE_RETURNING, rows.len() as u64),
            Kind::Delete if returning => (SPI_OK_DELETE_RETURNING, rows.len() as u64),
            Kind::Insert => (SPI_OK_INSERT, conn.changes()),
            Kind::Update => (SPI_OK_UPDATE, conn.changes()),
            Kind::Delete => (SPI_OK_DELETE, conn.changes()),
            Kind::Utility | Kind::Transaction => (SPI_OK_UTILITY, rows.len() as u64),
        };
        last = (code, processed, ResultSet { columns, rows });
    }
    Ok(last)
}

fn transaction_refused() -> Failure {
    (
        SPI_ERROR_TRANSACTION,
        "transaction control statements cannot be run through SPI_execute: use StartTransactionCommand, \
         CommitTransactionCommand and AbortCurrentTransaction"
            .into(),
    )
}

fn kind_word(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Insert => "INSERT".into(),
        Kind::Update => "UPDATE".into(),
        Kind::Delete => "DELETE".into(),
        _ => top_level_words(text).into_iter().next().unwrap_or_else(|| "this statement".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Database, Role};
    use std::ffi::CStr;

    fn state_on(conn: rusqlite::Connection) -> State {
        let mut s = State::new();
        s.set_session(Session {
            role: Role { oid: 10, name: "boss".into(), superuser: true, can_login: true },
            database: Some(Database { oid: 5, name: "postgres".into(), allow_connections: true }),
            conn: Some(conn),
        });
        s
    }

    fn text(p: *const c_char) -> Option<String> {
        // SAFETY: NULL or a pointer into the state's result, alive for this call.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    fn params(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|p| p.map(str::to_string)).collect()
    }

    #[test]
    fn kinds() {
        assert_eq!(classify(" -- x\n select 1"), Kind::Select);
        assert_eq!(classify("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a"), Kind::Insert);
        assert_eq!(classify("with a as (delete from t returning *) select 1"), Kind::Select);
        assert_eq!(classify("/* c */ START TRANSACTION"), Kind::Transaction);
        assert_eq!(classify("end"), Kind::Transaction);
        assert_eq!(classify("CREATE TABLE t (a)"), Kind::Utility);
        assert_eq!(classify("update t set a = 'begin'"), Kind::Update);
        assert_eq!(parameter_number(Some("$12"), 1), Ok(12));
        assert_eq!(parameter_number(Some("?3"), 1), Ok(3));
        assert_eq!(parameter_number(None, 4), Ok(4));
        assert!(parameter_number(Some(":name"), 1).is_err());
    }

    #[test]
    fn unconnected_and_catalog_only() {
        let mut s = State::new();
        assert_eq!(s.execute(Some("SELECT 1"), None, false, 0), SPI_ERROR_UNCONNECTED);
        assert_eq!(s.spi_connect(), SPI_ERROR_CONNECT);
        assert!(text(s.error_message()).unwrap().contains("BackgroundWorkerInitializeConnection"));
        assert_eq!(s.spi_finish(), SPI_ERROR_UNCONNECTED);
        // Transactions without a connection are no-ops.
        assert!(s.start_transaction().is_ok());
        assert_eq!(s.commit(), Ok(false));
    }

    #[test]
    fn statements_params_results() {
        let mut s = state_on(rusqlite::Connection::open_in_memory().unwrap());
        assert_eq!(s.execute(Some("SELECT 1"), None, false, 0), SPI_ERROR_UNCONNECTED);
        assert_eq!(s.spi_connect(), SPI_OK_CONNECT);
        assert_eq!(s.execute(Some("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, r REAL)"), None, false, 0), 4);
        let p = params(&[Some("1"), Some("one"), None]);
        assert_eq!(s.execute(Some("INSERT INTO t VALUES ($1, $2, $3)"), Some(&p), false, 0), SPI_OK_INSERT);
        assert_eq!(s.processed(), 1);
        let p = params(&[Some("2"), None]);
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (?1, ?2, 2.5)"), Some(&p), false, 0), SPI_OK_INSERT);
        assert_eq!(s.execute(Some("SELECT id, v, r FROM t ORDER BY id"), None, true, 0), SPI_OK_SELECT);
        assert_eq!(s.processed(), 2);
        assert_eq!(text(s.fname(1)).as_deref(), Some("id"));
        assert_eq!(text(s.fname(3)).as_deref(), Some("r"));
        assert!(s.fname(0).is_null() && s.fname(4).is_null());
        assert_eq!(text(s.getvalue(0, 2)).as_deref(), Some("one"));
        assert_eq!(text(s.getvalue(0, 3)), None);
        assert_eq!(text(s.getvalue(1, 3)).as_deref(), Some("2.5"));
        assert_eq!(text(s.getvalue(1, 2)), None);
        assert!(s.getvalue(2, 1).is_null());
        // count limits the rows.
        assert_eq!(s.execute(Some("SELECT id FROM t"), None, true, 1), SPI_OK_SELECT);
        assert_eq!(s.processed(), 1);
        // Several statements: the last one's result.
        assert_eq!(s.execute(Some("UPDATE t SET v = 'x'; DELETE FROM t WHERE id = 2"), None, false, 0), 8);
        assert_eq!(s.processed(), 1);
        assert_eq!(s.execute(Some("UPDATE t SET v = 'y' RETURNING id"), None, false, 0), SPI_OK_UPDATE_RETURNING);
        assert_eq!(text(s.getvalue(0, 1)).as_deref(), Some("1"));
        // Errors.
        assert_eq!(s.execute(Some("BEGIN"), None, false, 0), SPI_ERROR_TRANSACTION);
        assert_eq!(s.execute(Some("SELECT 1; COMMIT"), None, false, 0), SPI_ERROR_TRANSACTION);
        assert_eq!(s.execute(Some("START TRANSACTION"), None, false, 0), SPI_ERROR_TRANSACTION);
        assert_eq!(s.execute(None, None, false, 0), SPI_ERROR_ARGUMENT);
        assert_eq!(s.execute(Some("SELECT 1"), None, false, -1), SPI_ERROR_ARGUMENT);
        assert_eq!(s.execute(Some("SELECT $2"), Some(&params(&[Some("a")])), false, 0), SPI_ERROR_PARAM);
        assert_eq!(text(s.error_message()).as_deref(), Some("there is no parameter $2"));
        assert_eq!(s.execute(Some("SELECT $1"), None, false, 0), SPI_ERROR_PARAM);
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (9, 'n', 0)"), None, true, 0), BGW_SPI_ERROR_STATEMENT);
        assert_eq!(text(s.error_message()).as_deref(), Some("INSERT is not allowed in a read-only execution"));
        assert_eq!(s.execute(Some("SELEC 1"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert!(text(s.error_message()).unwrap().contains("syntax error"));
        assert_eq!(s.execute(Some("SELECT x'00ff', 1e400, 'a'"), None, false, 0), SPI_OK_SELECT);
        assert_eq!(text(s.getvalue(0, 1)).as_deref(), Some("\\x00ff"));
        assert_eq!(text(s.getvalue(0, 2)).as_deref(), Some("Infinity"));
        assert!(s.error_message().is_null());
        assert_eq!(s.spi_finish(), SPI_OK_FINISH);
        assert!(s.getvalue(0, 1).is_null());
    }

    #[test]
    fn transactions_commit_roll_back_and_fail() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("db");
        let mut s = state_on(crate::catalog::open_database_file(&path).unwrap());
        let other = crate::catalog::open_database_file(&path).unwrap();
        let count = || other.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(s.spi_connect(), SPI_OK_CONNECT);
        assert_eq!(s.execute(Some("CREATE TABLE t (a UNIQUE)"), None, false, 0), SPI_OK_UTILITY);
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (1)"), None, false, 0), SPI_OK_INSERT);
        assert_eq!(count(), 0, "not visible before the commit");
        assert_eq!(s.commit(), Ok(true));
        assert_eq!(count(), 1);
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (2)"), None, false, 0), SPI_OK_INSERT);
        s.abort();
        assert_eq!(count(), 1);
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (3)"), None, false, 0), SPI_OK_INSERT);
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (1)"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert!(s.transaction_failed());
        assert_eq!(s.execute(Some("SELECT 1"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert!(text(s.error_message()).unwrap().starts_with("current transaction is aborted"));
        assert_eq!(s.commit(), Ok(false), "a failed transaction rolls back");
        assert_eq!(count(), 1);
        assert_eq!(s.execute(Some("SELECT 1"), None, false, 0), SPI_OK_SELECT);
    }
}
