//! The backend's SQL functions, defined as SQLite scalar functions that ask the host.
//!
//! | function                                                   | result                                       |
//! |------------------------------------------------------------|----------------------------------------------|
//! | `bgw_register(library, function [, main_arg [, options [, wait]]])` | handle (`slot:generation`); NULL: no slot (within `wait`, an interval: queued for one) |
//! | `bgw_launch(library, function [, main_arg [, options [, wait [, wait_slot]]]])` | pid of the started (or ready) worker  |
//! | `bgw_status(handle)`                                       | `not_yet_started`, `started`, `stopped`, ... |
//! | `bgw_pid(handle)`                                          | pid, NULL unless started                     |
//! | `bgw_wait_for_startup(handle)`                             | pid, NULL if not yet started                 |
//! | `bgw_wait_for_shutdown(handle)`                            | status text                                  |
//! | `bgw_terminate(handle [, grace])`                          | true (grace: SIGKILL after that long)        |
//! | `bgw_exit_reason(handle)`                                  | why its last run ended, in words             |
//! | `bgw_reset(handle)`                                        | true; a worker given up on runs again        |
//! | `bgw_wait_for_ready(handle [, timeout])`                   | pid once ready; NULL if not by the timeout   |
//! | `bgw_type_by_pid(pid)`                                     | worker type, NULL if none                    |
//!
//! and, as in PostgreSQL: `pg_backend_pid()`, `pg_reload_conf()`, `pg_cancel_backend(pid)`, `pg_terminate_backend(pid)`,
//! `current_setting(name [, missing_ok])`, `pg_postmaster_start_time()`, `version()`, `pg_notify(channel, payload)`.
//!
//! A function given a NULL handle or pid returns NULL (PostgreSQL's strict functions). A failing function fails
//! its statement with the host's [`SqlError`], SQLSTATE included (see [`super::context::fail`]). Some calls wait
//! (for a worker to start or stop); they block the backend, which serves one connection only.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::functions::{Context, FunctionFlags, SqlFnOutput};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::context;
use super::host::{Handle, SqlArg, SqlError, SqlResultType, Status};
use super::options::parse_registration;
use super::types::{float_text, parse_bool, timestamp_text, PgType};

type SqlFn<T> = fn(&Context<'_>) -> Result<T, SqlError>;

/// The functions that only read (or, for pg_notify, send what the session could send anyway). Not
/// `current_setting`: a view or trigger one role plants would read a superuser-only parameter
/// (`GUC_SUPERUSER_ONLY`) with the privileges of the superuser who sets it off.
const INNOCUOUS: &[&str] = &[
    "bgw_status",
    "bgw_pid",
    "bgw_exit_reason",
    "bgw_type_by_pid",
    "pg_backend_pid",
    "pg_postmaster_start_time",
    "version",
    "pg_notify",
];

/// Defines `f` as SQL function `name` taking each of `arities` arguments. A panic in `f` fails the statement
/// with an internal error (XX000) that names the function.
fn define<T: SqlFnOutput + 'static>(
    conn: &Connection,
    name: &'static str,
    arities: &[i32],
    f: SqlFn<T>,
) -> rusqlite::Result<()> {
    // Functions without side effects a role could abuse may appear in triggers and views (see
    // `crate::sql::sqlite::sandbox`).
    let flags = if INNOCUOUS.contains(&name) {
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_INNOCUOUS
    } else {
        FunctionFlags::SQLITE_UTF8
    };
    for &arity in arities {
        conn.create_scalar_function(name, arity, flags, move |ctx| match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
            Ok(result) => result.map_err(context::fail),
            Err(payload) => Err(context::fail(SqlError::error(
                "XX000",
                format!("internal error in function {name}: {}", context::panic_message(&*payload)),
            ))),
        })?;
    }
    Ok(())
}

