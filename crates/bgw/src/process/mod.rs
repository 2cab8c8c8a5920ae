//! Process globals, as PostgreSQL's `globals.c`: the state every process of the host has by inheritance (the data
//! directory, the configuration, which process entry it owns, its pending interrupts, how to exit), and in a
//! worker, its registration ([`my_worker`]).
//!
//! The postmaster fills this in at start and updates the settings on reload; children inherit a copy across
//! `fork` and reload their own copy when they get SIGHUP (as PostgreSQL's processes each re-read the file).
//! Nothing here is shared memory: it is per-process state that happens to start out the same everywhere.
//!
//! Layer: above the shared segment ([`crate::shmem`]), below everything that runs in a particular kind of process
//! (SPI, modules, the worker runtime, backends' host services, the postmaster). Layers above that keep state of
//! their own in step with the settings register a hook ([`on_reload`]) instead of being called from here.

pub mod interrupts;
#[allow(unsafe_code)] // MyBgworkerEntry's static storage, shared with C
pub mod my_worker;

use crate::config::Settings;
use crate::elog::{self, Level};
use bgw_macros::hot;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The configuration file's name in the data directory.
pub const CONFIG_FILE: &str = "bgworker.conf";

struct Context {
    data_dir: PathBuf,
    overrides: Vec<(String, String)>,
}

static CONTEXT: OnceLock<Context> = OnceLock::new();
/// This child's process entry plus one; 0 for none. Zero-initialized, so that it sits in `.bss` with the other
/// statics a new child writes (a `-1` start would put it in `.data`: one more page copied in every child).
static MY_PROC: AtomicI64 = AtomicI64::new(0);
static TERMINATE_PENDING: AtomicBool = AtomicBool::new(false);
static RELOAD_PENDING: AtomicBool = AtomicBool::new(false);

static IS_CHILD: AtomicBool = AtomicBool::new(false);

/// Whether this process is a child of the postmaster (PostgreSQL's IsUnderPostmaster).
#[hot]
pub fn is_child() -> bool {
    IS_CHILD.load(Ordering::Relaxed)
}

/// Records which process entry this child owns (set right after fork, in every child).
#[hot]
pub fn set_my_proc(proc_no: Option<u32>) {
    IS_CHILD.store(true, Ordering::Relaxed);
    MY_PROC.store(proc_no.map(|p| p as i64 + 1).unwrap_or(0), Ordering::Relaxed);
    if let Some(entry) = my_proc() {
        crate::sys::robust_mutex::count_holds_in(&entry.locks_held);
    }
}

/// This child's process entry in shared memory, if it has one and is attached.
pub fn my_proc() -> Option<&'static crate::shmem::procs::ProcEntry> {
    let p = MY_PROC.load(Ordering::Relaxed).checked_sub(1).filter(|p| *p >= 0)?;
    crate::shmem::attached()?.procs().get(p as usize)
}

extern "C" fn handle_backend_sigterm(_: libc::c_int) {
    TERMINATE_PENDING.store(true, Ordering::SeqCst);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

extern "C" fn handle_backend_sighup(_: libc::c_int) {
    RELOAD_PENDING.store(true, Ordering::SeqCst);
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

extern "C" fn handle_quickdie(_: libc::c_int) {
    // Exit code 2 tells the postmaster this was not a clean exit.
    crate::sys::process::exit_now(2);
}

/// Installs a client backend's signal handling: SIGTERM asks the session to end (checked between statements, inside
/// waits and by a running statement's interrupt check), SIGINT cancels the running statement
/// ([`interrupts`]), SIGHUP asks for a reload, SIGQUIT exits at once.
pub fn install_backend_signals() {
    use crate::sys::signals;
    signals::install(libc::SIGTERM, handle_backend_sigterm, &[]);
    signals::install(libc::SIGHUP, handle_backend_sighup, &[]);
    signals::install(libc::SIGQUIT, handle_quickdie, &[]);
    signals::ignore(libc::SIGPIPE);
    signals::install(libc::SIGINT, interrupts::handle_sigint, &[]);
}

/// Asks this process to end, as SIGTERM does in a backend: a worker's SIGTERM handler calls it while a statement
/// of the worker runs on a PostgreSQL server, whose interrupt check then cancels it there before the worker ends.
/// Async-signal-safe.
pub fn request_termination() {
    TERMINATE_PENDING.store(true, Ordering::SeqCst);
}

/// Whether SIGTERM asked this backend to end.
pub fn termination_pending() -> bool {
    TERMINATE_PENDING.load(Ordering::SeqCst)
}

/// True once per SIGHUP a backend received.
pub fn take_reload_request() -> bool {
    RELOAD_PENDING.swap(false, Ordering::SeqCst)
}
static SETTINGS: Mutex<Option<Settings>> = Mutex::new(None);

/// Records the data directory, the `-c` overrides and the loaded settings. Postmaster, once, at start.
pub fn init(data_dir: &Path, overrides: Vec<(String, String)>, settings: Settings) {
    let _ = CONTEXT.set(Context { data_dir: data_dir.to_path_buf(), overrides });
    apply_log_level(&settings);
    *SETTINGS.lock().unwrap_or_else(|e| e.into_inner()) = Some(settings);
}

/// The data directory.
pub fn data_dir() -> &'static Path {
    CONTEXT.get().map(|c| c.data_dir.as_path()).unwrap_or(Path::new("."))
}

/// The `-c` overrides given at start.
pub fn overrides() -> &'static [(String, String)] {
    CONTEXT.get().map(|c| c.overrides.as_slice()).unwrap_or(&[])
}

