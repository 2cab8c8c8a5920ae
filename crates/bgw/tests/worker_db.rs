//! Workers' database connections and SPI, driven through a real C module (`tests/modules/c_spi.c`) in a real
//! host: connecting by name and by oid, the checks and their bypass flags, the once-only and registration rules,
//! SPI's statements, results and error codes, and writes of workers and backends interleaving on one database.

use bgw_test_support::*;
use std::path::Path;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A directory holding `c_spi.so`.
fn c_spi_dir() -> tempfile::TempDir {
    let dir = module_tempdir();
    build_c_module(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/c_spi.c"), dir.path(), "c_spi");
    dir
}

/// Launches a c_spi worker with the database flag; returns its pid.
fn launch(h: &Host, function: &str, name: &str, arg: i64, extra: &str) -> i32 {
    launch_with(h, function, name, arg, extra, r#"["shmem", "database"]"#)
}

/// Launches a worker and returns its pid. A worker that fails at once may be gone before `bgw_launch` sees it
/// start (then it reports "stopped before it started", as WaitForBackgroundWorkerStartup may return STOPPED in
/// PostgreSQL): its pid is then taken from its exit line in the log.
fn launch_with(h: &Host, function: &str, name: &str, arg: i64, extra: &str, flags: &str) -> i32 {
    let options = format!(r#"{{"name": "{name}", "extra": "{extra}", "flags": {flags}}}"#);
    match h.psql(&format!("SELECT bgw_launch('c_spi', '{function}', {arg}, '{options}')")) {
        Ok(out) => out.parse().unwrap(),
        Err(e) if e.contains("stopped before it started") => {
            let prefix = format!("background worker \"{name}\" (PID ");
            let log = h.wait_log(&prefix);
            let at = log.find(&prefix).unwrap() + prefix.len();
            log[at..].split(')').next().unwrap().parse().unwrap()
        }
        Err(e) => panic!("bgw_launch of {name}: {e}\nlog:\n{}", h.log()),
    }
}

#[test]
fn a_worker_connects_runs_spi_and_the_backend_sees_its_rows() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let me = os_user();
    // By name, as the bootstrap superuser (NULL user).
    let a = launch(&h, "c_spi_main", "spi a", 0, "postgres;");
    let log = h.wait_log("c_spi spi a: done");
    assert!(log.contains("c_spi spi a: insert returned 7, processed 2"), "{log}");
    assert!(log.contains("c_spi spi a: select returned 5, processed 2, columns 2 (who, note)"), "{log}");
    assert!(log.contains("c_spi spi a: row 0: spi a|hello"), "{log}");
    assert!(log.contains("c_spi spi a: row 1: spi a|(null)"), "{log}");
    assert_eq!(h.sql("SELECT who, coalesce(note, 'NULL') FROM spi_t ORDER BY id"), "spi a|hello\nspi a|NULL");
    assert_eq!(h.activity(a), format!("postgres|{me}"));
    // By oid (postgres is 5, the bootstrap superuser 10), into the same table.
    let b = launch(&h, "c_spi_by_oid", "spi b", 0, "5;10");
    h.wait_log("c_spi spi b: done");
    assert_eq!(h.sql("SELECT count(*) FROM spi_t WHERE who = 'spi b'"), "2");
    assert_eq!(h.activity(b), format!("postgres|{me}"));
    // By name with the user named; InvalidOid user by oid.
    let c = launch(&h, "c_spi_main", "spi c", 0, &format!("postgres;{me}"));
    h.wait_log("c_spi spi c: done");
    assert_eq!(h.activity(c), format!("postgres|{me}"));
    let d = launch(&h, "c_spi_by_oid", "spi d", 0, "5;0");
    h.wait_log("c_spi spi d: done");
    assert_eq!(h.activity(d), format!("postgres|{me}"));
    assert_eq!(h.sql("SELECT count(*) FROM spi_t"), "8");
    // No database: the catalog only; SPI needs a database.
    let e = launch(&h, "c_spi_main", "spi e", 0, ";");
    let log = h.wait_log("c_spi spi e: SPI_connect returned -1");
    assert!(log.contains("connected without a database"), "{log}");
    assert_eq!(h.activity(e), format!("-|{me}"));
    let f = launch(&h, "c_spi_by_oid", "spi f", 0, "0;0");
    h.wait_log("c_spi spi f: SPI_connect returned -1");
    assert_eq!(h.activity(f), format!("-|{me}"));
    assert!(!h.log().contains("FATAL"), "{}", h.log());
}

#[test]
fn bypass_flags_work_both_ways() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let c = h.catalog();
    c.execute("INSERT INTO roles (oid, name, superuser, can_login) VALUES (16384, 'nologin', 0, 0)", []).unwrap();
    c.execute("UPDATE databases SET allow_connections = 0 WHERE name = 'template1'", []).unwrap();
    drop(c);
    let pid = launch(&h, "c_spi_main", "no login", 0, "postgres;nologin");
    let log = h.wait_exited_1(pid);
    assert!(log.contains("FATAL:  role \"nologin\" is not permitted to log in"), "{log}");
    let pid = launch(&h, "c_spi_main", "bypass login", 2, "postgres;nologin");
    h.wait_log("c_spi bypass login: done");
    assert_eq!(h.activity(pid), "postgres|nologin");
    let pid = launch(&h, "c_spi_main", "no conn", 0, "template1;");
    let log = h.wait_exited_1(pid);
    assert!(log.contains("FATAL:  database \"template1\" is not currently accepting connections"), "{log}");
    let pid = launch(&h, "c_spi_by_oid", "no conn oid", 2, "1;0");
    let log = h.wait_exited_1(pid);
    assert!(log.contains("FATAL:  database \"template1\" is not currently accepting connections"), "{log}");
    let pid = launch(&h, "c_spi_main", "bypass conn", 1, "template1;");
    h.wait_log("c_spi bypass conn: done");
    assert_eq!(h.activity(pid), format!("template1|{}", os_user()));
    // Both at once.
    let pid = launch(&h, "c_spi_by_oid", "bypass both", 3, "1;16384");
    h.wait_log("c_spi bypass both: done");
    assert_eq!(h.activity(pid), "template1|nologin");
    // Only the worker connected to postgres wrote there; the others wrote to template1's file.
    assert_eq!(h.sql("SELECT DISTINCT who FROM spi_t"), "bypass login");
}

#[test]
fn missing_databases_and_roles_are_fatal_and_the_restart_rules_apply() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    for (function, extra, message) in [
        ("c_spi_main", "nope;", "database \"nope\" does not exist"),
        ("c_spi_main", "postgres;ghost", "role \"ghost\" does not exist"),
        ("c_spi_main", "nope;ghost", "role \"ghost\" does not exist"),
        ("c_spi_by_oid", "999;10", "database 999 does not exist"),
        ("c_spi_by_oid", "5;4242", "role with OID 4242 does not exist"),
    ] {
        let pid = launch(&h, function, extra, 0, extra);
        let log = h.wait_exited_1(pid);
        assert!(log.contains(&format!("FATAL:  {message}")), "{extra}: {log}");
    }
    // A worker with a restart interval is started again after the FATAL.
    let options = r#"{"name": "again", "extra": "gone;", "flags": ["shmem", "database"], "restart": 1}"#;
    // It may fail before bgw_launch sees it start, which then reports it stopped (as PostgreSQL would).
    match h.psql(&format!("SELECT bgw_launch('c_spi', 'c_spi_main', 0, '{options}')")) {
        Ok(_) => {}
        Err(e) => assert!(e.contains("stopped before it started"), "{e}"),
    }
    h.wait_log_count("FATAL:  database \"gone\" does not exist", 2);
}