thread_local! {
    /// Result types of the modules' functions defined in this session (for describing result columns).
    static MODULE_RESULT_TYPES: std::cell::RefCell<std::collections::HashMap<String, PgType>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Defines the SQL functions that loaded modules declared (the host lists them) on `conn`.
fn register_module_functions(conn: &Connection) -> rusqlite::Result<()> {
    let Ok(host) = context::host() else { return Ok(()) };
    for f in host.module_functions() {
        let pg = match f.result {
            SqlResultType::Int8 => PgType::Int8,
            SqlResultType::Float8 => PgType::Float8,
            SqlResultType::Text => PgType::Text,
            SqlResultType::Bool => PgType::Bool,
        };
        MODULE_RESULT_TYPES.with(|m| m.borrow_mut().insert(f.name.to_ascii_lowercase(), pg));
        // rusqlite wants Send callbacks, and the function's `call` is an Rc: the callback looks the function up
        // again by name (the table is this process's own, and the backend has one thread).
        let name = f.name.clone();
        let nargs = f.nargs;
        conn.create_scalar_function(f.name.as_str(), f.nargs, FunctionFlags::SQLITE_UTF8, move |ctx| {
            let run = || -> Result<rusqlite::types::Value, SqlError> {
                let args =
                    (0..ctx.len()).map(|i| SqlArg::from_sqlite(ctx.get_raw(i))).collect::<Result<Vec<_>, _>>()?;
                let host = context::host()?;
                let f = host
                    .module_functions()
                    .into_iter()
                    // A module may define several functions of one name with different argument counts.
                    .find(|m| m.name == name && m.nargs == nargs)
                    .ok_or_else(|| SqlError::error("42883", format!("function {name} does not exist")))?;
                Ok(match (f.call)(&args)? {
                    SqlArg::Null => rusqlite::types::Value::Null,
                    SqlArg::Int(i) => rusqlite::types::Value::Integer(i),
                    SqlArg::Real(r) => rusqlite::types::Value::Real(r),
                    SqlArg::Text(t) => rusqlite::types::Value::Text(t),
                    SqlArg::Bool(b) => rusqlite::types::Value::Integer(b as i64),
                })
            };
            match catch_unwind(AssertUnwindSafe(run)) {
                Ok(result) => result.map_err(context::fail),
                Err(payload) => Err(context::fail(SqlError::error(
                    "XX000",
                    format!("internal error in function {name}: {}", context::panic_message(&*payload)),
                ))),
            }
        })?;
    }
    Ok(())
}

/// Defines the backend's functions on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    register_module_functions(conn)?;
    define(conn, "bgw_register", &[2, 3, 4, 5], bgw_register)?;
    define(conn, "bgw_launch", &[2, 3, 4, 5, 6], bgw_launch)?;
    define(conn, "bgw_status", &[1], bgw_status)?;
    define(conn, "bgw_pid", &[1], bgw_pid)?;
    define(conn, "bgw_wait_for_startup", &[1], bgw_wait_for_startup)?;
    define(conn, "bgw_wait_for_shutdown", &[1], bgw_wait_for_shutdown)?;
    define(conn, "bgw_terminate", &[1, 2], bgw_terminate)?;
    define(conn, "bgw_exit_reason", &[1], bgw_exit_reason)?;
    define(conn, "bgw_reset", &[1], bgw_reset)?;
    define(conn, "bgw_wait_for_ready", &[1, 2], bgw_wait_for_ready)?;
    define(conn, "bgw_type_by_pid", &[1], bgw_type_by_pid)?;
    define(conn, "pg_backend_pid", &[0], pg_backend_pid)?;
    define(conn, "pg_reload_conf", &[0], pg_reload_conf)?;
    define(conn, "pg_cancel_backend", &[1], pg_cancel_backend)?;
    define(conn, "pg_terminate_backend", &[1], pg_terminate_backend)?;
    define(conn, "current_setting", &[1, 2], current_setting)?;
    define(conn, "set_config", &[3], set_config)?;
    define(conn, "bgw_show_all", &[0], bgw_show_all)?;
    define(conn, "pg_postmaster_start_time", &[0], pg_postmaster_start_time)?;
    define(conn, "version", &[0], version)?;
    define(conn, "pg_notify", &[2], pg_notify)?;
    Ok(())
}

