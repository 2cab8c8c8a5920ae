//! The background worker API of the header (PostgreSQL's `bgworker.h`): the registration struct, its flags,
//! start times and restart values, the handle of a dynamic worker and the statuses asked through it, and the
//! flags of a worker's database connection.

use crate::types::{pid_t, Datum, MAXPGPATH};
use core::ffi::c_int;
use core::fmt;

/// Length of the name, type and function-name fields, including the terminating NUL.
pub const BGW_MAXLEN: usize = 96;
/// Length of the extra-data field.
pub const BGW_EXTRALEN: usize = 128;

/// `bgw_flags`: the worker stays attached to shared memory.
pub const BGWORKER_SHMEM_ACCESS: c_int = 0x0001;
/// `bgw_flags`: the worker may connect to a database (requires `BGWORKER_SHMEM_ACCESS`).
pub const BGWORKER_BACKEND_DATABASE_CONNECTION: c_int = 0x0002;
/// `bgw_flags`: a parallel worker (counts against `max_parallel_workers`, must not restart).
pub const BGWORKER_CLASS_PARALLEL: c_int = 0x0010;
/// `bgw_flags` (PostgreSQL 19): the worker may be terminated when its database is dropped (DROP DATABASE ends
/// it instead of waiting for it); needs `BGWORKER_SHMEM_ACCESS` and `BGWORKER_BACKEND_DATABASE_CONNECTION`.
pub const BGWORKER_INTERRUPTIBLE: c_int = 0x0004;
/// `bgw_flags` (bgw's own, beyond PostgreSQL): a dynamic worker bound to its registrant, terminated when the
/// process that registered it exits (systemd's `BindsTo`, an OTP link). Only for dynamic registrations.
pub const BGWORKER_BIND_REGISTRANT: c_int = 0x1000;
/// `bgw_flags` (PostgreSQL 19's `die()`, asked for): the default SIGTERM handler only sets `ProcDiePending` and
/// `InterruptPending` and the latch; the worker ends at its next `CHECK_FOR_INTERRUPTS()` (FATAL "terminating
/// background worker ... due to administrator command"). Without it, the spec's handler ends the worker at once.
pub const BGWORKER_DIE_AT_INTERRUPTS: c_int = 0x2000;

/// `BgWorkerStartTime`: when the postmaster starts a worker (a C enum, so an `int`).
pub type BgWorkerStartTime = c_int;
/// As soon as the postmaster has started.
#[allow(non_upper_case_globals)]
pub const BgWorkerStart_PostmasterStart: BgWorkerStartTime = 0;
/// Once the host reaches a consistent state (a standby runs these).
#[allow(non_upper_case_globals)]
pub const BgWorkerStart_ConsistentState: BgWorkerStartTime = 1;
/// Once recovery has finished (the host accepts writes).
#[allow(non_upper_case_globals)]
pub const BgWorkerStart_RecoveryFinished: BgWorkerStartTime = 2;

/// `bgw_restart_time` when none is given: 60 seconds.
pub const BGW_DEFAULT_RESTART_INTERVAL: c_int = 60;
/// `bgw_restart_time`: never restart; the registration is forgotten when the worker exits.
pub const BGW_NEVER_RESTART: c_int = -1;

/// `BgwHandleStatus`: what a handle says about its worker (a C enum, so an `int`).
pub type BgwHandleStatus = c_int;
/// The worker is running.
pub const BGWH_STARTED: BgwHandleStatus = 0;
/// The worker has not been started yet.
pub const BGWH_NOT_YET_STARTED: BgwHandleStatus = 1;
/// The worker has exited.
pub const BGWH_STOPPED: BgwHandleStatus = 2;
/// The postmaster died; the worker's status is unclear.
pub const BGWH_POSTMASTER_DIED: BgwHandleStatus = 3;

/// `BgwHandleStatus` as Rust code on either side (host and SDK) holds it: the status, with the pid when the
/// worker is running (C returns the pid through a separate out-parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandleStatus {
    /// Registered, not running yet.
    NotYetStarted,
    /// Running with this pid.
    Started(pid_t),
    /// Exited (or the handle is stale: its slot holds a later registration).
    Stopped,
    /// The postmaster died; the worker's state is unknown.
    PostmasterDied,
}

impl HandleStatus {
    /// The status from C's code and pid; None for a code C does not define.
    pub fn from_c(code: BgwHandleStatus, pid: pid_t) -> Option<HandleStatus> {
        match code {
            BGWH_STARTED => Some(HandleStatus::Started(pid)),
            BGWH_NOT_YET_STARTED => Some(HandleStatus::NotYetStarted),
            BGWH_STOPPED => Some(HandleStatus::Stopped),
            BGWH_POSTMASTER_DIED => Some(HandleStatus::PostmasterDied),
            _ => None,
        }
    }

    /// C's code, and the pid where there is one (0 otherwise).
    pub fn to_c(self) -> (BgwHandleStatus, pid_t) {
        match self {
            HandleStatus::Started(pid) => (BGWH_STARTED, pid),
            HandleStatus::NotYetStarted => (BGWH_NOT_YET_STARTED, 0),
            HandleStatus::Stopped => (BGWH_STOPPED, 0),
            HandleStatus::PostmasterDied => (BGWH_POSTMASTER_DIED, 0),
        }
    }

