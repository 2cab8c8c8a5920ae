//! Databases and roles at the front door: the catalog initdb creates, the connection checks with PostgreSQL's
//! messages and SQLSTATEs, and SQL running on the connected database's file, whose commits survive restarts and
//! a killed postmaster.

use bgw_test_support::*;
use std::process::Command;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The server's message of a failed connection.
fn message(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}

#[test]
fn connection_checks_follow_postgres() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    let me = os_user();
    assert!(h.connect(&me, "postgres").is_ok());
    assert!(h.connect(&me, "template1").is_ok());
    let e = h.connect(&me, "nope").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::INVALID_CATALOG_NAME), "{e}");
    assert!(message(&e).contains("database \"nope\" does not exist"), "{e}");
    // Peer authentication maps the OS user to the role of the same name, and no other.
    let e = h.connect("ghost", "postgres").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{e}");
    assert_eq!(message(&e), "Peer authentication failed for user \"ghost\"");
    h.wait_log(&format!("Provided user name (ghost) and authenticated user name ({me}) do not match."));
    // Flags in the catalog, set directly (the SQL commands have their own test).
    let c = h.catalog();
    let verifier = bgw::catalog::scram::verifier("pw");
    c.execute(
        "INSERT INTO roles (oid, name, superuser, can_login, password) VALUES (16384, 'nologin', 0, 0, ?1)",
        [&verifier],
    )
    .unwrap();
    c.execute("UPDATE databases SET allow_connections = 0 WHERE name = 'template1'", []).unwrap();
    drop(c);
    let e = tcp_client(port, "nologin", "pw").err().unwrap();
    assert_eq!(code(&e), "28000");
    assert!(message(&e).contains("role \"nologin\" is not permitted to log in"), "{e}");
    let e = h.connect(&me, "template1").err().unwrap();
    assert_eq!(e.code(), Some(&postgres::error::SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE), "{e}");
    assert!(message(&e).contains("database \"template1\" is not currently accepting connections"), "{e}");
    // psql says the same.
    let out = Command::new("psql")
        .args(["-X", "-h"])
        .arg(h.data())
        .args(["-p", &h.port.to_string(), "-d", "nope", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("FATAL:  database \"nope\" does not exist"));
}

