//! Dynamic registration and handles: the spec's API for backends and workers.
//!
//! Runs in any child attached to shared memory (backends, workers with shared-memory access). Registration
//! writes a free slot under the workers' lock and signals the postmaster; the postmaster then launches the
//! worker and signals the registrant (if it asked, through `notify_pid`) when the worker starts and when it
//! stops, which sets the registrant's latch. The waits below sleep on that latch: no polling.

use super::slots::{PidState, RegisterOutcome};
use super::types::{RegistrationError, WorkerSpec};
use crate::latch::{self, WL_LATCH_SET, WL_POSTMASTER_DEATH, WL_TIMEOUT};
use crate::shmem::{self, pmsignal};
use crate::sync::Ordering;

/// A registration's handle: slot and generation. A plain value: copy it, send it to another process, store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle {
    pub slot: u32,
    pub generation: u64,
}

/// The spec's BgwHandleStatus, with the pid when started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotYetStarted,
    Started(i32),
    Stopped,
    PostmasterDied,
}

impl Status {
    /// The words `bgw_status()` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotYetStarted => "not_yet_started",
            Status::Started(_) => "started",
            Status::Stopped => "stopped",
            Status::PostmasterDied => "postmaster_died",
        }
    }
}

fn not_attached() -> RegistrationError {
    RegistrationError {
        sqlstate: "55000",
        message: "background workers can only be managed by processes attached to shared memory".into(),
        detail: None,
        hint: Some("Register the worker with the \"shmem\" flag.".into()),
    }
}

/// The spec's `RegisterDynamicBackgroundWorker`. Ok(None) when no slot is free (or, for parallel workers, when
/// `max_parallel_workers` are active). Checks the registration first, including that its entry point exists.
pub fn register_dynamic_background_worker(spec: &WorkerSpec) -> Result<Option<Handle>, RegistrationError> {
    let shm = shmem::attached().ok_or_else(not_attached)?;
    let mut spec = spec.clone();
    spec.sanity_check()?;
    if let Err(e) = crate::worker::entry::exists(&spec.library, &spec.function) {
        return Err(RegistrationError { sqlstate: "42883", message: e.to_string(), detail: None, hint: None });
    }
    let raw = spec.to_raw()?;
    let max_parallel = shm.header().max_parallel_workers.load(Ordering::Relaxed);
    match shm.slots().register(&raw, max_parallel) {
        RegisterOutcome::Registered { slot, generation } => {
            shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
            Ok(Some(Handle { slot, generation }))
        }
        RegisterOutcome::NoFreeSlot | RegisterOutcome::ParallelLimit => Ok(None),
    }
}

fn check_handle(h: Handle) -> Result<&'static shmem::Shmem, RegistrationError> {
    let shm = shmem::attached().ok_or_else(not_attached)?;
    if h.slot as usize >= shm.layout.max_workers {
        return Err(RegistrationError {
            sqlstate: "22023",
            message: format!("invalid background worker handle {}:{}", h.slot, h.generation),
            detail: Some(format!("There are {} background worker slots.", shm.layout.max_workers)),
            hint: None,
        });
    }
    Ok(shm)
}

/// The spec's `GetBackgroundWorkerPid`.
pub fn get_background_worker_pid(h: Handle) -> Result<Status, RegistrationError> {
    let shm = check_handle(h)?;
    Ok(match shm.slots().pid_state(h.slot, h.generation) {
        PidState::NotYetStarted => Status::NotYetStarted,
        PidState::Started(pid) => Status::Started(pid),
        PidState::Stopped => Status::Stopped,
    })
}

/// How long a waiter that found no free watcher entry sleeps between checks.
const UNWATCHED_RECHECK_MS: i64 = 50;

fn wait_until(h: Handle, done: impl Fn(Status) -> bool) -> Result<Status, RegistrationError> {
    let shm = check_handle(h)?;
    let me = std::process::id() as i32;
    let watchers = shm.watchers(h.slot);
    let token = watchers.and_then(|w| w.add(me, |pid| !crate::postmaster::datadir::process_exists(pid)));
    let result = wait_until_watched(h, done, token.is_some());
    if let (Some(w), Some(t)) = (watchers, token) {
        w.remove(t, me);
    }
    result
}

fn wait_until_watched(h: Handle, done: impl Fn(Status) -> bool, watched: bool) -> Result<Status, RegistrationError> {
    // The registrant is notified by the spec's bgw_notify_pid; anyone else through the slot's watch list. Only a
    // waiter that found the list full re-checks on a timeout.
    let (events, timeout) = if watched {
        (WL_LATCH_SET | WL_POSTMASTER_DEATH, -1)
    } else {
        (WL_LATCH_SET | WL_POSTMASTER_DEATH | WL_TIMEOUT, UNWATCHED_RECHECK_MS)
    };
    loop {
        if crate::process::termination_pending() {
            return Err(RegistrationError {
                sqlstate: "57P01",
                message: "terminating connection due to administrator command".into(),
                detail: None,
                hint: None,
            });
        }
        let status = get_background_worker_pid(h)?;
        if done(status) {
            return Ok(status);
        }
        let rc = latch::wait_latch(events, timeout);
        if rc & WL_POSTMASTER_DEATH != 0 {
            return Ok(Status::PostmasterDied);
        }
        latch::reset_latch();
    }
}

/// The spec's `WaitForBackgroundWorkerStartup`: never returns NotYetStarted.
pub fn wait_for_background_worker_startup(h: Handle) -> Result<Status, RegistrationError> {
    wait_until(h, |s| s != Status::NotYetStarted)
}

/// The spec's `WaitForBackgroundWorkerShutdown`: Stopped, or PostmasterDied.
pub fn wait_for_background_worker_shutdown(h: Handle) -> Result<Status, RegistrationError> {
    wait_until(h, |s| s == Status::Stopped)
}

/// The spec's `TerminateBackgroundWorker`: safe on a stale handle (nothing happens).
pub fn terminate_background_worker(h: Handle) -> Result<(), RegistrationError> {
    let shm = check_handle(h)?;
    if shm.slots().request_terminate(h.slot, h.generation) {
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    }
    Ok(())
}

/// The spec's `GetBackgroundWorkerTypeByPid`.
pub fn get_background_worker_type_by_pid(pid: i32) -> Option<String> {
    let shm = shmem::attached()?;
    shm.slots().find_by_pid(pid).map(|raw| WorkerSpec::sanitized_from(&raw).worker_type)
}
