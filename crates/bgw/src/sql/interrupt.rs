//! Interrupting a running statement: the check a caller gives its engine ([`crate::sql::Engine::set_interrupt_check`]),
//! which the engine calls while a statement runs (SQLite: from its progress handler, every
//! [`CHECK_EVERY_OPS`] virtual-machine steps, and from its busy handler while it waits for another writer's lock).
//! The check says whether the statement must stop, and with which error: the engine ends the statement with it.
//!
//! The pending interrupts themselves (a cancel, a timeout, a termination) are the caller's: a backend's and a
//! worker's live in `crate::process`, which this layer does not know.
//!
//! Runs in: any process that runs SQL.

use std::time::Duration;

use super::error::SqlError;

/// How many SQLite virtual-machine steps run between two checks (a few microseconds of work).
pub const CHECK_EVERY_OPS: i32 = 1000;

/// Where the engine is when it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Running the statement.
    Running,
    /// Waiting for another connection's lock on the database, for `waited` so far.
    Lock { waited: Duration },
}

/// The caller's check: `Err` with the error the statement ends with (57014 for a cancel or a statement timeout,
/// 55P03 for a lock timeout, FATAL 57P01 for a termination), `Ok` to go on. A plain function: it runs inside
/// SQLite's callbacks and reads process-wide flags.
pub type CheckInterrupts = fn(Wait) -> Result<(), SqlError>;

/// PostgreSQL's errors for the interrupts a caller reports.
pub mod errors {
    use super::SqlError;

    /// A CancelRequest or `pg_cancel_backend`.
    pub fn canceled() -> SqlError {
        SqlError::error("57014", "canceling statement due to user request")
    }

    /// `statement_timeout` passed.
    pub fn statement_timeout() -> SqlError {
        SqlError::error("57014", "canceling statement due to statement timeout")
    }

    /// `lock_timeout` passed while waiting for a lock.
    pub fn lock_timeout() -> SqlError {
        SqlError::error("55P03", "canceling statement due to lock timeout")
    }

    /// SIGTERM: `pg_terminate_backend` or a fast shutdown.
    pub fn terminating() -> SqlError {
        SqlError::fatal("57P01", "terminating connection due to administrator command")
    }
}
