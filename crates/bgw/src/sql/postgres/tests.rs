//! The postgresql engine against a real PostgreSQL 15 (a throwaway cluster per test).

use super::*;
use crate::sql::{execute_collecting, Executed, PgType};
use bgw_test_support::pg15::Postgres;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn config(pg: &Postgres) -> tokio_postgres::Config {
    config_on(pg, pg.port)
}

fn config_on(pg: &Postgres, port: u16) -> tokio_postgres::Config {
    let login = pg.login();
    let mut c = tokio_postgres::Config::new();
    c.host(&login.host).port(port).user(&login.user).password(&login.password).dbname("postgres");
    c
}

/// Hooks that keep the notices.
#[derive(Default, Clone)]
struct Notices(Arc<Mutex<Vec<SqlError>>>);

impl Hooks for Notices {
    fn notice(&self, notice: SqlError) {
        self.0.lock().unwrap().push(notice);
    }
}

fn run(engine: &mut PostgresEngine, sql: &str, params: &[Value]) -> Result<Executed, SqlError> {
    let (stmt, _) = engine.prepare(sql)?.expect("a statement");
    execute_collecting(engine, &stmt, params)
}

fn texts(done: &Executed) -> Vec<Vec<Option<String>>> {
    let rows = done.rows.as_ref().expect("rows");
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::Text(t) => Some(t.clone()),
                    other => panic!("not text: {other:?}"),
                })
                .collect()
        })
        .collect()
}

fn one(done: &Executed) -> String {
    texts(done)[0][0].clone().unwrap_or_else(|| "NULL".into())
}

