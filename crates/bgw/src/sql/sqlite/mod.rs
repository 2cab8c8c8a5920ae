//! The SQLite engine: the first implementation of [`Engine`], on an embedded SQLite database.
//!
//! [`SqliteEngine::prepare`] takes the first statement off a query string and analyses it without running it:
//! its kind (for the command tag), its parameters (`$1`, `$2`, ... as PostgreSQL clients write them), and its
//! result columns with a PostgreSQL type where one can be known before running: from the declared column type,
//! or (with [`Options::infer_types`]) from SQLite's bytecode when a column is computed by a function with a known
//! result type or by a literal. [`SqliteEngine::execute`] runs it and hands its rows to the caller one by one.
//!
//! Transactions pass to SQLite, with PostgreSQL's rules on top (see [`crate::sql::txn`]). What differs between
//! the callers is in [`Options`] (what a client session gets and a worker's SPI does not) and in the caller's
//! [`Hooks`].
//!
//! Interrupts: with the caller's check ([`Engine::set_interrupt_check`]), SQLite's progress handler asks it every
//! [`CHECK_EVERY_OPS`] steps and the busy handler asks it while the connection waits for another writer (sleeping
//! 1 to 10 ms between tries, without a bound of its own: `lock_timeout` is the caller's); when the check returns
//! an error, SQLite stops the statement (SQLITE_INTERRUPT, or SQLITE_BUSY for a lock wait) and the statement ends
//! with the check's error instead of SQLite's. Rows stream through the row callback as they are read.
//!
//! Runs in: a backend process (the session's database) and a background worker (its SPI connection).

mod cache;
mod errors;
#[allow(unsafe_code)] // SQLite calls rusqlite does not wrap (the authorizer, defensive mode)
mod ffi;
mod infer;
#[allow(unsafe_code)] // rusqlite's virtual-table traits are unsafe to implement
pub mod rows_table;
mod truncate;

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub use errors::{from_rusqlite, function_failed, sqlstate};
pub use ffi::{pragma_allowed, set_superuser as set_session_superuser, PRAGMAS_ANYONE, PRAGMAS_READ_ONLY};

use super::error::SqlError;
use super::interrupt::{CheckInterrupts, Wait, CHECK_EVERY_OPS};
use super::statement::{classify, transaction_control, ColumnInfo, Kind, Statement};
use super::txn::{gate, Gate, Tracker, TxState};
use super::value::{PgType, Value};
use super::{Completion, Engine, Hooks};

/// What a caller's connection does beyond running SQL.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Accept PostgreSQL's spellings of transaction control SQLite does not know (`START TRANSACTION`, `ABORT`,
    /// `BEGIN ISOLATION LEVEL ...`), running SQLite's own instead.
    pub postgres_transaction_spellings: bool,
    /// Read result column types off the bytecode when no declared type gives them (costs an `EXPLAIN`).
    pub infer_types: bool,
    /// Speak PostgreSQL's SQL: every statement goes through the translator ([`crate::sql::pg`]).
    pub postgres_dialect: bool,
}

impl Options {
    /// A client session's: PostgreSQL's spellings and typed result columns.
    pub const CLIENT: Options =
        Options { postgres_transaction_spellings: true, infer_types: true, postgres_dialect: false };
    /// A client session speaking PostgreSQL's SQL (`sql_dialect = postgresql`).
    pub const CLIENT_POSTGRES: Options = Options { postgres_dialect: true, ..Options::CLIENT };
    /// A worker's SPI: SQLite's spellings, untyped (text) results.
    pub const SPI: Options =
        Options { postgres_transaction_spellings: false, infer_types: false, postgres_dialect: false };
    /// A worker's SPI speaking PostgreSQL's SQL (an extension written for PostgreSQL):
    /// as a client session's, typed results included (its datums have PostgreSQL's types).
    pub const SPI_POSTGRES: Options = Options::CLIENT_POSTGRES;
}

/// How much of a session's database file SQLite reads through a memory map.
const MMAP_BYTES: i64 = 256 << 20;

/// No hooks: a connection whose caller needs nothing of the engine but SQL.
struct NoHooks;
impl Hooks for NoHooks {}

/// A SQLite connection with PostgreSQL's transaction rules.
pub struct SqliteEngine {
    conn: Connection,
    options: Options,
    hooks: Arc<dyn Hooks>,
    tx: Tracker,
    /// Whether `PRAGMA query_only` is on (it follows the hooks' read-only state).
    read_only: bool,
    /// The caller's interrupt check, if it gave one.
    check: Option<CheckInterrupts>,
    /// The error the interrupt check stopped the running statement with (set from SQLite's handlers).
    interrupted: Arc<Mutex<Option<SqlError>>>,
    /// The error the hooks' pre-commit refused a commit with (set from SQLite's commit hook).
    refused: Arc<Mutex<Option<SqlError>>>,
    /// Whether the hooks' pre-commit ran for the transaction now ending (set from SQLite's commit hook).
    pre_committed: Arc<std::sync::atomic::AtomicBool>,
    /// The open block's savepoints (PostgreSQL's names; SQLite runs its own).
    savepoints: super::txn::Savepoints,
    /// Translated queries by shape (see [`cache`]).
    cache: RefCell<cache::TranslationCache>,
    /// Whether the statement being prepared is run at once by a caller that handles [`super::statement::REPLAN`]
    /// (see [`Engine::prepare_simple`]).
    simple: Cell<bool>,
    /// The schema version the last [`SqliteEngine::stamp`] read.
    schema_version: Cell<Option<i64>>,
    /// The schema unqualified names resolve in first while an element of CREATE SCHEMA is translated.
    search_schema: RefCell<Option<String>>,
}

