//! The host's C ABI, declared for Rust, and the only place in the SDK that calls it.
//!
//! Purpose: every function and global of `include/bgworker.h` that the SDK uses is declared here once, in an
//! `extern "C"` block. Each declaration is wrapped by a small safe function, so the rest of the crate has no
//! `unsafe`. The C structs and constants it passes are not defined here: they are `bgw-abi`'s (the one Rust
//! definition of the header, shared with the host), re-exported so the SDK names them `ffi::...`.
//!
//! Layer: the bottom of the SDK. This module imports nothing of the SDK; what the host calls back (a SQL
//! function's trampoline) reaches the SDK's SQL layer through the [`SqlDispatch`] trait, which `crate::sql`
//! implements.
//!
//! Invariants:
//! - Nothing here is defined by the SDK. The symbols are exported by the running `bgw` executable and resolve
//!   when the host loads the module with `dlopen`; a module never links a copy of the host. A program that links
//!   the SDK but is not loaded by the host (a unit test, a doctest) must not reach these functions.
//! - The struct layouts are the header's: `bgw-abi`'s tests compile the header and compare every field.
//! - Strings passed to the host are NUL-terminated `CString`s that outlive the call; pointers the host returns
//!   (a malloc'ed handle, a type name in a static buffer) are copied at once and, for the handle, freed.
//!
//! Runs in: whichever process calls into the SDK: the postmaster (only `_PG_init`, during preload), a worker,
//! or any thread a worker starts.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_long, c_void, CStr, CString};
use std::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicPtr, AtomicU16, AtomicU32, AtomicU64,
    AtomicU8, AtomicUsize, Ordering,
};

pub use bgw_abi::{
    bgw_sql_function, config_enum_entry, pid_t, sig_atomic_t, BackgroundWorker, BackgroundWorkerHandle,
    BgwHandleStatus, BgwSqlValue, Latch, BGWORKER_BACKEND_DATABASE_CONNECTION, BGWORKER_BYPASS_ALLOWCONN,
    BGWORKER_BYPASS_ROLELOGINCHECK, BGWORKER_CLASS_PARALLEL, BGWORKER_SHMEM_ACCESS, BGW_DEFAULT_RESTART_INTERVAL,
    BGW_EXTRALEN, BGW_MAXLEN, BGW_MAX_ARG_BYTES, BGW_MAX_RESTART_INTERVAL, BGW_NEVER_RESTART, BGW_SPI_ERROR_STATEMENT,
    BGW_SQLFN_MAX_ARGS, BGW_SQLFN_SUPERUSER, BGW_SQL_BOOL, BGW_SQL_FLOAT8, BGW_SQL_INT8, BGW_SQL_NULL, BGW_SQL_TEXT,
    DEBUG1, DEBUG2, DEBUG3, DEBUG4, DEBUG5, ERROR, FATAL, GUC_UNIT_BYTE, GUC_UNIT_KB, GUC_UNIT_MIN, GUC_UNIT_MS,
    GUC_UNIT_S, INFO, LOG, MAXPGPATH, NOTICE, PGC_POSTMASTER, PGC_SIGHUP, PG_WAIT_EXTENSION, SPI_ERROR_ARGUMENT,
    SPI_ERROR_CONNECT, SPI_ERROR_PARAM, SPI_ERROR_TRANSACTION, SPI_ERROR_UNCONNECTED, WARNING, WL_EXIT_ON_PM_DEATH,
    WL_LATCH_SET, WL_POSTMASTER_DEATH, WL_TIMEOUT,
};
pub use bgw_abi::{BgWorkerStart_ConsistentState, BgWorkerStart_PostmasterStart, BgWorkerStart_RecoveryFinished};

