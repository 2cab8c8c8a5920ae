//! The shared array of background worker slots, and its hand-off protocol.
//!
//! Which process runs this code: the postmaster (adopting, launching, reporting, releasing slots) and every child
//! attached to shared memory (registering, terminating, reading handles). This module is compiled twice: into the
//! host, with the real atomics of `crate::sync`, and into the `slot-model` crate, with loom's, where the tests at
//! the bottom of that crate explore every interleaving. It must therefore use nothing but `crate::sync` and `core`.
//!
//! # Who writes what, when
//!
//! The postmaster never takes a lock (a wedged lock must not wedge the supervisor) and never trusts what it reads:
//! a child may have scribbled over any byte of this array. Everyone else coordinates through `header.lock`, a
//! process-shared lock that is recovered when its holder dies.
//!
//! | field          | free slot (`in_use` false)           | used slot (`in_use` true)                             |
//! |----------------|--------------------------------------|-------------------------------------------------------|
//! | payload        | a registrant, holding the lock       | nobody (read by the postmaster and lock holders)      |
//! | `generation`   | a registrant, holding the lock (+1)  | nobody                                                |
//! | `pid`          | a registrant (`INVALID_PID`)         | the postmaster (started pid; 0 once stopped)          |
//! | `terminate`    | a registrant (false)                 | any lock holder (false → true, once)                  |
//! | `kill_after_ms`| a registrant (0)                     | a terminator holding the lock, before `terminate`: only lowered |
//! | `resets`       | a registrant (0)                     | any lock holder (+1 per `bgw_reset`)                  |
//! | `ready_pid`    | a registrant (0)                     | the postmaster (0, before each launch); the running worker, holding the lock (its pid) |
//! | `signal_pid`   | nobody (0, left by the postmaster)   | the postmaster: the started pid; 0 *before* it reaps that process |
//! | `signalled_pid`| a registrant (0)                     | a terminator holding the lock: the pid it signals itself, once |
//! | `in_use`       | a registrant: false → true, last     | the postmaster: true → false, last                    |
//!
//! The header's `occupancy` and `limit` are described under "Capacity" below.
//!
//! `kill_after_ms` is a termination's grace period plus one (0: none, the spec's plain SIGTERM): a terminator
//! that asks for one stores it before its Release store of `terminate` (true, again if it was already), so the
//! postmaster, which loads `terminate` with Acquire before it reads `kill_after_ms`, sees the grace of every
//! request it has seen. A later request can only shorten it.
//!
//! `ready_pid` says the worker reported ready: the worker stores its own pid under the lock, after the postmaster
//! cleared the field before forking it (so a report of the previous run never counts for the next); readers
//! compare it with the published `pid`, so a value from an earlier process of the slot never reads as ready.
//!
//! `signal_pid` lets a terminator signal the running worker itself instead of relaying through the postmaster
//! (which costs a wake-up of the postmaster and a second signal). The danger is a reused pid: the worker exits, the
//! postmaster reaps it, another process gets the pid. The postmaster therefore stores 0 (SeqCst) *before* it
//! reaps the process, and a terminator opens a pidfd for the pid and only then checks (SeqCst) that `signal_pid`
//! and `generation` still name it: if they do, the reap had not happened when the pidfd was opened, so the pidfd
//! names the worker (alive, or a zombie that ignores the signal), and the signal goes through the pidfd, never to
//! a pid that may have been reused. `signalled_pid` records that the worker got its SIGTERM that way, so the
//! postmaster, acting on `terminate`, does not send a second one (the spec signals once per registration).
//!
//! `resets` counts requests to let a worker its restart policy gave up on run again; the postmaster compares it
//! with the count it last acted on (a change bit tells it to look), so a request is never lost or taken twice.
//!
//! Publication: a registrant fills the slot and then stores `in_use = true` with Release; the postmaster loads
//! `in_use` with Acquire before it reads anything else, so it sees a complete registration. Going the other way,
//! the postmaster's last write to a slot it gives up is `in_use = false` with Release, and a registrant loads
//! `in_use` with Acquire before reusing the slot, so the postmaster's earlier writes (`pid = 0`, the parallel
//! terminate count) are visible to it. Because `generation` changes only while `in_use` is false and only under
//! the lock, a handle `(slot, generation)` read under the lock names one registration forever: once the slot is
//! recycled the handle reads as stopped.
//!
//! # What a reader must tolerate
//!
//! The postmaster copies a slot out ([`SlotArray::read_slot`]) and then sanitizes the copy: the payload type must
//! be valid for every bit pattern ([`SlotPayload`]), strings in it may lack terminators, numbers may be absurd.
//! Lock holders read `pid` while the postmaster may change it: the value is never torn (it is an atomic) but may be
//! stale, which callers accept (the spec's "might be out of date by the time the caller examines it").
//!
//! # Finding changes without scanning
//!
//! A registrant or terminator that changes a slot sets the slot's bit in `changed` and the word's bit in
//! `summary` (both with Release), then signals the postmaster. The postmaster swaps `summary` words to zero, then
//! the `changed` words they point at, and looks only at those slots: work proportional to the changes, not to
//! `max_worker_processes`. A bit that is set spuriously (or by a rogue child) only makes the postmaster look at a
//! slot for nothing. A bit set after the postmaster's swap survives until the next drain, which the registrant's
//! signal guarantees.
//!
//! # Finding a free slot without scanning
//!
//! A second pair of bitmaps, `free` and `free_summary`, hints which slots are free. The postmaster sets a slot's
//! bit after it releases the slot (and at initialization); registrants, holding the lock, clear a bit when they
//! take the slot or find the hint stale. The hint is never trusted: a registrant verifies `in_use` before taking a
//! slot, and if the hints lead nowhere it falls back to scanning every slot, so a lost or corrupted hint costs
//! time, never a wrong answer. When a registrant clears a summary bit because the word looked empty, it re-reads
//! the word and restores the bit if the postmaster set a free bit meanwhile (both sides use SeqCst), so hints are
//! not lost in that race either.
//!
//! # Capacity
//!
//! `occupancy` packs two counts in one word: slots in use (low half) and slots promised to queued registrants
//! (high half, see [`super::wait_queue`]); `limit` is how many may be in use at once (`max_worker_processes`,
//! which a reload may change up to the slot count fixed at start). Every change is a compare-and-swap of the
//! whole word, so the two counts move together: a registrant (under the lock) adds a used slot only if used +
//! promised stays below `limit`, or turns a promise it collected into a used slot; the postmaster (no lock)
//! subtracts a used slot when it releases one, and promises room to a waiter only if used + promised stays below
//! `limit`; a waiter that cannot use its promise withdraws it. No one ever scans the slots to count them, and a
//! lowered limit only refuses new registrations (and promises) until enough workers left. The counts are hints
//! of the same kind as the free bitmaps: a registrant still verifies `in_use` before it takes a slot, so a
//! corrupted count can refuse a registration, never hand out a used slot.
//!
//! # Parallel workers
//!
//! `max_parallel_workers` is enforced with two counters that wrap: `parallel_register_count` (registrants, under
//! the lock) and `parallel_terminate_count` (postmaster only, lock-free). Active = register − terminate in
//! wrapping arithmetic, which stays right across wrap-around.

