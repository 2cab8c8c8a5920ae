//! The built-in workers of the internal library `bgw`: demos, and the tools the tests drive.
//!
//! | function    | main argument      | what it does                                                          |
//! |-------------|--------------------|-----------------------------------------------------------------------|
//! | `noop`      | —                  | returns at once (exit 0: unregistered)                                |
//! | `exit_with` | exit code          | exits with that code (1: restarted after the interval; ≥2: a crash)   |
//! | `sleeper`   | —                  | waits on its latch until terminated; reloads config on SIGHUP         |
//! | `crasher`   | milliseconds       | kills itself with SIGKILL after that long (a crash)                   |
//! | `spawner`   | count              | registers that many `sleeper`s, waits for each to start, logs pids   |
//! | `shutdown_waiter` | —            | registers one `sleeper`, waits for its start, then for its shutdown, and logs how that wait ended (`stopped`, or `postmaster_died`) |
//! | `ticker`    | milliseconds       | logs a line every that many milliseconds; says when it reloads config |
//! | `panicker`  | —                  | panics (for tests: a panic is an ERROR, exit 1)                       |
//! | `lock_holder` | —                | takes the workers' lock, never releases it, waits to be killed        |
//! | `scribbler` | mode               | scribbles over shared memory (0: slots, counters, bitmaps, watchers, signal flags; 1: the slot count), wakes the postmaster, waits to be killed |
//!
//! | `ready_after` | milliseconds     | reports ready (`BackgroundWorkerReportReady`) after that long, then waits to be terminated |
//! | `stubborn`  | 0 or 1             | ignores SIGTERM and waits to be killed; with 1, holding a host lock (the named-memory directory's) |
//!
//! | `late_terminator` | milliseconds | keeps every signal blocked, sleeps that long, then terminates the worker whose handle (`slot:generation`) is its extra data, and exits 0 |
//!
//! `lock_holder`, `scribbler` and `late_terminator` are fault injection for the reliability tests (`tests/faults.rs`): what a child
//! that dies holding the lock, or a rogue child with shared memory access, can do, and a termination request that
//! reaches the postmaster while it handles a crash (the blocked signals hold the crash cycle open until it is made).
//!
//! `sleeper` logs, at DEBUG1, the registration it sees (`MyBgworkerEntry`): name, main argument and extra data.

use super::take_config_reload_request;
use crate::bgworker::handle::{Handle, Status};
use crate::bgworker::types::{Restart, WorkerSpec};
use crate::dynamic;
use crate::elog;
use crate::latch::{self, WL_EXIT_ON_PM_DEATH, WL_LATCH_SET, WL_TIMEOUT};
use crate::modules::entry::{check_entry, WorkerMain};
use crate::process::my_worker::{background_worker_unblock_signals, my_spec};

/// The internal library's entry points.
pub static INTERNAL: &[(&str, WorkerMain)] = &[
    ("noop", noop),
    ("exit_with", exit_with),
    ("sleeper", sleeper),
    ("crasher", crasher),
    ("spawner", spawner),
    ("shutdown_waiter", shutdown_waiter),
    ("ticker", ticker),
    ("panicker", panicker),
    ("lock_holder", lock_holder),
    ("scribbler", scribbler),
    ("late_terminator", late_terminator),
    ("stubborn", stubborn),
    ("ready_after", ready_after),
];

/// Starts up for `ms` milliseconds (a latch wait), reports ready, then waits until terminated.
fn ready_after(ms: usize) {
    background_worker_unblock_signals();
    sleep_on_latch(ms);
    if let Err(e) = dynamic::report_ready() {
        elog::warning(e.message);
    }
    idle_forever();
}

/// Ignores SIGTERM (a worker that will not stop when asked) and waits to be killed; with main argument 1 it
/// first takes a host lock (the named-memory directory's) and keeps it.
fn stubborn(hold_lock: usize) {
    crate::sys::signals::ignore(libc::SIGTERM);
    background_worker_unblock_signals();
    if hold_lock == 1 {
        if let Some(shm) = crate::shmem::attached() {
            shm.addin().leak_lock();
        }
    }
    elog::log(format!(
        "stubborn (PID {}) ignores SIGTERM{}",
        std::process::id(),
        if hold_lock == 1 { " and holds a host lock" } else { "" }
    ));
    loop {
        latch::wait_latch(WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1);
        latch::reset_latch();
    }
}

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

/// Sleeps `ms` milliseconds on the latch (other wake-ups are slept through; postmaster death ends the worker).
fn sleep_on_latch(ms: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(ms as u64);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        latch::wait_latch(WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left.as_millis().max(1) as i64);
        latch::reset_latch();
    }
}