impl SqliteEngine {
    /// An engine on `conn`, opened and set up by the caller.
    pub fn new(conn: Connection, options: Options) -> SqliteEngine {
        if options.postgres_dialect {
            // The translator's SQL functions (a failure here shows as "no such function" when one is used).
            let _ = super::pg::register(&conn);
        }
        SqliteEngine {
            conn,
            options,
            hooks: Arc::new(NoHooks),
            tx: Tracker::default(),
            read_only: false,
            check: None,
            interrupted: Arc::default(),
            refused: Arc::default(),
            pre_committed: Arc::default(),
            savepoints: Default::default(),
            cache: RefCell::default(),
            schema_version: Cell::new(None),
            simple: Cell::new(false),
            search_schema: RefCell::default(),
        }
    }

    /// The same, with the caller's hooks.
    pub fn with_hooks(conn: Connection, options: Options, hooks: Box<dyn Hooks>) -> SqliteEngine {
        let mut engine = SqliteEngine { hooks: Arc::from(hooks), ..SqliteEngine::new(conn, options) };
        // The pre-commit of a transaction that wrote (a statement's own, whose COMMIT SQLite runs itself, or a
        // block's): refusing turns SQLite's COMMIT into a ROLLBACK, and the statement ends with the hooks' error.
        let (hooks, refused, ran) = (engine.hooks.clone(), engine.refused.clone(), engine.pre_committed.clone());
        let _ = engine.conn.commit_hook(Some(move || {
            ran.store(true, std::sync::atomic::Ordering::Relaxed);
            match hooks.pre_commit() {
                Ok(()) => false,
                Err(err) => {
                    put(&refused, err);
                    true
                }
            }
        }));
        engine
    }