use crate::sync::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering, ProcessLock, UnsafeCell};

/// What a terminator does after [`SlotArray::request_terminate_direct`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectTerminate {
    /// The handle names no registration any more: nothing happens.
    Stale,
    /// Not running (not started yet, or between runs): the postmaster acts on the flag; signal it.
    Postmaster,
    /// Signal this pid through a pidfd, checking [`SlotArray::may_signal`] after opening it.
    Signal(i32),
    /// The worker was signalled already (by an earlier request): nothing more to do.
    Done,
}

/// `pid` of a slot whose worker has not been started yet.
pub const INVALID_PID: i32 = -1;

/// A registration stored in a slot.
///
/// # Safety
/// Implementors must be plain data valid for every bit pattern (integers and byte arrays only: no enums, bools,
/// references or padding-sensitive invariants), because the postmaster copies slots that other processes may have
/// corrupted.
pub unsafe trait SlotPayload: Copy {
    fn is_parallel(&self) -> bool;
}

/// One slot. See the module docs for who may write which field.
#[repr(C)]
pub struct Slot<P> {
    in_use: AtomicBool,
    terminate: AtomicBool,
    pid: AtomicI32,
    /// A termination's grace period in milliseconds plus one; 0: none (see the module docs).
    kill_after_ms: AtomicU32,
    /// Reset requests, counted (see the module docs).
    resets: AtomicU32,
    /// The pid of the running worker once it reported ready; 0 before (see the module docs).
    ready_pid: AtomicI32,
    /// The started worker's pid while it may be signalled directly; 0 before the postmaster reaps it.
    signal_pid: AtomicI32,
    /// The pid a terminator signalled itself (0: none); see the module docs.
    signalled_pid: AtomicI32,
    generation: AtomicU64,
    payload: UnsafeCell<P>,
}

impl<P: SlotPayload> Slot<P> {
    /// A free slot (used by the model; the host's slots are zeroed shared memory, which is the same state).
    pub fn new(payload: P) -> Self {
        Slot {
            in_use: AtomicBool::new(false),
            terminate: AtomicBool::new(false),
            pid: AtomicI32::new(0),
            kill_after_ms: AtomicU32::new(0),
            resets: AtomicU32::new(0),
            ready_pid: AtomicI32::new(0),
            signal_pid: AtomicI32::new(0),
            signalled_pid: AtomicI32::new(0),
            generation: AtomicU64::new(0),
            payload: UnsafeCell::new(payload),
        }
    }
}

