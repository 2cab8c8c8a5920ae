//! `worker_spi`: PostgreSQL's sample background worker module, written in Rust with `bgw-sdk`.
//!
//! Behaviour (PostgreSQL's sample, adapted to the host's SQLite databases):
//!
//! - Parameters, defined in every process that loads the module: `worker_spi.naptime` (seconds between rounds,
//!   default 10, at least 1, reloadable), `worker_spi.total_workers` (static workers to start, default 2, 1..=100,
//!   restart-only), `worker_spi.database` (the database to work in, default `postgres`, restart-only); the
//!   `worker_spi` prefix is reserved.
//! - Only while preloaded (`shared_preload_libraries = 'worker_spi'`): registers `total_workers` static workers
//!   "worker_spi worker N" (type `worker_spi`, entry `worker_spi_main`, main argument N, restarted after 60 s,
//!   started once recovery has finished, with shared memory and database access flags) and defines the SQL
//!   functions `worker_spi_launch(index)` and `worker_spi_launch(index, dboid, roleoid, flags)`.
//! - `worker_spi_launch` registers a dynamic worker "worker_spi dynamic worker N" (type `worker_spi dynamic`,
//!   never restarted) that notifies the calling backend, waits for it to start and returns its pid. The 4-argument
//!   form stores the database oid, role oid and connection flags in the registration's extra data, as text
//!   `dboid=D roleoid=R flags=F` (see [`Target`]).
//! - `worker_spi_main(index)` connects: by oid when its extra data names a database oid, otherwise to
//!   `worker_spi.database` (as the bootstrap superuser). SQLite has no schemas, so PostgreSQL's `schemaN.counted`
//!   is the table `schemaN_counted` (N = the index), created if missing in a transaction at start. Every `naptime`
//!   seconds one transaction folds the `delta` rows into the single `total` row (inserted if missing) and deletes
//!   them; a change is logged ("... is now T"). SIGHUP re-reads the configuration (and logs the naptime), SIGTERM
//!   ends it with exit code 1 (as the original's `die()` does, so a static worker is restarted after its
//!   interval and is not unregistered), and postmaster death ends it at once. A refused connection or a failed
//!   round is FATAL (exit code 1).
//!
//! Runs in: `_PG_init` in the postmaster (preload) or in whichever worker or backend first loads the library;
//! `worker_spi_launch` in backends; `worker_spi_main` in workers.
#![deny(unsafe_code)]

use bgw_sdk::params::{Context, IntParam, StringParam, Unit};
use bgw_sdk::spi::{self, Spi, SpiError};
use bgw_sdk::sql::{FunctionFlags, ResultType, SqlError, SqlValue};
use bgw_sdk::{
    BackgroundWorkerBuilder, ConnectionFlags, Flags, MainArg, Restart, Signals, StartPhase, Status, WaitEvents,
};
use std::sync::OnceLock;
use std::time::Duration;

/// The library name registrations use (the file is installed as `worker_spi.so`).
const LIBRARY: &str = "worker_spi";
const DEFAULT_NAPTIME: i32 = 10;

struct Params {
    naptime: &'static IntParam,
    total_workers: &'static IntParam,
    database: &'static StringParam,
}

/// Set by `_PG_init` in the process that loaded the module; children forked after it inherit it.
static PARAMS: OnceLock<Params> = OnceLock::new();

fn define_params() -> Result<Params, bgw_sdk::Error> {
    let naptime = IntParam::define(
        "worker_spi.naptime",
        "Seconds a worker sleeps between rounds.",
        DEFAULT_NAPTIME,
        1..=i32::MAX,
        Unit::S,
        Context::Reload,
    )?;
    let total_workers = IntParam::define(
        "worker_spi.total_workers",
        "How many static workers to start when preloaded.",
        2,
        1..=100,
        Unit::None,
        Context::Restart,
    )?;
    let database = StringParam::define(
        "worker_spi.database",
        "The database the workers connect to (by name).",
        "postgres",
        Context::Restart,
    )?;
    bgw_sdk::params::reserve_prefix("worker_spi")?;
    Ok(Params { naptime, total_workers, database })
}

