//! The host's shared memory segment: what it holds, where, and how processes reach it.
//!
//! The postmaster creates one segment ([`Segment::create`]) before it forks anything, and a new one in every
//! crash-and-restart cycle; children inherit the mapping across `fork` and reach it through [`attached`]. Workers
//! without shared-memory access unmap it at start ([`detach`]) and from then on cannot touch it.
//!
//! Layout (each part aligned to 64 bytes):
//!
//! 1. [`ShmemHeader`]: identity, the postmaster's pid and start time, postmaster signal flags, published state
//!    and settings, the list of static workers dropped for lack of slots.
//! 2. The worker slot array ([`crate::bgworker::slots`]): its header, `max_worker_processes` slots, change and
//!    free-slot bitmaps.
//! 3. [`SlotStatus`] per slot: what the postmaster publishes about each registered worker for `bgw_workers`.
//! 4. A [`WatchList`] per slot: processes waiting on a handle they did not register; then the queue of
//!    registrations waiting for a free slot ([`crate::bgworker::wait_queue`]).
//! 5. [`ProcEntry`] per child process (backends, workers, the startup process): pid, kind, activity; the data
//!    behind `pg_stat_activity`.
//!
//! 6. The modules' named areas ([`addin`]): a directory, then the space `shared_preload_libraries` requested.

pub mod addin;
pub mod notify;
pub mod phase;
pub mod procs;

use crate::bgworker::slots::{bitmap_words, ArrayHeader, Bitmaps, Slot, SlotArray};
use crate::bgworker::types::SlotRegistration;
use crate::bgworker::types::BGW_MAXLEN;
use crate::bgworker::wait_queue::{QueueHeader, WaitEntry, WaitQueue};
use crate::bgworker::watch::WatchList;
use crate::sync::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};
use crate::sys::shm::SharedMapping;
use bgw_macros::hot;
pub use phase::Phase;
use procs::ProcEntry;
use std::sync::atomic::AtomicPtr;

const MAGIC: u64 = 0x6267_7773_686d_0001; // "bgwshm" v1

/// How many static workers dropped for lack of slots are remembered for `bgw ps`.
pub const MAX_DROPPED: usize = 32;

/// Postmaster signal reasons: a child sets the bit, then sends SIGUSR1 to the postmaster, which swaps the word to
/// zero and handles every bit it found (the counterpart of PostgreSQL's pmsignal).
pub mod pmsignal {
    /// A slot was registered or marked for termination.
    pub const BACKGROUND_WORKER_CHANGE: u32 = 1 << 0;
    /// The startup process reached a consistent state.
    pub const RECOVERY_CONSISTENT: u32 = 1 << 1;
}

/// The segment header. The postmaster writes everything here; children read it.
#[repr(C)]
pub struct ShmemHeader {
    magic: AtomicU64,
    pub postmaster_pid: AtomicI32,
    /// Microseconds since the Unix epoch when the postmaster started.
    pub start_time_us: AtomicI64,
    /// Reasons children have signalled the postmaster for (see [`pmsignal`]).
    pub pm_signal_flags: AtomicU32,
    /// The postmaster's published phase (a [`Phase`] as u32; see [`phase`] for who writes and reads it).
    pub phase: AtomicU32,
    /// `max_parallel_workers` as the postmaster last loaded it (registrants enforce it).
    pub max_parallel_workers: AtomicU32,
    /// Static registrations dropped at start ("too many background workers").
    pub dropped_count: AtomicU32,
    /// Authenticated client sessions (see [`procs`] for who writes them).
    pub sessions: procs::Sessions,
    dropped_names: [[AtomicU8x; BGW_MAXLEN]; MAX_DROPPED],
}

/// A byte that other processes may read while the postmaster writes it.
pub type AtomicU8x = std::sync::atomic::AtomicU8;

impl ShmemHeader {
    /// Records a dropped static registration's name (postmaster, at start).
    pub fn record_dropped(&self, name: &str) {
        let i = self.dropped_count.load(Ordering::Relaxed) as usize;
        if i >= MAX_DROPPED {
            return;
        }
        let bytes = name.as_bytes();
        for (j, cell) in self.dropped_names[i].iter().enumerate() {
            cell.store(if j + 1 < BGW_MAXLEN { bytes.get(j).copied().unwrap_or(0) } else { 0 }, Ordering::Relaxed);
        }
        self.dropped_count.store(i as u32 + 1, Ordering::Release);
    }