fn panicker(_: usize) {
    background_worker_unblock_signals();
    panic!("panicker worker panicked on purpose");
}

fn crasher(ms: usize) {
    background_worker_unblock_signals();
    sleep_on_latch(ms);
    crate::sys::signals::send(std::process::id() as i32, libc::SIGKILL);
}

/// The spec's WaitForBackgroundWorkerShutdown from inside a worker: what a registrant sees when its worker is
/// terminated (BGWH_STOPPED) or when the postmaster dies while it waits (BGWH_POSTMASTER_DIED).
fn shutdown_waiter(_: usize) {
    background_worker_unblock_signals();
    let me = my_spec().map(|s| s.name).unwrap_or_default();
    let mut spec = WorkerSpec::new(&format!("{me} sleeper"), "bgw", "sleeper");
    spec.worker_type = "sleeper".to_string();
    spec.restart = Restart::Never;
    spec.notify_pid = std::process::id() as i32;
    let handle = match dynamic::register_dynamic_background_worker(&spec, check_entry) {
        Ok(Some(h)) => h,
        Ok(None) => return elog::warning(format!("shutdown_waiter \"{me}\": no free background worker slot")),
        Err(e) => return elog::warning(format!("shutdown_waiter \"{me}\": {e}")),
    };
    match dynamic::wait_for_background_worker_startup(handle) {
        Ok(Status::Started(pid)) => elog::log(format!("shutdown_waiter \"{me}\" started its sleeper with PID {pid}")),
        Ok(other) => return elog::warning(format!("shutdown_waiter \"{me}\": not started: {}", other.as_str())),
        Err(e) => return elog::warning(format!("shutdown_waiter \"{me}\": {e}")),
    }
    match dynamic::wait_for_background_worker_shutdown(handle) {
        Ok(status) => elog::log(format!("shutdown_waiter \"{me}\": waiting for shutdown ended: {}", status.as_str())),
        Err(e) => elog::warning(format!("shutdown_waiter \"{me}\": {e}")),
    }
    idle_forever();
}

