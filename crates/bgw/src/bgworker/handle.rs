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