    /// Opens the database file at `path` (or a fresh in-memory database) for a client session, as every database
    /// of the host is opened (WAL, durable commits, writers wait for writers), and sandboxed: the connection
    /// cannot attach or write files, triggers and views may use only functions without side effects, and SQL
    /// cannot corrupt the file (see [`sandbox`]). `setup` then adds the caller's functions and views.
    pub fn open_sandboxed(
        path: Option<&Path>,
        setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<Connection> {
        let conn = match path {
            Some(p) => crate::catalog::open_database_file(p)?,
            None => Connection::open_in_memory()?,
        };
        // Pages read through a memory map of the file (the system's page cache, shared by every session) rather
        // than a read call each into this connection's own cache.
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        sandbox(&conn)?;
        crate::sql::datum::register(&conn)?;
        setup(&conn)?;
        Ok(conn)
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn map_error(&self, err: rusqlite::Error) -> SqlError {
        // A statement the interrupt check stopped ends with the check's error; an error raised by one of the
        // caller's SQL functions comes back whole, SQLSTATE included.
        if let Some(refused) = take(&self.refused) {
            let _ = self.hooks.take_function_error();
            return refused;
        }
        if let Some(interrupt) = take(&self.interrupted) {
            let _ = self.hooks.take_function_error();
            return interrupt;
        }
        self.hooks.take_function_error().unwrap_or_else(|| from_rusqlite(err))
    }

    /// Asks the caller's check now (before a statement runs, as PostgreSQL's CHECK_FOR_INTERRUPTS).
    fn check_now(&self) -> Result<(), SqlError> {
        self.check.map_or(Ok(()), |check| check(Wait::Running))
    }

    fn prepare_first<'a>(&self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        let mut rest = sql;
        loop {
            if let Some(hit) = self.cached(rest)? {
                return Ok(Some(hit));
            }
            if super::lexer::is_blank(rest) {
                return Ok(None);
            }
            // The caller's hook sees the first statement only, when the lexer can tell where it ends: asking it
            // about the whole rest would make splitting a long string quadratic.
            let first = super::lexer::first_statement_len(rest).map_or(rest, |end| &rest[..end]);
            if let Some(len) = self.hooks.own_statement_len(first) {
                let len = len.clamp(1, rest.len());
                return Ok(Some((Statement::bare(&rest[..len], Kind::Catalog), &rest[len..])));
            }
            if self.options.postgres_transaction_spellings {
                // PostgreSQL's SHOW, answered by a query on the session's settings.
                if let Some((select, consumed)) = super::session::show_as_select(first) {
                    // The query is the engine's own (SQLite's SQL), never translated.
                    let probe = ffi::probe(&self.conn, &select).map_err(|e| self.map_error(e.error))?;
                    let statement = probe.shape.map(|shape| self.analyse(&select, shape));
                    return Ok(statement.map(|s| (s, &rest[consumed.min(rest.len())..])));
                }
                if let Some(err) = super::txn::refused_transaction_control(first) {
                    return Err(err);
                }
                if let Some((statement, consumed)) = super::txn::savepoint_statement(first) {
                    return Ok(Some((statement, &rest[consumed.min(rest.len())..])));
                }
                if let Some((statement, consumed)) = truncate::prepare(&self.conn, first)? {
                    return Ok(Some((statement, &rest[consumed.min(rest.len())..])));
                }
                if let Some((canonical, kind, consumed)) = transaction_control(rest) {
                    return Ok(Some((Statement::bare(canonical, kind), &rest[consumed.min(rest.len())..])));
                }
            }
            if self.options.postgres_dialect && !super::statement::is_transaction_control(first) {
                let Some((text, consumed)) = super::pg::first_statement(rest) else { return Ok(None) };
                let remainder = &rest[consumed.min(rest.len())..];
                // The statement's shape, for the cache, when its text is the whole first statement of `rest`.
                let shape =
                    super::lexer::shape(rest).filter(|shape| shape.len == consumed && text.as_ptr() == rest.as_ptr());
                let translated = self.translate(text, shape).map_err(|mut err| {
                    // The statement's `;` is where PostgreSQL's parser stops.
                    if err.message == "syntax error at end of input"
                        && rest[..consumed.min(rest.len())].trim_end().ends_with(';')
                    {
                        err.message = "syntax error at or near \";\"".into();
                    }
                    err
                })?;
                match translated {
                    Some(statement) => return Ok(Some((statement, remainder))),
                    None => {
                        // The host's own statements (PRAGMA) run as written.
                        let probe = ffi::probe(&self.conn, text).map_err(|e| self.map_error(e.error))?;
                        return Ok(probe.shape.map(|shape| (self.analyse(text, shape), remainder)));
                    }
                }
            }
            let probe = ffi::probe(&self.conn, rest).map_err(|e| {
                let mut err = self.map_error(e.error);
                // The offset SQLite gives is into `rest`; the error's position is into `sql`.
                err.position = e.offset.map(|offset| (offset + (sql.len() - rest.len())) as u32);
                err
            })?;
            let consumed = probe.consumed.min(rest.len());
            match probe.shape {
                Some(shape) => {
                    let (text, remainder) = rest.split_at(consumed);
                    return Ok(Some((self.analyse(text, shape), remainder)));
                }
                None if consumed == 0 => return Ok(None),
                None => rest = &rest[consumed..],
            }
        }
    }

    /// The statement at the start of `rest` from the translation cache, with the rest of the string, if it is
    /// there (see [`cache`]).
    fn cached<'a>(&self, rest: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        if !self.options.postgres_dialect || self.cache.borrow().is_empty() {
            return Ok(None);
        }
        let Some(shape) = super::lexer::shape(rest) else { return Ok(None) };
        if !self.cache.borrow().contains(&shape) {
            return Ok(None);
        }
        let remainder = &rest[shape.len.min(rest.len())..];
        if self.simple.get() && self.cache.borrow().checked_when_run(&shape) {
            // The session's part of the stamp now; the schema's when the statement runs, in its own read transaction
            // (see `run`): no transaction of its own for the check.
            let (in_recovery, identity) = (self.hooks.in_recovery(), self.hooks.session_identity());
            let cache = self.cache.borrow();
            let Some(stamp) = cache.stamp().filter(|s| s.in_recovery == in_recovery && s.identity == identity) else {
                return Ok(None);
            };
            return Ok(cache.lookup(rest, &shape).map(|mut statement| {
                let text = &rest[..shape.len.min(rest.len())];
                statement.schema_check = Some((stamp.schema_version, text.strip_suffix(';').unwrap_or(text).into()));
                (statement, remainder)
            }));
        }
        // Only queries are kept: reading the schema's version here is no earlier than the query's own read.
        let stamp = self.stamp()?;
        let mut cache = self.cache.borrow_mut();
        cache.validate(&stamp);
        Ok(cache.lookup(rest, &shape).map(|statement| (statement, remainder)))
    }

    /// Whether the schema changed since the translation of `stmt` was made, if it is one to check (see
    /// [`Statement::schema_check`]); reads the version in the transaction the statement runs in.
    fn schema_changed(&self, stmt: &Statement) -> Result<bool, SqlError> {
        let Some((version, _)) = &stmt.schema_check else { return Ok(false) };
        let now = self
            .conn
            .prepare_cached("PRAGMA schema_version")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
            .map_err(|e| self.map_error(e))?;
        Ok(now != *version)
    }

    /// Runs the statement a cached translation of `stmt`'s text would have been, after the schema changed under
    /// it: translated again (and kept), with the result columns the client was told of.
    fn run_translated_again(
        &self,
        stmt: &Statement,
        params: &[Value],
        sink: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<Completion, SqlError> {
        self.cache.borrow_mut().clear();
        let Some((_, text)) = &stmt.schema_check else { return Err(SqlError::error("XX000", "no text to translate")) };
        let replan = || Ok(Completion { tag: super::statement::REPLAN.to_owned(), rows: 0, changes: 0 });
        // An error is the caller's to report from its own prepare (before any description of the result).
        let Ok(fresh) = self.translate(text, super::lexer::shape(text)) else { return replan() };
        match fresh {
            Some(fresh)
                if fresh.columns == stmt.columns
                    && fresh.column_origins == stmt.column_origins
                    && fresh.describe_first == stmt.describe_first =>
            {
                self.run(&fresh, params, sink)
            }
            // The caller describes the result when the first row comes (see Engine::prepare_simple): none came.
            _ => replan(),
        }
    }

    /// What a translation depends on besides its text, now.
    fn stamp(&self) -> Result<cache::Stamp, SqlError> {
        let schema_version = self
            .conn
            .prepare_cached("PRAGMA schema_version")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
            .map_err(|e| self.map_error(e))?;
        if self.schema_version.replace(Some(schema_version)) != Some(schema_version) {
            // Another session may have changed the schema (or this is the first look since the connection loaded
            // it): SQLite reloads its copy when a statement that reads a table starts (the pragma does not), and
            // the translator must see the current one.
            self.conn
                .prepare_cached("SELECT 1 FROM sqlite_master LIMIT 1")
                .and_then(|mut stmt| stmt.exists([]))
                .map_err(|e| self.map_error(e))?;
        }
        Ok(cache::Stamp {
            schema_version,
            in_recovery: self.hooks.in_recovery(),
            identity: self.hooks.session_identity(),
        })
    }

    /// Translates one PostgreSQL statement (without its `;`) into the SQLite statement that runs it; None for a
    /// statement the translator leaves as it is. With its `shape` (the statement is then the start of its text),
    /// a query's integer literals may become parameters and the translation is kept in the cache.
    fn translate(&self, text: &str, shape: Option<super::lexer::Shape>) -> Result<Option<Statement>, SqlError> {
        // Queries only (see cache): a query's first word is SELECT, VALUES or TABLE.
        let shape = shape.filter(|_| {
            matches!(super::lexer::leading_words(text).next().as_deref(), Some("SELECT" | "VALUES" | "TABLE"))
        });
        let stamp = match shape {
            Some(_) => Some(self.stamp()?),
            None => None,
        };
        let schema = Watched { inner: super::pg::schema::SqliteSchema::new(&self.conn), more: Cell::new(false) };
        let hooks = &self.hooks;
        let (user, database) = match &stamp {
            Some(stamp) => stamp.identity.clone(),
            None => hooks.session_identity(),
        };
        let host_function = |name: &str| hooks.function_result_type(name);
        let host_function_args = |name: &str| hooks.function_argument_types(name);
        let host_function_params = |name: &str| hooks.function_parameter_names(name);
        let cx = super::pg::Context {
            schema: &schema,
            host_function: &host_function,
            host_function_args: &host_function_args,
            host_function_params: &host_function_params,
            user,
            database,
            in_recovery: stamp.as_ref().map_or_else(|| hooks.in_recovery(), |s| s.in_recovery),
            search_schema: self.search_schema.borrow().clone(),
        };
        let literals: Vec<super::pg::LiteralAt<'_>> = shape.as_ref().map_or_else(Vec::new, |shape| {
            shape
                .literals
                .iter()
                .map(|l| super::pg::LiteralAt { line: l.line, column: l.column, digits: &text[l.start..l.end] })
                .collect()
        });
        let (translated, slots) = match super::pg::translate_with_literals(text, &cx, &literals)? {
            (super::pg::Outcome::Run(t), slots) => (*t, slots),
            (super::pg::Outcome::PassThrough, _) => return Ok(None),
        };
        let keep = stamp.zip(shape).filter(|(_, shape)| {
            translated.kind == Kind::Query
                && !schema.more.get()
                && same_with_other_literals(text, shape, &slots, &translated, &cx)
        });
        let values = slots
            .iter()
            .map(|&k| literals.get(k).and_then(|l| l.digits.parse::<i64>().ok()).map_or(Value::Null, Value::Integer))
            .collect();
        let statement = self.translated(translated, values)?;
        if let (Some((stamp, shape)), Some(statement)) = (keep, &statement) {
            if statement.read_only
                && statement.before.is_empty()
                && statement.after.is_empty()
                && statement.steps.is_empty()
            {
                self.cache.borrow_mut().insert(stamp, text, shape, statement, &slots);
            }
        }
        Ok(statement)
    }

    /// The engine's statement for a translation whose parameters `?1`, `?2`, ... (if any) are its literals
    /// `literals`.
    fn translated(
        &self,
        translated: super::pg::Translated,
        literals: Vec<Value>,
    ) -> Result<Option<Statement>, SqlError> {
        let bare = |translated: super::pg::Translated| Statement {
            sql: translated.sqlite,
            kind: translated.kind,
            columns: translated.columns,
            param_names: Vec::new(),
            param_numbers: Vec::new(),
            param_count: 0,
            param_types: translated.param_types,
            read_only: false,
            before: translated.before,
            after: translated.after,
            describe_first: translated.describe_first,
            column_origins: translated.origins.clone(),
            diagnostics: translated.diagnostics.map(Arc::new),
            literals: Vec::new(),
            schema_check: None,
            steps: translated.steps.clone(),
        };
        if translated.sqlite.is_empty() {
            return Ok(Some(bare(translated)));
        }
        if !translated.steps.captures.is_empty() && self.hooks.read_only() {
            // PostgreSQL's check comes before the result is described (see execute for a state changed since).
            let command = if translated.kind == Kind::Query { "SELECT".into() } else { translated.kind.command_name() };
            return Err(SqlError::error("25006", format!("cannot execute {command} in a read-only transaction")));
        }
        // The tables that keep data-modifying CTEs' rows, which the statement reads (see pg::Steps).
        for capture in &translated.steps.captures {
            if let Some(create) = capture.create_table() {
                self.conn.execute_batch(&create).map_err(|e| self.map_error(e))?;
            }
        }
        // Prepared into the connection's statement cache: the run that follows finds it there compiled (one
        // compile per statement, not two).
        let shape = match self.conn.prepare_cached(&translated.sqlite) {
            Ok(stmt) => ffi::Shape {
                names: stmt.column_names().map(str::to_owned).collect(),
                decltypes: stmt.columns().map(|c| c.decl_type().map(str::to_owned)).collect(),
                param_names: (1..=stmt.parameter_count()).map(|i| stmt.parameter_name(i).map(str::to_owned)).collect(),
                read_only: stmt.readonly(),
            },
            // What runs before it may create what it needs (CREATE SCHEMA's table): it is prepared when it runs.
            Err(_) if !translated.before.is_empty() => return Ok(Some(bare(translated))),
            Err(e) => return Err(self.map_error(e)),
        };
        // The translator types every column: no reading of SQLite's bytecode for it.
        let infer = shape.names.len() != translated.columns.len();
        let mut statement = self.analyse_with(&translated.sqlite, shape, infer);
        statement.kind = translated.kind;
        if statement.columns.len() == translated.columns.len() {
            statement.columns = translated.columns;
        }
        statement.param_count = statement.param_count.max(translated.param_types.len());
        statement.param_types = translated.param_types;
        statement.diagnostics = translated.diagnostics.map(Arc::new);
        statement.before = translated.before;
        statement.after = translated.after;
        statement.describe_first = translated.describe_first;
        if !translated.steps.is_empty() {
            statement.read_only = false;
        }
        statement.steps = translated.steps;
        if translated.origins.len() == statement.columns.len() {
            statement.column_origins = translated.origins;
        }
        if !literals.is_empty() {
            // Its parameters are its own literals, not `$n` ones a client gives.
            statement.param_names.clear();
            statement.param_numbers.clear();
            statement.param_count = statement.param_types.len();
            statement.literals = literals;
        }
        Ok(Some(statement))
    }

    fn analyse(&self, text: &str, shape: ffi::Shape) -> Statement {
        self.analyse_with(text, shape, self.options.infer_types)
    }

    fn analyse_with(&self, text: &str, shape: ffi::Shape, infer: bool) -> Statement {
        let ffi::Shape { names, decltypes, param_names, read_only } = shape;
        let param_numbers: Vec<usize> = param_names
            .iter()
            .enumerate()
            .map(|(position, name)| super::statement::param_number(name.as_deref()).unwrap_or(position + 1))
            .collect();
        let param_count = param_numbers.iter().copied().max().unwrap_or(0);
        let mut types: Vec<Option<PgType>> =
            decltypes.iter().map(|d| d.as_deref().and_then(PgType::from_decltype)).collect();
        if infer && types.iter().any(Option::is_none) {
            let hooks = &self.hooks;
            let inferred = infer::explain_types(&self.conn, text, names.len(), &|name| {
                hooks.function_result_type(name).or_else(|| infer::builtin_result_type(name))
            });
            for (ty, guess) in types.iter_mut().zip(inferred) {
                if ty.is_none() {
                    *ty = guess;
                }
            }
        }
        Statement {
            sql: text.to_owned(),
            kind: classify(text),
            columns: names.into_iter().zip(types).map(|(name, ty)| ColumnInfo { name, ty }).collect(),
            param_names,
            param_numbers,
            param_count,
            param_types: Vec::new(),
            read_only,
            before: Vec::new(),
            after: Vec::new(),
            describe_first: false,
            column_origins: Vec::new(),
            diagnostics: None,
            literals: Vec::new(),
            schema_check: None,
            steps: Default::default(),
        }
    }

    /// Runs a data-modifying CTE's statement, keeping its RETURNING rows in its table (see pg::Steps).
    fn run_capture(&self, capture: &super::pg::Capture, params: &[Value]) -> Result<(), SqlError> {
        self.check_now()?;
        let mut insert = match (capture.create_table(), &capture.table) {
            (Some(create), Some((table, width))) => {
                let table = super::pg::quote_name(table);
                self.conn.execute_batch(&create).map_err(|e| self.map_error(e))?;
                self.conn.execute_batch(&format!("DELETE FROM temp.{table}")).map_err(|e| self.map_error(e))?;
                let marks: Vec<String> = (1..=*width).map(|i| format!("?{i}")).collect();
                let sql = format!("INSERT INTO temp.{table} VALUES ({})", marks.join(", "));
                Some(self.conn.prepare_cached(&sql).map_err(|e| self.map_error(e))?)
            }
            _ => None,
        };
        let explain = |err: SqlError| match &capture.diagnostics {
            Some(d) if matches!(err.code, "23505" | "23502" | "23503" | "23514") => {
                super::pg::diagnose::explain(&self.conn, d, &err, params).unwrap_or(err)
            }
            _ => err,
        };
        let mut prepared = self.conn.prepare_cached(&capture.sqlite).map_err(|e| self.map_error(e))?;
        for position in 1..=prepared.parameter_count() {
            let number = super::statement::param_number(prepared.parameter_name(position)).unwrap_or(position);
            let value = params.get(number.wrapping_sub(1)).unwrap_or(&Value::Null);
            prepared.raw_bind_parameter(position, value).map_err(|e| self.map_error(e))?;
        }
        let width = prepared.column_count();
        let mut rows = prepared.raw_query();
        while let Some(row) = rows.next().map_err(|e| explain(self.map_error(e)))? {
            if let Some(insert) = insert.as_mut() {
                for i in 0..width {
                    let value = Value::from(row.get_ref(i).map_err(|e| self.map_error(e))?);
                    insert.raw_bind_parameter(i + 1, &value).map_err(|e| self.map_error(e))?;
                }
                insert.raw_execute().map_err(|e| self.map_error(e))?;
            }
        }
        Ok(())
    }

    /// Translates and runs an element of CREATE SCHEMA, unqualified names resolved in its schema first.
    fn run_element(&self, element: &super::pg::Element) -> Result<(), SqlError> {
        self.check_now()?;
        self.search_schema.replace(Some(element.schema.clone()));
        let translated = self.translate(&element.text, None);
        self.search_schema.replace(None);
        let Some(statement) = translated? else { return Ok(()) };
        self.run(&statement, &[], &mut |_| ControlFlow::Continue(())).map(|_| ())
    }

    fn run(
        &self,
        stmt: &Statement,
        params: &[Value],
        sink: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<Completion, SqlError> {
        self.check_now()?;
        if !stmt.before.is_empty() || !stmt.after.is_empty() || !stmt.steps.is_empty() {
            // One transaction for the statements before it, the statement itself and those after it.
            self.conn.execute_batch("SAVEPOINT _pg_statement").map_err(|e| self.map_error(e))?;
            let result = (|| {
                for before in &stmt.before {
                    self.conn.execute_batch(before).map_err(|e| self.map_error(e))?;
                }
                for capture in &stmt.steps.captures {
                    self.run_capture(capture, params)?;
                }
                let main =
                    Statement { before: Vec::new(), after: Vec::new(), steps: Default::default(), ..stmt.clone() };
                let done = self.run(&main, params, sink)?;
                for element in &stmt.steps.elements {
                    self.run_element(element)?;
                }
                for capture in &stmt.steps.captures {
                    if let Some((table, _)) = &capture.table {
                        let clear = format!("DELETE FROM temp.{}", super::pg::quote_name(table));
                        self.conn.execute_batch(&clear).map_err(|e| self.map_error(e))?;
                    }
                }
                for after in &stmt.after {
                    self.conn.execute_batch(after).map_err(|e| self.map_error(e))?;
                }
                Ok(done)
            })();
            if result.is_err() {
                let _ = self.conn.execute_batch("ROLLBACK TO _pg_statement");
            }
            let released = self.conn.execute_batch("RELEASE _pg_statement").map_err(|e| self.map_error(e));
            return match (result, released) {
                (Ok(done), Ok(())) => Ok(done),
                (Err(err), _) | (Ok(_), Err(err)) => Err(err),
            };
        }
        if stmt.sql.is_empty() {
            // A statement with nothing to do (CREATE SCHEMA IF NOT EXISTS of one that exists).
            let tag = match &stmt.kind {
                Kind::Other(tag) => tag.clone(),
                _ => String::new(),
            };
            return Ok(Completion { tag, rows: 0, changes: 0 });
        }
        // Compiled once per text: a repeated statement (a prepared one, COPY's row insert) skips SQLite's parser.
        let mut prepared = self.conn.prepare_cached(&stmt.sql).map_err(|e| self.map_error(e))?;
        let width = prepared.column_count();
        if width != stmt.columns.len() {
            return Err(SqlError::error("0A000", "cached plan must not change result type")
                .with_detail("The statement's result columns changed since it was prepared."));
        }
        for (position, number) in stmt.param_numbers.iter().enumerate() {
            let value = params.get(number.wrapping_sub(1)).unwrap_or(&Value::Null);
            prepared.raw_bind_parameter(position + 1, value).map_err(|e| self.map_error(e))?;
        }
        // A translated query's literals that became parameters (a parameter the SQL does not use is not bound).
        for (position, value) in stmt.literals.iter().enumerate().take(prepared.parameter_count()) {
            prepared.raw_bind_parameter(position + 1, value).map_err(|e| self.map_error(e))?;
        }
        let mut delivered = 0u64;
        let mut first = stmt.schema_check.is_some();
        {
            let mut rows = prepared.raw_query();
            loop {
                let step = rows.next();
                if first {
                    first = false;
                    // After the first step, in the read transaction it began (or after the statement ended or
                    // failed: versions only grow): whether the translation it runs is the schema's.
                    let interrupted = self.interrupted.lock().map_or(true, |slot| slot.is_some());
                    if !interrupted && self.schema_changed(stmt)? {
                        drop(step);
                        drop(rows);
                        let _ = self.hooks.take_function_error();
                        return self.run_translated_again(stmt, params, sink);
                    }
                }
                let Some(row) = step.map_err(|e| self.explain(stmt, params, self.map_error(e)))? else { break };
                if width > 0 {
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(Value::from(row.get_ref(i).map_err(|e| self.map_error(e))?));
                    }
                    if sink(values).is_break() {
                        break;
                    }
                    delivered += 1;
                }
            }
        }
        let changes = self.conn.changes();
        let tag = match &stmt.kind {
            Kind::Insert => format!("INSERT 0 {changes}"),
            Kind::Update => format!("UPDATE {changes}"),
            Kind::Delete => format!("DELETE {changes}"),
            _ if width > 0 => format!("SELECT {delivered}"),
            Kind::Query => "SELECT 0".to_owned(),
            Kind::Begin => "BEGIN".to_owned(),
            Kind::Commit => "COMMIT".to_owned(),
            Kind::Rollback | Kind::RollbackTo => "ROLLBACK".to_owned(),
            // Catalog commands never reach SQLite (see execute).
            Kind::Catalog => String::new(),
            Kind::Other(tag) => tag.clone(),
        };
        Ok(Completion { tag, rows: delivered, changes })
    }
}

