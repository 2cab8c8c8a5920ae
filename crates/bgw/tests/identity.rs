//! Identity by oid, `DROP DATABASE` against connected processes, per-database notifications, lock waits and
//! SQLite's knobs, against the real `bgw` binary (issue 13, attacks 4, 5, 6 and 8, and superuser-only module
//! parameters).

use bgw_test_support::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn code(e: &postgres::Error) -> String {
    e.code().map(|c| c.code().to_string()).unwrap_or_default()
}

fn message(e: &postgres::Error) -> String {
    e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())
}

fn detail(e: &postgres::Error) -> String {
    e.as_db_error().and_then(|d| d.detail()).unwrap_or_default().to_string()
}

fn one(c: &mut postgres::Client, sql: &str) -> Option<String> {
    c.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

#[test]
fn a_role_whose_name_prints_alike_is_another_role() {
    let h = Host::start(Setup::new(BGW).tcp());
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    let port = h.port;
    h.sql("CREATE ROLE \"bossé\" SUPERUSER LOGIN PASSWORD 'b'; CREATE ROLE \"boss??\" LOGIN PASSWORD 'q'");
    let mut boss = tcp_client(port, "bossé", "b").unwrap();
    let boss_pid: i32 = boss.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    boss.batch_execute("SELECT 'the secret plan'").unwrap();
    let mut fake = tcp_client(port, "boss??", "q").unwrap();
    let sql = format!("SELECT query FROM pg_stat_activity WHERE pid = {boss_pid}");
    assert_eq!(one(&mut fake, &sql).as_deref(), Some("<insufficient privilege>"));
    // Names as stored, not a printable copy.
    let sql = format!("SELECT usename FROM pg_stat_activity WHERE pid = {boss_pid}");
    assert_eq!(one(&mut fake, &sql).as_deref(), Some("bossé"));
    assert_eq!(
        one(&mut fake, "SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()").as_deref(),
        Some("boss??")
    );
    let e = fake.batch_execute(&format!("SELECT pg_terminate_backend({boss_pid})")).unwrap_err();
    assert_eq!((code(&e), message(&e)), ("42501".into(), "permission denied to terminate process".into()));
    // The superuser's session is untouched and sees its own query; the fake role still ends its own sessions.
    assert_eq!(one(&mut boss, "SELECT 'still here'").as_deref(), Some("still here"));
    let mut fake2 = tcp_client(port, "boss??", "q").unwrap();
    let fake2_pid: i32 = fake2.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let r: bool = fake.query_one(&format!("SELECT pg_terminate_backend({fake2_pid})"), &[]).unwrap().get(0);
    assert!(r);
    wait_until("the terminated session to end", || !alive(fake2_pid));
    assert!(fake2.batch_execute("SELECT 1").is_err());
    println!("figure: {} acknowledged commits checked", ledger.check());
}

/// A session connected to `name` keeps the database from being dropped; once it leaves, the drop succeeds.
fn drop_refused_while_a_session_is_connected(h: &Host, name: &str) {
    let me = os_user();
    let quoted = format!("\"{name}\"");
    let mut admin = h.client();
    admin.batch_execute(&format!("CREATE DATABASE {quoted}")).unwrap();
    let mut user = h.connect(&me, name).unwrap();
    user.batch_execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1)").unwrap();
    let e = admin.batch_execute(&format!("DROP DATABASE {quoted}")).unwrap_err();
    assert_eq!(code(&e), "55006", "{name}: {e}");
    assert_eq!(message(&e), format!("database \"{name}\" is being accessed by other users"));
    assert_eq!(detail(&e), "There is 1 other session using the database.");
    // The session's commits stay.
    user.batch_execute("INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(one(&mut user, "SELECT 'n=' || sum(a) FROM t").as_deref(), Some("n=3"));
    drop(user);
    // The session that just left may still be exiting: the drop waits for it as PostgreSQL's does.
    admin.batch_execute(&format!("DROP DATABASE {quoted}")).unwrap();
    let e = h.connect(&me, name).err().unwrap();
    assert_eq!(code(&e), "3D000", "{e}");
}

#[test]
fn drop_database_is_refused_while_sessions_or_workers_are_connected() {
    let dir = module_tempdir();
    build_c_module(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/c_spi.c"), dir.path(), "c_spi");
    let h = Host::start(Setup::new(BGW).library_path(dir.path()));
    drop_refused_while_a_session_is_connected(&h, "dbé");
    let long = format!("d{}", "x".repeat(69));
    drop_refused_while_a_session_is_connected(&h, &long);
    // A worker connected by oid.
    h.sql("CREATE DATABASE \"wdbé\"");
    let oid: u32 = h.catalog().query_row("SELECT oid FROM databases WHERE name = 'wdbé'", [], |r| r.get(0)).unwrap();
    let options = format!(r#"{{"name": "held", "extra": "{oid};", "flags": ["shmem", "database"]}}"#);
    let pid: i32 = h.sql(&format!("SELECT bgw_launch('c_spi', 'c_spi_by_oid', 0, '{options}')")).parse().unwrap();
    h.wait_log("c_spi held: done");
    let e = h.psql("DROP DATABASE \"wdbé\"").unwrap_err();
    assert!(e.contains("database \"wdbé\" is being accessed by other users"), "{e}");
    assert!(e.contains("There is 1 other session using the database."), "{e}");
    h.sql(&format!("SELECT pg_terminate_backend({pid})"));
    wait_until("the worker to exit", || !alive(pid));
    assert_eq!(h.sql("DROP DATABASE \"wdbé\""), "DROP DATABASE");
}

#[test]
fn drop_database_races_with_connecting_sessions_safely() {
    let h = Host::start(Setup::new(BGW));
    let me = os_user();
    let config = h.client_config(&me, "racy");
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicBool::new(false));
    let (connected, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    h.sql("CREATE DATABASE racy");
    let connector = {
        let (stop, open, connected, refused) = (stop.clone(), open.clone(), connected.clone(), refused.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                match config.connect(postgres::NoTls) {
                    Ok(mut c) => {
                        open.store(true, Ordering::SeqCst);
                        connected.fetch_add(1, Ordering::Relaxed);
                        let _ = c.batch_execute("CREATE TABLE IF NOT EXISTS t (a int); INSERT INTO t VALUES (1)");
                        std::thread::sleep(Duration::from_millis(5));
                        open.store(false, Ordering::SeqCst);
                        drop(c);
                    }
                    Err(e) => {
                        assert_eq!(code(&e), "3D000", "{e}");
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut admin = h.client();
    let (mut drops, mut busy) = (0, 0);
    let started = Instant::now();
    while drops < 15 && started.elapsed() < Duration::from_secs(100) {
        match admin.batch_execute("DROP DATABASE racy") {
            Ok(()) => {
                assert!(!open.load(Ordering::SeqCst), "a session was connected while its database was dropped");
                drops += 1;
                admin.batch_execute("CREATE DATABASE racy").unwrap();
                // Let sessions connect, to drop while they come and go.
                std::thread::sleep(Duration::from_millis(10 + 7 * drops));
            }
            Err(e) => {
                assert_eq!(code(&e), "55006", "{e}");
                busy += 1;
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    connector.join().unwrap();
    println!(
        "drop race: {drops} drops, {busy} refused drops, {} connections, {} refused connections in {:?}",
        connected.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(drops > 0);
}

/// The next notification an idle client receives (the test fails after 20 s).
fn next_notification(c: &mut postgres::Client) -> (String, String) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut n = c.notifications();
    let got = n.timeout_iter(Duration::from_secs(20)).next().unwrap().expect("no notification arrived");
    (got.channel().to_string(), got.payload().to_string())
}

/// `count(pg_notify(channel, payload))` over `n` rows, the payload `x % distinct`.
fn flood(channel: &str, n: u32, distinct: u32) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
         SELECT count(pg_notify('{channel}', 'n' || (x % {distinct}))) FROM c"
    )
}

#[test]
fn another_database_cannot_make_a_listener_lose_a_notification() {
    let h = Host::start(Setup::new(BGW).tcp());
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    h.sql("CREATE ROLE mallory LOGIN PASSWORD 'm'");
    let mut listener = h.client();
    listener.batch_execute("LISTEN ch").unwrap();
    let mut boss = h.client();
    boss.batch_execute("NOTIFY ch, 'from the boss'").unwrap();
    let mut mallory = postgres::Config::new()
        .host("127.0.0.1")
        .port(h.port)
        .user("mallory")
        .password("m")
        .dbname("template1")
        .connect(postgres::NoTls)
        .unwrap();
    // 1,100 in one transaction: refused whole with PostgreSQL's error.
    mallory.batch_execute("BEGIN").unwrap();
    let e = mallory.batch_execute(&flood("ch", 1100, 1100)).unwrap_err();
    assert_eq!((code(&e), message(&e)), ("54000".into(), "too many notifications in the NOTIFY queue".into()));
    mallory.batch_execute("ROLLBACK").unwrap();
    // Many smaller transactions wrap the ring: they never overwrite what the listener has not read.
    for _ in 0..6 {
        mallory.batch_execute(&flood("ch", 500, 500)).unwrap();
    }
    boss.batch_execute("NOTIFY ch, 'second'").unwrap();
    assert_eq!(next_notification(&mut listener), ("ch".into(), "from the boss".into()));
    assert_eq!(next_notification(&mut listener), ("ch".into(), "second".into()));
    println!("figure: {} acknowledged commits checked", ledger.check());
}

#[test]
fn a_transactions_notifications_are_deduplicated_in_linear_time() {
    let h = Host::start(Setup::new(BGW));
    let mut c = h.client();
    let started = Instant::now();
    c.batch_execute(&format!("BEGIN; {}; COMMIT", flood("dup", 100_000, 500))).unwrap();
    let repeated = started.elapsed();
    let started = Instant::now();
    c.batch_execute("BEGIN").unwrap();
    let e = c.batch_execute(&flood("dup", 100_000, 100_000)).unwrap_err();
    assert_eq!(code(&e), "54000");
    c.batch_execute("ROLLBACK").unwrap();
    let distinct = started.elapsed();
    println!("100,000 notifications in one transaction: 500 distinct sent in {repeated:?}; 100,000 distinct refused (54000) in {distinct:?}");
}

#[test]
fn a_writer_blocked_by_an_idle_transaction_gets_a_lock_timeout_not_an_internal_error() {
    let h = Host::start(Setup::new(BGW));
    let mut holder = h.client();
    holder.batch_execute("CREATE TABLE t (a int); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)").unwrap();
    let mut writer = h.client();
    // The session's own wait, shortened (the default is 60 s).
    writer.batch_execute("PRAGMA busy_timeout = 200").unwrap();
    let started = Instant::now();
    let e = writer.batch_execute("INSERT INTO t VALUES (2)").unwrap_err();
    println!("blocked writer failed after {:?}: {} {}", started.elapsed(), code(&e), message(&e));
    assert_eq!((code(&e), message(&e)), ("55P03".into(), "canceling statement due to lock timeout".into()));
    assert!(detail(&e).contains("database is locked"), "{e:?}");
    // The writer's session goes on; once the holder ends, writes pass.
    holder.batch_execute("COMMIT").unwrap();
    writer.batch_execute("INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(one(&mut writer, "SELECT 'n=' || count(*) FROM t").as_deref(), Some("n=2"));
}

#[test]
fn non_superusers_cannot_touch_sqlites_files_durability_or_paths() {
    // SQLite's table-valued PRAGMA functions are reachable only in the SQLite dialect (an operator's choice); the
    // limits must hold there.
    let h = Host::start(Setup::new(BGW).tcp().conf("sql_dialect", "'sqlite'"));
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'b'");
    let mut bob = tcp_client(h.port, "bob", "b").unwrap();
    bob.batch_execute("CREATE TABLE t (a int)").unwrap();
    let set_denied = |name: &str| format!("permission denied to set parameter \"{name}\"");
    for (sql, name) in [
        ("PRAGMA temp_store_directory = '/tmp'", "temp_store_directory"),
        ("PRAGMA data_store_directory = '/tmp'", "data_store_directory"),
        ("PRAGMA journal_mode = delete", "journal_mode"),
        ("PRAGMA synchronous = off", "synchronous"),
        ("PRAGMA mmap_size = 1000000000", "mmap_size"),
        ("PRAGMA cache_size = -1000000", "cache_size"),
        ("PRAGMA locking_mode = exclusive", "locking_mode"),
        ("PRAGMA wal_autocheckpoint = 0", "wal_autocheckpoint"),
        ("PRAGMA temp_store = file", "temp_store"),
        ("PRAGMA wal_checkpoint(truncate)", "wal_checkpoint"),
        ("PRAGMA hard_heap_limit = 1", "hard_heap_limit"),
        // The engine's lock waits (lock_timeout, interrupts) and its read-only state are not a session's to change.
        ("PRAGMA busy_timeout = 100", "busy_timeout"),
        ("PRAGMA query_only = 0", "query_only"),
    ] {
        let e = bob.batch_execute(sql).unwrap_err();
        assert_eq!((code(&e), message(&e)), ("42501".into(), set_denied(name)), "{sql}");
    }
    let examine = "must be superuser or have privileges of pg_read_all_settings to examine \"database_list\"";
    for sql in ["PRAGMA database_list", "SELECT file FROM pragma_database_list", "PRAGMA main.database_list"] {
        let e = bob.batch_execute(sql).unwrap_err();
        assert_eq!((code(&e), message(&e)), ("42501".into(), examine.into()), "{sql}");
    }
    // What stays allowed: the connection's own behaviour, reading settings, introspection.
    for sql in [
        "PRAGMA busy_timeout",
        "PRAGMA query_only",
        "PRAGMA foreign_keys = on",
        "PRAGMA journal_mode",
        "PRAGMA synchronous",
        "PRAGMA table_info(t)",
        "SELECT name FROM pragma_table_info('t')",
        "PRAGMA integrity_check",
    ] {
        bob.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(one(&mut bob, "SELECT journal_mode FROM pragma_journal_mode").as_deref(), Some("wal"));
    // The data is still written the host's way; the superuser may look.
    let mut admin = h.client();
    let path = one(&mut admin, "SELECT file FROM pragma_database_list WHERE name = 'main'").unwrap();
    assert!(path.ends_with("base/5.db"), "{path}");
    println!("figure: {} acknowledged commits checked", ledger.check());
}

/// A module with a parameter only superusers may examine.
const SECRET_MODULE: &str = r#"
#include "bgworker.h"

PG_MODULE_MAGIC;

void _PG_init(void);
static char *api_key;
static int visible;

void
_PG_init(void)
{
	DefineCustomStringVariable("myext.api_key", "A secret.", NULL, &api_key, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("myext.visible", "Not a secret.", NULL, &visible, 7, 0, 100, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}
"#;

#[test]
fn superuser_only_module_parameters_are_hidden_from_other_roles() {
    let dir = module_tempdir();
    build_c_module_from_text(dir.path(), "myext", SECRET_MODULE);
    let h = Host::start(
        Setup::new(BGW)
            .tcp()
            .library_path(dir.path())
            .conf("shared_preload_libraries", "'myext'")
            .conf("myext.api_key", "'s3cret'"),
    );
    h.sql("CREATE ROLE bob LOGIN PASSWORD 'b'");
    assert_eq!(h.sql("SELECT current_setting('myext.api_key')"), "s3cret");
    let mut bob = tcp_client(h.port, "bob", "b").unwrap();
    let e = bob.batch_execute("SELECT current_setting('myext.api_key')").unwrap_err();
    assert_eq!(
        (code(&e), message(&e)),
        (
            "42501".into(),
            "must be superuser or have privileges of pg_read_all_settings to examine \"myext.api_key\"".into()
        )
    );
    // missing_ok does not hide the refusal (as in PostgreSQL).
    let e = bob.batch_execute("SELECT current_setting('myext.api_key', true)").unwrap_err();
    assert_eq!(code(&e), "42501");
    assert_eq!(one(&mut bob, "SELECT current_setting('myext.visible')").as_deref(), Some("7"));
    // A view bob plants cannot read it with a superuser's privileges either.
    bob.batch_execute("CREATE VIEW peek AS SELECT current_setting('myext.api_key') AS k").unwrap();
    let e = h.psql("SELECT k FROM peek").unwrap_err();
    assert!(e.contains("unsafe use of current_setting()"), "{e}");
}

#[test]
fn a_commit_that_would_overwrite_an_unread_notification_fails_and_rolls_back() {
    let h = Host::start(Setup::new(BGW));
    let mut listener = h.client();
    listener.batch_execute("LISTEN ch").unwrap();
    // Inside a transaction block a session reads nothing (as in PostgreSQL).
    listener.batch_execute("BEGIN").unwrap();
    h.sql("NOTIFY ch, 'keep me'");
    let mut sender = h.client_config(&os_user(), "template1").connect(postgres::NoTls).unwrap();
    let mut refused = 0;
    for round in 0..3 {
        // As in PostgreSQL, the COMMIT of the statement's own transaction fails (PreCommit_Notify).
        match sender.batch_execute(&flood("ch", 500, 500)) {
            Ok(()) => assert!(round < 2),
            Err(e) => {
                assert_eq!(
                    (code(&e), message(&e), detail(&e)),
                    ("54000".into(), "too many notifications in the NOTIFY queue".into(), String::new())
                );
                assert_eq!(round, 2);
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 1);
    listener.batch_execute("COMMIT").unwrap();
    // The listener still gets its unread notification: nothing overwrote it.
    assert_eq!(next_notification(&mut listener), ("ch".into(), "keep me".into()));
    // The listener caught up: the sender may send again.
    sender.batch_execute(&flood("ch", 500, 500)).unwrap();
}
