//! Interrupts and memory (issue 13, attacks 1 and 2): a runaway query is ended by a cancel (SIGINT, a
//! CancelRequest with the session's key, `pg_cancel_backend`), by `statement_timeout`, by `pg_terminate_backend` and
//! by a fast stop, within milliseconds; the idle timeouts end idle sessions; a query string of many LISTENs is split
//! in linear time; a query that would use unbounded memory gets 53200 and the session and the host go on.
//!
//! No test asserts a time: each prints what it measured (the figures in RELIABILITY.md) and bounds its waits
//! generously so that it fails instead of hanging.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// A query that never ends by itself and keeps little memory (the runaway query).
const RUNAWAY: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";

/// A query whose own state is larger than the memory it may have: an 800 MB value (below SQLite's 1 GB limit on
/// values, above the bounds the tests set).
const GROWING: &str = "SELECT length(repeat('x', 800000000))";

/// How a client's query ended: (SQLSTATE, severity, message) of its error, or "ok" and empty strings; and when.
type Outcome = ((String, String, String), Instant);

fn outcome(result: Result<Vec<postgres::Row>, postgres::Error>) -> Outcome {
    let at = Instant::now();
    let what = match result {
        Ok(_) => ("ok".to_owned(), String::new(), String::new()),
        Err(e) => match e.as_db_error() {
            Some(db) => (db.code().code().to_owned(), db.severity().to_owned(), db.message().to_owned()),
            None => ("closed".to_owned(), String::new(), e.to_string()),
        },
    };
    (what, at)
}

/// A client session of its own; its backend's pid.
fn client_with_pid(h: &Host) -> (postgres::Client, i32) {
    let mut c = h.client();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (c, pid)
}

/// Runs `sql` on `client` in a thread; returns once the backend `pid` reports it active.
fn run_in_thread(
    h: &Host,
    mut client: postgres::Client,
    pid: i32,
    sql: &str,
) -> JoinHandle<(Outcome, postgres::Client)> {
    let sql = sql.to_owned();
    let thread = std::thread::spawn(move || {
        let result = client.query(&sql, &[]);
        (outcome(result), client)
    });
    h.wait_sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}"), |s| s == "active");
    // Let it run a little, so that the interrupt lands in the middle of SQLite's work.
    std::thread::sleep(Duration::from_millis(50));
    thread
}

