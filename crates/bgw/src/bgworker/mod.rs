//! PostgreSQL's background worker framework: the registration, the shared slot array, the dynamic API.
//!
//! - [`types`]: the spec's `BackgroundWorker`, flags, start phases, restart rule, and the sanity checks.
//! - [`slots`]: the shared slot array and its lock-free hand-off protocol between children and the postmaster.
//! - [`dynamic`]: registration from backends and workers, handles, waiting and termination.
//! - [`watch`]: processes waiting on handles they did not register, woken by the postmaster.
//! - [`declared`]: workers declared in the data directory's `workers.toml`, registered statically at start.
//!
//! The postmaster's side (adopting slots, launching, reaping, restarting) lives in `crate::postmaster`.

pub mod declared;
pub mod dynamic;
pub mod slots;
pub mod types;
pub mod watch;
