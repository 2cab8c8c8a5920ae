//! worker_spi's SQL on an embedded database (issue 16): PostgreSQL's sample worker creates its table with
//! `CREATE SCHEMA ... CREATE TABLE ... CREATE UNIQUE INDEX ... WHERE ...` and folds the counted deltas into the
//! total with a data-modifying CTE. What the conformance corpus (tests/conformance/70_schema_cte.sql, compared
//! with PostgreSQL 15) cannot express is here: the worker's loop over several iterations, read back; the same
//! statements inside transaction blocks and through the extended protocol with parameters; atomicity of a
//! failing statement (nothing of it stays); the engine's temporary tables staying out of sight.

use bgw_test_support::*;

const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// worker_spi's statements, as `worker_spi.c` writes them (table `counted` of schema `schema1`).
const CREATE: &str = "CREATE SCHEMA \"schema1\" CREATE TABLE \"counted\" (type text CHECK (type IN ('total', \
                      'delta')), value integer)CREATE UNIQUE INDEX \"counted_unique_total\" ON \"counted\" (type) \
                      WHERE type = 'total'";
const FOLD: &str = "WITH deleted AS (DELETE FROM \"schema1\".\"counted\" WHERE type = 'delta' RETURNING value), \
                    total AS (SELECT coalesce(sum(value), 0) as sum FROM deleted) UPDATE \"schema1\".\"counted\" \
                    SET value = \"counted\".value + total.sum FROM total WHERE type = 'total' RETURNING \
                    \"counted\".value";

fn host() -> Host {
    Host::start(Setup::new(BGW).conf("sql_dialect", "'postgresql'"))
}

fn code(result: Result<impl std::fmt::Debug, postgres::Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.as_db_error().map(|d| d.code().code().to_owned()).unwrap_or_else(|| e.to_string()),
    }
}

#[test]
fn the_worker_loop_folds_deltas_into_the_total() {
    let h = host();
    let mut c = h.client();
    let exists = "select count(*) from pg_namespace where nspname = 'schema1'";
    assert_eq!(c.query_one(exists, &[]).unwrap().get::<_, i64>(0), 0);
    c.batch_execute(CREATE).unwrap();
    assert_eq!(c.query_one(exists, &[]).unwrap().get::<_, i64>(0), 1);
    c.batch_execute("INSERT INTO schema1.counted VALUES ('total', 0)").unwrap();
    // The worker's loop: each iteration in a transaction (as StartTransactionCommand does), some deltas between.
    let mut expected = 0;
    for i in 1..=5 {
        for d in 0..i {
            c.execute("INSERT INTO schema1.counted VALUES ('delta', $1)", &[&(d + 1)]).unwrap();
            expected += d + 1;
        }
        let mut t = c.transaction().unwrap();
        let rows = t.simple_query(FOLD).unwrap();
        let values: Vec<String> = rows
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .collect();
        assert_eq!(values, vec![expected.to_string()], "iteration {i}");
        assert!(
            rows.iter().any(|m| matches!(m, postgres::SimpleQueryMessage::CommandComplete(1))),
            "UPDATE 1 in iteration {i}"
        );
        t.commit().unwrap();
    }
    // Nothing to fold: the total comes back unchanged; no delta is left.
    let total: i32 = c.query_one(FOLD, &[]).unwrap().get(0);
    assert_eq!(total, expected);
    assert_eq!(h.sql("SELECT type, value FROM schema1.counted"), format!("total|{expected}"));
    // psql shows the statement's tag and row as PostgreSQL does.
    h.sql("INSERT INTO schema1.counted VALUES ('delta', 1)");
    assert_eq!(h.psql(FOLD).unwrap().trim(), format!("{}\nUPDATE 1", expected + 1));
    // The partial unique index and the CHECK hold.
    assert_eq!(code(c.execute("INSERT INTO schema1.counted VALUES ('total', 1)", &[])), "23505");
    assert_eq!(code(c.execute("INSERT INTO schema1.counted VALUES ('other', 1)", &[])), "23514");
    c.execute("INSERT INTO schema1.counted VALUES ('delta', 1), ('delta', 1)", &[]).unwrap();
    // The engine's tables for the CTE's rows are nowhere to be seen.
    assert_eq!(h.sql("SELECT count(*) FROM pg_class WHERE relname LIKE '%cte%'"), "0");
}