/// Waits for the thread's outcome (at most the harness's deadline).
fn join_within(thread: JoinHandle<(Outcome, postgres::Client)>, what: &str, h: &Host) -> (Outcome, postgres::Client) {
    let start = Instant::now();
    while !thread.is_finished() {
        assert!(start.elapsed() < DEADLINE, "{what}: the query still runs after {DEADLINE:?}\n{}", h.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// No crash cycle: no child was terminated by a signal and the postmaster lives.
fn no_crash(h: &Host) {
    let log = h.log();
    assert!(!log.contains("terminated by signal"), "{log}");
    assert!(!log.contains("crash"), "{log}");
    assert!(alive(h.pid()), "{log}");
}

#[test]
fn sigint_cancels_a_runaway_query_and_the_session_goes_on() {
    let h = Host::start(Setup::new(BGW));
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let sent = Instant::now();
    signal(pid, SIGINT);
    let (((code, severity, message), at), mut client) = join_within(thread, "SIGINT", &h);
    assert_eq!(
        (code.as_str(), severity.as_str(), message.as_str()),
        ("57014", "ERROR", "canceling statement due to user request")
    );
    println!("figure: SIGINT to 57014: {}", ms(at - sent));
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    // A cancel that arrives while the session is idle is dropped: the next statement runs.
    signal(pid, SIGINT);
    h.wait_sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}"), |s| s == "idle");
    std::thread::sleep(Duration::from_millis(50));
    let two: i32 = client.query_one("SELECT 2", &[]).unwrap().get(0);
    assert_eq!(two, 2);
    no_crash(&h);
    println!("figure: {} acknowledged commits checked", ledger.check());
}

#[test]
fn statement_timeout_ends_a_runaway_query() {
    let h = Host::start(Setup::new(BGW).conf("statement_timeout", "300ms"));
    let (mut client, _pid) = client_with_pid(&h);
    let start = Instant::now();
    let ((code, _, message), at) = outcome(client.query(RUNAWAY, &[]));
    assert_eq!((code.as_str(), message.as_str()), ("57014", "canceling statement due to statement timeout"));
    println!("figure: statement_timeout 300 ms: the statement ended after {}", ms(at - start));
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    assert_eq!(h.sql("SELECT current_setting('statement_timeout')"), "300ms");
    no_crash(&h);
}

#[test]
fn pg_terminate_backend_ends_a_runaway_query_at_once() {
    let h = Host::start(Setup::new(BGW));
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let sent = Instant::now();
    assert_eq!(h.sql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let (((code, severity, message), at), _client) = join_within(thread, "pg_terminate_backend", &h);
    // The client reads the FATAL error, unless its driver notices the closed connection first (tokio-postgres may
    // report either when the server sends FATAL and closes at once).
    assert!(
        (code.as_str(), severity.as_str(), message.as_str())
            == ("57P01", "FATAL", "terminating connection due to administrator command")
            || code == "closed",
        "{code} {severity} {message}"
    );
    wait_until("the terminated backend exits", || !alive(pid));
    println!("figure: pg_terminate_backend to 57P01: {}, to the backend's exit: {}", ms(at - sent), ms(sent.elapsed()));
    no_crash(&h);
    assert_eq!(h.sql("SELECT 1"), "1");
}

#[test]
fn a_fast_stop_ends_a_runaway_query() {
    let mut h = Host::start(Setup::new(BGW));
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let sent = Instant::now();
    let out = h.bgw(&["stop", "-m", "fast"]);
    let stopped = sent.elapsed();
    assert!(out.status.success(), "{}\n{}", stderr(&out), h.log());
    let (((code, _, _), _), _client) = join_within(thread, "fast stop", &h);
    assert!(code == "57P01" || code == "closed", "{code}");
    assert_eq!(h.wait_exit(), Some(0));
    println!("figure: bgw stop -m fast with a runaway query: {}", ms(stopped));
}

/// The Unix socket of `h`.
fn socket(h: &Host) -> std::path::PathBuf {
    h.data().join(format!(".s.PGSQL.{}", h.port))
}

/// A raw protocol session: the stream, its backend's pid and its cancel key (from BackendKeyData).
fn raw_session(h: &Host) -> (std::os::unix::net::UnixStream, i32, i32) {
    use std::io::Write;
    let mut stream = std::os::unix::net::UnixStream::connect(socket(h)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(&wire::startup_message(&[("user", &os_user()), ("database", "postgres")])).unwrap();
    let mut key = None;
    loop {
        let (tag, body) = wire::read_message(&mut stream).expect("the startup completes");
        match tag {
            b'K' => {
                let pid = i32::from_be_bytes(body[0..4].try_into().unwrap());
                let secret = i32::from_be_bytes(body[4..8].try_into().unwrap());
                key = Some((pid, secret));
            }
            b'Z' => break,
            b'E' => panic!("startup failed: {}", String::from_utf8_lossy(&body)),
            _ => {}
        }
    }
    let (pid, secret) = key.expect("BackendKeyData");
    (stream, pid, secret)
}

/// Sends a CancelRequest for `pid` with `key` on a new connection; waits until the server closes it.
fn send_cancel_request(h: &Host, pid: i32, key: i32) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket(h)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut packet = 16u32.to_be_bytes().to_vec();
    packet.extend_from_slice(&80_877_102u32.to_be_bytes());
    packet.extend_from_slice(&pid.to_be_bytes());
    packet.extend_from_slice(&key.to_be_bytes());
    stream.write_all(&packet).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a CancelRequest gets no answer: {rest:?}");
}

/// The SQLSTATE and message of the ErrorResponse that ends the query running on `stream` (and ReadyForQuery).
fn query_error(stream: &mut std::os::unix::net::UnixStream) -> (String, String) {
    let mut error = None;
    loop {
        let (tag, body) = wire::read_message(stream).expect("the query ends");
        match tag {
            b'E' => {
                let mut fields = std::collections::HashMap::new();
                for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
                    fields.insert(field[0], String::from_utf8_lossy(&field[1..]).into_owned());
                }
                error = Some((fields.remove(&b'C').unwrap_or_default(), fields.remove(&b'M').unwrap_or_default()));
            }
            b'Z' => return error.expect("an error before ReadyForQuery"),
            _ => {}
        }
    }
}

#[test]
fn a_cancel_request_with_the_right_key_cancels_and_a_wrong_key_does_nothing() {
    use std::io::Write;
    let h = Host::start(Setup::new(BGW));
    let (mut stream, pid, key) = raw_session(&h);
    assert_ne!(key, 0);
    let mut query = RUNAWAY.as_bytes().to_vec();
    query.push(0);
    stream.write_all(&wire::message(b'Q', &query)).unwrap();
    h.wait_sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}"), |s| s == "active");
    // Wrong keys (and a right key for a pid that is not ours) are ignored silently.
    send_cancel_request(&h, pid, key.wrapping_add(1));
    send_cancel_request(&h, pid, 0);
    send_cancel_request(&h, h.pid(), key);
    send_cancel_request(&h, 1, key);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}")), "active");
    assert!(alive(h.pid()));
    let sent = Instant::now();
    send_cancel_request(&h, pid, key);
    let (code, message) = query_error(&mut stream);
    let took = sent.elapsed();
    assert_eq!((code.as_str(), message.as_str()), ("57014", "canceling statement due to user request"));
    println!("figure: CancelRequest (raw socket, new connection) to 57014: {}", ms(took));
    let mut select = b"SELECT 41 + 1".to_vec();
    select.push(0);
    stream.write_all(&wire::message(b'Q', &select)).unwrap();
    let mut got = Vec::new();
    loop {
        let (tag, body) = wire::read_message(&mut stream).unwrap();
        if tag == b'D' {
            got = body;
        }
        if tag == b'Z' {
            break;
        }
    }
    assert!(String::from_utf8_lossy(&got).ends_with("42"), "{got:?}");
    no_crash(&h);
}