    /// Names of dropped static registrations.
    pub fn dropped(&self) -> Vec<String> {
        let n = (self.dropped_count.load(Ordering::Acquire) as usize).min(MAX_DROPPED);
        (0..n)
            .map(|i| {
                let bytes: Vec<u8> = self.dropped_names[i].iter().map(|c| c.load(Ordering::Relaxed)).collect();
                crate::bgworker::types::ascii_safe(&bytes)
            })
            .collect()
    }
}

/// What the postmaster publishes about each slot's registered worker. Written only by the postmaster, read racily
/// by anyone (a torn combination is possible and harmless: it is for display).
#[repr(C)]
pub struct SlotStatus {
    /// A `WorkerState` as u32.
    pub state: AtomicU32,
    pub restart_count: AtomicU32,
    /// Last exit code; i32::MIN = none yet; negative = killed by signal (-signo).
    pub last_exit: AtomicI32,
    pub notify_pid: AtomicI32,
    /// Why the slot's last run ended, for the registration of the generation it names (the postmaster writes,
    /// under the cell's sequence lock; see [`crate::bgworker::exit_record`]).
    pub exit: crate::bgworker::exit_record::ExitCell,
    /// When a worker waiting to restart starts again, microseconds since the Unix epoch (0: not waiting).
    pub next_start_us: AtomicI64,
}

/// Published worker states (the `state` column of `bgw_workers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum WorkerState {
    Free = 0,
    /// Registered, waiting for the postmaster to notice it.
    Registered = 1,
    /// Waiting for its start phase.
    WaitingPhase = 2,
    /// Queued for launch.
    Pending = 3,
    Running = 4,
    /// Exited with code 1; waiting out the restart interval.
    WaitingRestart = 5,
    /// Terminate requested; waiting for the process to exit.
    Terminating = 6,
    /// Its restart policy gave up on it: not restarted until reset.
    Failed = 7,
    /// Running, and it reported ready.
    Ready = 8,
    /// Queued, waiting for a worker of its type to exit (`worker_type_quota`).
    WaitingQuota = 9,
}

impl WorkerState {
    pub fn from_u32(v: u32) -> WorkerState {
        match v {
            1 => WorkerState::Registered,
            2 => WorkerState::WaitingPhase,
            3 => WorkerState::Pending,
            4 => WorkerState::Running,
            5 => WorkerState::WaitingRestart,
            6 => WorkerState::Terminating,
            7 => WorkerState::Failed,
            8 => WorkerState::Ready,
            9 => WorkerState::WaitingQuota,
            _ => WorkerState::Free,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Free => "free",
            WorkerState::Registered => "registered",
            WorkerState::WaitingPhase => "waiting_for_phase",
            WorkerState::Pending => "starting",
            WorkerState::Running => "running",
            WorkerState::WaitingRestart => "waiting_restart",
            WorkerState::Terminating => "terminating",
            WorkerState::Failed => "failed",
            WorkerState::Ready => "ready",
            WorkerState::WaitingQuota => "waiting_quota",
        }
    }
}

/// Offsets of the parts of a segment.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub max_workers: usize,
    pub max_procs: usize,
    header: usize,
    array_header: usize,
    slots: usize,
    changed: usize,
    summary: usize,
    free: usize,
    free_summary: usize,
    status: usize,
    watchers: usize,
    wait_queue: usize,
    wait_entries: usize,
    procs: usize,
    addin: usize,
    notify: usize,
    /// Bytes of data space for modules' named areas.
    pub addin_capacity: usize,
    pub total: usize,
}

/// Entries of the wait queue: every process may wait once, and as many positions again may hold waits that ended
/// but were not yet passed by the postmaster.
fn wait_capacity(max_procs: usize) -> usize {
    max_procs.max(8) * 2
}

fn align(x: usize) -> usize {
    x.div_ceil(64) * 64
}

