//! Model-checks the worker slot hand-off protocol of `bgw` under loom.
//!
//! The protocol sources, `crates/bgw/src/bgworker/slots.rs`, `watch.rs`, `exit_record.rs`, `wait_queue.rs` and
//! `args.rs`, are compiled here a second time with this crate's
//! [`sync`] module standing in for the host's: loom's atomics, loom's cell and a loom mutex as the process-shared
//! lock. The tests in `tests/` drive registrants, terminators, handle readers and the postmaster as loom threads,
//! and loom explores their interleavings (including the weak-memory outcomes the orderings allow).

pub mod sync {
    //! The loom twin of `bgw::sync`.
    pub use loom::cell::UnsafeCell;
    pub use loom::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

    /// The host's spin hint: under loom, a yield, so the writer a reader waits for gets to run.
    pub fn spin_hint() {
        loom::thread::yield_now();
    }

    /// Stands in for the host's robust process-shared mutex.
    pub struct ProcessLock(loom::sync::Mutex<()>);

    impl ProcessLock {
        pub fn new() -> Self {
            ProcessLock(loom::sync::Mutex::new(()))
        }
        pub fn init(&self) {}
        pub fn lock(&self) -> loom::sync::MutexGuard<'_, ()> {
            self.0.lock().unwrap()
        }
    }

    impl Default for ProcessLock {
        fn default() -> Self {
            Self::new()
        }
    }
}

#[path = "../../bgw/src/bgworker/slots.rs"]
pub mod slots;

#[path = "../../bgw/src/bgworker/watch.rs"]
pub mod watch;

#[path = "../../bgw/src/bgworker/exit_record.rs"]
pub mod exit_record;

#[path = "../../bgw/src/bgworker/wait_queue.rs"]
pub mod wait_queue;

#[path = "../../bgw/src/bgworker/args.rs"]
pub mod args;
