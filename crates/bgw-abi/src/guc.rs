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

/// `GucSource`: where a value comes from (a C enum, so an `int`), as a check hook is told.
pub type GucSource = c_int;
pub const PGC_S_DEFAULT: GucSource = 0;
pub const PGC_S_DYNAMIC_DEFAULT: GucSource = 1;
pub const PGC_S_ENV_VAR: GucSource = 2;
pub const PGC_S_FILE: GucSource = 3;
pub const PGC_S_ARGV: GucSource = 4;
pub const PGC_S_GLOBAL: GucSource = 5;
pub const PGC_S_DATABASE: GucSource = 6;
pub const PGC_S_USER: GucSource = 7;
pub const PGC_S_DATABASE_USER: GucSource = 8;
pub const PGC_S_CLIENT: GucSource = 9;
pub const PGC_S_OVERRIDE: GucSource = 10;
pub const PGC_S_INTERACTIVE: GucSource = 11;
pub const PGC_S_TEST: GucSource = 12;
pub const PGC_S_SESSION: GucSource = 13;

/// Flags of a parameter other than its unit (PostgreSQL 15's values); bgw acts on `GUC_SUPERUSER_ONLY` only.
pub const GUC_LIST_INPUT: c_int = 0x0001;
pub const GUC_LIST_QUOTE: c_int = 0x0002;
pub const GUC_NO_SHOW_ALL: c_int = 0x0004;
pub const GUC_NO_RESET_ALL: c_int = 0x0008;
pub const GUC_REPORT: c_int = 0x0010;
pub const GUC_NOT_IN_SAMPLE: c_int = 0x0020;
pub const GUC_DISALLOW_IN_FILE: c_int = 0x0040;
pub const GUC_CUSTOM_PLACEHOLDER: c_int = 0x0080;
pub const GUC_IS_NAME: c_int = 0x0200;
pub const GUC_NOT_WHILE_SEC_REST: c_int = 0x0400;
pub const GUC_DISALLOW_IN_AUTO_FILE: c_int = 0x0800;
pub const GUC_EXPLAIN: c_int = 0x100000;
pub const GUC_RUNTIME_COMPUTED: c_int = 0x200000;
/// Unit flags bgw does not support (a definition with one is refused).
pub const GUC_UNIT_BLOCKS: c_int = 0x2000;
pub const GUC_UNIT_XBLOCKS: c_int = 0x3000;
pub const GUC_UNIT_MB: c_int = 0x4000;
/// Both unit masks (PostgreSQL's `GUC_UNIT`).
pub const GUC_UNIT: c_int = GUC_UNIT_MEMORY | GUC_UNIT_TIME;

/// The hooks of a parameter, as the host receives them: C function pointers whose type depends on the
/// parameter's type (`GucIntCheckHook`, ... in the header), or NULL.
pub type GucHook = *const c_void;
/// A show hook (`GucShowHook`): returns the text `SHOW` displays.
pub type GucShowHook = Option<unsafe extern "C" fn() -> *const c_char>;

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

/// The mask of the memory unit flags, which the host uses to read a definition's flags.
pub const GUC_UNIT_MEMORY: c_int = 0xF000;
/// The mask of the time unit flags.
pub const GUC_UNIT_TIME: c_int = 0xF0000;
