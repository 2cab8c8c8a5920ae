//! Finding a worker's entry point by (library, function), as the spec's `LookupBackgroundWorkerFunction`.
//!
//! Function addresses cannot cross process boundaries safely, so registrations name their code. The internal
//! library `bgw` (the spec's `postgres`) is a table: the host's built-in workers (`crate::worker::builtin`, given
//! by the postmaster at start with [`set_builtin_functions`]), to which an application embedding the host can add
//! its own functions ([`register_internal_function`]). Both are set before the first fork, so every child
//! inherits them. Any other library is a loadable module, found and opened by
//! [`crate::modules::loader`]; its function has the spec's signature `void main(Datum)`.

use crate::bgworker::types::{RegistrationError, WorkerSpec};
use crate::modules::loader::{self, LoadError};
use bgw_macros::hot;
use std::sync::{Mutex, OnceLock};

/// An internal worker's main function; the argument is the spec's Datum.
pub type WorkerMain = fn(usize);

/// A loadable module's worker entry point (the spec's `bgworker_main_type`).
pub type ExternalMain = bgw_abi::bgworker_main_type;

/// A worker's code.
#[derive(Clone, Copy)]
pub enum EntryPoint {
    Internal(WorkerMain),
    External(ExternalMain),
}

impl EntryPoint {
    /// Runs the entry point with the main argument.
    #[hot]
    pub fn call(self, arg: usize) {
        match self {
            EntryPoint::Internal(f) => f(arg),
            // SAFETY: the symbol was looked up by the name the registration gave, which by the spec's contract
            // names a `void f(Datum)` function.
            EntryPoint::External(f) => unsafe { f(arg) },
        }
    }
}

impl EntryPoint {
    /// A loadable module's entry point as the address it has in the postmaster, to hand to a spare worker process
    /// (see [`EntryPoint::from_postmaster_address`]); None for an internal function.
    pub fn external_address(self) -> Option<usize> {
        match self {
            EntryPoint::External(f) => Some(f as usize),
            EntryPoint::Internal(_) => None,
        }
    }

    /// The entry point at `address` (non-zero), found by the postmaster in a module it had loaded.
    ///
    /// # Safety
    /// The caller is a child forked from the postmaster after every library the postmaster had loaded when it
    /// found `address` (the postmaster passes it only when its count of loaded libraries is the one it had when it
    /// forked the child: `crate::modules::loader::loaded_count`), so the same code is mapped at the same address
    /// here, and it is the function the registration names.
    #[hot]
    pub unsafe fn from_postmaster_address(address: usize) -> Option<EntryPoint> {
        if address == 0 {
            return None;
        }
        // SAFETY: a non-zero address of a `void f(Datum)` function mapped in this process (the caller's contract).
        Some(EntryPoint::External(unsafe { std::mem::transmute::<usize, ExternalMain>(address) }))
    }
}

/// Why an entry point could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("internal function \"{0}\" not found")]
    InternalFunctionNotFound(String),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The host's built-in workers; set once, by the postmaster at start.
static BUILTIN: OnceLock<&'static [(&'static str, WorkerMain)]> = OnceLock::new();
static EMBEDDED: Mutex<Vec<(&'static str, WorkerMain)>> = Mutex::new(Vec::new());

/// Gives the internal library its built-in functions (the postmaster, at start, with the worker runtime's table:
/// the runtime is a layer above this one). Later calls are ignored.
pub fn set_builtin_functions(table: &'static [(&'static str, WorkerMain)]) {
    let _ = BUILTIN.set(table);
}

/// Adds an internal worker function (for applications that embed the host, the counterpart of PostgreSQL's
/// internal worker table). Call before starting the postmaster.
pub fn register_internal_function(name: &'static str, main: WorkerMain) {
    EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()).push((name, main));
}

/// Finds the entry point for `function` in `library`, loading the library if needed.
#[hot]
pub fn lookup(library: &str, function: &str) -> Result<EntryPoint, LookupError> {
    if library == crate::bgworker::types::INTERNAL_LIBRARY {
        let builtin = BUILTIN.get().copied().unwrap_or_default();
        if let Some((_, f)) = builtin.iter().find(|(n, _)| *n == function) {
            return Ok(EntryPoint::Internal(*f));
        }
        let embedded = EMBEDDED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, f)) = embedded.iter().find(|(n, _)| *n == function) {
            return Ok(EntryPoint::Internal(*f));
        }
        return Err(LookupError::InternalFunctionNotFound(function.to_string()));
    }
    let addr = loader::lookup(library, function)?;
    // SAFETY: a non-null symbol address from dlsym, used as the spec's worker entry point type (see `call`).
    Ok(EntryPoint::External(unsafe { std::mem::transmute::<*const std::ffi::c_void, ExternalMain>(addr) }))
}

/// The entry point, if finding it needs no search of the library directories and no load: an internal function,
/// or a function of a library already open in this process ([`loader::lookup_loaded`]). The postmaster gives it
/// to the workers it forks.
pub fn lookup_loaded(library: &str, function: &str) -> Option<EntryPoint> {
    if library == crate::bgworker::types::INTERNAL_LIBRARY {
        return lookup(library, function).ok();
    }
    let addr = loader::lookup_loaded(library, function)?;
    // SAFETY: as in `lookup`: a non-null symbol address from dlsym, for the name the registration gave.
    Some(EntryPoint::External(unsafe { std::mem::transmute::<*const std::ffi::c_void, ExternalMain>(addr) }))
}

/// Whether (library, function) names an entry point that exists.
pub fn exists(library: &str, function: &str) -> Result<(), LookupError> {
    lookup(library, function).map(|_| ())
}

/// The check of a dynamic registration's entry point ([`crate::dynamic::register_dynamic_background_worker`]'s
/// `check_entry`): 42883 when it names no function that exists.
pub fn check_entry(spec: &WorkerSpec) -> Result<(), RegistrationError> {
    exists(&spec.library, &spec.function).map_err(|e| RegistrationError {
        sqlstate: "42883",
        message: e.to_string(),
        detail: None,
        hint: None,
    })
}