/// The PostgreSQL type of what function `name` returns, for the backend's functions (a module's first) whose
/// result type does not depend on their arguments; SQLite's built-in functions are the SQL layer's business.
pub(crate) fn result_type(name: &str) -> Option<PgType> {
    if let Some(t) = super::extension::registry::result_type(name) {
        return Some(t);
    }
    if let Some(t) = MODULE_RESULT_TYPES.with(|m| m.borrow().get(&name.to_ascii_lowercase()).copied()) {
        return Some(t);
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "bgw_launch" | "bgw_pid" | "bgw_wait_for_startup" | "bgw_wait_for_ready" | "pg_backend_pid" => PgType::Int4,
        "bgw_terminate" | "bgw_reset" | "pg_reload_conf" | "pg_cancel_backend" | "pg_terminate_backend" => PgType::Bool,
        "pg_notify" => PgType::Void,
        "bgw_register"
        | "bgw_status"
        | "bgw_exit_reason"
        | "bgw_wait_for_shutdown"
        | "bgw_type_by_pid"
        | "current_setting"
        | "set_config"
        | "bgw_show_all"
        | "pg_postmaster_start_time"
        | "version" => PgType::Text,
        _ => return None,
    })
}

/// The parameter names of the backend's functions that take named arguments (PostgreSQL's `name => value`).
pub(crate) fn parameter_names(name: &str) -> Option<Vec<&'static str>> {
    Some(match name.to_ascii_lowercase().as_str() {
        "bgw_launch" => vec!["library", "function", "main_arg", "options", "wait", "wait_slot"],
        "bgw_register" => vec!["library", "function", "main_arg", "options", "wait"],
        "bgw_terminate" => vec!["handle", "grace"],
        "bgw_wait_for_ready" => vec!["handle", "timeout"],
        _ => return None,
    })
}

/// The argument types of the backend's functions whose arguments are typed (a parameter passed to one is
/// described with them).
pub(crate) fn argument_types(name: &str) -> Option<Vec<PgType>> {
    if let Some(t) = super::extension::registry::argument_types(name) {
        return Some(t);
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "bgw_launch" => vec![PgType::Text, PgType::Text, PgType::Int8, PgType::Text, PgType::Text, PgType::Interval],
        "bgw_register" => vec![PgType::Text, PgType::Text, PgType::Int8, PgType::Text, PgType::Interval],
        // The grace period is an interval (a parameter for it is one too: '300 ms' is its text).
        "bgw_terminate" | "bgw_wait_for_ready" => vec![PgType::Text, PgType::Interval],
        "bgw_status"
        | "bgw_wait_for_startup"
        | "bgw_wait_for_shutdown"
        | "bgw_pid"
        | "bgw_exit_reason"
        | "bgw_reset" => {
            vec![PgType::Text]
        }
        "pg_cancel_backend" | "pg_terminate_backend" | "bgw_type_by_pid" => vec![PgType::Int4],
        "current_setting" => vec![PgType::Text, PgType::Bool],
        "set_config" => vec![PgType::Text, PgType::Text, PgType::Bool],
        "pg_notify" => vec![PgType::Text, PgType::Text],
        _ => return None,
    })
}

fn arg<'a>(ctx: &'a Context<'_>, index: usize) -> ValueRef<'a> {
    if index < ctx.len() {
        ctx.get_raw(index)
    } else {
        ValueRef::Null
    }
}

fn text_arg(ctx: &Context<'_>, index: usize) -> Result<Option<String>, SqlError> {
    Ok(match arg(ctx, index) {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(float_text(f)),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(
            std::str::from_utf8(bytes)
                .map_err(|_| SqlError::error("22021", "invalid byte sequence for encoding \"UTF8\""))?
                .to_owned(),
        ),
    })
}

fn int_arg(ctx: &Context<'_>, index: usize, what: &str) -> Result<Option<i64>, SqlError> {
    let bad = |shown: String| {
        SqlError::error("22P02", format!("invalid input syntax for type bigint: \"{shown}\""))
            .with_detail(format!("The {what} must be an integer."))
    };
    match arg(ctx, index) {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        ValueRef::Real(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(Some(f as i64)),
        ValueRef::Real(f) => Err(bad(float_text(f))),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            text.trim().parse().map(Some).map_err(|_| bad(text.chars().take(100).collect()))
        }
    }
}

