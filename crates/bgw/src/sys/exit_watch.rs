//! Learning which children exited without asking the kernel about every child, and without a descriptor per
//! child in the postmaster's descriptor table. Runs in the postmaster only.
//!
//! `waitpid(-1, WNOHANG)` makes the kernel walk the caller's whole list of children on every call; with thousands
//! of workers running, that walk dominated every launch and exit. Here each child gets a pidfd (readable once the
//! child has exited) registered in an epoll set whose event data is the pid, one-shot: the postmaster learns
//! exactly which children exited and reaps each with `waitpid(pid)`, which the kernel answers without a walk.
//!
//! A pidfd kept in the descriptor table would cost at every fork (the table is copied, one reference count per
//! descriptor) and in every child (which must close them). So the pidfd is *parked*: sent with SCM_RIGHTS over a
//! socket pair that only the postmaster holds, and closed. The message in flight keeps the file alive, and an
//! epoll registration lives as long as its file, so the exit is still reported. The descriptor table holds three
//! descriptors (the epoll set and the pair) whatever the number of children.
//!
//! # The hand-off
//!
//! - [`ExitWatch::watch`] (after a fork, before the child can have been reaped, so the pid is still ours):
//!   pidfd, epoll registration (one-shot, data = pid), then the pidfd and its pid go into the park.
//! - [`ExitWatch::exited`]: the pids whose pidfds became readable; each registration fires once.
//! - [`ExitWatch::reaped`]: the caller reaped one of them. Its file stays parked until the next reclaim, which
//!   takes every parked message back, closes the files of children no longer alive (their registrations go with
//!   them) and parks the rest again, 253 to a message. Reclaims run when the dead outnumber the live (and at
//!   least 64 are dead) or when the park is full, so each costs time proportional to what it frees. A reclaim
//!   takes the messages back one at a time and parks what it keeps as soon as it has a full message, so the
//!   descriptor table never holds more than two messages' worth, however many children there are (with tens of
//!   thousands of children, taking everything back at once would exceed `RLIMIT_NOFILE`: the kernel then closes
//!   the descriptors it cannot install, and with them their registrations).
//!
//! When the park refuses for good (the kernel's limit on descriptors in flight, `RLIMIT_NOFILE` for a process
//! without CAP_SYS_RESOURCE: tens of thousands of children), pidfds are held in the descriptor table instead, up
//! to that same limit less a reserve: each costs every fork a reference, far less than what SIGCHLD's
//! `waitpid(-1)` costs every exit (a walk over every child). If anything else fails (no pidfd on this kernel, no
//! room left anywhere), `watch` returns false and the caller falls back to SIGCHLD and `waitpid(-1)` for that
//! child. If a reclaim loses a descriptor anyway (the
//! kernel truncated a message it gave back), the pids whose registrations went with it are reported by
//! [`ExitWatch::take_lost`], and the caller watches those children through SIGCHLD from then on: nothing is
//! lost.

