//! A spare worker process: forked ahead of need, it waits to be told which worker to become.
//!
//! Runs in a child of the postmaster; the postmaster's side is `crate::postmaster::spares`. Forking is the largest
//! part of starting a worker, and a spare takes it off the path between a registration and the moment the
//! registrant learns the pid: the postmaster keeps `worker_spare_processes` spares idle and forks replacements
//! when nothing else is waiting.
//!
//! Hand-off protocol. Each spare has a pipe of its own ([`crate::sys::message_pipe`]): the postmaster holds the
//! write end (no other process does: it is among the descriptors every child closes after fork), the spare the
//! read end.
//! - The postmaster prepares the spare's process entry for the worker (kind, slot, start time), then writes
//!   exactly one [`Assignment`] (atomically: the spare reads all of it or nothing), then publishes the pid in the
//!   slot and notifies the registrant. From the write on, the child is a worker in the postmaster's table: its
//!   exit is a worker's exit, with the spec's rules.
//! - The spare writes nothing shared until it has read its assignment; so an idle spare that dies, however it
//!   dies, has not touched shared memory and its death is not a crash.
//! - The postmaster retires a spare by closing the write end. The spare then reads end-of-file and exits 0. The
//!   kernel closes the write end when the postmaster dies, so a spare never outlives it (the parent-death signal
//!   is armed as well).
//! - Until it has an assignment a spare keeps every signal blocked but the parent-death one. A signal sent to it
//!   stays pending and is delivered once it runs as a worker and unblocks them, as if it had been sent a moment
//!   later: a termination the postmaster sends right after the assignment is never lost, and a spare never exits
//!   on its own in a way the postmaster could mistake for its worker's exit.
//!
//! A spare carries the postmaster's memory as of the spare's fork. The postmaster replaces its spares whenever
//! that memory changes in a way a worker could see (a configuration reload, a phase change, a new shared memory
//! segment after a crash); the registration itself travels in the assignment.

use crate::bgworker::types::BackgroundWorker;
use crate::sys::message_pipe::{self, PlainMessage};
use bgw_macros::hot;
use std::os::fd::RawFd;

/// The postmaster's message to a spare: which worker to become.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Assignment {
    /// Non-zero: give the CPU to someone else once before starting (see the postmaster's launch loop).
    pub yield_first: u32,
    /// The worker's entry point as the postmaster found it in a module loaded before this spare was forked (so
    /// mapped here at the same address), or 0: the spare looks it up itself.
    pub entry: usize,
    /// The registration, as the worker will see it in `MyBgworkerEntry`.
    pub worker: BackgroundWorker,
}

const _: () = assert!(std::mem::size_of::<Assignment>() <= libc::PIPE_BUF);

// SAFETY: repr(C), integers and a BackgroundWorker (integers and byte arrays only, valid for every bit pattern:
// the same property that lets a registration live in a shared slot), smaller than PIPE_BUF (asserted above).
#[allow(unsafe_code)]
unsafe impl PlainMessage for Assignment {}

/// The body of a spare, in a freshly forked child whose process entry the postmaster has prepared. Never returns:
/// it becomes the assigned worker, or exits 0 when retired.
#[hot]
pub fn run(assignments: RawFd, postmaster_death: RawFd) -> ! {
    crate::sys::proctitle::set("bgw: spare worker");
    let Some(assignment) = message_pipe::receive::<Assignment>(assignments) else {
        // Retired, or the postmaster is gone: nothing shared was touched, nothing to clean up.
        crate::process::exit(0)
    };
    message_pipe::close(assignments);
    // The worker starts now, not when the spare was forked: its start time (MyStartTime) is this moment's.
    // SAFETY: the spare is single-threaded.
    unsafe { crate::modules::abi::init_process_globals() };
    // SAFETY: the postmaster sends a non-zero address only when it had loaded no library since this spare's fork
    // (the contract of from_postmaster_address); otherwise the entry point is looked up here.
    let found = unsafe { crate::modules::entry::EntryPoint::from_postmaster_address(assignment.entry) };
    super::enter_worker(assignment.worker, found, assignment.yield_first != 0, postmaster_death)
}
