//! Session commands (issue 14, item 1): PostgreSQL's `SET` / `SET LOCAL` / `RESET` / `SHOW` / `SHOW ALL` /
//! `set_config` / `current_setting` / `DISCARD ALL` over a session's own settings, with PostgreSQL's SQLSTATEs;
//! pgjdbc's `SET extra_float_digits = 3`; a session's `statement_timeout` ending its own long query only; a
//! ParameterStatus message when `application_name` changes.
//!
//! No test asserts a time: the timeout test prints what it measured and bounds its wait generously.

use std::io::Write;
use std::time::Instant;

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A query that never ends by itself.
const RUNAWAY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

/// The SQLSTATE of a failed statement (panics on success).
fn code(result: Result<impl std::fmt::Debug, postgres::Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.as_db_error().map(|d| d.code().code().to_owned()).unwrap_or_else(|| e.to_string()),
    }
}

fn show(c: &mut postgres::Client, name: &str) -> String {
    c.query_one(&format!("SHOW {name}"), &[]).unwrap().get(0)
}

#[test]
fn set_show_reset_round_trips() {
    let h = Host::start(Setup::new(BGW));
    let mut c = h.client();
    // pgjdbc's first statement.
    c.batch_execute("SET extra_float_digits = 3").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "3");
    c.execute("SET extra_float_digits = 2", &[]).unwrap(); // the extended protocol too
    assert_eq!(show(&mut c, "extra_float_digits"), "2");

    let row = c.query_one("SHOW DateStyle", &[]).unwrap();
    assert_eq!(row.columns()[0].name(), "DateStyle");
    assert_eq!(row.get::<_, String>(0), "ISO, MDY");
    c.batch_execute("SET datestyle TO 'ISO'; SET TIME ZONE 'Etc/UTC'; SET search_path = \"$user\", public").unwrap();
    assert_eq!(show(&mut c, "timezone"), "Etc/UTC");
    assert_eq!(show(&mut c, "search_path"), "$user, public");
    c.batch_execute("SET application_name = 'app one'").unwrap();
    let current: String = c.query_one("SELECT current_setting('application_name')", &[]).unwrap().get(0);
    assert_eq!(current, "app one");

    // Host parameters a session may set, with the configuration file's units.
    c.batch_execute("SET statement_timeout = '2min'").unwrap();
    assert_eq!(show(&mut c, "statement_timeout"), "2min");
    c.batch_execute("SET lock_timeout TO 1500").unwrap();
    assert_eq!(show(&mut c, "lock_timeout"), "1500ms");
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(show(&mut c, "statement_timeout"), "0");
    let set: String = c.query_one("SELECT set_config('search_path', '', false)", &[]).unwrap().get(0);
    assert_eq!(set, ""); // pg_dump's
    c.batch_execute("RESET ALL").unwrap();
    assert_eq!(show(&mut c, "lock_timeout"), "0");
    assert_eq!(show(&mut c, "extra_float_digits"), "1");
    assert_eq!(show(&mut c, "search_path"), "\"$user\", public");

    // RESET goes back to the startup packet's application_name.
    let mut config = h.client_config(&os_user(), "postgres");
    config.application_name("from startup");
    let mut named = config.connect(postgres::NoTls).unwrap();
    named.batch_execute("SET application_name = 'changed'").unwrap();
    assert_eq!(show(&mut named, "application_name"), "changed");
    named.batch_execute("RESET application_name").unwrap();
    assert_eq!(show(&mut named, "application_name"), "from startup");

    let missing: Option<String> = c.query_one("SELECT current_setting('no_such', true)", &[]).unwrap().get(0);
    assert_eq!(missing, None);

    let all = c.query("SHOW ALL", &[]).unwrap();
    let names: Vec<&str> = all[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["name", "setting", "description"]);
    let find = |n: &str| all.iter().find(|r| r.get::<_, String>(0) == n).map(|r| r.get::<_, String>(1));
    assert_eq!(find("TimeZone").as_deref(), Some("UTC"));
    assert_eq!(find("statement_timeout").as_deref(), Some("0"));
    assert_eq!(find("server_encoding").as_deref(), Some("UTF8"));

    // psql shows them too.
    assert_eq!(h.sql("SET extra_float_digits = 3; SHOW extra_float_digits").lines().last(), Some("3"));
}

