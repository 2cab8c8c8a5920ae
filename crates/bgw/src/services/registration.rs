//! A SQL registration request (`bgw_register` / `bgw_launch`) as the spec's registration, who may make one, and
//! the dynamic API's answers as the session's types.
//!
//! Runs in a backend process.

use crate::backend::host::{RegistrationRequest, SqlError, StartPhase};
use crate::bgworker::types::{
    RegistrationError, Restart, StartTime, WorkerSpec, BGWORKER_BACKEND_DATABASE_CONNECTION, BGWORKER_CLASS_PARALLEL,
    BGWORKER_SHMEM_ACCESS,
};

/// Only superusers may name a library by path; others get what `dynamic_library_path` finds.
pub fn check_library_privilege(library: &str, superuser: bool) -> Result<(), SqlError> {
    if library.contains('/') && !superuser {
        return Err(SqlError::error("42501", "permission denied to load a library by path")
            .with_detail(format!("Library \"{library}\" names a file; only superusers may do that."))
            .with_hint("Give a library name found on dynamic_library_path."));
    }
    Ok(())
}

pub(super) fn sql_error(e: RegistrationError) -> SqlError {
    let mut s = SqlError::error(e.sqlstate, e.message);
    s.detail = e.detail;
    s.hint = e.hint;
    s
}

/// Builds a spec from a SQL registration request (the defaults SQL functions promise).
pub fn spec_from_request(req: &RegistrationRequest) -> WorkerSpec {
    let name = if req.name.is_empty() { req.function.clone() } else { req.name.clone() };
    let mut spec = WorkerSpec::new(&name, &req.library, &req.function);
    spec.worker_type = req.worker_type.clone();
    spec.main_arg = req.main_arg as usize;
    spec.restart = match req.restart_seconds {
        None => Restart::Never,
        Some(s) => Restart::After { seconds: s.clamp(i32::MIN as i64 + 1, i32::MAX as i64) as i32 },
    };
    let mut flags = 0;
    if req.flags.shmem {
        flags |= BGWORKER_SHMEM_ACCESS;
    }
    if req.flags.database {
        flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
    }
    if req.flags.parallel {
        flags |= BGWORKER_CLASS_PARALLEL;
    }
    if req.flags.interruptible {
        flags |= crate::bgworker::types::BGWORKER_INTERRUPTIBLE;
    }
    if req.flags.die_at_interrupts {
        flags |= crate::bgworker::types::BGWORKER_DIE_AT_INTERRUPTS;
    }
    spec.flags = flags;
    spec.start_time = match req.start {
        StartPhase::PostmasterStart => StartTime::PostmasterStart,
        StartPhase::ConsistentState => StartTime::ConsistentState,
        StartPhase::RecoveryFinished => StartTime::RecoveryFinished,
    };
    spec.extra = req.extra.clone();
    spec.options = req.options;
    if req.bind_registrant {
        spec.options.bound_pid = std::process::id() as i32;
    }
    spec.notify_pid = if req.notify { std::process::id() as i32 } else { 0 };
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::host::HostServices;
    use crate::services::ShmemHost;
    #[test]
    fn only_superusers_name_libraries_by_path() {
        assert!(check_library_privilege("/tmp/evil.so", true).is_ok());
        assert!(check_library_privilege("c_hello", false).is_ok());
        let e = check_library_privilege("/tmp/evil.so", false).unwrap_err();
        assert_eq!(e.code, "42501");
        assert_eq!(e.message, "permission denied to load a library by path");
        // A session starts as no one until authentication says otherwise.
        let host = ShmemHost::default();
        assert!(host.authenticate_peer(u32::MAX - 1, "stranger", "postgres").is_err());
        assert!(!host.superuser.get());
    }
}
