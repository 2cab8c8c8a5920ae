//! The C ABI between the `bgw` host and the modules it loads, defined once.
//!
//! Purpose: `include/` (the server include tree, gathered by `include/bgworker.h`) is the C truth of the boundary. This crate is its one Rust definition: every
//! `repr(C)` struct, opaque type, function-pointer type, flag, status code, length and level that crosses the
//! boundary. The host (`crates/bgw`, which exports the functions) and the Rust SDK (`crates/bgw-sdk`, which calls
//! them from a module) both use these definitions and keep no copies of their own.
//!
//! Invariants:
//! - Names are the header's (`BackgroundWorker`, `BGW_MAXLEN`, `BgWorkerStart_RecoveryFinished`, ...), so a reader
//!   can go from either side to the header and back. Integer types are the header's C types (`c_int` for `int`
//!   and enum values, `u32` for `uint32`, `usize` for array lengths).
//! - Every struct layout and every constant that the header also declares is checked against it by
//!   `tests/header.rs`, which compiles a C file including the header and compares `sizeof`, `offsetof` and each
//!   value. A constant the header does not declare (a rule the header states only in prose) sits in
//!   [`rules`] and is named there by the test.
//! - No dependencies and `no_std`: only integers, byte arrays, raw pointers and `core::ffi` types.
//!
//! Layout of the crate, following the header's sections: [`types`] (Datum, Oid, pid_t), [`worker`] (the
//! registration struct, its flags and start times, handles and their statuses), [`latch`] (wait events),
//! [`guc`] (custom parameters), [`pgstat`] (activity states), [`sqlfn`] (SQL functions of modules), [`spi`] (SPI result codes), [`elog`]
//! (message levels), [`rules`] (limits the header states in prose), [`args`] (typed arguments of registrations).
//!
//! Runs in: whatever process uses it (a definition crate; it has no code that does anything).
#![no_std]

pub mod args;
pub mod elog;
pub mod exit;
pub mod guc;
pub mod latch;
pub mod pgstat;
pub mod rules;
pub mod spi;
pub mod sqlfn;
pub mod types;
pub mod worker;

pub use args::*;
pub use elog::*;
pub use exit::*;
pub use guc::*;
pub use latch::*;
pub use pgstat::*;
pub use rules::*;
pub use spi::*;
pub use sqlfn::*;
pub use types::*;
pub use worker::*;