#[test]
fn set_local_and_rollback() {
    let h = Host::start(Setup::new(BGW));
    let mut c = h.client();
    c.batch_execute("BEGIN; SET LOCAL lock_timeout = '5s'").unwrap();
    assert_eq!(show(&mut c, "lock_timeout"), "5s");
    c.batch_execute("COMMIT").unwrap();
    assert_eq!(show(&mut c, "lock_timeout"), "0");

    c.batch_execute("BEGIN; SET application_name = 'rolled back'; SET extra_float_digits = 2; ROLLBACK").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "1");
    assert_eq!(show(&mut c, "application_name"), "");

    c.batch_execute("BEGIN; SET extra_float_digits = 2; COMMIT").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "2");

    // A failed block's SETs go with it.
    c.batch_execute("BEGIN; SET extra_float_digits = 3").unwrap();
    code(c.batch_execute("SELECT * FROM no_such_table"));
    c.batch_execute("ROLLBACK").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "2");

    // set_config(..., true) is SET LOCAL.
    c.batch_execute("BEGIN").unwrap();
    c.query_one("SELECT set_config('extra_float_digits', '3', true)", &[]).unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "3");
    c.batch_execute("COMMIT").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "2");

    // SET LOCAL outside a block: PostgreSQL's warning, nothing changes.
    let out = h.psql("SET LOCAL lock_timeout = 5; SHOW lock_timeout").unwrap();
    assert_eq!(out.lines().last(), Some("0"));
}

#[test]
fn errors_have_postgres_sqlstates() {
    let h = Host::start(Setup::new(BGW));
    let mut c = h.client();
    for (sql, expected) in [
        ("SET no_such_parameter = 1", "42704"),
        ("SHOW no_such_parameter", "42704"),
        ("SELECT current_setting('no_such_parameter')", "42704"),
        ("RESET no_such_parameter", "42704"),
        ("SET max_worker_processes = 3", "55P02"),
        ("SET restart_after_crash = off", "55P02"),
        ("SET server_version = '1'", "55P02"),
        ("SET is_superuser = on", "55P02"),
        ("SET statement_timeout = 'abc'", "22023"),
        ("SET statement_timeout = -1", "22023"),
        ("SET extra_float_digits = 9", "22023"),
        ("SET bytea_output = 'nah'", "22023"),
        // Valid in PostgreSQL, but SQLite's engine cannot honour them: refused, never silently accepted.
        ("SET client_encoding = 'LATIN1'", "0A000"),
        ("SET DateStyle = 'German'", "0A000"),
        ("SET TimeZone = 'Europe/Paris'", "0A000"),
        ("SET bytea_output = 'escape'", "0A000"),
        ("SET standard_conforming_strings = off", "0A000"),
        ("SET extra_float_digits = 0", "0A000"),
        ("SET search_path = app", "0A000"),
        ("SET default_transaction_isolation = 'chaos'", "22023"),
        ("SET x", "42601"),
    ] {
        assert_eq!(code(c.batch_execute(sql)), expected, "{sql}");
    }
    let err = c.batch_execute("SET restart_after_crash = off").unwrap_err();
    assert_eq!(err.as_db_error().unwrap().message(), "parameter \"restart_after_crash\" cannot be changed now");
    // (max_worker_processes is reloadable now, up to max_worker_slots: "cannot be changed now", as for
    // restart_after_crash; max_connections still needs a restart.)
    let err = c.batch_execute("SET max_worker_processes = 3").unwrap_err();
    assert_eq!(err.as_db_error().unwrap().message(), "parameter \"max_worker_processes\" cannot be changed now");
    let err = c.batch_execute("SET max_connections = 3").unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "parameter \"max_connections\" cannot be changed without restarting the server"
    );
    let err = c.batch_execute("SET foo = 1").unwrap_err();
    assert_eq!(err.as_db_error().unwrap().message(), "unrecognized configuration parameter \"foo\"");

    // DISCARD ALL: refused in a block, else resets the settings and drops prepared statements.
    c.batch_execute("BEGIN").unwrap();
    assert_eq!(code(c.batch_execute("DISCARD ALL")), "25001");
    c.batch_execute("ROLLBACK").unwrap();
    c.batch_execute("SET extra_float_digits = 3").unwrap();
    let prepared = c.prepare("SELECT 1").unwrap();
    c.batch_execute("DISCARD ALL").unwrap();
    assert_eq!(show(&mut c, "extra_float_digits"), "1");
    assert_eq!(code(c.query(&prepared, &[])), "26000");
}

