//! `bgw`: a host that runs user-supplied code in separate, supervised processes attached to shared memory, with
//! the semantics of PostgreSQL's background worker framework, and backends that PostgreSQL clients reach.
//!
//! Where things live:
//!
//! - [`postmaster`]: the single-threaded supervisor (its loop, children, the registered-worker list).
//! - [`bgworker`]: the spec's vocabulary, the shared slot array and its protocol, the dynamic API.
//! - [`shmem`]: the shared segment's layout; [`sync`]: the atomics facade the protocols use.
//! - [`worker`]: the runtime inside a worker process, and the built-in workers.
//! - [`latch`]: latches and postmaster-death detection in children.
//! - [`backend`]: client sessions (wire protocol, SQL on SQLite); [`services`]: what they ask of the host.
//! - [`catalog`]: roles and databases; each database is a SQLite file in the data directory.
//! - [`config`]: `bgworker.conf` and parameters; [`elog`]: PostgreSQL-style logging; [`process`]: per-process
//!   state.
//! - [`modules`]: loadable libraries (dlopen, `shared_preload_libraries`) and the C ABI they call.
//! - [`sys`]: every `unsafe` call into the operating system; [`cli`]: the `bgw` command.
//!
//! An application can embed the host: add its own internal workers with
//! [`worker::entry::register_internal_function`], then run [`postmaster::run`].

pub mod backend;
pub mod bgworker;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod elog;
pub mod latch;
pub mod modules;
pub mod postmaster;
pub mod process;
pub mod services;
pub mod shmem;
pub mod spi;
pub mod sql;
pub mod sync;
pub mod sys;
#[cfg(test)]
mod testutil;
pub mod worker;
