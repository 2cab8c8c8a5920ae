//! Registrations waiting for a free slot (beyond the spec: `RegisterDynamicBackgroundWorkerWait`), first come
//! first served.
//!
//! Which process runs this code: every child attached to shared memory (a waiting registrant enqueues, cancels
//! and collects) and the postmaster (which hands the room of each freed slot to the oldest waiter). Compiled into
//! the `slot-model` crate too, like [`super::slots`], and model-checked there: it uses only `crate::sync`.
//!
//! # The queue
//!
//! A ring of `capacity` entries; position `p` (a ticket, counting up forever) lives in entry `p % capacity`. Each
//! entry is one word, `ticket << 2 | state`, and the waiter's pid:
//!
//! - `FREE`: set by anyone ending a wait (below); left by a registrant enqueueing.
//! - `WAITING`: set by a registrant, holding the slots' lock, at `tail`; left by the postmaster (grant or drop)
//!   or the waiter (cancel).
//! - `GRANTED`: set by the postmaster (room was promised to this waiter); left by the waiter (collects or
//!   cancels), or by the postmaster if the waiter died.
//!
//! Every change of state is a compare-and-swap on the whole word, ticket included, so whoever ends a wait first
//! wins and the loser sees it: a waiter that cancels at the moment the postmaster grants either cancels a
//! `WAITING` entry (the postmaster's CAS then fails and it withdraws its promise) or finds `GRANTED` and gives the
//! promise back itself. An entry reused for a later ticket never matches an earlier ticket's CAS (no ABA).
//!
//! `tail` is written by registrants under the slots' lock: the registrant stores the entry (pid, then the word
//! with Release) before it stores `tail + 1` with Release, and the postmaster loads `tail` with Acquire before it
//! reads entries, so it sees complete entries. `head` is the postmaster's: the first position it has not passed
//! yet. It passes a position only once its entry is no longer `WAITING` for that ticket, and publishes `head`
//! (Release) so that a registrant knows which entries it may reuse: those before `head` that are `FREE` (a
//! `GRANTED` entry not collected yet is skipped as full, never overwritten).
//!
//! A registration waits while `head != tail` even if a slot happens to be free: those ahead of it come first.
//! The room a promise stands for is counted in the slot array's occupancy (see [`super::slots`], "Capacity"),
//! so no registrant that does not wait can take it: a granted waiter registers without competition. A slot the
//! postmaster releases while registrations wait turns its room into a promise in the same step
//! (`SlotArray::release_for_waiter`), so a registration that does not wait cannot slip in between the release and
//! the grant either; a promise no one is left to take is withdrawn.
//!
//! # What the postmaster must tolerate
//!
//! Any of this may be scribbled over: `tail` is bounded to `head + capacity`, unknown states are passed over, and
//! a pid is only ever signalled if it is one of the postmaster's children.

use crate::sync::{AtomicI32, AtomicU64, Ordering};

const FREE: u64 = 0;
const WAITING: u64 = 1;
const GRANTED: u64 = 2;

fn word(ticket: u64, state: u64) -> u64 {
    ticket << 2 | state
}

/// The queue's shared header. Zeroed memory is an empty queue.
#[repr(C)]
pub struct QueueHeader {
    /// The next ticket (registrants, under the slots' lock).
    tail: AtomicU64,
    /// The first ticket the postmaster has not passed (postmaster only).
    head: AtomicU64,
}

impl QueueHeader {
    pub fn new() -> Self {
        QueueHeader { tail: AtomicU64::new(0), head: AtomicU64::new(0) }
    }

    /// Postmaster, on a fresh segment: empty.
    pub fn init_in_place(&self) {
        self.tail.store(0, Ordering::Relaxed);
        self.head.store(0, Ordering::Relaxed);
    }
}

impl Default for QueueHeader {
    fn default() -> Self {
        Self::new()
    }
}

/// One waiter. Zeroed memory is a free entry.
#[repr(C)]
pub struct WaitEntry {
    word: AtomicU64,
    pid: AtomicI32,
}

impl WaitEntry {
    pub fn new() -> Self {
        WaitEntry { word: AtomicU64::new(0), pid: AtomicI32::new(0) }
    }
}

impl Default for WaitEntry {
    fn default() -> Self {
        Self::new()
    }
}

/// What the postmaster finds at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A registrant waits (its pid).
    Waiting(i32),
    /// Nothing to serve here (cancelled, granted, or reused).
    Nothing,
}

/// What a waiter finds when it looks at its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticket {
    Waiting,
    /// Room was promised: collect it ([`WaitQueue::collect`]) and register.
    Granted,
    /// The postmaster dropped the wait (a shutdown began): the registration is refused.
    Refused,
}

/// How a cancelled wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Left the queue before anything was promised.
    Left,
    /// Room had been promised: the caller must withdraw the promise and tell the postmaster.
    HadPromise,
    /// The wait had ended already (refused).
    Gone,
}

