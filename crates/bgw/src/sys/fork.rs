//! The one function that forks.
//!
//! Only the postmaster forks, and it must be single-threaded when it does: a forked child of a multi-threaded
//! process inherits locks held by threads that do not exist in it. [`fork_process`] checks that, and puts the child
//! into a known state before any other code runs in it: every signal at its default action and unblocked, the
//! postmaster's private file descriptors closed, and a parent-death signal armed so that no child outlives the
//! postmaster. (The doc of [`fork_process`] is precise: signals are blocked until the child installs its handlers.)
//!
//! What a child can read of its parent's memory: everything but [`super::private_memory`], which it does not have.
//! [`Inherited`] is how the postmaster points a child at something in its ordinary memory.

use bgw_macros::hot;
use std::os::fd::RawFd;

/// The signal the kernel sends a child when the postmaster dies (`PR_SET_PDEATHSIG`). Children install a handler
/// for it (see `crate::latch`); PostgreSQL's workers ignore SIGUSR2, so the spec leaves it free.
pub const POSTMASTER_DEATH_SIGNAL: libc::c_int = libc::SIGUSR2;

/// A reference into the forking process's ordinary memory, for the child of its next fork to follow.
///
/// A fork copies every mapping except [`super::private_memory`]: in the child, the referent is at the same address,
/// as it was at the fork, and nothing else in the child can free or change it. The parent, meanwhile, may drop or
/// move the original, so the reference is only good in the child, which is why following it is `unsafe`. This
/// lets the postmaster hand a child what it needs without the child touching the postmaster's own state (which
/// lives in private memory the child does not have).
pub struct Inherited<T: 'static>(*const T);

impl<T: 'static> Inherited<T> {
    /// Takes the reference, before the fork. `value` must not be in [`super::private_memory`].
    pub fn new(value: &T) -> Inherited<T> {
        Inherited(value)
    }

    /// The referent, in the child.
    ///
    /// # Safety
    /// Only in the child of the first fork after [`Inherited::new`], which must have been made while the
    /// referent was alive and not in private memory.
    #[hot]
    pub unsafe fn in_child(&self) -> &'static T {
        // SAFETY: per the contract, this is the child's own copy of a value that was alive at the fork, in memory
        // the fork copied; the child never frees it, so it lives as long as the process.
        unsafe { &*self.0 }
    }
}

/// Which side of the fork we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    Child,
    Parent { pid: i32 },
}

#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error("refusing to fork: this process has {0} threads (the postmaster must be single-threaded)")]
    MultiThreaded(u64),
    #[error("could not fork new process: {0}")]
    Fork(std::io::Error),
}

/// How many threads this process has. Cheap: one `stat` of `/proc/self/task`, whose link count is the number of
/// threads plus two.
pub fn thread_count() -> Option<u64> {
    // SAFETY: a zeroed stat buffer filled by stat on a NUL-terminated path.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::stat(c"/proc/self/task".as_ptr(), &mut st) != 0 {
            return None;
        }
        Some((st.st_nlink as u64).saturating_sub(2))
    }
}

extern "C" {
    /// glibc (2.32 and later): true until the process creates its first thread, and never true again after that.
    static __libc_single_threaded: libc::c_char;
}

/// Whether this process is certainly single-threaded: glibc's flag says it never created a thread (a memory read),
/// or else [`thread_count`] says the threads it created are gone (a `stat`).
fn single_threaded() -> Result<(), ForkError> {
    // SAFETY: a byte glibc itself reads and writes plainly; it only ever goes from 1 to 0, when a thread is created,
    // so a stale read errs towards "threads", which falls back to the stat. (A thread being created at this very
    // moment would escape either check; the postmaster creates none.)
    if unsafe { std::ptr::read_volatile(&raw const __libc_single_threaded) } != 0 {
        return Ok(());
    }
    match thread_count() {
        Some(n) if n > 1 => Err(ForkError::MultiThreaded(n)),
        _ => Ok(()),
    }
}

