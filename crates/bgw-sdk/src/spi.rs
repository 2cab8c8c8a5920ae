//! Database connections and SQL for workers: [`connect`] / [`connect_by_oid`], then [`Spi`].
//!
//! A worker registered with [`crate::Flags::DATABASE`] connects once, to a database of the host (or to none) as
//! a role; then [`Spi::connect`] gives a handle to run SQL (SQLite's dialect, parameters `$1`, `$2`, ... as text)
//! and read results as text or typed ([`SpiResult::row`], [`Row::get`]: `row.get::<i64>("total")`, with a
//! [`ValueError`] naming the column when the value is NULL or not of the type), with typed parameters through
//! [`Spi::query`]; [`Spi::transaction`] runs a closure in a transaction that commits when it
//! returns `Ok` and rolls back when it returns `Err`.
//!
//! Errors of SPI are values ([`SpiError`]), never a jump: the host's SPI functions return codes. What ends the
//! worker is what PostgreSQL makes FATAL or ERROR there too: a refused connection, and a failed commit.
//!
//! ```no_run
//! use bgw_sdk::spi::{self, Spi};
//! use bgw_sdk::ConnectionFlags;
//!
//! fn count_rows() -> Result<u64, spi::SpiError> {
//!     spi::connect(Some("postgres"), None, ConnectionFlags::empty());
//!     let mut spi = Spi::connect()?;
//!     spi.transaction(|spi| {
//!         spi.execute("CREATE TABLE IF NOT EXISTS seen (at TEXT)", &[])?;
//!         spi.execute("INSERT INTO seen VALUES ($1)", &[Some("now")])?;
//!         let r = spi.execute("SELECT count(*) FROM seen", &[])?;
//!         Ok(r.value(0, 0).and_then(|v| v.parse().ok()).unwrap_or(0))
//!     })
//! }
//! # fn main() {}
//! ```
//!
//! Runs in: a background worker process. SPI calls of one process are serialized (the SDK holds a lock from a
//! statement until its result is copied), so handles may be used from several threads, one statement at a time.

use crate::ffi;
use crate::registration::ConnectionFlags;
pub use crate::value::{ColumnIndex, FromSpiValue, Row, ToSpiParam, ValueError};
use std::ffi::CString;
use std::marker::PhantomData;

/// PostgreSQL's SPI codes the host returns, and bgw's own `BGW_SPI_ERROR_STATEMENT`: the statement failed where
/// PostgreSQL would have raised an ERROR (syntax, constraint, a write in a read-only execution, a statement in a
/// failed transaction). Defined in `bgw-abi`.
pub use crate::ffi::{
    BGW_SPI_ERROR_STATEMENT, SPI_ERROR_ARGUMENT, SPI_ERROR_CONNECT, SPI_ERROR_PARAM, SPI_ERROR_TRANSACTION,
    SPI_ERROR_UNCONNECTED,
};

/// Connects this worker to `database` (None: no database, the catalog only) as `user` (None: the bootstrap
/// superuser): `BackgroundWorkerInitializeConnection`.
///
/// Returns only on success. As the spec says, a failure is FATAL: the role or database does not exist, the role
/// may not log in or the database does not accept connections (unless `flags` bypass those checks), the worker
/// was registered without [`crate::Flags::DATABASE`], or it is already connected. The host logs the reason and
/// the worker ends with exit code 1 (its restart rule applies). A name containing a NUL byte cannot be given to
/// the host and ends the worker the same way.
pub fn connect(database: Option<&str>, user: Option<&str>, flags: ConnectionFlags) {
    let c = |what: &str, s: Option<&str>| match s.map(CString::new).transpose() {
        Ok(c) => c,
        Err(_) => {
            let msg = CString::new(format!("{what} name contains a NUL byte")).unwrap_or_default();
            ffi::ereport(ffi::FATAL, &msg, None, None);
            ffi::exit(1)
        }
    };
    let database = c("database", database);
    let user = c("role", user);
    ffi::initialize_connection(database.as_deref(), user.as_deref(), flags.bits());
}

/// [`connect`] by oid (None: no database / the bootstrap superuser): `BackgroundWorkerInitializeConnectionByOid`.
/// Returns only on success; a failure ends the worker (see [`connect`]).
pub fn connect_by_oid(database: Option<u32>, user: Option<u32>, flags: ConnectionFlags) {
    ffi::initialize_connection_by_oid(database.unwrap_or(0), user.unwrap_or(0), flags.bits());
}

/// An SPI call that failed: the host's code and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpiError {
    /// A negative SPI code (`SPI_ERROR_*`, [`BGW_SPI_ERROR_STATEMENT`]).
    pub code: i32,
    pub message: String,
}

/// What a statement was, by its SPI code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Select,
    Insert,
    Update,
    Delete,
    InsertReturning,
    UpdateReturning,
    DeleteReturning,
    Utility,
    /// Another non-negative code.
    Other(i32),
}

impl Status {
    /// From the SPI code.
    pub fn from_code(code: i32) -> Status {
        match code {
            4 => Status::Utility,
            5 => Status::Select,
            7 => Status::Insert,
            8 => Status::Delete,
            9 => Status::Update,
            11 => Status::InsertReturning,
            12 => Status::DeleteReturning,
            13 => Status::UpdateReturning,
            other => Status::Other(other),
        }
    }
}

