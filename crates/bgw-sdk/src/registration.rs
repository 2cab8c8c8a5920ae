//! Registering background workers: the typed builder, its vocabulary, and the running worker's own registration.
//!
//! Purpose: [`BackgroundWorkerBuilder`] fills in the C `BackgroundWorker` struct from Rust values, refusing (with
//! an [`Error`]) anything that would not fit or that the host would refuse, before the host is called:
//! - names, types and function names of at most 95 bytes, library names of at most 1023 (the fields hold a NUL
//!   too), no NUL bytes inside, library and function not empty;
//! - at most 128 bytes of extra data;
//! - restart intervals in whole seconds, at most 86,400,000 s;
//! - the host's flag rules (database access needs shared memory and a start after postmaster start; parallel
//!   workers never restart).
//!
//! Invariant: nothing is truncated or adjusted; a value is used as given or refused.
//!
//! Runs in: [`BackgroundWorkerBuilder::register_static`] in the postmaster, inside a module's `_PG_init` while
//! `shared_preload_libraries` are loaded; [`BackgroundWorkerBuilder::register_dynamic`] in a worker attached to
//! shared memory; [`my_registration`] in a worker (None elsewhere).

use crate::error::{Error, Field};
use crate::ffi;
use crate::handle::Handle;
use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};
use std::time::Duration;

/// The longest restart interval the host accepts, in seconds (`bgw-abi`'s `BGW_MAX_RESTART_INTERVAL`).
pub const MAX_RESTART_SECONDS: u64 = ffi::BGW_MAX_RESTART_INTERVAL as u64;

/// A registration's flags (`bgw_flags`). Combine with `|`.
///
/// ```
/// use bgw_sdk::Flags;
/// let f = Flags::SHMEM | Flags::PARALLEL;
/// assert!(f.contains(Flags::PARALLEL));
/// assert_eq!(f.bits(), 0x11);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(i32);

impl Flags {
    /// `BGWORKER_SHMEM_ACCESS`: the worker stays attached to the host's shared memory (needed to register,
    /// wait for or terminate other workers). Its abnormal exit is a crash of the whole host.
    pub const SHMEM: Flags = Flags(ffi::BGWORKER_SHMEM_ACCESS);
    /// `BGWORKER_BACKEND_DATABASE_CONNECTION`: reserved for database access (not available in this version of
    /// the host); requires `SHMEM` and a start phase after postmaster start.
    pub const DATABASE: Flags = Flags(ffi::BGWORKER_BACKEND_DATABASE_CONNECTION);
    /// `BGWORKER_CLASS_PARALLEL`: counts against `max_parallel_workers`; must not restart.
    pub const PARALLEL: Flags = Flags(ffi::BGWORKER_CLASS_PARALLEL);
    /// `BGWORKER_BIND_REGISTRANT` (beyond PostgreSQL): a dynamic worker terminated when the process that
    /// registered it exits (see [`BackgroundWorkerBuilder::bind_to_registrant`]).
    pub const BIND_REGISTRANT: Flags = Flags(bgw_abi::BGWORKER_BIND_REGISTRANT);
    /// `BGWORKER_DIE_AT_INTERRUPTS` (PostgreSQL 19's `die()`): SIGTERM sets a flag the worker acts on at its next
    /// interrupt check instead of ending it at once.
    pub const DIE_AT_INTERRUPTS: Flags = Flags(bgw_abi::BGWORKER_DIE_AT_INTERRUPTS);

    /// No flags: the worker detaches from shared memory when it starts.
    pub const fn empty() -> Flags {
        Flags(0)
    }
    /// The C value.
    pub const fn bits(self) -> i32 {
        self.0
    }
    /// Flags from a C value; None if it has bits the SDK does not know.
    pub const fn from_bits(bits: i32) -> Option<Flags> {
        if bits
            & !(Self::SHMEM.0
                | Self::DATABASE.0
                | Self::PARALLEL.0
                | Self::BIND_REGISTRANT.0
                | Self::DIE_AT_INTERRUPTS.0)
            == 0
        {
            Some(Flags(bits))
        } else {
            None
        }
    }
    /// Flags from a C value, keeping unknown bits as they are.
    pub const fn from_bits_retain(bits: i32) -> Flags {
        Flags(bits)
    }
    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (flag, name) in [(Flags::SHMEM, "SHMEM"), (Flags::DATABASE, "DATABASE"), (Flags::PARALLEL, "PARALLEL")] {
            if self.contains(flag) {
                parts.push(name.to_string());
            }
        }
        let unknown = self.0 & !(Flags::SHMEM.0 | Flags::DATABASE.0 | Flags::PARALLEL.0);
        if unknown != 0 {
            parts.push(format!("0x{unknown:x}"));
        }
        if parts.is_empty() {
            f.write_str("Flags(empty)")
        } else {
            write!(f, "Flags({})", parts.join(" | "))
        }
    }
}

