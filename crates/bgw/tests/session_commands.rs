//! Session commands (issue 14, item 1, the rest): savepoints, transaction modes (`BEGIN ... ISOLATION LEVEL`,
//! `SET TRANSACTION`, `SET SESSION CHARACTERISTICS`, read-only transactions), SQL-level `PREPARE` / `EXECUTE` /
//! `DEALLOCATE` sharing the protocol's statement namespace, `TRUNCATE`, and the startup packet's settings: each
//! error with PostgreSQL's SQLSTATE (and text where PostgreSQL 15's was checked), through a raw wire client that
//! sees command tags, transaction states and ParameterStatus messages, and through psql.

use std::io::Write;
use std::os::unix::net::UnixStream;

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// One backend message, as far as these tests look at it.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    /// CommandComplete with its tag.
    Done(String),
    /// ErrorResponse: severity, SQLSTATE, message.
    Error(String, String, String),
    /// NoticeResponse: SQLSTATE.
    Notice(String),
    /// DataRow, text values (None: NULL).
    Row(Vec<Option<String>>),
    /// RowDescription: column names.
    Columns(Vec<String>),
    /// ParameterStatus.
    Status(String, String),
    /// NotificationResponse: channel, payload.
    Notify(String, String),
    /// ReadyForQuery with the transaction state (`I`, `T`, `E`).
    Ready(char),
    Other(char),
}

fn fields(body: &[u8]) -> (String, String, String) {
    let (mut severity, mut code, mut message) = (String::new(), String::new(), String::new());
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let text = String::from_utf8_lossy(&field[1..]).into_owned();
        match field[0] {
            b'V' => severity = text,
            b'C' => code = text,
            b'M' => message = text,
            _ => {}
        }
    }
    (severity, code, message)
}

