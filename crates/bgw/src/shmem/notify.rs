//! The notification queue behind NOTIFY / LISTEN: a ring in shared memory that committing sessions append to and
//! listening sessions read from, each at its own position.
//!
//! # Who writes what
//!
//! Writers (backends whose transaction committed with pending notifications) take the queue's robust lock, then
//! for each notification: mark the entry being written (`seq = 0`), write it, publish it (`seq = position + 1`,
//! Release) and advance `head` (Release). Holding the lock across a transaction's notifications keeps them
//! together and in commit order. Readers take no lock: they read `head` (Acquire), then each entry as a seqlock,
//! accepting it only if its `seq` reads `position + 1` both before and after the copy; anything else was
//! overwritten under them (they were more than [`QUEUE_LEN`] behind) and is skipped, with a warning from the
//! caller. The postmaster only initializes the queue in a fresh segment.

use crate::sync::{fence, AtomicI32, AtomicU32, AtomicU64, Ordering, ProcessLock, UnsafeCell};

/// Notifications the ring holds; a listener further behind loses the oldest.
pub const QUEUE_LEN: usize = 1024;
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

    /// Appends a committed transaction's notifications, in order.
    pub fn publish(&self, pid: i32, db: u32, items: &[(String, String)]) {
        let _guard = self.lock.lock();
        for (channel, payload) in items {
            let pos = self.head.load(Ordering::Relaxed);
            let e = &self.entries[(pos % QUEUE_LEN as u64) as usize];
            e.seq.store(0, Ordering::Relaxed);
            fence(Ordering::Release);
            e.pid.store(pid, Ordering::Relaxed);
            e.db.store(db, Ordering::Relaxed);
            put(&e.channel, channel);
            put(&e.payload, payload);
            e.seq.store(pos + 1, Ordering::Release);
            self.head.store(pos + 1, Ordering::Release);
        }
    }

    /// Reads the notifications of database `db` from position `from`; returns them, the new position and how
    /// many were lost because the reader fell more than [`QUEUE_LEN`] behind.
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

/// Adds a notification to a transaction's pending list after [`check`]ing it: NUL bytes dropped, and each
/// distinct (channel, payload) kept once, as PostgreSQL sends them.
pub fn add_pending(list: &mut Vec<(String, String)>, channel: &str, payload: &str) -> Result<(), &'static str> {
    check(channel, payload)?;
    let entry = (channel.to_string(), payload.replace('\0', ""));
    if !list.contains(&entry) {
        list.push(entry);
    }
    Ok(())
}

/// Publishes a committed transaction's notifications (database `db`, sent by this process) and sets the latch
/// of every listening process, which reads the queue when it next looks. A process not attached to the segment
/// has no one to tell.
pub fn send(db: u32, items: &[(String, String)]) {
    if items.is_empty() {
        return;
    }
    let Some(shm) = super::attached() else { return };
    shm.notify_queue().publish(std::process::id() as i32, db, items);
    for p in shm.procs() {
        let pid = p.pid.load(Ordering::Acquire);
        if pid > 0 && p.listening.load(Ordering::Acquire) {
            crate::latch::set_latch_of(pid);
        }
    }
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
        q.publish(7, 5, &[("a".into(), "1".into()), ("b".into(), "2".into())]);
        q.publish(8, 6, &[("a".into(), "other db".into())]);
        let (got, pos, lost) = q.read(start, 5);
        assert_eq!(lost, 0);
        assert_eq!(got.iter().map(|n| n.payload.as_str()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(got[0].pid, 7);
        assert_eq!(pos, q.head());
        for i in 0..(QUEUE_LEN + 10) {
            q.publish(9, 5, &[("c".into(), i.to_string())]);
        }
        let (got, _, lost) = q.read(pos, 5);
        assert_eq!(lost, 10);
        assert_eq!(got.len(), QUEUE_LEN);
        assert_eq!(got[0].payload, "10");
    }
}
