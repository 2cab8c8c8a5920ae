//! The postmaster's pool of idle spare worker processes (the child's side is `crate::worker::spare`, whose module
//! docs state the hand-off protocol).
//!
//! Postmaster-private. An idle spare is a child of kind `ChildKind::Spare` in the children table plus an entry
//! here holding the write end of its assignment pipe. Taking a spare removes its entry (the caller then either
//! assigns it or, if the assignment cannot be sent, drops it); retiring closes every write end, and the spares
//! exit on their own.
//!
//! How many spares, and when they are forked:
//! - **The floor** (`worker_spare_processes`, default 1) is refilled eagerly: every launch and every retirement
//!   asks for a refill, which the main loop does as soon as no launch is waiting, so forking a spare never delays
//!   a worker that is queued.
//! - **The pool** grows beyond the floor to the size of the last *burst*: the most spares the host was short of
//!   (launches less spares forked) since it was last quiet (no launch and no worker exit for [`QUIET`]), at most
//!   `max_spare_worker_processes` and `max_worker_processes`. Launches one after another, each waiting for the
//!   last, are a burst of one: the floor's refill keeps up with them. It is refilled only once the host is quiet again, [`REFILL_BATCH`] forks per loop
//!   iteration (a registration arriving meanwhile is served between two batches), so the forks never compete
//!   with a burst or with the workers it started. A burst as large as the last one is then served by handing out
//!   idle spares, with no fork on its path. A smaller burst lowers the size the pool is refilled to (idle spares
//!   beyond it stay until they are used or retired); a failed fork or an idle spare's death ends the refill until
//!   the next burst (spares dying as they start never make it a loop of forks), and
//!   retiring the spares (a reload, a crash cycle, a shutdown) makes the pool forget its size.
//!   The main loop's only timer for this is the quiet deadline, armed by a launch or an exit and gone once the
//!   pool is full: an idle host never wakes for it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// How long the host must see no launch and no worker exit before the pool is refilled beyond the floor.
pub const QUIET: Duration = Duration::from_millis(20);
/// Spares forked beyond the floor per loop iteration while refilling.
pub const REFILL_BATCH: usize = 8;

/// The most spares `worker_spare_processes` may ask for (their process entries are reserved at start); defined in
/// `crate::config` with the parameter it bounds.
pub use crate::config::MAX_SPARES;

/// An idle spare.
pub struct IdleSpare {
    pub pid: i32,
    /// The write end of its assignment pipe (non-blocking). Dropping it retires the spare.
    pub assign: OwnedFd,
    /// How many libraries the postmaster had loaded when it forked the spare (an entry point found in them is at
    /// the same address in the spare).
    pub libraries: usize,
}

/// The idle spares and how many there should be.
#[derive(Default)]
pub struct Spares {
    idle: Vec<IdleSpare>,
    /// Set when spares were consumed or retired: the main loop forks replacements up to the floor when it has
    /// nothing to launch.
    refill_wanted: bool,
    /// Launches less spares forked since the host was last quiet, and the most that has been (the burst in
    /// progress).
    short: usize,
    burst: usize,
    /// The last launch or worker exit, while a burst is in progress or the pool is below its size.
    last_activity: Option<Instant>,
    /// The size the pool is refilled to once quiet: the last burst's, bounded (see the module docs).
    pool: usize,
}

impl Spares {
    /// A spare to assign, if one is idle. Every launch asks for a refill, whether or not it found a spare: that is
    /// also how a spare that died idle is replaced, one fork per launch at most (never in a loop). Every launch
    /// of a dynamic worker (`counts`) counts in the burst in progress.
    /// `now` is called only for such a launch.
    pub fn take(&mut self, counts: bool, now: impl FnOnce() -> Instant) -> Option<IdleSpare> {
        self.refill_wanted = true;
        if counts {
            self.short += 1;
            self.burst = self.burst.max(self.short);
            self.last_activity = Some(now());
        }
        self.idle.pop()
    }

    /// A worker exited: the host is not quiet yet (only noted while it matters: `now` is called only then).
    pub fn note_exit(&mut self, now: impl FnOnce() -> Instant) {
        if self.last_activity.is_some() {
            self.last_activity = Some(now());
        }
    }

    /// Milliseconds until the host counts as quiet (0: it is, and a burst must be closed or the pool refilled);
    /// None when nothing waits for quiet (and `now` is not called). The main loop sleeps at most this long.
    pub fn quiet_delay_ms(&self, now: impl FnOnce() -> Instant) -> Option<i64> {
        let last = self.last_activity?;
        let left = (last + QUIET).saturating_duration_since(now());
        Some(left.as_millis() as i64 + i64::from(!left.subsec_micros().is_multiple_of(1000)))
    }

    /// Once the host is quiet: closes the burst in progress (the pool's size becomes its size, at most `max`) and
    /// returns how many spares the pool should hold now, if that is more than are idle. Otherwise (not quiet, or
    /// the pool is full) None, and when the pool is full nothing waits for quiet any more.
    pub fn pool_refill_due(&mut self, now: Instant, max: usize) -> Option<usize> {
        let last = self.last_activity?;
        if now < last + QUIET {
            return None;
        }
        if self.burst > 0 {
            self.pool = self.burst.min(max);
            self.burst = 0;
            self.short = 0;
        }
        if self.idle.len() < self.pool {
            return Some(self.pool);
        }
        self.last_activity = None;
        None
    }