#[allow(non_upper_case_globals, non_snake_case)]
unsafe extern "C" {
    fn RegisterBackgroundWorker(worker: *mut BackgroundWorker);
    fn RegisterDynamicBackgroundWorkerWait(
        worker: *mut BackgroundWorker,
        handle: *mut *mut BackgroundWorkerHandle,
        timeout_ms: c_int,
    ) -> bool;
    fn RegisterDynamicBackgroundWorker(worker: *mut BackgroundWorker, handle: *mut *mut BackgroundWorkerHandle)
        -> bool;
    fn GetBackgroundWorkerPid(handle: *mut BackgroundWorkerHandle, pidp: *mut pid_t) -> BgwHandleStatus;
    fn WaitForBackgroundWorkerStartup(handle: *mut BackgroundWorkerHandle, pidp: *mut pid_t) -> BgwHandleStatus;
    fn WaitForBackgroundWorkerShutdown(handle: *mut BackgroundWorkerHandle) -> BgwHandleStatus;
    fn GetBackgroundWorkerTypeByPid(pid: pid_t) -> *const c_char;
    fn TerminateBackgroundWorker(handle: *mut BackgroundWorkerHandle);
    fn BackgroundWorkerReportReady();
    fn WaitForBackgroundWorkerReady(
        handle: *mut BackgroundWorkerHandle,
        pidp: *mut pid_t,
        timeout_ms: c_int,
    ) -> BgwHandleStatus;
    fn TerminateBackgroundWorkerWithGrace(handle: *mut BackgroundWorkerHandle, grace_ms: c_int);
    fn ResetBackgroundWorker(handle: *mut BackgroundWorkerHandle) -> bool;
    fn GetBackgroundWorkerExitReason(handle: *mut BackgroundWorkerHandle, info: *mut bgw_abi::BgwExitInfo) -> bool;
    static MyBgworkerEntry: *mut BackgroundWorker;
    static process_shared_preload_libraries_in_progress: bool;
    fn BackgroundWorkerBlockSignals();
    fn BackgroundWorkerUnblockSignals();

    static MyLatch: *mut Latch;
    fn WaitLatch(latch: *mut Latch, wake_events: c_int, timeout: c_long, wait_event_info: u32) -> c_int;
    fn SetLatch(latch: *mut Latch);
    fn ResetLatch(latch: *mut Latch);
    fn bgw_set_latch_pid(pid: pid_t) -> bool;
    fn bgw_register_dynamic_with_arg(
        worker: *mut BackgroundWorker,
        handle: *mut *mut BackgroundWorkerHandle,
        arg: *const libc::c_void,
        len: usize,
    ) -> bool;
    fn bgw_worker_arg(len: *mut usize) -> *mut libc::c_void;
    fn PostmasterIsAlive() -> bool;

    fn pqsignal(signo: c_int, func: libc::sighandler_t) -> libc::sighandler_t;
    fn SignalHandlerForConfigReload(signo: c_int);
    fn SignalHandlerForShutdownRequest(signo: c_int);
    static mut ConfigReloadPending: sig_atomic_t;
    static mut ShutdownRequestPending: sig_atomic_t;
    fn ProcessConfigFile(context: c_int);

    fn DefineCustomBoolVariable(
        name: *const c_char,
        short_desc: *const c_char,
        long_desc: *const c_char,
        value_addr: *mut bool,
        boot_value: bool,
        context: c_int,
        flags: c_int,
        check_hook: *const c_void,
        assign_hook: *const c_void,
        show_hook: *const c_void,
    );
    fn DefineCustomIntVariable(
        name: *const c_char,
        short_desc: *const c_char,
        long_desc: *const c_char,
        value_addr: *mut c_int,
        boot_value: c_int,
        min_value: c_int,
        max_value: c_int,
        context: c_int,
        flags: c_int,
        check_hook: *const c_void,
        assign_hook: *const c_void,
        show_hook: *const c_void,
    );
    fn DefineCustomRealVariable(
        name: *const c_char,
        short_desc: *const c_char,
        long_desc: *const c_char,
        value_addr: *mut f64,
        boot_value: f64,
        min_value: f64,
        max_value: f64,
        context: c_int,
        flags: c_int,
        check_hook: *const c_void,
        assign_hook: *const c_void,
        show_hook: *const c_void,
    );
    fn DefineCustomStringVariable(
        name: *const c_char,
        short_desc: *const c_char,
        long_desc: *const c_char,
        value_addr: *mut *mut c_char,
        boot_value: *const c_char,
        context: c_int,
        flags: c_int,
        check_hook: *const c_void,
        assign_hook: *const c_void,
        show_hook: *const c_void,
    );
    fn DefineCustomEnumVariable(
        name: *const c_char,
        short_desc: *const c_char,
        long_desc: *const c_char,
        value_addr: *mut c_int,
        boot_value: c_int,
        options: *const config_enum_entry,
        context: c_int,
        flags: c_int,
        check_hook: *const c_void,
        assign_hook: *const c_void,
        show_hook: *const c_void,
    );
    fn MarkGUCPrefixReserved(class_name: *const c_char);

    fn RequestAddinShmemSpace(size: usize);
    fn ShmemInitStruct(name: *const c_char, size: usize, found: *mut bool) -> *mut c_void;

    fn bgw_define_sql_function(
        name: *const c_char,
        nargs: c_int,
        result_type: c_int,
        flags: c_int,
        f: Option<bgw_sql_function>,
    );
    fn bgw_sql_result_text(result: *mut BgwSqlValue, text: *const c_char);
    fn bgw_sql_error(sqlstate: *const c_char, message: *const c_char, hint: *const c_char);

    fn BackgroundWorkerInitializeConnection(dbname: *const c_char, username: *const c_char, flags: u32);
    fn BackgroundWorkerInitializeConnectionByOid(dboid: u32, useroid: u32, flags: u32);
    fn SPI_connect() -> c_int;
    fn SPI_finish() -> c_int;
    static SPI_processed: u64;
    fn bgw_spi_execute_params(
        src: *const c_char,
        nparams: c_int,
        values: *const *const c_char,
        read_only: bool,
        count: c_long,
    ) -> c_int;
    fn bgw_spi_nfields() -> c_int;
    fn bgw_spi_fname(col: c_int) -> *const c_char;
    fn bgw_spi_getvalue(row: u64, col: c_int) -> *const c_char;
    fn bgw_spi_error_message() -> *const c_char;
    fn StartTransactionCommand();
    fn CommitTransactionCommand();
    fn AbortCurrentTransaction();
    fn Async_Notify(channel: *const c_char, payload: *const c_char);

    fn bgw_elog(elevel: c_int, message: *const c_char);
    fn bgw_errstart(elevel: c_int);
    fn bgw_errmsg(message: *const c_char) -> c_int;
    fn bgw_errdetail(detail: *const c_char) -> c_int;
    fn bgw_errhint(hint: *const c_char) -> c_int;
    fn bgw_errfinish();
}

