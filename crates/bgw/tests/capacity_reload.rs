//! `max_worker_processes` on reload (issue 17, item 6): it grows and shrinks on SIGHUP up to `max_worker_slots`,
//! the ceiling fixed at start (default: `max_worker_processes` at start), as PostgreSQL 18's
//! `autovacuum_max_workers` does up to `autovacuum_worker_slots`. Growing lets more registrations succeed (and
//! serves waiting ones) without a restart; shrinking below the running count terminates no one and refuses new
//! registrations until enough workers left; a value above the ceiling is refused with PostgreSQL's wording.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn register(h: &Host, name: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', 'sleeper', 0, '{{\"name\": \"{name}\"}}')"))
}

fn started(h: &Host, name: &str) -> String {
    let handle = register(h, name);
    assert!(handle.contains(':'), "{name} got no slot");
    h.sql(&format!("SELECT bgw_wait_for_startup('{handle}')"));
    handle
}

/// Sets `max_worker_processes` in the configuration file and reloads; returns once `n` reloads were logged.
fn reload_with(h: &Host, value: i64, reloads: usize) {
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(&format!("\nmax_worker_processes = {value}\n"));
    std::fs::write(&conf, text).unwrap();
    h.signal(libc::SIGHUP);
    h.wait_log_count("received SIGHUP, reloading configuration files", reloads);
}

#[test]
fn capacity_grows_and_shrinks_on_reload_up_to_the_ceiling() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "2").conf("max_worker_slots", "4"));
    assert_eq!(h.sql("SHOW max_worker_slots"), "4");
    let a = started(&h, "a");
    let b = started(&h, "b");
    assert_eq!(register(&h, "refused"), "");
    // A registration that waits for a slot is served when a reload makes room.
    let mut waiter = h.client();
    let queued = std::thread::spawn(move || {
        waiter
            .query_one(
                "SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"queued\"}', wait => interval '60 s')",
                &[],
            )
            .map(|r| r.get::<_, Option<String>>(0))
            .map_err(|e| e.to_string())
    });
    h.wait_log("background worker \"queued\" waits for a free slot");
    // Grow to 4: the waiter and one more registration get slots, without a restart.
    reload_with(&h, 4, 1);
    h.wait_sql("SHOW max_worker_processes", |v| v == "4");
    let q = queued.join().unwrap().unwrap().expect("the waiting registration got a slot");
    h.sql(&format!("SELECT bgw_wait_for_startup('{q}')"));
    let c = started(&h, "c");
    assert_eq!(register(&h, "refused"), "");
    // Shrink to 2 with 4 running: no one is terminated, and registrations are refused until fewer than 2 run.
    reload_with(&h, 2, 2);
    h.wait_sql("SHOW max_worker_processes", |v| v == "2");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'"), "4");
    for handle in [&a, &b] {
        h.sql(&format!("SELECT bgw_terminate('{handle}')"));
        h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')"));
        assert_eq!(register(&h, "refused"), "");
    }
    h.sql(&format!("SELECT bgw_terminate('{c}')"));
    h.sql(&format!("SELECT bgw_wait_for_shutdown('{c}')"));
    started(&h, "d");
    // Above the ceiling: refused as PostgreSQL refuses an out-of-range value at reload; the value stays.
    reload_with(&h, 5, 3);
    let log = h.wait_log("5 is outside the valid range for parameter \"max_worker_processes\" (0 .. 4)");
    assert!(log.contains("contains errors; unaffected changes were applied"), "{log}");
    assert_eq!(h.sql("SHOW max_worker_processes"), "2");
    assert!(!h.log().contains("terminating background worker \"queued\""));
}

#[test]
fn without_a_ceiling_the_start_value_is_the_ceiling_and_shrinking_works() {
    let h = Host::start(Setup::new(BGW).conf("max_worker_processes", "2"));
    assert_eq!(h.sql("SHOW max_worker_slots"), "-1");
    started(&h, "a");
    let b = started(&h, "b");
    reload_with(&h, 3, 1);
    h.wait_log("3 is outside the valid range for parameter \"max_worker_processes\" (0 .. 2)");
    assert_eq!(h.sql("SHOW max_worker_processes"), "2");
    reload_with(&h, 1, 2);
    h.wait_sql("SHOW max_worker_processes", |v| v == "1");
    h.sql(&format!("SELECT bgw_terminate('{b}')"));
    h.sql(&format!("SELECT bgw_wait_for_shutdown('{b}')"));
    assert_eq!(register(&h, "refused"), "");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE state = 'running'"), "1");
}