fn init() -> Result<(), bgw_sdk::Error> {
    if PARAMS.get().is_none() {
        let params = define_params()?;
        let _ = PARAMS.set(params);
    }
    if !bgw_sdk::preloading() {
        return Ok(());
    }
    let params = PARAMS.get().expect("defined above");
    for index in 1..=params.total_workers.get() {
        BackgroundWorkerBuilder::new(format!("worker_spi worker {index}"))
            .worker_type("worker_spi")
            .library(LIBRARY)
            .function("worker_spi_main")
            .flags(Flags::SHMEM | Flags::DATABASE)
            .start_phase(StartPhase::RecoveryFinished)
            .restart(Restart::default()) // BGW_DEFAULT_RESTART_INTERVAL, 60 s
            .main_arg(index as usize)
            .register_static()?;
    }
    // One Rust function behind both forms, choosing by the number of arguments: this version of the host finds a
    // module function by name when it is called, so both definitions must lead to code that handles both forms.
    for nargs in [1, 4] {
        bgw_sdk::sql::define_function(
            "worker_spi_launch",
            nargs,
            ResultType::Int,
            FunctionFlags::SUPERUSER,
            launch_sql,
        )?;
    }
    Ok(())
}

#[allow(unsafe_code)] // the macro exports `_PG_init` with #[unsafe(no_mangle)]
mod exports {
    bgw_sdk::module_init!(super::init);
    bgw_sdk::worker_main!(worker_spi_main = super::worker_spi_main);
}

/// A main argument as C's `Int32GetDatum(index)` makes it (sign-extended).
fn index_datum(index: i32) -> usize {
    index as isize as usize
}

/// Where a worker connects, from its registration's extra data (text `dboid=D roleoid=R flags=F`, written by the
/// 4-argument `worker_spi_launch`; empty extra data: connect by name, no flags).
///
/// `dboid` 0 means `worker_spi.database` (by name), `roleoid` 0 the bootstrap superuser; a role oid needs a
/// database oid (a connection is either by names or by oids). `flags` are `BGWORKER_BYPASS_ALLOWCONN` (1) and
/// `BGWORKER_BYPASS_ROLELOGINCHECK` (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Target {
    dboid: u32,
    roleoid: u32,
    flags: u32,
}

/// Every connection flag the host knows.
const KNOWN_FLAGS: u32 = ConnectionFlags::BYPASS_ALLOWCONN.bits() | ConnectionFlags::BYPASS_ROLELOGINCHECK.bits();

impl Target {
    fn encode(self) -> String {
        format!("dboid={} roleoid={} flags={}", self.dboid, self.roleoid, self.flags)
    }

    /// Reads extra data (up to its first NUL byte); None for empty extra data.
    fn decode(extra: &[u8]) -> Result<Option<Target>, String> {
        let text = std::str::from_utf8(extra).map_err(|_| "the extra data is not UTF-8".to_string())?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let mut target = Target::default();
        for word in text.split_whitespace() {
            let (key, value) = word.split_once('=').ok_or_else(|| format!("\"{word}\" is not key=value"))?;
            let value: u32 = value.parse().map_err(|_| format!("\"{value}\" is not an oid or flags value"))?;
            match key {
                "dboid" => target.dboid = value,
                "roleoid" => target.roleoid = value,
                "flags" => target.flags = value,
                _ => return Err(format!("unknown key \"{key}\"")),
            }
        }
        target.check()?;
        Ok(Some(target))
    }

    fn check(self) -> Result<(), String> {
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(format!("invalid connection flags {} (allowed: 1, 2 and 3)", self.flags));
        }
        if self.dboid == 0 && self.roleoid != 0 {
            return Err("a role oid needs a database oid".to_string());
        }
        Ok(())
    }

    fn connection_flags(self) -> ConnectionFlags {
        let mut flags = ConnectionFlags::empty();
        for flag in [ConnectionFlags::BYPASS_ALLOWCONN, ConnectionFlags::BYPASS_ROLELOGINCHECK] {
            if self.flags & flag.bits() != 0 {
                flags = flags | flag;
            }
        }
        flags
    }
}

/// An integer argument of `worker_spi_launch`; None for NULL (the function is strict).
fn int_arg(args: &[SqlValue], at: usize, what: &str) -> Result<Option<i64>, SqlError> {
    match args.get(at) {
        None | Some(SqlValue::Null) => Ok(None),
        Some(SqlValue::Int(i)) => Ok(Some(*i)),
        Some(_) => Err(SqlError::new("42804", format!("worker_spi_launch expects an integer {what}"))),
    }
}

fn oid_arg(args: &[SqlValue], at: usize, what: &str) -> Result<Option<u32>, SqlError> {
    int_arg(args, at, what)?
        .map(|v| u32::try_from(v).map_err(|_| SqlError::new("22003", format!("{what} {v} is out of range for an oid"))))
        .transpose()
}

