//! A process-shared mutex that cannot wedge the system when its holder dies.
//!
//! It is a POSIX mutex with `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`, placed in the shared segment. If a
//! process is killed while it holds the lock, the next locker gets `EOWNERDEAD`, marks the mutex consistent and goes
//! on: the data it protects must therefore be valid (if perhaps incomplete) at every point a holder can die, which
//! the slot protocol guarantees by publishing a slot with a single `in_use` store at the end.
//!
//! Only children take this lock; the postmaster never does (see `crate::bgworker::slots`).
//!
//! Every lock of this kind a child takes is counted in a counter of its own in shared memory (its process
//! entry's, registered with [`count_holds_in`]): raised before it asks for the lock, lowered after it gave the
//! lock back, so the count is nonzero wherever the process may hold one (while it waits for one too). The
//! postmaster reads it after the process died: a worker the host killed while the count was zero held no host
//! lock, so the shared state it could have left half-updated is only its own (see the grace period of
//! `crate::postmaster`'s termination).

use bgw_macros::hot;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// This process's count of host locks held (or being asked for); null before [`count_holds_in`].
static HELD: AtomicPtr<AtomicU32> = AtomicPtr::new(std::ptr::null_mut());

/// Counts this process's holds of every [`ProcessLock`] (and the other host locks that call [`hold_begins`]) in
/// `counter`, which lives in shared memory as long as the process does. Set once, right after the fork.
pub fn count_holds_in(counter: &'static AtomicU32) {
    counter.store(0, Ordering::Relaxed);
    HELD.store(counter as *const AtomicU32 as *mut AtomicU32, Ordering::Relaxed);
}

/// A host lock is about to be asked for.
#[hot]
pub fn hold_begins() {
    // SAFETY: HELD is null or points at a counter in shared memory that outlives this process's use of it.
    if let Some(counter) = unsafe { HELD.load(Ordering::Relaxed).as_ref() } {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A host lock was given back.
#[hot]
pub fn hold_ends() {
    // SAFETY: as in `hold_begins`.
    if let Some(counter) = unsafe { HELD.load(Ordering::Relaxed).as_ref() } {
        counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A robust, process-shared mutex living in shared memory. Create it in place with [`ProcessLock::init`].
#[repr(C)]
pub struct ProcessLock {
    raw: UnsafeCell<libc::pthread_mutex_t>,
}

// SAFETY: the pthread mutex is designed to be used from several threads and processes at once; all access goes
// through pthread calls.
unsafe impl Sync for ProcessLock {}
// SAFETY: as above; the mutex has no thread affinity except while locked, and guards never cross threads.
unsafe impl Send for ProcessLock {}

/// Proof that the lock is held; unlocks on drop. Holding it is a critical section ([`super::alloc`]): an
/// allocation failure meanwhile aborts the process instead of running its failure handler.
pub struct ProcessLockGuard<'a> {
    lock: &'a ProcessLock,
    _critical: super::alloc::CriticalSection,
}

impl ProcessLock {
    /// Initializes the mutex in place. Called once by the postmaster on freshly created shared memory, before any
    /// child exists.
    pub fn init(&self) {
        // SAFETY: attr is initialized before use and destroyed after; the mutex memory is valid, writable, and not
        // yet used by anyone (the postmaster is alone with a new segment).
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutex_init(self.raw.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
    }

    /// Takes the lock, recovering it if its previous holder died.
    #[hot]
    pub fn lock(&self) -> ProcessLockGuard<'_> {
        let critical = super::alloc::CriticalSection::enter();
        hold_begins();
        // SAFETY: the mutex was initialized by `init` in shared memory that outlives every child.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        if rc == libc::EOWNERDEAD {
            // The holder died mid-update. The protected data is valid at every point a holder can die (see the
            // module docs), so declare the mutex consistent and go on.
            // SAFETY: we own the mutex now (EOWNERDEAD means the lock was acquired).
            unsafe { libc::pthread_mutex_consistent(self.raw.get()) };
        } else if rc != 0 {
            // ENOTRECOVERABLE can only follow a holder that unlocked without making the mutex consistent, which this
            // module never does; anything else is memory corruption. A child may die; the postmaster never locks.
            panic!("background worker lock is unusable (error {rc})");
        }
        ProcessLockGuard { lock: self, _critical: critical }
    }
}

impl Drop for ProcessLockGuard<'_> {
    #[hot]
    fn drop(&mut self) {
        // SAFETY: the guard exists only while this process holds the lock.
        unsafe { libc::pthread_mutex_unlock(self.lock.raw.get()) };
        hold_ends();
    }
}

impl ProcessLock {
    /// An uninitialized lock value for tests and models; real locks live in shared memory and are set up with
    /// [`ProcessLock::init`].
    pub fn new() -> Self {
        // SAFETY: an all-zero pthread_mutex_t is a valid (if default) mutex object on glibc; `init` follows.
        ProcessLock { raw: UnsafeCell::new(unsafe { std::mem::zeroed() }) }
    }
}

impl Default for ProcessLock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_recovered_when_holder_dies() {
        let shm = crate::sys::shm::SharedMapping::new(4096).unwrap();
        // SAFETY: the mapping is page-aligned, zeroed and large enough for a ProcessLock.
        let lock = unsafe { &*(shm.as_ptr() as *const ProcessLock) };
        lock.init();
        // SAFETY: the test process is single-threaded at this point of the test (the child only locks and dies).
        match unsafe { libc::fork() } {
            0 => {
                std::mem::forget(lock.lock());
                // SAFETY: plain exit of the test child without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            }
        }
        let guard = lock.lock();
        drop(guard);
        drop(lock.lock());
    }
}
