//! Exit reasons (issue 17, item 3), through the real binary and SQL: every registration's last run says why it
//! ended (`bgw_exit_reason(handle)`, `bgw_workers`, `bgw ps`), produced for real: an exit code, a signal from
//! outside, a termination on request (running, and before it started), a crash cycle another process began; the
//! record survives the slot's release, and a handle whose slot was reused says it is stale.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// Registers a built-in worker; its handle.
fn register(h: &Host, function: &str, arg: i64, options: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', '{function}', {arg}, '{options}')"))
}

fn reason(h: &Host, handle: &str) -> String {
    h.sql(&format!("SELECT bgw_exit_reason('{handle}')"))
}

/// Waits until the registration's run has ended (its reason is no longer "has not ended").
fn wait_ended(h: &Host, handle: &str) -> String {
    h.wait_sql(&format!("SELECT bgw_exit_reason('{handle}')"), |r| r != "has not ended")
}

#[test]
fn each_exit_says_why_it_ended() {
    let h = Host::start(Setup::new(BGW));
    // An exit code, after the registration was forgotten (never restarted): the record outlives the slot.
    let code = register(&h, "exit_with", 1, r#"{"restart": "never", "flags": []}"#);
    assert_eq!(wait_ended(&h, &code), "exited with exit code 1");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{code}')")), "stopped");

    // A signal from outside, to a worker without shared memory (not a crash).
    let killed = register(&h, "sleeper", 0, r#"{"restart": "never", "flags": []}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{killed}')")).parse().unwrap();
    assert_eq!(reason(&h, &killed), "has not ended");
    signal(pid, libc::SIGKILL);
    assert_eq!(wait_ended(&h, &killed), "was terminated by signal 9: Killed");

    // Terminated on request: the sleeper's SIGTERM ends it with exit code 1, as PostgreSQL's bgworker_die.
    let terminated = register(&h, "sleeper", 0, r#"{"restart": 60}"#);
    h.sql(&format!("SELECT bgw_wait_for_startup('{terminated}')"));
    h.sql(&format!("SELECT bgw_terminate('{terminated}')"));
    assert_eq!(wait_ended(&h, &terminated), "terminated on request (exit code 1)");

    // A restartable worker that exits with 1 is shown in bgw_workers with its starts and reason while it waits.
    let again = register(&h, "exit_with", 1, r#"{"name": "again", "restart": 1, "flags": []}"#);
    let row = h.wait_sql(
        "SELECT starts, last_exit_reason, last_exit_description, last_exit_at IS NOT NULL FROM bgw_workers \
         WHERE name = 'again'",
        |r| r.starts_with("2|"),
    );
    assert_eq!(row, "2|exit_code|exited with exit code 1|t");
    let ps = String::from_utf8(h.bgw(&["ps"]).stdout).unwrap();
    assert!(ps.lines().any(|l| l.contains("again") && l.contains("exited with exit code 1")), "{ps}");
    h.sql(&format!("SELECT bgw_terminate('{again}')"));
    wait_ended(&h, &again);
}

#[test]
fn a_crash_cycle_is_named_as_such_and_stale_handles_say_so() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "3"));
    // A restartable shared-memory worker, ended by the crash cycle another worker's crash begins.
    let bystander = register(&h, "sleeper", 0, r#"{"name": "bystander", "restart": 1}"#);
    h.sql(&format!("SELECT bgw_wait_for_startup('{bystander}')"));
    let crasher = register(&h, "crasher", 100, r#"{"name": "crasher", "restart": "never"}"#);
    h.wait_log("all server processes terminated; reinitializing");
    // The crasher's own record: the signal that killed it; the bystander's: the crash cycle. Both kept in the new
    // segment the cycle built.
    assert_eq!(wait_ended(&h, &crasher), "was terminated by signal 9: Killed");
    assert_eq!(wait_ended(&h, &bystander), "ended by a crash cycle (another process crashed)");
    h.wait_sql("SELECT state FROM bgw_workers WHERE name = 'bystander'", |s| s == "running");
    assert_eq!(h.sql("SELECT starts, last_exit_reason FROM bgw_workers WHERE name = 'bystander'"), "2|crash_cycle");
    h.sql(&format!("SELECT bgw_terminate('{bystander}')"));
    wait_ended(&h, &bystander);

    // Slot reuse: with 3 slots, a handful of short-lived registrations go round them; the first ones' handles
    // then name slots whose later registrations have ended too.
    let first = register(&h, "noop", 0, r#"{"flags": []}"#);
    assert_eq!(wait_ended(&h, &first), "exited with exit code 0");
    for _ in 0..6 {
        let later = register(&h, "noop", 0, r#"{"flags": []}"#);
        wait_ended(&h, &later);
    }
    assert!(reason(&h, &first).starts_with("unknown: the handle is stale"), "{}", reason(&h, &first));
    // A handle out of range is an error, as for bgw_status.
    let err = h.psql("SELECT bgw_exit_reason('99:1')").unwrap_err();
    assert!(err.contains("invalid background worker handle"), "{err}");
}

/// Termination with a grace period (issue 17, item 4): SIGTERM, then SIGKILL after the grace. A worker that held
/// no host lock is "terminated", with no crash cycle; one that held a lock starts the crash cycle, as PostgreSQL
/// would; one that stops in time is never killed.
#[test]
fn a_grace_period_ends_in_sigkill_and_a_crash_cycle_only_when_a_lock_was_held() {
    let h = Host::start(Setup::new(BGW));
    let bystander = register(&h, "sleeper", 0, r#"{"name": "bystander", "restart": 1}"#);
    let bystander_pid = h.sql(&format!("SELECT bgw_wait_for_startup('{bystander}')"));

    // Stops in time: never killed.
    let polite = register(&h, "sleeper", 0, r#"{"name": "polite"}"#);
    h.sql(&format!("SELECT bgw_wait_for_startup('{polite}')"));
    h.sql(&format!("SELECT bgw_terminate('{polite}', interval '30 seconds')"));
    assert_eq!(wait_ended(&h, &polite), "terminated on request (exit code 1)");

    // Ignores SIGTERM, holds no lock: killed after its grace, not a crash.
    let stubborn = register(&h, "stubborn", 0, r#"{"name": "stubborn"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{stubborn}')")).parse().unwrap();
    h.wait_log(&format!("stubborn (PID {pid}) ignores SIGTERM"));
    h.sql(&format!("SELECT bgw_terminate('{stubborn}', '300 ms')"));
    assert_eq!(wait_ended(&h, &stubborn), "terminated on request (signal 9: Killed)");
    let log = h.wait_log(&format!("(PID {pid}) did not exit within its termination grace period; sending SIGKILL"));
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert_eq!(log.matches("sending SIGKILL").count(), 1, "only the stubborn worker was killed: {log}");
    assert_eq!(h.sql(&format!("SELECT bgw_pid('{bystander}')")), bystander_pid, "the bystander survived");

    // Ignores SIGTERM while holding a host lock: the kill starts the crash cycle.
    let holder = register(&h, "stubborn", 1, r#"{"name": "holder"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{holder}')")).parse().unwrap();
    h.wait_log(&format!("stubborn (PID {pid}) ignores SIGTERM and holds a host lock"));
    h.sql(&format!("SELECT bgw_terminate('{holder}', '00:00:00.3')"));
    h.wait_log(&format!("(PID {pid}) was killed after its grace period while holding a host lock"));
    h.wait_log("all server processes terminated; reinitializing");
    assert_eq!(wait_ended(&h, &bystander), "ended by a crash cycle (another process crashed)");
    // Bad grace periods.
    let err = h.psql(&format!("SELECT bgw_terminate('{bystander}', '-1 s')")).unwrap_err();
    assert!(err.contains("out of range"), "{err}");
}

/// A fast shutdown no longer waits forever for a worker that ignores SIGTERM: after `shutdown_kill_timeout` it
/// sends SIGKILL, and the host stops cleanly (no crash cycle, exit 0).
#[test]
fn a_fast_shutdown_kills_what_ignores_sigterm_after_its_timeout() {
    let mut h = Host::start(Setup::new(BGW).conf("shutdown_kill_timeout", "500ms"));
    let stubborn = register(&h, "stubborn", 0, r#"{"name": "stubborn"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{stubborn}')")).parse().unwrap();
    h.wait_log(&format!("stubborn (PID {pid}) ignores SIGTERM"));
    assert_eq!(h.stop(libc::SIGINT), Some(0));
    let log = h.log();
    assert!(log.contains("did not exit within shutdown_kill_timeout after SIGTERM; sending SIGKILL"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert!(log.contains("database system is shut down"), "{log}");
    assert!(!alive(pid));
}

/// `bgw terminate HANDLE --grace 300ms` from the command line.
#[test]
fn the_command_line_terminates_with_a_grace_period() {
    let h = Host::start(Setup::new(BGW));
    let stubborn = register(&h, "stubborn", 0, r#"{"name": "stubborn"}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{stubborn}')")).parse().unwrap();
    h.wait_log(&format!("stubborn (PID {pid}) ignores SIGTERM"));
    let out = h.bgw(&["terminate", &stubborn, "--grace", "300 ms"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(wait_ended(&h, &stubborn), "terminated on request (signal 9: Killed)");
}
