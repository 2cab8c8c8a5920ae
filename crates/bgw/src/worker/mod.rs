//! The worker-side runtime: everything that runs in a background worker process, from fork to exit.
//!
//! [`start_background_worker`] is called in the freshly forked child (the counterpart of the spec's
//! `StartBackgroundWorker`): it sets the process title, blocks signals until the worker unblocks them, detaches
//! shared memory for workers without access, installs the spec's default handlers, finds the entry point by
//! (library, function) and calls it with the main argument. Returning from the entry point is exit 0; a panic is
//! an ERROR: logged, exit 1.
//!
//! Default signal handling, as the spec's:
//! - SIGTERM: FATAL "terminating background worker \"%s\" due to administrator command", exit 1.
//! - SIGQUIT: `_exit(2)` at once (shared memory may be corrupt; the postmaster treats it as a crash).
//! - SIGHUP: sets a flag ([`take_config_reload_request`]) and the latch; the worker reloads when it chooses.
//! - SIGUSR1: sets the latch (notifications from the postmaster arrive this way).
//! - SIGINT, SIGPIPE ignored.

pub mod builtin;
pub mod entry;
pub mod spare;

use crate::bgworker::types::{BackgroundWorker, WorkerSpec, BGWORKER_SHMEM_ACCESS};
use crate::elog::{self, Level};
use crate::sys::signals;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

static MY_ENTRY: AtomicPtr<BackgroundWorker> = AtomicPtr::new(std::ptr::null_mut());
static GOT_SIGHUP: AtomicBool = AtomicBool::new(false);
/// The FATAL text the SIGTERM handler writes, formatted before the handler can run.
static DIE_MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static DIE_MESSAGE_LEN: AtomicUsize = AtomicUsize::new(0);

/// The registration of the worker running in this process (the spec's `MyBgworkerEntry`). None outside workers.
pub fn my_bgworker_entry() -> Option<&'static BackgroundWorker> {
    // SAFETY: MY_ENTRY is null or a leaked, never-freed Box set once at worker start.
    unsafe { MY_ENTRY.load(Ordering::Acquire).as_ref() }
}

/// The safe form of [`my_bgworker_entry`].
pub fn my_spec() -> Option<WorkerSpec> {
    my_bgworker_entry().map(WorkerSpec::sanitized_from)
}

extern "C" fn handle_sigterm(_: libc::c_int) {
    signals::block_all_except(&[]);
    let p = DIE_MESSAGE.load(Ordering::Relaxed);
    let len = DIE_MESSAGE_LEN.load(Ordering::Relaxed);
    if !p.is_null() && elog::enabled(Level::Fatal) {
        // SAFETY: DIE_MESSAGE points at a leaked buffer of DIE_MESSAGE_LEN bytes, set before the handler was
        // installed and never changed.
        let text = unsafe { std::slice::from_raw_parts(p, len) };
        elog::write_from_signal_handler(b"FATAL", text);
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(1) };
}

extern "C" fn handle_sigquit(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe. Exit code 2 makes the postmaster treat this as a crash, as the spec says.
    unsafe { libc::_exit(2) };
}

extern "C" fn handle_sighup(_: libc::c_int) {
    GOT_SIGHUP.store(true, Ordering::SeqCst);
    // Also the flag C modules read, so a module that keeps the default handler still sees SIGHUP.
    // SAFETY: a volatile store to the exported c_int flag is async-signal-safe.
    unsafe { std::ptr::addr_of_mut!(crate::modules::abi::ConfigReloadPending).write_volatile(1) };
    signals::preserving_errno(crate::latch::set_latch);
}

/// True once per SIGHUP received: the worker should reload its configuration ([`crate::process::reload_config`]).
pub fn take_config_reload_request() -> bool {
    GOT_SIGHUP.swap(false, Ordering::SeqCst)
}

/// The spec's `BackgroundWorkerBlockSignals`: blocks every signal a worker may receive, except the
/// postmaster-death signal (which must always get through so that no worker outlives the postmaster).
pub fn background_worker_block_signals() {
    signals::block_all_except(&[crate::sys::fork::POSTMASTER_DEATH_SIGNAL]);
}

/// The spec's `BackgroundWorkerUnblockSignals`.
pub fn background_worker_unblock_signals() {
    signals::unblock_all();
}

/// Runs a worker in a freshly forked child. Never returns.
pub fn start_background_worker(raw: BackgroundWorker) -> ! {
    background_worker_block_signals();
    let spec = WorkerSpec::sanitized_from(&raw);
    crate::sys::proctitle::set(&format!("bgw: {}", spec.name));
    let entry: &'static mut BackgroundWorker = Box::leak(Box::new(raw));
    MY_ENTRY.store(entry as *mut _, Ordering::Release);
    crate::modules::abi::set_my_bgworker_entry(MY_ENTRY.load(Ordering::Acquire));
    crate::process::set_panic_hook();

    if spec.flags & BGWORKER_SHMEM_ACCESS == 0 {
        crate::shmem::detach();
    }

    let die = format!("terminating background worker \"{}\" due to administrator command", spec.display_type());
    let die: &'static [u8] = Box::leak(die.into_bytes().into_boxed_slice());
    DIE_MESSAGE_LEN.store(die.len(), Ordering::Relaxed);
    DIE_MESSAGE.store(die.as_ptr() as *mut u8, Ordering::Relaxed);

    signals::install(libc::SIGTERM, handle_sigterm, &[]);
    signals::install(libc::SIGQUIT, handle_sigquit, &[]);
    signals::install(libc::SIGHUP, handle_sighup, &[]);
    signals::ignore(libc::SIGINT);
    signals::ignore(libc::SIGPIPE);
    signals::default(libc::SIGCHLD);

    let main = match entry::lookup(&spec.library, &spec.function) {
        Ok(f) => f,
        Err(e) => {
            elog::Report::new(Level::Error, e.to_string()).emit();
            crate::process::exit(1);
        }
    };
    let arg = raw.bgw_main_arg;
    match std::panic::catch_unwind(move || main.call(arg)) {
        Ok(()) => crate::process::exit(0),
        // The panic hook has logged it as an ERROR.
        Err(_) => crate::process::exit(1),
    }
}
