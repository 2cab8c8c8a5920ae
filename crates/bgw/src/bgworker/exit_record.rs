//! Why a slot's last run ended, published by the postmaster for anyone to read: [`ExitCell`], one per slot in
//! shared memory, a sequence lock over plain atomics.
//!
//! Which process runs this code: the postmaster writes (at each start and exit of a slot's worker, and when a
//! fork fails); backends and workers read (`bgw_workers`, `bgw_exit_reason(handle)`, the C call and the SDK).
//! Like `slots.rs`, this module is compiled twice: into the host with `crate::sync`'s atomics, and into the
//! `slot-model` crate with loom's, whose tests explore the interleavings of a writer and readers. It uses nothing
//! but `crate::sync` and `core`.
//!
//! # Who writes what, when
//!
//! | field                         | written by                           | when                                   |
//! |-------------------------------|--------------------------------------|----------------------------------------|
//! | `seq`                         | the postmaster only                  | odd while it writes, even when done     |
//! | `generation`, `reason`, `detail`, `ended_at_us`, `starts` | the postmaster only | between the two `seq` stores |
//!
//! The writer never waits for anyone (the postmaster takes no lock): it makes `seq` odd, writes the fields, and
//! makes `seq` even again with Release; a `fence(Release)` after the first store keeps the field writes after it.
//! A reader loads `seq` with Acquire, reads the fields, issues `fence(Acquire)` and loads `seq` again: if both
//! loads saw the same even value, no write overlapped and the fields are one record. Otherwise it tries again, a
//! bounded number of times ([`READ_TRIES`]): a child that scribbled an odd value into `seq` (any byte of shared
//! memory may be corrupted by a child) makes readers give up with `None`, never spin forever, and the
//! postmaster's next write makes it even again.
//!
//! # What a reader must tolerate
//!
//! Every field is an atomic, so nothing is undefined; a record may be stale by the time it is used. A record
//! belongs to the registration whose `generation` it carries: a reader holding a handle compares generations
//! (see [`ExitRecord`]'s users) rather than trusting that the slot still holds its registration.

use crate::sync::{fence, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// How many times a reader retries a read that overlapped a write.
pub const READ_TRIES: u32 = 64;

/// One slot's record, as read or to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitRecord {
    /// The registration it belongs to (the slot's generation then).
    pub generation: u64,
    /// A `BGW_EXIT_*` code (`BGW_EXIT_NONE` while the registration has not ended a run yet).
    pub reason: i32,
    pub detail: i32,
    /// When the last run ended, microseconds since the Unix epoch (0: none yet).
    pub ended_at_us: i64,
    /// How many times the registration's worker was started.
    pub starts: u32,
}

/// The shared cell (zeroed memory is a valid empty cell: generation 0, no reason).
#[repr(C)]
pub struct ExitCell {
    seq: AtomicU32,
    starts: AtomicU32,
    generation: AtomicU64,
    reason: AtomicI32,
    detail: AtomicI32,
    ended_at_us: AtomicI64,
}

impl Default for ExitCell {
    fn default() -> Self {
        Self::new()
    }
}

impl ExitCell {
    pub fn new() -> Self {
        ExitCell {
            seq: AtomicU32::new(0),
            starts: AtomicU32::new(0),
            generation: AtomicU64::new(0),
            reason: AtomicI32::new(0),
            detail: AtomicI32::new(0),
            ended_at_us: AtomicI64::new(0),
        }
    }

    /// Publishes `record`. The postmaster only (one writer).
    pub fn write(&self, record: &ExitRecord) {
        // An odd value, whatever a child may have left in `seq`.
        let begin = (self.seq.load(Ordering::Relaxed) | 1).wrapping_add(2);
        self.seq.store(begin, Ordering::Relaxed);
        fence(Ordering::Release);
        self.generation.store(record.generation, Ordering::Relaxed);
        self.reason.store(record.reason, Ordering::Relaxed);
        self.detail.store(record.detail, Ordering::Relaxed);
        self.ended_at_us.store(record.ended_at_us, Ordering::Relaxed);
        self.starts.store(record.starts, Ordering::Relaxed);
        self.seq.store(begin.wrapping_add(1), Ordering::Release);
    }

    /// The record, if a read did not overlap a write within [`READ_TRIES`] attempts.
    pub fn read(&self) -> Option<ExitRecord> {
        for _ in 0..READ_TRIES {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                crate::sync::spin_hint();
                continue;
            }
            let record = ExitRecord {
                generation: self.generation.load(Ordering::Relaxed),
                reason: self.reason.load(Ordering::Relaxed),
                detail: self.detail.load(Ordering::Relaxed),
                ended_at_us: self.ended_at_us.load(Ordering::Relaxed),
                starts: self.starts.load(Ordering::Relaxed),
            };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return Some(record);
            }
            crate::sync::spin_hint();
        }
        None
    }
}
