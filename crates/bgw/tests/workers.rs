//! The worker-side runtime as a worker sees it: its own registration, signals (SIGHUP, SIGQUIT), panics,
//! detaching from shared memory, notifications, and who may connect.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Whether `pid` has the host's shared segment mapped (a shared anonymous mapping shows as /dev/zero).
fn maps_shared_segment(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap().lines().any(|l| l.contains("/dev/zero (deleted)"))
}

#[test]
fn a_worker_sees_its_own_registration() {
    let h = Host::start(Setup::new(BGW));
    h.launch("bgw", "sleeper", 42, r#"{"name":"self-aware","extra":"some extra bytes"}"#);
    h.wait_log("sleeper \"self-aware\" started: main argument 42, extra \"some extra bytes\"");
    let err =
        h.psql(&format!(r#"SELECT bgw_register('bgw','sleeper',0,'{{"extra":"{}"}}')"#, "x".repeat(129))).unwrap_err();
    assert!(err.contains("22023"), "{err}");
}

#[test]
fn workers_act_on_sighup() {
    let h =
        Host::start(Setup::new(BGW).workers("[[worker]]\nname = \"t\"\nfunction = \"ticker\"\nmain_arg = 600000\n"));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "1");
    h.bgw(&["reload"]);
    h.wait_log("ticker \"t\": configuration reloaded");
}

#[test]
fn a_panic_is_an_error_and_exit_1() {
    let h = Host::start(Setup::new(BGW));
    let handle = h.sql("SELECT bgw_register('bgw', 'panicker', 0, '{\"name\":\"oops\"}')");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    let log = h.wait_log("background worker \"oops\" (PID");
    assert!(log.contains("ERROR:  panicker worker panicked on purpose"), "{log}");
    assert!(log.contains("exited with exit code 1"), "{log}");
    assert!(!log.contains("terminating any other active server processes"));
}

#[test]
fn sigquit_to_a_worker_is_a_crash() {
    let h = Host::start(Setup::new(BGW));
    let pid = h.launch("bgw", "sleeper", 0, r#"{"name":"quitter"}"#);
    signal(pid, SIGQUIT);
    h.wait_log(&format!("background worker \"quitter\" (PID {pid}) exited with exit code 2"));
    h.wait_log("terminating any other active server processes");
    h.wait_log("all server processes terminated; reinitializing");
}

#[test]
fn workers_without_shmem_access_detach_from_shared_memory() {
    let h = Host::start(Setup::new(BGW));
    let with = h.launch("bgw", "sleeper", 0, "{}");
    let without = h.launch("bgw", "sleeper", 0, r#"{"flags":[]}"#);
    assert!(maps_shared_segment(h.pid()));
    assert!(maps_shared_segment(with));
    // It detaches right after it starts (bgw_launch returns as soon as the pid is published).
    wait_until("the worker to detach from shared memory", || !maps_shared_segment(without));
    assert!(alive(without));
    assert!(maps_shared_segment(with), "a worker with shmem access keeps the segment");
}

#[test]
fn notifications_go_to_the_registrant_and_stop_when_it_exits() {
    let h = Host::start(Setup::new(BGW));
    // Registered by a backend that exits at once; a worker that restarts keeps running without notifying it.
    let out =
        h.sql(r#"SELECT pg_backend_pid(); SELECT bgw_register('bgw','exit_with',1,'{"name":"bouncer","restart":1}')"#);
    let backend: i32 = out.lines().next().unwrap().parse().unwrap();
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'bouncer' AND notify_pid IS NULL", |o| o == "1");
    // It keeps restarting; no notification targets the departed backend.
    h.wait_log_count("background worker \"bouncer\" (PID", 2);
    assert!(!alive(backend));
    // A live registrant is recorded as the notify pid while it is connected.
    let out = h.sql(
        r#"SELECT bgw_launch('bgw','sleeper',0,'{"name":"noted"}');
           SELECT count(*) FROM bgw_workers WHERE name = 'noted' AND notify_pid = pg_backend_pid()"#,
    );
    assert_eq!(out.lines().last(), Some("1"), "{out}");
    // Without notify, none is recorded.
    h.sql(r#"SELECT bgw_launch('bgw','sleeper',0,'{"name":"quiet","notify":false}')"#);
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'quiet' AND notify_pid IS NULL"), "1");
}

#[test]
fn peer_authentication_maps_the_os_user_to_the_role_of_the_same_name() {
    // A socket directory everyone can reach, so the peer check itself is what decides.
    let sockdir = tempfile::Builder::new().prefix("bgws").tempdir_in("/tmp").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sockdir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let h = Host::start(Setup::new(BGW).conf("unix_socket_directories", &format!("'{}'", sockdir.path().display())));
    let port = h.port.to_string();
    if !is_root() {
        return; // only root can switch users to test this
    }
    let as_nobody = |role: &str| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "psql", "-X", "-A", "-t", "-h"])
            .arg(sockdir.path())
            .args(["-p", &port, "-U", role, "-d", "postgres", "-c", "SELECT 1"])
            .output()
    };
    let Ok(out) = as_nobody(&os_user()) else { return };
    // nobody may not pose as the owner's role...
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("Peer authentication failed for user \"{}\"", os_user())), "{err}");
    // ...and passes peer authentication as "nobody", where the catalog decides.
    let out = as_nobody("nobody").unwrap();
    let err = stderr(&out);
    assert!(err.contains("role \"nobody\" does not exist"), "{err}");
    let created = std::process::Command::new("psql")
        .args(["-X", "-h"])
        .arg(sockdir.path())
        .args(["-p", &port, "-d", "postgres", "-c", "CREATE ROLE nobody LOGIN"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));
    let out = as_nobody("nobody").unwrap();
    assert_eq!(stdout(&out).trim(), "1", "{}", stderr(&out));
}

#[test]
fn registration_start_and_unregistration_are_logged_at_debug1_only() {
    // The spec's DEBUG1 messages: "registering background worker", "starting background worker process",
    // "unregistering background worker" (a worker that exits with 0 is unregistered).
    let h = Host::start(Setup::new(BGW).workers("[[worker]]\nname = \"declared\"\nfunction = \"sleeper\"\n"));
    h.wait_log("DEBUG1:  registering background worker \"declared\"");
    h.wait_log("DEBUG1:  starting background worker process \"declared\"");
    // Registered, not launched: bgw_launch waits for the start, and a worker that returns at once may already
    // be gone when the wait looks ("stopped before it started").
    h.register("bgw", "noop", 0, r#"{"name":"brief"}"#);
    h.wait_log("DEBUG1:  registering background worker \"brief\"");
    h.wait_log("DEBUG1:  starting background worker process \"brief\"");
    h.wait_log("DEBUG1:  unregistering background worker \"brief\"");

    // At the default level none of them is written (the postmaster does not even format them).
    let quiet = Host::start(
        Setup::new(BGW)
            .conf("log_min_messages", "log")
            .workers("[[worker]]\nname = \"declared\"\nfunction = \"sleeper\"\n"),
    );
    quiet.register("bgw", "noop", 0, r#"{"name":"brief"}"#);
    quiet.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'brief'", |o| o == "0");
    let log = quiet.log();
    assert!(!log.contains("registering background worker") && !log.contains("starting background worker"), "{log}");
}
