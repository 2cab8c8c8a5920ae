//! The postmaster's side of the background worker framework: the registered-worker list and what happens to
//! it when workers are registered, launched, exit, crash, or are terminated.
//!
//! Postmaster-private memory, indexed by slot number (the spec keeps a list and searches it by slot; an index
//! makes every lookup O(1)). A registration becomes a [`RegisteredWorker`] when the postmaster adopts its slot,
//! and stops being one when the postmaster releases the slot ("forgets" it). Launches go through a queue, restart
//! intervals through a timer heap, and start phases through a waiting list, so nothing here scans every slot on
//! an event.
//!
//! Everything the postmaster learns from shared memory is a sanitized copy ([`WorkerSpec::sanitized_from`]),
//! re-checked with the spec's sanity rules: a corrupted slot can make its own worker fail, never the postmaster.

use super::children::Children;
use super::exits::{log_child_exit, Ending, ExitStatus, WorkerExit};
use crate::bgworker::exit_record::ExitRecord;
use crate::bgworker::handle::ExitReason;
use crate::bgworker::types::{BackgroundWorker, Restart, StartTime, WorkerSpec, BGWORKER_SHMEM_ACCESS};
use crate::elog::{self, Level};
use crate::shmem::Phase;
use crate::shmem::{Shmem, WorkerState};
use crate::sync::Ordering;
use crate::sys::private_memory::PrivateAlloc;
use bgw_macros::hot;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

/// A worker the postmaster knows about (the spec's RegisteredBgWorker). Its launch state (pid, times, flags)
/// changes at every launch and exit, so it lives in the postmaster's private memory (the slot table, see
/// [`Workers`]), where writing it costs no copy-on-write fault after a fork. The registration itself is boxed in
/// the ordinary heap, small (owned fields, not the 1.5 KB C struct), and never written after adoption: a forked
/// worker reads it from its own copy of that heap (see `crate::sys::fork::Inherited`) and builds its C struct.
pub struct RegisteredWorker {
    pub spec: Box<WorkerSpec>,
    /// Registered at start-up (RegisterBackgroundWorker), not by a running process.
    is_static: bool,
    /// Running pid, or 0.
    pub pid: i32,
    /// When it last exited with a non-zero code (the spec's rw_crashed_at).
    pub crashed_at: Option<Instant>,
    /// Termination requested (the spec's rw_terminate).
    pub terminate: bool,
    /// In the launch queue or the phase-waiting list.
    queued: bool,
    /// Distinguishes this registration from a later one in the same slot (stale timers are ignored).
    seq: u64,
    launches: u32,
    /// When a termination's grace period ends (the SIGKILL then), if one was asked for.
    kill_due: Option<Instant>,
    /// The host sent SIGKILL after the grace period.
    killed: bool,
    /// When its current run started.
    started_at: Option<Instant>,
    /// Restarts scheduled within the give-up window (oldest first).
    restart_times: VecDeque<Instant>,
    /// Failed runs since the last one that lasted (the backoff's exponent).
    failures_in_a_row: u32,
    /// Its restart policy gave up on it (state `failed`) until a reset.
    failed: bool,
    /// The slot's reset count last acted on.
    resets_seen: u32,
    /// The current run reported ready.
    ready: bool,
    /// When the current run's start timeout ends, if it has one and is not ready yet.
    start_due: Option<Instant>,
    /// The current run missed its start timeout (the host is ending it).
    start_timed_out: bool,
}

/// How long a worker that missed its start timeout has to exit after SIGTERM before SIGKILL.
const START_TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// The registered workers, by slot.
pub struct Workers {
    /// In private memory (`crate::sys::private_memory`): the postmaster writes an entry at every launch.
    slots: allocator_api2::vec::Vec<Option<RegisteredWorker>, PrivateAlloc>,
    /// Each slot's latest generation, carried into a new segment after a crash so handles stay unique.
    generations: Vec<u64>,
    /// Each slot's exit record (why its registration's last run ended), kept here too so that it survives the
    /// slot's release and a crash cycle's new segment; published to the segment's [`crate::shmem::SlotStatus`].
    exits: Vec<ExitRecord>,
    static_count: usize,
    /// `max_worker_processes`: how many slots may be used at once (at most the slot count, `max_worker_slots`).
    limit: usize,
    dropped: Vec<String>,
    pending: VecDeque<u32>,
    waiting_phase: Vec<u32>,
    timers: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    /// Terminations' grace periods: when to SIGKILL which slot's worker (registration `seq`).
    kill_timers: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    /// Start timeouts: when which slot's worker (registration `seq`) must have reported ready.
    start_timers: BinaryHeap<Reverse<(Instant, u32, u64)>>,
    /// False once a shutdown began: new registrations are refused (PostgreSQL 14's rule).
    shutting_down: bool,
    /// `worker_type_quota`: at most this many running workers of a type.
    quotas: std::collections::HashMap<String, u32>,
    /// Running workers by type (only types with a quota are counted).
    running_by_type: std::collections::HashMap<String, u32>,
    /// Queued workers held back by their type's quota, by type, first come first served.
    quota_waiting: std::collections::HashMap<String, VecDeque<u32>>,
    /// Waiting registrations the postmaster promised room to and whose registrant has not collected it yet, by
    /// pid (see [`crate::bgworker::wait_queue`]): if that registrant dies first, the promise is taken back.
    promised: std::collections::HashMap<i32, u64>,
    /// Rooms released slots promised to waiting registrations, not yet handed to one (see
    /// [`Workers::release_slot`]).
    prepromised: u32,
    /// A small generator for the backoff's jitter (xorshift; no cryptographic use).
    jitter_state: u64,
    next_seq: u64,
    shm: Option<&'static Shmem>,
}

fn eligible(start: StartTime, phase: Phase) -> bool {
    match phase {
        Phase::Startup => start == StartTime::PostmasterStart,
        Phase::HotStandby => start <= StartTime::ConsistentState,
        Phase::Run => true,
        Phase::Stopping | Phase::Crashed => false,
    }
}

impl Workers {
    pub fn new(max_workers: usize) -> Workers {
        Workers {
            slots: {
                let mut slots = allocator_api2::vec::Vec::with_capacity_in(max_workers, PrivateAlloc);
                slots.resize_with(max_workers, || None);
                slots
            },
            generations: vec![0; max_workers],
            exits: vec![ExitRecord::default(); max_workers],
            static_count: 0,
            limit: max_workers,
            dropped: Vec::new(),
            pending: VecDeque::new(),
            waiting_phase: Vec::new(),
            timers: BinaryHeap::new(),
            kill_timers: BinaryHeap::new(),
            start_timers: BinaryHeap::new(),
            shutting_down: false,
            quotas: Default::default(),
            running_by_type: Default::default(),
            quota_waiting: Default::default(),
            promised: Default::default(),
            prepromised: 0,
            jitter_state: (std::process::id() as u64) << 32 | 0x9e37_79b9,
            next_seq: 1,
            shm: None,
        }
    }

