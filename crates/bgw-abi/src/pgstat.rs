//! Activity reporting (`pgstat.h`): the states `pgstat_report_activity` takes.

use core::ffi::c_int;

/// `BackendState` (a C enum, so an `int`): what pg_stat_activity.state shows.
pub type BackendState = c_int;
pub const STATE_UNDEFINED: BackendState = 0;
pub const STATE_IDLE: BackendState = 1;
pub const STATE_RUNNING: BackendState = 2;
pub const STATE_IDLEINTRANSACTION: BackendState = 3;
pub const STATE_FASTPATH: BackendState = 4;
pub const STATE_IDLEINTRANSACTION_ABORTED: BackendState = 5;
pub const STATE_DISABLED: BackendState = 6;
