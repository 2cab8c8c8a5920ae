//! The Rust module `bgw_testing` (written with `bgw-sdk`) loaded into the real host: preloaded and dynamic
//! workers, restarts, crashes, workers that register and wait for workers (blocking and async), panics, and the
//! SDK's own errors, all through `dlopen` and the C ABI.

use bgw_test_support::*;
use std::process::Command;

/// The module under test.
const MODULE: Module = Module::package("bgw-testing");

/// Registers a worker of the module from SQL; its handle.
fn register(h: &Host, function: &str, arg: i64, options: &str) -> String {
    let handle = h.register("bgw_testing", function, arg, options);
    assert!(handle.contains(':'), "no handle: {handle:?}");
    handle
}

fn wait_shutdown(h: &Host, handle: &str) {
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
}

#[test]
fn the_module_imports_the_host_and_exports_its_entry_points() {
    let lib = MODULE.lib();
    let Ok(out) = Command::new("nm").args(["-D", "--undefined-only"]).arg(&lib).output() else { return };
    let undefined = stdout(&out);
    for s in ["RegisterDynamicBackgroundWorker", "RegisterBackgroundWorker", "WaitLatch", "bgw_elog", "pqsignal"] {
        assert!(undefined.lines().any(|l| l.ends_with(&format!(" {s}"))), "{s} is not imported:\n{undefined}");
    }
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&lib).output().unwrap();
    let defined = stdout(&out);
    for s in ["_PG_init", "noop", "sleeper", "spawner", "ticker", "async_waiter", "panicker", "bad_name", "notifier"] {
        assert!(defined.lines().any(|l| l.ends_with(&format!(" {s}"))), "{s} is not exported:\n{defined}");
    }
    assert!(!defined.contains("RegisterDynamicBackgroundWorker"), "the module defines the host's API itself");
}

