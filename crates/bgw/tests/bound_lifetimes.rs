//! Bound lifetimes (issue 17, item 5): a dynamic worker registered with `"bind": "registrant"` is terminated
//! when the session (or worker) that registered it exits, as systemd's `BindsTo` and an OTP link; one that is not
//! bound outlives its registrant, as in PostgreSQL.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn a_worker_bound_to_its_session_ends_with_it() {
    let h = Host::start(Setup::new(BGW));
    let mut session = h.client();
    let backend: i32 = session.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let bound: String = session
        .query_one(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"name": "bound", "bind": "registrant"}')"#, &[])
        .unwrap()
        .get(0);
    let free: String =
        session.query_one(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"name": "free"}')"#, &[]).unwrap().get(0);
    let pid = h.sql(&format!("SELECT bgw_wait_for_startup('{bound}')"));
    h.sql(&format!("SELECT bgw_wait_for_startup('{free}')"));
    // The session ends (as psql quitting does): its bound worker is terminated, the other one keeps running.
    drop(session);
    h.wait_log(&format!("background worker \"bound\": its registrant (PID {backend}) exited; terminating it"));
    assert_eq!(
        h.wait_sql(&format!("SELECT bgw_exit_reason('{bound}')"), |r| r != "has not ended"),
        "terminated on request (exit code 1)"
    );
    wait_until("the bound worker to exit", || !alive(pid.parse().unwrap()));
    assert_eq!(h.sql("SELECT name, state FROM bgw_workers ORDER BY name"), "free|running");
    // A bad value is refused.
    let err = h.psql(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"bind": "parent"}')"#).unwrap_err();
    assert!(err.contains("\"bind\" must be \"registrant\" or \"none\""), "{err}");
}
