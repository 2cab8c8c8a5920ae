//! The spec's API, exported by the `bgw` executable for modules (declared in `include/bgworker.h`).
//!
//! Every function here is `extern "C"` under the spec's name and signature (or PostgreSQL's, for the helpers a
//! worker needs: latches, signals, logging), and is linked into the executable's dynamic symbol table (see
//! `build.rs`). A module's undefined references resolve to these when it is loaded, so there is one copy of the
//! host in a process, never two.
//!
//! Errors follow PostgreSQL's model as far as C allows without `longjmp`: `ereport(ERROR)` and `FATAL` in a
//! worker log the message and end the process with exit code 1 (the spec's behaviour for an error in a worker);
//! `PANIC` aborts (a crash); in the postmaster, while `shared_preload_libraries` are being loaded, an error stops
//! start-up with a message naming the module.
//!
//! The C types and constants these functions take and return (`BackgroundWorker`, `BackgroundWorkerHandle`,
//! `BgwHandleStatus`, the message levels, ...) are defined once, in the `bgw-abi` crate, which the SDK shares.
//!
//! Runs in: the postmaster (during preload only) and any child that calls into a module.

// The exported globals keep PostgreSQL's names, which are not Rust's style. The functions are C entry points:
// their pointer arguments carry the C API's contracts (documented in include/bgworker.h), checked for NULL here;
// Rust code uses `crate::dynamic` instead.
#![allow(non_upper_case_globals, non_snake_case, clippy::not_unsafe_ptr_arg_deref)]

use crate::bgworker::handle::{Handle, Status};
use crate::bgworker::types::{BackgroundWorker, RegistrationError, WorkerSpec};
use crate::dynamic;
use crate::elog::{self, Level};
use bgw_abi::{
    sig_atomic_t, BackgroundWorkerHandle, BgwHandleStatus, Latch, DEBUG1, DEBUG2, DEBUG3, DEBUG4, DEBUG5, ERROR, FATAL,
    INFO, LOG, LOG_SERVER_ONLY, NOTICE, PANIC, WARNING,
};
use bgw_macros::hot;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_long, CStr};
use std::sync::Mutex;

/// The spec's `MyBgworkerEntry`: the running worker's registration (NULL outside workers).
#[no_mangle]
pub static mut MyBgworkerEntry: *mut BackgroundWorker = std::ptr::null_mut();

/// PostgreSQL's `process_shared_preload_libraries_in_progress`: true while `_PG_init`s of preloaded libraries
/// run in the postmaster (modules guard their static registrations and shared memory requests with it).
#[no_mangle]
pub static mut process_shared_preload_libraries_in_progress: bool = false;

/// PostgreSQL's `MyProcPid`.
#[no_mangle]
pub static mut MyProcPid: c_int = 0;

/// Set by `SignalHandlerForConfigReload`; the worker clears it and calls `ProcessConfigFile`.
#[no_mangle]
pub static mut ConfigReloadPending: sig_atomic_t = 0;
/// Set by `SignalHandlerForShutdownRequest`.
#[no_mangle]
pub static mut ShutdownRequestPending: sig_atomic_t = 0;
/// Set by `die`; `CHECK_FOR_INTERRUPTS()` acts on it.
#[no_mangle]
pub static mut InterruptPending: sig_atomic_t = 0;
#[no_mangle]
pub static mut ProcDiePending: sig_atomic_t = 0;

/// PostgreSQL's `MyLatch`: this process's latch, `&MyProc->procLatch` (`pg_misc.c` owns the struct).
#[no_mangle]
pub static mut MyLatch: *mut Latch = std::ptr::null_mut();

/// Called in a worker at start: publishes its registration to C (the process globals were set when the process
/// began: `crate::worker::forked::enter_child`, and again by a spare when it becomes a worker).
#[hot]
pub fn set_my_bgworker_entry(entry: *mut BackgroundWorker) {
    // SAFETY: the worker process is single-threaded at this point (fresh from fork, before the entry point runs);
    // nothing reads this global concurrently.
    unsafe { std::ptr::addr_of_mut!(MyBgworkerEntry).write(entry) };
}

