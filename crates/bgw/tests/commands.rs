//! The `bgw` commands and the front door, as a user runs them: initdb, start (foreground and detached), stop in
//! each mode, status, reload, the lock file, configuration errors, client limits, ps/launch/terminate.

use bgw_test_support::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn initdb_makes_a_private_commented_data_directory() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    initdb(BGW, &d);
    assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700);
    let conf = std::fs::read_to_string(d.join("bgworker.conf")).unwrap();
    assert!(conf.contains("#max_worker_processes = 8"), "{conf}");
    assert!(conf.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')));
    assert!(std::fs::read_to_string(d.join("workers.toml")).unwrap().contains("[[worker]]"));
    let again = Command::new(BGW).args(["initdb", "-D"]).arg(&d).output().unwrap();
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists but is not empty"));
}

#[test]
fn start_refuses_bad_directories_and_second_postmasters() {
    let mut h = Host::start(Setup::new(BGW));
    // A second postmaster on the same directory.
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("FATAL:  lock file \"postmaster.pid\" already exists"), "{err}");
    assert!(err.contains(&format!("Is another postmaster (PID {}) running", h.pid())), "{err}");
    h.stop(SIGINT);
    // Group-accessible directory.
    std::fs::set_permissions(h.data(), std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("has invalid permissions"), "{}", stderr(&out));
    assert!(stderr(&out).contains("DETAIL:  Permissions should be u=rwx (0700)."));
}

