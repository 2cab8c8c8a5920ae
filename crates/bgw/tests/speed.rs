//! The session's translation cache through the front door (`sql::sqlite::cache`): two sessions, one running the
//! same shapes of query with other literals, the other changing the schema between them, against PostgreSQL 15
//! and against bgw; every answer (columns with their types, rows, tag, error) must be PostgreSQL's.

use bgw_test_support::{bgw_login, Answer, Host, Login, Postgres, Setup, SimpleClient};

/// (session, statement): session 0 queries, session 1 changes the schema under it.
const SCRIPT: &[(usize, &str)] = &[
    (0, "CREATE TABLE t (a int PRIMARY KEY, b text, n bigint)"),
    (0, "INSERT INTO t VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 5000000000)"),
    (0, "SELECT b FROM t WHERE a = 1"),
    (0, "SELECT b FROM t WHERE a = 2"),
    (0, "SELECT b FROM t WHERE a = 4"),
    (0, "SELECT b FROM t WHERE a = 3000000000"),
    (0, "SELECT b FROM t WHERE n = 5000000000"),
    (0, "SELECT b FROM t WHERE n = 20"),
    (0, "SELECT a, b FROM t WHERE a > 1 ORDER BY 1 LIMIT 1"),
    (0, "SELECT a, b FROM t WHERE a > 1 ORDER BY 2 LIMIT 1"),
    (0, "SELECT a, b FROM t WHERE a > 0 ORDER BY 2 LIMIT 2"),
    (0, "SELECT a = 1, 2 < a FROM t WHERE a = 2"),
    (0, "SELECT a = 3, 0 < a FROM t WHERE a = 3"),
    (0, "SELECT * FROM t WHERE a = 1"),
    (0, "SELECT * FROM t WHERE a = 2"),
    // A change that leaves the query's result as it was, then one that changes its columns.
    (1, "CREATE TABLE u (x int)"),
    (0, "SELECT * FROM t WHERE a = 3"),
    (1, "ALTER TABLE t ADD COLUMN c int"),
    (0, "SELECT * FROM t WHERE a = 1"),
    (0, "SELECT * FROM t WHERE a = 2; SELECT b FROM t WHERE a = 3"),
    (0, "BEGIN"),
    (0, "SELECT b FROM t WHERE a = 1"),
    (0, "ROLLBACK"),
    // The relation goes: its error, as PostgreSQL reports it.
    (1, "DROP TABLE t"),
    (0, "SELECT b FROM t WHERE a = 2"),
    (0, "SELECT * FROM t WHERE a = 1"),
];

/// Each statement's answer, run by the script's two sessions on `login`'s database `postgres`.
fn answers(login: &Login) -> Vec<Answer> {
    let mut sessions: Vec<SimpleClient> =
        (0..2).map(|_| SimpleClient::connect(login, "postgres").unwrap_or_else(|e| panic!("connect: {e:?}"))).collect();
    let _ = sessions[0].query("DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS u");
    SCRIPT.iter().map(|(session, sql)| sessions[*session].query(sql)).collect()
}

#[test]
fn cached_translations_answer_as_postgres_while_another_session_changes_the_schema() {
    let pg = Postgres::start();
    let want = answers(&pg.login());
    drop(pg);
    let host = Host::start(Setup::new(env!("CARGO_BIN_EXE_bgw")).tcp());
    let got = answers(&bgw_login(&host));
    for ((_, sql), (want, got)) in SCRIPT.iter().zip(want.iter().zip(&got)) {
        assert_eq!(got, want, "{sql}");
    }
}
