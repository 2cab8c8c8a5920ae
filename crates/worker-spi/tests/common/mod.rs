//! The shared module test harness (`tests/support/module_harness.rs` at the repository root), for this crate's
//! module.
#![allow(dead_code)]

pub const PACKAGE: &str = "worker-spi";
pub const LIB_FILE: &str = "libworker_spi.so";
pub const LIBRARY: &str = "worker_spi";

#[path = "../../../../tests/support/module_harness.rs"]
mod harness;
pub use harness::*;
