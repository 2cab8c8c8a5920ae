//! A process's pending interrupts besides termination and reload (which are in [`super`]): a query cancel
//! (SIGINT, PostgreSQL's `QueryCancelPending` set by `StatementCancelHandler`) and the running statement's deadline
//! (`statement_timeout`). The SQL layer's interrupt check ([`crate::sql::interrupt`]) reads them through the
//! callback a backend or a worker's SPI gives its engine; nothing here knows SQL.
//!
//! # Who writes what
//!
//! All of it is this process's own (no shared memory): the SIGINT handler sets the cancel flag; the session loop
//! clears it when it starts waiting for the client (a cancel that arrives while the session is idle is dropped,
//! as PostgreSQL does while it reads a command); the interrupt check takes it. The session sets the deadline when
//! a statement starts and clears it when the statement ends; the interrupt check only reads it.
//!
//! Runs in: a backend process, and a worker that runs SQL through SPI.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static CANCEL_PENDING: AtomicBool = AtomicBool::new(false);
static CONNECTION_LOST: AtomicBool = AtomicBool::new(false);
/// An error the session raised while the statement ran (in its row callback), to end the statement with.
static STATEMENT_ERROR: Mutex<Option<crate::sql::SqlError>> = Mutex::new(None);
/// Whether [`STATEMENT_ERROR`] may hold an error: the interrupt check, which SQLite calls every few thousand
/// steps of every statement, looks at this flag and takes the lock only when it is up.
static STATEMENT_ERROR_SET: AtomicBool = AtomicBool::new(false);
/// The running statement's deadline, in microseconds since [`epoch`] (plus one); 0 for none.
static DEADLINE_US: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// What interrupts a running statement, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGTERM: `pg_terminate_backend`, a fast shutdown (FATAL 57P01).
    Terminate,
    /// The client cannot be written to any more (FATAL 08006, PostgreSQL's ClientConnectionLost).
    ConnectionLost,
    /// SIGINT: a CancelRequest or `pg_cancel_backend` (57014, "user request").
    Cancel,
    /// The statement ran past `statement_timeout` (57014, "statement timeout").
    StatementTimeout,
}

