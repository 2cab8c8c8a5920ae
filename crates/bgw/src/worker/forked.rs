//! The first steps of every child of the postmaster, right after the fork and before its body, and a forked
//! worker's body up to the worker runtime ([`worker_child_main`]).
//!
//! Runs in the new child: the postmaster's fork code (`crate::postmaster`) calls [`enter_child`] on the child's
//! side of every fork, then the child's body, which for a worker is [`worker_child_main`]. The postmaster's own
//! state is not mapped in a child (`crate::sys::private_memory`): what a child needs arrives in its context.
//! Everything here is in the start-up code's section (`.text.hot.bgw_worker`, see [`crate::worker`]): a new worker
//! maps fewer blocks of code.

use bgw_macros::hot;
use std::os::fd::RawFd;

/// Dropped only if a child's body unwinds (bodies never return): exits the child with status 1.
pub(crate) struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    #[hot]
    fn drop(&mut self) {
        crate::process::exit(1);
    }
}

/// A child's first steps after the fork, before its body: which process entry is its own, and the C ABI's
/// per-process globals. (This and [`worker_child_main`] sit with the worker runtime's start-up code: a new
/// worker maps fewer blocks of code.)
#[inline(never)]
#[hot]
pub(crate) fn enter_child(proc_no: Option<u32>) {
    crate::process::set_my_proc(proc_no);
    // SAFETY: the child is single-threaded, fresh from fork.
    unsafe { crate::modules::abi::init_process_globals() };
}

/// What a forked worker gets from the postmaster: its registration, its entry point if the postmaster found it,
/// and whether to yield first.
pub(crate) type WorkerChildContext =
    (crate::sys::fork::Inherited<crate::bgworker::types::WorkerSpec>, Option<crate::modules::entry::EntryPoint>, bool);

/// A forked worker's body: its registration built from this process's copy of the postmaster's heap, then the
/// worker runtime. A function of its own, not inlined into the launch loop, so that building the registration runs
/// from the start-up code's section (measured: 2-3 page faults more per worker when it was inlined).
#[inline(never)]
#[hot]
pub(crate) fn worker_child_main(
    (spec, found, yield_first): WorkerChildContext,
    _: Option<u32>,
    postmaster_death: RawFd,
) -> std::convert::Infallible {
    // SAFETY: this is the child of the fork made right after the reference was taken, from a registration in the
    // ordinary heap (the registered workers' boxes), alive at the fork.
    let spec = unsafe { spec.in_child() };
    crate::worker::enter_worker(spec.to_raw_adopted(), found, yield_first, postmaster_death)
}