fn pid_arg(ctx: &Context<'_>, index: usize) -> Result<Option<i32>, SqlError> {
    match int_arg(ctx, index, "pid")? {
        None => Ok(None),
        Some(pid) => i32::try_from(pid).map(Some).map_err(|_| SqlError::error("22003", "integer out of range")),
    }
}

fn handle_arg(ctx: &Context<'_>, index: usize) -> Result<Option<Handle>, SqlError> {
    text_arg(ctx, index)?.map(|text| text.parse::<Handle>().map_err(SqlError::from)).transpose()
}

fn registration(ctx: &Context<'_>) -> Result<super::host::RegistrationRequest, SqlError> {
    let library = text_arg(ctx, 0)?;
    let function = text_arg(ctx, 1)?;
    let main_arg = int_arg(ctx, 2, "main argument")?;
    let options = text_arg(ctx, 3)?;
    parse_registration(library.as_deref(), function.as_deref(), main_arg, options.as_deref())
}

fn stopped(name: &str) -> SqlError {
    SqlError::error("55000", format!("background worker \"{name}\" stopped before it started"))
        .with_hint("More details may be available in the server log.")
}

fn postmaster_died() -> SqlError {
    SqlError::error("57P01", "cannot start background processes without postmaster")
        .with_hint("Kill all remaining database processes and restart the database.")
}

/// The name of the worker `handle` refers to, for messages.
fn worker_name(handle: Handle) -> String {
    context::host()
        .ok()
        .and_then(|host| {
            host.workers()
                .into_iter()
                .find(|w| w.slot == i64::from(handle.slot) && w.generation as u64 == handle.generation)
                .map(|w| w.name)
        })
        .unwrap_or_else(|| handle.to_string())
}

/// A wait for a free slot (`bgw_register`'s `wait`, `bgw_launch`'s `wait_slot`): an interval; absent or NULL:
/// no wait (the spec's answer at once).
fn wait_slot_arg(ctx: &Context<'_>, index: usize) -> Result<Option<std::time::Duration>, SqlError> {
    if ctx.len() <= index {
        return Ok(None);
    }
    Ok(duration_arg(ctx, index, "wait for a slot")?.map(|ms| std::time::Duration::from_millis(ms.into())))
}

fn bgw_register(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    let mut req = registration(ctx)?;
    req.wait_slot = wait_slot_arg(ctx, 4)?;
    Ok(context::host()?.register(&req)?.map(|handle| handle.to_string()))
}

fn bgw_launch(ctx: &Context<'_>) -> Result<i64, SqlError> {
    let mut req = registration(ctx)?;
    req.wait_slot = wait_slot_arg(ctx, 5)?;
    // The fifth argument, `wait => 'ready'` (or 'started'), as the options' "wait".
    match text_arg(ctx, 4)?.as_deref() {
        None | Some("started") => {}
        Some("ready") => req.wait_ready = true,
        Some(other) => {
            return Err(SqlError::error("22023", format!("wait must be \"started\" or \"ready\", not \"{other}\"")))
        }
    }
    let host = context::host()?;
    let handle = host.register(&req)?.ok_or_else(|| {
        SqlError::error("53400", "could not register background process")
            .with_hint("You may need to increase \"max_worker_processes\".")
    })?;
    let name = if req.name.is_empty() { &req.function } else { &req.name };
    match host.wait_for_startup(handle)? {
        Status::Started(_) if req.wait_ready => {
            let pid = ready_result(host.wait_for_ready(handle, None)?, name)?;
            pid.ok_or_else(|| SqlError::error("55000", format!("background worker \"{name}\" is not ready")))
        }
        Status::Started(pid) => Ok(pid.into()),
        Status::Stopped => Err(stopped(name)),
        Status::PostmasterDied => Err(postmaster_died()),
        Status::NotYetStarted => {
            Err(SqlError::error("55000", format!("background worker \"{name}\" has not started yet")))
        }
    }
}

