//! Per-type quotas (issue 17, item 6, part): `worker_type_quota = 'type=N, ...'` lets at most N workers of a type
//! run at once; the others wait, first come first served, in state `waiting_quota`, and start as workers of their
//! type exit; a reload that raises the quota lets them start at once. Other types are never held back.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn register(h: &Host, name: &str, ty: &str) -> String {
    h.sql(&format!("SELECT bgw_register('bgw', 'sleeper', 0, '{{\"name\": \"{name}\", \"type\": \"{ty}\"}}')"))
}

fn state(h: &Host, name: &str) -> String {
    h.sql(&format!("SELECT state FROM bgw_workers WHERE name = '{name}'"))
}

#[test]
fn a_quota_holds_workers_of_its_type_back_in_arrival_order() {
    let h = Host::start(Setup::new(BGW).conf("worker_type_quota", "'capped=1'"));
    let a = register(&h, "a", "capped");
    h.sql(&format!("SELECT bgw_wait_for_startup('{a}')"));
    let b = register(&h, "b", "capped");
    let c = register(&h, "c", "capped");
    h.wait_sql("SELECT state FROM bgw_workers WHERE name = 'c'", |s| s == "waiting_quota");
    assert_eq!(state(&h, "b"), "waiting_quota");
    // Another type is not held back.
    let other = register(&h, "other", "free");
    h.sql(&format!("SELECT bgw_wait_for_startup('{other}')"));
    // a's exit lets the first waiter (b) run; c still waits.
    h.sql(&format!("SELECT bgw_terminate('{a}')"));
    h.sql(&format!("SELECT bgw_wait_for_startup('{b}')"));
    assert_eq!(state(&h, "c"), "waiting_quota");
    // A reload that raises the quota lets c run at once.
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nworker_type_quota = 'capped=2'\n");
    std::fs::write(&conf, text).unwrap();
    h.signal(libc::SIGHUP);
    h.sql(&format!("SELECT bgw_wait_for_startup('{c}')"));
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE type = 'capped' AND state = 'running'"), "2");
}
