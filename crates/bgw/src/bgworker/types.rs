//! The spec's vocabulary: the `BackgroundWorker` registration, its flags, start phases and restart rule.
//!
//! Two forms of a registration exist. [`BackgroundWorker`] is the spec's C struct, byte for byte: it is what
//! slots in shared memory hold and what `include/bgworker.h` declares for C modules. It and the constants of the
//! C API are defined once, in the `bgw-abi` crate (checked against the header by that crate's tests), and
//! re-exported here. [`WorkerSpec`] is the safe, owned form the rest of the host works with. Converting a spec to
//! the struct refuses strings that do not fit (no silent truncation); converting the struct to a spec
//! ([`WorkerSpec::sanitized_from`]) is the postmaster's paranoid copy: it accepts anything, bounds every string,
//! and keeps only printable ASCII.
//!
//! Runs in: every process of the host (the postmaster adopts registrations, workers read their own, backends
//! build them).

pub use bgw_abi::{
    BackgroundWorker, BGWORKER_BACKEND_DATABASE_CONNECTION, BGWORKER_BIND_REGISTRANT, BGWORKER_CLASS_PARALLEL,
    BGWORKER_DIE_AT_INTERRUPTS, BGWORKER_INTERRUPTIBLE, BGWORKER_SHMEM_ACCESS, BGW_DEFAULT_RESTART_INTERVAL,
    BGW_EXTRALEN, BGW_MAXLEN, BGW_MAX_RESTART_INTERVAL, BGW_NEVER_RESTART, MAXPGPATH,
};
use bgw_macros::hot;

const KNOWN_FLAGS: i32 = BGWORKER_SHMEM_ACCESS
    | BGWORKER_BACKEND_DATABASE_CONNECTION
    | BGWORKER_CLASS_PARALLEL
    | BGWORKER_INTERRUPTIBLE
    | BGWORKER_BIND_REGISTRANT
    | BGWORKER_DIE_AT_INTERRUPTS;

/// The name of the internal library (the spec's "postgres").
pub const INTERNAL_LIBRARY: &str = "bgw";

// SAFETY: only integers and byte arrays: every bit pattern is a valid value.
unsafe impl super::slots::SlotPayload for BackgroundWorker {
    fn is_parallel(&self) -> bool {
        self.bgw_flags & BGWORKER_CLASS_PARALLEL != 0
    }
}

/// What a slot holds: the spec's struct and the host's own options.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SlotRegistration {
    pub worker: BackgroundWorker,
    pub options: super::options::RawRunOptions,
}

// SAFETY: a BackgroundWorker (integers and byte arrays) and integers: every bit pattern is a valid value.
unsafe impl super::slots::SlotPayload for SlotRegistration {
    fn is_parallel(&self) -> bool {
        self.worker.bgw_flags & super::types::BGWORKER_CLASS_PARALLEL != 0
    }
}

/// The spec's `BgWorkerStartTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StartTime {
    PostmasterStart = bgw_abi::BgWorkerStart_PostmasterStart as isize,
    ConsistentState = bgw_abi::BgWorkerStart_ConsistentState as isize,
    RecoveryFinished = bgw_abi::BgWorkerStart_RecoveryFinished as isize,
}

impl StartTime {
    pub fn from_raw(v: i32) -> Option<StartTime> {
        match v {
            bgw_abi::BgWorkerStart_PostmasterStart => Some(StartTime::PostmasterStart),
            bgw_abi::BgWorkerStart_ConsistentState => Some(StartTime::ConsistentState),
            bgw_abi::BgWorkerStart_RecoveryFinished => Some(StartTime::RecoveryFinished),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            StartTime::PostmasterStart => "postmaster_start",
            StartTime::ConsistentState => "consistent_state",
            StartTime::RecoveryFinished => "recovery_finished",
        }
    }
    pub fn parse(s: &str) -> Option<StartTime> {
        match s {
            "postmaster_start" => Some(StartTime::PostmasterStart),
            "consistent_state" => Some(StartTime::ConsistentState),
            "recovery_finished" => Some(StartTime::RecoveryFinished),
            _ => None,
        }
    }
}

/// When a worker that exited with code 1 is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Never,
    After { seconds: i32 },
}

