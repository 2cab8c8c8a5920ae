//! Signals in a worker: PostgreSQL's flag-setting handlers, and reading the flags.
//!
//! Purpose: a worker starts with signals blocked and the host's default handlers installed (SIGTERM: log
//! "terminating background worker ... due to administrator command" and exit 1; SIGHUP: set a flag the built-in
//! workers read; SIGQUIT: exit 2 at once). A worker that wants to finish its work on SIGTERM, or reload its
//! configuration on SIGHUP, calls [`Signals::install`]: SIGHUP then runs the host's
//! `SignalHandlerForConfigReload` and SIGTERM the host's `SignalHandlerForShutdownRequest`, which only set a flag
//! and the latch; the worker's loop reads the flags after each wait ([`Signals::sighup_received`],
//! [`Signals::sigterm_received`]) and decides what to do.
//!
//! Invariants: no Rust code runs in a signal handler (the handlers are the host's); after `install`, a SIGTERM no
//! longer ends the worker by itself: the worker must check [`Signals::sigterm_received`] and exit.
//!
//! Runs in: a worker process, typically at the top of its entry point.

use crate::ffi;

/// PostgreSQL's standard worker signal handling (see the module documentation).
#[derive(Debug)]
pub struct Signals {
    _private: (),
}

impl Signals {
    /// Installs the host's `SignalHandlerForConfigReload` for SIGHUP and `SignalHandlerForShutdownRequest` for
    /// SIGTERM, then unblocks signals. Returns false if the host could not install a handler (signals are
    /// unblocked anyway).
    pub fn install() -> bool {
        let ok = ffi::install_standard_handlers();
        ffi::unblock_signals();
        ok
    }

    /// Whether a SIGHUP arrived since the last call (reads and clears `ConfigReloadPending`). Call
    /// [`reload_config`] when it returns true.
    pub fn sighup_received() -> bool {
        ffi::take_config_reload_pending()
    }

    /// Whether a SIGTERM arrived (reads `ShutdownRequestPending`, which stays set).
    pub fn sigterm_received() -> bool {
        ffi::shutdown_request_pending()
    }
}

/// Re-reads the host's configuration file in this process (`ProcessConfigFile(PGC_SIGHUP)`).
pub fn reload_config() {
    ffi::process_config_file()
}

/// Blocks the signals a worker may receive (`BackgroundWorkerBlockSignals`); postmaster death still gets through.
pub fn block_signals() {
    ffi::block_signals()
}

/// Unblocks signals (`BackgroundWorkerUnblockSignals`). A worker starts with signals blocked: call this (or
/// [`Signals::install`]) early, or SIGTERM and the postmaster's notifications cannot reach it.
pub fn unblock_signals() {
    ffi::unblock_signals()
}
