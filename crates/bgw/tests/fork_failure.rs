//! A worker's fork failing for real (issue 17, item 3): the host runs as the OS user `nobody` (tests run as root,
//! which RLIMIT_NPROC does not bind), and the test lowers the postmaster's RLIMIT_NPROC to the processes `nobody`
//! has, so the next fork fails with EAGAIN. The postmaster logs PostgreSQL 17's "could not fork background worker
//! process: Resource temporarily unavailable", records the exit reason `fork_failed` with the errno
//! (`bgw_workers`, `bgw_exit_reason`), survives, and starts the worker by the spec's restart rule once the limit
//! allows.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop);
//! the limit is lifted before any assertion can fail.

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// How many tasks (processes and threads) the user `uid` has: what RLIMIT_NPROC counts.
fn tasks_of(uid: u32) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Some(_) = path.file_name().and_then(|f| f.to_str()).and_then(|f| f.parse::<u32>().ok()) else { continue };
        let Ok(status) = std::fs::read_to_string(path.join("status")) else { continue };
        let real_uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next());
        if real_uid.and_then(|u| u.parse::<u32>().ok()) == Some(uid) {
            n += std::fs::read_dir(path.join("task")).map(|d| d.count() as u64).unwrap_or(1);
        }
    }
    n
}

/// Sets the soft RLIMIT_NPROC of process `pid` (None: up to the hard limit). Done by util-linux's `prlimit` run as
/// the process's own user: the test's root lacks CAP_SYS_RESOURCE in containers, and a process may change the
/// limits of its own user's processes, the soft one up to the hard one.
fn set_nproc(pid: i32, soft: Option<u64>, ids: (u32, u32)) {
    use std::os::unix::process::CommandExt;
    let value = match soft {
        Some(n) => format!("{n}:"),
        None => {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
            let line = limits.lines().find(|l| l.starts_with("Max processes")).unwrap();
            // "Max processes  <soft>  <hard>  processes": the soft limit goes up to the hard one.
            format!("{}:", line.split_whitespace().nth(3).unwrap())
        }
    };
    let out = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--nproc={value}"))
        .uid(ids.0)
        .gid(ids.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "prlimit: {}", String::from_utf8_lossy(&out.stderr));
}

/// Lifts the limit when dropped, so that a failing test leaves the host able to fork (and to be stopped).
struct Lifted(i32, (u32, u32));

impl Drop for Lifted {
    fn drop(&mut self) {
        set_nproc(self.0, None, self.1);
    }
}

#[test]
fn a_fork_failure_by_rlimit_nproc_is_logged_recorded_and_retried() {
    const NOBODY: u32 = 65534;
    let h = Host::start(Setup::new(BGW).os_user("nobody").conf("worker_spare_processes", "0"));
    let pm = h.pid();
    // One session, opened while forks succeed: its backend answers everything below.
    let mut c = h.client();
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    let ids = (NOBODY, NOBODY);
    let lifted = Lifted(pm, ids);
    set_nproc(pm, Some(tasks_of(NOBODY)), ids);
    let handle: String = c
        .query_one("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"w\", \"restart\": 1}')", &[])
        .unwrap()
        .get(0);
    let log = h.wait_log("could not fork background worker process: Resource temporarily unavailable");
    assert!(!log.contains("os error"), "{log}");
    let reason: Option<String> =
        c.query_one("SELECT bgw_exit_reason($1)", &[&handle]).unwrap().get::<_, Option<String>>(0);
    let row =
        c.query_one("SELECT last_exit_reason, last_exit_description FROM bgw_workers WHERE name = 'w'", &[]).unwrap();
    let (kind, description): (Option<String>, Option<String>) = (row.get(0), row.get(1));
    // The postmaster survived, and starts the worker once the limit allows (restart after 1 s).
    drop(lifted);
    assert_eq!(crate_signal_zero(pm), 0, "the postmaster died");
    let pid: Option<i32> = c.query_one("SELECT bgw_wait_for_startup($1)", &[&handle]).unwrap().get::<_, Option<i32>>(0);
    assert!(pid.is_some_and(|p| p > 0), "the worker did not start after the limit was lifted");
    assert_eq!(kind.as_deref(), Some("fork_failed"));
    let expected = "could not be started: fork failed: Resource temporarily unavailable (errno 11)";
    assert_eq!(description.as_deref(), Some(expected));
    assert_eq!(reason.as_deref(), Some(expected));
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'w'"), "running");
    // The postmaster and the worker ran as nobody.
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.unwrap())).unwrap();
    assert!(status.lines().any(|l| l.starts_with("Uid:") && l.contains("65534")), "{status}");
}

/// kill(pid, 0): 0 if the process exists.
fn crate_signal_zero(pid: i32) -> i32 {
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    unsafe { libc::kill(pid, 0) }
}
