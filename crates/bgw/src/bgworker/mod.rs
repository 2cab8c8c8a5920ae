//! PostgreSQL's background worker framework: the registration, the shared slot array, the dynamic API.
//!
//! - [`types`]: the spec's `BackgroundWorker`, flags, start phases, restart rule, and the sanity checks.
//! - [`slots`]: the shared slot array and its lock-free hand-off protocol between children and the postmaster.
//! - [`handle`]: a registration's handle and its status.
//! - [`wait_queue`]: registrations waiting for a free slot, first come first served.
//! - [`watch`]: processes waiting on handles they did not register, woken by the postmaster.
//! - [`exit_record`]: why each slot's last run ended, published by the postmaster ([`exit_record::ExitCell`]),
//!   (the words for a reason are [`handle::describe`]); [`exit_reason`]: the reason codes.
//! - [`options`]: a registration's options beyond the spec's struct (restart policies, start timeouts, binding).
//! - [`args`]: typed arguments attached to registrations, one entry per slot, and their hand-off protocol;
//!   [`arg_area`]: the shared area holding them.
//! - [`declared`]: workers declared in the data directory's `workers.toml`, registered statically at start.
//!
//! This is the protocol, not its callers: the dynamic API (registration from backends and workers, waiting and
//! termination) is [`crate::dynamic`], above the shared segment and the process globals it uses; the
//! postmaster's side (adopting slots, launching, reaping, restarting) lives in `crate::postmaster`.

#[allow(unsafe_code)] // the shared area of arguments: a mapping seen as entries
pub mod arg_area;
#[allow(unsafe_code)] // an argument's bytes: written and read through UnsafeCell
pub mod args;
pub mod declared;
pub mod exit_reason;
pub mod exit_record;
pub mod handle;
pub mod options;
#[allow(unsafe_code)] // the payload of a shared slot: written and read through UnsafeCell
pub mod slots;
#[allow(unsafe_code)] // the registration as a slot payload
pub mod types;
pub mod wait_queue;
pub mod watch;
