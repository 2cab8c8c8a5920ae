//! Unit tests across the FFI boundary, against the stand-in host of `fake_host.rs`: what the SDK hands the host
//! and how it reads the answers, and the code the macros generate.
//!
//! Runs in: the unit-test process. Paths that end the process (ERROR, FATAL, a panicking entry point) are covered
//! by the integration tests of `bgw-testing`, which run the real host.
#![allow(unsafe_code)]

use crate::fake_host;
use crate::*;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn field(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap();
    std::str::from_utf8(&bytes[..end]).unwrap()
}

/// A minimal executor for the tests: poll, park until woken.
fn block_on<F: Future>(f: F) -> (F::Output, usize) {
    struct Unpark(std::thread::Thread, AtomicUsize);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.unpark();
        }
    }
    let unpark = Arc::new(Unpark(std::thread::current(), AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return (v, unpark.1.load(Ordering::SeqCst));
        }
        std::thread::park();
    }
}

#[test]
fn dynamic_registration_hands_the_host_the_c_struct_and_frees_its_handle() {
    let h = BackgroundWorkerBuilder::new("dyn one")
        .worker_type("t")
        .library("lib")
        .function("f")
        .restart(Restart::Never)
        .main_arg(5)
        .extra(b"xy")
        .notify_self()
        .register_dynamic()
        .unwrap()
        .unwrap();
    assert_eq!(h, Handle { slot: 5, generation: 7 });
    let raw = fake_host::registered("dyn one").unwrap();
    assert_eq!(field(&raw.bgw_type), "t");
    assert_eq!(field(&raw.bgw_library_name), "lib");
    assert_eq!(field(&raw.bgw_function_name), "f");
    assert_eq!(raw.bgw_restart_time, -1);
    assert_eq!(raw.bgw_main_arg, 5);
    assert_eq!(&raw.bgw_extra[..3], b"xy\0");
    assert_eq!(raw.bgw_notify_pid, std::process::id() as i32);

    // No free slot.
    assert_eq!(BackgroundWorkerBuilder::new("full").library("l").function("f").register_dynamic(), Ok(None));
    // Refused before the host is called.
    let name = "y".repeat(100);
    assert!(BackgroundWorkerBuilder::new(name.as_str()).library("l").function("f").register_dynamic().is_err());
    assert!(fake_host::registered(&name).is_none());
}

#[test]
fn static_registration() {
    BackgroundWorkerBuilder::new("static one").library("l").function("f").register_static().unwrap();
    assert_eq!(fake_host::registered("static one").unwrap().bgw_notify_pid, 0);
    assert!(BackgroundWorkerBuilder::new("static two").library("l").function("").register_static().is_err());
    assert!(fake_host::registered("static two").is_none());
}

#[test]
fn handle_calls_map_the_hosts_answers() {
    let h = |slot, generation| Handle { slot, generation };
    assert_eq!(h(1, 1).status(), Ok(Status::Started(1001)));
    assert_eq!(h(1, 2).status(), Ok(Status::Stopped));
    assert_eq!(h(1, 3).status(), Ok(Status::NotYetStarted));
    assert_eq!(h(1, 4).status(), Ok(Status::PostmasterDied));
    assert_eq!(h(1, 5).status(), Err(Error::UnknownStatus(99)));
    assert_eq!(h(8, 1).wait_for_startup(), Ok(Status::Started(1008)));
    assert_eq!(h(8, 1).wait_for_shutdown(), Ok(Status::Stopped));
    h(31, 1).terminate().unwrap();
    assert!(fake_host::TERMINATED.lock().unwrap().contains(&31));
    assert!(matches!(h(u32::MAX, 1).status(), Err(Error::InvalidHandle { .. })));
    assert_eq!(worker_type_by_pid(1001).as_deref(), Some("fake type"));
    assert_eq!(worker_type_by_pid(1), None);
}