fn bgw_status(ctx: &Context<'_>) -> Result<Option<&'static str>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    Ok(Some(context::host()?.status(handle)?.as_str()))
}

fn bgw_pid(ctx: &Context<'_>) -> Result<Option<i64>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    Ok(match context::host()?.status(handle)? {
        Status::Started(pid) => Some(pid.into()),
        _ => None,
    })
}

fn bgw_wait_for_startup(ctx: &Context<'_>) -> Result<Option<i64>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    match context::host()?.wait_for_startup(handle)? {
        Status::Started(pid) => Ok(Some(pid.into())),
        Status::NotYetStarted => Ok(None),
        Status::Stopped => Err(stopped(&worker_name(handle))),
        Status::PostmasterDied => Err(postmaster_died()),
    }
}

fn bgw_wait_for_shutdown(ctx: &Context<'_>) -> Result<Option<&'static str>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    Ok(Some(context::host()?.wait_for_shutdown(handle)?.as_str()))
}

fn bgw_terminate(ctx: &Context<'_>) -> Result<Option<bool>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    if ctx.len() < 2 {
        context::host()?.terminate(handle)?;
        return Ok(Some(true));
    }
    let Some(grace_ms) = grace_arg(ctx, 1)? else { return Ok(None) };
    context::host()?.terminate_with_grace(handle, grace_ms)?;
    Ok(Some(true))
}

/// A grace period: an interval (`'5 seconds'`, `'00:00:05'`, `interval '250 ms'`) or a number of seconds; in
/// milliseconds. Negative or longer than 24 days (the host's timer range) is 22023.
fn grace_arg(ctx: &Context<'_>, index: usize) -> Result<Option<u32>, SqlError> {
    duration_arg(ctx, index, "grace period")
}

/// A duration argument (`what` names it in errors), as [`grace_arg`] describes.
fn duration_arg(ctx: &Context<'_>, index: usize, what: &str) -> Result<Option<u32>, SqlError> {
    let seconds = match arg(ctx, index) {
        ValueRef::Null => return Ok(None),
        ValueRef::Integer(i) => i as f64,
        ValueRef::Real(r) => r,
        ValueRef::Text(t) => {
            let text = String::from_utf8_lossy(t);
            let interval = crate::sql::datum::datetime::parse_interval(&text)?;
            if interval.months != 0 {
                return Err(SqlError::error("22023", format!("a {what} cannot be given in months or years")));
            }
            interval.days as f64 * 86_400.0 + interval.micros as f64 / 1e6
        }
        ValueRef::Blob(_) => {
            return Err(SqlError::error("42804", format!("a {what} is an interval or a number of seconds")))
        }
    };
    if !(0.0..=(i32::MAX as f64 / 1000.0)).contains(&seconds) {
        return Err(SqlError::error("22023", format!("{what} {seconds} s is out of range")));
    }
    Ok(Some((seconds * 1000.0).round() as u32))
}

/// Waits until the worker reports ready: its pid; NULL if the timeout (an interval) passed first; an error if it
/// stopped first.
fn bgw_wait_for_ready(ctx: &Context<'_>) -> Result<Option<i64>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    let timeout = match ctx.len() {
        n if n >= 2 => match grace_arg(ctx, 1)? {
            Some(ms) => Some(std::time::Duration::from_millis(ms.into())),
            None => return Ok(None),
        },
        _ => None,
    };
    ready_result(context::host()?.wait_for_ready(handle, timeout)?, &worker_name(handle))
}

fn ready_result(wait: crate::bgworker::handle::ReadyWait, name: &str) -> Result<Option<i64>, SqlError> {
    use crate::bgworker::handle::ReadyWait;
    match wait {
        ReadyWait::Ready(pid) => Ok(Some(pid.into())),
        ReadyWait::NotReady => Ok(None),
        ReadyWait::Stopped => {
            Err(SqlError::error("55000", format!("background worker \"{name}\" stopped before it was ready"))
                .with_hint("Its exit reason (bgw_exit_reason) says why."))
        }
        ReadyWait::PostmasterDied => Err(postmaster_died()),
    }
}

