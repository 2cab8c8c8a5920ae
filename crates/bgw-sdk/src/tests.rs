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
    let _preload = fake_host::PRELOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
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
    // Beyond the spec: readiness, grace, reset, exit reasons.
    assert_eq!(h(9, 1).wait_for_ready(Some(std::time::Duration::from_millis(5))), Ok(Status::Started(2009)));
    h(32, 1).terminate_with_grace(std::time::Duration::from_secs(1)).unwrap();
    assert!(fake_host::TERMINATED.lock().unwrap().contains(&32));
    assert_eq!(h(9, 1).reset(), Ok(true));
    let info = h(9, 1).exit_reason().unwrap().unwrap();
    assert_eq!((info.reason, info.starts, info.ended_at.is_some()), (crate::ExitReason::Code(1), 1, true));
}

#[test]
fn handles_can_be_awaited() {
    let (status, wakes) = block_on(Handle { slot: 3, generation: 1 }.startup());
    assert_eq!(status, Ok(Status::Started(1003)));
    assert!(wakes >= 1, "the helper thread woke the task");
    let (status, _) = block_on(Handle { slot: 3, generation: 1 }.shutdown());
    assert_eq!(status, Ok(Status::Stopped));
    let (status, _) = block_on(Handle { slot: 6, generation: 1 }.ready());
    assert_eq!(status, Ok(Status::Started(2006)));
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

// ----- parameters -----

#[test]
fn parameters_are_defined_with_host_owned_storage() {
    use crate::params::*;
    let n = IntParam::define("t_params.naptime", "Nap.", 10, 1..=3600, Unit::S, Context::Reload).unwrap();
    assert_eq!(n.get(), 10);
    let d = fake_host::param("t_params.naptime").unwrap();
    assert_eq!((d.desc.as_str(), d.context, d.flags, d.bounds.as_str()), ("Nap.", 2, 0x20000, "1..=3600"));
    fake_host::store("t_params.naptime", "42");
    assert_eq!(n.get(), 42, "the host's store is seen");

    let b = BoolParam::define("t_params.verbose", "Say more.", true, Context::Restart).unwrap();
    assert!(b.get());
    assert_eq!(fake_host::param("t_params.verbose").unwrap().context, 1);
    fake_host::store("t_params.verbose", "off");
    assert!(!b.get());

    let r = RealParam::define("t_params.ratio", "A fraction.", 0.5, 0.0..=1.0, Context::Reload).unwrap();
    assert_eq!(r.get(), 0.5);
    fake_host::store("t_params.ratio", "0.25");
    assert_eq!(r.get(), 0.25);

    let s = StringParam::define("t_params.database", "Where.", "postgres", Context::Restart).unwrap();
    assert_eq!(s.get(), "postgres");
    fake_host::store("t_params.database", "other db");
    assert_eq!(s.get(), "other db");

    let e = EnumParam::define("t_params.mode", "How.", 1, &[("slow", 0), ("fast", 1)], Context::Reload).unwrap();
    assert_eq!((e.get(), e.get_name()), (1, Some("fast")));
    assert_eq!(fake_host::param("t_params.mode").unwrap().options, vec![("slow".into(), 0), ("fast".into(), 1)]);
    fake_host::store("t_params.mode", "0");
    assert_eq!(e.get_name(), Some("slow"));
    assert_eq!(e.name(), "t_params.mode");

    reserve_prefix("t_params").unwrap();
    assert!(fake_host::RESERVED.lock().unwrap().contains(&"t_params".to_string()));
}

#[test]
fn bad_parameters_are_refused_before_the_host_is_called() {
    use crate::params::*;
    let int = |name: &str, default, range| IntParam::define(name, "d", default, range, Unit::None, Context::Reload);
    assert!(matches!(int("unqualified", 1, 0..=2), Err(Error::InvalidName { .. })));
    assert!(matches!(int("t_bad.x y", 1, 0..=2), Err(Error::InvalidName { .. })));
    assert!(matches!(int("t_bad.x", 5, 0..=2), Err(Error::InvalidParam { .. })));
    #[allow(clippy::reversed_empty_ranges)]
    let empty = int("t_bad.x", 1, 3..=2);
    assert!(matches!(empty, Err(Error::InvalidParam { .. })));
    assert!(matches!(
        RealParam::define("t_bad.r", "d", f64::NAN, 0.0..=1.0, Context::Reload),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(StringParam::define("t_bad.s", "d", "a\0b", Context::Reload), Err(Error::InvalidParam { .. })));
    for options in [&[][..], &[("", 0)], &[("a", 0), ("A", 1)], &[("a", 1)]] {
        assert!(
            matches!(EnumParam::define("t_bad.e", "d", 0, options, Context::Reload), Err(Error::InvalidParam { .. })),
            "{options:?}"
        );
    }
    assert!(matches!(reserve_prefix("t bad"), Err(Error::InvalidName { .. })));
    for name in ["t_bad.x", "t_bad.r", "t_bad.s", "t_bad.e", "unqualified"] {
        assert!(fake_host::param(name).is_none(), "{name} reached the host");
    }
    // Twice in one process: refused by the SDK (the host's refusal would be an ERROR).
    int("t_bad.twice", 1, 0..=2).unwrap();
    assert_eq!(int("T_BAD.twice", 1, 0..=2).unwrap_err().to_string(), "parameter \"T_BAD.twice\" is already defined");
}

// ----- shared memory -----

crate::shared_struct! {
    /// A test area.
    pub struct TestShared {
        pub counter: std::sync::atomic::AtomicU64,
        pub flags: [std::sync::atomic::AtomicBool; 3],
    }
}

#[test]
fn shared_memory_is_requested_while_preloading_and_attached_after() {
    use std::sync::atomic::AtomicU64;
    let _preload = fake_host::PRELOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    fake_host::set_preloading(true);
    let before = *fake_host::SHMEM_REQUESTED.lock().unwrap();
    shmem::request_for::<TestShared>().unwrap();
    assert_eq!(*fake_host::SHMEM_REQUESTED.lock().unwrap() - before, std::mem::size_of::<TestShared>());
    assert_eq!(shmem::init_struct::<AtomicU64>("t area").unwrap_err(), Error::NoShmemAccess);

    fake_host::set_preloading(false);
    assert_eq!(shmem::request(8), Err(Error::ShmemNotPreloading));
    let (a, found) = shmem::init_struct::<TestShared>("t area").unwrap();
    assert!(!found);
    assert_eq!(a.counter.load(Ordering::SeqCst), 0, "zeroed");
    a.counter.fetch_add(5, Ordering::SeqCst);
    let (b, found) = shmem::init_struct::<TestShared>("t area").unwrap();
    assert!(found);
    assert_eq!(b.counter.load(Ordering::SeqCst), 5);
    assert!(std::ptr::eq(a, b));
    assert!(matches!(shmem::init_struct::<AtomicU64>(""), Err(Error::InvalidName { .. })));
    assert!(matches!(shmem::init_struct::<AtomicU64>("a\0b"), Err(Error::InvalidName { .. })));
    fake_host::set_preloading(true);
}

// ----- SQL functions -----

use crate::sql::{FunctionFlags, ResultType, SqlError, SqlValue};
use std::ffi::CString;

fn t_divide(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    match (args[0].as_i64(), args[1].as_i64()) {
        (Some(_), Some(0)) => Err(SqlError::new("22012", "division by zero").with_hint("Divide by something else.")),
        (Some(a), Some(b)) => Ok(SqlValue::Int(a / b)),
        _ => Ok(SqlValue::Null),
    }
}

fn t_echo(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    Ok(match &args[0] {
        SqlValue::Text(t) => SqlValue::Text(format!("echo: {t}")),
        SqlValue::Real(r) => SqlValue::Text(format!("real {r}")),
        SqlValue::Bool(b) => SqlValue::Text(format!("bool {b}")),
        other => SqlValue::Text(format!("{other:?}")),
    })
}

fn t_panics(_: &[SqlValue]) -> Result<SqlValue, SqlError> {
    panic!("t_panics on purpose")
}

fn t_errors(args: &[SqlValue]) -> Result<SqlValue, SqlError> {
    if args[0].as_i64() == Some(1) {
        Report::new(Level::Error, "via report").hint("the hint").emit();
    }
    crate::error!("via error! {}", 7)
}

fn t_wrong_type(_: &[SqlValue]) -> Result<SqlValue, SqlError> {
    Ok(SqlValue::Text("not a number".into()))
}

#[test]
fn sql_functions_convert_values_and_report_errors_without_jumping() {
    use crate::ffi::{BGW_SQL_BOOL, BGW_SQL_FLOAT8, BGW_SQL_INT8, BGW_SQL_NULL, BGW_SQL_TEXT};
    use fake_host::{arg, call_sql};
    sql::define_function("t_divide", 2, ResultType::Int, FunctionFlags::SUPERUSER, t_divide).unwrap();
    sql::define_function("t_echo", 1, ResultType::Text, FunctionFlags::empty(), t_echo).unwrap();
    sql::define_function("t_panics", 0, ResultType::Int, FunctionFlags::empty(), t_panics).unwrap();
    sql::define_function("t_errors", 1, ResultType::Int, FunctionFlags::empty(), t_errors).unwrap();
    sql::define_function("t_wrong_type", 0, ResultType::Real, FunctionFlags::empty(), t_wrong_type).unwrap();
    sql::define_function("t_closure", 0, ResultType::Real, FunctionFlags::empty(), |_: &[SqlValue]| Ok(3.into()))
        .unwrap();
    let defs = fake_host::SQL_FUNCTIONS.lock().unwrap().clone();
    let d = defs.iter().find(|d| d.0 == "t_divide").unwrap();
    assert_eq!((d.1, d.2, d.3), (2, BGW_SQL_INT8, 1));

    let int = |i| arg(BGW_SQL_INT8, i, i as f64, None);
    assert_eq!(call_sql("t_divide", &[int(7), int(2)]), Ok((BGW_SQL_INT8, 3, 0.0, None)));
    assert_eq!(call_sql("t_divide", &[int(7), arg(BGW_SQL_NULL, 0, 0.0, None)]).unwrap().0, BGW_SQL_NULL);
    assert_eq!(
        call_sql("t_divide", &[int(7), int(0)]),
        Err(("22012".into(), "division by zero".into(), Some("Divide by something else.".into())))
    );
    let hello = CString::new("hello").unwrap();
    assert_eq!(
        call_sql("t_echo", &[arg(BGW_SQL_TEXT, 0, 0.0, Some(&hello))]),
        Ok((BGW_SQL_TEXT, 0, 0.0, Some("echo: hello".into())))
    );
    assert_eq!(call_sql("t_echo", &[arg(BGW_SQL_FLOAT8, 2, 2.5, None)]).unwrap().3.unwrap(), "real 2.5");
    assert_eq!(call_sql("t_echo", &[arg(BGW_SQL_BOOL, 1, 0.0, None)]).unwrap().3.unwrap(), "bool true");
    assert_eq!(call_sql("t_closure", &[]), Ok((BGW_SQL_FLOAT8, 0, 3.0, None)));

    // A panic fails the statement (XX000) and is logged with its location; no Rust report, no unwinding out.
    let (state, message, _) = call_sql("t_panics", &[]).unwrap_err();
    assert_eq!((state.as_str(), message.as_str()), ("XX000", "t_panics on purpose"));
    let logged = fake_host::LOGGED.lock().unwrap().clone();
    assert!(
        logged.iter().any(|(l, m, d, _)| *l == 19
            && m == "SQL function t_panics panicked"
            && d.as_deref().is_some_and(|d| d.contains("src/tests.rs:") && d.ends_with("t_panics on purpose"))),
        "{logged:?}"
    );
    // The SDK's ERROR logging inside a SQL function fails the statement instead of reaching the host.
    assert_eq!(call_sql("t_errors", &[int(0)]), Err(("XX000".into(), "via error! 7".into(), None)));
    assert_eq!(call_sql("t_errors", &[int(1)]), Err(("XX000".into(), "via report".into(), Some("the hint".into()))));
    assert!(!fake_host::LOGGED.lock().unwrap().iter().any(|(l, _, _, _)| *l >= 21), "an ERROR reached the host");
    assert!(!sql::in_sql_function());
    // A result of the wrong type.
    let (state, message, _) = call_sql("t_wrong_type", &[]).unwrap_err();
    assert_eq!(state, "42804");
    assert_eq!(message, "function t_wrong_type returned text but is declared to return double precision");

    // Refused before the host is called.
    assert!(sql::define_function("bad name", 0, ResultType::Int, FunctionFlags::empty(), t_divide).is_err());
    assert!(sql::define_function("t_many", 33, ResultType::Int, FunctionFlags::empty(), t_divide).is_err());
    assert!(!fake_host::SQL_FUNCTIONS.lock().unwrap().iter().any(|d| d.0 == "bad name" || d.0 == "t_many"));
}

#[test]
fn spi_connects_runs_statements_and_transactions() {
    use crate::spi::{self, Spi, SpiError, Status};
    // Before any connection the host refuses SPI_connect.
    let e = Spi::connect().unwrap_err();
    assert_eq!(e, SpiError { code: spi::SPI_ERROR_CONNECT, message: "no database connection".into() });
    spi::connect(Some("postgres"), None, ConnectionFlags::BYPASS_ALLOWCONN);
    spi::connect_by_oid(Some(5), None, ConnectionFlags::BYPASS_ALLOWCONN | ConnectionFlags::BYPASS_ROLELOGINCHECK);
    let mut s = Spi::connect().unwrap();
    let r = s.execute_read_only("SELECT a, b FROM t WHERE a = $1", &[Some("7")]).unwrap();
    assert_eq!(r.status, Status::Select);
    assert_eq!(r.processed, 2);
    assert_eq!(r.columns, vec!["a", "b"]);
    assert_eq!(r.rows, vec![vec![Some("1".to_string()), None], vec![Some("7".to_string()), Some("x".to_string())]]);
    assert_eq!(r.value(1, 1), Some("x"));
    assert_eq!(r.value(0, 1), None);
    // Typed reads of the same result.
    assert_eq!(r.row(1).unwrap().get::<i64>("a"), Ok(7));
    assert_eq!(r.row(0).unwrap().get::<Option<String>>("b"), Ok(None));
    assert_eq!(r.scalar::<i32>(), Ok(1));
    assert!(matches!(r.row(0).unwrap().get::<String>(1), Err(spi::ValueError::Null { .. })));
    assert_eq!(r.iter().map(|row| row.get::<i64>(0).unwrap()).sum::<i64>(), 8);
    let r = s.query("SELECT $1", &[&-5i64, &None::<i32>, &true, &"x"]).unwrap();
    assert_eq!(r.row(1).unwrap().get::<i64>(0), Ok(-5));
    let n = s.transaction(|s| s.execute("INSERT INTO t VALUES ($1, $2)", &[None, Some("b")]).map(|r| r.processed));
    assert_eq!(n, Ok(3));
    let e = s.transaction(|s| s.execute("FAIL", &[])).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (spi::BGW_SPI_ERROR_STATEMENT, "boom"));
    assert_eq!(s.execute("bad\0sql", &[]).unwrap_err().code, spi::SPI_ERROR_ARGUMENT);
    s.notify("jobs", "done").unwrap();
    assert_eq!(s.notify("jobs", "bad\0").unwrap_err().code, spi::SPI_ERROR_ARGUMENT);
    drop(s);
    assert_eq!(
        fake_host::SPI_CALLS.lock().unwrap().clone(),
        vec![
            "connect postgres NULL 1",
            "connect 5 0 3",
            "spi_connect",
            "execute SELECT a, b FROM t WHERE a = $1 [\"7\"] ro",
            "execute SELECT $1 [\"-5\", \"NULL\", \"t\", \"x\"] rw",
            "start",
            "execute INSERT INTO t VALUES ($1, $2) [\"NULL\", \"b\"] rw",
            "commit",
            "start",
            "execute FAIL [] rw",
            "abort",
            "notify jobs done",
            "finish",
        ]
    );
}

#[test]
fn a_typed_argument_goes_to_the_host_encoded_and_an_oversize_one_never_does() {
    let payload: Vec<u64> = (0..500).collect();
    let h = BackgroundWorkerBuilder::new("with arg")
        .library("m")
        .function("f")
        .main_arg(3)
        .arg(&payload)
        .register_dynamic()
        .unwrap()
        .unwrap();
    assert_eq!(h.to_string(), "3:7");
    let sent = fake_host::ARGS.lock().unwrap().iter().find(|(n, _)| n == "with arg").cloned().unwrap();
    assert_eq!(postcard::from_bytes::<Vec<u64>>(&sent.1).unwrap(), payload);
    let e = BackgroundWorkerBuilder::new("too big")
        .library("m")
        .function("f")
        .arg(&"z".repeat(9000))
        .register_dynamic()
        .unwrap_err();
    assert_eq!(e.to_string(), "background worker argument is too large (9002 bytes encoded; at most 8192)");
    assert!(!fake_host::ARGS.lock().unwrap().iter().any(|(n, _)| n == "too big"));
    assert!(!fake_host::REGISTERED.lock().unwrap().iter().any(|w| w.bgw_name.starts_with(b"too big")));
    let e = BackgroundWorkerBuilder::new("no shmem").library("m").function("f").flags(Flags::empty()).arg(&1u8);
    assert_eq!(e.register_dynamic(), Err(Error::ArgWithoutShmem));
    // Outside a worker there is no argument to read.
    assert_eq!(crate::arg::<u32>(), Err(crate::ArgError::NotAWorker));
}
