//! Database connections of background workers, and SPI (the server programming interface) on them.
//!
//! - [`connection`]: `BackgroundWorkerInitializeConnection[ByOid]`: the checks a worker's connection makes (the
//!   same as a client's, with PostgreSQL's messages, minus what the bypass flags skip), the database file it
//!   opens, and the process-global state that holds it.
//! - [`exec`]: SPI on that connection: `SPI_connect` / `SPI_finish`, statements with parameters, results (text,
//!   and typed values for `SPI_tuptable`), and transactions (`StartTransactionCommand` and friends).
//! - [`datums`]: results as PostgreSQL's datums and output text, argument datums as SQL values.
//!
//! The C exports live in `crate::modules::spi_abi` (and the two connection functions in `crate::modules::abi`);
//! PostgreSQL's SPI names are C (`modules/pg_spi.c`), which raises the ERRORs PostgreSQL raises. This module
//! holds the logic, which returns codes, values and error texts with their SQLSTATEs instead of raising.
//!
//! Runs in: a background worker process (a backend that calls these gets "not connected" answers).

pub mod connection;
pub mod datums;
pub mod exec;
pub mod notify;

/// PostgreSQL's SPI result codes (`executor/spi.h`) and bgw's `BGW_SPI_ERROR_STATEMENT`, defined in `bgw-abi`.
pub mod codes {
    pub use bgw_abi::{
        BGW_SPI_ERROR_STATEMENT, SPI_ERROR_ARGUMENT, SPI_ERROR_CONNECT, SPI_ERROR_COPY, SPI_ERROR_OPUNKNOWN,
        SPI_ERROR_PARAM, SPI_ERROR_TRANSACTION, SPI_ERROR_UNCONNECTED, SPI_OK_CONNECT, SPI_OK_DELETE,
        SPI_OK_DELETE_RETURNING, SPI_OK_FINISH, SPI_OK_INSERT, SPI_OK_INSERT_RETURNING, SPI_OK_SELECT, SPI_OK_SELINTO,
        SPI_OK_UPDATE, SPI_OK_UPDATE_RETURNING, SPI_OK_UTILITY,
    };
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

static STATE: Mutex<exec::State> = Mutex::new(exec::State::new());

/// Set while this process waits for a PostgreSQL server (an SPI call on a postgresql-engine database).
static ON_SERVER: AtomicBool = AtomicBool::new(false);

/// Whether an SPI call of this process is waiting for its PostgreSQL server: a SIGTERM then asks for termination
/// instead of exiting at once, so that the statement is canceled on the server first (otherwise it would run on,
/// and commit if it was its own transaction). Async-signal-safe.
pub fn waiting_for_server() -> bool {
    ON_SERVER.load(Ordering::SeqCst)
}

/// Marks an SPI call on a server for as long as the guard lives.
pub(crate) struct OnServer(bool);

impl OnServer {
    pub(crate) fn new(remote: bool) -> OnServer {
        if remote {
            ON_SERVER.store(true, Ordering::SeqCst);
        }
        OnServer(remote)
    }
}

impl Drop for OnServer {
    fn drop(&mut self) {
        if self.0 {
            ON_SERVER.store(false, Ordering::SeqCst);
        }
    }
}

/// This process's connection and SPI state.
pub fn state() -> MutexGuard<'static, exec::State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}
