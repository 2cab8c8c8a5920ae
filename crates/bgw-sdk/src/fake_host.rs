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

use crate::ffi::{bgw_sql_function, config_enum_entry, BackgroundWorker, BackgroundWorkerHandle, BgwSqlValue, Latch};
use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// As `RegisterDynamicBackgroundWorker`; the timeout is recorded in the worker's restart time (for the tests).
#[unsafe(no_mangle)]
extern "C" fn RegisterDynamicBackgroundWorkerWait(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
    timeout_ms: c_int,
) -> bool {
    // SAFETY: the SDK passes a valid registration.
    unsafe { (*worker).bgw_restart_time = timeout_ms };
    RegisterDynamicBackgroundWorker(worker, handle)
}

/// The arguments `bgw_register_dynamic_with_arg` received, by registration name.
pub static ARGS: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());

/// Records the argument, then registers as `RegisterDynamicBackgroundWorker` does.
#[unsafe(no_mangle)]
extern "C" fn bgw_register_dynamic_with_arg(
    worker: *mut BackgroundWorker,
    handle: *mut *mut BackgroundWorkerHandle,
    arg: *const c_void,
    len: usize,
) -> bool {
    // SAFETY: the SDK passes a valid registration and `len` readable bytes.
    let (w, bytes) = unsafe { (worker.read(), std::slice::from_raw_parts(arg as *const u8, len).to_vec()) };
    ARGS.lock().unwrap().push((field(&w.bgw_name).to_string(), bytes));
    RegisterDynamicBackgroundWorker(worker, handle)
}

