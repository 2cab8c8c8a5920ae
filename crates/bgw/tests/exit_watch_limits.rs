//! Exits of many workers are never lost, whatever the descriptor limit (issue 18's scale: tens of thousands of
//! workers). The postmaster learns of exits through a pidfd per child, parked in a socket; giving the parked
//! descriptors back all at once (a reclaim) could exceed `RLIMIT_NOFILE`, and the kernel then closed what it could
//! not install, and with them the exit registrations: those workers stayed zombies, unreaped, and a fast shutdown
//! waited for them until its kill timeout and still did not end. Reproduced here with the limit lowered (the
//! limit binds the pidfds in flight for a process without CAP_SYS_RESOURCE, and the descriptor table): 2,000 for
//! 2,400 workers (the pidfds the park refuses are held in the table), then 400 for 1,200 (no room to hold them in
//! the table: exits come through SIGCHLD). One test, so that the limits, which this test process sets
//! and its hosts inherit, never race.
//!
//! Every host is stopped when the test ends, failed or not.

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// `workers` sleepers under a descriptor limit of `limit`; half terminated, then a fast shutdown: every exit seen.
fn run(limit: u64, workers: usize) {
    // SAFETY: setrlimit with a valid struct; this test process has few descriptors open.
    unsafe {
        let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    let mut h = Host::start(
        Setup::new(BGW).conf("max_worker_processes", &(workers + 100).to_string()).conf("shutdown_kill_timeout", "20s"),
    );
    let options = r#"'{"restart": "never"}'"#;
    let handles = h.sql(&format!(
        "SELECT string_agg(h, ' ') FROM (SELECT bgw_register('bgw', 'sleeper', 0, {options}) h \
         FROM generate_series(1, {workers})) s"
    ));
    let handles: Vec<&str> = handles.split(' ').collect();
    assert_eq!(handles.len(), workers);
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'", |n| n == workers.to_string());
    // Half of them terminated: every exit is seen (their slots are freed).
    for chunk in handles[..workers / 2].chunks(200) {
        let list = chunk.iter().map(|h| format!("'{h}'")).collect::<Vec<_>>().join(",");
        h.sql(&format!("SELECT count(bgw_terminate(h)) FROM unnest(ARRAY[{list}]) h"));
    }
    let left = (workers - workers / 2).to_string();
    h.wait_sql("SELECT count(*) FROM bgw_workers", |n| n == left);
    // A fast shutdown ends every worker and the host, without waiting out its kill timeout.
    assert_eq!(h.stop(libc::SIGINT), Some(0));
    let log = h.log();
    assert!(!log.contains("did not exit within shutdown_kill_timeout"), "{log}");
    assert!(log.contains("database system is shut down"), "{log}");
}

#[test]
fn exits_are_reported_when_children_outnumber_the_descriptor_limit() {
    // Hard limits only go down (without CAP_SYS_RESOURCE): the larger first.
    run(2000, 2400);
    run(400, 1200);
}