/// The flags of a database connection (`BGWORKER_BYPASS_ALLOWCONN`, `BGWORKER_BYPASS_ROLELOGINCHECK`).
///
/// Passed to [`crate::spi::connect`] and [`crate::spi::connect_by_oid`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct ConnectionFlags(u32);

impl ConnectionFlags {
    /// `BGWORKER_BYPASS_ALLOWCONN`: connect even to a database that does not allow connections.
    pub const BYPASS_ALLOWCONN: ConnectionFlags = ConnectionFlags(ffi::BGWORKER_BYPASS_ALLOWCONN);
    /// `BGWORKER_BYPASS_ROLELOGINCHECK`: connect even as a role without the LOGIN attribute.
    pub const BYPASS_ROLELOGINCHECK: ConnectionFlags = ConnectionFlags(ffi::BGWORKER_BYPASS_ROLELOGINCHECK);

    pub const fn empty() -> ConnectionFlags {
        ConnectionFlags(0)
    }
    pub const fn bits(self) -> u32 {
        self.0
    }
    pub const fn contains(self, other: ConnectionFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for ConnectionFlags {
    type Output = ConnectionFlags;
    fn bitor(self, rhs: ConnectionFlags) -> ConnectionFlags {
        ConnectionFlags(self.0 | rhs.0)
    }
}

/// When the postmaster starts the worker (`BgWorkerStartTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartPhase {
    /// As soon as the postmaster has started.
    PostmasterStart,
    /// Once the host reaches a consistent state (a standby runs these).
    ConsistentState,
    /// Once recovery has finished (the host accepts writes). The default.
    #[default]
    RecoveryFinished,
}

impl StartPhase {
    /// The C value.
    pub const fn to_raw(self) -> i32 {
        match self {
            StartPhase::PostmasterStart => ffi::BgWorkerStart_PostmasterStart,
            StartPhase::ConsistentState => ffi::BgWorkerStart_ConsistentState,
            StartPhase::RecoveryFinished => ffi::BgWorkerStart_RecoveryFinished,
        }
    }
    /// From the C value.
    pub const fn from_raw(v: i32) -> Option<StartPhase> {
        match v {
            ffi::BgWorkerStart_PostmasterStart => Some(StartPhase::PostmasterStart),
            ffi::BgWorkerStart_ConsistentState => Some(StartPhase::ConsistentState),
            ffi::BgWorkerStart_RecoveryFinished => Some(StartPhase::RecoveryFinished),
            _ => None,
        }
    }
}

/// What happens after the worker exits with code 1 (or crashes): `bgw_restart_time`.
///
/// Exit code 0 always unregisters the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restart {
    /// `BGW_NEVER_RESTART`: the registration is forgotten.
    Never,
    /// Started again after this interval: whole seconds, at most 86,400,000 (`Duration::ZERO` restarts at once).
    After(Duration),
}

impl Default for Restart {
    /// `BGW_DEFAULT_RESTART_INTERVAL`: 60 seconds.
    fn default() -> Self {
        Restart::After(Duration::from_secs(ffi::BGW_DEFAULT_RESTART_INTERVAL as u64))
    }
}

impl Restart {
    /// The C value, or why there is none.
    pub fn to_raw(self) -> Result<i32, Error> {
        match self {
            Restart::Never => Ok(ffi::BGW_NEVER_RESTART),
            Restart::After(d) => {
                if d.subsec_nanos() != 0 {
                    return Err(Error::RestartNotWholeSeconds(d));
                }
                if d.as_secs() > MAX_RESTART_SECONDS {
                    return Err(Error::RestartOutOfRange(d));
                }
                Ok(d.as_secs() as i32)
            }
        }
    }
    /// From the C value (negative values other than `BGW_NEVER_RESTART` are read as never).
    pub fn from_raw(v: i32) -> Restart {
        if v < 0 {
            Restart::Never
        } else {
            Restart::After(Duration::from_secs(v as u64))
        }
    }
}

