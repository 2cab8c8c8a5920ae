//! The postmaster's pool of idle spare worker processes (the child's side is `crate::worker::spare`, whose module
//! docs state the hand-off protocol).
//!
//! Postmaster-private. An idle spare is a child of kind `ChildKind::Spare` in the children table plus an entry
//! here holding the write end of its assignment pipe. Taking a spare removes its entry (the caller then either
//! assigns it or, if the assignment cannot be sent, drops it); retiring closes every write end, and the spares
//! exit on their own. Every launch and every retirement asks for a refill, which the main loop does only when
//! no launch is waiting, so forking a spare never delays a worker that is queued.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The most spares `worker_spare_processes` may ask for (their process entries are reserved at start); defined in
/// `crate::config` with the parameter it bounds.
pub use crate::config::MAX_SPARES;

/// An idle spare.
pub struct IdleSpare {
    pub pid: i32,
    /// The write end of its assignment pipe (non-blocking). Dropping it retires the spare.
    pub assign: OwnedFd,
}

/// The idle spares and how many there should be.
#[derive(Default)]
pub struct Spares {
    idle: Vec<IdleSpare>,
    /// Set when spares were consumed or retired: the main loop forks replacements when it has nothing to launch.
    refill_wanted: bool,
}

impl Spares {
    /// A spare to assign, if one is idle. Every launch asks for a refill, whether or not it found a spare: that is
    /// also how a spare that died idle is replaced, one fork per launch at most (never in a loop).
    pub fn take(&mut self) -> Option<IdleSpare> {
        self.refill_wanted = true;
        self.idle.pop()
    }

    /// Adds a freshly forked spare.
    pub fn add(&mut self, spare: IdleSpare) {
        self.idle.push(spare);
    }

    /// Forgets a spare that exited while idle (its pipe is closed here).
    pub fn forget(&mut self, pid: i32) {
        self.idle.retain(|s| s.pid != pid);
    }

    /// Retires every idle spare: each reads end-of-file and exits 0. With `refill`, replacements are wanted.
    pub fn retire_all(&mut self, refill: bool) {
        self.idle.clear();
        self.refill_wanted = refill;
    }

    pub fn idle_count(&self) -> usize {
        self.idle.len()
    }

    /// Whether replacements were asked for (cleared by [`Spares::refilled`]).
    pub fn refill_wanted(&self) -> bool {
        self.refill_wanted
    }

    pub fn refilled(&mut self) {
        self.refill_wanted = false;
    }

    /// The write ends, which every other child must close after fork (or a spare would never see end-of-file).
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.idle.iter().map(|s| s.assign.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spare(pid: i32) -> IdleSpare {
        let (_r, w) = crate::sys::message_pipe::create().unwrap();
        IdleSpare { pid, assign: w }
    }

    #[test]
    fn taking_or_retiring_asks_for_a_refill() {
        let mut s = Spares::default();
        assert!(!s.refill_wanted());
        assert!(s.take().is_none());
        assert!(s.refill_wanted(), "a launch found no spare");
        s.refilled();
        s.add(spare(10));
        s.add(spare(11));
        assert_eq!(s.fds().count(), 2);
        assert_eq!(s.take().unwrap().pid, 11);
        assert!(s.refill_wanted());
        s.refilled();
        s.forget(10);
        assert_eq!(s.idle_count(), 0);
        assert!(!s.refill_wanted(), "a spare that died idle is replaced only when the next launch asks");
        s.add(spare(12));
        s.retire_all(true);
        assert_eq!(s.idle_count(), 0);
        assert!(s.refill_wanted());
    }
}
