//! The shared module test harness (`tests/support/module_harness.rs` at the repository root), for this crate's
//! module.
#![allow(dead_code)]

pub const PACKAGE: &str = "bgw-testing";
pub const LIB_FILE: &str = "libbgw_testing.so";
pub const LIBRARY: &str = "bgw_testing";

#[path = "../../../../tests/support/module_harness.rs"]
mod harness;
pub use harness::*;