/// No worker runs in the stand-in: no argument.
#[unsafe(no_mangle)]
extern "C" fn bgw_worker_arg(len: *mut usize) -> *mut c_void {
    // SAFETY: the SDK passes a valid out-parameter.
    unsafe { len.write(0) };
    std::ptr::null_mut()
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

/// Takes a moment, then reports the worker ready as started, pid 2000 + slot.
#[unsafe(no_mangle)]
extern "C" fn WaitForBackgroundWorkerReady(
    handle: *mut BackgroundWorkerHandle,
    pidp: *mut libc::pid_t,
    _timeout_ms: c_int,
) -> c_int {
    std::thread::sleep(std::time::Duration::from_millis(20));
    // SAFETY: the SDK passes a valid handle and out-parameter.
    unsafe { pidp.write(2000 + handle.read().slot) };
    0
}

#[unsafe(no_mangle)]
extern "C" fn BackgroundWorkerReportReady() {}

#[unsafe(no_mangle)]
extern "C" fn TerminateBackgroundWorkerWithGrace(handle: *mut BackgroundWorkerHandle, _grace_ms: c_int) {
    // SAFETY: the SDK passes a valid handle.
    TERMINATED.lock().unwrap().push(unsafe { handle.read() }.slot);
}

#[unsafe(no_mangle)]
extern "C" fn ResetBackgroundWorker(_handle: *mut BackgroundWorkerHandle) -> bool {
    true
}

/// A worker that exited with code 1 after one start.
#[unsafe(no_mangle)]
extern "C" fn GetBackgroundWorkerExitReason(
    _handle: *mut BackgroundWorkerHandle,
    info: *mut bgw_abi::BgwExitInfo,
) -> bool {
    // SAFETY: the SDK passes a valid out-parameter.
    unsafe {
        info.write(bgw_abi::BgwExitInfo { reason: bgw_abi::BGW_EXIT_CODE, detail: 1, ended_at_us: 1, starts: 1 })
    };
    true
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

/// Tests run as if preloading (static registration allowed) unless a test holding [`PRELOAD_LOCK`] says not.
#[unsafe(no_mangle)]
static process_shared_preload_libraries_in_progress: AtomicBool = AtomicBool::new(true);

/// Serializes the tests that depend on the preloading flag.
pub static PRELOAD_LOCK: Mutex<()> = Mutex::new(());

/// Sets the preloading flag (hold [`PRELOAD_LOCK`]).
pub fn set_preloading(on: bool) {
    process_shared_preload_libraries_in_progress.store(on, Ordering::SeqCst);
}

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

// ----- custom parameters -----

/// A parameter's variable, as the host keeps it.
#[derive(Debug, Clone, Copy)]
pub enum Var {
    Bool(*mut bool),
    Int(*mut c_int),
    Real(*mut f64),
    Str(*mut *mut c_char),
    Enum(*mut c_int),
}
// SAFETY: addresses of leaked, never-freed storage; the tests write them from one thread at a time.
unsafe impl Send for Var {}

/// A definition: name, description, context, flags, variable, the bounds as text, the enum options.
#[derive(Debug, Clone)]
pub struct Defined {
    pub name: String,
    pub desc: String,
    pub context: c_int,
    pub flags: c_int,
    pub var: Var,
    pub bounds: String,
    pub options: Vec<(String, c_int)>,
}

pub static PARAMS: Mutex<Vec<Defined>> = Mutex::new(Vec::new());
pub static RESERVED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn define(name: *const c_char, desc: *const c_char, context: c_int, flags: c_int, var: Var, bounds: String) {
    PARAMS.lock().unwrap().push(Defined {
        name: text(name),
        desc: text(desc),
        context,
        flags,
        var,
        bounds,
        options: Vec::new(),
    });
}

/// The definition of `name`.
pub fn param(name: &str) -> Option<Defined> {
    PARAMS.lock().unwrap().iter().rev().find(|d| d.name == name).cloned()
}

/// Stores a value the way the host does after a reload (text for strings; the old string is leaked).
pub fn store(name: &str, value: &str) {
    let d = param(name).expect("defined");
    // SAFETY: the variable the SDK handed over, leaked and of the declared type.
    unsafe {
        match d.var {
            Var::Bool(p) => p.write(value == "on"),
            Var::Int(p) | Var::Enum(p) => p.write(value.parse().unwrap()),
            Var::Real(p) => p.write(value.parse().unwrap()),
            Var::Str(p) => p.write(libc::strdup(std::ffi::CString::new(value).unwrap().as_ptr())),
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn DefineCustomBoolVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut bool,
    boot_value: bool,
    context: c_int,
    flags: c_int,
    hook1: *const c_void,
    hook2: *const c_void,
    hook3: *const c_void,
) {
    assert!(hook1.is_null() && hook2.is_null() && hook3.is_null());
    // SAFETY: the SDK's variable.
    unsafe { value_addr.write(boot_value) };
    define(name, short_desc, context, flags, Var::Bool(value_addr), String::new());
}

#[unsafe(no_mangle)]
extern "C" fn DefineCustomIntVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut c_int,
    boot_value: c_int,
    min_value: c_int,
    max_value: c_int,
    context: c_int,
    flags: c_int,
    hook1: *const c_void,
    hook2: *const c_void,
    hook3: *const c_void,
) {
    assert!(hook1.is_null() && hook2.is_null() && hook3.is_null());
    // SAFETY: the SDK's variable.
    unsafe { value_addr.write(boot_value) };
    define(name, short_desc, context, flags, Var::Int(value_addr), format!("{min_value}..={max_value}"));
}

#[unsafe(no_mangle)]
extern "C" fn DefineCustomRealVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut f64,
    boot_value: f64,
    min_value: f64,
    max_value: f64,
    context: c_int,
    flags: c_int,
    hook1: *const c_void,
    hook2: *const c_void,
    hook3: *const c_void,
) {
    assert!(hook1.is_null() && hook2.is_null() && hook3.is_null());
    // SAFETY: the SDK's variable.
    unsafe { value_addr.write(boot_value) };
    define(name, short_desc, context, flags, Var::Real(value_addr), format!("{min_value}..={max_value}"));
}

#[unsafe(no_mangle)]
extern "C" fn DefineCustomStringVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut *mut c_char,
    boot_value: *const c_char,
    context: c_int,
    flags: c_int,
    hook1: *const c_void,
    hook2: *const c_void,
    hook3: *const c_void,
) {
    assert!(hook1.is_null() && hook2.is_null() && hook3.is_null());
    // SAFETY: the SDK's variable and a NUL-terminated default; the host's copy, as the host makes it.
    unsafe { value_addr.write(libc::strdup(boot_value)) };
    define(name, short_desc, context, flags, Var::Str(value_addr), String::new());
}

#[unsafe(no_mangle)]
extern "C" fn DefineCustomEnumVariable(
    name: *const c_char,
    short_desc: *const c_char,
    _long_desc: *const c_char,
    value_addr: *mut c_int,
    boot_value: c_int,
    options: *const config_enum_entry,
    context: c_int,
    flags: c_int,
    hook1: *const c_void,
    hook2: *const c_void,
    hook3: *const c_void,
) {
    assert!(hook1.is_null() && hook2.is_null() && hook3.is_null());
    let mut list = Vec::new();
    for i in 0.. {
        // SAFETY: a NULL-terminated array; the fields are read through the layout the SDK declares.
        let e = unsafe { &*options.add(i) };
        let (n, v) = (e.name, e.val);
        if n.is_null() {
            break;
        }
        list.push((text(n), v));
    }
    // SAFETY: the SDK's variable.
    unsafe { value_addr.write(boot_value) };
    define(name, short_desc, context, flags, Var::Enum(value_addr), String::new());
    PARAMS.lock().unwrap().last_mut().unwrap().options = list;
}

#[unsafe(no_mangle)]
extern "C" fn MarkGUCPrefixReserved(prefix: *const c_char) {
    RESERVED.lock().unwrap().push(text(prefix));
}

// ----- shared memory -----

pub static SHMEM_REQUESTED: Mutex<usize> = Mutex::new(0);
/// Named areas: name, address (leaked, 64-byte aligned, zeroed).
static AREAS: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());

