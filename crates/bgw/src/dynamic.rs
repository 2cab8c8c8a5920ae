//! Dynamic registration and handles: the spec's API for backends and workers (`RegisterDynamicBackgroundWorker`,
//! `GetBackgroundWorkerPid`, the waits, `TerminateBackgroundWorker`).
//!
//! Runs in any child attached to shared memory (backends, workers with shared-memory access). Layer: above the
//! slot protocol ([`crate::bgworker`]), the shared segment and the process globals (a wait ends when this process
//! is asked to terminate); below the module ABI, SPI, the worker runtime and the backends' host services, which
//! call it. Registration
//! writes a free slot under the workers' lock and signals the postmaster; the postmaster then launches the
//! worker and signals the registrant (if it asked, through `notify_pid`) when the worker starts and when it
//! stops, which sets the registrant's latch. The waits below sleep on that latch: no polling.

use crate::bgworker::handle::{ExitReason, Handle, ReadyWait, Status};
use crate::bgworker::slots::{DirectTerminate, PidState, RegisterOutcome};
use crate::bgworker::types::{RegistrationError, WorkerSpec};
use crate::latch::{self, WL_LATCH_SET, WL_POSTMASTER_DEATH, WL_TIMEOUT};
use crate::shmem::{self, pmsignal};
use crate::sync::Ordering;