use nix::sys::socket::{recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Descriptors per SCM_RIGHTS message (the kernel's SCM_MAX_FD).
const PER_MESSAGE: usize = 253;
/// The control buffer of a parking message of `n` descriptors, in u64 words: the header plus the descriptors,
/// rounded up.
const fn control_words(n: usize) -> usize {
    (std::mem::size_of::<libc::cmsghdr>() + n * 4).div_ceil(8) + 1
}
/// A full message's (a reclaim re-parks many at once).
const CONTROL_WORDS: usize = control_words(PER_MESSAGE);
/// A single descriptor's (one per fork: a small buffer keeps the launch path's stack within fewer pages, each of
/// which is a copy-on-write fault after a fork).
const ONE_CONTROL_WORDS: usize = control_words(1);
/// Reclaim once at least this many parked files belong to reaped children (and they outnumber the live ones).
const RECLAIM_AT: usize = 64;
/// Descriptors left free in the postmaster's table when pidfds are held there: its own (sockets, pipes, files
/// it opens) and a reclaim's two messages.
const HOLD_RESERVE: usize = 1024 + 2 * PER_MESSAGE;

/// The epoll set of children's pidfds and the park that keeps them alive.
pub struct ExitWatch {
    epoll: OwnedFd,
    park_tx: OwnedFd,
    park_rx: OwnedFd,
    parked_live: usize,
    parked_dead: usize,
    /// Pidfds the park refused even after a reclaim: kept here (in the descriptor table) until the next reclaim.
    held: std::collections::HashMap<i32, OwnedFd>,
    /// Messages in the park.
    parked_messages: usize,
    /// Of those, messages of one descriptor (a watch's; a reclaim packs them into full messages).
    parked_singles: usize,
    /// Live children whose registrations a reclaim lost (see the module docs), for [`ExitWatch::take_lost`].
    lost: Vec<i32>,
    /// How many pidfds may be held in the descriptor table (the soft `RLIMIT_NOFILE`, less a reserve for the
    /// postmaster's own descriptors and a reclaim's two messages).
    hold_limit: usize,
}

impl ExitWatch {
    /// Creates the set and the park. Raises the soft descriptor limit to the hard one: the kernel counts parked
    /// descriptors against it.
    pub fn new() -> std::io::Result<ExitWatch> {
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        let nofile = unsafe {
            let mut lim: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur
        };
        let hold_limit = (nofile.min(1 << 24) as usize).saturating_sub(HOLD_RESERVE);
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let (park_tx, park_rx) = socketpair(
            AddressFamily::Unix,
            SockType::Datagram,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )?;
        Ok(ExitWatch {
            epoll,
            park_tx,
            park_rx,
            parked_live: 0,
            parked_dead: 0,
            held: std::collections::HashMap::new(),
            parked_messages: 0,
            parked_singles: 0,
            lost: Vec::new(),
            hold_limit,
        })
    }

    /// The descriptors a child must close (the postmaster's alone).
    pub fn own_fds(&self) -> [RawFd; 3] {
        [self.epoll.as_raw_fd(), self.park_tx.as_raw_fd(), self.park_rx.as_raw_fd()]
    }

    /// Watches child `pid` (just forked, not yet reaped, so the pid cannot have been reused). `is_live` tells,
    /// for a reclaim, whether another pid is still an unreaped child. False if the child cannot be watched; the
    /// caller then relies on SIGCHLD for it.
    pub fn watch(&mut self, pid: i32, is_live: impl Fn(i32) -> bool) -> bool {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor (close-on-exec) or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
        if raw < 0 {
            return false;
        }
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLONESHOT) as u32, u64: pid as u32 as u64 };
        // SAFETY: a valid epoll descriptor, a valid pidfd and a valid event struct.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } != 0 {
            return false;
        }
        let one = (pid.to_ne_bytes(), [fd.as_raw_fd()]);
        match self.park::<ONE_CONTROL_WORDS>(&one.0, &one.1) {
            Ok(()) => {
                self.parked_messages += 1;
                self.parked_singles += 1;
            }
            Err(nix::Error::EAGAIN) | Err(nix::Error::ENOBUFS)
                if self.reclaim_pays() || self.held.len() >= self.hold_limit =>
            {
                // The park's queue is full. A reclaim (which costs time proportional to everything parked) frees
                // the dead children's files and packs the single-descriptor messages 253 to one: worth it only
                // when that frees a fair share of the park, or when our table has no room left.
                self.reclaim(&is_live);
                if self.park::<ONE_CONTROL_WORDS>(&one.0, &one.1).is_err() {
                    return self.hold(pid, fd);
                }
                self.parked_messages += 1;
                self.parked_singles += 1;
            }
            // The queue is full and a reclaim would not pay yet, or the park refuses for good (the kernel's limit
            // on descriptors in flight, `RLIMIT_NOFILE` for a process without CAP_SYS_RESOURCE): held in our table.
            Err(_) => return self.hold(pid, fd),
        }
        self.parked_live += 1;
        true // `fd` closes here; the parked copy keeps the file, and with it the registration, alive
    }

    /// Whether a reclaim now would free at least an eighth of what it handles (dead children's files, and
    /// single-descriptor messages packed into full ones), so that its cost, proportional to everything parked
    /// and held, is spread over at least that many watches. With tens of thousands of children running, a reclaim
    /// at every watch was most of the postmaster's time per launch.
    fn reclaim_pays(&self) -> bool {
        let total = self.parked_live + self.parked_dead + self.held.len();
        let freed = self.parked_dead + self.parked_singles;
        freed >= RECLAIM_AT && freed * 8 >= total
    }

    /// Keeps `pid`'s pidfd in our descriptor table, which costs each fork a reference per held descriptor, far less
    /// than the walk over every child that SIGCHLD's `waitpid(-1)` would cost each exit. False (the registration
    /// removed, the child not watched) when the table has no room left for it.
    fn hold(&mut self, pid: i32, fd: OwnedFd) -> bool {
        if self.held.len() >= self.hold_limit {
            self.unregister(&fd);
            return false;
        }
        self.parked_live += 1;
        self.held.insert(pid, fd);
        true
    }

    /// Removes `fd`'s registration (a child that will not be watched after all).
    fn unregister(&self, fd: &OwnedFd) {
        // SAFETY: removing a registration of our epoll set; a null event is allowed for EPOLL_CTL_DEL.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd.as_raw_fd(), std::ptr::null_mut()) };
    }

    /// A watched child, `pid`, was reaped: its parked file is freed at a later reclaim; one held in our table is
    /// closed now (found by pid, in constant time), so that dead children's descriptors never fill the table.
    pub fn reaped(&mut self, pid: i32, is_live: impl Fn(i32) -> bool) {
        self.parked_live = self.parked_live.saturating_sub(1);
        if !self.held.is_empty() && self.held.remove(&pid).is_some() {
            return;
        }
        self.parked_dead += 1;
        if self.parked_dead >= RECLAIM_AT && self.parked_dead >= self.parked_live {
            self.reclaim(&is_live);
        }
    }

    /// Pids of watched children that have exited, at most [`EXITS_PER_CALL`], without blocking; appends to `out`.
    /// Each registration is one-shot: a pid is reported once.
    pub fn exited(&self, out: &mut Vec<i32>) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EXITS_PER_CALL];
        // SAFETY: a valid epoll descriptor and a buffer of EXITS_PER_CALL events.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), EXITS_PER_CALL as i32, 0) };
        if n > 0 {
            out.extend(events[..n as usize].iter().map(|e| e.u64 as u32 as i32));
        }
    }

    /// Live children whose exits this watch can no longer report (a reclaim lost their registrations): the caller
    /// must find their exits through SIGCHLD. Empty almost always.
    pub fn take_lost(&mut self) -> Vec<i32> {
        std::mem::take(&mut self.lost)
    }

    /// How many pidfds are parked (live and dead) and held in the descriptor table.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.parked_live, self.parked_dead, self.held.len())
    }

    /// Sends pidfds into the park as one message, with their pids (native-endian i32s, in the same order) as data.
    /// The control message is built in a buffer on the stack: this runs after every fork, when each heap page the
    /// postmaster writes (as an allocation would) is a copy-on-write fault.
    fn park<const WORDS: usize>(&self, pids: &[u8], fds: &[RawFd]) -> nix::Result<()> {
        assert!(fds.len() <= PER_MESSAGE);
        // u64 elements: aligned for cmsghdr.
        let mut control = [0u64; WORDS];
        let data_len = std::mem::size_of_val(fds);
        // SAFETY: CMSG_SPACE only computes a size.
        assert!(unsafe { libc::CMSG_SPACE(data_len as u32) } as usize <= std::mem::size_of_val(&control));
        let mut iov = libc::iovec { iov_base: pids.as_ptr() as *mut libc::c_void, iov_len: pids.len() };
        // SAFETY: msghdr and the control buffer live for the whole call; CMSG_SPACE(data_len) fits the buffer
        // (asserted); CMSG_FIRSTHDR of a buffer that large is non-null; the rights
        // array is copied into the header's data area, whose size CMSG_LEN(data_len) declares.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(data_len as u32) as usize;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(data_len as u32) as usize;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast::<RawFd>(), fds.len());
            libc::sendmsg(self.park_tx.as_raw_fd(), &msg, libc::MSG_DONTWAIT)
        };
        if sent < 0 {
            return Err(nix::errno::Errno::last());
        }
        Ok(())
    }

    /// [`ExitWatch::park`] of a full-size message, counted.
    fn park_chunk(&mut self, chunk: &[(i32, OwnedFd)]) -> nix::Result<()> {
        let pids: Vec<u8> = chunk.iter().flat_map(|(p, _)| p.to_ne_bytes()).collect();
        let fds: Vec<RawFd> = chunk.iter().map(|(_, f)| f.as_raw_fd()).collect();
        self.park::<CONTROL_WORDS>(&pids, &fds)?;
        self.parked_messages += 1;
        Ok(())
    }

    /// Takes every parked message back, closes the files of children no longer alive, parks the rest again: one
    /// message at a time, parking what it keeps as soon as a message is full (see the module docs).
    /// Out of line: its buffers would otherwise widen the frame of every watch.
    #[cold]
    #[inline(never)]
    fn reclaim(&mut self, is_live: &impl Fn(i32) -> bool) {
        let mut keep: Vec<(i32, OwnedFd)> = Vec::with_capacity(2 * PER_MESSAGE);
        let held = std::mem::take(&mut self.held);
        let mut live = held.len();
        keep.extend(held);
        // The messages there now, oldest first; what is parked again goes behind them.
        let messages = std::mem::take(&mut self.parked_messages);
        for _ in 0..messages {
            let mut data = [0u8; PER_MESSAGE * 4];
            let mut space = nix::cmsg_space!([RawFd; PER_MESSAGE]);
            let mut iov = [IoSliceMut::new(&mut data)];
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC;
            let (len, fds, truncated) = match recvmsg::<()>(self.park_rx.as_raw_fd(), &mut iov, Some(&mut space), flags)
            {
                Ok(msg) => {
                    let mut fds = Vec::new();
                    if let Ok(cmsgs) = msg.cmsgs() {
                        for c in cmsgs {
                            if let ControlMessageOwned::ScmRights(v) = c {
                                fds.extend(v);
                            }
                        }
                    }
                    (msg.bytes, fds, msg.flags.contains(MsgFlags::MSG_CTRUNC))
                }
                Err(_) => break, // empty (EAGAIN)
            };
            let pids: Vec<i32> = data[..len.min(data.len())]
                .chunks_exact(4)
                .map(|b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
                .collect();
            let installed = fds.len();
            for (pid, raw) in pids.iter().copied().zip(fds) {
                // SAFETY: a descriptor the kernel just installed for us (SCM_RIGHTS); we own it.
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                if pid > 0 && is_live(pid) {
                    keep.push((pid, fd));
                    live += 1;
                }
                // otherwise `fd` closes here: its child was reaped, the file and its registration go
            }
            if truncated || installed < pids.len() {
                // The kernel could not install them all and closed the rest: their exits will not be reported.
                self.lost.extend(pids[installed.min(pids.len())..].iter().copied().filter(|&p| p > 0 && is_live(p)));
            }
            while keep.len() >= PER_MESSAGE {
                let rest = keep.split_off(PER_MESSAGE);
                let chunk = std::mem::replace(&mut keep, rest);
                if self.park_chunk(&chunk).is_err() {
                    // Refused even now: hold these in our table until the next reclaim (correct, only a little
                    // dearer at fork).
                    self.held.extend(chunk);
                }
                // otherwise our copies close here; the parked ones keep the files alive
            }
        }
        if !keep.is_empty() && self.park_chunk(&keep).is_err() {
            self.held.extend(keep);
        }
        self.parked_live = live;
        self.parked_dead = 0;
        self.parked_singles = 0;
    }
}

/// How many exits [`ExitWatch::exited`] reports at once.
pub const EXITS_PER_CALL: usize = 256;

impl AsRawFd for ExitWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}
