//! Faults a supervisor must survive, each provoked for real: the postmaster itself killed with SIGKILL (every
//! child follows within a second, the next `bgw start` recovers), a worker that dies holding the workers' lock
//! (registration is not wedged), a worker that scribbles over shared memory (the postmaster logs, does not crash,
//! and the crash-and-restart cycle restores order), and a crash in the middle of a shutdown (an abnormal
//! shutdown: exit code 1, nothing left behind, recovery at the next start).
//!
//! The built-in workers `lock_holder` and `scribbler` (crates/bgw/src/worker/builtin.rs) do the damage.
//! `tests/durability.rs` covers committed data under a stream of commits across the same kills; here the
//! postmaster kill checks what happens to the processes and the data directory.

use bgw_test_support::*;
use std::process::Command;
use std::time::{Duration, Instant};

const STATIC_WORKERS: &str = r#"
[[worker]]
name = "keeper"
type = "sleeper"
function = "sleeper"
restart = 1

[[worker]]
name = "tick"
type = "ticker"
function = "ticker"
main_arg = 20
restart = 1
"#;

/// The pid in the `n`th (1-based) log line containing `needle` followed by "(PID <pid>)".
fn pid_in_log(h: &Host, needle: &str, n: usize) -> i32 {
    let log = h.wait_log_count(needle, n);
    let line = log.lines().filter(|l| l.contains(needle)).nth(n - 1).unwrap();
    let at = line.find("(PID ").unwrap_or_else(|| panic!("no pid in {line:?}")) + 5;
    line[at..].split(')').next().unwrap().parse().unwrap()
}

#[test]
fn a_killed_postmaster_leaves_no_child_behind_and_the_next_start_recovers() {
    let mut h = Host::start(Setup::new(BGW).workers(STATIC_WORKERS));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    h.sql("CREATE TABLE kept (id INTEGER PRIMARY KEY, note TEXT)");
    h.sql("INSERT INTO kept VALUES (1, 'committed before the kill')");
    h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"dynamic\", \"restart\": 1}')");
    let _idle = h.session();
    // A backend busy inside SQLite (not waiting on anything) when the postmaster dies.
    let busy = h.endpoint().spawn_psql(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c"
            .to_string(),
    );
    h.wait_sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'WITH RECURSIVE%'", |o| o == "1");
    wait_consistent(&h, DEADLINE).unwrap();
    let old = h.pid();
    // The backends of the checks' own psql calls end a moment after psql does: wait until only the two sessions
    // are left.
    wait_until("the checks' backends to exit", || {
        children_of(old).values().filter(|t| t.ends_with("[local]")).count() == 2
    });
    let children = children_of(old);
    // keeper, tick, dynamic, the spare worker process, the idle session and the busy one: all must go.
    assert_eq!(children.len(), 6, "{children:?}");
    assert_eq!(children.values().filter(|t| *t == "bgw: spare worker").count(), 1, "{children:?}");

    signal(old, SIGKILL);
    let killed = Instant::now();
    let mut left: Vec<i32> = children.keys().copied().collect();
    while !left.is_empty() {
        left.retain(|&p| alive(p));
        let elapsed = killed.elapsed();
        assert!(
            elapsed < Duration::from_secs(1) || left.is_empty(),
            "children still alive {elapsed:?} after the postmaster was killed: {:?}",
            left.iter().map(|&p| (p, cmdline(p))).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("every child of the killed postmaster was gone after {:?}", killed.elapsed());
    assert!(group_members(old).is_empty(), "{:?}", group_members(old));
    assert!(busy.join().unwrap().is_err(), "the busy query cannot have finished");
    h.wait_exit();

    // The pid file is stale: it still names the dead postmaster.
    let pid_file = h.data().join("postmaster.pid");
    let stale = std::fs::read_to_string(&pid_file).expect("the pid file is left behind by a killed postmaster");
    assert_eq!(stale.lines().next(), Some(old.to_string().as_str()));

    // `bgw start` on the same directory: the stale lock file is taken over, recovery runs, everything is back.
    h.launch_postmaster(&[]);
    h.wait_log_count("database system is ready to accept", 2);
    let log = h.log();
    let second_start = &log[log.find("database system is ready to accept").unwrap()..];
    assert!(second_start.contains("database system was not properly shut down; automatic recovery in progress"));
    let now = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(now.lines().next(), Some(h.pid().to_string().as_str()));
    assert_eq!(h.sql("SELECT note FROM kept"), "committed before the kill");
    // Static workers run again with new pids; a dynamic registration does not outlive its postmaster.
    h.wait_sql(
        "SELECT string_agg(name, ',') FROM (SELECT name FROM bgw_workers WHERE state = 'running' ORDER BY name)",
        |o| o == "keeper,tick",
    );
    let pid: i32 = h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"after\"}')").parse().unwrap();
    assert!(alive(pid));
    h.sql("INSERT INTO kept VALUES (2, 'committed after the restart')");
    wait_consistent(&h, DEADLINE).unwrap();
    let new_children = children_of(h.pid());
    assert!(new_children.keys().all(|p| !children.contains_key(p)), "an old child in the new host: {new_children:?}");
}