/// `worker_spi_launch(index)` and `worker_spi_launch(index, dboid, roleoid, flags)`, by the number of arguments.
fn launch_sql(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    match args.len() {
        4 => launch_4(args),
        1 => launch_1(args),
        n => Err(SqlError::new("42883", format!("worker_spi_launch takes 1 or 4 arguments, not {n}"))),
    }
}

/// `worker_spi_launch(index)`: starts a dynamic worker that connects to `worker_spi.database`; returns its pid.
fn launch_1(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    match int_arg(args, 0, "worker index")? {
        None => Ok(SqlValue::Null), // strict: NULL in, NULL out
        Some(index) => launch(index, None),
    }
}

/// `worker_spi_launch(index, dboid, roleoid, flags)`: as [`launch_1`], connecting where the oids say (0: the
/// parameter / the bootstrap superuser) with the connection flags given.
fn launch_4(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    let index = int_arg(args, 0, "worker index")?;
    let dboid = oid_arg(args, 1, "database oid")?;
    let roleoid = oid_arg(args, 2, "role oid")?;
    let flags = int_arg(args, 3, "flags value")?;
    let (Some(index), Some(dboid), Some(roleoid), Some(flags)) = (index, dboid, roleoid, flags) else {
        return Ok(SqlValue::Null);
    };
    let flags =
        u32::try_from(flags).map_err(|_| SqlError::new("22023", format!("invalid connection flags {flags}")))?;
    let target = Target { dboid, roleoid, flags };
    target.check().map_err(|reason| SqlError::new("22023", format!("worker_spi_launch: {reason}")))?;
    launch(index, Some(target))
}

fn launch(index: i64, target: Option<Target>) -> Result<SqlValue, SqlError> {
    let index = i32::try_from(index).map_err(|_| SqlError::new("22003", "integer out of range"))?;
    let mut builder = BackgroundWorkerBuilder::new(format!("worker_spi dynamic worker {index}"))
        .worker_type("worker_spi dynamic")
        .library(LIBRARY)
        .function("worker_spi_main")
        .flags(Flags::SHMEM | Flags::DATABASE)
        .start_phase(StartPhase::RecoveryFinished)
        .restart(Restart::Never)
        .main_arg(index_datum(index))
        .notify_self();
    if let Some(target) = target {
        builder = builder.extra(target.encode().as_bytes());
    }
    let registered = builder.register_dynamic().map_err(|e| SqlError::internal(e.to_string()))?;
    let Some(handle) = registered else {
        return Err(SqlError::new("53400", "could not register background process")
            .with_hint("You may need to increase max_worker_processes."));
    };
    match handle.wait_for_startup().map_err(|e| SqlError::internal(e.to_string()))? {
        Status::Started(pid) => Ok(SqlValue::Int(pid.into())),
        Status::Stopped => Err(SqlError::new("53000", "could not start background process")
            .with_hint("More details may be available in the server log.")),
        Status::PostmasterDied => Err(SqlError::new("53000", "cannot start background processes without postmaster")
            .with_hint("Kill all remaining database processes and restart the database.")),
        Status::NotYetStarted => Err(SqlError::internal("the background process has not started")),
    }
}

fn naptime_seconds() -> i32 {
    PARAMS.get().map_or(DEFAULT_NAPTIME, |p| p.naptime.get()).max(1)
}

/// The table of worker `index`: PostgreSQL's `schemaN.counted` (SQLite has no schemas).
fn table_name(index: i32) -> String {
    format!("schema{index}_counted")
}