impl Restart {
    pub fn from_raw(v: i32) -> Restart {
        if v == BGW_NEVER_RESTART {
            Restart::Never
        } else {
            Restart::After { seconds: v }
        }
    }
    pub fn to_raw(self) -> i32 {
        match self {
            Restart::Never => BGW_NEVER_RESTART,
            Restart::After { seconds } => seconds,
        }
    }
}

/// A registration in safe, owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    pub name: String,
    pub worker_type: String,
    pub flags: i32,
    pub start_time: StartTime,
    pub restart: Restart,
    pub library: String,
    pub function: String,
    pub main_arg: usize,
    pub extra: Vec<u8>,
    pub notify_pid: i32,
    /// Beyond the spec: restart policies (all off unless asked for).
    pub options: super::options::RunOptions,
}

/// Why a registration was refused, with the SQLSTATE PostgreSQL would use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RegistrationError {
    pub sqlstate: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl RegistrationError {
    fn invalid(message: String) -> Self {
        RegistrationError { sqlstate: "22023", message, detail: None, hint: None }
    }
}

#[hot]
fn copy_str(dst: &mut [u8], value: &str, what: &str, name: &str) -> Result<(), RegistrationError> {
    let bytes = value.as_bytes();
    if bytes.len() >= dst.len() {
        return Err(RegistrationError::invalid(format!(
            "background worker \"{name}\": {what} is too long ({} bytes; at most {} fit)",
            bytes.len(),
            dst.len() - 1
        )));
    }
    // A plain loop: `contains` would call core's memchr, code outside the start-up section (a new worker copies
    // its registration with this).
    #[allow(clippy::manual_contains)]
    if bytes.iter().any(|&b| b == 0) {
        return Err(RegistrationError::invalid(format!("background worker \"{name}\": {what} contains a NUL byte")));
    }
    dst[..bytes.len()].copy_from_slice(bytes);
    dst[bytes.len()..].fill(0);
    Ok(())
}

/// The postmaster's paranoid string copy: up to the first NUL within the field (or the whole field), keeping
/// printable ASCII and replacing anything else with '?', as PostgreSQL's ascii_safe_strlcpy does.
pub fn ascii_safe(field: &[u8]) -> String {
    before_nul(field).iter().map(|&b| ascii_safe_byte(b) as char).collect()
}

/// A fixed-size C string field up to its first NUL (all of it if it has none).
#[hot]
pub fn before_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// [`ascii_safe`] without a copy when the field is already printable ASCII (the usual case: a starting worker
/// reads its library and function names this way and allocates nothing).
#[hot]
pub fn ascii_safe_cow(field: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = before_nul(field);
    if bytes.iter().all(|&b| ascii_safe_byte(b) == b) {
        // SAFETY: every byte is printable ASCII (checked just above), which is valid UTF-8.
        std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::borrow::Cow::Owned(ascii_safe(field))
    }
}

/// One byte as [`ascii_safe`] keeps it: printable ASCII as is, anything else '?'.
#[hot]
pub fn ascii_safe_byte(b: u8) -> u8 {
    if (32..127).contains(&b) {
        b
    } else {
        b'?'
    }
}

impl WorkerSpec {
    /// A spec with the spec's defaults: no flags, start at recovery finished, default restart interval.
    pub fn new(name: &str, library: &str, function: &str) -> Self {
        WorkerSpec {
            name: name.to_string(),
            worker_type: String::new(),
            flags: BGWORKER_SHMEM_ACCESS,
            start_time: StartTime::RecoveryFinished,
            restart: Restart::After { seconds: BGW_DEFAULT_RESTART_INTERVAL },
            library: library.to_string(),
            function: function.to_string(),
            main_arg: 0,
            extra: Vec::new(),
            notify_pid: 0,
            options: super::options::RunOptions::default(),
        }
    }

    /// What a slot holds for this spec; refuses any field that does not fit.
    pub fn to_slot(&self) -> Result<SlotRegistration, RegistrationError> {
        Ok(SlotRegistration { worker: self.to_raw()?, options: self.options.to_raw() })
    }

    /// [`WorkerSpec::to_slot`] for a spec the postmaster adopted (see [`WorkerSpec::to_raw_adopted`]).
    pub fn to_slot_adopted(&self) -> SlotRegistration {
        SlotRegistration { worker: self.to_raw_adopted(), options: self.options.to_raw() }
    }

