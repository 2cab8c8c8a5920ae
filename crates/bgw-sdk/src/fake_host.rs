//! A stand-in for the host's C ABI, linked into the SDK's unit tests only.
//!
//! Purpose: a module's undefined references normally resolve to the running `bgw` executable. A unit-test
//! executable has no host, so this defines the same symbols with simple, recorded behaviour, which lets the tests
//! follow the SDK's calls across the FFI boundary (the struct it passes, the malloc'ed handle it frees, the status
//! codes it maps, the futures' helper threads).
//!
//! Invariant: never compiled into the library itself (`#[cfg(test)]`): a real module must get the host's symbols.
//!
//! Runs in: the unit-test process.
#![allow(unsafe_code, non_upper_case_globals, non_snake_case)]

use crate::ffi::{BackgroundWorker, BackgroundWorkerHandle, Latch};
use std::ffi::{c_char, c_int, c_long, CStr};
use std::sync::Mutex;

/// Every registration the SDK handed over (static and dynamic).
pub static REGISTERED: Mutex<Vec<BackgroundWorker>> = Mutex::new(Vec::new());
/// Slots the SDK asked to terminate.
pub static TERMINATED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());
/// A message: level, message, detail, hint.
pub type Logged = (c_int, String, Option<String>, Option<String>);
type Pending = Logged;
/// Messages logged.
pub static LOGGED: Mutex<Vec<Logged>> = Mutex::new(Vec::new());
/// (events, timeout) of each WaitLatch.
pub static WAITS: Mutex<Vec<(c_int, c_long)>> = Mutex::new(Vec::new());

fn text(p: *const c_char) -> String {
    // SAFETY: the SDK passes NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn field(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("")
}

#[unsafe(no_mangle)]
extern "C" fn RegisterBackgroundWorker(worker: *mut BackgroundWorker) {
    // SAFETY: the SDK passes a valid registration.
    REGISTERED.lock().unwrap().push(unsafe { worker.read() });
}

/// Refuses workers named "full" (no free slot); otherwise hands out slot = main_arg, generation 7.
#[unsafe(no_mangle)]
extern "C" fn RegisterDynamicBackgroundWorker(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
) -> bool {
    // SAFETY: the SDK passes a valid registration.
    let w = unsafe { worker.read() };
    if field(&w.bgw_name) == "full" {
        return false;
    }
    REGISTERED.lock().unwrap().push(w);
    // SAFETY: as the host does: a malloc'ed handle the caller frees.
    unsafe {
        let p = libc::malloc(std::mem::size_of::<BackgroundWorkerHandle>()) as *mut BackgroundWorkerHandle;
        p.write(BackgroundWorkerHandle { slot: w.bgw_main_arg as c_int, generation: 7 });
        handle.write(p);
    }
    true
}

/// Status by generation: 1 started (pid 1000 + slot), 2 stopped, 3 not yet started, 4 postmaster died,
/// anything else an unknown code.
#[unsafe(no_mangle)]
extern "C" fn GetBackgroundWorkerPid(handle: *mut BackgroundWorkerHandle, pidp: *mut libc::pid_t) -> c_int {
    // SAFETY: the SDK passes a valid handle and out-parameter.
    let h = unsafe { handle.read() };
    match h.generation {
        1 => {
            // SAFETY: as above.
            unsafe { pidp.write(1000 + h.slot) };
            0
        }
        2 => 2,
        3 => 1,
        4 => 3,
        _ => 99,
    }
}

/// Takes a moment (so a future is polled while pending), then reports the worker started with pid 1000 + slot.
#[unsafe(no_mangle)]
extern "C" fn WaitForBackgroundWorkerStartup(handle: *mut BackgroundWorkerHandle, pidp: *mut libc::pid_t) -> c_int {
    std::thread::sleep(std::time::Duration::from_millis(20));
    // SAFETY: the SDK passes a valid handle and out-parameter.
    unsafe { pidp.write(1000 + handle.read().slot) };
    0
}

/// Takes a moment, then reports the worker stopped.
#[unsafe(no_mangle)]
extern "C" fn WaitForBackgroundWorkerShutdown(_handle: *mut BackgroundWorkerHandle) -> c_int {
    std::thread::sleep(std::time::Duration::from_millis(20));
    2
}

#[unsafe(no_mangle)]
extern "C" fn GetBackgroundWorkerTypeByPid(pid: libc::pid_t) -> *const c_char {
    if pid == 1001 {
        c"fake type".as_ptr()
    } else {
        std::ptr::null()
    }
}

#[unsafe(no_mangle)]
extern "C" fn TerminateBackgroundWorker(handle: *mut BackgroundWorkerHandle) {
    // SAFETY: the SDK passes a valid handle.
    TERMINATED.lock().unwrap().push(unsafe { handle.read() }.slot);
}