/// Lets a worker its restart policy gave up on run again; false for a stale handle.
fn bgw_reset(ctx: &Context<'_>) -> Result<Option<bool>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    Ok(Some(context::host()?.reset(handle)?))
}

/// Why the registration's last run ended, in words ("exited with exit code 1", "terminated on request (exit
/// code 1)", ...); "has not ended" while it has not; a stale handle says so.
fn bgw_exit_reason(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    let Some(handle) = handle_arg(ctx, 0)? else { return Ok(None) };
    let info = context::host()?
        .exit_reason(handle)?
        .ok_or_else(|| SqlError::error("55000", "the exit record is being rewritten; try again"))?;
    Ok(Some(crate::bgworker::handle::describe(&info)))
}

fn bgw_type_by_pid(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    match int_arg(ctx, 0, "pid")?.map(i32::try_from) {
        Some(Ok(pid)) => Ok(context::host()?.type_by_pid(pid)),
        _ => Ok(None),
    }
}

fn pg_backend_pid(_ctx: &Context<'_>) -> Result<i64, SqlError> {
    Ok(context::host()?.backend_pid().into())
}

fn pg_reload_conf(_ctx: &Context<'_>) -> Result<bool, SqlError> {
    context::host()?.reload_conf()
}

fn pg_cancel_backend(ctx: &Context<'_>) -> Result<Option<bool>, SqlError> {
    let Some(pid) = pid_arg(ctx, 0)? else { return Ok(None) };
    context::host()?.cancel_backend(pid).map(Some)
}

fn pg_terminate_backend(ctx: &Context<'_>) -> Result<Option<bool>, SqlError> {
    let Some(pid) = pid_arg(ctx, 0)? else { return Ok(None) };
    context::host()?.terminate_backend(pid).map(Some)
}

fn current_setting(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    let Some(name) = text_arg(ctx, 0)? else { return Ok(None) };
    let missing_ok = match arg(ctx, 1) {
        ValueRef::Null => false,
        ValueRef::Integer(i) => i != 0,
        _ => text_arg(ctx, 1)?.as_deref().and_then(parse_bool).unwrap_or(false),
    };
    match super::settings::current_setting(&*context::host()?, &name) {
        Ok(value) => Ok(Some(value)),
        Err(err) if missing_ok && err.code == "42704" => Ok(None),
        Err(err) => Err(err),
    }
}

/// `set_config(name, value, is_local)`: sets the session's value (as `SET` / `SET LOCAL`) and returns it.
fn set_config(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    let Some(name) = text_arg(ctx, 0)? else {
        return Err(SqlError::error("22004", "SET requires parameter name"));
    };
    let value = text_arg(ctx, 1)?;
    let local = match arg(ctx, 2) {
        ValueRef::Null => false,
        ValueRef::Integer(i) => i != 0,
        _ => text_arg(ctx, 2)?.as_deref().and_then(parse_bool).unwrap_or(false),
    };
    super::settings::set_config(&*context::host()?, &name, value.as_deref(), local).map(Some)
}

/// `bgw_show_all()`: what `SHOW ALL` shows, as a JSON array of `[name, setting, description]`.
fn bgw_show_all(_ctx: &Context<'_>) -> Result<String, SqlError> {
    Ok(super::settings::show_all(&*context::host()?))
}

fn pg_postmaster_start_time(_ctx: &Context<'_>) -> Result<String, SqlError> {
    Ok(timestamp_text(context::host()?.postmaster_start_time()))
}

fn version(_ctx: &Context<'_>) -> Result<String, SqlError> {
    Ok(version_string())
}

/// What `version()` returns.
pub(crate) fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (bgw {}) on {}-{}, SQL by SQLite {}, {}-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        rusqlite::version(),
        usize::BITS
    )
}

/// `pg_notify(channel, payload)`: NOTIFY with a computed channel and payload (sent when the transaction commits).
fn pg_notify(ctx: &Context<'_>) -> Result<Option<String>, SqlError> {
    let channel = text_arg(ctx, 0)?.unwrap_or_default();
    let payload = text_arg(ctx, 1)?.unwrap_or_default();
    context::host()?.notify(&channel, &payload)?;
    Ok(None)
}
