//! Loadable modules: real shared libraries built with `cc` against `include/bgworker.h`, loaded through
//! `shared_preload_libraries` and `dynamic_library_path`, registering and running workers through the C ABI.

use bgw_test_support::*;
use std::path::Path;
use std::process::Command;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A directory with all test modules built.
fn module_dir() -> tempfile::TempDir {
    let dir = module_tempdir();
    build_c_module(&repo_root().join("modules/c_hello/c_hello.c"), dir.path(), "c_hello");
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules");
    build_c_module(&tests.join("c_broken.c"), dir.path(), "c_broken");
    build_c_module(&tests.join("c_unresolved.c"), dir.path(), "c_unresolved");
    build_c_module(&tests.join("c_greedy.c"), dir.path(), "c_greedy");
    dir
}

fn with_modules(dir: &Path) -> Setup {
    Setup::new(BGW).library_path(dir)
}

#[test]
fn a_c_module_imports_the_host_instead_of_linking_it() {
    let dir = module_dir();
    let out = Command::new("nm").args(["-D", "--undefined-only"]).arg(dir.path().join("c_hello.so")).output();
    let Ok(out) = out else { return };
    let syms = stdout(&out);
    for s in ["RegisterBackgroundWorker", "RegisterDynamicBackgroundWorker", "WaitLatch", "MyBgworkerEntry"] {
        assert!(syms.contains(s), "{s} is not imported: {syms}");
    }
    // And the host exports them.
    let out = Command::new("nm").args(["-D", "--defined-only", BGW]).output().unwrap();
    let host = stdout(&out);
    for s in ["RegisterBackgroundWorker", "WaitForBackgroundWorkerShutdown", "MyBgworkerEntry", "pqsignal"] {
        assert!(host.contains(s), "the bgw executable does not export {s}");
    }
}

#[test]
fn preloaded_c_module_registers_and_runs_a_static_worker() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()).conf("shared_preload_libraries", "'c_hello'"));
    h.wait_log("c_hello static started with naptime 200 ms");
    h.wait_log("c_hello static: tick 1");
    let row = h.wait_sql("SELECT library, function, type, pid FROM bgw_workers WHERE name = 'c_hello static'", |o| {
        o.split('|').nth(3).is_some_and(|p| !p.is_empty())
    });
    let pid: i32 = row.split('|').nth(3).unwrap().parse().unwrap();
    assert!(row.starts_with("c_hello|c_hello_main|c_hello|"), "{row}");
    assert_eq!(cmdline(pid), "bgw: c_hello static");
    // SIGHUP through the host reaches the module's handler and ProcessConfigFile.
    h.bgw(&["reload"]);
    h.wait_log("c_hello static: reloaded configuration");
    // SIGTERM goes through die() and CHECK_FOR_INTERRUPTS(): FATAL, exit 1, restarted after 5 s.
    signal(pid, SIGTERM);
    h.wait_log(&format!("background worker \"c_hello\" (PID {pid}) exited with exit code 1"));
    assert!(h.log().contains("terminating background worker \"c_hello\" due to administrator command"));
}

#[test]
fn c_workers_register_wait_and_terminate_dynamically() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()));
    // From SQL.
    let pid: i32 = h.sql(r#"SELECT bgw_launch('c_hello', 'c_hello_main', 300, '{"name":"c dyn"}')"#).parse().unwrap();
    h.wait_log("c dyn started with naptime 300 ms");
    assert!(alive(pid));
    // From inside a C worker: register, wait for start-up, type by pid, terminate, wait for shutdown.
    h.sql("SELECT bgw_launch('c_hello', 'c_hello_launcher')");
    let log = h.wait_log("c_hello launcher saw worker");
    assert!(log.contains("c_hello launcher started worker with PID"), "{log}");
    assert!(log.contains("(type c_hello)"), "{log}");
    // bgw_notify_pid: the postmaster's SIGUSR1 set the launcher's latch when the child started and when it exited.
    assert!(log.contains("c_hello launcher: start notification received"), "{log}");
    assert!(log.contains("c_hello launcher: exit notification received"), "{log}");
}

