//! Finding a worker's entry point by (library, function), as the spec's `LookupBackgroundWorkerFunction`.
//!
//! Function addresses cannot cross process boundaries safely, so registrations name their code. The internal
//! library `bgw` (the spec's `postgres`) is a table ([`super::builtin::INTERNAL`]) to which an application
//! embedding the host can add its own functions. Any other library is a loadable module, found and opened by
//! [`crate::modules::loader`]; its function has the spec's signature `void main(Datum)`.

use crate::modules::loader::{self, LoadError};
use std::sync::Mutex;

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
    #[link_section = ".text.hot.bgw_worker"]
    pub fn call(self, arg: usize) {
        match self {
            EntryPoint::Internal(f) => f(arg),
            // SAFETY: the symbol was looked up by the name the registration gave, which by the spec's contract
            // names a `void f(Datum)` function.
            EntryPoint::External(f) => unsafe { f(arg) },
        }
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

static EMBEDDED: Mutex<Vec<(&'static str, WorkerMain)>> = Mutex::new(Vec::new());

/// Adds an internal worker function (for applications that embed the host, the counterpart of PostgreSQL's
/// internal worker table). Call before starting the postmaster.
pub fn register_internal_function(name: &'static str, main: WorkerMain) {
    EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()).push((name, main));
}

/// Finds the entry point for `function` in `library`, loading the library if needed.
#[link_section = ".text.hot.bgw_worker"]
pub fn lookup(library: &str, function: &str) -> Result<EntryPoint, LookupError> {
    if library == crate::bgworker::types::INTERNAL_LIBRARY {
        if let Some((_, f)) = super::builtin::INTERNAL.iter().find(|(n, _)| *n == function) {
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

/// Whether (library, function) names an entry point that exists (checked at dynamic registration, so a typo
/// fails at once instead of in the worker).
pub fn exists(library: &str, function: &str) -> Result<(), LookupError> {
    lookup(library, function).map(|_| ())
}