impl Engine for SqliteEngine {
    fn tx_state(&self) -> TxState {
        self.tx.state(self.conn.is_autocommit())
    }

    fn transaction_failed(&self) -> bool {
        self.tx.failed()
    }

    fn fail_transaction(&mut self) {
        self.tx.fail();
    }

    fn prepare_simple<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        self.simple.set(true);
        let result = self.prepare(sql);
        self.simple.set(false);
        result
    }

    fn prepare<'a>(&mut self, sql: &'a str) -> Result<Option<(Statement, &'a str)>, SqlError> {
        let result = self.prepare_first(sql);
        if result.is_err() {
            self.tx.statement_failed(self.conn.is_autocommit());
        }
        result
    }

    fn execute(
        &mut self,
        stmt: &Statement,
        params: &[Value],
        rows: &mut dyn FnMut(Vec<Value>) -> ControlFlow<()>,
    ) -> Result<Completion, SqlError> {
        if !matches!(stmt.kind, Kind::Query | Kind::Insert | Kind::Update | Kind::Delete | Kind::Begin | Kind::Commit) {
            // DDL, a rollback, a session command, ...: what the cached translations were made under may come back
            // with the same schema version and another schema (see cache).
            self.cache.get_mut().clear();
        }
        // now() is the transaction's start: at the latest, this statement's (read before anything runs).
        let _ = crate::sql::datum::transaction_now();
        // Forget any error a function raised outside a statement, and any interrupt that stopped nothing.
        let _ = self.hooks.take_function_error();
        let _ = take(&self.interrupted);
        if self.conn.is_autocommit() {
            self.savepoints.clear();
        }
        let tag_only = |tag: &str| Ok(Completion { tag: tag.to_owned(), rows: 0, changes: 0 });
        match gate(self.tx_state(), &stmt.kind) {
            Gate::Run => {}
            Gate::RollBackFailed => {
                self.conn.execute_batch("ROLLBACK").map_err(|e| self.map_error(e))?;
                self.tx.reset();
                crate::sql::datum::transaction_ended();
                self.hooks.transaction_ended(false);
                return tag_only("ROLLBACK");
            }
            Gate::Refuse(err) => return Err(err),
            Gate::Warn(warning, tag) => {
                self.hooks.notice(warning);
                return tag_only(tag);
            }
        }
        let read_only = self.hooks.read_only();
        if read_only != self.read_only {
            ffi::as_engine(|| self.conn.pragma_update(None, "query_only", read_only)).map_err(|e| self.map_error(e))?;
            self.read_only = read_only;
        }
        // A statement with data-modifying CTEs writes whatever its kind (PostgreSQL names its main command).
        let writes = stmt.kind.writes() || !stmt.steps.captures.is_empty();
        if read_only && writes {
            self.tx.statement_failed(self.conn.is_autocommit());
            return Err(SqlError::error(
                "25006",
                format!(
                    "cannot execute {} in a read-only transaction",
                    if stmt.kind == Kind::Query { "SELECT".into() } else { stmt.kind.command_name() }
                ),
            ));
        }
        let was_autocommit = self.conn.is_autocommit();
        let _ = take(&self.refused);
        self.pre_committed.store(false, std::sync::atomic::Ordering::Relaxed);
        if stmt.kind == Kind::Commit && !was_autocommit {
            // PostgreSQL's pre-commit, for a block that may only have read (SQLite calls no commit hook then).
            if let Err(err) = self.hooks.pre_commit() {
                return Err(self.roll_back_refused(err));
            }
        }
        let mut result = if stmt.kind == Kind::Catalog {
            let in_block = self.tx_state() == TxState::InBlock;
            self.hooks.run_own_statement(&stmt.sql, in_block).map(|tag| Completion { tag, rows: 0, changes: 0 })
        } else if let Some(command) =
            super::txn::savepoint_of(stmt).filter(|_| self.options.postgres_transaction_spellings)
        {
            self.run_savepoint(&command)
        } else if truncate::is_truncate(stmt) {
            truncate::run(&self.conn, stmt).map_err(|e| self.map_error(e))
        } else {
            self.run(stmt, params, rows)
        };
        if stmt.kind == Kind::Commit && result.is_err() && !self.conn.is_autocommit() {
            // A COMMIT that failed ends the transaction, as in PostgreSQL (and drops what its pre-commit holds).
            return Err(
                self.roll_back_refused(result.err().unwrap_or_else(|| SqlError::error("XX000", "commit failed")))
            );
        }
        let autocommit = self.conn.is_autocommit();
        if was_autocommit
            && autocommit
            && result.is_ok()
            && !self.pre_committed.load(std::sync::atomic::Ordering::Relaxed)
        {
            // A statement's own transaction that wrote nothing (SQLite called no commit hook): its pre-commit now,
            // with nothing to roll back if it fails.
            if let Err(err) = self.hooks.pre_commit() {
                result = Err(err);
            }
        }
        self.tx.statement_done(autocommit, &stmt.kind, result.is_ok());
        if autocommit {
            // A transaction ended (the statement's own, or a block's): the caller publishes its notifications only
            // if it committed.
            crate::sql::datum::transaction_ended();
            self.hooks.transaction_ended(result.is_ok() && !matches!(stmt.kind, Kind::Rollback));
        }
        result
    }

    fn begin(&mut self) -> Result<(), SqlError> {
        crate::sql::datum::transaction_ended();
        self.tx.reset();
        // IMMEDIATE takes the database's write lock at once (waiting up to the busy timeout for other writers), so
        // that a later write cannot fail on a snapshot that went stale.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.map_error(e))
    }

    fn commit(&mut self) -> Result<(), SqlError> {
        crate::sql::datum::transaction_ended();
        self.tx.reset();
        let _ = take(&self.refused);
        if !self.conn.is_autocommit() {
            if let Err(err) = self.hooks.pre_commit() {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(err);
            }
        }
        self.conn.execute_batch("COMMIT").map_err(|e| self.map_error(e))
    }

    fn rollback(&mut self) -> Result<(), SqlError> {
        self.cache.get_mut().clear();
        crate::sql::datum::transaction_ended();
        self.tx.reset();
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn.execute_batch("ROLLBACK").map_err(|e| self.map_error(e))
    }

    fn set_interrupt_check(&mut self, check: CheckInterrupts) {
        self.check = Some(check);
        if self.options.postgres_dialect {
            let _ = super::pg::functions::register_sleep(&self.conn, Some(check));
        }
        let slot = self.interrupted.clone();
        let _ = self.conn.progress_handler(
            CHECK_EVERY_OPS,
            Some(move || match check(Wait::Running) {
                Ok(()) => false,
                Err(err) => {
                    put(&slot, err);
                    true
                }
            }),
        );
        let slot = self.interrupted.clone();
        let mut since = Instant::now();
        let _ = self.conn.busy_handler(Some(move |count: i32| {
            if count == 0 {
                since = Instant::now();
            }
            if let Err(err) = check(Wait::Lock { waited: since.elapsed() }) {
                put(&slot, err);
                return false;
            }
            std::thread::sleep(Duration::from_millis(match count {
                0 => 1,
                1 => 2,
                2 => 5,
                _ => 10,
            }));
            true
        }));
    }

    fn sqlite_connection(&self) -> Option<&Connection> {
        Some(&self.conn)
    }
}