/// The error a wait ends with when this process is asked to terminate.
fn terminating() -> RegistrationError {
    RegistrationError {
        sqlstate: "57P01",
        message: "terminating connection due to administrator command".into(),
        detail: None,
        hint: None,
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
/// `max_parallel_workers` are active). Checks the registration first: the spec's sanity checks, then
/// `check_entry` (the caller's way of finding the entry point, [`crate::modules::entry::check_entry`] in the host:
/// finding code is a layer above this one), so that a typo fails at once instead of in the worker.
pub fn register_dynamic_background_worker(
    spec: &WorkerSpec,
    check_entry: fn(&WorkerSpec) -> Result<(), RegistrationError>,
) -> Result<Option<Handle>, RegistrationError> {
    register_dynamic_background_worker_with_arg(spec, check_entry, None)
}

/// [`register_dynamic_background_worker`] with a typed argument: `arg`'s bytes are attached to the registration
/// (beyond the spec; [`crate::bgworker::args`]), for its worker to read with [`my_arg`]. An argument longer than
/// [`crate::bgworker::args::MAX_ARG_BYTES`] is refused (54000) before a slot is taken.
pub fn register_dynamic_background_worker_with_arg(
    spec: &WorkerSpec,
    check_entry: fn(&WorkerSpec) -> Result<(), RegistrationError>,
    arg: Option<&[u8]>,
) -> Result<Option<Handle>, RegistrationError> {
    let shm = shmem::attached().ok_or_else(not_attached)?;
    let mut spec = spec.clone();
    spec.sanity_check()?;
    bind_if_asked(&mut spec);
    check_entry(&spec)?;
    if let Some(arg) = arg {
        check_arg(arg)?;
    }
    let raw = spec.to_slot()?;
    let max_parallel = shm.header().max_parallel_workers.load(Ordering::Relaxed);
    let fill = |slot: u32, generation: u64| {
        if let (Some(arg), Some(entry)) = (arg, crate::bgworker::arg_area::entry(slot)) {
            entry.write(generation, arg);
        }
    };
    match shm.slots().register_with(&raw, max_parallel, fill) {
        RegisterOutcome::Registered { slot, generation } => {
            shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
            Ok(Some(Handle { slot, generation }))
        }
        RegisterOutcome::NoFreeSlot | RegisterOutcome::ParallelLimit => Ok(None),
    }
}

/// `RegisterDynamicBackgroundWorker` that waits for a free slot (beyond the spec;
/// `RegisterDynamicBackgroundWorkerWait`): registers at once if a slot is free and no one waits already,
/// otherwise queues behind the registrations waiting already (first come first served; see
/// [`crate::bgworker::wait_queue`]) until the postmaster hands it the room of a slot that frees, or `timeout`
/// (None: forever) passes: Ok(None) then, as when a shutdown began or the postmaster died. A cancel, a statement
/// timeout or a termination request ends the wait with its error. Whichever way the wait ends without a slot, the
/// registration leaves the queue and is never started later. Parallel workers do not wait (the spec's answer).
pub fn register_dynamic_background_worker_wait(
    spec: &WorkerSpec,
    check_entry: fn(&WorkerSpec) -> Result<(), RegistrationError>,
    timeout: Option<std::time::Duration>,
) -> Result<Option<Handle>, RegistrationError> {
    use crate::bgworker::slots::Enqueued;
    use crate::bgworker::wait_queue::{Cancelled, Ticket};
    let shm = shmem::attached().ok_or_else(not_attached)?;
    let mut spec = spec.clone();
    spec.sanity_check()?;
    bind_if_asked(&mut spec);
    check_entry(&spec)?;
    let raw = spec.to_slot()?;
    let max_parallel = shm.header().max_parallel_workers.load(Ordering::Relaxed);
    let queue = shm.wait_queue();
    let slots = shm.slots();
    let registered = |outcome: RegisterOutcome| {
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
        match outcome {
            RegisterOutcome::Registered { slot, generation } => Ok(Some(Handle { slot, generation })),
            RegisterOutcome::NoFreeSlot | RegisterOutcome::ParallelLimit => Ok(None),
        }
    };
    let ticket = match slots.register_or_enqueue(&raw, max_parallel, &queue, std::process::id() as i32) {
        Enqueued::Done(outcome) => return registered(outcome),
        Enqueued::QueueFull => {
            return Err(RegistrationError {
                sqlstate: "53000",
                message: "too many registrations are waiting for a background worker slot".into(),
                detail: None,
                hint: Some("You may need to increase \"max_worker_processes\".".into()),
            })
        }
        Enqueued::Queued(ticket) => ticket,
    };
    crate::elog::debug1(format!("background worker \"{}\" waits for a free slot", spec.name));
    shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    let leave = || {
        if queue.cancel(ticket) == Cancelled::HadPromise {
            slots.withdraw_promise();
        }
        // The postmaster passes the entry (and hands a withdrawn promise to the next waiter).
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    };
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        match queue.ticket(ticket) {
            Ticket::Granted if queue.collect(ticket) => return registered(slots.register_promised(&raw, max_parallel)),
            Ticket::Waiting => {}
            Ticket::Granted | Ticket::Refused => return Ok(None),
        }
        if let Some(interrupt) = crate::process::interrupts::pending() {
            leave();
            return Err(interrupted(interrupt));
        }
        let now = std::time::Instant::now();
        let statement_deadline = crate::process::interrupts::statement_deadline();
        if statement_deadline.is_some_and(|d| now >= d) {
            leave();
            return Err(interrupted(crate::process::interrupts::Interrupt::StatementTimeout));
        }
        if deadline.is_some_and(|d| now >= d) {
            leave();
            // The promise may have come just now: then it was given back above, and the wait timed out.
            return Ok(None);
        }
        let (mut events, mut wait_ms) = (WL_LATCH_SET | WL_POSTMASTER_DEATH, -1i64);
        if let Some(d) = [deadline, statement_deadline].into_iter().flatten().min() {
            events |= WL_TIMEOUT;
            wait_ms = d.saturating_duration_since(now).as_micros().div_ceil(1000).min(i32::MAX as u128) as i64;
        }
        if latch::wait_latch(events, wait_ms) & WL_POSTMASTER_DEATH != 0 {
            leave();
            return Ok(None);
        }
        latch::reset_latch();
    }
}

/// The error a wait ends with for an interrupt (PostgreSQL's words).
fn interrupted(i: crate::process::interrupts::Interrupt) -> RegistrationError {
    use crate::process::interrupts::Interrupt;
    let (sqlstate, message) = match i {
        Interrupt::Terminate => return terminating(),
        Interrupt::ConnectionLost => ("08006", "connection to client lost"),
        Interrupt::Cancel => ("57014", "canceling statement due to user request"),
        Interrupt::StatementTimeout => ("57014", "canceling statement due to statement timeout"),
    };
    RegistrationError { sqlstate, message: message.into(), detail: None, hint: None }
}

/// `BGWORKER_BIND_REGISTRANT` (beyond the spec): the worker is bound to this process, the registrant, and is
/// terminated when it exits (the postmaster acts on the registration's bound pid, as for SQL's
/// `"bind": "registrant"`).
fn bind_if_asked(spec: &mut WorkerSpec) {
    if spec.has_flag(crate::bgworker::types::BGWORKER_BIND_REGISTRANT) {
        spec.options.bound_pid = std::process::id() as i32;
    }
}

/// Whether an argument of `len` bytes fits (54000 if not).
pub fn check_arg_len(len: usize) -> Result<(), RegistrationError> {
    use crate::bgworker::args::{ArgEntry, MAX_ARG_BYTES};
    if !ArgEntry::<MAX_ARG_BYTES>::fits(len) {
        return Err(RegistrationError {
            sqlstate: "54000",
            message: format!("background worker argument is too large ({len} bytes; at most {MAX_ARG_BYTES})"),
            detail: None,
            hint: Some("Pass a larger argument through a table or named shared memory.".into()),
        });
    }
    Ok(())
}

fn check_arg(arg: &[u8]) -> Result<(), RegistrationError> {
    check_arg_len(arg.len())?;
    if !crate::bgworker::arg_area::available() {
        return Err(RegistrationError {
            sqlstate: "55000",
            message: "background worker arguments are not available in this process".into(),
            detail: None,
            hint: None,
        });
    }
    Ok(())
}

/// The typed argument attached to this worker's registration (beyond the spec): None when it has none. Only a
/// worker with shared-memory access knows its slot (55000 otherwise).
pub fn my_arg() -> Result<Option<Vec<u8>>, RegistrationError> {
    let only_workers = || RegistrationError {
        sqlstate: "55000",
        message: "only a background worker with shared-memory access can read its argument".into(),
        detail: None,
        hint: Some("Register the worker with the \"shmem\" flag (BGWORKER_SHMEM_ACCESS).".into()),
    };
    let shm = shmem::attached().ok_or_else(only_workers)?;
    let slot = crate::process::my_proc()
        .map(|p| p.worker_slot.load(Ordering::Relaxed))
        .filter(|&s| s >= 0)
        .ok_or_else(only_workers)? as u32;
    // Our own slot is in use while we run: its generation is our registration's.
    let Some(copy) = shm.slots().read_slot(slot) else { return Ok(None) };
    Ok(match crate::bgworker::arg_area::entry(slot).map(|e| e.read(copy.generation)) {
        Some(crate::bgworker::args::ArgRead::Bytes(b)) => Some(b),
        _ => None,
    })
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
    let waited = wait_for(h, None, || {
        let status = get_background_worker_pid(h)?;
        Ok(done(status).then_some(status))
    })?;
    Ok(match waited {
        Waited::Found(status) => status,
        // No deadline was given: only the postmaster's death ends the wait otherwise.
        Waited::TimedOut | Waited::PostmasterDied => Status::PostmasterDied,
    })
}

/// The one wait on a handle (the spec's waits and readiness): sleeps on the latch until `check` answers, the
/// `deadline` passes or the postmaster dies ([`Waited`]); a termination request ends it with 57P01. The
/// registrant is woken by the spec's bgw_notify_pid, anyone else through the slot's watch list; only a waiter
/// that found the list full re-checks on a timeout.
fn wait_for<T>(
    h: Handle,
    deadline: Option<std::time::Instant>,
    check: impl Fn() -> Result<Option<T>, RegistrationError>,
) -> Result<Waited<T>, RegistrationError> {
    let shm = check_handle(h)?;
    let me = std::process::id() as i32;
    let watchers = shm.watchers(h.slot);
    let token = watchers.and_then(|w| w.add(me, |pid| !crate::sys::process::exists(pid)));
    let result = (|| loop {
        if crate::process::termination_pending() {
            return Err(terminating());
        }
        if let Some(found) = check()? {
            return Ok(Waited::Found(found));
        }
        let (mut events, mut wait_ms) = (WL_LATCH_SET | WL_POSTMASTER_DEATH, -1);
        if token.is_none() {
            events |= WL_TIMEOUT;
            wait_ms = UNWATCHED_RECHECK_MS;
        }
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(Waited::TimedOut);
            }
            let left_ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i64;
            events |= WL_TIMEOUT;
            wait_ms = if wait_ms < 0 { left_ms } else { wait_ms.min(left_ms) };
        }
        if latch::wait_latch(events, wait_ms) & WL_POSTMASTER_DEATH != 0 {
            return Ok(Waited::PostmasterDied);
        }
        latch::reset_latch();
    })();
    if let (Some(w), Some(t)) = (watchers, token) {
        w.remove(t, me);
    }
    result
}