/// The current settings of this process.
#[hot]
pub fn settings() -> MutexGuard<'static, Option<Settings>> {
    SETTINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// An integer setting (0 if unknown).
pub fn setting_int(name: &str) -> i64 {
    settings().as_ref().and_then(|s| s.get_int(name)).unwrap_or(0)
}

/// A setting as `current_setting()` shows it.
pub fn setting_text(name: &str) -> Option<String> {
    settings().as_ref().and_then(|s| s.show(name))
}

fn apply_log_level(settings: &Settings) {
    if let Some(level) = settings.get_str("log_min_messages").and_then(Level::parse) {
        elog::set_min_level(level);
    }
}

/// How many times this process reloaded its settings.
static RELOADS: AtomicU64 = AtomicU64::new(0);

/// How many times this process reloaded its settings ([`reload_config`]): a reader that saw the same count has
/// seen the current settings.
pub fn reload_count() -> u64 {
    RELOADS.load(Ordering::Relaxed)
}

/// What runs after every reload of this process's settings, in registration order.
static RELOAD_HOOKS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Registers `hook` to run after each reload of this process's settings ([`reload_config`]); a hook registered
/// twice runs once. Registered before a fork, it runs in the children too (they inherit the list).
pub fn on_reload(hook: fn()) {
    let mut hooks = RELOAD_HOOKS.lock().unwrap_or_else(|e| e.into_inner());
    if !hooks.iter().any(|h| std::ptr::fn_addr_eq(*h, hook)) {
        hooks.push(hook);
    }
}

/// Re-reads the configuration file and applies what may change at reload. The postmaster logs what changed and
/// what could not; children, which re-read the same file after it, report at DEBUG2 (as PostgreSQL does), so each
/// change is logged once. Used by the postmaster on SIGHUP and by children when they act on SIGHUP.
pub fn reload_config() -> Vec<String> {
    let quiet = IS_CHILD.load(Ordering::Relaxed);
    let path = data_dir().join(CONFIG_FILE);
    let items = crate::config::read_config_file(&path);
    let mut guard = settings();
    let Some(settings) = guard.as_mut() else { return Vec::new() };
    let report = settings.reload(items);
    RELOADS.fetch_add(1, Ordering::Relaxed);
    apply_log_level(settings);
    let changed = report.changed.clone();
    drop(guard);
    for hook in RELOAD_HOOKS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        hook();
    }
    for m in report.messages {
        let level = match m.level {
            _ if quiet => Level::Debug2,
            crate::config::Level::Log => Level::Log,
            crate::config::Level::Warning => Level::Warning,
        };
        let mut r = elog::Report::new(level, m.text);
        if let Some(h) = m.hint {
            r = r.hint(h);
        }
        r.emit();
    }
    changed
}

/// Exits the process with `code`, flushing nothing that could deadlock (standard streams are unbuffered writes
/// here; the log uses raw writes).
#[hot]
pub fn exit(code: i32) -> ! {
    // Children must not run the parent's atexit handlers or destructors.
    crate::sys::process::exit_now(code)
}

/// Logs panics as PostgreSQL-style ERROR messages instead of Rust's default report.
#[hot]
pub fn set_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        };
        let mut r = elog::Report::new(Level::Error, msg);
        if let Some(loc) = info.location() {
            r = r.detail(format!("Panic at {}:{}.", loc.file(), loc.line()));
        }
        r.emit();
    }));
}