impl SqliteEngine {
    /// PostgreSQL's words for a constraint error of a translated statement (see [`super::pg::diagnose`]).
    fn explain(&self, stmt: &Statement, params: &[Value], err: SqlError) -> SqlError {
        match &stmt.diagnostics {
            Some(d) if matches!(err.code, "23505" | "23502" | "23503" | "23514") => {
                super::pg::diagnose::explain(&self.conn, d, &err, params).unwrap_or(err)
            }
            _ => err,
        }
    }

    /// Runs a savepoint command by PostgreSQL's rules (see [`super::txn::Savepoints`]) and tells the hooks.
    fn run_savepoint(&mut self, command: &super::utility::SavepointCommand) -> Result<Completion, SqlError> {
        let (sql, what) = self.savepoints.plan(command, !self.conn.is_autocommit())?;
        self.conn.execute_batch(&sql).map_err(|e| self.map_error(e))?;
        self.savepoints.done(command, what);
        self.hooks.subtransaction(what);
        Ok(Completion { tag: command.tag().to_owned(), rows: 0, changes: 0 })
    }

    /// Rolls back the block whose COMMIT failed (its pre-commit refused, or SQLite's COMMIT failed): the block
    /// ends, its transaction did not commit; returns the error.
    fn roll_back_refused(&mut self, err: SqlError) -> SqlError {
        self.cache.get_mut().clear();
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.tx.reset();
        crate::sql::datum::transaction_ended();
        self.hooks.transaction_ended(false);
        err
    }
}