#[unsafe(no_mangle)]
static mut MyBgworkerEntry: *mut BackgroundWorker = std::ptr::null_mut();

#[unsafe(no_mangle)]
extern "C" fn BackgroundWorkerBlockSignals() {}

#[unsafe(no_mangle)]
extern "C" fn BackgroundWorkerUnblockSignals() {}

#[unsafe(no_mangle)]
static mut MyLatch: *mut Latch = std::ptr::null_mut();

/// Records the call; reports the timeout if there is one, else the latch.
#[unsafe(no_mangle)]
extern "C" fn WaitLatch(_latch: *mut Latch, wake_events: c_int, timeout: c_long, _info: u32) -> c_int {
    WAITS.lock().unwrap().push((wake_events, timeout));
    if wake_events & crate::ffi::WL_TIMEOUT != 0 {
        crate::ffi::WL_TIMEOUT
    } else {
        crate::ffi::WL_LATCH_SET
    }
}

#[unsafe(no_mangle)]
extern "C" fn SetLatch(_latch: *mut Latch) {}

#[unsafe(no_mangle)]
extern "C" fn ResetLatch(_latch: *mut Latch) {}

#[unsafe(no_mangle)]
extern "C" fn bgw_set_latch_pid(pid: libc::pid_t) -> bool {
    pid > 0
}

#[unsafe(no_mangle)]
extern "C" fn PostmasterIsAlive() -> bool {
    true
}

#[unsafe(no_mangle)]
extern "C" fn pqsignal(_signo: c_int, _func: libc::sighandler_t) -> libc::sighandler_t {
    libc::SIG_DFL
}

#[unsafe(no_mangle)]
extern "C" fn SignalHandlerForConfigReload(_signo: c_int) {
    // SAFETY: a store to our own flag.
    unsafe { std::ptr::addr_of_mut!(ConfigReloadPending).write_volatile(1) };
}

#[unsafe(no_mangle)]
extern "C" fn SignalHandlerForShutdownRequest(_signo: c_int) {
    // SAFETY: a store to our own flag.
    unsafe { std::ptr::addr_of_mut!(ShutdownRequestPending).write_volatile(1) };
}

#[unsafe(no_mangle)]
static mut ConfigReloadPending: c_int = 0;

/// Tests run as if preloading (static registration allowed).
#[unsafe(no_mangle)]
static process_shared_preload_libraries_in_progress: bool = true;

#[unsafe(no_mangle)]
static mut ShutdownRequestPending: c_int = 0;

#[unsafe(no_mangle)]
extern "C" fn ProcessConfigFile(_context: c_int) {}

#[unsafe(no_mangle)]
extern "C" fn bgw_elog(elevel: c_int, message: *const c_char) {
    LOGGED.lock().unwrap().push((elevel, text(message), None, None));
}

thread_local! {
    /// The ereport being built on this thread (as the host keeps it).
    static PENDING: std::cell::RefCell<Option<Pending>> = const { std::cell::RefCell::new(None) };
}

fn with_pending(f: impl FnOnce(&mut Pending)) {
    PENDING.with(|p| {
        if let Some(p) = p.borrow_mut().as_mut() {
            f(p)
        }
    });
}

#[unsafe(no_mangle)]
extern "C" fn bgw_errstart(elevel: c_int) {
    PENDING.with(|p| *p.borrow_mut() = Some((elevel, String::new(), None, None)));
}

#[unsafe(no_mangle)]
extern "C" fn bgw_errmsg(message: *const c_char) -> c_int {
    let m = text(message);
    with_pending(|p| p.1 = m);
    0
}

#[unsafe(no_mangle)]
extern "C" fn bgw_errdetail(detail: *const c_char) -> c_int {
    let d = text(detail);
    with_pending(|p| p.2 = Some(d));
    0
}

#[unsafe(no_mangle)]
extern "C" fn bgw_errhint(hint: *const c_char) -> c_int {
    let h = text(hint);
    with_pending(|p| p.3 = Some(h));
    0
}

#[unsafe(no_mangle)]
extern "C" fn bgw_errfinish() {
    if let Some(p) = PENDING.with(|p| p.borrow_mut().take()) {
        LOGGED.lock().unwrap().push(p);
    }
}

/// Raises SIGHUP and SIGTERM the way the host's handlers would record them.
pub fn raise_sighup_and_sigterm() {
    SignalHandlerForConfigReload(libc::SIGHUP);
    SignalHandlerForShutdownRequest(libc::SIGTERM);
}

/// The recorded registration named `name`.
pub fn registered(name: &str) -> Option<BackgroundWorker> {
    REGISTERED.lock().unwrap().iter().rev().find(|w| field(&w.bgw_name) == name).copied()
}
