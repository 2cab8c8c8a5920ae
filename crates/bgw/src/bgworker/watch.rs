//! Watchers: processes waiting on a handle they did not register.
//!
//! The spec wakes only a worker's `bgw_notify_pid` when the worker starts or stops, so a wait on a handle from any
//! other process would sleep forever. Each slot therefore has a short list of watcher pids. A waiter adds itself
//! before it checks the handle's status and removes itself when it stops waiting; the postmaster, after it has
//! published a change to a slot (its pid, or its release), signals every pid in the list that is one of its own
//! children (a stale or foreign pid is never signalled).
//!
//! # The handshake
//!
//! Waiter: add own pid, a SeqCst fence, then read the slot's status. Postmaster: publish the status, then a SeqCst fence,
//! then read the list. In every interleaving at least one side sees the other: either the waiter reads the new
//! status, or the postmaster finds the waiter and signals it (which sets its latch). Compiled into the
//! `slot-model` crate and model-checked there, like the slot protocol.
//!
//! If all entries are taken (more than [`WATCHERS_PER_SLOT`] processes waiting on one slot at once), the extra
//! waiter re-checks on a timeout instead: correct, only slower.

use crate::sync::{fence, AtomicI32, Ordering};

/// Waiters per slot that are woken by signal.
pub const WATCHERS_PER_SLOT: usize = 8;

/// One slot's watchers. Zeroed memory is an empty list.
#[repr(C)]
pub struct WatchList {
    pids: [AtomicI32; WATCHERS_PER_SLOT],
}

impl Default for WatchList {
    fn default() -> Self {
        WatchList { pids: std::array::from_fn(|_| AtomicI32::new(0)) }
    }
}

/// A place in a watch list, to give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchToken(usize);

impl WatchList {
    /// Adds `pid`; None if the list is full. `is_dead` lets the caller reclaim entries of processes that died
    /// without removing themselves.
    pub fn add(&self, pid: i32, is_dead: impl Fn(i32) -> bool) -> Option<WatchToken> {
        for (i, e) in self.pids.iter().enumerate() {
            let cur = e.load(Ordering::SeqCst);
            if (cur == 0 || (cur != pid && is_dead(cur)))
                && e.compare_exchange(cur, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            {
                // Pairs with the postmaster's fence: our entry is visible before we read the slot's status.
                fence(Ordering::SeqCst);
                return Some(WatchToken(i));
            }
        }
        None
    }

    /// Removes the entry added with `token` (if it is still ours).
    pub fn remove(&self, token: WatchToken, pid: i32) {
        if let Some(e) = self.pids.get(token.0) {
            let _ = e.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Postmaster, after publishing a change to the slot: calls `f` with every listed pid.
    pub fn for_each_after_publish(&self, mut f: impl FnMut(i32)) {
        fence(Ordering::SeqCst);
        for e in &self.pids {
            let pid = e.load(Ordering::SeqCst);
            if pid > 0 {
                f(pid);
            }
        }
    }
}
