//! Learning which children exited without asking the kernel about every child: a pidfd per child in one epoll
//! set. Runs in the postmaster only.
//!
//! `waitpid(-1, WNOHANG)` makes the kernel walk the caller's whole list of children on every call; with thousands
//! of workers running, that walk dominated every launch and exit. Here each child gets a pidfd (readable once the
//! child has exited) registered in an epoll set whose event data is the pid: the postmaster learns exactly which
//! children exited and reaps each with `waitpid(pid)`, which the kernel answers without a walk. SIGCHLD remains
//! the fallback for children that could not be watched (no pidfd: an old kernel, or out of descriptors).
//!
//! Children inherit the postmaster's descriptors at fork, so pidfds are kept at or above [`ExitWatch::base`] and
//! a child closes that whole range with one `close_range` (see `crate::sys::fork`); everything a child needs is
//! below it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The epoll set of children's pidfds.
pub struct ExitWatch {
    epoll: OwnedFd,
    base: RawFd,
}

impl ExitWatch {
    /// Creates the set. `base`: the lowest descriptor number pidfds may use (above every descriptor a child
    /// needs). Raises the soft descriptor limit to the hard one, so that thousands of children can be watched.
    pub fn new(base: RawFd) -> std::io::Result<ExitWatch> {
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        unsafe {
            let mut lim: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(ExitWatch { epoll: unsafe { OwnedFd::from_raw_fd(fd) }, base })
    }

    /// The lowest descriptor a pidfd may have; children close everything from here up.
    pub fn base(&self) -> RawFd {
        self.base
    }

    /// Watches child `pid` (just forked, not yet reaped, so the pid cannot have been reused). None if it cannot
    /// be watched; the caller then relies on SIGCHLD for it.
    pub fn watch(&self, pid: i32) -> Option<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor (close-on-exec) or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
        if raw < 0 {
            return None;
        }
        // SAFETY: raw is a fresh descriptor we own.
        let low = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: F_DUPFD_CLOEXEC duplicates a valid descriptor to the lowest free number >= base.
        let high = unsafe { libc::fcntl(low.as_raw_fd(), libc::F_DUPFD_CLOEXEC, self.base) };
        drop(low);
        if high < 0 {
            return None;
        }
        // SAFETY: high is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(high) };
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: pid as u32 as u64 };
        // SAFETY: a valid epoll descriptor, a valid pidfd and a valid event struct.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } != 0 {
            return None;
        }
        Some(fd)
    }

    /// Stops watching (before the pidfd is closed: a child that has not yet closed its inherited copy would keep
    /// the registration alive otherwise).
    pub fn unwatch(&self, fd: OwnedFd) {
        // SAFETY: removing a descriptor we added; a null event pointer is allowed for EPOLL_CTL_DEL.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd.as_raw_fd(), std::ptr::null_mut()) };
        drop(fd);
    }

    /// Pids of watched children that have exited (not yet reaped), at most [`EXITS_PER_CALL`], without blocking;
    /// appends to `out`. The set is level-triggered: pidfds stay ready until their children are reaped and
    /// unwatched, so asking again before that returns the same pids; the caller reaps these first and the
    /// postmaster's loop comes back for the rest.
    pub fn exited(&self, out: &mut Vec<i32>) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EXITS_PER_CALL];
        // SAFETY: a valid epoll descriptor and a buffer of EXITS_PER_CALL events.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), EXITS_PER_CALL as i32, 0) };
        if n > 0 {
            out.extend(events[..n as usize].iter().map(|e| e.u64 as u32 as i32));
        }
    }
}

/// How many exits [`ExitWatch::exited`] reports at once.
pub const EXITS_PER_CALL: usize = 256;

impl AsRawFd for ExitWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}

/// The highest descriptor number open in this process (from /proc/self/fd), or 2.
pub fn highest_open_fd() -> RawFd {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok()).max().unwrap_or(2))
        .unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exited_child_is_reported_once_and_by_pid() {
        let w = ExitWatch::new(highest_open_fd() + 16).unwrap();
        // SAFETY: the test process may be multi-threaded; the child only calls the async-signal-safe _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe exit in the child.
            unsafe { libc::_exit(7) };
        }
        let fd = w.watch(pid).expect("pidfd");
        assert!(fd.as_raw_fd() >= w.base());
        let mut pfd = libc::pollfd { fd: w.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 10_000) }, 1);
        let mut out = Vec::new();
        w.exited(&mut out);
        assert_eq!(out, vec![pid]);
        let mut status = 0;
        // SAFETY: reaping our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) }, pid);
        assert_eq!(libc::WEXITSTATUS(status), 7);
        w.unwatch(fd);
        out.clear();
        w.exited(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn more_exits_than_one_call_reports_come_in_batches_until_reaped() {
        let w = ExitWatch::new(highest_open_fd() + 16).unwrap();
        let n = EXITS_PER_CALL + 10;
        let mut fds = std::collections::HashMap::new();
        for _ in 0..n {
            // SAFETY: the child only calls the async-signal-safe _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: async-signal-safe exit in the child.
                unsafe { libc::_exit(0) };
            }
            fds.insert(pid, w.watch(pid).expect("pidfd"));
        }
        let mut reaped = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while reaped < n {
            assert!(std::time::Instant::now() < deadline, "only {reaped} of {n} exits reported");
            let mut out = Vec::new();
            w.exited(&mut out);
            assert!(out.len() <= EXITS_PER_CALL);
            for pid in out {
                let mut status = 0;
                // SAFETY: reaping our own child.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) }, pid);
                w.unwatch(fds.remove(&pid).expect("reported once"));
                reaped += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(fds.is_empty());
    }
}
