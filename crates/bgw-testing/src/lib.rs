//! The host's built-in test workers as a loadable Rust module, written with `bgw-sdk`.
//!
//! Purpose: the same workers as the host's internal library (`crates/bgw/src/worker/builtin.rs`), but reached
//! the way third-party code is: the host `dlopen`s this library, finds each entry point by name and runs it, and
//! every call back into the host goes through the C ABI. The integration tests in `tests/` drive it.
//!
//! | function       | main argument | what it does                                                               |
//! |----------------|---------------|----------------------------------------------------------------------------|
//! | `noop`         | —             | returns at once (exit 0: unregistered)                                     |
//! | `exit_with`    | exit code     | logs, then exits with that code (1: restarted; ≥ 2: a crash)               |
//! | `sleeper`      | —             | waits on its latch; SIGHUP reloads; SIGTERM ends it (FATAL, exit 1)         |
//! | `crasher`      | milliseconds  | kills itself with SIGKILL after that long (a crash)                        |
//! | `spawner`      | count         | registers that many `sleeper`s of this library, waits for each, logs pids  |
//! | `ticker`       | milliseconds  | logs a tick every that many ms; logs config reloads; SIGTERM ends it       |
//! | `panicker`     | —             | panics (the SDK makes it an ERROR, exit 1)                                 |
//! | `async_waiter` | —             | registers a sleeper, awaits its start-up, terminates it, awaits its exit   |
//! | `bad_name`     | —             | tries to register a worker with a 200-byte name and logs the SDK's error   |
//! | `notifier`     | —             | connects to `postgres`, sends NOTIFYs on channel `sdk` (see the function)  |
//! | `binder`       | —             | registers a `sleeper` bound to itself (waiting up to 10 s for a slot), logs its pid, sleeps |
//!
//! `_PG_init` (run when the module is in `shared_preload_libraries`) registers a static `ticker` named
//! "rust ticker" (every 200 ms, restart after 5 s). It registers under the library name `bgw_testing`: install the
//! built `libbgw_testing.so` as `bgw_testing.so` (or `bgw_testing`) in a directory of `dynamic_library_path`.
//! Setting the environment variable `BGW_TESTING_FAIL_INIT` makes `_PG_init` panic (to test that path).
//!
//! SIGTERM: `sleeper`, `spawner` and `ticker` install the SDK's [`Signals`] (PostgreSQL's flag-setting handlers)
//! and, when the flag is set, end themselves exactly as the host's default handler would: a FATAL "terminating
//! background worker \"type\" due to administrator command" and exit code 1. The other workers keep the host's
//! default handler, which does the same from the signal handler.
//!
//! Runs in: `_PG_init` in the postmaster (during preload); everything else in worker processes.

use bgw_sdk::{BackgroundWorkerBuilder, Handle, MainArg, Restart, Signals, Status, WaitEvents};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The library name this module registers its own workers under when it does not know better.
pub const LIBRARY: &str = "bgw_testing";

bgw_sdk::module_init!(init);

fn init() -> Result<(), bgw_sdk::Error> {
    if std::env::var_os("BGW_TESTING_FAIL_INIT").is_some() {
        panic!("bgw_testing was asked to fail in _PG_init");
    }
    // _PG_init also runs where the module is loaded later (a worker, a backend): only preloading registers.
    if !bgw_sdk::preloading() {
        return Ok(());
    }
    // A secret only superusers may examine (PostgreSQL's GUC_SUPERUSER_ONLY).
    bgw_sdk::params::StringParam::define_secret(
        "bgw_testing.api_key",
        "A secret for the tests",
        "",
        bgw_sdk::params::Context::Reload,
    )?;
    BackgroundWorkerBuilder::new("rust ticker")
        .worker_type("rust ticker")
        .library(LIBRARY)
        .function("ticker")
        .main_arg(200)
        .restart(Restart::After(Duration::from_secs(5)))
        .register_static()
}

bgw_sdk::worker_main!(
    noop,
    exit_with,
    sleeper,
    crasher,
    spawner,
    ticker,
    panicker,
    async_waiter,
    bad_name,
    notifier,
    ready_sleeper,
    supervisor,
    binder
);

/// The running worker's name, type and library (library: this module's, as the host loaded it).
fn me() -> (String, String, String) {
    match bgw_sdk::my_registration() {
        Some(r) => (r.name, r.worker_type, r.library),
        None => (String::new(), String::new(), LIBRARY.to_string()),
    }
}

/// Ends the worker as the host's default SIGTERM handler does.
fn die(worker_type: &str) -> ! {
    bgw_sdk::fatal!("terminating background worker \"{worker_type}\" due to administrator command")
}

/// Waits on the latch until SIGTERM (which ends the worker), reloading configuration on SIGHUP.
fn idle_until_terminated(worker_type: &str) -> ! {
    loop {
        bgw_sdk::wait_latch(WaitEvents::LATCH_SET, None);
        bgw_sdk::reset_latch();
        if Signals::sigterm_received() {
            die(worker_type);
        }
        if Signals::sighup_received() {
            bgw_sdk::reload_config();
        }
    }
}