#[test]
fn a_worker_connects_once_and_only_with_the_registration_flag() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let pid = launch(&h, "c_spi_twice", "twice", 0, "");
    let log = h.wait_exited_1(pid);
    assert!(log.contains("c_spi twice: connected once"), "{log}");
    assert!(log.contains("FATAL:  background worker \"twice\" is already connected"), "{log}");
    assert!(log.contains("It is connected to database \"postgres\""), "{log}");
    assert!(!log.contains("connected twice"), "{log}");
    let pid = launch_with(&h, "c_spi_noflag", "noflag", 0, "", r#"["shmem"]"#);
    let log = h.wait_exited_1(pid);
    assert!(log.contains("c_spi noflag: SPI_connect returned -1"), "{log}");
    assert!(log.contains("FATAL:  database connection requirement not indicated during registration"), "{log}");
    assert!(!log.contains("connected (wrong)"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn spi_reports_errors_with_codes() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    launch(&h, "c_spi_errors", "errors", 0, "");
    let log = h.wait_log("c_spi errors: done");
    let line = |what: &str| -> String {
        let prefix = format!("c_spi errors: {what}=");
        let start = log.find(&prefix).unwrap_or_else(|| panic!("no {prefix:?} in the log:\n{log}"));
        log[start + prefix.len()..].lines().next().unwrap().to_string()
    };
    assert!(line("before connection").starts_with("-1 SPI_connect: this process has no database connection"));
    assert!(line("unconnected").starts_with("-4 "), "{log}");
    assert_eq!(line("connect"), "1 (null)");
    assert!(line("begin").starts_with("-8 transaction control statements cannot be run through SPI_execute"));
    assert!(line("commit").starts_with("-8 "), "{log}");
    assert!(line("null").starts_with("-6 "), "{log}");
    assert!(line("negative count").starts_with("-6 "), "{log}");
    assert!(line("syntax").starts_with("-100 ") && line("syntax").contains("syntax error"), "{log}");
    assert_eq!(line("missing param"), "-7 there is no parameter $2");
    assert!(line("null values").starts_with("-6 "), "{log}");
    assert_eq!(line("read only"), "-100 INSERT is not allowed in a read-only execution");
    assert_eq!(line("limited"), "5 (null)");
    assert!(log.contains("c_spi errors: limited processed 2"), "{log}");
    assert_eq!(line("insert"), "7 (null)");
    assert!(line("duplicate").starts_with("-100 UNIQUE constraint failed"), "{log}");
    assert!(line("in failed transaction").starts_with("-100 current transaction is aborted"), "{log}");
    assert!(log.contains("WARNING:  the transaction was rolled back: a statement in it failed"), "{log}");
    assert_eq!(line("after rollback"), "5 (null)");
    assert!(log.contains("c_spi errors: rows after rollback 0"), "{log}");
    assert!(log.contains("c_spi errors: rows at the end 3"), "{log}");
    assert_eq!(line("finish"), "2 (null)");
    assert!(line("finish again").starts_with("-4 "), "{log}");
    assert_eq!(h.sql("SELECT string_agg(a::text, ',') FROM spi_e"), "3");
}

#[test]
fn writes_of_a_worker_and_a_backend_interleave_without_lock_errors() {
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    h.sql("CREATE TABLE interleave (id serial PRIMARY KEY, src TEXT NOT NULL)");
    let mut client = h.client();
    launch(&h, "c_spi_writer", "writer", 400, "");
    let mut backend = 0;
    while !h.log().contains("c_spi writer: done 400") {
        assert!(backend < 5000, "the writer did not finish:\n{}", h.log());
        client.batch_execute("INSERT INTO interleave (src) VALUES ('backend')").unwrap();
        backend += 1;
    }
    for _ in 0..20 {
        client.batch_execute("BEGIN; INSERT INTO interleave (src) VALUES ('backend'); COMMIT").unwrap();
        backend += 1;
    }
    assert!(backend > 20);
    assert_eq!(
        h.sql("SELECT src, count(*) FROM interleave GROUP BY src ORDER BY src"),
        format!("backend|{backend}\nworker|400")
    );
    let log = h.log();
    assert!(!log.contains("database is locked") && !log.contains("ERROR"), "{log}");
}

#[test]
fn workers_notify_through_spi_and_the_direct_call_but_cannot_listen() {
    use postgres::fallible_iterator::FallibleIterator;
    let dir = c_spi_dir();
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    let mut client = h.client();
    client.batch_execute("LISTEN workers").unwrap();
    let pid = launch(&h, "c_spi_notify", "notifier", 0, "");
    let mut got = Vec::new();
    let mut notes = client.notifications();
    let mut it = notes.timeout_iter(std::time::Duration::from_secs(20));
    while got.len() < 4 {
        let n = it.next().unwrap().unwrap_or_else(|| panic!("got only {got:?}\nlog:\n{}", h.log()));
        assert_eq!(n.process_id(), pid);
        assert_eq!(n.channel(), "workers");
        got.push(n.payload().to_string());
    }
    // Committed in order; the rolled-back transaction sent nothing.
    assert_eq!(got, ["in a transaction", "by function", "direct", "on its own"]);
    let log = h.wait_exited_1(pid);
    assert!(log.contains("c_spi notify: listen=-100 cannot execute LISTEN within a background process"), "{log}");
    assert!(log.contains("ERROR:  channel name cannot be empty"), "{log}");
    assert!(!log.contains("(wrong)"), "{log}");
}