#[test]
fn data_modifying_ctes_take_parameters_and_are_atomic() {
    let h = host();
    let mut c = h.client();
    c.batch_execute(
        "CREATE TABLE src (id int PRIMARY KEY, v int); CREATE TABLE log (id int UNIQUE, v int);
         INSERT INTO src VALUES (1, 10), (2, 20), (3, 30);",
    )
    .unwrap();
    // Extended protocol, parameters in the CTE and in the main statement.
    let moved = c
        .query(
            "WITH d AS (DELETE FROM src WHERE id >= $1 RETURNING id, v) INSERT INTO log SELECT id, v + $2 FROM d \
             RETURNING id, v",
            &[&2i32, &100i32],
        )
        .unwrap();
    let mut got: Vec<(i32, i32)> = moved.iter().map(|r| (r.get(0), r.get(1))).collect();
    got.sort();
    assert_eq!(got, vec![(2, 120), (3, 130)]);
    // Prepared once, run twice (the engine's table for the CTE's rows is emptied between runs).
    let st = c.prepare("WITH u AS (UPDATE src SET v = v + $1 RETURNING v) SELECT sum(v) FROM u").unwrap();
    assert_eq!(c.query_one(&st, &[&1i32]).unwrap().get::<_, Option<i64>>(0), Some(11));
    assert_eq!(c.query_one(&st, &[&1i32]).unwrap().get::<_, Option<i64>>(0), Some(12));
    // The main statement fails (a duplicate key in log): the CTE's DELETE does not stay.
    c.execute("INSERT INTO src VALUES (2, 2)", &[]).unwrap();
    let dup = "WITH d AS (DELETE FROM src WHERE id = 2 RETURNING id, v) INSERT INTO log SELECT id, v FROM d";
    assert_eq!(code(c.execute(dup, &[])), "23505");
    assert_eq!(h.sql("SELECT count(*) FROM src"), "2");
    // The CTE fails after the main statement's table was... not touched: nothing stays either.
    let bad = "WITH i AS (INSERT INTO log VALUES (9, 1/0) RETURNING id) DELETE FROM src WHERE id = 1";
    assert_eq!(code(c.execute(bad, &[])), "22012");
    assert_eq!(h.sql("SELECT count(*) FROM src"), "2");
    // In a transaction block: the failure aborts the block as PostgreSQL's does; a rollback undoes a success.
    let mut t = c.transaction().unwrap();
    t.execute("WITH d AS (DELETE FROM src WHERE id = 1 RETURNING v) INSERT INTO log SELECT 50, v FROM d", &[]).unwrap();
    assert_eq!(t.query_one("SELECT count(*) FROM log WHERE id = 50", &[]).unwrap().get::<_, i64>(0), 1);
    assert_eq!(code(t.execute(dup, &[])), "23505");
    assert_eq!(code(t.execute("SELECT 1", &[])), "25P02");
    t.rollback().unwrap();
    assert_eq!(h.sql("SELECT count(*) FROM src"), "2");
    assert_eq!(h.sql("SELECT count(*) FROM log WHERE id = 50"), "0");
    // A CREATE SCHEMA whose element fails leaves nothing behind.
    assert_eq!(
        code(c.batch_execute("CREATE SCHEMA s CREATE TABLE t (a int) CREATE VIEW v AS SELECT b FROM t")),
        "42703"
    );
    assert_eq!(h.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 's'"), "0");
    assert_eq!(h.sql("SELECT count(*) FROM pg_class WHERE relname = 't'"), "0");
    // What a sequential run would answer differently is refused, naming the construct.
    let err =
        c.batch_execute("WITH d AS (DELETE FROM src RETURNING *) SELECT (SELECT count(*) FROM src), count(*) FROM d");
    let e = err.unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "0A000");
    assert!(db.message().contains("data-modifying statement in WITH"), "{}", db.message());
}

/// PostgreSQL's own 0A000 answers (the conformance corpus cannot hold them: it counts any 0A000 as a refusal),
/// with PostgreSQL 15's texts.
#[test]
fn postgres_own_refusals_are_its_own() {
    let h = host();
    let mut c = h.client();
    c.batch_execute("CREATE TABLE t (a int)").unwrap();
    for (sql, message) in [
        (
            "CREATE SCHEMA IF NOT EXISTS s CREATE TABLE t (a int)",
            "CREATE SCHEMA IF NOT EXISTS cannot include schema elements",
        ),
        ("WITH d AS (DELETE FROM t) SELECT * FROM d", "WITH query \"d\" does not have a RETURNING clause"),
        (
            "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s",
            "WITH clause containing a data-modifying statement must be at the top level",
        ),
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
        assert_eq!((db.code().code(), db.message()), ("0A000", message), "{sql}");
    }
    assert_eq!(h.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 's'"), "0");
}
