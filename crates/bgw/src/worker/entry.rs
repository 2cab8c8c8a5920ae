//! Finding a worker's entry point by (library, function), as the spec's `LookupBackgroundWorkerFunction`.
//!
//! Function addresses cannot cross process boundaries safely, so registrations name their code. The internal
//! library is `bgw` (the spec's `postgres`): its functions come from a table ([`super::builtin::INTERNAL`]) to
//! which an application embedding the host can add its own. Loadable libraries (found through
//! `dynamic_library_path` and opened with `dlopen`) plug in here next, behind the same `lookup`.

use std::sync::Mutex;

/// A worker's main function; the argument is the spec's Datum.
pub type WorkerMain = fn(usize);

/// Why an entry point could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("internal function \"{0}\" not found")]
    InternalFunctionNotFound(String),
    #[error("could not access file \"{0}\": No such file or directory")]
    LibraryNotFound(String),
}

static EMBEDDED: Mutex<Vec<(&'static str, WorkerMain)>> = Mutex::new(Vec::new());

/// Adds an internal worker function (for applications that embed the host, the counterpart of PostgreSQL's
/// internal worker table). Call before starting the postmaster.
pub fn register_internal_function(name: &'static str, main: WorkerMain) {
    EMBEDDED.lock().unwrap_or_else(|e| e.into_inner()).push((name, main));
}

/// Finds the entry point for `function` in `library`.
pub fn lookup(library: &str, function: &str) -> Result<WorkerMain, LookupError> {
    if library == crate::bgworker::types::INTERNAL_LIBRARY {
        if let Some((_, f)) = super::builtin::INTERNAL.iter().find(|(n, _)| *n == function) {
            return Ok(*f);
        }
        let embedded = EMBEDDED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, f)) = embedded.iter().find(|(n, _)| *n == function) {
            return Ok(*f);
        }
        return Err(LookupError::InternalFunctionNotFound(function.to_string()));
    }
    Err(LookupError::LibraryNotFound(library.to_string()))
}

/// Whether (library, function) names an entry point that exists (checked at dynamic registration, so a typo
/// fails at once instead of in the worker).
pub fn exists(library: &str, function: &str) -> Result<(), LookupError> {
    lookup(library, function).map(|_| ())
}
