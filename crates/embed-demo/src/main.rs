//! An application embedding the `bgw` host: it adds an internal worker of its own, `signal_report`, to the
//! internal library `bgw` (the counterpart of PostgreSQL's internal worker table), then hands over to the host's
//! command line, so `embed-demo start -D DIR` runs a postmaster that can launch it.
//!
//! `signal_report` logs which signals are blocked when its entry point is called (the spec says all of them,
//! until the worker unblocks them), unblocks them, logs again, and returns.

use bgw::elog;
use bgw::process::my_worker::{background_worker_unblock_signals, my_spec};

fn blocked_signals() -> Vec<i32> {
    // SAFETY: sigset_t is plain data; all zeroes is a valid (empty) set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: reads this thread's signal mask (no new set given) into a valid sigset_t.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) };
    // SAFETY: sigismember on an initialized set.
    (1..32).filter(|&s| unsafe { libc::sigismember(&set, s) } == 1).collect()
}

fn signal_report(_arg: usize) {
    let name = my_spec().map(|s| s.name).unwrap_or_default();
    elog::log(format!("{name}: blocked on entry: {:?}", blocked_signals()));
    background_worker_unblock_signals();
    elog::log(format!("{name}: blocked after unblocking: {:?}", blocked_signals()));
}

/// The host's allocator, as the `bgw` executable has it (a backend out of memory ends with FATAL, not a crash).
#[global_allocator]
static ALLOCATOR: bgw::sys::alloc::HostAlloc = bgw::sys::alloc::HostAlloc;

fn main() {
    bgw::modules::entry::register_internal_function("signal_report", signal_report);
    std::process::exit(bgw::cli::main());
}