#[test]
fn a_worker_dying_while_it_holds_the_workers_lock_does_not_wedge_registration() {
    let h = Host::start(Setup::new(BGW));
    let launch = |name: &str| format!("SELECT bgw_launch('bgw', 'sleeper', 0, '{{\"name\": \"{name}\"}}')");

    // SIGTERM: the holder exits with code 1 (no crash cycle) still holding the lock; the next locker recovers it.
    h.sql("SELECT bgw_register('bgw', 'lock_holder', 0, '{\"name\": \"holder\"}')");
    let holder = pid_in_log(&h, "holds the background worker lock", 1);
    let waiting = h.endpoint().spawn_psql(launch("waited"));
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!waiting.is_finished(), "registration did not wait for the held lock: this test would prove nothing");
    signal(holder, SIGTERM);
    let pid: i32 = waiting.join().unwrap().expect("the waiting registration fails").parse().unwrap();
    assert!(alive(pid));
    let log = h.wait_log(&format!("(PID {holder}) exited with exit code 1"));
    assert!(!log.contains("terminating any other active server processes"), "a crash cycle ran:\n{log}");
    // The recovered lock works for everyone: register, look up, terminate.
    let handle = h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"next\"}')");
    assert!(h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse::<i32>().is_ok());
    assert_eq!(h.sql(&format!("SELECT bgw_terminate('{handle}')")), "t");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    wait_consistent(&h, DEADLINE).unwrap();

    // SIGKILL: a crash; the registrant waiting for the lock is stopped with everyone else, and registration works
    // in the new shared memory.
    h.sql("SELECT bgw_register('bgw', 'lock_holder', 0, '{\"name\": \"holder 2\"}')");
    let holder = pid_in_log(&h, "holds the background worker lock", 2);
    // The registrant waits for the lock, then (once it has registered) for a sleeper's shutdown, which only the
    // crash cycle ends: whichever it is still waiting for when the holder dies, the crash cycle stops it. (Waiting
    // for the start instead would race: the woken registrant can see its worker started before the postmaster
    // learns of the holder's death.)
    let waiting = h.endpoint().spawn_psql(
        "SELECT bgw_wait_for_shutdown(bgw_register('bgw', 'sleeper', 0, '{\"name\": \"never\"}'))".to_string(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!waiting.is_finished(), "the registrant gave up");
    // Registering writes a DEBUG1 line in the postmaster once the slot is adopted: none yet, the lock is held.
    assert!(
        !h.log().contains("registering background worker \"never\""),
        "registration did not wait for the held lock"
    );
    signal(holder, SIGKILL);
    h.wait_log("all server processes terminated; reinitializing");
    assert!(waiting.join().unwrap().is_err(), "a registrant stopped by the crash cycle cannot succeed");
    let pid: i32 = h.wait_sql(&launch("after the crash"), |o| o.parse::<i32>().is_ok()).parse().unwrap();
    assert!(alive(pid));
    wait_consistent(&h, DEADLINE).unwrap();
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name LIKE 'holder%'"), "0");
}

