//! PostgreSQL's server API that needs the host's state: activity reporting (`pgstat.h`), identity (`miscadmin.h`,
//! `utils/acl.h`, `commands/dbcommands.h`), recovery state (`access/xlog.h`), waiting on a socket
//! (`storage/latch.h`), the standard handlers of `postmaster/interrupt.h` and `storage/procsignal.h`.
//!
//! What C implements alone (memory, StringInfo, errors, exit callbacks, timestamps) is in this folder's `.c` files;
//! these functions are `extern "C"` under PostgreSQL's names, declared in the include tree.
//!
//! Identity comes from this process's entry in shared memory: the role and database a backend's session or a
//! connected worker announced. `MyDatabaseId` is a variable in PostgreSQL; bgw sets it when a worker connects
//! (`BackgroundWorkerInitializeConnection*`) and before each call into a module's SQL function in a backend.
//!
//! Runs in: any process that calls into a module.

#![allow(non_upper_case_globals, non_snake_case, clippy::not_unsafe_ptr_arg_deref)]

use super::abi::text;
use bgw_abi::{
    BackendState, Oid, ERROR, STATE_DISABLED, STATE_FASTPATH, STATE_IDLE, STATE_IDLEINTRANSACTION,
    STATE_IDLEINTRANSACTION_ABORTED, STATE_RUNNING,
};
use std::ffi::{c_char, c_int, c_long};

/// PostgreSQL's `MyDatabaseId`: the connected database (InvalidOid before a connection).
#[no_mangle]
pub static mut MyDatabaseId: Oid = 0;

extern "C" {
    /// `pg_misc.c`: sets `MyProc->databaseId` and `MyProc->roleId`.
    fn bgw_proc_set_identity(database: Oid, role: Oid);
}

/// Refreshes `MyDatabaseId` (and `MyProc`'s database and role) from this process's announced connection.
pub fn refresh_my_database_id() {
    let (oid, role) = crate::process::my_proc().map_or((0, 0), |p| (p.database_oid(), p.role_oid()));
    // SAFETY: a plain store to a C-visible global, and a C function storing two integers, from the one thread that
    // calls into modules.
    unsafe {
        std::ptr::addr_of_mut!(MyDatabaseId).write(oid);
        bgw_proc_set_identity(oid, role);
    }
}

/// PostgreSQL's `pgstat_report_activity`: what pg_stat_activity shows for this process. The query text is kept
/// when `cmd_str` is NULL.
#[no_mangle]
pub extern "C" fn pgstat_report_activity(state: BackendState, cmd_str: *const c_char) {
    let Some(p) = crate::process::my_proc() else { return };
    let state = match state {
        STATE_IDLE => "idle",
        STATE_RUNNING => "active",
        STATE_IDLEINTRANSACTION => "idle in transaction",
        STATE_FASTPATH => "fastpath function call",
        STATE_IDLEINTRANSACTION_ABORTED => "idle in transaction (aborted)",
        STATE_DISABLED => "disabled",
        _ => "",
    };
    let query = (!cmd_str.is_null()).then(|| text(cmd_str));
    p.report(None, Some(state), query.as_deref());
}

/// PostgreSQL's `pgstat_report_appname`: pg_stat_activity.application_name of this process.
#[no_mangle]
pub extern "C" fn pgstat_report_appname(appname: *const c_char) {
    if let Some(p) = crate::process::my_proc() {
        p.report(Some(&text(appname)), None, None);
    }
}

/// PostgreSQL's `pgstat_report_stat`: bgw keeps no statistics counters; returns 0 (nothing pending).
#[no_mangle]
pub extern "C" fn pgstat_report_stat(_force: bool) -> c_long {
    0
}

/// PostgreSQL's `GetUserId`: the role of this session or connected worker (InvalidOid before it connects).
#[no_mangle]
pub extern "C" fn GetUserId() -> Oid {
    crate::process::my_proc().map_or(0, |p| p.role_oid())
}