/// How [`wait_for`] ended.
enum Waited<T> {
    Found(T),
    TimedOut,
    PostmasterDied,
}

/// Reports that the calling worker is ready (beyond the spec; `BackgroundWorkerReportReady`): its state becomes
/// `ready`, and whoever waits for that is woken. Only a worker attached to shared memory can.
pub fn report_ready() -> Result<(), RegistrationError> {
    let shm = shmem::attached().ok_or_else(not_attached)?;
    let slot = crate::process::my_proc()
        .map(|p| p.worker_slot.load(Ordering::Relaxed))
        .filter(|&s| s >= 0)
        .ok_or_else(|| RegistrationError {
            sqlstate: "55000",
            message: "only a background worker can report that it is ready".into(),
            detail: None,
            hint: None,
        })?;
    if shm.slots().report_ready(slot as u32, std::process::id() as i32) {
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    }
    Ok(())
}

/// Waits until the worker `h` names reports ready (beyond the spec; `WaitForBackgroundWorkerReady`), it stops,
/// or `timeout` (None: forever) passes. Sleeps on the latch like the spec's waits.
pub fn wait_for_background_worker_ready(
    h: Handle,
    timeout: Option<std::time::Duration>,
) -> Result<ReadyWait, RegistrationError> {
    let shm = check_handle(h)?;
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let waited = wait_for(h, deadline, || {
        if let Some(pid) = shm.slots().ready(h.slot, h.generation) {
            return Ok(Some(ReadyWait::Ready(pid)));
        }
        Ok((get_background_worker_pid(h)? == Status::Stopped).then_some(ReadyWait::Stopped))
    })?;
    Ok(match waited {
        Waited::Found(w) => w,
        Waited::TimedOut => ReadyWait::NotReady,
        Waited::PostmasterDied => ReadyWait::PostmasterDied,
    })
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
    terminate_with_grace(h, None)
}

