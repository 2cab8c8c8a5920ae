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

/// What `/proc/<pid>/stat` says of a process: its state letter (field 3: `R`, `S`, `Z` for a zombie, ...) and its
/// start time in clock ticks after boot (field 22), which together with the pid names one process for the life
/// of the system. None if there is no such process (or no /proc).
pub fn stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: fields 3 on follow the
    // last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// This process's start time in clock ticks after boot (see [`stat`]); 0 if unknown.
pub fn my_start_ticks() -> u64 {
    stat(std::process::id() as i32).map_or(0, |(_, start)| start)
}

/// Whether `pid` is a live process (not a zombie) and, if `start_ticks` is given (non-zero), the very process that
/// started then, not a later one that reuses its pid.
pub fn is_live_process(pid: i32, start_ticks: u64) -> bool {
    match stat(pid) {
        Some((state, start)) => state != 'Z' && state != 'X' && (start_ticks == 0 || start == start_ticks),
        // No /proc entry readable: fall back to whether the pid exists at all.
        None => exists(pid) && std::fs::metadata("/proc/self/stat").is_err(),
    }
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

/// The pid of a child that has exited, without reaping it (it stays a zombie, its pid its own, until
/// [`try_reap`]); None when no child has exited.
pub fn peek_exited() -> Option<i32> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid with WNOHANG | WNOWAIT and a valid siginfo pointer; it reaps nothing.
    let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    if r != 0 {
        return None;
    }
    // SAFETY: waitid filled in the child's fields (si_pid is 0 when no child has exited).
    let pid = unsafe { info.si_pid() };
    (pid > 0).then_some(pid)
}

/// Reaps `pid` (any child if `pid` is -1) if it has exited, without waiting: `Some((pid, wait status))`, or None
/// when no such child has exited (or there is none).
pub fn try_reap(pid: i32) -> Option<(i32, i32)> {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG and a valid status pointer.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (got > 0).then_some((got, status))
}