// ----- registration and handles -----

/// `RegisterBackgroundWorker(worker)`: the host copies the registration (and only accepts it while
/// `shared_preload_libraries` are being loaded; otherwise it logs that and ignores it).
pub fn register_background_worker(worker: &BackgroundWorker) {
    let mut copy = *worker;
    // SAFETY: a valid, fully initialized registration that lives across the call; the host only reads it.
    unsafe { RegisterBackgroundWorker(&mut copy) }
}

/// Whether the host is preloading this module (its `_PG_init` runs in the postmaster at start).
pub fn preloading() -> bool {
    // SAFETY: a read of the host's exported flag, which only the postmaster writes, while single-threaded.
    unsafe { std::ptr::addr_of!(process_shared_preload_libraries_in_progress).read_volatile() }
}

/// `RegisterDynamicBackgroundWorker(worker, &handle)`: Some(handle) on success, None when no slot is free.
/// A registration the host refuses is an ERROR in the host, which ends the calling process.
pub fn register_dynamic_background_worker(worker: &BackgroundWorker) -> Option<BackgroundWorkerHandle> {
    register_with(worker, |w, out| {
        // SAFETY: a valid registration and a valid out-pointer, both live across the call.
        unsafe { RegisterDynamicBackgroundWorker(w, out) }
    })
}

/// `RegisterDynamicBackgroundWorkerWait(worker, &handle, timeout_ms)` (beyond PostgreSQL): waits up to
/// `timeout_ms` (-1: as long as it takes) for a free slot; None when none came in time.
pub fn register_dynamic_background_worker_wait(
    worker: &BackgroundWorker,
    timeout_ms: c_int,
) -> Option<BackgroundWorkerHandle> {
    register_with(worker, |w, out| {
        // SAFETY: a valid registration and a valid out-pointer, both live across the call.
        unsafe { RegisterDynamicBackgroundWorkerWait(w, out, timeout_ms) }
    })
}

fn register_with(
    worker: &BackgroundWorker,
    call: impl FnOnce(*mut BackgroundWorker, *mut *mut BackgroundWorkerHandle) -> bool,
) -> Option<BackgroundWorkerHandle> {
    let mut copy = *worker;
    let mut out: *mut BackgroundWorkerHandle = std::ptr::null_mut();
    let ok = call(&mut copy, &mut out);
    if !ok || out.is_null() {
        return None;
    }
    // SAFETY: on success the host stored a malloc'ed, initialized handle in `out`; we copy it, then free it
    // with the C allocator that made it (the header's contract: "free it with free()").
    unsafe {
        let handle = out.read();
        libc::free(out as *mut libc::c_void);
        Some(handle)
    }
}

/// `bgw_register_dynamic_with_arg(worker, &handle, arg, len)`: as [`register_dynamic_background_worker`], with
/// `arg` attached (the caller checked its length against `BGW_MAX_ARG_BYTES`).
pub fn register_dynamic_with_arg(worker: &BackgroundWorker, arg: &[u8]) -> Option<BackgroundWorkerHandle> {
    let mut copy = *worker;
    let mut out: *mut BackgroundWorkerHandle = std::ptr::null_mut();
    // SAFETY: a valid registration, a valid out-pointer and `arg.len()` readable bytes, all live across the call.
    let ok = unsafe { bgw_register_dynamic_with_arg(&mut copy, &mut out, arg.as_ptr().cast(), arg.len()) };
    if !ok || out.is_null() {
        return None;
    }
    // SAFETY: as in register_dynamic_background_worker: a malloc'ed handle, copied, then freed.
    unsafe {
        let handle = out.read();
        libc::free(out as *mut libc::c_void);
        Some(handle)
    }
}

/// `bgw_worker_arg`: a copy of this worker's argument, None when its registration has none. (In a process that
/// is not a worker with shared-memory access the host raises an ERROR: the caller checks first.)
pub fn worker_arg() -> Option<Vec<u8>> {
    let mut len = 0usize;
    // SAFETY: an out-parameter valid for the call.
    let p = unsafe { bgw_worker_arg(&mut len) };
    if p.is_null() {
        return None;
    }
    // SAFETY: the host returned a malloc'ed block of `len` bytes (at least one byte allocated), ours to free.
    let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, len) }.to_vec();
    // SAFETY: the block came from the C allocator; freed once.
    unsafe { libc::free(p) };
    Some(bytes)
}

/// `GetBackgroundWorkerPid`: the raw status code and, when started, the pid.
pub fn get_background_worker_pid(handle: BackgroundWorkerHandle) -> (BgwHandleStatus, pid_t) {
    let mut h = handle;
    let mut pid: pid_t = 0;
    // SAFETY: a temporary handle on the stack and an out-parameter, both valid for the call.
    let rc = unsafe { GetBackgroundWorkerPid(&mut h, &mut pid) };
    (rc, pid)
}

/// `WaitForBackgroundWorkerStartup`: the raw status code and, when started, the pid.
pub fn wait_for_background_worker_startup(handle: BackgroundWorkerHandle) -> (BgwHandleStatus, pid_t) {
    let mut h = handle;
    let mut pid: pid_t = 0;
    // SAFETY: as in get_background_worker_pid.
    let rc = unsafe { WaitForBackgroundWorkerStartup(&mut h, &mut pid) };
    (rc, pid)
}

