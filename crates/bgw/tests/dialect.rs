//! PostgreSQL's SQL at the front door (issue 14, item 3 and 4): with `sql_dialect = postgresql` every statement
//! is translated; these tests check answers against what PostgreSQL 15 gives (taken from it: the expected texts
//! below are psql's unaligned output of the real server), and that what cannot be honoured is refused with
//! 0A000 instead of answered differently.

use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

fn host() -> Host {
    Host::start(Setup::new(BGW).conf("sql_dialect", "'postgresql'"))
}

/// The SQLSTATE of a failed statement (panics on success).
fn code(result: Result<impl std::fmt::Debug, postgres::Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.as_db_error().map(|d| d.code().code().to_owned()).unwrap_or_else(|| e.to_string()),
    }
}

/// The message of a failed statement.
fn message(result: Result<impl std::fmt::Debug, postgres::Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string()),
    }
}

#[test]
fn answers_are_postgres_answers() {
    let h = host();
    // psql's unaligned output, as PostgreSQL 15 prints it.
    for (sql, expected) in [
        ("SELECT 1 + 1", "2"),
        ("SELECT 7 / 2, 7 % 3, -7 / 2", "3|1|-3"),
        ("SELECT 5::int, '42'::int8, CAST('12' AS smallint)", "5|42|12"),
        ("SELECT true, false, 1 < 2", "t|f|t"),
        ("SELECT 'a' || 'b' || 1", "ab1"),
        ("SELECT 'abc' LIKE 'A%', 'abc' ILIKE 'A%', 'abc' ~ '^a.c$'", "f|t|t"),
        ("SELECT length('héllo'), upper('héllo'), substring('hello' from 2 for 3)", "5|HÉLLO|ell"),
        ("SELECT coalesce(NULL, 2), nullif(1, 1) IS NULL", "2|t"),
        ("SELECT CASE WHEN 1 > 2 THEN 'a' ELSE 'b' END", "b"),
        ("SELECT count(*) FROM generate_series(1, 10) g", "10"),
        ("SELECT sum(g), min(g), max(g) FROM generate_series(1, 4) AS g", "10|1|4"),
        ("SELECT string_agg(g::text, ',' ORDER BY g DESC) FROM generate_series(1, 3) g", "3,2,1"),
        ("SELECT 1.5 * 2 > 2.5", "t"),
        ("SELECT 2.5::float8 / 2", "1.25"),
        ("SELECT coalesce(x::text, 'null') FROM (VALUES (2), (NULL), (1)) AS t(x) ORDER BY x", "1\n2\nnull"),
        ("SELECT coalesce(x::text, 'null') FROM (VALUES (2), (NULL), (1)) AS t(x) ORDER BY x DESC", "null\n2\n1"),
        ("SELECT '{\"a\": {\"b\": 2}}'::jsonb -> 'a' ->> 'b'", "2"),
        ("SELECT length(gen_random_uuid()::text)", "36"),
        (
            "SELECT ARRAY[1, 2, 3], ARRAY['a', 'b c'], 2 = ANY(ARRAY[1, 2]), 5 <> ALL(ARRAY[1, 2])",
            "{1,2,3}|{a,\"b c\"}|t|t",
        ),
        ("SELECT INTERVAL '1 day', '2024-01-31'::date + INTERVAL '1 day'", "1 day|2024-02-01 00:00:00"),
        (
            "CREATE TABLE nx (n numeric(12,3)); INSERT INTO nx VALUES (1236.5), (2); SELECT n FROM nx ORDER BY n",
            "CREATE TABLE\nINSERT 0 2\n2.000\n1236.500",
        ),
    ] {
        let got = h.psql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(got.strip_suffix('\n').unwrap_or(&got), expected, "{sql}");
    }
}

#[test]
fn session_identity() {
    let h = host();
    assert_eq!(h.sql("SELECT current_database(), current_user, session_user"), format!("postgres|{0}|{0}", os_user()));
}

#[test]
fn column_names_and_types_are_postgres() {
    let h = host();
    let mut c = h.client();
    let stmt = c.prepare("SELECT 1, count(*), 5::int8, 'x'::text AS t, 1 = 1, now()").unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["?column?", "count", "int8", "t", "?column?", "now"]);
    let types: Vec<String> = stmt.columns().iter().map(|c| c.type_().name().to_owned()).collect();
    assert_eq!(types, ["int4", "int8", "int8", "text", "bool", "timestamptz"]);
    c.batch_execute("CREATE TABLE items (id serial PRIMARY KEY, name varchar(10) NOT NULL, qty integer, ok boolean)")
        .unwrap();
    let insert = c.prepare("INSERT INTO items (name, qty, ok) VALUES ($1, $2, $3) RETURNING id").unwrap();
    let params: Vec<String> = insert.params().iter().map(|t| t.name().to_owned()).collect();
    assert_eq!(params, ["varchar", "int4", "bool"]);
    let id: i32 = c.query_one(&insert, &[&"bolt", &3i32, &true]).unwrap().get(0);
    let id2: i32 = c.query_one(&insert, &[&"nut", &5i32, &false]).unwrap().get(0);
    assert_eq!((id, id2), (1, 2), "serial ids are never NULL");
    let row = c.query_one("SELECT name, qty, ok FROM items WHERE id = $1", &[&2i32]).unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, i32>(1), row.get::<_, bool>(2)), ("nut".into(), 5, false));
    let stmt = c.prepare("SELECT * FROM items").unwrap();
    let types: Vec<String> = stmt.columns().iter().map(|c| c.type_().name().to_owned()).collect();
    assert_eq!(types, ["int4", "varchar", "int4", "bool"]);
    // GENERATED ALWAYS takes no value but its own.
    c.batch_execute("CREATE TABLE ev (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text)").unwrap();
    assert_eq!(code(c.simple_query("INSERT INTO ev VALUES (5, 'x')")), "428C9");
    c.batch_execute("INSERT INTO ev (kind) VALUES ('a')").unwrap();
    let id: i64 = c.query_one("SELECT id FROM ev", &[]).unwrap().get(0);
    assert_eq!(id, 1);
}

