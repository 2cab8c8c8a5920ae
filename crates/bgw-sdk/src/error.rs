//! The SDK's error type.
//!
//! Purpose: every mistake the SDK can detect before calling the host is a typed [`Error`] value, so a worker can
//! react to it (log it, try something else) instead of the host ending the process. The checks are the host's
//! own (field sizes, NUL bytes, restart bounds, flag combinations), made in Rust first.
//!
//! Invariant: an `Error` is never produced by truncating or adjusting a value; the value is refused as given.
//!
//! Runs in: any process (pure data).

use std::fmt;
use std::time::Duration;

/// A string field of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `bgw_name`.
    Name,
    /// `bgw_type`.
    Type,
    /// `bgw_library_name`.
    Library,
    /// `bgw_function_name`.
    Function,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Name => "name",
            Field::Type => "type",
            Field::Library => "library name",
            Field::Function => "function name",
        })
    }
}

/// Why the SDK refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `register_static` outside `shared_preload_libraries` (the host would refuse the registration).
    #[error("static background workers can only be registered while shared_preload_libraries are loaded")]
    NotPreloading,
    /// A string does not fit its C field (which also holds the terminating NUL).
    #[error("background worker {field} is too long ({len} bytes; at most {max})")]
    TooLong { field: Field, len: usize, max: usize },
    /// A string contains a NUL byte, which C would read as its end.
    #[error("background worker {field} contains a NUL byte")]
    InteriorNul { field: Field },
    /// A required string is empty.
    #[error("background worker {field} is not set")]
    Missing { field: Field },
    /// More than `BGW_EXTRALEN` (128) bytes of extra data.
    #[error("background worker extra data is too long ({len} bytes; at most {max})")]
    ExtraTooLong { len: usize, max: usize },
    /// The restart interval has a fractional second (the host counts whole seconds).
    #[error("restart interval {0:?} is not a whole number of seconds")]
    RestartNotWholeSeconds(Duration),
    /// The restart interval is longer than the host allows (86,400,000 seconds).
    #[error("restart interval {0:?} is out of range (at most 86400000 seconds)")]
    RestartOutOfRange(Duration),
    /// `Flags::DATABASE` without `Flags::SHMEM`.
    #[error("background worker must attach to shared memory in order to request a database connection")]
    DatabaseWithoutShmem,
    /// `Flags::DATABASE` with `StartPhase::PostmasterStart`.
    #[error("background worker cannot request database access if starting at postmaster start")]
    DatabaseAtPostmasterStart,
    /// `Flags::PARALLEL` with a restart interval.
    #[error("parallel background workers may not be configured for restart")]
    ParallelWithRestart,
    /// A notify pid that is not a valid process id.
    #[error("invalid notify pid {0}")]
    InvalidNotifyPid(i32),
    /// A handle that cannot be parsed or cannot be given to the host.
    #[error("invalid background worker handle \"{text}\": {reason}")]
    InvalidHandle { text: String, reason: &'static str },
    /// The host answered with a status code the SDK does not know.
    #[error("the host returned an unknown background worker status {0}")]
    UnknownStatus(i32),
    /// A helper thread for an awaitable wait could not be started.
    #[error("could not start a thread to wait for the background worker: {0}")]
    Thread(String),
    /// A parameter, prefix, shared memory area or SQL function name the host would refuse.
    #[error("invalid {what} name \"{name}\": {reason}")]
    InvalidName { what: &'static str, name: String, reason: &'static str },
    /// A parameter definition the host would refuse (range, default, options).
    #[error("invalid definition of parameter \"{name}\": {reason}")]
    InvalidParam { name: String, reason: String },
    /// The parameter (or SQL function) was already defined by this module in this process.
    #[error("{what} \"{name}\" is already defined")]
    AlreadyDefined { what: &'static str, name: String },
    /// `shmem::request` outside `shared_preload_libraries` (the host would refuse it).
    #[error("shared memory can only be requested while shared_preload_libraries are loaded")]
    ShmemNotPreloading,
    /// The calling process is not attached to shared memory (a worker without `Flags::SHMEM`, or the postmaster).
    #[error("this process has no shared memory access")]
    NoShmemAccess,
    /// The shared area's address does not suit the type (the host aligns areas to 64 bytes).
    #[error("shared memory area \"{name}\" is not aligned to {align} bytes")]
    ShmemAlignment { name: String, align: usize },
    /// A typed argument longer than `BGW_MAX_ARG_BYTES` once encoded.
    #[error("background worker argument is too large ({len} bytes encoded; at most {max})")]
    ArgTooLarge { len: usize, max: usize },
    /// A typed argument for a dynamic worker without `Flags::SHMEM`, which could not read it.
    #[error("a dynamic background worker needs shared-memory access (Flags::SHMEM) to read its argument")]
    ArgWithoutShmem,
    /// A typed argument with a registration that waits for a free slot (not supported: the argument is attached
    /// when a slot is taken at once).
    #[error("a registration that waits for a free slot cannot carry a typed argument")]
    ArgWithWait,
    /// A typed argument serde could not encode.
    #[error("could not encode the background worker argument: {0}")]
    ArgEncode(String),
    /// A SQL function definition the host would refuse.
    #[error("invalid SQL function \"{name}\": {reason}")]
    InvalidSqlFunction { name: String, reason: String },
}
