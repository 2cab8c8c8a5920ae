//! Invariant checks of the chaos and fault tests (`crates/bgw/tests/chaos.rs`, `faults.rs`): what the host's own
//! view says, compared with what `/proc` says, and the parallel-worker accounting probed from outside.
//!
//! Every check returns `Err(description)` rather than panicking, so a long chaos run can count violations and
//! report them all. Checks that compare two racing sources (the `bgw_workers` view and `/proc`) are meant for a
//! quiescent host: [`wait_consistent`] polls until they agree, and only a disagreement that outlasts the
//! deadline is a violation.

use crate::process::{children_of, cmdline, group_members, stat};
use crate::{Host, DEADLINE};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// One comparison of the `bgw_workers` view and `pg_stat_activity` with the postmaster's children in `/proc`:
/// - no registration is in a transient state (registered, starting, terminating): otherwise "not quiescent";
/// - every row shown running has a pid, and that pid is a live child of the postmaster titled `bgw: <name>`;
/// - no row that is not running shows a pid;
/// - every child of the postmaster is a running worker of the view, a session of `pg_stat_activity`, or a spare
///   worker process that `pg_stat_activity` shows as one and that is titled `bgw: spare worker`;
/// - every process in the postmaster's process group is its child (nothing was orphaned or forked behind it).
pub fn view_matches_processes(h: &Host) -> Result<(), String> {
    let pm = h.pid();
    let out = h
        .psql(
            "SELECT 'w', coalesce(pid, 0), state, name FROM bgw_workers WHERE slot >= 0 \
             UNION ALL SELECT 'b', pid, backend_type, '' FROM pg_stat_activity \
             WHERE backend_type IN ('client backend', 'spare worker')",
        )
        .map_err(|e| format!("query failed: {}", e.trim()))?;
    let mut running: BTreeMap<i32, String> = BTreeMap::new();
    let mut sessions: BTreeSet<i32> = BTreeSet::new();
    let mut spares: BTreeSet<i32> = BTreeSet::new();
    for line in out.lines() {
        let f: Vec<&str> = line.splitn(4, '|').collect();
        let [kind, pid, state, name] = f[..] else { return Err(format!("odd row {line:?}")) };
        let pid: i32 = pid.parse().map_err(|_| format!("odd pid in {line:?}"))?;
        if kind == "b" {
            if state == "spare worker" {
                spares.insert(pid);
            } else {
                sessions.insert(pid);
            }
            continue;
        }
        match state {
            "registered" | "starting" | "terminating" => return Err(format!("not quiescent: {line}")),
            "running" if pid <= 0 => return Err(format!("a running worker without a pid: {line}")),
            "running" => {
                running.insert(pid, name.to_string());
            }
            _ if pid > 0 => return Err(format!("a worker that is not running shows a pid: {line}")),
            _ => {}
        }
    }
    let children = children_of(pm);
    for (pid, name) in &running {
        match children.get(pid) {
            None => return Err(format!("the view shows worker {name:?} running as PID {pid}, no child has it")),
            Some(title) if *title != format!("bgw: {name}") => {
                return Err(format!("PID {pid} is shown as worker {name:?} but its title is {title:?}"))
            }
            Some(_) => {}
        }
    }
    for (pid, title) in &children {
        if spares.contains(pid) {
            if title != "bgw: spare worker" {
                return Err(format!("PID {pid} is shown as a spare worker but its title is {title:?}"));
            }
            continue;
        }
        if !running.contains_key(pid) && !sessions.contains(pid) {
            return Err(format!("child {pid} ({title:?}) is neither a running worker nor a session"));
        }
    }
    for pid in group_members(pm) {
        if let Some((state, ppid, pgrp)) = stat(pid) {
            // One read of /proc: a pid reused since the group was listed has another group.
            if pgrp == pm && ppid != pm && state != 'Z' {
                return Err(format!(
                    "process {pid} ({:?}) is in the host's group but not the postmaster's child",
                    cmdline(pid)
                ));
            }
        }
    }
    Ok(())
}

/// Polls [`view_matches_processes`] until it holds; the last disagreement if it never does within `deadline`.
pub fn wait_consistent(h: &Host, deadline: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match view_matches_processes(h) {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The parallel counters balance: with `max` = `max_parallel_workers`, exactly `max` minus the parallel workers
/// registered now can be registered; the next is refused. The probe workers are terminated again before this
/// returns. (The counters themselves are not visible from SQL; this is what they decide.) A refusal for want of a
/// free slot looks the same from SQL, so the host must have more than `max` free slots (`slots` =
/// `max_worker_processes`); otherwise this says so instead of judging the counters.
pub fn parallel_balance(h: &Host, max: usize, slots: usize) -> Result<(), String> {
    let counts = h
        .psql("SELECT count(*) FILTER (WHERE flags LIKE '%parallel%'), count(*) FROM bgw_workers WHERE slot >= 0")
        .map_err(|e| format!("count failed: {}", e.trim()))?;
    let (active, used) = counts
        .split_once('|')
        .and_then(|(a, u)| Some((a.parse::<usize>().ok()?, u.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("odd counts {counts:?}"))?;
    if slots.saturating_sub(used) <= max {
        return Err(format!("only {} free slots: the parallel counters cannot be judged", slots.saturating_sub(used)));
    }
    let mut handles = Vec::new();
    let mut result = Ok(());
    for i in 0..=max {
        let sql = format!(
            "SELECT bgw_register('bgw', 'sleeper', 0, \
             '{{\"name\": \"parallel probe {i}\", \"flags\": [\"shmem\", \"parallel\"], \"notify\": false}}')"
        );
        match h.psql(&sql) {
            Ok(handle) if handle.is_empty() => break,
            Ok(handle) => handles.push(handle),
            Err(e) => {
                result = Err(format!("registering a parallel probe failed: {}", e.trim()));
                break;
            }
        }
    }
    if result.is_ok() && active + handles.len() != max {
        result = Err(format!(
            "parallel counters out of balance: {active} parallel workers registered, {} more accepted, \
             max_parallel_workers = {max}",
            handles.len()
        ));
    }
    for handle in &handles {
        let _ = h.psql(&format!("SELECT bgw_terminate('{handle}')"));
    }
    let start = Instant::now();
    while h.psql("SELECT count(*) FROM bgw_workers WHERE name LIKE 'parallel probe %'").ok().as_deref() != Some("0") {
        if start.elapsed() > DEADLINE {
            return result.and(Err("the parallel probes were not terminated".to_string()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    result
}
