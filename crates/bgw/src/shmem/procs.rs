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
//! Identity is by oid, never by a printable copy of a name: the owner writes `database_oid` and `role_oid` when
//! it connects ([`ProcEntry::announce_connection`]); every permission check and `DROP DATABASE`'s count compare
//! them, and views read the names from the catalog by oid. The postmaster zeroes them in [`ProcEntry::prepare`].
//! `dropping_database` is written only by the entry's owner, while it holds the catalog's write lock during a
//! `DROP DATABASE` (so at most one entry has it set at a time); see [`ProcEntry::begin_drop`] for the protocol
//! that makes a drop race-free against a process connecting meanwhile.
//!
//! `authenticated` and the [`Sessions`] counts: a backend that has authenticated and passed the connection limits
//! ([`Sessions::admit`]) raises its entry's flag after counting itself in; the postmaster, after reaping a backend
//! whose flag is up, lowers it and counts the backend out ([`Sessions::leave`]). Nobody else writes them. The
//! postmaster reads the counts (racily, clamped) to know how many of its backends have not authenticated yet.
//!
//! `cancel_key` (a backend's secret key for CancelRequest, 0 for none): the postmaster stores 0 before it forks the
//! entry's owner; the owner, a backend, stores its random nonzero key once, before it sends it to its client in
//! BackendKeyData. A backend serving a CancelRequest (another process) only reads it: it signals the entry's pid
//! when the pid and a nonzero key both match (see `crate::process::interrupts::serve_cancel_request`).

use crate::sync::{AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering, UnsafeCell};

pub const APP_NAME_LEN: usize = 64;
pub const STATE_LEN: usize = 16;
pub const QUERY_LEN: usize = 256;

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
    /// How many host locks the process holds or is asking for (its own counter: see
    /// `crate::sys::robust_mutex`); read by the postmaster after the process died.
    pub locks_held: AtomicU32,
    pub kind: AtomicU32,
    /// The worker's slot, for workers; -1 otherwise.
    pub worker_slot: AtomicI32,
    pub start_us: AtomicI64,
    /// The owner listens for notifications (publishers wake it).
    pub listening: AtomicBool,
    /// The owner is a backend that authenticated and was counted into [`Sessions`] (see the module docs).
    pub authenticated: AtomicBool,
    /// A backend's cancel key (0: none yet); see the module docs for who writes it.
    cancel_key: AtomicI32,
    changecount: AtomicU32,
    app_name: UnsafeCell<[u8; APP_NAME_LEN]>,
    state: UnsafeCell<[u8; STATE_LEN]>,
    query: UnsafeCell<[u8; QUERY_LEN]>,
    /// The database the owner is connected to (0: none). Owner writes (SeqCst), anyone reads.
    database_oid: AtomicU32,
    /// The role the owner is connected as (0: none). Owner writes, anyone reads.
    role_oid: AtomicU32,
    /// The database the owner is dropping (0: none). Owner writes under the catalog's write lock (SeqCst).
    dropping_database: AtomicU32,
    /// Where the owner reads the notification queue, while `listening` (owner writes; notifying processes read
    /// it to know which queue entries are still needed: [`crate::shmem::notify`]).
    notify_pos: AtomicU64,
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
    /// 0 when the process has no database connection.
    pub database_oid: u32,
    /// 0 when the process has no role.
    pub role_oid: u32,
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
        self.changecount.fetch_add(1, Ordering::Release);
        self.database_oid.store(0, Ordering::SeqCst);
        self.role_oid.store(0, Ordering::Relaxed);
        self.dropping_database.store(0, Ordering::SeqCst);
        self.listening.store(false, Ordering::Relaxed);
        self.authenticated.store(false, Ordering::Relaxed);
        self.cancel_key.store(0, Ordering::Relaxed);
        self.kind.store(kind as u32, Ordering::Relaxed);
        self.worker_slot.store(worker_slot, Ordering::Relaxed);
        self.start_us.store(start_us, Ordering::Relaxed);
        self.locks_held.store(0, Ordering::Relaxed);
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

    /// The owner: publish the database (0: none) and role it connects as, then look whether a `DROP DATABASE`
    /// of that database is under way in any entry of `all`. Returns false if one is: the entry's database is
    /// cleared again and the caller must refuse the connection. On true, the caller must still re-read the
    /// catalog by oid (a drop that committed before this call is seen there); see [`ProcEntry::begin_drop`].
    pub fn announce_connection(&self, all: &[ProcEntry], database_oid: u32, role_oid: u32) -> bool {
        self.role_oid.store(role_oid, Ordering::Relaxed);
        self.database_oid.store(database_oid, Ordering::SeqCst);
        if database_oid == 0 {
            return true;
        }
        let dropping = all
            .iter()
            .any(|p| p.dropping_database.load(Ordering::SeqCst) == database_oid && p.pid.load(Ordering::Acquire) > 0);
        if dropping {
            self.database_oid.store(0, Ordering::SeqCst);
        }
        !dropping
    }

    /// The owner: forget the database connection (a refused connection).
    pub fn clear_database(&self) {
        self.database_oid.store(0, Ordering::SeqCst);
    }

    /// The owner, holding the catalog's write lock: mark `database_oid` as being dropped, before counting the
    /// processes connected to it ([`connected_to`]).
    ///
    /// The protocol (a Dekker-style handshake on two sequentially consistent stores and loads): a dropper stores
    /// its mark, then loads every entry's `database_oid`; a connecting process stores its `database_oid`, then
    /// loads every entry's mark ([`ProcEntry::announce_connection`]). At least one of the two sees the other's
    /// store: either the dropper counts the newcomer and refuses the drop (55006), or the newcomer sees the mark
    /// and refuses the connection (3D000). A newcomer that looks after the mark is gone finds the drop committed
    /// (the dropper commits the catalog before [`ProcEntry::end_drop`]) when it re-reads the catalog.
    pub fn begin_drop(&self, database_oid: u32) {
        self.dropping_database.store(database_oid, Ordering::SeqCst);
    }

    /// The owner: the drop committed or was refused.
    pub fn end_drop(&self) {
        self.dropping_database.store(0, Ordering::SeqCst);
    }

    /// The database the owner is connected to (0: none).
    pub fn database_oid(&self) -> u32 {
        self.database_oid.load(Ordering::SeqCst)
    }

    /// The owner: where it reads the notification queue now (store before setting `listening`).
    pub fn set_notify_pos(&self, pos: u64) {
        self.notify_pos.store(pos, Ordering::Release);
    }

    pub fn notify_pos(&self) -> u64 {
        self.notify_pos.load(Ordering::Acquire)
    }

    /// The role the owner is connected as (0: none).
    pub fn role_oid(&self) -> u32 {
        self.role_oid.load(Ordering::Relaxed)
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
                    database_oid: self.database_oid.load(Ordering::SeqCst),
                    role_oid: self.role_oid.load(Ordering::Relaxed),
                });
            }
            std::hint::spin_loop();
        }
    }
}

/// Live processes in `all` connected to database `database_oid`, the process `except_pid` excluded (loads are
/// sequentially consistent: see [`ProcEntry::begin_drop`]).
pub fn connected_to(all: &[ProcEntry], database_oid: u32, except_pid: i32) -> usize {
    all.iter()
        .filter(|p| {
            let pid = p.pid.load(Ordering::Acquire);
            pid > 0 && pid != except_pid && p.database_oid.load(Ordering::SeqCst) == database_oid
        })
        .count()
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