/// PostgreSQL's `GetSessionUserId` (bgw has no SET ROLE: the same as `GetUserId`).
#[no_mangle]
pub extern "C" fn GetSessionUserId() -> Oid {
    GetUserId()
}

/// PostgreSQL's `GetAuthenticatedUserId` (the same as `GetUserId`).
#[no_mangle]
pub extern "C" fn GetAuthenticatedUserId() -> Oid {
    GetUserId()
}

fn catalog() -> Option<crate::catalog::Catalog> {
    crate::catalog::Catalog::open(crate::process::data_dir()).ok()
}

/// PostgreSQL's `superuser_arg`: whether the role `roleid` is a superuser (false for no such role).
#[no_mangle]
pub extern "C" fn superuser_arg(roleid: Oid) -> bool {
    catalog().and_then(|c| c.role_by_oid(roleid).ok().flatten()).is_some_and(|r| r.superuser)
}

/// PostgreSQL's `superuser`: whether the current role is a superuser.
#[no_mangle]
pub extern "C" fn superuser() -> bool {
    superuser_arg(GetUserId())
}

extern "C" {
    fn pstrdup(s: *const c_char) -> *mut c_char;
}

/// A palloc'd copy of `s` (CurrentMemoryContext).
fn palloc_text(s: &str) -> *mut c_char {
    let c = std::ffi::CString::new(s.replace('\0', "")).unwrap_or_default();
    // SAFETY: a NUL-terminated string; pstrdup copies it (an out-of-memory ERROR jumps from C, and `c` is the only
    // owned value here: it leaks then, as memory does when PostgreSQL's palloc fails).
    unsafe { pstrdup(c.as_ptr()) }
}

/// Raises `message` as an ERROR with `sqlstate`. The callers own nothing else at that point: an ERROR may jump
/// (to a module's `PG_TRY` or the trap around its SQL function) over their frames.
fn raise(sqlstate: &'static str, message: String) {
    super::abi::finish_with_code(ERROR, sqlstate, message);
}

/// PostgreSQL's `GetUserNameFromId`: the role's name, palloc'd; an ERROR if there is none (NULL with noerr).
#[no_mangle]
pub extern "C" fn GetUserNameFromId(roleid: Oid, noerr: bool) -> *mut c_char {
    let name = catalog().and_then(|c| c.role_by_oid(roleid).ok().flatten()).map(|r| r.name);
    match name {
        Some(n) => palloc_text(&n),
        None if noerr => std::ptr::null_mut(),
        None => {
            raise("42704", format!("invalid role OID: {roleid}"));
            std::ptr::null_mut()
        }
    }
}

/// PostgreSQL's `get_role_oid`: the role's oid; InvalidOid or an ERROR 42704 if there is none.
#[no_mangle]
pub extern "C" fn get_role_oid(rolname: *const c_char, missing_ok: bool) -> Oid {
    let found = {
        let name = text(rolname);
        catalog().and_then(|c| c.role(&name).ok().flatten()).map(|r| r.oid).ok_or(name)
    };
    match found {
        Ok(oid) => oid,
        Err(_) if missing_ok => 0,
        Err(name) => {
            let message = format!("role \"{name}\" does not exist");
            drop(name);
            raise("42704", message);
            0
        }
    }
}

/// PostgreSQL's `get_database_oid`: the database's oid; InvalidOid or an ERROR 3D000 if there is none.
#[no_mangle]
pub extern "C" fn get_database_oid(dbname: *const c_char, missing_ok: bool) -> Oid {
    let found = {
        let name = text(dbname);
        catalog().and_then(|c| c.database(&name).ok().flatten()).map(|d| d.oid).ok_or(name)
    };
    match found {
        Ok(oid) => oid,
        Err(_) if missing_ok => 0,
        Err(name) => {
            let message = format!("database \"{name}\" does not exist");
            drop(name);
            raise("3D000", message);
            0
        }
    }
}

