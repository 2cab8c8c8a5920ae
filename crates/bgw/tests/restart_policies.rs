//! Restart policies (issue 17, item 2), through the real binary: an exponential backoff between restarts (the
//! delays the postmaster schedules grow by the factor and stop at the maximum; read from `bgw_workers` while the
//! worker waits, and from the log), and a give-up rule (more restarts within the window than allowed: state
//! `failed`, not restarted, the reason "gave up", until `bgw_reset` or `bgw reset`).
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw_test_support::*;
use std::time::Duration;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// "2026-12-07 18:10:01.123456+00" as microseconds since the epoch (UTC; only differences are used).
fn micros(ts: &str) -> i64 {
    let (date, time) = ts.trim().trim_end_matches("+00").split_once(' ').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let frac: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    let days = d[0] * 372 + d[1] * 31 + d[2]; // monotonic within a month, enough for differences in a test
    ((days * 24 + t[0]) * 60 + t[1]) * 60_000_000 + t[2] * 1_000_000 + frac
}

#[test]
fn the_backoff_grows_by_its_factor_up_to_its_maximum() {
    let h = Host::start(Setup::new(BGW));
    let options = r#"{"name": "flaky", "restart": 1, "flags": [],
                      "backoff": {"initial": 0.2, "max": 0.8, "factor": 2}}"#;
    let handle = h.sql(&format!("SELECT bgw_register('bgw', 'exit_with', 1, '{}')", options.replace('\n', " ")));
    // Each wait: the delay the postmaster scheduled, from the exit to the next start (exact: both times are the
    // postmaster's own).
    let mut client = h.client();
    let mut delays: Vec<(i64, i64)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while delays.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "saw only {delays:?}");
        let rows = client
            .simple_query(
                "SELECT starts, CAST(last_exit_at AS text), CAST(next_start_at AS text) FROM bgw_workers \
                 WHERE name = 'flaky' AND state = 'waiting_restart'",
            )
            .unwrap();
        for m in rows {
            if let postgres::SimpleQueryMessage::Row(r) = m {
                let starts: i64 = r.get(0).unwrap().parse().unwrap();
                let delay = micros(r.get(2).unwrap()) - micros(r.get(1).unwrap());
                if delays.last().is_none_or(|(s, _)| *s != starts) {
                    delays.push((starts, delay));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Delays by the number of runs so far: 0.2, 0.4, 0.8, then capped at 0.8 (within a millisecond: the exit's
    // instant and its recorded time are taken a moment apart).
    for &(starts, delay) in &delays {
        let expected = (200_000i64 << (starts - 1).min(2)).min(800_000);
        assert!((delay - expected).abs() < 2_000, "after {starts} starts: {delay} us, expected {expected} us");
    }
    assert!(delays.iter().any(|&(s, _)| s >= 4), "never reached the cap: {delays:?}");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
}

#[test]
fn a_worker_that_keeps_failing_is_given_up_on_until_reset() {
    let h = Host::start(Setup::new(BGW));
    let options = r#"{"name": "doomed", "restart": 0, "flags": [], "give_up": {"restarts": 2, "within": 60}}"#;
    let handle = h.sql(&format!("SELECT bgw_register('bgw', 'exit_with', 1, '{options}')"));
    // Started once, restarted twice, then given up on.
    let row = h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'doomed'", |r| r.starts_with("failed"));
    assert_eq!(row, "failed|3");
    assert_eq!(h.sql(&format!("SELECT bgw_exit_reason('{handle}')")), "its restart policy gave up");
    assert_eq!(h.sql(&format!("SELECT bgw_status('{handle}')")), "stopped");
    let log = h.wait_log("background worker \"doomed\": gave up restarting it");
    assert!(log.contains("It was restarted 2 times within 60 s"), "{log}");
    // Not restarted meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.sql("SELECT state, starts FROM bgw_workers WHERE name = 'doomed'"), "failed|3");
    // A reset lets it run again, with a fresh history: three more starts, then given up again.
    assert_eq!(h.sql(&format!("SELECT bgw_reset('{handle}')")), "t");
    let row = h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'doomed'", |r| r == "failed|6");
    assert_eq!(row, "failed|6");
    // The command line does the same.
    let out = h.bgw(&["reset", &handle]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'doomed'", |r| r == "failed|9");
    // A stale handle is refused by the command line, false in SQL.
    assert_eq!(h.sql("SELECT bgw_reset('7:99')"), "f");
    assert!(!h.bgw(&["reset", "7:99"]).status.success());
    // Terminating a failed worker forgets it.
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
    h.wait_sql("SELECT count(*) FROM bgw_workers WHERE name = 'doomed'", |r| r == "0");
}

#[test]
fn declared_workers_take_the_same_policies() {
    let h = Host::start(Setup::new(BGW).workers(
        r#"
[[worker]]
name = "declared"
function = "exit_with"
main_arg = 1
restart = 0
flags = []
give_up = { restarts = 1, within = 60 }
backoff = { initial = 0.05, max = 0.1 }
"#,
    ));
    let row = h.wait_sql("SELECT state, starts FROM bgw_workers WHERE name = 'declared'", |r| r.starts_with("failed"));
    assert_eq!(row, "failed|2");
    // Bad policies are refused with the option's name.
    let err = h
        .psql(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"restart": 1, "backoff": {"initial": 1, "max": 2, "factor": 0.5}}')"#)
        .unwrap_err();
    assert!(err.contains("backoff factor must be between 1 and 1000"), "{err}");
    let err =
        h.psql(r#"SELECT bgw_register('bgw', 'sleeper', 0, '{"backoff": {"initial": 1, "max": 2}}')"#).unwrap_err();
    assert!(err.contains("a restart backoff needs a restartable worker"), "{err}");
}