fn noop(_: MainArg) {
    bgw_sdk::unblock_signals();
}

fn exit_with(arg: MainArg) {
    bgw_sdk::unblock_signals();
    let (name, _, _) = me();
    bgw_sdk::debug1!("exit_with \"{name}\": exiting with code {}", arg.as_i32());
    bgw_sdk::exit(arg.as_i32());
}

fn sleeper(arg: MainArg) {
    Signals::install();
    let me = bgw_sdk::my_registration().expect("a worker has a registration");
    bgw_sdk::debug1!(
        "sleeper \"{}\" started: main argument {}, extra \"{}\"",
        me.name,
        arg.value(),
        String::from_utf8_lossy(me.extra_until_nul())
    );
    idle_until_terminated(&me.worker_type);
}

fn crasher(ms: MainArg) {
    bgw_sdk::unblock_signals();
    let deadline = Instant::now() + Duration::from_millis(ms.as_u64());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(left));
        bgw_sdk::reset_latch();
    }
    let (name, _, _) = me();
    bgw_sdk::log!("crasher \"{name}\": killing myself");
    // SAFETY: kill(2) with our own pid and a valid signal number. SIGKILL cannot be caught: the postmaster sees
    // a death by signal, a crash.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    bgw_sdk::error!("crasher \"{name}\": could not kill itself");
}

/// Registers a never-restart `sleeper` of this library that notifies this worker.
fn register_sleeper(name: String, library: &str) -> Result<Option<Handle>, bgw_sdk::Error> {
    BackgroundWorkerBuilder::new(name)
        .worker_type("sleeper")
        .library(library)
        .function("sleeper")
        .restart(Restart::Never)
        .notify_self()
        .register_dynamic()
}

fn spawner(count: MainArg) {
    Signals::install();
    let (me, worker_type, library) = me();
    for i in 1..=count.value() {
        match register_sleeper(format!("{me} sleeper {i}"), &library) {
            Ok(Some(handle)) => match handle.wait_for_startup() {
                Ok(Status::Started(pid)) => bgw_sdk::log!("spawner \"{me}\" started worker {i} with PID {pid}"),
                Ok(other) => bgw_sdk::warning!("spawner \"{me}\": worker {i} did not start: {}", other.as_str()),
                Err(e) => bgw_sdk::warning!("spawner \"{me}\": {e}"),
            },
            Ok(None) => bgw_sdk::warning!("spawner \"{me}\": no free background worker slot for worker {i}"),
            Err(e) => bgw_sdk::warning!("spawner \"{me}\": {e}"),
        }
    }
    idle_until_terminated(&worker_type);
}

fn ticker(ms: MainArg) {
    Signals::install();
    let (me, worker_type, _) = me();
    let period = Duration::from_millis(ms.as_u64().max(1));
    let mut tick: u64 = 0;
    let mut next = Instant::now() + period;
    loop {
        let left = next.saturating_duration_since(Instant::now());
        bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(left));
        bgw_sdk::reset_latch();
        if Signals::sigterm_received() {
            die(&worker_type);
        }
        if Signals::sighup_received() {
            bgw_sdk::reload_config();
            bgw_sdk::log!("ticker \"{me}\": configuration reloaded");
        }
        if Instant::now() >= next {
            tick += 1;
            bgw_sdk::log!("ticker \"{me}\": tick {tick}");
            next += period;
        }
    }
}

fn panicker(_: MainArg) {
    bgw_sdk::unblock_signals();
    panic!("panicker worker panicked on purpose");
}

/// A minimal executor: polls the future on this thread, parking between polls; the waker unparks.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unparker(std::thread::Thread);
    impl Wake for Unparker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            // A spurious unpark only costs another poll.
            Poll::Pending => std::thread::park(),
        }
    }
}

fn async_waiter(_: MainArg) -> Result<(), String> {
    bgw_sdk::unblock_signals();
    let (me, _, library) = me();
    let handle = register_sleeper(format!("{me} child"), &library)
        .map_err(|e| format!("async_waiter \"{me}\": {e}"))?
        .ok_or_else(|| format!("async_waiter \"{me}\": no free background worker slot"))?;
    let pid = match block_on(handle.startup()) {
        Ok(Status::Started(pid)) => pid,
        other => return Err(format!("async_waiter \"{me}\": the sleeper did not start: {other:?}")),
    };
    bgw_sdk::log!("async_waiter \"{me}\": sleeper {handle} started with PID {pid}");
    handle.terminate().map_err(|e| e.to_string())?;
    match block_on(handle.shutdown()) {
        Ok(Status::Stopped) => bgw_sdk::log!("async_waiter \"{me}\": sleeper with PID {pid} stopped"),
        other => return Err(format!("async_waiter \"{me}\": the sleeper did not stop: {other:?}")),
    }
    Ok(())
}