/// The SIGINT handler: asks the running statement to stop (PostgreSQL's StatementCancelHandler).
pub(super) extern "C" fn handle_sigint(_: libc::c_int) {
    CANCEL_PENDING.store(true, Ordering::SeqCst);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

/// The session found its client gone while a statement sent rows: the statement ends (and the session).
pub fn client_connection_lost() {
    CONNECTION_LOST.store(true, Ordering::SeqCst);
}

/// Drops a cancel that arrived while nothing ran (the session loop, as it starts waiting for the client).
pub fn clear_cancel() {
    CANCEL_PENDING.store(false, Ordering::SeqCst);
}

/// The session failed the running statement from outside SQLite (a row it could not send or keep): the next
/// interrupt check ends the statement with `err`, so that SQLite undoes what the statement did, as for a cancel.
pub fn fail_statement(err: crate::sql::SqlError) {
    let mut slot = STATEMENT_ERROR.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert(err);
    STATEMENT_ERROR_SET.store(true, Ordering::Release);
}

/// The error [`fail_statement`] recorded and no interrupt check has taken yet (the statement ended first).
pub fn take_statement_error() -> Option<crate::sql::SqlError> {
    if !STATEMENT_ERROR_SET.swap(false, Ordering::Acquire) {
        return None;
    }
    STATEMENT_ERROR.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// A statement starts: it may run `timeout` at most (None: no limit).
pub fn start_statement(timeout: Option<Duration>) {
    let _ = take_statement_error();
    let deadline = timeout.map_or(0, |t| now_us().saturating_add(t.as_micros() as u64).saturating_add(1));
    DEADLINE_US.store(deadline, Ordering::SeqCst);
}

/// When the running statement's `statement_timeout` ends, if it has one (for waits that sleep on the latch).
pub fn statement_deadline() -> Option<Instant> {
    let deadline = DEADLINE_US.load(Ordering::SeqCst);
    (deadline != 0).then(|| epoch() + Duration::from_micros(deadline - 1))
}

/// The statement ended: no deadline until the next one.
pub fn end_statement() {
    DEADLINE_US.store(0, Ordering::SeqCst);
}

/// The interrupt that must end the running statement now, if any; a cancel is taken (reported once).
pub fn pending() -> Option<Interrupt> {
    if super::termination_pending() {
        return Some(Interrupt::Terminate);
    }
    if CONNECTION_LOST.load(Ordering::SeqCst) {
        return Some(Interrupt::ConnectionLost);
    }
    if CANCEL_PENDING.load(Ordering::Relaxed) && CANCEL_PENDING.swap(false, Ordering::SeqCst) {
        return Some(Interrupt::Cancel);
    }
    let deadline = DEADLINE_US.load(Ordering::Relaxed);
    if deadline != 0 && now_us() >= deadline - 1 {
        return Some(Interrupt::StatementTimeout);
    }
    None
}

/// The SQL engine's interrupt check ([`crate::sql::interrupt::CheckInterrupts`]) of a backend and of a worker's
/// SPI: the pending interrupt's error, or, in a lock wait longer than `lock_timeout` (0: no limit), 55P03.
pub fn check_sql(wait: crate::sql::interrupt::Wait) -> Result<(), crate::sql::SqlError> {
    use crate::sql::interrupt::{errors, Wait};
    match pending() {
        Some(Interrupt::Terminate) => return Err(errors::terminating()),
        Some(Interrupt::ConnectionLost) => {
            return Err(crate::sql::SqlError::fatal("08006", "connection to client lost"));
        }
        Some(Interrupt::Cancel) => return Err(errors::canceled()),
        Some(Interrupt::StatementTimeout) => return Err(errors::statement_timeout()),
        None => {}
    }
    if let Some(err) = take_statement_error() {
        return Err(err);
    }
    if let Wait::Lock { waited } = wait {
        let limit = timeout_ms("lock_timeout");
        if limit > 0 && waited >= Duration::from_millis(limit as u64) {
            return Err(errors::lock_timeout());
        }
    }
    Ok(())
}

/// The session's own values of the four timeouts (`SET statement_timeout = ...` in a backend), in ms; -1: the
/// session set none and the host's setting applies. Who writes what: the backend's session (its settings layer,
/// after every statement) writes; this process's interrupt checks and idle waits read. Per process, and a backend
/// process serves one session.
static SESSION_TIMEOUTS: [AtomicI64; 4] =
    [AtomicI64::new(-1), AtomicI64::new(-1), AtomicI64::new(-1), AtomicI64::new(-1)];
const TIMEOUT_NAMES: [&str; 4] =
    ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"];

/// Sets (Some ms) or clears (None) this session's own value of one of the four `*_timeout`s; other names are
/// ignored.
pub fn set_session_timeout(name: &str, ms: Option<i64>) {
    if let Some(i) = TIMEOUT_NAMES.iter().position(|n| *n == name) {
        SESSION_TIMEOUTS[i].store(ms.unwrap_or(-1).max(-1), Ordering::Relaxed);
    }
}

/// A `*_timeout` in ms: the session's own value, or the host's setting.
fn timeout_ms(name: &str) -> i64 {
    let own = TIMEOUT_NAMES.iter().position(|n| *n == name).map_or(-1, |i| SESSION_TIMEOUTS[i].load(Ordering::Relaxed));
    if own >= 0 {
        own
    } else {
        super::setting_int(name)
    }
}

/// A `*_timeout` setting in milliseconds as a duration (None when 0: off): the session's own value if it set
/// one, else the host's.
pub fn timeout_setting(name: &str) -> Option<Duration> {
    let ms = timeout_ms(name);
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

/// Publishes this backend's cancel key in its process entry (before the key goes to the client).
pub fn publish_cancel_key(key: i32) {
    if let Some(entry) = super::my_proc() {
        entry.set_cancel_key(key);
    }
}

/// Serves a CancelRequest: SIGINT to the backend of this host whose pid and cancel key both match. Anything else
/// (a wrong key, a pid that is not one of our backends) is ignored silently, as PostgreSQL does; true if a signal
/// was sent.
pub fn serve_cancel_request(pid: i32, key: i32) -> bool {
    let Some(shm) = crate::shmem::attached() else { return false };
    if !shm.procs().iter().any(|entry| entry.is_backend_with_key(pid, key)) {
        return false;
    }
    crate::sys::signals::send(pid, libc::SIGINT)
}
