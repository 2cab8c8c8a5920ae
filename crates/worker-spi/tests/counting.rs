//! `worker_spi`'s database work in the real host: the table `schemaN_counted` (PostgreSQL's `schemaN.counted`)
//! created at start, deltas folded into the total every naptime, and dynamic workers connecting by oid with the
//! connection flags passed to `worker_spi_launch(index, dboid, roleoid, flags)`.

use bgw_test_support::*;

/// The module under test.
const MODULE: Module = Module::package("worker-spi");

/// A preloaded host with one static worker napping 1 s.
fn preloaded() -> Setup {
    MODULE.setup().preload().conf("worker_spi.naptime", "1").conf("worker_spi.total_workers", "1")
}

fn oid_of(h: &Host, table: &str, name: &str) -> u32 {
    h.catalog()
        .query_row(&format!("SELECT oid FROM {table} WHERE name = ?1"), [name], |r| r.get(0))
        .unwrap_or_else(|e| panic!("no {name} in {table}: {e}"))
}

/// Launches a worker whose connection is refused; the log once it has ended with `fatal`. The worker may end
/// before the launching backend sees it running: `worker_spi_launch` then fails with "could not start background
/// process" (`bgw_launch` with "stopped before it started") instead of returning the pid.
fn launch_refused(h: &Host, sql: &str, fatal: &str) -> String {
    match h.psql(sql) {
        Ok(pid) => drop(h.wait_exited_1(pid.parse().unwrap())),
        Err(e) => assert!(
            e.contains("could not start background process") || e.contains("stopped before it started"),
            "{sql}: {e}"
        ),
    }
    h.wait_log(&format!("FATAL:  {fatal}"))
}

#[test]
fn a_static_worker_folds_deltas_into_the_total() {
    let h = Host::start(preloaded());
    h.wait_log(
        "worker_spi worker 1 initialized with table \"schema1_counted\" (PostgreSQL's schema1.counted) in database \
         \"postgres\"",
    );
    h.sql("INSERT INTO schema1_counted VALUES ('delta', 5)");
    h.sql("INSERT INTO schema1_counted VALUES ('delta', 5)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 10");
    assert_eq!(h.sql("SELECT type, value FROM schema1_counted"), "total|10");
    // Only the two kinds of rows are accepted.
    let err = h.psql("INSERT INTO schema1_counted VALUES ('other', 1)").unwrap_err();
    assert!(err.contains("CHECK constraint failed"), "{err}");
    // The next deltas add to the same row.
    h.sql("INSERT INTO schema1_counted VALUES ('delta', 7), ('delta', -2)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 15");
    assert_eq!(h.sql("SELECT type, value FROM schema1_counted"), "total|15");
    let pid = h.wait_worker_pid("worker_spi worker 1");
    assert_eq!(h.activity(pid), format!("postgres|{}", os_user()));
    let log = h.log();
    assert!(!log.contains("ERROR") && !log.contains("FATAL"), "{log}");
}

#[test]
fn a_missing_total_row_is_created_and_an_existing_table_is_kept() {
    let mut h = Host::init(&preloaded());
    h.launch_postmaster(&[]);
    h.wait_log("database system is ready to accept");
    h.wait_log("worker_spi worker 1 initialized");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 0");
    // A user deleting the total row: the next round inserts it again, with the pending deltas.
    h.sql("DELETE FROM schema1_counted; INSERT INTO schema1_counted VALUES ('delta', 3)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 3");
    assert_eq!(h.sql("SELECT type, value FROM schema1_counted"), "total|3");
    // Restarted, the worker keeps the table and its total.
    assert!(h.bgw(&["stop"]).status.success());
    h.wait_exit();
    h.launch_postmaster(&[]);
    h.wait_log_count("worker_spi worker 1 initialized", 2);
    h.sql("INSERT INTO schema1_counted VALUES ('delta', 4)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 7");
    assert_eq!(h.sql("SELECT count(*), sum(value) FROM schema1_counted"), "1|7");
}