#[test]
fn a_sessions_statement_timeout_is_its_own() {
    let h = Host::start(Setup::new(BGW));
    let mut limited = h.client();
    let mut other = h.client();
    limited.batch_execute("SET statement_timeout = '100ms'").unwrap();
    let start = Instant::now();
    let err = limited.query(RUNAWAY, &[]).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.as_db_error().map(|d| d.code().code()), Some("57014"), "{err}");
    println!("SET statement_timeout = '100ms': the runaway query ended after {:.1} ms", took.as_secs_f64() * 1e3);
    assert!(took < DEADLINE);
    // The other session has no limit: its long query runs past 100 ms.
    let start = Instant::now();
    other
        .query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000000) SELECT count(*) FROM c",
            &[],
        )
        .unwrap();
    println!("the other session's query ran {:.1} ms without a timeout", start.elapsed().as_secs_f64() * 1e3);
    limited.batch_execute("RESET statement_timeout").unwrap();
    limited.query_one("SELECT 1", &[]).unwrap();
}

#[test]
fn parameter_status_on_set_application_name() {
    let h = Host::start(Setup::new(BGW));
    let path = h.data().join(format!(".s.PGSQL.{}", h.port));
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(&wire::startup_message(&[("user", &os_user()), ("database", "postgres")])).unwrap();
    let until_ready = |s: &mut std::os::unix::net::UnixStream| {
        let mut statuses = Vec::new();
        loop {
            let (tag, body) = wire::read_message(s).expect("the server closed the connection");
            match tag {
                b'S' => {
                    let text = String::from_utf8(body).unwrap();
                    let mut parts = text.split('\0');
                    statuses.push((parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned()));
                }
                b'E' => panic!("error: {}", String::from_utf8_lossy(&body)),
                b'Z' => return statuses,
                _ => {}
            }
        }
    };
    let first = until_ready(&mut s);
    assert!(first.contains(&("application_name".to_owned(), String::new())), "{first:?}");
    s.write_all(&wire::message(b'Q', b"SET application_name = 'reporter'\0")).unwrap();
    let statuses = until_ready(&mut s);
    assert_eq!(statuses, [("application_name".to_owned(), "reporter".to_owned())]);
    // pg_stat_activity shows it.
    let out = h.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reporter'");
    assert_eq!(out, "1");
    // RESET returns to the startup packet's value (here none).
    s.write_all(&wire::message(b'Q', b"RESET application_name\0")).unwrap();
    assert_eq!(until_ready(&mut s), [("application_name".to_owned(), String::new())]);
    s.write_all(&wire::message(b'Q', b"SET application_name = 'reporter'\0")).unwrap();
    until_ready(&mut s);
    // A SET to the same value reports nothing; a rolled-back one reports the value restored.
    s.write_all(&wire::message(b'Q', b"SET application_name = 'reporter'\0")).unwrap();
    assert_eq!(until_ready(&mut s), []);
    s.write_all(&wire::message(b'Q', b"BEGIN; SET application_name = 'other'; ROLLBACK\0")).unwrap();
    let statuses = until_ready(&mut s);
    assert_eq!(statuses.last(), Some(&("application_name".to_owned(), "reporter".to_owned())));
}

#[test]
fn client_min_messages_filters_notices() {
    let h = Host::start(Setup::new(BGW));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    let mut config = h.client_config(&os_user(), "postgres");
    config.notice_callback(move |n| sink.lock().unwrap().push(n.code().code().to_owned()));
    let mut c = config.connect(postgres::NoTls).unwrap();
    // SET LOCAL outside a transaction block: PostgreSQL's WARNING 25P01, and nothing changes.
    c.batch_execute("SET LOCAL lock_timeout = 5").unwrap();
    assert_eq!(*seen.lock().unwrap(), ["25P01"]);
    c.batch_execute("SET client_min_messages = error; SET LOCAL lock_timeout = 5").unwrap();
    assert_eq!(*seen.lock().unwrap(), ["25P01"]);
    c.batch_execute("RESET client_min_messages; SET LOCAL lock_timeout = 5").unwrap();
    assert_eq!(*seen.lock().unwrap(), ["25P01", "25P01"]);
    assert_eq!(show(&mut c, "lock_timeout"), "0");
}

#[test]
fn a_sessions_idle_session_timeout_is_its_own() {
    let h = Host::start(Setup::new(BGW));
    let mut idle = h.client();
    let mut other = h.client();
    idle.batch_execute("SET idle_session_timeout = '200ms'").unwrap();
    let start = Instant::now();
    while !idle.is_closed() && idle.query_one("SELECT 1", &[]).is_ok() && start.elapsed() < DEADLINE {
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    let err = idle.query_one("SELECT 1", &[]).unwrap_err();
    println!("idle session after SET idle_session_timeout = '200ms': {err}");
    assert!(start.elapsed() < DEADLINE);
    // The other session, idle just as long, is still there.
    other.query_one("SELECT 1", &[]).unwrap();
}
