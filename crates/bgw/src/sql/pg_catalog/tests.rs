//! The catalogs over an in-memory database with a fake host.

use std::sync::Arc;

use rusqlite::Connection;

use super::*;

struct Fake;

impl CatalogSource for Fake {
    fn current_user(&self) -> String {
        "alice".into()
    }
    fn current_database(&self) -> String {
        "postgres".into()
    }
    fn is_superuser(&self) -> bool {
        true
    }
    fn databases(&self) -> Vec<DatabaseInfo> {
        vec![DatabaseInfo {
            oid: 5,
            name: "postgres".into(),
            owner: 10,
            allow_connections: true,
            is_template: false,
            description: None,
            size: None,
        }]
    }
    fn roles(&self) -> Vec<RoleInfo> {
        vec![RoleInfo { oid: 10, name: "alice".into(), superuser: true, can_login: true }]
    }
    fn settings(&self) -> Vec<SettingInfo> {
        vec![SettingInfo {
            name: "search_path".into(),
            setting: "\"$user\", public".into(),
            context: "user".into(),
            vartype: "string".into(),
            source: "default".into(),
            ..SettingInfo::default()
        }]
    }
    fn functions(&self) -> Vec<FunctionInfo> {
        vec![FunctionInfo {
            schema: "public".into(),
            name: "bgw_status".into(),
            args: vec![PgType::Text],
            result: PgType::Text,
            c: None,
        }]
    }
}

fn db() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    install(&conn, Arc::new(Fake)).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id integer PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2) DEFAULT 0, \
           created timestamptz, tags _text, flag bool, code int4 UNIQUE, CHECK (price >= 0));
         CREATE TABLE child (id int4 PRIMARY KEY, t_id int4 REFERENCES t (id) ON DELETE CASCADE, note text);
         CREATE INDEX child_note ON child (note DESC);
         CREATE TABLE _pg_schemas (nspname TEXT PRIMARY KEY, nspowner INTEGER);
         INSERT INTO _pg_schemas VALUES ('s', 10);
         CREATE TABLE \"s.u\" (a int8);
         CREATE VIEW v AS SELECT id, name FROM t;",
    )
    .unwrap();
    conn
}

fn rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap();
    let width = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        rusqlite::types::ValueRef::Blob(_) => "<blob>".to_owned(),
                    })
                })
                .collect()
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn flat(rows: Vec<Vec<String>>) -> Vec<String> {
    rows.into_iter().map(|r| r.join("|")).collect()
}

#[test]
fn oids_are_stable_and_in_range() {
    assert_eq!(relation_oid("t"), relation_oid("t"));
    assert_ne!(relation_oid("t"), relation_oid("u"));
    assert!(relation_oid("some_table") >= 16384 && relation_oid("some_table") < 1 << 31);
    assert_eq!(relation_oid("pg_class"), 1259);
    assert_eq!(namespace_oid("public"), 2200);
    assert!(namespace_oid("s") >= 16384);
}

#[test]
fn column_types_and_modifiers() {
    use model::column_type;
    assert_eq!(column_type("varchar(20)"), (PgType::Varchar, 24));
    assert_eq!(column_type("numeric(10,2)"), (PgType::Numeric, (10 << 16 | 2) + 4));
    assert_eq!(column_type("integer"), (PgType::Int4, -1));
    assert_eq!(column_type("INTEGER"), (PgType::Int8, -1));
    assert_eq!(column_type("timestamptz(3)"), (PgType::Timestamptz, 3));
    assert_eq!(column_type("_varchar(5)"), (PgType::VarcharArray, 9));
    assert_eq!(column_type(""), (PgType::Text, -1));
}

#[test]
fn declared_types_are_postgresql_typnames() {
    use crate::sql::Engine;
    let mut engine = crate::sql::sqlite::SqliteEngine::new(db(), crate::sql::sqlite::Options::CLIENT);
    let mut types = |sql: &str| -> Vec<Option<PgType>> {
        let (stmt, _) = engine.prepare(sql).unwrap().unwrap();
        stmt.columns.iter().map(|c| c.ty).collect()
    };
    use PgType as T;
    assert_eq!(
        types("SELECT oid, relname, relkind, relnatts, reltuples FROM pg_class"),
        [Some(T::Oid), Some(T::Name), Some(T::Char), Some(T::Int2), Some(T::Float4)]
    );
    assert_eq!(types("SELECT indkey, indclass FROM pg_index"), [Some(T::Int2Vector), Some(T::OidVector)]);
    assert_eq!(types("SELECT relacl, reloptions FROM pg_class"), [Some(T::Text), Some(T::TextArray)]);
}