    /// The words the host's SQL function `bgw_status()` returns.
    pub fn as_str(self) -> &'static str {
        match self {
            HandleStatus::NotYetStarted => "not_yet_started",
            HandleStatus::Started(_) => "started",
            HandleStatus::Stopped => "stopped",
            HandleStatus::PostmasterDied => "postmaster_died",
        }
    }
}

/// Connection flag (`BackgroundWorkerInitializeConnection`): connect even to a database that does not allow
/// connections.
pub const BGWORKER_BYPASS_ALLOWCONN: u32 = 0x0001;
/// Connection flag: connect even as a role without the LOGIN attribute.
pub const BGWORKER_BYPASS_ROLELOGINCHECK: u32 = 0x0002;

/// `bgworker_main_type`: a worker's entry point, `void main(Datum main_arg)`.
#[allow(non_camel_case_types)]
pub type bgworker_main_type = unsafe extern "C" fn(main_arg: Datum);

/// `BackgroundWorker`: a worker's registration, laid out as in C. It is what the host's slots in shared memory
/// hold, what modules pass to `RegisterBackgroundWorker`, and what `MyBgworkerEntry` points to.
///
/// Only integers and byte arrays: every bit pattern is a valid value (the host reads slots written by other
/// processes, and sanitizes them itself).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct BackgroundWorker {
    pub bgw_name: [u8; BGW_MAXLEN],
    pub bgw_type: [u8; BGW_MAXLEN],
    pub bgw_flags: c_int,
    /// One of `BgWorkerStart_*`.
    pub bgw_start_time: BgWorkerStartTime,
    /// In seconds, or `BGW_NEVER_RESTART`.
    pub bgw_restart_time: c_int,
    pub bgw_library_name: [u8; MAXPGPATH],
    pub bgw_function_name: [u8; BGW_MAXLEN],
    pub bgw_main_arg: Datum,
    pub bgw_extra: [u8; BGW_EXTRALEN],
    /// SIGUSR1 this process when the worker starts or stops (0: none).
    pub bgw_notify_pid: pid_t,
}

impl BackgroundWorker {
    /// A registration of all zero bytes.
    pub const fn zeroed() -> Self {
        BackgroundWorker {
            bgw_name: [0; BGW_MAXLEN],
            bgw_type: [0; BGW_MAXLEN],
            bgw_flags: 0,
            bgw_start_time: 0,
            bgw_restart_time: 0,
            bgw_library_name: [0; MAXPGPATH],
            bgw_function_name: [0; BGW_MAXLEN],
            bgw_main_arg: 0,
            bgw_extra: [0; BGW_EXTRALEN],
            bgw_notify_pid: 0,
        }
    }
}

/// A fixed-size C string field in a `Debug` listing: up to its first NUL, printable ASCII as is and any other
/// byte as '?' (the host's sanitized form of a registration's strings), quoted and escaped as a `str` would be.
struct FieldText<'a>(&'a [u8]);

impl fmt::Debug for FieldText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for &b in self.0.iter().take_while(|&&b| b != 0) {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                32..=126 => f.write_char(b as char)?,
                _ => f.write_char('?')?,
            }
        }
        f.write_char('"')
    }
}

impl fmt::Debug for BackgroundWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundWorker")
            .field("bgw_name", &FieldText(&self.bgw_name))
            .field("bgw_type", &FieldText(&self.bgw_type))
            .field("bgw_flags", &self.bgw_flags)
            .field("bgw_start_time", &self.bgw_start_time)
            .field("bgw_restart_time", &self.bgw_restart_time)
            .field("bgw_library_name", &FieldText(&self.bgw_library_name))
            .field("bgw_function_name", &FieldText(&self.bgw_function_name))
            .field("bgw_main_arg", &self.bgw_main_arg)
            .field("bgw_notify_pid", &self.bgw_notify_pid)
            .finish()
    }
}

/// `BackgroundWorkerHandle`: opaque in PostgreSQL; bgw fixes its layout, so that a handle can be rebuilt from
/// its (slot, generation) in any process. `RegisterDynamicBackgroundWorker` hands it out malloc'ed.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundWorkerHandle {
    pub slot: c_int,
    pub generation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_sanitized_strings() {
        let mut w = BackgroundWorker::zeroed();
        w.bgw_name[..5].copy_from_slice(b"a\"\\\xffb");
        w.bgw_type = [b'x'; BGW_MAXLEN];
        struct Buf([u8; 4096], usize);
        impl fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.1 + s.len();
                self.0.get_mut(self.1..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut buf = Buf([0; 4096], 0);
        fmt::write(&mut buf, format_args!("{w:?}")).unwrap();
        let text = core::str::from_utf8(&buf.0[..buf.1]).unwrap();
        assert!(text.starts_with("BackgroundWorker { bgw_name: \"a\\\"\\\\?b\", bgw_type: \"xxx"), "{text}");
        assert!(text.ends_with("bgw_main_arg: 0, bgw_notify_pid: 0 }"), "{text}");
    }
}