/// Who is signalled when the worker starts and stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notify {
    Nobody,
    /// The process that calls `register_*` (resolved at that moment).
    Registrant,
    Pid(i32),
}

/// Builds and registers a background worker.
///
/// ```
/// use bgw_sdk::{BackgroundWorkerBuilder, Flags, Restart, StartPhase};
/// use std::time::Duration;
///
/// let builder = BackgroundWorkerBuilder::new("my ticker")
///     .worker_type("ticker")
///     .library("my_module")
///     .function("ticker_main")
///     .flags(Flags::SHMEM)
///     .start_phase(StartPhase::RecoveryFinished)
///     .restart(Restart::After(Duration::from_secs(5)))
///     .main_arg(1000)
///     .extra(b"some bytes");
/// assert!(builder.validate().is_ok());
///
/// let too_long = BackgroundWorkerBuilder::new("x".repeat(200)).library("m").function("f");
/// assert_eq!(too_long.validate().unwrap_err().to_string(),
///            "background worker name is too long (200 bytes; at most 95)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a builder does nothing until registered"]
pub struct BackgroundWorkerBuilder {
    name: String,
    worker_type: String,
    library: String,
    function: String,
    flags: Flags,
    start_phase: StartPhase,
    restart: Restart,
    main_arg: usize,
    extra: Vec<u8>,
    /// The encoded typed argument, or why it could not be encoded (reported when registering).
    arg: Option<Result<Vec<u8>, Error>>,
    notify: Notify,
}

