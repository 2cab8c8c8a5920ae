//! The SQLite engine's tests: statement splitting, typing, parameters, command tags, SQLSTATEs, files kept out,
//! and PostgreSQL's transaction rules.

use crate::sql::Executed;
use std::sync::{Arc, Mutex};

use super::*;

/// Records the notices the engine raises.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<SqlError>>>);

impl Hooks for Notices {
    fn notice(&self, notice: SqlError) {
        self.0.lock().unwrap().push(notice);
    }
}

impl Notices {
    fn take(&self) -> Vec<SqlError> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn engine_with(notices: Notices) -> SqliteEngine {
    let conn = Connection::open_in_memory().unwrap();
    ffi::forbid_files(&conn).unwrap();
    SqliteEngine::with_hooks(conn, Options::CLIENT, Box::new(notices))
}

fn engine() -> SqliteEngine {
    engine_with(Notices::default())
}

fn execute(engine: &mut SqliteEngine, stmt: &Statement, params: &[Value]) -> Result<Executed, SqlError> {
    crate::sql::execute_collecting(engine, stmt, params)
}

fn run(engine: &mut SqliteEngine, sql: &str) -> Result<Executed, SqlError> {
    let (stmt, _) = engine.prepare(sql)?.expect("a statement");
    execute(engine, &stmt, &[])
}

#[test]
fn postgres_transaction_spellings() {
    let mut e = engine();
    run(&mut e, "CREATE TABLE t(a)").unwrap();
    assert_eq!(run(&mut e, "START TRANSACTION ISOLATION LEVEL REPEATABLE READ").unwrap().tag, "BEGIN");
    assert_eq!(e.tx_state(), TxState::InBlock);
    run(&mut e, "INSERT INTO t VALUES (1)").unwrap();
    assert_eq!(run(&mut e, "ABORT").unwrap().tag, "ROLLBACK");
    assert_eq!(e.tx_state(), TxState::Idle);
}

#[test]
fn prepares_statements_one_by_one() {
    let mut e = engine();
    let sql = "SELECT 1 AS a, 'x'; /* c */ SELECT 2.5;  ";
    let (first, rest) = e.prepare(sql).unwrap().unwrap();
    assert_eq!(first.sql, "SELECT 1 AS a, 'x';");
    assert_eq!(first.columns[0], ColumnInfo { name: "a".into(), ty: Some(PgType::Int8) });
    assert_eq!(first.columns[1].ty, Some(PgType::Text));
    let (second, rest) = e.prepare(rest).unwrap().unwrap();
    assert_eq!(second.columns[0].ty, Some(PgType::Float8));
    assert!(e.prepare(rest).unwrap().is_none());
    assert!(e.prepare(" ; ; ").unwrap().is_none());
}

#[test]
fn declared_and_computed_types() {
    let mut e = engine();
    run(&mut e, "CREATE TABLE t(a INTEGER, b TEXT, c BOOLEAN, d BLOB, e REAL, f)").unwrap();
    let (stmt, _) = e
        .prepare("SELECT a, b, c, d, e, f, a + 1, 1 + 2, 1.5 * 2, count(*), lower(b), CAST(a AS TEXT) FROM t")
        .unwrap()
        .unwrap();
    let types: Vec<Option<PgType>> = stmt.columns.iter().map(|c| c.ty).collect();
    use PgType::*;
    assert_eq!(
        types,
        vec![
            Some(Int8),
            Some(Text),
            Some(Bool),
            Some(Bytea),
            Some(Float8),
            None,
            None,
            Some(Int8),
            Some(Float8),
            Some(Int8),
            Some(Text),
            Some(Text)
        ]
    );
    let (stmt, _) = e.prepare("SELECT CASE WHEN 1 THEN 'a' ELSE 2 END, coalesce(NULL, 3), NULL").unwrap().unwrap();
    assert_eq!(stmt.columns[0].ty, None);
    assert_eq!(stmt.columns[2].ty, None);
    let (stmt, _) = e.prepare("SELECT 1 UNION ALL SELECT 'x'").unwrap().unwrap();
    assert_eq!(stmt.columns[0].ty, None);
    let (stmt, _) = e.prepare("SELECT 1 UNION ALL SELECT 2").unwrap().unwrap();
    assert_eq!(stmt.columns[0].ty, Some(Int8));
}

#[test]
fn parameters_are_numbered_like_postgres() {
    let mut e = engine();
    let (stmt, _) = e.prepare("SELECT $2, $1, $2").unwrap().unwrap();
    assert_eq!(stmt.param_count, 2);
    let done = execute(&mut e, &stmt, &[Value::Integer(1), Value::Text("two".into())]).unwrap();
    assert_eq!(done.rows.unwrap()[0], vec![Value::Text("two".into()), Value::Integer(1), Value::Text("two".into())]);
    let (stmt, _) = e.prepare("SELECT ?, ?").unwrap().unwrap();
    assert_eq!(stmt.param_count, 2);
}

#[test]
fn command_tags() {
    let mut e = engine();
    assert_eq!(run(&mut e, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL)").unwrap().tag, "CREATE TABLE");
    assert_eq!(run(&mut e, "INSERT INTO t(b) VALUES ('x'), ('y'), ('z')").unwrap().tag, "INSERT 0 3");
    assert_eq!(run(&mut e, "UPDATE t SET b = 'w' WHERE a > 1").unwrap().tag, "UPDATE 2");
    let selected = run(&mut e, "SELECT * FROM t").unwrap();
    assert_eq!(selected.tag, "SELECT 3");
    assert_eq!(selected.rows.unwrap().len(), 3);
    assert_eq!(run(&mut e, "DELETE FROM t WHERE a = 1").unwrap().tag, "DELETE 1");
    let empty = run(&mut e, "SELECT * FROM t WHERE 0").unwrap();
    assert_eq!(empty.tag, "SELECT 0");
    assert_eq!(empty.rows.unwrap().len(), 0);
    assert_eq!(run(&mut e, "INSERT INTO t(b) VALUES ('r') RETURNING a").unwrap().tag, "INSERT 0 1");
    assert_eq!(run(&mut e, "DROP TABLE t").unwrap().tag, "DROP TABLE");
}

#[test]
fn error_codes() {
    let mut e = engine();
    let code = |e: &mut SqliteEngine, sql: &str| run(e, sql).unwrap_err().code;
    assert_eq!(code(&mut e, "SELEC 1"), "42601");
    assert_eq!(code(&mut e, "SELECT * FROM nope"), "42P01");
    assert_eq!(code(&mut e, "SELECT nope()"), "42883");
    assert_eq!(code(&mut e, "SELECT lower()"), "42883");
    run(&mut e, "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT NOT NULL, c CHECK (c > 0))").unwrap();
    assert_eq!(code(&mut e, "SELECT zzz FROM t"), "42703");
    assert_eq!(code(&mut e, "CREATE TABLE t(x)"), "42P07");
    run(&mut e, "INSERT INTO t VALUES (1, 'x', 1)").unwrap();
    assert_eq!(code(&mut e, "INSERT INTO t VALUES (1, 'x', 1)"), "23505");
    assert_eq!(code(&mut e, "INSERT INTO t VALUES (2, NULL, 1)"), "23502");
    assert_eq!(code(&mut e, "INSERT INTO t VALUES (3, 'x', -1)"), "23514");
    assert_eq!(code(&mut e, "SELECT 'unterminated"), "42601");
    // No files: neither attached nor written.
    let dir = std::env::temp_dir().join(format!("bgw-backend-test-{}", std::process::id()));
    assert_eq!(code(&mut e, &format!("ATTACH '{}' AS other", dir.display())), "42501");
    assert_eq!(code(&mut e, &format!("VACUUM INTO '{}'", dir.display())), "42501");
    assert!(!dir.exists());
    for name in [format!("'{}' || ''", dir.display()), format!("(SELECT '{}')", dir.display())] {
        assert_eq!(code(&mut e, &format!("ATTACH {name} AS other")), "42501", "{name}");
        assert_eq!(code(&mut e, &format!("VACUUM INTO {name}")), "42501", "{name}");
    }
    assert!(!dir.exists());
    run(&mut e, "ATTACH ':memory:' AS scratch").unwrap();
    run(&mut e, "VACUUM").unwrap();
}

#[test]
fn postgres_transaction_rules() {
    let notices = Notices::default();
    let mut e = engine_with(notices.clone());
    run(&mut e, "CREATE TABLE t(a)").unwrap();
    assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "COMMIT");
    assert_eq!(notices.take()[0].code, "25P01");
    run(&mut e, "BEGIN").unwrap();
    assert_eq!(e.tx_state(), TxState::InBlock);
    assert_eq!(run(&mut e, "BEGIN").unwrap().tag, "BEGIN");
    assert_eq!(notices.take()[0].code, "25001");
    run(&mut e, "INSERT INTO t VALUES (1)").unwrap();
    assert!(run(&mut e, "SELECT * FROM nope").is_err());
    assert_eq!(e.tx_state(), TxState::Failed);
    assert_eq!(run(&mut e, "SELECT 1").unwrap_err().code, "25P02");
    assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "ROLLBACK");
    assert_eq!(e.tx_state(), TxState::Idle);
    assert_eq!(run(&mut e, "SELECT count(*) FROM t").unwrap().rows.unwrap()[0][0], Value::Integer(0));
    // An error outside a block does not fail anything.
    assert!(run(&mut e, "SELECT * FROM nope").is_err());
    assert_eq!(e.tx_state(), TxState::Idle);
    // ROLLBACK TO a savepoint recovers a failed block.
    run(&mut e, "BEGIN").unwrap();
    run(&mut e, "SAVEPOINT s").unwrap();
    assert!(run(&mut e, "SELECT * FROM nope").is_err());
    run(&mut e, "ROLLBACK TO SAVEPOINT s").unwrap();
    assert_eq!(e.tx_state(), TxState::InBlock);
    run(&mut e, "INSERT INTO t VALUES (2)").unwrap();
    assert_eq!(run(&mut e, "COMMIT").unwrap().tag, "COMMIT");
    assert_eq!(run(&mut e, "SELECT count(*) FROM t").unwrap().rows.unwrap()[0][0], Value::Integer(1));
}