#[test]
fn a_worker_scribbling_over_shared_memory_cannot_crash_the_postmaster_and_the_crash_cycle_restores_order() {
    let h = Host::start(
        Setup::new(BGW).workers(STATIC_WORKERS).conf("max_worker_processes", "10").conf("max_parallel_workers", "2"),
    );
    let pm = h.pid();
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    // A dynamic worker that survives crash cycles (a restart interval), and a handle to it.
    let kept = h.sql("SELECT bgw_register('bgw', 'sleeper', 7, '{\"name\": \"kept\", \"restart\": 3600}')");
    h.sql(&format!("SELECT bgw_wait_for_startup('{kept}')"));
    parallel_balance(&h, 2, 10).unwrap();
    let before = h
        .sql("SELECT slot, name, type, library, function, main_arg, flags, start_phase FROM bgw_workers ORDER BY slot");

    let own = |pm: i32| -> BTreeMap<i32, String> {
        children_of(pm)
            .into_iter()
            .filter(|(_, t)| ["bgw: keeper", "bgw: tick", "bgw: kept"].contains(&t.as_str()))
            .collect()
    };
    let workers_before = own(pm);
    assert_eq!(workers_before.len(), 3);

    // Every slot: strings without terminators, absurd flags, start phases, restart times, pids, generations,
    // notification pids; free slots flagged for termination; parallel counters and bitmaps garbage.
    h.sql("SELECT bgw_register('bgw', 'scribbler', 0, '{\"name\": \"scribbler\"}')");
    h.wait_log("scribbler: scribbled over 10 slots, the parallel counters, the bitmaps, the watcher lists");
    // The free slots 4 to 7 hold the four kinds of garbage: each is refused with the sanity check's reason (the
    // last two, flagged for termination, are released without a word).
    let log = h.wait_log_count("ignoring background worker registration in slot", 4);
    for (slot, why) in [
        (4, "invalid flags 0xffffffff"),
        (5, "name is too long"),
        (6, "parallel workers may not be configured for restart"),
        (7, "invalid flags 0x4002"),
    ] {
        let line = format!("ignoring background worker registration in slot {slot}: ");
        let at = log.find(&line).unwrap_or_else(|| panic!("no {line:?} in\n{log}"));
        assert!(log[at..].lines().next().unwrap().contains(why), "slot {slot}: {}", log[at..].lines().next().unwrap());
    }
    assert!(alive(pm), "the postmaster died");
    // The host still answers, reading the garbage (views and `bgw ps` bound and clean every string).
    h.sql("SELECT count(*) FROM bgw_workers");
    h.sql("SELECT count(*) FROM pg_stat_activity");
    // The invariant checks the chaos test relies on see the damage: pids in the slots are garbage, and so are the
    // parallel counters (registrations are refused).
    let seen = view_matches_processes(&h).expect_err("the view check missed scribbled pids");
    assert!(seen.contains("no child has it") || seen.contains("without a pid"), "{seen}");
    let seen = parallel_balance(&h, 2, 10).expect_err("the parallel check missed scribbled counters");
    assert!(seen.contains("out of balance"), "{seen}");
    let ps = h.bgw(&["ps"]);
    assert!(ps.status.success(), "bgw ps failed: {}", stderr(&ps));
    // No stray signal (watcher lists, notification pids) touched the workers, and no garbage registration was
    // started: the postmaster's workers are still its own four.
    assert_eq!(own(pm), workers_before);
    let workers: BTreeSet<String> = children_of(pm)
        .into_values()
        .filter(|t| !t.ends_with("[local]") && t != "bgw: client backend" && t != "bgw: spare worker")
        .collect();
    assert_eq!(
        workers,
        ["bgw: keeper", "bgw: kept", "bgw: scribbler", "bgw: tick"].map(String::from).into(),
        "{}",
        h.log()
    );

    // The crash of a process with shared memory access resets it: a new segment built from the postmaster's own
    // copies, so every registration is back as it was registered.
    let scribbler = children_of(pm).into_iter().find(|(_, t)| t == "bgw: scribbler").map(|(p, _)| p).unwrap();
    signal(scribbler, SIGKILL);
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept", 2);
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "3");
    assert_eq!(
        h.sql(
            "SELECT slot, name, type, library, function, main_arg, flags, start_phase FROM bgw_workers ORDER BY slot"
        ),
        before.lines().filter(|l| !l.contains("|scribbler|")).collect::<Vec<_>>().join("\n")
    );
    assert!(h.sql(&format!("SELECT bgw_pid('{kept}')")).parse::<i32>().is_ok(), "the handle still names its worker");
    wait_consistent(&h, DEADLINE).unwrap();
    parallel_balance(&h, 2, 10).unwrap();

    // A wrong slot count: logged, not trusted; the crash cycle restores it.
    h.sql("SELECT bgw_register('bgw', 'scribbler', 1, '{\"name\": \"miscounter\"}')");
    h.wait_log("scribbler: set the slot count to 17");
    h.wait_log("inconsistent background worker state (max_worker_processes=10, total_slots=17)");
    assert!(alive(pm), "the postmaster died");
    let miscounter = children_of(pm).into_iter().find(|(_, t)| t == "bgw: miscounter").map(|(p, _)| p).unwrap();
    signal(miscounter, SIGKILL);
    h.wait_log_count("all server processes terminated; reinitializing", 2);
    let pid: i32 = h
        .wait_sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"after\"}')", |o| o.parse::<i32>().is_ok())
        .parse()
        .unwrap();
    assert!(alive(pid));
    wait_consistent(&h, DEADLINE).unwrap();
    parallel_balance(&h, 2, 10).unwrap();
    assert!(alive(pm) && h.pid() == pm);
}

