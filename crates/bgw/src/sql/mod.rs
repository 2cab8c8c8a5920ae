//! The one SQL layer: what client sessions (`crate::backend`) and worker SPI (`crate::spi`) both do on a
//! database, behind one engine interface.
//!
//! - [`Engine`]: the interface both front-ends call: `prepare` the first statement of a string (analysed, not
//!   run), `execute` it with parameters (rows handed to the caller one by one), the transaction state, and the
//!   transaction commands SPI issues by API. [`Hooks`] are what a caller adds to its engine (statements it runs
//!   itself, read-only mode, notices, the end of a transaction, its SQL functions' errors and result types).
//! - [`sqlite`]: the SQLite engine (rusqlite), the default; [`postgres`]: the postgresql engine, the same
//!   interface over a connection to a PostgreSQL server (a worker's SPI on a postgresql-engine database).
//! - [`lexer`]: splitting SQL text into tokens, blank detection; [`statement`]: statement kinds, PostgreSQL's
//!   transaction-control spellings, `$n` parameter numbering, the analysed [`Statement`].
//! - [`txn`]: PostgreSQL's transaction rules (the failed-transaction rule, 25P02, savepoints) on top of an
//!   engine's own; [`utility`]: the utility statements answered before translation (savepoints, transaction
//!   modes, `PREPARE` / `EXECUTE` / `DEALLOCATE`, `TRUNCATE`), read from their text.
//! - [`error`]: [`SqlError`], with SQLSTATE, message, detail and hint; [`value`]: [`Value`]; [`types`]: [`PgType`],
//!   PostgreSQL's types with their OIDs and names, and how each is held in SQLite; [`datum`]: each type's input,
//!   output, send and receive functions, PostgreSQL's casts, numeric and date/time arithmetic, and the SQLite
//!   functions (`pg_cast`, `pg_numeric_add`, `pg_now`, ...) that carry them into SQL.
//! - [`pg`]: the PostgreSQL dialect: each statement parsed, typed and translated into SQLite SQL, or refused.
//! - [`pg_catalog`]: PostgreSQL's system catalogs and `information_schema`, computed from the schema and the host,
//!   and the catalog functions clients call.
//! - [`words`]: the tokens of the statements read before translation (session and utility statements).
//! - [`interrupt`]: the check a caller gives its engine so that a cancel, a timeout or a termination ends a
//!   running statement (or a wait for a lock) within milliseconds.
//!
//! Invariants: this layer knows nothing of the wire protocol, the host or workers (it imports only `catalog`,
//! for how a database file is opened); what differs between its callers is a parameter (the SQLite engine's
//! `Options`, the caller's `Hooks`), not a copy.
//!
//! Runs in: a backend process (a client session) and a background worker (SPI).

pub mod datum;
pub mod error;
pub mod interrupt;
pub mod lexer;
pub mod pg;
pub mod pg_catalog;
pub mod postgres;
pub mod session;
pub mod sqlite;
pub mod statement;
pub mod txn;
pub mod types;
pub mod utility;
pub mod value;
pub mod words;

use std::ops::ControlFlow;

pub use error::{Severity, SqlError};
pub use statement::{ColumnInfo, Kind, Statement};
pub use txn::TxState;
pub use value::{PgType, Value};

/// What running a statement produced, besides its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// PostgreSQL's command tag (`SELECT 3`, `INSERT 0 1`, `CREATE TABLE`, ...).
    pub tag: String,
    /// How many rows went to the row callback.
    pub rows: u64,
    /// How many rows the statement inserted, updated or deleted (the engine's count after it ran).
    pub changes: u64,
}

/// A database engine, as client sessions and worker SPI use it.
pub trait Engine {
    /// Analyses the first statement of `sql` and returns it with the rest of the string, or None if `sql` holds
    /// no statement (only blanks, comments and semicolons). An error (a syntax error, an unknown table, ...) fails
    /// the transaction block, if there is one.
    fn prepare<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError>;

