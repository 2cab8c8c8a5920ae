//! The built-in workers of the internal library `bgw`: demos, and the tools the tests drive.
//!
//! | function    | main argument      | what it does                                                          |
//! |-------------|--------------------|-----------------------------------------------------------------------|
//! | `noop`      | —                  | returns at once (exit 0: unregistered)                                |
//! | `exit_with` | exit code          | exits with that code (1: restarted after the interval; ≥2: a crash)   |
//! | `sleeper`   | —                  | waits on its latch until terminated; reloads config on SIGHUP         |
//! | `crasher`   | milliseconds       | kills itself with SIGKILL after that long (a crash)                   |
//! | `spawner`   | count              | registers that many `sleeper`s, waits for each to start, logs pids   |
//! | `ticker`    | milliseconds       | logs a line every that many milliseconds; says when it reloads config |
//! | `panicker`  | —                  | panics (for tests: a panic is an ERROR, exit 1)                       |
//!
//! `sleeper` logs, at DEBUG1, the registration it sees (`MyBgworkerEntry`): name, main argument and extra data.

use super::entry::WorkerMain;
use super::{background_worker_unblock_signals, my_spec, take_config_reload_request};
use crate::bgworker::dynamic;
use crate::bgworker::types::{Restart, WorkerSpec};
use crate::elog;
use crate::latch::{self, WL_EXIT_ON_PM_DEATH, WL_LATCH_SET, WL_TIMEOUT};

/// The internal library's entry points.
pub static INTERNAL: &[(&str, WorkerMain)] = &[
    ("noop", noop),
    ("exit_with", exit_with),
    ("sleeper", sleeper),
    ("crasher", crasher),
    ("spawner", spawner),
    ("ticker", ticker),
    ("panicker", panicker),
];

fn noop(_: usize) {
    background_worker_unblock_signals();
}

fn exit_with(arg: usize) {
    background_worker_unblock_signals();
    crate::process::exit(arg as i32);
}

/// Waits on the latch until SIGTERM (whose default handler exits), reloading configuration on SIGHUP.
fn idle_forever() -> ! {
    loop {
        latch::wait_latch(WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1);
        latch::reset_latch();
        if take_config_reload_request() {
            crate::process::reload_config();
        }
    }
}

fn sleeper(arg: usize) {
    background_worker_unblock_signals();
    if let Some(me) = my_spec() {
        let extra_len = me.extra.iter().position(|&b| b == 0).unwrap_or(me.extra.len());
        elog::debug1(format!(
            "sleeper \"{}\" started: main argument {arg}, extra \"{}\"",
            me.name,
            String::from_utf8_lossy(&me.extra[..extra_len])
        ));
    }
    idle_forever();
}

fn panicker(_: usize) {
    background_worker_unblock_signals();
    panic!("panicker worker panicked on purpose");
}

fn crasher(ms: usize) {
    background_worker_unblock_signals();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms as u64);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        latch::wait_latch(WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left.as_millis() as i64);
        latch::reset_latch();
    }
    crate::sys::signals::send(std::process::id() as i32, libc::SIGKILL);
}

fn spawner(count: usize) {
    background_worker_unblock_signals();
    let me = my_spec().map(|s| s.name).unwrap_or_default();
    for i in 0..count {
        let mut spec = WorkerSpec::new(&format!("{me} sleeper {}", i + 1), "bgw", "sleeper");
        spec.worker_type = "sleeper".to_string();
        spec.restart = Restart::Never;
        spec.notify_pid = std::process::id() as i32;
        match dynamic::register_dynamic_background_worker(&spec) {
            Ok(Some(handle)) => match dynamic::wait_for_background_worker_startup(handle) {
                Ok(dynamic::Status::Started(pid)) => {
                    elog::log(format!("spawner \"{me}\" started worker {} with PID {pid}", i + 1))
                }
                Ok(other) => {
                    elog::warning(format!("spawner \"{me}\": worker {} did not start: {}", i + 1, other.as_str()))
                }
                Err(e) => elog::warning(format!("spawner \"{me}\": {e}")),
            },
            Ok(None) => elog::warning(format!("spawner \"{me}\": no free background worker slot for worker {}", i + 1)),
            Err(e) => elog::warning(format!("spawner \"{me}\": {e}")),
        }
    }
    idle_forever();
}

fn ticker(ms: usize) {
    background_worker_unblock_signals();
    let me = my_spec().map(|s| s.name).unwrap_or_default();
    let period = (ms as i64).max(1);
    let mut tick: u64 = 0;
    let mut next = std::time::Instant::now() + std::time::Duration::from_millis(period as u64);
    loop {
        let left = next.saturating_duration_since(std::time::Instant::now()).as_millis() as i64;
        let rc = latch::wait_latch(WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left);
        if rc & WL_LATCH_SET != 0 {
            latch::reset_latch();
        }
        if take_config_reload_request() {
            crate::process::reload_config();
            elog::log(format!("ticker \"{me}\": configuration reloaded"));
        }
        if std::time::Instant::now() >= next {
            tick += 1;
            elog::log(format!("ticker \"{me}\": tick {tick}"));
            next += std::time::Duration::from_millis(period as u64);
        }
    }
}
