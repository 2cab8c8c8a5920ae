//! The globals of a background worker process: its registration (the spec's `MyBgworkerEntry`) and the spec's
//! signal blocking calls.
//!
//! Runs in a worker process only. The worker runtime ([`crate::worker::start_background_worker`]) writes the
//! registration once, in the freshly forked child, before anything reads it; the module ABI, SPI and the
//! built-in workers read it. Like PostgreSQL's `globals.c`, this sits below every layer that uses it, so the
//! layers that need "which worker am I" do not import the runtime that runs them.
//!
//! Memory: the storage is static, not heap (a starting worker allocates nothing, because every write to the heap
//! it inherited copies a page), and these functions are on the start-up path (`.text.hot.bgw_worker`).

use crate::bgworker::types::{BackgroundWorker, WorkerSpec};
use crate::sys::signals;
use bgw_macros::hot;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Hand-off: [`CLAIMED`] gives the one writer the right to write [`ENTRY_STORAGE`] (the first `swap` to true);
/// [`MY_ENTRY`] is null until that write is done, then points at the storage forever (Release store after the
/// write, Acquire load before any read). Readers never see the storage before it is written, and there is never a
/// second write.
static CLAIMED: AtomicBool = AtomicBool::new(false);
static MY_ENTRY: AtomicPtr<BackgroundWorker> = AtomicPtr::new(std::ptr::null_mut());

/// Where a worker keeps its registration: static storage, written once in the freshly forked child before
/// [`MY_ENTRY`] points at it.
struct EntryStorage(UnsafeCell<MaybeUninit<BackgroundWorker>>);

// SAFETY: written once, by the one caller that claimed it (CLAIMED), before its address is published (Release
// store to MY_ENTRY); only read afterwards.
unsafe impl Sync for EntryStorage {}

static ENTRY_STORAGE: EntryStorage = EntryStorage(UnsafeCell::new(MaybeUninit::uninit()));

/// Stores this worker's registration and publishes it (the worker runtime, once, in a freshly forked worker).
/// Panics if called a second time in the same process.
#[hot]
pub fn publish_entry(raw: BackgroundWorker) -> &'static BackgroundWorker {
    assert!(!CLAIMED.swap(true, Ordering::AcqRel), "a worker's registration is published once");
    // SAFETY: the swap above made this the only write there will ever be, and MY_ENTRY is still null, so no
    // reader can see the storage while it is written.
    let ptr = unsafe { (*ENTRY_STORAGE.0.get()).write(raw) as *mut BackgroundWorker };
    MY_ENTRY.store(ptr, Ordering::Release);
    // SAFETY: just initialized, static (never moved or freed), and never written again by the host.
    unsafe { &*ptr }
}

/// The pointer C modules see as `MyBgworkerEntry` (derived from the `UnsafeCell`, so they may write through it
/// as they may in PostgreSQL). Null outside workers.
pub fn my_bgworker_entry_ptr() -> *mut BackgroundWorker {
    MY_ENTRY.load(Ordering::Acquire)
}

/// The registration of the worker running in this process (the spec's `MyBgworkerEntry`). None outside workers.
#[hot]
pub fn my_bgworker_entry() -> Option<&'static BackgroundWorker> {
    // SAFETY: MY_ENTRY is null or points at ENTRY_STORAGE, initialized before the pointer was stored and never
    // written again by the host.
    unsafe { MY_ENTRY.load(Ordering::Acquire).as_ref() }
}

/// The safe form of [`my_bgworker_entry`].
pub fn my_spec() -> Option<WorkerSpec> {
    my_bgworker_entry().map(WorkerSpec::sanitized_from)
}

/// The spec's `BackgroundWorkerBlockSignals`: blocks every signal a worker may receive, except the
/// postmaster-death signal (which must always get through so that no worker outlives the postmaster).
#[hot]
pub fn background_worker_block_signals() {
    signals::block_all_but(crate::sys::raw::bit(crate::sys::fork::POSTMASTER_DEATH_SIGNAL));
}

/// The spec's `BackgroundWorkerUnblockSignals`.
#[hot]
pub fn background_worker_unblock_signals() {
    signals::unblock_all();
}