#[test]
fn errors_in_c_workers_are_logged_and_exit_1() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()));
    let handle = h.sql("SELECT bgw_register('c_hello', 'c_hello_fail', 7)");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    let log = h.wait_log("background worker \"c_hello_fail\" (PID");
    assert!(log.contains("ERROR:  c_hello failed on purpose"), "{log}");
    assert!(log.contains("DETAIL:  main argument 7"), "{log}");
    assert!(log.contains("exited with exit code 1"), "{log}");
    assert!(!log.contains("terminating any other active server processes"));
}

#[test]
fn dynamic_registration_checks_library_and_symbol_at_once() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()));
    let err = h.psql("SELECT bgw_register('c_hello', 'no_such_function')").unwrap_err();
    let so = dir.path().join("c_hello.so");
    assert!(
        err.contains(&format!("could not find function \"no_such_function\" in file \"{}\"", so.display())),
        "{err}"
    );
    let err = h.psql("SELECT bgw_register('no_such_module', 'f')").unwrap_err();
    assert!(err.contains("could not access file \"no_such_module\": No such file or directory"), "{err}");
    let err = h.psql("SELECT bgw_register('c_unresolved', 'c_unresolved_main')").unwrap_err();
    assert!(err.contains("could not load library") && err.contains("bgw_no_such_function"), "{err}");
    // A superuser (every peer-authenticated user is one, until roles arrive) may name the library by path.
    let pid: i32 = h.sql(&format!("SELECT bgw_launch('{}', 'c_hello_main', 300)", so.display())).parse().unwrap();
    assert!(alive(pid));
    // The internal library uses the same lookup.
    assert!(h.sql("SELECT bgw_register('bgw', 'noop')").contains(':'));
}

#[test]
fn a_missing_library_fails_in_the_worker_not_the_postmaster() {
    let dir = module_dir();
    let workers = "[[worker]]\nname = \"lost\"\nlibrary = \"c_unresolved\"\nfunction = \"c_unresolved_main\"\nrestart = \"never\"\n\n[[worker]]\nname = \"gone\"\nlibrary = \"vanished\"\nfunction = \"main\"\nrestart = \"never\"\n";
    let h = Host::start(with_modules(dir.path()).workers(workers));
    let log = h.wait_log("background worker \"gone\" (PID");
    h.wait_log("background worker \"lost\" (PID");
    let log = log + &h.log();
    assert!(log.contains("ERROR:  could not access file \"vanished\": No such file or directory"), "{log}");
    assert!(log.contains("ERROR:  could not load library \""), "{log}");
    assert!(log.contains("undefined symbol: bgw_no_such_function"), "{log}");
    assert!(!log.contains("terminating any other active server processes"));
    assert_eq!(h.sql("SELECT 1"), "1");
}

#[test]
fn a_module_that_fails_to_initialize_stops_start_up_cleanly() {
    let dir = module_dir();
    for (libs, expect) in [
        ("'c_broken'", "c_broken refuses to load"),
        ("'c_hello, nope'", "could not access file \"nope\": No such file or directory"),
        ("'c_greedy'", "module \"c_greedy\" requested too much shared memory (1099511627776 bytes)"),
    ] {
        let h = Host::init(&with_modules(dir.path()).conf("shared_preload_libraries", libs));
        let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(expect), "{err}");
        if libs.contains("c_broken") {
            assert!(err.contains("FATAL:  could not load library \"c_broken\": its _PG_init failed"), "{err}");
            assert!(err.contains("HINT:  This module is broken on purpose."), "{err}");
        }
        assert!(!h.data().join("postmaster.pid").exists(), "a half-started host left its lock file");
    }
}

