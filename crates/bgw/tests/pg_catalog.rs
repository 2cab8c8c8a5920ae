//! The catalogs (issue 14, item 5) through a real bgw and real clients: every query of
//! `tests/fixtures/psql_queries.sql` (psql 15's `\dt`, `\d t`, `\l`, `\du`, `\dn`, `\df`, `\dx`, `\di`, its tab
//! completion, and pgjdbc's `getTables` / `getColumns` / `getPrimaryKeys`, spelled in SQLite's dialect until the
//! translator rewrites PostgreSQL's) run by psql against a schema with several column types, a primary key, a
//! unique constraint, a foreign key, a default and NOT NULL, compared with the rows PostgreSQL 15 gives; the
//! catalogs' PostgreSQL column types as a driver sees them; schemas and `information_schema`.
//!
//! Every host is stopped when its test ends, failed or not (the harness's `Host` kills its process group on drop).

use bgw::sql::pg_catalog::relation_oid;
use bgw_test_support::*;

/// The `bgw` executable cargo built for these tests.
const BGW: &str = env!("CARGO_BIN_EXE_bgw");

/// The schema of the fixture, in the SQLite spelling bgw takes today (PostgreSQL's typnames as declared types).
const SCHEMA: &str =
    "CREATE TABLE t (id integer PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2) DEFAULT 0, \
     created timestamptz, tags _text, flag bool, code int4 UNIQUE); \
     CREATE TABLE child (id int4 PRIMARY KEY, t_id int4 REFERENCES t (id), note text);";

/// The same schema in PostgreSQL's spelling, for a host speaking PostgreSQL's dialect (the default).
const PG_SCHEMA: &str =
    "CREATE TABLE t (id integer PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2) DEFAULT 0, \
     created timestamptz, tags text[], flag boolean, code int4 UNIQUE); \
     CREATE TABLE child (id int4 PRIMARY KEY, t_id int4 REFERENCES t (id), note text);";

/// One entry of the fixture.
struct Entry {
    name: String,
    postgresql: String,
    sqlite: String,
    expected: Vec<String>,
}