/// PostgreSQL's `get_database_name`: the database's name, palloc'd, or NULL if there is none.
#[no_mangle]
pub extern "C" fn get_database_name(dbid: Oid) -> *mut c_char {
    match catalog().and_then(|c| c.database_by_oid(dbid).ok().flatten()) {
        Some(d) => palloc_text(&d.name),
        None => std::ptr::null_mut(),
    }
}

/// PostgreSQL's `RecoveryInProgress`: true while the host is a standby not yet promoted.
#[no_mangle]
pub extern "C" fn RecoveryInProgress() -> bool {
    use std::sync::atomic::Ordering;
    crate::shmem::attached()
        .is_some_and(|s| s.header().phase.load(Ordering::Acquire) == crate::shmem::Phase::HotStandby as u32)
}

/// PostgreSQL's `WaitLatchOrSocket` on this process's latch: also wakes when `sock` is readable or writeable
/// (as `wakeEvents` asks). Returns the WL_* bits that happened.
#[no_mangle]
pub extern "C" fn WaitLatchOrSocket(
    _latch: *mut bgw_abi::Latch,
    wake_events: c_int,
    sock: c_int,
    timeout: c_long,
    _wait_event_info: u32,
) -> c_int {
    #[allow(clippy::useless_conversion)] // c_long is i64 here, i32 on 32-bit targets
    let timeout = i64::from(timeout);
    let socket = (sock >= 0).then_some(sock);
    crate::latch::wait_latch_or_socket(wake_events as u32, socket, timeout) as c_int
}

/// PostgreSQL's `procsignal_sigusr1_handler`: sets the latch (what bgw's own SIGUSR1 uses need of a module).
#[no_mangle]
pub extern "C" fn procsignal_sigusr1_handler(_signo: c_int) {
    crate::sys::signals::preserving_errno(crate::latch::set_latch);
}

/// PostgreSQL's `SignalHandlerForCrashExit`: exits at once with code 2 (for SIGQUIT).
#[no_mangle]
pub extern "C" fn SignalHandlerForCrashExit(_signo: c_int) {
    crate::process::exit(2)
}

/// PostgreSQL's `HandleMainLoopInterrupts`: reloads the configuration after SIGHUP, ends the process (exit 0,
/// after the exit callbacks) after a shutdown request.
#[no_mangle]
pub extern "C" fn HandleMainLoopInterrupts() {
    let reload = std::ptr::addr_of_mut!(super::abi::ConfigReloadPending);
    let shutdown = std::ptr::addr_of!(super::abi::ShutdownRequestPending);
    // SAFETY: volatile accesses of sig_atomic_t globals.
    unsafe {
        if reload.read_volatile() != 0 {
            reload.write_volatile(0);
            crate::process::reload_config();
        }
        if shutdown.read_volatile() != 0 {
            super::abi::run_exit_callbacks(0);
            crate::process::exit(0);
        }
    }
}

/// `pg_lwlock.c`: an LWLock is about to be taken (or waited for): counted with the host's own locks (see
/// `crate::sys::robust_mutex`), so that a worker killed after its termination grace period while holding one
/// starts the crash cycle.
#[no_mangle]
pub extern "C" fn bgw_lock_hold_begins() {
    crate::sys::robust_mutex::hold_begins();
}

/// `pg_lwlock.c`: an LWLock was released (or a conditional acquire failed).
#[no_mangle]
pub extern "C" fn bgw_lock_hold_ends() {
    crate::sys::robust_mutex::hold_ends();
}

// ----- configuration values (utils/guc.h) -----