#[unsafe(no_mangle)]
extern "C" fn RequestAddinShmemSpace(size: usize) {
    *SHMEM_REQUESTED.lock().unwrap() += size;
}

#[unsafe(no_mangle)]
extern "C" fn ShmemInitStruct(name: *const c_char, size: usize, found: *mut bool) -> *mut c_void {
    let name = text(name);
    let mut areas = AREAS.lock().unwrap();
    let (addr, was) = match areas.iter().find(|(n, _)| *n == name) {
        Some((_, a)) => (*a, true),
        None => {
            let layout = std::alloc::Layout::from_size_align(size.max(1), 64).unwrap();
            // SAFETY: a non-zero layout; leaked on purpose (shared memory lives as long as the process).
            let p = unsafe { std::alloc::alloc_zeroed(layout) } as usize;
            areas.push((name, p));
            (p, false)
        }
    };
    // SAFETY: the SDK's out-parameter.
    unsafe { found.write(was) };
    addr as *mut c_void
}

// ----- SQL functions -----

/// A defined SQL function: name, nargs, result type, flags, the C function.
pub type SqlDefined = (String, c_int, c_int, c_int, bgw_sql_function);
pub static SQL_FUNCTIONS: Mutex<Vec<SqlDefined>> = Mutex::new(Vec::new());

thread_local! {
    /// The last error reported with bgw_sql_error on this thread: sqlstate, message, hint.
    pub static SQL_ERROR: std::cell::RefCell<Option<(String, String, Option<String>)>> =
        const { std::cell::RefCell::new(None) };
}

#[unsafe(no_mangle)]
extern "C" fn bgw_define_sql_function(
    name: *const c_char,
    nargs: c_int,
    result_type: c_int,
    flags: c_int,
    f: Option<bgw_sql_function>,
) {
    SQL_FUNCTIONS.lock().unwrap().push((text(name), nargs, result_type, flags, f.expect("a function")));
}

#[unsafe(no_mangle)]
extern "C" fn bgw_sql_result_text(result: *mut BgwSqlValue, t: *const c_char) {
    // SAFETY: the result slot the test passed; strdup of a NUL-terminated string (the test frees it).
    unsafe {
        (*result).kind = crate::ffi::BGW_SQL_TEXT;
        (*result).text = libc::strdup(t);
    }
}

#[unsafe(no_mangle)]
extern "C" fn bgw_sql_error(sqlstate: *const c_char, message: *const c_char, hint: *const c_char) {
    let hint = (!hint.is_null()).then(|| text(hint));
    SQL_ERROR.with(|e| *e.borrow_mut() = Some((text(sqlstate), text(message), hint)));
}

/// An argument as the host builds it.
pub fn arg(kind: c_int, int8: i64, float8: f64, text: Option<&CStr>) -> BgwSqlValue {
    BgwSqlValue { kind, int8, float8, text: text.map_or(std::ptr::null(), CStr::as_ptr) }
}

/// What a call returned: Ok(result kind, int8, float8, text) or Err(sqlstate, message, hint).
pub type CallOutcome = Result<(c_int, i64, f64, Option<String>), (String, String, Option<String>)>;

/// Calls the defined SQL function `name` the way the host does.
pub fn call_sql(name: &str, args: &[BgwSqlValue]) -> CallOutcome {
    let f = SQL_FUNCTIONS.lock().unwrap().iter().rev().find(|d| d.0 == name).expect("defined").4;
    let mut result = arg(crate::ffi::BGW_SQL_NULL, 0, 0.0, None);
    SQL_ERROR.with(|e| e.borrow_mut().take());
    // SAFETY: the function the SDK defined, called with valid arguments and result slot.
    let rc = unsafe { f(args.len() as c_int, args.as_ptr(), &mut result) };
    if rc != 0 {
        return Err(SQL_ERROR.with(|e| e.borrow_mut().take()).expect("bgw_sql_error before a non-zero return"));
    }
    let t = (!result.text.is_null()).then(|| {
        let s = text(result.text);
        // SAFETY: strdup'ed by bgw_sql_result_text above.
        unsafe { libc::free(result.text as *mut c_void) };
        s
    });
    Ok((result.kind, result.int8, result.float8, t))
}

// ----- database connections and SPI -----

/// What the SDK asked of the stand-in's SPI, in order: "connect db user flags", "spi_connect", "execute <sql>
/// [params] ro", "start", "commit", "abort", "notify channel payload", "finish".
pub static SPI_CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct FakeSpi {
    connected: bool,
    columns: Vec<std::ffi::CString>,
    rows: Vec<Vec<Option<std::ffi::CString>>>,
    error: Option<std::ffi::CString>,
}

