//! Database connections of background workers, and SPI (the server programming interface) on them.
//!
//! - [`connection`]: `BackgroundWorkerInitializeConnection[ByOid]`: the checks a worker's connection makes (the
//!   same as a client's, with PostgreSQL's messages, minus what the bypass flags skip), the database file it
//!   opens, and the process-global state that holds it.
//! - [`exec`]: SPI on that connection: `SPI_connect` / `SPI_finish`, statements with text parameters and text
//!   results, and transactions (`StartTransactionCommand` and friends) as SQLite transactions.
//!
//! The C exports live in `crate::modules::spi_abi` (and the two connection functions in `crate::modules::abi`);
//! this module holds the logic, which returns values and error texts instead of raising: SPI functions report
//! errors by return code, as a C caller without `longjmp` needs.
//!
//! Runs in: a background worker process (a backend that calls these gets "not connected" answers).

pub mod connection;
pub mod exec;
pub mod notify;

/// PostgreSQL's SPI result codes (`executor/spi.h`).
pub mod codes {
    pub const SPI_ERROR_CONNECT: i32 = -1;
    pub const SPI_ERROR_COPY: i32 = -2;
    pub const SPI_ERROR_OPUNKNOWN: i32 = -3;
    pub const SPI_ERROR_UNCONNECTED: i32 = -4;
    pub const SPI_ERROR_ARGUMENT: i32 = -6;
    pub const SPI_ERROR_PARAM: i32 = -7;
    pub const SPI_ERROR_TRANSACTION: i32 = -8;
    /// bgw's own: the statement failed where PostgreSQL would have raised an ERROR (a syntax error, a constraint
    /// violation, a write in a read-only execution, a statement in a failed transaction).
    pub const BGW_SPI_ERROR_STATEMENT: i32 = -100;

    pub const SPI_OK_CONNECT: i32 = 1;
    pub const SPI_OK_FINISH: i32 = 2;
    pub const SPI_OK_UTILITY: i32 = 4;
    pub const SPI_OK_SELECT: i32 = 5;
    pub const SPI_OK_INSERT: i32 = 7;
    pub const SPI_OK_DELETE: i32 = 8;
    pub const SPI_OK_UPDATE: i32 = 9;
    pub const SPI_OK_INSERT_RETURNING: i32 = 11;
    pub const SPI_OK_DELETE_RETURNING: i32 = 12;
    pub const SPI_OK_UPDATE_RETURNING: i32 = 13;
}

use std::sync::{Mutex, MutexGuard};

static STATE: Mutex<exec::State> = Mutex::new(exec::State::new());

/// This process's connection and SPI state.
pub fn state() -> MutexGuard<'static, exec::State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}