#[test]
fn statements_types_errors_transactions_notices() {
    let pg = Postgres::start();
    let notices = Notices::default();
    let mut e = PostgresEngine::connect(&config(&pg), Box::new(notices.clone())).unwrap();
    let t = text_of(&mut e, "SELECT 1::int4, 2.50::numeric, 1e100::float8, true, NULL::text, '\\x00ff'::bytea");
    assert_eq!(t, vec![Some("1"), Some("2.50"), Some("1e+100"), Some("t"), None, Some("\\x00ff")]);
    let t = text_of(&mut e, "SELECT '2024-01-02 03:04:05+02'::timestamptz, '1 day 2 hours'::interval, '{1,2}'::int4[]");
    assert_eq!(t, vec![Some("2024-01-02 01:04:05+00"), Some("1 day 02:00:00"), Some("{1,2}")]);
    let t = text_of(&mut e, "SELECT '{\"b\": 1,  \"a\": [1, 2]}'::jsonb, 'x'::varchar(3), 'ab'::char(3)");
    assert_eq!(t, vec![Some("{\"a\": [1, 2], \"b\": 1}"), Some("x"), Some("ab ")]);
    // Types the host does not decode come back as the server's text.
    let t = text_of(&mut e, "SELECT '10.0.0.1/8'::inet, '[1,5)'::int4range, 'pg_class'::regclass, row(1, 'a')");
    assert_eq!(t, vec![Some("10.0.0.1/8"), Some("[1,5)"), Some("pg_class"), Some("(1,a)")]);

    // A session setting that changes how values print: the server reports it, and values read as its text.
    run(&mut e, "SET TimeZone = 'Europe/Paris'", &[]).unwrap();
    let t = text_of(&mut e, "SELECT '2024-01-02 03:04:05+00'::timestamptz, 1.5::float8");
    assert_eq!(t, vec![Some("2024-01-02 04:04:05+01"), Some("1.5")]);
    let err = run(&mut e, "SELECT $1::timestamptz", &[Value::Text("2024-01-02".into())]).unwrap_err();
    assert_eq!(err.code, "0A000");
    run(&mut e, "RESET TimeZone", &[]).unwrap();
    let t = text_of(&mut e, "SELECT '2024-01-02 03:04:05+00'::timestamptz");
    assert_eq!(t, vec![Some("2024-01-02 03:04:05+00")]);
    assert_eq!(run(&mut e, "SET extra_float_digits = 0", &[]).unwrap_err().code, "0A000");
    assert_eq!(run(&mut e, "COPY (SELECT 1) TO STDOUT", &[]).unwrap_err().code, "0A000");

    // Statements, parameters in text format, rows, counts.
    run(&mut e, "CREATE TABLE t (id int PRIMARY KEY, v text, n numeric(10,2))", &[]).unwrap();
    let (stmt, rest) = e.prepare("INSERT INTO t VALUES ($1, $2, $3); SELECT 1").unwrap().unwrap();
    assert_eq!(rest, " SELECT 1");
    assert_eq!(stmt.param_count, 3);
    assert_eq!(stmt.param_types, vec![Some(PgType::Int4), Some(PgType::Text), Some(PgType::Numeric)]);
    let done = e.execute(&stmt, &[Value::Text("1".into()), Value::Text("one".into()), Value::Null], &mut |_| {
        ControlFlow::Continue(())
    });
    assert_eq!(done.unwrap(), Completion { tag: "INSERT 0 1".into(), rows: 0, changes: 1 });
    let params = [Value::Integer(2), Value::Text("two".into()), Value::Text("2.345".into())];
    let done = run(&mut e, "INSERT INTO t VALUES ($1, $2, $3) RETURNING n", &params).unwrap();
    assert_eq!(one(&done), "2.35");
    let done = run(&mut e, "UPDATE t SET v = upper(v)", &[]).unwrap();
    assert_eq!(done.tag, "UPDATE 2");
    let (stmt, _) = e.prepare("SELECT id, v FROM t WHERE id > $1 ORDER BY id").unwrap().unwrap();
    assert_eq!(stmt.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "v"]);
    assert_eq!(stmt.columns[0].ty, Some(PgType::Int4));
    assert!(stmt.read_only);
    let done = execute_collecting(&mut e, &stmt, &[Value::Text("0".into())]).unwrap();
    assert_eq!(
        texts(&done),
        vec![vec![Some("1".into()), Some("ONE".into())], vec![Some("2".into()), Some("TWO".into())]]
    );

    // The server's errors, with SQLSTATE, message, position.
    let err = run(&mut e, "SELEC 1", &[]).unwrap_err();
    assert_eq!((err.code, err.message.as_str(), err.position), ("42601", "syntax error at or near \"SELEC\"", Some(1)));
    let err = run(&mut e, "SELECT * FROM nope", &[]).unwrap_err();
    assert_eq!((err.code, err.message.as_str()), ("42P01", "relation \"nope\" does not exist"));
    let err = run(&mut e, "INSERT INTO t VALUES ($1)", &[Value::Text("x".into())]).unwrap_err();
    assert_eq!((err.code, err.message.as_str()), ("22P02", "invalid input syntax for type integer: \"x\""));
    let err = run(&mut e, "INSERT INTO t VALUES (1)", &[]).unwrap_err();
    assert_eq!(err.code, "23505");
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(1) already exists."));
    assert_eq!(e.tx_state(), TxState::Idle);

    // Transactions are the server's: a failed block refuses statements (25P02) and its commit rolls back.
    let mut other = pg.login().client("postgres");
    let count = |c: &mut postgres::Client| c.query_one("SELECT count(*) FROM t", &[]).unwrap().get::<_, i64>(0);
    e.begin().unwrap();
    assert_eq!(e.tx_state(), TxState::InBlock);
    run(&mut e, "INSERT INTO t VALUES (3, 'three')", &[]).unwrap();
    assert_eq!(count(&mut other), 2, "not visible before the commit");
    e.commit().unwrap();
    assert_eq!(count(&mut other), 3);
    e.begin().unwrap();
    run(&mut e, "INSERT INTO t VALUES (4, 'four')", &[]).unwrap();
    assert_eq!(run(&mut e, "INSERT INTO t VALUES (1)", &[]).unwrap_err().code, "23505");
    assert_eq!(e.tx_state(), TxState::Failed);
    let err = run(&mut e, "SELECT 1", &[]).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        ("25P02", "current transaction is aborted, commands ignored until end of transaction block")
    );
    e.commit().unwrap();
    assert_eq!(e.tx_state(), TxState::Idle);
    assert_eq!(count(&mut other), 3, "the failed block rolled back");
    e.begin().unwrap();
    run(&mut e, "DELETE FROM t", &[]).unwrap();
    e.rollback().unwrap();
    assert_eq!(count(&mut other), 3);
    // Savepoints are the server's too.
    e.begin().unwrap();
    run(&mut e, "SAVEPOINT a", &[]).unwrap();
    run(&mut e, "SELECT 1/0", &[]).unwrap_err();
    run(&mut e, "ROLLBACK TO SAVEPOINT a", &[]).unwrap();
    assert_eq!(e.tx_state(), TxState::InBlock);
    assert_eq!(one(&run(&mut e, "SELECT count(*) FROM t", &[]).unwrap()), "3");
    e.commit().unwrap();

    // Notices reach the hooks.
    run(&mut e, "DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$", &[]).unwrap();
    let seen = notices.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].severity, seen[0].message.as_str()), (crate::sql::Severity::Notice, "hello 42"));

    // A lost connection: 08006, on every statement after.
    other.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'DO $$%'", &[]).unwrap();
    let err = run(&mut e, "SELECT 1", &[]).unwrap_err();
    assert_eq!((err.code, err.message.as_str()), ("08006", "server closed the connection unexpectedly"));
    assert_eq!(run(&mut e, "SELECT 1", &[]).unwrap_err().code, "08006");
    assert!(e.is_closed());
}