static FAKE_SPI: Mutex<FakeSpi> =
    Mutex::new(FakeSpi { connected: false, columns: Vec::new(), rows: Vec::new(), error: None });

fn opt_text(p: *const c_char) -> String {
    if p.is_null() {
        "NULL".into()
    } else {
        text(p)
    }
}

fn spi_call(s: String) {
    SPI_CALLS.lock().unwrap().push(s);
}

#[unsafe(no_mangle)]
extern "C" fn BackgroundWorkerInitializeConnection(dbname: *const c_char, username: *const c_char, flags: u32) {
    spi_call(format!("connect {} {} {flags}", opt_text(dbname), opt_text(username)));
    FAKE_SPI.lock().unwrap().connected = true;
}

#[unsafe(no_mangle)]
extern "C" fn BackgroundWorkerInitializeConnectionByOid(dboid: u32, useroid: u32, flags: u32) {
    spi_call(format!("connect {dboid} {useroid} {flags}"));
    FAKE_SPI.lock().unwrap().connected = true;
}

/// Connected after a connect call; otherwise SPI_ERROR_CONNECT.
#[unsafe(no_mangle)]
extern "C" fn SPI_connect() -> c_int {
    let mut f = FAKE_SPI.lock().unwrap();
    if !f.connected {
        f.error = Some(std::ffi::CString::new("no database connection").unwrap());
        return -1;
    }
    spi_call("spi_connect".into());
    1
}

#[unsafe(no_mangle)]
extern "C" fn SPI_finish() -> c_int {
    spi_call("finish".into());
    2
}

#[unsafe(no_mangle)]
static mut SPI_processed: u64 = 0;

/// A statement starting with "SELECT" returns columns (a, b) and rows (1, NULL), ($1, x); "FAIL" fails with
/// -100; anything else is an INSERT of 3 rows.
#[unsafe(no_mangle)]
extern "C" fn bgw_spi_execute_params(
    src: *const c_char,
    nparams: c_int,
    values: *const *const c_char,
    read_only: bool,
    _count: c_long,
) -> c_int {
    let sql = text(src);
    // SAFETY: the SDK passes `nparams` pointers, each NULL or NUL-terminated.
    let params: Vec<String> = (0..nparams as usize).map(|i| opt_text(unsafe { values.add(i).read() })).collect();
    spi_call(format!("execute {sql} {params:?} {}", if read_only { "ro" } else { "rw" }));
    let mut f = FAKE_SPI.lock().unwrap();
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let (code, processed) = if sql.starts_with("FAIL") {
        f.error = Some(c("boom"));
        (-100, 0)
    } else if sql.starts_with("SELECT") {
        f.columns = vec![c("a"), c("b")];
        let first = params.first().cloned().unwrap_or_default();
        f.rows = vec![vec![Some(c("1")), None], vec![Some(c(&first)), Some(c("x"))]];
        (5, 2)
    } else {
        f.columns.clear();
        f.rows.clear();
        (7, 3)
    };
    // SAFETY: the stand-in's own global, written under the FAKE_SPI lock.
    unsafe { std::ptr::addr_of_mut!(SPI_processed).write(processed) };
    code
}

#[unsafe(no_mangle)]
extern "C" fn bgw_spi_nfields() -> c_int {
    FAKE_SPI.lock().unwrap().columns.len() as c_int
}

#[unsafe(no_mangle)]
extern "C" fn bgw_spi_fname(col: c_int) -> *const c_char {
    let f = FAKE_SPI.lock().unwrap();
    f.columns.get(col as usize - 1).map_or(std::ptr::null(), |c| c.as_ptr())
}

#[unsafe(no_mangle)]
extern "C" fn bgw_spi_getvalue(row: u64, col: c_int) -> *const c_char {
    let f = FAKE_SPI.lock().unwrap();
    let v = f.rows.get(row as usize).and_then(|r| r.get(col as usize - 1)).and_then(|v| v.as_ref());
    v.map_or(std::ptr::null(), |c| c.as_ptr())
}

#[unsafe(no_mangle)]
extern "C" fn bgw_spi_error_message() -> *const c_char {
    FAKE_SPI.lock().unwrap().error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr())
}

#[unsafe(no_mangle)]
extern "C" fn StartTransactionCommand() {
    spi_call("start".into());
}

#[unsafe(no_mangle)]
extern "C" fn CommitTransactionCommand() {
    spi_call("commit".into());
}

#[unsafe(no_mangle)]
extern "C" fn AbortCurrentTransaction() {
    spi_call("abort".into());
}

#[unsafe(no_mangle)]
extern "C" fn Async_Notify(channel: *const c_char, payload: *const c_char) {
    spi_call(format!("notify {} {}", opt_text(channel), opt_text(payload)));
}
