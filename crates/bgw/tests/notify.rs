//! LISTEN / NOTIFY / UNLISTEN and pg_notify between client sessions, as PostgreSQL delivers them: on commit, in
//! order, once per distinct (channel, payload) in a transaction, never on rollback, only within one database, to
//! idle sessions without a query to prompt them, and printed by psql.

use bgw_test_support::*;
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn backend_pid(c: &mut postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0)
}

/// The next notification an idle client receives without sending anything (the test fails after 20 s).
fn next(c: &mut postgres::Client) -> (i32, String, String) {
    let mut n = c.notifications();
    let got = n.timeout_iter(Duration::from_secs(20)).next().unwrap().expect("no notification arrived");
    (got.process_id(), got.channel().to_string(), got.payload().to_string())
}

#[test]
fn notifications_reach_idle_listeners_on_commit_in_order() {
    let h = Host::start(Setup::new(BGW));
    let mut a = h.connect(&os_user(), "postgres").unwrap();
    let mut b = h.connect(&os_user(), "postgres").unwrap();
    a.batch_execute("LISTEN jobs").unwrap();
    let b_pid = backend_pid(&mut b);

    let mut d = h.connect(&os_user(), "postgres").unwrap();
    d.batch_execute("LISTEN jobs").unwrap();

    // A plain NOTIFY reaches every idle listener, which sends nothing to prompt it.
    b.batch_execute("NOTIFY jobs, 'first'").unwrap();
    assert_eq!(next(&mut a), (b_pid, "jobs".into(), "first".into()));
    assert_eq!(next(&mut d), (b_pid, "jobs".into(), "first".into()));

    // Two transactions arrive in the order they commit, not the order they notified.
    let mut c = h.connect(&os_user(), "postgres").unwrap();
    b.batch_execute("BEGIN; NOTIFY jobs, 'sent first, committed second'").unwrap();
    c.batch_execute("BEGIN; NOTIFY jobs, 'sent second, committed first'; COMMIT").unwrap();
    b.batch_execute("COMMIT").unwrap();
    for listener in [&mut a, &mut d] {
        assert_eq!(next(listener).2, "sent second, committed first");
        assert_eq!(next(listener).2, "sent first, committed second");
    }
    d.batch_execute("UNLISTEN *").unwrap();

    // Inside a transaction nothing is sent until COMMIT; then in order, duplicates collapsed.
    b.batch_execute("BEGIN").unwrap();
    b.batch_execute("NOTIFY jobs, 'one'").unwrap();
    b.query("SELECT pg_notify('jobs', 'two')", &[]).unwrap();
    b.batch_execute("NOTIFY jobs, 'one'").unwrap();
    b.batch_execute("NOTIFY other, 'not listened'").unwrap();
    // A round trip of the listener's own: anything already sent would arrive before its reply.
    a.batch_execute("SELECT 1").unwrap();
    assert_eq!(a.notifications().len(), 0);
    b.batch_execute("COMMIT").unwrap();
    assert_eq!(next(&mut a).2, "one");
    assert_eq!(next(&mut a).2, "two");

    // A rolled-back transaction sends nothing: the next notification is the one after it.
    b.batch_execute("BEGIN; NOTIFY jobs, 'rolled back'; ROLLBACK").unwrap();
    b.batch_execute("BEGIN").unwrap();
    b.batch_execute("NOTIFY jobs, 'failed block'").unwrap();
    assert!(b.batch_execute("SELECT * FROM no_such_table").is_err());
    b.batch_execute("COMMIT").unwrap(); // a failed block's COMMIT rolls back
    b.batch_execute("NOTIFY jobs, 'after'").unwrap();
    assert_eq!(next(&mut a).2, "after");

    // UNLISTEN stops delivery; the listener hears the channel it still listens on.
    a.batch_execute("LISTEN later; UNLISTEN jobs").unwrap();
    b.batch_execute("NOTIFY jobs, 'unheard'; NOTIFY later, 'heard'").unwrap();
    assert_eq!(next(&mut a).1, "later");
    a.batch_execute("UNLISTEN *").unwrap();
    b.batch_execute("NOTIFY later, 'unheard too'").unwrap();
    a.batch_execute("LISTEN jobs").unwrap();
    b.batch_execute("NOTIFY jobs, 'last'").unwrap();
    assert_eq!(next(&mut a).2, "last");

    // A session hears its own notifications, at the end of its own transaction.
    let a_pid = backend_pid(&mut a);
    a.batch_execute("NOTIFY jobs, 'self'").unwrap();
    assert_eq!(next(&mut a), (a_pid, "jobs".into(), "self".into()));
}

