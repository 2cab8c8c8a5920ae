//! The postmaster's table of its children, and the free list of process entries.
//!
//! Postmaster-private memory: no other process reads it. Lookups by pid are O(1), which is what reaping, notify
//! validation ("is this pid one of my children?") and signalling need. The table lives in memory a fork does not
//! copy ([`crate::sys::private_memory`]): the postmaster inserts into it after every fork, and on shared pages
//! each insert was two copy-on-write faults. Children therefore never touch it.

use crate::sys::private_memory::PrivateAlloc;

/// Fixed-key hashing for pids and slot numbers, which come from the kernel and the postmaster.
type FixedHasher = std::hash::BuildHasherDefault<std::hash::DefaultHasher>;

/// A set of slot numbers. Its hasher has fixed keys: creating one (for every child forked) touches no per-thread
/// state, whose page would be a copy-on-write fault after each fork (slot numbers come from the postmaster, so
/// there is nothing to randomize against).
pub type SlotSet = std::collections::HashSet<u32, FixedHasher>;

/// What a child is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    /// A client backend.
    Backend,
    /// A backend forked only to tell a client it cannot connect (too many clients, starting up, shutting down).
    DeadEnd,
    /// A background worker in this slot.
    Worker { slot: u32 },
    /// The startup (recovery) process.
    Startup,
    /// A spare worker process waiting for an assignment (`crate::worker::spare`); it becomes a `Worker`.
    Spare,
}

#[derive(Debug)]
pub struct Child {
    pub kind: ChildKind,
    /// The child's process entry in shared memory.
    pub proc_no: Option<u32>,
    /// Whether the child is attached to shared memory (a crash of one that is restarts everything).
    pub shmem: bool,
    /// Slots whose workers notify this child; cleared when it exits (the spec's
    /// BackgroundWorkerStopNotifications, without a scan over every worker).
    pub notify_slots: SlotSet,
    /// Slots whose workers are bound to this child (terminated when it exits).
    pub bound_slots: SlotSet,
    /// Whether the postmaster's exit watch reports this child's exit (false: found through SIGCHLD).
    pub watched: bool,
    /// A backend whose client came over TCP (false: the Unix socket, or not a backend).
    pub tcp: bool,
    /// A backend the postmaster told to go (SIGTERM) before it authenticated, to make room for a newer client.
    pub evicted: bool,
}

/// Children by pid, plus the free process entries.
pub struct Children {
    by_pid: hashbrown::HashMap<i32, Child, FixedHasher, PrivateAlloc>,
    free_procs: Vec<u32>,
    backends: usize,
    /// Backends whose client came over TCP.
    tcp_backends: usize,
    dead_ends: usize,
    /// Evicted backends not reaped yet, per kind of socket ([`socket_index`]).
    evicted: [usize; 2],
    /// Backends per kind of socket ([`socket_index`]) in the order they were forked, oldest first, for
    /// [`Children::oldest_waiting`]. Entries that have authenticated or exited are dropped from the front as they are
    /// met, so each pid is pushed and popped once. (Ordinary heap: the accept path, not the launch path.)
    by_age: [std::collections::VecDeque<i32>; 2],
}

/// Index of a kind of socket in per-kind arrays: 0 the Unix socket, 1 TCP.
fn socket_index(tcp: bool) -> usize {
    usize::from(tcp)
}

impl Children {
    pub fn new(max_procs: usize) -> Children {
        // Sized for every process entry plus dead-end backends, so that it does not grow while workers launch.
        let by_pid =
            hashbrown::HashMap::with_capacity_and_hasher_in(max_procs + 16, FixedHasher::default(), PrivateAlloc);
        Children {
            by_pid,
            free_procs: (0..max_procs as u32).rev().collect(),
            backends: 0,
            tcp_backends: 0,
            dead_ends: 0,
            evicted: [0; 2],
            by_age: Default::default(),
        }
    }

    /// Forgets all process entries (a new segment after a crash); the table itself must be empty.
    pub fn reset_procs(&mut self, max_procs: usize) {
        self.free_procs = (0..max_procs as u32).rev().collect();
    }