impl BackgroundWorkerBuilder {
    /// A registration named `name`, with the defaults: flags `SHMEM`, start at `RecoveryFinished`, restart after
    /// 60 s, main argument 0, no extra data, nobody notified. The library and function must be set.
    pub fn new(name: impl Into<String>) -> Self {
        BackgroundWorkerBuilder {
            name: name.into(),
            worker_type: String::new(),
            library: String::new(),
            function: String::new(),
            flags: Flags::SHMEM,
            start_phase: StartPhase::default(),
            restart: Restart::default(),
            main_arg: 0,
            extra: Vec::new(),
            arg: None,
            notify: Notify::Nobody,
        }
    }
    /// The worker's type (what `pg_stat_activity` shows and log lines name); empty means the name.
    pub fn worker_type(mut self, worker_type: impl Into<String>) -> Self {
        self.worker_type = worker_type.into();
        self
    }
    /// The library that holds the entry point: a name searched along `dynamic_library_path` (as given, then with
    /// `.so` appended), or a path with a `/`.
    pub fn library(mut self, library: impl Into<String>) -> Self {
        self.library = library.into();
        self
    }
    /// The entry point's exported name (see [`worker_main!`](crate::worker_main)).
    pub fn function(mut self, function: impl Into<String>) -> Self {
        self.function = function.into();
        self
    }
    /// The flags (replacing the default `SHMEM`).
    pub fn flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }
    /// When the postmaster starts the worker.
    pub fn start_phase(mut self, phase: StartPhase) -> Self {
        self.start_phase = phase;
        self
    }
    /// What happens when the worker exits with code 1 or crashes.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }
    /// The argument the entry point receives (a Datum).
    pub fn main_arg(mut self, arg: usize) -> Self {
        self.main_arg = arg;
        self
    }
    /// Up to 128 bytes the worker can read back from its registration.
    pub fn extra(mut self, extra: &[u8]) -> Self {
        self.extra = extra.to_vec();
        self
    }
    /// Binds the worker to its registrant (beyond PostgreSQL; `BGWORKER_BIND_REGISTRANT`): the host terminates
    /// it when the process that registers it exits (systemd's `BindsTo`, an OTP link). Dynamic registrations
    /// only: the host refuses a static registration that asks for it.
    pub fn bind_to_registrant(mut self) -> Self {
        self.flags |= Flags::BIND_REGISTRANT;
        self
    }

    /// A typed argument: any serde value, encoded (postcard) into at most
    /// [`MAX_ARG_BYTES`](crate::arg::MAX_ARG_BYTES) bytes, which the worker reads with [`crate::arg()`] (or as the
    /// parameter of a `#[bgw_sdk::worker]` function). Far more than [`Self::extra`]'s 128 bytes; see
    /// [`mod@crate::arg`] for where the host keeps it. Too large or not encodable: an error when registering.
    pub fn arg<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.arg = Some(crate::arg::encode(value));
        self
    }
    /// Signal the registering process (with SIGUSR1, which sets its latch) when the worker starts and stops. The
    /// pid is taken when `register_*` is called. Needed to wait on the handle efficiently from the registrant.
    pub fn notify_self(mut self) -> Self {
        self.notify = Notify::Registrant;
        self
    }
    /// Signal process `pid` when the worker starts and stops.
    pub fn notify_pid(mut self, pid: i32) -> Self {
        self.notify = Notify::Pid(pid);
        self
    }

    /// Checks everything the SDK can check without the host.
    pub fn validate(&self) -> Result<(), Error> {
        self.to_raw(0)?;
        self.encoded_arg().map(|_| ())
    }

    fn encoded_arg(&self) -> Result<Option<&[u8]>, Error> {
        match &self.arg {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(e)) => Err(e.clone()),
        }
    }

    /// The C registration, or why it cannot be made. `my_pid` stands for the registrant.
    pub(crate) fn to_raw(&self, my_pid: i32) -> Result<ffi::BackgroundWorker, Error> {
        let mut w = ffi::BackgroundWorker::zeroed();
        copy_field(&mut w.bgw_name, &self.name, Field::Name, false)?;
        copy_field(&mut w.bgw_type, &self.worker_type, Field::Type, false)?;
        copy_field(&mut w.bgw_library_name, &self.library, Field::Library, true)?;
        copy_field(&mut w.bgw_function_name, &self.function, Field::Function, true)?;
        if self.extra.len() > ffi::BGW_EXTRALEN {
            return Err(Error::ExtraTooLong { len: self.extra.len(), max: ffi::BGW_EXTRALEN });
        }
        w.bgw_extra[..self.extra.len()].copy_from_slice(&self.extra);
        if self.flags.contains(Flags::DATABASE) {
            if !self.flags.contains(Flags::SHMEM) {
                return Err(Error::DatabaseWithoutShmem);
            }
            if self.start_phase == StartPhase::PostmasterStart {
                return Err(Error::DatabaseAtPostmasterStart);
            }
        }
        w.bgw_restart_time = self.restart.to_raw()?;
        if self.flags.contains(Flags::PARALLEL) && self.restart != Restart::Never {
            return Err(Error::ParallelWithRestart);
        }
        w.bgw_flags = self.flags.bits();
        w.bgw_start_time = self.start_phase.to_raw();
        w.bgw_main_arg = self.main_arg;
        w.bgw_notify_pid = match self.notify {
            Notify::Nobody => 0,
            Notify::Registrant => my_pid,
            Notify::Pid(pid) if pid > 0 => pid,
            Notify::Pid(pid) => return Err(Error::InvalidNotifyPid(pid)),
        };
        Ok(w)
    }

    /// Registers a static worker: only from a module's `_PG_init` while the module is loaded through
    /// `shared_preload_libraries` (in the postmaster, before any worker runs). The host copies the registration
    /// and starts the worker in its start phase. Called at any other time, the host logs that static workers must
    /// be registered in `shared_preload_libraries` and ignores the registration (there is no error to return).
    pub fn register_static(self) -> Result<(), Error> {
        let raw = self.to_raw(std::process::id() as i32)?;
        let arg = self.encoded_arg()?;
        if !ffi::preloading() {
            return Err(Error::NotPreloading);
        }
        if let Some(arg) = arg {
            crate::arg::keep_static(&self.name, arg.to_vec());
        }
        ffi::register_background_worker(&raw);
        Ok(())
    }

    /// Registers a dynamic worker from a running worker (or any process of the host attached to shared memory).
    /// `Ok(None)` when no slot is free (or, for a parallel worker, `max_parallel_workers` are running).
    ///
    /// Checks the host makes itself and cannot report back as a value are ERRORs that end the calling worker,
    /// as in C: a library or function the host cannot find, or a caller not attached to shared memory.
    pub fn register_dynamic(self) -> Result<Option<Handle>, Error> {
        let raw = self.to_raw(std::process::id() as i32)?;
        let handle = match self.encoded_arg()? {
            Some(_) if !self.flags.contains(Flags::SHMEM) => return Err(Error::ArgWithoutShmem),
            Some(arg) => ffi::register_dynamic_with_arg(&raw, arg),
            None => ffi::register_dynamic_background_worker(&raw),
        };
        Ok(handle.map(Handle::from_c))
    }

    /// Registers a dynamic worker, waiting up to `timeout` (None: as long as it takes) for a free slot when none
    /// is free (`RegisterDynamicBackgroundWorkerWait`, beyond PostgreSQL): registrations that wait get slots
    /// first come first served; `Ok(None)` when none came in time (or the host began to shut down). A wait that
    /// ends without a slot leaves the queue: nothing is started for it later.
    pub fn register_dynamic_wait(self, timeout: Option<std::time::Duration>) -> Result<Option<Handle>, Error> {
        let raw = self.to_raw(std::process::id() as i32)?;
        if self.arg.is_some() {
            return Err(Error::ArgWithWait);
        }
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        Ok(ffi::register_dynamic_background_worker_wait(&raw, ms).map(Handle::from_c))
    }

    /// [`register_dynamic_wait`](Self::register_dynamic_wait) as a future any executor can await (no runtime
    /// needed): the first poll starts a helper thread that makes the host's blocking wait, as the handle's
    /// awaitable waits do (see [`Handle`]'s module docs for the one-latch rule). A registration the SDK refuses
    /// fails on the first poll, without a thread.
    pub fn register_dynamic_wait_async(
        self,
        timeout: Option<std::time::Duration>,
    ) -> impl std::future::Future<Output = Result<Option<Handle>, Error>> + Send {
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        let raw = if self.arg.is_some() { Err(Error::ArgWithWait) } else { self.to_raw(std::process::id() as i32) };
        RegisterFuture { raw: Some(raw), ms, call: None }
    }
}

