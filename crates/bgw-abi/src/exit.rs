//! Why a worker's last run ended (beyond PostgreSQL, which only says `BGWH_STOPPED`): the reason codes the host
//! records for every slot, the record `GetBackgroundWorkerExitReason` fills in (declared in `include/bgw/bgw.h`),
//! and the reason as Rust code on either side (host and SDK) holds it.
//!
//! A reason belongs to one registration (a handle's slot and generation): a handle whose slot has since been
//! reused by a later registration that also ended gets [`BGW_EXIT_STALE_HANDLE`] instead of a reason that is not
//! its own.

use core::ffi::c_int;

/// The run has not ended (running, or never started yet).
pub const BGW_EXIT_NONE: c_int = 0;
/// The process exited by itself; `detail` is its exit code.
pub const BGW_EXIT_CODE: c_int = 1;
/// A signal ended the process (not one the host sent to end it); `detail` is the signal number.
pub const BGW_EXIT_SIGNAL: c_int = 2;
/// Terminated on request (`TerminateBackgroundWorker`, `bgw_terminate`, ...); `detail` is the exit code, or
/// minus the signal number that ended it, or `i32::MIN` when no process was running (not started yet, or
/// waiting to restart).
pub const BGW_EXIT_TERMINATED: c_int = 3;
/// Ended by a crash cycle another process's crash began.
pub const BGW_EXIT_CRASH_CYCLE: c_int = 4;
/// The host could not fork it; `detail` is the errno.
pub const BGW_EXIT_FORK_FAILED: c_int = 5;
/// Not ready within its start timeout.
pub const BGW_EXIT_START_TIMEOUT: c_int = 6;
/// Its restart policy gave up on it.
pub const BGW_EXIT_GAVE_UP: c_int = 7;
/// Ended by the host's shutdown.
pub const BGW_EXIT_SHUTDOWN: c_int = 8;
/// The handle's slot holds a later registration whose run ended too: this handle's reason is no longer known.
pub const BGW_EXIT_STALE_HANDLE: c_int = 9;

/// What the host knows of a registration's last run (the C call's out-parameter).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BgwExitInfo {
    /// One of the `BGW_EXIT_*` codes.
    pub reason: c_int,
    /// The code's detail (exit code, signal number, errno), 0 where it has none.
    pub detail: c_int,
    /// When the run ended, in microseconds since the Unix epoch (0 when it has not).
    pub ended_at_us: i64,
    /// How many times the registration's worker was started (restarts = starts - 1).
    pub starts: u32,
}

/// A reason as Rust code on either side holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    None,
    Code(i32),
    Signal(i32),
    /// Terminated on request; the exit status as a view code (exit code, or minus the signal).
    Terminated(i32),
    CrashCycle,
    ForkFailed(i32),
    StartTimeout,
    GaveUp,
    Shutdown,
    StaleHandle,
}

impl ExitReason {
    pub fn from_parts(reason: c_int, detail: c_int) -> ExitReason {
        match reason {
            BGW_EXIT_CODE => ExitReason::Code(detail),
            BGW_EXIT_SIGNAL => ExitReason::Signal(detail),
            BGW_EXIT_TERMINATED => ExitReason::Terminated(detail),
            BGW_EXIT_CRASH_CYCLE => ExitReason::CrashCycle,
            BGW_EXIT_FORK_FAILED => ExitReason::ForkFailed(detail),
            BGW_EXIT_START_TIMEOUT => ExitReason::StartTimeout,
            BGW_EXIT_GAVE_UP => ExitReason::GaveUp,
            BGW_EXIT_SHUTDOWN => ExitReason::Shutdown,
            BGW_EXIT_STALE_HANDLE => ExitReason::StaleHandle,
            _ => ExitReason::None,
        }
    }

    /// The code and detail.
    pub fn parts(self) -> (c_int, c_int) {
        match self {
            ExitReason::None => (BGW_EXIT_NONE, 0),
            ExitReason::Code(c) => (BGW_EXIT_CODE, c),
            ExitReason::Signal(s) => (BGW_EXIT_SIGNAL, s),
            ExitReason::Terminated(s) => (BGW_EXIT_TERMINATED, s),
            ExitReason::CrashCycle => (BGW_EXIT_CRASH_CYCLE, 0),
            ExitReason::ForkFailed(e) => (BGW_EXIT_FORK_FAILED, e),
            ExitReason::StartTimeout => (BGW_EXIT_START_TIMEOUT, 0),
            ExitReason::GaveUp => (BGW_EXIT_GAVE_UP, 0),
            ExitReason::Shutdown => (BGW_EXIT_SHUTDOWN, 0),
            ExitReason::StaleHandle => (BGW_EXIT_STALE_HANDLE, 0),
        }
    }

    /// The short name views and `bgw ps` show (`exit_code`, `signal`, `terminated`, ...).
    pub fn kind(self) -> &'static str {
        match self {
            ExitReason::None => "none",
            ExitReason::Code(_) => "exit_code",
            ExitReason::Signal(_) => "signal",
            ExitReason::Terminated(_) => "terminated",
            ExitReason::CrashCycle => "crash_cycle",
            ExitReason::ForkFailed(_) => "fork_failed",
            ExitReason::StartTimeout => "start_timeout",
            ExitReason::GaveUp => "gave_up",
            ExitReason::Shutdown => "shutdown",
            ExitReason::StaleHandle => "stale_handle",
        }
    }
}