fn decode(tag: u8, body: Vec<u8>) -> Msg {
    let cstr = |b: &[u8]| String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or_default()).into_owned();
    match tag {
        b'C' => Msg::Done(cstr(&body)),
        b'E' => {
            let (s, c, m) = fields(&body);
            Msg::Error(s, c, m)
        }
        b'N' => Msg::Notice(fields(&body).1),
        b'Z' => Msg::Ready(body[0] as char),
        b'A' => {
            let mut parts = body[4..].split(|c| *c == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            Msg::Notify(parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
        }
        b'S' => {
            let mut parts = body.split(|c| *c == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            Msg::Status(parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
        }
        b'D' => {
            let count = u16::from_be_bytes([body[0], body[1]]) as usize;
            let mut at = 2;
            let mut values = Vec::new();
            for _ in 0..count {
                let len = i32::from_be_bytes(body[at..at + 4].try_into().unwrap());
                at += 4;
                if len < 0 {
                    values.push(None);
                } else {
                    values.push(Some(String::from_utf8_lossy(&body[at..at + len as usize]).into_owned()));
                    at += len as usize;
                }
            }
            Msg::Row(values)
        }
        b'T' => {
            let count = u16::from_be_bytes([body[0], body[1]]) as usize;
            let mut at = 2;
            let mut names = Vec::new();
            for _ in 0..count {
                let end = at + body[at..].iter().position(|b| *b == 0).unwrap();
                names.push(String::from_utf8_lossy(&body[at..end]).into_owned());
                at = end + 1 + 18;
            }
            Msg::Columns(names)
        }
        other => Msg::Other(other as char),
    }
}

/// A client speaking the protocol by hand.
struct Raw {
    s: UnixStream,
}

impl Raw {
    /// Connects with the startup packet's `extra` parameters; the messages up to the first ReadyForQuery (or the
    /// end of the connection).
    fn start(h: &Host, extra: &[(&str, &str)]) -> (Raw, Vec<Msg>) {
        let path = h.data().join(format!(".s.PGSQL.{}", h.port));
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let user = os_user();
        let mut params = vec![("user", user.as_str()), ("database", "postgres")];
        params.extend_from_slice(extra);
        s.write_all(&wire::startup_message(&params)).unwrap();
        let mut raw = Raw { s };
        let greeting = raw.until_ready();
        (raw, greeting)
    }

    fn connect(h: &Host) -> Raw {
        let (raw, greeting) = Raw::start(h, &[]);
        assert!(matches!(greeting.last(), Some(Msg::Ready('I'))), "{greeting:?}");
        raw
    }

    fn until_ready(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some((tag, body)) = wire::read_message(&mut self.s) {
            let msg = decode(tag, body);
            let ready = matches!(msg, Msg::Ready(_));
            out.push(msg);
            if ready {
                break;
            }
        }
        out
    }

    /// A simple query: every message up to ReadyForQuery.
    fn query(&mut self, sql: &str) -> Vec<Msg> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        self.s.write_all(&wire::message(b'Q', &body)).unwrap();
        self.until_ready()
    }

    /// A query that must succeed: its command tags and the transaction state after it.
    fn ok(&mut self, sql: &str) -> (Vec<String>, char) {
        let msgs = self.query(sql);
        let mut tags = Vec::new();
        for m in &msgs {
            match m {
                Msg::Done(tag) => tags.push(tag.clone()),
                Msg::Error(..) => panic!("{sql}: {m:?}"),
                _ => {}
            }
        }
        (tags, ready(&msgs))
    }

    /// A query that must fail: (SQLSTATE, message) and the transaction state after it.
    fn err(&mut self, sql: &str) -> (String, String, char) {
        let msgs = self.query(sql);
        let state = ready(&msgs);
        match msgs.iter().find(|m| matches!(m, Msg::Error(..))) {
            Some(Msg::Error(_, code, message)) => (code.clone(), message.clone(), state),
            _ => panic!("{sql}: expected an error, got {msgs:?}"),
        }
    }

    /// The single value of a one-row query.
    fn value(&mut self, sql: &str) -> String {
        rows(&self.query(sql)).first().and_then(|r| r.first().cloned().flatten()).unwrap_or_else(|| panic!("{sql}"))
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        self.s.write_all(&wire::message(tag, body)).unwrap();
    }
}

fn ready(msgs: &[Msg]) -> char {
    match msgs.last() {
        Some(Msg::Ready(state)) => *state,
        other => panic!("no ReadyForQuery: {other:?}"),
    }
}

fn rows(msgs: &[Msg]) -> Vec<Vec<Option<String>>> {
    msgs.iter().filter_map(|m| if let Msg::Row(r) = m { Some(r.clone()) } else { None }).collect()
}

fn notices(msgs: &[Msg]) -> Vec<String> {
    msgs.iter().filter_map(|m| if let Msg::Notice(c) = m { Some(c.clone()) } else { None }).collect()
}

fn cstring(text: &str) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    b.push(0);
    b
}

/// Parse (`name`, `sql`, parameter type OIDs).
fn parse_body(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut b = cstring(name);
    b.extend(cstring(sql));
    b.extend((oids.len() as u16).to_be_bytes());
    for oid in oids {
        b.extend(oid.to_be_bytes());
    }
    b
}

/// Bind (unnamed portal, `statement`, text parameters, text results).
fn bind_body(statement: &str, params: &[&str]) -> Vec<u8> {
    let mut b = cstring("");
    b.extend(cstring(statement));
    b.extend(0u16.to_be_bytes());
    b.extend((params.len() as u16).to_be_bytes());
    for p in params {
        b.extend((p.len() as i32).to_be_bytes());
        b.extend(p.as_bytes());
    }
    b.extend(0u16.to_be_bytes());
    b
}

/// Runs `sql` with the extended protocol (unnamed statement and portal, Describe of the portal).
fn extended(raw: &mut Raw, sql: &str) -> Vec<Msg> {
    raw.send(b'P', &parse_body("", sql, &[]));
    raw.send(b'B', &bind_body("", &[]));
    raw.send(b'D', &[b'P', 0]);
    raw.send(b'E', &[0, 0, 0, 0, 0]);
    raw.send(b'S', &[]);
    raw.until_ready()
}

#[test]
fn savepoints_follow_postgres() {
    let h = Host::start(Setup::new(BGW));
    let mut c = Raw::connect(&h);
    // Outside a transaction block: errors, and no transaction is opened.
    for (sql, message) in [
        ("SAVEPOINT a", "SAVEPOINT can only be used in transaction blocks"),
        ("RELEASE a", "RELEASE SAVEPOINT can only be used in transaction blocks"),
        ("RELEASE SAVEPOINT a", "RELEASE SAVEPOINT can only be used in transaction blocks"),
        ("ROLLBACK TO a", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks"),
        ("ROLLBACK TO SAVEPOINT a", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks"),
    ] {
        assert_eq!(c.err(sql), ("25P01".into(), message.into(), 'I'), "{sql}");
    }

    c.ok("CREATE TABLE t (x int)");
    let (tags, state) = c.ok("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT Foo; INSERT INTO t VALUES (2)");
    assert_eq!((tags[2].as_str(), state), ("SAVEPOINT", 'T'));
    // Names are case-folded identifiers: Foo is foo.
    assert_eq!(c.ok("ROLLBACK TO foo").0, ["ROLLBACK"]);
    c.ok("INSERT INTO t VALUES (3); RELEASE SAVEPOINT FOO");
    assert_eq!(c.err("RELEASE foo"), ("3B001".into(), "savepoint \"foo\" does not exist".into(), 'E'));
    c.ok("ROLLBACK");

    c.ok("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT \"Q\"");
    assert_eq!(c.err("ROLLBACK TO q"), ("3B001".into(), "savepoint \"q\" does not exist".into(), 'E'));
    // A failed block: ROLLBACK TO recovers it; an unknown name leaves it failed.
    assert_eq!(c.err("SELECT 1").0, "25P02");
    assert_eq!(c.err("SAVEPOINT z").0, "25P02");
    assert_eq!(c.err("ROLLBACK TO nope"), ("3B001".into(), "savepoint \"nope\" does not exist".into(), 'E'));
    assert_eq!(c.ok("ROLLBACK TO \"Q\""), (vec!["ROLLBACK".to_string()], 'T'));
    c.ok("INSERT INTO t VALUES (4)");
    assert_eq!(c.ok("COMMIT"), (vec!["COMMIT".to_string()], 'I'));
    assert_eq!(rows(&c.query("SELECT x FROM t ORDER BY x")), [[Some("1".into())], [Some("4".into())]]);

    // The same name twice: the latest is the one rolled back to or released.
    c.ok("DELETE FROM t; BEGIN; SAVEPOINT a; INSERT INTO t VALUES (10); SAVEPOINT a; INSERT INTO t VALUES (11)");
    c.ok("ROLLBACK TO a; RELEASE a");
    assert_eq!(c.value("SELECT string_agg(x::text, ',') FROM t"), "10");
    c.ok("ROLLBACK TO a; COMMIT");
    assert_eq!(c.value("SELECT count(*) FROM t"), "0");

    // A SET inside a savepoint rolled back is undone; one released stays.
    c.ok("BEGIN; SET extra_float_digits = 2; SAVEPOINT s; SET extra_float_digits = 3");
    c.ok("ROLLBACK TO s");
    assert_eq!(c.value("SHOW extra_float_digits"), "2");
    c.ok("SET LOCAL lock_timeout = '5s'; SAVEPOINT s2; RESET ALL; ROLLBACK TO s2; RELEASE s");
    assert_eq!(c.value("SHOW lock_timeout"), "5s");
    c.ok("SAVEPOINT s3; SET extra_float_digits = 3; RELEASE s3; COMMIT");
    assert_eq!(c.value("SHOW extra_float_digits"), "3");
    assert_eq!(c.value("SHOW lock_timeout"), "0");

    // Notifications and LISTENs queued after a savepoint go when the block rolls back to it.
    let mut listener = Raw::connect(&h);
    listener.ok("LISTEN ch");
    h.sql(
        "BEGIN; NOTIFY ch, 'kept'; SAVEPOINT s; NOTIFY ch, 'dropped'; SELECT pg_notify('ch', 'dropped too'); \
         ROLLBACK TO s; NOTIFY ch, 'after'; SAVEPOINT r; NOTIFY ch, 'released'; RELEASE r; COMMIT",
    );
    c.ok("BEGIN; SAVEPOINT s; LISTEN ch; ROLLBACK TO s; COMMIT");
    h.sql("NOTIFY ch, 'to the listener only'");
    let heard: Vec<String> = listener
        .query("SELECT 1")
        .into_iter()
        .filter_map(|m| if let Msg::Notify(_, payload) = m { Some(payload) } else { None })
        .collect();
    assert_eq!(heard, ["kept", "after", "released", "to the listener only"]);
    let unheard = c.query("SELECT 1");
    assert!(!unheard.iter().any(|m| matches!(m, Msg::Notify(..))), "{unheard:?}");

    // psql shows the same.
    let err = h.psql("BEGIN; SAVEPOINT a; RELEASE a; RELEASE a").unwrap_err();
    assert!(err.contains("3B001") && err.contains("savepoint \"a\" does not exist"), "{err}");
}

#[test]
fn transaction_modes() {
    let h = Host::start(Setup::new(BGW));
    let mut c = Raw::connect(&h);
    c.ok("CREATE TABLE t (x int)");
    assert_eq!(c.value("SHOW transaction_isolation"), "serializable");
    assert_eq!(c.value("SHOW transaction_read_only"), "off");
    assert_eq!(c.value("SHOW default_transaction_isolation"), "serializable");

    // Every level is accepted and shown as asked (SQLite runs it serializable, which PostgreSQL permits).
    for (begin, level) in [
        ("BEGIN ISOLATION LEVEL READ COMMITTED", "read committed"),
        ("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE", "repeatable read"),
        ("START TRANSACTION ISOLATION LEVEL READ UNCOMMITTED NOT DEFERRABLE", "read uncommitted"),
        ("BEGIN WORK ISOLATION LEVEL SERIALIZABLE", "serializable"),
    ] {
        let (tags, state) = c.ok(begin);
        assert_eq!((tags[0].as_str(), state), ("BEGIN", 'T'), "{begin}");
        assert_eq!(c.value("SHOW transaction_isolation"), level, "{begin}");
        assert_eq!(c.value("SHOW TRANSACTION ISOLATION LEVEL"), level, "{begin}");
        c.ok("INSERT INTO t VALUES (1); COMMIT");
    }
    assert_eq!(c.value("SHOW transaction_isolation"), "serializable");
    assert_eq!(c.err("BEGIN ISOLATION LEVEL FOO").0, "42601");

    // READ ONLY refuses writes with 25006.
    c.ok("BEGIN READ ONLY");
    assert_eq!(c.value("SHOW transaction_read_only"), "on");
    assert_eq!(
        c.err("INSERT INTO t VALUES (2)"),
        ("25006".into(), "cannot execute INSERT in a read-only transaction".into(), 'E')
    );
    c.ok("ROLLBACK");
    c.ok("BEGIN DEFERRABLE");
    assert_eq!(c.value("SHOW transaction_deferrable"), "on");
    c.ok("COMMIT");

    // SET TRANSACTION: before the block's first query only (SHOW is no query), not in a savepoint.
    c.ok("BEGIN READ ONLY; SHOW transaction_isolation; SET TRANSACTION READ WRITE");
    c.ok("INSERT INTO t VALUES (3)");
    assert_eq!(
        c.err("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        ("25001".into(), "SET TRANSACTION ISOLATION LEVEL must be called before any query".into(), 'E')
    );
    c.ok("ROLLBACK");
    c.ok("BEGIN; SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY");
    assert_eq!(c.value("SHOW transaction_isolation"), "read committed");
    assert_eq!(c.err("DELETE FROM t").0, "25006");
    c.ok("ROLLBACK");
    c.ok("BEGIN READ ONLY; SELECT 1");
    assert_eq!(
        c.err("SET TRANSACTION READ WRITE"),
        ("25001".into(), "transaction read-write mode must be set before any query".into(), 'E')
    );
    c.ok("ROLLBACK; BEGIN READ ONLY; SAVEPOINT a");
    assert_eq!(
        c.err("SET TRANSACTION READ WRITE"),
        ("25001".into(), "cannot set transaction read-write mode inside a read-only transaction".into(), 'E')
    );
    c.ok("ROLLBACK; BEGIN; SAVEPOINT a");
    assert_eq!(
        c.err("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        ("25001".into(), "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction".into(), 'E')
    );
    c.ok("ROLLBACK");
    c.ok("BEGIN; SET transaction_read_only = on");
    assert_eq!(c.err("INSERT INTO t VALUES (4)").0, "25006");
    c.ok("ROLLBACK");
    // Outside a block: PostgreSQL's warning, nothing changes.
    let msgs = c.query("SET TRANSACTION READ ONLY");
    assert_eq!(notices(&msgs), ["25P01"]);
    c.ok("INSERT INTO t VALUES (5)");
    assert_eq!(c.err("SET TRANSACTION ISOLATION LEVEL READ WRITE").0, "42601");

    // The session's defaults.
    c.ok("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY");
    assert_eq!(c.value("SHOW default_transaction_isolation"), "read committed");
    assert_eq!(c.value("SHOW default_transaction_read_only"), "on");
    assert_eq!(c.value("SHOW transaction_read_only"), "on");
    assert_eq!(c.err("INSERT INTO t VALUES (6)").0, "25006");
    c.ok("BEGIN");
    assert_eq!(c.value("SHOW transaction_isolation"), "read committed");
    c.ok("SET TRANSACTION READ WRITE; INSERT INTO t VALUES (7); COMMIT");
    assert_eq!(
        c.err("CREATE ROLE nobody_here"),
        ("25006".into(), "cannot execute CREATE ROLE in a read-only transaction".into(), 'I')
    );
    c.ok("LISTEN ch; UNLISTEN ch");
    c.ok("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE");
    c.ok("INSERT INTO t VALUES (8)");
    c.ok("SET default_transaction_isolation = 'repeatable read'");
    assert_eq!(c.value("SHOW transaction_isolation"), "repeatable read");
    c.ok("RESET default_transaction_isolation");
    assert_eq!(c.value("SHOW transaction_isolation"), "serializable");
    let msgs = c.query("SET transaction_isolation = 'bogus'");
    assert!(msgs.iter().any(|m| matches!(m, Msg::Error(_, code, _) if code == "22023")), "{msgs:?}");

    // What bgw does not do is refused, never done differently.
    c.ok("BEGIN");
    assert_eq!(c.err("SET TRANSACTION SNAPSHOT '00000003-1'").0, "0A000");
    c.ok("ROLLBACK; BEGIN");
    assert_eq!(c.err("COMMIT AND CHAIN"), ("0A000".into(), "COMMIT AND CHAIN is not supported".into(), 'E'));
    c.ok("ROLLBACK; BEGIN");
    assert_eq!(c.err("PREPARE TRANSACTION 'x'").0, "55000");
    c.ok("ROLLBACK; BEGIN; COMMIT AND NO CHAIN");
    assert_eq!(c.err("COMMIT PREPARED 'x'").0, "42704");

    // psql too.
    let out = h.sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SHOW transaction_isolation; COMMIT");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["BEGIN", "repeatable read", "COMMIT"]);
}

#[test]
fn prepare_execute_deallocate() {
    let h = Host::start(Setup::new(BGW));
    let mut c = Raw::connect(&h);
    assert_eq!(c.ok("PREPARE p1 (int, text) AS SELECT $1 + 1 AS a, $2 AS b").0, ["PREPARE"]);
    let msgs = c.query("EXECUTE p1(1, 'x')");
    assert!(msgs.contains(&Msg::Columns(vec!["a".into(), "b".into()])), "{msgs:?}");
    assert_eq!(rows(&msgs), [[Some("2".into()), Some("x".into())]]);
    assert!(msgs.contains(&Msg::Done("SELECT 1".into())), "{msgs:?}");
    // Arguments are expressions, converted to the declared types.
    assert_eq!(rows(&c.query("EXECUTE p1(40 + 1, upper('y'))")), [[Some("42".into()), Some("Y".into())]]);
    assert_eq!(
        c.err("EXECUTE p1(1)"),
        ("42601".into(), "wrong number of parameters for prepared statement \"p1\"".into(), 'I')
    );
    assert_eq!(c.err("EXECUTE p1(1, 2, 3)").0, "42601");
    assert_eq!(c.err("EXECUTE p1('a', 'b')").1, "invalid input syntax for type integer: \"a\"");
    assert_eq!(
        c.err("PREPARE p1 AS SELECT 1"),
        ("42P05".into(), "prepared statement \"p1\" already exists".into(), 'I')
    );
    assert_eq!(c.err("EXECUTE nope"), ("26000".into(), "prepared statement \"nope\" does not exist".into(), 'I'));
    assert_eq!(c.err("DEALLOCATE nope").0, "26000");
    assert_eq!(
        c.err("PREPARE px (nosuchtype) AS SELECT 1"),
        ("42704".into(), "type \"nosuchtype\" does not exist".into(), 'I')
    );
    assert_eq!(c.ok("DEALLOCATE PREPARE p1").0, ["DEALLOCATE"]);
    assert_eq!(c.err("EXECUTE p1(1, 'x')").0, "26000");

    // Names are identifiers; a statement that writes returns its own tag.
    c.ok("CREATE TABLE t (b text); PREPARE \"Ins\" (text) AS INSERT INTO t VALUES ($1)");
    assert_eq!(c.ok("EXECUTE \"Ins\"(lower('AB'))").0, ["INSERT 0 1"]);
    assert_eq!(c.err("EXECUTE ins('x')").0, "26000");
    assert_eq!(c.value("SELECT b FROM t"), "ab");
    // In a failed block: refused.
    c.ok("BEGIN");
    c.err("SELECT * FROM no_such_table");
    assert_eq!(c.err("EXECUTE \"Ins\"('y')").0, "25P02");
    assert_eq!(c.err("DEALLOCATE \"Ins\"").0, "25P02");
    c.ok("ROLLBACK");
    // An error of its own fails a block.
    c.ok("BEGIN");
    assert_eq!(c.err("EXECUTE nope"), ("26000".into(), "prepared statement \"nope\" does not exist".into(), 'E'));
    c.ok("ROLLBACK");

    // A parameter in a simple query has no value: PostgreSQL's error, not a NULL.
    assert_eq!(c.err("SELECT 1 + $2, $1"), ("42P02".into(), "there is no parameter $2".into(), 'I'));

    // One namespace with the protocol's named statements: Parse, then EXECUTE and DEALLOCATE by SQL...
    c.send(b'P', &parse_body("proto1", "SELECT $1 * 2", &[23]));
    c.send(b'S', &[]);
    assert!(matches!(c.until_ready().last(), Some(Msg::Ready('I'))));
    assert_eq!(c.value("EXECUTE proto1(21)"), "42");
    assert_eq!(c.err("PREPARE proto1 AS SELECT 1").0, "42P05");
    c.ok("DEALLOCATE proto1");
    c.send(b'B', &bind_body("proto1", &["1"]));
    c.send(b'S', &[]);
    let msgs = c.until_ready();
    assert!(msgs.iter().any(|m| matches!(m, Msg::Error(_, code, _) if code == "26000")), "{msgs:?}");
    // ... and PREPARE by SQL, then Bind and Execute.
    c.ok("PREPARE sqlp (int) AS SELECT $1 + 7 AS n");
    c.send(b'B', &bind_body("sqlp", &["1"]));
    c.send(b'E', &[0, 0, 0, 0, 0]);
    c.send(b'S', &[]);
    assert_eq!(rows(&c.until_ready()), [[Some("8".into())]]);
    // EXECUTE and DEALLOCATE through the extended protocol (psycopg 3 sends its DEALLOCATE that way).
    let msgs = extended(&mut c, "EXECUTE sqlp(2)");
    assert!(msgs.contains(&Msg::Columns(vec!["n".into()])), "{msgs:?}");
    assert_eq!(rows(&msgs), [[Some("9".into())]]);
    // ... with the portal's row limit.
    c.ok("PREPARE two AS SELECT 1 AS n UNION ALL SELECT 2");
    c.send(b'P', &parse_body("", "EXECUTE two", &[]));
    c.send(b'B', &bind_body("", &[]));
    c.send(b'E', &[0, 0, 0, 0, 1]);
    c.send(b'E', &[0, 0, 0, 0, 0]);
    c.send(b'S', &[]);
    let msgs = c.until_ready();
    let shown: Vec<&Msg> = msgs.iter().filter(|m| matches!(m, Msg::Row(_) | Msg::Other('s') | Msg::Done(_))).collect();
    assert_eq!(
        shown,
        [
            &Msg::Row(vec![Some("1".into())]),
            &Msg::Other('s'),
            &Msg::Row(vec![Some("2".into())]),
            &Msg::Done("SELECT 1".into())
        ]
    );
    let msgs = extended(&mut c, "EXECUTE nope");
    assert!(msgs.iter().any(|m| matches!(m, Msg::Error(_, code, _) if code == "26000")), "{msgs:?}");
    let msgs = extended(&mut c, "DEALLOCATE sqlp");
    assert!(msgs.contains(&Msg::Done("DEALLOCATE".into())), "{msgs:?}");
    assert_eq!(c.err("EXECUTE sqlp(1)").0, "26000");

    // DEALLOCATE ALL and DISCARD ALL drop them all.
    c.ok("PREPARE a AS SELECT 1; PREPARE b AS SELECT 2");
    assert_eq!(c.ok("DEALLOCATE ALL").0, ["DEALLOCATE ALL"]);
    assert_eq!(c.err("EXECUTE a").0, "26000");
    c.ok("PREPARE a AS SELECT 1; DISCARD ALL");
    assert_eq!(c.err("EXECUTE a").0, "26000");

    // psql.
    assert_eq!(h.sql("PREPARE q (int) AS SELECT $1 * 3; EXECUTE q(5)").lines().last(), Some("15"));
}

#[test]
fn truncate_tables() {
    let h = Host::start(Setup::new(BGW));
    let mut c = Raw::connect(&h);
    c.ok("CREATE TABLE a (v text); INSERT INTO a VALUES ('x'), ('y')");
    assert_eq!(c.ok("TRUNCATE a").0, ["TRUNCATE TABLE"]);
    assert_eq!(c.value("SELECT count(*) FROM a"), "0");
    // In the transaction: a rollback brings the rows back.
    c.ok("INSERT INTO a VALUES ('z'); BEGIN; TRUNCATE TABLE ONLY a");
    assert_eq!(c.value("SELECT count(*) FROM a"), "0");
    c.ok("ROLLBACK");
    assert_eq!(c.value("SELECT count(*) FROM a"), "1");

    assert_eq!(c.err("TRUNCATE nope"), ("42P01".into(), "relation \"nope\" does not exist".into(), 'I'));
    c.ok("CREATE VIEW v AS SELECT 1 AS one");
    assert_eq!(c.err("TRUNCATE v"), ("42809".into(), "\"v\" is not a table".into(), 'I'));
    assert_eq!(c.err("TRUNCATE a b").0, "42601");

    // Foreign keys: the referenced table alone is refused (PostgreSQL's RESTRICT), CASCADE too (bgw does not
    // empty the referencing table); both at once are fine.
    c.ok("CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (p int REFERENCES parent (id))");
    c.ok("INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1)");
    assert_eq!(
        c.err("TRUNCATE parent"),
        ("0A000".into(), "cannot truncate a table referenced in a foreign key constraint".into(), 'I')
    );
    assert_eq!(c.err("TRUNCATE parent CASCADE").0, "0A000");
    assert_eq!(c.ok("TRUNCATE child, parent RESTRICT").0, ["TRUNCATE TABLE"]);
    assert_eq!(c.value("SELECT count(*) FROM parent"), "0");
    c.ok("INSERT INTO parent VALUES (2)");
    assert_eq!(c.ok("TRUNCATE child CASCADE").0, ["TRUNCATE TABLE"]);

    // A read-only transaction refuses it.
    c.ok("BEGIN READ ONLY");
    assert_eq!(c.err("TRUNCATE a").0, "25006");
    c.ok("ROLLBACK");

    // RESTART IDENTITY resets SQLite's AUTOINCREMENT counter; CONTINUE IDENTITY (the default) keeps it.
    let db = std::fs::read_dir(h.data().join("base"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            rusqlite::Connection::open(p)
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'a'", [], |r| r.get::<_, i64>(0))
                })
                .is_ok_and(|n| n == 1)
        })
        .expect("the postgres database's file");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE counted (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
        .unwrap();
    c.ok("INSERT INTO counted (v) VALUES ('a'), ('b'); TRUNCATE counted CONTINUE IDENTITY");
    c.ok("INSERT INTO counted (v) VALUES ('c')");
    assert_eq!(c.value("SELECT id FROM counted"), "3");
    c.ok("TRUNCATE counted RESTART IDENTITY; INSERT INTO counted (v) VALUES ('d')");
    assert_eq!(c.value("SELECT id FROM counted"), "1");

    // psql.
    assert_eq!(
        h.sql("TRUNCATE counted; SELECT count(*) FROM counted").lines().collect::<Vec<_>>(),
        ["TRUNCATE TABLE", "0"]
    );
}

#[test]
fn startup_packet_settings() {
    let h = Host::start(Setup::new(BGW));
    // What pgjdbc sends, and psql's PGOPTIONS.
    let (mut c, greeting) = Raw::start(
        &h,
        &[
            ("DateStyle", "ISO"),
            ("extra_float_digits", "2"),
            ("TimeZone", "Etc/UTC"),
            ("client_encoding", "UTF8"),
            ("application_name", "jdbc app"),
            ("options", "-c statement_timeout=5min --lock_timeout=7s -c search_path=public"),
        ],
    );
    assert!(matches!(greeting.last(), Some(Msg::Ready('I'))), "{greeting:?}");
    for (name, value) in [("DateStyle", "ISO, MDY"), ("TimeZone", "Etc/UTC"), ("application_name", "jdbc app")] {
        assert!(greeting.contains(&Msg::Status(name.into(), value.into())), "{name}: {greeting:?}");
    }
    assert_eq!(c.value("SHOW extra_float_digits"), "2");
    assert_eq!(c.value("SHOW statement_timeout"), "5min");
    assert_eq!(c.value("SHOW lock_timeout"), "7s");
    assert_eq!(c.value("SHOW search_path"), "public");
    // They are the session's defaults: RESET returns to them.
    c.ok("SET extra_float_digits = 3; RESET extra_float_digits");
    assert_eq!(c.value("SHOW extra_float_digits"), "2");
    c.ok("SET statement_timeout = 0; RESET ALL");
    assert_eq!(c.value("SHOW statement_timeout"), "5min");

    let (mut named, greeting) = Raw::start(&h, &[("options", "-c application_name=from\\ options")]);
    assert!(greeting.contains(&Msg::Status("application_name".into(), "from options".into())), "{greeting:?}");
    assert_eq!(named.value("SHOW application_name"), "from options");

    // Refused as PostgreSQL refuses them: FATAL, with the SQLSTATE.
    for (params, code, message) in [
        (vec![("foo", "1")], "42704", "unrecognized configuration parameter \"foo\""),
        (vec![("options", "-c foo=1")], "42704", "unrecognized configuration parameter \"foo\""),
        (vec![("extra_float_digits", "9")], "22023", ""),
        (
            vec![("max_connections", "3")],
            "55P02",
            "parameter \"max_connections\" cannot be changed without restarting the server",
        ),
        // Reloadable (up to max_worker_slots), as PostgreSQL answers for a SIGHUP parameter at connection start.
        (vec![("max_worker_processes", "3")], "55P02", "parameter \"max_worker_processes\" cannot be changed now"),
        (vec![("TimeZone", "Europe/Paris")], "0A000", ""),
        (vec![("options", "-x")], "42601", ""),
    ] {
        let (_, msgs) = Raw::start(&h, &params);
        let error = msgs.iter().find_map(|m| if let Msg::Error(s, c, m) = m { Some((s, c, m)) } else { None });
        let (severity, got, text) = error.unwrap_or_else(|| panic!("{params:?}: {msgs:?}"));
        assert_eq!((severity.as_str(), got.as_str()), ("FATAL", code), "{params:?}");
        if !message.is_empty() {
            assert_eq!(text, message, "{params:?}");
        }
    }

    // psql with PGOPTIONS.
    let psql = |options: &str| {
        std::process::Command::new("psql")
            .args(["-X", "-A", "-t", "-h"])
            .arg(h.data())
            .args(["-p", &h.port.to_string(), "-d", "postgres", "-c", "SHOW extra_float_digits"])
            .env("PGOPTIONS", options)
            .output()
            .unwrap()
    };
    let out = psql("-c extra_float_digits=3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3", "{out:?}");
    let out = psql("-c no_such_setting=1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized configuration parameter"), "{out:?}");
}