/// `WaitForBackgroundWorkerShutdown`: the raw status code.
pub fn wait_for_background_worker_shutdown(handle: BackgroundWorkerHandle) -> BgwHandleStatus {
    let mut h = handle;
    // SAFETY: a temporary handle on the stack, valid for the call.
    unsafe { WaitForBackgroundWorkerShutdown(&mut h) }
}

/// `TerminateBackgroundWorker`.
pub fn terminate_background_worker(handle: BackgroundWorkerHandle) {
    let mut h = handle;
    // SAFETY: a temporary handle on the stack, valid for the call.
    unsafe { TerminateBackgroundWorker(&mut h) }
}

/// `BackgroundWorkerReportReady`.
pub fn background_worker_report_ready() {
    // SAFETY: no arguments; the host checks that the caller is a worker.
    unsafe { BackgroundWorkerReportReady() }
}

/// `WaitForBackgroundWorkerReady`: the raw status code and, when ready, the pid.
pub fn wait_for_background_worker_ready(handle: BackgroundWorkerHandle, timeout_ms: c_int) -> (BgwHandleStatus, pid_t) {
    let mut h = handle;
    let mut pid: pid_t = 0;
    // SAFETY: as in get_background_worker_pid.
    let rc = unsafe { WaitForBackgroundWorkerReady(&mut h, &mut pid, timeout_ms) };
    (rc, pid)
}

/// `TerminateBackgroundWorkerWithGrace`.
pub fn terminate_background_worker_with_grace(handle: BackgroundWorkerHandle, grace_ms: c_int) {
    let mut h = handle;
    // SAFETY: a temporary handle on the stack, valid for the call.
    unsafe { TerminateBackgroundWorkerWithGrace(&mut h, grace_ms) }
}

/// `ResetBackgroundWorker`.
pub fn reset_background_worker(handle: BackgroundWorkerHandle) -> bool {
    let mut h = handle;
    // SAFETY: a temporary handle on the stack, valid for the call.
    unsafe { ResetBackgroundWorker(&mut h) }
}

/// `GetBackgroundWorkerExitReason`: the record, or None when the host could not read it.
pub fn background_worker_exit_reason(handle: BackgroundWorkerHandle) -> Option<bgw_abi::BgwExitInfo> {
    let mut h = handle;
    let mut info = bgw_abi::BgwExitInfo::default();
    // SAFETY: a temporary handle and an out-parameter on the stack, valid for the call.
    unsafe { GetBackgroundWorkerExitReason(&mut h, &mut info) }.then_some(info)
}