use std::collections::{BTreeMap, BTreeSet};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn a_crash_during_a_fast_shutdown_is_an_abnormal_shutdown_that_leaves_nothing_behind() {
    let mut h = Host::start(Setup::new(BGW).workers(STATIC_WORKERS));
    let pm = h.pid();
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    h.sql("CREATE TABLE kept (id INTEGER PRIMARY KEY)");
    h.sql("INSERT INTO kept VALUES (1)");
    let launch = |name: &str| -> i32 {
        h.sql(&format!("SELECT bgw_launch('bgw', 'sleeper', 0, '{{\"name\": \"{name}\"}}')")).parse().unwrap()
    };
    let (stuck, victim) = (launch("stuck"), launch("victim"));
    // Stopped processes cannot act on the shutdown's SIGTERM, so the shutdown is still under way when the victim
    // crashes.
    signal(stuck, SIGSTOP);
    signal(victim, SIGSTOP);
    let (data, bin) = (h.data(), BGW);
    let stop = std::thread::spawn(move || Command::new(bin).args(["stop", "-D"]).arg(data).output().unwrap());
    h.wait_log("received fast shutdown request");
    signal(victim, SIGKILL);
    h.wait_log(&format!("background worker \"victim\" (PID {victim}) was terminated by signal 9"));
    signal(stuck, SIGCONT);
    let out = stop.join().unwrap();
    assert!(out.status.success(), "bgw stop: {}", stderr(&out));
    // Not a clean shutdown: PostgreSQL's "abnormal database system shutdown", exit code 1, recovery next time.
    assert_eq!(h.wait_exit(), Some(1), "{}", h.log());
    let log = h.log();
    assert!(log.contains("abnormal database system shutdown"), "{log}");
    assert!(!log.contains("database system is shut down"), "{log}");
    assert!(group_members(pm).is_empty(), "{:?}", group_members(pm));
    h.launch_postmaster(&[]);
    h.wait_log_count("database system is ready to accept", 2);
    let log = h.log();
    let restart = &log[log.find("abnormal database system shutdown").unwrap()..];
    assert!(restart.contains("automatic recovery in progress"), "{restart}");
    assert_eq!(h.sql("SELECT id FROM kept"), "1");
    wait_consistent(&h, DEADLINE).unwrap();
}

#[test]
fn a_termination_acknowledged_just_before_a_crash_is_honoured_by_the_next_cycle() {
    let h = Host::start(Setup::new(BGW));
    let pm = h.pid();
    // Restartable: a crash cycle would start it again at once, unless its termination is remembered.
    let doomed = h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"doomed\", \"restart\": 3600}')");
    h.sql(&format!("SELECT bgw_wait_for_startup('{doomed}')"));
    let victim: i32 = h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"victim\"}')").parse().unwrap();
    let mut client = h.client();
    // The postmaster is busy (stopped) while a client terminates the worker and another worker crashes: it then
    // learns of both at once, the crash first.
    signal(pm, SIGSTOP);
    let acknowledged = client.simple_query(&format!("SELECT bgw_terminate('{doomed}')"));
    signal(victim, SIGKILL);
    signal(pm, SIGCONT);
    let acknowledged = acknowledged.unwrap().into_iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(acknowledged.as_deref(), Some("t"));
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept", 2);
    wait_consistent(&h, DEADLINE).unwrap();
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'doomed'"), "0", "{}", h.log());
    assert_eq!(h.sql(&format!("SELECT bgw_status('{doomed}')")), "stopped");
}

#[test]
fn a_termination_requested_during_a_crash_cycle_is_honoured_by_the_next_one() {
    let h = Host::start(Setup::new(BGW));
    let doomed = h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"doomed\", \"restart\": 3600}')");
    h.sql(&format!("SELECT bgw_wait_for_startup('{doomed}')"));
    let victim: i32 = h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\": \"victim\"}')").parse().unwrap();
    // A worker with every signal blocked holds the crash cycle open and asks, in the middle of it, for the
    // termination of the restartable worker (which the cycle would otherwise start again at once).
    let late = h.sql(&format!(
        "SELECT bgw_register('bgw', 'late_terminator', 2000, '{{\"name\": \"late\", \"extra\": \"{doomed}\"}}')"
    ));
    h.sql(&format!("SELECT bgw_wait_for_startup('{late}')"));
    signal(victim, SIGKILL);
    h.wait_log("terminating any other active server processes");
    let log = h.wait_log("all server processes terminated; reinitializing");
    let crash = log.find("terminating any other active server processes").unwrap();
    assert!(log[crash..].contains(&format!("late_terminator: asked for the termination of {doomed}")), "{log}");
    h.wait_log_count("database system is ready to accept", 2);
    wait_consistent(&h, DEADLINE).unwrap();
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'doomed'"), "0", "{}", h.log());
}
