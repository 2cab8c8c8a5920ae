//! The scenarios, each run the same way on both hosts.
//!
//! Scenarios 1-4 are timed inside a backend by the bench module's SQL functions (the client only starts them and
//! collects the samples). crash_restart cannot be timed inside a backend, since the crash-and-restart cycle ends
//! every backend: the driver times it from the kill to the moment a new connection succeeds and sees all static
//! workers running again with new pids. Idle figures come from /proc.

use crate::hosts::Host;
use anyhow::{bail, Result};
use std::time::{Duration, Instant};

/// Samples in nanoseconds of `function(arg)`, timed inside the backend.
pub fn timed_in_backend(host: &Host, function: &str, arg: i64) -> Result<Vec<i64>> {
    let mut c = host.connect()?;
    Host::call(&mut c, function, Some(arg))
}

fn alive(pid: i64) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    pid > 0 && unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
}

/// kill -9 of static worker `victim`; nanoseconds until a new connection sees every static worker running with a
/// new pid.
pub fn crash_restart(host: &Host, victim: usize, timeout: Duration) -> Result<i64> {
    let old = {
        let mut c = host.connect()?;
        Host::static_pids(&mut c)?
    };
    if old.is_empty() || old.iter().any(|&p| p <= 0) {
        bail!("{}: static workers not all running before the crash: {old:?}", host.kind.label());
    }
    let pid = old[victim % old.len()];
    let t0 = Instant::now();
    // SAFETY: kill has no memory preconditions; the pid is one of the server's static workers.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } != 0 {
        bail!("kill -9 {pid}: {}", std::io::Error::last_os_error());
    }
    loop {
        if let Ok(mut c) = host.connect() {
            if let Ok(now) = Host::static_pids(&mut c) {
                let renewed =
                    now.len() == old.len() && now.iter().zip(&old).all(|(&n, &o)| n > 0 && n != o && alive(n));
                if renewed {
                    return Ok(t0.elapsed().as_nanos() as i64);
                }
            }
        }
        if t0.elapsed() > timeout {
            bail!("{}: static workers not back within {timeout:?}; log:\n{}", host.kind.label(), host.log_tail());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Figures read from /proc for one host during an idle window.
#[derive(Clone, Debug, Default)]
pub struct Idle {
    pub postmaster_wakeups: i64,
    pub postmaster_rss_kb: i64,
    pub worker_pss_kb: i64,
}

fn status_field(pid: i32, field: &str) -> Result<i64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    proc_field(&s, field)
}

fn proc_field(text: &str, field: &str) -> Result<i64> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field) {
            if let Some(v) = rest.trim_start_matches(':').split_whitespace().next() {
                return Ok(v.parse()?);
            }
        }
    }
    bail!("no {field} in /proc")
}

/// Starts an idle window (open no connection between this and `idle_end`: a backend's exit wakes a postmaster):
/// returns what to compare at its end.
pub fn idle_begin(host: &Host, worker: i64) -> Result<(i32, i64, i64)> {
    let pm = host.postmaster_pid();
    Ok((pm, worker, status_field(pm, "voluntary_ctxt_switches")?))
}

pub fn idle_end(begin: (i32, i64, i64)) -> Result<Idle> {
    let (pm, worker, switches0) = begin;
    let switches1 = status_field(pm, "voluntary_ctxt_switches")?;
    let rollup = std::fs::read_to_string(format!("/proc/{worker}/smaps_rollup"))?;
    Ok(Idle {
        postmaster_wakeups: switches1 - switches0,
        postmaster_rss_kb: status_field(pm, "VmRSS")?,
        worker_pss_kb: proc_field(&rollup, "Pss")?,
    })
}

/// The CPU time (nanoseconds) process `pid` used while `f` ran, with what `f` returned.
pub fn with_cpu<T>(pid: i32, f: impl FnOnce() -> Result<T>) -> Result<(T, i64)> {
    let before = cpu_ns(pid)?;
    let out = f()?;
    Ok((out, cpu_ns(pid)? - before))
}

/// The CPU time `pid` has used, in nanoseconds (the first field of /proc/PID/schedstat: time on a CPU, at the
/// scheduler's resolution, not the clock tick's).
pub fn cpu_ns(pid: i32) -> Result<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))?;
    Ok(stat.split_whitespace().next().unwrap_or("0").parse()?)
}

/// The resident set of `pid` (VmRSS, kB).
pub fn rss_kb(pid: i32) -> Result<i64> {
    status_field(pid, "VmRSS")
}

/// Waits until the machine is quiet again after a measurement (at least 90 % of every CPU idle over 20 ms, for at
/// most 2 s): work a host does after a call returns (a PostgreSQL backend's exit, bgw refilling its spare pool once
/// quiet) must not run during the other host's measurement. Called after every call on either host alike.
pub fn settle() {
    fn idle_and_total() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?;
        let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal
        let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
        Some((idle, v.iter().take(8).sum()))
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let Some((i0, t0)) = idle_and_total() else { return };
        std::thread::sleep(Duration::from_millis(20));
        let Some((i1, t1)) = idle_and_total() else { return };
        if t1 > t0 && (i1 - i0) * 10 >= (t1 - t0) * 9 {
            return;
        }
    }
}