#[test]
fn the_bypass_flag_lets_a_dynamic_worker_into_a_database_that_refuses_connections() {
    let h = Host::start(preloaded());
    h.sql("CREATE DATABASE closed WITH ALLOW_CONNECTIONS false");
    let oid = oid_of(&h, "databases", "closed");
    let pid: i32 = h.sql(&format!("SELECT worker_spi_launch(3, {oid}, 0, 1)")).parse().unwrap();
    h.wait_log(&format!(
        "worker_spi dynamic worker 3 initialized with table \"schema3_counted\" (PostgreSQL's schema3.counted) in \
         the database with oid {oid}"
    ));
    h.wait_log("worker_spi dynamic worker 3: count in schema3_counted is now 0");
    assert_eq!(h.activity(pid), format!("closed|{}", os_user()));
    assert_eq!(
        h.sql(&format!("SELECT name, main_arg FROM bgw_workers WHERE pid = {pid}")),
        "worker_spi dynamic worker 3|3"
    );
    // The table is in that database's file, not in postgres.
    let closed = rusqlite::Connection::open(h.data().join(format!("base/{oid}.db"))).unwrap();
    let tables: i64 = closed
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema3_counted'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(tables, 1);
    assert_eq!(h.sql("SELECT count(*) FROM sqlite_master WHERE name = 'schema3_counted'"), "0");
    // Without the flag the connection is refused: FATAL, exit code 1, never restarted.
    let log = launch_refused(
        &h,
        &format!("SELECT worker_spi_launch(4, {oid}, 0, 0)"),
        "database \"closed\" is not currently accepting connections",
    );
    assert!(!log.contains("worker_spi dynamic worker 4 initialized"), "{log}");
    assert!(!log.contains("terminating any other active server processes"), "{log}");
}

#[test]
fn a_role_oid_and_the_login_bypass_flag() {
    let h = Host::start(preloaded());
    h.sql("CREATE ROLE counter NOLOGIN");
    let role = oid_of(&h, "roles", "counter");
    let postgres = oid_of(&h, "databases", "postgres");
    let sql = format!("SELECT worker_spi_launch(5, {postgres}, {role}, 0)");
    let log = launch_refused(&h, &sql, "role \"counter\" is not permitted to log in");
    assert!(!log.contains("worker_spi dynamic worker 5 initialized"), "{log}");
    let pid: i32 = h.sql(&format!("SELECT worker_spi_launch(5, {postgres}, {role}, 2)")).parse().unwrap();
    h.wait_log("worker_spi dynamic worker 5: count in schema5_counted is now 0");
    assert_eq!(h.activity(pid), "postgres|counter");
    // dboid 0: worker_spi.database by name, as the bootstrap superuser.
    let pid: i32 = h.sql("SELECT worker_spi_launch(6, 0, 0, 0)").parse().unwrap();
    h.wait_log(
        "worker_spi dynamic worker 6 initialized with table \"schema6_counted\" (PostgreSQL's schema6.counted) in \
         database \"postgres\"",
    );
    assert_eq!(h.activity(pid), format!("postgres|{}", os_user()));
}

#[test]
fn worker_spi_launch_checks_its_arguments() {
    let h = Host::start(preloaded());
    for (sql, state, message) in [
        ("SELECT worker_spi_launch(3, 0, 0, 4)", "22023", "invalid connection flags 4"),
        ("SELECT worker_spi_launch(3, 0, 10, 0)", "22023", "a role oid needs a database oid"),
        ("SELECT worker_spi_launch(3, -1, 0, 0)", "22003", "out of range for an oid"),
        ("SELECT worker_spi_launch(3, 'x', 0, 0)", "42804", "expects an integer database oid"),
    ] {
        let err = h.psql(sql).unwrap_err();
        assert!(err.contains(&format!("ERROR:  {state}: ")) && err.contains(message), "{sql}: {err}");
    }
    // Strict: any NULL argument gives NULL and starts nothing.
    assert_eq!(h.sql("SELECT coalesce(worker_spi_launch(3, NULL, 0, 1), -1)"), "-1");
    assert_eq!(h.sql("SELECT count(*) FROM bgw_workers WHERE type = 'worker_spi dynamic'"), "0");
}

#[test]
fn bad_extra_data_is_fatal() {
    let h = Host::start(MODULE.setup().conf("worker_spi.naptime", "1"));
    launch_refused(
        &h,
        r#"SELECT bgw_launch('worker_spi', 'worker_spi_main', 2,
               '{"name": "odd spi", "flags": ["shmem", "database"], "extra": "dboid=x"}')"#,
        "odd spi: invalid extra data \"dboid=x\"",
    );
    // The same text a 4-argument worker_spi_launch writes works through bgw_launch too.
    h.sql("CREATE DATABASE shut WITH ALLOW_CONNECTIONS false");
    let oid = oid_of(&h, "databases", "shut");
    let pid: i32 = h
        .sql(&format!(
            r#"SELECT bgw_launch('worker_spi', 'worker_spi_main', 2,
                   '{{"name": "by extra", "flags": ["shmem", "database"], "extra": "dboid={oid} roleoid=0 flags=1"}}')"#
        ))
        .parse()
        .unwrap();
    h.wait_log("by extra: count in schema2_counted is now 0");
    assert_eq!(h.activity(pid), format!("shut|{}", os_user()));
}