fn text_of(e: &mut PostgresEngine, sql: &str) -> Vec<Option<&'static str>> {
    let done = run(e, sql, &[]).unwrap_or_else(|err| panic!("{sql}: {err:?}"));
    texts(&done)[0].iter().map(|v| v.clone().map(|s| &*Box::leak(s.into_boxed_str()))).collect()
}

static INTERRUPT: AtomicBool = AtomicBool::new(false);

fn check(_: Wait) -> Result<(), SqlError> {
    if INTERRUPT.load(Ordering::SeqCst) {
        Err(crate::sql::interrupt::errors::canceled())
    } else {
        Ok(())
    }
}

#[test]
fn interrupts_cancel_the_running_statement_and_refusals_are_fatal() {
    let pg = Postgres::start();
    let mut e = PostgresEngine::connect(&config(&pg), Box::new(Notices::default())).unwrap();
    e.set_interrupt_check(check);
    let flag = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(300));
        INTERRUPT.store(true, Ordering::SeqCst);
    });
    let err = run(&mut e, "SELECT pg_sleep(60)", &[]).unwrap_err();
    flag.join().unwrap();
    INTERRUPT.store(false, Ordering::SeqCst);
    assert_eq!((err.code, err.message.as_str()), ("57014", "canceling statement due to user request"));
    // The connection goes on.
    assert_eq!(one(&run(&mut e, "SELECT 2", &[]).unwrap()), "2");
    let activity = pg.login().sql(
        "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
    );
    assert_eq!(activity, "0");

    // Refused at connect: the server's reason (FATAL), or where it was not reached.
    let mut bad = config(&pg);
    bad.password("wrong");
    let err = PostgresEngine::connect(&bad, Box::new(Notices::default())).err().unwrap();
    assert_eq!(err.code, "28P01");
    assert_eq!(err.message, format!("password authentication failed for user \"{}\"", pg.login().user));
    assert_eq!(err.severity, crate::sql::Severity::Fatal);
    let mut nodb = config(&pg);
    nodb.dbname("nope");
    let err = PostgresEngine::connect(&nodb, Box::new(Notices::default())).err().unwrap();
    assert_eq!((err.code, err.message.as_str()), ("3D000", "database \"nope\" does not exist"));
    let down = config_on(&pg, bgw_test_support::free_tcp_port());
    let err = PostgresEngine::connect(&down, Box::new(Notices::default())).err().unwrap();
    assert_eq!(err.code, "08001");
    assert_eq!(
        err.message,
        format!("connection to server at \"127.0.0.1\", port {} failed: Connection refused", down.get_ports()[0])
    );
}