#[test]
fn errors_are_postgres_errors() {
    let h = host();
    let mut c = h.client();
    c.batch_execute("CREATE TABLE u (id int PRIMARY KEY, v text)").unwrap();
    c.batch_execute("INSERT INTO u VALUES (1, 'a')").unwrap();
    assert_eq!(code(c.simple_query("SELECT 1/0")), "22012");
    assert_eq!(message(c.simple_query("SELECT 1/0")), "division by zero");
    assert_eq!(code(c.simple_query("SELECT 2147483647 + 1")), "22003");
    assert_eq!(message(c.simple_query("SELECT 'x'::int")), "invalid input syntax for type integer: \"x\"");
    assert_eq!(code(c.simple_query("SELECT 'x'::int")), "22P02");
    assert_eq!(code(c.simple_query("SELECT * FROM nowhere")), "42P01");
    assert_eq!(message(c.simple_query("SELECT * FROM nowhere")), "relation \"nowhere\" does not exist");
    assert_eq!(code(c.simple_query("SELECT nothing FROM u")), "42703");
    assert_eq!(message(c.simple_query("SELECT nothing FROM u")), "column \"nothing\" does not exist");
    assert_eq!(code(c.simple_query("SELECT no_such_function(1)")), "42883");
    assert_eq!(code(c.simple_query("INSERT INTO u VALUES (1, 'b')")), "23505");
    assert_eq!(code(c.simple_query("SELECT 1 +")), "42601");
    // What cannot be honoured is refused, naming the construct.
    assert_eq!(code(c.simple_query("SELECT DISTINCT ON (id) id FROM u")), "0A000");
    assert_eq!(code(c.simple_query("SELECT now() AT TIME ZONE 'UTC'")), "0A000");
    assert_eq!(code(c.simple_query("CREATE TABLE s2 (a serial, b int)")), "0A000");
    // SQLite's own dialect is not PostgreSQL's.
    assert_eq!(code(c.simple_query("SELECT randomblob(4)")), "42883");
}

#[test]
fn schemas_and_ddl() {
    let h = host();
    let mut c = h.client();
    c.batch_execute("CREATE SCHEMA app").unwrap();
    assert_eq!(code(c.simple_query("CREATE SCHEMA app")), "42P06");
    c.batch_execute("CREATE TABLE app.t (a int, b text)").unwrap();
    c.batch_execute("INSERT INTO app.t VALUES (1, 'one'), (2, 'two')").unwrap();
    assert_eq!(h.sql("SELECT b FROM app.t ORDER BY a DESC LIMIT 1"), "two");
    assert_eq!(code(c.simple_query("SELECT * FROM t")), "42P01");
    assert_eq!(code(c.simple_query("CREATE TABLE nope.t (a int)")), "3F000");
    c.batch_execute("CREATE TABLE p (k int, v int); CREATE TABLE q (k int)").unwrap();
    c.batch_execute("INSERT INTO p VALUES (1, 10), (1, 20)").unwrap();
    assert_eq!(code(c.simple_query("ALTER TABLE p ADD PRIMARY KEY (k)")), "23505");
    c.batch_execute("DELETE FROM p WHERE v = 20; ALTER TABLE p ADD PRIMARY KEY (k)").unwrap();
    assert_eq!(code(c.simple_query("INSERT INTO p VALUES (1, 30)")), "23505");
    c.batch_execute("INSERT INTO p VALUES (2, 5) ON CONFLICT (k) DO UPDATE SET v = p.v + excluded.v").unwrap();
    c.batch_execute("INSERT INTO p VALUES (2, 5) ON CONFLICT (k) DO UPDATE SET v = p.v + excluded.v").unwrap();
    assert_eq!(h.sql("SELECT v FROM p WHERE k = 2"), "10");
    c.batch_execute("CREATE TABLE src (k int, d int); INSERT INTO src VALUES (2, 7)").unwrap();
    c.batch_execute("UPDATE p SET v = p.v + src.d FROM src WHERE p.k = src.k").unwrap();
    assert_eq!(h.sql("SELECT v FROM p WHERE k = 2"), "17");
    c.batch_execute("INSERT INTO p VALUES (3, 1), (4, 1); INSERT INTO src VALUES (4, 0)").unwrap();
    c.batch_execute("DELETE FROM p USING src WHERE p.k = src.k AND src.d = 0").unwrap();
    assert_eq!(h.sql("SELECT string_agg(k::text, ',' ORDER BY k) FROM p"), "1,2,3");
    c.batch_execute("DROP TABLE p, q").unwrap();
    assert_eq!(code(c.simple_query("SELECT * FROM q")), "42P01");
}

/// pg_stat_activity shows a statement as the client wrote it, also over the extended protocol (not the SQLite
/// translation), as PostgreSQL does.
#[test]
fn pg_stat_activity_shows_the_clients_text() {
    let h = host();
    let mut c = h.client();
    let sql = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid() AND $1::int4 = 1";
    let row = c.query_one(sql, &[&1i32]).unwrap();
    assert_eq!(row.get::<_, String>(0), sql);
    let simple = "SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    assert_eq!(h.sql(simple), simple);
}