#[test]
fn pg_cancel_backend_and_a_driver_cancel_end_a_runaway_query() {
    let h = Host::start(Setup::new(BGW));
    // pg_cancel_backend from another session (psql).
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let sent = Instant::now();
    assert_eq!(h.sql(&format!("SELECT pg_cancel_backend({pid})")), "t");
    let (((code, _, message), at), mut client) = join_within(thread, "pg_cancel_backend", &h);
    assert_eq!((code.as_str(), message.as_str()), ("57014", "canceling statement due to user request"));
    println!("figure: pg_cancel_backend (psql) to 57014: {}", ms(at - sent));
    let one: i32 = client.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    // Not one of ours: false with a warning, as pg_terminate_backend.
    assert_eq!(h.sql("SELECT pg_cancel_backend(1)"), "f");

    // The postgres crate's cancel token (a CancelRequest with the key it was given).
    let token = client.cancel_token();
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let sent = Instant::now();
    token.cancel_query(postgres::NoTls).unwrap();
    let (((code, _, _), at), _client) = join_within(thread, "cancel_token", &h);
    assert_eq!(code, "57014");
    println!("figure: postgres crate cancel_token to 57014: {}", ms(at - sent));
    no_crash(&h);
}

#[test]
fn a_non_superuser_cannot_cancel_another_roles_query() {
    let h = Host::start(Setup::new(BGW).tcp());
    h.sql("CREATE ROLE alice LOGIN PASSWORD 'wonder'");
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, RUNAWAY);
    let mut alice = tcp_client(h.port, "alice", "wonder").unwrap();
    let err = alice.query_one(&format!("SELECT pg_cancel_backend({pid})"), &[]).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!((db.code().code(), db.message()), ("42501", "permission denied to cancel query"));
    assert_eq!(h.sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}")), "active");
    signal(pid, SIGINT);
    let (((code, _, _), _), _client) = join_within(thread, "SIGINT", &h);
    assert_eq!(code, "57014");
}

