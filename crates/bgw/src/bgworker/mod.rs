//! PostgreSQL's background worker framework: the registration, the shared slot array, the dynamic API.
//!
//! - [`types`]: the spec's `BackgroundWorker`, flags, start phases, restart rule, and the sanity checks.
//! - [`slots`]: the shared slot array and its lock-free hand-off protocol between children and the postmaster.
//! - [`handle`]: a registration's handle and its status.
//! - [`watch`]: processes waiting on handles they did not register, woken by the postmaster.
//! - [`declared`]: workers declared in the data directory's `workers.toml`, registered statically at start.
//!
//! This is the protocol, not its callers: the dynamic API (registration from backends and workers, waiting and
//! termination) is [`crate::dynamic`], above the shared segment and the process globals it uses; the
//! postmaster's side (adopting slots, launching, reaping, restarting) lives in `crate::postmaster`.

pub mod declared;
pub mod handle;
#[allow(unsafe_code)] // the payload of a shared slot: written and read through UnsafeCell
pub mod slots;
#[allow(unsafe_code)] // the registration as a slot payload
pub mod types;
pub mod watch;
