//! The postmaster's exit watch (crates/bgw/src/sys/exit_watch.rs) with real children: every exit reported once
//! and by pid, a constant descriptor table however many children are watched (their pidfds are parked in a
//! socket, not kept as descriptors), and children that stay alive across reclaims still reported when they exit.
//!
//! One test function running the cases in turn: they fork and reap, and the pidfd count they check is the
//! process's, so nothing else may run beside them.

use bgw::sys::exit_watch::ExitWatch;
use bgw_test_support::{signal, SIGKILL};
use std::collections::HashSet;
use std::os::fd::AsRawFd;

#[test]
fn the_exit_watch_reports_every_exit_once_with_a_constant_descriptor_table() {
    an_exited_child_is_reported_once_and_by_pid();
    many_children_are_watched_with_a_constant_descriptor_table_and_every_exit_is_reported_once();
    live_children_survive_reclaims_and_are_still_reported();
}

/// Pidfds open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("pidfd")))
        .count()
}

fn fork_exiting(code: i32) -> i32 {
    // SAFETY: the test process may be multi-threaded; the child only calls the async-signal-safe _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: async-signal-safe exit in the child.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn an_exited_child_is_reported_once_and_by_pid() {
    let mut w = ExitWatch::new().unwrap();
    let pid = fork_exiting(7);
    assert!(w.watch(pid, |_| true));
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
    w.reaped(pid, |_| false);
    out.clear();
    w.exited(&mut out);
    assert!(out.is_empty(), "one-shot: reported once");
}

fn many_children_are_watched_with_a_constant_descriptor_table_and_every_exit_is_reported_once() {
    let mut w = ExitWatch::new().unwrap();
    let before = open_fds();
    let n = 1200; // more than one park's worth of single messages, several reclaims
    let mut live: HashSet<i32> = HashSet::new();
    let mut reported = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for _ in 0..n {
        let pid = fork_exiting(0);
        assert!(w.watch(pid, |p| live.contains(&p)), "watch failed");
        live.insert(pid);
        // Reap as we go, as the postmaster does.
        reported += reap_reported(&mut w, &mut live);
        assert!(open_fds() <= before + 8, "descriptors grow with children: {}", open_fds());
    }
    while reported < n {
        assert!(std::time::Instant::now() < deadline, "only {reported} of {n} exits reported");
        reported += reap_reported(&mut w, &mut live);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(live.is_empty());
    let (l, d, h) = w.counts();
    assert_eq!(l, 0);
    assert!(d < 128 && h == 0, "dead parked {d}, held {h}");
}

fn live_children_survive_reclaims_and_are_still_reported() {
    // Children that stay alive while many others come and go must still be reported when they exit.
    let mut w = ExitWatch::new().unwrap();
    let before = open_fds();
    let mut live: HashSet<i32> = HashSet::new();
    let mut stayers = Vec::new();
    for _ in 0..20 {
        // SAFETY: the child only blocks in pause until killed.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe calls in the child.
            unsafe {
                libc::pause();
                libc::_exit(0)
            };
        }
        assert!(w.watch(pid, |p| live.contains(&p)));
        live.insert(pid);
        stayers.push(pid);
    }
    for _ in 0..600 {
        let pid = fork_exiting(0);
        assert!(w.watch(pid, |p| live.contains(&p)));
        live.insert(pid);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        live.remove(&pid);
        w.reaped(pid, |q| live.contains(&q));
    }
    assert!(open_fds() <= before + 8, "a descriptor per live child: {} open, {before} before", open_fds());
    // Drain the stale one-shot events of the children reaped above.
    let mut out = Vec::new();
    w.exited(&mut out);
    assert!(out.iter().all(|p| !stayers.contains(p)));
    for &p in &stayers {
        signal(p, SIGKILL);
    }
    let mut seen = HashSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.len() < stayers.len() {
        assert!(std::time::Instant::now() < deadline, "stayers reported: {}", seen.len());
        let mut out = Vec::new();
        w.exited(&mut out);
        for p in out {
            if stayers.contains(&p) {
                let mut status = 0;
                // SAFETY: reaping our own child.
                assert_eq!(unsafe { libc::waitpid(p, &mut status, libc::WNOHANG) }, p);
                assert!(seen.insert(p));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Reaps the children `w` reports as exited, as the postmaster does (`waitpid` on each, then `reaped`), checking
/// that each is reported once; returns how many were reported.
fn reap_reported(w: &mut ExitWatch, live: &mut HashSet<i32>) -> usize {
    let mut out = Vec::new();
    w.exited(&mut out);
    for &p in &out {
        let mut status = 0;
        // SAFETY: reaping our own child.
        assert_eq!(unsafe { libc::waitpid(p, &mut status, libc::WNOHANG) }, p);
        assert!(live.remove(&p), "pid {p} reported twice");
        w.reaped(p, |q| live.contains(&q));
    }
    out.len()
}