#[test]
fn notifications_stay_within_their_database() {
    let h = Host::start(Setup::new(BGW));
    h.sql("CREATE DATABASE other");
    let mut a = h.connect(&os_user(), "postgres").unwrap();
    let mut b = h.connect(&os_user(), "other").unwrap();
    a.batch_execute("LISTEN jobs").unwrap();
    b.batch_execute("NOTIFY jobs, 'elsewhere'").unwrap();
    let mut c = h.connect(&os_user(), "postgres").unwrap();
    c.batch_execute("NOTIFY jobs, 'here'").unwrap();
    assert_eq!(next(&mut a).2, "here");
}

/// SQLSTATE and message of a failed call.
fn code<T>(r: Result<T, postgres::Error>) -> (String, String) {
    let e = r.err().expect("expected an error");
    let d = e.as_db_error().expect("a server error");
    (d.code().code().to_string(), d.message().to_string())
}

#[test]
fn bad_notify_calls_get_postgres_errors() {
    let h = Host::start(Setup::new(BGW));
    let mut c = h.connect(&os_user(), "postgres").unwrap();
    assert_eq!(
        code(c.query("SELECT pg_notify('', 'x')", &[])),
        ("22023".into(), "channel name cannot be empty".into())
    );
    c.batch_execute(&format!("NOTIFY jobs, '{}'", "x".repeat(7999))).unwrap();
    let long = "x".repeat(8000);
    assert_eq!(
        code(c.batch_execute(&format!("NOTIFY jobs, '{long}'"))),
        ("22023".into(), "payload string too long".into())
    );
    let name = "c".repeat(64);
    assert_eq!(
        code(c.query(&format!("SELECT pg_notify('{name}', 'x')"), &[])),
        ("22023".into(), "channel name too long".into())
    );
    // The session goes on.
    assert!(backend_pid(&mut c) > 0);
}

#[test]
fn psql_prints_asynchronous_notifications() {
    let h = Host::start(Setup::new(BGW));
    let out = h.sql("LISTEN c; NOTIFY c, 'hi'");
    assert!(
        out.contains("Asynchronous notification \"c\" with payload \"hi\" received from server process with PID"),
        "{out}"
    );
}

#[test]
fn listen_and_unlisten_take_effect_at_commit() {
    let h = Host::start(Setup::new(BGW));
    let mut a = h.connect(&os_user(), "postgres").unwrap();
    let mut b = h.connect(&os_user(), "postgres").unwrap();
    // A rolled-back LISTEN listens to nothing; a LISTEN in a block starts at COMMIT: what others committed
    // before it is not heard (by a session that listened to nothing before).
    a.batch_execute("BEGIN; LISTEN jobs; ROLLBACK").unwrap();
    b.batch_execute("NOTIFY jobs, 'unheard'").unwrap();
    a.batch_execute("BEGIN; LISTEN jobs").unwrap();
    b.batch_execute("NOTIFY jobs, 'before the listener committed'").unwrap();
    a.batch_execute("COMMIT").unwrap();
    b.batch_execute("NOTIFY jobs, 'after'").unwrap();
    assert_eq!(next(&mut a).2, "after");
    // A rolled-back UNLISTEN changes nothing.
    a.batch_execute("BEGIN; UNLISTEN jobs; ROLLBACK").unwrap();
    b.batch_execute("NOTIFY jobs, 'still heard'").unwrap();
    assert_eq!(next(&mut a).2, "still heard");
    // A session in a transaction block gets nothing until it ends; what arrived meanwhile is checked against
    // the channels it listens to then (none, after this UNLISTEN *), as PostgreSQL does.
    a.batch_execute("BEGIN; UNLISTEN *").unwrap();
    b.batch_execute("NOTIFY jobs, 'sent while the listener was in a block'").unwrap();
    a.batch_execute("COMMIT").unwrap();
    b.batch_execute("NOTIFY jobs, 'gone'; NOTIFY marker, 'gone too'").unwrap();
    a.batch_execute("LISTEN marker").unwrap();
    b.batch_execute("NOTIFY marker, '2'").unwrap();
    assert_eq!(next(&mut a).2, "2");
}
