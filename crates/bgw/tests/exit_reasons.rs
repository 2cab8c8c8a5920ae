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