/// The array's shared header.
#[repr(C)]
pub struct ArrayHeader {
    total_slots: AtomicU32,
    parallel_register_count: AtomicU32,
    parallel_terminate_count: AtomicU32,
    /// Used slots (low 32 bits) and slots promised to queued registrants (high 32 bits); see "Capacity".
    occupancy: AtomicU64,
    /// How many slots may be used at once: `max_worker_processes`, at most `total_slots` (see "Capacity").
    limit: AtomicU32,
    lock: ProcessLock,
}

impl ArrayHeader {
    /// A header for `total` slots (used by the model).
    pub fn new(total: u32) -> Self {
        let h = ArrayHeader {
            total_slots: AtomicU32::new(total),
            parallel_register_count: AtomicU32::new(0),
            parallel_terminate_count: AtomicU32::new(0),
            occupancy: AtomicU64::new(0),
            limit: AtomicU32::new(total),
            lock: ProcessLock::new(),
        };
        h.lock.init();
        h
    }

    /// Starts the parallel counters at the given values (models use it to test wrap-around).
    pub fn with_parallel_counts(self, registered: u32, terminated: u32) -> Self {
        self.parallel_register_count.store(registered, Ordering::Relaxed);
        self.parallel_terminate_count.store(terminated, Ordering::Relaxed);
        self
    }

    /// Initializes a header in fresh (zeroed) shared memory. Postmaster only, before any child exists.
    pub fn init_in_place(&self, total: u32) {
        self.total_slots.store(total, Ordering::Relaxed);
        self.parallel_register_count.store(0, Ordering::Relaxed);
        self.parallel_terminate_count.store(0, Ordering::Relaxed);
        self.occupancy.store(0, Ordering::Relaxed);
        self.limit.store(total, Ordering::Relaxed);
        self.lock.init();
    }

    /// Postmaster: how many slots may be used at once from now on (`max_worker_processes` after a reload; at most
    /// the slot count). Lowering it never frees a slot: registrations are refused until enough workers left.
    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit.min(self.total_slots.load(Ordering::Relaxed)), Ordering::SeqCst);
    }

    /// The current limit (see [`ArrayHeader::set_limit`]).
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::SeqCst)
    }

    /// (used, promised to queued registrants) slots, read racily (for views and checks).
    pub fn occupancy(&self) -> (u32, u32) {
        split(self.occupancy.load(Ordering::SeqCst))
    }

    /// Changes the occupancy word by `f` (used, reserved) -> Some(new) atomically; false if `f` refused.
    fn update_occupancy(&self, f: impl Fn(u32, u32) -> Option<(u32, u32)>) -> bool {
        let mut cur = self.occupancy.load(Ordering::SeqCst);
        loop {
            let (used, reserved) = split(cur);
            let Some((u, r)) = f(used, reserved) else { return false };
            match self.occupancy.compare_exchange_weak(cur, join(u, r), Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// A registrant takes room for one slot if used + promised stays below the limit.
    fn take_room(&self) -> bool {
        let limit = self.limit.load(Ordering::SeqCst);
        self.update_occupancy(|u, r| (u.saturating_add(r) < limit).then(|| (u + 1, r)))
    }

    /// A registrant holding a promise turns it into a used slot.
    fn use_promise(&self) {
        self.update_occupancy(|u, r| Some((u.saturating_add(1), r.saturating_sub(1))));
    }

    /// Gives one slot's room back (a release, or a registrant that found no slot after all).
    fn give_back_used(&self) {
        self.update_occupancy(|u, r| Some((u.saturating_sub(1), r)));
    }

    /// Postmaster: promises room for one slot to the next queued registrant, if used + promised is below the
    /// limit.
    pub fn promise_room(&self) -> bool {
        let limit = self.limit.load(Ordering::SeqCst);
        self.update_occupancy(|u, r| (u.saturating_add(r) < limit).then(|| (u, r + 1)))
    }

    /// Takes back a promise (its registrant cancelled or died before it used it).
    pub fn withdraw_promise(&self) {
        self.update_occupancy(|u, r| Some((u, r.saturating_sub(1))));
    }
}

fn split(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

fn join(used: u32, reserved: u32) -> u64 {
    u64::from(used) | u64::from(reserved) << 32
}

impl ArrayHeader {
    /// The slot count as stored in shared memory: the postmaster compares it with its own and distrusts the array
    /// if they differ.
    pub fn total_slots(&self) -> u32 {
        self.total_slots.load(Ordering::Relaxed)
    }

    /// (registered, terminated) parallel counters, read racily (for views and checks).
    pub fn parallel_counts(&self) -> (u32, u32) {
        (self.parallel_register_count.load(Ordering::Relaxed), self.parallel_terminate_count.load(Ordering::Acquire))
    }
}

/// The result of [`SlotArray::register`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    Registered {
        slot: u32,
        generation: u64,
    },
    /// Every slot is in use.
    NoFreeSlot,
    /// `max_parallel_workers` parallel workers are active already.
    ParallelLimit,
}

/// The result of [`SlotArray::register_or_enqueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Registered (or refused for a reason waiting cannot help: the parallel limit).
    Done(RegisterOutcome),
    /// Waiting with this ticket.
    Queued(u64),
    /// No room in the queue either.
    QueueFull,
}

