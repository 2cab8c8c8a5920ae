//! `worker_spi`: PostgreSQL's sample background worker module, written in Rust with `bgw-sdk`.
//!
//! Behaviour (PostgreSQL's sample, minus the database work, which arrives with the host's databases):
//!
//! - Parameters, defined in every process that loads the module: `worker_spi.naptime` (seconds between rounds,
//!   default 10, at least 1, reloadable), `worker_spi.total_workers` (static workers to start, default 2, 1..=100,
//!   restart-only), `worker_spi.database` (the database to work in, default `postgres`, restart-only); the
//!   `worker_spi` prefix is reserved.
//! - Only while preloaded (`shared_preload_libraries = 'worker_spi'`): registers `total_workers` static workers
//!   "worker_spi worker N" (type `worker_spi`, entry `worker_spi_main`, main argument N, restarted after 60 s,
//!   started once recovery has finished, with shared memory and database access flags) and defines the SQL
//!   function `worker_spi_launch(index)`.
//! - `worker_spi_launch(index)` registers a dynamic worker "worker_spi dynamic worker N" (type
//!   `worker_spi dynamic`, never restarted) that notifies the calling backend, waits for it to start and returns
//!   its pid.
//! - `worker_spi_main(index)` logs that it is initialized, then sleeps `naptime` seconds at a time and logs a tick
//!   after each; SIGHUP re-reads the configuration (and logs the naptime), SIGTERM ends it with exit code 1 (as the
//!   original's `die()` does, so a static worker is restarted after its interval and is not unregistered), and
//!   postmaster death ends it at once.
//!
//! The database flag is set on the registrations as in the original, but no connection is made: this version
//! of the host has no databases (its connect function would end the worker with a FATAL).
//!
//! Runs in: `_PG_init` in the postmaster (preload) or in whichever worker or backend first loads the library;
//! `worker_spi_launch` in backends; `worker_spi_main` in workers.
#![deny(unsafe_code)]

use bgw_sdk::params::{Context, IntParam, StringParam, Unit};
use bgw_sdk::sql::{FunctionFlags, ResultType, SqlError, SqlValue};
use bgw_sdk::{BackgroundWorkerBuilder, Flags, MainArg, Restart, Signals, StartPhase, Status, WaitEvents};
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
        "The database the workers work in (used once databases exist).",
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
    bgw_sdk::sql::define_function("worker_spi_launch", 1, ResultType::Int, FunctionFlags::SUPERUSER, launch)?;
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

/// `worker_spi_launch(index)`: starts a dynamic worker and returns its pid.
fn launch(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    let index = match args.first() {
        None | Some(SqlValue::Null) => return Ok(SqlValue::Null), // strict: NULL in, NULL out
        Some(SqlValue::Int(i)) => i32::try_from(*i).map_err(|_| SqlError::new("22003", "integer out of range"))?,
        Some(_) => return Err(SqlError::new("42804", "worker_spi_launch expects an integer worker index")),
    };
    let registered = BackgroundWorkerBuilder::new(format!("worker_spi dynamic worker {index}"))
        .worker_type("worker_spi dynamic")
        .library(LIBRARY)
        .function("worker_spi_main")
        .flags(Flags::SHMEM | Flags::DATABASE)
        .start_phase(StartPhase::RecoveryFinished)
        .restart(Restart::Never)
        .main_arg(index_datum(index))
        .notify_self()
        .register_dynamic()
        .map_err(|e| SqlError::internal(e.to_string()))?;
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

/// The worker: logs a tick every `worker_spi.naptime` seconds until SIGTERM or postmaster death.
fn worker_spi_main(arg: MainArg) {
    Signals::install();
    let index = arg.as_i32();
    let me = bgw_sdk::my_registration();
    let name = me.as_ref().map_or_else(|| format!("worker_spi worker {index}"), |r| r.name.clone());
    let worker_type = me.as_ref().map_or_else(|| "worker_spi".to_string(), |r| r.worker_type.clone());
    let database = PARAMS.get().map_or_else(|| "postgres".to_string(), |p| p.database.get());
    bgw_sdk::log!(
        "{name} initialized with schema \"schema{index}\" and table \"counted\" in database \"{database}\" \
         (no connection yet: the host has no databases)"
    );
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
            bgw_sdk::log!("{name}: tick (naptime {naptime} s)");
        }
    }
}
