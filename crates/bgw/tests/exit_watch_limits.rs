//! Exits of many workers are never lost, whatever the descriptor limit (issue 18's scale: tens of thousands of
//! workers). The postmaster learns of exits through a pidfd per child, parked in a socket; giving the parked
//! descriptors back all at once (a reclaim) could exceed `RLIMIT_NOFILE`, and the kernel then closed what it could
//! not install, and with them the exit registrations: those workers stayed zombies, unreaped, and a fast shutdown
//! waited for them until its kill timeout and still did not end. Reproduced here with the limit lowered to 400 for
//! 1,200 workers (this test binary runs alone in its process, so the limit it sets is inherited by its host only).
//!
//! The host is stopped when the test ends, failed or not.

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

#[test]
fn exits_are_reported_when_children_outnumber_the_descriptor_limit() {
    // SAFETY: setrlimit with a valid struct; this test process has few descriptors open.
    unsafe {
        let lim = libc::rlimit { rlim_cur: 400, rlim_max: 400 };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    let mut h = Host::start(Setup::new(BGW).conf("max_worker_processes", "1300").conf("shutdown_kill_timeout", "20s"));
    let handles = h.sql(
        "SELECT string_agg(h, ' ') FROM (SELECT bgw_register('bgw', 'sleeper', 0, '{\"restart\": \"never\"}') h \
         FROM generate_series(1, 1200)) s",
    );
    let handles: Vec<&str> = handles.split(' ').collect();
    assert_eq!(handles.len(), 1200);
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |n| n == "1200");
    // Half of them terminated: every exit is seen (their slots are freed).
    for chunk in handles[..600].chunks(200) {
        let list = chunk.iter().map(|h| format!("'{h}'")).collect::<Vec<_>>().join(",");
        h.sql(&format!("SELECT count(bgw_terminate(h)) FROM unnest(ARRAY[{list}]) h"));
    }
    h.wait_sql("SELECT count(*) FROM bgw_workers", |n| n == "600");
    // A fast shutdown ends every worker and the host, without waiting out its kill timeout.
    assert_eq!(h.stop(libc::SIGINT), Some(0));
    let log = h.log();
    assert!(!log.contains("did not exit within shutdown_kill_timeout"), "{log}");
    assert!(log.contains("database system is shut down"), "{log}");
}