/// A SQL identifier, double-quoted (a negative index makes a name with a `-`).
fn quoted(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Connects as the registration says; a description of the database for the log. A refusal ends the worker.
fn connect(name: &str, extra: &[u8]) -> String {
    let target = match Target::decode(extra) {
        Ok(target) => target,
        Err(reason) => bgw_sdk::fatal!("{name}: invalid extra data {:?}: {reason}", String::from_utf8_lossy(extra)),
    };
    let flags = target.map_or(ConnectionFlags::empty(), Target::connection_flags);
    match target {
        Some(t) if t.dboid != 0 => {
            spi::connect_by_oid(Some(t.dboid), (t.roleoid != 0).then_some(t.roleoid), flags);
            format!("the database with oid {}", t.dboid)
        }
        _ => {
            let database = PARAMS.get().map_or_else(|| "postgres".to_string(), |p| p.database.get());
            spi::connect(Some(&database), None, flags);
            format!("database \"{database}\"")
        }
    }
}

/// Creates the worker's table (and the index that keeps its `total` row single) if missing.
fn initialize(spi: &mut Spi, table: &str) -> Result<(), SpiError> {
    let t = quoted(table);
    let index = quoted(&format!("{table}_total"));
    spi.transaction(|spi| {
        spi.execute(
            &format!(
                "CREATE TABLE IF NOT EXISTS {t} (type TEXT NOT NULL CHECK (type IN ('total', 'delta')), value INTEGER);
                 CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {t} (type) WHERE type = 'total'"
            ),
            &[],
        )
        .map(drop)
    })
}

/// One round, in one transaction: adds the `delta` rows to the `total` row (inserted if missing) and deletes
/// them. The new total when something changed.
fn fold_deltas(spi: &mut Spi, table: &str) -> Result<Option<i64>, SpiError> {
    let t = quoted(table);
    spi.transaction(|spi| {
        let deltas = spi.execute(&format!("SELECT count(*) FROM {t} WHERE type = 'delta'"), &[])?;
        let deltas: u64 = deltas.value(0, 0).and_then(|v| v.parse().ok()).unwrap_or(0);
        let has_total = spi.execute(&format!("SELECT 1 FROM {t} WHERE type = 'total'"), &[])?.processed > 0;
        if deltas == 0 && has_total {
            return Ok(None);
        }
        if !has_total {
            spi.execute(&format!("INSERT INTO {t} (type, value) VALUES ('total', 0)"), &[])?;
        }
        spi.execute(
            &format!(
                "UPDATE {t} SET value = coalesce(value, 0) \
                 + (SELECT coalesce(sum(value), 0) FROM {t} WHERE type = 'delta') WHERE type = 'total'"
            ),
            &[],
        )?;
        spi.execute(&format!("DELETE FROM {t} WHERE type = 'delta'"), &[])?;
        let total = spi.execute(&format!("SELECT value FROM {t} WHERE type = 'total'"), &[])?;
        Ok(Some(total.value(0, 0).and_then(|v| v.parse().ok()).unwrap_or(0)))
    })
}

/// The worker: connects, creates its table, then folds the deltas every `worker_spi.naptime` seconds until
/// SIGTERM or postmaster death.
fn worker_spi_main(arg: MainArg) {
    Signals::install();
    let index = arg.as_i32();
    let me = bgw_sdk::my_registration();
    let name = me.as_ref().map_or_else(|| format!("worker_spi worker {index}"), |r| r.name.clone());
    let worker_type = me.as_ref().map_or_else(|| "worker_spi".to_string(), |r| r.worker_type.clone());
    let extra = me.as_ref().map(|r| r.extra_until_nul().to_vec()).unwrap_or_default();
    let database = connect(&name, &extra);
    let table = table_name(index);
    let mut spi = Spi::connect().unwrap_or_else(|e| bgw_sdk::fatal!("{name}: SPI_connect failed: {e}"));
    if let Err(e) = initialize(&mut spi, &table) {
        bgw_sdk::fatal!("{name}: could not create table \"{table}\" in {database}: {e}");
    }
    bgw_sdk::log!("{name} initialized with table \"{table}\" (PostgreSQL's schema{index}.counted) in {database}");
    loop {
        let naptime = naptime_seconds();
        let woke = bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(Duration::from_secs(naptime as u64)));
        bgw_sdk::reset_latch();
        if Signals::sigterm_received() {
            bgw_sdk::log!("{name} shutting down");
            // As the original's die(): exit code 1, so a static worker is restarted after its interval.
            bgw_sdk::fatal!("terminating background worker \"{worker_type}\" due to administrator command");
        }
        if Signals::sighup_received() {
            bgw_sdk::reload_config();
            bgw_sdk::log!("{name}: configuration reloaded, naptime is {} s", naptime_seconds());
        }
        if woke.timed_out() {
            bgw_sdk::debug1!("{name}: tick (naptime {naptime} s)");
            match fold_deltas(&mut spi, &table) {
                Ok(Some(total)) => bgw_sdk::log!("{name}: count in {table} is now {total}"),
                Ok(None) => {}
                Err(e) => bgw_sdk::fatal!("{name}: could not update \"{table}\": {e}"),
            }
        }
    }
}
