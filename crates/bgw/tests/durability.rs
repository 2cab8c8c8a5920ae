//! Committed data survives any process being killed: a writer streams committed inserts while the test kills
//! its backend, crashes a worker (a crash-and-restart cycle) and kills the postmaster itself; every insert the
//! client saw acknowledged must be there at the end.

use bgw_test_support::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn writer_pid(h: &Host) -> Option<i32> {
    h.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'writer'").ok()?.lines().next()?.parse().ok()
}

#[test]
fn acknowledged_commits_survive_killed_backends_crashes_and_a_killed_postmaster() {
    let mut h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE c (id INTEGER PRIMARY KEY)");
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (at, user) = (h.endpoint(), os_user());
    let (a, s) = (acked.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let mut client: Option<postgres::Client> = None;
        let mut i: i64 = 0;
        while !s.load(Ordering::Relaxed) {
            if client.is_none() {
                client = at.client_config(&user, "postgres").application_name("writer").connect(postgres::NoTls).ok();
                if client.is_none() {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
            i += 1;
            let c = client.as_mut().unwrap();
            match c.execute("INSERT INTO c (id) VALUES ($1::int8)", &[&i]) {
                Ok(_) => a.lock().unwrap().push(i),
                Err(_) => client = None,
            }
        }
    });
    let wait_for_more = |n: usize| {
        let target = acked.lock().unwrap().len() + n;
        wait_until("more acknowledged commits", || acked.lock().unwrap().len() >= target);
    };
    let mut kills = 0;
    for round in 0..6 {
        wait_for_more(25);
        match round % 3 {
            // kill -9 the writer's backend in the middle of its stream of commits.
            0 => {
                if let Some(pid) = writer_pid(&h) {
                    try_signal(pid, SIGKILL);
                    kills += 1;
                }
            }
            // A worker with shared memory crashes: every other process is SIGQUIT'ed and shared memory rebuilt.
            1 => {
                let pid: i32 = h.sql("SELECT bgw_launch('bgw', 'sleeper')").parse().unwrap();
                signal(pid, SIGKILL);
                kills += 1;
                h.wait_log_count("all server processes terminated; reinitializing", round / 3 + 1);
            }
            // kill -9 the postmaster; start it again (recovery runs).
            _ => {
                h.signal(SIGKILL);
                h.wait_exit();
                wait_until("the old processes to go", || h.group_pids().is_empty());
                h.launch_postmaster(&[]);
                kills += 1;
            }
        }
    }
    wait_for_more(25);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let present: std::collections::HashSet<i64> =
        h.sql("SELECT id FROM c").lines().filter_map(|l| l.parse().ok()).collect();
    let missing: Vec<&i64> = acked.iter().filter(|i| !present.contains(i)).collect();
    assert!(missing.is_empty(), "acknowledged commits lost: {missing:?}");
    assert!(acked.len() >= 175 && kills == 6, "{} commits, {kills} kills", acked.len());
}