/// `GetBackgroundWorkerTypeByPid`, copied out of the host's static buffer at once.
pub fn background_worker_type_by_pid(pid: pid_t) -> Option<String> {
    // SAFETY: the host returns NULL or a NUL-terminated string in a static buffer, valid until its next call; we
    // copy it before returning.
    unsafe {
        let p = GetBackgroundWorkerTypeByPid(pid);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// A copy of `*MyBgworkerEntry`, or None outside a worker.
pub fn my_bgworker_entry() -> Option<BackgroundWorker> {
    // SAFETY: the host sets MyBgworkerEntry once, at worker start, before any module code runs, to a registration
    // it never frees or changes; outside workers it stays NULL. Reading the pointer and copying the struct (all
    // integers and byte arrays: every bit pattern is valid) is then sound.
    unsafe {
        let p = std::ptr::addr_of!(MyBgworkerEntry).read();
        (!p.is_null()).then(|| p.read())
    }
}

/// `BackgroundWorkerBlockSignals`.
pub fn block_signals() {
    // SAFETY: no arguments; changes this thread's signal mask.
    unsafe { BackgroundWorkerBlockSignals() }
}

/// `BackgroundWorkerUnblockSignals`.
pub fn unblock_signals() {
    // SAFETY: no arguments; changes this thread's signal mask.
    unsafe { BackgroundWorkerUnblockSignals() }
}

// ----- latches -----

fn my_latch() -> *mut Latch {
    // SAFETY: reading the host's pointer to this process's latch (set at process start; the host ignores the
    // argument of the latch functions anyway).
    unsafe { std::ptr::addr_of!(MyLatch).read() }
}

/// `WaitLatch(MyLatch, events, timeout_ms, PG_WAIT_EXTENSION)`.
pub fn wait_latch(events: c_int, timeout_ms: c_long) -> c_int {
    // SAFETY: MyLatch is the only latch a module may name; the other arguments are plain integers.
    unsafe { WaitLatch(my_latch(), events, timeout_ms, PG_WAIT_EXTENSION) }
}

/// `SetLatch(MyLatch)`.
pub fn set_latch() {
    // SAFETY: see wait_latch.
    unsafe { SetLatch(my_latch()) }
}

/// `ResetLatch(MyLatch)`.
pub fn reset_latch() {
    // SAFETY: see wait_latch.
    unsafe { ResetLatch(my_latch()) }
}

/// `bgw_set_latch_pid(pid)`.
pub fn set_latch_of(pid: pid_t) -> bool {
    // SAFETY: a plain integer argument.
    unsafe { bgw_set_latch_pid(pid) }
}

/// `PostmasterIsAlive()`.
pub fn postmaster_is_alive() -> bool {
    // SAFETY: no arguments.
    unsafe { PostmasterIsAlive() }
}

// ----- signals -----

/// Installs the host's `SignalHandlerForConfigReload` for SIGHUP and `SignalHandlerForShutdownRequest` for
/// SIGTERM. Returns false if the host could not install one of them.
pub fn install_standard_handlers() -> bool {
    let reload: unsafe extern "C" fn(c_int) = SignalHandlerForConfigReload;
    let shutdown: unsafe extern "C" fn(c_int) = SignalHandlerForShutdownRequest;
    // SAFETY: the handlers are the host's own, async-signal-safe (they set a flag and the latch), with the
    // `void handler(int)` signature pqsignal expects.
    unsafe {
        pqsignal(libc::SIGHUP, reload as libc::sighandler_t) != libc::SIG_ERR
            && pqsignal(libc::SIGTERM, shutdown as libc::sighandler_t) != libc::SIG_ERR
    }
}

/// Atomically reads and clears `ConfigReloadPending`.
pub fn take_config_reload_pending() -> bool {
    // SAFETY: ConfigReloadPending is the host's aligned, never-moving `volatile sig_atomic_t` (a C int). Viewing it
    // as an AtomicI32 (same size and alignment) makes the read-and-clear one indivisible step, so a SIGHUP that
    // arrives in between is not lost.
    let flag = unsafe { std::sync::atomic::AtomicI32::from_ptr(std::ptr::addr_of_mut!(ConfigReloadPending)) };
    flag.swap(0, std::sync::atomic::Ordering::SeqCst) != 0
}

/// Reads `ShutdownRequestPending` (it is never cleared: a shutdown request stays requested).
pub fn shutdown_request_pending() -> bool {
    // SAFETY: as in take_config_reload_pending; a load only.
    let flag = unsafe { std::sync::atomic::AtomicI32::from_ptr(std::ptr::addr_of_mut!(ShutdownRequestPending)) };
    flag.load(std::sync::atomic::Ordering::SeqCst) != 0
}

/// `ProcessConfigFile(PGC_SIGHUP)`.
pub fn process_config_file() {
    // SAFETY: a plain integer argument.
    unsafe { ProcessConfigFile(PGC_SIGHUP) }
}

// ----- custom parameters -----
//
// The host keeps a pointer to each variable for the life of the process and writes the parameter's value into
// it at definition and after every reload in this process (from the thread that calls ProcessConfigFile). The
// wrappers therefore only take `&'static` atomics: storage that never moves or goes away, and that Rust code can
// read while the host may write it (an atomic has the layout of the C type it stands for).

const NO_HOOK: *const c_void = std::ptr::null();

/// `DefineCustomBoolVariable`.
pub fn define_bool(name: &CStr, desc: &CStr, var: &'static AtomicBool, default: bool, context: c_int, flags: c_int) {
    // SAFETY: NUL-terminated strings valid for the call (the host copies them); `var` is a bool-sized atomic that
    // lives forever; no hooks.
    unsafe {
        DefineCustomBoolVariable(
            name.as_ptr(),
            desc.as_ptr(),
            std::ptr::null(),
            var.as_ptr(),
            default,
            context,
            flags,
            NO_HOOK,
            NO_HOOK,
            NO_HOOK,
        )
    }
}

/// `DefineCustomIntVariable`.
#[allow(clippy::too_many_arguments)]
pub fn define_int(
    name: &CStr,
    desc: &CStr,
    var: &'static AtomicI32,
    default: i32,
    min: i32,
    max: i32,
    context: c_int,
    flags: c_int,
) {
    // SAFETY: as in define_bool; AtomicI32 has the layout of a C int.
    unsafe {
        DefineCustomIntVariable(
            name.as_ptr(),
            desc.as_ptr(),
            std::ptr::null(),
            var.as_ptr(),
            default,
            min,
            max,
            context,
            flags,
            NO_HOOK,
            NO_HOOK,
            NO_HOOK,
        )
    }
}

/// `DefineCustomRealVariable`; the variable holds the bits of an f64.
#[allow(clippy::too_many_arguments)]
pub fn define_real(
    name: &CStr,
    desc: &CStr,
    var: &'static AtomicU64,
    default: f64,
    min: f64,
    max: f64,
    context: c_int,
    flags: c_int,
) {
    // SAFETY: as in define_bool; AtomicU64 has the size and alignment of a C double, and any bit pattern the host
    // stores is a valid u64 (read back with f64::from_bits).
    unsafe {
        DefineCustomRealVariable(
            name.as_ptr(),
            desc.as_ptr(),
            std::ptr::null(),
            var.as_ptr() as *mut f64,
            default,
            min,
            max,
            context,
            flags,
            NO_HOOK,
            NO_HOOK,
            NO_HOOK,
        )
    }
}

/// `DefineCustomStringVariable`.
pub fn define_string(
    name: &CStr,
    desc: &CStr,
    var: &'static AtomicPtr<c_char>,
    default: &CStr,
    context: c_int,
    flags: c_int,
) {
    // SAFETY: as in define_bool; AtomicPtr has the layout of a `char *`, into which the host stores strings it
    // allocated (and frees when it stores the next one).
    unsafe {
        DefineCustomStringVariable(
            name.as_ptr(),
            desc.as_ptr(),
            std::ptr::null(),
            var.as_ptr(),
            default.as_ptr(),
            context,
            flags,
            NO_HOOK,
            NO_HOOK,
            NO_HOOK,
        )
    }
}

/// `DefineCustomEnumVariable`. The option list is built here and leaked: PostgreSQL's contract is that it stays
/// valid for the life of the process (bgw copies it, but a module should not rely on that).
pub fn define_enum(
    name: &CStr,
    desc: &CStr,
    var: &'static AtomicI32,
    default: i32,
    options: &[(CString, i32)],
    context: c_int,
    flags: c_int,
) {
    let mut entries: Vec<config_enum_entry> =
        options.iter().map(|(n, v)| config_enum_entry { name: n.clone().into_raw(), val: *v, hidden: false }).collect();
    entries.push(config_enum_entry { name: std::ptr::null(), val: 0, hidden: false });
    let entries: &'static [config_enum_entry] = Vec::leak(entries);
    // SAFETY: as in define_bool; `entries` is a NULL-terminated array of leaked NUL-terminated names.
    unsafe {
        DefineCustomEnumVariable(
            name.as_ptr(),
            desc.as_ptr(),
            std::ptr::null(),
            var.as_ptr(),
            default,
            entries.as_ptr(),
            context,
            flags,
            NO_HOOK,
            NO_HOOK,
            NO_HOOK,
        )
    }
}

/// The text a string parameter's variable points to (None while it is NULL).
///
/// The host frees the previous string when it stores a new one (at a reload in this process), so this must not
/// run at the same time as `ProcessConfigFile` on another thread; the SDK documents that string parameters are
/// read from the thread that reloads.
pub fn read_string_var(var: &AtomicPtr<c_char>) -> Option<String> {
    let p = var.load(Ordering::Acquire);
    // SAFETY: NULL or a NUL-terminated string the host allocated and keeps until its next store, which (see
    // above) does not happen during this copy.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// `MarkGUCPrefixReserved`.
pub fn mark_guc_prefix_reserved(prefix: &CStr) {
    // SAFETY: a NUL-terminated string valid for the call.
    unsafe { MarkGUCPrefixReserved(prefix.as_ptr()) }
}

// ----- named shared memory -----

/// `RequestAddinShmemSpace(size)`.
pub fn request_addin_shmem_space(size: usize) {
    // SAFETY: a plain integer argument.
    unsafe { RequestAddinShmemSpace(size) }
}

/// `ShmemInitStruct(name, size, &found)`: the area's address (never NULL: the host ends the process, or jumps to
/// an error trap, rather than return NULL) and whether it existed.
pub fn shmem_init_struct(name: &CStr, size: usize) -> (*mut c_void, bool) {
    let mut found = false;
    // SAFETY: a NUL-terminated name and a valid out-parameter, both live across the call.
    let p = unsafe { ShmemInitStruct(name.as_ptr(), size, &mut found) };
    (p, found)
}

// The marker trait lives here with the rest of the SDK's unsafe code; `shmem` re-exports it.

/// Types that may live in shared memory: every bit pattern of all-zero bytes is a valid value, all access goes
/// through `&self` (interior mutability that works across processes, i.e. atomics), and they hold no pointers.
///
/// # Safety
///
/// Implement it only for types that are valid when all-zero, are `Sync`, hold no pointers or references
/// (another process cannot follow them), and need no `Drop` (nothing in shared memory is dropped). Prefer
/// [`shared_struct!`](crate::shared_struct), which checks this for structs of atomics.
pub unsafe trait Zeroable: Sync + 'static {}

macro_rules! zeroable {
    ($($t:ty),*) => { $(
        // SAFETY: an atomic integer is valid at zero, Sync, pointer-free, and has no Drop.
        unsafe impl Zeroable for $t {}
    )* };
}
zeroable!(
    AtomicBool,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize
);
// SAFETY: an array of Zeroable elements is all of the elements' properties at once.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}

/// Views the zero-initialized shared area at `p` as a `T`.
///
/// The caller (`shmem::init_struct`) guarantees: `p` came from `ShmemInitStruct` with `size_of::<T>()` bytes,
/// is aligned for `T`, and `T` is valid when all-zero and safe to share between processes (`Zeroable`).
pub fn shared_ref<T: Zeroable>(p: *mut c_void) -> Option<&'static T> {
    if p.is_null() || !(p as *const T).is_aligned() {
        return None;
    }
    // SAFETY: see above: the memory is mapped for the life of the process, large enough, aligned, zeroed by the
    // host at creation (or written since only through T's atomic fields), and T: Zeroable (+ Sync) promises that
    // every such state is a valid T accessed only through shared references.
    Some(unsafe { &*(p as *const T) })
}

// ----- SQL functions -----

/// `bgw_define_sql_function(name, nargs, result_type, flags, f)`.
pub fn define_sql_function(name: &CStr, nargs: c_int, result_type: c_int, flags: c_int, f: bgw_sql_function) {
    // SAFETY: a NUL-terminated name valid for the call; `f` is an `extern "C"` function with the header's
    // signature that lives as long as the module (which is never unloaded).
    unsafe { bgw_define_sql_function(name.as_ptr(), nargs, result_type, flags, Some(f)) }
}

/// Reports an error from a SQL function without jumping (`bgw_sql_error`); the function then returns non-zero.
pub fn sql_error(sqlstate: &CStr, message: &CStr, hint: Option<&CStr>) {
    // SAFETY: NUL-terminated strings (or NULL for the hint) valid for the call; the host copies them.
    unsafe { bgw_sql_error(sqlstate.as_ptr(), message.as_ptr(), hint.map_or(std::ptr::null(), CStr::as_ptr)) }
}

/// A SQL argument or result, copied out of (or to be copied into) a `BgwSqlValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawSqlValue {
    Null,
    Int(i64),
    Real(f64),
    /// The text as C has it (an argument's bytes as the host passed them; a result's as the host will copy them).
    Text(CString),
    Bool(bool),
}

/// The error a SQL function fails with, as the host takes it: SQLSTATE, message, hint.
pub type SqlErrorParts = (CString, CString, Option<CString>);

/// The Rust side of a SQL function, as its trampoline calls it. `crate::sql` implements it (one type per Rust
/// function), so that this module, at the bottom of the SDK, needs to know nothing above it.
pub trait SqlDispatch: 'static {
    /// Runs the function on the converted arguments. Must neither unwind nor jump.
    fn dispatch(args: Vec<RawSqlValue>) -> Result<RawSqlValue, SqlErrorParts>;
}

