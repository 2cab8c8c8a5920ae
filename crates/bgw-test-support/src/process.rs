//! Processes as `/proc` shows them (alive, title, parent, process group), signals, and running a child process
//! so that it cannot outlive the test.
//!
//! [`signal`] is the tests' one way to send a signal: it refuses a pid that would address a process group or
//! every process (0 or less) and fails the test if the signal cannot be sent. [`try_signal`] is for processes
//! that may be gone already (chaos victims); [`GroupGuard`] kills a whole process group when dropped.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output};
use std::time::Duration;

/// (state, ppid, pgrp) of a process, from `/proc/<pid>/stat`.
pub fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) follow the last ')'.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.first()?.chars().next()?, f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?))
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, r)| !r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

/// The process title (its command line as `ps` shows it); empty if the process is gone.
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).trim_end_matches('\0').replace('\0', " "))
        .unwrap_or_default()
}

/// Pids of every process that is in `/proc`.
fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok()).collect()
}

/// Live (not zombie) children of `parent`, with their command lines (process titles).
pub fn children_of(parent: i32) -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    for pid in all_pids() {
        let Some((state, ppid, _)) = stat(pid) else { continue };
        if ppid == parent && state != 'Z' {
            out.insert(pid, cmdline(pid));
        }
    }
    out
}

/// Live processes in process group `pgid` (a postmaster's pid), excluding the leader.
pub fn group_members(pgid: i32) -> Vec<i32> {
    if pgid <= 0 {
        return Vec::new();
    }
    all_pids()
        .into_iter()
        .filter(|&pid| pid != pgid && stat(pid).is_some_and(|(state, _, pgrp)| pgrp == pgid && state != 'Z'))
        .collect()
}

/// Sends `sig` to the process `pid`; the test fails if `pid` is not a single process (0 or less) or the signal
/// cannot be sent.
pub fn signal(pid: i32, sig: i32) {
    assert!(pid > 0, "signal {sig} to pid {pid}: not a single process");
    if let Err(e) = send(pid, sig) {
        panic!("kill({pid}, {sig}): {e}");
    }
}

/// Sends `sig` to the process `pid` if it is still there; whether it was sent. For processes that may have
/// exited (and been reaped) meanwhile.
pub fn try_signal(pid: i32, sig: i32) -> bool {
    assert!(pid > 0, "signal {sig} to pid {pid}: not a single process");
    send(pid, sig).is_ok()
}

/// kill(2): a positive `target` is a process, a negative one a process group.
fn send(target: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory preconditions; the callers name a process (group) of this test.
    if unsafe { libc::kill(target, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Kills the process group `pgid` with SIGKILL (an empty or gone group is no error).
pub fn kill_group(pgid: i32) {
    if pgid > 0 {
        let _ = send(-pgid, libc::SIGKILL);
    }
}

/// Kills a process group when dropped: for a server the test started detached, so that a failing test leaves
/// nothing behind. A pid of 0 or less guards nothing.
pub struct GroupGuard(pub i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Whether the tests run as root (some checks need another user, or only root can arrange them).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Makes `cmd` die with the test: its own process group (the caller kills the group) and SIGKILL when the thread
/// that started it goes away.
pub fn contained(cmd: &mut Command) -> &mut Command {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent; it runs in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
    cmd
}

/// Waits for `child` to exit and collects its output, reading its pipes meanwhile (so an output larger than a
/// pipe's buffer cannot block it); None, with the child killed, if it takes longer than `deadline`.
pub fn output_within(child: Child, deadline: Duration) -> Option<Output> {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => Some(out.unwrap()),
        Err(_) => {
            // The child is unreaped (its waiter is blocked), so the pid is still ours.
            let _ = send(pid, libc::SIGKILL);
            None
        }
    }
}
