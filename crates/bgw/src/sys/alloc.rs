//! The host's global allocator: the system allocator, with what a failed allocation does decided per process.
//!
//! Rust's answer to a failed allocation is to abort the process (SIGABRT). For most processes of the host that
//! is the right answer, and what PostgreSQL's PANIC would be. For a client backend it is not: the postmaster
//! treats a backend killed by a signal as a crash that may have left shared memory inconsistent, and runs the
//! crash cycle (every session and worker ends). A backend that merely ran out of memory has broken nothing shared,
//! except while it is in the middle of changing shared state under a lock. So a process may register a handler
//! ([`on_failure`]): when an allocation fails outside a critical section, the handler runs instead of the abort
//! (a backend logs FATAL "out of memory" and exits 1, which the postmaster takes as an ordinary FATAL exit).
//! Inside a critical section ([`CriticalSection`]: every holder of a shared [`ProcessLock`] is in one) the
//! failure still aborts, and the crash cycle runs, as PostgreSQL's PANIC inside a critical section.
//!
//! Who writes what: the handler is written by the process's own entry code before it does anything else
//! (single-threaded: a backend registers it right after its fork); the critical-section depth is this process's
//! own counter. Both are per-process statics, read only on the failure path.
//!
//! Runs in every process of the `bgw` executable (registered with `#[global_allocator]` in `main.rs`); a program
//! that embeds the host may register it too.
//!
//! [`ProcessLock`]: super::robust_mutex::ProcessLock

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// What a process does when an allocation fails outside a critical section; gets the size asked for. Must not
/// allocate, and must not return.
pub type FailureHandler = fn(usize) -> !;

/// The handler as a pointer (null: none, Rust's abort).
static HANDLER: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
/// How many critical sections this process is in.
static CRITICAL: AtomicU32 = AtomicU32::new(0);

/// Sets what this process does when an allocation fails outside a critical section (a backend: FATAL, exit 1).
pub fn on_failure(handler: FailureHandler) {
    HANDLER.store(handler as *mut (), Ordering::Release);
}

/// A stretch of code during which an allocation failure must abort (shared state half-changed); see the module
/// docs. Nested sections count.
pub struct CriticalSection(());

impl CriticalSection {
    /// Enters a critical section; it ends when the value is dropped.
    #[inline]
    pub fn enter() -> CriticalSection {
        CRITICAL.fetch_add(1, Ordering::Relaxed);
        CriticalSection(())
    }
}

impl Drop for CriticalSection {
    #[inline]
    fn drop(&mut self) {
        CRITICAL.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many [`Fallible`] sections are open in this process.
static FALLIBLE: AtomicU32 = AtomicU32::new(0);

/// A section whose allocations may fail back to their caller: code that asks for memory with `try_reserve`
/// (a SQL function building a large value) gets its error instead of the process's failure handler. Allocations
/// that cannot fail back (Rust's infallible ones) still abort when they fail inside it.
pub struct Fallible(());

impl Fallible {
    pub fn enter() -> Fallible {
        FALLIBLE.fetch_add(1, Ordering::Relaxed);
        Fallible(())
    }
}

impl Drop for Fallible {
    fn drop(&mut self) {
        FALLIBLE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The allocation of `size` bytes failed: the handler, if there is one and no critical or fallible section is
/// open; otherwise back to the caller, who gets null (and Rust aborts, unless it asked with `try_reserve`).
#[cold]
fn failed(size: usize) {
    let handler = HANDLER.load(Ordering::Acquire);
    if handler.is_null() || CRITICAL.load(Ordering::Relaxed) != 0 || FALLIBLE.load(Ordering::Relaxed) != 0 {
        return;
    }
    // SAFETY: HANDLER only ever holds null or a `FailureHandler` stored by `on_failure`.
    let handler: FailureHandler = unsafe { std::mem::transmute::<*mut (), FailureHandler>(handler) };
    handler(size)
}

/// The system allocator, with the failure path above.
pub struct HostAlloc;

// SAFETY: every call is forwarded to the system allocator unchanged; on failure the result (null) is returned
// unchanged too, unless the process leaves through its handler first.
unsafe impl GlobalAlloc for HostAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::alloc` is passed on as it is.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            failed(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            failed(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `GlobalAlloc::dealloc` is passed on as it is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::realloc` is passed on as it is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            failed(new_size);
        }
        p
    }
}
