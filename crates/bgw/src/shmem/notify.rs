//! The notification queue behind NOTIFY / LISTEN: a ring in shared memory that committing sessions append to and
//! listening sessions read from, each at its own position.
//!
//! # Who writes what
//!
//! | Field | Written by | When | Read by |
//! |---|---|---|---|
//! | `lock` | a committer with notifications | held from its pre-commit ([`NotifyQueue::reserve`]) to the publish (or its rollback) | other committers (they wait) |
//! | `head` | the lock holder | after each entry it publishes (Release) | listeners (Acquire), new listeners (their start) |
//! | entry fields | the lock holder | `seq = 0`, then the text, then `seq = position + 1` (Release) | listeners, as a seqlock |
//! | `ProcEntry::notify_pos` | the listener itself | after each read, and when it starts listening | committers, under the lock, to know what is still needed |
//!
//! The commit protocol, as PostgreSQL's PreCommit_Notify / AtCommit_Notify:
//!
//! 1. **Pre-commit** (before SQLite's COMMIT): the committer takes the queue's robust lock and checks that its
//!    transaction's notifications fit without overwriting an entry some listener still needs. If they do not, it
//!    releases the lock and fails with ERROR 54000 [`QUEUE_FULL`]: the caller rolls the transaction back, nothing
//!    of it is visible and no listener loses anything. If they do, it keeps the lock: that is the reservation
//!    ([`Reservation`]). While it is held no other committer can publish, and listeners only move forward (a new
//!    listener starts at `head`), so the room checked stays free until the publish.
//! 2. **Commit**: SQLite commits the data (the lock still held).
//! 3. **Publish**: for each notification: mark the entry being written (`seq = 0`), write it, publish it
//!    (`seq = position + 1`, Release) and advance `head` (Release); then the lock is released. If the commit
//!    failed instead, the reservation is dropped unused (the lock released, nothing written).
//!
//! Holding the lock across a transaction's notifications keeps them together and in commit order; only
//! transactions that send notifications take it, as only those take PostgreSQL's notify lock. A committer that
//! dies holding it leaves a robust lock the next committer recovers (nothing was half-published that readers
//! would accept: an entry counts only once its `seq` is set). Readers take no lock: they read `head` (Acquire),
//! then each entry as a seqlock, accepting it only if its `seq` reads `position + 1` both before and after the
//! copy; anything else was overwritten under them (they were more than [`QUEUE_LEN`] behind) and is skipped,
//! with a warning from the caller. The postmaster only initializes the queue in a fresh segment.
//!
//! An entry of database `d` at position `q` is needed while some listener connected to `d` has a position at or
//! before `q`. Entries of a database nobody listens in are never needed, so one database's traffic cannot evict
//! another's notifications: at worst its sender's COMMIT fails. A transaction may send at most
//! [`DATABASE_SHARE`] distinct notifications.

use std::cell::RefCell;

use crate::sync::{fence, AtomicI32, AtomicU32, AtomicU64, Ordering, ProcessLock, UnsafeCell};
use crate::sys::robust_mutex::ProcessLockGuard;

/// Notifications the ring holds; a listener further behind loses the oldest.
pub const QUEUE_LEN: usize = 1024;
/// The most distinct notifications one transaction may send: half the queue, so one database's transaction cannot
/// take the whole ring (PostgreSQL's error for more: 54000 "too many notifications in the NOTIFY queue").
pub const DATABASE_SHARE: usize = QUEUE_LEN / 2;

/// PostgreSQL's message when the queue cannot take a transaction's notifications (SQLSTATE 54000).
pub const QUEUE_FULL: &str = "too many notifications in the NOTIFY queue";

/// The longest channel name, including its NUL (PostgreSQL's NAMEDATALEN).
pub const CHANNEL_LEN: usize = 64;
/// The longest payload, including its NUL (PostgreSQL's limit: payloads of 8000 bytes or more are refused).
pub const PAYLOAD_LEN: usize = 8000;

#[repr(C)]
struct Entry {
    seq: AtomicU64,
    pid: AtomicI32,
    db: AtomicU32,
    channel: UnsafeCell<[u8; CHANNEL_LEN]>,
    payload: UnsafeCell<[u8; PAYLOAD_LEN]>,
}

#[repr(C)]
pub struct NotifyQueue {
    lock: ProcessLock,
    head: AtomicU64,
    entries: [Entry; QUEUE_LEN],
}

/// A delivered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

