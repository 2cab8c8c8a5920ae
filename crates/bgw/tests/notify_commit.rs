//! A COMMIT whose notifications do not fit in the queue fails, as PostgreSQL's PreCommit_Notify makes it fail:
//! ERROR 54000 "too many notifications in the NOTIFY queue", the transaction rolled back (none of its data
//! visible), and no listener loses a notification it has not read. Committers racing for the last room of the
//! queue never publish more than it holds.

use bgw_test_support::*;
use std::time::{Duration, Instant};

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn code(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_default()
}

fn message(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default()
}

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

/// The next notification an idle client receives (the test fails after 20 s).
fn next_notification(c: &mut postgres::Client) -> (String, String) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut n = c.notifications();
    let got = n.timeout_iter(Duration::from_secs(20)).next().unwrap().expect("no notification arrived");
    (got.channel().to_string(), got.payload().to_string())
}

/// `count(pg_notify(channel, payload))` over `n` rows.
fn flood(n: u32) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT count(pg_notify('ch', 'n' || x)) FROM c"
    )
}

fn is_queue_full(e: &postgres::Error) -> bool {
    (code(e), message(e)) == ("54000".into(), "too many notifications in the NOTIFY queue".into())
}

/// A listener in a transaction block (it reads nothing) with one unread notification; the queue then holds room
/// for 1,023 more entries before that one.
fn stalled_listener(h: &Host) -> postgres::Client {
    let mut listener = h.client();
    listener.batch_execute("LISTEN ch").unwrap();
    listener.batch_execute("BEGIN").unwrap();
    h.sql("NOTIFY ch, 'keep me'");
    listener
}

fn sender(h: &Host) -> postgres::Client {
    h.client_config(&os_user(), "template1").connect(postgres::NoTls).unwrap()
}

#[test]
fn a_refused_commit_leaves_no_data_and_a_later_commit_succeeds_once_the_listener_has_read() {
    let h = Host::start(Setup::new(BGW));
    let mut listener = stalled_listener(&h);
    let mut s = sender(&h);
    s.batch_execute("CREATE TABLE t (x int)").unwrap();
    // Fills the queue's room exactly: 1,023 entries after the unread one.
    for n in [500, 500, 23] {
        s.batch_execute(&flood(n)).unwrap();
    }
    // A transaction without notifications commits as usual.
    s.batch_execute("INSERT INTO t VALUES (2)").unwrap();

    // An explicit block: its COMMIT fails, and its data is rolled back.
    s.batch_execute("BEGIN; INSERT INTO t VALUES (1); SELECT pg_notify('ch', 'blocked')").unwrap();
    let started = Instant::now();
    let e = s.batch_execute("COMMIT").unwrap_err();
    println!("a refused COMMIT took {:?}", started.elapsed());
    assert!(is_queue_full(&e), "{e:?}");
    assert_eq!(count(&mut s, "SELECT count(*) FROM t WHERE x = 1"), 0, "the refused transaction's row is absent");
    // The block ended with the failed COMMIT (the session is not left in a failed block).
    s.batch_execute("SELECT 1").unwrap();
    // END is COMMIT's other spelling.
    s.batch_execute("BEGIN; INSERT INTO t VALUES (1); SELECT pg_notify('ch', 'blocked too')").unwrap();
    assert!(is_queue_full(&s.batch_execute("END").unwrap_err()));
    // A statement's own transaction that writes and notifies: refused at its implicit COMMIT, its rows absent.
    let e = s
        .batch_execute("INSERT INTO t SELECT 1 FROM (SELECT count(pg_notify('ch', 'from an insert')) AS n)")
        .unwrap_err();
    assert!(is_queue_full(&e), "{e:?}");
    assert_eq!(count(&mut s, "SELECT count(*) FROM t WHERE x = 1"), 0);
    assert_eq!(count(&mut s, "SELECT count(*) FROM t WHERE x = 2"), 1);

    // The listener reads its notification; then the same transaction commits, data and notification.
    listener.batch_execute("COMMIT").unwrap();
    assert_eq!(next_notification(&mut listener), ("ch".into(), "keep me".into()));
    // Its position is written right after it reads, before the notification reaches the client.
    s.batch_execute("BEGIN; INSERT INTO t VALUES (1); SELECT pg_notify('ch', 'after')").unwrap();
    s.batch_execute("COMMIT").unwrap();
    assert_eq!(count(&mut s, "SELECT count(*) FROM t WHERE x = 1"), 1);
}

#[test]
fn committers_racing_for_the_last_room_never_overwrite_an_unread_notification() {
    let h = Host::start(Setup::new(BGW));
    let mut listener = stalled_listener(&h);
    sender(&h).batch_execute("CREATE TABLE t (x int)").unwrap();
    // 20 transactions of 100 notifications each, from 4 sessions at once: room for 10 of them.
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut s = sender(&h);
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0, 0);
                for _ in 0..5 {
                    s.batch_execute(&format!("BEGIN; INSERT INTO t VALUES (1); {}", flood(100))).unwrap();
                    match s.batch_execute("COMMIT") {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            assert!(is_queue_full(&e), "{e:?}");
                            refused += 1;
                        }
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let (ok, refused) = threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("20 racing commits of 100 notifications: {ok} committed, {refused} refused, in {:?}", started.elapsed());
    assert_eq!((ok, refused), (10, 10));
    assert_eq!(count(&mut sender(&h), "SELECT count(*) FROM t"), 10, "one row per committed transaction");
    listener.batch_execute("COMMIT").unwrap();
    assert_eq!(next_notification(&mut listener), ("ch".into(), "keep me".into()));
}

#[test]
fn a_workers_commit_follows_the_same_rule() {
    let dir = module_tempdir();
    build_c_module(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/c_spi.c"),
        dir.path(),
        "c_spi",
    );
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    h.sql("CREATE TABLE spi_full (x int)");
    let mut listener = stalled_listener(&h);
    let mut s = sender(&h);
    for n in [500, 500, 23] {
        s.batch_execute(&flood(n)).unwrap();
    }
    let options = r#"{"name": "full", "flags": ["shmem", "database"]}"#;
    let pid: i32 = h
        .psql(&format!("SELECT bgw_launch('c_spi', 'c_spi_notify_full', 0, '{options}')"))
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", h.log()))
        .parse()
        .unwrap();
    let log = h.wait_exited_1(pid);
    assert!(
        log.contains("c_spi notify_full: insert=") && log.contains(" too many notifications in the NOTIFY queue\n"),
        "{log}"
    );
    assert!(log.contains("c_spi notify_full: committing"), "{log}");
    assert!(log.contains("ERROR:  too many notifications in the NOTIFY queue"), "{log}");
    assert!(!log.contains("(wrong)"), "{log}");
    assert_eq!(h.sql("SELECT count(*) FROM spi_full"), "0", "neither the statement's row nor the transaction's");
    listener.batch_execute("COMMIT").unwrap();
    assert_eq!(next_notification(&mut listener), ("ch".into(), "keep me".into()));
}
