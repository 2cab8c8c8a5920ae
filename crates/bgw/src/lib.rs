//! `bgw`: a host that runs user-supplied code in separate, supervised processes attached to shared memory, with
//! the semantics of PostgreSQL's background worker framework, and backends that PostgreSQL clients reach.
//!
//! # Layers
//!
//! The modules stand in layers, each above the ones it uses. A module imports only from layers below its own (or
//! from itself): a lower layer never knows the layers that use it, so there is no import circle between modules.
//! `tests/layers.rs` reads this table and checks every `crate::` path in the sources against it (tests, `#[cfg(test)]`
//! code and comments are exempt); a module missing from the table fails it too.
//!
//! | layer | module | what it holds | which processes run it |
//! |------:|--------|---------------|------------------------|
//! | 1 | `sys` | every `unsafe` call into the operating system, each behind a safe function | all |
//! | 2 | `sync` | the atomics facade the lock-free protocols use (loom in model tests) | all |
//! | 3 | `elog` | PostgreSQL-style log reports | all |
//! | 4 | `config` | `bgworker.conf`, parameter values, the registry and its reload | all |
//! | 5 | `catalog` | roles and databases (each database a SQLite file in the data directory), the server secret | postmaster, backends, workers |
//! | 6 | `sql` | the one SQL layer: the database engine interface that sessions and SPI call, and its SQLite engine | backends, workers |
//! | 7 | `latch` | latches and postmaster-death detection | children |
//! | 8 | `bgworker` | the spec's vocabulary, handles, the shared slot array and its hand-off protocol | all |
//! | 9 | `shmem` | the shared segment: its layout, process entries, notifications, modules' named memory | all |
//! | 10 | `process` | process globals (PostgreSQL's `globals.c`): data directory, settings, interrupts, a worker's registration | all |
//! | 11 | `backend` | client sessions: the wire protocol and the session state machine, reaching the host through a trait | backends |
//! | 12 | `dynamic` | the spec's dynamic API: registration, handles' status, waits, termination | backends, workers |
//! | 13 | `spi` | a worker's database connection and SPI | workers |
//! | 14 | `modules` | loadable libraries, entry points by name, and the C ABI modules call | all |
//! | 15 | `worker` | the runtime inside a worker process, and the built-in workers | workers |
//! | 16 | `services` | the host behind the backends' trait, and a backend process's entry | backends |
//! | 17 | `postmaster` | the single-threaded supervisor: start-up, its loop, launches, exits, the crash cycle | postmaster |
//! | 18 | `cli` | the `bgw` command | the command |
//!
//! # Unsafe code
//!
//! Denied here (`#![deny(unsafe_code)]`) and allowed, by name, only where a module cannot do without it: [`sys`]
//! (the operating system), [`shmem`] (typed views of the shared segment), [`modules`] (the C ABI), the slot payload
//! (`bgworker::slots`, `bgworker::types`), a worker's `MyBgworkerEntry` storage (`process::my_worker`), a forked
//! child's first steps (`worker::forked`), one `unsafe impl` of a plain pipe message (`worker::spare`), and SQLite's
//! FFI (`sql::sqlite`). Every block has a `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks`, denied).
//! Functions on a worker's start-up path are marked `#[hot]` (`bgw_macros::hot`), which writes their code
//! section once.
//!
//! An application can embed the host: add its own internal workers with
//! [`modules::entry::register_internal_function`], then run [`postmaster::run`].

#![deny(unsafe_code)]

pub mod backend;
pub mod bgworker;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod dynamic;
pub mod elog;
pub mod latch;
#[allow(unsafe_code)] // the C ABI: exported functions and globals, pointers from C
pub mod modules;
pub mod postmaster;
pub mod process;
pub mod services;
#[allow(unsafe_code)] // the shared segment: typed views of shared memory
pub mod shmem;
pub mod spi;
pub mod sql;
pub mod sync;
#[allow(unsafe_code)] // the operating system
pub mod sys;
#[cfg(test)]
mod testutil;
pub mod worker;
