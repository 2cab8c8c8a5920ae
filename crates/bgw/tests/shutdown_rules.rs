//! PostgreSQL 14's shutdown rules for dynamic workers (issue 17, item 7): once a shutdown began, a registration
//! is refused and the registrant's wait ends (instead of hanging until the registrant itself is stopped), and a
//! registration that has not started and has a waiting registrant is forgotten with its registrant told.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn registrations_after_a_shutdown_began_are_refused_and_no_waiter_hangs() {
    let mut h = Host::start(Setup::new(BGW));
    let mut session = h.client();
    // A wait that would hang fails instead of blocking the test forever.
    session.batch_execute("SET statement_timeout = '30s'").unwrap();
    // A smart shutdown waits for this session to leave; launches are off meanwhile.
    h.signal(libc::SIGTERM);
    h.wait_log("received smart shutdown request");
    let handle: String =
        session.query_one("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"late\"}')", &[]).unwrap().get(0);
    let err = session.query_one(&format!("SELECT bgw_wait_for_startup('{handle}')"), &[]).unwrap_err();
    let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_else(|| err.to_string());
    assert!(message.contains("stopped before it started"), "{message}");
    let reason: String = session.query_one(&format!("SELECT bgw_exit_reason('{handle}')"), &[]).unwrap().get(0);
    assert_eq!(reason, "ended by the host's shutdown");
    let err = session.query_one("SELECT bgw_launch('bgw', 'sleeper')", &[]).unwrap_err();
    let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_else(|| err.to_string());
    assert!(message.contains("stopped before it started"), "{message}");
    drop(session);
    assert_eq!(h.wait_exit(), Some(0));
}