impl Layout {
    pub fn new(max_workers: usize, max_procs: usize, addin_capacity: usize) -> Layout {
        let (changed_words, summary_words) = bitmap_words(max_workers);
        let header = 0;
        let array_header = align(header + std::mem::size_of::<ShmemHeader>());
        let slots = align(array_header + std::mem::size_of::<ArrayHeader>());
        let changed = align(slots + max_workers * std::mem::size_of::<Slot<SlotRegistration>>());
        let summary = align(changed + changed_words * 8);
        let free = align(summary + summary_words * 8);
        let free_summary = align(free + changed_words * 8);
        let status = align(free_summary + summary_words * 8);
        let watchers = align(status + max_workers * std::mem::size_of::<SlotStatus>());
        let wait_queue = align(watchers + max_workers * std::mem::size_of::<WatchList>());
        let wait_entries = align(wait_queue + std::mem::size_of::<QueueHeader>());
        let procs = align(wait_entries + wait_capacity(max_procs) * std::mem::size_of::<WaitEntry>());
        let addin = align(procs + max_procs * std::mem::size_of::<ProcEntry>());
        let notify = align(addin + addin::region_size(addin_capacity));
        let total = align(notify + std::mem::size_of::<notify::NotifyQueue>());
        Layout {
            max_workers,
            max_procs,
            header,
            array_header,
            slots,
            changed,
            summary,
            free,
            free_summary,
            status,
            watchers,
            wait_queue,
            wait_entries,
            procs,
            addin,
            notify,
            addin_capacity,
            total,
        }
    }
}

/// A process's view of the segment.
pub struct Shmem {
    base: *mut u8,
    pub layout: Layout,
}

// SAFETY: everything reachable through Shmem is atomics, UnsafeCells accessed under documented protocols, or the
// robust lock; the raw base pointer itself is only used to derive those references.
unsafe impl Sync for Shmem {}
// SAFETY: as above.
unsafe impl Send for Shmem {}

impl Shmem {
    fn part<T>(&self, offset: usize) -> *mut T {
        // SAFETY: offsets come from Layout and lie within the mapping of `layout.total` bytes.
        unsafe { self.base.add(offset) as *mut T }
    }

    pub fn header(&self) -> &ShmemHeader {
        // SAFETY: the header is at offset 0 of a live mapping, 64-aligned, and made of atomics.
        unsafe { &*self.part::<ShmemHeader>(self.layout.header) }
    }

    /// The worker slot array.
    pub fn slots(&self) -> SlotArray<'_, SlotRegistration> {
        let (cw, sw) = bitmap_words(self.layout.max_workers);
        // SAFETY: each part lies within the mapping at an aligned offset computed by Layout for these lengths; the
        // types consist of atomics, a robust lock and UnsafeCell payloads governed by the slot protocol.
        unsafe {
            SlotArray::new(
                &*self.part::<ArrayHeader>(self.layout.array_header),
                std::slice::from_raw_parts(
                    self.part::<Slot<SlotRegistration>>(self.layout.slots),
                    self.layout.max_workers,
                ),
                Bitmaps {
                    changed: std::slice::from_raw_parts(self.part::<AtomicU64>(self.layout.changed), cw),
                    summary: std::slice::from_raw_parts(self.part::<AtomicU64>(self.layout.summary), sw),
                    free: std::slice::from_raw_parts(self.part::<AtomicU64>(self.layout.free), cw),
                    free_summary: std::slice::from_raw_parts(self.part::<AtomicU64>(self.layout.free_summary), sw),
                },
            )
        }
    }

    /// Published status of each slot.
    pub fn slot_status(&self) -> &[SlotStatus] {
        // SAFETY: as in `slots`; SlotStatus is all atomics.
        unsafe { std::slice::from_raw_parts(self.part::<SlotStatus>(self.layout.status), self.layout.max_workers) }
    }

    /// The watchers of a slot (see [`crate::bgworker::watch`]).
    pub fn watchers(&self, slot: u32) -> Option<&WatchList> {
        // SAFETY: as in `slots`; WatchList is all atomics, and zeroed memory is an empty list.
        let all = unsafe {
            std::slice::from_raw_parts(self.part::<WatchList>(self.layout.watchers), self.layout.max_workers)
        };
        all.get(slot as usize)
    }

    /// Registrations waiting for a free slot (see [`crate::bgworker::wait_queue`]).
    pub fn wait_queue(&self) -> WaitQueue<'_> {
        // SAFETY: as in `slots`; the header and entries are atomics, and zeroed memory is an empty queue.
        unsafe {
            WaitQueue::new(
                &*self.part::<QueueHeader>(self.layout.wait_queue),
                std::slice::from_raw_parts(
                    self.part::<WaitEntry>(self.layout.wait_entries),
                    wait_capacity(self.layout.max_procs),
                ),
            )
        }
    }

    /// The directory of modules' named areas.
    #[hot]
    pub fn addin(&self) -> &addin::AddinHeader {
        // SAFETY: the addin region lies within the mapping at an aligned offset computed by Layout; its header is a
        // robust lock, atomics and an UnsafeCell directory accessed under that lock.
        unsafe { &*self.part::<addin::AddinHeader>(self.layout.addin) }
    }

    /// The NOTIFY/LISTEN queue.
    pub fn notify_queue(&self) -> &notify::NotifyQueue {
        // SAFETY: the queue lies within the mapping at an aligned offset computed by Layout; it is a robust lock,
        // atomics and UnsafeCell entries under the queue's seqlock protocol.
        unsafe { &*self.part::<notify::NotifyQueue>(self.layout.notify) }
    }

    /// The per-process entries.
    pub fn procs(&self) -> &[ProcEntry] {
        // SAFETY: as in `slots`; ProcEntry is atomics plus UnsafeCells under its change-count protocol.
        unsafe { std::slice::from_raw_parts(self.part::<ProcEntry>(self.layout.procs), self.layout.max_procs) }
    }

    /// Sets a postmaster signal reason and wakes the postmaster.
    pub fn signal_postmaster(&self, reason: u32) {
        let h = self.header();
        h.pm_signal_flags.fetch_or(reason, Ordering::Release);
        crate::sys::signals::send(h.postmaster_pid.load(Ordering::Relaxed), libc::SIGUSR1);
    }
}

