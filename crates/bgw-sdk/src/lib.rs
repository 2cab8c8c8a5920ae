//! Write background worker modules for the `bgw` host in safe Rust.
//!
//! A module is a shared library (`crate-type = ["cdylib"]`) that the host loads with `dlopen`: at start through
//! `shared_preload_libraries` (its `_PG_init` then runs in the postmaster and may register static workers), or
//! whenever a process first needs it (a worker whose registration names the library, a backend checking a
//! registration), where its `_PG_init` runs again, in that process; [`preloading`] tells the two apart. Its worker entry points are C
//! functions `void f(Datum)` found by name. This crate wraps the host's C API (`include/bgworker.h`) so that a
//! module needs no `unsafe` and no `extern`:
//!
//! - [`worker_main!`] exports entry points and [`module_init!`] exports `_PG_init`; both run the Rust code inside
//!   `catch_unwind` (a panic is an ERROR in the server log and exit code 1, never an abort);
//! - [`BackgroundWorkerBuilder`] registers workers (static or dynamic), refusing with an [`Error`] anything that
//!   would not fit the C struct instead of truncating it;
//! - [`BackgroundWorkerBuilder::arg`] attaches a typed (serde) argument of up to 8 KB encoded, read by the worker
//!   with [`arg()`] or as the parameter of a `#[worker]` function;
//! - [`worker`] and [`sql_function`] are attribute macros: entry points and typed SQL functions with no
//!   `extern "C"`;
//! - [`Handle`] follows a dynamic worker (status, blocking and awaitable waits, termination) and travels between
//!   processes as text `slot:generation`;
//! - [`wait_latch`] and friends sleep and wake; [`Signals`] installs PostgreSQL's flag-setting handlers;
//! - [`log!`], [`info!`], [`warning!`], [`error!`], ... write to the server log; [`my_registration`] reads the
//!   worker's own registration;
//! - [`params`] defines typed custom parameters (`module.name`) kept current by the host across reloads;
//!   [`shmem`] requests and attaches named shared memory holding [`shmem::Zeroable`] types (atomics);
//!   [`sql`] adds SQL functions written as safe Rust functions, whose errors and panics fail the statement
//!   through `bgw_sql_error`, never through the host's `longjmp`.
//!
//! The SDK does not link the host: every host function resolves when the host loads the module. Code that calls
//! into the host therefore only works inside the host's processes (a unit test of a module can exercise its pure
//! logic, not these calls).
//!
//! [`spi`] connects a worker registered with [`Flags::DATABASE`] to a database ([`spi::connect`]) and runs SQL
//! on it ([`spi::Spi`]), with results as text and transactions that commit on `Ok` and roll back on `Err`.
//!
//! # The smallest module
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "hello"
//! version = "0.1.0"
//! edition = "2021"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! bgw-sdk = { path = "../bgw-sdk" }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use bgw_sdk::{BackgroundWorkerBuilder, MainArg, Restart, Signals, WaitEvents};
//! use std::time::Duration;
//!
//! bgw_sdk::module_init!(|| -> Result<(), bgw_sdk::Error> {
//!     if !bgw_sdk::preloading() {
//!         return Ok(()); // loaded later, into a worker or backend: nothing to register
//!     }
//!     BackgroundWorkerBuilder::new("hello")
//!         .library("hello") // installed as hello.so (see below)
//!         .function("hello_main")
//!         .restart(Restart::After(Duration::from_secs(10)))
//!         .main_arg(1000)
//!         .register_static()
//! });
//!
//! fn hello_main(arg: MainArg) {
//!     Signals::install();
//!     let period = Duration::from_millis(arg.value() as u64);
//!     loop {
//!         let woke = bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(period));
//!         bgw_sdk::reset_latch();
//!         if Signals::sigterm_received() {
//!             bgw_sdk::log!("hello: shutting down");
//!             return; // exit code 0: the host forgets the worker
//!         }
//!         if Signals::sighup_received() {
//!             bgw_sdk::reload_config();
//!         }
//!         if woke.timed_out() {
//!             bgw_sdk::log!("hello from {}", bgw_sdk::my_registration().map(|r| r.name).unwrap_or_default());
//!         }
//!     }
//! }
//! bgw_sdk::worker_main!(hello_main);
//! # fn main() {}
//! ```
//!
//! Build with `cargo build --release`. Cargo names the library `libhello.so`; install it under the name the
//! registrations use, `hello.so`, in a directory on the host's library path, and preload it:
//!
//! ```sh
//! cp target/release/libhello.so /path/to/mods/hello.so
//! bgw start -D data -c dynamic_library_path='/path/to/mods:$libdir' -c shared_preload_libraries=hello
//! ```
//!
//! See the crate's `README.md` for naming and loading the library, and the `bgw-testing` crate for a module with
//! every kind of worker.
//!
//! # Where the code runs
//!
//! `_PG_init` runs in the postmaster, which is single-threaded and must stay so: register workers there and
//! return; do not start threads, block or wait. Entry points run in the worker processes the postmaster forks; a
//! worker may start threads, but the latch is per process (wait on it from one thread at a time).
#![deny(unsafe_code)]