/// Closes `fds` with one `close_range` per run of consecutive numbers (the postmaster's descriptors are mostly
/// adjacent, and it passes them sorted, so a child makes two or three system calls instead of one per descriptor).
/// Any order is correct; sorted is fewer calls. Allocates and copies nothing.
#[hot]
fn close_all(fds: &[RawFd]) {
    let mut i = 0;
    while i < fds.len() {
        let first = fds[i];
        let mut last = first;
        while i + 1 < fds.len() && (fds[i + 1] == last + 1 || fds[i + 1] == last) {
            i += 1;
            last = fds[i];
        }
        i += 1;
        if first < 0 {
            continue;
        }
        if !super::raw::close_range(first as u32, last as u32) {
            for fd in first..=last {
                // SAFETY: closing descriptors the caller owns and no longer uses (a kernel without close_range).
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Forks. In the child, before returning: signal dispositions reset to default and every signal blocked but the
/// parent-death one, `close_in_child` closed, and the parent-death signal armed (if the parent died in between,
/// the child exits at once). The child unblocks signals once its handlers are installed.
#[hot]
pub fn fork_process(close_in_child: &[RawFd]) -> Result<Forked, ForkError> {
    single_threaded()?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the process is single-threaded (checked above), so the child gets a consistent copy of memory.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(ForkError::Fork(std::io::Error::last_os_error()));
    }
    if pid > 0 {
        return Ok(Forked::Parent { pid });
    }
    super::signals::reset_all_blocked(super::raw::bit(POSTMASTER_DEATH_SIGNAL));
    // The postmaster's own descriptors; the child never uses them.
    close_all(close_in_child);
    super::raw::set_parent_death_signal(POSTMASTER_DEATH_SIGNAL);
    if super::raw::parent_pid() != parent {
        // The postmaster died before the death signal was armed.
        // SAFETY: _exit has no preconditions.
        unsafe { libc::_exit(1) };
    }
    Ok(Forked::Child)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD only inspects the descriptor table.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn close_all_closes_exactly_the_listed_descriptors() {
        // Eight descriptors at 900..908, far above what the tests running beside this one get, so that none of
        // them can take a number this test closed before it checks.
        let mut p = [0; 2];
        // SAFETY: pipe2 fills two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let fds: Vec<RawFd> = (0..8)
            .map(|i| {
                // SAFETY: duplicating a descriptor this test owns onto a free number it then owns.
                let fd = unsafe { libc::fcntl(p[i % 2], libc::F_DUPFD_CLOEXEC, 900 + i as RawFd) };
                assert_eq!(fd, 900 + i as RawFd);
                fd
            })
            .collect();
        // SAFETY: closing what this test opened.
        unsafe { libc::close(p[0]) };
        // SAFETY: as above.
        unsafe { libc::close(p[1]) };
        // Runs and gaps, in no order, with a duplicate and a negative entry.
        let close = [fds[6], fds[0], fds[1], fds[4], fds[1], -1, fds[7]];
        let keep = [fds[2], fds[3], fds[5]];
        close_all(&close);
        for fd in close.iter().filter(|&&fd| fd >= 0) {
            assert!(!is_open(*fd), "descriptor {fd} should be closed");
        }
        for fd in keep {
            assert!(is_open(fd), "descriptor {fd} should be open");
            // SAFETY: closing what this test opened.
            unsafe { libc::close(fd) };
        }
    }

    #[test]
    fn this_test_process_is_not_single_threaded_and_fork_refuses() {
        // The test harness runs tests on threads: glibc's flag is clear, and /proc says more than one thread.
        let _other = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(500)));
        assert!(matches!(single_threaded(), Err(ForkError::MultiThreaded(_))));
        assert!(matches!(fork_process(&[]), Err(ForkError::MultiThreaded(_))));
    }
}