/// The C function the host calls for a SQL function defined through `D`: converts the arguments, calls
/// `D::dispatch` (which catches panics and never jumps), and writes the result or reports the error with
/// `bgw_sql_error`.
pub unsafe extern "C" fn sql_trampoline<D: SqlDispatch>(
    nargs: c_int,
    args: *const BgwSqlValue,
    result: *mut BgwSqlValue,
) -> c_int {
    let mut values = Vec::with_capacity(nargs.max(0) as usize);
    if !args.is_null() {
        for i in 0..nargs.max(0) as usize {
            // SAFETY: the host passes `nargs` initialized values; texts are NUL-terminated (or NULL) and valid for
            // the call. Texts are copied at once.
            let a = unsafe { &*args.add(i) };
            values.push(match a.kind {
                BGW_SQL_INT8 => RawSqlValue::Int(a.int8),
                BGW_SQL_FLOAT8 => RawSqlValue::Real(a.float8),
                BGW_SQL_BOOL => RawSqlValue::Bool(a.int8 != 0),
                BGW_SQL_TEXT if !a.text.is_null() => {
                    // SAFETY: see above.
                    RawSqlValue::Text(unsafe { CStr::from_ptr(a.text) }.to_owned())
                }
                _ => RawSqlValue::Null,
            });
        }
    }
    match D::dispatch(values) {
        Ok(value) => {
            if result.is_null() {
                return 0;
            }
            // SAFETY: `result` is the host's result slot for this call, valid and writable.
            unsafe {
                match value {
                    RawSqlValue::Null => (*result).kind = BGW_SQL_NULL,
                    RawSqlValue::Int(i) => ((*result).kind, (*result).int8) = (BGW_SQL_INT8, i),
                    RawSqlValue::Real(r) => ((*result).kind, (*result).float8) = (BGW_SQL_FLOAT8, r),
                    RawSqlValue::Bool(b) => ((*result).kind, (*result).int8) = (BGW_SQL_BOOL, b as i64),
                    // The host copies the text; `t` is freed when this scope ends.
                    RawSqlValue::Text(t) => bgw_sql_result_text(result, t.as_ptr()),
                }
            }
            0
        }
        Err((sqlstate, message, hint)) => {
            sql_error(&sqlstate, &message, hint.as_deref());
            1
        }
    }
}