/// Sets `MyProcPid`, `MyLatch` and the C part's per-process globals for this process.
///
/// # Safety
/// Call while the process is single-threaded (at the start of a child, or in the postmaster before preload).
#[hot]
pub unsafe fn init_process_globals() {
    let pid = crate::sys::raw::getpid();
    // SAFETY: the caller guarantees a single thread, so nothing reads these globals while they are written.
    unsafe {
        std::ptr::addr_of_mut!(MyProcPid).write(pid);
        std::ptr::addr_of_mut!(MyLatch).write(bgw_proc_latch());
    }
    init_c_paths_once();
    let shm = crate::shmem::attached();
    let start = shm.map_or(0, |s| s.header().start_time_us.load(std::sync::atomic::Ordering::Relaxed));
    // SAFETY: plain values; called while the process is single-threaded.
    unsafe { bgw_init_c_process(crate::process::is_child(), shm.is_some(), pid, start) };
}

extern "C" {
    /// `pg_misc.c`: the address of `MyProc->procLatch`.
    fn bgw_proc_latch() -> *mut Latch;
    fn bgw_init_c_paths(data_dir: *const c_char, exec_path: *const c_char, pkglib: *const c_char);
    fn bgw_init_c_process(under_postmaster: bool, attached: bool, pid: c_int, postmaster_start_us: i64);
}

