//! The spec's lifecycle, driven through the real binary: launches, exit codes and restarts, the crash-and-restart
//! cycle, termination, notification, start phases, postmaster death.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

const TWO_TICKERS: &str = r#"
[[worker]]
name = "tick a"
type = "ticker"
function = "ticker"
main_arg = 60000
restart = 1

[[worker]]
name = "tick b"
type = "ticker"
function = "ticker"
main_arg = 60000
restart = 1
"#;

/// A log line's time of day in milliseconds ("2026-11-21 17:36:45.269 UTC [pid] ...").
fn log_millis(line: &str) -> u64 {
    let time = line.split(' ').nth(1).unwrap_or_else(|| panic!("no time in {line:?}"));
    let (hms, ms) = time.split_once('.').unwrap();
    let secs = hms.split(':').fold(0u64, |acc, part| acc * 60 + part.parse::<u64>().unwrap());
    secs * 1000 + ms.parse::<u64>().unwrap()
}

fn worker_pids(h: &Host, name_like: &str) -> Vec<i32> {
    h.sql(&format!("SELECT pid FROM bgw_workers WHERE name LIKE '{name_like}' AND pid IS NOT NULL ORDER BY slot"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn static_workers_run_with_full_titles_and_restart_after_exit_1() {
    let h = Host::start(Setup::new(BGW).workers(TWO_TICKERS));
    let pids = h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    assert_eq!(pids, "2");
    let a = worker_pids(&h, "tick a")[0];
    // Running means forked with its pid published; the worker sets its title right after: the full title, as ps
    // shows it.
    wait_until("the worker's full process title", || cmdline(a) == "bgw: tick a");
    assert_eq!(h.sql(&format!("SELECT bgw_type_by_pid({a})")), "ticker");
    // SIGTERM from outside: FATAL, exit 1, restarted after its 1-second interval with a new pid.
    signal(a, SIGTERM);
    h.wait_log("terminating background worker \"ticker\" due to administrator command");
    h.wait_log(&format!("background worker \"ticker\" (PID {a}) exited with exit code 1"));
    let out = h.wait_sql("SELECT pid, restart_count, last_exit_code FROM bgw_workers WHERE name = 'tick a'", |o| {
        o.split('|').next().and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| p != a)
    });
    assert!(out.ends_with("|1|1"), "{out}");
}

#[test]
fn exit_codes_follow_the_spec() {
    let h = Host::start(Setup::new(BGW).workers(TWO_TICKERS));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    let before = worker_pids(&h, "tick %");

    // Exit 0: unregistered at once; the handle reads stopped.
    let handle = h.register("bgw", "noop", 0, r#"{"name":"zero","restart":1}"#);
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'zero'"), "0");

    // Exit 1, never restart: unregistered.
    let handle = h.register("bgw", "exit_with", 1, r#"{"name":"one-never"}"#);
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    h.wait_log("background worker \"one-never\"");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'one-never'"), "0");

    // Exit 1 with a restart interval: stays registered, stopped between runs, runs again.
    let handle = h.register("bgw", "exit_with", 1, r#"{"name":"one-again","restart":1}"#);
    let log = h.wait_log_count("background worker \"one-again\" (PID", 2);
    // The second run waited out the restart interval after the first exit (log times, to the millisecond).
    let exits: Vec<u64> =
        log.lines().filter(|l| l.contains("background worker \"one-again\" (PID")).map(log_millis).collect();
    let gap = (exits[1] + 86_400_000 - exits[0]) % 86_400_000; // across midnight too
    assert!(gap >= 950, "restarted too early: {exits:?}\n{log}");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'one-again'"), "1");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'one-again'", |o| o == "0");

    // None of this disturbed the others.
    assert_eq!(worker_pids(&h, "tick %"), before);
    assert!(!h.log().contains("terminating any other active server processes"));
}

#[test]
fn crash_of_a_shmem_worker_restarts_everything() {
    let h = Host::start(Setup::new(BGW).workers(TWO_TICKERS));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    let before = worker_pids(&h, "tick %");
    let sleeper = h.launch("bgw", "sleeper", 0, r#"{"name":"doomed"}"#);
    // An hour's restart interval: only the crash cycle's reset (restart at once) brings it back within the test.
    let restartable = h.launch("bgw", "sleeper", 0, r#"{"name":"survivor","restart":3600}"#);
    // A crash: exit code 3 from a worker with shared-memory access.
    let _ = h.psql("SELECT bgw_register('bgw', 'exit_with', 3, '{\"name\":\"crashy\"}')");
    h.wait_log("terminating any other active server processes");
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept connections", 2);
    assert!(h.log().contains("background worker \"crashy\" (PID"), "{}", h.log());
    // Static workers and restartable dynamic ones come back with new pids; never-restart ones are forgotten.
    let after = h.wait_sql(
        "SELECT count(*) FROM bgw_workers WHERE state = 'running' AND name IN ('tick a', 'tick b', 'survivor')",
        |o| o == "3",
    );
    assert_eq!(after, "3");
    let now = worker_pids(&h, "tick %");
    assert!(now.iter().all(|p| !before.contains(p)), "{before:?} -> {now:?}");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name IN ('doomed', 'crashy')"), "0");
    assert!(!alive(sleeper) && !alive(restartable));
}

#[test]
fn signals_from_outside_are_crashes_too_and_restart_after_crash_off_shuts_down() {
    let mut h = Host::start(Setup::new(BGW).workers(TWO_TICKERS).conf("restart_after_crash", "off"));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    let crasher = h.launch("bgw", "crasher", 300, r#"{"name":"crasher"}"#);
    assert!(crasher > 0);
    h.wait_log(&format!("background worker \"crasher\" (PID {crasher}) was terminated by signal 9"));
    h.wait_log("shutting down because restart_after_crash is off");
    assert_eq!(h.wait_exit(), Some(1));
    wait_until("children gone", || h.group_pids().is_empty());
}

#[test]
fn crash_of_a_worker_without_shmem_restarts_only_itself() {
    let h = Host::start(Setup::new(BGW).workers(TWO_TICKERS));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    let before = worker_pids(&h, "tick %");
    let pid = h.launch("bgw", "sleeper", 0, r#"{"name":"loner","flags":[],"restart":0}"#);
    signal(pid, SIGKILL);
    h.wait_log(&format!("background worker \"loner\" (PID {pid}) was terminated by signal 9"));
    h.wait_sql("SELECT pid FROM bgw_workers WHERE name = 'loner'", |o| o.parse::<i32>().is_ok_and(|p| p != pid));
    assert_eq!(worker_pids(&h, "tick %"), before);
    assert!(!h.log().contains("terminating any other active server processes"));
    // A worker without shared memory cannot register others, and the database flag needs shmem.
    let err = h.psql(r#"SELECT bgw_register('bgw','sleeper',0,'{"flags":["database"]}')"#).unwrap_err();
    assert!(err.contains("must attach to shared memory in order to request a database connection"), "{err}");
}

#[test]
fn handles_status_wait_and_terminate() {
    let h = Host::start(Setup::new(BGW));
    let handle = h.register("bgw", "sleeper", 0, r#"{"name":"napper"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "started");
    assert_eq!(h.sql(&format!("SELECT bgw_pid('{handle}')")), pid.to_string());
    // Terminate and wait for shutdown in the same session.
    let out = h.sql(&format!("SELECT bgw_terminate('{handle}'); SELECT bgw_wait_for_shutdown('{handle}')"));
    assert!(out.ends_with("stopped"), "{out}");
    h.wait_log("terminating background worker \"napper\" due to administrator command");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "stopped");
    assert!(!alive(pid));
    // A stale handle: terminate is harmless, status is stopped even after the slot is reused.
    let again = h.register("bgw", "sleeper", 0, r#"{"name":"reuse"}"#);
    assert_ne!(again, handle);
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    let p2: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{again}')")).parse().unwrap();
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "stopped");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{again}')")), "started");
    assert!(alive(p2));
    // Bad handles are errors.
    let err = h.psql("SELECT bgw_status('nonsense')").unwrap_err();
    assert!(err.contains("22P02"), "{err}");
    let err = h.psql("SELECT bgw_status('99999:1')").unwrap_err();
    assert!(err.contains("invalid background worker handle"), "{err}");
}

#[test]
fn start_phases_and_promotion() {
    let h = Host::start(Setup::new(BGW).standby());
    h.wait_log("database system is ready to accept read-only connections");
    let early = h.register("bgw", "sleeper", 0, r#"{"name":"early","start":"consistent_state"}"#);
    let late = h.register("bgw", "sleeper", 0, r#"{"name":"late"}"#);
    let p: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{early}')")).parse().unwrap();
    assert!(alive(p));
    assert_eq!(h.sql(&format!("SELECT bgw_status('{late}')")), "not_yet_started");
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'late'"), "waiting_for_phase");
    // Terminating a never-started worker reports it stopped.
    let never = h.register("bgw", "sleeper", 0, r#"{"name":"never"}"#);
    assert_eq!(
        h.sql(&format!("SELECT bgw_terminate('{never}'); SELECT bgw_wait_for_shutdown('{never}')")),
        "t\nstopped"
    );
    // Promote: the recovery-finished worker starts; the consistent-state one is not stopped.
    let out = h.bgw(&["promote"]);
    assert!(out.status.success(), "{}", stderr(&out));
    h.wait_log("received promote request");
    let lp: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{late}')")).parse().unwrap();
    assert!(alive(lp) && alive(p));
    assert!(!h.data().join("standby.signal").exists());
}

#[test]
fn spawner_registers_from_inside_a_worker() {
    let h = Host::start(Setup::new(BGW));
    h.launch("bgw", "spawner", 3, r#"{"name":"spawn"}"#);
    h.wait_log("spawner \"spawn\" started worker 3 with PID");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name LIKE 'spawn sleeper %' AND state = 'running'"), "3");
    assert_eq!(h.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sleeper'"), "3");
}

#[test]
fn postmaster_death_takes_every_child_with_it() {
    let mut h = Host::start(Setup::new(BGW).workers(TWO_TICKERS));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "2");
    h.launch("bgw", "sleeper", 0, "{}");
    // A backend too: a psql session that stays connected.
    let session = h.session();
    let children = h.group_pids();
    assert!(children.len() >= 4, "{children:?}");
    h.signal(SIGKILL);
    h.wait_exit();
    let killed_at = std::time::Instant::now();
    wait_until("every child to exit", || children.iter().all(|&p| !alive(p)));
    let took = killed_at.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "children outlived the postmaster by {took:?}");
    drop(session);
    // The next start recovers the stale lock file and runs recovery.
    h.launch_postmaster(&[]);
    h.wait_log("database system was interrupted");
    h.wait_log_count("database system is ready to accept connections", 2);
}

#[test]
fn parallel_workers_are_limited() {
    let h = Host::start(Setup::new(BGW).conf("max_parallel_workers", "1"));
    let first = h.register("bgw", "sleeper", 0, r#"{"flags":["shmem","parallel"]}"#);
    assert!(first.contains(':'));
    assert_eq!(h.register("bgw", "sleeper", 0, r#"{"flags":["shmem","parallel"]}"#), "");
    let err = h.psql(r#"SELECT bgw_register('bgw','sleeper',0,'{"flags":["parallel"],"restart":5}')"#).unwrap_err();
    assert!(err.contains("parallel workers may not be configured for restart"), "{err}");
    h.sql(&format!("SELECT bgw_terminate('{first}'); SELECT bgw_wait_for_shutdown('{first}')"));
    assert!(h.register("bgw", "sleeper", 0, r#"{"flags":["shmem","parallel"]}"#).contains(':'));
}

#[test]
fn a_parallel_worker_terminated_before_it_started_gives_its_share_back() {
    // In standby a recovery-finished worker cannot start: it is registered (counted against max_parallel_workers)
    // and never runs. Terminating it must balance the spec's parallel counters (the postmaster counts the
    // termination when it frees the slot), or the limit would be lost for good.
    let h = Host::start(Setup::new(BGW).standby().conf("max_parallel_workers", "1"));
    h.wait_log("database system is ready to accept read-only connections");
    let waiting = h.register("bgw", "sleeper", 0, r#"{"name":"waiting","flags":["shmem","parallel"]}"#);
    assert!(waiting.contains(':'), "{waiting}");
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'waiting'"), "waiting_for_phase");
    assert_eq!(h.register("bgw", "sleeper", 0, r#"{"flags":["shmem","parallel"]}"#), "", "the limit of 1 is reached");
    assert_eq!(
        h.sql(&format!("SELECT bgw_terminate('{waiting}'); SELECT bgw_wait_for_shutdown('{waiting}')")),
        "t\nstopped"
    );
    for round in 0..3 {
        let next = h.register(
            "bgw",
            "sleeper",
            0,
            &format!(r#"{{"name":"again {round}","flags":["shmem","parallel"],"start":"consistent_state"}}"#),
        );
        assert!(next.contains(':'), "round {round}: the share was not given back");
        let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{next}')")).parse().unwrap();
        assert!(alive(pid));
        h.sql(&format!("SELECT bgw_terminate('{next}'); SELECT bgw_wait_for_shutdown('{next}')"));
    }
}

#[test]
fn out_of_slots_returns_null_and_static_overflow_is_visible() {
    let toml = format!("{TWO_TICKERS}\n[[worker]]\nname = \"extra\"\nfunction = \"sleeper\"\n");
    let h = Host::start(Setup::new(BGW).workers(&toml).conf("max_worker_processes", "2"));
    let log = h.wait_log("too many background workers");
    assert!(log.contains("Up to 2 background workers can be registered with the current settings."), "{log}");
    assert!(log.contains("Consider increasing the configuration parameter \"max_worker_processes\"."));
    assert_eq!(h.sql("SELECT name, state FROM bgw_workers WHERE state = 'dropped'"), "extra|dropped");
    assert_eq!(h.register("bgw", "sleeper", 0, "{}"), "");
    let err = h.psql("SELECT bgw_launch('bgw', 'sleeper')").unwrap_err();
    assert!(err.contains("could not register background process"), "{err}");
}

#[test]
fn a_wait_reports_postmaster_death() {
    // In standby, the spawner (a consistent-state worker) waits for sleepers that may only start after recovery.
    let mut h = Host::start(Setup::new(BGW).standby());
    h.launch("bgw", "spawner", 1, r#"{"name":"hopeful","start":"consistent_state"}"#);
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'hopeful sleeper 1'", |o| o == "1");
    h.signal(SIGKILL);
    h.wait_exit();
    h.wait_log("spawner \"hopeful\": worker 1 did not start: postmaster_died");
}

#[test]
fn a_wait_for_shutdown_ends_with_stopped_or_with_the_postmasters_death() {
    let mut h = Host::start(Setup::new(BGW));
    // BGWH_STOPPED: the waited-for worker is terminated.
    h.launch("bgw", "shutdown_waiter", 0, r#"{"name":"patient"}"#);
    let log = h.wait_log("shutdown_waiter \"patient\" started its sleeper with PID");
    let line = log.lines().find(|l| l.contains("started its sleeper with PID")).unwrap();
    let sleeper: i32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(alive(sleeper));
    signal(sleeper, SIGTERM);
    h.wait_log("shutdown_waiter \"patient\": waiting for shutdown ended: stopped");

    // BGWH_POSTMASTER_DIED: the postmaster is killed while the registrant waits.
    h.launch("bgw", "shutdown_waiter", 0, r#"{"name":"orphan"}"#);
    h.wait_log("shutdown_waiter \"orphan\" started its sleeper with PID");
    h.signal(SIGKILL);
    h.wait_exit();
    h.wait_log("shutdown_waiter \"orphan\": waiting for shutdown ended: postmaster_died");
}

#[test]
fn postmaster_start_workers_start_before_the_host_is_ready_and_the_others_after() {
    let h = Host::start(Setup::new(BGW).workers(
        r#"
[[worker]]
name = "early"
function = "sleeper"
start = "postmaster_start"

[[worker]]
name = "late"
function = "sleeper"
"#,
    ));
    let log = h.wait_log("starting background worker process \"late\"");
    let at = |needle: &str| log.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{log}"));
    let early = at("starting background worker process \"early\"");
    let ready = at("database system is ready to accept connections");
    let late = at("starting background worker process \"late\"");
    assert!(early < ready && ready < late, "{log}");
}

#[test]
fn bgwdata_names_the_default_data_directory() {
    let h = Host::start(Setup::new(BGW));
    let out = std::process::Command::new(BGW).arg("status").env("BGWDATA", h.data()).output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("PID: {}", h.pid())));
}

#[test]
fn terminating_a_worker_the_moment_it_starts_is_never_a_crash() {
    // The pid is published at fork, before the child has installed its handlers: a SIGTERM then must wait for
    // the handler (signals start blocked), not kill the child by default action (which would be a crash).
    let h = Host::start(Setup::new(BGW));
    for _ in 0..30 {
        h.sql(
            "WITH r AS (SELECT bgw_register('bgw', 'sleeper') AS h) \
             SELECT bgw_wait_for_startup(h), bgw_terminate(h), bgw_wait_for_shutdown(h) FROM r",
        );
    }
    let log = h.log();
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert!(!log.contains("was terminated by signal"), "{log}");
}

#[test]
fn a_worker_waiting_out_its_restart_interval_reads_stopped() {
    // As the spec's GetBackgroundWorkerPid: between an exit with code 1 and the restart, the slot is still in use
    // but has no pid, which is BGWH_STOPPED; the registration itself stays, and the worker runs again.
    let h = Host::start(Setup::new(BGW));
    let handle = h.register("bgw", "exit_with", 1, r#"{"name":"bouncer","restart":2}"#);
    h.wait_log("background worker \"bouncer\" (PID");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "stopped");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'bouncer'"), "1", "still registered");
    h.wait_log_count("background worker \"bouncer\" (PID", 2);
}