fn put(cell: &UnsafeCell<impl AsMut<[u8]>>, text: &str) {
    cell.with_mut(|p| {
        // SAFETY: only the writer holding the queue lock writes an entry; readers detect a concurrent write
        // through `seq`.
        let buf = unsafe { (*p).as_mut() };
        let n = text.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        buf[n..].fill(0);
    })
}

fn get<const N: usize>(cell: &UnsafeCell<[u8; N]>) -> String {
    // SAFETY: a volatile copy of plain bytes; a torn copy is detected by the seqlock check.
    let bytes = cell.with(|p| unsafe { p.read_volatile() });
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(N);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl NotifyQueue {
    /// Postmaster, on a fresh (zeroed) segment.
    pub fn init_in_place(&self) {
        self.lock.init();
        self.head.store(0, Ordering::Relaxed);
    }

    /// Where a new listener starts reading (it gets only what is committed after it listens).
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Appends a committed transaction's notifications, in order, all or none: Err(QueueFull) if they do not
    /// fit without overwriting an entry a listener still needs ([`NotifyQueue::reserve`], then
    /// [`Reservation::publish`]).
    pub fn publish(
        &self,
        pid: i32,
        db: u32,
        items: &[(String, String)],
        oldest_needed: impl Fn(u32) -> Option<u64>,
    ) -> Result<(), QueueFull> {
        self.reserve(items.len(), oldest_needed)?.publish(pid, db, items);
        Ok(())
    }

    /// Pre-commit: takes the queue's lock and checks that `room` notifications fit without overwriting an entry
    /// a listener still needs; Ok holds the lock (the room) until the [`Reservation`] is published or dropped.
    /// `oldest_needed(db)` is the lowest read position of the listeners connected to database `db` (None:
    /// nobody listens there); positions only grow, so a value read before the lock is taken errs on the safe
    /// side.
    pub fn reserve(
        &self,
        room: usize,
        oldest_needed: impl Fn(u32) -> Option<u64>,
    ) -> Result<Reservation<'_>, QueueFull> {
        if room > QUEUE_LEN {
            return Err(QueueFull);
        }
        let guard = self.lock.lock();
        let head = self.head.load(Ordering::Relaxed);
        for i in 0..room as u64 {
            let Some(q) = (head + i).checked_sub(QUEUE_LEN as u64) else { continue };
            let e = &self.entries[(q % QUEUE_LEN as u64) as usize];
            if e.seq.load(Ordering::Acquire) == q + 1
                && oldest_needed(e.db.load(Ordering::Relaxed)).is_some_and(|t| t <= q)
            {
                return Err(QueueFull);
            }
        }
        Ok(Reservation { queue: self, _guard: guard, room })
    }

    /// Reads the notifications of database `db` from position `from`; returns them, the new position and how
    /// many positions were overwritten before it read them (it fell more than [`QUEUE_LEN`] behind). For a
    /// listener whose position is in its process entry those are only other databases' entries: writers never
    /// overwrite an entry of its database that it has not read.
    pub fn read(&self, from: u64, db: u32) -> (Vec<Notification>, u64, u64) {
        let head = self.head.load(Ordering::Acquire);
        let start = from.max(head.saturating_sub(QUEUE_LEN as u64));
        let mut lost = start - from.min(start);
        let mut out = Vec::new();
        for pos in start..head {
            let e = &self.entries[(pos % QUEUE_LEN as u64) as usize];
            let before = e.seq.load(Ordering::Acquire);
            if before != pos + 1 {
                lost += 1;
                continue;
            }
            // Another database's entry is skipped without copying its text (if it was overwritten meanwhile,
            // it is gone either way).
            if e.db.load(Ordering::Relaxed) != db {
                continue;
            }
            let (pid, channel, payload) = (e.pid.load(Ordering::Relaxed), get(&e.channel), get(&e.payload));
            fence(Ordering::Acquire);
            if e.seq.load(Ordering::Relaxed) != pos + 1 {
                lost += 1;
                continue;
            }
            out.push(Notification { pid, channel, payload });
        }
        (out, head, lost)
    }
}

/// Room held in the queue between a transaction's pre-commit and its publish: the queue's lock (see the module
/// doc). Dropping it unused (the transaction did not commit) releases the room.
pub struct Reservation<'a> {
    queue: &'a NotifyQueue,
    _guard: ProcessLockGuard<'a>,
    room: usize,
}