#[test]
fn dt_lists_the_tables() {
    let conn = db();
    // psql's \dt, SQLite-spelled.
    let got = rows(
        &conn,
        "SELECT n.nspname, c.relname, CASE c.relkind WHEN 'r' THEN 'table' END, pg_get_userbyid(c.relowner) \
         FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_am am ON am.oid = c.relam \
         WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname NOT LIKE 'pg_toast%' \
         AND n.nspname <> 'information_schema' AND pg_table_is_visible(c.oid) ORDER BY 1, 2",
    );
    assert_eq!(flat(got), ["public|child|table|alice", "public|t|table|alice"]);
}

#[test]
fn d_describes_columns_defaults_and_keys() {
    let conn = db();
    let t = relation_oid("t");
    let got = rows(
        &conn,
        &format!(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), \
               (SELECT pg_get_expr(d.adbin, d.adrelid, 1) FROM pg_attrdef d \
                WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = {t} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        ),
    );
    assert_eq!(
        flat(got),
        [
            "id|integer|NULL|1",
            "name|character varying(20)|NULL|1",
            "price|numeric(10,2)|0|0",
            "created|timestamp with time zone|NULL|0",
            "tags|text[]|NULL|0",
            "flag|boolean|NULL|0",
            "code|integer|NULL|0",
        ]
    );
    let got = rows(
        &conn,
        &format!(
            "SELECT c2.relname, i.indisprimary, i.indisunique, pg_get_indexdef(i.indexrelid, 0, 1), \
               pg_get_constraintdef(con.oid, 1), contype \
             FROM pg_class c, pg_class c2, pg_index i \
             LEFT JOIN pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x')) \
             WHERE c.oid = {t} AND c.oid = i.indrelid AND i.indexrelid = c2.oid ORDER BY i.indisprimary DESC, c2.relname"
        ),
    );
    assert_eq!(
        flat(got),
        [
            "t_pkey|1|1|CREATE UNIQUE INDEX t_pkey ON t USING btree (id)|PRIMARY KEY (id)|p",
            "t_code_key|0|1|CREATE UNIQUE INDEX t_code_key ON t USING btree (code)|UNIQUE (code)|u",
        ]
    );
    let got = rows(
        &conn,
        &format!(
            "SELECT conname, pg_get_constraintdef(oid, 1) FROM pg_constraint WHERE conrelid = {t} AND contype = 'c'"
        ),
    );
    assert_eq!(flat(got), ["t_check|CHECK ((price >= 0))"]);
    let child = relation_oid("child");
    let got = rows(
        &conn,
        &format!(
            "SELECT conname, pg_get_constraintdef(r.oid, 1), confrelid = {t}, conkey, confkey FROM pg_constraint r \
             WHERE r.conrelid = {child} AND r.contype = 'f'"
        ),
    );
    assert_eq!(flat(got), ["child_t_id_fkey|FOREIGN KEY (t_id) REFERENCES t(id) ON DELETE CASCADE|1|{2}|{1}"]);
    let got = rows(
        &conn,
        &format!(
            "SELECT pg_get_indexdef(indexrelid), indoption FROM pg_index WHERE indrelid = {child} AND NOT indisprimary"
        ),
    );
    assert_eq!(flat(got), ["CREATE INDEX child_note ON public.child USING btree (note DESC)|3"]);
}

#[test]
fn schemas_views_and_visibility() {
    let conn = db();
    let got = rows(&conn, "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1");
    assert_eq!(flat(got), ["public|pg_database_owner", "s|alice"]);
    let got = rows(&conn, "SELECT n.nspname, c.relname, c.relkind, pg_table_is_visible(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname IN ('u', 'v') ORDER BY 2");
    assert_eq!(flat(got), ["s|u|r|0", "public|v|v|1"]);
    assert_eq!(flat(rows(&conn, "SELECT current_schemas(1), current_schema()")), ["{pg_catalog,public}|public"]);
    assert_eq!(
        flat(rows(&conn, &format!("SELECT pg_get_viewdef({})", relation_oid("v")))),
        ["SELECT id, name FROM t;"]
    );
}