fn put(slot: &Mutex<Option<SqlError>>, err: SqlError) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
}

fn take(slot: &Mutex<Option<SqlError>>) -> Option<SqlError> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

#[cfg(test)]
mod tests;

/// Whether `text` (of shape `shape`) translates to the same as `translated` with other values (of the same type) in
/// the literals that became its parameters `slots`: a place in the translator that read such a literal's value
/// besides the comparison that made it a parameter would show here, and the translation is then not kept.
fn same_with_other_literals(
    text: &str,
    shape: &super::lexer::Shape,
    slots: &[usize],
    translated: &super::pg::Translated,
    cx: &super::pg::Context<'_>,
) -> bool {
    if slots.is_empty() {
        return true;
    }
    let mut variant = String::with_capacity(text.len() + 8 * slots.len());
    let mut copied = 0;
    for (k, literal) in shape.literals.iter().enumerate() {
        if !slots.contains(&k) {
            continue;
        }
        let digits = &text[literal.start..literal.end];
        let other = match (digits.parse::<i64>().map(|v| i32::try_from(v).is_ok()), digits) {
            (Ok(true), "1000003") => "1000033",
            (Ok(true), _) => "1000003",
            (Ok(false), "9000000000000000007") => "9000000000000000077",
            (Ok(false), _) => "9000000000000000007",
            (Err(_), _) => return false,
        };
        variant.push_str(&text[copied..literal.start]);
        variant.push_str(other);
        copied = literal.end;
    }
    variant.push_str(&text[copied..]);
    let Some(other_shape) = super::lexer::shape(&variant).filter(|s| s.key == shape.key) else { return false };
    let literals: Vec<super::pg::LiteralAt<'_>> = other_shape
        .literals
        .iter()
        .map(|l| super::pg::LiteralAt { line: l.line, column: l.column, digits: &variant[l.start..l.end] })
        .collect();
    match super::pg::translate_with_literals(&variant, cx, &literals) {
        Ok((super::pg::Outcome::Run(other), other_slots)) => {
            other_slots == slots
                && other.sqlite == translated.sqlite
                && other.kind == translated.kind
                && other.columns == translated.columns
                && other.param_types == translated.param_types
                && other.origins == translated.origins
                && other.describe_first == translated.describe_first
                && other.before.is_empty()
                && other.after.is_empty()
        }
        _ => false,
    }
}