/// Strings `GetConfigOption` returned, kept for the process's life (PostgreSQL's stay valid until the parameter
/// changes; these never move). Bounded by the distinct values a process reads.
static CONFIG_STRINGS: std::sync::Mutex<std::collections::BTreeSet<std::ffi::CString>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// `value` as a C string that stays valid for the process's life.
fn kept_text(value: String) -> *const c_char {
    let c = std::ffi::CString::new(value.replace('\0', "")).unwrap_or_default();
    let mut kept = CONFIG_STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = kept.get(&c) {
        return k.as_ptr();
    }
    let p = c.as_ptr();
    kept.insert(c);
    p
}

/// What `GetConfigOption*` found for `name`: the raw and the displayed value, or why not.
enum Lookup {
    Found { name: String, raw: String, shown: String },
    Missing,
    Denied,
}

fn look_up_setting(name: &str, check_privilege: bool) -> Lookup {
    let found = {
        let settings = crate::process::settings();
        let Some(s) = settings.as_ref() else { return Lookup::Missing };
        let superuser_only = s.def(name).is_some_and(|d| d.superuser_only);
        let canonical = s.def(name).map_or_else(|| name.to_ascii_lowercase(), |d| d.name.clone());
        // The value without a unit (on/off, base-unit integers, %g reals); a placeholder's raw text.
        let raw = s.get(name).map(|v| v.to_string()).or_else(|| s.show(name));
        raw.map(|raw| (canonical, raw, s.show(name).unwrap_or_default(), superuser_only))
    };
    // The settings' lock is released: superuser() and a show hook may take others.
    let Some((name, raw, shown, superuser_only)) = found else { return Lookup::Missing };
    if check_privilege && superuser_only && !superuser() {
        return Lookup::Denied;
    }
    let shown = super::params::shown_by_hook(&name).unwrap_or(shown);
    Lookup::Found { name, raw, shown }
}

/// Raises PostgreSQL's error for a parameter that cannot be read (`Lookup::Missing` or `Lookup::Denied`).
fn lookup_error(lookup: Lookup, name: String) {
    match lookup {
        Lookup::Denied => raise(
            "42501",
            format!("must be superuser or have privileges of pg_read_all_settings to examine \"{name}\""),
        ),
        _ => raise("42704", format!("unrecognized configuration parameter \"{name}\"")),
    }
}

/// PostgreSQL's `GetConfigOption`: the parameter's value as text (see utils/guc.h), valid for the process's life.
#[no_mangle]
pub extern "C" fn GetConfigOption(name: *const c_char, missing_ok: bool, restrict_privileged: bool) -> *const c_char {
    let name = text(name);
    match look_up_setting(&name, restrict_privileged) {
        Lookup::Found { raw, .. } => kept_text(raw),
        Lookup::Missing if missing_ok => std::ptr::null(),
        other => {
            lookup_error(other, name);
            std::ptr::null()
        }
    }
}

/// PostgreSQL's `GetConfigOptionResetString`: bgw has no per-process SET of these, so the current value.
#[no_mangle]
pub extern "C" fn GetConfigOptionResetString(name: *const c_char) -> *const c_char {
    GetConfigOption(name, false, false)
}

/// PostgreSQL's `GetConfigOptionByName`: the value as SHOW displays it, palloc'd; `*varname` its name.
#[no_mangle]
pub extern "C" fn GetConfigOptionByName(
    name: *const c_char,
    varname: *mut *const c_char,
    missing_ok: bool,
) -> *mut c_char {
    let name = text(name);
    match look_up_setting(&name, true) {
        Lookup::Found { name, shown, .. } => {
            if !varname.is_null() {
                // SAFETY: the caller's pointer to a `const char *`, checked for NULL.
                unsafe { varname.write(kept_text(name)) };
            }
            palloc_text(&shown)
        }
        Lookup::Missing if missing_ok => {
            if !varname.is_null() {
                // SAFETY: as above.
                unsafe { varname.write(std::ptr::null()) };
            }
            std::ptr::null_mut()
        }
        other => {
            lookup_error(other, name);
            std::ptr::null_mut()
        }
    }
}

// ----- custom wait events (utils/wait_event.h, PostgreSQL 17) -----