#[test]
fn host_catalogs() {
    let conn = db();
    assert_eq!(
        flat(rows(&conn, "SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding) FROM pg_database")),
        ["postgres|alice|UTF8"]
    );
    assert_eq!(
        flat(rows(
            &conn,
            "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ESCAPE '\\'"
        )),
        ["alice|1|1"]
    );
    assert_eq!(flat(rows(&conn, "SELECT rolpassword FROM pg_authid WHERE oid = 10")), ["NULL"]);
    let got = rows(
        &conn,
        "SELECT n.nspname, p.proname, pg_get_function_result(p.oid), pg_get_function_arguments(p.oid) \
         FROM pg_proc p LEFT JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE pg_function_is_visible(p.oid) AND n.nspname <> 'pg_catalog' ORDER BY 1, 2",
    );
    assert_eq!(flat(got), ["public|bgw_status|text|text"]);
    assert_eq!(flat(rows(&conn, "SELECT name, setting FROM pg_settings")), ["search_path|\"$user\", public"]);
    assert!(rows(&conn, "SELECT * FROM pg_extension").is_empty());
}

#[test]
fn information_schema() {
    let conn = db();
    let got = rows(&conn, "SELECT table_schema, table_name, table_type FROM information_schema_tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 2");
    assert_eq!(flat(got), ["public|child|BASE TABLE", "public|t|BASE TABLE", "s|u|BASE TABLE", "public|v|VIEW"]);
    let got = rows(&conn, "SELECT column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale, column_default FROM information_schema_columns WHERE table_name = 't' ORDER BY ordinal_position");
    assert_eq!(
        flat(got),
        [
            "id|integer|NO|NULL|32|0|NULL",
            "name|character varying|NO|20|NULL|NULL|NULL",
            "price|numeric|YES|NULL|10|2|0",
            "created|timestamp with time zone|YES|NULL|NULL|NULL|NULL",
            "tags|ARRAY|YES|NULL|NULL|NULL|NULL",
            "flag|boolean|YES|NULL|NULL|NULL|NULL",
            "code|integer|YES|NULL|32|0|NULL",
        ]
    );
    let got = rows(&conn, "SELECT constraint_name, constraint_type FROM information_schema_table_constraints WHERE table_name = 'child' AND constraint_type <> 'CHECK' ORDER BY 1");
    assert_eq!(flat(got), ["child_pkey|PRIMARY KEY", "child_t_id_fkey|FOREIGN KEY"]);
    let got = rows(&conn, "SELECT constraint_name, column_name, ordinal_position, position_in_unique_constraint FROM information_schema_key_column_usage WHERE table_name = 'child' ORDER BY 1");
    assert_eq!(flat(got), ["child_pkey|id|1|NULL", "child_t_id_fkey|t_id|1|1"]);
    let got = rows(&conn, "SELECT schema_name FROM information_schema_schemata ORDER BY 1");
    assert_eq!(flat(got), ["information_schema", "pg_catalog", "pg_toast", "public", "s"]);
}