/// What [`BackgroundWorkerBuilder::register_dynamic_wait_async`] returns.
struct RegisterFuture {
    /// The registration (or the SDK's refusal), until the first poll takes it.
    raw: Option<Result<ffi::BackgroundWorker, Error>>,
    ms: i32,
    call: Option<crate::on_thread::OnThread<Option<Handle>>>,
}

impl std::future::Future for RegisterFuture {
    type Output = Result<Option<Handle>, Error>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = &mut *self;
        if this.call.is_none() {
            // First poll: a registration the SDK refuses fails here, without a thread.
            let raw = match this.raw.take() {
                Some(Ok(raw)) => raw,
                Some(Err(e)) => return std::task::Poll::Ready(Err(e)),
                None => return std::task::Poll::Ready(Err(Error::Thread("polled after completion".into()))),
            };
            let ms = this.ms;
            this.call = Some(crate::on_thread::OnThread::new("bgw-register-wait", move || {
                ffi::register_dynamic_background_worker_wait(&raw, ms).map(Handle::from_c)
            }));
        }
        match this.call.as_mut() {
            Some(call) => call.poll(cx),
            None => std::task::Poll::Ready(Err(Error::Thread("polled after completion".into()))),
        }
    }
}

/// Copies `value` into a C field, refusing what does not fit (the field keeps a terminating NUL).
fn copy_field(dst: &mut [u8], value: &str, field: Field, required: bool) -> Result<(), Error> {
    let bytes = value.as_bytes();
    if required && bytes.is_empty() {
        return Err(Error::Missing { field });
    }
    if bytes.len() >= dst.len() {
        return Err(Error::TooLong { field, len: bytes.len(), max: dst.len() - 1 });
    }
    if bytes.contains(&0) {
        return Err(Error::InteriorNul { field });
    }
    dst[..bytes.len()].copy_from_slice(bytes);
    Ok(())
}

/// A worker's registration as the host started it (a copy of `MyBgworkerEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    /// The type (the host fills an empty type with the name).
    pub worker_type: String,
    pub flags: Flags,
    pub start_phase: StartPhase,
    pub restart: Restart,
    pub library: String,
    pub function: String,
    pub main_arg: usize,
    /// All 128 bytes of the extra field (see [`Registration::extra_until_nul`]).
    pub extra: [u8; ffi::BGW_EXTRALEN],
    /// The process notified of start and stop, if any.
    pub notify_pid: Option<i32>,
}

