//! SPI on a worker's connection: statements, results, transactions.
//!
//! The state of a process is one [`State`]: its connection (a [`Session`], once connected), how deep its
//! `SPI_connect`s are, the last result and the last error. Every operation returns a PostgreSQL SPI code (see
//! [`super::codes`]) and records an error text and SQLSTATE instead of raising (the C side raises them for
//! PostgreSQL's names); the C layer hands out pointers into the last result, valid until the next SPI call
//! replaces it. A result keeps its rows as text (bgw's `bgw_spi_getvalue`) and as the engine's values with the
//! columns' types, from which [`ResultSet::table`] makes the datums of `SPI_tuptable` when C asks for them.
//!
//! SQL goes to the SQL layer's engine ([`crate::sql::Engine`]: SQLite with
//! [`Options::SPI`](crate::sql::sqlite::Options::SPI) on a sqlite-engine database, a connection to the server on a
//! postgresql-engine one, through the same code): the lexer, statement kinds, parameter numbering, the
//! failed-transaction rule and SQLSTATEs are the ones client sessions use; what is SPI's own is here: result codes,
//! results, the row count limit, read-only executions (refused by what the statement does, not by its kind),
//! strict parameters, and no transaction control through `SPI_execute`. A source string may hold several statements
//! (run in order; the last one's result is kept). Parameters are `$1`, `$2`, ... (or `?1`, `?`), bound as text
//! (or as the values `SPI_execute_with_args` converts its datums to), SQL NULL for absent values. Transactions are the engine's: `StartTransactionCommand` begins one with `BEGIN IMMEDIATE`
//! (taking the database's write lock at once, waiting up to the busy timeout for other writers, so that a later write
//! cannot fail on a snapshot that went stale), `CommitTransactionCommand` commits it. Outside a transaction every
//! statement commits by itself. After a failed statement inside a transaction the transaction is *failed*, as
//! PostgreSQL's would be: further statements are refused and committing rolls back.
//!
//! On a postgresql-engine database the statements, their errors, transactions (the API's begin, commit and
//! rollback are the server's `BEGIN`, `COMMIT`, `ROLLBACK`) and notifications (`NOTIFY`, `pg_notify`,
//! `Async_Notify` as `SELECT pg_notify($1, $2)`) are the server's, with its semantics; only `LISTEN` is refused
//! here, as PostgreSQL refuses it in a background process.
//!
//! Runs in: a background worker process.

use std::ffi::{c_char, CString};
use std::ops::ControlFlow;

use super::codes::*;
use super::connection::Session;
use super::datums::{self, Cell};
use crate::sql::statement::{self, first_word, is_transaction_control, param_number};
use crate::sql::types::PgType;
use crate::sql::{txn, Engine, SqlError, Value};

/// A statement's result: column names and rows, as text (None is SQL NULL), and the rows' values with the
/// columns' types, from which [`ResultSet::table`] makes the datums of `SPI_tuptable` when asked.
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: Vec<CString>,
    pub rows: Vec<Vec<Option<CString>>>,
    /// The engine's type of each column (None: it does not say, or a server type bgw does not know).
    types: Vec<Option<PgType>>,
    values: Vec<Vec<Value>>,
    /// Whether the values are a server's (its output text) rather than SQLite's stored values.
    remote: bool,
    table: Option<Table>,
}

/// A result as `SPI_tuptable` shows it: typed columns and cells with datums.
#[derive(Debug)]
pub struct Table {
    pub columns: Vec<Column>,
    pub cells: Vec<Vec<Cell>>,
}

/// A column of [`Table`]: PostgreSQL's attribute fields.
#[derive(Debug)]
pub struct Column {
    pub name: CString,
    /// `atttypid` (InvalidOid for a server type bgw does not know).
    pub typid: u32,
    pub typname: CString,
    pub typlen: i16,
    pub byval: bool,
}

impl ResultSet {
    /// Whether the statement returned rows (a query, `... RETURNING`): `SPI_tuptable` is set.
    pub fn has_tuples(&self) -> bool {
        !self.columns.is_empty()
    }