#[test]
fn handles_can_be_awaited() {
    let (status, wakes) = block_on(Handle { slot: 3, generation: 1 }.startup());
    assert_eq!(status, Ok(Status::Started(1003)));
    assert!(wakes >= 1, "the helper thread woke the task");
    let (status, _) = block_on(Handle { slot: 3, generation: 1 }.shutdown());
    assert_eq!(status, Ok(Status::Stopped));
    // Several at once, each on its own thread.
    let (both, _) = block_on(async {
        let a = Handle { slot: 4, generation: 1 }.startup();
        let b = Handle { slot: 5, generation: 1 }.startup();
        (a.await, b.await)
    });
    assert_eq!(both, (Ok(Status::Started(1004)), Ok(Status::Started(1005))));
}

#[test]
fn latch_waits_pass_events_and_timeouts() {
    let r = wait_latch(WaitEvents::LATCH_SET, Some(Duration::from_millis(1234)));
    assert!(r.timed_out());
    let r = wait_latch(WaitEvents::LATCH_SET | WaitEvents::REPORT_POSTMASTER_DEATH, None);
    assert!(r.latch_set());
    let waits = fake_host::WAITS.lock().unwrap().clone();
    assert!(waits.contains(&(0b10_1001, 1234)), "{waits:?}"); // LATCH_SET | TIMEOUT | EXIT_ON_PM_DEATH
    assert!(waits.contains(&(0b01_0001, -1)), "{waits:?}"); // LATCH_SET | POSTMASTER_DEATH
    assert!(set_latch_of(5));
    assert!(!set_latch_of(0));
    assert!(postmaster_is_alive());
    set_latch();
    reset_latch();
}

#[test]
fn signal_flags_are_read_and_cleared() {
    assert!(Signals::install());
    assert!(!Signals::sighup_received());
    assert!(!Signals::sigterm_received());
    fake_host::raise_sighup_and_sigterm();
    assert!(Signals::sighup_received());
    assert!(!Signals::sighup_received(), "reading clears the reload request");
    assert!(Signals::sigterm_received());
    assert!(Signals::sigterm_received(), "a shutdown request stays");
    reload_config();
    block_signals();
    unblock_signals();
}

#[test]
fn logging_reaches_the_host() {
    crate::log!("hello {} from the unit tests", 42);
    crate::warning!("nul \0 inside");
    crate::debug1!("d1 message");
    crate::info!("info message");
    crate::notice!("notice message");
    Report::new(Level::Warning, "with detail").detail("the detail").hint("the hint").emit();
    let logged = fake_host::LOGGED.lock().unwrap().clone();
    let has = |level, msg: &str| logged.iter().any(|(l, m, _, _)| *l == level && m == msg);
    assert!(has(15, "hello 42 from the unit tests"), "{logged:?}");
    assert!(has(19, "nul \\0 inside"), "{logged:?}");
    assert!(has(14, "d1 message") && has(17, "info message") && has(18, "notice message"), "{logged:?}");
    assert!(logged.contains(&(19, "with detail".into(), Some("the detail".into()), Some("the hint".into()))));
}

#[test]
fn no_registration_outside_a_worker() {
    assert_eq!(my_registration(), None);
}

// ----- the macros -----

static SEEN: AtomicUsize = AtomicUsize::new(0);
static INIT_RAN: AtomicBool = AtomicBool::new(false);

fn macro_same_name(arg: MainArg) {
    SEEN.fetch_add(arg.value(), Ordering::SeqCst);
}

mod elsewhere {
    pub fn takes_usize(arg: usize) -> Result<(), String> {
        super::SEEN.fetch_add(arg * 100, Ordering::SeqCst);
        Ok(())
    }
    use std::sync::atomic::Ordering;
}

crate::worker_main!(macro_same_name, macro_exported = elsewhere::takes_usize);
crate::module_init!(|| INIT_RAN.store(true, Ordering::SeqCst));

/// The generated functions, as the host sees them: C symbols.
mod c {
    unsafe extern "C" {
        pub fn macro_same_name(arg: usize);
        pub fn macro_exported(arg: usize);
        pub fn _PG_init();
    }
}

#[test]
fn macros_export_c_entry_points_that_call_the_rust_functions() {
    // SAFETY: the symbols the macros generated, with their C signatures.
    unsafe {
        c::macro_same_name(3);
        c::macro_exported(2);
        c::_PG_init();
    }
    assert_eq!(SEEN.load(Ordering::SeqCst), 203);
    assert!(INIT_RAN.load(Ordering::SeqCst));
}