    fn new_registered(&mut self, spec: WorkerSpec) -> RegisteredWorker {
        self.next_seq += 1;
        RegisteredWorker {
            spec: Box::new(spec),
            is_static: false,
            pid: 0,
            crashed_at: None,
            terminate: false,
            queued: false,
            seq: self.next_seq,
            launches: 0,
            kill_due: None,
            killed: false,
            started_at: None,
            restart_times: VecDeque::new(),
            failures_in_a_row: 0,
            failed: false,
            resets_seen: 0,
            ready: false,
            start_due: None,
            start_timed_out: false,
        }
    }

    /// The spec's RegisterBackgroundWorker: static registration, at start-up only. Problems are logged and the
    /// worker is not registered; a worker beyond `max_worker_processes` is remembered as dropped.
    pub fn register_static(&mut self, mut spec: WorkerSpec) {
        elog::debug1(format!("registering background worker \"{}\"", spec.name));
        if let Err(e) = spec.sanity_check() {
            elog::log(e.message);
            return;
        }
        if spec.notify_pid != 0 {
            elog::log(format!(
                "background worker \"{}\": only dynamic background workers can request notification",
                spec.name
            ));
            return;
        }
        if spec.has_flag(crate::bgworker::types::BGWORKER_BIND_REGISTRANT) {
            elog::log(format!(
                "background worker \"{}\": only dynamic background workers can be bound to their registrant",
                spec.name
            ));
            return;
        }
        // A registration the C struct cannot hold is refused as such, whether or not a slot would be left for it.
        if let Err(e) = spec.to_raw() {
            elog::log(e.message);
            return;
        }
        let max = self.limit;
        self.static_count += 1;
        if self.static_count > max {
            elog::Report::new(Level::Log, "too many background workers")
                .detail(if max == 1 {
                    format!("Up to {max} background worker can be registered with the current settings.")
                } else {
                    format!("Up to {max} background workers can be registered with the current settings.")
                })
                .hint("Consider increasing the configuration parameter \"max_worker_processes\".")
                .emit();
            elog::log(format!("background worker \"{}\" was not registered", spec.name));
            self.dropped.push(spec.name);
            return;
        }
        let mut rw = self.new_registered(spec);
        rw.is_static = true;
        let slot = self.slots.iter().position(|s| s.is_none()).expect("a free slot exists below the static count");
        self.slots[slot] = Some(rw);
    }