    /// The result with datums (made on the first call).
    pub fn table(&mut self) -> &Table {
        let remote = self.remote;
        let (values, columns, types) = (&self.values, &self.columns, &self.types);
        self.table.get_or_insert_with(|| {
            let types: Vec<Option<PgType>> = types
                .iter()
                .enumerate()
                .map(|(i, t)| datums::column_type(*t, remote, values.iter().filter_map(|r| r.get(i))))
                .collect();
            let columns = columns
                .iter()
                .zip(&types)
                .map(|(name, ty)| Column {
                    name: name.clone(),
                    typid: ty.map_or(0, |t| t.oid()),
                    typname: datums::c_text(ty.map_or("unknown", |t| t.typname())),
                    typlen: ty.map_or(-1, |t| t.size()),
                    byval: ty.is_some_and(datums::by_value),
                })
                .collect();
            let cells = values
                .iter()
                .map(|row| row.iter().zip(&types).map(|(v, ty)| datums::cell(*ty, v, remote)).collect())
                .collect();
            Table { columns, cells }
        })
    }
}

/// This process's connection and SPI state.
pub struct State {
    session: Option<Session>,
    depth: u32,
    result: ResultSet,
    processed: u64,
    error: Option<CString>,
    /// The SQLSTATE of the last error (what the PostgreSQL-named calls raise it with).
    sqlstate: &'static str,
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

fn value_text(v: &Value) -> Option<CString> {
    let text = match v {
        Value::Null => return None,
        Value::Integer(i) => i.to_string(),
        Value::Real(f) if f.is_infinite() => if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_string(),
        Value::Real(f) if f.is_nan() => "NaN".to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => return Some(c_text(t)),
        // bytea's hex output format.
        Value::Blob(b) => {
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

/// What a statement is, for SPI's result codes.
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

/// The kind of the first statement of `sql` (the SQL layer's classification, in SPI's terms).
pub fn classify(sql: &str) -> Kind {
    if is_transaction_control(sql) {
        return Kind::Transaction;
    }
    kind_of(&statement::classify(sql))
}

fn kind_of(kind: &statement::Kind) -> Kind {
    match kind {
        statement::Kind::Query => Kind::Select,
        statement::Kind::Insert => Kind::Insert,
        statement::Kind::Update => Kind::Update,
        statement::Kind::Delete => Kind::Delete,
        _ => Kind::Utility,
    }
}

/// An SPI failure: its code, text and SQLSTATE.
type Failure = (i32, String, &'static str);

impl State {
    pub const fn new() -> State {
        State {
            session: None,
            depth: 0,
            result: ResultSet {
                columns: Vec::new(),
                rows: Vec::new(),
                types: Vec::new(),
                values: Vec::new(),
                remote: false,
                table: None,
            },
            processed: 0,
            error: None,
            sqlstate: "00000",
        }
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The connected database's oid (notifications are sent within it).
    fn database_oid(&self) -> Option<u32> {
        self.session.as_ref().and_then(|s| s.database.as_ref()).map(|d| d.oid)
    }

    fn engine(&self) -> Option<&dyn Engine> {
        self.session.as_ref().and_then(|s| s.conn.as_ref()).map(|c| c.engine_ref())
    }

    fn engine_mut(&mut self) -> Option<&mut dyn Engine> {
        self.session.as_mut().and_then(|s| s.conn.as_mut()).map(|c| c.engine())
    }

    /// Whether the connected database is a server's (its notifications are the server's).
    fn remote(&self) -> bool {
        self.session.as_ref().and_then(|s| s.conn.as_ref()).is_some_and(|c| c.is_remote())
    }

    pub fn set_session(&mut self, mut session: Session) {
        if let Some(conn) = session.conn.as_mut() {
            if !conn.is_remote() {
                crate::sql::sqlite::set_memory_limit(
                    crate::process::setting_int("backend_memory_limit").saturating_mul(1024),
                );
            }
            // A running statement stops for a lock wait past lock_timeout, and for the process's pending interrupts
            // (on a server: a cancel request for the running statement).
            conn.engine().set_interrupt_check(crate::process::interrupts::check_sql);
        }
        self.session = Some(session);
    }

    fn fail(&mut self, code: i32, message: impl Into<String>) -> i32 {
        let sqlstate = match code {
            SPI_ERROR_PARAM => "42P02",
            SPI_ERROR_TRANSACTION => "0A000",
            _ => "XX000",
        };
        self.fail_coded(code, message, sqlstate)
    }

    fn fail_coded(&mut self, code: i32, message: impl Into<String>, sqlstate: &'static str) -> i32 {
        self.error = Some(c_text(&message.into()));
        self.sqlstate = sqlstate;
        code
    }

    fn clear(&mut self) {
        self.result = ResultSet::default();
        self.processed = 0;
        self.error = None;
        self.sqlstate = "00000";
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

    /// `SPI_execute` (no parameters) and `bgw_spi_execute_params` (`Some`: `$n` is `params[n-1]`, text).
    pub fn execute(
        &mut self,
        src: Option<&str>,
        params: Option<&[Option<String>]>,
        read_only: bool,
        count: i64,
    ) -> i32 {
        let values: Option<Vec<Value>> =
            params.map(|p| p.iter().map(|t| t.as_ref().map_or(Value::Null, |t| Value::Text(t.clone()))).collect());
        self.execute_values(src, values.as_deref(), read_only, count)
    }

    /// [`State::execute`] with parameters as SQL values (`SPI_execute_with_args` converts its datums to them).
    pub fn execute_values(&mut self, src: Option<&str>, params: Option<&[Value]>, read_only: bool, count: i64) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_execute called without SPI_connect");
        }
        let Some(src) = src else { return self.fail(SPI_ERROR_ARGUMENT, "SPI_execute: the command is NULL") };
        if count < 0 {
            return self.fail(SPI_ERROR_ARGUMENT, format!("SPI_execute: count must not be negative (got {count})"));
        }
        if self.engine().is_some_and(|e| e.transaction_failed()) {
            let e = txn::aborted();
            return self.fail_coded(BGW_SPI_ERROR_STATEMENT, e.message, e.code);
        }
        let database = self.database_oid();
        let remote = self.remote();
        let _on_server = super::OnServer::new(remote);
        let Some(engine) = self.engine_mut() else {
            return self.fail(SPI_ERROR_UNCONNECTED, "this process has no database connection");
        };
        let in_tx = engine.tx_state() != txn::TxState::Idle;
        // On a server NOTIFY is the server's; LISTEN is refused as PostgreSQL refuses it in a background process.
        let own = if remote {
            (first_word(src).as_deref() == Some("LISTEN"))
                .then(|| Err(("cannot execute LISTEN within a background process".to_string(), "0A000")))
        } else {
            super::notify::run_statement(src).map(|r| r.map_err(|m| (m, "22023")))
        };
        let mut outcome = match own {
            Some(_) if read_only => {
                Err((BGW_SPI_ERROR_STATEMENT, "NOTIFY is not allowed in a read-only execution".to_string(), "0A000"))
            }
            Some(done) => done
                .map(|()| (SPI_OK_UTILITY, 0, ResultSet::default()))
                .map_err(|(m, state)| (BGW_SPI_ERROR_STATEMENT, m, state)),
            None => run(engine, src, params, read_only, count as u64, remote),
        };
        if let Err((BGW_SPI_ERROR_STATEMENT, ..)) = outcome {
            if in_tx {
                engine.fail_transaction();
            }
        }
        // Outside a transaction the statement was its own: its notifications go (or are dropped) now, after their
        // pre-commit (SQLite's commit of a statement that wrote ran it already, through the engine's hooks).
        if !in_tx && !remote {
            if outcome.is_ok() {
                if let Err(message) = super::notify::pre_commit() {
                    outcome = Err((BGW_SPI_ERROR_STATEMENT, message, "54000"));
                }
            }
            super::notify::transaction_ended(outcome.is_ok(), database);
        }
        match outcome {
            Ok((code, processed, result)) => {
                self.result = result;
                self.processed = processed;
                code
            }
            Err((code, message, sqlstate)) => self.fail_coded(code, message, sqlstate),
        }
    }

    /// `Async_Notify`, the direct call: queues a notification in the open transaction, or sends it at once
    /// outside one. Needs a database connection (notifications are sent within a database).
    pub fn notify(&mut self, channel: &str, payload: &str) -> Result<(), String> {
        let remote = self.remote();
        let _on_server = super::OnServer::new(remote);
        let Some(engine) = self.engine_mut() else {
            return Err("cannot send a notification: this process is not connected to a database".into());
        };
        if remote {
            // The server's NOTIFY, in the open transaction (or its own).
            let (stmt, _) = engine
                .prepare("SELECT pg_notify($1, $2)")
                .map_err(|e| e.message)?
                .ok_or_else(|| "could not prepare pg_notify".to_string())?;
            let values = [Value::Text(channel.into()), Value::Text(payload.into())];
            let done = engine.execute(&stmt, &values, &mut |_| ControlFlow::Continue(()));
            return done.map(|_| ()).map_err(|e| e.message);
        }
        let in_tx = engine.tx_state() != txn::TxState::Idle;
        super::notify::queue(channel, payload)?;
        if !in_tx {
            // Its own transaction: refused whole if the queue has no room for it.
            let committed = super::notify::pre_commit();
            super::notify::transaction_ended(committed.is_ok(), self.database_oid());
            committed?;
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

    /// `SPI_prepare`'s check: the engine prepares every statement of `src` without running it (a syntax error, a
    /// missing table, a transaction statement are reported now, as PostgreSQL's parse analysis reports them).
    /// 0, or a failure code as [`State::execute`]'s; a failure inside a transaction fails it.
    pub fn check(&mut self, src: &str) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_prepare called without SPI_connect");
        }
        if self.engine().is_some_and(|e| e.transaction_failed()) {
            let e = txn::aborted();
            return self.fail_coded(BGW_SPI_ERROR_STATEMENT, e.message, e.code);
        }
        if is_transaction_control(src) {
            let (code, message, sqlstate) = transaction_refused();
            return self.fail_coded(code, message, sqlstate);
        }
        let remote = self.remote();
        let _on_server = super::OnServer::new(remote);
        let Some(engine) = self.engine_mut() else {
            return self.fail(SPI_ERROR_UNCONNECTED, "this process has no database connection");
        };
        let in_tx = engine.tx_state() != txn::TxState::Idle;
        let mut rest = src;
        let failure = loop {
            match engine.prepare(rest) {
                Ok(Some((stmt, tail))) if is_transaction_control(&stmt.sql) => {
                    let _ = tail;
                    break Some(transaction_refused());
                }
                Ok(Some((_, tail))) => rest = tail,
                Ok(None) => break None,
                Err(e) if remote => break Some((BGW_SPI_ERROR_STATEMENT, e.message, e.code)),
                Err(e) => break Some(statement_error(e, rest)),
            }
        };
        match failure {
            None => 0,
            Some((code, message, sqlstate)) => {
                if in_tx && code == BGW_SPI_ERROR_STATEMENT {
                    engine.fail_transaction();
                }
                self.fail_coded(code, message, sqlstate)
            }
        }
    }

    /// Fails the open transaction, if any (an ERROR was raised in it): committing rolls back.
    pub fn fail_transaction(&mut self) {
        if let Some(engine) = self.engine_mut() {
            if engine.tx_state() != txn::TxState::Idle {
                engine.fail_transaction();
            }
        }
    }

    /// An SPI call refused before it ran a statement (an argument it cannot convert), with `e`'s SQLSTATE.
    pub fn refuse_statement(&mut self, e: SqlError) -> i32 {
        self.clear();
        if self.depth == 0 {
            return self.fail(SPI_ERROR_UNCONNECTED, "SPI_execute called without SPI_connect");
        }
        self.fail_coded(BGW_SPI_ERROR_STATEMENT, e.message, e.code)
    }

    /// Whether a transaction is open on the connection.
    pub fn in_transaction(&self) -> bool {
        self.engine().is_some_and(|e| e.tx_state() != txn::TxState::Idle)
    }

    /// `StartTransactionCommand`: begins a transaction on the connection, if there is one and none is open.
    /// Returns an error text if the transaction could not begin.
    pub fn start_transaction(&mut self) -> Result<(), String> {
        self.clear();
        let _on_server = super::OnServer::new(self.remote());
        let Some(engine) = self.engine_mut() else { return Ok(()) };
        if engine.tx_state() != txn::TxState::Idle {
            return Ok(());
        }
        engine.begin().map_err(|e| format!("could not start a transaction: {e}"))
    }

    /// `CommitTransactionCommand`: commits the open transaction. Ok(true) if it committed, Ok(false) if there
    /// was nothing to commit or a failed transaction was rolled back instead; Err if the commit failed (the
    /// transaction is then rolled back).
    pub fn commit(&mut self) -> Result<bool, String> {
        self.clear();
        let database = if self.remote() { None } else { self.database_oid() };
        let _on_server = super::OnServer::new(self.remote());
        let Some(engine) = self.engine_mut() else { return Ok(false) };
        let failed = engine.transaction_failed();
        if engine.tx_state() == txn::TxState::Idle {
            // Forgets the failure too.
            let _ = engine.rollback();
            return Ok(false);
        }
        if failed {
            let _ = engine.rollback();
            super::notify::transaction_ended(false, None);
            return Ok(false);
        }
        if database.is_some() {
            // PreCommit_Notify: no room for the notifications fails the commit, and the transaction rolls back.
            if let Err(message) = super::notify::pre_commit() {
                let _ = engine.rollback();
                super::notify::transaction_ended(false, None);
                return Err(message);
            }
        }
        let committed = engine.commit();
        super::notify::transaction_ended(committed.is_ok(), database);
        match committed {
            Ok(()) => Ok(true),
            Err(e) => {
                let _ = engine.rollback();
                Err(format!("could not commit the transaction: {e}"))
            }
        }
    }

    /// Whether the open transaction failed (committing it rolls back).
    pub fn transaction_failed(&self) -> bool {
        self.engine().is_some_and(|e| e.transaction_failed())
    }

    /// `AbortCurrentTransaction`: rolls the open transaction back, if any.
    pub fn abort(&mut self) {
        self.clear();
        let _on_server = super::OnServer::new(self.remote());
        super::notify::transaction_ended(false, None);
        if let Some(engine) = self.engine_mut() {
            let _ = engine.rollback();
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

    /// The last error's SQLSTATE ("00000" after a success).
    pub fn error_sqlstate(&self) -> &'static str {
        self.sqlstate
    }

    /// The result with datums, if the last statement returned rows.
    pub fn table(&mut self) -> Option<&Table> {
        if self.result.has_tuples() {
            Some(self.result.table())
        } else {
            None
        }
    }

    /// The last error's text (for Rust callers).
    pub fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(|s| s.to_string_lossy().into_owned())
    }
}

/// Runs every statement of `src`; the last one's code, processed count and result.
fn run(
    engine: &mut dyn Engine,
    src: &str,
    params: Option<&[Value]>,
    read_only: bool,
    count: u64,
    remote: bool,
) -> Result<(i32, u64, ResultSet), Failure> {
    // Spellings SQLite does not know (START TRANSACTION, ABORT) would otherwise be syntax errors.
    if is_transaction_control(src) {
        return Err(transaction_refused());
    }
    let mut rest = src;
    let mut last = (SPI_OK_UTILITY, 0, ResultSet::default());
    loop {
        let prepared = engine.prepare(rest).map_err(|e| {
            if remote {
                (BGW_SPI_ERROR_STATEMENT, e.message, e.code)
            } else {
                statement_error(e, rest)
            }
        })?;
        let Some((stmt, tail)) = prepared else { break };
        rest = tail;
        let kind = kind_of(&stmt.kind);
        if is_transaction_control(&stmt.sql) {
            return Err(transaction_refused());
        }
        if read_only && !stmt.read_only {
            return Err((
                BGW_SPI_ERROR_STATEMENT,
                format!("{} is not allowed in a read-only execution", kind_word(kind, &stmt.sql)),
                "0A000",
            ));
        }
        // Every parameter must be numbered and supplied; `values[n - 1]` is `$n`.
        for (position, name) in stmt.param_names.iter().enumerate() {
            let n = match name {
                None => position + 1,
                Some(name) => param_number(Some(name)).ok_or_else(|| {
                    (SPI_ERROR_PARAM, format!("parameter \"{name}\" is not supported: use $1, $2, ..."), "42P02")
                })?,
            };
            if params.and_then(|p| p.get(n - 1)).is_none() {
                return Err((SPI_ERROR_PARAM, format!("there is no parameter ${n}"), "42P02"));
            }
        }
        let values: Vec<Value> = params.unwrap_or_default().iter().take(stmt.param_count).cloned().collect();
        let columns: Vec<CString> = stmt.columns.iter().map(|c| c_text(&c.name)).collect();
        let mut rows = Vec::new();
        let mut kept = Vec::new();
        let done = engine
            .execute(&stmt, &values, &mut |row| {
                if count > 0 && rows.len() as u64 >= count {
                    return ControlFlow::Break(());
                }
                rows.push(row.iter().map(value_text).collect());
                kept.push(row);
                ControlFlow::Continue(())
            })
            .map_err(|e| (BGW_SPI_ERROR_STATEMENT, e.message, e.code))?;
        let returning = !columns.is_empty();
        let (code, processed) = match kind {
            Kind::Select if returning => (SPI_OK_SELECT, rows.len() as u64),
            // A query without result columns is a SELECT INTO (on a server; SQLite has none): its rows went to
            // the new table.
            Kind::Select => (SPI_OK_SELINTO, done.tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)),
            Kind::Insert if returning => (SPI_OK_INSERT_RETURNING, rows.len() as u64),
            Kind::Update if returning => (SPI_OK_UPDATE_RETURNING, rows.len() as u64),
            Kind::Delete if returning => (SPI_OK_DELETE_RETURNING, rows.len() as u64),
            Kind::Insert | Kind::Update | Kind::Delete => (kind_code(kind), done.changes),
            Kind::Utility | Kind::Transaction => (SPI_OK_UTILITY, rows.len() as u64),
        };
        let types = stmt.columns.iter().map(|c| c.ty).collect();
        last = (code, processed, ResultSet { columns, rows, types, values: kept, remote, table: None });
    }
    Ok(last)
}

/// SPI_OK_INSERT, SPI_OK_UPDATE or SPI_OK_DELETE.
fn kind_code(kind: Kind) -> i32 {
    match kind {
        Kind::Insert => SPI_OK_INSERT,
        Kind::Update => SPI_OK_UPDATE,
        _ => SPI_OK_DELETE,
    }
}

/// A statement that SQLite refused to prepare: its text as SQLite words it, with where the error is in `sql`
/// (the statements not run yet) when SQLite says.
fn statement_error(err: SqlError, sql: &str) -> Failure {
    let message = match err.position {
        Some(offset) => format!("{} in {sql} at offset {offset}", err.message),
        None => err.message,
    };
    (BGW_SPI_ERROR_STATEMENT, message, err.code)
}

fn transaction_refused() -> Failure {
    (
        SPI_ERROR_TRANSACTION,
        "transaction control statements cannot be run through SPI_execute: use StartTransactionCommand, \
         CommitTransactionCommand and AbortCurrentTransaction"
            .into(),
        "0A000",
    )
}

/// The command a read-only error names.
fn kind_word(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Insert => "INSERT".into(),
        Kind::Update => "UPDATE".into(),
        Kind::Delete => "DELETE".into(),
        _ => first_word(text).unwrap_or_else(|| "this statement".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Database, Role};
    use std::ffi::CStr;

    pub(super) fn state_on(conn: rusqlite::Connection) -> State {
        let mut s = State::new();
        s.set_session(Session {
            role: Role { oid: 10, name: "boss".into(), superuser: true, can_login: true },
            database: Some(Database {
                oid: 5,
                name: "postgres".into(),
                allow_connections: true,
                engine: crate::catalog::DatabaseEngine::Sqlite,
            }),
            conn: Some(super::super::connection::SpiEngine::Sqlite(Box::new(crate::sql::sqlite::SqliteEngine::new(
                conn,
                crate::sql::sqlite::Options::SPI,
            )))),
        });
        s
    }

    #[allow(unsafe_code)] // reads the C strings the SPI state hands out, as a module would
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
        assert_eq!(param_number(Some("$12")), Some(12));
        assert_eq!(param_number(Some("?3")), Some(3));
        assert_eq!(param_number(Some(":name")), None);
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
        // SQLite's words, with where the error is in the statements not run yet.
        assert_eq!(text(s.error_message()).unwrap(), "near \"SELEC\": syntax error in SELEC 1 at offset 0");
        assert_eq!(s.execute(Some("SELECT 1; SELEC 2"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert_eq!(text(s.error_message()).unwrap(), "near \"SELEC\": syntax error in  SELEC 2 at offset 1");
        assert_eq!(s.execute(Some("SELECT 1;; SELEC 2"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert_eq!(text(s.error_message()).unwrap(), "near \"SELEC\": syntax error in ; SELEC 2 at offset 2");
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

/// SPI on a postgresql-engine database: the same State, statements on a real PostgreSQL 15.
#[cfg(test)]
mod server_tests {
    use super::*;
    use crate::catalog::{Database, DatabaseEngine, Role};
    use crate::spi::connection::SpiEngine;
    use bgw_test_support::pg15::Postgres;

    pub(super) fn state_on(pg: &Postgres) -> State {
        let login = pg.login();
        let mut config = tokio_postgres::Config::new();
        config.host(&login.host).port(login.port).user(&login.user).password(&login.password).dbname("postgres");
        let engine =
            crate::sql::postgres::PostgresEngine::connect(&config, Box::new(crate::spi::notify::ServerHooks)).unwrap();
        let mut s = State::new();
        s.set_session(Session {
            role: Role { oid: 10, name: "boss".into(), superuser: true, can_login: true },
            database: Some(Database {
                oid: 16384,
                name: "app".into(),
                allow_connections: true,
                engine: DatabaseEngine::Postgresql { connection: String::new() },
            }),
            conn: Some(SpiEngine::Postgres(Box::new(engine))),
        });
        s
    }

    #[test]
    fn a_transaction_failed_by_spi_rolls_back_and_the_next_one_works() {
        let pg = Postgres::start();
        let mut s = state_on(&pg);
        let mut other = pg.login().client("postgres");
        let count = |c: &mut postgres::Client| c.query_one("SELECT count(*) FROM t", &[]).unwrap().get::<_, i64>(0);
        assert_eq!(s.spi_connect(), SPI_OK_CONNECT);
        assert_eq!(s.execute(Some("CREATE TABLE t (a int UNIQUE)"), None, false, 0), SPI_OK_UTILITY);
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (1)"), None, false, 0), SPI_OK_INSERT);
        // Refused by SPI itself (not the server): the transaction is failed all the same.
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (2)"), None, true, 0), BGW_SPI_ERROR_STATEMENT);
        assert!(s.transaction_failed());
        assert_eq!(s.commit(), Ok(false));
        assert_eq!(count(&mut other), 0);
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (3)"), None, false, 0), SPI_OK_INSERT);
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (3)"), None, false, 0), BGW_SPI_ERROR_STATEMENT);
        assert!(text_of(&s).contains("duplicate key value violates unique constraint \"t_a_key\""));
        assert_eq!(s.commit(), Ok(false));
        s.start_transaction().unwrap();
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (4)"), None, false, 0), SPI_OK_INSERT);
        s.notify("c", "p").unwrap();
        assert_eq!(s.commit(), Ok(true));
        assert_eq!(count(&mut other), 1);
        // Outside a transaction every statement is its own.
        assert_eq!(s.execute(Some("INSERT INTO t VALUES (5) RETURNING a"), None, false, 0), SPI_OK_INSERT_RETURNING);
        assert_eq!(s.processed(), 1);
        assert_eq!(count(&mut other), 2);
        assert_eq!(s.execute(Some("SELECT a FROM t ORDER BY a"), None, true, 1), SPI_OK_SELECT);
        assert_eq!(s.processed(), 1);
        assert_eq!(s.execute(Some("SELECT 1; COMMIT"), None, false, 0), SPI_ERROR_TRANSACTION);
        // The server types the parameters: one it cannot is its error.
        assert_eq!(s.execute(Some("SELECT $2"), Some(&[Some("a".into())]), false, 0), BGW_SPI_ERROR_STATEMENT);
        assert_eq!(text_of(&s), "could not determine data type of parameter $1");
        assert_eq!(s.execute(Some("SELECT $1::int + 1"), Some(&[Some("41".into())]), false, 0), SPI_OK_SELECT);
        assert_eq!(s.execute(Some("SELECT $1::int, $2::text"), Some(&[Some("1".into())]), false, 0), SPI_ERROR_PARAM);
        assert_eq!(text_of(&s), "there is no parameter $2");
    }

    fn text_of(s: &State) -> String {
        s.error_text().unwrap_or_default()
    }
}

/// Result codes as PostgreSQL's SPI gives them, checked on a real PostgreSQL 15 and on SQLite.
#[cfg(test)]
mod code_tests {
    use super::*;

    /// The statements and PostgreSQL's codes and SPI_processed for them.
    fn check(s: &mut State, server: bool) {
        let run = |s: &mut State, sql: &str| (s.execute(Some(sql), None, false, 0), s.processed());
        assert_eq!(s.spi_connect(), SPI_OK_CONNECT);
        run(s, "DROP TABLE IF EXISTS counted");
        assert_eq!(run(s, "CREATE TABLE counted (type text, value int4)"), (SPI_OK_UTILITY, 0));
        assert_eq!(run(s, "INSERT INTO counted VALUES ('total', 0), ('delta', 2), ('delta', 3)"), (SPI_OK_INSERT, 3));
        assert_eq!(run(s, "INSERT INTO counted VALUES ('x', 1) RETURNING value"), (SPI_OK_INSERT_RETURNING, 1));
        assert_eq!(run(s, "UPDATE counted SET value = value WHERE type = 'x'"), (SPI_OK_UPDATE, 1));
        assert_eq!(run(s, "DELETE FROM counted WHERE type = 'x' RETURNING value"), (SPI_OK_DELETE_RETURNING, 1));
        assert_eq!(run(s, "WITH a AS (SELECT 1) SELECT * FROM a"), (SPI_OK_SELECT, 1));
        assert_eq!(run(s, "WITH a AS (SELECT 5 AS v) INSERT INTO counted SELECT 'y', v FROM a"), (SPI_OK_INSERT, 1));
        assert_eq!(
            run(s, "WITH a AS (SELECT 'y' AS t) DELETE FROM counted WHERE type IN (SELECT t FROM a)"),
            (SPI_OK_DELETE, 1)
        );
        if server {
            // worker_spi's statement: the main statement after WITH is an UPDATE ... RETURNING.
            assert_eq!(
                run(
                    s,
                    "WITH deleted AS (DELETE FROM counted WHERE type = 'delta' RETURNING value), \
                     total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) \
                     UPDATE counted SET value = counted.value + total.sum FROM total WHERE type = 'total' \
                     RETURNING counted.value"
                ),
                (SPI_OK_UPDATE_RETURNING, 1)
            );
            assert_eq!(text_at(s), Some("5".into()));
            assert_eq!(
                run(s, "WITH d AS (DELETE FROM counted RETURNING *) SELECT count(*) FROM d"),
                (SPI_OK_SELECT, 1)
            );
            assert_eq!(run(s, "SELECT 1 AS a, 2 AS b INTO TEMP selinto UNION ALL SELECT 3, 4"), (SPI_OK_SELINTO, 2));
            assert_eq!(run(s, "CREATE TEMP TABLE cta AS SELECT 1 AS a").0, SPI_OK_UTILITY);
            assert_eq!(run(s, "SHOW TimeZone"), (SPI_OK_UTILITY, 1));
        } else {
            assert_eq!(
                run(s, "WITH a AS (SELECT 2 AS v) UPDATE counted SET value = value + 1 WHERE value = (SELECT v FROM a) RETURNING value"),
                (SPI_OK_UPDATE_RETURNING, 1)
            );
        }
    }

    fn text_at(s: &State) -> Option<String> {
        s.result.rows.first()?.first()?.as_ref().map(|c| c.to_string_lossy().into_owned())
    }

    #[test]
    fn codes_on_sqlite() {
        let mut s = super::tests::state_on(rusqlite::Connection::open_in_memory().unwrap());
        check(&mut s, false);
    }

    #[test]
    fn codes_on_postgresql() {
        let pg = bgw_test_support::pg15::Postgres::start();
        let mut s = super::server_tests::state_on(&pg);
        check(&mut s, true);
    }
}
