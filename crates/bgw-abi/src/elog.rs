//! Logging: PostgreSQL 15's message levels, as modules pass them to `bgw_elog` and `bgw_errstart`, and the
//! length of a formatted message.

use core::ffi::c_int;

pub const DEBUG5: c_int = 10;
pub const DEBUG4: c_int = 11;
pub const DEBUG3: c_int = 12;
pub const DEBUG2: c_int = 13;
pub const DEBUG1: c_int = 14;
pub const LOG: c_int = 15;
pub const LOG_SERVER_ONLY: c_int = 16;
pub const COMMERROR: c_int = LOG_SERVER_ONLY;
pub const INFO: c_int = 17;
pub const NOTICE: c_int = 18;
pub const WARNING: c_int = 19;
/// Logs and ends the process with exit code 1 (inside a module's SQL function: fails the statement).
pub const ERROR: c_int = 21;
/// Logs and ends the process with exit code 1.
pub const FATAL: c_int = 22;
/// Logs and aborts (a crash of the host).
pub const PANIC: c_int = 23;

/// The buffer the header's `elog` and `errmsg` format into, including the terminating NUL.
pub const BGW_MESSAGE_MAX: usize = 1024;