// The modules in layers, each importing only from the layers below it:
// 1. `ffi`: the host's C functions, declared and wrapped, and `bgw-abi`'s types and constants (imports nothing of
//    the SDK);
// 2. helpers: `ctext` (Rust text as C strings), `catch` (panics kept from the host), `sqlcall` (whether a SQL
//    function runs on this thread), `error` (the SDK's error type);
// 3. `elog` (logging), then `entry` (worker entry points and `_PG_init`) and `sql` (SQL functions), which log;
// 4. the rest of the API (`handle`, `latch`, `registration`, `params`, `shmem`, `signals`, `spi`), on `ffi`,
//    `error` and the modules above.
// The attribute macros name the SDK `::bgw_sdk`, in the SDK's own tests too.
extern crate self as bgw_sdk;

pub mod arg;
mod catch;
mod ctext;
pub mod elog;
pub mod entry;
mod error;
#[cfg(test)]
mod fake_host;
mod ffi;
mod handle;
mod latch;
mod on_thread;
pub mod params;
mod registration;
pub mod shmem;
mod signals;
pub mod spi;
pub mod sql;
mod sqlcall;
pub mod value;

/// Whether the host is preloading this module right now (static registration is only possible then).
pub fn preloading() -> bool {
    ffi::preloading()
}

pub use arg::{arg, ArgError};
pub use elog::{Level, Report};

/// `#[bgw_sdk::sql_function]`: makes a typed safe Rust function a SQL function, defined with
/// [`sql::define`]; see [`sql::FromSqlArg`] and [`sql::IntoSqlValue`] for the types.
pub use bgw_sdk_macros::sql_function;
/// `#[bgw_sdk::worker]`: exports a safe Rust function as a worker entry point (no `extern "C"`); see
/// [`worker_main!`] for what the entry point does, and the `bgw-sdk-macros` crate for the accepted signatures
/// (no argument, [`MainArg`], `usize`, or a typed argument read with [`arg()`]).
pub use bgw_sdk_macros::worker;
pub use entry::{exit, InitFn, MainArg, WorkerFn};
pub use error::{Error, Field};
pub use handle::{ExitInfo, ExitReason, Handle, Status, WaitFuture};

/// Reports that this worker is ready (`BackgroundWorkerReportReady`; beyond PostgreSQL): its state becomes
/// `ready` and whoever waits for that ([`Handle::wait_for_ready`], SQL `bgw_wait_for_ready`) is woken.
pub fn ready() {
    ffi::background_worker_report_ready();
}
pub use latch::{postmaster_is_alive, reset_latch, set_latch, set_latch_of, wait_latch, WaitEvents, WaitResult};
pub use registration::{
    my_registration, BackgroundWorkerBuilder, ConnectionFlags, Flags, Registration, Restart, StartPhase,
    MAX_RESTART_SECONDS,
};
pub use signals::{block_signals, reload_config, unblock_signals, Signals};

/// The length limits of the C registration (each string field also holds a terminating NUL).
pub mod limits {
    /// Longest name, type or function name, in bytes (`BGW_MAXLEN - 1`).
    pub const MAX_NAME_LEN: usize = crate::ffi::BGW_MAXLEN - 1;
    /// Longest library name, in bytes (`MAXPGPATH - 1`).
    pub const MAX_LIBRARY_LEN: usize = crate::ffi::MAXPGPATH - 1;
    /// Most bytes of extra data (`BGW_EXTRALEN`).
    pub const MAX_EXTRA_LEN: usize = crate::ffi::BGW_EXTRALEN;
}

/// The type of a running worker, by pid (`GetBackgroundWorkerTypeByPid`); None if `pid` is not a worker of the
/// host.
pub fn worker_type_by_pid(pid: i32) -> Option<String> {
    ffi::background_worker_type_by_pid(pid)
}

#[cfg(test)]
mod tests;
