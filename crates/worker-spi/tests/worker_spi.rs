//! `worker_spi` loaded into the real host: static workers from `shared_preload_libraries`, the SQL function
//! `worker_spi_launch`, its parameters across reloads, SIGTERM, postmaster death, a bad parameter at start, and
//! loading without preload. The database work (counting, connection flags) is in `counting.rs`.

use bgw_test_support::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// The module under test.
const MODULE: Module = Module::package("worker-spi");

/// A preloaded host with `total` static workers napping 1 s.
fn preloaded(total: u32) -> Setup {
    MODULE.setup().preload().conf("worker_spi.naptime", "1").conf("worker_spi.total_workers", &total.to_string())
}

#[test]
fn the_module_exports_its_entry_points_and_imports_the_host() {
    let Ok(out) = Command::new("nm").args(["-D", "--defined-only"]).arg(MODULE.lib()).output() else { return };
    let defined = stdout(&out);
    for s in ["_PG_init", "worker_spi_main"] {
        assert!(defined.lines().any(|l| l.ends_with(&format!(" {s}"))), "{s} is not exported:\n{defined}");
    }
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(MODULE.lib()).output().unwrap();
    let undefined = stdout(&out);
    for s in ["DefineCustomIntVariable", "DefineCustomStringVariable", "MarkGUCPrefixReserved", "bgw_sql_error"] {
        assert!(undefined.lines().any(|l| l.ends_with(&format!(" {s}"))), "{s} is not imported:\n{undefined}");
    }
}