/// The translator's schema, noting whether the translation read more than relations' columns (table details, or
/// which schemas exist: rows, which no schema version tells): such a translation is not kept (see [`cache`]).
struct Watched<'c> {
    inner: super::pg::schema::SqliteSchema<'c>,
    more: Cell<bool>,
}

impl super::pg::schema::Schema for Watched<'_> {
    fn columns(&self, sqlite_name: &str) -> Result<Option<Arc<Vec<super::pg::schema::Column>>>, SqlError> {
        self.inner.columns(sqlite_name)
    }

    fn table_info(&self, sqlite_name: &str) -> Result<Vec<(String, bool, u32)>, SqlError> {
        self.more.set(true);
        self.inner.table_info(sqlite_name)
    }

    fn schema_exists(&self, name: &str) -> Result<bool, SqlError> {
        self.more.set(true);
        self.inner.schema_exists(name)
    }

    fn rows(&self, sql: &str, args: &[&str]) -> Result<Vec<Vec<Option<String>>>, SqlError> {
        self.more.set(true);
        self.inner.rows(sql, args)
    }
}

/// The columns of relation `name` (a table, view or virtual table) with their declared types, learned by preparing
/// a query of it without running it: no read transaction starts (inside a deferred transaction block a read would
/// make the block's later write fail on a busy database instead of waiting). None if there is no such relation.
pub fn relation_columns(conn: &Connection, name: &str) -> Result<Option<Vec<RelationColumn>>, SqlError> {
    let sql = format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""));
    let stmt = match conn.prepare(&sql) {
        Ok(stmt) => stmt,
        Err(e) => {
            let err = from_rusqlite(e);
            return if err.message.starts_with("no such table") { Ok(None) } else { Err(err) };
        }
    };
    let decltypes: Vec<Option<String>> = stmt.columns().map(|c| c.decl_type().map(str::to_owned)).collect();
    let columns = stmt
        .columns_with_metadata()
        .zip(decltypes)
        .map(|(meta, decltype)| RelationColumn {
            name: meta.name().to_owned(),
            decltype,
            origin: meta.table_name().zip(meta.origin_name()).map(|(t, c)| (t.to_owned(), c.to_owned())),
        })
        .collect();
    Ok(Some(columns))
}

