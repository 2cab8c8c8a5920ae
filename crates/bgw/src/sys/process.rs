//! Processes by pid: whether one exists, and leaving this one at once.
//!
//! Runs in every process of the host.

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
#[link_section = ".text.hot.bgw_worker"]
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and is async-signal-safe.
    unsafe { libc::_exit(code) }
}