fn spawner(count: usize) {
    background_worker_unblock_signals();
    let me = my_spec().map(|s| s.name).unwrap_or_default();
    for i in 0..count {
        let mut spec = WorkerSpec::new(&format!("{me} sleeper {}", i + 1), "bgw", "sleeper");
        spec.worker_type = "sleeper".to_string();
        spec.restart = Restart::Never;
        spec.notify_pid = std::process::id() as i32;
        match dynamic::register_dynamic_background_worker(&spec, check_entry) {
            Ok(Some(handle)) => match dynamic::wait_for_background_worker_startup(handle) {
                Ok(Status::Started(pid)) => {
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

/// Takes the background workers' lock and keeps it until the process dies (SIGTERM exits with code 1, still
/// holding it; the next locker recovers the lock).
fn lock_holder(_: usize) {
    background_worker_unblock_signals();
    match crate::shmem::attached() {
        Some(shm) => {
            shm.slots().leak_lock();
            elog::log(format!("lock_holder (PID {}) holds the background worker lock", std::process::id()));
        }
        None => elog::warning("lock_holder: no shared memory"),
    }
    idle_forever();
}

/// A registration no registrant could have written, one of four kinds: strings without terminators, absurd
/// flags, start phases, restart times and notification pids.
fn garbage(kind: u32) -> crate::bgworker::types::BackgroundWorker {
    use crate::bgworker::types::*;
    let mut w = BackgroundWorker::zeroed();
    let put = |field: &mut [u8], text: &[u8]| field[..text.len()].copy_from_slice(text);
    match kind % 4 {
        0 => {
            w.bgw_name = [0xfe; BGW_MAXLEN];
            w.bgw_type = [b'x'; BGW_MAXLEN];
            w.bgw_flags = -1;
            w.bgw_start_time = 1234;
            w.bgw_restart_time = -99;
            w.bgw_library_name = [0x80; MAXPGPATH];
            w.bgw_function_name = [b'f'; BGW_MAXLEN];
            w.bgw_main_arg = usize::MAX;
            w.bgw_extra = [0xff; BGW_EXTRALEN];
            w.bgw_notify_pid = 1;
        }
        1 => {
            w.bgw_name = [b'n'; BGW_MAXLEN];
            w.bgw_flags = BGWORKER_SHMEM_ACCESS;
            w.bgw_start_time = 2;
            w.bgw_restart_time = 5;
            put(&mut w.bgw_library_name, b"bgw");
            put(&mut w.bgw_function_name, b"sleeper");
            w.bgw_notify_pid = -1;
        }
        2 => {
            put(&mut w.bgw_name, b"scribbled parallel");
            w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_CLASS_PARALLEL;
            w.bgw_start_time = i32::MIN;
            w.bgw_restart_time = 1;
            put(&mut w.bgw_library_name, b"bgw");
            put(&mut w.bgw_function_name, b"sleeper");
            w.bgw_notify_pid = i32::MAX;
        }
        _ => {
            put(&mut w.bgw_name, b"scribbled");
            w.bgw_flags = BGWORKER_BACKEND_DATABASE_CONNECTION | 0x4000;
            w.bgw_start_time = 2;
            w.bgw_restart_time = i32::MAX;
            w.bgw_library_name = [b'/'; MAXPGPATH];
            put(&mut w.bgw_function_name, b"sleeper");
            w.bgw_notify_pid = i32::MIN;
        }
    }
    w
}

/// Scribbles over the slot array as a rogue child might, wakes the postmaster, and waits to be killed.
/// Mode 0: every slot gets a garbage registration and an absurd pid and generation (the last two slots, if free,
/// also a terminate flag), the parallel counters absurd values, every change and free-slot bit is set, every
/// watcher list holds pids that are not the postmaster's children, every postmaster signal flag is set. Mode 1:
/// the slot count in the header is wrong.
fn scribbler(mode: usize) {
    background_worker_unblock_signals();
    let Some(shm) = crate::shmem::attached() else {
        elog::warning("scribbler: no shared memory");
        return;
    };
    let slots = shm.slots();
    let n = slots.len() as u32;
    if mode == 1 {
        let (registered, terminated) = slots.header().parallel_counts();
        slots.scribble_header(n + 7, registered, terminated);
        elog::log(format!("scribbler: set the slot count to {}", n + 7));
    } else {
        let pids = [1, -1, i32::MAX, 0, i32::MIN];
        for i in 0..n {
            let free = slots.read_slot(i).is_none();
            let pid = pids[i as usize % pids.len()];
            let junk = crate::bgworker::types::SlotRegistration {
                worker: garbage(i),
                options: crate::bgworker::options::RawRunOptions {
                    backoff_initial_ms: u32::MAX - i,
                    backoff_factor_milli: u32::MAX,
                    give_up_window_ms: i,
                    ..Default::default()
                },
            };
            slots.scribble_slot(i, &junk, pid, u64::MAX - u64::from(i), free && i + 2 >= n);
        }
        // Wrapping counters that say 4 parallel workers are active; after the three parallel-flagged garbage slots
        // the postmaster releases (in an array of 10), they say 1 is, while the view shows 2 (scribbled flags).
        slots.scribble_header(n, u32::MAX, u32::MAX - 4);
        // Watcher lists full of pids that are not the postmaster's children (init, the postmaster itself, none),
        // and every postmaster signal reason at once.
        let postmaster = shm.header().postmaster_pid.load(crate::sync::Ordering::Relaxed);
        for i in 0..n {
            if let Some(w) = shm.watchers(i) {
                for pid in [1, postmaster, i32::MAX, -1, i32::MIN] {
                    let _ = w.add(pid, |_| true);
                }
            }
        }
        shm.header().pm_signal_flags.fetch_or(u32::MAX, crate::sync::Ordering::Release);
        elog::log(format!(
            "scribbler: scribbled over {n} slots, the parallel counters, the bitmaps, the watcher lists and the \
             postmaster's signal flags"
        ));
    }
    shm.signal_postmaster(crate::shmem::pmsignal::BACKGROUND_WORKER_CHANGE);
    idle_forever();
}

/// With every signal still blocked (it never unblocks them, so a crash cycle's SIGQUIT waits), sleeps `ms`, then
/// asks for the termination of the worker named by its extra data (`slot:generation`) and exits 0.
fn late_terminator(ms: usize) {
    std::thread::sleep(std::time::Duration::from_millis(ms as u64));
    let extra = my_spec().map(|s| s.extra).unwrap_or_default();
    let text = String::from_utf8_lossy(&extra[..extra.iter().position(|&b| b == 0).unwrap_or(extra.len())]).to_string();
    match text.parse::<Handle>().ok() {
        Some(h) => match dynamic::terminate_background_worker(h) {
            Ok(()) => elog::log(format!("late_terminator: asked for the termination of {text}")),
            Err(e) => elog::warning(format!("late_terminator: {e}")),
        },
        None => elog::warning(format!("late_terminator: \"{text}\" is not a handle")),
    }
}
