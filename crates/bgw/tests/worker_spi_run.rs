//! PostgreSQL's own sample background worker, `worker_spi` (PostgreSQL 13's source in `../shared/testdata/`), built
//! with its own Makefile through PGXS and bgw's `pg_config` with no file changed, and run by bgw as PostgreSQL
//! runs it (issue 16): preloaded, its two static workers create `schemaN.counted` and fold the deltas inserted
//! there into the total ("count in schema1.counted is now N" in the log), `CREATE EXTENSION worker_spi` and
//! `worker_spi_launch(3)` start a third, a reload of `worker_spi.naptime` takes effect, a termination and a fast
//! shutdown end them. Once with its database embedded (SQLite), once with it on a real PostgreSQL 15 server (a
//! postgresql-engine database: the workers' SQL is the server's).
//!
//! Every host and server is stopped when its test ends, also when it fails.

use bgw_test_support::*;
use std::path::{Path, PathBuf};

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn worker_spi_source() -> PathBuf {
    let dir = repo_root().join("../shared/testdata/worker_spi");
    assert!(
        dir.join("worker_spi.c").is_file(),
        "the test input {} is missing: the checkout must sit beside ../shared (the project's layout)",
        dir.display()
    );
    dir
}

/// Builds and installs an unmodified copy of worker_spi.
fn install_worker_spi() -> Installation {
    let inst = Installation::new(Path::new(BGW));
    inst.build(&worker_spi_source());
    inst
}

/// The host settings that preload worker_spi from `inst`, its workers on database `db`, napping an hour (so that
/// only a reload to a short naptime makes a later delta count soon).
fn preload(setup: Setup, inst: &Installation, db: &str) -> Setup {
    setup
        .library_path(&inst.lib_dir())
        .conf("extension_control_path", &format!("'{}'", inst.share_dir().display()))
        .conf("shared_preload_libraries", "'worker_spi'")
        .conf("worker_spi.database", &format!("'{db}'"))
        .conf("worker_spi.naptime", "3600")
}

/// Appends `line` to the host's configuration file and reloads.
fn reload_with(h: &Host, line: &str) {
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str(line);
    text.push('\n');
    std::fs::write(&conf, text).unwrap();
    let out = h.bgw(&["reload"]);
    assert!(out.status.success(), "{out:?}");
}

/// What the issue asks of worker_spi on a running host whose workers use a database that `sql(host, statement)`
/// runs statements on.
fn exercise(h: &mut Host, sql: &dyn Fn(&Host, &str) -> String) {
    let sql_on = |h: &Host, q: &str| sql(h, q);
    for n in [1, 2] {
        h.wait_log(&format!("worker_spi worker {n} initialized with schema{n}.counted"));
    }
    // The schema each created, seen through the catalogs.
    let schemas = "SELECT count(*) FROM pg_namespace WHERE nspname IN ('schema1', 'schema2')";
    wait_until(schemas, || sql_on(h, schemas) == "2");
    sql_on(h, "INSERT INTO schema1.counted VALUES ('total', 0), ('delta', 5), ('delta', 7)");
    // Napping an hour: the reload to one second wakes it (SIGHUP), and it counts.
    reload_with(h, "worker_spi.naptime = 1");
    h.wait_log("worker_spi worker 1: count in schema1.counted is now 12");
    // The new naptime is in effect: a delta inserted now is counted within seconds, not an hour.
    sql_on(h, "INSERT INTO schema1.counted VALUES ('delta', 30)");
    h.wait_log("worker_spi worker 1: count in schema1.counted is now 42");
    assert_eq!(sql_on(h, "SELECT type, value FROM schema1.counted ORDER BY type"), "total|42");

    // A third worker through the extension's SQL function (created on the host's embedded `postgres` database,
    // where the function runs: it registers a dynamic worker of the library, which connects to `db`).
    h.sql("CREATE EXTENSION worker_spi");
    let pid: i32 = h.sql("SELECT worker_spi_launch(3)").parse().unwrap();
    assert!(pid > 0);
    h.wait_log("worker_spi worker 3 initialized with schema3.counted");
    sql_on(h, "INSERT INTO schema3.counted VALUES ('total', 1), ('delta', 2)");
    h.wait_log("worker_spi worker 3: count in schema3.counted is now 3");

    // `bgw terminate` ends it (worker_spi's SIGTERM handler ends its loop; proc_exit(1)); it is not restarted.
    let handle = h.sql(&format!("SELECT slot || ':' || generation FROM bgw_workers WHERE pid = {pid}"));
    let out = h.bgw(&["terminate", &handle]);
    assert!(out.status.success(), "{out:?}");
    h.wait_log(&format!("(PID {pid}) exited with exit code 1"));
    let gone = format!("SELECT count(*) FROM bgw_workers WHERE pid = {pid}");
    wait_until(&gone, || h.sql(&gone) == "0");

    // A fast shutdown ends the static workers the same way, and the host.
    let statics: Vec<i32> = h
        .sql("SELECT pid FROM bgw_workers WHERE name LIKE 'worker_spi worker %' ORDER BY name")
        .lines()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(statics.len(), 2);
    assert_eq!(h.stop(SIGINT), Some(0));
    let log = h.log();
    for p in statics {
        assert!(log.contains(&format!("(PID {p}) exited with exit code 1")), "{log}");
    }
    assert!(log.contains("database system is shut down"), "{log}");
}

#[test]
fn worker_spi_runs_unmodified_on_an_embedded_database() {
    let inst = install_worker_spi();
    let mut h = Host::start(preload(Setup::new(BGW), &inst, "postgres"));
    exercise(&mut h, &|h: &Host, q: &str| h.sql(q));
}

#[test]
fn worker_spi_runs_unmodified_on_a_postgresql_server() {
    let inst = install_worker_spi();
    let pg = Postgres::start();
    // The database must exist before the preloaded workers connect: made on a first start, then the host is
    // started again with worker_spi preloaded.
    let mut h = Host::start(Setup::new(BGW));
    let pgpass = h.data().join("pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{}:postgres:{TEST_USER}:{TEST_PASSWORD}\n", pg.port)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.sql(&format!(
        "CREATE DATABASE spi WITH ENGINE = postgresql \
         CONNECTION = 'host=127.0.0.1 port={} dbname=postgres user={TEST_USER}'",
        pg.port
    ));
    assert_eq!(h.stop(SIGINT), Some(0));
    let conf = h.data().join("bgworker.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    for (k, v) in [
        ("dynamic_library_path", format!("'{}'", inst.lib_dir().display())),
        ("extension_control_path", format!("'{}'", inst.share_dir().display())),
        ("shared_preload_libraries", "'worker_spi'".to_string()),
        ("worker_spi.database", "'spi'".to_string()),
        ("worker_spi.naptime", "3600".to_string()),
    ] {
        text.push_str(&format!("{k} = {v}\n"));
    }
    std::fs::write(&conf, text).unwrap();
    h.launch_postmaster(&[]);
    h.wait_log_count("database system is ready to accept", 2);
    // The workers' tables are on the server: read them there.
    let server = pg.login();
    exercise(&mut h, &|_: &Host, q: &str| server.sql("postgres", q));
}