    /// `max_worker_processes` (at start, and after a reload): how many slots may be used at once, at most the
    /// slot count. Lowering it terminates no one: registrations are refused (or wait) until enough workers left.
    /// Published to the slot array's limit (see `crate::bgworker::slots`, "Capacity"), so no registration counts
    /// slots.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.slots.len());
        if let Some(shm) = self.shm {
            shm.slots().header().set_limit(self.limit as u32);
        }
    }

    /// See [`Workers::set_limit`].
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Names of static workers dropped for lack of slots.
    pub fn dropped_names(&self) -> &[String] {
        &self.dropped
    }

    /// Puts every registered worker into a fresh segment (at start, and after a crash).
    pub fn install_in_segment(&mut self, shm: &'static Shmem) {
        self.shm = Some(shm);
        let slots = shm.slots();
        for (i, rw) in self.slots.iter().enumerate() {
            let generation = self.generations[i];
            let raw = rw.as_ref().map(|r| r.spec.to_slot_adopted());
            slots.init_slot(i as u32, raw.as_ref(), generation);
            shm.slot_status()[i].exit.write(&self.exits[i]);
            if let Some(rw) = rw {
                publish_notify(shm, i as u32, rw.spec.notify_pid);
                publish_state(shm, i as u32, if rw.failed { WorkerState::Failed } else { WorkerState::Registered });
            }
        }
    }

    /// Queues every registered, not running worker (at start and after a crash).
    pub fn enqueue_all(&mut self, phase: Phase) {
        for slot in 0..self.slots.len() as u32 {
            if self.slots[slot as usize].as_ref().is_some_and(|rw| rw.pid == 0) {
                self.enqueue(slot, phase);
            }
        }
    }

    fn enqueue(&mut self, slot: u32, phase: Phase) {
        let Some(rw) = self.slots[slot as usize].as_mut() else { return };
        if rw.queued || rw.pid != 0 || rw.terminate || rw.failed {
            return;
        }
        rw.queued = true;
        let state = if eligible(rw.spec.start_time, phase) {
            self.pending.push_back(slot);
            WorkerState::Pending
        } else {
            self.waiting_phase.push(slot);
            WorkerState::WaitingPhase
        };
        if let Some(shm) = self.shm {
            publish_state(shm, slot, state);
        }
    }

    /// The phase moved forward: workers waiting for it are queued.
    pub fn phase_advanced(&mut self, phase: Phase) {
        let waiting = std::mem::take(&mut self.waiting_phase);
        for slot in waiting {
            if let Some(rw) = self.slots[slot as usize].as_mut() {
                rw.queued = false;
            }
            self.enqueue(slot, phase);
        }
    }

    pub fn has_pending_launches(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next worker to launch, if any may start in this phase. A worker whose type is at its quota waits
    /// (still queued) until one of its type exits.
    pub fn next_launch(&mut self, phase: Phase) -> Option<u32> {
        while let Some(slot) = self.pending.pop_front() {
            let Some(rw) = self.slots[slot as usize].as_mut() else { continue };
            if rw.pid == 0 && !rw.terminate && eligible(rw.spec.start_time, phase) {
                // (No quota configured, the usual case: no hashing on the launch path.)
                if let Some(&quota) = (!self.quotas.is_empty()).then(|| self.quotas.get(&rw.spec.worker_type)).flatten()
                {
                    if self.running_by_type.get(&rw.spec.worker_type).copied().unwrap_or(0) >= quota {
                        self.quota_waiting.entry(rw.spec.worker_type.clone()).or_default().push_back(slot);
                        if let Some(shm) = self.shm {
                            publish_state(shm, slot, WorkerState::WaitingQuota);
                        }
                        continue;
                    }
                }
                rw.queued = false;
                return Some(slot);
            }
            rw.queued = false;
        }
        None
    }

    /// `worker_type_quota` (re)read: `type=N` pairs separated by commas. Workers held back by a quota that is
    /// now higher (or gone) are queued again. A malformed entry is logged and ignored.
    pub fn set_quotas(&mut self, text: &str) {
        let mut quotas = std::collections::HashMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.rsplit_once('=').and_then(|(t, n)| Some((t.trim(), n.trim().parse::<u32>().ok()?))) {
                Some((ty, n)) if !ty.is_empty() => {
                    quotas.insert(ty.to_owned(), n);
                }
                _ => elog::log(format!("worker_type_quota: ignoring \"{item}\" (expected type=N)")),
            }
        }
        self.quotas = quotas;
        // Count the running workers of the types with a quota (a reload may add one for a type already running).
        self.running_by_type.clear();
        for rw in self.slots.iter().flatten() {
            if rw.pid != 0 && self.quotas.contains_key(&rw.spec.worker_type) {
                *self.running_by_type.entry(rw.spec.worker_type.clone()).or_default() += 1;
            }
        }
        let types: Vec<String> = self.quota_waiting.keys().cloned().collect();
        for ty in types {
            self.release_quota_waiters(&ty);
        }
    }

    /// Queues again the workers of type `ty` its quota now lets run (in arrival order).
    fn release_quota_waiters(&mut self, ty: &str) {
        let quota = self.quotas.get(ty).copied();
        let running = self.running_by_type.get(ty).copied().unwrap_or(0);
        let mut room = quota.map_or(u32::MAX, |q| q.saturating_sub(running));
        let Some(waiting) = self.quota_waiting.get_mut(ty) else { return };
        while room > 0 {
            let Some(slot) = waiting.pop_front() else { break };
            room -= 1;
            self.pending.push_back(slot);
            if let Some(shm) = self.shm {
                publish_state(shm, slot, WorkerState::Pending);
            }
        }
        if waiting.is_empty() {
            self.quota_waiting.remove(ty);
        }
    }

    /// A shutdown began (PostgreSQL 14's rules): dynamic registrations that have not started and whose registrant
    /// waits for them (a notify pid) are forgotten, and their registrants told, so that no waiter hangs; from now
    /// on new registrations are refused the same way.
    pub fn shutdown_began(&mut self, shm: &Shmem, children: &Children) {
        self.shutting_down = true;
        for slot in 0..self.slots.len() as u32 {
            let Some(rw) = self.slots[slot as usize].as_ref() else { continue };
            if rw.pid != 0 || rw.spec.notify_pid == 0 {
                continue;
            }
            let notify_pid = rw.spec.notify_pid;
            elog::debug1_with(|| format!("forgetting unstarted background worker \"{}\": shutting down", rw.spec.name));
            self.record_end(slot, ExitReason::Shutdown);
            self.forget(slot);
            notify_slot_change(shm, children, slot, notify_pid);
        }
    }

    /// Hands room to waiting registrations (see [`crate::bgworker::wait_queue`]), oldest first, while the
    /// occupancy is below the limit; passes the waits that ended; refuses every wait once a shutdown began and
    /// the waits of registrants that are gone. O(1) when no one waits (two loads); otherwise proportional to the
    /// waits it passes.
    pub fn serve_waiters(&mut self, shm: &Shmem, children: &Children) {
        use crate::bgworker::wait_queue::Found;
        let queue = shm.wait_queue();
        let (mut head, tail) = queue.bounds();
        if head == tail {
            return;
        }
        let slots = shm.slots();
        while head != tail {
            if let Found::Waiting(pid) = queue.peek(head) {
                if self.shutting_down || !children.contains(pid) {
                    if queue.refuse(head) {
                        notify(children, pid);
                    }
                } else if !self.take_prepromised() && !slots.header().promise_room() {
                    break;
                } else if queue.grant(head) {
                    self.promised.insert(pid, head);
                    notify(children, pid);
                } else {
                    // It cancelled meanwhile.
                    slots.header().withdraw_promise();
                }
            }
            head = head.wrapping_add(1);
        }
        queue.set_head(head);
        // Rooms promised by releases that found no one left to take them (every wait had ended) go back.
        for _ in 0..std::mem::take(&mut self.prepromised) {
            slots.header().withdraw_promise();
        }
    }

    /// Takes one of the rooms a release promised to waiters ([`Workers::release_slot`]), if any.
    fn take_prepromised(&mut self) -> bool {
        let some = self.prepromised > 0;
        self.prepromised = self.prepromised.saturating_sub(1);
        some
    }

    /// Gives a slot back; while registrations wait (O(1) to know), its room is promised to the next of them in
    /// the same step, and [`Workers::serve_waiters`] hands that promise on.
    fn release_slot(&mut self, shm: &Shmem, slot: u32, parallel: bool) {
        let (head, tail) = shm.wait_queue().bounds();
        if head != tail {
            if shm.slots().release_for_waiter(slot, parallel) {
                self.prepromised += 1;
            }
        } else {
            shm.slots().release(slot, parallel);
        }
    }

    /// A child exited: a promise of room it did not collect is taken back (the next waiter gets it).
    pub fn waiter_exited(&mut self, shm: &Shmem, pid: i32) {
        if self.promised.is_empty() {
            return;
        }
        if let Some(ticket) = self.promised.remove(&pid) {
            if shm.wait_queue().reclaim(ticket) {
                elog::debug1(format!("taking back the background worker slot promised to PID {pid}: it exited"));
                shm.slots().header().withdraw_promise();
            }
        }
    }

    /// Launches are off (shutdown or crash): empty the queue and the timers.
    pub fn cancel_pending(&mut self) {
        let held: Vec<u32> = self.quota_waiting.drain().flat_map(|(_, q)| q).collect();
        for slot in self.pending.drain(..).chain(self.waiting_phase.drain(..)).chain(held) {
            if let Some(rw) = self.slots[slot as usize].as_mut() {
                rw.queued = false;
            }
        }
        self.timers.clear();
    }

    #[hot]
    pub fn raw(&self, slot: u32) -> BackgroundWorker {
        self.slots[slot as usize].as_ref().map(|r| r.spec.to_raw_adopted()).unwrap_or_else(BackgroundWorker::zeroed)
    }

    /// A slot's registration (in the ordinary heap, at an address that stays put while it is registered).
    pub fn spec(&self, slot: u32) -> Option<&WorkerSpec> {
        self.slots[slot as usize].as_ref().map(|r| &*r.spec)
    }

    /// The (library, function) a slot's worker runs.
    pub fn entry_names(&self, slot: u32) -> Option<(&str, &str)> {
        let r = self.slots[slot as usize].as_ref()?;
        Some((r.spec.library.as_str(), r.spec.function.as_str()))
    }

    /// Whether a slot's worker was registered at start-up (a static worker).
    pub fn is_static(&self, slot: u32) -> bool {
        self.slots[slot as usize].as_ref().is_some_and(|r| r.is_static)
    }

    pub fn has_shmem(&self, slot: u32) -> bool {
        self.slots[slot as usize].as_ref().is_some_and(|r| r.spec.has_flag(BGWORKER_SHMEM_ACCESS))
    }

    /// A worker was forked: publish its pid and notify its registrant (the spec's ReportBackgroundWorkerPID).
    pub fn started(&mut self, shm: &Shmem, children: &mut Children, slot: u32, pid: i32) {
        let Some(rw) = self.slots[slot as usize].as_mut() else { return };
        elog::debug1_with(|| format!("starting background worker process \"{}\"", rw.spec.name));
        rw.pid = pid;
        rw.crashed_at = None;
        rw.started_at = Some(Instant::now());
        if !self.quotas.is_empty() && self.quotas.contains_key(&rw.spec.worker_type) {
            *self.running_by_type.entry(rw.spec.worker_type.clone()).or_default() += 1;
        }
        let rw = self.slots[slot as usize].as_mut().expect("checked above");
        rw.ready = false;
        rw.start_timed_out = false;
        rw.start_due = rw.spec.options.start_timeout.map(|t| Instant::now() + t);
        if let Some(due) = rw.start_due {
            self.start_timers.push(Reverse((due, slot, rw.seq)));
        }
        let rw = self.slots[slot as usize].as_mut().expect("checked above");
        rw.launches += 1;
        shm.slots().report_pid(slot, pid);
        let status = &shm.slot_status()[slot as usize];
        status.restart_count.store(rw.launches.saturating_sub(1), Ordering::Relaxed);
        status.next_start_us.store(0, Ordering::Relaxed);
        let launches = rw.launches;
        let record = &mut self.exits[slot as usize];
        let generation = self.generations[slot as usize];
        if record.generation != generation {
            // A new registration in this slot: the previous one's record gives way.
            *record = ExitRecord { generation, ..ExitRecord::default() };
        }
        record.starts = launches;
        status.exit.write(record);
        let rw = self.slots[slot as usize].as_mut().expect("checked above");
        publish_state(shm, slot, WorkerState::Running);
        notify_slot_change(shm, children, slot, rw.spec.notify_pid);
    }

    /// fork() failed (with `errno`): try again after the restart interval (or give up on a never-restart worker).
    pub fn start_failed(&mut self, slot: u32, errno: i32) {
        let Some(rw) = self.slots[slot as usize].as_mut() else { return };
        rw.crashed_at = Some(Instant::now());
        self.record_end(slot, ExitReason::ForkFailed(errno));
        self.schedule_restart(slot);
    }

    /// The spec's BackgroundWorkerStateChange: adopt newly registered slots, act on termination requests.
    pub fn process_state_change(&mut self, shm: &'static Shmem, children: &mut Children, phase: Phase) {
        let slots = shm.slots();
        let total = slots.header().total_slots() as usize;
        if total != self.slots.len() {
            elog::log(format!(
                "inconsistent background worker state (max_worker_processes={}, total_slots={})",
                self.slots.len(),
                total
            ));
            return;
        }
        let mut changed = Vec::new();
        slots.drain_changed(|s| changed.push(s));
        for slot in changed {
            let i = slot as usize;
            if let Some(rw) = self.slots[i].as_mut() {
                // The registration cannot change after adoption, but a reset can be asked for, and the terminate
                // flag set (and a grace period given or shortened).
                let resets = slots.resets(slot);
                if resets != rw.resets_seen {
                    rw.resets_seen = resets;
                    rw.restart_times.clear();
                    rw.failures_in_a_row = 0;
                    let revive = rw.pid == 0 && !rw.terminate;
                    if rw.failed || revive {
                        elog::log(format!("background worker \"{}\" was reset; starting it again", rw.spec.name));
                    }
                    rw.failed = false;
                    if revive {
                        self.enqueue(slot, phase);
                    }
                }
                let Some(rw) = self.slots[i].as_mut() else { continue };
                let ready_pid = slots.ready_pid(slot);
                if ready_pid != 0 && ready_pid == rw.pid && !rw.ready && !rw.start_timed_out {
                    rw.ready = true;
                    rw.start_due = None;
                    elog::debug1_with(|| format!("background worker \"{}\" reported ready", rw.spec.name));
                    publish_state(shm, slot, WorkerState::Ready);
                    notify_slot_change(shm, children, slot, rw.spec.notify_pid);
                }
                if !slots.terminate_requested(slot) {
                    continue;
                }
                if !rw.terminate && !self.terminate(shm, children, slot) {
                    // Never started (or waiting to restart): reported gone already.
                    continue;
                }
                let Some(rw) = self.slots[i].as_mut() else { continue };
                if let Some(grace) = slots.kill_after_ms(slot).filter(|_| rw.pid != 0 && !rw.killed) {
                    let due = Instant::now() + Duration::from_millis(grace.into());
                    if rw.kill_due.is_none_or(|d| due < d) {
                        rw.kill_due = Some(due);
                        self.kill_timers.push(Reverse((due, slot, rw.seq)));
                    }
                }
                continue;
            }
            let Some(copy) = slots.read_slot(slot) else { continue };
            self.generations[i] = copy.generation;
            let mut spec = WorkerSpec::sanitized_from_slot(&copy.payload);
            let notify_pid = if children.contains(spec.notify_pid) { spec.notify_pid } else { 0 };
            if copy.terminate {
                // Terminated before we saw it: free the slot, and tell the registrant we did.
                self.record_end(slot, ExitReason::Terminated(i32::MIN));
                self.release_slot(shm, slot, spec.has_flag(crate::bgworker::types::BGWORKER_CLASS_PARALLEL));
                notify_slot_change(shm, children, slot, notify_pid);
                continue;
            }
            if self.shutting_down {
                // Registered after the shutdown began: refused (the registrant's wait ends, stopped).
                elog::debug1(format!("refusing background worker \"{}\": the host is shutting down", spec.name));
                self.record_end(slot, ExitReason::Shutdown);
                self.release_slot(shm, slot, spec.has_flag(crate::bgworker::types::BGWORKER_CLASS_PARALLEL));
                notify_slot_change(shm, children, slot, notify_pid);
                continue;
            }
            let checked = spec.sanity_check().and_then(|_| {
                spec.notify_pid = notify_pid;
                spec.to_raw()
            });
            if let Err(e) = checked {
                elog::log(format!("ignoring background worker registration in slot {slot}: {}", e.message));
                self.release_slot(shm, slot, spec.has_flag(crate::bgworker::types::BGWORKER_CLASS_PARALLEL));
                notify_slot_change(shm, children, slot, notify_pid);
                continue;
            }
            let bound = spec.options.bound_pid;
            if bound != 0 && !children.contains(bound) {
                // Bound to a registrant that is gone already (or never was one of ours): it must not run.
                elog::log(format!(
                    "background worker \"{}\": its registrant (PID {bound}) has exited; not starting it",
                    spec.name
                ));
                self.record_end(slot, ExitReason::Terminated(i32::MIN));
                self.release_slot(shm, slot, spec.has_flag(crate::bgworker::types::BGWORKER_CLASS_PARALLEL));
                notify_slot_change(shm, children, slot, notify_pid);
                continue;
            }
            if bound != 0 {
                if let Some(c) = children.get_mut(bound) {
                    c.bound_slots.insert(slot);
                }
            }
            if elog::enabled(Level::Debug1) {
                let claimed = WorkerSpec::sanitized_from(&copy.payload.worker).notify_pid;
                if claimed != 0 && notify_pid == 0 {
                    elog::debug1(format!("worker notification PID {claimed} is not valid"));
                }
                elog::debug1(format!("registering background worker \"{}\"", spec.name));
            }
            if notify_pid != 0 {
                if let Some(c) = children.get_mut(notify_pid) {
                    // A slot is listed once however often the registrant reuses it, so the set stays bounded by
                    // the slot count; entries whose slot moved on are skipped when the registrant exits.
                    c.notify_slots.insert(slot);
                }
            }
            let rw = self.new_registered(spec);
            self.slots[i] = Some(rw);
            publish_notify(shm, slot, notify_pid);
            publish_state(shm, slot, WorkerState::Registered);
            self.enqueue(slot, phase);
        }
    }

    /// A worker exited (the spec's CleanupBackgroundWorker). Returns the process description if this exit is a
    /// crash that must restart everything.
    pub fn worker_exited(
        &mut self,
        shm: &Shmem,
        children: &Children,
        slot: u32,
        ended: WorkerExit,
        ending: Ending,
    ) -> Option<String> {
        let WorkerExit { pid, status: exit, held_lock } = ended;
        // Launches are off during a shutdown and a crash cycle.
        let launching = ending == Ending::Running;
        let Some(rw) = self.slots[slot as usize].as_mut().filter(|rw| rw.pid == pid) else {
            notify_slot_change(shm, children, slot, 0);
            return None;
        };
        if let Some(n) =
            (!self.running_by_type.is_empty()).then(|| self.running_by_type.get_mut(&rw.spec.worker_type)).flatten()
        {
            *n = n.saturating_sub(1);
            let ty = rw.spec.worker_type.clone();
            self.release_quota_waiters(&ty);
        }
        let rw = self.slots[slot as usize].as_mut()?;
        // A terminator that signalled the worker itself may not have woken us yet: its request counts.
        if !rw.terminate && shm.slots().terminate_requested(slot) {
            rw.terminate = true;
        }
        let timed_out = std::mem::take(&mut rw.start_timed_out);
        rw.ready = false;
        rw.start_due = None;
        let name = format!("background worker \"{}\"", rw.spec.display_type());
        shm.slot_status()[slot as usize].last_exit.store(exit.as_view_code(), Ordering::Relaxed);
        let reason = if rw.terminate {
            ExitReason::Terminated(exit.as_view_code())
        } else if timed_out {
            ExitReason::StartTimeout
        } else if ending == Ending::CrashCycle {
            ExitReason::CrashCycle
        } else if ending == Ending::Shutdown {
            ExitReason::Shutdown
        } else {
            match exit {
                ExitStatus::Signal(s) => ExitReason::Signal(s),
                other => ExitReason::Code(other.as_view_code()),
            }
        };
        self.record_end(slot, reason);
        let rw = self.slots[slot as usize].as_mut().expect("checked above");
        if exit.is_code(0) {
            // Zero exit status means terminate.
            rw.crashed_at = None;
            rw.terminate = true;
        } else {
            rw.crashed_at = Some(Instant::now());
        }
        rw.pid = 0;
        rw.kill_due = None;
        // A run that lasted at least the backoff's maximum was a success: the next failure starts over.
        if let (Some(b), Some(t)) = (rw.spec.options.backoff, rw.started_at) {
            if t.elapsed() >= b.max {
                rw.failures_in_a_row = 0;
            }
        }
        if rw.spec.has_flag(BGWORKER_SHMEM_ACCESS) && !exit.is_code(0) && !exit.is_code(1) {
            // A worker the host killed after its grace period is not a crash if it held no host lock: what it
            // could have left half-written is then only its own (its process entry, cleared on exit, and its
            // latch). Holding one, it may have left shared state inconsistent: the crash cycle runs, as
            // PostgreSQL's would for any death by a signal.
            let killed_clean = rw.killed && exit == ExitStatus::Signal(libc::SIGKILL) && !held_lock;
            if !killed_clean {
                if rw.killed {
                    elog::log(format!(
                        "{name} (PID {pid}) was killed after its grace period while holding a host lock"
                    ));
                }
                // Not reported as stopped: the crash cycle decides what happens to it.
                return Some(name);
            }
        }
        let notify_pid = rw.spec.notify_pid;
        shm.slots().report_pid(slot, 0);
        if rw.terminate || rw.spec.restart == Restart::Never {
            // Unregister before notifying, so a registrant that reuses the slot at once finds it free.
            self.forget(slot);
        } else if launching {
            self.schedule_restart(slot);
        } else {
            // Shutting down (or in a crash cycle): registered, not running, no restart scheduled.
            publish_state(shm, slot, WorkerState::Registered);
        }
        log_child_exit(if exit.is_code(0) { Level::Debug1 } else { Level::Log }, &name, pid, exit);
        notify_slot_change(shm, children, slot, notify_pid);
        None
    }

    /// Records why `slot`'s run ended, here and in the segment.
    fn record_end(&mut self, slot: u32, reason: ExitReason) {
        let generation = self.generations[slot as usize];
        let record = &mut self.exits[slot as usize];
        if record.generation != generation {
            *record = ExitRecord { generation, ..ExitRecord::default() };
        }
        let (code, detail) = reason.parts();
        record.reason = code;
        record.detail = detail;
        record.ended_at_us = crate::elog::now_us();
        if let Some(shm) = self.shm {
            shm.slot_status()[slot as usize].exit.write(record);
        }
    }

    fn schedule_restart(&mut self, slot: u32) {
        let Some(rw) = self.slots[slot as usize].as_mut() else { return };
        match rw.spec.restart {
            Restart::Never => {
                let notify_pid = rw.spec.notify_pid;
                self.forget(slot);
                if notify_pid != 0 {
                    crate::sys::signals::send(notify_pid, libc::SIGUSR1);
                }
            }
            Restart::After { seconds } => {
                let now = Instant::now();
                if let Some(g) = rw.spec.options.give_up {
                    while rw.restart_times.front().is_some_and(|t| now.duration_since(*t) >= g.window) {
                        rw.restart_times.pop_front();
                    }
                    if rw.restart_times.len() as u32 >= g.restarts {
                        // More restarts within the window than the policy allows: give up (OTP's intensity,
                        // systemd's StartLimitBurst), until a reset.
                        rw.failed = true;
                        let notify_pid = rw.spec.notify_pid;
                        elog::Report::new(
                            Level::Log,
                            format!("background worker \"{}\": gave up restarting it", rw.spec.name),
                        )
                        .detail(format!(
                            "It was restarted {} times within {} s, the most its restart policy allows.",
                            g.restarts,
                            g.window.as_secs_f64()
                        ))
                        .hint("bgw_reset(handle) or `bgw reset HANDLE` lets it run again.")
                        .emit();
                        self.record_end(slot, ExitReason::GaveUp);
                        if let Some(shm) = self.shm {
                            publish_state(shm, slot, WorkerState::Failed);
                            shm.slot_status()[slot as usize].next_start_us.store(0, Ordering::Relaxed);
                        }
                        if notify_pid != 0 {
                            crate::sys::signals::send(notify_pid, libc::SIGUSR1);
                        }
                        return;
                    }
                    rw.restart_times.push_back(now);
                }
                rw.failures_in_a_row = rw.failures_in_a_row.saturating_add(1);
                let delay = match (rw.spec.options.backoff_delay(rw.failures_in_a_row), rw.spec.options.backoff) {
                    (Some(d), Some(b)) => {
                        let x = next_jitter(&mut self.jitter_state);
                        let spread = (x * 2.0 - 1.0) * (b.jitter_milli as f64 / 1000.0);
                        Duration::from_secs_f64((d.as_secs_f64() * (1.0 + spread)).max(0.0))
                    }
                    _ => Duration::from_secs(seconds.max(0) as u64),
                };
                let rw = self.slots[slot as usize].as_mut().expect("checked above");
                let due = rw.crashed_at.unwrap_or(now) + delay;
                self.timers.push(Reverse((due, slot, rw.seq)));
                if let Some(shm) = self.shm {
                    publish_state(shm, slot, WorkerState::WaitingRestart);
                    let at = crate::elog::now_us() + due.saturating_duration_since(now).as_micros() as i64;
                    shm.slot_status()[slot as usize].next_start_us.store(at, Ordering::Relaxed);
                }
            }
        }
    }

    /// Ends the workers that missed their start timeout (SIGTERM, SIGKILL after a grace period); a failed
    /// start, counted by the restart policy like any other.
    fn process_start_timers(&mut self, now: Instant) {
        while let Some((due, slot, seq)) = pop_due(&mut self.start_timers, now) {
            let Some(rw) = self.slots[slot as usize].as_mut() else { continue };
            if rw.seq != seq || rw.pid == 0 || rw.ready || rw.start_due != Some(due) {
                continue;
            }
            rw.start_timed_out = true;
            rw.start_due = None;
            let timeout = rw.spec.options.start_timeout.unwrap_or_default();
            elog::log(format!(
                "background worker \"{}\" (PID {}) did not report ready within its start timeout of {} s; terminating it",
                rw.spec.name,
                rw.pid,
                timeout.as_secs_f64()
            ));
            crate::sys::signals::send(rw.pid, libc::SIGTERM);
            let kill_at = now + START_TIMEOUT_GRACE;
            if rw.kill_due.is_none_or(|d| kill_at < d) {
                rw.kill_due = Some(kill_at);
                self.kill_timers.push(Reverse((kill_at, slot, rw.seq)));
            }
        }
    }

    /// SIGKILLs the workers whose termination grace period has passed (and ends those past their start
    /// timeout).
    pub fn process_kill_timers(&mut self, now: Instant) {
        self.process_start_timers(now);
        while let Some((due, slot, seq)) = pop_due(&mut self.kill_timers, now) {
            let Some(rw) = self.slots[slot as usize].as_mut() else { continue };
            if rw.seq != seq || rw.pid == 0 || rw.killed || rw.kill_due != Some(due) {
                continue;
            }
            rw.killed = true;
            elog::log(format!(
                "background worker \"{}\" (PID {}) did not exit within its termination grace period; sending SIGKILL",
                rw.spec.name, rw.pid
            ));
            crate::sys::signals::send(rw.pid, libc::SIGKILL);
        }
    }

    /// Queues workers whose restart interval has passed.
    pub fn process_restart_timers(&mut self, now: Instant, phase: Phase) {
        while let Some((_, slot, seq)) = pop_due(&mut self.timers, now) {
            if self.slots[slot as usize].as_ref().is_some_and(|rw| rw.seq == seq && rw.pid == 0) {
                self.enqueue(slot, phase);
            }
        }
    }

    /// Milliseconds until the next restart or grace-period kill is due (rounded up), if any.
    pub fn next_timer_delay_ms(&self) -> Option<i64> {
        let due = [&self.timers, &self.kill_timers, &self.start_timers]
            .into_iter()
            .filter_map(|heap| heap.peek().map(|Reverse((due, _, _))| *due))
            .min()?;
        let left = due.saturating_duration_since(Instant::now());
        Some(left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i64)
    }

    /// A registrant exited: the workers bound to it (and still registered by it) are terminated, as by
    /// `TerminateBackgroundWorker`.
    pub fn registrant_exited(
        &mut self,
        shm: &Shmem,
        children: &Children,
        pid: i32,
        bound_slots: &super::children::SlotSet,
    ) {
        for &slot in bound_slots {
            let Some(rw) = self.slots[slot as usize].as_mut() else { continue };
            if rw.spec.options.bound_pid != pid || rw.terminate {
                continue;
            }
            elog::log(format!(
                "background worker \"{}\": its registrant (PID {pid}) exited; terminating it",
                rw.spec.name
            ));
            self.terminate(shm, children, slot);
        }
    }

    /// The spec's termination of an adopted worker: SIGTERM if it runs (true: it is still registered, state
    /// `terminating`); otherwise (never started, or waiting to restart) it is forgotten and reported gone at once
    /// (false).
    fn terminate(&mut self, shm: &Shmem, children: &Children, slot: u32) -> bool {
        let Some(rw) = self.slots[slot as usize].as_mut() else { return false };
        rw.terminate = true;
        if rw.pid != 0 {
            // Unless the terminator signalled it itself (see `bgworker::slots` on `signal_pid`).
            if shm.slots().signalled_pid(slot) != rw.pid {
                crate::sys::signals::send(rw.pid, libc::SIGTERM);
            }
            publish_state(shm, slot, WorkerState::Terminating);
            return true;
        }
        let notify_pid = rw.spec.notify_pid;
        self.record_end(slot, ExitReason::Terminated(i32::MIN));
        self.forget(slot);
        notify_slot_change(shm, children, slot, notify_pid);
        false
    }

    /// A child exited: workers it asked to be notified about stop notifying it.
    pub fn stop_notifications(&mut self, pid: i32, notify_slots: &super::children::SlotSet, shm: Option<&Shmem>) {
        for &slot in notify_slots {
            if let Some(rw) = self.slots[slot as usize].as_mut() {
                if rw.spec.notify_pid == pid {
                    rw.spec.notify_pid = 0;
                    if let Some(shm) = shm {
                        publish_notify(shm, slot, 0);
                    }
                }
            }
        }
    }

    /// Releases a slot and forgets its worker (the spec's ForgetBackgroundWorker).
    fn forget(&mut self, slot: u32) {
        let Some(rw) = self.slots[slot as usize].take() else { return };
        if let Some(shm) = self.shm {
            self.release_slot(shm, slot, rw.spec.has_flag(crate::bgworker::types::BGWORKER_CLASS_PARALLEL));
            publish_state(shm, slot, WorkerState::Free);
        }
        elog::debug1_with(|| format!("unregistering background worker \"{}\"", rw.spec.name));
    }

    /// After every child died in a crash: forget never-restart and terminated workers; the others restart at
    /// once in the new cycle (the spec's ResetBackgroundWorkerCrashTimes).
    pub fn reset_after_crash(&mut self) {
        self.shm = None;
        self.pending.clear();
        self.waiting_phase.clear();
        self.timers.clear();
        self.kill_timers.clear();
        self.start_timers.clear();
        self.running_by_type.clear();
        self.quota_waiting.clear();
        self.promised.clear();
        self.prepromised = 0;
        for slot in self.slots.iter_mut() {
            // Workers bound to a registrant go with it: every registrant died in the crash.
            let keep = slot
                .as_ref()
                .is_some_and(|rw| rw.spec.restart != Restart::Never && !rw.terminate && rw.spec.options.bound_pid == 0);
            if !keep {
                if let Some(rw) = slot.take() {
                    elog::debug1_with(|| format!("unregistering background worker \"{}\"", rw.spec.name));
                }
                continue;
            }
            if let Some(rw) = slot.as_mut() {
                rw.crashed_at = None;
                rw.pid = 0;
                rw.queued = false;
                rw.kill_due = None;
                rw.killed = false;
                rw.started_at = None;
                rw.resets_seen = 0;
                rw.ready = false;
                rw.start_due = None;
                rw.start_timed_out = false;
                rw.spec.notify_pid = 0;
            }
        }
    }
}