#[test]
fn start_initializes_a_missing_directory_and_detach_waits_for_ready() {
    let t = tempfile::Builder::new().prefix("bgwt").tempdir_in("/tmp").unwrap();
    let d = t.path().join("new");
    let log = t.path().join("log");
    let port = unique_port().to_string();
    let out = Command::new(BGW)
        .args(["start", "--detach", "-l"])
        .arg(&log)
        .arg("-D")
        .arg(&d)
        .args(["-c", &format!("port={port}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{} {}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("does not exist; initializing it"));
    assert!(stdout(&out).contains("server started"));
    // It accepts connections now, without waiting.
    let st = Command::new(BGW).args(["status", "-D"]).arg(&d).output().unwrap();
    assert!(st.status.success());
    let pid: i32 = stdout(&st).split("PID: ").nth(1).unwrap().split(')').next().unwrap().parse().unwrap();
    let q = Command::new("psql")
        .args(["-X", "-A", "-t", "-d", "postgres", "-h"])
        .arg(&d)
        .args(["-p", &port, "-c", "SELECT 1"])
        .output();
    let guard = GroupGuard(pid);
    assert_eq!(stdout(&q.unwrap()).trim(), "1");
    // The demo workers are at work.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("database system is ready to accept connections"));
    let out = Command::new(BGW).args(["stop", "-D"]).arg(&d).output().unwrap();
    assert!(stdout(&out).contains("server stopped"), "{}", stderr(&out));
    assert!(!alive(pid));
    drop(guard);
    let st = Command::new(BGW).args(["status", "-D"]).arg(&d).output().unwrap();
    assert_eq!(st.status.code(), Some(3));
    // A start that fails says why.
    std::fs::write(d.join("bgworker.conf"), "max_worker_processes = lots\n").unwrap();
    let out = Command::new(BGW).args(["start", "--detach", "-D"]).arg(&d).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid value for parameter \"max_worker_processes\""), "{}", stderr(&out));
}

#[test]
fn configuration_errors_name_file_line_and_parameter() {
    let h = Host::init(&Setup::new(BGW).conf("max_connections", "0"));
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("0 is outside the valid range for parameter \"max_connections\" (1 .. 262143)"), "{err}");
    assert!(err.contains("bgworker.conf\" line"), "{err}");
    let h = Host::init(&Setup::new(BGW).conf("no_such_thing", "1"));
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(stderr(&out).contains("unrecognized configuration parameter \"no_such_thing\""), "{}", stderr(&out));
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).args(["-c", "port=x"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn reload_applies_what_it_can_and_says_what_needs_a_restart() {
    let h = Host::start(Setup::new(BGW));
    assert_eq!(h.sql("SELECT current_setting('max_parallel_workers')"), "8");
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("max_parallel_workers = 3\nmax_connections = 7\n");
    std::fs::write(&conf, text).unwrap();
    let out = h.bgw(&["reload"]);
    assert!(stdout(&out).contains("server signaled"));
    h.wait_log("received SIGHUP, reloading configuration files");
    h.wait_log("parameter \"max_connections\" cannot be changed without restarting the server");
    h.wait_sql("SELECT current_setting('max_parallel_workers')", |o| o == "3");
    assert_eq!(h.sql("SELECT current_setting('max_connections')"), "100");
    let err = h.psql("SELECT current_setting('nope')").unwrap_err();
    assert!(err.contains("42704") && err.contains("unrecognized configuration parameter \"nope\""), "{err}");
    // A bad value on reload keeps the old one.
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("max_parallel_workers = many\n");
    std::fs::write(&conf, text).unwrap();
    assert_eq!(h.sql("SELECT pg_reload_conf()"), "t");
    h.wait_log("contains errors");
    assert_eq!(h.sql("SELECT current_setting('max_parallel_workers')"), "3");
}

#[test]
fn smart_shutdown_waits_for_clients_then_stops_workers() {
    let mut h = Host::start(Setup::new(BGW));
    let worker = h.sql("SELECT bgw_launch('bgw', 'sleeper')").parse::<i32>().unwrap();
    let session = h.session();
    h.signal(SIGTERM);
    h.wait_log("received smart shutdown request");
    // New clients are refused; the connected one and the worker carry on.
    let err = h.psql("SELECT 1").unwrap_err();
    assert!(err.contains("the database system is shutting down"), "{err}");
    assert!(alive(worker));
    session.close();
    assert_eq!(h.wait_exit(), Some(0));
    assert!(!alive(worker));
    h.child = None;
    assert!(h.log().contains("database system is shut down"));
}

#[test]
fn immediate_shutdown_means_recovery_next_time() {
    let mut h = Host::start(Setup::new(BGW));
    h.sql("SELECT bgw_launch('bgw', 'sleeper')");
    let out = h.bgw(&["stop", "-m", "immediate"]);
    assert!(stdout(&out).contains("server stopped"), "{}", stderr(&out));
    h.wait_exit();
    h.child = None;
    assert!(h.log().contains("received immediate shutdown request"));
    h.launch_postmaster(&[]);
    h.wait_log("database system was not properly shut down; automatic recovery in progress");
    h.wait_log_count("ready to accept connections", 2);
    h.stop(SIGINT);
    h.launch_postmaster(&[]);
    h.wait_log("database system was shut down at");
}

#[test]
fn too_many_clients_is_refused_with_53300() {
    let h = Host::start(Setup::new(BGW).conf("max_connections", "1").conf("superuser_reserved_connections", "0"));
    // Hold the only connection (session() returns once it is connected).
    let session = h.session();
    let message = h.psql("SELECT 1").unwrap_err();
    assert!(message.contains("FATAL:  sorry, too many clients already"), "{message}");
    // The SQLSTATE, as a driver sees it.
    let refused = h.connect(&os_user(), "postgres").err().expect("a second client must be refused");
    assert_eq!(refused.code(), Some(&postgres::error::SqlState::TOO_MANY_CONNECTIONS), "{refused}");
    session.close();
    h.wait_sql("SELECT 1", |o| o == "1");
}

#[test]
fn ps_launch_and_terminate_are_front_door_clients() {
    let h = Host::start(Setup::new(BGW).workers("[[worker]]\nname = \"steady\"\nfunction = \"sleeper\"\n"));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |o| o == "1");
    let out = h.bgw(&["launch", "bgw", "sleeper", "--name", "from cli", "--type", "napper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let handle = text.split("handle ").nth(1).unwrap().split(',').next().unwrap().to_string();
    let pid: i32 = text.split("PID ").nth(1).unwrap().trim().parse().unwrap();
    assert!(alive(pid));
    // "Started" means forked and its pid published (as in PostgreSQL); the child sets its title a moment later.
    wait_until("the worker's process title", || cmdline(pid) == "bgw: from cli");
    let ps = stdout(&h.bgw(&["ps"]));
    assert!(ps.contains("steady") && ps.contains("from cli") && ps.contains("napper"), "{ps}");
    assert!(ps.contains("Other processes:"), "{ps}");
    // The handle `bgw terminate` takes is in the list, on the launched worker's line.
    assert!(ps.lines().any(|l| l.contains("from cli") && l.trim_start().starts_with(&handle)), "{ps}");
    let out = h.bgw(&["terminate", &handle]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until("terminated worker to exit", || !alive(pid));
    let bad = h.bgw(&["launch", "bgw", "no_such_function"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("internal function \"no_such_function\" not found"), "{}", stderr(&bad));
}

#[test]
fn backend_functions_and_views() {
    let h = Host::start(Setup::new(BGW));
    let pid: i32 = h.sql("SELECT pg_backend_pid()").parse().unwrap();
    assert!(pid > 0);
    // A result larger than a pipe's buffer (the harness drains psql's output while it waits).
    assert_eq!(h.sql("SELECT repeat('00', 100000)").len(), 200_000);
    assert!(h.sql("SELECT pg_postmaster_start_time()").ends_with("+00"));
    let out = h.sql("SELECT backend_type, state FROM pg_stat_activity WHERE pid = pg_backend_pid()");
    assert_eq!(out, "client backend|active");
    // Sanity checks surface with the spec's messages and SQLSTATE 22023.
    let err = h.psql(r#"SELECT bgw_register('bgw','sleeper',0,'{"restart":86400001}')"#).unwrap_err();
    assert!(err.contains("22023") && err.contains("invalid restart interval"), "{err}");
    let err = h.psql(r#"SELECT bgw_register('bgw','sleeper',0,'{"restart":-5}')"#).unwrap_err();
    assert!(err.contains("22023"), "{err}");
    let err = h
        .psql(r#"SELECT bgw_register('bgw','sleeper',0,'{"flags":["shmem","database"],"start":"postmaster_start"}')"#)
        .unwrap_err();
    assert!(err.contains("cannot request database access if starting at postmaster start"), "{err}");
    let err =
        h.psql(&format!("SELECT bgw_register('bgw','sleeper',0,'{{\"name\":\"{}\"}}')", "n".repeat(100))).unwrap_err();
    assert!(err.contains("too long"), "{err}");
    let err = h.psql("SELECT bgw_register('nolib','x')").unwrap_err();
    assert!(err.contains("could not access file \"nolib\""), "{err}");
    // Type defaults to the name; the worker sees its own registration.
    h.sql(r#"SELECT bgw_launch('bgw','sleeper',7,'{"name":"typed","extra":"hello"}')"#);
    assert_eq!(h.sql("SELECT type, main_arg FROM bgw_workers WHERE name = 'typed'"), "typed|7");
    // pg_terminate_backend: of another backend, and of a stranger.
    assert_eq!(h.sql("SELECT pg_terminate_backend(1)"), "f");
    let warn = Command::new("psql")
        .args(["-X", "-A", "-t", "-h"])
        .arg(h.data())
        .args(["-p", &h.port.to_string(), "-d", "postgres", "-c", "SELECT pg_terminate_backend(1)"])
        .output()
        .unwrap();
    assert!(stderr(&warn).contains("WARNING:  PID 1 is not a PostgreSQL backend process"), "{}", stderr(&warn));
    let session = h.session();
    let other = session.backend_pid;
    assert_eq!(h.sql(&format!("SELECT pg_terminate_backend({other})")), "t");
    wait_until("terminated backend to exit", || !alive(other));
    drop(session);
}
