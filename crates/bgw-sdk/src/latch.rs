//! The process latch: sleeping until something happens, and waking other processes.
//!
//! Purpose: a worker's main loop sleeps in [`wait_latch`] until its latch is set (by a signal handler, by the
//! postmaster's notifications, by another process with [`set_latch_of`]), a timeout passes, or the postmaster
//! dies. Postmaster death is always watched: by default the process exits (code 1) when it happens, as
//! PostgreSQL's `WL_EXIT_ON_PM_DEATH`; with [`WaitEvents::REPORT_POSTMASTER_DEATH`] it is reported in the
//! [`WaitResult`] instead, and the worker must then exit soon (the host kills it shortly after).
//!
//! Invariant: the usual latch discipline prevents lost wake-ups: wait, then [`reset_latch`], then check for work
//! (never check, then reset).
//!
//! Runs in: any process of the host (workers; the latch is per process, so wait from one thread at a time).

use crate::ffi;
use std::ops::BitOr;
use std::time::Duration;

/// What [`wait_latch`] wakes for, beside its timeout and postmaster death.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WaitEvents(i32);

impl WaitEvents {
    /// Nothing but the timeout (and postmaster death).
    pub const NONE: WaitEvents = WaitEvents(0);
    /// The latch is set.
    pub const LATCH_SET: WaitEvents = WaitEvents(ffi::WL_LATCH_SET);
    /// Report postmaster death in the result instead of exiting the process.
    pub const REPORT_POSTMASTER_DEATH: WaitEvents = WaitEvents(ffi::WL_POSTMASTER_DEATH);

    /// The `WL_*` bits for `WaitLatch`, with the timeout and postmaster-death handling added.
    fn to_c(self, timeout: Option<Duration>) -> i32 {
        let mut bits = self.0;
        if bits & ffi::WL_POSTMASTER_DEATH == 0 {
            bits |= ffi::WL_EXIT_ON_PM_DEATH;
        }
        if timeout.is_some() {
            bits |= ffi::WL_TIMEOUT;
        }
        bits
    }
}

impl BitOr for WaitEvents {
    type Output = WaitEvents;
    fn bitor(self, rhs: WaitEvents) -> WaitEvents {
        WaitEvents(self.0 | rhs.0)
    }
}

/// What ended a [`wait_latch`] (several may be true at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitResult(i32);

impl WaitResult {
    /// The latch was set.
    pub fn latch_set(self) -> bool {
        self.0 & ffi::WL_LATCH_SET != 0
    }
    /// The timeout passed.
    pub fn timed_out(self) -> bool {
        self.0 & ffi::WL_TIMEOUT != 0
    }
    /// The postmaster died (only with [`WaitEvents::REPORT_POSTMASTER_DEATH`]).
    pub fn postmaster_died(self) -> bool {
        self.0 & ffi::WL_POSTMASTER_DEATH != 0
    }
    /// The raw `WL_*` bits.
    pub fn bits(self) -> i32 {
        self.0
    }
}

/// Milliseconds for `WaitLatch`, rounded up (a 0.3 ms wait is not a busy loop) and capped.
fn timeout_ms(timeout: Option<Duration>) -> std::ffi::c_long {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
            ms.min(i32::MAX as u128) as std::ffi::c_long
        }
    }
}

/// Sleeps until one of `events` happens or `timeout` passes (None: no timeout). Postmaster death exits the
/// process unless `events` has [`WaitEvents::REPORT_POSTMASTER_DEATH`].
///
/// ```no_run
/// # fn main() {
/// use bgw_sdk::{wait_latch, reset_latch, WaitEvents};
/// use std::time::Duration;
/// loop {
///     let r = wait_latch(WaitEvents::LATCH_SET, Some(Duration::from_secs(1)));
///     reset_latch();
///     if r.timed_out() { /* periodic work */ }
/// }
/// # }
/// ```
pub fn wait_latch(events: WaitEvents, timeout: Option<Duration>) -> WaitResult {
    WaitResult(ffi::wait_latch(events.to_c(timeout), timeout_ms(timeout)))
}

/// Sets this process's latch.
pub fn set_latch() {
    ffi::set_latch()
}

/// Clears this process's latch. Check for work after this, not before.
pub fn reset_latch() {
    ffi::reset_latch()
}

/// Sets the latch of another process of the host (by pid). False if it could not be signalled.
pub fn set_latch_of(pid: i32) -> bool {
    ffi::set_latch_of(pid)
}

/// Whether the postmaster is still alive (without waiting).
pub fn postmaster_is_alive() -> bool {
    ffi::postmaster_is_alive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_always_watch_the_postmaster() {
        assert_eq!(WaitEvents::LATCH_SET.to_c(None), ffi::WL_LATCH_SET | ffi::WL_EXIT_ON_PM_DEATH);
        assert_eq!(
            WaitEvents::LATCH_SET.to_c(Some(Duration::from_secs(1))),
            ffi::WL_LATCH_SET | ffi::WL_EXIT_ON_PM_DEATH | ffi::WL_TIMEOUT
        );
        assert_eq!(
            (WaitEvents::LATCH_SET | WaitEvents::REPORT_POSTMASTER_DEATH).to_c(None),
            ffi::WL_LATCH_SET | ffi::WL_POSTMASTER_DEATH
        );
        assert_eq!(WaitEvents::NONE.to_c(Some(Duration::ZERO)), ffi::WL_EXIT_ON_PM_DEATH | ffi::WL_TIMEOUT);
    }

    #[test]
    fn timeouts_round_up_and_cap() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(300))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(timeout_ms(Some(Duration::from_nanos(1_000_001))), 2);
        assert_eq!(timeout_ms(Some(Duration::MAX)), i32::MAX as std::ffi::c_long);
    }

    #[test]
    fn results() {
        let r = WaitResult(ffi::WL_LATCH_SET | ffi::WL_TIMEOUT);
        assert!(r.latch_set() && r.timed_out() && !r.postmaster_died());
        assert!(WaitResult(ffi::WL_POSTMASTER_DEATH).postmaster_died());
    }
}