    /// A spare could not be forked while refilling the pool: the pool stays as it is until the next burst.
    pub fn pool_refill_failed(&mut self) {
        self.pool = self.idle.len();
        self.last_activity = None;
    }

    /// Adds a freshly forked spare.
    pub fn add(&mut self, spare: IdleSpare) {
        self.idle.push(spare);
        self.short = self.short.saturating_sub(1);
    }

    /// Forgets a spare that exited while idle (its pipe is closed here). The pool is not refilled for it (nor
    /// beyond what is idle now) until the next burst: spares that die as soon as they are forked must not make
    /// the refill a loop of forks.
    pub fn forget(&mut self, pid: i32) {
        self.idle.retain(|s| s.pid != pid);
        self.pool = self.pool.min(self.idle.len());
    }

    /// Retires every idle spare: each reads end-of-file and exits 0. With `refill`, the floor is refilled at once;
    /// the pool forgets its size either way (spares are retired when the configuration or the shared memory
    /// changes, which is rare: the next burst teaches the pool its size again, instead of every reload forking it
    /// whole).
    pub fn retire_all(&mut self, refill: bool) {
        self.idle.clear();
        self.refill_wanted = refill;
        self.pool = 0;
        self.burst = 0;
        self.short = 0;
        self.last_activity = None;
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
        IdleSpare { pid, assign: w, libraries: 0 }
    }

    #[test]
    fn taking_or_retiring_asks_for_a_refill() {
        let mut s = Spares::default();
        assert!(!s.refill_wanted());
        let t = Instant::now();
        assert!(s.take(true, || t).is_none());
        assert!(s.refill_wanted(), "a launch found no spare");
        s.refilled();
        s.add(spare(10));
        s.add(spare(11));
        assert_eq!(s.fds().count(), 2);
        assert_eq!(s.take(true, || t).unwrap().pid, 11);
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

    #[test]
    fn the_pool_grows_to_the_last_burst_once_quiet() {
        let mut s = Spares::default();
        let t0 = Instant::now();
        assert_eq!(s.quiet_delay_ms(|| t0), None, "an idle host has no timer");
        for i in 0..5 {
            s.take(true, || t0 + Duration::from_millis(i));
        }
        let last = t0 + Duration::from_millis(4);
        s.note_exit(|| last + Duration::from_millis(10));
        let busy = last + Duration::from_millis(15);
        assert_eq!(s.quiet_delay_ms(|| busy), Some(15), "an exit kept the burst going");
        assert_eq!(s.pool_refill_due(busy, 100), None);
        let quiet = last + Duration::from_millis(30);
        assert_eq!(s.quiet_delay_ms(|| quiet), Some(0));
        assert_eq!(s.pool_refill_due(quiet, 3), Some(3), "bounded by the maximum");
        s.add(spare(1));
        s.add(spare(2));
        s.add(spare(3));
        assert_eq!(s.pool_refill_due(quiet, 3), None);
        assert_eq!(s.quiet_delay_ms(|| quiet), None, "a full pool waits for nothing");
        // Launches one after another, each followed by the floor's refill: a burst of one.
        let t3 = quiet + Duration::from_millis(100);
        let mut s2 = Spares::default();
        for i in 0..10 {
            s2.take(true, || t3);
            s2.add(spare(100 + i));
        }
        assert_eq!(s2.pool_refill_due(t3 + QUIET, 100), None, "the floor's spare is there");
        assert_eq!(s2.pool, 1);
        // Static workers' launches are no burst.
        let mut s3 = Spares::default();
        for _ in 0..4 {
            s3.take(false, || panic!("no clock is read for a static worker's launch"));
        }
        s3.note_exit(|| panic!("no clock is read for an exit while nothing waits for quiet"));
        assert_eq!(s3.quiet_delay_ms(|| t3), None);
        // A burst of one: the pool is refilled to one (the two left idle stay).
        let t1 = quiet + Duration::from_secs(1);
        assert_eq!(s.take(true, || t1).unwrap().pid, 3);
        assert_eq!(s.pool_refill_due(t1 + QUIET, 3), None);
        assert_eq!(s.idle_count(), 2);
        // A failed fork stops the refill until the next burst.
        let t2 = t1 + Duration::from_secs(1);
        for _ in 0..3 {
            s.take(true, || t2);
        }
        assert_eq!(s.pool_refill_due(t2 + QUIET, 10), Some(3));
        s.pool_refill_failed();
        assert_eq!(s.quiet_delay_ms(|| t2 + QUIET), None);
        // A spare that died idle stops the refill until the next burst.
        let t4 = t2 + Duration::from_secs(1);
        let mut s4 = Spares::default();
        for _ in 0..4 {
            s4.take(true, || t4);
        }
        assert_eq!(s4.pool_refill_due(t4 + QUIET, 10), Some(4));
        s4.add(spare(200));
        s4.add(spare(201));
        s4.forget(200);
        assert_eq!(s4.pool_refill_due(t4 + QUIET, 10), None, "no refill for a spare that died");
        assert_eq!(s4.quiet_delay_ms(|| t4 + QUIET), None);
        // Retiring forgets the pool.
        for _ in 0..3 {
            s.take(true, || t2);
        }
        s.retire_all(true);
        assert_eq!(s.quiet_delay_ms(|| t2), None);
        assert_eq!(s.pool_refill_due(t2 + QUIET, 10), None);
    }
}