/// Runs `sql` on a raw session and reads up to ReadyForQuery: the error's (SQLSTATE, message), if one came.
fn raw_query(stream: &mut std::os::unix::net::UnixStream, sql: &str) -> Option<(String, String)> {
    use std::io::Write;
    let mut query = sql.as_bytes().to_vec();
    query.push(0);
    stream.write_all(&wire::message(b'Q', &query)).unwrap();
    let mut error = None;
    loop {
        let (tag, body) = wire::read_message(stream).expect("the query ends");
        match tag {
            b'E' => error = Some(error_fields(&body)),
            b'Z' => return error,
            _ => {}
        }
    }
}

/// An ErrorResponse's (SQLSTATE, message).
fn error_fields(body: &[u8]) -> (String, String) {
    let mut fields = std::collections::HashMap::new();
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        fields.insert(field[0], String::from_utf8_lossy(&field[1..]).into_owned());
    }
    (fields.remove(&b'C').unwrap_or_default(), fields.remove(&b'M').unwrap_or_default())
}

#[test]
fn lock_timeout_ends_a_wait_for_a_lock_and_a_cancel_ends_an_unbounded_one() {
    let h = Host::start(Setup::new(BGW).conf("lock_timeout", "200ms"));
    h.sql("CREATE TABLE t (x int)");
    let (mut holder, _, _) = raw_session(&h);
    assert_eq!(raw_query(&mut holder, "BEGIN; INSERT INTO t VALUES (1)"), None);
    let (mut waiter, _, _) = raw_session(&h);
    let start = Instant::now();
    let err = raw_query(&mut waiter, "INSERT INTO t VALUES (2)");
    assert_eq!(err, Some(("55P03".to_owned(), "canceling statement due to lock timeout".to_owned())));
    println!("figure: lock_timeout 200 ms: the wait ended after {}", ms(start.elapsed()));

    // Without lock_timeout the wait is unbounded (as in PostgreSQL), and a cancel ends it.
    std::fs::write(h.data().join("bgworker.conf"), "lock_timeout = 0\n").unwrap();
    assert_eq!(h.sql("SELECT pg_reload_conf()"), "t");
    h.wait_sql("SELECT current_setting('lock_timeout')", |s| s == "0");
    // A backend forked after the postmaster's reload starts with the new value.
    let (client, pid) = client_with_pid(&h);
    let thread = run_in_thread(&h, client, pid, "INSERT INTO t VALUES (3)");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(h.sql(&format!("SELECT state FROM pg_stat_activity WHERE pid = {pid}")), "active");
    let sent = Instant::now();
    signal(pid, SIGINT);
    let (((code, _, message), at), _client) = join_within(thread, "a cancel in a lock wait", &h);
    assert_eq!((code.as_str(), message.as_str()), ("57014", "canceling statement due to user request"));
    println!("figure: SIGINT during a lock wait to 57014: {}", ms(at - sent));
    assert_eq!(raw_query(&mut holder, "COMMIT"), None);
    assert_eq!(h.sql("SELECT count(*) FROM t"), "1");
    no_crash(&h);
}

#[test]
fn idle_timeouts_end_idle_sessions() {
    let h = Host::start(
        Setup::new(BGW).conf("idle_in_transaction_session_timeout", "300ms").conf("idle_session_timeout", "1s"),
    );
    h.sql("CREATE TABLE t (x int)");
    let (mut in_tx, tx_pid, _) = raw_session(&h);
    let (mut idle, idle_pid, _) = raw_session(&h);
    let start = Instant::now();
    assert_eq!(raw_query(&mut in_tx, "BEGIN; INSERT INTO t VALUES (1)"), None);
    let (tag, body) = wire::read_message(&mut in_tx).expect("the FATAL error");
    assert_eq!(tag, b'E');
    assert_eq!(
        error_fields(&body),
        ("25P03".to_owned(), "terminating connection due to idle-in-transaction timeout".to_owned())
    );
    println!("figure: idle_in_transaction_session_timeout 300 ms: the session ended after {}", ms(start.elapsed()));
    assert!(wire::read_message(&mut in_tx).is_none(), "the connection is closed");
    // Its transaction rolled back and its lock is free: another writer goes on at once.
    assert_eq!(h.sql("INSERT INTO t VALUES (2); SELECT count(*) FROM t"), "INSERT 0 1\n1");
    let (tag, body) = wire::read_message(&mut idle).expect("the FATAL error");
    assert_eq!(tag, b'E');
    assert_eq!(
        error_fields(&body),
        ("57P05".to_owned(), "terminating connection due to idle-session timeout".to_owned())
    );
    println!("figure: idle_session_timeout 1 s: the session ended after {}", ms(start.elapsed()));
    wait_until("both backends exit", || !alive(tx_pid) && !alive(idle_pid));
    no_crash(&h);
}