#[test]
fn the_preloaded_module_registers_a_ticking_static_worker() {
    let h = Host::start(MODULE.setup().preload());
    h.wait_log("ticker \"rust ticker\": tick 2");
    let row = h.wait_sql(
        "SELECT library, function, type, main_arg, restart_interval, pid FROM bgw_workers WHERE name = 'rust ticker'",
        |o| o.rsplit('|').next().is_some_and(|p| !p.is_empty()),
    );
    assert!(row.starts_with("bgw_testing|ticker|rust ticker|200|5|"), "{row}");
    let pid: i32 = row.rsplit('|').next().unwrap().parse().unwrap();
    // SIGHUP reaches the SDK's Signals and ProcessConfigFile.
    assert!(h.bgw(&["reload"]).status.success());
    h.wait_log("ticker \"rust ticker\": configuration reloaded");
    // SIGTERM sets the flag; the worker ends itself like the host's default handler (FATAL, exit 1).
    h.sql(&format!("SELECT pg_terminate_backend({pid})"));
    let log = h.wait_log(&format!("background worker \"rust ticker\" (PID {pid}) exited with exit code 1"));
    assert!(log.contains("FATAL:  terminating background worker \"rust ticker\" due to administrator command"));
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn a_sleeper_launches_reads_its_registration_and_terminates() {
    let h = Host::start(MODULE.setup());
    let handle = register(&h, "sleeper", 42, r#"{"name":"rs sleeper","type":"rs type","extra":"hello extra"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')")).parse().unwrap();
    assert!(alive(pid));
    h.wait_log("sleeper \"rs sleeper\" started: main argument 42, extra \"hello extra\"");
    assert_eq!(h.sql(&format!("SELECT backend_type FROM pg_stat_activity WHERE pid = {pid}")), "rs type");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    wait_shutdown(&h, &handle);
    let log = h.wait_log(&format!("background worker \"rs type\" (PID {pid}) exited with exit code 1"));
    assert!(log.contains("FATAL:  terminating background worker \"rs type\" due to administrator command"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");

    // bgw_launch returns once it runs; terminate it through the handle bgw_workers shows.
    let pid: i32 = h.sql("SELECT bgw_launch('bgw_testing', 'sleeper')").parse().unwrap();
    let handle = h.sql(&format!("SELECT slot || ':' || generation FROM bgw_workers WHERE pid = {pid}"));
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    wait_shutdown(&h, &handle);
    assert!(!alive(pid));
}

#[test]
fn exit_code_1_restarts_and_exit_code_0_unregisters() {
    let h = Host::start(MODULE.setup());
    let bouncer = register(&h, "exit_with", 1, r#"{"name":"bouncer","restart":1}"#);
    h.wait_sql("SELECT restart_count FROM bgw_workers WHERE name = 'bouncer'", |o| {
        o.parse().is_ok_and(|n: i64| n >= 2)
    });
    let log = h.wait_log_count("background worker \"bouncer\" (PID", 2);
    assert!(log.contains("exit_with \"bouncer\": exiting with code 1"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    h.sql(&format!("SELECT bgw_terminate('{bouncer}')"));

    let done = register(&h, "exit_with", 0, r#"{"name":"done","restart":1}"#);
    wait_shutdown(&h, &done);
    h.wait_log("background worker \"done\" (PID");
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'done'", |o| o == "0");
    assert!(h.log().contains("exited with exit code 0"));

    let noop = register(&h, "noop", 0, r#"{"name":"nothing"}"#);
    wait_shutdown(&h, &noop);
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'nothing'", |o| o == "0");
}

#[test]
fn a_crasher_starts_the_crash_cycle() {
    let h = Host::start(MODULE.setup());
    register(&h, "crasher", 100, r#"{"name":"boom"}"#);
    let log = h.wait_log("all server processes terminated; reinitializing");
    assert!(log.contains("crasher \"boom\": killing myself"), "{log}");
    assert!(log.contains("was terminated by signal 9"), "{log}");
    assert!(log.contains("terminating any other active server processes"), "{log}");
    // The host comes back.
    h.wait_sql("SELECT 1", |o| o == "1");
}

#[test]
fn a_spawner_registers_and_waits_for_sleepers_of_its_own_library() {
    let h = Host::start(MODULE.setup());
    h.sql(r#"SELECT bgw_launch('bgw_testing', 'spawner', 3, '{"name":"sp"}')"#);
    let log = h.wait_log("spawner \"sp\" started worker 3 with PID");
    let mut pids = numbers_after(&log, "spawner \"sp\" started worker ");
    assert_eq!(pids, vec![1, 2, 3], "{log}");
    pids = log
        .lines()
        .filter(|l| l.contains("spawner \"sp\" started worker"))
        .flat_map(|l| numbers_after(l, "with PID "))
        .collect();
    assert_eq!(pids.len(), 3, "{log}");
    for pid in &pids {
        assert!(alive(*pid), "sleeper {pid} is not running");
    }
    let rows = h
        .sql("SELECT name, library, function, type, pid FROM bgw_workers WHERE name LIKE 'sp sleeper %' ORDER BY name");
    let expect: Vec<String> =
        (1..=3).map(|i| format!("sp sleeper {i}|bgw_testing|sleeper|sleeper|{}", pids[i - 1])).collect();
    assert_eq!(rows, expect.join("\n"));
}

#[test]
fn an_async_waiter_awaits_startup_and_shutdown() {
    let h = Host::start(MODULE.setup());
    let handle = register(&h, "async_waiter", 0, r#"{"name":"aw"}"#);
    wait_shutdown(&h, &handle);
    let log = h.wait_log("async_waiter \"aw\": sleeper with PID");
    let started: Vec<i32> = log
        .lines()
        .filter(|l| l.contains("async_waiter \"aw\": sleeper") && l.contains("started with PID"))
        .flat_map(|l| numbers_after(l, "started with PID "))
        .collect();
    assert_eq!(started.len(), 1, "{log}");
    let pid = started[0];
    assert!(log.contains(&format!("async_waiter \"aw\": sleeper with PID {pid} stopped")), "{log}");
    assert!(log.contains(&format!("background worker \"sleeper\" (PID {pid}) exited with exit code 1")), "{log}");
    h.wait_log("background worker \"aw\" (PID");
    assert!(h.log().contains("exited with exit code 0"));
    assert!(!h.log().contains("ERROR"), "{}", h.log());
}

#[test]
fn a_worker_bound_to_its_sdk_registrant_waits_for_a_slot_and_ends_with_it() {
    let h = Host::start(MODULE.setup().conf("max_worker_processes", "2"));
    // The binder's child waits (the SDK's awaited waiting registration) until the blocker's slot frees.
    let blocker = h.register("bgw", "sleeper", 0, r#"{"name":"blocker"}"#);
    let handle = register(&h, "binder", 0, r#"{"name":"bd"}"#);
    h.wait_log("background worker \"bd child\" waits for a free slot");
    h.sql(&format!("SELECT bgw_terminate('{blocker}')"));
    h.wait_log("binder \"bd\": child started with pid");
    let child = h.wait_worker_pid("bd child");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    wait_shutdown(&h, &handle);
    h.wait_log("background worker \"bd child\": its registrant (PID");
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'bd child'", |n| n == "0");
    h.wait_log(&format!("(PID {child}) exited"));
}

#[test]
fn the_sdk_waits_for_readiness_terminates_with_grace_and_reads_the_exit_reason() {
    let h = Host::start(MODULE.setup());
    let handle = register(&h, "supervisor", 0, r#"{"name":"sv"}"#);
    wait_shutdown(&h, &handle);
    let log = h.wait_log("supervisor \"sv\": exit");
    assert!(log.contains("supervisor \"sv\": early wait not_yet_started"), "{log}");
    assert!(log.contains("supervisor \"sv\": Started("), "{log}");
    // The ready_sleeper's SIGTERM handler ends it with exit code 1 (PostgreSQL's bgworker_die).
    assert!(log.contains("supervisor \"sv\": exit Terminated(1), started 1 time(s), ended true"), "{log}");
}

#[test]
fn a_panic_is_an_error_and_exit_1_without_a_crash() {
    let h = Host::start(MODULE.setup());
    let handle = register(&h, "panicker", 0, r#"{"name":"oops"}"#);
    wait_shutdown(&h, &handle);
    let log = h.wait_log("background worker \"oops\" (PID");
    assert!(log.contains("ERROR:  panicker worker panicked on purpose"), "{log}");
    assert!(
        log.contains(
            "DETAIL:  Rust panic in background worker function \"panicker\" at crates/bgw-testing/src/lib.rs:"
        ),
        "{log}"
    );
    assert!(log.contains("background worker \"oops\" (PID") && log.contains("exited with exit code 1"), "{log}");
    assert!(!log.contains("panicked at"), "Rust's default panic report leaked into the log:\n{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn the_sdk_refuses_a_registration_that_does_not_fit() {
    let h = Host::start(MODULE.setup());
    let handle = register(&h, "bad_name", 0, r#"{"name":"bn"}"#);
    wait_shutdown(&h, &handle);
    let log = h.wait_log("background worker \"bn\" (PID");
    assert!(
        log.contains(
            "bad_name \"bn\": registration refused: background worker name is too long (200 bytes; at most 95)"
        ),
        "{log}"
    );
    assert!(log.contains("exited with exit code 0"), "{log}");
}

#[test]
fn a_panic_in_pg_init_stops_start_up_naming_the_module() {
    let mut h = Host::init(&MODULE.setup().preload().env("BGW_TESTING_FAIL_INIT", "1"));
    h.launch_postmaster(&[]);
    let code = h.wait_exit();
    assert_ne!(code, Some(0));
    let log = h.log();
    assert!(log.contains("ERROR:  bgw_testing was asked to fail in _PG_init"), "{log}");
    assert!(log.contains("FATAL:  could not load library \"bgw_testing\": its _PG_init failed"), "{log}");
    assert!(!log.contains("panicked at"), "{log}");
    assert!(!h.data().join("postmaster.pid").exists(), "a half-started host left its lock file");
}

#[test]
fn the_module_loads_where_first_needed_without_preloading() {
    // Not preloaded: a backend's registration check and the worker itself each load the library (running its
    // _PG_init, which registers nothing outside preload) and the worker runs.
    let h = Host::start(MODULE.setup());
    let pid: i32 =
        h.sql("SELECT bgw_launch('bgw_testing', 'sleeper', 0, '{\"name\":\"late loader\"}')").parse().unwrap();
    assert!(pid > 0);
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'rust ticker'"), "0");
}

#[test]
fn a_rust_worker_notifies_listening_clients_on_commit() {
    use postgres::fallible_iterator::FallibleIterator;
    let h = Host::start(MODULE.setup());
    let mut client = h.client();
    client.batch_execute("LISTEN sdk").unwrap();
    let handle = register(&h, "notifier", 0, r#"{"name":"rs notifier","flags":["shmem","database"]}"#);
    let mut got = Vec::new();
    let mut notes = client.notifications();
    let mut it = notes.timeout_iter(std::time::Duration::from_secs(20));
    while got.len() < 2 {
        let n = it.next().unwrap().unwrap_or_else(|| panic!("got only {got:?}\nlog:\n{}", h.log()));
        got.push(n.payload().to_string());
    }
    assert_eq!(got, ["committed", "on its own"]);
    let log = h.wait_log("notifier \"rs notifier\": LISTEN refused: cannot execute LISTEN within a background process");
    assert!(!log.contains("LISTEN was accepted"), "{log}");
    wait_shutdown(&h, &handle);
}

#[test]
fn a_secret_parameter_is_hidden_from_roles_that_are_not_superusers() {
    let h = Host::start(MODULE.setup().preload().tcp().conf("bgw_testing.api_key", "'s3cret'"));
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'b'");
    assert_eq!(h.sql("SELECT current_setting('bgw_testing.api_key')"), "s3cret");
    let mut bob = tcp_client(h.port, "bob", "b").unwrap();
    let e = bob.batch_execute("SELECT current_setting('bgw_testing.api_key')").unwrap_err();
    let db = e.as_db_error().expect("an ErrorResponse");
    assert_eq!(
        (db.code().code(), db.message()),
        ("42501", "must be superuser or have privileges of pg_read_all_settings to examine \"bgw_testing.api_key\"")
    );
}
