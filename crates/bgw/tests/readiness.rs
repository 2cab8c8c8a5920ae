//! Readiness (issue 17, item 1), through the real binary and SQL: a worker reports ready (the built-in
//! `ready_after` calls the host's `report_ready`, as `BackgroundWorkerReportReady` does), its state becomes
//! `ready`, `bgw_wait_for_ready` and `bgw_launch(... '{"wait": "ready"}')` wait for it (with a timeout that
//! returns NULL), a start timeout ends a worker that does not get there (a failed start: exit reason
//! "start_timeout", restarted by its policy), and a worker that stops first is an error for the waiter.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn register(h: &Host, function: &str, arg: i64, options: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', '{function}', {arg}, '{options}')"))
}

#[test]
fn started_is_not_ready_and_waits_tell_them_apart() {
    let h = Host::start(Setup::new(BGW));
    let slow = register(&h, "ready_after", 1500, r#"{"name": "slow"}"#);
    let pid = h.sql(&format!("SELECT bgw_wait_for_startup('{slow}')"));
    // Started (forked, pid published) but not ready yet: a short wait for readiness times out with NULL.
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_ready('{slow}', '50 ms') IS NULL")), "t");
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'slow'"), "running");
    // Then ready, with the same process.
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_ready('{slow}')")), pid);
    assert_eq!(h.sql("SELECT state FROM bgw_workers WHERE name = 'slow'"), "ready");

    // bgw_launch waits for readiness when asked to.
    let pid = h.sql(r#"SELECT bgw_launch('bgw', 'ready_after', 200, '{"name": "quick", "wait": "ready"}')"#);
    assert_eq!(h.sql("SELECT pid, state FROM bgw_workers WHERE name = 'quick'"), format!("{pid}|ready"));

    // A worker that stops before it is ready is an error for its waiter, pointing at the exit reason.
    let gone = register(&h, "exit_with", 1, r#"{"name": "gone", "flags": []}"#);
    let err = h.psql(&format!("SELECT bgw_wait_for_ready('{gone}')")).unwrap_err();
    assert!(err.contains("stopped before it was ready"), "{err}");
    assert!(err.contains("bgw_exit_reason"), "{err}");
}

#[test]
fn a_start_timeout_ends_a_worker_that_is_not_ready_in_time() {
    let h = Host::start(Setup::new(BGW));
    let never = register(
        &h,
        "ready_after",
        3_600_000,
        r#"{"name": "never", "restart": 0, "start_timeout": 0.3, "give_up": {"restarts": 1, "within": 600}}"#,
    );
    let pid: i32 = h.sql(&format!("SELECT bgw_wait_for_startup('{never}')")).parse().unwrap();
    h.wait_log(&format!(
        "background worker \"never\" (PID {pid}) did not report ready within its start timeout of 0.3 s; terminating it"
    ));
    // A failed start: restarted once by its policy, timed out again, then given up on.
    let row = h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'never'", |r| r.starts_with("failed"));
    assert_eq!(row, "failed|2");
    assert!(h.log().matches("did not report ready within its start timeout").count() >= 2);
    // Its last run's own reason was the timeout; the policy's verdict replaced it.
    assert_eq!(h.sql(&format!("SELECT bgw_exit_reason('{never}')")), "its restart policy gave up");
    // A worker that gets ready in time is left alone.
    let fine = register(&h, "ready_after", 50, r#"{"name": "fine", "start_timeout": 30}"#);
    h.sql(&format!("SELECT bgw_wait_for_ready('{fine}')"));
    assert!(!h.log().contains("\"fine\" (PID"), "{}", h.log());
}