/// The entries of `tests/fixtures/psql_queries.sql`.
fn fixture() -> Vec<Entry> {
    let text = include_str!("fixtures/psql_queries.sql");
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut section = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- @@ name: ") {
            current = Some(Entry {
                name: name.to_owned(),
                postgresql: String::new(),
                sqlite: String::new(),
                expected: Vec::new(),
            });
            section = "";
        } else if let Some(marker) = line.strip_prefix("-- @@ ") {
            section = match marker {
                "postgresql" => "postgresql",
                "sqlite" => "sqlite",
                "expected" => "expected",
                "postgresql-result" => "postgresql-result",
                "end" => {
                    entries.extend(current.take());
                    ""
                }
                _ => section,
            };
        } else if let Some(entry) = current.as_mut() {
            match section {
                "postgresql" => {
                    entry.postgresql.push_str(line);
                    entry.postgresql.push('\n');
                }
                "sqlite" => {
                    entry.sqlite.push_str(line);
                    entry.sqlite.push('\n');
                }
                "expected" => {
                    if let Some(row) = line.strip_prefix("--| ") {
                        entry.expected.push(row.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    entries
}

/// `text` with the fixture's placeholders filled in.
fn fill(text: &str) -> String {
    let mut out = text.replace("{{user}}", &os_user());
    while let Some(start) = out.find("{{oid:") {
        let end = out[start..].find("}}").map(|e| start + e).expect("a closed placeholder");
        let oid = relation_oid(&out[start + 6..end]);
        out.replace_range(start..end + 2, &oid.to_string());
    }
    out
}

#[test]
fn psql_and_pgjdbc_catalog_queries_give_postgresql_rows() {
    // The queries as the clients send them, through the translator.
    let h = Host::start(Setup::new(BGW));
    h.sql(PG_SCHEMA);
    let failures = run_fixture(&h, |entry| &entry.postgresql);
    assert!(failures.is_empty(), "{} entries differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn catalog_queries_in_sqlites_dialect_give_the_same_rows() {
    // The catalogs under `sql_dialect = sqlite`, where clients must spell the same queries in SQLite's SQL.
    let h = Host::start(Setup::new(BGW).conf("sql_dialect", "'sqlite'"));
    h.sql(SCHEMA);
    let failures = run_fixture(&h, |entry| &entry.sqlite);
    assert!(failures.is_empty(), "{} entries differ:\n{}", failures.len(), failures.join("\n"));
}

/// Runs each entry's text (`text` chooses which) and compares its rows; the differences.
fn run_fixture(h: &Host, text: impl Fn(&Entry) -> &String) -> Vec<String> {
    let entries = fixture();
    assert!(entries.len() >= 30, "the fixture holds {} entries", entries.len());
    let mut failures = Vec::new();
    for entry in &entries {
        let sql = text(entry);
        assert!(!sql.trim().is_empty(), "{}: no query text", entry.name);
        let expected: Vec<String> = entry.expected.iter().map(|r| fill(r)).collect();
        match h.psql(&fill(sql)) {
            Ok(out) => {
                let got: Vec<String> = out.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
                if got != expected {
                    failures.push(format!("{}:\n  expected {expected:?}\n  got      {got:?}", entry.name));
                }
            }
            Err(err) => failures.push(format!("{}: {err}", entry.name)),
        }
    }
    failures
}

#[test]
fn catalog_columns_have_postgresql_types() {
    use postgres::types::Type;
    let h = Host::start(Setup::new(BGW));
    h.sql(SCHEMA);
    let mut c = h.client();
    // The types a driver is told (Describe), from the catalogs' declared types.
    let types = |c: &mut postgres::Client, sql: &str| -> Vec<Type> {
        c.prepare(sql).unwrap().columns().iter().map(|c| c.type_().clone()).collect()
    };
    assert_eq!(
        types(&mut c, "SELECT oid, relname, relnamespace, relkind, relnatts, relhasindex, reltuples FROM pg_class"),
        [Type::OID, Type::NAME, Type::OID, Type::CHAR, Type::INT2, Type::BOOL, Type::FLOAT4]
    );
    assert_eq!(types(&mut c, "SELECT atttypmod, attndims FROM pg_attribute"), [Type::INT4, Type::INT4]);
    assert_eq!(types(&mut c, "SELECT indkey, indclass FROM pg_index"), [Type::INT2_VECTOR, Type::OID_VECTOR]);
    assert_eq!(types(&mut c, "SELECT proargnames, proargmodes FROM pg_proc"), [Type::TEXT_ARRAY, Type::CHAR_ARRAY]);
    assert_eq!(types(&mut c, "SELECT name, setting FROM pg_settings"), [Type::TEXT, Type::TEXT]);
    assert_eq!(types(&mut c, "SELECT format_type(23, -1), pg_get_userbyid(10)"), [Type::TEXT, Type::NAME]);
    // The values, in text.
    let t = relation_oid("t");
    let rows = c
        .simple_query(&format!(
            "SELECT oid, relname, relnamespace, relkind, relnatts, relhasindex FROM pg_class WHERE oid = {t}"
        ))
        .unwrap();
    let row = rows.iter().find_map(|m| if let postgres::SimpleQueryMessage::Row(r) = m { Some(r) } else { None });
    let row = row.expect("a row for t");
    let values: Vec<&str> = (0..6).map(|i| row.get(i).unwrap_or("")).collect();
    assert_eq!(values, [t.to_string().as_str(), "t", "2200", "r", "7", "t"]);
    assert_eq!(
        h.sql(&format!(
            "SELECT atttypid, atttypmod, attnotnull FROM pg_attribute WHERE attrelid = {t} AND attname = 'price'"
        )),
        format!("1700|{}|f", (10 << 16 | 2) + 4)
    );
    assert_eq!(h.sql(&format!("SELECT indkey FROM pg_index WHERE indrelid = {t} AND indisprimary")), "1");
}

#[test]
fn schemas_views_and_information_schema() {
    // The catalogs over a schema made in SQLite's spelling (the same model the translator's CREATE SCHEMA makes).
    let h = Host::start(Setup::new(BGW).conf("sql_dialect", "'sqlite'"));
    h.sql(SCHEMA);
    // A schema as the translator will make one: a row of _pg_schemas and tables named `s.x`.
    h.sql(
        "CREATE TABLE _pg_schemas (nspname TEXT PRIMARY KEY, nspowner INTEGER); \
         INSERT INTO _pg_schemas VALUES ('s', 10); \
         CREATE TABLE \"s.u\" (a int8 NOT NULL, b text CHECK (length(b) < 5)); \
         CREATE VIEW v AS SELECT id, name FROM t;",
    );
    let user = os_user();
    assert_eq!(
        h.sql("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname NOT GLOB 'pg_*' ORDER BY 1"),
        format!("information_schema|{user}\npublic|pg_database_owner\ns|{user}")
    );
    // `s.u` is table u of schema s, not on the search path; internal tables are never shown.
    assert_eq!(
        h.sql(
            "SELECT n.nspname, c.relname, c.relkind, CASE WHEN pg_table_is_visible(c.oid) THEN 'visible' ELSE 'hidden' END \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 's') AND c.relkind IN ('r', 'v') \
             ORDER BY 1, 2"
        ),
        "public|child|r|visible\npublic|t|r|visible\npublic|v|v|visible\ns|u|r|hidden"
    );
    assert_eq!(
        h.sql("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = (SELECT oid FROM pg_class WHERE relname = 'u')"),
        "u_b_check|CHECK ((length(b) < 5))"
    );
    assert_eq!(
        h.sql(
            "SELECT table_schema, table_name, table_type FROM information_schema_tables \
             WHERE table_schema IN ('public', 's') ORDER BY 1, 2"
        ),
        "public|child|BASE TABLE\npublic|t|BASE TABLE\npublic|v|VIEW\ns|u|BASE TABLE"
    );
    assert_eq!(
        h.sql(
            "SELECT column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale \
             FROM information_schema_columns WHERE table_name = 't' ORDER BY ordinal_position"
        ),
        "id|integer|NO||32|0\nname|character varying|NO|20||\nprice|numeric|YES||10|2\n\
         created|timestamp with time zone|YES|||\ntags|ARRAY|YES|||\nflag|boolean|YES|||\ncode|integer|YES||32|0"
    );
    assert_eq!(
        h.sql(
            "SELECT constraint_name, column_name, position_in_unique_constraint FROM information_schema_key_column_usage \
             WHERE table_name = 'child' ORDER BY 1"
        ),
        "child_pkey|id|\nchild_t_id_fkey|t_id|1"
    );
    assert_eq!(h.sql("SELECT schema_name FROM information_schema_schemata WHERE schema_name = 's'"), "s");
    assert_eq!(
        h.sql("SELECT current_schema(), pg_get_viewdef((SELECT oid FROM pg_class WHERE relname = 'v'))"),
        "public|SELECT id, name FROM t;"
    );
    // Settings and the host's catalogs.
    assert_eq!(
        h.sql("SELECT setting, vartype, context FROM pg_settings WHERE name = 'search_path'"),
        "\"$user\", public|string|user"
    );
    assert_eq!(
        h.sql("SELECT rolname, rolsuper, rolpassword FROM pg_roles WHERE oid = 10"),
        format!("{user}|t|********")
    );
    assert_eq!(h.sql("SELECT count(*) FROM pg_authid WHERE rolpassword IS NOT NULL"), "0");
    // A privilege PostgreSQL does not know is refused as PostgreSQL refuses it.
    let err = h.psql("SELECT has_table_privilege('t', 'FLY')").unwrap_err();
    assert!(err.contains("22023") && err.contains("unrecognized privilege type: \"fly\""), "{err}");
}
