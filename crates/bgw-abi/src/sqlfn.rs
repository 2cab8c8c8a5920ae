//! SQL functions of modules (`bgw_define_sql_function`): the value kinds, the value struct, the function type and
//! the definition flags.

use core::ffi::{c_char, c_int};

/// `BgwSqlValue.kind`: SQL NULL.
pub const BGW_SQL_NULL: c_int = 0;
/// `bigint` (`int8`).
pub const BGW_SQL_INT8: c_int = 1;
/// `double precision` (`float8`).
pub const BGW_SQL_FLOAT8: c_int = 2;
/// `text` (`text`).
pub const BGW_SQL_TEXT: c_int = 3;
/// `boolean` (`int8`, 0 or 1).
pub const BGW_SQL_BOOL: c_int = 4;

/// Definition flag: only superusers may call the function (others get 42501).
pub const BGW_SQLFN_SUPERUSER: c_int = 0x1;

/// `BgwSqlValue`: a SQL function's argument or result.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BgwSqlValue {
    /// `BGW_SQL_*`.
    pub kind: c_int,
    /// INT8 and BOOL (0/1); also set for FLOAT8 arguments, truncated.
    pub int8: i64,
    /// FLOAT8; also set for INT8 arguments.
    pub float8: f64,
    /// TEXT: NUL-terminated. In arguments it is the host's; in a result, set it with `bgw_sql_result_text` (the
    /// host copies it).
    pub text: *const c_char,
}

/// `bgw_sql_function`: `int f(int nargs, const BgwSqlValue *args, BgwSqlValue *result)`; 0 on success.
#[allow(non_camel_case_types)]
pub type bgw_sql_function =
    unsafe extern "C" fn(nargs: c_int, args: *const BgwSqlValue, result: *mut BgwSqlValue) -> c_int;