/// The earliest timer of `heap` if it is due at `now`, taken off the heap.
fn pop_due(heap: &mut BinaryHeap<Reverse<(Instant, u32, u64)>>, now: Instant) -> Option<(Instant, u32, u64)> {
    match heap.peek() {
        Some(Reverse((due, _, _))) if *due <= now => heap.pop().map(|Reverse(t)| t),
        _ => None,
    }
}

/// The next number in [0, 1) of the jitter generator (xorshift64*).
fn next_jitter(state: &mut u64) -> f64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

fn publish_state(shm: &Shmem, slot: u32, state: WorkerState) {
    if let Some(s) = shm.slot_status().get(slot as usize) {
        s.state.store(state as u32, Ordering::Relaxed);
    }
}

fn publish_notify(shm: &Shmem, slot: u32, pid: i32) {
    if let Some(s) = shm.slot_status().get(slot as usize) {
        s.notify_pid.store(pid, Ordering::Relaxed);
    }
}

/// After a change to `slot` has been published: signal its registrant (`bgw_notify_pid`, 0 for none) and every
/// process watching the slot, each once (a registrant that waits on its own handle is on both lists), and only our
/// own children.
pub fn notify_slot_change(shm: &Shmem, children: &Children, slot: u32, registrant: i32) {
    notify(children, registrant);
    if let Some(w) = shm.watchers(slot) {
        w.for_each_after_publish(|pid| {
            if pid != registrant {
                notify(children, pid)
            }
        });
    }
}