/// A view of the queue in some process's memory.
pub struct WaitQueue<'a> {
    header: &'a QueueHeader,
    entries: &'a [WaitEntry],
}

impl<'a> WaitQueue<'a> {
    pub fn new(header: &'a QueueHeader, entries: &'a [WaitEntry]) -> Self {
        WaitQueue { header, entries }
    }

    fn entry(&self, ticket: u64) -> Option<&'a WaitEntry> {
        if self.entries.is_empty() {
            return None;
        }
        self.entries.get((ticket % self.entries.len() as u64) as usize)
    }

    // ----- registrants: `enqueue` under the slots' lock; the rest by the waiter alone -----

    /// Whether registrants wait already (a registration that may wait then queues behind them). Lock holder.
    pub fn has_waiters(&self) -> bool {
        self.header.tail.load(Ordering::Relaxed) != self.header.head.load(Ordering::Acquire)
    }

    /// Queues `pid`'s registration: its ticket, or None if the queue is full. Lock holder.
    pub fn enqueue(&self, pid: i32) -> Option<u64> {
        let tail = self.header.tail.load(Ordering::Relaxed);
        let head = self.header.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= self.entries.len() as u64 {
            return None;
        }
        let e = self.entry(tail)?;
        if e.word.load(Ordering::Acquire) & 3 != FREE {
            // A grant not collected yet (its waiter is slow, or dead and not yet reaped): the queue is full.
            return None;
        }
        e.pid.store(pid, Ordering::Relaxed);
        e.word.store(word(tail, WAITING), Ordering::Release);
        self.header.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(tail)
    }

    /// The waiter: where its ticket stands.
    pub fn ticket(&self, ticket: u64) -> Ticket {
        match self.entry(ticket).map(|e| e.word.load(Ordering::Acquire)) {
            Some(w) if w == word(ticket, WAITING) => Ticket::Waiting,
            Some(w) if w == word(ticket, GRANTED) => Ticket::Granted,
            _ => Ticket::Refused,
        }
    }

    /// The waiter, after [`Ticket::Granted`]: takes the promise (false if it is gone).
    pub fn collect(&self, ticket: u64) -> bool {
        self.entry(ticket).is_some_and(|e| {
            e.word
                .compare_exchange(word(ticket, GRANTED), word(ticket, FREE), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    /// The waiter gives up (timeout, cancel, termination).
    pub fn cancel(&self, ticket: u64) -> Cancelled {
        let Some(e) = self.entry(ticket) else { return Cancelled::Gone };
        let free = word(ticket, FREE);
        if e.word.compare_exchange(word(ticket, WAITING), free, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return Cancelled::Left;
        }
        if e.word.compare_exchange(word(ticket, GRANTED), free, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return Cancelled::HadPromise;
        }
        Cancelled::Gone
    }

    // ----- the postmaster: no lock -----

    /// The postmaster: (first position not passed, next ticket), the latter bounded to `capacity` positions
    /// ahead.
    pub fn bounds(&self) -> (u64, u64) {
        let head = self.header.head.load(Ordering::Relaxed);
        let tail = self.header.tail.load(Ordering::Acquire);
        if tail.wrapping_sub(head) > self.entries.len() as u64 {
            return (head, head.wrapping_add(self.entries.len() as u64));
        }
        (head, tail)
    }

    /// The postmaster: what waits at `ticket`.
    pub fn peek(&self, ticket: u64) -> Found {
        let Some(e) = self.entry(ticket) else { return Found::Nothing };
        if e.word.load(Ordering::Acquire) == word(ticket, WAITING) {
            Found::Waiting(e.pid.load(Ordering::Relaxed))
        } else {
            Found::Nothing
        }
    }

    /// The postmaster promised room to the waiter at `ticket`: true if it still waited (else the caller withdraws
    /// the promise).
    pub fn grant(&self, ticket: u64) -> bool {
        self.entry(ticket).is_some_and(|e| {
            e.word
                .compare_exchange(word(ticket, WAITING), word(ticket, GRANTED), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    /// The postmaster ends the wait at `ticket` without a slot (its waiter died, or a shutdown began): true if it
    /// still waited.
    pub fn refuse(&self, ticket: u64) -> bool {
        self.entry(ticket).is_some_and(|e| {
            e.word
                .compare_exchange(word(ticket, WAITING), word(ticket, FREE), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    /// The postmaster, after the waiter at `ticket` died: takes back a promise it never collected (true: the
    /// caller withdraws it).
    pub fn reclaim(&self, ticket: u64) -> bool {
        self.collect(ticket)
    }

    /// The postmaster publishes the first position it has not passed.
    pub fn set_head(&self, head: u64) {
        self.header.head.store(head, Ordering::Release);
    }
}