/// worker_spi's statements through an SPI engine speaking PostgreSQL's SQL (the path `spi::exec` takes): the
/// schema with its elements, then the deltas folded into the total by the data-modifying CTE, iteration after
/// iteration; a failing fold leaves the deltas where they were.
#[test]
fn worker_spi_statements_through_spi() {
    let conn = SqliteEngine::open_sandboxed(None, |_| Ok(())).unwrap();
    let mut e = SqliteEngine::new(conn, Options::SPI_POSTGRES);
    run(
        &mut e,
        "CREATE SCHEMA \"schema1\" CREATE TABLE \"counted\" (type text CHECK (type IN ('total', 'delta')), value \
         integer) CREATE UNIQUE INDEX \"counted_unique_total\" ON \"counted\" (type) WHERE type = 'total'",
    )
    .unwrap();
    run(&mut e, "INSERT INTO schema1.counted VALUES ('total', 0)").unwrap();
    let fold = "WITH deleted AS (DELETE FROM \"schema1\".\"counted\" WHERE type = 'delta' RETURNING value), total AS \
                (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE \"schema1\".\"counted\" SET value = \
                \"counted\".value + total.sum FROM total WHERE type = 'total' RETURNING \"counted\".value";
    let mut expected = 0;
    for i in 1..=3 {
        run(&mut e, "BEGIN").unwrap();
        for d in 1..=i {
            let (stmt, _) = e.prepare("INSERT INTO schema1.counted VALUES ('delta', $1)").unwrap().unwrap();
            execute(&mut e, &stmt, &[Value::Integer(d)]).unwrap();
            expected += d;
        }
        let done = run(&mut e, fold).unwrap();
        assert_eq!(done.tag, "UPDATE 1");
        assert_eq!(done.rows, Some(vec![vec![Value::Integer(expected)]]));
        run(&mut e, "COMMIT").unwrap();
    }
    let left = run(&mut e, "SELECT count(*) FROM schema1.counted WHERE type = 'delta'").unwrap();
    assert_eq!(left.rows, Some(vec![vec![Value::Integer(0)]]));
    // The fold's UPDATE fails (the CHECK): the CTE's DELETE does not stay.
    run(&mut e, "INSERT INTO schema1.counted VALUES ('delta', 1)").unwrap();
    let bad = fold.replace("SET value = ", "SET type = 'bad', value = ");
    assert_eq!(run(&mut e, &bad).unwrap_err().code, "23514");
    let left = run(&mut e, "SELECT count(*) FROM schema1.counted WHERE type = 'delta'").unwrap();
    assert_eq!(left.rows, Some(vec![vec![Value::Integer(1)]]));
}
