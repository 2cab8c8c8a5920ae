//! Why a worker's last run ended: the reason codes and the record, defined once for host, C and SDK in
//! `bgw-abi` (`bgw_abi::exit`) and re-exported here for the host's code.
//!
//! Runs in: every process (the postmaster records, anyone reads).

pub use bgw_abi::{
    BgwExitInfo, ExitReason, BGW_EXIT_CODE, BGW_EXIT_CRASH_CYCLE, BGW_EXIT_FORK_FAILED, BGW_EXIT_GAVE_UP,
    BGW_EXIT_NONE, BGW_EXIT_SHUTDOWN, BGW_EXIT_SIGNAL, BGW_EXIT_STALE_HANDLE, BGW_EXIT_START_TIMEOUT,
    BGW_EXIT_TERMINATED,
};