/// The names `WaitEventExtensionNew` gave ids to in this process; the id is the index plus
/// `WAIT_EVENT_EXTENSION_FIRST_USER_DEFINED` (1).
static WAIT_EVENT_NAMES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// PostgreSQL 17's `WaitEventExtensionNew`: the extension-class wait event named `wait_event_name` (the same
/// name, the same event, in this process).
#[no_mangle]
pub extern "C" fn WaitEventExtensionNew(wait_event_name: *const c_char) -> u32 {
    let name = text(wait_event_name);
    let id = {
        let mut names = WAIT_EVENT_NAMES.lock().unwrap_or_else(|e| e.into_inner());
        match names.iter().position(|n| *n == name) {
            Some(i) => Some(i + 1),
            None if names.len() < 0xFFFF => {
                names.push(name);
                Some(names.len())
            }
            None => None,
        }
    };
    match id {
        Some(id) => bgw_abi::PG_WAIT_EXTENSION | id as u32,
        None => {
            raise("54000", "too many custom wait events".to_string());
            0
        }
    }
}

/// PostgreSQL's `SetConfigOption`: sets a parameter (the host's or a module's) in this process, as PostgreSQL's
/// context rules allow (`context` is the caller's: a parameter of a stricter context is an ERROR 55P02, a
/// superuser-only one set from a user context 42501; a module's reloadable parameter, whose PostgreSQL context bgw
/// does not keep, may be set from any context). The value is kept across reloads; a module's variable is written
/// through its hooks. `value` NULL sets the default. An unknown name is an ERROR 42704 (PostgreSQL would
/// make a placeholder for a dotted one).
#[no_mangle]
pub extern "C" fn SetConfigOption(
    name: *const c_char,
    value: *const c_char,
    context: bgw_abi::GucContext,
    _source: bgw_abi::GucSource,
) {
    use crate::config::GucContext as C;
    use bgw_abi::{PGC_BACKEND, PGC_INTERNAL, PGC_POSTMASTER, PGC_SIGHUP, PGC_USERSET};
    let name = text(name);
    let outcome = {
        let mut settings = crate::process::settings();
        match settings.as_mut().and_then(|s| s.def(&name).cloned().map(|d| (s, d))) {
            None => Err(("42704", format!("unrecognized configuration parameter \"{name}\""))),
            Some((s, def)) => {
                // A module's parameter (a dotted name) is Sighup in bgw whatever its PostgreSQL context was
                // (README: no per-session SET of them): only restart-only and internal ones are refused.
                let module_reloadable = def.name.contains('.') && def.context != C::Postmaster;
                let refused = match def.context {
                    _ if module_reloadable => None,
                    C::Internal if context != PGC_INTERNAL => {
                        Some(("55P02", format!("parameter \"{}\" cannot be changed", def.name)))
                    }
                    C::Postmaster if context != PGC_POSTMASTER => Some((
                        "55P02",
                        format!("parameter \"{}\" cannot be changed without restarting the server", def.name),
                    )),
                    C::Sighup if context != PGC_SIGHUP && context != PGC_POSTMASTER => {
                        Some(("55P02", format!("parameter \"{}\" cannot be changed now", def.name)))
                    }
                    C::Superuser if context == PGC_USERSET || context == PGC_BACKEND => {
                        Some(("42501", format!("permission denied to set parameter \"{}\"", def.name)))
                    }
                    _ => None,
                };
                match refused {
                    Some(r) => Err(r),
                    None => {
                        let raw = if value.is_null() { def.default.to_string() } else { text(value) };
                        s.set_in_process(&def.name, &raw).map_err(|e| ("22023", e.to_string()))
                    }
                }
            }
        }
    };
    // The settings' lock is released before a module's hooks run or an ERROR jumps.
    drop(name);
    match outcome {
        Ok(()) => super::params::sync_all(),
        Err((sqlstate, message)) => raise(sqlstate, message),
    }
}