#[test]
fn static_workers_start_and_tick() {
    let h = Host::start(preloaded(3));
    for n in 1..=3 {
        h.wait_log(&format!("worker_spi worker {n}: tick (naptime 1 s)"));
    }
    let log = h.log();
    assert!(
        log.contains(
            "worker_spi worker 2 initialized with table \"schema2_counted\" (PostgreSQL's schema2.counted) in \
             database \"postgres\""
        ),
        "{log}"
    );
    let rows = h.sql(
        "SELECT name, type, library, function, main_arg, restart_interval FROM bgw_workers \
         WHERE type = 'worker_spi' ORDER BY name",
    );
    let expect: Vec<String> =
        (1..=3).map(|n| format!("worker_spi worker {n}|worker_spi|worker_spi|worker_spi_main|{n}|60")).collect();
    assert_eq!(rows, expect.join("\n"));
    for n in 1..=3 {
        let pid = h.wait_worker_pid(&format!("worker_spi worker {n}"));
        let title = format!("bgw: worker_spi worker {n}");
        wait_until("the worker's process title", || cmdline(pid) == title);
    }
    assert_eq!(
        h.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'worker_spi' AND datname = 'postgres'"),
        "3"
    );
    assert_eq!(h.sql("SELECT current_setting('worker_spi.naptime')"), "1s");
    assert_eq!(h.sql("SELECT current_setting('worker_spi.total_workers')"), "3");
    assert_eq!(h.sql("SELECT current_setting('worker_spi.database')"), "postgres");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn worker_spi_launch_starts_a_dynamic_worker_and_returns_its_pid() {
    let h = Host::start(preloaded(1));
    let pid: i32 = h.sql("SELECT worker_spi_launch(3)").parse().unwrap();
    assert!(alive(pid));
    // Started means forked with its pid published (as in PostgreSQL); the worker sets its title a moment later.
    wait_until("the worker's process title", || cmdline(pid) == "bgw: worker_spi dynamic worker 3");
    h.wait_log("worker_spi dynamic worker 3 initialized with table \"schema3_counted\"");
    h.wait_log("worker_spi dynamic worker 3: tick (naptime 1 s)");
    assert_eq!(
        h.sql(&format!("SELECT name, type, main_arg, library, function FROM bgw_workers WHERE pid = {pid}")),
        "worker_spi dynamic worker 3|worker_spi dynamic|3|worker_spi|worker_spi_main"
    );
    assert_eq!(
        h.sql(&format!("SELECT backend_type, datname FROM pg_stat_activity WHERE pid = {pid}")),
        "worker_spi dynamic|postgres"
    );
    // NULL in, NULL out; a wrong type is a clean SQL error and the session goes on.
    assert_eq!(h.sql("SELECT coalesce(worker_spi_launch(NULL), -1)"), "-1");
    let err = h.psql("SELECT worker_spi_launch('x')").unwrap_err();
    assert!(err.contains("42804") && err.contains("expects an integer"), "{err}");
}

#[test]
fn worker_spi_launch_without_a_free_slot_is_a_sql_error() {
    let h = Host::start(preloaded(2).conf("max_worker_processes", "2"));
    h.wait_worker_pid("worker_spi worker 1");
    h.wait_worker_pid("worker_spi worker 2");
    let err = h.psql("SELECT worker_spi_launch(9)").unwrap_err();
    assert!(err.contains("ERROR:  53400: could not register background process"), "{err}");
    assert!(err.contains("HINT:  You may need to increase max_worker_processes."), "{err}");
    // The session and the host go on.
    assert_eq!(h.sql("SELECT 1"), "1");
    assert!(!h.log().contains("terminating any other active server processes"));
}

#[test]
fn reload_changes_the_naptime_but_not_total_workers() {
    let h = Host::start(preloaded(2));
    h.wait_log("worker_spi worker 1: tick (naptime 1 s)");
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("worker_spi.naptime = 2\nworker_spi.total_workers = 5\n");
    std::fs::write(&conf, text).unwrap();
    assert!(h.bgw(&["reload"]).status.success());
    for n in 1..=2 {
        h.wait_log(&format!("worker_spi worker {n}: configuration reloaded, naptime is 2 s"));
        h.wait_log(&format!("worker_spi worker {n}: tick (naptime 2 s)"));
    }
    let log = h.wait_log("parameter \"worker_spi.total_workers\" cannot be changed without restarting the server");
    assert!(!log.contains("ERROR"), "{log}");
    assert_eq!(h.sql("SELECT current_setting('worker_spi.naptime')"), "2s");
    assert_eq!(h.sql("SELECT current_setting('worker_spi.total_workers')"), "2");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE type = 'worker_spi'"), "2");
}

#[test]
fn sigterm_ends_a_worker_with_exit_code_1_without_a_crash() {
    let h = Host::start(preloaded(2));
    let pid = h.wait_worker_pid("worker_spi worker 1");
    let other = h.wait_worker_pid("worker_spi worker 2");
    // SAFETY: kill(2) on a worker of the host this test started.
    signal(pid, SIGTERM);
    let log = h.wait_log(&format!("background worker \"worker_spi\" (PID {pid}) exited with exit code 1"));
    assert!(log.contains("worker_spi worker 1 shutting down"), "{log}");
    assert!(log.contains("FATAL:  terminating background worker \"worker_spi\" due to administrator command"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert!(alive(other), "the other worker was disturbed");
    // Exit code 1 keeps the registration (restarted after 60 s).
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'worker_spi worker 1'"), "1");
}

#[test]
fn workers_exit_when_the_postmaster_dies() {
    let h = Host::start(preloaded(2));
    let mut pids = vec![h.wait_worker_pid("worker_spi worker 1"), h.wait_worker_pid("worker_spi worker 2")];
    pids.push(h.sql("SELECT worker_spi_launch(7)").parse().unwrap());
    assert!(pids.iter().all(|&p| alive(p)));
    // SAFETY: kill(2) on the postmaster this test started.
    h.signal(SIGKILL);
    let killed = Instant::now();
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            killed.elapsed() < Duration::from_secs(2),
            "workers outlived the postmaster by 2 s: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_invalid_naptime_stops_start_up_naming_the_parameter() {
    let mut h = Host::init(&MODULE.setup().preload().conf("worker_spi.naptime", "0"));
    h.launch_postmaster(&[]);
    assert_ne!(h.wait_exit(), Some(0));
    let log = h.log();
    assert!(log.contains("worker_spi.naptime"), "{log}");
    assert!(!log.contains("database system is ready to accept"), "{log}");
    assert!(!h.data().join("postmaster.pid").exists(), "a half-started host left its lock file");
}

#[test]
fn without_preloading_workers_load_the_module_themselves() {
    let h = Host::start(MODULE.setup().conf("worker_spi.naptime", "1"));
    let err = h.psql("SELECT worker_spi_launch(1)").unwrap_err();
    assert!(err.contains("worker_spi_launch"), "{err}");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE type = 'worker_spi'"), "0");
    let pid: i32 = h
        .sql(
            r#"SELECT bgw_launch('worker_spi', 'worker_spi_main', 1,
                   '{"name": "late spi", "type": "worker_spi", "flags": ["shmem", "database"]}')"#,
        )
        .parse()
        .unwrap();
    assert!(alive(pid));
    h.wait_log(
        "late spi initialized with table \"schema1_counted\" (PostgreSQL's schema1.counted) in database \"postgres\"",
    );
    h.wait_log("late spi: tick (naptime 1 s)");
    // The parameters exist in the worker; no static workers were registered by its _PG_init.
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE type = 'worker_spi'"), "1");
    assert!(!h.log().contains("ERROR"), "{}", h.log());
}