    /// The postmaster's sanitized copy of a slot (see [`WorkerSpec::sanitized_from`]).
    pub fn sanitized_from_slot(r: &SlotRegistration) -> WorkerSpec {
        WorkerSpec {
            options: super::options::RunOptions::sanitized_from(&r.options),
            ..WorkerSpec::sanitized_from(&r.worker)
        }
    }

    /// The C struct for a spec that was converted once already, when the postmaster adopted it (a sanitized spec
    /// that passed [`WorkerSpec::to_raw`]), so the all-zero fallback is never taken: the registration a worker
    /// starts with (its `MyBgworkerEntry`).
    #[hot]
    pub fn to_raw_adopted(&self) -> BackgroundWorker {
        self.to_raw().unwrap_or_else(|_| BackgroundWorker::zeroed())
    }

    /// The C struct for this spec; refuses any field that does not fit.
    #[hot]
    pub fn to_raw(&self) -> Result<BackgroundWorker, RegistrationError> {
        let mut w = BackgroundWorker::zeroed();
        let n = &self.name;
        copy_str(&mut w.bgw_name, &self.name, "name", n)?;
        copy_str(&mut w.bgw_type, &self.worker_type, "type", n)?;
        copy_str(&mut w.bgw_library_name, &self.library, "library name", n)?;
        copy_str(&mut w.bgw_function_name, &self.function, "function name", n)?;
        if self.extra.len() > BGW_EXTRALEN {
            return Err(RegistrationError::invalid(format!(
                "background worker \"{n}\": extra data is too long ({} bytes; at most {BGW_EXTRALEN})",
                self.extra.len()
            )));
        }
        w.bgw_extra[..self.extra.len()].copy_from_slice(&self.extra);
        w.bgw_flags = self.flags;
        w.bgw_start_time = self.start_time as i32;
        w.bgw_restart_time = self.restart.to_raw();
        w.bgw_main_arg = self.main_arg;
        w.bgw_notify_pid = self.notify_pid;
        Ok(w)
    }

    /// A registration as a C caller filled it in: every string must be NUL-terminated within its field and
    /// valid UTF-8 (a C caller's mistake is an error, not a silently shortened name).
    pub fn from_c(w: &BackgroundWorker) -> Result<WorkerSpec, RegistrationError> {
        fn field(bytes: &[u8], what: &str) -> Result<String, RegistrationError> {
            let end = bytes.iter().position(|&b| b == 0).ok_or_else(|| {
                RegistrationError::invalid(format!(
                    "background worker {what} is not NUL-terminated within its {} bytes",
                    bytes.len()
                ))
            })?;
            String::from_utf8(bytes[..end].to_vec())
                .map_err(|_| RegistrationError::invalid(format!("background worker {what} is not valid UTF-8")))
        }
        let start_time = StartTime::from_raw(w.bgw_start_time).ok_or_else(|| {
            RegistrationError::invalid(format!("invalid background worker start time {}", w.bgw_start_time))
        })?;
        Ok(WorkerSpec {
            name: field(&w.bgw_name, "name")?,
            worker_type: field(&w.bgw_type, "type")?,
            flags: w.bgw_flags,
            start_time,
            restart: Restart::from_raw(w.bgw_restart_time),
            library: field(&w.bgw_library_name, "library name")?,
            function: field(&w.bgw_function_name, "function name")?,
            main_arg: w.bgw_main_arg,
            extra: w.bgw_extra.to_vec(),
            notify_pid: w.bgw_notify_pid,
            options: super::options::RunOptions::default(),
        })
    }

    /// The postmaster's sanitized copy of a slot's contents. Accepts any bytes; never panics. Strings are bounded
    /// and made ASCII-safe; an unknown start time becomes "recovery finished" (the latest, hence safest, phase).
    pub fn sanitized_from(w: &BackgroundWorker) -> WorkerSpec {
        let extra_len = w.bgw_extra.len();
        WorkerSpec {
            name: ascii_safe(&w.bgw_name),
            worker_type: ascii_safe(&w.bgw_type),
            flags: w.bgw_flags,
            start_time: StartTime::from_raw(w.bgw_start_time).unwrap_or(StartTime::RecoveryFinished),
            restart: Restart::from_raw(w.bgw_restart_time),
            library: ascii_safe(&w.bgw_library_name),
            function: ascii_safe(&w.bgw_function_name),
            main_arg: w.bgw_main_arg,
            extra: w.bgw_extra[..extra_len].to_vec(),
            notify_pid: w.bgw_notify_pid,
            options: super::options::RunOptions::default(),
        }
    }

