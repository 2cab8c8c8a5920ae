//! Limits of the boundary that the header states only in prose (or not at all) but that both sides apply: the
//! host refuses what breaks them, and the SDK refuses it before calling the host.

use core::ffi::c_int;

/// The longest restart interval a registration may ask for, in seconds. The spec's bound is
/// `USECS_PER_DAY / 1000`, that is 86,400,000 (compared with an interval in seconds, so generous by design).
pub const BGW_MAX_RESTART_INTERVAL: c_int = 86_400_000;

/// The most arguments a module's SQL function may take (`bgw_define_sql_function`).
pub const BGW_SQLFN_MAX_ARGS: c_int = 32;