/// `TerminateBackgroundWorker` with escalation (beyond the spec): SIGTERM, then SIGKILL if the worker is still
/// running `grace_ms` after. The postmaster decides whether that kill is a crash (see `crate::postmaster`'s
/// exits: it is not, if the worker held no host lock). Safe on a stale handle.
pub fn terminate_background_worker_with_grace(h: Handle, grace_ms: u32) -> Result<(), RegistrationError> {
    terminate_with_grace(h, Some(grace_ms))
}

fn terminate_with_grace(h: Handle, grace_ms: Option<u32>) -> Result<(), RegistrationError> {
    let shm = check_handle(h)?;
    if grace_ms.is_none() {
        // A running worker is signalled from here, through a pidfd, instead of through the postmaster (one
        // wake-up and one signal fewer between the call and the worker's handler); the postmaster learns of the
        // request at its next wake-up, at the latest the worker's exit (see `bgworker::slots` on `signal_pid`).
        let slots = shm.slots();
        match slots.request_terminate_direct(h.slot, h.generation) {
            DirectTerminate::Stale | DirectTerminate::Done => {}
            DirectTerminate::Postmaster => shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE),
            DirectTerminate::Signal(pid) => {
                let sent = crate::sys::pidfd::signal_checked(pid, libc::SIGTERM, || {
                    slots.may_signal(h.slot, h.generation, pid)
                });
                if sent.is_err() {
                    // No descriptor to spare, say: the postmaster signals it, as the spec's relay does.
                    slots.unclaim_signal(h.slot, h.generation, pid);
                    shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
                }
            }
        }
        return Ok(());
    }
    if shm.slots().request_terminate(h.slot, h.generation, grace_ms) {
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    }
    Ok(())
}

/// Lets a worker its restart policy gave up on run again, and forgets its restart history (beyond the spec).
/// Safe on a stale handle (nothing happens; returns false).
pub fn reset_background_worker(h: Handle) -> Result<bool, RegistrationError> {
    let shm = check_handle(h)?;
    let done = shm.slots().request_reset(h.slot, h.generation);
    if done {
        shm.signal_postmaster(pmsignal::BACKGROUND_WORKER_CHANGE);
    }
    Ok(done)
}

/// Why the registration `h` names last ended a run (beyond the spec, which only says `BGWH_STOPPED`): the
/// reason, when, and how often its worker was started. A registration that has not ended a run says
/// [`ExitReason::None`]; a handle whose slot was reused by a later registration that has ended a run too says
/// [`ExitReason::StaleHandle`] (its own reason is gone). `None` only when shared memory was being rewritten for
/// every try (see [`crate::bgworker::exit_record`]).
pub fn get_background_worker_exit_reason(
    h: Handle,
) -> Result<Option<crate::bgworker::exit_reason::BgwExitInfo>, RegistrationError> {
    let shm = check_handle(h)?;
    let Some(record) = shm.slot_status()[h.slot as usize].exit.read() else { return Ok(None) };
    let info = |reason: ExitReason, record: &crate::bgworker::exit_record::ExitRecord| {
        let (reason, detail) = reason.parts();
        crate::bgworker::exit_reason::BgwExitInfo {
            reason,
            detail,
            ended_at_us: record.ended_at_us,
            starts: record.starts,
        }
    };
    Ok(Some(if record.generation == h.generation {
        info(ExitReason::from_parts(record.reason, record.detail), &record)
    } else if record.generation > h.generation {
        info(ExitReason::StaleHandle, &Default::default())
    } else {
        // The record is an earlier registration's: this one has not ended a run (nor started one).
        info(ExitReason::None, &Default::default())
    }))
}

/// The spec's `GetBackgroundWorkerTypeByPid`.
pub fn get_background_worker_type_by_pid(pid: i32) -> Option<String> {
    let shm = shmem::attached()?;
    shm.slots().find_by_pid(pid).map(|raw| WorkerSpec::sanitized_from(&raw.worker).worker_type)
}
