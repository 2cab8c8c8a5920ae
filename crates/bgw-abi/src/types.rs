//! The header's basic types: `Datum`, `Oid`, `pid_t`, `sig_atomic_t`, and the path length `MAXPGPATH`.

/// PostgreSQL's `Datum` (`uintptr_t`): a worker's main argument.
pub type Datum = usize;

/// PostgreSQL's `Oid` (`unsigned int`).
pub type Oid = u32;

/// `pid_t` as the host's platform (Linux) defines it.
#[allow(non_camel_case_types)]
pub type pid_t = i32;

/// `sig_atomic_t` as the host's platform (Linux) defines it: the type of the interrupt flags
/// (`ConfigReloadPending`, `ShutdownRequestPending`, `InterruptPending`, `ProcDiePending`).
#[allow(non_camel_case_types)]
pub type sig_atomic_t = core::ffi::c_int;

/// `InvalidOid`: no object (for a connection: no database, or the bootstrap superuser).
#[allow(non_upper_case_globals)]
pub const InvalidOid: Oid = 0;

/// PostgreSQL's `MAXPGPATH`: the length of the library-name field, including the terminating NUL.
pub const MAXPGPATH: usize = 1024;
