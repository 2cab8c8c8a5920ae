//! Per-process entries in shared memory: who is running, since when, doing what (`pg_stat_activity`).
//!
//! # Who writes what
//!
//! The postmaster owns an entry's identity: before it forks a child it picks a free entry (from its private free
//! list), clears it and writes `kind`, `worker_slot` and `start_us`; after the fork it writes `pid`; after reaping
//! the child it stores `pid = 0`, which frees the entry. The child owns the activity strings (`application_name`,
//! `state`, `query`) while it lives and writes them under a change count, as PostgreSQL's `st_changecount`: it
//! increments the count (odd: writing), writes, increments again (even: stable). Readers copy the strings and
//! retry if the count was odd or changed meanwhile; after a few tries they take what they have (display only).
//! The postmaster clears the strings only while the entry has no live owner.
//!
//! `cancel_key` (a backend's secret key for CancelRequest, 0 for none): the postmaster stores 0 before it forks the
//! entry's owner; the owner, a backend, stores its random nonzero key once, before it sends it to its client in
//! BackendKeyData. A backend serving a CancelRequest (another process) only reads it: it signals the entry's pid
//! when the pid and a nonzero key both match (see `crate::process::interrupts::serve_cancel_request`).

use crate::sync::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, Ordering, UnsafeCell};

pub const APP_NAME_LEN: usize = 64;
pub const STATE_LEN: usize = 16;
pub const QUERY_LEN: usize = 256;
pub const NAME_LEN: usize = 64;

/// What kind of child an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ProcKind {
    Free = 0,
    Backend = 1,
    Worker = 2,
    Startup = 3,
    /// A spare worker process, not yet assigned a worker.
    Spare = 4,
}

impl ProcKind {
    pub fn from_u32(v: u32) -> ProcKind {
        match v {
            1 => ProcKind::Backend,
            2 => ProcKind::Worker,
            3 => ProcKind::Startup,
            4 => ProcKind::Spare,
            _ => ProcKind::Free,
        }
    }
}

#[repr(C)]
pub struct ProcEntry {
    pub pid: AtomicI32,
    pub kind: AtomicU32,
    /// The worker's slot, for workers; -1 otherwise.
    pub worker_slot: AtomicI32,
    pub start_us: AtomicI64,
    /// The owner listens for notifications (publishers wake it).
    pub listening: AtomicBool,
    /// A backend's cancel key (0: none yet); see the module docs for who writes it.
    cancel_key: AtomicI32,
    changecount: AtomicU32,
    app_name: UnsafeCell<[u8; APP_NAME_LEN]>,
    state: UnsafeCell<[u8; STATE_LEN]>,
    query: UnsafeCell<[u8; QUERY_LEN]>,
    database: UnsafeCell<[u8; NAME_LEN]>,
    user: UnsafeCell<[u8; NAME_LEN]>,
}

/// A reader's copy of an entry.
#[derive(Debug, Clone)]
pub struct ProcSnapshot {
    pub pid: i32,
    pub kind: ProcKind,
    pub worker_slot: i32,
    pub start_us: i64,
    pub application_name: String,
    pub state: String,
    pub query: String,
    /// Empty when the process has no database connection.
    pub database: String,
    pub user: String,
}

fn put(dst: &UnsafeCell<impl AsMut<[u8]>>, value: &str) {
    dst.with_mut(|p| {
        // SAFETY: only the entry's owner writes its strings (see module docs); readers tolerate torn copies via the
        // change count.
        let buf = unsafe { (*p).as_mut() };
        let bytes = value.as_bytes();
        let n = bytes.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&bytes[..n]);
        buf[n..].fill(0);
    })
}

fn get<const N: usize>(src: &UnsafeCell<[u8; N]>) -> String {
    // SAFETY: a volatile copy of plain bytes; concurrent writes only produce a torn copy, which the change count
    // detects.
    let bytes = src.with(|p| unsafe { p.read_volatile() });
    crate::bgworker::types::ascii_safe(&bytes)
}

impl ProcEntry {
    /// Postmaster, before forking the entry's new owner.
    pub fn prepare(&self, kind: ProcKind, worker_slot: i32, start_us: i64) {
        self.changecount.fetch_add(1, Ordering::AcqRel);
        put(&self.app_name, "");
        put(&self.state, "");
        put(&self.query, "");
        put(&self.database, "");
        put(&self.user, "");
        self.changecount.fetch_add(1, Ordering::Release);
        self.listening.store(false, Ordering::Relaxed);
        self.cancel_key.store(0, Ordering::Relaxed);
        self.kind.store(kind as u32, Ordering::Relaxed);
        self.worker_slot.store(worker_slot, Ordering::Relaxed);
        self.start_us.store(start_us, Ordering::Relaxed);
    }

    /// The owner: report activity.
    pub fn report(&self, app_name: Option<&str>, state: Option<&str>, query: Option<&str>) {
        self.changecount.fetch_add(1, Ordering::AcqRel);
        if let Some(a) = app_name {
            put(&self.app_name, a);
        }
        if let Some(s) = state {
            put(&self.state, s);
        }
        if let Some(q) = query {
            put(&self.query, q);
        }
        self.changecount.fetch_add(1, Ordering::Release);
    }

    /// The owner, a backend: publish its cancel key (nonzero), before it sends it to its client.
    pub fn set_cancel_key(&self, key: i32) {
        self.cancel_key.store(key, Ordering::Release);
    }

    /// Whether this entry belongs to the live backend `pid` whose cancel key is `key` (never for key 0).
    pub fn is_backend_with_key(&self, pid: i32, key: i32) -> bool {
        pid > 0
            && key != 0
            && self.pid.load(Ordering::Acquire) == pid
            && ProcKind::from_u32(self.kind.load(Ordering::Relaxed)) == ProcKind::Backend
            && self.cancel_key.load(Ordering::Acquire) == key
    }

    /// The owner: report the database and role it is connected as.
    pub fn report_connection(&self, database: &str, user: &str) {
        self.changecount.fetch_add(1, Ordering::AcqRel);
        put(&self.database, database);
        put(&self.user, user);
        self.changecount.fetch_add(1, Ordering::Release);
    }

    /// A consistent copy (or, after a few tries against a busy writer, a best-effort one). None if free.
    pub fn snapshot(&self) -> Option<ProcSnapshot> {
        let pid = self.pid.load(Ordering::Acquire);
        if pid <= 0 {
            return None;
        }
        let mut tries = 0;
        loop {
            let before = self.changecount.load(Ordering::Acquire);
            let application_name = get(&self.app_name);
            let state = get(&self.state);
            let query = get(&self.query);
            let database = get(&self.database);
            let user = get(&self.user);
            let after = self.changecount.load(Ordering::Acquire);
            tries += 1;
            if (before == after && before.is_multiple_of(2)) || tries >= 8 {
                return Some(ProcSnapshot {
                    pid,
                    kind: ProcKind::from_u32(self.kind.load(Ordering::Relaxed)),
                    worker_slot: self.worker_slot.load(Ordering::Relaxed),
                    start_us: self.start_us.load(Ordering::Relaxed),
                    application_name,
                    state,
                    query,
                    database,
                    user,
                });
            }
            std::hint::spin_loop();
        }
    }
}