    pub fn has_flag(&self, flag: i32) -> bool {
        self.flags & flag != 0
    }

    /// The name the spec's log messages use for this worker's exits ("background worker \"type\"").
    pub fn display_type(&self) -> &str {
        if self.worker_type.is_empty() {
            &self.name
        } else {
            &self.worker_type
        }
    }

    /// The spec's sanity checks (SanityCheckBackgroundWorker), with its messages. Fills in an empty type.
    pub fn sanity_check(&mut self) -> Result<(), RegistrationError> {
        let name = &self.name;
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(RegistrationError::invalid(format!(
                "background worker \"{name}\": invalid flags 0x{:x}",
                self.flags
            )));
        }
        if self.has_flag(BGWORKER_BACKEND_DATABASE_CONNECTION) {
            if !self.has_flag(BGWORKER_SHMEM_ACCESS) {
                return Err(RegistrationError::invalid(format!(
                    "background worker \"{name}\": must attach to shared memory in order to request a database connection"
                )));
            }
            if self.start_time == StartTime::PostmasterStart {
                return Err(RegistrationError::invalid(format!(
                    "background worker \"{name}\": cannot request database access if starting at postmaster start"
                )));
            }
        }
        if let Restart::After { seconds } = self.restart {
            if !(0..=BGW_MAX_RESTART_INTERVAL).contains(&seconds) {
                return Err(RegistrationError::invalid(format!(
                    "background worker \"{name}\": invalid restart interval"
                )));
            }
        }
        if self.has_flag(BGWORKER_INTERRUPTIBLE) && !self.has_flag(BGWORKER_BACKEND_DATABASE_CONNECTION) {
            return Err(RegistrationError::invalid(format!(
                "background worker \"{name}\": cannot make background workers interruptible without database access"
            )));
        }
        if self.restart != Restart::Never && self.has_flag(BGWORKER_CLASS_PARALLEL) {
            return Err(RegistrationError::invalid(format!(
                "background worker \"{name}\": parallel workers may not be configured for restart"
            )));
        }
        self.options
            .check()
            .map_err(|what| RegistrationError::invalid(format!("background worker \"{name}\": {what}")))?;
        if self.options.backoff.is_some() && self.restart == Restart::Never {
            return Err(RegistrationError::invalid(format!(
                "background worker \"{name}\": a restart backoff needs a restartable worker"
            )));
        }
        if self.worker_type.is_empty() {
            self.worker_type = self.name.clone();
        }
        Ok(())
    }

    /// The flags as words ("shmem,database,parallel").
    pub fn flags_text(&self) -> String {
        flags_text(self.flags)
    }
}