/// A statement's result, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiResult {
    pub status: Status,
    /// Rows returned (a query, `... RETURNING`) or affected (INSERT, UPDATE, DELETE): `SPI_processed`.
    pub processed: u64,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; None is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

impl SpiResult {
    /// The value at `row`, `col` (both from 0); None for SQL NULL or out of range.
    pub fn value(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row)?.get(col)?.as_deref()
    }

    /// Row `i` (from 0), for typed reads: `r.row(0)?.get::<i64>("total")`.
    pub fn row(&self, i: usize) -> Option<Row<'_>> {
        Some(Row { columns: &self.columns, values: self.rows.get(i)? })
    }

    /// The rows, for typed reads.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row { columns: &self.columns, values })
    }

    /// The one value of a one-row result, typed (`SELECT count(*) ...`): no row is
    /// [`ValueError::NoSuchColumn`] for column 0.
    pub fn scalar<'r, T: FromSpiValue<'r>>(&'r self) -> Result<T, ValueError> {
        match self.row(0) {
            Some(r) => r.get(0),
            None => Err(ValueError::NoSuchColumn { column: "0 (no row)".into() }),
        }
    }
}

/// An SPI connection (`SPI_connect` .. `SPI_finish`, which dropping it calls).
#[derive(Debug)]
pub struct Spi {
    /// `SPI_connect` and `SPI_finish` pair up in one process: keep the handle where it was made.
    _not_send: PhantomData<*const ()>,
}

fn error((code, message): (i32, String)) -> SpiError {
    SpiError { code, message }
}

fn c_string(what: &str, s: &str) -> Result<CString, SpiError> {
    CString::new(s).map_err(|_| SpiError { code: SPI_ERROR_ARGUMENT, message: format!("{what} contains a NUL byte") })
}

impl Spi {
    /// `SPI_connect`: fails with [`SPI_ERROR_CONNECT`] if the worker has no database connection.
    pub fn connect() -> Result<Spi, SpiError> {
        ffi::spi_connect().map_err(error)?;
        Ok(Spi { _not_send: PhantomData })
    }

    /// Runs `sql` (one or more statements; the last one's result is returned) with text parameters (`$1` is
    /// `params[0]`; None is SQL NULL).
    pub fn execute(&mut self, sql: &str, params: &[Option<&str>]) -> Result<SpiResult, SpiError> {
        self.run(sql, params, false)
    }

    /// As [`Spi::execute`] with typed parameters, each sent in PostgreSQL's text input form ([`ToSpiParam`]):
    /// `spi.query("INSERT INTO t VALUES ($1, $2)", &[&42i64, &"x"])`.
    pub fn query(&mut self, sql: &str, params: &[&dyn ToSpiParam]) -> Result<SpiResult, SpiError> {
        let texts: Vec<Option<String>> = params.iter().map(|p| p.to_spi_param()).collect();
        let refs: Vec<Option<&str>> = texts.iter().map(Option::as_deref).collect();
        self.run(sql, &refs, false)
    }

    /// As [`Spi::execute`], refusing statements that write (`read_only` of `SPI_execute`).
    pub fn execute_read_only(&mut self, sql: &str, params: &[Option<&str>]) -> Result<SpiResult, SpiError> {
        self.run(sql, params, true)
    }

    fn run(&mut self, sql: &str, params: &[Option<&str>], read_only: bool) -> Result<SpiResult, SpiError> {
        let sql = c_string("the statement", sql)?;
        let params = params
            .iter()
            .enumerate()
            .map(|(i, p)| p.map(|p| c_string(&format!("parameter ${}", i + 1), p)).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let out = ffi::spi_execute(&sql, &params, read_only).map_err(error)?;
        Ok(SpiResult {
            status: Status::from_code(out.code),
            processed: out.processed,
            columns: out.columns,
            rows: out.rows,
        })
    }

    /// NOTIFY `channel` with `payload` (PostgreSQL's `Async_Notify`): sent to the database's listening client
    /// sessions when the open transaction commits (dropped if it rolls back), or at once outside a transaction.
    /// A NUL byte is refused here; a channel or payload the host refuses (empty or too long) ends the worker
    /// with an ERROR, as in PostgreSQL. Workers cannot LISTEN.
    pub fn notify(&mut self, channel: &str, payload: &str) -> Result<(), SpiError> {
        ffi::notify(&c_string("the channel", channel)?, &c_string("the payload", payload)?);
        Ok(())
    }

    /// Runs `f` in a transaction (`StartTransactionCommand`): commits if it returns `Ok`, rolls back if it
    /// returns `Err` (or panics). A failed commit ends the worker, as in PostgreSQL; a transaction in which a
    /// statement failed is rolled back at commit (with a WARNING in the log) even if `f` returned `Ok`.
    pub fn transaction<T, E>(&mut self, f: impl FnOnce(&mut Spi) -> Result<T, E>) -> Result<T, E> {
        struct RollbackOnUnwind;
        impl Drop for RollbackOnUnwind {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    ffi::abort_transaction();
                }
            }
        }
        ffi::start_transaction();
        let guard = RollbackOnUnwind;
        let outcome = f(self);
        std::mem::forget(guard);
        match &outcome {
            Ok(_) => ffi::commit_transaction(),
            Err(_) => ffi::abort_transaction(),
        }
        outcome
    }
}

impl Drop for Spi {
    fn drop(&mut self) {
        ffi::spi_finish();
    }
}