/// Whether this process (or the process it was forked from) has given the C part its paths.
static C_PATHS_SET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The paths of `miscadmin.h` the C part keeps (`DataDir`, `my_exec_path`, `pkglib_path`; see `pg_misc.c`): the
/// same for the postmaster and every child, so set once in the postmaster before preloading, and inherited by every
/// fork. A child that found them unset (never, under a postmaster) sets them itself. Finding the executable reads
/// `/proc/self/exe` and formats three strings: done in every new child, that was a third of a worker's start-up.
fn init_c_paths_once() {
    use std::sync::atomic::Ordering;
    if C_PATHS_SET.load(Ordering::Relaxed) {
        return;
    }
    let c = |s: String| std::ffi::CString::new(s).unwrap_or_default();
    let data_dir = c(crate::process::data_dir().display().to_string());
    let exe = c(std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
    let pkglib = c(super::loader::libdir().display().to_string());
    // SAFETY: NUL-terminated strings the C side copies; called while the process is single-threaded.
    unsafe { bgw_init_c_paths(data_dir.as_ptr(), exe.as_ptr(), pkglib.as_ptr()) };
    C_PATHS_SET.store(true, Ordering::Relaxed);
}

fn flag_set(flag: *mut sig_atomic_t, value: sig_atomic_t) {
    // SAFETY: the flag is one of the sig_atomic_t globals above; a volatile store of an int is async-signal-safe.
    unsafe { flag.write_volatile(value) };
}

// ----- errors and logging -----

fn level_of(c: c_int) -> Level {
    match c {
        i32::MIN..=DEBUG5 => Level::Debug5,
        DEBUG4 => Level::Debug4,
        DEBUG3 => Level::Debug3,
        DEBUG2 => Level::Debug2,
        DEBUG1 => Level::Debug1,
        LOG | LOG_SERVER_ONLY => Level::Log,
        INFO => Level::Info,
        NOTICE => Level::Notice,
        // 20 is PostgreSQL 16's WARNING_CLIENT_ONLY.
        WARNING..ERROR => Level::Warning,
        ERROR => Level::Error,
        FATAL => Level::Fatal,
        _ => Level::Panic,
    }
}

/// A message being built by `ereport` (errstart .. errfinish).
struct Pending {
    level: c_int,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

pub(crate) fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: C callers pass NUL-terminated strings (the header's wrappers format into a terminated buffer).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// [`text`] without a copy when the string is ASCII (names of shared memory areas are): what a worker calls on
/// its way to its loop should not allocate (see `crate::worker`).
#[hot]
pub(crate) fn text_borrowed<'a>(p: *const c_char) -> std::borrow::Cow<'a, str> {
    if p.is_null() {
        return std::borrow::Cow::Borrowed("");
    }
    // SAFETY: C callers pass NUL-terminated strings that outlive the call (the borrow does not leave it).
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::borrow::Cow::Owned(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Emits a report and applies its level's exit behaviour: an ERROR while a handler is active (a module's
/// `PG_TRY`, or the trap around a module's SQL function or `_PG_init`) jumps to it; otherwise ERROR and FATAL end
/// the process (exit callbacks first), PANIC aborts.
pub(crate) fn finish(level: c_int, message: String, detail: Option<String>, hint: Option<String>) {
    finish_coded(level, None, message, detail, hint)
}

/// [`finish`] with a SQLSTATE (what a handler and the client see).
pub(crate) fn finish_with_code(level: c_int, sqlstate: &str, message: String) {
    finish_coded(level, Some(sqlstate), message, None, None)
}

pub(crate) fn finish_coded(
    level: c_int,
    sqlstate: Option<&str>,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
) {
    if level == ERROR && super::trap::in_call() {
        // Everything this frame owns moves into `throw`, which jumps back to the handler.
        super::trap::throw(sqlstate.unwrap_or("XX000"), message, detail, hint);
    }
    if level < ERROR {
        // INFO, NOTICE and WARNING in a SQL function also go to its client (see sqlfn::to_client).
        super::sqlfn::to_client(level, sqlstate, &message, detail.as_deref(), hint.as_deref());
    }
    let mut r = elog::Report::new(level_of(level), message.clone());
    if let Some(d) = &detail {
        r = r.detail(d.clone());
    }
    if let Some(h) = &hint {
        r = r.hint(h.clone());
    }
    r.emit();
    if level >= ERROR {
        if let Some(module) = super::loader::loading_module() {
            elog::Report::new(Level::Fatal, format!("could not load library \"{module}\": its _PG_init failed"))
                .detail(message.clone())
                .emit();
            crate::process::exit(1);
        }
        if level >= PANIC {
            std::process::abort();
        }
        run_exit_callbacks(1);
        crate::process::exit(1);
    }
}

extern "C" {
    fn bgw_run_exit_callbacks(code: c_int);
}

/// Runs the modules' exit callbacks (`before_shmem_exit`, `on_shmem_exit`, `on_proc_exit`), once: the host's
/// own ways out of a process call this as `proc_exit` does.
pub(crate) fn run_exit_callbacks(code: c_int) {
    // SAFETY: the C part's function; it empties each list as it runs it, so a second call runs nothing.
    unsafe { bgw_run_exit_callbacks(code) };
}

fn optional_text(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| text(p))
}

/// For `pg_elog.c`: whether a report at `level` would be logged (`errstart` skips the message otherwise).
#[no_mangle]
pub extern "C" fn bgw_report_elevel_enabled(level: c_int) -> bool {
    elog::enabled(level_of(level)) || super::sqlfn::reaches_client(level)
}

/// For `pg_elog.c`: a report no handler catches. Logs it and applies its level (see [`finish`]).
#[no_mangle]
pub extern "C" fn bgw_report_finish(
    level: c_int,
    sqlstate: *const c_char,
    message: *const c_char,
    detail: *const c_char,
    hint: *const c_char,
    _context: *const c_char,
) {
    let state = optional_text(sqlstate);
    finish_coded(level, state.as_deref(), text(message), optional_text(detail), optional_text(hint));
}

/// For `pg_elog.c`'s `EmitErrorReport`: logs a report at its level without ending anything.
#[no_mangle]
pub extern "C" fn bgw_report_log(
    level: c_int,
    _sqlstate: *const c_char,
    message: *const c_char,
    detail: *const c_char,
    hint: *const c_char,
    _context: *const c_char,
) {
    let mut r = elog::Report::new(level_of(level), text(message));
    if let Some(d) = optional_text(detail) {
        r = r.detail(d);
    }
    if let Some(h) = optional_text(hint) {
        r = r.hint(h);
    }
    r.emit();
}

/// For `pg_ipc.c`'s `proc_exit`: ends the process with `code` (its exit callbacks have run).
#[no_mangle]
pub extern "C" fn bgw_process_exit(code: c_int) -> ! {
    crate::process::exit(code)
}

/// An ERROR raised by the host on a module's behalf.
pub(crate) fn finish_error(message: String) {
    finish(ERROR, message, None, None);
}

fn raise(e: RegistrationError) -> ! {
    finish(ERROR, e.message, e.detail, e.hint);
    crate::process::exit(1)
}

/// `elog(level, ...)`: the header formats the message and calls this.
#[no_mangle]
pub extern "C" fn bgw_elog(level: c_int, message: *const c_char) {
    finish(level, text(message), None, None);
}

/// `ereport(level, (errmsg(...), ...))` begins: the header's `ereport` macro calls this first.
#[no_mangle]
pub extern "C" fn bgw_errstart(level: c_int) {
    PENDING.with(|p| *p.borrow_mut() = Some(Pending { level, message: String::new(), detail: None, hint: None }));
}

/// `errmsg(...)` after formatting; returns 0 so it can stand in a comma expression.
#[no_mangle]
pub extern "C" fn bgw_errmsg(message: *const c_char) -> c_int {
    let m = text(message);
    PENDING.with(|p| {
        if let Some(p) = p.borrow_mut().as_mut() {
            p.message = m;
        }
    });
    0
}

/// `errdetail(...)` after formatting.
#[no_mangle]
pub extern "C" fn bgw_errdetail(detail: *const c_char) -> c_int {
    let d = text(detail);
    PENDING.with(|p| {
        if let Some(p) = p.borrow_mut().as_mut() {
            p.detail = Some(d);
        }
    });
    0
}

/// `errhint(...)` after formatting.
#[no_mangle]
pub extern "C" fn bgw_errhint(hint: *const c_char) -> c_int {
    let h = text(hint);
    PENDING.with(|p| {
        if let Some(p) = p.borrow_mut().as_mut() {
            p.hint = Some(h);
        }
    });
    0
}

/// `ereport` ends: emit (and, for ERROR and above, end the process).
#[no_mangle]
pub extern "C" fn bgw_errfinish() {
    if let Some(p) = PENDING.with(|p| p.borrow_mut().take()) {
        finish(p.level, p.message, p.detail, p.hint);
    }
}

// ----- registration and handles -----

pub(crate) fn spec_from_c(worker: *const BackgroundWorker) -> Result<WorkerSpec, RegistrationError> {
    if worker.is_null() {
        return Err(RegistrationError {
            sqlstate: "22004",
            message: "background worker registration is NULL".into(),
            detail: None,
            hint: None,
        });
    }
    // SAFETY: non-null, and by the API's contract a pointer to a BackgroundWorker the caller owns; every bit
    // pattern of the struct is valid, and we copy it before reading.
    let raw = unsafe { worker.read() };
    WorkerSpec::from_c(&raw)
}

/// Static registrations made by modules' `_PG_init`s, collected while preloading.
pub(crate) static PRELOAD_REGISTRATIONS: Mutex<Vec<WorkerSpec>> = Mutex::new(Vec::new());

/// The spec's `RegisterBackgroundWorker`: only while `shared_preload_libraries` are being loaded.
#[no_mangle]
pub extern "C" fn RegisterBackgroundWorker(worker: *mut BackgroundWorker) {
    let spec = match spec_from_c(worker) {
        Ok(s) => s,
        Err(e) => {
            elog::log(e.message);
            return;
        }
    };
    if super::loader::loading_module().is_none() {
        // As the spec: said in the postmaster's log, quietly ignored in its children.
        let level = if crate::process::is_child() { Level::Debug1 } else { Level::Log };
        elog::report(
            level,
            format!("background worker \"{}\": must be registered in shared_preload_libraries", spec.name),
        );
        return;
    }
    PRELOAD_REGISTRATIONS.lock().unwrap_or_else(|e| e.into_inner()).push(spec);
}

/// The spec's `RegisterDynamicBackgroundWorker`. On success stores a malloc'ed handle in `*handle` (if not
/// NULL) and returns true; false when no slot is free. A registration the sanity checks refuse is an ERROR.
#[no_mangle]
pub extern "C" fn RegisterDynamicBackgroundWorker(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
) -> bool {
    // The spec is dropped before any error is raised: an ERROR in a SQL function jumps over this frame.
    let outcome = match spec_from_c(worker) {
        Ok(spec) => dynamic::register_dynamic_background_worker(&spec, super::entry::check_entry),
        Err(e) => Err(e),
    };
    registered(outcome, handle)
}

/// Beyond the spec: `RegisterDynamicBackgroundWorkerWait(worker, &handle, timeout_ms)`: as
/// `RegisterDynamicBackgroundWorker`, but waits up to `timeout_ms` (-1: as long as it takes) for a free slot,
/// first come first served; false if none came in time (or a shutdown began). A cancel or termination request
/// ends the wait with its ERROR.
#[no_mangle]
pub extern "C" fn RegisterDynamicBackgroundWorkerWait(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
    timeout_ms: c_int,
) -> bool {
    let timeout = (timeout_ms >= 0).then(|| std::time::Duration::from_millis(timeout_ms as u64));
    let outcome = match spec_from_c(worker) {
        Ok(spec) => dynamic::register_dynamic_background_worker_wait(&spec, super::entry::check_entry, timeout),
        Err(e) => Err(e),
    };
    registered(outcome, handle)
}

fn registered(outcome: Result<Option<Handle>, RegistrationError>, handle: *mut *mut BackgroundWorkerHandle) -> bool {
    match outcome {
        Ok(Some(h)) => {
            if !handle.is_null() {
                // SAFETY: malloc of the handle's size; checked for NULL before the write.
                let p = unsafe { libc::malloc(std::mem::size_of::<BackgroundWorkerHandle>()) }
                    as *mut BackgroundWorkerHandle;
                if p.is_null() {
                    finish(ERROR, "out of memory".into(), None, None);
                }
                // SAFETY: p is a fresh allocation of the right size and alignment (malloc aligns for any type);
                // `handle` is the caller's out-parameter, non-null.
                unsafe {
                    p.write(BackgroundWorkerHandle { slot: h.slot as c_int, generation: h.generation });
                    handle.write(p);
                }
            }
            true
        }
        Ok(None) => false,
        Err(e) => raise(e),
    }
}

fn handle_of(h: *const BackgroundWorkerHandle) -> Handle {
    if h.is_null() {
        raise(RegistrationError {
            sqlstate: "22004",
            message: "background worker handle is NULL".into(),
            detail: None,
            hint: None,
        });
    }
    // SAFETY: non-null, and by the API's contract a handle from RegisterDynamicBackgroundWorker (or a copy).
    let h = unsafe { h.read() };
    Handle { slot: h.slot.max(0) as u32, generation: h.generation }
}

fn status_code(s: Status, pidp: *mut libc::pid_t) -> BgwHandleStatus {
    let (code, pid) = s.to_c();
    if let (Status::Started(_), false) = (s, pidp.is_null()) {
        // SAFETY: the caller's out-parameter, non-null.
        unsafe { pidp.write(pid) };
    }
    code
}

/// The spec's `GetBackgroundWorkerPid`.
#[no_mangle]
pub extern "C" fn GetBackgroundWorkerPid(
    handle: *mut BackgroundWorkerHandle,
    pidp: *mut libc::pid_t,
) -> BgwHandleStatus {
    let s = dynamic::get_background_worker_pid(handle_of(handle)).unwrap_or_else(|e| raise(e));
    status_code(s, pidp)
}

/// The spec's `WaitForBackgroundWorkerStartup`.
#[no_mangle]
pub extern "C" fn WaitForBackgroundWorkerStartup(
    handle: *mut BackgroundWorkerHandle,
    pidp: *mut libc::pid_t,
) -> BgwHandleStatus {
    let s = dynamic::wait_for_background_worker_startup(handle_of(handle)).unwrap_or_else(|e| raise(e));
    status_code(s, pidp)
}

/// The spec's `WaitForBackgroundWorkerShutdown`.
#[no_mangle]
pub extern "C" fn WaitForBackgroundWorkerShutdown(handle: *mut BackgroundWorkerHandle) -> BgwHandleStatus {
    let s = dynamic::wait_for_background_worker_shutdown(handle_of(handle)).unwrap_or_else(|e| raise(e));
    status_code(s, std::ptr::null_mut())
}

/// The spec's `TerminateBackgroundWorker`.
#[no_mangle]
pub extern "C" fn TerminateBackgroundWorker(handle: *mut BackgroundWorkerHandle) {
    dynamic::terminate_background_worker(handle_of(handle)).unwrap_or_else(|e| raise(e));
}

/// Beyond the spec: `BackgroundWorkerReportReady` (see `include/bgw/bgw.h`).
#[no_mangle]
pub extern "C" fn BackgroundWorkerReportReady() {
    dynamic::report_ready().unwrap_or_else(|e| raise(e));
}

/// Beyond the spec: `WaitForBackgroundWorkerReady`: BGWH_STARTED once ready, BGWH_NOT_YET_STARTED when the timeout
/// (milliseconds; negative: none) passes first, BGWH_STOPPED, BGWH_POSTMASTER_DIED.
#[no_mangle]
pub extern "C" fn WaitForBackgroundWorkerReady(
    handle: *mut BackgroundWorkerHandle,
    pidp: *mut libc::pid_t,
    timeout_ms: c_int,
) -> BgwHandleStatus {
    use crate::bgworker::handle::ReadyWait;
    let timeout = (timeout_ms >= 0).then(|| std::time::Duration::from_millis(timeout_ms as u64));
    let wait = dynamic::wait_for_background_worker_ready(handle_of(handle), timeout).unwrap_or_else(|e| raise(e));
    let status = match wait {
        ReadyWait::Ready(pid) => Status::Started(pid),
        ReadyWait::NotReady => Status::NotYetStarted,
        ReadyWait::Stopped => Status::Stopped,
        ReadyWait::PostmasterDied => Status::PostmasterDied,
    };
    status_code(status, pidp)
}

/// Beyond the spec: `TerminateBackgroundWorkerWithGrace`: SIGTERM, then SIGKILL after `grace_ms`.
#[no_mangle]
pub extern "C" fn TerminateBackgroundWorkerWithGrace(handle: *mut BackgroundWorkerHandle, grace_ms: c_int) {
    dynamic::terminate_background_worker_with_grace(handle_of(handle), grace_ms.max(0) as u32)
        .unwrap_or_else(|e| raise(e));
}

/// Beyond the spec: `ResetBackgroundWorker`: a worker its restart policy gave up on runs again.
#[no_mangle]
pub extern "C" fn ResetBackgroundWorker(handle: *mut BackgroundWorkerHandle) -> bool {
    dynamic::reset_background_worker(handle_of(handle)).unwrap_or_else(|e| raise(e))
}

/// Beyond the spec: `GetBackgroundWorkerExitReason`: why the registration's last run ended.
#[no_mangle]
pub extern "C" fn GetBackgroundWorkerExitReason(
    handle: *mut BackgroundWorkerHandle,
    info: *mut bgw_abi::BgwExitInfo,
) -> bool {
    let found = dynamic::get_background_worker_exit_reason(handle_of(handle)).unwrap_or_else(|e| raise(e));
    match (found, info.is_null()) {
        (Some(found), false) => {
            // SAFETY: the caller's out-parameter, non-null, a BgwExitInfo by the header's declaration.
            unsafe { info.write(found) };
            true
        }
        _ => false,
    }
}

thread_local! {
    static TYPE_BUFFER: RefCell<[u8; crate::bgworker::types::BGW_MAXLEN]> =
        const { RefCell::new([0; crate::bgworker::types::BGW_MAXLEN]) };
}

/// The spec's `GetBackgroundWorkerTypeByPid`: a pointer to a buffer of the calling thread (valid until its next
/// call), or NULL.
#[no_mangle]
pub extern "C" fn GetBackgroundWorkerTypeByPid(pid: libc::pid_t) -> *const c_char {
    let Some(t) = dynamic::get_background_worker_type_by_pid(pid) else { return std::ptr::null() };
    TYPE_BUFFER.with(|b| {
        let mut buf = b.borrow_mut();
        let n = t.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&t.as_bytes()[..n]);
        buf[n] = 0;
        buf.as_ptr() as *const c_char
    })
}

/// The spec's `BackgroundWorkerInitializeConnection`: connects the worker to database `dbname` (NULL or empty:
/// none, the catalog only) as role `username` (NULL: the bootstrap superuser). Only for workers registered with
/// BGWORKER_BACKEND_DATABASE_CONNECTION, only once; every failure is FATAL (see `crate::spi::connection`).
#[no_mangle]
pub extern "C" fn BackgroundWorkerInitializeConnection(dbname: *const c_char, username: *const c_char, flags: u32) {
    use crate::spi::connection::{DbTarget, RoleTarget};
    let db = match text(dbname) {
        d if d.is_empty() => DbTarget::None,
        d => DbTarget::Name(d),
    };
    let user = if username.is_null() { RoleTarget::Bootstrap } else { RoleTarget::Name(text(username)) };
    connect_or_die(crate::spi::connection::initialize_connection(db, user, flags, spi_sql()));
    super::server::refresh_my_database_id();
}

/// The spec's `BackgroundWorkerInitializeConnectionByOid`: as `BackgroundWorkerInitializeConnection`, by oid
/// (InvalidOid, 0: no database / the bootstrap superuser).
#[no_mangle]
pub extern "C" fn BackgroundWorkerInitializeConnectionByOid(dboid: u32, useroid: u32, flags: u32) {
    use crate::spi::connection::{DbTarget, RoleTarget};
    let db = if dboid == 0 { DbTarget::None } else { DbTarget::Oid(dboid) };
    let user = if useroid == 0 { RoleTarget::Bootstrap } else { RoleTarget::Oid(useroid) };
    connect_or_die(crate::spi::connection::initialize_connection(db, user, flags, spi_sql()));
    super::server::refresh_my_database_id();
}

/// The SQL this worker's SPI speaks on an embedded database: PostgreSQL's (translated, as client sessions speak
/// it with `sql_dialect = postgresql`) for a worker of an extension written for PostgreSQL (its library has a
/// magic block: built against the server include tree), SQLite's for modules written for bgw, as before.
fn spi_sql() -> crate::spi::connection::SpiSql {
    use crate::spi::connection::SpiSql;
    let extension = crate::process::my_worker::my_spec().is_some_and(|s| super::loader::has_magic_block(&s.library));
    if extension && crate::process::setting_text("sql_dialect").as_deref() != Some("sqlite") {
        SpiSql::Postgres
    } else {
        SpiSql::Sqlite
    }
}

/// A refused connection is FATAL in a worker (an ERROR where no worker is running).
fn connect_or_die(outcome: Result<(), crate::spi::connection::ConnectError>) {
    if let Err(e) = outcome {
        finish(if e.fatal { FATAL } else { ERROR }, e.message, e.detail, e.hint);
    }
}

/// The spec's `BackgroundWorkerBlockSignals`.
#[no_mangle]
#[hot]
pub extern "C" fn BackgroundWorkerBlockSignals() {
    crate::process::my_worker::background_worker_block_signals();
}

/// The spec's `BackgroundWorkerUnblockSignals`.
#[no_mangle]
#[hot]
pub extern "C" fn BackgroundWorkerUnblockSignals() {
    crate::process::my_worker::background_worker_unblock_signals();
}

// ----- latches and the postmaster -----

/// PostgreSQL's `WaitLatch` on this process's latch (the only latch a module can name). Returns WL_* bits.
#[no_mangle]
#[hot]
pub extern "C" fn WaitLatch(_latch: *mut Latch, wake_events: c_int, timeout: c_long, _wait_event_info: u32) -> c_int {
    #[allow(clippy::useless_conversion)] // c_long is i64 here, i32 on 32-bit targets
    let timeout = i64::from(timeout);
    crate::latch::wait_latch(wake_events as u32, timeout) as c_int
}

/// PostgreSQL's `SetLatch` on this process's latch.
#[no_mangle]
#[hot]
pub extern "C" fn SetLatch(_latch: *mut Latch) {
    crate::latch::set_latch();
}

/// PostgreSQL's `ResetLatch` on this process's latch.
#[no_mangle]
#[hot]
pub extern "C" fn ResetLatch(_latch: *mut Latch) {
    crate::latch::reset_latch();
}

/// Sets the latch of another process of the host, by pid. Returns false if no such process could be signalled.
#[no_mangle]
pub extern "C" fn bgw_set_latch_pid(pid: libc::pid_t) -> bool {
    crate::latch::set_latch_of(pid)
}

/// PostgreSQL's `PostmasterIsAlive`.
#[no_mangle]
#[hot]
pub extern "C" fn PostmasterIsAlive() -> bool {
    crate::latch::postmaster_is_alive()
}

// ----- signals -----

/// PostgreSQL's `pqsignal`: installs `func` (or SIG_IGN / SIG_DFL) for `signo` with SA_RESTART; returns the
/// previous handler.
#[no_mangle]
pub extern "C" fn pqsignal(signo: c_int, func: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: a fully initialized sigaction; the handler is the caller's, which must be async-signal-safe (the
    // same contract as PostgreSQL's pqsignal).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        let mut old: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = func;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        if libc::sigaction(signo, &sa, &mut old) != 0 {
            return libc::SIG_ERR;
        }
        old.sa_sigaction
    }
}

/// Sets `ConfigReloadPending` (the flag C modules read), as a worker's default SIGHUP handler does so that a
/// module that keeps it still sees SIGHUP. Async-signal-safe.
#[hot]
pub fn set_config_reload_pending() {
    flag_set(std::ptr::addr_of_mut!(ConfigReloadPending), 1);
}

/// PostgreSQL's `SignalHandlerForConfigReload`: sets `ConfigReloadPending` and the latch.
#[no_mangle]
pub extern "C" fn SignalHandlerForConfigReload(_signo: c_int) {
    flag_set(std::ptr::addr_of_mut!(ConfigReloadPending), 1);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

/// PostgreSQL's `SignalHandlerForShutdownRequest`: sets `ShutdownRequestPending` and the latch.
#[no_mangle]
pub extern "C" fn SignalHandlerForShutdownRequest(_signo: c_int) {
    flag_set(std::ptr::addr_of_mut!(ShutdownRequestPending), 1);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

/// PostgreSQL's `die`: asks the process to end at its next `CHECK_FOR_INTERRUPTS()`.
#[no_mangle]
pub extern "C" fn die(_signo: c_int) {
    flag_set(std::ptr::addr_of_mut!(ProcDiePending), 1);
    flag_set(std::ptr::addr_of_mut!(InterruptPending), 1);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

/// What `CHECK_FOR_INTERRUPTS()` calls when `InterruptPending` is set: ends the worker if `die` asked it to.
#[no_mangle]
#[hot]
pub extern "C" fn ProcessInterrupts() {
    flag_set(std::ptr::addr_of_mut!(InterruptPending), 0);
    // SAFETY: a volatile read of a c_int global.
    if unsafe { std::ptr::addr_of!(ProcDiePending).read_volatile() } != 0 {
        let who = crate::process::my_worker::my_spec().map(|s| s.worker_type).unwrap_or_default();
        finish(FATAL, format!("terminating background worker \"{who}\" due to administrator command"), None, None);
    }
}

/// PostgreSQL's `ProcessConfigFile`: re-reads the configuration file (the context argument is accepted for
/// compatibility; a worker can only apply reloadable parameters).
#[no_mangle]
pub extern "C" fn ProcessConfigFile(_context: c_int) {
    crate::process::reload_config();
}

// ----- named shared memory -----

/// The most shared memory all modules together may request (1 GiB).
pub const MAX_ADDIN_BYTES: usize = 1 << 30;

static ADDIN_REQUESTED: Mutex<usize> = Mutex::new(0);

/// Bytes the preloaded modules requested.
pub fn requested_addin_bytes() -> usize {
    *ADDIN_REQUESTED.lock().unwrap_or_else(|e| e.into_inner())
}

/// PostgreSQL's `RequestAddinShmemSpace`: only while a module is being preloaded.
#[no_mangle]
pub extern "C" fn RequestAddinShmemSpace(size: usize) {
    let Some(module) = super::loader::loading_module() else {
        finish_error("cannot request additional shared memory outside shared_preload_libraries".into());
        return;
    };
    let mut total = ADDIN_REQUESTED.lock().unwrap_or_else(|e| e.into_inner());
    let rounded = size.div_ceil(crate::shmem::addin::ALIGN).saturating_mul(crate::shmem::addin::ALIGN);
    match total.checked_add(rounded).filter(|&t| t <= MAX_ADDIN_BYTES) {
        Some(t) => *total = t,
        None => {
            drop(total);
            finish(
                ERROR,
                format!("module \"{module}\" requested too much shared memory ({size} bytes)"),
                None,
                Some(format!("All modules together may request at most {MAX_ADDIN_BYTES} bytes.")),
            );
        }
    }
}

/// PostgreSQL's `ShmemInitStruct`: creates (zeroed) or attaches the named area; `*found` says which.
#[no_mangle]
#[hot]
pub extern "C" fn ShmemInitStruct(name: *const c_char, size: usize, found: *mut bool) -> *mut std::ffi::c_void {
    // Borrowed: a worker attaching its module's area allocates nothing.
    let name = text_borrowed(name);
    let outcome = match crate::shmem::attached() {
        None => Err(format!("cannot attach shared memory \"{name}\": this process has no shared memory access")),
        Some(shm) => shm.addin().init_struct(&name, size).map_err(|e| e.to_string()),
    };
    drop(name);
    match outcome {
        Ok((p, was_found)) => {
            if !found.is_null() {
                // SAFETY: the caller's out-parameter, non-null.
                unsafe { found.write(was_found) };
            }
            p as *mut std::ffi::c_void
        }
        Err(message) => {
            finish_error(message);
            std::ptr::null_mut()
        }
    }
}