/// A column of a relation as SQLite describes it before running anything.
#[derive(Debug, Clone)]
pub struct RelationColumn {
    pub name: String,
    /// Its declared type (a view's column: its source column's).
    pub decltype: Option<String>,
    /// The table and column it comes from (a view's column that is a table's column).
    pub origin: Option<(String, String)>,
}

/// Whether a value of `bytes` bytes fits in what SQLite may still allocate in this process (its hard heap limit):
/// the SQL layer's own functions check it before they build a large value, and fail with 53200 as SQLite would.
pub fn check_heap_room(bytes: usize) -> Result<(), SqlError> {
    match ffi::heap_room() {
        Some(room) if bytes as i64 > room => Err(SqlError::error("53200", "out of memory")),
        _ => Ok(()),
    }
}

/// Bounds the memory SQLite may use in this process (every connection of it: a backend or worker has one session)
/// to `bytes` (0: no bound). Past it a statement ends with 53200 "out of memory" and the connection goes on.
pub fn set_memory_limit(bytes: i64) {
    ffi::set_hard_heap_limit(bytes);
}

/// Sandboxes a connection that runs SQL on a client's behalf with the host's privileges: no database files
/// attached or written (42501); triggers, views, defaults and checks run with the privileges of whoever sets
/// them off, and any role may create them on any table, so only functions and views without side effects may
/// appear in them (SQLite's trusted_schema off: a trigger one role plants cannot make a superuser's statement
/// register workers or load libraries); defensive mode keeps SQL from corrupting the file itself.
pub fn sandbox(conn: &Connection) -> rusqlite::Result<()> {
    ffi::forbid_files(conn)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    Ok(())
}
