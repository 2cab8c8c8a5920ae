//! Processes by pid: whether one exists, and leaving this one at once.
//!
//! Runs in every process of the host.

use bgw_macros::hot;

/// Whether a process with this pid exists (it may belong to another user, or be a zombie).
pub fn exists(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Ends this process with `code` at once: no atexit handlers, no destructors, no flushing (a child must not run
/// its parent's). Async-signal-safe.
#[hot]
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Makes `cmd` start its process in a session of its own (detached from the terminal, as `pg_ctl start` does)
/// with `inherit` kept open across its exec (a pipe end the new process reports on).
pub fn spawn_detached_with(cmd: &mut std::process::Command, inherit: std::os::fd::RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec: setsid, and fcntl to clear close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::fcntl(inherit, libc::F_SETFD, 0);
            Ok(())
        });
    }
}

/// Reaps `pid` (any child if `pid` is -1) if it has exited, without waiting: `Some((pid, wait status))`, or None
/// when no such child has exited (or there is none).
pub fn try_reap(pid: i32) -> Option<(i32, i32)> {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG and a valid status pointer.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (got > 0).then_some((got, status))
}
