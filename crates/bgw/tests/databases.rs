//! Databases and roles at the front door: the catalog initdb creates, the connection checks with PostgreSQL's
//! messages and SQLSTATEs, and SQL running on the connected database's file, whose commits survive restarts and
//! a killed postmaster.

mod common;
use common::*;
use std::process::Command;

fn connect(h: &Host, user: &str, db: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new().host_path(h.data()).port(h.port).user(user).dbname(db).connect(postgres::NoTls)
}

/// The server's message of a failed connection.
fn message(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}

fn catalog(h: &Host) -> rusqlite::Connection {
    rusqlite::Connection::open(h.data().join("global/catalog.db")).unwrap()
}

#[test]
fn connection_checks_follow_postgres() {
    let h = Host::start(Setup::default());
    let me = os_user();
    assert!(connect(&h, &me, "postgres").is_ok());
    assert!(connect(&h, &me, "template1").is_ok());
    let e = connect(&h, &me, "nope").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::INVALID_CATALOG_NAME), "{e}");
    assert!(message(&e).contains("database \"nope\" does not exist"), "{e}");
    let e = connect(&h, "ghost", "postgres").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{e}");
    assert!(message(&e).contains("role \"ghost\" does not exist"), "{e}");
    // Flags in the catalog (the SQL to set them arrives with CREATE/ALTER ROLE and DATABASE).
    let c = catalog(&h);
    c.execute("INSERT INTO roles (oid, name, superuser, can_login) VALUES (16384, 'nologin', 0, 0)", []).unwrap();
    c.execute("UPDATE databases SET allow_connections = 0 WHERE name = 'template1'", []).unwrap();
    drop(c);
    let e = connect(&h, "nologin", "postgres").err().unwrap();
    assert!(message(&e).contains("role \"nologin\" is not permitted to log in"), "{e}");
    let e = connect(&h, &me, "template1").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE), "{e}");
    assert!(message(&e).contains("database \"template1\" is not currently accepting connections"), "{e}");
    // psql says the same.
    let out = Command::new("psql")
        .args(["-X", "-h"])
        .arg(h.data())
        .args(["-p", &h.port.to_string(), "-d", "nope", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("FATAL:  database \"nope\" does not exist"));
}

#[test]
fn committed_data_persists_across_sessions_restarts_and_a_killed_postmaster() {
    let mut h = Host::start(Setup::default());
    h.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two')");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "2", "a second session sees the first one's commits");
    // Each database is its own file.
    let me = os_user();
    let mut other = connect(&h, &me, "template1").unwrap();
    assert!(other.simple_query("SELECT count(*) FROM t").is_err());
    drop(other);
    h.stop(libc::SIGINT);
    h.launch_postmaster(&[]);
    h.wait_log_count("ready to accept connections", 2);
    h.sql("INSERT INTO t (v) VALUES ('three')");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "3");
    // kill -9 of the postmaster: committed rows survive.
    unsafe { libc::kill(h.pid(), libc::SIGKILL) };
    h.wait_exit();
    h.launch_postmaster(&[]);
    h.wait_log("database system was interrupted");
    h.wait_log_count("ready to accept connections", 3);
    assert_eq!(h.sql("SELECT group_concat(v, ',') FROM t"), "one,two,three");
}

#[test]
fn pg_stat_activity_shows_database_and_user() {
    let h = Host::start(Setup::default());
    let row = h.sql("SELECT datname, usename FROM pg_stat_activity WHERE pid = pg_backend_pid()");
    assert_eq!(row, format!("postgres|{}", os_user()));
    // Workers have no database connection (yet).
    h.sql("SELECT bgw_launch('bgw', 'sleeper', 0, '{\"name\":\"loner\"}')");
    assert_eq!(h.sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'loner' AND datname IS NULL"), "1");
}

#[test]
fn initdb_names_the_bootstrap_superuser() {
    let t = tempfile::Builder::new().prefix("bgwt").tempdir_in("/tmp").unwrap();
    let d = t.path().join("data");
    let out = Command::new(bgw_bin()).args(["initdb", "-U", "alice", "-D"]).arg(&d).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c = rusqlite::Connection::open(d.join("global/catalog.db")).unwrap();
    let (oid, superuser): (i64, bool) = c
        .query_row("SELECT oid, superuser FROM roles WHERE name = 'alice'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((oid, superuser), (10, true));
    let n: i64 = c.query_row("SELECT count(*) FROM databases", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
    assert!(d.join("base/5.db").is_file() && d.join("base/1.db").is_file());
}