#[test]
fn register_background_worker_outside_preload_is_refused() {
    // A worker calling RegisterBackgroundWorker is not preloading a library: the spec's rule refuses the call
    // (the postmaster's children say so at DEBUG1) and nothing is registered.
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()));
    let handle = h.sql("SELECT bgw_register('c_hello', 'c_hello_register_late')");
    assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    h.wait_log("background worker \"c_hello late\": must be registered in shared_preload_libraries");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE name = 'c_hello late'"), "0");
}

#[test]
fn pg_init_runs_where_a_library_is_first_loaded_and_its_errors_fail_only_that_load() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()));
    // c_broken's _PG_init raises an ERROR: loading it for a registration check fails that statement only.
    let err = h.psql("SELECT bgw_register('c_broken', '_PG_init')").unwrap_err();
    assert!(err.contains("its _PG_init failed: c_broken refuses to load"), "{err}");
    assert_eq!(h.sql("SELECT 1"), "1");
    // c_hello loaded outside preload defines its parameters in the loading process (a worker here), not more.
    let handle = h.sql(r#"SELECT bgw_register('c_hello', 'c_hello_params', 0, '{"name":"late params"}')"#);
    h.wait_log("c_hello params at start: naptime=1000 greeting=hello");
    h.sql(&format!("SELECT bgw_terminate('{handle}')"));
}

#[test]
fn module_parameters_come_from_the_file_and_follow_reloads() {
    let dir = module_dir();
    let h = Host::start(
        with_modules(dir.path())
            .conf("shared_preload_libraries", "'c_hello'")
            .conf("c_hello.naptime", "'2s'")
            .conf("c_hello.greeting", "'bonjour'")
            .conf("c_hello.mode", "fast")
            .conf("c_hello.typo", "1"),
    );
    // Defined in _PG_init: the values from the file apply (units included), and backends see them.
    assert_eq!(h.sql("SELECT current_setting('c_hello.naptime'), current_setting('c_hello.greeting')"), "2s|bonjour");
    let log = h.wait_log("invalid configuration parameter name \"c_hello.typo\", removing it");
    assert!(log.contains("\"c_hello\" is now a reserved prefix."), "{log}");
    h.sql("SELECT bgw_launch('c_hello', 'c_hello_params')");
    h.wait_log("c_hello params at start: naptime=2000 greeting=bonjour verbose=off ratio=0.5 mode=fast workers=1");
    // Reload: the reloadable one reaches the module's variable; the restart-only one keeps its value.
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("c_hello.naptime = 3000\nc_hello.verbose = on\nc_hello.workers = 5\n");
    std::fs::write(&conf, text).unwrap();
    h.bgw(&["reload"]);
    h.wait_log("c_hello params after reload: naptime=3000 greeting=bonjour verbose=on ratio=0.5 mode=fast workers=1");
    assert!(h.log().contains("parameter \"c_hello.workers\" cannot be changed without restarting the server"));
    assert_eq!(h.sql("SELECT current_setting('c_hello.workers')"), "1");
}

#[test]
fn a_bad_value_for_a_module_parameter_stops_start_up() {
    let dir = module_dir();
    let h = Host::init(
        &with_modules(dir.path()).conf("shared_preload_libraries", "'c_hello'").conf("c_hello.ratio", "2.5"),
    );
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("2.5 is outside the valid range for parameter \"c_hello.ratio\" (0 .. 1)"), "{err}");
    assert!(err.contains("bgworker.conf\" line"), "{err}");
    assert!(err.contains("could not load library \"c_hello\""), "{err}");
    assert!(!h.data().join("postmaster.pid").exists());
}