#[test]
fn committed_data_persists_across_sessions_restarts_and_a_killed_postmaster() {
    let mut h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE t (id serial PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two')");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "2", "a second session sees the first one's commits");
    // Each database is its own file.
    let me = os_user();
    let mut other = h.connect(&me, "template1").unwrap();
    assert!(other.simple_query("SELECT count(*) FROM t").is_err());
    drop(other);
    h.stop(SIGINT);
    h.launch_postmaster(&[]);
    h.wait_log_count("ready to accept connections", 2);
    h.sql("INSERT INTO t (v) VALUES ('three')");
    assert_eq!(h.sql("SELECT count(*) FROM t"), "3");
    // kill -9 of the postmaster: committed rows survive.
    h.signal(SIGKILL);
    h.wait_exit();
    h.launch_postmaster(&[]);
    h.wait_log("database system was interrupted");
    h.wait_log_count("ready to accept connections", 3);
    assert_eq!(h.sql("SELECT string_agg(v, ',' ORDER BY id) FROM t"), "one,two,three");
}

#[test]
fn pg_stat_activity_shows_database_and_user() {
    let h = Host::start(Setup::new(BGW));
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
    let out = Command::new(BGW).args(["initdb", "-U", "alice", "-D"]).arg(&d).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let c = rusqlite::Connection::open(d.join("global/catalog.db")).unwrap();
    let (oid, superuser): (i64, bool) = c
        .query_row("SELECT oid, superuser FROM roles WHERE name = 'alice'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((oid, superuser), (10, true));
    let n: i64 = c.query_row("SELECT count(*) FROM databases", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
    assert!(d.join("base/5.db").is_file() && d.join("base/1.db").is_file());
}

fn code(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

#[test]
fn create_alter_drop_database() {
    let h = Host::start(Setup::new(BGW));
    let me = os_user();
    assert_eq!(h.sql("CREATE DATABASE app"), "CREATE DATABASE");
    let mut app = h.connect(&me, "app").unwrap();
    app.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)").unwrap();
    // Not while someone is connected to it, and not the database one is in.
    let mut admin = h.connect(&me, "postgres").unwrap();
    let e = admin.batch_execute("DROP DATABASE app").unwrap_err();
    assert_eq!(code(&e), "55006");
    assert_eq!(message(&e), "database \"app\" is being accessed by other users");
    assert_eq!(e.as_db_error().unwrap().detail(), Some("There is 1 other session using the database."));
    let e = app.batch_execute("DROP DATABASE app").unwrap_err();
    assert_eq!(message(&e), "cannot drop the currently open database");
    drop(app);
    // The departed session's backend has to exit before the drop may proceed.
    let start = std::time::Instant::now();
    while admin.batch_execute("DROP DATABASE app").is_err() {
        assert!(start.elapsed() < DEADLINE, "the drop never succeeded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let e = h.connect(&me, "app").err().unwrap();
    assert_eq!(message(&e), "database \"app\" does not exist");
    // ALLOW_CONNECTIONS, and the errors.
    admin.batch_execute("CREATE DATABASE closed WITH ALLOW_CONNECTIONS false").unwrap();
    assert_eq!(code(&h.connect(&me, "closed").err().unwrap()), "55000");
    admin.batch_execute("ALTER DATABASE closed ALLOW_CONNECTIONS true").unwrap();
    assert!(h.connect(&me, "closed").is_ok());
    assert_eq!(code(&admin.batch_execute("CREATE DATABASE postgres").unwrap_err()), "42P04");
    assert_eq!(code(&admin.batch_execute("DROP DATABASE nope").unwrap_err()), "3D000");
    admin.batch_execute("DROP DATABASE IF EXISTS nope").unwrap();
    assert_eq!(code(&admin.batch_execute("ALTER DATABASE nope ALLOW_CONNECTIONS false").unwrap_err()), "3D000");
    assert_eq!(code(&admin.batch_execute("CREATE DATABASE x WITH OWNER me").unwrap_err()), "42601");
    let e = admin.batch_execute("BEGIN; CREATE DATABASE inblock").unwrap_err();
    assert_eq!(message(&e), "CREATE DATABASE cannot run inside a transaction block");
}

#[test]
fn roles_and_privileges() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    let me = os_user();
    let mut admin = h.connect(&me, "postgres").unwrap();
    admin.batch_execute("CREATE ROLE bob LOGIN PASSWORD 'secret'; CREATE ROLE quiet PASSWORD 'q'").unwrap();
    let verifier: String =
        h.catalog().query_row("SELECT password FROM roles WHERE name = 'bob'", [], |r| r.get(0)).unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    assert!(!verifier.contains("secret"));
    // A role without LOGIN cannot connect (CREATE ROLE defaults to NOLOGIN).
    assert_eq!(message(&tcp_client(port, "quiet", "q").err().unwrap()), "role \"quiet\" is not permitted to log in");
    // bob is no superuser: catalog commands, worker registration and others' processes are refused.
    let mut bob = tcp_client(port, "bob", "secret").unwrap();
    for (sql, msg) in [
        ("CREATE DATABASE mine", "permission denied to create database"),
        ("CREATE ROLE eve", "permission denied to create role"),
        ("DROP ROLE quiet", "permission denied to drop role"),
        ("SELECT bgw_register('bgw', 'sleeper')", "permission denied to register background workers"),
        ("SELECT bgw_register('/tmp/x.so', 'f')", "permission denied to load a library by path"),
    ] {
        let e = bob.batch_execute(sql).unwrap_err();
        assert_eq!((code(&e).as_str(), message(&e).as_str()), ("42501", msg), "{sql}");
    }
    let admin_pid: i32 = admin.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let e = bob.batch_execute(&format!("SELECT pg_terminate_backend({admin_pid})")).unwrap_err();
    assert_eq!(message(&e), "permission denied to terminate process");
    // ALTER ROLE, DROP ROLE and their errors.
    admin.batch_execute("ALTER ROLE bob NOLOGIN").unwrap();
    drop(bob);
    assert_eq!(code(&tcp_client(port, "bob", "secret").err().unwrap()), "28000");
    assert_eq!(code(&admin.batch_execute("CREATE ROLE bob").unwrap_err()), "42710");
    assert_eq!(code(&admin.batch_execute("ALTER ROLE nobody_here LOGIN").unwrap_err()), "42704");
    assert_eq!(
        message(&admin.batch_execute(&format!("DROP ROLE \"{me}\"")).unwrap_err()),
        "current user cannot be dropped"
    );
    // A command that fails part-way changes nothing: bob is still there.
    assert_eq!(code(&admin.batch_execute("DROP ROLE bob, nobody_here").unwrap_err()), "42704");
    assert_eq!(code(&admin.batch_execute("CREATE ROLE bob").unwrap_err()), "42710");
    admin.batch_execute("DROP ROLE bob, quiet; DROP ROLE IF EXISTS bob").unwrap();
    // Dropped: the same failure as a wrong password (no hint whether the role exists).
    assert_eq!(code(&tcp_client(port, "bob", "secret").err().unwrap()), "28P01");
    // A new superuser may do what the bootstrap one does, except drop it.
    admin.batch_execute("CREATE ROLE boss SUPERUSER LOGIN PASSWORD 'b'").unwrap();
    let mut boss = tcp_client(port, "boss", "b").unwrap();
    boss.batch_execute("CREATE DATABASE bossdb").unwrap();
    let e = boss.batch_execute(&format!("DROP ROLE \"{me}\"")).unwrap_err();
    assert_eq!(code(&e), "2BP01");
}

#[test]
fn a_standby_is_read_only_until_promoted() {
    let mut h = Host::start(Setup::new(BGW));
    h.sql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
    h.stop(SIGINT);
    std::fs::write(h.data().join("standby.signal"), "").unwrap();
    h.launch_postmaster(&[]);
    h.wait_log("database system is ready to accept read-only connections");
    let mut c = h.connect(&os_user(), "postgres").unwrap();
    let read = c.query_one("SELECT CAST(count(*) AS TEXT) FROM t", &[]).unwrap();
    assert_eq!(read.get::<_, String>(0), "1");
    for (sql, msg) in [
        ("INSERT INTO t VALUES (2)", "cannot execute INSERT in a read-only transaction"),
        ("CREATE TABLE u (y int)", "cannot execute CREATE TABLE in a read-only transaction"),
        ("CREATE DATABASE d", "cannot execute CREATE DATABASE in a read-only transaction"),
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        assert_eq!((code(&e).as_str(), message(&e).as_str()), ("25006", msg), "{sql}");
    }
    // After promotion the same session writes.
    assert!(h.bgw(&["promote"]).status.success());
    c.batch_execute("INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(h.sql("SELECT count(*) FROM t"), "2");
}

#[test]
fn password_authentication_over_tcp() {
    let h = Host::start(Setup::new(BGW).tcp());
    let port = h.port;
    h.wait_log(&format!("listening on IPv4 address \"127.0.0.1\", port {port}"));
    h.sql("CREATE ROLE alice LOGIN PASSWORD 'wonder'; CREATE ROLE carol PASSWORD 'x'; CREATE ROLE dave LOGIN");
    let tcp = |user: &str, password: &str| tcp_client(port, user, password);
    // A second real client over TCP with SCRAM-SHA-256.
    let mut alice = tcp("alice", "wonder").unwrap();
    let row = alice.query_one("SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()", &[]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("alice"));
    // Wrong password, unknown role and a role without password all fail alike; NOLOGIN fails after the exchange.
    for (user, password) in [("alice", "wrong"), ("ghost", "wonder"), ("dave", "")] {
        let e = tcp(user, password).err().unwrap();
        assert_eq!(code(&e), "28P01", "{user}");
        assert_eq!(message(&e), format!("password authentication failed for user \"{user}\""));
    }
    assert_eq!(message(&tcp("carol", "x").err().unwrap()), "role \"carol\" is not permitted to log in");
    // psql too.
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "alice", "-d", "postgres"])
        .args(["-c", "SELECT 42"])
        .env("PGPASSWORD", "wonder")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "42", "{}", stderr(&out));
}

#[test]
fn bad_listen_addresses_refuse_to_start() {
    let h = Host::init(&Setup::new(BGW).conf("listen_addresses", "'not-an-address'"));
    let out = Command::new(BGW).args(["start", "-D"]).arg(h.data()).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid value for parameter \"listen_addresses\""));
}