// ----- database connections and SPI -----

/// `BackgroundWorkerInitializeConnection`: returns only on success (every failure is FATAL in the host).
pub fn initialize_connection(database: Option<&CStr>, user: Option<&CStr>, flags: u32) {
    let db = database.map_or(std::ptr::null(), CStr::as_ptr);
    let user = user.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: NULL or NUL-terminated strings that outlive the call; the host only reads them.
    unsafe { BackgroundWorkerInitializeConnection(db, user, flags) }
}

/// `BackgroundWorkerInitializeConnectionByOid`: returns only on success.
pub fn initialize_connection_by_oid(database: u32, user: u32, flags: u32) {
    // SAFETY: plain values.
    unsafe { BackgroundWorkerInitializeConnectionByOid(database, user, flags) }
}

/// Serializes the SPI calls of this module's threads: a result is read back with several calls, and the host's
/// pointers stay valid only until the next SPI call.
static SPI_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn spi_lock() -> std::sync::MutexGuard<'static, ()> {
    SPI_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies a string the host returned (NULL: None).
fn host_text(p: *const c_char) -> Option<String> {
    // SAFETY: the host returns NULL or a NUL-terminated string valid until its next SPI call, which cannot
    // happen while we hold the SPI lock.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The last SPI error's text.
fn spi_error_text() -> String {
    // SAFETY: no arguments; the pointer is copied at once.
    host_text(unsafe { bgw_spi_error_message() }).unwrap_or_default()
}

/// `SPI_connect`: Ok, or the code and the host's explanation.
pub fn spi_connect() -> Result<(), (c_int, String)> {
    let _g = spi_lock();
    // SAFETY: no arguments.
    let rc = unsafe { SPI_connect() };
    if rc >= 0 {
        Ok(())
    } else {
        Err((rc, spi_error_text()))
    }
}

/// `SPI_finish`: the code.
pub fn spi_finish() -> c_int {
    let _g = spi_lock();
    // SAFETY: no arguments.
    unsafe { SPI_finish() }
}

/// A statement's outcome, copied out of the host.
pub struct SpiOutcome {
    pub code: c_int,
    pub processed: u64,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// `bgw_spi_execute_params`, with the result copied out under the SPI lock.
pub fn spi_execute(sql: &CStr, params: &[Option<CString>], read_only: bool) -> Result<SpiOutcome, (c_int, String)> {
    let values: Vec<*const c_char> =
        params.iter().map(|p| p.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())).collect();
    let Ok(nparams) = c_int::try_from(values.len()) else {
        return Err((-6, "too many parameters".into()));
    };
    let _g = spi_lock();
    // SAFETY: a NUL-terminated statement and an array of `nparams` pointers (NULL or NUL-terminated strings), all
    // outliving the call; the host only reads them.
    let code = unsafe { bgw_spi_execute_params(sql.as_ptr(), nparams, values.as_ptr(), read_only, 0) };
    if code < 0 {
        return Err((code, spi_error_text()));
    }
    // SAFETY: a read of the host's exported counter, written by the call above on this thread.
    let processed = unsafe { std::ptr::addr_of!(SPI_processed).read_volatile() };
    // SAFETY: no arguments.
    let ncols = unsafe { bgw_spi_nfields() }.max(0);
    let columns = (1..=ncols)
        .map(|c| {
            // SAFETY: plain arguments; the returned text is copied at once.
            host_text(unsafe { bgw_spi_fname(c) }).unwrap_or_default()
        })
        .collect();
    let mut rows = Vec::new();
    if ncols > 0 {
        for r in 0..processed {
            rows.push(
                (1..=ncols)
                    .map(|c| {
                        // SAFETY: plain arguments; the returned text is copied at once.
                        host_text(unsafe { bgw_spi_getvalue(r, c) })
                    })
                    .collect(),
            );
        }
    }
    Ok(SpiOutcome { code, processed, columns, rows })
}

/// `StartTransactionCommand` (a transaction that cannot begin is an ERROR in the host).
pub fn start_transaction() {
    let _g = spi_lock();
    // SAFETY: no arguments.
    unsafe { StartTransactionCommand() }
}

/// `CommitTransactionCommand` (a failed commit is an ERROR in the host).
pub fn commit_transaction() {
    let _g = spi_lock();
    // SAFETY: no arguments.
    unsafe { CommitTransactionCommand() }
}

/// `AbortCurrentTransaction`.
pub fn abort_transaction() {
    let _g = spi_lock();
    // SAFETY: no arguments.
    unsafe { AbortCurrentTransaction() }
}

/// `Async_Notify` (a bad channel or payload, or no database connection, is an ERROR in the host).
pub fn notify(channel: &CStr, payload: &CStr) {
    let _g = spi_lock();
    // SAFETY: two NUL-terminated strings that outlive the call.
    unsafe { Async_Notify(channel.as_ptr(), payload.as_ptr()) }
}

// ----- logging and exiting -----

/// `bgw_elog(level, message)`. For ERROR and above the host ends the process.
pub fn elog(level: c_int, message: &CString) {
    // SAFETY: a NUL-terminated string that outlives the call.
    unsafe { bgw_elog(level, message.as_ptr()) }
}

/// `ereport(level, (errmsg(...), errdetail(...), errhint(...)))`. For ERROR and above the host ends the process.
pub fn ereport(level: c_int, message: &CString, detail: Option<&CString>, hint: Option<&CString>) {
    // SAFETY: NUL-terminated strings that outlive the calls; errstart..errfinish is the header's sequence, made on
    // one thread (the host keeps the message being built per thread).
    unsafe {
        bgw_errstart(level);
        bgw_errmsg(message.as_ptr());
        if let Some(d) = detail {
            bgw_errdetail(d.as_ptr());
        }
        if let Some(h) = hint {
            bgw_errhint(h.as_ptr());
        }
        bgw_errfinish();
    }
}

/// `ereport` with strings that are leaked before the call: for reports the host may answer with a `longjmp`
/// (ERROR inside its trap), which skips the caller's frames. This frame owns nothing once the strings are raw.
pub fn ereport_leaking(level: c_int, message: CString, detail: Option<CString>, hint: Option<CString>) {
    let message = message.into_raw();
    let detail = detail.map_or(std::ptr::null_mut(), CString::into_raw);
    let hint = hint.map_or(std::ptr::null_mut(), CString::into_raw);
    // SAFETY: leaked NUL-terminated strings (or NULL, not passed on), valid forever; the sequence is the header's.
    unsafe {
        bgw_errstart(level);
        bgw_errmsg(message);
        if !detail.is_null() {
            bgw_errdetail(detail);
        }
        if !hint.is_null() {
            bgw_errhint(hint);
        }
        bgw_errfinish();
    }
}

/// Ends the process at once with `code`, as the host's own exits do: no atexit handlers, no destructors, no
/// flushing of buffers inherited from the postmaster across fork.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}