#[test]
fn sql_functions_from_a_c_module_work_and_their_errors_only_fail_the_statement() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()).conf("shared_preload_libraries", "'c_hello'"));
    let mut c = h.client();
    let row = c.query_one("SELECT c_hello_echo('hi')", &[]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("c_hello says: hi"));
    // ereport(ERROR) inside the function: the statement fails with its message and hint...
    let err = c.simple_query("SELECT c_hello_raise('boom')").unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.message(), "c_hello_raise: boom");
    assert_eq!(db.hint(), Some("This function always fails."));
    assert_eq!(db.code(), &postgres::error::SqlState::INTERNAL_ERROR);
    // An error reported by return value (no jump), with its own SQLSTATE.
    let err = c.simple_query("SELECT c_hello_divide(1, 0)").unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!((db.code(), db.message()), (&postgres::error::SqlState::DIVISION_BY_ZERO, "division by zero"));
    let row = c.query_one("SELECT CAST(c_hello_divide(84, 2) AS TEXT)", &[]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("42"));
    // ...and the same session goes on: launch a worker from the backend through the C function.
    let rows = c.simple_query("SELECT c_hello_launch(500), pg_backend_pid()").unwrap();
    let r = rows
        .iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .expect("a row");
    let pid: i32 = r.get(0).unwrap().parse().unwrap();
    let backend: i32 = r.get(1).unwrap().parse().unwrap();
    assert!(alive(pid));
    h.wait_log("c_hello launched started with naptime 500 ms");
    let notify = h.sql("SELECT notify_pid FROM bgw_workers WHERE name = 'c_hello launched'");
    assert_eq!(notify, backend.to_string(), "the C function registered with the backend as its notify process");
    // Without the module preloaded the functions do not exist.
    drop(c);
    let plain = Host::start(with_modules(dir.path()));
    let err = plain.psql("SELECT c_hello_echo('x')").unwrap_err();
    assert!(err.contains("c_hello_echo"), "{err}");
}

#[test]
fn named_shared_memory_is_shared_by_workers_and_backends_and_reset_by_a_crash() {
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()).conf("shared_preload_libraries", "'c_hello'"));
    assert_eq!(h.sql("SELECT c_hello_count()"), "0");
    for n in [5, 7] {
        let handle = h.sql(&format!("SELECT bgw_register('c_hello', 'c_hello_bump', {n})"));
        assert_eq!(h.sql(&format!("SELECT bgw_wait_for_shutdown('{handle}')")), "stopped");
    }
    h.wait_log("c_hello_bump: counter is now 12");
    assert_eq!(h.sql("SELECT c_hello_count()"), "12");
    // A crash-and-restart cycle creates shared memory anew.
    let pid: i32 = h.sql("SELECT bgw_launch('bgw', 'sleeper')").parse().unwrap();
    signal(pid, SIGKILL);
    h.wait_log("all server processes terminated; reinitializing");
    h.wait_log_count("database system is ready to accept connections", 2);
    assert_eq!(h.wait_sql("SELECT c_hello_count()", |o| !o.is_empty()), "0");
    // Without a preload request there is no space to carve from: a clear error, and the backend goes on.
    let plain = Host::start(with_modules(dir.path()));
    let err = plain.psql("SELECT bgw_wait_for_shutdown(bgw_register('c_hello', 'c_hello_bump', 1))");
    assert_eq!(err.as_deref(), Ok("stopped"));
    plain.wait_log("not enough shared memory for data structure \"c_hello counter\" (8 bytes requested)");
}

#[test]
fn module_sql_functions_of_one_name_are_told_apart_by_argument_count() {
    // c_hello defines c_hello_echo(text) and c_hello_echo(text, text), two different C functions.
    let dir = module_dir();
    let h = Host::start(with_modules(dir.path()).conf("shared_preload_libraries", "'c_hello'"));
    assert_eq!(h.sql("SELECT c_hello_echo('a')"), "c_hello says: a");
    assert_eq!(h.sql("SELECT c_hello_echo('a', 'b')"), "c_hello says twice: a b");
    let err = h.psql("SELECT c_hello_echo('a', 'b', 'c')").unwrap_err();
    assert!(err.contains("c_hello_echo"), "{err}");
}
