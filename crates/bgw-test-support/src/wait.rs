//! Waiting on events with a deadline, and reading numbers out of log text.

use std::time::{Duration, Instant};

/// How long any wait lasts before the test fails: generous, because the machine may be loaded.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `pred` holds, polling; panics naming `what` after the deadline.
pub fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let start = Instant::now();
    while !pred() {
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every number that follows `prefix` in `text` (e.g. the pids of "... with PID 123" lines).
pub fn numbers_after(text: &str, prefix: &str) -> Vec<i32> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .collect()
}