/// What a handle's slot says, read under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidState {
    NotYetStarted,
    Started(i32),
    Stopped,
}

/// The postmaster's copy of a slot.
#[derive(Clone, Copy)]
pub struct SlotCopy<P> {
    pub payload: P,
    pub generation: u64,
    pub terminate: bool,
}

/// A view of the array in some process's memory.
pub struct SlotArray<'a, P> {
    header: &'a ArrayHeader,
    slots: &'a [Slot<P>],
    changed: &'a [AtomicU64],
    summary: &'a [AtomicU64],
    free: &'a [AtomicU64],
    free_summary: &'a [AtomicU64],
}

/// The bitmaps of an array, each as long as [`bitmap_words`] says: change bits and their summary, free-slot hints
/// and their summary.
pub struct Bitmaps<'a> {
    pub changed: &'a [AtomicU64],
    pub summary: &'a [AtomicU64],
    pub free: &'a [AtomicU64],
    pub free_summary: &'a [AtomicU64],
}

/// How many `changed` words and `summary` words an array of `slots` slots needs.
pub const fn bitmap_words(slots: usize) -> (usize, usize) {
    let changed = slots.div_ceil(64);
    (changed, changed.div_ceil(64))
}

impl<'a, P: SlotPayload> SlotArray<'a, P> {
    /// Views the parts of an array.
    pub fn new(header: &'a ArrayHeader, slots: &'a [Slot<P>], maps: Bitmaps<'a>) -> Self {
        SlotArray {
            header,
            slots,
            changed: maps.changed,
            summary: maps.summary,
            free: maps.free,
            free_summary: maps.free_summary,
        }
    }

    pub fn header(&self) -> &'a ArrayHeader {
        self.header
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Postmaster: hints that `slot` is free (after releasing it).
    fn hint_free(&self, slot: usize) {
        let word = slot / 64;
        if let Some(w) = self.free.get(word) {
            w.fetch_or(1u64 << (slot % 64), Ordering::SeqCst);
        }
        if let Some(s) = self.free_summary.get(word / 64) {
            s.fetch_or(1u64 << (word % 64), Ordering::SeqCst);
        }
    }

    /// Lock holder: clears the hint for `slot` (taken, or found in use).
    fn clear_free_hint(&self, slot: usize) {
        if let Some(w) = self.free.get(slot / 64) {
            w.fetch_and(!(1u64 << (slot % 64)), Ordering::SeqCst);
        }
    }

