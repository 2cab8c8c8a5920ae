//! The spec's `BackgroundWorkerHandle` and `BgwHandleStatus`, as the host's code passes them around.
//!
//! A handle names one registration: its slot and the slot's generation when it was registered, so a handle kept
//! after the slot was reused is recognised as stale (the spec's reuse check) and never reaches another worker.
//! Plain values: any process may copy, send or store them.
//!
//! Used in every process that registers or watches workers: backends, workers, the `bgw` command's client side.

/// A registration's handle: slot and generation. A plain value: copy it, send it to another process, store it.
/// Its text form, as SQL functions and the command line take and show it, is `slot:generation` (for example
/// `3:1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle {
    pub slot: u32,
    pub generation: u64,
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.slot, self.generation)
    }
}

/// Text that is not `slot:generation`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input syntax for type bgw_handle: \"{0}\"")]
pub struct ParseHandleError(pub String);

impl std::str::FromStr for Handle {
    type Err = ParseHandleError;
    fn from_str(s: &str) -> Result<Self, ParseHandleError> {
        let bad = || ParseHandleError(s.to_string());
        let (slot, generation) = s.trim().split_once(':').ok_or_else(bad)?;
        Ok(Handle { slot: slot.parse().map_err(|_| bad())?, generation: generation.parse().map_err(|_| bad())? })
    }
}

/// The spec's BgwHandleStatus, with the pid when started: defined once for host and SDK in `bgw-abi`.
pub use bgw_abi::HandleStatus as Status;

/// What a wait for a worker's readiness found (beyond the spec: `WaitForBackgroundWorkerReady`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyWait {
    /// Running and ready, with this pid.
    Ready(i32),
    /// Not ready when the timeout ended (running, or not started yet).
    NotReady,
    /// It stopped (or the handle is stale) before it reported ready.
    Stopped,
    PostmasterDied,
}

/// Why a registration's last run ended: defined once for host and SDK in `bgw-abi`.
pub use crate::bgworker::exit_reason::ExitReason;

/// A record in words, as `bgw_exit_reason` and `bgw ps` show it (PostgreSQL's LogChildExit wording where it
/// has one).
pub fn describe(info: &crate::bgworker::exit_reason::BgwExitInfo) -> String {
    let reason = ExitReason::from_parts(info.reason, info.detail);
    if reason == ExitReason::Terminated(i32::MIN) {
        // Terminated while no process ran.
        return if info.starts == 0 {
            "terminated on request before it started".into()
        } else {
            "terminated on request while waiting to restart".into()
        };
    }
    let status = |code: i32| {
        if code < 0 {
            format!("signal {}: {}", -code, crate::sys::signals::name(-code))
        } else {
            format!("exit code {code}")
        }
    };
    match reason {
        ExitReason::None => "has not ended".into(),
        ExitReason::Code(c) => format!("exited with exit code {c}"),
        ExitReason::Signal(s) => format!("was terminated by signal {s}: {}", crate::sys::signals::name(s)),
        ExitReason::Terminated(code) => format!("terminated on request ({})", status(code)),
        ExitReason::CrashCycle => "ended by a crash cycle (another process crashed)".into(),
        ExitReason::ForkFailed(errno) => {
            // The C library's words, as PostgreSQL's %m (without Rust's " (os error N)"), and the number.
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            let words = text.rsplit_once(" (os error ").map_or(text.as_str(), |(w, _)| w);
            format!("could not be started: fork failed: {words} (errno {errno})")
        }
        ExitReason::StartTimeout => "not ready within its start timeout".into(),
        ExitReason::GaveUp => "its restart policy gave up".into(),
        ExitReason::Shutdown => "ended by the host's shutdown".into(),
        ExitReason::StaleHandle => {
            "unknown: the handle is stale (its slot was reused by a later registration, which also ended)".into()
        }
    }
}