/// Reports ready after 100 ms (`bgw_sdk::ready`), then sleeps until terminated.
fn ready_sleeper(_: MainArg) {
    Signals::install();
    let (_, worker_type, _) = me();
    bgw_sdk::wait_latch(WaitEvents::LATCH_SET, Some(Duration::from_millis(100)));
    bgw_sdk::reset_latch();
    bgw_sdk::ready();
    idle_until_terminated(&worker_type);
}

/// The SDK's calls beyond PostgreSQL: registers a `ready_sleeper`, waits for it to be ready (a short wait first,
/// which times out), terminates it with a grace period and reads its exit reason, logging each answer.
fn supervisor(_: MainArg) -> Result<(), String> {
    bgw_sdk::unblock_signals();
    let (me, _, library) = me();
    let handle = BackgroundWorkerBuilder::new(format!("{me} child"))
        .worker_type("ready_sleeper")
        .library(library)
        .function("ready_sleeper")
        .restart(Restart::Never)
        .notify_self()
        .register_dynamic()
        .map_err(|e| e.to_string())?
        .ok_or("no free background worker slot")?;
    let early = handle.wait_for_ready(Some(Duration::from_millis(10))).map_err(|e| e.to_string())?;
    bgw_sdk::log!("supervisor \"{me}\": early wait {}", early.as_str());
    // Awaited, as from an async runtime (the future needs none).
    let ready = block_on(handle.ready()).map_err(|e| e.to_string())?;
    bgw_sdk::log!("supervisor \"{me}\": {ready:?}");
    handle.terminate_with_grace(Duration::from_secs(2)).map_err(|e| e.to_string())?;
    handle.wait_for_shutdown().map_err(|e| e.to_string())?;
    let info = handle.exit_reason().map_err(|e| e.to_string())?.ok_or("no exit record")?;
    bgw_sdk::log!(
        "supervisor \"{me}\": exit {:?}, started {} time(s), ended {}",
        info.reason,
        info.starts,
        info.ended_at.is_some()
    );
    Ok(())
}

/// Registers a `sleeper` bound to this worker (`bind_to_registrant`), waiting up to 10 s for a free slot
/// (`register_dynamic_wait_async`, awaited), logs the child's pid once it runs, then sleeps until terminated: the host then
/// terminates the child too.
fn binder(_: MainArg) -> Result<(), String> {
    Signals::install();
    bgw_sdk::unblock_signals();
    let (me, worker_type, library) = me();
    let handle = BackgroundWorkerBuilder::new(format!("{me} child"))
        .worker_type("bound_sleeper")
        .library(library)
        .function("sleeper")
        .restart(Restart::Never)
        .notify_self()
        .bind_to_registrant();
    // Awaited (the SDK's future for a waiting registration), as from an async runtime.
    let handle = block_on(handle.register_dynamic_wait_async(Some(Duration::from_secs(10))))
        .map_err(|e| e.to_string())?
        .ok_or("no free background worker slot within 10 s")?;
    match handle.wait_for_startup().map_err(|e| e.to_string())? {
        Status::Started(pid) => bgw_sdk::log!("binder \"{me}\": child started with pid {pid}"),
        other => return Err(format!("the child did not start: {other:?}")),
    }
    idle_until_terminated(&worker_type)
}

fn bad_name(_: MainArg) {
    bgw_sdk::unblock_signals();
    let (me, _, library) = me();
    match BackgroundWorkerBuilder::new("n".repeat(200)).library(library).function("noop").register_dynamic() {
        Ok(_) => bgw_sdk::error!("bad_name \"{me}\": a 200-byte name was accepted"),
        Err(e) => bgw_sdk::log!("bad_name \"{me}\": registration refused: {e}"),
    }
}

/// Needs the database flag. Notifies channel `sdk` with "committed" in a transaction that commits, "rolled back"
/// in one that rolls back, and "on its own" outside a transaction; then logs SPI's answer to LISTEN.
fn notifier(_: MainArg) -> Result<(), String> {
    use bgw_sdk::spi::{self, Spi};
    bgw_sdk::unblock_signals();
    let (me, _, _) = me();
    spi::connect(Some("postgres"), None, bgw_sdk::ConnectionFlags::empty());
    let mut s = Spi::connect().map_err(|e| e.to_string())?;
    s.transaction(|s| s.notify("sdk", "committed")).map_err(|e| e.to_string())?;
    let rolled_back = s.transaction(|s| {
        s.notify("sdk", "rolled back").map_err(|e| e.to_string())?;
        Err::<(), _>("rolling back".to_string())
    });
    assert!(rolled_back.is_err());
    s.notify("sdk", "on its own").map_err(|e| e.to_string())?;
    match s.execute("LISTEN sdk", &[]) {
        Ok(_) => bgw_sdk::error!("notifier \"{me}\": LISTEN was accepted"),
        Err(e) => bgw_sdk::log!("notifier \"{me}\": LISTEN refused: {}", e.message),
    }
    Ok(())
}