/// Flags as words, for views and logs.
pub fn flags_text(flags: i32) -> String {
    let mut words = Vec::new();
    if flags & BGWORKER_SHMEM_ACCESS != 0 {
        words.push("shmem".to_string());
    }
    if flags & BGWORKER_BACKEND_DATABASE_CONNECTION != 0 {
        words.push("database".to_string());
    }
    if flags & BGWORKER_INTERRUPTIBLE != 0 {
        words.push("interruptible".to_string());
    }
    if flags & BGWORKER_CLASS_PARALLEL != 0 {
        words.push("parallel".to_string());
    }
    let unknown = flags & !KNOWN_FLAGS;
    if unknown != 0 {
        words.push(format!("0x{unknown:x}"));
    }
    words.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkerSpec {
        WorkerSpec::new("w", "bgw", "noop")
    }

    #[test]
    fn database_needs_shmem() {
        let mut s = spec();
        s.flags = BGWORKER_BACKEND_DATABASE_CONNECTION;
        let e = s.sanity_check().unwrap_err();
        assert_eq!(
            e.message,
            "background worker \"w\": must attach to shared memory in order to request a database connection"
        );
        assert_eq!(e.sqlstate, "22023");
    }

    #[test]
    fn database_not_at_postmaster_start() {
        let mut s = spec();
        s.flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
        s.start_time = StartTime::PostmasterStart;
        assert_eq!(
            s.sanity_check().unwrap_err().message,
            "background worker \"w\": cannot request database access if starting at postmaster start"
        );
        s.start_time = StartTime::ConsistentState;
        assert!(s.sanity_check().is_ok());
    }

    #[test]
    fn restart_interval_bounds() {
        for (secs, ok) in [(-2, false), (0, true), (86_400_000, true), (86_400_001, false), (i32::MIN, false)] {
            let mut s = spec();
            s.restart = Restart::from_raw(secs);
            let r = s.sanity_check();
            assert_eq!(r.is_ok(), ok, "{secs}");
            if !ok {
                assert_eq!(r.unwrap_err().message, "background worker \"w\": invalid restart interval");
            }
        }
        let mut s = spec();
        s.restart = Restart::from_raw(-1);
        assert!(s.sanity_check().is_ok());
    }

    #[test]
    fn parallel_must_not_restart() {
        let mut s = spec();
        s.flags |= BGWORKER_CLASS_PARALLEL;
        assert_eq!(
            s.sanity_check().unwrap_err().message,
            "background worker \"w\": parallel workers may not be configured for restart"
        );
        s.restart = Restart::Never;
        assert!(s.sanity_check().is_ok());
    }

    #[test]
    fn empty_type_defaults_to_name() {
        let mut s = spec();
        s.sanity_check().unwrap();
        assert_eq!(s.worker_type, "w");
        let mut s = spec();
        s.worker_type = "kind".into();
        s.sanity_check().unwrap();
        assert_eq!(s.worker_type, "kind");
    }

    #[test]
    fn long_names_are_refused_not_truncated() {
        let mut s = spec();
        s.name = "x".repeat(96);
        assert!(s.to_raw().unwrap_err().message.contains("name is too long"));
        s.name = "x".repeat(95);
        assert!(s.to_raw().is_ok());
        s.library = "l".repeat(1024);
        assert!(s.to_raw().unwrap_err().message.contains("library name is too long"));
    }

    #[test]
    fn c_layout_matches_the_header() {
        // include/bgworker.h asserts the same numbers on the C side.
        assert_eq!(std::mem::size_of::<BackgroundWorker>(), 1472);
        assert_eq!(std::mem::offset_of!(BackgroundWorker, bgw_flags), 192);
        assert_eq!(std::mem::offset_of!(BackgroundWorker, bgw_library_name), 204);
        assert_eq!(std::mem::offset_of!(BackgroundWorker, bgw_main_arg), 1328);
        assert_eq!(std::mem::offset_of!(BackgroundWorker, bgw_notify_pid), 1464);
    }

    #[test]
    fn c_registrations_must_be_terminated() {
        let mut raw = WorkerSpec::new("w", "lib", "f").to_raw().unwrap();
        assert_eq!(WorkerSpec::from_c(&raw).unwrap().name, "w");
        raw.bgw_name = [b'x'; BGW_MAXLEN];
        assert!(WorkerSpec::from_c(&raw).unwrap_err().message.contains("name is not NUL-terminated"));
        let mut raw = WorkerSpec::new("w", "lib", "f").to_raw().unwrap();
        raw.bgw_start_time = 9;
        assert!(WorkerSpec::from_c(&raw).is_err());
    }

    #[test]
    fn raw_round_trip_and_sanitizing() {
        let mut s = spec();
        s.extra = b"hello".to_vec();
        s.main_arg = 42;
        let raw = s.to_raw().unwrap();
        let back = WorkerSpec::sanitized_from(&raw);
        assert_eq!(back.name, "w");
        assert_eq!(back.main_arg, 42);
        assert_eq!(&back.extra[..5], b"hello");

        let mut junk = BackgroundWorker::zeroed();
        junk.bgw_name = [0xff; BGW_MAXLEN];
        junk.bgw_start_time = 77;
        junk.bgw_restart_time = -12345;
        let c = WorkerSpec::sanitized_from(&junk);
        assert_eq!(c.name.len(), BGW_MAXLEN);
        assert!(c.name.chars().all(|ch| ch == '?'));
        assert_eq!(c.start_time, StartTime::RecoveryFinished);
        let mut c = c;
        assert!(c.sanity_check().is_err());
    }
}