impl Reservation<'_> {
    /// How many notifications it has room for.
    pub fn room(&self) -> usize {
        self.room
    }

    /// Appends the committed transaction's notifications (at most [`Reservation::room`]; any more are not sent),
    /// in order, and releases the room.
    pub fn publish(self, pid: i32, db: u32, items: &[(String, String)]) {
        let q = self.queue;
        for (channel, payload) in items.iter().take(self.room) {
            let pos = q.head.load(Ordering::Relaxed);
            let e = &q.entries[(pos % QUEUE_LEN as u64) as usize];
            e.seq.store(0, Ordering::Relaxed);
            fence(Ordering::Release);
            e.pid.store(pid, Ordering::Relaxed);
            e.db.store(db, Ordering::Relaxed);
            put(&e.channel, channel);
            put(&e.payload, payload);
            e.seq.store(pos + 1, Ordering::Release);
            q.head.store(pos + 1, Ordering::Release);
        }
    }
}

/// PostgreSQL's checks on a notification; Err is the message (SQLSTATE 22023).
pub fn check(channel: &str, payload: &str) -> Result<(), &'static str> {
    if channel.is_empty() {
        Err("channel name cannot be empty")
    } else if channel.len() >= CHANNEL_LEN {
        Err("channel name too long")
    } else if payload.len() >= PAYLOAD_LEN {
        Err("payload string too long")
    } else {
        Ok(())
    }
}

/// The queue cannot take a transaction's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many notifications in the NOTIFY queue")]
pub struct QueueFull;

/// Why a notification was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// PostgreSQL's check failed (SQLSTATE 22023).
    #[error("{0}")]
    Invalid(&'static str),
    /// More than [`DATABASE_SHARE`] distinct notifications in one transaction (SQLSTATE 54000).
    #[error("too many notifications in the NOTIFY queue")]
    TooMany,
}

impl PendingError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PendingError::Invalid(_) => "22023",
            PendingError::TooMany => "54000",
        }
    }
}

/// A transaction's notifications waiting for its commit: each distinct (channel, payload) once, in the order
/// first sent, found again in constant time (a set beside the list), so a transaction's de-duplication is
/// linear in its notifications.
#[derive(Debug, Default)]
pub struct Pending {
    list: Vec<(String, String)>,
    seen: std::collections::HashSet<(String, String), std::hash::BuildHasherDefault<std::hash::DefaultHasher>>,
}

impl Pending {
    pub const fn new() -> Pending {
        Pending { list: Vec::new(), seen: std::collections::HashSet::with_hasher(std::hash::BuildHasherDefault::new()) }
    }

    /// Adds a notification after [`check`]ing it: NUL bytes dropped, a repeat ignored, as PostgreSQL sends them;
    /// refused past [`DATABASE_SHARE`] distinct ones.
    pub fn add(&mut self, channel: &str, payload: &str) -> Result<(), PendingError> {
        check(channel, payload).map_err(PendingError::Invalid)?;
        let entry = (channel.to_string(), payload.replace('\0', ""));
        if self.seen.contains(&entry) {
            return Ok(());
        }
        if self.list.len() >= DATABASE_SHARE {
            return Err(PendingError::TooMany);
        }
        self.seen.insert(entry.clone());
        self.list.push(entry);
        Ok(())
    }

    /// Drops the notifications added after the first `len` (a rollback to a savepoint).
    pub fn truncate(&mut self, len: usize) {
        for entry in self.list.drain(len.min(self.list.len())..) {
            self.seen.remove(&entry);
        }
    }

