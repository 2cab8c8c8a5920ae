//! The atomics and cells that shared-memory protocols are written with.
//!
//! Every lock-free protocol in the host (the worker slot hand-off in [`crate::bgworker::slots`] above all) takes its
//! atomics, its `UnsafeCell` and its process-shared lock from here and nowhere else. The `slot-model` crate compiles
//! the same protocol source against a twin of this module built on `loom`, so the protocol is model-checked with
//! every interleaving and weak-memory outcome loom explores, as part of the normal `cargo test`.
//!
//! The cell follows loom's API (`with` / `with_mut` take closures over raw pointers) so that the same code compiles
//! under both.
//!
//! Used in every process that touches shared memory; compiled against loom in `crates/slot-model`.

pub use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

pub use crate::sys::robust_mutex::ProcessLock;

/// What a reader does before it retries a read that overlapped a write (loom's twin yields to the writer).
#[inline]
pub fn spin_hint() {
    std::hint::spin_loop();
}

/// An `UnsafeCell` with loom's closure-based API.
#[repr(transparent)]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable raw pointer to the contents.
    #[inline]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