#[test]
fn initdb_pwfile_sets_the_bootstrap_superusers_password() {
    let port = free_tcp_port();
    let t = tempfile::Builder::new().prefix("bgwt").tempdir_in("/tmp").unwrap();
    let pw = t.path().join("pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    let d = t.path().join("data");
    let out =
        Command::new(BGW).args(["initdb", "-U", "admin", "--pwfile"]).arg(&pw).arg("-D").arg(&d).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: String = rusqlite::Connection::open(d.join("global/catalog.db"))
        .unwrap()
        .query_row("SELECT password FROM roles WHERE name = 'admin'", [], |r| r.get(0))
        .unwrap();
    assert!(v.starts_with("SCRAM-SHA-256$"));
    // Over TCP, admin gets in with that password.
    let mut conf = std::fs::read_to_string(d.join("bgworker.conf")).unwrap();
    conf.push_str(&format!("port = {port}\nlisten_addresses = '127.0.0.1'\n"));
    std::fs::write(d.join("bgworker.conf"), conf).unwrap();
    std::fs::write(d.join("workers.toml"), "").unwrap();
    let mut pm = Command::new(BGW).args(["start", "-D"]).arg(&d).stderr(std::process::Stdio::null()).spawn().unwrap();
    let connect = || tcp_client(port, "admin", "hunter2");
    let start = std::time::Instant::now();
    let ok = loop {
        if let Ok(c) = connect() {
            break Some(c);
        }
        if start.elapsed() > DEADLINE {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    signal(pm.id() as i32, SIGINT);
    let _ = pm.wait();
    assert!(ok.is_some(), "admin could not log in with the password from --pwfile");
}
