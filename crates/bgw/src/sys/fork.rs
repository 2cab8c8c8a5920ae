//! The one function that forks.
//!
//! Only the postmaster forks, and it must be single-threaded when it does: a forked child of a multi-threaded
//! process inherits locks held by threads that do not exist in it. [`fork_process`] checks that, and puts the child
//! into a known state before any other code runs in it: every signal at its default action and unblocked, the
//! postmaster's private file descriptors closed, and a parent-death signal armed so that no child outlives the
//! postmaster.

use std::os::fd::RawFd;

/// The signal the kernel sends a child when the postmaster dies (`PR_SET_PDEATHSIG`). Children install a handler
/// for it (see `crate::latch`); PostgreSQL's workers ignore SIGUSR2, so the spec leaves it free.
pub const POSTMASTER_DEATH_SIGNAL: libc::c_int = libc::SIGUSR2;

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

/// Forks. In the child, before returning: signal dispositions reset to default and every signal blocked but the
/// parent-death one, `close_in_child` closed, and the parent-death signal armed (if the parent died in between,
/// the child exits at once). The child unblocks signals once its handlers are installed.
#[link_section = ".text.hot.bgw_worker"]
pub fn fork_process(close_in_child: &[RawFd]) -> Result<Forked, ForkError> {
    if let Some(n) = thread_count() {
        if n > 1 {
            return Err(ForkError::MultiThreaded(n));
        }
    }
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
    super::signals::reset_all_blocked(&[POSTMASTER_DEATH_SIGNAL]);
    for &fd in close_in_child {
        // SAFETY: closing descriptors the postmaster owns; the child never uses them.
        unsafe { libc::close(fd) };
    }
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal number; getppid has no preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, POSTMASTER_DEATH_SIGNAL as libc::c_ulong, 0, 0, 0);
        if libc::getppid() != parent {
            // The postmaster died before the death signal was armed.
            libc::_exit(1);
        }
    }
    Ok(Forked::Child)
}