    /// The notifications in order, leaving the list empty.
    pub fn take(&mut self) -> Vec<(String, String)> {
        self.seen.clear();
        std::mem::take(&mut self.list)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

thread_local! {
    /// This process's reservation, from its transaction's pre-commit to its end (a backend or worker runs one
    /// transaction at a time, in one thread).
    static HELD: RefCell<Option<Reservation<'static>>> = const { RefCell::new(None) };
}

/// The lowest read position of the listeners connected to each database, from the process entries.
fn oldest_needed(shm: &'static super::Shmem) -> impl Fn(u32) -> Option<u64> {
    move |d: u32| {
        shm.procs()
            .iter()
            .filter(|p| p.pid.load(Ordering::Acquire) > 0 && p.listening.load(Ordering::Acquire))
            .filter(|p| p.database_oid() == d)
            .map(|p| p.notify_pos())
            .min()
    }
}

/// Pre-commit of a transaction with `count` pending notifications: reserves room for them in the queue (kept by
/// this process until [`send`] or [`release`]), or Err(QueueFull) if they would overwrite an entry a listener
/// still needs; the caller then rolls the transaction back. Calling it again before the end keeps the
/// reservation already held. A process not attached to the segment has nothing to reserve.
pub fn pre_commit(count: usize) -> Result<(), QueueFull> {
    if count == 0 || HELD.with(|h| h.borrow().as_ref().is_some_and(|r| r.room() >= count)) {
        return Ok(());
    }
    release();
    let Some(shm) = super::attached() else { return Ok(()) };
    let reservation = shm.notify_queue().reserve(count, oldest_needed(shm))?;
    HELD.with(|h| *h.borrow_mut() = Some(reservation));
    Ok(())
}

/// The transaction did not commit: drops its reservation, if it made one.
pub fn release() {
    let _ = HELD.with(|h| h.borrow_mut().take());
}

/// Publishes a committed transaction's notifications (database `db`, sent by this process) in the room its
/// pre-commit reserved (reserving it now if it made none) and sets the latch of every listening process, which
/// reads the queue when it next looks. A process not attached to the segment has no one to tell. Err (only
/// without a pre-commit): the queue could not take them without a listener losing one; none were sent.
pub fn send(db: u32, items: &[(String, String)]) -> Result<(), QueueFull> {
    let held = HELD.with(|h| h.borrow_mut().take());
    if items.is_empty() {
        return Ok(());
    }
    let Some(shm) = super::attached() else { return Ok(()) };
    let reservation = match held {
        Some(r) if r.room() >= items.len() => r,
        other => {
            drop(other);
            shm.notify_queue().reserve(items.len(), oldest_needed(shm))?
        }
    };
    reservation.publish(std::process::id() as i32, db, items);
    for p in shm.procs() {
        let pid = p.pid.load(Ordering::Acquire);
        if pid > 0 && p.listening.load(Ordering::Acquire) {
            crate::latch::set_latch_of(pid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_arrive_in_order_per_database_and_a_lagging_reader_loses_the_oldest() {
        let m = crate::sys::shm::SharedMapping::new(std::mem::size_of::<NotifyQueue>()).unwrap();
        // SAFETY: a fresh, zeroed mapping of the queue's size.
        let q = unsafe { &*(m.as_ptr() as *const NotifyQueue) };
        q.init_in_place();
        let start = q.head();
        let nobody = |_: u32| None;
        q.publish(7, 5, &[("a".into(), "1".into()), ("b".into(), "2".into())], nobody).unwrap();
        q.publish(8, 6, &[("a".into(), "other db".into())], nobody).unwrap();
        let (got, pos, lost) = q.read(start, 5);
        assert_eq!(lost, 0);
        assert_eq!(got.iter().map(|n| n.payload.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(got[0].pid, 7);
        assert_eq!(pos, q.head());
        for i in 0..(QUEUE_LEN + 10) {
            q.publish(9, 5, &[("c".into(), i.to_string())], nobody).unwrap();
        }
        let (got, pos, lost) = q.read(pos, 5);
        assert_eq!(lost, 10);
        assert_eq!(got.len(), QUEUE_LEN);
        assert_eq!(got[0].payload, "10");
        // A listener of database 5 at `pos`: another database fills the ring up to its entry, then is refused.
        q.publish(1, 5, &[("mine".into(), "keep".into())], nobody).unwrap();
        let listener = |d: u32| (d == 5).then_some(pos);
        let other: Vec<_> = (0..QUEUE_LEN - 1).map(|i| ("x".to_string(), i.to_string())).collect();
        q.publish(2, 6, &other, listener).unwrap();
        assert_eq!(q.publish(2, 6, &[("x".into(), "one more".into())], listener), Err(QueueFull));
        let (got, _, lost) = q.read(pos, 5);
        assert_eq!((lost, got.len(), got[0].payload.as_str()), (0, 1, "keep"));
    }

    #[test]
    fn pending_keeps_each_notification_once_in_order_and_caps_a_transaction() {
        let mut p = Pending::new();
        p.add("a", "1").unwrap();
        p.add("b", "1").unwrap();
        p.add("a", "1").unwrap();
        p.add("a", "1\0").unwrap();
        assert_eq!(p.add("", "x"), Err(PendingError::Invalid("channel name cannot be empty")));
        assert_eq!(p.take(), [("a".to_string(), "1".to_string()), ("b".to_string(), "1".to_string())]);
        for i in 0..DATABASE_SHARE {
            p.add("c", &i.to_string()).unwrap();
        }
        p.add("c", "0").unwrap();
        assert_eq!(p.add("c", "one too many"), Err(PendingError::TooMany));
        assert_eq!(p.len(), DATABASE_SHARE);
    }
}
