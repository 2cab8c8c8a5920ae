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
//! `authenticated` and the [`Sessions`] counts: a backend that has authenticated and passed the connection limits
//! ([`Sessions::admit`]) raises its entry's flag after counting itself in; the postmaster, after reaping a backend
//! whose flag is up, lowers it and counts the backend out ([`Sessions::leave`]). Nobody else writes them. The
//! postmaster reads the counts (racily, clamped) to know how many of its backends have not authenticated yet.

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
    /// The owner is a backend that authenticated and was counted into [`Sessions`] (see the module docs).
    pub authenticated: AtomicBool,
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
        self.authenticated.store(false, Ordering::Relaxed);
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

/// The authenticated client sessions, all of them and those over TCP: `max_connections` and
/// `superuser_reserved_connections` count these (as PostgreSQL's do, after authentication), and the postmaster
/// subtracts them from its backends to count the connections that have not authenticated yet. Who writes what:
/// see the module docs.
#[repr(C)]
#[derive(Default)]
pub struct Sessions {
    all: AtomicU32,
    tcp: AtomicU32,
}

/// Why [`Sessions::admit`] refused a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every slot is taken.
    Full,
    /// Only the slots reserved for superusers are left.
    Reserved,
}

impl Sessions {
    /// A backend that has just authenticated: counts it in if a slot is free for it (the last `reserved` of
    /// `max_connections` only for superusers) and raises `entry`'s flag. Race-free: each backend counts itself in
    /// first and backs out if that made too many, so concurrent logins never exceed the limits (at worst both
    /// of two racing for the last slot are refused).
    pub fn admit(
        &self,
        entry: Option<&ProcEntry>,
        tcp: bool,
        superuser: bool,
        max_connections: u32,
        reserved: u32,
    ) -> Result<(), Refused> {
        let now = self.all.fetch_add(1, Ordering::SeqCst) + 1;
        let refused = if now > max_connections {
            Some(Refused::Full)
        } else if !superuser && now > max_connections.saturating_sub(reserved) {
            Some(Refused::Reserved)
        } else {
            None
        };
        if let Some(r) = refused {
            self.all.fetch_sub(1, Ordering::SeqCst);
            return Err(r);
        }
        if tcp {
            self.tcp.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(e) = entry {
            e.authenticated.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Postmaster, after reaping a backend that used `entry`: counts it out if it was counted in.
    pub fn leave(&self, entry: &ProcEntry, tcp: bool) {
        if entry.authenticated.swap(false, Ordering::AcqRel) {
            let _ = self.all.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1));
            if tcp {
                let _ = self.tcp.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1));
            }
        }
    }

    /// Authenticated sessions: (all, over TCP).
    pub fn counts(&self) -> (usize, usize) {
        (self.all.load(Ordering::Acquire) as usize, self.tcp.load(Ordering::Acquire) as usize)
    }
}