    /// Lock holder: a free slot, found through the hints (clearing stale ones on the way), or by scanning all
    /// slots if the hints lead nowhere.
    fn find_free_slot(&self) -> Option<usize> {
        for (si, summary) in self.free_summary.iter().enumerate() {
            let mut words = summary.load(Ordering::SeqCst);
            while words != 0 {
                let bit = words.trailing_zeros() as usize;
                words &= words - 1;
                let wi = si * 64 + bit;
                let Some(word) = self.free.get(wi) else { continue };
                let mut bits = word.load(Ordering::SeqCst);
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let slot = wi * 64 + b;
                    match self.slots.get(slot) {
                        Some(s) if !s.in_use.load(Ordering::Acquire) => return Some(slot),
                        _ => self.clear_free_hint(slot),
                    }
                }
                // The word looked empty: drop its summary bit, then restore it if the postmaster set a free bit
                // in between.
                summary.fetch_and(!(1u64 << bit), Ordering::SeqCst);
                if word.load(Ordering::SeqCst) != 0 {
                    summary.fetch_or(1u64 << bit, Ordering::SeqCst);
                }
            }
        }
        self.slots.iter().position(|s| !s.in_use.load(Ordering::Acquire))
    }

    fn mark_changed(&self, slot: usize) {
        let word = slot / 64;
        if let Some(w) = self.changed.get(word) {
            w.fetch_or(1u64 << (slot % 64), Ordering::Release);
        }
        if let Some(s) = self.summary.get(word / 64) {
            s.fetch_or(1u64 << (word % 64), Ordering::Release);
        }
    }

    // ----- children (registrants, terminators, handle readers): always under the lock -----

    /// Registers `payload` in the first free slot. The caller then signals the postmaster.
    pub fn register(&self, payload: &P, max_parallel_workers: u32) -> RegisterOutcome {
        self.register_with(payload, max_parallel_workers, |_, _| {})
    }

    /// [`Self::register`], calling `fill(slot, generation)` under the lock before the slot is published: what it
    /// writes for the registration (its typed argument, `super::args`) is published with it.
    pub fn register_with(
        &self,
        payload: &P,
        max_parallel_workers: u32,
        fill: impl FnOnce(u32, u64),
    ) -> RegisterOutcome {
        let _guard = self.header.lock.lock();
        self.register_locked(payload, max_parallel_workers, false, fill)
    }

    /// Registers `payload`, or, if no slot is free or registrants wait already, queues `pid`'s registration
    /// (see [`super::wait_queue`]). Parallel workers are never queued. The caller then signals the postmaster.
    pub fn register_or_enqueue(
        &self,
        payload: &P,
        max_parallel_workers: u32,
        queue: &super::wait_queue::WaitQueue<'_>,
        pid: i32,
    ) -> Enqueued {
        let _guard = self.header.lock.lock();
        if payload.is_parallel() || !queue.has_waiters() {
            match self.register_locked(payload, max_parallel_workers, false, |_, _| {}) {
                RegisterOutcome::NoFreeSlot if !payload.is_parallel() => {}
                outcome => return Enqueued::Done(outcome),
            }
        }
        match queue.enqueue(pid) {
            Some(ticket) => Enqueued::Queued(ticket),
            None => Enqueued::QueueFull,
        }
    }

    /// Registers `payload` with the room the postmaster promised to this registrant (it collected the promise
    /// from its ticket). The caller then signals the postmaster.
    pub fn register_promised(&self, payload: &P, max_parallel_workers: u32) -> RegisterOutcome {
        let _guard = self.header.lock.lock();
        self.register_locked(payload, max_parallel_workers, true, |_, _| {})
    }

    fn register_locked(
        &self,
        payload: &P,
        max_parallel_workers: u32,
        promised: bool,
        fill: impl FnOnce(u32, u64),
    ) -> RegisterOutcome {
        let parallel = payload.is_parallel();
        if parallel {
            // Our view of the terminate count may be stale; that only means we refuse as if we had come a little
            // earlier. The postmaster cannot take the lock, so nothing better is possible.
            let registered = self.header.parallel_register_count.load(Ordering::Relaxed);
            let terminated = self.header.parallel_terminate_count.load(Ordering::Acquire);
            if registered.wrapping_sub(terminated) >= max_parallel_workers {
                if promised {
                    self.header.withdraw_promise();
                }
                return RegisterOutcome::ParallelLimit;
            }
        }
        let Some(i) = self.find_free_slot() else {
            if promised {
                self.header.withdraw_promise();
            }
            return RegisterOutcome::NoFreeSlot;
        };
        if promised {
            self.header.use_promise();
        } else if !self.header.take_room() {
            // A slot is free but the limit (max_worker_processes, lowered by a reload, or rooms promised to
            // queued registrants) says no.
            return RegisterOutcome::NoFreeSlot;
        }
        let slot = &self.slots[i];
        self.clear_free_hint(i);
        // SAFETY: the slot is free and we hold the lock: no one else writes the payload, and the postmaster
        // reads it only after it sees `in_use` true, which we store last.
        slot.payload.with_mut(|p| unsafe { p.write(*payload) });
        slot.pid.store(INVALID_PID, Ordering::Relaxed);
        let generation = slot.generation.load(Ordering::Relaxed).wrapping_add(1);
        slot.generation.store(generation, Ordering::Relaxed);
        slot.terminate.store(false, Ordering::Relaxed);
        slot.kill_after_ms.store(0, Ordering::Relaxed);
        slot.resets.store(0, Ordering::Relaxed);
        slot.ready_pid.store(0, Ordering::Relaxed);
        slot.signalled_pid.store(0, Ordering::Relaxed);
        if parallel {
            let n = self.header.parallel_register_count.load(Ordering::Relaxed);
            self.header.parallel_register_count.store(n.wrapping_add(1), Ordering::Relaxed);
        }
        fill(i as u32, generation);
        // Publish: everything above happens-before the postmaster's Acquire load of in_use.
        slot.in_use.store(true, Ordering::Release);
        self.mark_changed(i);
        RegisterOutcome::Registered { slot: i as u32, generation }
    }

    /// A waiting registrant whose promise it cannot use any more (it cancelled after the grant) gives it back;
    /// the caller then signals the postmaster, which promises the room to the next waiter.
    pub fn withdraw_promise(&self) {
        self.header.withdraw_promise();
    }

    /// The state of the registration `(slot, generation)`.
    pub fn pid_state(&self, slot: u32, generation: u64) -> PidState {
        let Some(s) = self.slots.get(slot as usize) else { return PidState::Stopped };
        let _guard = self.header.lock.lock();
        // generation cannot change while we hold the lock; in_use may go true → false (never back) under us.
        if s.generation.load(Ordering::Relaxed) != generation || !s.in_use.load(Ordering::Acquire) {
            return PidState::Stopped;
        }
        match s.pid.load(Ordering::Acquire) {
            0 => PidState::Stopped,
            INVALID_PID => PidState::NotYetStarted,
            pid => PidState::Started(pid),
        }
    }

    /// Asks the postmaster to terminate `(slot, generation)`: SIGTERM, then, with a `grace_ms`, SIGKILL if the
    /// worker is still running that long after. Returns whether the flag was set (false for a stale handle, where
    /// nothing happens); the caller then signals the postmaster.
    pub fn request_terminate(&self, slot: u32, generation: u64, grace_ms: Option<u32>) -> bool {
        let Some(s) = self.slots.get(slot as usize) else { return false };
        let guard = self.header.lock.lock();
        if s.generation.load(Ordering::Relaxed) != generation {
            return false;
        }
        if let Some(grace) = grace_ms {
            let asked = grace.saturating_add(1);
            let current = s.kill_after_ms.load(Ordering::Relaxed);
            if current == 0 || asked < current {
                s.kill_after_ms.store(asked, Ordering::Relaxed);
            }
        }
        s.terminate.store(true, Ordering::Release);
        drop(guard);
        self.mark_changed(slot as usize);
        true
    }

    /// `TerminateBackgroundWorker` without a grace period, signalling the worker directly when it runs: sets
    /// `terminate` (and the change bit; the caller need not signal the postmaster, which learns of it at its next
    /// wake-up, at the latest the worker's exit) and says what the caller must do. See the module docs.
    pub fn request_terminate_direct(&self, slot: u32, generation: u64) -> DirectTerminate {
        let Some(s) = self.slots.get(slot as usize) else { return DirectTerminate::Stale };
        let guard = self.header.lock.lock();
        if s.generation.load(Ordering::Relaxed) != generation {
            return DirectTerminate::Stale;
        }
        s.terminate.store(true, Ordering::Release);
        let pid = s.signal_pid.load(Ordering::SeqCst);
        let outcome = if pid <= 0 {
            DirectTerminate::Postmaster
        } else if s.signalled_pid.load(Ordering::Relaxed) == pid {
            DirectTerminate::Done
        } else {
            s.signalled_pid.store(pid, Ordering::Relaxed);
            DirectTerminate::Signal(pid)
        };
        drop(guard);
        self.mark_changed(slot as usize);
        outcome
    }

    /// A terminator holding a pidfd it opened for `pid`: whether `(slot, generation)`'s worker is still that
    /// process, not yet reaped (so the pidfd names it). See the module docs.
    pub fn may_signal(&self, slot: u32, generation: u64, pid: i32) -> bool {
        let Some(s) = self.slots.get(slot as usize) else { return false };
        s.signal_pid.load(Ordering::SeqCst) == pid && s.generation.load(Ordering::SeqCst) == generation
    }

    /// A terminator that could not signal `pid` itself (after [`DirectTerminate::Signal`]): leaves the signal to
    /// the postmaster. The caller then signals the postmaster.
    pub fn unclaim_signal(&self, slot: u32, generation: u64, pid: i32) {
        let Some(s) = self.slots.get(slot as usize) else { return };
        let guard = self.header.lock.lock();
        if s.generation.load(Ordering::Relaxed) == generation && s.signalled_pid.load(Ordering::Relaxed) == pid {
            s.signalled_pid.store(0, Ordering::Relaxed);
        }
        drop(guard);
        self.mark_changed(slot as usize);
    }

    /// Postmaster: the pid a terminator signalled itself in `slot` (0: none).
    pub fn signalled_pid(&self, slot: u32) -> i32 {
        self.slots.get(slot as usize).map_or(0, |s| s.signalled_pid.load(Ordering::Relaxed))
    }

    /// Postmaster, before it reaps `slot`'s worker: the pid may no longer be signalled directly.
    pub fn unpublish_signal_pid(&self, slot: u32) {
        if let Some(s) = self.slots.get(slot as usize) {
            s.signal_pid.store(0, Ordering::SeqCst);
        }
    }

    /// Asks the postmaster to let `(slot, generation)` run again after its restart policy gave up (and to forget
    /// its restart history). Returns false for a stale handle; the caller then signals the postmaster.
    pub fn request_reset(&self, slot: u32, generation: u64) -> bool {
        let Some(s) = self.slots.get(slot as usize) else { return false };
        let guard = self.header.lock.lock();
        if s.generation.load(Ordering::Relaxed) != generation || !s.in_use.load(Ordering::Acquire) {
            return false;
        }
        let n = s.resets.load(Ordering::Relaxed);
        s.resets.store(n.wrapping_add(1), Ordering::Release);
        drop(guard);
        self.mark_changed(slot as usize);
        true
    }

    /// The running worker of `slot` (whose pid is `pid`) reports ready; false if the slot does not hold it.
    pub fn report_ready(&self, slot: u32, pid: i32) -> bool {
        let Some(s) = self.slots.get(slot as usize) else { return false };
        let guard = self.header.lock.lock();
        if !s.in_use.load(Ordering::Acquire) {
            return false;
        }
        s.ready_pid.store(pid, Ordering::Release);
        drop(guard);
        self.mark_changed(slot as usize);
        true
    }

    /// Whether the registration `(slot, generation)` is running and has reported ready: its pid if so.
    pub fn ready(&self, slot: u32, generation: u64) -> Option<i32> {
        let s = self.slots.get(slot as usize)?;
        let _guard = self.header.lock.lock();
        if s.generation.load(Ordering::Relaxed) != generation || !s.in_use.load(Ordering::Acquire) {
            return None;
        }
        let pid = s.pid.load(Ordering::Acquire);
        (pid > 0 && s.ready_pid.load(Ordering::Acquire) == pid).then_some(pid)
    }

    /// Finds the running worker with `pid` and returns a copy of its payload (read under the lock).
    pub fn find_by_pid(&self, pid: i32) -> Option<P> {
        if pid <= 0 {
            return None;
        }
        let _guard = self.header.lock.lock();
        self.slots.iter().find(|s| s.in_use.load(Ordering::Acquire) && s.pid.load(Ordering::Relaxed) == pid).map(|s| {
            // SAFETY: we hold the lock, so no registrant writes this payload; P is valid for every bit pattern.
            s.payload.with(|p| unsafe { p.read_volatile() })
        })
    }

    /// Copies slot `slot` under the lock (for views). None if the slot is free.
    pub fn copy_locked(&self, slot: u32) -> Option<(SlotCopy<P>, i32)> {
        let s = self.slots.get(slot as usize)?;
        let _guard = self.header.lock.lock();
        if !s.in_use.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: as in find_by_pid.
        let payload = s.payload.with(|p| unsafe { p.read_volatile() });
        Some((
            SlotCopy {
                payload,
                generation: s.generation.load(Ordering::Relaxed),
                terminate: s.terminate.load(Ordering::Relaxed),
            },
            s.pid.load(Ordering::Relaxed),
        ))
    }

    // ----- the postmaster: never locks, never trusts -----

    /// Postmaster: calls `f` with every slot whose change bit was set since the last drain.
    pub fn drain_changed(&self, mut f: impl FnMut(u32)) {
        for (si, summary) in self.summary.iter().enumerate() {
            if summary.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut words = summary.swap(0, Ordering::Acquire);
            while words != 0 {
                let bit = words.trailing_zeros() as usize;
                words &= words - 1;
                let wi = si * 64 + bit;
                let Some(word) = self.changed.get(wi) else { continue };
                let mut bits = word.swap(0, Ordering::Acquire);
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let slot = wi * 64 + b;
                    if slot < self.slots.len() {
                        f(slot as u32);
                    }
                }
            }
        }
    }

    /// Postmaster: copies a used slot out (None if free). The copy must be sanitized before use.
    pub fn read_slot(&self, slot: u32) -> Option<SlotCopy<P>> {
        let s = self.slots.get(slot as usize)?;
        if !s.in_use.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: in_use was true (Acquire), so the registrant's writes are visible and no registrant writes the
        // payload until we set in_use false. A rogue child might; P is valid for every bit pattern, so a torn or
        // corrupted copy is still a value, which the caller sanitizes.
        let payload = s.payload.with(|p| unsafe { p.read_volatile() });
        Some(SlotCopy {
            payload,
            generation: s.generation.load(Ordering::Relaxed),
            terminate: s.terminate.load(Ordering::Acquire),
        })
    }

    /// Postmaster: whether termination was requested for a slot it already adopted.
    pub fn terminate_requested(&self, slot: u32) -> bool {
        self.slots.get(slot as usize).is_some_and(|s| s.terminate.load(Ordering::Acquire))
    }

    /// Postmaster: the pid that reported ready in `slot` (0: none since the last launch).
    pub fn ready_pid(&self, slot: u32) -> i32 {
        self.slots.get(slot as usize).map_or(0, |s| s.ready_pid.load(Ordering::Acquire))
    }

    /// Postmaster, before it launches `slot`'s worker: forgets the previous run's report.
    pub fn clear_ready(&self, slot: u32) {
        if let Some(s) = self.slots.get(slot as usize) {
            s.ready_pid.store(0, Ordering::Relaxed);
        }
    }

    /// Postmaster: how many resets were requested for the slot (compare with the count last acted on).
    pub fn resets(&self, slot: u32) -> u32 {
        self.slots.get(slot as usize).map_or(0, |s| s.resets.load(Ordering::Acquire))
    }

    /// Postmaster, after [`SlotArray::terminate_requested`] said true: the shortest grace period asked for, if any
    /// request asked for one.
    pub fn kill_after_ms(&self, slot: u32) -> Option<u32> {
        let v = self.slots.get(slot as usize)?.kill_after_ms.load(Ordering::Relaxed);
        (v != 0).then(|| v - 1)
    }

    /// Postmaster: publishes the pid of a started worker (or 0 after it exited).
    pub fn report_pid(&self, slot: u32, pid: i32) {
        if let Some(s) = self.slots.get(slot as usize) {
            s.signal_pid.store(pid.max(0), Ordering::SeqCst);
            s.pid.store(pid, Ordering::Release);
        }
    }

    /// Postmaster: gives a slot back. `parallel` comes from the postmaster's own sanitized copy.
    pub fn release(&self, slot: u32, parallel: bool) {
        self.release_inner(slot, parallel, false);
    }

    /// Postmaster: gives a slot back while registrations wait for one: its room becomes a promise for the next
    /// waiter in the same step (used − 1, promised + 1), so that no registrant that does not wait takes it
    /// first. True if it did; false (a plain release) if the limit, lowered by a reload, leaves no room.
    pub fn release_for_waiter(&self, slot: u32, parallel: bool) -> bool {
        self.release_inner(slot, parallel, true)
    }

    fn release_inner(&self, slot: u32, parallel: bool, for_waiter: bool) -> bool {
        let Some(s) = self.slots.get(slot as usize) else { return false };
        if parallel {
            let n = self.header.parallel_terminate_count.load(Ordering::Relaxed);
            self.header.parallel_terminate_count.store(n.wrapping_add(1), Ordering::Release);
        }
        s.pid.store(0, Ordering::Relaxed);
        // Last: after this a registrant may reuse the slot.
        s.in_use.store(false, Ordering::Release);
        let limit = self.header.limit.load(Ordering::SeqCst);
        let promised = for_waiter
            && self.header.update_occupancy(|u, r| (u > 0 && u.saturating_add(r) <= limit).then(|| (u - 1, r + 1)));
        if !promised {
            self.header.give_back_used();
        }
        self.hint_free(slot as usize);
        promised
    }

    // ----- fault injection: what a dying or rogue child can do (the host's `lock_holder` and `scribbler` test
    // workers; nothing else calls these) -----

    /// Takes the lock and never gives it back: the calling process holds it until it dies.
    pub fn leak_lock(&self) {
        core::mem::forget(self.header.lock.lock());
    }

    /// Overwrites `slot` the way a rogue child might: no lock, no protocol, any values. Marks it changed so the
    /// postmaster looks at it.
    pub fn scribble_slot(&self, slot: u32, payload: &P, pid: i32, generation: u64, terminate: bool) {
        let Some(s) = self.slots.get(slot as usize) else { return };
        // SAFETY: deliberately racy (this is the corruption the postmaster must survive): P is valid for every bit
        // pattern and every reader copies the payload with a volatile read and sanitizes the copy.
        s.payload.with_mut(|p| unsafe { p.write_volatile(*payload) });
        s.pid.store(pid, Ordering::Relaxed);
        s.generation.store(generation, Ordering::Relaxed);
        s.terminate.store(terminate, Ordering::Relaxed);
        s.in_use.store(true, Ordering::Release);
        self.mark_changed(slot as usize);
    }

    /// Overwrites the header's slot count and parallel counters, and sets every change and free-slot bit (also
    /// those past the last slot), as a rogue child might.
    pub fn scribble_header(&self, total_slots: u32, parallel_registered: u32, parallel_terminated: u32) {
        self.header.total_slots.store(total_slots, Ordering::Relaxed);
        self.header.parallel_register_count.store(parallel_registered, Ordering::Relaxed);
        self.header.parallel_terminate_count.store(parallel_terminated, Ordering::Release);
        for w in self.changed.iter().chain(self.summary).chain(self.free).chain(self.free_summary) {
            w.store(u64::MAX, Ordering::Release);
        }
    }

    /// Postmaster, on a fresh segment before any child exists: puts a registration (static, or one surviving a
    /// crash cycle) in a slot, or leaves it free, starting its generation where the last segment left off so that
    /// handles stay unique across crash cycles.
    pub fn init_slot(&self, slot: u32, payload: Option<&P>, generation: u64) {
        let Some(s) = self.slots.get(slot as usize) else { return };
        if let Some(payload) = payload {
            // SAFETY: no other process exists yet that could access this segment.
            s.payload.with_mut(|p| unsafe { p.write(*payload) });
        }
        s.pid.store(if payload.is_some() { INVALID_PID } else { 0 }, Ordering::Relaxed);
        s.generation.store(generation, Ordering::Relaxed);
        s.terminate.store(false, Ordering::Relaxed);
        s.kill_after_ms.store(0, Ordering::Relaxed);
        s.resets.store(0, Ordering::Relaxed);
        s.ready_pid.store(0, Ordering::Relaxed);
        s.in_use.store(payload.is_some(), Ordering::Release);
        if payload.is_none() {
            self.hint_free(slot as usize);
        } else {
            self.header.update_occupancy(|u, r| Some((u.saturating_add(1), r)));
        }
    }
}
