//! The spec's `BackgroundWorkerHandle` and `BgwHandleStatus`, as the host's code passes them around.
//!
//! A handle names one registration: its slot and the slot's generation when it was registered, so a handle kept
//! after the slot was reused is recognised as stale (the spec's reuse check) and never reaches another worker.
//! Plain values: any process may copy, send or store them.

/// A registration's handle: slot and generation. A plain value: copy it, send it to another process, store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle {
    pub slot: u32,
    pub generation: u64,
}

/// The spec's BgwHandleStatus, with the pid when started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotYetStarted,
    Started(i32),
    Stopped,
    PostmasterDied,
}

impl Status {
    /// The words `bgw_status()` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotYetStarted => "not_yet_started",
            Status::Started(_) => "started",
            Status::Stopped => "stopped",
            Status::PostmasterDied => "postmaster_died",
        }
    }
}
