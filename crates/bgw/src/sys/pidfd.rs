//! Process descriptors (`pidfd_open`): waiting, without polling, for a process that is not our child to exit (used
//! by `bgw stop` to wait for the postmaster), and signalling a process named by a pid that another process may reap
//! and the kernel may reuse at any moment, without ever signalling the reuser (used by a terminator that signals a
//! worker itself: see `crate::bgworker::slots` on `signal_pid`).

use std::time::Duration;

/// Waits until `pid` exits or `timeout` passes. Ok(true) if it exited (or did not exist).
pub fn wait_for_exit(pid: i32, timeout: Duration) -> std::io::Result<bool> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return if err.raw_os_error() == Some(libc::ESRCH) { Ok(true) } else { Err(err) };
    }
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let deadline = std::time::Instant::now() + timeout;
    let result = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            break Ok(true);
        }
        if n == 0 {
            break Ok(false);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            break Err(err);
        }
    };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(fd) };
    result
}

/// Sends `sig` to `pid` through a pidfd, if `still_names_it` (called after the pidfd is open) says the pid still
/// names the intended process: then the pidfd was opened on that process, and the signal cannot reach another
/// process that reused the pid later. Ok(true): sent; Ok(false): the process is gone or `still_names_it` said no
/// (nothing sent); Err: the descriptor could not be opened or the signal not sent for another reason.
pub fn signal_checked(pid: i32, sig: i32, still_names_it: impl FnOnce() -> bool) -> std::io::Result<bool> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd (close-on-exec) or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return if err.raw_os_error() == Some(libc::ESRCH) { Ok(false) } else { Err(err) };
    }
    let result = if still_names_it() {
        // SAFETY: pidfd_send_signal with our pidfd, a signal number, no siginfo (NULL) and no flags.
        let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, sig, std::ptr::null::<libc::siginfo_t>(), 0) };
        if r == 0 {
            Ok(true)
        } else {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ESRCH) {
                Ok(false)
            } else {
                Err(err)
            }
        }
    } else {
        Ok(false)
    };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(fd) };
    result
}