    pub fn take_proc(&mut self) -> Option<u32> {
        self.free_procs.pop()
    }

    pub fn give_back_proc(&mut self, proc_no: u32) {
        self.free_procs.push(proc_no);
    }

    pub fn insert(&mut self, pid: i32, child: Child) {
        if child.kind == ChildKind::Backend {
            self.backends += 1;
            if child.tcp {
                self.tcp_backends += 1;
            }
        }
        if child.kind == ChildKind::DeadEnd {
            self.dead_ends += 1;
        }
        self.by_pid.insert(pid, child);
    }

    pub fn remove(&mut self, pid: i32) -> Option<Child> {
        let c = self.by_pid.remove(&pid)?;
        if c.kind == ChildKind::Backend {
            self.backends -= 1;
            if c.tcp {
                self.tcp_backends -= 1;
            }
        }
        if c.kind == ChildKind::DeadEnd {
            self.dead_ends -= 1;
        }
        if c.evicted {
            self.evicted[socket_index(c.tcp)] -= 1;
        }
        Some(c)
    }

    /// Records the new backend `pid` as serving a client on a TCP (or the Unix) socket, the youngest of its kind.
    pub fn client_connected(&mut self, pid: i32, tcp: bool) {
        let Some(c) = self.by_pid.get_mut(&pid) else { return };
        if c.kind != ChildKind::Backend {
            return;
        }
        if tcp && !c.tcp {
            c.tcp = true;
            self.tcp_backends += 1;
        }
        self.by_age[socket_index(tcp)].push_back(pid);
    }

    /// The oldest backend of a kind of socket still waiting for its client to authenticate (`authenticated` says,
    /// by process entry, which have), not evicted yet. Entries passed over are dropped for good.
    pub fn oldest_waiting(&mut self, tcp: bool, authenticated: impl Fn(u32) -> bool) -> Option<i32> {
        let queue = &mut self.by_age[socket_index(tcp)];
        while let Some(&pid) = queue.front() {
            match self.by_pid.get(&pid) {
                Some(c) if c.kind == ChildKind::Backend && !c.evicted && !c.proc_no.is_some_and(&authenticated) => {
                    return Some(pid);
                }
                _ => {
                    queue.pop_front();
                }
            }
        }
        None
    }

    /// Marks the backend `pid` evicted (the caller signals it).
    pub fn evict(&mut self, pid: i32) {
        if let Some(c) = self.by_pid.get_mut(&pid) {
            if c.kind == ChildKind::Backend && !c.evicted {
                c.evicted = true;
                self.evicted[socket_index(c.tcp)] += 1;
            }
        }
    }

    /// Evicted backends of a kind of socket not reaped yet.
    pub fn evicted_count(&self, tcp: bool) -> usize {
        self.evicted[socket_index(tcp)]
    }

    /// Dead-end backends.
    pub fn dead_end_count(&self) -> usize {
        self.dead_ends
    }

    /// Client backends whose client came over TCP.
    pub fn tcp_backend_count(&self) -> usize {
        self.tcp_backends
    }

    pub fn get_mut(&mut self, pid: i32) -> Option<&mut Child> {
        self.by_pid.get_mut(&pid)
    }

    /// The kind of child `pid` is, if it is one.
    pub fn kind_of(&self, pid: i32) -> Option<ChildKind> {
        self.by_pid.get(&pid).map(|c| c.kind)
    }

    /// Whether `pid` is one of our children (the only processes the postmaster ever signals).
    pub fn contains(&self, pid: i32) -> bool {
        pid > 0 && self.by_pid.contains_key(&pid)
    }

    pub fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_pid.len()
    }

    /// Client backends (not dead-end ones).
    pub fn backend_count(&self) -> usize {
        self.backends
    }

    /// Sends `sig` to every child matching `which`.
    pub fn signal_all(&self, sig: libc::c_int, which: impl Fn(&Child) -> bool) {
        for (&pid, c) in &self.by_pid {
            if which(c) {
                crate::sys::signals::send(pid, sig);
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&i32, &Child)> {
        self.by_pid.iter()
    }
}
