//! Custom parameters (PostgreSQL's `DefineCustom*Variable`): the `GucContext` values, the `GUC_UNIT_*` flags,
//! `struct config_enum_entry` and the hook types.

use core::ffi::{c_char, c_int, c_void};

/// `GucContext`: when a parameter may change (a C enum, so an `int`).
pub type GucContext = c_int;
pub const PGC_INTERNAL: GucContext = 0;
/// Set at start; a change takes effect at the next restart.
pub const PGC_POSTMASTER: GucContext = 1;
/// Reloadable (a worker calls `ProcessConfigFile(PGC_SIGHUP)` after SIGHUP).
pub const PGC_SIGHUP: GucContext = 2;
pub const PGC_SU_BACKEND: GucContext = 3;
pub const PGC_BACKEND: GucContext = 4;
pub const PGC_SUSET: GucContext = 5;
pub const PGC_USERSET: GucContext = 6;

/// Unit flags of an integer parameter (PostgreSQL 15's values).
pub const GUC_UNIT_KB: c_int = 0x1000;
pub const GUC_UNIT_BYTE: c_int = 0x8000;
pub const GUC_UNIT_MS: c_int = 0x10000;
pub const GUC_UNIT_S: c_int = 0x20000;
pub const GUC_UNIT_MIN: c_int = 0x30000;
/// A parameter only superusers may examine (`current_setting`, `SHOW`): PostgreSQL 15's value.
pub const GUC_SUPERUSER_ONLY: c_int = 0x0100;

/// A check hook of a custom parameter: not supported by bgw, always NULL.
pub type GucCheckHook = *mut c_void;
/// An assign hook: not supported, always NULL.
pub type GucAssignHook = *mut c_void;
/// A show hook: not supported, always NULL.
pub type GucShowHook = *mut c_void;

/// PostgreSQL's `struct config_enum_entry`: one option of an enum parameter; a list ends with an entry whose
/// name is NULL.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct config_enum_entry {
    pub name: *const c_char,
    pub val: c_int,
    pub hidden: bool,
}

/// Not in the header: the mask of the memory unit flags (PostgreSQL's `GUC_UNIT_MEMORY`), which the host uses to
/// read a definition's flags.
pub const GUC_UNIT_MEMORY: c_int = 0xF000;
/// Not in the header: the mask of the time unit flags (PostgreSQL's `GUC_UNIT_TIME`).
pub const GUC_UNIT_TIME: c_int = 0xF0000;