#[test]
fn a_query_string_of_many_listens_is_split_in_linear_time() {
    let h = Host::start(Setup::new(BGW));
    let mut client = h.client();
    let mut figures = Vec::new();
    for n in [1_000, 10_000] {
        let text: String = (0..n).map(|i| format!("LISTEN ch{i}; ")).collect();
        let start = Instant::now();
        client.batch_execute(&text).unwrap();
        figures.push((n, start.elapsed()));
        client.batch_execute("UNLISTEN *").unwrap();
    }
    for (n, took) in &figures {
        println!("figure: {n} LISTENs in one query string: {}", ms(*took));
    }
    // Statements the SQL engine runs are split the same way (SQLite's prepare takes one statement at a time).
    let text: String = (0..10_000).map(|i| format!("SELECT {i}; ")).collect();
    let start = Instant::now();
    client.batch_execute(&text).unwrap();
    println!("figure: 10000 SELECTs in one query string: {}", ms(start.elapsed()));
    no_crash(&h);
}

/// A field of `/proc/<pid>/status` in kB (VmSize, VmRSS, VmHWM).
fn status_kb(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Bounds the address space of process `pid` to `bytes` (prlimit --as).
fn limit_address_space(pid: i32, bytes: u64) {
    let out = std::process::Command::new("prlimit").arg(format!("--pid={pid}")).arg(format!("--as={bytes}")).output();
    let out = out.expect("prlimit runs");
    assert!(out.status.success(), "prlimit: {}", stderr(&out));
}

/// Sends `sql` on a raw session without waiting for its result.
fn raw_send(stream: &mut std::os::unix::net::UnixStream, sql: &str) {
    use std::io::Write;
    let mut query = sql.as_bytes().to_vec();
    query.push(0);
    stream.write_all(&wire::message(b'Q', &query)).unwrap();
}

#[test]
fn memory_attacks_get_53200_and_the_session_and_the_host_go_on() {
    let h = Host::start(Setup::new(BGW));
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    let mut bystander = h.client();
    let (mut stream, pid, key) = raw_session(&h);
    // A bounded address space: what the backend maps now plus 256 MB.
    let headroom = 256 * 1024 * 1024;
    limit_address_space(pid, status_kb(pid, "VmSize") * 1024 + headroom);

    // The attack: every row of an endless recursive query. The rows stream to the client, so the backend's
    // memory stays flat however many it sends; a cancel ends it.
    raw_send(&mut stream, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c");
    let mut rows = 0u64;
    let mut rss_at_10k = 0;
    while rows < 1_000_000 {
        let (tag, _) = wire::read_message(&mut stream).expect("rows keep coming");
        assert_ne!(tag, b'E');
        if tag == b'D' {
            rows += 1;
            if rows == 10_000 {
                rss_at_10k = status_kb(pid, "VmRSS");
            }
        }
    }
    let rss_at_1m = status_kb(pid, "VmRSS");
    println!(
        "figure: endless SELECT x streamed: backend RSS {rss_at_10k} kB after 10k rows, {rss_at_1m} kB after 1M rows"
    );
    assert!(
        rss_at_1m < rss_at_10k + 64 * 1024,
        "the backend's memory grows with the rows sent: {rss_at_10k} -> {rss_at_1m} kB"
    );
    send_cancel_request(&h, pid, key);
    let (code, _) = query_error(&mut stream);
    assert_eq!(code, "57014");

    // A query whose own state outgrows the address space runs out of memory inside SQLite: 53200, and the
    // session goes on.
    let start = Instant::now();
    let err = raw_query(&mut stream, GROWING);
    assert_eq!(err, Some(("53200".to_owned(), "out of memory".to_owned())));
    println!("figure: an 800 MB value under prlimit --as (+256 MB): 53200 after {}", ms(start.elapsed()));
    assert_eq!(raw_query(&mut stream, "SELECT 1"), None);
    assert!(alive(pid));

    // backend_memory_limit bounds SQLite's heap without an address-space limit.
    std::fs::write(h.data().join("bgworker.conf"), "backend_memory_limit = '32MB'\n").unwrap();
    assert_eq!(h.sql("SELECT pg_reload_conf()"), "t");
    h.wait_sql("SELECT current_setting('backend_memory_limit')", |s| s == "32MB");
    let mut limited = h.client();
    let err = limited.query_one(GROWING, &[]).unwrap_err();
    let db = err.as_db_error().expect("an ErrorResponse");
    assert_eq!((db.code().code(), db.message()), ("53200", "out of memory"));
    let one: i32 = limited.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);

    // A row-limited Execute keeps the rows it does not send: they are capped by backend_memory_limit too.
    let mut tx = limited.transaction().unwrap();
    let statement =
        tx.prepare("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c").unwrap();
    let portal = tx.bind(&statement, &[]).unwrap();
    let err = tx.query_portal(&portal, 10).unwrap_err();
    let db = err.as_db_error().expect("an ErrorResponse");
    assert_eq!((db.code().code(), db.message()), ("53200", "out of memory"));
    drop(tx);
    let one: i32 = limited.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);

    // Nobody else noticed: no crash cycle, the other session and the postmaster live.
    let one: i32 = bystander.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    no_crash(&h);
    println!("figure: {} acknowledged commits checked", ledger.check());
}

