//! Queued registration (issue 17, item 6): `bgw_register(..., wait => interval)` waits for a free slot instead of
//! failing, first come first served; a waiter that times out, is cancelled (pg_cancel_backend, statement_timeout)
//! or is terminated leaves the queue and never gets a slot afterwards; the spec's registration still fails at once.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;
use std::thread::JoinHandle;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn host() -> Host {
    Host::start(Setup::new(BGW).conf("max_worker_processes", "2").conf("log_min_messages", "debug1"))
}

fn register(h: &Host, name: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', 'sleeper', 0, '{{\"name\": \"{name}\"}}')"))
}

/// Fills both slots with running sleepers.
fn fill(h: &Host) -> (String, String) {
    let (a, b) = (register(h, "a"), register(h, "b"));
    h.sql(&format!("SELECT bgw_wait_for_startup('{a}'), bgw_wait_for_startup('{b}')"));
    (a, b)
}

/// A session that registers `name` waiting up to `wait` for a slot, in a thread: (its backend pid, the thread
/// with the handle or the error). Returns once the registration is queued (the host logs it at DEBUG1).
fn waiter(h: &Host, name: &str, wait: &str, queued_before: usize) -> (i32, JoinHandle<Result<Option<String>, String>>) {
    let mut c = h.client();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let sql =
        format!("SELECT bgw_register('bgw', 'sleeper', 0, '{{\"name\": \"{name}\"}}', wait => interval '{wait}')");
    let t = std::thread::spawn(move || {
        c.query_one(&sql, &[]).map(|r| r.get::<_, Option<String>>(0)).map_err(|e| {
            e.as_db_error().map_or_else(|| e.to_string(), |d| format!("{}: {}", d.code().code(), d.message()))
        })
    });
    h.wait_log_count("waits for a free slot", queued_before + 1);
    (pid, t)
}

fn worker_name(h: &Host, handle: &str) -> String {
    let (slot, generation) = handle.split_once(':').unwrap();
    h.sql(&format!("SELECT name FROM bgw_workers WHERE slot = {slot} AND generation = {generation}"))
}

#[test]
fn waiters_get_freed_slots_first_come_first_served() {
    let h = host();
    let (a, b) = fill(&h);
    // The spec's registration still fails at once.
    assert_eq!(register(&h, "plain"), "");
    let (_, w1) = waiter(&h, "w1", "60 s", 0);
    let (_, w2) = waiter(&h, "w2", "60 s", 1);
    let (_, w3) = waiter(&h, "w3", "60 s", 2);
    // A slot frees: the first waiter gets it, the others keep waiting.
    h.sql(&format!("SELECT bgw_terminate('{a}')"));
    let h1 = w1.join().unwrap().unwrap().expect("w1 got a slot");
    h.sql(&format!("SELECT bgw_wait_for_startup('{h1}')"));
    assert_eq!(worker_name(&h, &h1), "w1");
    assert!(!w2.is_finished() && !w3.is_finished());
    // While they wait, a registration that does not wait still fails at once.
    assert_eq!(register(&h, "plain"), "");
    h.sql(&format!("SELECT bgw_terminate('{b}')"));
    let h2 = w2.join().unwrap().unwrap().expect("w2 got a slot");
    assert_eq!(worker_name(&h, &h2), "w2");
    assert!(!w3.is_finished());
    h.sql(&format!("SELECT bgw_terminate('{h1}')"));
    let h3 = w3.join().unwrap().unwrap().expect("w3 got a slot");
    assert_eq!(worker_name(&h, &h3), "w3");
    // A registration that may wait but finds a free slot and no queue registers at once.
    h.sql(&format!("SELECT bgw_terminate('{h2}')"));
    h.wait_sql("SELECT count(*) FROM bgw_workers", |n| n == "1");
    let now = h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"now\"}', wait => interval '1 s')");
    assert_eq!(worker_name(&h, &now), "now");
}

#[test]
fn a_waiter_that_times_out_or_is_cancelled_or_terminated_leaves_the_queue() {
    let h = host();
    let (a, b) = fill(&h);
    // Timeout: NULL, as when no slot is free.
    assert_eq!(
        h.sql("SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"late\"}', wait => interval '200 ms')"),
        ""
    );
    // statement_timeout ends the wait with its error.
    let err = h
        .psql(
            "SET statement_timeout = '200ms'; \
             SELECT bgw_register('bgw', 'sleeper', 0, '{\"name\": \"timed\"}', wait => interval '60 s')",
        )
        .unwrap_err();
    assert!(err.contains("canceling statement due to statement timeout"), "{err}");
    // pg_cancel_backend and pg_terminate_backend end waits too.
    let (cancelled_pid, cancelled) = waiter(&h, "cancelled", "60 s", 2);
    let (terminated_pid, terminated) = waiter(&h, "terminated", "60 s", 3);
    let (_, last) = waiter(&h, "last", "60 s", 4);
    assert_eq!(h.sql(&format!("SELECT pg_cancel_backend({cancelled_pid})")), "t");
    assert_eq!(cancelled.join().unwrap(), Err("57014: canceling statement due to user request".into()));
    assert_eq!(h.sql(&format!("SELECT pg_terminate_backend({terminated_pid})")), "t");
    assert!(terminated.join().unwrap().is_err());
    h.wait_sql(&format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {terminated_pid}"), |n| n == "0");
    // The freed slot goes to the one waiter left, not to any that left the queue.
    h.sql(&format!("SELECT bgw_terminate('{a}')"));
    let handle = last.join().unwrap().unwrap().expect("the last waiter got a slot");
    assert_eq!(worker_name(&h, &handle), "last");
    // And the next one to a registration that does not wait: no promise is held for a waiter that left.
    h.sql(&format!("SELECT bgw_terminate('{b}')"));
    h.wait_sql("SELECT count(*) FROM bgw_workers", |n| n == "1");
    let plain = register(&h, "plain");
    assert_eq!(worker_name(&h, &plain), "plain");
    let names = h.sql("SELECT string_agg(name, ',' ORDER BY name) FROM bgw_workers");
    assert_eq!(names, "last,plain");
}