    /// [`Engine::prepare`] for a statement the caller runs at once (the simple query protocol), describing its
    /// result columns no earlier than its first row or its end: the engine may leave a check to the run, which
    /// may then end with the tag [`statement::REPLAN`] and no rows (prepare it again with [`Engine::prepare`]).
    fn prepare_simple<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        self.prepare(sql)
    }

    /// Runs `stmt` with `params` (`params[n - 1]` is `$n`; missing ones are NULL), under PostgreSQL's transaction
    /// rules. Each result row goes to `rows` as soon as it is read (only for a statement with result columns);
    /// `rows` returns `Break` to stop reading.
    fn execute(
        &mut self,
        stmt: &Statement,
        params: &[Value],
        rows: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<Completion, SqlError>;

    /// Idle, in a transaction block, or in a failed one.
    fn tx_state(&self) -> TxState;

    /// Whether the last transaction block failed and has not been ended by [`Engine::begin`],
    /// [`Engine::commit`], [`Engine::rollback`] or a statement outside a block.
    fn transaction_failed(&self) -> bool;

    /// Marks the transaction block failed (for an error the caller raised itself).
    fn fail_transaction(&mut self);

    /// Begins a transaction block by API (SPI's `StartTransactionCommand`), taking the write lock at once.
    fn begin(&mut self) -> Result<(), SqlError>;

    /// Commits the open block by API.
    fn commit(&mut self) -> Result<(), SqlError>;

    /// Rolls the open block back by API, if there is one.
    fn rollback(&mut self) -> Result<(), SqlError>;

    /// Gives the engine the caller's interrupt check: called while a statement runs and while it waits for a
    /// lock, it ends the statement with the error it returns (see [`interrupt`]). Without one, a statement runs
    /// to its end and a lock wait lasts up to the connection's busy timeout.
    fn set_interrupt_check(&mut self, check: interrupt::CheckInterrupts);

    /// The SQLite connection underneath, for an engine on an embedded database (the backend keeps a database's
    /// extension catalog in it, inside the engine's transaction); None for other engines.
    fn sqlite_connection(&self) -> Option<&rusqlite::Connection> {
        None
    }
}

/// What a caller adds to its engine; every method has a default that adds nothing.
pub trait Hooks: Send + Sync {
    /// How many bytes of `sql` a statement the caller runs itself takes, if `sql` starts with one (the backend's
    /// catalog commands). Such a statement comes back from `prepare` as [`Kind::Catalog`]. `sql` is the first
    /// statement only (up to its `;`) when the lexer can tell where that ends
    /// ([`lexer::first_statement_len`]), so that splitting a long string stays linear.
    fn own_statement_len(&self, _sql: &str) -> Option<usize> {
        None
    }

    /// Runs a statement [`Hooks::own_statement_len`] claimed; its command tag.
    fn run_own_statement(&self, sql: &str, _in_transaction_block: bool) -> Result<String, SqlError> {
        Err(SqlError::error("0A000", format!("catalog commands are not supported here: {sql}")))
    }

    /// Whether writes are refused now (25006).
    fn read_only(&self) -> bool {
        false
    }

    /// Just before a transaction commits (an explicit COMMIT/END, a statement's own transaction, the engine's
    /// [`Engine::commit`]): Err fails the commit, and the engine rolls the transaction back and returns it.
    fn pre_commit(&self) -> Result<(), SqlError> {
        Ok(())
    }

    /// A transaction ended (a statement's own, or a block's), committed or not.
    fn transaction_ended(&self, _committed: bool) {}

    /// A savepoint of the open block was set, released or rolled back to (see [`txn::SubXact`]).
    fn subtransaction(&self, _what: txn::SubXact) {}

    /// A notice or warning raised by the engine (sent after the statement).
    fn notice(&self, _notice: SqlError) {}

    /// The whole error one of the caller's SQL functions failed with, if one did (and forgets it): the engine
    /// keeps only its message.
    fn take_function_error(&self) -> Option<SqlError> {
        None
    }

    /// The result type of one of the caller's SQL functions, for describing result columns before they run.
    fn function_result_type(&self, _name: &str) -> Option<PgType> {
        None
    }

    /// The argument types one of the caller's SQL functions declares, if it does (a parameter passed to it is
    /// described with them).
    fn function_argument_types(&self, _name: &str) -> Option<Vec<PgType>> {
        None
    }

    /// The parameter names one of the caller's SQL functions declares, if it does (`f(name => value)`).
    fn function_parameter_names(&self, _name: &str) -> Option<Vec<&'static str>> {
        None
    }

    /// Whether the host is in recovery (a standby not promoted yet): `pg_is_in_recovery()`.
    fn in_recovery(&self) -> bool {
        false
    }

    /// The session's user and database (`current_user`, `current_database()`).
    fn session_identity(&self) -> (String, String) {
        (String::new(), String::new())
    }
}

/// What running a statement produced, with all its rows (tests; sessions stream their rows).
#[cfg(test)]
#[derive(Debug)]
#[allow(dead_code)] // what a test may look at
pub(crate) struct Executed {
    pub tag: String,
    /// The rows, for a statement that has result columns (even if it returned none).
    pub rows: Option<Vec<Vec<Value>>>,
}

/// Runs `stmt` on `engine` and collects its rows (for a statement with result columns); tests only.
#[cfg(test)]
pub(crate) fn execute_collecting(
    engine: &mut dyn Engine,
    stmt: &Statement,
    params: &[Value],
) -> Result<Executed, SqlError> {
    let mut rows = Vec::new();
    let done = engine.execute(stmt, params, &mut |row| {
        rows.push(row);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(Executed { tag: done.tag, rows: (!stmt.columns.is_empty()).then_some(rows) })
}