#[test]
fn a_message_larger_than_the_memory_limit_is_refused_before_it_is_read() {
    use std::io::Write;
    let h = Host::start(Setup::new(BGW).conf("backend_memory_limit", "1MB"));
    let (mut stream, pid, _) = raw_session(&h);
    // The header of a 100 MB query: refused at once, without waiting for (or keeping) the body.
    let mut header = vec![b'Q'];
    header.extend_from_slice(&(100u32 * 1024 * 1024).to_be_bytes());
    stream.write_all(&header).unwrap();
    let (tag, body) = wire::read_message(&mut stream).expect("the FATAL error");
    assert_eq!(tag, b'E');
    assert_eq!(error_fields(&body), ("53200".to_owned(), "out of memory".to_owned()));
    wait_until("the backend exits", || !alive(pid));
    assert_eq!(h.sql("SELECT 1"), "1");
    no_crash(&h);
}

#[test]
fn a_backend_whose_own_allocation_fails_ends_with_fatal_not_a_crash_cycle() {
    // SQLite's memory is bounded by backend_memory_limit (53200 above); what is left is the backend's own Rust
    // code. A 100 MB blob is within SQLite's limit and within the address space, but its text form (hex, twice the
    // size) is not: the backend's allocation fails. Rust would abort (SIGABRT: a crash cycle for everyone); the
    // host's allocator ends the session with FATAL "out of memory" and exit 1 instead.
    let h = Host::start(Setup::new(BGW));
    // Acknowledged commits keep being made while the attack runs; none may be lost.
    let ledger = Ledger::start(h.endpoint());
    let mut bystander = h.client();
    let (mut stream, pid, _key) = raw_session(&h);
    limit_address_space(pid, status_kb(pid, "VmSize") * 1024 + 256 * 1024 * 1024);
    raw_send(&mut stream, "SELECT repeat('x', 100000000)");
    // The connection closes, with no result (no row, no CommandComplete).
    while let Some((tag, _)) = wire::read_message(&mut stream) {
        assert!(tag != b'C' && tag != b'D', "the query produced a result: {}", tag as char);
    }
    let deadline = Instant::now() + DEADLINE;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(pid), "the backend is still there");
    let log = h.wait_log("DETAIL:  Failed on request of size");
    assert!(log.contains("FATAL:  out of memory"), "{log}");
    // Nobody else noticed: no crash cycle, the other session and the postmaster live.
    let one: i32 = bystander.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    no_crash(&h);
    println!("figure: {} acknowledged commits checked", ledger.check());
}