#[test]
fn functions_refuse_what_postgresql_refuses() {
    let conn = db();
    let err = conn.query_row("SELECT has_table_privilege('t', 'FLY')", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert!(err.to_string().contains("unrecognized privilege type: \"fly\""), "{err}");
    let err = conn.query_row("SELECT pg_relation_size('nope')", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert!(err.to_string().contains("relation \"nope\" does not exist"), "{err}");
    assert_eq!(
        flat(rows(
            &conn,
            "SELECT has_table_privilege('alice', 't', 'SELECT'), has_schema_privilege('public', 'USAGE')"
        )),
        ["1|1"]
    );
    let size: i64 = conn.query_row("SELECT pg_total_relation_size('t')", [], |r| r.get(0)).unwrap();
    assert_eq!(size, 2 * 4096, "the table's page and its unique index's");
    assert_eq!(function_type("format_type"), Some(PgType::Text));
    assert_eq!(function_type("pg_table_is_visible"), Some(PgType::Bool));
    assert_eq!(function_type("nope"), None);
    assert_eq!(
        flat(rows(&conn, "SELECT quote_ident('Hello'), format_type(1043, 24)")),
        ["\"Hello\"|character varying(20)"]
    );
}

#[test]
fn autoincrement_tables_have_sequences() {
    let conn = db();
    conn.execute_batch(
        "CREATE TABLE s1 (n integer PRIMARY KEY AUTOINCREMENT, x text); INSERT INTO s1 (x) VALUES ('a');",
    )
    .unwrap();
    let got = rows(
        &conn,
        "SELECT c.relname, c.relkind, s.seqtypid, s.seqstart FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid",
    );
    // The sequence has its column's type (`integer` is int4 here, as in PostgreSQL).
    assert_eq!(flat(got), ["s1_n_seq|S|23|1"]);
    // A serial key made by the translator has its sequence before any row is inserted, owned by its column.
    conn.execute_batch("CREATE TABLE s2 (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT COLLATE RTRIM, x text)").unwrap();
    let got = rows(
        &conn,
        "SELECT c.relname, s.seqtypid, d.refobjsubid, d.deptype FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
         JOIN pg_depend d ON d.objid = s.seqrelid WHERE c.relname = 's2_id_seq'",
    );
    assert_eq!(flat(got), ["s2_id_seq|23|1|a"]);
}

#[test]
fn a_schema_change_is_seen_at_once() {
    let conn = db();
    let count = |conn: &Connection| {
        rows(conn, "SELECT count(*) FROM pg_attribute WHERE attrelid = (SELECT oid FROM pg_class WHERE relname = 't')")
    };
    assert_eq!(flat(count(&conn)), ["7"]);
    conn.execute_batch("BEGIN; ALTER TABLE t ADD COLUMN extra int4;").unwrap();
    assert_eq!(flat(count(&conn)), ["8"]);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(flat(count(&conn)), ["7"]);
    conn.execute_batch("ALTER TABLE t ADD COLUMN other text").unwrap();
    assert_eq!(flat(count(&conn)), ["8"]);
}

struct NotSuperuser;

impl CatalogSource for NotSuperuser {
    fn current_user(&self) -> String {
        "bob".into()
    }
    fn current_database(&self) -> String {
        "postgres".into()
    }
    fn is_superuser(&self) -> bool {
        false
    }
    fn databases(&self) -> Vec<DatabaseInfo> {
        Fake.databases()
    }
    fn roles(&self) -> Vec<RoleInfo> {
        Fake.roles()
    }
    fn settings(&self) -> Vec<SettingInfo> {
        Vec::new()
    }
    fn functions(&self) -> Vec<FunctionInfo> {
        Vec::new()
    }
}

#[test]
fn pg_authid_is_for_superusers() {
    let conn = Connection::open_in_memory().unwrap();
    install(&conn, Arc::new(NotSuperuser)).unwrap();
    let err = conn.query_row("SELECT count(*) FROM pg_authid", [], |r| r.get::<_, i64>(0)).unwrap_err();
    assert!(err.to_string().contains("permission denied for table pg_authid"), "{err}");
    assert_eq!(flat(rows(&conn, "SELECT rolname, rolpassword FROM pg_roles WHERE oid = 10")), ["alice|********"]);
    // Without search_path, the default path.
    assert_eq!(flat(rows(&conn, "SELECT current_schema()")), ["public"]);
}

#[test]
fn indexes_have_attributes() {
    let conn = db();
    let got = rows(
        &conn,
        "SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid WHERE c.relkind = 'i' AND c.relname IN ('t_pkey', 'child_note') \
         ORDER BY 1, 2",
    );
    assert_eq!(flat(got), ["child_note|1|note|text", "t_pkey|1|id|integer"]);
}

#[test]
fn a_key_given_as_text_still_finds_its_rows() {
    let conn = db();
    let t = relation_oid("t");
    assert_eq!(flat(rows(&conn, &format!("SELECT relname FROM pg_class WHERE oid = '{t}'"))), ["t"]);
    assert_eq!(flat(rows(&conn, &format!("SELECT count(*) FROM pg_attribute WHERE attrelid = '{t}'"))), ["7"]);
    assert_eq!(flat(rows(&conn, "SELECT count(*) FROM pg_class WHERE oid = NULL")), ["0"]);
}
