//! Workers on a postgresql-engine database (issue 15): a real bgw host, a real PostgreSQL 15 server as the
//! database's engine, real workers. The Rust `worker_spi` (the SDK's SPI) counting there, a C module's SPI
//! (statements, parameters, results, errors, the server's transactions), NOTIFY from a worker received by a
//! client LISTENing on the server itself, the server down or refusing the login at connect (FATAL with the
//! server's reason, the restart rule, no crash cycle), the server restarted mid-transaction (08006, the worker
//! exits as coded), kill -9 of workers mid-transaction (nothing of theirs committed), a termination while a
//! statement runs on the server (canceled there first), and the password never in the log or the catalog.
//! Every host and server is stopped when its test ends, also when it fails.

use bgw_test_support::*;
use postgres::fallible_iterator::FallibleIterator;
use std::path::Path;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A directory holding `c_pg_engine.so`.
fn module_dir() -> tempfile::TempDir {
    let dir = module_tempdir();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/c_pg_engine.c");
    build_c_module(&source, dir.path(), "c_pg_engine");
    dir
}

/// Writes the host's password file (mode 0600) with `lines`.
fn write_pgpass(h: &Host, lines: &[String]) {
    use std::os::unix::fs::PermissionsExt;
    let path = h.data().join("pgpass");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Creates database `name` on the host, served by database `dbname` of the server on `port`.
fn create_remote(h: &Host, name: &str, port: u16, dbname: &str) {
    h.sql(&format!(
        "CREATE DATABASE {name} WITH ENGINE = postgresql \
         CONNECTION = 'host=127.0.0.1 port={port} dbname={dbname} user={TEST_USER}'"
    ));
}

/// A host with the C module on its library path and the database `app` on `pg`'s `postgres` database.
fn host_on(pg: &Postgres, dir: &Path) -> Host {
    let h = Host::start(Setup::new(BGW).library_path(dir));
    write_pgpass(&h, &[format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}", pg.port)]);
    create_remote(&h, "app", pg.port, "postgres");
    h
}

/// Options for a c_pg_engine worker named `name` on database `db`.
fn options(name: &str, db: &str, restart: &str) -> String {
    format!(r#"{{"name": "{name}", "extra": "{db}", "flags": ["shmem", "database"], "restart": {restart}}}"#)
}

/// The password appears nowhere the host writes: its log, its catalog files, `pg_database`.
fn assert_no_password(h: &Host, password: &str) {
    assert!(!h.log().contains(password), "the password is in the log:\n{}", h.log());
    for entry in std::fs::read_dir(h.data().join("global")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(password.len()).any(|w| w == password.as_bytes());
        assert!(!found, "the password is in {}", path.display());
    }
    assert!(!h.sql("SELECT * FROM pg_database").contains(password));
}

#[test]
fn c_spi_runs_on_the_server_and_its_notifications_reach_a_listener_there() {
    let pg = Postgres::start();
    let dir = module_dir();
    let h = host_on(&pg, dir.path());
    let mut listener = pg.login().client("postgres");
    listener.batch_execute("LISTEN pge_channel").unwrap();

    let pid = h.launch("c_pg_engine", "c_pg_engine_main", 0, &options("pge", "app", r#""never""#));
    let log = h.wait_log("c_pg_engine pge: done");
    let line = |text: &str| assert!(log.contains(&format!("c_pg_engine pge: {text}")), "{text}\nlog:\n{log}");
    line("create returned 4");
    line("insert returned 7, processed 2");
    line("select returned 5, processed 2, columns 4 (id, who, n, at)");
    line("row 0: pge|2.35|2024-02-29");
    line("row 1: pge|(null)|(null)");
    line("version returned 5: PostgreSQL 15");
    line("read-only insert returned -100: INSERT is not allowed in a read-only execution");
    line("notify returned 4");
    line("pg_notify returned 5");
    line("listen returned -100: cannot execute LISTEN within a background process");
    line("division returned -100: division by zero");
    line("after the error returned -100: current transaction is aborted, commands ignored until end of transaction block");
    // The worker is shown as connected to its database, as on the embedded engine.
    assert_eq!(h.activity(pid), format!("app|{}", os_user()));

    // The rows are on the server; the failed transaction's row is not.
    let server = pg.login();
    assert_eq!(server.sql("postgres", "SELECT who, n, at FROM pge_t ORDER BY id"), "pge|2.35|2024-02-29\npge||");
    assert_eq!(server.sql("postgres", "SELECT count(*) FROM pge_t WHERE who = 'rolled back'"), "0");

    // The three notifications, at the commit, in order, to a client LISTENing on the server itself.
    let mut got = Vec::new();
    let mut notifications = listener.notifications();
    let mut iter = notifications.timeout_iter(DEADLINE);
    while got.len() < 3 {
        let n = iter.next().unwrap().expect("a notification within the deadline");
        got.push((n.channel().to_string(), n.payload().to_string()));
    }
    let want =
        ["from Async_Notify", "from NOTIFY", "from pg_notify"].map(|p| ("pge_channel".to_string(), p.to_string()));
    assert_eq!(got, want);
    assert!(!h.log().contains("FATAL"), "{}", h.log());
    assert_no_password(&h, TEST_PASSWORD);
}

#[test]
fn worker_spi_counts_on_the_server() {
    let pg = Postgres::start();
    let h = Host::start(
        Module::package("worker-spi").setup().conf("worker_spi.naptime", "1").conf("worker_spi.database", "'app'"),
    );
    write_pgpass(&h, &[format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}", pg.port)]);
    create_remote(&h, "app", pg.port, "postgres");
    let options = r#"{"name": "worker_spi worker 1", "type": "worker_spi", "flags": ["shmem", "database"]}"#;
    let pid = h.launch("worker_spi", "worker_spi_main", 1, options);
    h.wait_log("worker_spi worker 1 initialized with table \"schema1_counted\"");
    let server = pg.login();
    server.sql("postgres", "INSERT INTO schema1_counted VALUES ('delta', 5), ('delta', 2)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 7");
    server.sql("postgres", "INSERT INTO schema1_counted VALUES ('delta', 3)");
    h.wait_log("worker_spi worker 1: count in schema1_counted is now 10");
    // Folded on the server: one total row, no deltas left.
    assert_eq!(server.sql("postgres", "SELECT type, value FROM schema1_counted"), "total|10");
    assert_eq!(h.activity(pid), format!("app|{}", os_user()));
    assert_no_password(&h, TEST_PASSWORD);
}

#[test]
fn a_server_down_or_refusing_at_connect_is_fatal_and_the_restart_rule_applies() {
    let pg = Postgres::start();
    let dir = module_dir();
    let h = host_on(&pg, dir.path());
    let down = free_tcp_port();
    create_remote(&h, "down", down, "postgres");
    // A wrong password for the server's template1 (the line for postgres stays right).
    write_pgpass(
        &h,
        &[
            format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}", pg.port),
            format!("127.0.0.1:{}:template1:{TEST_USER}:not-the-password", pg.port),
        ],
    );
    create_remote(&h, "refused", pg.port, "template1");

    h.register("c_pg_engine", "c_pg_engine_main", 0, &options("pge down", "down", "1"));
    let reason = format!(
        "FATAL:  could not connect to the server of database \"down\": connection to server at \"127.0.0.1\", \
         port {down} failed: Connection refused"
    );
    // Refused, exit code 1, started again after its restart interval: twice at least.
    let log = h.wait_log_count(&reason, 2);
    assert!(log.contains("background worker \"pge down\""), "{log}");

    h.register("c_pg_engine", "c_pg_engine_main", 0, &options("pge refused", "refused", r#""never""#));
    let log = h.wait_log(&format!(
        "FATAL:  could not connect to the server of database \"refused\": password authentication failed for user \
         \"{TEST_USER}\""
    ));
    // No crash cycle: these are ordinary exits.
    assert!(!log.contains("terminating any other active server processes"), "{log}");
    assert_no_password(&h, TEST_PASSWORD);
    assert_no_password(&h, "not-the-password");
}

#[test]
fn server_restart_mid_transaction_is_08006_and_kill_9_commits_nothing() {
    let mut pg = Postgres::start();
    let dir = module_dir();
    let h = host_on(&pg, dir.path());
    let server = pg.login();

    // The server restarts under a worker's open transaction: its next statement gets 08006, it exits as coded.
    let pid = h.launch("c_pg_engine", "c_pg_engine_hold", 0, &options("hold r", "app", r#""never""#));
    h.wait_log("c_pg_engine hold r: holding (insert returned 7)");
    pg.restart();
    let log = h.wait_log("c_pg_engine hold r: statement failed (-100): server closed the connection unexpectedly");
    assert!(log.contains("FATAL:  c_pg_engine hold r: lost the server, exiting"), "{log}");
    h.wait_exited_1(pid);
    assert_eq!(server.sql("postgres", "SELECT count(*) FROM pge_held"), "0");

    // kill -9 of a worker in a transaction: the host's crash cycle ends every worker (their connections close);
    // the server rolls back what each had open.
    let a = h.launch("c_pg_engine", "c_pg_engine_hold", 0, &options("hold a", "app", r#""never""#));
    let b = h.launch("c_pg_engine", "c_pg_engine_hold", 0, &options("hold b", "app", r#""never""#));
    h.wait_log("c_pg_engine hold a: holding (insert returned 7)");
    h.wait_log("c_pg_engine hold b: holding (insert returned 7)");
    let in_tx = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' \
                 OR (state = 'active' AND query = 'SELECT 1')";
    assert_ne!(server.sql("postgres", in_tx), "0", "the workers' transactions are open on the server");
    signal(a, SIGKILL);
    h.wait_log("terminating any other active server processes");
    wait_until("the server has no open transaction of the workers", || server.sql("postgres", in_tx) == "0");
    wait_until("the crash cycle ended the other worker", || !alive(b));
    assert_eq!(server.sql("postgres", "SELECT count(*) FROM pge_held"), "0");
    assert_no_password(&h, TEST_PASSWORD);
}

#[test]
fn a_termination_of_the_worker_ends_its_statement_on_the_server() {
    let pg = Postgres::start();
    let dir = module_dir();
    let h = host_on(&pg, dir.path());
    let server = pg.login();
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)' AND state = 'active'";
    // pg_terminate_backend of the worker (SIGTERM) while its SPI call waits for the server: the engine sends the
    // server a cancel request, the statement ends there, and the worker ends as SIGTERM ends it (FATAL, exit 1).
    let pid = h.launch("c_pg_engine", "c_pg_engine_sleep", 0, &options("sleeper", "app", r#""never""#));
    h.wait_log("c_pg_engine sleeper: sleeping");
    wait_until("the statement runs on the server", || server.sql("postgres", sleeping) == "1");
    h.sql(&format!("SELECT pg_terminate_backend({pid})"));
    h.wait_exited_1(pid);
    wait_until("the server's statement ended", || server.sql("postgres", sleeping) == "0");
    let log = h.log();
    assert!(log.contains("FATAL:  terminating background worker \"sleeper\" due to administrator command"), "{log}");
    assert!(!log.contains("c_pg_engine sleeper: sleep returned"), "the worker ended in the call:\n{log}");
    let canceled = "canceling statement due to user request";
    assert!(pg.log().contains(canceled), "the server canceled the statement:\n{}", pg.log());
}

/// A postgresql-engine database on a hot standby is as read-only as the server makes it: through the relay a
/// client reads and gets the server's own 25006 for a write; a bgw host in standby mode runs a
/// `consistent_state` worker against it (read-only SPI works).
#[test]
fn a_database_on_a_hot_standby_is_as_read_only_as_the_server_makes_it() {
    let primary = Postgres::start();
    primary.login().sql("postgres", "CREATE TABLE hot (v int); INSERT INTO hot VALUES (1), (2)");
    let standby = Postgres::standby_of(&primary);
    let replica = standby.login();
    wait_until("the standby to replay the rows", || {
        replica.psql("postgres", "SELECT count(*) FROM hot").ok().as_deref() == Some("2")
    });
    let dir = module_dir();
    let mut h = Host::start(Setup::new(BGW).tcp().library_path(dir.path()));
    let bgw = bgw_login(&h);
    write_pgpass(&h, &[format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}", standby.port)]);
    create_remote(&h, "ro", standby.port, "postgres");
    // The host itself restarts as a standby (its catalog is read-only there: the database was made before).
    assert_eq!(h.stop(libc::SIGINT), Some(0));
    std::fs::write(h.data().join("standby.signal"), "").unwrap();
    h.launch_postmaster(&[]);
    h.wait_log("database system is ready to accept read-only connections");
    // Clients, through the relay: reads work, a write gets the server's refusal.
    assert_eq!(bgw.sql("ro", "SELECT pg_is_in_recovery(), count(*) FROM hot"), "t|2");
    let err = bgw.psql("ro", "INSERT INTO hot VALUES (3)").unwrap_err();
    assert!(err.contains("cannot execute INSERT in a read-only transaction"), "{err}");
    // A consistent_state worker of the standby host runs against it.
    let options = r#"{"name": "reader", "extra": "ro", "flags": ["shmem", "database"], "start": "consistent_state"}"#;
    h.sql(&format!("SELECT bgw_register('c_pg_engine', 'c_pg_engine_bench', 50, '{options}')"));
    h.wait_log("c_pg_engine reader: bench 50 statements in");
    assert_eq!(primary.login().sql("postgres", "SELECT count(*) FROM hot"), "2");
}