/// Signals a registrant, only if it is one of our children.
fn notify(children: &Children, pid: i32) {
    if children.contains(pid) {
        crate::sys::signals::send(pid, libc::SIGUSR1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgworker::types::{BGW_EXTRALEN, BGW_MAXLEN, MAXPGPATH};
    use crate::shmem::Segment;

    /// A segment of 4 slots in this process, and an empty child table.
    fn setup() -> (Segment, Workers, Children) {
        let seg = Segment::create(4, 8, 0, std::process::id() as i32, 0).unwrap();
        let mut workers = Workers::new(4);
        workers.install_in_segment(seg.shmem());
        (seg, workers, Children::new(8))
    }

    #[test]
    fn a_corrupted_registration_fails_alone() {
        let (seg, mut workers, mut children) = setup();
        let shm = seg.shmem();
        // A child scribbled garbage into a registration: no terminators, absurd flags and restart time, a notify
        // pid that is not ours.
        let junk = BackgroundWorker {
            bgw_name: [0xfe; BGW_MAXLEN],
            bgw_type: [b'x'; BGW_MAXLEN],
            bgw_flags: -1,
            bgw_start_time: 1234,
            bgw_restart_time: -99,
            bgw_library_name: [0x80; MAXPGPATH],
            bgw_function_name: [b'f'; BGW_MAXLEN],
            bgw_main_arg: usize::MAX,
            bgw_extra: [0xff; BGW_EXTRALEN],
            bgw_notify_pid: 1,
        };
        let junk = crate::bgworker::types::SlotRegistration {
            worker: junk,
            options: crate::bgworker::options::RawRunOptions {
                backoff_initial_ms: u32::MAX,
                backoff_max_ms: 1,
                backoff_factor_milli: u32::MAX,
                backoff_jitter_milli: u32::MAX,
                give_up_restarts: u32::MAX,
                give_up_window_ms: u32::MAX,
                start_timeout_ms: u32::MAX,
                bound_pid: -1,
                reserved: [u32::MAX; 4],
            },
        };
        let good = WorkerSpec::new("fine", "bgw", "sleeper").to_slot().unwrap();
        assert!(matches!(shm.slots().register(&junk, 8), crate::bgworker::slots::RegisterOutcome::Registered { .. }));
        assert!(matches!(shm.slots().register(&good, 8), crate::bgworker::slots::RegisterOutcome::Registered { .. }));
        workers.process_state_change(shm, &mut children, Phase::Run);
        // The junk slot is refused and freed; the good one is adopted and queued.
        assert!(shm.slots().read_slot(0).is_none(), "the corrupted slot was not released");
        assert!(workers.slots[0].is_none());
        let rw = workers.slots[1].as_ref().expect("the good registration was adopted");
        assert_eq!(rw.spec.name, "fine");
        assert_eq!(workers.next_launch(Phase::Run), Some(1));
        assert_eq!(workers.next_launch(Phase::Run), None);
    }

    #[test]
    fn an_exit_while_not_launching_is_not_shown_running() {
        let (seg, mut workers, mut children) = setup();
        let shm = seg.shmem();
        let mut spec = WorkerSpec::new("r", "bgw", "sleeper");
        spec.restart = Restart::After { seconds: 5 };
        shm.slots().register(&spec.to_slot().unwrap(), 8);
        workers.process_state_change(shm, &mut children, Phase::Run);
        // A pid no process has (pid_max is at most 2^22), never signalled here: the worker has no notify pid.
        let pid = 1 << 23;
        workers.started(shm, &mut children, 0, pid);
        let state = || WorkerState::from_u32(shm.slot_status()[0].state.load(Ordering::Relaxed));
        assert_eq!(state(), WorkerState::Running);
        // During a shutdown (not launching) it stays registered, without a restart, and is not shown running.
        assert_eq!(
            workers.worker_exited(
                shm,
                &children,
                0,
                WorkerExit { pid, status: ExitStatus::Code(1), held_lock: false },
                Ending::Shutdown
            ),
            None
        );
        assert!(workers.slots[0].is_some());
        assert_eq!(state(), WorkerState::Registered);
    }

    #[test]
    fn a_crash_cycle_keeps_only_restartable_workers_and_forgets_their_registrants() {
        // The spec's ResetBackgroundWorkerCrashTimes and BackgroundWorkerShmemInit after a crash: never-restart
        // and terminated workers are forgotten; the others are kept, due at once, with bgw_notify_pid 0 (their
        // registrants died in the crash).
        let (seg, mut workers, mut children) = setup();
        let shm = seg.shmem();
        // A registrant that is one of our children (a pid no process has: it is never signalled for real here).
        let registrant = 1 << 23;
        children.insert(
            registrant,
            super::super::children::Child {
                kind: super::super::children::ChildKind::Backend,
                proc_no: None,
                shmem: true,
                notify_slots: Default::default(),
                bound_slots: Default::default(),
                watched: true,
                tcp: false,
                evicted: false,
            },
        );
        let spec = |name: &str, restart: Restart| {
            let mut w = WorkerSpec::new(name, "bgw", "sleeper");
            w.restart = restart;
            w.notify_pid = registrant;
            shm.slots().register(&w.to_slot().unwrap(), 8);
        };
        spec("kept", Restart::After { seconds: 60 });
        spec("never", Restart::Never);
        spec("terminated", Restart::After { seconds: 60 });
        workers.process_state_change(shm, &mut children, Phase::Run);
        let slot_of = |w: &Workers, name: &str| {
            w.slots.iter().position(|s| s.as_ref().is_some_and(|rw| rw.spec.name == name)).map(|i| i as u32)
        };
        let terminated = slot_of(&workers, "terminated").unwrap();
        workers.slots[terminated as usize].as_mut().unwrap().terminate = true;
        assert_eq!(workers.spec(slot_of(&workers, "kept").unwrap()).unwrap().notify_pid, registrant);
        // Kept's last exit was a crash a moment ago: without the reset it would wait out its 60 s.
        let kept = slot_of(&workers, "kept").unwrap() as usize;
        workers.slots[kept].as_mut().unwrap().crashed_at = Some(Instant::now());

        workers.reset_after_crash();
        assert_eq!(slot_of(&workers, "never"), None);
        assert_eq!(slot_of(&workers, "terminated"), None);
        let kept = slot_of(&workers, "kept").expect("a restartable worker survives the crash cycle");
        let rw = workers.slots[kept as usize].as_ref().unwrap();
        assert_eq!((rw.spec.notify_pid, rw.pid, rw.crashed_at), (0, 0, None));
        assert_eq!(rw.spec.to_raw_adopted().bgw_notify_pid, 0);
    }

    #[test]
    fn a_foreign_notify_pid_is_never_kept() {
        let (seg, mut workers, mut children) = setup();
        let shm = seg.shmem();
        let mut spec = WorkerSpec::new("n", "bgw", "sleeper");
        spec.notify_pid = 1; // init: not one of our children
        shm.slots().register(&spec.to_slot().unwrap(), 8);
        workers.process_state_change(shm, &mut children, Phase::Run);
        let rw = workers.slots[0].as_ref().unwrap();
        assert_eq!(rw.spec.notify_pid, 0);
        assert_eq!(rw.spec.to_raw_adopted().bgw_notify_pid, 0);
    }

    #[test]
    fn an_inconsistent_slot_count_is_logged_not_trusted() {
        let (seg, mut workers, mut children) = setup();
        let shm = seg.shmem();
        shm.slots().register(&WorkerSpec::new("w", "bgw", "sleeper").to_slot().unwrap(), 8);
        // The postmaster's own notion of the slot count differs from shared memory's.
        let mut other = Workers::new(3);
        other.process_state_change(shm, &mut children, Phase::Run);
        assert!(other.slots.iter().all(|s| s.is_none()));
        workers.process_state_change(shm, &mut children, Phase::Run);
        assert!(workers.slots[0].is_some());
    }

    #[test]
    fn static_registration_checks_and_limits() {
        let mut w = Workers::new(1);
        let mut bad = WorkerSpec::new("bad", "bgw", "sleeper");
        bad.restart = Restart::After { seconds: -5 };
        w.register_static(bad);
        let mut notify = WorkerSpec::new("notify", "bgw", "sleeper");
        notify.notify_pid = 42;
        w.register_static(notify);
        w.register_static(WorkerSpec::new("one", "bgw", "sleeper"));
        w.register_static(WorkerSpec::new("two", "bgw", "sleeper"));
        assert_eq!(w.slots[0].as_ref().map(|r| r.spec.name.as_str()), Some("one"));
        assert_eq!(w.dropped_names(), ["two".to_string()]);
    }
}