impl Registration {
    /// The extra data up to its first NUL byte (how text stored with [`BackgroundWorkerBuilder::extra`] reads
    /// back).
    pub fn extra_until_nul(&self) -> &[u8] {
        let end = self.extra.iter().position(|&b| b == 0).unwrap_or(self.extra.len());
        &self.extra[..end]
    }

    pub(crate) fn from_raw(w: &ffi::BackgroundWorker) -> Registration {
        fn text(field: &[u8]) -> String {
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        }
        Registration {
            name: text(&w.bgw_name),
            worker_type: text(&w.bgw_type),
            flags: Flags::from_bits_retain(w.bgw_flags),
            // The host refuses unknown start times at registration; the latest phase is the safe reading.
            start_phase: StartPhase::from_raw(w.bgw_start_time).unwrap_or(StartPhase::RecoveryFinished),
            restart: Restart::from_raw(w.bgw_restart_time),
            library: text(&w.bgw_library_name),
            function: text(&w.bgw_function_name),
            main_arg: w.bgw_main_arg,
            extra: w.bgw_extra,
            notify_pid: (w.bgw_notify_pid > 0).then_some(w.bgw_notify_pid),
        }
    }
}

/// The running worker's registration (`MyBgworkerEntry`), or None outside a worker (in the postmaster during
/// `_PG_init`, or in a program that is not the host).
pub fn my_registration() -> Option<Registration> {
    ffi::my_bgworker_entry().map(|w| Registration::from_raw(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> BackgroundWorkerBuilder {
        BackgroundWorkerBuilder::new("w").library("lib").function("f")
    }

    fn field(bytes: &[u8]) -> &str {
        let end = bytes.iter().position(|&b| b == 0).unwrap();
        std::str::from_utf8(&bytes[..end]).unwrap()
    }

    #[test]
    fn defaults_and_fields_reach_the_c_struct() {
        let raw = ok().to_raw(77).unwrap();
        assert_eq!(field(&raw.bgw_name), "w");
        assert_eq!(field(&raw.bgw_type), "");
        assert_eq!(field(&raw.bgw_library_name), "lib");
        assert_eq!(field(&raw.bgw_function_name), "f");
        assert_eq!(raw.bgw_flags, 1);
        assert_eq!(raw.bgw_start_time, 2);
        assert_eq!(raw.bgw_restart_time, 60);
        assert_eq!(raw.bgw_main_arg, 0);
        assert_eq!(raw.bgw_notify_pid, 0);

        let raw = ok()
            .worker_type("kind")
            .flags(Flags::SHMEM | Flags::PARALLEL)
            .restart(Restart::Never)
            .start_phase(StartPhase::ConsistentState)
            .main_arg(usize::MAX)
            .extra(b"abc")
            .notify_self()
            .to_raw(77)
            .unwrap();
        assert_eq!(field(&raw.bgw_type), "kind");
        assert_eq!(raw.bgw_flags, 0x11);
        assert_eq!(raw.bgw_start_time, 1);
        assert_eq!(raw.bgw_restart_time, -1);
        assert_eq!(raw.bgw_main_arg, usize::MAX);
        assert_eq!(&raw.bgw_extra[..4], b"abc\0");
        assert_eq!(raw.bgw_notify_pid, 77);
        assert_eq!(ok().notify_pid(5).to_raw(77).unwrap().bgw_notify_pid, 5);
    }

    #[test]
    fn lengths_are_checked_not_truncated() {
        assert!(BackgroundWorkerBuilder::new("x".repeat(95)).library("l").function("f").validate().is_ok());
        assert_eq!(
            BackgroundWorkerBuilder::new("x".repeat(96)).library("l").function("f").validate(),
            Err(Error::TooLong { field: Field::Name, len: 96, max: 95 })
        );
        assert_eq!(
            ok().worker_type("t".repeat(200)).validate(),
            Err(Error::TooLong { field: Field::Type, len: 200, max: 95 })
        );
        assert_eq!(
            ok().function("f".repeat(96)).validate(),
            Err(Error::TooLong { field: Field::Function, len: 96, max: 95 })
        );
        assert!(ok().library("l".repeat(1023)).validate().is_ok());
        assert_eq!(
            ok().library("l".repeat(1024)).validate(),
            Err(Error::TooLong { field: Field::Library, len: 1024, max: 1023 })
        );
        // Multi-byte characters count in bytes.
        assert_eq!(
            BackgroundWorkerBuilder::new("é".repeat(48)).library("l").function("f").validate(),
            Err(Error::TooLong { field: Field::Name, len: 96, max: 95 })
        );
        assert!(ok().extra(&[7; 128]).validate().is_ok());
        assert_eq!(ok().extra(&[7; 129]).validate(), Err(Error::ExtraTooLong { len: 129, max: 128 }));
    }

    #[test]
    fn nul_bytes_and_missing_fields_are_refused() {
        assert_eq!(
            BackgroundWorkerBuilder::new("a\0b").library("l").function("f").validate(),
            Err(Error::InteriorNul { field: Field::Name })
        );
        assert_eq!(ok().library("l\0").validate(), Err(Error::InteriorNul { field: Field::Library }));
        assert_eq!(ok().function("").validate(), Err(Error::Missing { field: Field::Function }));
        assert_eq!(ok().library("").validate(), Err(Error::Missing { field: Field::Library }));
        // Extra data is bytes, NULs included.
        assert!(ok().extra(b"a\0b").validate().is_ok());
    }

    #[test]
    fn restart_intervals() {
        let secs = |s| ok().restart(Restart::After(Duration::from_secs(s))).to_raw(1).map(|r| r.bgw_restart_time);
        assert_eq!(secs(0), Ok(0));
        assert_eq!(secs(5), Ok(5));
        assert_eq!(secs(86_400_000), Ok(86_400_000));
        assert_eq!(secs(86_400_001), Err(Error::RestartOutOfRange(Duration::from_secs(86_400_001))));
        assert_eq!(secs(u64::MAX), Err(Error::RestartOutOfRange(Duration::from_secs(u64::MAX))));
        for d in [Duration::from_millis(500), Duration::from_millis(1500), Duration::from_nanos(1)] {
            assert_eq!(ok().restart(Restart::After(d)).validate(), Err(Error::RestartNotWholeSeconds(d)));
        }
        assert_eq!(Restart::from_raw(-1), Restart::Never);
        assert_eq!(Restart::from_raw(7), Restart::After(Duration::from_secs(7)));
        assert_eq!(Restart::default(), Restart::After(Duration::from_secs(60)));
    }

    #[test]
    fn flag_rules() {
        assert_eq!(ok().flags(Flags::DATABASE).validate(), Err(Error::DatabaseWithoutShmem));
        assert_eq!(
            ok().flags(Flags::DATABASE | Flags::SHMEM).start_phase(StartPhase::PostmasterStart).validate(),
            Err(Error::DatabaseAtPostmasterStart)
        );
        assert!(ok().flags(Flags::DATABASE | Flags::SHMEM).validate().is_ok());
        assert_eq!(ok().flags(Flags::PARALLEL).validate(), Err(Error::ParallelWithRestart));
        assert!(ok().flags(Flags::PARALLEL).restart(Restart::Never).validate().is_ok());
        assert!(ok().flags(Flags::empty()).validate().is_ok());
        assert_eq!(ok().notify_pid(0).validate(), Err(Error::InvalidNotifyPid(0)));
        assert_eq!(ok().notify_pid(-3).validate(), Err(Error::InvalidNotifyPid(-3)));
    }

    #[test]
    fn flags_combine() {
        let mut f = Flags::SHMEM;
        f |= Flags::PARALLEL;
        assert_eq!(f, Flags::SHMEM | Flags::PARALLEL);
        assert!(f.contains(Flags::SHMEM) && f.contains(Flags::PARALLEL) && !f.contains(Flags::DATABASE));
        assert!(!f.contains(Flags::SHMEM | Flags::DATABASE));
        assert_eq!((f & Flags::PARALLEL), Flags::PARALLEL);
        assert_eq!(Flags::from_bits(0x13), Some(Flags::SHMEM | Flags::DATABASE | Flags::PARALLEL));
        assert_eq!(Flags::from_bits(0x4), None);
        assert_eq!(Flags::from_bits_retain(0x4).bits(), 4);
        assert!(Flags::empty().is_empty());
        assert_eq!(format!("{f:?}"), "Flags(SHMEM | PARALLEL)");
        assert_eq!(format!("{:?}", Flags::from_bits_retain(0x41)), "Flags(SHMEM | 0x40)");
        assert_eq!(format!("{:?}", Flags::empty()), "Flags(empty)");
        let c = ConnectionFlags::BYPASS_ALLOWCONN | ConnectionFlags::BYPASS_ROLELOGINCHECK;
        assert_eq!(c.bits(), 3);
        assert!(c.contains(ConnectionFlags::BYPASS_ROLELOGINCHECK));
        assert_eq!(ConnectionFlags::empty().bits(), 0);
    }

    #[test]
    fn start_phases_round_trip() {
        for p in [StartPhase::PostmasterStart, StartPhase::ConsistentState, StartPhase::RecoveryFinished] {
            assert_eq!(StartPhase::from_raw(p.to_raw()), Some(p));
        }
        assert_eq!(StartPhase::from_raw(3), None);
    }

    #[test]
    fn registration_reads_back_from_c() {
        let raw = ok()
            .worker_type("kind")
            .flags(Flags::SHMEM)
            .restart(Restart::After(Duration::from_secs(3)))
            .main_arg(42)
            .extra(b"hello")
            .notify_pid(9)
            .to_raw(1)
            .unwrap();
        let r = Registration::from_raw(&raw);
        assert_eq!(r.name, "w");
        assert_eq!(r.worker_type, "kind");
        assert_eq!(r.library, "lib");
        assert_eq!(r.function, "f");
        assert_eq!(r.flags, Flags::SHMEM);
        assert_eq!(r.start_phase, StartPhase::RecoveryFinished);
        assert_eq!(r.restart, Restart::After(Duration::from_secs(3)));
        assert_eq!(r.main_arg, 42);
        assert_eq!(r.extra_until_nul(), b"hello");
        assert_eq!(r.notify_pid, Some(9));
        // A field without its NUL (a C caller's mistake) is read to its end, never beyond.
        let mut raw = raw;
        raw.bgw_name = [b'n'; 96];
        raw.bgw_extra = [1; 128];
        let r = Registration::from_raw(&raw);
        assert_eq!(r.name.len(), 96);
        assert_eq!(r.extra_until_nul().len(), 128);
    }
}

#[cfg(test)]
mod wait_and_bind_tests {
    use super::*;
    use crate::fake_host;

    #[test]
    fn a_waiting_registration_passes_its_timeout_and_binding_to_the_host() {
        let h = BackgroundWorkerBuilder::new("waits")
            .library("lib")
            .function("f")
            .main_arg(3)
            .bind_to_registrant()
            .register_dynamic_wait(Some(std::time::Duration::from_millis(250)))
            .unwrap()
            .unwrap();
        assert_eq!(h, Handle { slot: 3, generation: 7 });
        let raw = fake_host::registered("waits").unwrap();
        // The fake host records the timeout in the restart time.
        assert_eq!(raw.bgw_restart_time, 250);
        assert_eq!(raw.bgw_flags, bgw_abi::BGWORKER_SHMEM_ACCESS | bgw_abi::BGWORKER_BIND_REGISTRANT);
        assert_eq!(Flags::from_bits(raw.bgw_flags), Some(Flags::SHMEM | Flags::BIND_REGISTRANT));
        // Forever is -1; no slot in time is None.
        let none = BackgroundWorkerBuilder::new("full").library("l").function("f").register_dynamic_wait(None);
        assert_eq!(none, Ok(None));
    }

    #[test]
    fn a_waiting_registration_can_be_awaited() {
        use std::future::Future;
        use std::task::{Context, Poll, Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        fn block_on<F: Future>(f: F) -> F::Output {
            let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
            let mut cx = Context::from_waker(&waker);
            let mut f = std::pin::pin!(f);
            loop {
                if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                    return v;
                }
                std::thread::park();
            }
        }
        let b = BackgroundWorkerBuilder::new("awaited").library("lib").function("f").main_arg(4);
        let h = block_on(b.register_dynamic_wait_async(Some(std::time::Duration::from_millis(90))));
        assert_eq!(h, Ok(Some(Handle { slot: 4, generation: 7 })));
        assert_eq!(fake_host::registered("awaited").unwrap().bgw_restart_time, 90);
        // Refused by the SDK: on the first poll, without calling the host.
        let long = "z".repeat(200);
        let refused = block_on(BackgroundWorkerBuilder::new(long.as_str()).register_dynamic_wait_async(None));
        assert!(refused.is_err());
    }
}