/// The segment as the postmaster owns it.
pub struct Segment {
    mapping: SharedMapping,
    shmem: &'static Shmem,
}

static ATTACHED: AtomicPtr<Shmem> = AtomicPtr::new(std::ptr::null_mut());

/// This process's view of the current segment, if attached.
#[hot]
pub fn attached() -> Option<&'static Shmem> {
    let p = ATTACHED.load(std::sync::atomic::Ordering::Acquire);
    // SAFETY: ATTACHED only ever holds null or a leaked Shmem that is never freed.
    unsafe { p.as_ref() }
}

/// Unmaps the segment in this process (workers without shared-memory access, at start).
#[hot]
pub fn detach() {
    if let Some(s) = attached() {
        ATTACHED.store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release);
        // SAFETY: after ATTACHED is cleared nothing in this (single-threaded, freshly forked) process reaches the
        // mapping; the range is the whole mapping this process inherited.
        unsafe { libc::munmap(s.base as *mut libc::c_void, s.layout.total) };
    }
    // The registrations' arguments are shared memory too.
    crate::bgworker::arg_area::detach();
}

impl Segment {
    /// Creates and initializes a new segment and makes it this process's attached one. Postmaster only.
    pub fn create(
        max_workers: usize,
        max_procs: usize,
        addin_capacity: usize,
        postmaster_pid: i32,
        start_time_us: i64,
    ) -> std::io::Result<Segment> {
        let layout = Layout::new(max_workers, max_procs, addin_capacity);
        let mapping = SharedMapping::new(layout.total)?;
        // Leaked deliberately: children and the postmaster hold &'static references; a crash cycle leaks one small
        // Shmem struct (not the mapping, which `Segment` unmaps).
        let shmem: &'static Shmem = Box::leak(Box::new(Shmem { base: mapping.as_ptr(), layout }));
        let h = shmem.header();
        h.magic.store(MAGIC, Ordering::Relaxed);
        h.postmaster_pid.store(postmaster_pid, Ordering::Relaxed);
        h.start_time_us.store(start_time_us, Ordering::Relaxed);
        shmem.slots().header().init_in_place(max_workers as u32);
        shmem.addin().init_in_place(addin_capacity);
        shmem.notify_queue().init_in_place();
        for s in shmem.slot_status() {
            s.last_exit.store(i32::MIN, Ordering::Relaxed);
        }
        ATTACHED.store(shmem as *const Shmem as *mut Shmem, std::sync::atomic::Ordering::Release);
        Ok(Segment { mapping, shmem })
    }

    pub fn shmem(&self) -> &'static Shmem {
        self.shmem
    }

    pub fn size(&self) -> usize {
        self.mapping.len()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let me = self.shmem as *const Shmem as *mut Shmem;
        let _ = ATTACHED.compare_exchange(
            me,
            std::ptr::null_mut(),
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}
